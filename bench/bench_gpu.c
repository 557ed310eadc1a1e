/* bench_gpu.c: GPU vs CPU throughput of a PPO training step of PA-MoE for R runs at once.
 *
 * Build and run: make build/bench/bench_gpu && build/bench/bench_gpu [--steps N] [--cpu-max-r R]
 * (make bench runs it with the defaults).
 *
 * One "step" is what every minibatch of the update does, for all R runs in one batched call
 * sequence: routing noise (Philox) for both networks, pamoe policy forward, categorical
 * log-prob and its backward (the policy loss's gradient stand-in), policy backward, value
 * forward and backward, Adam on both parameter blocks, PA-MoE expert noise on both: minibatch
 * B = 62 samples per run, H = 18, D = 48, E = 3, A = 6. bench/README.md has the FLOP and byte
 * counts and the bound.
 *
 * Output: one table, one row per R in {1, 16, 256, 1024, 4096}: milliseconds per step and
 * aggregate throughput (run-updates/s = R * steps/s; samples/s = 62 * that) on the GPU and the
 * CPU (the same binary, the CPU backend with its OpenMP threads), and GPU/CPU. The CPU side
 * runs only up to --cpu-max-r (default 256) so the bench stays within seconds on a small
 * machine; larger R are extrapolated linearly from the largest measured R (the CPU backend's
 * work is linear in R once R * 62 rows fill its threads) and marked "~". Then, for the GPU,
 * the per-op breakdown at each R from cudaEvents recorded around every backend op of one
 * profiled step (events add a little time to each op: the table's totals come from an
 * un-profiled pass). Without a GPU, prints the CPU half and says the GPU half was skipped. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "backend.h"
#include "common.h"
#include "net.h"
#include "noise.h"
#include "prand.h"
#include "rng.h"
#include "numparse.h"
#ifdef PAMOE_CUDA
#include <cuda_runtime_api.h>

#include "backend_cuda.h"
#endif

enum { MB = 62, N_R = 5 };
static const int RUNS[N_R] = {1, 16, 256, 1024, 4096};

/* ---- per-op timing: a Backend whose op entries record around the real ones ---- */
enum {
    OP_GEMM, OP_BIAS_ACT, OP_RELU_BWD, OP_ROUTE, OP_ROUTE_BWD, OP_COMBINE, OP_COMBINE_BWD,
    OP_COUNT, OP_CAT_LOGP, OP_CAT_BWD, OP_RAND, OP_ADAM, OP_NOISE, OP_DOWNLOAD, OP_N
};
static const char *OP_NAME[OP_N] = {"gemm_batched", "bias_act", "relu_bwd", "route_top1",
                                    "route_top1_bwd", "combine", "combine_bwd", "count_choices",
                                    "cat_logp", "cat_bwd", "rand_normal_runs", "adam_step",
                                    "noise_step", "download"};
#define PROF_MAX 512

typedef struct {
    Backend be;       /* what the nets see: ops = &ops, the inner backend's caps and ctx */
    BackendOps ops;   /* the inner table with some entries replaced */
    const BackendOps *inner; /* the real table */
    int is_cuda, n;
    int op[PROF_MAX];
#ifdef PAMOE_CUDA
    cudaEvent_t ev0[PROF_MAX], ev1[PROF_MAX];
#endif
    double t0[PROF_MAX], t1[PROF_MAX];
    double ms[OP_N]; /* accumulated per op */
    int calls[OP_N];
} Prof;

static void prof_collect(Prof *p);

static void prof_start(Backend *be, int op) {
    Prof *p = (Prof *)be;
    /* many runs issue more ops per step than the ring holds (the CPU's grouped experts make one
     * gemm per run and expert): fold the recorded intervals into the totals and go on */
    if (p->n >= PROF_MAX) prof_collect(p);
    p->op[p->n] = op;
#ifdef PAMOE_CUDA
    if (p->is_cuda) {
        cudaEventRecord(p->ev0[p->n], (cudaStream_t)backend_cuda_stream(be));
        return;
    }
#endif
    p->t0[p->n] = now_seconds();
}
static void prof_stop(Backend *be) {
    Prof *p = (Prof *)be;
#ifdef PAMOE_CUDA
    if (p->is_cuda) {
        cudaEventRecord(p->ev1[p->n++], (cudaStream_t)backend_cuda_stream(be));
        return;
    }
#endif
    p->t1[p->n++] = now_seconds();
}
/* Adds the recorded intervals of one step to the totals. */
static void prof_collect(Prof *p) {
    p->inner->sync(&p->be);
    for (int i = 0; i < p->n; i++) {
        double ms = 0;
#ifdef PAMOE_CUDA
        float f = 0;
        if (p->is_cuda && cudaEventElapsedTime(&f, p->ev0[i], p->ev1[i]) == cudaSuccess) ms = f;
        if (!p->is_cuda) ms = (p->t1[i] - p->t0[i]) * 1e3;
#else
        ms = (p->t1[i] - p->t0[i]) * 1e3;
#endif
        p->ms[p->op[i]] += ms;
        p->calls[p->op[i]]++;
    }
    p->n = 0;
}

#define PROF_OP(name, OPID, params, args)                                                  \
    static void prof_##name params {                                                       \
        prof_start(be, OPID);                                                              \
        ((Prof *)be)->inner->name args;                                                     \
        prof_stop(be);                                                                     \
    }
PROF_OP(gemm_batched, OP_GEMM,
        (Backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
         long sA, const float *B, int ldb, long sB, float beta, float *C, int ldc, long sC,
         int batch),
        (be, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch))
PROF_OP(bias_act, OP_BIAS_ACT,
        (Backend *be, float *y, const float *bias, long bs, int R, int B, int n, int relu),
        (be, y, bias, bs, R, B, n, relu))
PROF_OP(relu_bwd, OP_RELU_BWD, (Backend *be, float *dy, const float *y, long count),
        (be, dy, y, count))
PROF_OP(route_top1, OP_ROUTE,
        (Backend *be, int mode, const float *l, const float *u, const float *eps, long rows,
         int E, float *g, int32_t *choice),
        (be, mode, l, u, eps, rows, E, g, choice))
PROF_OP(route_top1_bwd, OP_ROUTE_BWD,
        (Backend *be, int mode, const float *l, const float *u, const float *eps,
         const int32_t *choice, const float *dg, long rows, int E, float *dl, float *du),
        (be, mode, l, u, eps, choice, dg, rows, E, dl, du))
PROF_OP(combine, OP_COMBINE,
        (Backend *be, float *f, const float *g, const float *h, long es, long rows, int E,
         int H),
        (be, f, g, h, es, rows, E, H))
PROF_OP(combine_bwd, OP_COMBINE_BWD,
        (Backend *be, float *dh, float *dg, const float *df, const float *g, const float *h,
         long es, long rows, int E, int H),
        (be, dh, dg, df, g, h, es, rows, E, H))
PROF_OP(count_choices, OP_COUNT,
        (Backend *be, int32_t *counts, const int32_t *choice, int R, int B, int E),
        (be, counts, choice, R, B, E))
PROF_OP(cat_logp, OP_CAT_LOGP,
        (Backend *be, float *logp, float *ent, const float *x, const int32_t *a, long rows,
         int A),
        (be, logp, ent, x, a, rows, A))
PROF_OP(cat_bwd, OP_CAT_BWD,
        (Backend *be, float *dx, const float *x, const int32_t *a, const float *dlogp,
         const float *dent, long rows, int A),
        (be, dx, x, a, dlogp, dent, rows, A))
PROF_OP(rand_normal_runs, OP_RAND, (Backend *be, float *out, int R, long n, PrandStream *st),
        (be, out, R, n, st))
PROF_OP(adam_step, OP_ADAM,
        (Backend *be, const AdamConfig *cfg, ParamBlock *pb, const float *lr),
        (be, cfg, pb, lr))
PROF_OP(download, OP_DOWNLOAD, (Backend *be, void *h, const void *src, size_t bytes),
        (be, h, src, bytes))
static int prof_noise_step(Backend *be, NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb,
                           const float *lr) {
    prof_start(be, OP_NOISE);
    int r = ((Prof *)be)->inner->noise_step(be, ns, cfg, pb, lr);
    prof_stop(be);
    return r;
}

static Prof *prof_create(Backend *inner) {
    Prof *p = xcalloc(1, sizeof *p);
    p->inner = inner->ops;
    p->ops = *inner->ops;
    p->ops.free = NULL; /* the inner backend is freed by its owner */
    p->be = *inner;
    p->be.ops = &p->ops;
    p->is_cuda = !inner->caps.host_memory; /* device work is timed with events */
#ifdef PAMOE_CUDA
    if (p->is_cuda)
        for (int i = 0; i < PROF_MAX; i++) {
            cudaEventCreate(&p->ev0[i]);
            cudaEventCreate(&p->ev1[i]);
        }
#endif
    p->ops.gemm_batched = prof_gemm_batched;
    p->ops.bias_act = prof_bias_act;
    p->ops.relu_bwd = prof_relu_bwd;
    p->ops.route_top1 = prof_route_top1;
    p->ops.route_top1_bwd = prof_route_top1_bwd;
    p->ops.combine = prof_combine;
    p->ops.combine_bwd = prof_combine_bwd;
    p->ops.count_choices = prof_count_choices;
    p->ops.cat_logp = prof_cat_logp;
    p->ops.cat_bwd = prof_cat_bwd;
    p->ops.rand_normal_runs = prof_rand_normal_runs;
    p->ops.adam_step = prof_adam_step;
    p->ops.noise_step = prof_noise_step;
    p->ops.download = prof_download;
    return p;
}

static void prof_free(Prof *p) {
#ifdef PAMOE_CUDA
    if (p->is_cuda)
        for (int i = 0; i < PROF_MAX; i++) {
            cudaEventDestroy(p->ev0[i]);
            cudaEventDestroy(p->ev1[i]);
        }
#endif
    free(p);
}

/* ---- the training step ---- */
typedef struct {
    Backend *be;
    int R;
    Net *pol, *val;
    float *x, *eps_p, *eps_v, *logp, *ent, *dlogp, *dent, *dlogits, *dv;
    int32_t *act;
    PrandStream *st_p, *st_v;
    NoiseState *ns_p, *ns_v;
    AdamConfig adam;
    NoiseConfig noise;
    float *lr;
} Step;

static float *upload_rand(Backend *be, Rng *rng, long n, float lo, float hi) {
    float *h = xmalloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) h[i] = lo + (hi - lo) * (float)rng_uniform(rng);
    float *d = be->ops->alloc(be, sizeof(float) * (size_t)n);
    be->ops->upload(be, d, h, sizeof(float) * (size_t)n);
    free(h);
    return d;
}

static Step *step_create(Backend *be, int R) {
    Step *s = xcalloc(1, sizeof *s);
    s->be = be;
    s->R = R;
    uint64_t *seeds = xmalloc(sizeof(uint64_t) * (size_t)R), *keys = xmalloc(sizeof(uint64_t) * (size_t)R);
    float *sigma = xmalloc(sizeof(float) * (size_t)R);
    s->lr = xmalloc(sizeof(float) * (size_t)R);
    for (int r = 0; r < R; r++) {
        seeds[r] = 1000 + (uint64_t)r;
        sigma[r] = 1e-3f;
        s->lr[r] = 3e-4f;
    }
    PmError err;
    NetConfig cp = net_config_default(NET_PAMOE, NET_POLICY), cv = net_config_default(NET_PAMOE, NET_VALUE);
    s->pol = net_create(be, &cp, R, MB, seeds, &err);
    if (!s->pol) check_die(__FILE__, __LINE__, "net_create", err.msg);
    s->val = net_create(be, &cv, R, MB, seeds, &err);
    if (!s->val) check_die(__FILE__, __LINE__, "net_create", err.msg);
    Rng rng;
    rng_seed(&rng, 5, 1, (uint64_t)R);
    long rows = (long)R * MB;
    s->x = upload_rand(be, &rng, rows * 48, 0, 1);
    s->dlogp = upload_rand(be, &rng, rows, -1, 1);
    s->dent = upload_rand(be, &rng, rows, -0.01f, 0.01f);
    s->dv = upload_rand(be, &rng, rows, -1, 1);
    int32_t *a = xmalloc(sizeof(int32_t) * (size_t)rows);
    for (long i = 0; i < rows; i++) a[i] = (int32_t)rng_randint(&rng, 0, 6);
    s->act = be->ops->alloc(be, sizeof(int32_t) * (size_t)rows);
    be->ops->upload(be, s->act, a, sizeof(int32_t) * (size_t)rows);
    free(a);
    s->eps_p = be->ops->alloc(be, sizeof(float) * (size_t)rows * 3);
    s->eps_v = be->ops->alloc(be, sizeof(float) * (size_t)rows * 3);
    s->logp = be->ops->alloc(be, sizeof(float) * (size_t)rows);
    s->ent = be->ops->alloc(be, sizeof(float) * (size_t)rows);
    s->dlogits = be->ops->alloc(be, sizeof(float) * (size_t)rows * 6);
    s->st_p = xcalloc((size_t)R, sizeof(PrandStream));
    s->st_v = xcalloc((size_t)R, sizeof(PrandStream));
    for (int r = 0; r < R; r++) {
        s->st_p[r].seed = prand_derive_seed(seeds[r], PRAND_ROUTER_NOISE, 0);
        s->st_v[r].seed = prand_derive_seed(seeds[r], PRAND_ROUTER_NOISE, 1);
        keys[r] = prand_derive_seed(seeds[r], PRAND_EXPERT_NOISE, 0);
    }
    s->ns_p = noise_create(&s->pol->pb, keys, sigma, NULL);
    for (int r = 0; r < R; r++) keys[r] = prand_derive_seed(seeds[r], PRAND_EXPERT_NOISE_VALUE, 0);
    s->ns_v = noise_create(&s->val->pb, keys, sigma, NULL);
    adam_config_default(&s->adam);
    noise_config_default(&s->noise);
    free(seeds);
    free(keys);
    free(sigma);
    return s;
}

static void step_free(Step *s) {
    Backend *be = s->be;
    float *bufs[] = {s->x, s->eps_p, s->eps_v, s->logp, s->ent, s->dlogp, s->dent, s->dlogits, s->dv};
    for (int i = 0; i < PM_ARRAY_LEN(bufs); i++) be->ops->release(be, bufs[i]);
    be->ops->release(be, s->act);
    net_free(s->pol);
    net_free(s->val);
    noise_free(s->ns_p);
    noise_free(s->ns_v);
    free(s->st_p);
    free(s->st_v);
    free(s->lr);
    free(s);
}

/* One minibatch update of all R runs, on backend `be` (the plain one or its profiling twin). */
static void step_run(Step *s, Backend *be) {
    long rows = (long)s->R * MB;
    s->pol->be = be;
    s->val->be = be;
    be->ops->rand_normal_runs(be, s->eps_p, s->R, (long)MB * 3, s->st_p);
    be->ops->rand_normal_runs(be, s->eps_v, s->R, (long)MB * 3, s->st_v);
    net_forward(s->pol, s->x, MB, s->eps_p);
    be->ops->cat_logp(be, s->logp, s->ent, net_output(s->pol), s->act, rows, 6);
    be->ops->cat_bwd(be, s->dlogits, net_output(s->pol), s->act, s->dlogp, s->dent, rows, 6);
    net_backward(s->pol, s->dlogits);
    net_forward(s->val, s->x, MB, s->eps_v);
    net_backward(s->val, s->dv);
    be->ops->adam_step(be, &s->adam, &s->pol->pb, s->lr);
    be->ops->adam_step(be, &s->adam, &s->val->pb, s->lr);
    be->ops->noise_step(be, s->ns_p, &s->noise, &s->pol->pb, s->lr);
    be->ops->noise_step(be, s->ns_v, &s->noise, &s->val->pb, s->lr);
}

/* Seconds per step: warm-up, then steps until max_steps or ~budget seconds. */
static double step_time(Step *s, int max_steps, double budget) {
    for (int i = 0; i < 2; i++) step_run(s, s->be);
    s->be->ops->sync(s->be);
    double t0 = now_seconds();
    int n = 0;
    while (n < max_steps) {
        step_run(s, s->be);
        n++;
        if (n >= 3 && now_seconds() - t0 > budget) break;
    }
    s->be->ops->sync(s->be);
    return (now_seconds() - t0) / n;
}

static void profile(Step *s, int R, int steps) {
    /* the CPU's grouped experts call ops from OpenMP threads; the profiler's interval ring is
     * not thread-safe, so the profiled steps run on one thread (the timed ones above do not) */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Prof *p = prof_create(s->be);
    for (int i = 0; i < steps; i++) {
        step_run(s, &p->be);
        prof_collect(p);
    }
    memset(p->ms, 0, sizeof p->ms); /* the first pass warms the event pool and caches */
    memset(p->calls, 0, sizeof p->calls);
    for (int i = 0; i < steps; i++) {
        step_run(s, &p->be);
        prof_collect(p);
    }
    s->pol->be = s->be;
    s->val->be = s->be;
    omp_set_num_threads(threads);
    printf("  R = %-5d", R);
    double total = 0;
    for (int o = 0; o < OP_N; o++) total += p->ms[o];
    printf(" sum of op times %.3f ms/step:", total / steps);
    for (int o = 0; o < OP_N; o++)
        if (p->calls[o])
            printf(" %s %d x %.1f us%s", OP_NAME[o], p->calls[o] / steps,
                   1e3 * p->ms[o] / p->calls[o], o + 1 < OP_N ? ";" : "");
    printf("\n");
    prof_free(p);
}

int main(int argc, char **argv) {
    int steps = 50, cpu_max_r = 256;
    for (int i = 1; i < argc; i++) {
        long long v;
        int is_steps = !strcmp(argv[i], "--steps"), is_r = !strcmp(argv[i], "--cpu-max-r");
        if ((is_steps || is_r) && i + 1 < argc) {
            if (pm_parse_ll(argv[++i], &v) || v < 1 || v > 1000000) {
                fprintf(stderr, "bench_gpu: %s: '%s' is not an integer in 1..1000000\n", argv[i - 1], argv[i]);
                return 2;
            }
            if (is_steps) steps = (int)v; else cpu_max_r = (int)v;
        } else {
            printf("usage: bench_gpu [--steps N] [--cpu-max-r R]\n"
                   "  GPU vs CPU throughput of a PA-MoE PPO minibatch update (policy+value\n"
                   "  forward/backward, Adam, expert noise; B=62) for R = 1 .. 4096 runs.\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    char msg[512];
    Backend *cpu = backend_create("cpu", msg, sizeof msg);
    Backend *gpu = backend_create("cuda", msg, sizeof msg); /* NULL + the reason without one */
    double tg[N_R] = {0}, tc[N_R] = {0};
    int measured_c[N_R] = {0};
    int last_c = -1;
    for (int i = 0; i < N_R; i++) {
        int R = RUNS[i];
        if (gpu) {
            Step *s = step_create(gpu, R);
            tg[i] = step_time(s, steps, 1.0);
            step_free(s);
        }
        if (R <= cpu_max_r) {
            Step *s = step_create(cpu, R);
            tc[i] = step_time(s, steps, 1.0);
            step_free(s);
            measured_c[i] = 1;
            last_c = i;
        } else if (last_c >= 0) {
            tc[i] = tc[last_c] * RUNS[i] / RUNS[last_c]; /* linear in R (see top comment) */
        }
    }
    printf("pamoe PPO minibatch update (policy+value pamoe fwd+bwd, Adam, expert noise), B = %d\n", MB);
    printf("throughput = runs x minibatch updates / s (samples/s = %d x that)\n", MB);
    printf("%6s | %10s %14s | %10s %14s | %8s\n", "R", "GPU ms", "GPU upd/s", "CPU ms",
           "CPU upd/s", "GPU/CPU");
    for (int i = 0; i < N_R; i++) {
        int R = RUNS[i];
        char g_ms[32] = "skipped", g_ups[32] = "-", c_ms[32] = "-", c_ups[32] = "-", ratio[32] = "-";
        if (gpu) {
            snprintf(g_ms, sizeof g_ms, "%.3f", tg[i] * 1e3);
            snprintf(g_ups, sizeof g_ups, "%.4g", R / tg[i]);
        }
        if (tc[i] > 0) {
            const char *m = measured_c[i] ? "" : "~";
            snprintf(c_ms, sizeof c_ms, "%s%.3f", m, tc[i] * 1e3);
            snprintf(c_ups, sizeof c_ups, "%s%.4g", m, R / tc[i]);
            if (gpu) snprintf(ratio, sizeof ratio, "%s%.2f", m, tc[i] / tg[i]);
        }
        printf("%6d | %10s %14s | %10s %14s | %8s\n", R, g_ms, g_ups, c_ms, c_ups, ratio);
    }
    printf("CPU: R <= %d measured (%s backend, OpenMP threads as set by OMP_NUM_THREADS); "
           "'~' = extrapolated linearly in R from R = %d\n",
           cpu_max_r, cpu->ops->name, last_c >= 0 ? RUNS[last_c] : 0);
    printf("CPU per-op times (wall clock around each op of 5 profiled steps):\n");
    for (int i = 0; i < N_R && RUNS[i] <= 16 && RUNS[i] <= cpu_max_r; i++) {
        Step *s = step_create(cpu, RUNS[i]);
        step_run(s, cpu);
        profile(s, RUNS[i], 5);
        step_free(s);
    }
    if (!gpu) {
        printf("GPU half skipped: %s\n", msg);
    } else {
        printf("GPU per-op times (cudaEvents around each op of %d profiled steps):\n", 5);
        for (int i = 0; i < N_R; i++) {
            Step *s = step_create(gpu, RUNS[i]);
            step_run(s, gpu);
            profile(s, RUNS[i], 5);
            step_free(s);
        }
        backend_free(gpu);
    }
    backend_free(cpu);
    return 0;
}
