/* emu_cublas.cpp: the cuBLAS calls of the CUDA CPU emulator, with the signatures of NVIDIA's
 * cublas_api.h (the emulated build links this instead of libcublas).
 *
 * GEMM: a column-major reference (one FMA chain per output element, k in order) queued on
 * the handle's stream like any kernel. Before queuing it validates what cuBLAS validates and
 * returns CUBLAS_STATUS_INVALID_VALUE for the same arguments (negative sizes, lda < rows of
 * op(A)'s storage, ldb, ldc < m, an unknown transpose, a negative batch count); then it checks
 * what cuBLAS cannot check and a GPU punishes later (an illegal address): every batch's A, B
 * and C span lies inside one device allocation, and the batches' C spans do not overlap.
 * Those return CUBLAS_STATUS_EXECUTION_FAILED with a "cuda_emu:" line. As cuBLAS, beta == 0
 * does not read C and alpha == 0 does not read A or B. TF32 is not emulated: FP32 products. */
#include <cublas_v2.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "emu_internal.h"

struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
    cublasPointerMode_t pointer_mode;
};

using namespace cuda_emu;

namespace {
/* Rows and columns of the stored matrix (not of op(X)). */
struct Span {
    int rows, cols, ld;
};

bool span_ok(const char *api, const char *name, const float *base, long long stride, int batch,
             Span s) {
    if (s.rows <= 0 || s.cols <= 0) return true;
    size_t bytes = ((size_t)(s.cols - 1) * (size_t)s.ld + (size_t)s.rows) * sizeof(float);
    for (int b = 0; b < batch; b++) {
        const float *p = base + (long long)b * stride;
        if (!range_in(p, bytes, MEM_DEVICE)) {
            diag("%s: %s of batch %d (%p, %d x %d, ld %d, stride %lld) is not inside one "
                 "device allocation (a GPU faults with an illegal address)",
                 api, name, b, (const void *)p, s.rows, s.cols, s.ld, stride);
            return false;
        }
    }
    return true;
}

cublasStatus_t gemm(const char *api, cublasHandle_t h, cublasOperation_t ta,
                    cublasOperation_t tb, int m, int n, int k, const float *alpha,
                    const float *A, int lda, long long sA, const float *B, int ldb, long long sB,
                    const float *beta, float *C, int ldc, long long sC, int batch) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    auto op_ok = [](cublasOperation_t t) { return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C; };
    bool na = ta == CUBLAS_OP_N, nb = tb == CUBLAS_OP_N;
    int max1m = m > 1 ? m : 1;
    int rowsA = na ? m : k, rowsB = nb ? k : n;
    const char *why = nullptr;
    if (!op_ok(ta) || !op_ok(tb)) why = "unknown transpose";
    else if (m < 0 || n < 0 || k < 0) why = "negative m, n or k";
    else if (lda < (rowsA > 1 ? rowsA : 1)) why = "lda < rows of A as stored";
    else if (ldb < (rowsB > 1 ? rowsB : 1)) why = "ldb < rows of B as stored";
    else if (ldc < max1m) why = "ldc < m";
    else if (batch < 0) why = "negative batch count";
    else if (!alpha || !beta) why = "NULL alpha or beta";
    if (why) {
        diag("%s(m %d, n %d, k %d, lda %d, ldb %d, ldc %d, batch %d): %s: "
             "CUBLAS_STATUS_INVALID_VALUE", api, m, n, k, lda, ldb, ldc, batch, why);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
    float a = *alpha, bt = *beta; /* host pointer mode: read at the call */
    bool reads_ab = a != 0.0f && k > 0;
    Span sa{rowsA, na ? k : m, lda}, sb{rowsB, nb ? n : k, ldb}, sc{m, n, ldc};
    if ((reads_ab && (!span_ok(api, "A", A, sA, batch, sa) || !span_ok(api, "B", B, sB, batch, sb))) ||
        !span_ok(api, "C", C, sC, batch, sc))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    long long c_span = (long long)(n - 1) * ldc + m;
    if (batch > 1 && (sC < 0 ? -sC : sC) < c_span) {
        diag("%s: strideC %lld < the %lld elements of one C: batches write over each other",
             api, sC, c_span);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    counters.gemms++;
    enqueue(h->stream, [=]() {
        for (int b = 0; b < batch; b++) {
            const float *Ab = A + (long long)b * sA, *Bb = B + (long long)b * sB;
            float *Cb = C + (long long)b * sC;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    float acc = 0.0f;
                    if (reads_ab)
                        for (int p = 0; p < k; p++) {
                            float x = na ? Ab[(long long)p * lda + i] : Ab[(long long)i * lda + p];
                            float y = nb ? Bb[(long long)j * ldb + p] : Bb[(long long)p * ldb + j];
                            acc = std::fma(x, y, acc);
                        }
                    float *c = Cb + (long long)j * ldc + i;
                    *c = bt == 0.0f ? a * acc : std::fma(a, acc, bt * *c);
                }
        }
    });
    return CUBLAS_STATUS_SUCCESS;
}
} // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    *h = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH, CUBLAS_POINTER_MODE_HOST};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t h, cublasPointerMode_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_POINTER_MODE_HOST) {
        diag("cublasSetPointerMode: only CUBLAS_POINTER_MODE_HOST is emulated");
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    h->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown cuBLAS status";
    }
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long int strideA, const float *B, int ldb,
                                         long long int strideB, const float *beta, float *C,
                                         int ldc, long long int strideC, int batchCount) {
    return gemm("cublasSgemmStridedBatched", h, ta, tb, m, n, k, alpha, A, lda, strideA, B, ldb,
                strideB, beta, C, ldc, strideC, batchCount);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                              int m, int n, int k, const float *alpha, const float *A, int lda,
                              const float *B, int ldb, const float *beta, float *C, int ldc) {
    return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0,
                1);
}
} /* extern "C" */
