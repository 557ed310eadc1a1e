/* ppo_loss.c: the CPU loop of the PPO loss over include/pmath/pmath_ppo.h (pmath_ppo_run per run; the
 * CUDA kernel runs the same function one thread per run). */
#include "ppo_loss.h"

#include <math.h>

#include "common.h"
#include "pmath_ppo.h"

void ppo_loss_config_default(PpoLossConfig *cfg) {
    cfg->clip_coef = 0.2f;
    cfg->ent_coef = 0.0f;
    cfg->vf_coef = 5.0f;
    cfg->norm_adv = 1;
    cfg->clip_vloss = 0;
}

void ppo_loss(const PpoLossConfig *cfg, int R, int B, int A, const float *logits,
              const int32_t *actions, const float *old_logp, const float *adv,
              const float *returns, const float *old_values, const float *new_values,
              float *d_logits, float *d_values, PpoLossStats *stats) {
    if (A > PMATH_MAX_ACTIONS) check_die(__FILE__, __LINE__, "ppo_loss", "too many actions");
    for (int r = 0; r < R; r++) {
        long o = (long)r * B;
        pmath_ppo_run(cfg, B, A, logits + o * A, actions + o, old_logp + o, adv + o, returns + o,
                      old_values ? old_values + o : NULL, new_values + o, d_logits + o * A, d_values + o, &stats[r]);
    }
}

double ppo_explained_variance(const float *values, const float *returns, long n) {
    double my = 0, md = 0;
    for (long i = 0; i < n; i++) {
        my += returns[i];
        md += (double)returns[i] - values[i];
    }
    my /= n;
    md /= n;
    double vy = 0, vd = 0;
    for (long i = 0; i < n; i++) {
        double y = returns[i] - my, d = (double)returns[i] - values[i] - md;
        vy += y * y;
        vd += d * d;
    }
    return vy == 0 ? NAN : 1.0 - vd / vy;
}

float ppo_annealed_lr(float lr, int iteration, int n_iters) {
    return (float)((1.0 - (double)(iteration - 1) / n_iters) * lr);
}
