/* bench_gemm.c: a hand-written column-major gemm_batched vs OpenBLAS (a loop of cblas_sgemm
 * over the batch, as host/backend/backend_cpu.c does) on the network's own products (host/nn/net.c), to
 * decide which the CPU backend uses. Both results are checked against each other first.
 * OpenBLAS won by a wide margin (figures: bench/README.md), so the backend uses it.
 *
 * Build and run:  make USE_CUDA=0 build/bench/bench_gemm && OMP_NUM_THREADS=1 build/bench/bench_gemm
 * Prints GFLOP/s per shape for each implementation and the ratio. Single thread by default
 * (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS = 1) so the numbers are per core. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* The hand-written candidate (was in host/backend/backend_cpu.c before this measurement): op(A) is
 * packed as a contiguous m x k column-major block so the inner loop runs over i with unit
 * stride (vectorisable without reassociation), fixed k order per element. */
#define CPU_GEMM_COLS 16
#define CPU_GEMM_MB 64
#define CPU_GEMM_PACK 16384
#define CPU_GEMM_PAR_FLOPS 200000L
/* One column block of one batch item. op(A) is given as a contiguous m x k column-major
 * matrix `a` (already transposed if needed), so the inner loop runs over i with unit stride
 * and vectorises without changing any element's summation order (no reassociation). */
__attribute__((optimize("O3", "tree-vectorize"))) static void
gemm_cols(int tb, int m, int k, int j0, int j1, float alpha, const float *a, const float *B,
          int ldb, float beta, float *C, int ldc) {
    float acc[CPU_GEMM_MB];
    for (int j = j0; j < j1; j++) {
        for (int i0 = 0; i0 < m; i0 += CPU_GEMM_MB) {
            int mb = m - i0 < CPU_GEMM_MB ? m - i0 : CPU_GEMM_MB;
            for (int i = 0; i < mb; i++) acc[i] = 0.0f;
            for (int p = 0; p < k; p++) {
                float b = tb ? B[j + (long)p * ldb] : B[p + (long)j * ldb];
                const float *ap = a + (long)p * m + i0;
                for (int i = 0; i < mb; i++) acc[i] += ap[i] * b;
            }
            float *c = C + (long)j * ldc + i0;
            if (beta == 0.0f)
                for (int i = 0; i < mb; i++) c[i] = alpha * acc[i];
            else
                for (int i = 0; i < mb; i++) c[i] = alpha * acc[i] + beta * c[i];
        }
    }
}

/* Fallback for op(A) too big to pack: plain dot products, same k order. */
static void gemm_cols_unpacked(int ta, int tb, int m, int k, int j0, int j1, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               float *C, int ldc) {
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += (ta ? A[p + (long)i * lda] : A[i + (long)p * lda]) *
                     (tb ? B[j + (long)p * ldb] : B[p + (long)j * ldb]);
            float *c = C + (long)j * ldc + i;
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
}

/* op(A) of batch item as contiguous m x k column-major. Returns A itself when it already is. */
static const float *gemm_pack_a(int ta, int m, int k, const float *A, int lda, float *buf) {
    if (!ta && lda == m) return A;
    for (int p = 0; p < k; p++)
        for (int i = 0; i < m; i++)
            buf[i + (long)p * m] = ta ? A[p + (long)i * lda] : A[i + (long)p * lda];
    return buf;
}

static void hand_batched(int ta, int tb, int m, int n, int k, float alpha, const float *A,
                         int lda, long strideA, const float *B, int ldb, long strideB,
                         float beta, float *C, int ldc, long strideC, int batch) {
    int ncb = (n + CPU_GEMM_COLS - 1) / CPU_GEMM_COLS;
    long tasks = (long)batch * ncb;
    long flops = (long)m * n * (k > 0 ? k : 1) * batch;
    int fits = (long)m * k <= CPU_GEMM_PACK;
#pragma omp parallel if (flops >= CPU_GEMM_PAR_FLOPS)
    {
        float buf[CPU_GEMM_PACK];
        int last = -1;
        const float *a = NULL;
#pragma omp for schedule(static)
        for (long t = 0; t < tasks; t++) {
            int bi = (int)(t / ncb), cb = (int)(t % ncb);
            int j0 = cb * CPU_GEMM_COLS, j1 = j0 + CPU_GEMM_COLS < n ? j0 + CPU_GEMM_COLS : n;
            if (!fits) {
                gemm_cols_unpacked(ta, tb, m, k, j0, j1, alpha, A + bi * strideA, lda,
                                   B + bi * strideB, ldb, beta, C + bi * strideC, ldc);
                continue;
            }
            if (bi != last) {
                a = gemm_pack_a(ta, m, k, A + bi * strideA, lda, buf);
                last = bi;
            }
            gemm_cols(tb, m, k, j0, j1, alpha, a, B + bi * strideB, ldb, beta,
                      C + bi * strideC, ldc);
        }
    }
}

typedef struct {
    const char *what;
    int ta, tb, m, n, k; /* n or k = -1 means "the sample count B" */
} Shape;

static const Shape SHAPES[] = {
    {"fwd fc1   (T,N) 18 x B x 48", 1, 0, 18, -1, 48},
    {"fwd fc2   (T,N) 18 x B x 18", 1, 0, 18, -1, 18},
    {"fwd route (T,N)  3 x B x 48", 1, 0, 3, -1, 48},
    {"fwd head  (T,N)  6 x B x 18", 1, 0, 6, -1, 18},
    {"dW fc1    (N,T) 48 x 18 x B", 0, 1, 48, 18, -1},
    {"dW fc2    (N,T) 18 x 18 x B", 0, 1, 18, 18, -1},
    {"dX fc2    (N,N) 18 x B x 18", 0, 0, 18, -1, 18},
    {"dX head   (N,N) 18 x B x 6 ", 0, 0, 18, -1, 6},
    {"db        (N,N) 18 x 1 x B ", 0, 0, 18, 1, -1},
};

static void blas_batched(int ta, int tb, int m, int n, int k, const float *A, int lda, long sA,
                         const float *B, int ldb, long sB, float *C, int ldc, long sC, int batch) {
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, A + i * sA, lda, B + i * sB, ldb, 0.0f, C + i * sC, ldc);
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        printf("usage: bench_gemm  (no options; set OMP_NUM_THREADS to change threads)\n");
        return 0;
    }
    openblas_set_num_threads(1);
    const int cfg[][2] = {{62, 1}, {62, 64}, {4096, 1}}; /* (B, runs) */
    printf("%-30s %6s %5s %12s %12s %8s\n", "product", "B", "runs", "hand GF/s", "blas GF/s", "hand/blas");
    double log_ratio_sum = 0.0;
    int n_ratio = 0;
    for (int c = 0; c < PM_ARRAY_LEN(cfg); c++) {
        int Bs = cfg[c][0], R = cfg[c][1];
        for (int s = 0; s < PM_ARRAY_LEN(SHAPES); s++) {
            const Shape *sh = &SHAPES[s];
            int m = sh->m, n = sh->n < 0 ? Bs : sh->n, k = sh->k < 0 ? Bs : sh->k;
            int lda = sh->ta ? k : m, ldb = sh->tb ? n : k, ldc = m;
            long sA = (long)m * k, sB = (long)k * n, sC = (long)m * n;
            float *A = xmalloc(sizeof(float) * sA * R), *B = xmalloc(sizeof(float) * sB * R);
            float *C1 = xcalloc((size_t)(sC * R), sizeof(float)), *C2 = xcalloc((size_t)(sC * R), sizeof(float));
            for (long i = 0; i < sA * R; i++) A[i] = (float)sin(0.1 * i);
            for (long i = 0; i < sB * R; i++) B[i] = (float)cos(0.07 * i);
            hand_batched(sh->ta, sh->tb, m, n, k, 1.0f, A, lda, sA, B, ldb, sB, 0.0f, C1, ldc, sC, R);
            blas_batched(sh->ta, sh->tb, m, n, k, A, lda, sA, B, ldb, sB, C2, ldc, sC, R);
            for (long i = 0; i < sC * R; i++)
                if (fabsf(C1[i] - C2[i]) > 1e-3f * (1.0f + fabsf(C2[i]))) {
                    fprintf(stderr, "mismatch %s at %ld: %g vs %g\n", sh->what, i, C1[i], C2[i]);
                    return 1;
                }
            double flop = 2.0 * m * n * k * R, gf[2];
            for (int impl = 0; impl < 2; impl++) {
                long reps = 1;
                double t;
                for (;;) { /* grow until ~0.1 s */
                    double t0 = now_seconds();
                    for (long r = 0; r < reps; r++) {
                        if (impl == 0)
                            hand_batched(sh->ta, sh->tb, m, n, k, 1.0f, A, lda, sA, B, ldb, sB, 0.0f, C1, ldc, sC, R);
                        else
                            blas_batched(sh->ta, sh->tb, m, n, k, A, lda, sA, B, ldb, sB, C2, ldc, sC, R);
                    }
                    t = now_seconds() - t0;
                    if (t > 0.1) break;
                    reps *= 4;
                }
                gf[impl] = flop * reps / t / 1e9;
            }
            printf("%-30s %6d %5d %12.2f %12.2f %8.2f\n", sh->what, Bs, R, gf[0], gf[1], gf[0] / gf[1]);
            log_ratio_sum += log(gf[0] / gf[1]);
            n_ratio++;
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
    printf("geometric mean hand/blas speed ratio: %.2f\n", exp(log_ratio_sum / n_ratio));
    return 0;
}
