/* bench_grouped_calls.c: how many backend calls one PPO minibatch step of the PA-MoE policy
 * (forward + backward, B = 62 samples per run) makes in the grouped form (each expert on its
 * routed rows, BackendCaps.grouped_experts) and in the dense form (every expert on every row),
 * for R = 1, 16 and 64 runs. On the CUDA backend every product, row op and copy is a launch
 * and every download waits for the stream, so these counts are what decides which form a
 * device backend should ask for (docs/core.md, "Backend capabilities").
 *
 * Build and run:  make build/bench/bench_grouped_calls && build/bench/bench_grouped_calls
 * Counted on the CPU backend (a wrapper table around its ops); the counts depend only on the
 * shapes and the routing, not on the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common.h"
#include "net.h"
#include "rng.h"

enum { C_GEMM, C_ROW, C_DOWNLOAD, C_COPY, C_N };
static long g_calls[C_N];
static const BackendOps *g_inner;

/* Count around the real op; C_ROW = every fused element-wise / per-row op. */
#define COUNTED(name, kind, params, args)                                                      \
    static void count_##name params {                                                          \
        g_calls[kind]++;                                                                       \
        g_inner->name args;                                                                    \
    }
COUNTED(gemm_batched, C_GEMM,
        (Backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
         long sA, const float *B, int ldb, long sB, float beta, float *C, int ldc, long sC,
         int batch),
        (be, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch))
COUNTED(bias_act, C_ROW, (Backend *be, float *y, const float *b, long bs, int R, int B, int n, int relu),
        (be, y, b, bs, R, B, n, relu))
COUNTED(relu_bwd, C_ROW, (Backend *be, float *dy, const float *y, long count), (be, dy, y, count))
COUNTED(gather_rows, C_ROW,
        (Backend *be, float *d, const float *s, const int32_t *idx, int R, int B, long sr, int len),
        (be, d, s, idx, R, B, sr, len))
COUNTED(download, C_DOWNLOAD, (Backend *be, void *h, const void *src, size_t bytes), (be, h, src, bytes))
COUNTED(upload, C_COPY, (Backend *be, void *dst, const void *h, size_t bytes), (be, dst, h, bytes))
COUNTED(zero, C_COPY, (Backend *be, void *dst, size_t bytes), (be, dst, bytes))

/* calls of one forward + backward of a PA-MoE policy for R runs; grouped selects the form */
static void count_step(Backend *cpu, int R, int grouped, long out[C_N]) {
    enum { B = 62 };
    BackendOps ops = *cpu->ops;
    ops.gemm_batched = count_gemm_batched;
    ops.bias_act = count_bias_act;
    ops.relu_bwd = count_relu_bwd;
    ops.gather_rows = count_gather_rows;
    ops.download = count_download;
    ops.upload = count_upload;
    ops.zero = count_zero;
    ops.free = NULL; /* the CPU backend is freed by main */
    Backend be = *cpu;
    be.ops = &ops;
    be.caps.grouped_experts = grouped;
    g_inner = cpu->ops;
    NetConfig c = net_config_default(NET_PAMOE, NET_POLICY);
    uint64_t *seeds = xmalloc(sizeof(uint64_t) * (size_t)R);
    for (int r = 0; r < R; r++) seeds[r] = (uint64_t)r + 1;
    PmError err;
    Net *n = net_create(&be, &c, R, B, seeds, &err);
    if (!n) {
        fprintf(stderr, "bench_grouped_calls: %s\n", err.msg);
        exit(1);
    }
    long nx = (long)R * B * c.in, ne = (long)R * B * n->E, nd = (long)R * B * n->out;
    float *x = xmalloc(sizeof(float) * (size_t)nx), *eps = xmalloc(sizeof(float) * (size_t)ne);
    float *d = xmalloc(sizeof(float) * (size_t)nd);
    Rng rng;
    rng_seed(&rng, 1, RNG_GEN, 0);
    for (long i = 0; i < nx; i++) x[i] = (float)rng_uniform(&rng);
    for (long i = 0; i < ne; i++) eps[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
    for (long i = 0; i < nd; i++) d[i] = (float)(rng_uniform(&rng) - 0.5);
    memset(g_calls, 0, sizeof g_calls);
    net_forward(n, x, B, eps); /* host memory is backend memory on the CPU backend */
    net_backward(n, d);
    memcpy(out, g_calls, sizeof g_calls);
    net_free(n);
    free(x);
    free(eps);
    free(d);
    free(seeds);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        printf("usage: bench_grouped_calls\n"
               "Backend calls of one PA-MoE policy forward + backward (B = 62 per run), grouped\n"
               "and dense expert forms, R = 1, 16, 64.\n");
        return strcmp(argv[1], "--help") ? 1 : 0;
    }
    char msg[256];
    Backend *cpu = backend_create("cpu", msg, sizeof msg);
    if (!cpu) {
        fprintf(stderr, "bench_grouped_calls: %s\n", msg);
        return 1;
    }
    printf("PA-MoE policy forward + backward, B = 62 per run: backend calls per step\n");
    printf("%5s %8s %8s %10s %10s %12s\n", "runs", "form", "gemm", "row ops", "downloads",
           "uploads+zero");
    const int Rs[3] = {1, 16, 64};
    for (int i = 0; i < 3; i++)
        for (int grouped = 1; grouped >= 0; grouped--) {
            long c[C_N];
            count_step(cpu, Rs[i], grouped, c);
            printf("%5d %8s %8ld %10ld %10ld %12ld\n", Rs[i], grouped ? "grouped" : "dense",
                   c[C_GEMM], c[C_ROW], c[C_DOWNLOAD], c[C_COPY]);
        }
    backend_free(cpu);
    return 0;
}
