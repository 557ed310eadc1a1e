/* prand.c: host loops over the Philox formulas of include/pmath/pmath_rand.h; the reference for the
 * CUDA kernels that draw the same numbers one quad per thread. */
#include "prand.h"

/* elements per region below which the run loop stays on one thread */
#define PRAND_PAR_MIN (1L << 16)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE__
#include <immintrin.h>
#endif

#include "common.h"
#include "cpu_features.h"
#include "pmath_rand.h"
#include "prand_avx2.h"
#include "rng.h"

uint64_t prand_derive_seed(uint64_t run_seed, uint64_t purpose, uint64_t index) {
    Rng r;
    rng_seed(&r, run_seed, 0x50484C58ull + purpose, index); /* "PHLX" keeps apart from rng.h */
    return rng_next(&r);
}

/* 4 * PMATH_PHILOX_LANES normals from quads q0, q0 + 1, ...: pmath_box_muller's parts as
 * passes over the block, vectorised but for logf and sinf/cosf, which stay libm's scalar calls
 * (cuRAND's host generator uses them: same libm, same bits). Pair j < L is lane j's (x, y)
 * words, pair L + j its (z, w) words; lane j's four normals land at out[4j .. 4j + 3]. */
PMATH_VEC static void normal_block(uint64_t seed, uint64_t q0, float *restrict out) {
    enum { L = PMATH_PHILOX_LANES, P = 2 * PMATH_PHILOX_LANES };
    PmathU4Lanes o;
    pmath_rand_quad_lanes(seed, q0, &o);
    float u[P], v[P], r2[P], s[P], sn[P], cs[P], a[P], b[P];
    for (int j = 0; j < L; j++) {
        pmath_box_muller_uv(o.x[j], o.y[j], &u[j], &v[j]);
        pmath_box_muller_uv(o.z[j], o.w[j], &u[L + j], &v[L + j]);
    }
    for (int i = 0; i < P; i++) {
        r2[i] = pmath_box_muller_r2(logf(u[i]));
        sn[i] = sinf(v[i]);
        cs[i] = cosf(v[i]);
    }
    int i = 0;
#ifdef __SSE__
    for (; i + 4 <= P; i += 4) _mm_storeu_ps(s + i, _mm_sqrt_ps(_mm_loadu_ps(r2 + i)));
#endif
    for (; i < P; i++) s[i] = sqrtf(r2[i]);
    for (int p = 0; p < P; p++) pmath_box_muller_out(sn[p], cs[p], s[p], &a[p], &b[p]);
    for (int j = 0; j < L; j++) {
        out[4 * j + 0] = a[j];
        out[4 * j + 1] = b[j];
        out[4 * j + 2] = a[L + j];
        out[4 * j + 3] = b[L + j];
    }
}

/* The vector paths: every normal from a 128-normal block function; a block that is not wanted
 * whole (an offset inside a quad pair, the tail) goes through a buffer, so the edges cost one
 * block instead of libm calls. */
typedef void (*BlockFn)(uint64_t seed, uint64_t q0, float *out);

static void normal_blocks(BlockFn block, uint64_t seed, uint64_t offset, float *out, long n) {
    enum { B = PRAND_AVX2_BLOCK };
    long k = 0;
    while (k < n) {
        uint64_t e = offset + (uint64_t)k;
        long skip = (long)(e & 3); /* 0 or 2: e is even */
        if (skip == 0 && n - k >= B) {
            block(seed, e >> 2, out + k);
            k += B;
        } else {
            float buf[B];
            block(seed, e >> 2, buf);
            long take = B - skip;
            if (take > n - k) take = n - k;
            memcpy(out + k, buf + skip, (size_t)take * sizeof(float));
            k += take;
        }
    }
}

int prand_path_supported(PrandPath path) {
    switch (path) {
    case PRAND_PATH_LIBM: return 1;
    case PRAND_PATH_AVX2: return cpu_has_avx2_fma();
    case PRAND_PATH_AVX512: return cpu_has_avx512();
    default: return 0;
    }
}

PrandPath prand_best_path(void) {
    /* cheap tests (cached; PAMOE_NO_AVX2 / PAMOE_NO_AVX512 select the slower paths) */
    if (cpu_has_avx512()) return PRAND_PATH_AVX512;
    if (cpu_has_avx2_fma()) return PRAND_PATH_AVX2;
    return PRAND_PATH_LIBM;
}

void prand_normal_path(PrandPath path, uint64_t seed, uint64_t offset, float *out, long n) {
    if (offset & 1) check_die(__FILE__, __LINE__, "prand_normal", "odd Philox offset");
    if (!prand_path_supported(path)) check_die(__FILE__, __LINE__, "prand_normal_path", "path not supported on this CPU");
    switch (path) {
    case PRAND_PATH_AVX512:
        normal_blocks(prand_avx512_normal_block, seed, offset, out, n);
        break;
    case PRAND_PATH_AVX2:
        normal_blocks(prand_avx2_normal_block, seed, offset, out, n);
        break;
    default: prand_normal_libm(seed, offset, out, n);
    }
}

void prand_normal(uint64_t seed, uint64_t offset, float *out, long n) {
    prand_normal_path(prand_best_path(), seed, offset, out, n);
}

void prand_normal_libm(uint64_t seed, uint64_t offset, float *out, long n) {
    if (offset & 1) check_die(__FILE__, __LINE__, "prand_normal_libm", "odd Philox offset");
    long k = 0;
    float a, b;
    /* One Philox call per quad when aligned: two Box-Muller pairs from one counter. */
    if ((offset & 2) && k < n) {
        pmath_rand_normal2(seed, offset, &a, &b);
        out[k++] = a;
        if (k < n) out[k++] = b;
    }
    /* Blocks of PMATH_PHILOX_LANES quads, vectorised but for the libm calls (normal_block). */
    for (; k + 4 * PMATH_PHILOX_LANES <= n; k += 4 * PMATH_PHILOX_LANES)
        normal_block(seed, (offset + (uint64_t)k) >> 2, out + k);
    for (; k + 4 <= n; k += 4) {
        PmathU4 o = pmath_rand_quad(seed, (offset + (uint64_t)k) >> 2);
        pmath_box_muller_libm(o.x, o.y, &out[k], &out[k + 1]);
        pmath_box_muller_libm(o.z, o.w, &out[k + 2], &out[k + 3]);
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

static void prand_normal_run(PrandStream *stream, float *out, long n) {
    prand_normal(stream->seed, stream->offset, out, n);
    stream->offset += prand_normal_advance(n);
}

void prand_normal_runs(int R, PrandStream *streams, float *out, long n) {
    /* runs are independent streams: threads split the runs, never a run, so the numbers do
     * not depend on the thread count; only when each thread gets enough work to pay for the
     * region (~1 ms), as a busy second core makes short regions slow (docs/perf.md). The
     * region is not entered otherwise: one with a false if() still builds a team (malloc,
     * free, a futex call), several times per minibatch and per rollout step at R = 1. */
    if (R >= 2 && (long)R * n >= PRAND_PAR_MIN) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < R; r++) prand_normal_run(&streams[r], out + (long)r * n, n);
    } else {
        for (int r = 0; r < R; r++) prand_normal_run(&streams[r], out + (long)r * n, n);
    }
}
