/* backend_cpu.c: the CPU backend, the reference the CUDA backend is tested against.
 * Memory is host memory; every per-row formula comes from include/pmath/pmath_net.h.
 *
 * gemm: OpenBLAS (cblas_sgemm), not a hand-written kernel: it wins on every one of the
 * network's own products (bench/bench_gemm.c keeps the hand-written kernel to compare;
 * docs/core.md has the figures). Determinism comes from the threading rule below.
 *
 * Threads: OpenMP over batch items (runs) for gemm and over rows for the row ops, only when
 * the work is large enough to pay for a parallel region (a few microseconds). Each output
 * element is written by one thread, so no result depends on the thread count. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "backend_cpu.h"
#include "common.h"
#include "cpu_dot1.h"
#include "cpu_rowops.h"
#include "gae.h"
#include "noise.h"
#include "pmath_net.h"
#include "pmath_plasticity.h"
#include "ppo_loss.h"
#include "prand.h"

/* The CPU backend's own state (Backend.ctx). */
typedef struct {
    /* cpu_dot1_selftest() at creation: the single-column kernels sum as this OpenBLAS does */
    int dot1_ok;
} CpuCtx;

static CpuCtx *ctx_of(Backend *be) { return (CpuCtx *)be->ctx; }

/* Hot paths with vector forms in their own files, the same bits as the row formulas here:
 * the single-column products (host/backend/cpu_dot1.c, OpenBLAS's summation order, checked at
 * creation), bias_act / relu_bwd and the router's softplus bounds (host/backend/cpu_rowops.c, AVX2). */

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define CPU_GEMM_PAR_FLOPS 200000L
/* Below this many rows the row ops stay serial. */
#define CPU_ROWS_PAR 4096L

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

/* ---- memory (host memory: plain libc) ---- */

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
static void cpu_free(Backend *be) {
    free(be->ctx);
    free(be);
}
static void *cpu_host_alloc(Backend *be, size_t bytes) { return cpu_alloc(be, bytes); }
static void cpu_host_release(Backend *be, void *h) { cpu_release(be, h); }
static void cpu_download_async(Backend *be, void *h_dst, const void *src, size_t bytes) {
    cpu_upload(be, h_dst, src, bytes); /* the CPU computed it already: nothing to overlap */
}
static void cpu_download_wait(Backend *be) { (void)be; }

/* ---- gemm ---- */

/* One OpenBLAS call per batch item, each single-threaded (openblas_set_num_threads(1) at
 * creation); threads only across batch items (runs). An item is therefore always computed
 * by the very same call whatever the thread count or the number of runs in the batch, which
 * is what makes R batched runs bit-identical to R single runs. R = 1 stays on one thread:
 * splitting one product across threads would hand OpenBLAS different tile shapes. */
static void cpu_gemm_batched(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                             const float *A, int lda, long strideA, const float *B, int ldb,
                             long strideB, float beta, float *C, int ldc, long strideC,
                             int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    long flops = (long)m * n * (k > 0 ? k : 1) * batch;
    if (ctx_of(be)->dot1_ok && cpu_dot1_fits(ta, tb, m, n, k, alpha, lda, beta)) {
        cpu_dot1_batched(m, k, A, strideA, B, strideB, C, strideC, batch);
        return;
    }
    CPU_FOR(i, batch, batch > 1 && flops >= CPU_GEMM_PAR_FLOPS,
            cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta,
                    C + i * strideC, ldc));
}

/* ---- fused element-wise / per-row operations (formulas: include/pmath/pmath_net.h) ---- */

/* simd = 0: the row formula only (the reference the tests compare the vector forms with). */
static int g_cpu_rowops_simd = 1;
void backend_cpu_set_simd(int on) { g_cpu_rowops_simd = on; }

PMATH_VEC static void cpu_bias_act(Backend *be, float *y, const float *bias, long bias_stride, int R,
                         int B, int n, int relu) {
    (void)be;
    long rows = (long)R * B;
    if (R == 1 && n <= CPU_ROWOPS_BIAS_MAX && rows * n < CPU_ROWS_PAR * 8 && g_cpu_rowops_simd && cpu_rowops_avx2()) {
        cpu_rowops_bias_act_avx2(y, bias, rows, n, relu);
        return;
    }
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
    if (count < CPU_ROWS_PAR * 16 && g_cpu_rowops_simd && cpu_rowops_avx2()) {
        cpu_rowops_relu_bwd_avx2(dy, y, count);
        return;
    }
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

/* Faithful rows (mode 0) whose choice the softplus bounds decide skip libm's expf and log1pf
 * (a large share of the update; pmath_route_top1_decide says why the choice is the same); the
 * gate is the same exact one-hot. Undecided rows and the switch router run the row formula. */
#define CPU_ROUTE_CHUNK 64
static void route_top1_rows(int mode, const float *l, const float *u, const float *eps,
                            long i0, long i1, int E, float *g, int32_t *choice) {
    float zl[CPU_ROUTE_CHUNK * PMATH_MAX_EXPERTS], zh[CPU_ROUTE_CHUNK * PMATH_MAX_EXPERTS];
    if (mode == 0) cpu_rowops_route_zbounds(l + i0 * E, u + i0 * E, eps + i0 * E, (i1 - i0) * E, zl, zh);
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

/* ---- plasticity (pmath_plasticity.h) ---- */
static void cpu_plast_shrink_perturb(Backend *be, float *theta, const float *fresh, float alpha,
                                     float sigma, long n) {
    (void)be;
    CPU_FOR(i, n, n >= CPU_ROWS_PAR, theta[i] = pmath_plast_shrink_perturb(theta[i], fresh[i], alpha, sigma));
}
static void cpu_plast_select(Backend *be, float *dst, const float *src, const uint8_t *mask, long n) {
    (void)be;
    CPU_FOR(i, n, n >= CPU_ROWS_PAR, dst[i] = pmath_plast_select(dst[i], src ? src[i] : 0.0f, mask[i]));
}
static void cpu_plast_l2_init_grad(Backend *be, float *grad, const float *theta, const float *theta0,
                                   float coef2, long n) {
    (void)be;
    CPU_FOR(i, n, n >= CPU_ROWS_PAR, grad[i] = pmath_plast_l2_init_grad(grad[i], theta[i], theta0[i], coef2));
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

/* ---- creation ---- */

static const BackendOps cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_upload, /* host to host either way */
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .host_alloc = cpu_host_alloc,
    .host_release = cpu_host_release,
    .download_async = cpu_download_async,
    .download_wait = cpu_download_wait,
    .free = cpu_free,
    .gemm_batched = cpu_gemm_batched,
    .bias_act = cpu_bias_act,
    .relu_bwd = cpu_relu_bwd,
    .softmax_rows = cpu_softmax_rows,
    .softmax_bwd_rows = cpu_softmax_bwd_rows,
    .route_top1 = cpu_route_top1,
    .route_top1_bwd = cpu_route_top1_bwd,
    .combine = cpu_combine,
    .combine_bwd = cpu_combine_bwd,
    .combine_grouped = cpu_combine_grouped,
    .combine_grouped_bwd = cpu_combine_grouped_bwd,
    .count_choices = cpu_count_choices,
    .cat_logp = cpu_cat_logp,
    .cat_sample = cpu_cat_sample,
    .cat_bwd = cpu_cat_bwd,
    .gather_rows = cpu_gather_rows,
    .gather_rows_i32 = cpu_gather_rows_i32,
    .rand_normal_runs = cpu_rand_normal_runs,
    .rand_uniform_runs = cpu_rand_uniform_runs,
    .adam_step = cpu_adam_step,
    .noise_step = cpu_noise_step,
    .gae = cpu_gae,
    .ppo_loss = cpu_ppo_loss,
    .plast_shrink_perturb = cpu_plast_shrink_perturb,
    .plast_select = cpu_plast_select,
    .plast_l2_init_grad = cpu_plast_l2_init_grad,
};

/* docs/core.md says why: the memory is the host's; an OpenBLAS call per run and expert costs
 * little and host threads may share the ops; n = 1 products run as OpenBLAS-order dot
 * kernels (cpu_dot1.c). */
static const BackendCaps cpu_caps = {
    .host_memory = 1,
    .grouped_experts = 1,
    .single_column_products = 1,
};

Backend *backend_cpu_create(void) {
    /* Our threads split the batch; OpenBLAS's own threads would nest inside them. */
    openblas_set_num_threads(1);
    CpuCtx *cx = xcalloc(1, sizeof *cx);
    cx->dot1_ok = cpu_dot1_selftest();
    Backend *be = xcalloc(1, sizeof *be);
    be->ops = &cpu_ops;
    be->caps = cpu_caps;
    be->ctx = cx;
    return be;
}
