/* test_backend_cpu.c: the CPU backend's gemm_batched (cuBLAS column-major semantics) against
 * a naive double reference for every transpose combination, thread-count independence, and
 * the row ops of include/pmath/pmath_net.h (categorical log-prob/entropy/sampling/backward against
 * finite differences, softmax backward, gather). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_cpu.h"
#include "common.h"
#include "cpu_rowops.h"
#include "pmath_net.h"
#include "rng.h"

#include "cpu_fixture.h"

static void fill(Rng *r, float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

static void gemm_case(int ta, int tb, int m, int n, int k, int batch, float alpha, float beta) {
    Rng rng;
    rng_seed(&rng, 1, RNG_GEN, (uint64_t)(ta * 2 + tb));
    int lda = (ta ? k : m) + 1, ldb = (tb ? n : k) + 2, ldc = m + 3;
    long sA = (long)lda * (ta ? m : k) + 5, sB = (long)ldb * (tb ? k : n) + 1, sC = (long)ldc * n + 7;
    float *A = xmalloc(sizeof(float) * sA * batch), *B = xmalloc(sizeof(float) * sB * batch);
    float *C = xmalloc(sizeof(float) * sC * batch), *C0 = xmalloc(sizeof(float) * sC * batch);
    fill(&rng, A, sA * batch);
    fill(&rng, B, sB * batch);
    fill(&rng, C, sC * batch);
    memcpy(C0, C, sizeof(float) * sC * batch);
    g_be->ops->gemm_batched(g_be, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
    for (int q = 0; q < batch; q++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0.0;
                for (int p = 0; p < k; p++) {
                    double a = ta ? A[q * sA + p + (long)i * lda] : A[q * sA + i + (long)p * lda];
                    double b = tb ? B[q * sB + j + (long)p * ldb] : B[q * sB + p + (long)j * ldb];
                    s += a * b;
                }
                double want = alpha * s + beta * C0[q * sC + i + (long)j * ldc];
                double got = C[q * sC + i + (long)j * ldc];
                /* float32 sums of k <= 64 terms of magnitude <= 1: error well below 1e-5 */
                if (fabs(got - want) > 1e-5 + 1e-5 * fabs(want))
                    fail_msg("ta %d tb %d (%d,%d,%d) batch %d: C[%d,%d] = %.8g want %.8g", ta, tb,
                             m, n, k, q, i, j, got, want);
            }
    /* padding between ld rows and batch items untouched */
    for (int q = 0; q < batch; q++)
        for (int j = 0; j < n; j++)
            for (int i = m; i < ldc; i++)
                assert_true(C[q * sC + i + (long)j * ldc] == C0[q * sC + i + (long)j * ldc]);
    free(A);
    free(B);
    free(C);
    free(C0);
}

static void test_gemm(void **state) {
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(ta, tb, 18, 62, 48, 3, 1.0f, 0.0f);
            gemm_case(ta, tb, 6, 17, 18, 2, 0.5f, 1.0f);
            gemm_case(ta, tb, 70, 5, 9, 1, -1.0f, 0.25f); /* m above one accumulator block */
            gemm_case(ta, tb, 130, 140, 150, 1, 1.0f, 0.0f); /* A too big to pack */
        }
}

/* beta = 0 must not read C (NaN there does not propagate), as in cuBLAS. */
static void test_gemm_beta0_nan(void **state) {
    (void)state;
    float A[6] = {1, 2, 3, 4, 5, 6}, B[3] = {1, 1, 1}, C[2] = {NAN, NAN};
    g_be->ops->gemm_batched(g_be, BE_NOTRANS, BE_NOTRANS, 2, 1, 3, 1.0f, A, 2, 0, B, 3, 0, 0.0f, C, 2, 0, 1);
    assert_true(C[0] == 9.0f && C[1] == 12.0f);
}

/* Same bytes for 1 and 2 threads on a product big enough to run in parallel. */
static void test_gemm_threads(void **state) {
    (void)state;
    enum { M = 18, N = 62, K = 48, BATCH = 64 };
    Rng rng;
    rng_seed(&rng, 3, RNG_GEN, 0);
    float *A = xmalloc(sizeof(float) * M * K * BATCH), *B = xmalloc(sizeof(float) * K * N * BATCH);
    float *C1 = xmalloc(sizeof(float) * M * N * BATCH), *C2 = xmalloc(sizeof(float) * M * N * BATCH);
    fill(&rng, A, (long)M * K * BATCH);
    fill(&rng, B, (long)K * N * BATCH);
    int old = omp_get_max_threads();
    omp_set_num_threads(1);
    g_be->ops->gemm_batched(g_be, BE_TRANS, BE_NOTRANS, M, N, K, 1.0f, A, K, (long)M * K, B, K,
                            (long)K * N, 0.0f, C1, M, (long)M * N, BATCH);
    omp_set_num_threads(2);
    g_be->ops->gemm_batched(g_be, BE_TRANS, BE_NOTRANS, M, N, K, 1.0f, A, K, (long)M * K, B, K,
                            (long)K * N, 0.0f, C2, M, (long)M * N, BATCH);
    omp_set_num_threads(old);
    assert_memory_equal(C1, C2, sizeof(float) * M * N * BATCH);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* Single-column products W x (n = 1, A transposed: every B = 1 forward and the value
 * network's row_products forward) have the bits of OpenBLAS's own call, whichever path the
 * backend takes (its hand-written kernels are enabled only when they agree): every m <= 26 and
 * k <= 66 (beyond the hand-written range too), one matrix per item and one matrix shared by a
 * batch (stride 0), values of mixed magnitude and sign. */
static void test_gemm_single_column(void **state) {
    (void)state;
    enum { BATCH = 5 };
    Rng rng;
    rng_seed(&rng, 4, RNG_GEN, 0);
    float *A = xmalloc(sizeof(float) * 26 * 66 * BATCH), *X = xmalloc(sizeof(float) * 66 * BATCH);
    float C[26 * BATCH], R[26];
    long differ = 0, checked = 0;
    for (int m = 1; m <= 26; m++)
        for (int k = 1; k <= 66; k++)
            for (int shared = 0; shared < 2; shared++) {
                for (long i = 0; i < (long)m * k * BATCH; i++) {
                    float u = (float)(2.0 * rng_uniform(&rng) - 1.0);
                    A[i] = u * u * u * 4.0f;
                }
                fill(&rng, X, (long)k * BATCH);
                long sA = shared ? 0 : (long)m * k;
                g_be->ops->gemm_batched(g_be, BE_TRANS, BE_NOTRANS, m, 1, k, 1.0f, A, k, sA, X, k, k, 0.0f, C, m, m,
                                        BATCH);
                for (int q = 0; q < BATCH; q++) {
                    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, 1, k, 1.0f, A + q * sA, k, X + (long)q * k,
                                k, 0.0f, R, m);
                    differ += memcmp(R, C + q * m, sizeof(float) * (size_t)m) != 0;
                    checked++;
                }
            }
    assert_int_equal(checked, 26 * 66 * 2 * BATCH);
    assert_int_equal(differ, 0);
    free(A);
    free(X);
}

/* Categorical: log-prob and entropy against a double computation, backward against central
 * differences of (a * logp + b * entropy), sampling by inverse CDF and greedy argmax. */
static void test_categorical(void **state) {
    (void)state;
    enum { ROWS = 5, A = 6 };
    float x[ROWS * A], logp[ROWS], ent[ROWS], dx[ROWS * A], dlogp[ROWS], dent[ROWS];
    int32_t act[ROWS] = {0, 5, 2, 3, 1};
    Rng rng;
    rng_seed(&rng, 4, RNG_GEN, 1);
    fill(&rng, x, ROWS * A);
    for (int i = 0; i < ROWS * A; i++) x[i] *= 3.0f;
    for (int i = 0; i < ROWS; i++) {
        dlogp[i] = (float)(rng_uniform(&rng) - 0.5);
        dent[i] = (float)(rng_uniform(&rng) - 0.5);
    }
    g_be->ops->cat_logp(g_be, logp, ent, x, act, ROWS, A);
    g_be->ops->cat_bwd(g_be, dx, x, act, dlogp, dent, ROWS, A);
    for (int r = 0; r < ROWS; r++) {
        double m = -1e30, s = 0.0, h = 0.0;
        for (int j = 0; j < A; j++) m = fmax(m, x[r * A + j]);
        for (int j = 0; j < A; j++) s += exp(x[r * A + j] - m);
        double lse = m + log(s);
        for (int j = 0; j < A; j++) {
            double lp = x[r * A + j] - lse;
            h -= exp(lp) * lp;
        }
        assert_true(fabs(logp[r] - (x[r * A + act[r]] - lse)) < 1e-5);
        assert_true(fabs(ent[r] - h) < 1e-5);
        for (int j = 0; j < A; j++) {
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                float xx[A];
                memcpy(xx, x + r * A, sizeof xx);
                xx[j] += sgn ? -1e-3f : 1e-3f;
                float e;
                float lp = pmath_cat_logp_row(xx, A, act[r], &e);
                f[sgn] = (double)dlogp[r] * lp + (double)dent[r] * e;
            }
            double fd = (f[0] - f[1]) / 2e-3;
            if (fabs(fd - dx[r * A + j]) > 2e-3) fail_msg("cat_bwd[%d,%d] %g fd %g", r, j, dx[r * A + j], fd);
        }
    }
    /* sampling: logits log(0.1, 0.2, 0.3, 0.4, 0, 0) -> CDF 0.1 0.3 0.6 1.0 */
    float y[A] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f), -INFINITY, -INFINITY};
    float u[6] = {0.05f, 0.15f, 0.29f, 0.31f, 0.65f, 0.999f};
    int32_t want[6] = {0, 1, 1, 2, 3, 3}, got[6];
    float ys[6 * A];
    for (int i = 0; i < 6; i++) memcpy(ys + i * A, y, sizeof y);
    g_be->ops->cat_sample(g_be, got, ys, u, 6, A);
    assert_memory_equal(got, want, sizeof want);
    g_be->ops->cat_sample(g_be, got, ys, NULL, 1, A);
    assert_int_equal(got[0], 3);
}

static void test_softmax_route_gather(void **state) {
    (void)state;
    float in[6] = {1.0f, 2.0f, 3.0f, -1.0f, 0.0f, 1000.0f}, p[6];
    g_be->ops->softmax_rows(g_be, p, in, 2, 3);
    assert_true(fabs(p[2] - 0.66524096) < 1e-6 && p[5] == 1.0f && p[3] == 0.0f);
    float dp[6] = {1, 0, 0, 0, 0, 0}, dl[6];
    g_be->ops->softmax_bwd_rows(g_be, dl, p, dp, 2, 3);
    assert_true(fabs(dl[0] - p[0] * (1 - p[0])) < 1e-7 && fabs(dl[1] + p[0] * p[1]) < 1e-7);
    /* routing: z = l + eps softplus(u); ties go to the first index */
    float l[6] = {0, 0, 0, 1, 0, 0}, uu[6] = {0, 0, 0, 0, 0, 0}, eps[6] = {0, 0, 0, 0, 0, 2}, g[6];
    int32_t ch[2];
    g_be->ops->route_top1(g_be, ROUTE_FAITHFUL, l, uu, eps, 2, 3, g, ch);
    assert_int_equal(ch[0], 0);
    assert_int_equal(ch[1], 2); /* 2 * ln 2 = 1.386 > 1 */
    assert_true(g[0] == 1.0f && g[1] == 0.0f && g[5] == 1.0f);
    g_be->ops->route_top1(g_be, ROUTE_SWITCH, l, uu, eps, 2, 3, g, ch);
    assert_true(fabs(g[0] - 1.0 / 3.0) < 1e-7 && g[1] == 0.0f);
    /* gather: src (R=2, 4 rows, 2) */
    float src[16], dst[12];
    for (int i = 0; i < 16; i++) src[i] = (float)i;
    int32_t idx[6] = {3, 0, 1, 2, 2, 0};
    g_be->ops->gather_rows(g_be, dst, src, idx, 2, 3, 4, 2);
    float want[12] = {6, 7, 0, 1, 2, 3, 12, 13, 12, 13, 8, 9};
    assert_memory_equal(dst, want, sizeof want);
    int32_t isrc[8] = {10, 11, 12, 13, 20, 21, 22, 23}, idst[6];
    g_be->ops->gather_rows_i32(g_be, idst, isrc, idx, 2, 3, 4, 1);
    int32_t iwant[6] = {13, 10, 11, 22, 22, 20};
    assert_memory_equal(idst, iwant, sizeof iwant);
}

/* Softplus bounds (pmath_softplus_bounds, used by the faithful route_top1): libm's
 * log1pf(expf(x)) lies inside [lo, hi] for 3M floats over [-15, 20] (uniform in value and in
 * bit pattern; every one of the 2.2e9 floats there was checked once, docs/perf.md), the AVX2
 * batch equals the scalar form bit for bit (every remainder length), and x outside the range
 * or NaN gets NaN bounds. */
static void test_softplus_bounds(void **state) {
    (void)state;
    enum { N = 1 << 16 };
    static float u[N], lo[N], hi[N], lo2[N], hi2[N];
    Rng rng;
    rng_seed(&rng, 12, RNG_GEN, 0);
    for (int rep = 0; rep < 48; rep++) {
        for (int i = 0; i < N; i++) {
            if (rep % 2) { /* uniform bit patterns of |x| <= 20, either sign */
                uint32_t w = (uint32_t)(rng_uniform(&rng) * 0x41a00001u) | (rng_uniform(&rng) < 0.5 ? 0x80000000u : 0);
                memcpy(&u[i], &w, 4);
            } else {
                u[i] = (float)(-16.0 + 37.0 * rng_uniform(&rng));
            }
        }
        if (rep == 0) {
            const float sp[] = {-15.0f, 20.0f, 0.0f, -0.0f, 1e-30f, -1e-30f, nextafterf(-15.0f, 0.0f),
                                nextafterf(20.0f, 0.0f), nextafterf(-15.0f, -16.0f), nextafterf(20.0f, 21.0f),
                                NAN, INFINITY, -INFINITY, 0.5f * logf(2.0f), -0.5f * logf(2.0f)};
            memcpy(u, sp, sizeof sp);
        }
        int n = N - rep; /* every tail length mod 4 */
        cpu_rowops_softplus_bounds(u, n, lo, hi, 1);
        cpu_rowops_softplus_bounds(u, n, lo2, hi2, 0);
        assert_memory_equal(lo, lo2, sizeof(float) * n);
        assert_memory_equal(hi, hi2, sizeof(float) * n);
        for (int i = 0; i < n; i++) {
            if (!(u[i] >= -15.0f && u[i] <= 20.0f)) {
                assert_true(isnan(lo[i]) && isnan(hi[i]));
                continue;
            }
            float s = pmath_softplus(u[i]);
            if (!(lo[i] <= s && s <= hi[i])) fail_msg("x %a: softplus %a outside [%a, %a]", u[i], s, lo[i], hi[i]);
            assert_true(hi[i] - lo[i] <= 2.5e-4f * s); /* narrow enough to decide */
        }
    }
}

/* route_top1 (bounds first, the row formula when undecided) equals pmath_route_top1_row
 * row by row, bit for bit, in both modes: random rows, rows with near-ties built to a few ulps
 * (undecided by the bounds), u outside the bounds' range, NaN and infinite inputs, E = 1..5,
 * row counts that are not multiples of the chunk. */
static void test_route_top1_fast(void **state) {
    (void)state;
    enum { ROWS = 4099, EMAX = 5 };
    static float l[ROWS * EMAX], u[ROWS * EMAX], eps[ROWS * EMAX], g[ROWS * EMAX], gw[ROWS * EMAX];
    static int32_t ch[ROWS];
    Rng rng;
    rng_seed(&rng, 13, RNG_GEN, 0);
    long undecided = 0, total = 0;
    for (int E = 1; E <= EMAX; E++)
        for (int mode = 0; mode < 2; mode++)
            for (int rep = 0; rep < 3; rep++) {
                long rows = ROWS - 1000 * rep;
                for (long i = 0; i < rows * E; i++) {
                    l[i] = (float)(rng_uniform(&rng) - 0.5);
                    u[i] = (float)(6.0 * rng_uniform(&rng) - 3.0);
                    eps[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
                }
                for (long r = 0; r < rows; r++) {
                    float *lr = l + r * E, *ur = u + r * E, *er = eps + r * E;
                    int kind = (int)(rng_uniform(&rng) * 10);
                    if (kind == 0 && E > 1) { /* a near tie: z_1 ~ z_0 to within a few ulps */
                        float z0 = lr[0] + er[0] * pmath_softplus(ur[0]);
                        lr[1] = z0 - er[1] * pmath_softplus(ur[1]);
                        for (int t = (int)(rng_uniform(&rng) * 5); t > 0; t--) lr[1] = nextafterf(lr[1], rng_uniform(&rng) < 0.5 ? -1.0f : 1.0f);
                    } else if (kind == 1) {
                        ur[E - 1] = rng_uniform(&rng) < 0.5 ? -40.0f * (float)rng_uniform(&rng) - 15.5f : 25.0f;
                    } else if (kind == 2) {
                        const float bad[4] = {NAN, INFINITY, -INFINITY, 0.0f};
                        float v = bad[(int)(rng_uniform(&rng) * 4)];
                        float *which[3] = {lr, ur, er};
                        which[(int)(rng_uniform(&rng) * 3)][(int)(rng_uniform(&rng) * E)] = v;
                    } else if (kind == 3) {
                        er[0] = 0.0f;
                    }
                }
                for (long i = 0; i < rows * E; i++) g[i] = gw[i] = NAN;
                g_be->ops->route_top1(g_be, mode, l, u, eps, rows, E, g, ch);
                for (long r = 0; r < rows; r++) {
                    int want = pmath_route_top1_row(mode, l + r * E, u + r * E, eps + r * E, E, gw + r * E);
                    if (ch[r] != want) fail_msg("E %d mode %d row %ld: choice %d, want %d", E, mode, r, ch[r], want);
                    if (mode == 0) {
                        total++;
                        undecided += pmath_route_top1_decide(l + r * E, u + r * E, eps + r * E, E) < 0;
                    }
                }
                assert_memory_equal(g, gw, sizeof(float) * rows * E);
            }
    /* the near ties and the special values exercise the fallback; most rows are decided */
    assert_true(undecided > total / 50 && undecided < total / 3);
}

/* bias_act (R = 1) and relu_bwd in their vector forms equal the row formulas bit for bit:
 * widths 1..64 (and 65, past the flat form's limit), row counts 1..70, with and without ReLU,
 * inputs including -0, NaN, infinities and values that cancel the bias exactly. */
static void test_rowops_simd(void **state) {
    (void)state;
    enum { NMAX = 65, RMAX = 70 };
    static float y0[NMAX * RMAX], y1[NMAX * RMAX], b[NMAX], d0[NMAX * RMAX], d1[NMAX * RMAX];
    Rng rng;
    rng_seed(&rng, 14, RNG_GEN, 0);
    const float special[6] = {-0.0f, 0.0f, NAN, INFINITY, -INFINITY, 1e-40f};
    for (int n = 1; n <= NMAX; n += (n < 20 ? 1 : 9))
        for (int rows = 1; rows <= RMAX; rows += 3) {
            long tot = (long)n * rows;
            for (int j = 0; j < n; j++) b[j] = (float)(rng_uniform(&rng) - 0.5);
            for (long i = 0; i < tot; i++) {
                double c = rng_uniform(&rng);
                y0[i] = c < 0.05 ? special[(int)(rng_uniform(&rng) * 6)] : c < 0.1 ? -b[i % n] : (float)(rng_uniform(&rng) - 0.5);
                d0[i] = (float)(rng_uniform(&rng) - 0.5);
            }
            for (int relu = 0; relu < 2; relu++) {
                memcpy(y1, y0, sizeof(float) * tot);
                float *ya = xmalloc(sizeof(float) * tot);
                memcpy(ya, y0, sizeof(float) * tot);
                backend_cpu_set_simd(0);
                g_be->ops->bias_act(g_be, ya, b, n, 1, rows, n, relu);
                backend_cpu_set_simd(1);
                g_be->ops->bias_act(g_be, y1, b, n, 1, rows, n, relu);
                assert_memory_equal(ya, y1, sizeof(float) * tot);
                memcpy(d1, d0, sizeof(float) * tot);
                float *da = xmalloc(sizeof(float) * tot);
                memcpy(da, d0, sizeof(float) * tot);
                backend_cpu_set_simd(0);
                g_be->ops->relu_bwd(g_be, da, y1, tot);
                backend_cpu_set_simd(1);
                g_be->ops->relu_bwd(g_be, d1, y1, tot);
                assert_memory_equal(da, d1, sizeof(float) * tot);
                free(ya);
                free(da);
            }
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_beta0_nan),
        cmocka_unit_test(test_gemm_threads),
        cmocka_unit_test(test_gemm_single_column),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_softmax_route_gather),
        cmocka_unit_test(test_softplus_bounds),
        cmocka_unit_test(test_route_top1_fast),
        cmocka_unit_test(test_rowops_simd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
