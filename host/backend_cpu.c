/* backend_cpu.c: the CPU backend, the reference the CUDA backend is tested against.
 * Memory is host memory; every per-row formula comes from kernels/pmath_net.h.
 *
 * gemm: OpenBLAS (cblas_sgemm), not a hand-written kernel. Measured with bench/bench_gemm.c
 * on the network's own products ((m, n, k) = (18, B, 48), (18, B, 18), (6, B, 18), their
 * weight- and input-gradient transposes and the ones-vector bias sums; B = 62 and 4096, 1 and
 * 64 runs), one core: OpenBLAS 15-100 GFLOP/s, the hand-written column-major kernel (kept in
 * the bench as `hand`) 2-6 GFLOP/s; OpenBLAS wins on every shape (geometric-mean ratio 0.09-0.10)
 * (docs/core.md has the table; about 10x). Determinism comes from the threading rule below.
 *
 * Threads: OpenMP over batch items (runs) for gemm and over rows for the row ops, only when
 * the work is large enough to pay for a parallel region (a few microseconds). Each output
 * element is written by one thread, so no result depends on the thread count. */
#include <cblas.h>
#if defined(__x86_64__) && defined(__GNUC__)
#define DOT1_X86 1
#endif
#ifdef __x86_64__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common.h"
#include "gae.h"
#include "pmath_net.h"

/* Vector forms of the hot row ops: AVX2 chosen at run time (never -march flags), each one
 * performing the scalar formula's IEEE operations per lane (same bits; no FMA: the target is
 * "avx2" only and -std=c11 keeps contraction off). PAMOE_NO_AVX2=1 in the environment keeps
 * the SSE/scalar forms (for comparisons). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_HAVE_AVX2 1
static int cpu_avx2_ok(void) {
    static int ok = -1;
    if (ok < 0) ok = __builtin_cpu_supports("avx2") && !getenv("PAMOE_NO_AVX2");
    return ok;
}
#else
#define CPU_HAVE_AVX2 0
static int cpu_avx2_ok(void) { return 0; }
#endif

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define CPU_GEMM_PAR_FLOPS 200000L
/* Below this many rows the row ops stay serial. */
#define CPU_ROWS_PAR 4096L

static void *cpu_alloc(Backend *be, size_t bytes) {
    (void)be;
    return xcalloc(1, bytes ? bytes : 1);
}
static void cpu_release(Backend *be, void *p) { (void)be; free(p); }
static void cpu_upload(Backend *be, void *dst, const void *h_src, size_t bytes) {
    (void)be;
    if (bytes) memcpy(dst, h_src, bytes);
}
static void cpu_copy(Backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_zero(Backend *be, void *dst, size_t bytes) {
    (void)be;
    if (bytes) memset(dst, 0, bytes);
}
static void cpu_sync(Backend *be) { (void)be; }
static void cpu_free(Backend *be) { free(be); }

/* for (long i = 0; i < n; i++) body, in an OpenMP region only when par is true. A region with
 * a false if() clause is not free: libgomp still builds a one-thread team (malloc + free) and
 * runs its barrier (futex), which cost more than the work on the B = 1 rollout path. */
#define CPU_FOR(i, n, par, ...)                                                                  \
    do {                                                                                         \
        if (par) {                                                                               \
            _Pragma("omp parallel for schedule(static)") for (long i = 0; i < (long)(n); i++) {  \
                __VA_ARGS__;                                                                     \
            }                                                                                    \
        } else {                                                                                 \
            for (long i = 0; i < (long)(n); i++) { __VA_ARGS__; }                                \
        }                                                                                        \
    } while (0)

/* ---- Single-column products (n = 1: the B = 1 rollout forwards, and row_products nets) ----
 * OpenBLAS spends 50-240 ns per call on y = W x with W (m, k), m <= 18, k <= 48 (argument
 * checks, and for k < 32 its full path: buffer allocation under a mutex, packing), longer than
 * the product. These compute y in OpenBLAS's own order, so the bits are the same:
 *  - k < 32: its full gemm path (the small-matrix kernel is not permitted for TN with K < 32):
 *    one fused multiply-add chain per output, q = 0 .. k-1;
 *  - k >= 32: the small TN kernel: 16 lane accumulators (lane q mod 16, fused multiply-adds in
 *    q order, a masked last vector), then per output either its 4-row reduction (rows in
 *    groups of 4: pairs within each 128-bit quarter, then quarters pairwise) or, for the last
 *    m mod 4 rows, a halving tree (lanes l + l+8, +4, +2, +1). alpha = 1 multiplies exactly.
 * Measured on OpenBLAS 0.3.21 (Cooperlake kernels). Another library build may order its sums
 * differently, so backend creation compares both on random products of every m <= 24,
 * k <= 64 and takes this path only if every bit agrees (dot1_ok); else OpenBLAS as before. */
#define DOT1_MAX_M 24
#define DOT1_MAX_K 64
static int dot1_ok;
#ifdef DOT1_X86

/* k < 32: one FMA chain per output, q = 0 .. k-1, from +0. A goes transposed into At (k, mp),
 * mp = m rounded up to 8 (padding rows 0), so 8 outputs' chains run in one vector register. */
static void dot1_transpose(int m, int k, const float *A, float *At) {
    int mp = (m + 7) / 8 * 8;
    for (int q = 0; q < k; q++) {
        float *row = At + (long)q * mp;
        for (int i = 0; i < m; i++) row[i] = A[(long)i * k + q];
        for (int i = m; i < mp; i++) row[i] = 0.0f;
    }
}
__attribute__((target("avx2,fma"))) static void dot1_chain(int m, int k, const float *At, const float *x, float *c) {
    int nv = (m + 7) / 8, mp = nv * 8;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0;
    for (int q = 0; q < k; q++) {
        const float *row = At + (long)q * mp;
        __m256 xq = _mm256_broadcast_ss(x + q);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row), xq, a0);
        if (nv > 1) a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8), xq, a1);
        if (nv > 2) a2 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 16), xq, a2);
    }
    float out[24];
    _mm256_storeu_ps(out, a0);
    _mm256_storeu_ps(out + 8, a1);
    _mm256_storeu_ps(out + 16, a2);
    memcpy(c, out, sizeof(float) * (size_t)m);
}
/* k >= 32: the small kernel's 16 lane accumulators (lo = lanes 0-7, hi = 8-15; masked-off tail
 * lanes add 0 * 0, which leaves an accumulator unchanged: it starts at +0 and round-to-nearest
 * never makes it -0), then its reductions: rows in groups of 4 per quarter p
 * q_p = (v4p + v4p+1) + (v4p+2 + v4p+3), then (q0 + q1) + (q2 + q3) (four rows at once, as
 * the kernel does); the last m mod 4 rows the halving tree l + l+8, + l+4, + l+2, + l+1. */
__attribute__((target("avx2,fma"))) static void dot1_lanes(int m, int k, const float *A, const float *x, float *c) {
    int m4 = m / 4 * 4, kv = k / 16 * 16, r = k - kv;
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mlo = _mm256_cmpgt_epi32(_mm256_set1_epi32(r), idx);
    __m256i mhi = _mm256_cmpgt_epi32(_mm256_set1_epi32(r - 8), idx);
    __m256 xlo = _mm256_maskload_ps(x + kv, mlo), xhi = _mm256_maskload_ps(x + kv + 8, mhi);
    __m256 lo[4], hi[4];
    for (int i = 0; i < m; i += 4) {
        int nr = i < m4 ? 4 : m - i;
        for (int j = 0; j < nr; j++) {
            const float *a = A + (long)(i + j) * k;
            __m256 l = _mm256_setzero_ps(), h = _mm256_setzero_ps();
            for (int q = 0; q < kv; q += 16) {
                l = _mm256_fmadd_ps(_mm256_loadu_ps(a + q), _mm256_loadu_ps(x + q), l);
                h = _mm256_fmadd_ps(_mm256_loadu_ps(a + q + 8), _mm256_loadu_ps(x + q + 8), h);
            }
            if (r) {
                l = _mm256_fmadd_ps(_mm256_maskload_ps(a + kv, mlo), xlo, l);
                h = _mm256_fmadd_ps(_mm256_maskload_ps(a + kv + 8, mhi), xhi, h);
            }
            lo[j] = l;
            hi[j] = h;
        }
        if (nr == 4) {
            /* hadd(lo0, lo1) = r0: v0+v1 v2+v3, r1: the same | r0: v4+v5 v6+v7, r1: ...; hadd of
             * two of those = q0 of rows 0-3 | q1 of rows 0-3 */
            __m256 q01 = _mm256_hadd_ps(_mm256_hadd_ps(lo[0], lo[1]), _mm256_hadd_ps(lo[2], lo[3]));
            __m256 q23 = _mm256_hadd_ps(_mm256_hadd_ps(hi[0], hi[1]), _mm256_hadd_ps(hi[2], hi[3]));
            __m128 s01 = _mm_add_ps(_mm256_castps256_ps128(q01), _mm256_extractf128_ps(q01, 1));
            __m128 s23 = _mm_add_ps(_mm256_castps256_ps128(q23), _mm256_extractf128_ps(q23, 1));
            _mm_storeu_ps(c + i, _mm_add_ps(s01, s23));
            continue;
        }
        for (int j = 0; j < nr; j++) {
            __m256 h = _mm256_add_ps(lo[j], hi[j]);
            __m128 t = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            t = _mm_add_ps(t, _mm_movehl_ps(t, t));
            c[i + j] = _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
        }
    }
}
/* The same chains without the transposition (one matrix, one column): rows in groups of 8
 * scalar chains, which overlap. */
__attribute__((target("avx2,fma"), optimize("no-tree-slp-vectorize", "no-tree-vectorize")))
static void dot1_chain_rows(int m, int k, const float *A, const float *x, float *c) {
    int i = 0;
    for (; i + 8 <= m; i += 8) {
        const float *a = A + (long)i * k;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
        for (int q = 0; q < k; q++) {
            float xq = x[q];
            s0 = __builtin_fmaf(a[q], xq, s0);
            s1 = __builtin_fmaf(a[k + q], xq, s1);
            s2 = __builtin_fmaf(a[2 * k + q], xq, s2);
            s3 = __builtin_fmaf(a[3 * k + q], xq, s3);
            s4 = __builtin_fmaf(a[4 * k + q], xq, s4);
            s5 = __builtin_fmaf(a[5 * k + q], xq, s5);
            s6 = __builtin_fmaf(a[6 * k + q], xq, s6);
            s7 = __builtin_fmaf(a[7 * k + q], xq, s7);
        }
        c[i] = s0, c[i + 1] = s1, c[i + 2] = s2, c[i + 3] = s3;
        c[i + 4] = s4, c[i + 5] = s5, c[i + 6] = s6, c[i + 7] = s7;
    }
    for (; i + 2 <= m; i += 2) {
        const float *a = A + (long)i * k;
        float s0 = 0.0f, s1 = 0.0f;
        for (int q = 0; q < k; q++) {
            s0 = __builtin_fmaf(a[q], x[q], s0);
            s1 = __builtin_fmaf(a[k + q], x[q], s1);
        }
        c[i] = s0, c[i + 1] = s1;
    }
    for (; i < m; i++) {
        const float *a = A + (long)i * k;
        float s = 0.0f;
        for (int q = 0; q < k; q++) s = __builtin_fmaf(a[q], x[q], s);
        c[i] = s;
    }
}
/* c (m) = A^T x, A column-major (k, m) with lda = k (i.e. W (m, k) row-major), x (k). */
static void dot1_tn(int m, int k, const float *A, const float *x, float *c) {
    if (k < 32) dot1_chain_rows(m, k, A, x, c);
    else dot1_lanes(m, k, A, x, c);
}

/* Bit-for-bit comparison with cblas_sgemm on random products (mixed signs and magnitudes, so
 * a different summation order shows in most outputs). */
static int dot1_selftest(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    float A[DOT1_MAX_M * DOT1_MAX_K], x[DOT1_MAX_K], c1[DOT1_MAX_M], c2[DOT1_MAX_M];
    uint32_t s = 12345u;
    for (int m = 1; m <= DOT1_MAX_M; m++)
        for (int k = 1; k <= DOT1_MAX_K; k++)
            for (int trial = 0; trial < 3; trial++) {
                for (int i = 0; i < m * k + k; i++) {
                    s = s * 1664525u + 1013904223u;
                    float r = (float)(int32_t)s * (1.0f / 2147483648.0f);
                    *(i < m * k ? &A[i] : &x[i - m * k]) = r * r * r * 4.0f;
                }
                cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, 1, k, 1.0f, A, k, x, k, 0.0f, c1, m);
                dot1_tn(m, k, A, x, c2);
                if (memcmp(c1, c2, sizeof(float) * (size_t)m)) return 0;
                if (k < 32) { /* the shared-matrix form too */
                    float At[DOT1_MAX_K * DOT1_MAX_M];
                    dot1_transpose(m, k, A, At);
                    dot1_chain(m, k, At, x, c2);
                    if (memcmp(c1, c2, sizeof(float) * (size_t)m)) return 0;
                }
            }
    return 1;
}

#else /* no x86-64: OpenBLAS for every product */
static int dot1_selftest(void) { return 0; }
static void dot1_transpose(int m, int k, const float *A, float *At) { (void)m, (void)k, (void)A, (void)At; }
static void dot1_chain(int m, int k, const float *At, const float *x, float *c) { (void)m, (void)k, (void)At, (void)x, (void)c; }
static void dot1_tn(int m, int k, const float *A, const float *x, float *c) { (void)m, (void)k, (void)A, (void)x, (void)c; }
#endif

/* One OpenBLAS call per batch item, each single-threaded (openblas_set_num_threads(1) at
 * creation); threads only across batch items (runs). An item is therefore always computed
 * by the very same call whatever the thread count or the number of runs in the batch, which
 * is what makes R batched runs bit-identical to R single runs. R = 1 stays on one thread:
 * splitting one product across threads would hand OpenBLAS different tile shapes. */
static void cpu_gemm_batched(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                             const float *A, int lda, long strideA, const float *B, int ldb,
                             long strideB, float beta, float *C, int ldc, long strideC,
                             int batch) {
    (void)be;
    if (m <= 0 || n <= 0 || batch <= 0) return;
    long flops = (long)m * n * (k > 0 ? k : 1) * batch;
    if (dot1_ok && n == 1 && ta && !tb && alpha == 1.0f && beta == 0.0f && m <= DOT1_MAX_M && k >= 1 &&
        k <= DOT1_MAX_K && lda == k) {
        /* serial: 20-70 ns an item, and a whole-rollout batch (~0.1 ms) is the kind of short
         * region that waits milliseconds for a busy second core (docs/perf.md) */
        if (k < 32 && strideA == 0) { /* one matrix for every item (row_products): transpose once */
            float At[DOT1_MAX_K * DOT1_MAX_M];
            dot1_transpose(m, k, A, At);
            for (long i = 0; i < batch; i++) dot1_chain(m, k, At, B + i * strideB, C + i * strideC);
            return;
        }
        for (long i = 0; i < batch; i++) dot1_tn(m, k, A + i * strideA, B + i * strideB, C + i * strideC);
        return;
    }
    CPU_FOR(i, batch, batch > 1 && flops >= CPU_GEMM_PAR_FLOPS,
            cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta,
                    C + i * strideC, ldc));
}

#if CPU_HAVE_AVX2
/* y (rows, n) += bias per row, then ReLU: the block as one flat array of 8-lane vectors (rows
 * of n = 18 or 6 do not fill vectors on their own). Lane t of the vector at flat index i needs
 * b[(i + t) % n] = bb[i % n + t] from bb, the bias repeated to n + 7 entries. The same add and
 * the same max(v, 0) per element as pmath_bias_act_row (maxps(v, 0) returns 0 for v <= 0 and
 * NaN, v > 0 ? v : 0 exactly). */
#define CPU_BIAS_MAX 64
__attribute__((target("avx2"))) static void bias_act_flat_avx2(float *y, const float *b, long rows, int n,
                                                                int relu) {
    float bb[CPU_BIAS_MAX + 7];
    for (int j = 0; j < n + 7; j++) bb[j] = j < n ? b[j] : bb[j - n]; /* no division */
    long total = rows * n, i = 0;
    int o = 0, step = 8 % n; /* o = i % n, kept without a division per vector */
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= total; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(bb + o));
        _mm256_storeu_ps(y + i, relu ? _mm256_max_ps(v, zero) : v);
        o += step;
        if (o >= n) o -= n;
    }
    _mm256_zeroupper();
    for (; i < total; i++) {
        float v = y[i] + bb[o++];
        y[i] = relu ? pmath_relu(v) : v;
    }
}

/* dy = y > 0 ? dy : 0 as an AND with the compare mask (+0 where y <= 0, dy itself else). */
__attribute__((target("avx2"))) static void relu_bwd_avx2(float *dy, const float *y, long count) {
    long i = 0;
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dy + i, _mm256_and_ps(_mm256_loadu_ps(dy + i),
                                               _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ)));
    _mm256_zeroupper();
    for (; i < count; i++) dy[i] = pmath_relu_bwd(dy[i], y[i]);
}
#endif

/* simd = 0: the row formula only (the reference the tests compare the vector forms with). */
static int g_cpu_rowops_simd = 1;
void backend_cpu_set_simd(int on) { g_cpu_rowops_simd = on; }

PMATH_VEC static void cpu_bias_act(Backend *be, float *y, const float *bias, long bias_stride, int R,
                         int B, int n, int relu) {
    (void)be;
    long rows = (long)R * B;
#if CPU_HAVE_AVX2
    if (R == 1 && n <= CPU_BIAS_MAX && rows * n < CPU_ROWS_PAR * 8 && g_cpu_rowops_simd && cpu_avx2_ok()) {
        bias_act_flat_avx2(y, bias, rows, n, relu);
        return;
    }
#endif
    if (R == 1) { /* the common case: no per-row division, the relu test hoisted */
        if (relu) CPU_FOR(i, rows, rows * n >= CPU_ROWS_PAR * 8, pmath_bias_act_row(y + i * n, bias, n, 1));
        else CPU_FOR(i, rows, rows * n >= CPU_ROWS_PAR * 8, pmath_bias_act_row(y + i * n, bias, n, 0));
        return;
    }
    CPU_FOR(i, rows, rows * n >= CPU_ROWS_PAR * 8,
            pmath_bias_act_row(y + i * n, bias + (i / B) * bias_stride, n, relu));
}

PMATH_VEC static void cpu_relu_bwd(Backend *be, float *dy, const float *y, long count) {
    (void)be;
#if CPU_HAVE_AVX2
    if (count < CPU_ROWS_PAR * 16 && g_cpu_rowops_simd && cpu_avx2_ok()) {
        relu_bwd_avx2(dy, y, count);
        return;
    }
#endif
    CPU_FOR(i, count, count >= CPU_ROWS_PAR * 16,
            dy[i] = pmath_relu_bwd(dy[i], y[i]));
}

static void cpu_softmax_rows(Backend *be, float *out, const float *in, long rows, int n) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_softmax_row(out + i * n, in + i * n, n));
}

static void cpu_softmax_bwd_rows(Backend *be, float *dl, const float *p, const float *dp,
                                 long rows, int n) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_softmax_bwd_row(dl + i * n, p + i * n, dp + i * n, n));
}

/* Softplus bounds of n elements (pmath_softplus_bounds; NaN where it gives none). */
static void softplus_bounds_scalar(const float *u, long n, float *lo, float *hi) {
    for (long i = 0; i < n; i++)
        if (!pmath_softplus_bounds(u[i], &lo[i], &hi[i])) lo[i] = hi[i] = NAN;
}

#if CPU_HAVE_AVX2
/* The same, 4 lanes of double: pmath_softplus_approx's operations in its order (IEEE
 * mul/add/sub/div, no FMA: the target is "avx2" only and -std=c11 keeps contraction off), so
 * the bounds are the scalar ones bit for bit (tests/test_backend_cpu.c). Integer steps: k by
 * cvtpd (exact on an integral double), e by the 2^52 trick (exact). */
__attribute__((target("avx2"), always_inline)) static inline void sp_bounds4(__m128 xf, __m128 *lo,
                                                                              __m128 *hi) {
    const __m256d shift = _mm256_set1_pd(6755399441055744.0), l2e = _mm256_set1_pd(1.4426950408889634);
    const __m256d ln2 = _mm256_set1_pd(0.6931471805599453), one = _mm256_set1_pd(1.0);
    const __m256d sqrt_half = _mm256_set1_pd(0.7071067811865476);
    const __m256d emagic = _mm256_set1_pd(4503599627370496.0 + 1022.0);
    const __m256i mant = _mm256_set1_epi64x(0x000fffffffffffffLL), half_exp = _mm256_set1_epi64x(0x3feLL << 52);
    const __m256i bias = _mm256_set1_epi64x(1023), emagic_bits = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d wlo = _mm256_set1_pd(1.0 - PMATH_SP_WIDEN), whi = _mm256_set1_pd(1.0 + PMATH_SP_WIDEN);
    __m128 ok = _mm_and_ps(_mm_cmpge_ps(xf, _mm_set1_ps(PMATH_SP_LO)), _mm_cmple_ps(xf, _mm_set1_ps(PMATH_SP_HI)));
    __m256d x = _mm256_cvtps_pd(_mm_and_ps(xf, ok)); /* lanes without bounds compute on 0 */
    __m256d kd = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(x, l2e), shift), shift);
    __m256d r = _mm256_sub_pd(x, _mm256_mul_pd(kd, ln2));
    __m256d p = _mm256_add_pd(_mm256_set1_pd(1.0 / 720), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 5040)));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 120), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 24), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 6), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 2), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
    p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
    __m256i k64 = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(kd));
    __m256d two_k = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k64, bias), 52));
    __m256d w = _mm256_add_pd(one, _mm256_mul_pd(p, two_k));
    __m256i wb = _mm256_castpd_si256(w);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(wb, 52), emagic_bits)), emagic);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(wb, mant), half_exp));
    __m256d lt = _mm256_cmp_pd(m, sqrt_half, _CMP_LT_OQ);
    m = _mm256_blendv_pd(m, _mm256_add_pd(m, m), lt);
    e = _mm256_blendv_pd(e, _mm256_sub_pd(e, one), lt);
    __m256d sv = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    __m256d s2 = _mm256_mul_pd(sv, sv);
    __m256d q = _mm256_add_pd(_mm256_set1_pd(1.0 / 7), _mm256_mul_pd(s2, _mm256_set1_pd(1.0 / 9)));
    q = _mm256_add_pd(_mm256_set1_pd(1.0 / 5), _mm256_mul_pd(s2, q));
    q = _mm256_add_pd(_mm256_set1_pd(1.0 / 3), _mm256_mul_pd(s2, q));
    q = _mm256_add_pd(one, _mm256_mul_pd(s2, q));
    __m256d lg = _mm256_mul_pd(_mm256_add_pd(sv, sv), q);
    __m256d av = _mm256_add_pd(_mm256_mul_pd(e, ln2), lg);
    __m128 nan = _mm_set1_ps(NAN);
    *lo = _mm_blendv_ps(nan, _mm256_cvtpd_ps(_mm256_mul_pd(av, wlo)), ok);
    *hi = _mm_blendv_ps(nan, _mm256_cvtpd_ps(_mm256_mul_pd(av, whi)), ok);
}

__attribute__((target("avx2"))) static void softplus_bounds_avx2(const float *u, long n, float *lo,
                                                                  float *hi) {
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 a, b;
        sp_bounds4(_mm_loadu_ps(u + i), &a, &b);
        _mm_storeu_ps(lo + i, a);
        _mm_storeu_ps(hi + i, b);
    }
    _mm256_zeroupper(); /* before the scalar tail and the SSE code after (see host/adam.c) */
    softplus_bounds_scalar(u + i, n - i, lo + i, hi + i);
}

/* Noisy-logit bounds of n elements: pmath_softplus_bounds then pmath_noisy_logit_bounds, the
 * latter's float operations per lane (a = l + eps lo, b = l + eps hi; min/max as its a < b
 * tests: minps(a, b) = a < b ? a : b, maxps(b, a) = b > a ? b : a; NaN for both where a or b
 * is not finite). */
__attribute__((target("avx2"))) static void route_zbounds_avx2(const float *l, const float *u,
                                                                const float *eps, long n, float *zl,
                                                                float *zh) {
    long i = 0;
    const __m128 zero = _mm_setzero_ps(), nan = _mm_set1_ps(NAN);
    for (; i + 8 <= n; i += 8) { /* two independent chains per iteration */
        __m128 lo[2], hi[2];
        sp_bounds4(_mm_loadu_ps(u + i), &lo[0], &hi[0]);
        sp_bounds4(_mm_loadu_ps(u + i + 4), &lo[1], &hi[1]);
        for (int h = 0; h < 2; h++) {
            __m128 lv = _mm_loadu_ps(l + i + 4 * h), ev = _mm_loadu_ps(eps + i + 4 * h);
            __m128 a = _mm_add_ps(lv, _mm_mul_ps(ev, lo[h])), b = _mm_add_ps(lv, _mm_mul_ps(ev, hi[h]));
            __m128 fin = _mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(a, a), zero), _mm_cmpeq_ps(_mm_sub_ps(b, b), zero));
            _mm_storeu_ps(zl + i + 4 * h, _mm_blendv_ps(nan, _mm_min_ps(a, b), fin));
            _mm_storeu_ps(zh + i + 4 * h, _mm_blendv_ps(nan, _mm_max_ps(b, a), fin));
        }
    }
    for (; i + 4 <= n; i += 4) {
        __m128 lo, hi;
        sp_bounds4(_mm_loadu_ps(u + i), &lo, &hi);
        __m128 lv = _mm_loadu_ps(l + i), ev = _mm_loadu_ps(eps + i);
        __m128 a = _mm_add_ps(lv, _mm_mul_ps(ev, lo)), b = _mm_add_ps(lv, _mm_mul_ps(ev, hi));
        __m128 fin = _mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(a, a), zero), _mm_cmpeq_ps(_mm_sub_ps(b, b), zero));
        _mm_storeu_ps(zl + i, _mm_blendv_ps(nan, _mm_min_ps(a, b), fin));
        _mm_storeu_ps(zh + i, _mm_blendv_ps(nan, _mm_max_ps(b, a), fin));
    }
    _mm256_zeroupper();
    for (; i < n; i++) {
        float lo, hi;
        if (!pmath_softplus_bounds(u[i], &lo, &hi)) lo = hi = NAN;
        pmath_noisy_logit_bounds(l[i], eps[i], lo, hi, &zl[i], &zh[i]);
    }
}
#endif

void backend_cpu_softplus_bounds(const float *u, long n, float *lo, float *hi, int simd) {
#if CPU_HAVE_AVX2
    if (simd && cpu_avx2_ok()) {
        softplus_bounds_avx2(u, n, lo, hi);
        return;
    }
#endif
    (void)simd;
    softplus_bounds_scalar(u, n, lo, hi);
}

/* Noisy-logit bounds [zl, zh] of n elements (the scalar formulas, or their AVX2 form). */
static void route_zbounds(const float *l, const float *u, const float *eps, long n, float *zl, float *zh) {
#if CPU_HAVE_AVX2
    if (cpu_avx2_ok()) {
        route_zbounds_avx2(l, u, eps, n, zl, zh);
        return;
    }
#endif
    for (long i = 0; i < n; i++) {
        float lo, hi;
        if (!pmath_softplus_bounds(u[i], &lo, &hi)) lo = hi = NAN;
        pmath_noisy_logit_bounds(l[i], eps[i], lo, hi, &zl[i], &zh[i]);
    }
}

/* Faithful rows (mode 0) whose choice the softplus bounds decide skip libm's expf and log1pf
 * (a large share of the update; pmath_route_top1_decide says why the choice is the same); the
 * gate is the same exact one-hot. Undecided rows and the switch router run the row formula. */
#define CPU_ROUTE_CHUNK 64
static void route_top1_rows(int mode, const float *l, const float *u, const float *eps,
                            long i0, long i1, int E, float *g, int32_t *choice) {
    float zl[CPU_ROUTE_CHUNK * PMATH_MAX_EXPERTS], zh[CPU_ROUTE_CHUNK * PMATH_MAX_EXPERTS];
    if (mode == 0) route_zbounds(l + i0 * E, u + i0 * E, eps + i0 * E, (i1 - i0) * E, zl, zh);
    for (long i = i0; i < i1; i++) {
        const long o = i * E;
        int k = mode == 0 ? pmath_route_top1_pick(zl + (i - i0) * E, zh + (i - i0) * E, E) : -1;
        if (k < 0) {
            choice[i] = pmath_route_top1_row(mode, l + o, u + o, eps + o, E, g + o);
            continue;
        }
        for (int j = 0; j < E; j++) g[o + j] = 0.0f;
        g[o + k] = 1.0f;
        choice[i] = k;
    }
}

static void cpu_route_top1(Backend *be, int mode, const float *l, const float *u,
                           const float *eps, long rows, int E, float *g, int32_t *choice) {
    (void)be;
    if (E > PMATH_MAX_EXPERTS) check_die(__FILE__, __LINE__, "route_top1", "too many experts");
    CPU_FOR(c, (rows + CPU_ROUTE_CHUNK - 1) / CPU_ROUTE_CHUNK, rows >= CPU_ROWS_PAR,
            route_top1_rows(mode, l, u, eps, c * CPU_ROUTE_CHUNK,
                            (c + 1) * CPU_ROUTE_CHUNK < rows ? (c + 1) * CPU_ROUTE_CHUNK : rows, E, g, choice));
}

static void cpu_route_top1_bwd(Backend *be, int mode, const float *l, const float *u,
                               const float *eps, const int32_t *choice, const float *dg,
                               long rows, int E, float *dl, float *du) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_route_top1_bwd_row(mode, l + i * E, u + i * E, eps + i * E, choice[i], dg + i * E,
                                 E, dl + i * E, du + i * E));
}

PMATH_VEC static void cpu_combine(Backend *be, float *f, const float *g, const float *h,
                        long expert_stride, long rows, int E, int H) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_combine_row(f + i * H, g + i * E, h + i * H, expert_stride, E, H));
}

PMATH_VEC static void cpu_combine_bwd(Backend *be, float *dh, float *dg, const float *df, const float *g,
                            const float *h, long expert_stride, long rows, int E, int H) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_combine_bwd_row(dh + i * H, dg + i * E, df + i * H, g + i * E, h + i * H,
                              expert_stride, E, H));
}

PMATH_VEC static void cpu_combine_grouped(Backend *be, float *f, const float *g,
                                          const int32_t *choice, const float *hs,
                                          const int32_t *pos, int R, int B, int E, int H) {
    (void)be;
    long rows = (long)R * B;
    if (rows < CPU_ROWS_PAR) { /* run outer: no division per row */
        for (long r0 = 0; r0 < rows; r0 += B)
            for (long i = r0; i < r0 + B; i++)
                pmath_combine_grouped_row(f + i * H, g + i * E, choice[i], hs + (r0 + pos[i]) * H, H);
        return;
    }
    CPU_FOR(i, rows, 1,
            pmath_combine_grouped_row(f + i * H, g + i * E, choice[i],
                                      hs + ((i / B) * B + pos[i]) * H, H));
}

PMATH_VEC static void cpu_combine_grouped_bwd(Backend *be, float *dhs, float *dg, const float *df,
                                              const float *g, const int32_t *choice,
                                              const float *hs, const int32_t *pos, int R, int B,
                                              int E, int H) {
    (void)be;
    long rows = (long)R * B;
    if (rows < CPU_ROWS_PAR) { /* run outer: no division per row */
        for (long r0 = 0; r0 < rows; r0 += B)
            for (long i = r0; i < r0 + B; i++) {
                long k = r0 + pos[i];
                pmath_combine_grouped_bwd_row(dhs + k * H, dg ? dg + i * E : NULL, df + i * H, g + i * E,
                                              choice[i], hs + k * H, E, H);
            }
        return;
    }
    CPU_FOR(i, rows, 1, {
        long k = (i / B) * B + pos[i];
        pmath_combine_grouped_bwd_row(dhs + k * H, dg ? dg + i * E : NULL, df + i * H, g + i * E, choice[i],
                                      hs + k * H, E, H);
    });
}

static void cpu_count_choices(Backend *be, int32_t *counts, const int32_t *choice, int R, int B,
                              int E) {
    (void)be;
    for (int r = 0; r < R; r++) {
        int32_t *c = counts + (long)r * E;
        for (int e = 0; e < E; e++) c[e] = 0;
        for (int b = 0; b < B; b++) {
            int e = choice[(long)r * B + b];
            if (e >= 0 && e < E) c[e]++;
        }
    }
}

static void cpu_cat_logp(Backend *be, float *logp, float *entropy, const float *logits,
                         const int32_t *actions, long rows, int A) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            logp[i] = pmath_cat_logp_row(logits + i * A, A, actions[i], entropy ? entropy + i : NULL));
}

static void cpu_cat_sample(Backend *be, int32_t *actions, const float *logits, const float *u,
                           long rows, int A) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            actions[i] = pmath_cat_sample_row(logits + i * A, A, u ? u[i] : -1.0f));
}

static void cpu_cat_bwd(Backend *be, float *dlogits, const float *logits, const int32_t *actions,
                        const float *dlogp, const float *dent, long rows, int A) {
    (void)be;
    CPU_FOR(i, rows, rows >= CPU_ROWS_PAR,
            pmath_cat_bwd_row(dlogits + i * A, logits + i * A, A, actions[i], dlogp[i],
                          dent ? dent[i] : 0.0f));
}

/* Both gathers move 4-byte elements; one loop serves float and int32. */
PMATH_VEC static void gather4(void *dst, const void *src, const int32_t *idx, int R, int B, long src_rows, int row_len) {
    uint32_t *d = dst;
    const uint32_t *s = src;
    for (int r = 0; r < R; r++) { /* run outer: no division per element */
        const uint32_t *sr = s + (long)r * src_rows * row_len;
        const int32_t *ir = idx + (long)r * B;
        uint32_t *dr = d + (long)r * B * row_len;
        if (row_len == 1) { /* the per-sample scalars: a libc memcpy call per element costs more */
            for (int b = 0; b < B; b++) dr[b] = sr[ir[b]];
            continue;
        }
        if (row_len <= 64) { /* short rows (48 observations): an inline vector copy, no call */
            for (int b = 0; b < B; b++) {
                uint32_t *restrict dd = dr + (long)b * row_len;
                const uint32_t *restrict ss = sr + (long)ir[b] * row_len;
                for (int j = 0; j < row_len; j++) dd[j] = ss[j];
            }
            continue;
        }
        for (int b = 0; b < B; b++)
            memcpy(dr + (long)b * row_len, sr + (long)ir[b] * row_len, 4 * (size_t)row_len);
    }
}

static void cpu_gather_rows(Backend *be, float *dst, const float *src, const int32_t *idx, int R,
                            int B, long src_rows, int row_len) {
    (void)be;
    gather4(dst, src, idx, R, B, src_rows, row_len);
}

static void cpu_gather_rows_i32(Backend *be, int32_t *dst, const int32_t *src, const int32_t *idx,
                                int R, int B, long src_rows, int row_len) {
    (void)be;
    gather4(dst, src, idx, R, B, src_rows, row_len);
}

/* ---- randomness, optimizer, noise, GAE: the host modules are the reference, called as they
 * are (backend memory is host memory here). ---- */

static void cpu_rand_normal_runs(Backend *be, float *out, int R, long n, PrandStream *h_streams) {
    (void)be;
    prand_normal_runs(R, h_streams, out, n);
}

static void cpu_rand_uniform_runs(Backend *be, float *out, int R, long n,
                                  PrandStream *h_streams) {
    (void)be;
    for (int r = 0; r < R; r++) {
        prand_uniform(h_streams[r].seed, h_streams[r].offset, out + (long)r * n, n);
        h_streams[r].offset += prand_normal_advance(n);
    }
}

static void cpu_adam_step(Backend *be, const AdamConfig *cfg, ParamBlock *pb, const float *h_lr) {
    (void)be;
    adam_step(cfg, pb, h_lr);
}

static int cpu_noise_step(Backend *be, NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb,
                          const float *h_lr) {
    (void)be;
    return noise_step(ns, cfg, pb, h_lr);
}

static void cpu_gae(Backend *be, int T, int N, const float *rewards, const float *values,
                    const float *dones, const float *next_value, const float *next_done,
                    float gamma, float lambda, float *adv, float *returns) {
    (void)be;
    gae_compute(T, N, rewards, values, dones, next_value, next_done, gamma, lambda, adv, returns);
}

static void cpu_ppo_loss(Backend *be, const PpoLossConfig *cfg, int R, int B, int A,
                         const float *logits, const int32_t *actions, const float *old_logp,
                         const float *adv, const float *returns, const float *old_values,
                         const float *new_values, float *d_logits, float *d_values,
                         PpoLossStats *stats) {
    (void)be;
    ppo_loss(cfg, R, B, A, logits, actions, old_logp, adv, returns, old_values, new_values,
             d_logits, d_values, stats);
}

static void *cpu_host_alloc(Backend *be, size_t bytes) { return cpu_alloc(be, bytes); }
static void cpu_host_release(Backend *be, void *h) { cpu_release(be, h); }
static void cpu_download_async(Backend *be, void *h_dst, const void *src, size_t bytes) {
    cpu_upload(be, h_dst, src, bytes); /* the CPU computed it already: nothing to overlap */
}
static void cpu_download_wait(Backend *be) { (void)be; }

Backend *backend_cpu_create(void) {
    /* Our threads split the batch; OpenBLAS's own threads would nest inside them. */
    openblas_set_num_threads(1);
    dot1_ok = dot1_selftest();
    Backend *be = xcalloc(1, sizeof *be);
    be->name = "cpu";
    be->alloc = cpu_alloc;
    be->release = cpu_release;
    be->upload = cpu_upload;
    be->download = cpu_upload; /* host to host either way */
    be->copy = cpu_copy;
    be->zero = cpu_zero;
    be->sync = cpu_sync;
    be->host_alloc = cpu_host_alloc;
    be->host_release = cpu_host_release;
    be->download_async = cpu_download_async;
    be->download_wait = cpu_download_wait;
    be->free = cpu_free;
    be->gemm_batched = cpu_gemm_batched;
    be->bias_act = cpu_bias_act;
    be->relu_bwd = cpu_relu_bwd;
    be->softmax_rows = cpu_softmax_rows;
    be->softmax_bwd_rows = cpu_softmax_bwd_rows;
    be->route_top1 = cpu_route_top1;
    be->route_top1_bwd = cpu_route_top1_bwd;
    be->combine = cpu_combine;
    be->combine_bwd = cpu_combine_bwd;
    be->combine_grouped = cpu_combine_grouped;
    be->combine_grouped_bwd = cpu_combine_grouped_bwd;
    be->count_choices = cpu_count_choices;
    be->cat_logp = cpu_cat_logp;
    be->cat_sample = cpu_cat_sample;
    be->cat_bwd = cpu_cat_bwd;
    be->gather_rows = cpu_gather_rows;
    be->gather_rows_i32 = cpu_gather_rows_i32;
    be->rand_normal_runs = cpu_rand_normal_runs;
    be->rand_uniform_runs = cpu_rand_uniform_runs;
    be->adam_step = cpu_adam_step;
    be->noise_step = cpu_noise_step;
    be->gae = cpu_gae;
    be->ppo_loss = cpu_ppo_loss;
    return be;
}
