/* adam.h: Adam over a ParamBlock (params.h) for R runs with per-run learning rates and
 * per-(run, tensor) step counts, as torch.optim.Adam with coupled L2 weight decay (ppo.md
 * section 2, defect 1, docs/reference/README.md).
 *
 * Which tensors a step touches (faithful rule): a tensor with h_took_part[r*n_tensors + t] = 1
 * is stepped even when its gradient is exactly zero (the decay term then shrinks it: this is
 * what collapses the top-1 routers); a tensor with h_took_part = 0 is skipped entirely (no
 * decay, no moment update, its step count stays). TENSOR_UNUSED tensors are never stepped.
 * Memory: params/grads/adam_m/adam_v are read as host memory (CPU backend). */
#ifndef PAMOE_ADAM_H
#define PAMOE_ADAM_H
#include "params.h"
#include "pmath_adam.h"

typedef struct AdamConfig {
    float beta1, beta2, eps, weight_decay;
    int decoupled;       /* option (defect 1): AdamW, theta *= 1 - lr*wd before the Adam update */
    int no_router_decay; /* option (defect 1): weight_decay = 0 on TENSOR_ROUTER tensors */
} AdamConfig;

/* The reference's values: betas 0.99/0.99, eps 1e-5, coupled weight decay 1e-4. */
void adam_config_default(AdamConfig *cfg);

/* Whether tensor t of run r is stepped now. */
int adam_tensor_active(const ParamBlock *pb, int r, int t);

/* Advances h_adam_step of the active tensors and writes their constants into
 * coef (R * n_tensors, run-major); inactive entries get neg_step_size = 0 and are flagged in
 * active (R * n_tensors) with 0. lr: (R). Returns the number of active tensors. This is the
 * part a CUDA launcher needs on the host before one kernel over all (run, tensor) slices. */
int adam_prepare(const AdamConfig *cfg, ParamBlock *pb, const float *lr, PmathAdamCoef *coef,
                 uint8_t *active);

/* The element loop over prepared coefficients (host memory). */
void adam_apply(ParamBlock *pb, const PmathAdamCoef *coef, const uint8_t *active);

/* One tensor slice of n elements with coefficients c: simd = 0 is the scalar pmath_adam_elem
 * loop (the reference), simd = 1 the vector form adam_apply uses (AVX2 when the CPU has it,
 * else SSE); both give the same bytes. */
void adam_apply_range(float *theta, float *m, float *v, const float *g, long n,
                      const PmathAdamCoef *c, int simd);

/* adam_prepare + adam_apply. */
void adam_step(const AdamConfig *cfg, ParamBlock *pb, const float *lr);
#endif
