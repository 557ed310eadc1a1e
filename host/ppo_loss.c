/* ppo_loss.c: the CPU loop of the PPO loss over kernels/pmath_ppo.h; the reference for the
 * CUDA kernel (one block per run: normalise advantages, then one thread per sample). */
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

void ppo_mean_std(const float *x, int n, float *mean, float *std) {
    double s = 0.0, q = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    double m = s / n;
    for (int i = 0; i < n; i++) q += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = (float)m;
    *std = n > 1 ? (float)sqrt(q / (n - 1)) : NAN;
}

void ppo_loss(const PpoLossConfig *cfg, int R, int B, int A, const float *logits,
              const int32_t *actions, const float *old_logp, const float *adv,
              const float *returns, const float *old_values, const float *new_values,
              float *d_logits, float *d_values, PpoLossStats *stats) {
    if (A > PMATH_MAX_ACTIONS) check_die(__FILE__, __LINE__, "ppo_loss", "too many actions");
    float inv_B = 1.0f / (float)B;
    for (int r = 0; r < R; r++) {
        float mean = 0.0f, std = 1.0f;
        if (cfg->norm_adv) ppo_mean_std(adv + (long)r * B, B, &mean, &std);
        double pg = 0, vl = 0, ent = 0, kl = 0, old_kl = 0, clipped = 0;
        for (int b = 0; b < B; b++) {
            long i = (long)r * B + b;
            float a_n = cfg->norm_adv ? (adv[i] - mean) / (std + 1e-8f) : adv[i];
            PmathPpoSample s = pmath_ppo_sample(
                logits + i * A, A, actions[i], old_logp[i], a_n, new_values[i], returns[i],
                old_values ? old_values[i] : 0.0f, cfg->clip_coef, cfg->ent_coef, cfg->vf_coef,
                inv_B, cfg->clip_vloss, d_logits + i * A, &d_values[i]);
            pg += s.pg;
            vl += s.vl;
            ent += s.entropy;
            kl += (double)(s.ratio - 1.0f) - s.logratio;
            old_kl -= s.logratio;
            clipped += s.clipped;
        }
        PpoLossStats *st = &stats[r];
        st->pg_loss = (float)(pg / B);
        st->v_loss = (float)(0.5 * vl / B);
        st->entropy = (float)(ent / B);
        st->approx_kl = (float)(kl / B);
        st->old_approx_kl = (float)(old_kl / B);
        st->clipfrac = (float)(clipped / B);
        st->loss = (float)((double)st->pg_loss - (double)cfg->ent_coef * st->entropy +
                           (double)cfg->vf_coef * st->v_loss);
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
