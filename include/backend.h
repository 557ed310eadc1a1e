/* backend.h: the one compute interface the networks and the trainer are written against
 * (after ggml's ggml_backend_i). Only host/backend_cpu.c and kernels/backend_cuda.cu know
 * where memory lives; every matrix product goes through `gemm_batched` with cuBLAS
 * column-major semantics, so the CPU path exercises the very call sites the GPU runs.
 *
 * Conventions
 *  - All float pointers are backend memory (device memory on CUDA) unless named h_*.
 *  - "rows" = R runs x B samples flattened, run-major: row = r*B + b.
 *  - A network's parameters for R runs are one block (R, P) float32, run stride P.
 *  - Per-row math comes from kernels/pmath_*.h so both backends use the same formula.
 *
 * DRAFT by the lead; the numerical-core owner may extend it (keep CPU and CUDA parallel).
 */
#ifndef PAMOE_BACKEND_H
#define PAMOE_BACKEND_H
#include <stddef.h>
#include <stdint.h>

typedef struct Backend Backend;

enum { BE_NOTRANS = 0, BE_TRANS = 1 };

struct Backend {
    const char *name; /* "cpu" or "cuda" */
    void *(*alloc)(Backend *be, size_t bytes);          /* zero-filled */
    void (*release)(Backend *be, void *p);              /* accepts NULL */
    void (*upload)(Backend *be, void *dst, const void *h_src, size_t bytes);
    void (*download)(Backend *be, void *h_dst, const void *src, size_t bytes);
    void (*copy)(Backend *be, void *dst, const void *src, size_t bytes);
    void (*zero)(Backend *be, void *dst, size_t bytes);
    void (*sync)(Backend *be);

    /* C_i = alpha*op(A_i)*op(B_i) + beta*C_i for i < batch, column-major, cuBLAS
     * cublasSgemmStridedBatched semantics (X_i = X + i*strideX). batch 1 = plain gemm. */
    void (*gemm_batched)(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                         const float *A, int lda, long strideA,
                         const float *B, int ldb, long strideB, float beta,
                         float *C, int ldc, long strideC, int batch);
    /* ... fused element-wise / per-row operations: see the owner's additions below. */

    void *ctx; /* cuBLAS handle, stream, scratch (CUDA); thread settings (CPU) */
};

/* "cpu", "cuda" or "auto". NULL and a message in err_msg when unavailable. */
Backend *backend_create(const char *name, char *err_msg, size_t err_len);
void backend_free(Backend *be);
int backend_cuda_available(void); /* 0 without a CUDA build or without a usable device */
#endif
