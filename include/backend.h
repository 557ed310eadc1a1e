/* backend.h: the one compute interface the networks and the trainer are written against
 * (after ggml's ggml_backend_i). Only host/backend/backend_cpu.c and kernels/backend_cuda.cu know
 * where memory lives; every matrix product goes through `gemm_batched` with cuBLAS
 * column-major semantics, so the CPU path exercises the very call sites the GPU runs.
 *
 * Conventions
 *  - All pointers are backend memory (device memory on CUDA) unless named h_*.
 *  - "rows" = R runs x B samples flattened, run-major: row = r*B + b. Shapes below are
 *    row-major C shapes, e.g. (R, B, n) means element [r][b][j] at (r*B + b)*n + j.
 *  - A network's parameters for R runs are one block (R, P) float32, run stride P.
 *  - Every per-element / per-row formula is a PMATH_HD function in include/pmath/pmath_net.h; the
 *    CPU backend loops over rows calling it, the CUDA backend runs one thread per row calling
 *    the same function. So both backends share the math, only the loop differs.
 *  - Determinism: every output element is produced by exactly one thread with a fixed
 *    summation order, so results never depend on the number of threads.
 *  - Integer arrays (choices, actions, indices) are int32.
 *
 * Bias gradients are NOT a separate op: they are column sums, done as gemm_batched with a
 * ones vector (db (n,1) = dY (n,B) * ones (B,1), strideB = 0). That keeps "gemm is the only
 * reduction": cuBLAS's fixed-order reduction is deterministic without atomics, and the CPU
 * gemm sums in a fixed k order, so no per-op reduction code to keep deterministic twice.
 */
#ifndef PAMOE_BACKEND_H
#define PAMOE_BACKEND_H
#include <stddef.h>
#include <stdint.h>

typedef struct Backend Backend;

/* The types of the modules the backend serves, declared by their owners (params.h, prand.h,
 * adam.h, noise.h, pmath_ppo.h). The interface passes them by pointer only, so it names them
 * without including those modules: the dependency points from the implementations to the
 * modules, never from the interface. */
typedef struct ParamBlock ParamBlock;
typedef struct PrandStream PrandStream;
typedef struct AdamConfig AdamConfig;
typedef struct NoiseConfig NoiseConfig;
typedef struct NoiseState NoiseState;
typedef struct PpoLossConfig PpoLossConfig;
typedef struct PpoLossStats PpoLossStats;

enum { BE_NOTRANS = 0, BE_TRANS = 1 };

/* Gate/router modes of route_top1 (networks.md 5, defect 1, docs/reference/README.md). */
enum {
    ROUTE_FAITHFUL = 0, /* g = one-hot(e*) exactly; router gradients exactly 0 */
    ROUTE_SWITCH = 1    /* g_{e*} = softmax(z)_{e*} (Switch-Transformer); learnable router */
};

/* What a backend is good at, asked by the code that has a choice of method (never inferred
 * from the backend's name). docs/core.md says why each backend sets what it sets. */
typedef struct BackendCaps {
    /* Backend memory is host memory: host code may read and write it in place (checkpoints
     * read the parameter block without a mirror). */
    int host_memory;
    /* Sparse networks run each expert on its routed rows only (net.h, the grouped form):
     * per-run products, a host round trip for the routing per forward, and runs split across
     * host threads, whose calls must be safe for disjoint outputs. */
    int grouped_experts;
    /* A batch of single-column products (n = 1) costs about what one product of n columns
     * costs, so per-row forwards whose bits equal the B = 1 forward are affordable. */
    int single_column_products;
} BackendCaps;

/* The operations of one backend: a `static const` table with designated initializers in
 * host/backend/backend_cpu.c and kernels/backend_cuda.cu. Every op takes the Backend, whose
 * ctx is the implementation's own state. combine_grouped and combine_grouped_bwd are needed
 * only where caps.grouped_experts is set; every other op is required. */
typedef struct BackendOps {
    const char *name; /* "cpu" or "cuda": for messages and the run file, never for decisions */
    void *(*alloc)(Backend *be, size_t bytes);          /* zero-filled */
    void (*release)(Backend *be, void *p);              /* accepts NULL */
    void (*upload)(Backend *be, void *dst, const void *h_src, size_t bytes);
    void (*download)(Backend *be, void *h_dst, const void *src, size_t bytes);
    void (*copy)(Backend *be, void *dst, const void *src, size_t bytes);
    void (*zero)(Backend *be, void *dst, size_t bytes);
    void (*sync)(Backend *be);
    /* Host staging memory for the simulator <-> network traffic: page-locked on CUDA (so
     * copies are truly asynchronous), plain memory on the CPU. */
    void *(*host_alloc)(Backend *be, size_t bytes); /* zero-filled */
    void (*host_release)(Backend *be, void *h);     /* accepts NULL */
    /* Queues a download into h_dst (host_alloc memory) behind the work already queued and
     * returns at once; download_wait blocks until the last queued one has landed. Between the
     * two the host can step the simulator while the device runs later work (the trainer
     * steps the environments while the value network's forward runs). CPU: copy; no-op wait. */
    void (*download_async)(Backend *be, void *h_dst, const void *src, size_t bytes);
    void (*download_wait)(Backend *be);
    void (*free)(Backend *be); /* frees ctx and the Backend itself; called by backend_free */

    /* C_i = alpha*op(A_i)*op(B_i) + beta*C_i for i < batch, column-major, cuBLAS
     * cublasSgemmStridedBatched semantics (X_i = X + i*strideX). batch 1 = plain gemm.
     * beta == 0 overwrites C (C is not read, NaN in C does not propagate), as cuBLAS. */
    void (*gemm_batched)(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                         const float *A, int lda, long strideA,
                         const float *B, int ldb, long strideB, float beta,
                         float *C, int ldc, long strideC, int batch);

    /* ---- fused element-wise / per-row operations (formulas: include/pmath/pmath_net.h) ---- */

    /* y (R, B, n): y[r,b,j] += bias[r*bias_stride + j]; then y = max(y, 0) if relu.
     * bias_stride is the run stride of the parameter block (P). */
    void (*bias_act)(Backend *be, float *y, const float *bias, long bias_stride, int R, int B,
                     int n, int relu);
    /* dy (count), y (count): dy[i] = y[i] > 0 ? dy[i] : 0 (y = the ReLU output). */
    void (*relu_bwd)(Backend *be, float *dy, const float *y, long count);
    /* in, out (rows, n): out = softmax(in) per row (max-subtracted). in == out allowed. */
    void (*softmax_rows)(Backend *be, float *out, const float *in, long rows, int n);
    /* p, dp, dl (rows, n): dl = p * (dp - sum_j p_j dp_j), the softmax backward. */
    void (*softmax_bwd_rows)(Backend *be, float *dl, const float *p, const float *dp, long rows,
                             int n);
    /* Noisy top-1 routing (networks.md 5). l (route logits), u (noise pre-activations),
     * eps (standard normals), g (out): all (rows, E); choice (out): (rows).
     * z = l + eps * softplus(u); e* = first argmax of z; g = one-hot(e*) (ROUTE_FAITHFUL) or
     * g_{e*} = softmax(z)_{e*}, 0 elsewhere (ROUTE_SWITCH). */
    void (*route_top1)(Backend *be, int mode, const float *l, const float *u, const float *eps,
                       long rows, int E, float *g, int32_t *choice);
    /* Its backward: dg (rows, E) -> dl, du (rows, E). ROUTE_FAITHFUL writes exact zeros
     * (softmax over one finite logit has zero Jacobian, networks.md 8). ROUTE_SWITCH:
     * dz_j = dg_{e*} p_{e*} (delta_{j e*} - p_j), dl = dz, du = dz * eps * sigmoid(u). */
    void (*route_top1_bwd)(Backend *be, int mode, const float *l, const float *u,
                           const float *eps, const int32_t *choice, const float *dg, long rows,
                           int E, float *dl, float *du);
    /* Expert combine. h: E blocks of (rows, H), block e at h + e*expert_stride; g (rows, E);
     * f (rows, H): f[i,:] = sum_{e<E} g[i,e] * h_e[i,:] (in order e = 0..E-1). */
    void (*combine)(Backend *be, float *f, const float *g, const float *h, long expert_stride,
                    long rows, int E, int H);
    /* Its backward: df (rows, H) -> dh (E blocks of (rows, H), same expert_stride):
     * dh_e[i,:] = g[i,e] * df[i,:]; dg (rows, E): dg[i,e] = sum_j df[i,j] h_e[i,j]. */
    void (*combine_bwd)(Backend *be, float *dh, float *dg, const float *df, const float *g,
                        const float *h, long expert_stride, long rows, int E, int H);
    /* Grouped (top-1) combine. hs (R, B, H): per run the rows of the chosen experts, sorted
     * by expert; pos (R, B) int32: row b of run r sits at hs row r*B + pos[r,b]; choice (R, B);
     * g (R, B, E). f (R, B, H): f[r,b,:] = g[r,b,choice] * hs[r, pos[r,b], :] (bit-identical
     * to combine over dense expert blocks where the other experts' gates are 0). */
    void (*combine_grouped)(Backend *be, float *f, const float *g, const int32_t *choice,
                            const float *hs, const int32_t *pos, int R, int B, int E, int H);
    /* Its backward: dhs[r, pos[r,b], :] = g[r,b,choice] * df[r,b,:] (pos is a permutation per
     * run: one writer per row); dg[r,b,choice] = sum_j df[r,b,j] hs[r,pos[r,b],j], other dg 0;
     * dg may be NULL (not computed). */
    void (*combine_grouped_bwd)(Backend *be, float *dhs, float *dg, const float *df,
                                const float *g, const int32_t *choice, const float *hs,
                                const int32_t *pos, int R, int B, int E, int H);
    /* choice (R, B) -> counts (R, E): samples of run r routed to expert e. */
    void (*count_choices)(Backend *be, int32_t *counts, const int32_t *choice, int R, int B,
                          int E);
    /* Categorical over logits (rows, A). logp (rows) = log softmax(logits)[action];
     * entropy (rows) = -sum p log p (entropy may be NULL). */
    void (*cat_logp)(Backend *be, float *logp, float *entropy, const float *logits,
                     const int32_t *actions, long rows, int A);
    /* actions (rows): inverse-CDF sample of softmax(logits) from uniforms u (rows) in [0,1);
     * u == NULL: greedy argmax (first maximum). */
    void (*cat_sample)(Backend *be, int32_t *actions, const float *logits, const float *u,
                       long rows, int A);
    /* dlogits (rows, A) = dlogp * d logp/d logits + dent * d entropy/d logits
     * (dlogp, dent (rows); dent may be NULL = 0). */
    void (*cat_bwd)(Backend *be, float *dlogits, const float *logits, const int32_t *actions,
                    const float *dlogp, const float *dent, long rows, int A);
    /* Minibatch gather. src (R, src_rows, row_len), idx (R, B) with 0 <= idx < src_rows,
     * dst (R, B, row_len): dst[r,b,:] = src[r, idx[r,b], :]. The _i32 twin gathers int32. */
    void (*gather_rows)(Backend *be, float *dst, const float *src, const int32_t *idx, int R,
                        int B, long src_rows, int row_len);
    void (*gather_rows_i32)(Backend *be, int32_t *dst, const int32_t *src, const int32_t *idx,
                            int R, int B, long src_rows, int row_len);

    /* ---- randomness, optimizer, parameter noise, GAE (host references: host/rand/prand.c,
     * adam.c, noise.c, gae.c, whose semantics these ops keep; only the memory differs) ---- */

    /* out (R, n): row r = standard normals at elements [o_r, o_r + n) of Philox stream
     * h_streams[r] (host array, o_r = its offset, even), as prand_normal; then every offset
     * advances by prand_normal_advance(n). CUDA draws the same stream elements; values agree
     * with the CPU to a few ulp (device logf/sinf/cosf, pmath_rand.h). */
    void (*rand_normal_runs)(Backend *be, float *out, int R, long n, PrandStream *h_streams);
    /* out (R, n): uniforms in (0, 1] at elements [o_r, o_r + n) (prand_uniform: bit-identical
     * on both backends, no transcendental functions); offsets advance by
     * prand_normal_advance(n) so they stay even for later normal draws. */
    void (*rand_uniform_runs)(Backend *be, float *out, int R, long n, PrandStream *h_streams);
    /* One Adam step of every active (run, tensor) of pb (adam.h: adam_step). pb's params,
     * grads, adam_m, adam_v are backend memory (R, P); h_took_part / h_adam_step stay host
     * arrays (R, n_tensors) and h_adam_step advances on the host; h_lr (R) host. */
    void (*adam_step)(Backend *be, const AdamConfig *cfg, ParamBlock *pb, const float *h_lr);
    /* PA-MoE expert noise after an optimizer step (noise.h: noise_step): ns is host state
     * (streams, sigma, call count); pb->params backend memory; h_lr (R) host or NULL under
     * NOISE_SCALE_NONE. Returns 1 when applied, 0 when every_k skipped the call. */
    int (*noise_step)(Backend *be, NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb,
                      const float *h_lr);
    /* GAE (gae.h: gae_compute), all arrays backend memory: rewards, values, dones (T, N);
     * next_value, next_done (N); writes adv, returns (T, N). One stream per column n. */
    void (*gae)(Backend *be, int T, int N, const float *rewards, const float *values,
                const float *dones, const float *next_value, const float *next_done,
                float gamma, float lambda, float *adv, float *returns);
    /* PPO minibatch loss (ppo_loss.h: ppo_loss), every array backend memory, row = r*B + b:
     * logits (R*B, A), actions (R*B), old_logp, adv, returns, new_values (R*B), old_values
     * (R*B, or NULL unless cfg->clip_vloss) -> d_logits (R*B, A), d_values (R*B), and
     * stats (R) PpoLossStats, also backend memory (download when logging: no sync here).
     * Per-run sums in double in sample order on both backends. */
    void (*ppo_loss)(Backend *be, const PpoLossConfig *cfg, int R, int B, int A,
                     const float *logits, const int32_t *actions, const float *old_logp,
                     const float *adv, const float *returns, const float *old_values,
                     const float *new_values, float *d_logits, float *d_values,
                     PpoLossStats *stats);

    /* ---- plasticity methods (include/plasticity.h; formulas include/pmath/pmath_plasticity.h),
     * element-wise over n floats of backend memory, exact on both backends ---- */
    /* theta[i] = alpha*theta[i] + sigma*fresh[i] (shrink-and-perturb). */
    void (*plast_shrink_perturb)(Backend *be, float *theta, const float *fresh, float alpha,
                                 float sigma, long n);
    /* dst[i] = mask[i] ? (src ? src[i] : 0) : dst[i] (ReDo, reset); mask (n) uint8. */
    void (*plast_select)(Backend *be, float *dst, const float *src, const uint8_t *mask, long n);
    /* grad[i] += coef2 * (theta[i] - theta0[i]) (L2-init gradient, coef2 = 2 * l2_init_coef). */
    void (*plast_l2_init_grad)(Backend *be, float *grad, const float *theta, const float *theta0,
                               float coef2, long n);
} BackendOps;

struct Backend {
    const BackendOps *ops;
    BackendCaps caps;
    void *ctx; /* the implementation's: CudaCtx (stream, cuBLAS handle, scratch), CpuCtx */
};

/* "cpu", "cuda" or "auto". NULL and a message in err_msg when unavailable. */
Backend *backend_create(const char *name, char *err_msg, size_t err_len);
void backend_free(Backend *be); /* accepts NULL; calls be->ops->free */
int backend_cuda_available(void); /* 0 without a CUDA build or without a usable device */
#endif
