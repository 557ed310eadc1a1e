/* ppo_loss.h: the PPO minibatch loss for R runs (ppo.md section 7): per-run advantage
 * normalisation, clipped surrogate, value loss (optionally clipped), entropy bonus; returns the
 * gradients with respect to the policy logits and the values, and per-run statistics. */
#ifndef PAMOE_PPO_LOSS_H
#define PAMOE_PPO_LOSS_H
#include <stdint.h>

#include "pmath_ppo.h" /* PpoLossConfig, PpoLossStats: shared with the CUDA kernel */

void ppo_loss_config_default(PpoLossConfig *cfg);

/* All arrays host memory, run-major (row = r*B + b).
 * logits (R*B, A), actions (R*B), old_logp (R*B) (rollout log-probs), adv (R*B) (raw GAE
 * advantages), returns (R*B), old_values (R*B) (rollout values; used only by clip_vloss, may be
 * NULL otherwise), new_values (R*B). Writes d_logits (R*B, A) = d(loss_r)/d(logits),
 * d_values (R*B) = d(loss_r)/d(value), stats (R). Each run's loss is its own mean over B.
 * B = 1 with norm_adv gives NaN advantages, as torch's unbiased std of one sample does. */
void ppo_loss(const PpoLossConfig *cfg, int R, int B, int A, const float *logits,
              const int32_t *actions, const float *old_logp, const float *adv,
              const float *returns, const float *old_values, const float *new_values,
              float *d_logits, float *d_values, PpoLossStats *stats);

/* 1 - Var(returns - values) / Var(returns) over n samples, population variances (ppo.md
 * section 8); NaN when Var(returns) = 0, as numpy gives. */
double ppo_explained_variance(const float *values, const float *returns, long n);

/* anneal_lr: lr at the start of iteration i (1-based) of n_iters: (1 - (i-1)/n_iters) * lr. */
float ppo_annealed_lr(float lr, int iteration, int n_iters);

#endif
