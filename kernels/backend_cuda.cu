/* backend_cuda.cu: the CUDA backend, the GPU twin of host/backend/backend_cpu.c (same function
 * order, same names with cuda_ for cpu_). Memory is device memory; every op runs on the
 * backend's one stream in call order, so the trainer needs no synchronisation except
 * `download` (which waits) and `sync`.
 *
 * gemm_batched: cublasSgemmStridedBatched, the semantics backend.h states (column-major,
 * beta == 0 does not read C). TF32 stays off (CUBLAS_DEFAULT_MATH computes FP32 products in
 * FP32; TF32 would need CUBLAS_TF32_TENSOR_OP_MATH), so the GPU is comparable with the CPU
 * within FP32 summation-order differences. cuBLAS gives bit-identical results run to run on
 * one GPU model with one stream (its atomics mode is off by default), which is what the
 * determinism check in tests/gpu_backend.c relies on.
 *
 * Fused ops: one kernel each, one thread per row (or per element where the pmath row function
 * applied to a 1-wide row computes the same thing, for coalesced access), whose body is the
 * same include/pmath/pmath_*.h PMATH_HD call the CPU loop makes. Every output element is written by
 * one thread with the pmath summation order, so results do not depend on the launch geometry
 * (kernels/cuda_launch.h) and repeat bit for bit. They can differ from the CPU in the last
 * bits: device expf/logf are not glibc's (<= 2 ulp) and nvcc contracts a*b+c into FMAs. */
#include <stdio.h>
#include <string.h>

#include "cuda_common.cuh"

extern "C" {
#include "adam.h"
#include "backend_cuda.h"
#include "noise.h"
#include "prand.h"
}
#include "pmath_gae.h"
#include "pmath_net.h"
#include "pmath_plasticity.h"
#include "pmath_noise.h"
#include "pmath_ppo.h"
#include "pmath_rand.h"

#define TABLE_SLOTS 8

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    /* Device scratch for overlapping copies. Grown (doubling) on demand, so the step loop
     * reallocates at most a few times in a run's life. */
    void *d_scratch;
    size_t scratch_bytes;
    /* Per-op host tables (Adam coefficients, per-run Philox keys and offsets, tensor maps):
     * filled in page-locked memory and sent with one async copy, because a copy from pageable
     * memory waits for the whole stream first (CUDA's documented sync behaviour) and would
     * stall the host once per optimizer step. A ring of TABLE_SLOTS host buffers, each with
     * the event that marks its copy done, so filling the next table only waits for the copy
     * made TABLE_SLOTS sends ago (long landed), not for the GPU to drain the kernels queued
     * before the previous one. One device buffer suffices: every copy into it is queued after
     * the kernels that read the previous contents. Grown (doubling) rarely. */
    void *h_table[TABLE_SLOTS], *d_table;
    cudaEvent_t table_sent[TABLE_SLOTS];
    int table_slot;
    size_t table_bytes;
    cudaEvent_t downloaded; /* marks the last download_async */
} CudaCtx;

static CudaCtx *ctx_of(Backend *be) { return (CudaCtx *)be->ctx; }

/* Launch `kernel` over n work items with the one geometry helper; skipped for n <= 0. */
#define CUDA_LAUNCH(be, kernel, n, ...)                                                    \
    do {                                                                                   \
        CudaLaunch g_ = cuda_launch_1d((long)(n));                                         \
        if (g_.grid > 0) {                                                                 \
            kernel<<<g_.grid, g_.block, 0, ctx_of(be)->stream>>>(__VA_ARGS__);             \
            CUDA_CHECK(cudaGetLastError());                                                \
        }                                                                                  \
    } while (0)

/* Per-row routines keep E-sized arrays on the stack; the CPU backend has the same limit
 * implicitly, the GPU one says so instead of overflowing local memory. */
static void check_experts(int E, const char *op) {
    if (E < 1 || E > PMATH_MAX_EXPERTS) {
        char why[96];
        snprintf(why, sizeof why, "E = %d outside 1..%d (PMATH_MAX_EXPERTS)", E,
                 PMATH_MAX_EXPERTS);
        check_die(__FILE__, __LINE__, op, why);
    }
}

static void *cuda_scratch(Backend *be, size_t bytes) {
    CudaCtx *cx = ctx_of(be);
    if (bytes > cx->scratch_bytes) {
        size_t want = cx->scratch_bytes ? cx->scratch_bytes : 4096;
        while (want < bytes) want *= 2;
        /* cudaFree waits for the device, so no queued kernel still reads the old buffer. */
        CUDA_CHECK(cudaFree(cx->d_scratch));
        cx->d_scratch = NULL;
        CUDA_CHECK(cudaMalloc(&cx->d_scratch, want));
        cx->scratch_bytes = want;
    }
    return cx->d_scratch;
}

/* The next page-locked host table slot, at least `bytes`, free to write. */
static void *table_host(Backend *be, size_t bytes) {
    CudaCtx *cx = ctx_of(be);
    cx->table_slot = (cx->table_slot + 1) % TABLE_SLOTS;
    CUDA_CHECK(cudaEventSynchronize(cx->table_sent[cx->table_slot]));
    if (bytes > cx->table_bytes) {
        size_t want = cx->table_bytes ? cx->table_bytes : 4096;
        while (want < bytes) want *= 2;
        CUDA_CHECK(cudaStreamSynchronize(cx->stream)); /* no copy or kernel still uses them */
        for (int i = 0; i < TABLE_SLOTS; i++) {
            CUDA_CHECK(cudaFreeHost(cx->h_table[i]));
            cx->h_table[i] = NULL;
            CUDA_CHECK(cudaMallocHost(&cx->h_table[i], want));
        }
        CUDA_CHECK(cudaFree(cx->d_table));
        cx->d_table = NULL;
        CUDA_CHECK(cudaMalloc(&cx->d_table, want));
        cx->table_bytes = want;
    }
    return cx->h_table[cx->table_slot];
}

/* Sends the first `bytes` of the current host slot; returns the device copy. Kernels queued
 * later on the stream see it; the next table_send lands after them (same stream). */
static void *table_send(Backend *be, size_t bytes) {
    CudaCtx *cx = ctx_of(be);
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(cx->d_table, cx->h_table[cx->table_slot], bytes,
                                   cudaMemcpyHostToDevice, cx->stream));
    CUDA_CHECK(cudaEventRecord(cx->table_sent[cx->table_slot], cx->stream));
    return cx->d_table;
}

/* Rounds a table section up to 16 bytes so the next section is aligned for any type. */
static size_t table_align(size_t bytes) { return (bytes + 15) & ~(size_t)15; }

/* ---- memory ---- */

static void *cuda_alloc(Backend *be, size_t bytes) {
    void *p = NULL;
    if (!bytes) bytes = 1;
    CUDA_CHECK(cudaMalloc(&p, bytes));
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_of(be)->stream));
    return p;
}

static void cuda_release(Backend *be, void *p) {
    (void)be;
    if (p) CUDA_CHECK(cudaFree(p));
}

/* The caller may reuse h_src as soon as upload returns (the CPU backend's memcpy contract).
 * From pageable memory cudaMemcpyAsync has staged the bytes by the time it returns; from
 * page-locked memory it has not, so then we wait. */
static void cuda_upload(Backend *be, void *dst, const void *h_src, size_t bytes) {
    if (!bytes) return;
    CudaCtx *cx = ctx_of(be);
    CUDA_CHECK(cudaMemcpyAsync(dst, h_src, bytes, cudaMemcpyHostToDevice, cx->stream));
    cudaPointerAttributes at;
    CUDA_CHECK(cudaPointerGetAttributes(&at, h_src));
    if (at.type == cudaMemoryTypeHost) CUDA_CHECK(cudaStreamSynchronize(cx->stream));
}

static void cuda_download(Backend *be, void *h_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CudaCtx *cx = ctx_of(be);
    CUDA_CHECK(cudaMemcpyAsync(h_dst, src, bytes, cudaMemcpyDeviceToHost, cx->stream));
    CUDA_CHECK(cudaStreamSynchronize(cx->stream));
}

/* memmove semantics as the CPU backend: overlapping ranges go through the scratch buffer
 * (cudaMemcpy leaves overlap undefined). */
static void cuda_copy(Backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    CudaCtx *cx = ctx_of(be);
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + bytes && s < d + bytes) {
        void *tmp = cuda_scratch(be, bytes);
        CUDA_CHECK(cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, cx->stream));
        src = tmp;
    }
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cx->stream));
}

static void cuda_zero(Backend *be, void *dst, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, ctx_of(be)->stream));
}

static void cuda_sync(Backend *be) { CUDA_CHECK(cudaStreamSynchronize(ctx_of(be)->stream)); }

static void *cuda_host_alloc(Backend *be, size_t bytes) {
    (void)be;
    void *h = NULL;
    if (!bytes) bytes = 1;
    CUDA_CHECK(cudaMallocHost(&h, bytes));
    memset(h, 0, bytes);
    return h;
}

static void cuda_host_release(Backend *be, void *h) {
    (void)be;
    if (h) CUDA_CHECK(cudaFreeHost(h));
}

/* The copy goes behind the queued work on the one stream; the event lets the host wait for
 * this copy alone, not for what is queued after it. h_dst must be page-locked (host_alloc),
 * otherwise CUDA turns the copy synchronous (still correct, no overlap). */
static void cuda_download_async(Backend *be, void *h_dst, const void *src, size_t bytes) {
    CudaCtx *cx = ctx_of(be);
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(h_dst, src, bytes, cudaMemcpyDeviceToHost, cx->stream));
    CUDA_CHECK(cudaEventRecord(cx->downloaded, cx->stream));
}

static void cuda_download_wait(Backend *be) { CUDA_CHECK(cudaEventSynchronize(ctx_of(be)->downloaded)); }

static void cuda_free(Backend *be) {
    CudaCtx *cx = ctx_of(be);
    if (cx) {
        CUDA_CHECK(cudaStreamSynchronize(cx->stream));
        CUDA_CHECK(cudaFree(cx->d_scratch));
        CUDA_CHECK(cudaFree(cx->d_table));
        for (int i = 0; i < TABLE_SLOTS; i++) {
            CUDA_CHECK(cudaFreeHost(cx->h_table[i]));
            CUDA_CHECK(cudaEventDestroy(cx->table_sent[i]));
        }
        CUDA_CHECK(cudaEventDestroy(cx->downloaded));
        CUBLAS_CHECK(cublasDestroy(cx->blas));
        CUDA_CHECK(cudaStreamDestroy(cx->stream));
        free(cx);
    }
    free(be);
}

/* ---- gemm ---- */

static void cuda_gemm_batched(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                              const float *A, int lda, long strideA, const float *B, int ldb,
                              long strideB, float beta, float *C, int ldc, long strideC,
                              int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return; /* as the CPU backend: nothing to write */
    CUBLAS_CHECK(cublasSgemmStridedBatched(
        ctx_of(be)->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
        k, &alpha, A, lda, (long long)strideA, B, ldb, (long long)strideB, &beta, C, ldc,
        (long long)strideC, batch));
}

/* ---- fused element-wise / per-row operations (formulas: include/pmath/pmath_net.h) ---- */

/* One thread per element: pmath_bias_act_row on a 1-wide row is the CPU's row loop body. */
__global__ void bias_act_kernel(float *y, const float *bias, long bias_stride, int B, int n,
                                int relu, long count) {
    CUDA_GRID_STRIDE(i, count) {
        long row = i / n;
        int j = (int)(i % n);
        pmath_bias_act_row(y + i, bias + (row / B) * bias_stride + j, 1, relu);
    }
}

static void cuda_bias_act(Backend *be, float *y, const float *bias, long bias_stride, int R,
                          int B, int n, int relu) {
    long count = (long)R * B * n;
    CUDA_LAUNCH(be, bias_act_kernel, count, y, bias, bias_stride, B, n, relu, count);
}

__global__ void relu_bwd_kernel(float *dy, const float *y, long count) {
    CUDA_GRID_STRIDE(i, count) dy[i] = pmath_relu_bwd(dy[i], y[i]);
}

static void cuda_relu_bwd(Backend *be, float *dy, const float *y, long count) {
    CUDA_LAUNCH(be, relu_bwd_kernel, count, dy, y, count);
}

__global__ void softmax_rows_kernel(float *out, const float *in, long rows, int n) {
    CUDA_GRID_STRIDE(i, rows) pmath_softmax_row(out + i * n, in + i * n, n);
}

static void cuda_softmax_rows(Backend *be, float *out, const float *in, long rows, int n) {
    CUDA_LAUNCH(be, softmax_rows_kernel, rows, out, in, rows, n);
}

__global__ void softmax_bwd_rows_kernel(float *dl, const float *p, const float *dp, long rows,
                                        int n) {
    CUDA_GRID_STRIDE(i, rows) pmath_softmax_bwd_row(dl + i * n, p + i * n, dp + i * n, n);
}

static void cuda_softmax_bwd_rows(Backend *be, float *dl, const float *p, const float *dp,
                                  long rows, int n) {
    CUDA_LAUNCH(be, softmax_bwd_rows_kernel, rows, dl, p, dp, rows, n);
}

__global__ void route_top1_kernel(int mode, const float *l, const float *u, const float *eps,
                                  long rows, int E, float *g, int32_t *choice) {
    CUDA_GRID_STRIDE(i, rows)
    choice[i] = pmath_route_top1_row(mode, l + i * E, u + i * E, eps + i * E, E, g + i * E);
}

static void cuda_route_top1(Backend *be, int mode, const float *l, const float *u,
                            const float *eps, long rows, int E, float *g, int32_t *choice) {
    check_experts(E, "route_top1");
    CUDA_LAUNCH(be, route_top1_kernel, rows, mode, l, u, eps, rows, E, g, choice);
}

__global__ void route_top1_bwd_kernel(int mode, const float *l, const float *u,
                                      const float *eps, const int32_t *choice, const float *dg,
                                      long rows, int E, float *dl, float *du) {
    CUDA_GRID_STRIDE(i, rows)
    pmath_route_top1_bwd_row(mode, l + i * E, u + i * E, eps + i * E, choice[i], dg + i * E, E,
                             dl + i * E, du + i * E);
}

static void cuda_route_top1_bwd(Backend *be, int mode, const float *l, const float *u,
                                const float *eps, const int32_t *choice, const float *dg,
                                long rows, int E, float *dl, float *du) {
    check_experts(E, "route_top1_bwd");
    CUDA_LAUNCH(be, route_top1_bwd_kernel, rows, mode, l, u, eps, choice, dg, rows, E, dl, du);
}

/* One thread per output element (row, j): pmath_combine_row on a 1-wide row sums over e in
 * the same order as the CPU's row call does for column j. */
__global__ void combine_kernel(float *f, const float *g, const float *h, long expert_stride,
                               long rows, int E, int H) {
    CUDA_GRID_STRIDE(i, rows * H)
    pmath_combine_row(f + i, g + (i / H) * E, h + i, expert_stride, E, 1);
}

static void cuda_combine(Backend *be, float *f, const float *g, const float *h,
                         long expert_stride, long rows, int E, int H) {
    CUDA_LAUNCH(be, combine_kernel, rows * H, f, g, h, expert_stride, rows, E, H);
}

/* One thread per row: dg sums over the row's H columns. */
__global__ void combine_bwd_kernel(float *dh, float *dg, const float *df, const float *g,
                                   const float *h, long expert_stride, long rows, int E, int H) {
    CUDA_GRID_STRIDE(i, rows)
    pmath_combine_bwd_row(dh + i * H, dg + i * E, df + i * H, g + i * E, h + i * H,
                          expert_stride, E, H);
}

static void cuda_combine_bwd(Backend *be, float *dh, float *dg, const float *df, const float *g,
                             const float *h, long expert_stride, long rows, int E, int H) {
    CUDA_LAUNCH(be, combine_bwd_kernel, rows, dh, dg, df, g, h, expert_stride, rows, E, H);
}

/* One thread per output element (row, j), as combine_kernel: a 1-wide pmath row. */
__global__ void combine_grouped_kernel(float *f, const float *g, const int32_t *choice,
                                       const float *hs, const int32_t *pos, int B, int E, int H,
                                       long count) {
    CUDA_GRID_STRIDE(t, count) {
        long i = t / H, j = t % H;
        pmath_combine_grouped_row(f + t, g + i * E, choice[i], hs + ((i / B) * B + pos[i]) * H + j,
                                  1);
    }
}

static void cuda_combine_grouped(Backend *be, float *f, const float *g, const int32_t *choice,
                                 const float *hs, const int32_t *pos, int R, int B, int E, int H) {
    check_experts(E, "combine_grouped");
    long count = (long)R * B * H;
    CUDA_LAUNCH(be, combine_grouped_kernel, count, f, g, choice, hs, pos, B, E, H, count);
}

/* One thread per row (i): dg sums over the row's H columns; row pos[i] of dhs has one writer. */
__global__ void combine_grouped_bwd_kernel(float *dhs, float *dg, const float *df, const float *g,
                                           const int32_t *choice, const float *hs,
                                           const int32_t *pos, int B, int E, int H, long rows) {
    CUDA_GRID_STRIDE(i, rows) {
        long k = (i / B) * B + pos[i];
        pmath_combine_grouped_bwd_row(dhs + k * H, dg ? dg + i * E : NULL, df + i * H, g + i * E, choice[i],
                                      hs + k * H, E, H);
    }
}

static void cuda_combine_grouped_bwd(Backend *be, float *dhs, float *dg, const float *df,
                                     const float *g, const int32_t *choice, const float *hs,
                                     const int32_t *pos, int R, int B, int E, int H) {
    check_experts(E, "combine_grouped_bwd");
    long rows = (long)R * B;
    CUDA_LAUNCH(be, combine_grouped_bwd_kernel, rows, dhs, dg, df, g, choice, hs, pos, B, E, H,
                rows);
}

/* One thread per (run, expert): counts its samples in b order; no atomics, deterministic. */
__global__ void count_choices_kernel(int32_t *counts, const int32_t *choice, int R, int B,
                                     int E) {
    CUDA_GRID_STRIDE(i, (long)R * E) {
        long r = i / E;
        int e = (int)(i % E);
        int32_t c = 0;
        for (int b = 0; b < B; b++) c += choice[r * B + b] == e;
        counts[i] = c;
    }
}

static void cuda_count_choices(Backend *be, int32_t *counts, const int32_t *choice, int R, int B,
                               int E) {
    CUDA_LAUNCH(be, count_choices_kernel, (long)R * E, counts, choice, R, B, E);
}

__global__ void cat_logp_kernel(float *logp, float *entropy, const float *logits,
                                const int32_t *actions, long rows, int A) {
    CUDA_GRID_STRIDE(i, rows)
    logp[i] = pmath_cat_logp_row(logits + i * A, A, actions[i], entropy ? entropy + i : NULL);
}

static void cuda_cat_logp(Backend *be, float *logp, float *entropy, const float *logits,
                          const int32_t *actions, long rows, int A) {
    CUDA_LAUNCH(be, cat_logp_kernel, rows, logp, entropy, logits, actions, rows, A);
}

__global__ void cat_sample_kernel(int32_t *actions, const float *logits, const float *u,
                                  long rows, int A) {
    CUDA_GRID_STRIDE(i, rows)
    actions[i] = pmath_cat_sample_row(logits + i * A, A, u ? u[i] : -1.0f);
}

static void cuda_cat_sample(Backend *be, int32_t *actions, const float *logits, const float *u,
                            long rows, int A) {
    CUDA_LAUNCH(be, cat_sample_kernel, rows, actions, logits, u, rows, A);
}

__global__ void cat_bwd_kernel(float *dlogits, const float *logits, const int32_t *actions,
                               const float *dlogp, const float *dent, long rows, int A) {
    CUDA_GRID_STRIDE(i, rows)
    pmath_cat_bwd_row(dlogits + i * A, logits + i * A, A, actions[i], dlogp[i],
                      dent ? dent[i] : 0.0f);
}

static void cuda_cat_bwd(Backend *be, float *dlogits, const float *logits,
                         const int32_t *actions, const float *dlogp, const float *dent,
                         long rows, int A) {
    CUDA_LAUNCH(be, cat_bwd_kernel, rows, dlogits, logits, actions, dlogp, dent, rows, A);
}

/* One thread per copied element (row i, column c); T is float or int32_t. */
template <typename T>
__global__ void gather_rows_kernel(T *dst, const T *src, const int32_t *idx, int B,
                                   long src_rows, int row_len, long count) {
    CUDA_GRID_STRIDE(t, count) {
        long i = t / row_len, c = t % row_len, r = i / B;
        dst[t] = src[(r * src_rows + idx[i]) * row_len + c];
    }
}

static void cuda_gather_rows(Backend *be, float *dst, const float *src, const int32_t *idx, int R,
                             int B, long src_rows, int row_len) {
    long count = (long)R * B * row_len;
    CUDA_LAUNCH(be, gather_rows_kernel<float>, count, dst, src, idx, B, src_rows, row_len, count);
}

static void cuda_gather_rows_i32(Backend *be, int32_t *dst, const int32_t *src,
                                 const int32_t *idx, int R, int B, long src_rows, int row_len) {
    long count = (long)R * B * row_len;
    CUDA_LAUNCH(be, gather_rows_kernel<int32_t>, count, dst, src, idx, B, src_rows, row_len,
                count);
}

/* ---- randomness, optimizer, noise, GAE (host references: prand.c, adam.c, noise.c,
 * gae.c) ---- */

typedef struct {
    uint64_t seed, offset;
} RunStream;

static RunStream *send_streams(Backend *be, int R, const PrandStream *h_streams) {
    RunStream *t = (RunStream *)table_host(be, sizeof(RunStream) * (size_t)R);
    for (int r = 0; r < R; r++) {
        if (h_streams[r].offset & 1)
            check_die(__FILE__, __LINE__, "rand_normal_runs", "odd Philox offset");
        t[r].seed = h_streams[r].seed;
        t[r].offset = h_streams[r].offset;
    }
    return (RunStream *)table_send(be, sizeof(RunStream) * (size_t)R);
}

/* One thread per normal pair (run r, elements 2p and 2p+1 of its draw): prand_normal's
 * per-pair formula; an odd n drops the last pair's second value as prand_normal does. */
__global__ void rand_normal_runs_kernel(float *out, const RunStream *st, long n, long pairs,
                                        long count) {
    CUDA_GRID_STRIDE(i, count) {
        long r = i / pairs, k = 2 * (i % pairs);
        float a, b;
        pmath_rand_normal2(st[r].seed, st[r].offset + (uint64_t)k, &a, &b);
        out[r * n + k] = a;
        if (k + 1 < n) out[r * n + k + 1] = b;
    }
}

static void cuda_rand_normal_runs(Backend *be, float *out, int R, long n,
                                  PrandStream *h_streams) {
    if (R <= 0 || n <= 0) return;
    const RunStream *st = send_streams(be, R, h_streams);
    long pairs = (n + 1) / 2, count = (long)R * pairs;
    CUDA_LAUNCH(be, rand_normal_runs_kernel, count, out, st, n, pairs, count);
    for (int r = 0; r < R; r++) h_streams[r].offset += prand_normal_advance(n);
}

__global__ void rand_uniform_runs_kernel(float *out, const RunStream *st, long n, long count) {
    CUDA_GRID_STRIDE(i, count) {
        long r = i / n, k = i % n;
        out[i] = pmath_u32_to_uniform(pmath_rand_u32(st[r].seed, st[r].offset + (uint64_t)k));
    }
}

static void cuda_rand_uniform_runs(Backend *be, float *out, int R, long n,
                                   PrandStream *h_streams) {
    if (R <= 0 || n <= 0) return;
    const RunStream *st = send_streams(be, R, h_streams);
    long count = (long)R * n;
    CUDA_LAUNCH(be, rand_uniform_runs_kernel, count, out, st, n, count);
    for (int r = 0; r < R; r++) h_streams[r].offset += prand_normal_advance(n);
}

/* Where tensor t lives inside a run's block. */
typedef struct {
    long offset, size;
} TensorSpan;

/* One thread per float of (R, P): finds its tensor (<= PARAMS_MAX_TENSORS spans, a linear
 * scan in cached memory) and applies pmath_adam_elem with that (run, tensor)'s coefficients,
 * as adam_apply's loop does; inactive (run, tensor) slices are left untouched. */
__global__ void adam_step_kernel(float *params, float *m, float *v, const float *grads, long P,
                                 int nt, const TensorSpan *span, const PmathAdamCoef *coef,
                                 const uint8_t *active, long count) {
    CUDA_GRID_STRIDE(i, count) {
        long r = i / P, o = i % P;
        for (int t = 0; t < nt; t++) {
            if (o < span[t].offset || o >= span[t].offset + span[t].size) continue;
            long k = r * nt + t;
            if (active[k]) pmath_adam_elem(params + i, m + i, v + i, grads[i], &coef[k]);
            break;
        }
    }
}

static void cuda_adam_step(Backend *be, const AdamConfig *cfg, ParamBlock *pb,
                           const float *h_lr) {
    int nt = pb->n_tensors;
    long n = (long)pb->R * nt;
    size_t span_bytes = table_align(sizeof(TensorSpan) * (size_t)nt);
    size_t coef_bytes = table_align(sizeof(PmathAdamCoef) * (size_t)n);
    size_t bytes = span_bytes + coef_bytes + (size_t)n;
    char *h = (char *)table_host(be, bytes);
    TensorSpan *span = (TensorSpan *)h;
    for (int t = 0; t < nt; t++) {
        span[t].offset = pb->tensors[t].offset;
        span[t].size = param_tensor_size(&pb->tensors[t]);
    }
    /* The host half of adam_step, unchanged: step counts and bias corrections in double. */
    int n_active = adam_prepare(cfg, pb, h_lr, (PmathAdamCoef *)(h + span_bytes),
                                (uint8_t *)(h + span_bytes + coef_bytes));
    char *d = (char *)table_send(be, bytes);
    if (!n_active) return;
    long count = (long)pb->R * pb->P;
    CUDA_LAUNCH(be, adam_step_kernel, count, pb->params, pb->adam_m, pb->adam_v, pb->grads,
                pb->P, nt, (const TensorSpan *)d, (const PmathAdamCoef *)(d + span_bytes),
                (const uint8_t *)(d + span_bytes + coef_bytes), count);
}

/* An expert tensor's place in a run's noise draw (k0 = its first element there) and in the
 * run's parameter block. */
typedef struct {
    long k0, offset, size;
    int t;
} NoiseSpan;

typedef struct {
    uint64_t seed, offset;
    float sigma;
} NoiseRun;

/* One thread per expert float (run r, draw position k), as noise_step's loop: the normal at
 * stream element offset_r + k (pair-aligned pmath_rand_normal2), then pmath_noise_apply. */
__global__ void noise_step_kernel(float *params, long P, long n_expert, int ns_count,
                                  const NoiseSpan *span, const NoiseRun *run,
                                  const uint8_t *took_part, int nt, long count) {
    CUDA_GRID_STRIDE(i, count) {
        long r = i / n_expert, k = i % n_expert;
        for (int s = 0; s < ns_count; s++) {
            if (k < span[s].k0 || k >= span[s].k0 + span[s].size) continue;
            if (took_part && !took_part[r * nt + span[s].t]) break;
            uint64_t e = run[r].offset + (uint64_t)k;
            float a, b;
            pmath_rand_normal2(run[r].seed, e & ~(uint64_t)1, &a, &b);
            float *p = params + r * P + span[s].offset + (k - span[s].k0);
            *p = pmath_noise_apply(*p, run[r].sigma, (e & 1) ? b : a);
            break;
        }
    }
}

static int cuda_noise_step(Backend *be, NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb,
                           const float *h_lr) {
    /* Same bookkeeping as noise_step (host/ops/noise.c). */
    ns->calls++;
    if (cfg->every_k > 1 && ns->calls % cfg->every_k != 0) return 0;
    long stride = (long)prand_normal_advance(ns->n_expert);
    int nt = pb->n_tensors, R = pb->R;
    size_t span_bytes = table_align(sizeof(NoiseSpan) * (size_t)nt);
    size_t run_bytes = table_align(sizeof(NoiseRun) * (size_t)R);
    size_t tp_bytes = cfg->only_took_part ? (size_t)R * nt : 0;
    size_t bytes = span_bytes + run_bytes + tp_bytes;
    char *h = (char *)table_host(be, bytes);
    NoiseSpan *span = (NoiseSpan *)h;
    int n_spans = 0;
    long k = 0;
    for (int t = 0; t < nt; t++) {
        const ParamTensor *T = &pb->tensors[t];
        if (T->role != TENSOR_EXPERT) continue;
        span[n_spans].k0 = k;
        span[n_spans].offset = T->offset;
        span[n_spans].size = param_tensor_size(T);
        span[n_spans].t = t;
        k += span[n_spans].size;
        n_spans++;
    }
    NoiseRun *run = (NoiseRun *)(h + span_bytes);
    for (int r = 0; r < R; r++) {
        if (ns->streams[r].offset & 1)
            check_die(__FILE__, __LINE__, "noise_step", "odd Philox offset");
        run[r].seed = ns->streams[r].seed;
        run[r].offset = ns->streams[r].offset;
        run[r].sigma = noise_sigma_eff(ns, cfg, r, h_lr);
    }
    if (tp_bytes) memcpy(h + span_bytes + run_bytes, pb->h_took_part, tp_bytes);
    char *d = (char *)table_send(be, bytes);
    long count = (long)R * ns->n_expert;
    CUDA_LAUNCH(be, noise_step_kernel, count, pb->params, pb->P, ns->n_expert, n_spans,
                (const NoiseSpan *)d, (const NoiseRun *)(d + span_bytes),
                tp_bytes ? (const uint8_t *)(d + span_bytes + run_bytes) : NULL, nt, count);
    for (int r = 0; r < R; r++) ns->streams[r].offset += (uint64_t)stride;
    return 1;
}

/* One thread per stream (column n): the whole backward recursion, as gae_compute's loop. */
/* ---- plasticity: one thread per element, the pmath_plasticity.h formulas ---- */
__global__ void plast_shrink_perturb_kernel(float *theta, const float *fresh, float alpha, float sigma, long n) {
    CUDA_GRID_STRIDE(i, n) theta[i] = pmath_plast_shrink_perturb(theta[i], fresh[i], alpha, sigma);
}
static void cuda_plast_shrink_perturb(Backend *be, float *theta, const float *fresh, float alpha, float sigma,
                                      long n) {
    CUDA_LAUNCH(be, plast_shrink_perturb_kernel, n, theta, fresh, alpha, sigma, n);
}
__global__ void plast_select_kernel(float *dst, const float *src, const uint8_t *mask, long n) {
    CUDA_GRID_STRIDE(i, n) dst[i] = pmath_plast_select(dst[i], src ? src[i] : 0.0f, mask[i]);
}
static void cuda_plast_select(Backend *be, float *dst, const float *src, const uint8_t *mask, long n) {
    CUDA_LAUNCH(be, plast_select_kernel, n, dst, src, mask, n);
}
__global__ void plast_l2_init_grad_kernel(float *grad, const float *theta, const float *theta0, float coef2,
                                          long n) {
    CUDA_GRID_STRIDE(i, n) grad[i] = pmath_plast_l2_init_grad(grad[i], theta[i], theta0[i], coef2);
}
static void cuda_plast_l2_init_grad(Backend *be, float *grad, const float *theta, const float *theta0,
                                    float coef2, long n) {
    CUDA_LAUNCH(be, plast_l2_init_grad_kernel, n, grad, theta, theta0, coef2, n);
}

__global__ void gae_kernel(int T, int N, const float *rewards, const float *values,
                           const float *dones, const float *next_value, const float *next_done,
                           float gamma, float gamma_lambda, float *adv, float *returns) {
    CUDA_GRID_STRIDE(n, N)
    pmath_gae_stream(T, N, (int)n, rewards, values, dones, next_value[n], next_done[n], gamma,
                     gamma_lambda, adv, returns);
}

static void cuda_gae(Backend *be, int T, int N, const float *rewards, const float *values,
                     const float *dones, const float *next_value, const float *next_done,
                     float gamma, float lambda, float *adv, float *returns) {
    float gamma_lambda = (float)((double)gamma * (double)lambda); /* as gae_compute */
    CUDA_LAUNCH(be, gae_kernel, N, T, N, rewards, values, dones, next_value, next_done, gamma,
                gamma_lambda, adv, returns);
}

/* One thread per run calling pmath_ppo_run, as host/ops/ppo_loss.c's loop does, so the statistics
 * use the CPU's summation order exactly. One thread per run is enough: R * B samples of ~60
 * flops each are noise next to the networks. */
__global__ void ppo_loss_kernel(PpoLossConfig cfg, int R, int B, int A, const float *logits,
                                const int32_t *actions, const float *old_logp, const float *adv,
                                const float *returns, const float *old_values,
                                const float *new_values, float *d_logits, float *d_values,
                                PpoLossStats *stats) {
    CUDA_GRID_STRIDE(r, R) {
        long o = (long)r * B;
        pmath_ppo_run(&cfg, B, A, logits + o * A, actions + o, old_logp + o, adv + o, returns + o,
                      old_values ? old_values + o : NULL, new_values + o, d_logits + o * A, d_values + o,
                      &stats[r]);
    }
}

static void cuda_ppo_loss(Backend *be, const PpoLossConfig *cfg, int R, int B, int A,
                          const float *logits, const int32_t *actions, const float *old_logp,
                          const float *adv, const float *returns, const float *old_values,
                          const float *new_values, float *d_logits, float *d_values,
                          PpoLossStats *stats) {
    if (A > PMATH_MAX_ACTIONS) check_die(__FILE__, __LINE__, "ppo_loss", "too many actions");
    CUDA_LAUNCH(be, ppo_loss_kernel, R, *cfg, R, B, A, logits, actions, old_logp, adv, returns,
                old_values, new_values, d_logits, d_values, stats);
}

/* ---- creation ---- */

int backend_cuda_probe(char *why, size_t why_len) {
    int n = 0;
    /* Without a driver cudaGetDeviceCount fails rather than returning 0: treat any error as
     * "no device", keeping the reason for the message. */
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) snprintf(why, why_len, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return 0;
    }
    if (n <= 0 && why) snprintf(why, why_len, "cudaGetDeviceCount found 0 devices");
    return n > 0 ? n : 0;
}

/* The backend's stream, for benches that time it with cudaEvents (bench/bench_gpu.c). */
void *backend_cuda_stream(Backend *be) { return (void *)ctx_of(be)->stream; }

int backend_cuda_device_count(void) { return backend_cuda_probe(NULL, 0); }

static const BackendOps cuda_ops = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .zero = cuda_zero,
    .sync = cuda_sync,
    .host_alloc = cuda_host_alloc,
    .host_release = cuda_host_release,
    .download_async = cuda_download_async,
    .download_wait = cuda_download_wait,
    .free = cuda_free,
    .gemm_batched = cuda_gemm_batched,
    .bias_act = cuda_bias_act,
    .relu_bwd = cuda_relu_bwd,
    .softmax_rows = cuda_softmax_rows,
    .softmax_bwd_rows = cuda_softmax_bwd_rows,
    .route_top1 = cuda_route_top1,
    .route_top1_bwd = cuda_route_top1_bwd,
    .combine = cuda_combine,
    .combine_bwd = cuda_combine_bwd,
    .combine_grouped = cuda_combine_grouped,
    .combine_grouped_bwd = cuda_combine_grouped_bwd,
    .count_choices = cuda_count_choices,
    .cat_logp = cuda_cat_logp,
    .cat_sample = cuda_cat_sample,
    .cat_bwd = cuda_cat_bwd,
    .gather_rows = cuda_gather_rows,
    .gather_rows_i32 = cuda_gather_rows_i32,
    .rand_normal_runs = cuda_rand_normal_runs,
    .rand_uniform_runs = cuda_rand_uniform_runs,
    .adam_step = cuda_adam_step,
    .noise_step = cuda_noise_step,
    .gae = cuda_gae,
    .ppo_loss = cuda_ppo_loss,
    .plast_shrink_perturb = cuda_plast_shrink_perturb,
    .plast_select = cuda_plast_select,
    .plast_l2_init_grad = cuda_plast_l2_init_grad,
};

/* docs/core.md says why: device memory; the grouped form would need a host round trip per
 * forward and R x E launches of tiny products, where the dense form is a few batched ones
 * (the grouped kernels stay, tested against the CPU, for a device-side grouping); n = 1
 * products are launches like any other. */
static const BackendCaps cuda_caps = {
    .host_memory = 0,
    .grouped_experts = 0,
    .single_column_products = 0,
};

Backend *backend_cuda_create(char *err_msg, size_t err_len) {
    char why[256];
    if (backend_cuda_probe(why, sizeof why) <= 0) {
        snprintf(err_msg, err_len, "no usable CUDA device (%s)", why);
        return NULL;
    }
    int dev = 0;
    cudaError_t e = cudaSetDevice(dev);
    if (e != cudaSuccess) {
        snprintf(err_msg, err_len, "cudaSetDevice(0): %s", cudaGetErrorString(e));
        return NULL;
    }
    /* The build holds SASS for CUDA_ARCH only (Makefile, default 80 90): on another
     * architecture every launch would fail with "no kernel image". Say so now, with the fix. */
    cudaFuncAttributes fa;
    e = cudaFuncGetAttributes(&fa, relu_bwd_kernel);
    if (e != cudaSuccess) {
        cudaDeviceProp prop;
        int major = 0, minor = 0;
        if (cudaGetDeviceProperties(&prop, dev) == cudaSuccess) {
            major = prop.major;
            minor = prop.minor;
        }
        cudaGetLastError();
        snprintf(err_msg, err_len,
                 "the CUDA kernels cannot run on this GPU (sm_%d%d): %s; rebuild with "
                 "make CUDA_ARCH=%d%d",
                 major, minor, cudaGetErrorString(e), major, minor);
        return NULL;
    }
    CudaCtx *cx = (CudaCtx *)xcalloc(1, sizeof *cx);
    cx->device = dev;
    CUDA_CHECK(cudaStreamCreate(&cx->stream));
    CUBLAS_CHECK(cublasCreate(&cx->blas));
    CUBLAS_CHECK(cublasSetStream(cx->blas, cx->stream));
    CUBLAS_CHECK(cublasSetMathMode(cx->blas, CUBLAS_DEFAULT_MATH));
    for (int i = 0; i < TABLE_SLOTS; i++)
        CUDA_CHECK(cudaEventCreateWithFlags(&cx->table_sent[i], cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&cx->downloaded, cudaEventDisableTiming));
    Backend *be = (Backend *)xcalloc(1, sizeof *be);
    be->ops = &cuda_ops;
    be->caps = cuda_caps;
    be->ctx = cx;
    return be;
}
