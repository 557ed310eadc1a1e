/* pmath_ppo.h: per-row formulas of the PPO loss (ppo.md section 7) and their gradients with
 * respect to the policy logits and the value, shared by the CPU loop (host/ops/ppo_loss.c) and a
 * CUDA kernel with one thread per sample. Gradient conventions follow PyTorch's autograd:
 * max(a, b) sends the gradient to the larger argument and half to each on a tie; clamp passes
 * it inside [lo, hi] inclusive. */
#ifndef PAMOE_PMATH_PPO_H
#define PAMOE_PMATH_PPO_H
#include <math.h>
#include "pmath.h"

#define PMATH_MAX_ACTIONS 16

/* The loss settings and per-run statistics (ppo_loss.h documents the loss): defined here, with
 * the formulas, because the CUDA kernel takes the config by value. */
typedef struct PpoLossConfig {
    float clip_coef; /* 0.2 */
    float ent_coef;  /* 0.0 */
    float vf_coef;   /* 5.0 */
    int norm_adv;    /* 1: (A - mean) / (std + 1e-8), unbiased std over the minibatch */
    int clip_vloss;  /* 0 */
} PpoLossConfig;

typedef struct PpoLossStats {
    float loss, pg_loss, v_loss, entropy;
    float approx_kl;     /* mean((ratio - 1) - logratio) */
    float old_approx_kl; /* mean(-logratio) */
    float clipfrac;      /* mean(|ratio - 1| > clip_coef) */
} PpoLossStats;

/* logp = logits - logsumexp(logits) (what torch's Categorical(logits=...) stores); A <= PMATH_MAX_ACTIONS. */
PMATH_HD void pmath_log_softmax(const float *logits, int A, float *logp) {
    float mx = logits[0];
    for (int j = 1; j < A; j++) mx = logits[j] > mx ? logits[j] : mx;
    /* the expf calls first, then the sum in j order: the same sum, and the calls do not wait
     * on the running total */
    float e[PMATH_MAX_ACTIONS];
    for (int j = 0; j < A; j++) e[j] = expf(logits[j] - mx);
    float s = 0.0f;
    for (int j = 0; j < A; j++) s += e[j];
    float lse = mx + logf(s);
    for (int j = 0; j < A; j++) logp[j] = logits[j] - lse;
}

/* -sum p log p from log-probabilities; p[j] = expf(logp[j]) is written out for the caller
 * (the gradient needs the same values: one expf each instead of two). */
PMATH_HD float pmath_entropy(const float *logp, int A, float *p) {
    for (int j = 0; j < A; j++) p[j] = expf(logp[j]);
    float h = 0.0f;
    for (int j = 0; j < A; j++) h -= p[j] * logp[j];
    return h;
}

/* Inverse-CDF draw from softmax(logits) with a uniform u in (0, 1]; returns the action. */
PMATH_HD int pmath_categorical_sample(const float *logits, int A, float u) {
    float logp[PMATH_MAX_ACTIONS];
    pmath_log_softmax(logits, A, logp);
    float c = 0.0f;
    for (int j = 0; j < A; j++) {
        c += expf(logp[j]);
        if (u <= c) return j;
    }
    return A - 1; /* u above the rounded total */
}

/* d max(a, b) / d a */
PMATH_HD float pmath_max_grad_a(float a, float b) { return a > b ? 1.0f : a < b ? 0.0f : 0.5f; }

PMATH_HD float pmath_clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

typedef struct {
    float pg;       /* max(-A ratio, -A clip(ratio)) */
    float vl;       /* (v - R)^2, or max with the clipped version under clip_vloss */
    float entropy;
    float logratio; /* new log-prob - old log-prob */
    float ratio;
    float clipped;  /* |ratio - 1| > clip */
} PmathPpoSample;

/* One sample: its loss terms and d(loss)/d(logits) (A), d(loss)/d(value), where
 * loss = mean(pg) - ent_coef mean(entropy) + vf_coef 0.5 mean(vl) over the B samples of the
 * minibatch (inv_B = 1/B). adv_n is the (normalised) advantage. */
PMATH_HD PmathPpoSample pmath_ppo_sample(const float *logits, int A, int action, float old_logp,
                                         float adv_n, float v, float ret, float old_v, float clip,
                                         float ent_coef, float vf_coef, float inv_B, int clip_vloss,
                                         float *d_logits, float *d_v) {
    PmathPpoSample s;
    float logp[PMATH_MAX_ACTIONS], prob[PMATH_MAX_ACTIONS];
    pmath_log_softmax(logits, A, logp);
    s.entropy = pmath_entropy(logp, A, prob);
    s.logratio = logp[action] - old_logp;
    s.ratio = expf(s.logratio);
    s.clipped = fabsf(s.ratio - 1.0f) > clip ? 1.0f : 0.0f;
    float r_clip = pmath_clampf(s.ratio, 1.0f - clip, 1.0f + clip);
    float pg1 = -adv_n * s.ratio, pg2 = -adv_n * r_clip;
    s.pg = pg1 > pg2 ? pg1 : pg2;
    float in_range = (s.ratio >= 1.0f - clip && s.ratio <= 1.0f + clip) ? 1.0f : 0.0f;
    float w1 = pmath_max_grad_a(pg1, pg2);
    float d_ratio = -adv_n * (w1 + (1.0f - w1) * in_range);
    float d_logp = inv_B * d_ratio * s.ratio; /* d(loss)/d(logp[action]) */
    for (int j = 0; j < A; j++) {
        float p = prob[j];
        float g = d_logp * ((j == action ? 1.0f : 0.0f) - p);
        /* -ent_coef * mean(H), dH/dz_j = -p_j (logp_j + H) */
        g += ent_coef * inv_B * p * (logp[j] + s.entropy);
        d_logits[j] = g;
    }
    float e = v - ret;
    if (!clip_vloss) {
        s.vl = e * e;
        *d_v = vf_coef * inv_B * e;
    } else {
        float dv = v - old_v;
        float v_clip = old_v + pmath_clampf(dv, -clip, clip);
        float ec = v_clip - ret;
        float l1 = e * e, l2 = ec * ec;
        s.vl = l1 > l2 ? l1 : l2;
        float w = pmath_max_grad_a(l1, l2);
        float dv_in = (dv >= -clip && dv <= clip) ? 1.0f : 0.0f;
        /* d(0.5 l)/dv = e on the unclipped side, ec * dclamp on the clipped side */
        *d_v = vf_coef * inv_B * (w * e + (1.0f - w) * ec * dv_in);
    }
    return s;
}
/* Mean and unbiased std of x[0..n) in double (torch.std: n - 1; NaN for n = 1). */
PMATH_HD void pmath_mean_std(const float *x, int n, float *mean, float *std) {
    double s = 0.0, q = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    double m = s / n;
    for (int i = 0; i < n; i++) q += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = (float)m;
    *std = n > 1 ? (float)sqrt(q / (n - 1)) : NAN;
}

/* The PPO loss of one run's minibatch of B samples (ppo.md 7): advantage normalisation, then
 * pmath_ppo_sample per sample in b order, statistics summed in double in that order. The CPU
 * loops over runs calling it; the CUDA kernel runs one thread per run, so both backends sum in
 * the same order. Arrays start at the run's first sample; old_values may be NULL. */
PMATH_HD void pmath_ppo_run(const PpoLossConfig *cfg, int B, int A, const float *logits, const int32_t *actions,
                            const float *old_logp, const float *adv, const float *returns, const float *old_values,
                            const float *new_values, float *d_logits, float *d_values, PpoLossStats *st) {
    float inv_B = 1.0f / (float)B;
    float mean = 0.0f, std = 1.0f;
    if (cfg->norm_adv) pmath_mean_std(adv, B, &mean, &std);
    double pg = 0, vl = 0, ent = 0, kl = 0, old_kl = 0, clipped = 0;
    for (int b = 0; b < B; b++) {
        float a_n = cfg->norm_adv ? (adv[b] - mean) / (std + 1e-8f) : adv[b];
        PmathPpoSample s = pmath_ppo_sample(logits + (long)b * A, A, actions[b], old_logp[b], a_n, new_values[b],
                                            returns[b], old_values ? old_values[b] : 0.0f, cfg->clip_coef,
                                            cfg->ent_coef, cfg->vf_coef, inv_B, cfg->clip_vloss,
                                            d_logits + (long)b * A, &d_values[b]);
        pg += s.pg;
        vl += s.vl;
        ent += s.entropy;
        kl += (double)(s.ratio - 1.0f) - s.logratio;
        old_kl -= s.logratio;
        clipped += s.clipped;
    }
    st->pg_loss = (float)(pg / B);
    st->v_loss = (float)(0.5 * vl / B);
    st->entropy = (float)(ent / B);
    st->approx_kl = (float)(kl / B);
    st->old_approx_kl = (float)(old_kl / B);
    st->clipfrac = (float)(clipped / B);
    st->loss = (float)((double)st->pg_loss - (double)cfg->ent_coef * st->entropy + (double)cfg->vf_coef * st->v_loss);
}
#endif
