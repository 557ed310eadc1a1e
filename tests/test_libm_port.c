/* test_libm_port.c: glibc's logf / sincosf ported (include/pmath/pmath_libm.h, scalar) and
 * vectorised (host/rand/prand_avx2.c) against this machine's libm, for EVERY float the Box-Muller
 * transform can feed them: logf on [2^-33, 1] (u = x 2^-32 + 2^-33 rounds into it) and
 * sincosf on (0, 2 pi] plus a few ulp (v = y 2^-32 2pi + half of that); the vector forms
 * with AVX2 + FMA and, where the CPU has it, AVX-512. Equality is only
 * expected from glibc's FMA variants (x86-64 with FMA); elsewhere the test skips.
 * The full sweep (1.36 G floats through libm, the scalar port, AVX2 and AVX-512) takes ~18 s
 * of CPU (OpenMP: ~10 s on 2 cores); PAMOE_LIBM_STRIDE=k checks every k-th float only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "pmath_libm.h"
#include "pmath_rand.h"
#include "prand.h"
#include "prand_avx2.h"

#define CHUNK 4096

static uint32_t stride(void) {
    const char *s = getenv("PAMOE_LIBM_STRIDE");
    long k = s ? atol(s) : 1;
    return k >= 1 ? (uint32_t)k : 1u;
}

static uint32_t bits(float x) { return pmath_libm_asuint(x); }

/* The sweep: floats with bit patterns lo .. hi (both positive), in chunks so the vector path
 * gets whole arrays; counts the inputs where port or vector differ from libm. */
static void sweep(uint32_t lo, uint32_t hi, int is_log, long *checked, long *bad_scalar,
                  long *bad_vector) {
    const uint32_t k = stride();
    const int vec = prand_path_supported(PRAND_PATH_AVX2), v512 = prand_path_supported(PRAND_PATH_AVX512);
    long nbs = 0, nbv = 0, nck = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : nbs, nbv, nck)
    for (long c = 0; c <= (long)((hi - lo) / k) / CHUNK; c++) {
        float x[CHUNK], a[CHUNK], b[CHUNK], va[CHUNK], vb[CHUNK];
        int m = 0;
        for (; m < CHUNK; m++) {
            uint64_t b64 = lo + (uint64_t)k * (uint64_t)(c * CHUNK + m);
            if (b64 > hi) break;
            x[m] = pmath_libm_asfloat((uint32_t)b64);
        }
        if (is_log) {
            for (int i = 0; i < m; i++) a[i] = logf(x[i]);
            if (vec) prand_avx2_logf(x, va, m);
            if (v512) prand_avx512_logf(x, vb, m);
            for (int i = 0; i < m; i++) {
                nbs += bits(pmath_logf(x[i])) != bits(a[i]);
                if (vec) nbv += bits(va[i]) != bits(a[i]);
                if (v512) nbv += bits(vb[i]) != bits(a[i]);
            }
        } else {
            for (int i = 0; i < m; i++) sincosf(x[i], &a[i], &b[i]);
            if (vec) prand_avx2_sincosf(x, va, vb, m);
            for (int i = 0; i < m; i++) {
                float s, co;
                pmath_sincosf(x[i], &s, &co);
                nbs += bits(s) != bits(a[i]) || bits(co) != bits(b[i]);
                if (vec) nbv += bits(va[i]) != bits(a[i]) || bits(vb[i]) != bits(b[i]);
            }
            if (v512) {
                prand_avx512_sincosf(x, va, vb, m);
                for (int i = 0; i < m; i++) nbv += bits(va[i]) != bits(a[i]) || bits(vb[i]) != bits(b[i]);
            }
        }
        nck += m;
    }
    *checked = nck;
    *bad_scalar = nbs;
    *bad_vector = nbv;
}

/* glibc picks its variants from the hardware (PAMOE_NO_AVX2 does not reach it) */
static int skip_without_fma(void) {
    if (!cpu_hw_has_avx2_fma()) {
        printf("SKIP (part): no AVX2 + FMA: glibc uses its non-FMA variants, which the port does not reproduce\n");
        return 1;
    }
    return 0;
}

static void test_logf_all(void **state) {
    (void)state;
    if (skip_without_fma()) return;
    long n, bs, bv;
    /* 0x2f000000 = 2^-33, the smallest uniform; 0x3f800000 = 1 */
    sweep(0x2f000000u, 0x3f800000u, 1, &n, &bs, &bv);
    printf("logf: %ld floats in [2^-33, 1], %ld differ (scalar port), %ld (vector: AVX2 + AVX-512)\n", n, bs, bv);
    assert_true(n >= (0x3f800000L - 0x2f000000L) / (long)stride());
    assert_true(bs == 0 && bv == 0);
}

static void test_sincosf_all(void **state) {
    (void)state;
    if (skip_without_fma()) return;
    long n, bs, bv;
    /* v = y 2^-32 2pi + 2^-32 pi rounds to at most the float 2 pi (0x40c90fdb); 8 ulp more */
    float top = PMATH_2POW32_INV_2PI * 4294967295.0f + PMATH_2POW32_INV_2PI / 2.0f;
    assert_true(bits(top) <= 0x40c90fdbu);
    sweep(1u, 0x40c90fdbu + 8u, 0, &n, &bs, &bv);
    printf("sincosf: %ld floats in (0, 2pi + 8 ulp], %ld differ (scalar port), %ld (vector: AVX2 + AVX-512)\n", n, bs, bv);
    assert_true(n >= (long)(0x40c90fdbu + 8u) / (long)stride());
    assert_true(bs == 0 && bv == 0);
}

/* Outside the ranges both fall back to libm or special cases: spot values stay libm's
 * (the vector functions are exported for any input). `path` 0: AVX2, 1: AVX-512, -1: the
 * scalar port only (vector paths switched off). */
static void check_special(int path) {
    const float xs[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e-40f, 3e-39f, 0.75f, 0.7499999f, 119.99f, 120.0f,
                        1e6f, -2.5f, -1e-5f, 1e-5f, 2e-4f, 3e38f, INFINITY, -INFINITY, NAN, 4.0f};
    enum { N = sizeof xs / sizeof xs[0] };
    float vl[N + 3], vs[N + 3], vc[N + 3], x8[N + 3];
    memcpy(x8, xs, sizeof xs);
    for (int i = N; i < N + 3; i++) x8[i] = 0.5f; /* fills the last vector */
    if (path < 0) {
        for (int i = 0; i < N + 3; i++) {
            vl[i] = pmath_logf(x8[i]);
            pmath_sincosf(x8[i], &vs[i], &vc[i]);
        }
    } else if (path == 0) {
        prand_avx2_logf(x8, vl, N + 3);
        prand_avx2_sincosf(x8, vs, vc, N + 3);
    } else {
        prand_avx512_logf(x8, vl, N + 3);
        prand_avx512_sincosf(x8, vs, vc, N + 3);
    }
    for (int i = 0; i < N; i++) {
        float l = logf(xs[i]), s = sinf(xs[i]), c = cosf(xs[i]), ps, pc;
        pmath_sincosf(xs[i], &ps, &pc);
        if (isnan(l)) assert_true(isnan(pmath_logf(xs[i])) && isnan(vl[i]));
        else assert_true(bits(pmath_logf(xs[i])) == bits(l) && bits(vl[i]) == bits(l));
        if (isnan(s)) {
            assert_true(isnan(ps) && isnan(vs[i]) && isnan(pc) && isnan(vc[i]));
        } else {
            assert_true(bits(ps) == bits(s) && bits(vs[i]) == bits(s));
            assert_true(bits(pc) == bits(c) && bits(vc[i]) == bits(c));
        }
    }
}

static void test_special_inputs(void **state) {
    (void)state;
    if (skip_without_fma()) return;
    check_special(prand_path_supported(PRAND_PATH_AVX2) ? 0 : -1);
    if (prand_path_supported(PRAND_PATH_AVX512)) check_special(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_inputs),
        cmocka_unit_test(test_logf_all),
        cmocka_unit_test(test_sincosf_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
