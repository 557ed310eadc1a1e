/* test_ppo_loss.c: the PPO loss against a hand-checked case and an independent double-precision
 * implementation, and its gradients against central finite differences of that implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pmath_ppo.h"
#include "ppo_loss.h"

static void near(double got, double want, double atol, const char *what) {
    if (fabs(got - want) > atol) fail_msg("%s: got %.9g want %.9g", what, got, want);
}

/* Two samples, two actions, uniform policy, ratio 1: A = [1, -1] normalises to +-1/sqrt(2);
 * pg_loss = mean(-A_n) = 0; entropy ln 2; values [0.5, 0] vs returns [1, 0]:
 * v_loss = 0.5 * mean([0.25, 0]) = 0.0625, loss = 5 * 0.0625 = 0.3125;
 * d_value = 5 * (v - R) / 2 = [-1.25, 0]; d(loss)/d(logp_a) = -A_n / 2 = -+0.35355339, times
 * (onehot - 0.5): both samples give d_logits = [-0.1767767, 0.1767767]. */
static void test_hand_case(void **state) {
    (void)state;
    PpoLossConfig cfg;
    ppo_loss_config_default(&cfg);
    const float logits[4] = {0, 0, 0, 0};
    const int32_t act[2] = {0, 1};
    const float old_logp[2] = {-0.69314718f, -0.69314718f}, adv[2] = {1, -1};
    const float ret[2] = {1, 0}, val[2] = {0.5f, 0};
    float dl[4], dv[2];
    PpoLossStats st;
    ppo_loss(&cfg, 1, 2, 2, logits, act, old_logp, adv, ret, NULL, val, dl, dv, &st);
    near(st.pg_loss, 0, 1e-7, "pg_loss");
    near(st.v_loss, 0.0625, 1e-7, "v_loss");
    near(st.entropy, 0.69314718, 1e-6, "entropy");
    near(st.loss, 0.3125, 1e-6, "loss");
    near(st.approx_kl, 0, 1e-7, "approx_kl");
    near(st.clipfrac, 0, 0, "clipfrac");
    near(dv[0], -1.25, 1e-6, "dv0");
    near(dv[1], 0, 0, "dv1");
    for (int b = 0; b < 2; b++) {
        near(dl[2 * b], -0.1767767, 1e-6, "dlogit 0");
        near(dl[2 * b + 1], 0.1767767, 1e-6, "dlogit 1");
    }
    /* ratio e^0.5 = 1.6487 with A_n > 0: clipped, no policy gradient for that sample;
     * approx_kl = (e^0.5 - 1 - 0.5 + 0) / 2, old_approx_kl = -0.25, clipfrac 0.5 */
    const float old2[2] = {-0.69314718f - 0.5f, -0.69314718f};
    ppo_loss(&cfg, 1, 2, 2, logits, act, old2, adv, ret, NULL, val, dl, dv, &st);
    near(dl[0], 0, 0, "clipped sample has no policy gradient");
    near(st.clipfrac, 0.5, 0, "clipfrac");
    near(st.approx_kl, (exp(0.5) - 1.5) / 2, 1e-6, "approx_kl");
    near(st.old_approx_kl, -0.25, 1e-6, "old_approx_kl");
    near(st.pg_loss, (-0.70710678 * 1.2 + 0.70710678) / 2, 1e-6, "pg_loss clipped");
}

/* Independent double implementation of one run's loss. */
static double ref_loss(const PpoLossConfig *c, int B, int A, const double *logits, const int32_t *act,
                       const float *old_logp, const float *adv, const float *ret, const float *old_v,
                       const double *v) {
    double mean = 0, var = 0;
    for (int b = 0; b < B; b++) mean += adv[b];
    mean /= B;
    for (int b = 0; b < B; b++) var += (adv[b] - mean) * (adv[b] - mean);
    double sd = sqrt(var / (B - 1));
    double pg = 0, vl = 0, ent = 0;
    for (int b = 0; b < B; b++) {
        const double *z = logits + b * A;
        double mx = z[0], s = 0;
        for (int j = 1; j < A; j++) mx = fmax(mx, z[j]);
        for (int j = 0; j < A; j++) s += exp(z[j] - mx);
        double lse = mx + log(s), h = 0;
        for (int j = 0; j < A; j++) h -= exp(z[j] - lse) * (z[j] - lse);
        double ratio = exp(z[act[b]] - lse - old_logp[b]);
        double an = c->norm_adv ? (adv[b] - mean) / (sd + 1e-8) : adv[b];
        double rc = fmin(fmax(ratio, 1 - c->clip_coef), 1 + c->clip_coef);
        pg += fmax(-an * ratio, -an * rc);
        double e = v[b] - ret[b];
        if (c->clip_vloss) {
            double vc = old_v[b] + fmin(fmax(v[b] - old_v[b], -c->clip_coef), c->clip_coef);
            vl += fmax(e * e, (vc - ret[b]) * (vc - ret[b]));
        } else vl += e * e;
        ent += h;
    }
    return pg / B - c->ent_coef * ent / B + c->vf_coef * 0.5 * vl / B;
}

/* R = 2 runs of B = 6, A = 6; ratios spread over both clip sides and the inside, advantages of
 * both signs; entropy bonus on; with and without value clipping. Analytic float gradients vs
 * central differences (h = 1e-5) of the double loss; the perturbations stay >= 0.04 away from
 * every clip kink. */
static void test_finite_differences(void **state) {
    (void)state;
    enum { R = 2, B = 6, A = 6 };
    const float delta[B] = {-0.5f, -0.1f, 0.05f, 0.15f, 0.4f, -0.3f}; /* log-ratios */
    const float dvs[B] = {0.1f, -0.3f, 0.25f, 0.02f, 0.5f, -0.1f};     /* v - old_v */
    float logits[R * B * A], old_logp[R * B], adv[R * B], ret[R * B], old_v[R * B], v[R * B];
    int32_t act[R * B];
    for (int i = 0; i < R * B; i++) {
        for (int j = 0; j < A; j++) logits[i * A + j] = sinf((float)(i * A + j) * 1.7f + 0.3f);
        act[i] = (i * 5 + 2) % A;
        float lp[A];
        pmath_log_softmax(logits + i * A, A, lp);
        old_logp[i] = lp[act[i]] - delta[i % B];
        adv[i] = cosf((float)i * 2.3f) * (1.0f + (float)(i / B));
        v[i] = 0.3f * sinf((float)i);
        old_v[i] = v[i] - dvs[i % B];
        ret[i] = v[i] + 0.7f * cosf((float)i * 0.9f + 1.0f);
    }
    for (int clip_v = 0; clip_v < 2; clip_v++) {
        PpoLossConfig cfg;
        ppo_loss_config_default(&cfg);
        cfg.ent_coef = 0.05f;
        cfg.clip_vloss = clip_v;
        float dl[R * B * A], dv[R * B];
        PpoLossStats st[R];
        ppo_loss(&cfg, R, B, A, logits, act, old_logp, adv, ret, old_v, v, dl, dv, st);
        for (int r = 0; r < R; r++) {
            double z[B * A], vv[B];
            for (int k = 0; k < B * A; k++) z[k] = logits[r * B * A + k];
            for (int b = 0; b < B; b++) vv[b] = v[r * B + b];
            const float *o = old_logp + r * B, *ad = adv + r * B, *rt = ret + r * B, *ov = old_v + r * B;
            near(st[r].loss, ref_loss(&cfg, B, A, z, act + r * B, o, ad, rt, ov, vv), 1e-5, "loss");
            assert_true(st[r].clipfrac > 0.49f && st[r].clipfrac < 0.51f); /* 3 of 6 outside */
            const double h = 1e-5;
            for (int k = 0; k < B * A; k++) {
                double keep = z[k];
                z[k] = keep + h;
                double lp = ref_loss(&cfg, B, A, z, act + r * B, o, ad, rt, ov, vv);
                z[k] = keep - h;
                double lm = ref_loss(&cfg, B, A, z, act + r * B, o, ad, rt, ov, vv);
                z[k] = keep;
                double fd = (lp - lm) / (2 * h), an = dl[r * B * A + k];
                /* float32 gradient vs double differences: 1e-6 absolute plus 1e-4 relative */
                if (fabs(an - fd) > 1e-6 + 1e-4 * fabs(fd)) fail_msg("clip_v %d run %d logit %d: %.9g vs fd %.9g", clip_v, r, k, an, fd);
            }
            for (int b = 0; b < B; b++) {
                double keep = vv[b];
                vv[b] = keep + h;
                double lp = ref_loss(&cfg, B, A, z, act + r * B, o, ad, rt, ov, vv);
                vv[b] = keep - h;
                double lm = ref_loss(&cfg, B, A, z, act + r * B, o, ad, rt, ov, vv);
                vv[b] = keep;
                double fd = (lp - lm) / (2 * h), an = dv[r * B + b];
                if (fabs(an - fd) > 1e-6 + 1e-4 * fabs(fd)) fail_msg("clip_v %d run %d value %d: %.9g vs fd %.9g", clip_v, r, b, an, fd);
            }
        }
    }
}

/* Inverse-CDF sampling follows the softmax: logits log([0.1, 0.2, 0.7]). */
static void test_categorical(void **state) {
    (void)state;
    const float z[3] = {logf(0.1f), logf(0.2f), logf(0.7f)};
    assert_int_equal(pmath_categorical_sample(z, 3, 0.05f), 0);
    assert_int_equal(pmath_categorical_sample(z, 3, 0.15f), 1);
    assert_int_equal(pmath_categorical_sample(z, 3, 0.31f), 2);
    assert_int_equal(pmath_categorical_sample(z, 3, 1.0f), 2);
}

/* values [1,2,3], returns [1,3,5]: Var(returns) = 8/3, returns - values = [0,1,2] has 2/3,
 * so 1 - 0.25 = 0.75; constant returns give NaN. anneal_lr: iteration 1 keeps lr, 501 of
 * 1000 halves it. */
static void test_explained_variance_and_anneal(void **state) {
    (void)state;
    const float v[3] = {1, 2, 3}, r[3] = {1, 3, 5}, c[3] = {2, 2, 2};
    near(ppo_explained_variance(v, r, 3), 0.75, 1e-12, "explained variance");
    assert_true(isnan(ppo_explained_variance(v, c, 3)));
    assert_true(ppo_annealed_lr(1e-3f, 1, 1000) == 1e-3f);
    near(ppo_annealed_lr(1e-3f, 501, 1000), 5e-4, 1e-10, "annealed lr");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_case),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_explained_variance_and_anneal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
