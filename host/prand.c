/* prand.c: host loops over the Philox formulas of kernels/pmath_rand.h; the reference for the
 * CUDA kernels that draw the same numbers one quad per thread. */
#include "prand.h"

#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "pmath_rand.h"
#include "rng.h"

uint64_t prand_derive_seed(uint64_t run_seed, uint64_t purpose, uint64_t index) {
    Rng r;
    rng_seed(&r, run_seed, 0x50484C58ull + purpose, index); /* "PHLX" keeps apart from rng.h */
    return rng_next(&r);
}

void prand_normal(uint64_t seed, uint64_t offset, float *out, long n) {
    if (offset & 1) check_die(__FILE__, __LINE__, "prand_normal", "odd Philox offset");
    long k = 0;
    float a, b;
    /* One Philox call per quad when aligned: two Box-Muller pairs from one counter. */
    if ((offset & 2) && k < n) {
        pmath_rand_normal2(seed, offset, &a, &b);
        out[k++] = a;
        if (k < n) out[k++] = b;
    }
    /* Blocks of PMATH_PHILOX_LANES quads: the Philox rounds run vectorised over the lanes. */
    for (; k + 4 * PMATH_PHILOX_LANES <= n; k += 4 * PMATH_PHILOX_LANES) {
        PmathU4Lanes o;
        pmath_rand_quad_lanes(seed, (offset + (uint64_t)k) >> 2, &o);
        for (int j = 0; j < PMATH_PHILOX_LANES; j++) {
            float *d = out + k + 4 * j;
            pmath_box_muller(o.x[j], o.y[j], &d[0], &d[1]);
            pmath_box_muller(o.z[j], o.w[j], &d[2], &d[3]);
        }
    }
    for (; k + 4 <= n; k += 4) {
        PmathU4 o = pmath_rand_quad(seed, (offset + (uint64_t)k) >> 2);
        pmath_box_muller(o.x, o.y, &out[k], &out[k + 1]);
        pmath_box_muller(o.z, o.w, &out[k + 2], &out[k + 3]);
    }
    for (; k < n; k += 2) {
        pmath_rand_normal2(seed, offset + (uint64_t)k, &a, &b);
        out[k] = a;
        if (k + 1 < n) out[k + 1] = b;
    }
}

void prand_uniform(uint64_t seed, uint64_t offset, float *out, long n) {
    for (long k = 0; k < n; k++) out[k] = pmath_u32_to_uniform(pmath_rand_u32(seed, offset + (uint64_t)k));
}

void prand_normal_runs(int R, PrandStream *streams, float *out, long n) {
    for (int r = 0; r < R; r++) {
        prand_normal(streams[r].seed, streams[r].offset, out + (long)r * n, n);
        streams[r].offset += prand_normal_advance(n);
    }
}
