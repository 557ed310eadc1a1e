/* cpu_dot1.h: single-column products c = A^T x for the CPU backend (host/backend/cpu_dot1.c): the
 * n = 1 gemms of the B = 1 rollout forwards and of the row_products nets, computed in
 * OpenBLAS's own summation order (the same bits) without its per-call overhead. */
#ifndef PAMOE_CPU_DOT1_H
#define PAMOE_CPU_DOT1_H

/* the largest products the kernels take (and the self-test covers) */
#define CPU_DOT1_MAX_M 24
#define CPU_DOT1_MAX_K 64

/* 1 when this CPU has AVX2 + FMA (cpu_features.h) and the kernels equal cblas_sgemm bit for
 * bit on random products of every m <= CPU_DOT1_MAX_M, k <= CPU_DOT1_MAX_K (this machine's
 * OpenBLAS build sums in the order the kernels copy); 0 otherwise: use OpenBLAS. Takes about
 * a millisecond: the CPU backend runs it once, at creation. */
int cpu_dot1_selftest(void);

/* Whether gemm_batched's arguments (column-major, as backend.h) are a product the kernels
 * compute: c (m) = A^T x with A (k, m), lda = k, one column, alpha = 1, beta = 0. */
static inline int cpu_dot1_fits(int ta, int tb, int m, int n, int k, float alpha, int lda, float beta) {
    return n == 1 && ta && !tb && alpha == 1.0f && beta == 0.0f && m <= CPU_DOT1_MAX_M && k >= 1 &&
           k <= CPU_DOT1_MAX_K && lda == k;
}

/* For i < batch: C + i strideC (m) = (A + i strideA)^T (B + i strideB), as cblas_sgemm gives
 * it. Call only after cpu_dot1_selftest() returned 1, on arguments cpu_dot1_fits accepts. */
void cpu_dot1_batched(int m, int k, const float *A, long strideA, const float *B, long strideB, float *C,
                      long strideC, long batch);
#endif
