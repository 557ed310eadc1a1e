/* cpu_dot1.c: single-column products (n = 1: the B = 1 rollout forwards, and row_products nets).
 * OpenBLAS's per-call overhead on y = W x with W (m, k), m <= 18, k <= 48 (argument checks,
 * and for k < 32 its full path: buffer allocation under a mutex, packing) exceeds the product
 * itself (docs/perf.md has the measurement). These compute y in OpenBLAS's own order, so the bits are the same:
 *  - k < 32: its full gemm path (the small-matrix kernel is not permitted for TN with K < 32):
 *    one fused multiply-add chain per output, q = 0 .. k-1;
 *  - k >= 32: the small TN kernel: 16 lane accumulators (lane q mod 16, fused multiply-adds in
 *    q order, a masked last vector), then per output either its 4-row reduction (rows in
 *    groups of 4: pairs within each 128-bit quarter, then quarters pairwise) or, for the last
 *    m mod 4 rows, a halving tree (lanes l + l+8, +4, +2, +1). alpha = 1 multiplies exactly.
 * Measured on OpenBLAS 0.3.21 (Cooperlake kernels). Another library build may order its sums
 * differently, so backend creation compares both on random products of every m <= 24,
 * k <= 64 (cpu_dot1_selftest) and takes this path only if every bit agrees; else OpenBLAS as
 * before. */
#include "cpu_dot1.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>


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
int cpu_dot1_selftest(void) {
    if (!cpu_has_avx2_fma()) return 0;
    float A[CPU_DOT1_MAX_M * CPU_DOT1_MAX_K], x[CPU_DOT1_MAX_K], c1[CPU_DOT1_MAX_M], c2[CPU_DOT1_MAX_M];
    uint32_t s = 12345u;
    for (int m = 1; m <= CPU_DOT1_MAX_M; m++)
        for (int k = 1; k <= CPU_DOT1_MAX_K; k++)
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
                    float At[CPU_DOT1_MAX_K * CPU_DOT1_MAX_M];
                    dot1_transpose(m, k, A, At);
                    dot1_chain(m, k, At, x, c2);
                    if (memcmp(c1, c2, sizeof(float) * (size_t)m)) return 0;
                }
            }
    return 1;
}

void cpu_dot1_batched(int m, int k, const float *A, long strideA, const float *B, long strideB, float *C,
                      long strideC, long batch) {
    /* serial: 20-70 ns an item, and a whole-rollout batch (~0.1 ms) is the kind of short
     * region that waits milliseconds for a busy second core (docs/perf.md) */
    if (k < 32 && strideA == 0) { /* one matrix for every item (row_products): transpose once */
        float At[CPU_DOT1_MAX_K * CPU_DOT1_MAX_M];
        dot1_transpose(m, k, A, At);
        for (long i = 0; i < batch; i++) dot1_chain(m, k, At, B + i * strideB, C + i * strideC);
        return;
    }
    for (long i = 0; i < batch; i++) dot1_tn(m, k, A + i * strideA, B + i * strideB, C + i * strideC);
}

#else /* no x86-64: OpenBLAS for every product */
int cpu_dot1_selftest(void) { return 0; }
void cpu_dot1_batched(int m, int k, const float *A, long strideA, const float *B, long strideB, float *C,
                      long strideC, long batch) {
    (void)m, (void)k, (void)A, (void)strideA, (void)B, (void)strideB, (void)C, (void)strideC, (void)batch;
    check_die(__FILE__, __LINE__, "cpu_dot1_batched", "called on a build without the kernels");
}
#endif
