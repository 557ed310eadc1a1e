/* agent_merina.c: the reference pipeline's Merina agent (baselines.md 8, `meta_ppo/merina.py`,
 * `meta_ppo/vae.py`, weights Merina.pth + MerinaVAE.pth), greedy argmax of the actor logits.
 *   VAE encoder on rows 2, 3 of the input as (2 channels x 8):
 *     c = Conv1d(2->3, kernel 3, zero padding 1)  (no activation), flattened channel-major (24)
 *     e1 = leaky0.2(fc1 c), e2 = leaky0.2(fc2 e1), mean = fc_mean e2 (12), used as the latent
 *   branches: the Pensieve branches with the latent concatenated after t5 (fc4: 780 -> 128).
 * The log-variance head and the decoder are loaded (shape-checked) but unused, as in the
 * reference's evaluation. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "refweights.h"

#define MERINA_Z 12
#define MERINA_CONV_OUT 3
#define MERINA_LEN 8

typedef struct {
    RefWeights w, vae;
    RefTrunk actor, critic;
    RefHeads head;
    const float *conv_w, *conv_b; /* (3, 2, 3), (3) */
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b, *mean_w, *mean_b;
    float state[ABR_OBS_DIM];
} MerinaAgent;

static void merina_reset(Agent *a) {
    MerinaAgent *s = a->state;
    memset(s->state, 0, sizeof s->state);
}

static void leaky(double *v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] < 0) v[i] *= 0.2;
}

static void merina_latent(const MerinaAgent *s, const float *x, double z[MERINA_Z]) {
    const float *in = x + 2 * ABR_OBS_COLS; /* rows 2 and 3 = channels 0 and 1 */
    double c[MERINA_CONV_OUT * MERINA_LEN], e1[MERINA_Z], e2[MERINA_Z];
    for (int o = 0; o < MERINA_CONV_OUT; o++)
        for (int t = 0; t < MERINA_LEN; t++) {
            double acc = s->conv_b[o];
            for (int ic = 0; ic < 2; ic++)
                for (int k = 0; k < 3; k++) {
                    int p = t + k - 1;
                    if (p < 0 || p >= MERINA_LEN) continue; /* zero padding */
                    acc += s->conv_w[(o * 2 + ic) * 3 + k] * (double)in[ic * ABR_OBS_COLS + p];
                }
            c[o * MERINA_LEN + t] = acc;
        }
    refweights_linear(s->fc1_w, s->fc1_b, MERINA_Z, MERINA_CONV_OUT * MERINA_LEN, c, e1);
    leaky(e1, MERINA_Z);
    refweights_linear(s->fc2_w, s->fc2_b, MERINA_Z, MERINA_Z, e1, e2);
    leaky(e2, MERINA_Z);
    refweights_linear(s->mean_w, s->mean_b, MERINA_Z, MERINA_Z, e2, z);
}

static int merina_actor(const MerinaAgent *s, const float *x, const double *z, double *logits) {
    double h[REFTRUNK_F];
    reftrunk_forward(&s->actor, x, z, h);
    return refheads_policy(&s->head, h, logits);
}

static int merina_act(Agent *a, const AbrObs *obs) {
    MerinaAgent *s = a->state;
    agent_pipeline_obs(s->state, obs);
    double z[MERINA_Z], logits[ABR_LEVELS];
    merina_latent(s, s->state, z);
    return merina_actor(s, s->state, z, logits);
}

static void merina_destroy(Agent *a) {
    MerinaAgent *s = a->state;
    if (!s) return;
    refweights_free(&s->w);
    refweights_free(&s->vae);
}

int agent_merina_forward(const Agent *a, const float x[ABR_OBS_DIM], double latent[12],
                         double logp[ABR_LEVELS], double *value) {
    if (!a || a->act != merina_act) return -1;
    const MerinaAgent *s = a->state;
    double logits[ABR_LEVELS], h[REFTRUNK_F];
    merina_latent(s, x, latent);
    int best = merina_actor(s, x, latent, logits);
    refweights_log_softmax(logits, ABR_LEVELS, logp);
    reftrunk_forward(&s->critic, x, latent, h);
    refweights_linear(s->head.v_w, s->head.v_b, 1, REFTRUNK_F, h, value);
    return best;
}

static int bind_vae(MerinaAgent *s, const char *who, PmError *err) {
    RefWeights *v = &s->vae;
    static const char *unused[][2] = {
        {"encoder.fc_log_var.weight", "12x12"}, {"encoder.fc_log_var.bias", "12"},
        {"decoder.fc1.weight", "12x12"},        {"decoder.fc1.bias", "12"},
        {"decoder.fc2.weight", "12x12"},        {"decoder.fc2.bias", "12"},
        {"decoder.fc_output.weight", "6x12"},   {"decoder.fc_output.bias", "6"}};
    if (!(s->conv_w = refweights_take(v, "encoder.conv1.weight", "3x2x3", who, err)) ||
        !(s->conv_b = refweights_take(v, "encoder.conv1.bias", "3", who, err)) ||
        !(s->fc1_w = refweights_take(v, "encoder.fc1.weight", "12x24", who, err)) ||
        !(s->fc1_b = refweights_take(v, "encoder.fc1.bias", "12", who, err)) ||
        !(s->fc2_w = refweights_take(v, "encoder.fc2.weight", "12x12", who, err)) ||
        !(s->fc2_b = refweights_take(v, "encoder.fc2.bias", "12", who, err)) ||
        !(s->mean_w = refweights_take(v, "encoder.fc_mean.weight", "12x12", who, err)) ||
        !(s->mean_b = refweights_take(v, "encoder.fc_mean.bias", "12", who, err)))
        return -1;
    for (int i = 0; i < PM_ARRAY_LEN(unused); i++)
        if (!refweights_take(v, unused[i][0], unused[i][1], who, err)) return -1;
    return refweights_check_all_taken(v, who, err);
}

Agent *agent_merina_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    const char *dir = AGENT_REF_WEIGHTS_DIR;
    if (agent_opt_str(opts, "weights", &dir, err)) return NULL;
    Agent *a = refagent_new(sizeof(MerinaAgent), merina_reset, merina_act, merina_destroy);
    MerinaAgent *s = a->state;
    const char *who = "merina (baselines.md 8)";
    if (refweights_load(&s->w, dir, "Merina", err) ||
        refweights_load(&s->vae, dir, "MerinaVAE", err) ||
        reftrunk_bind(&s->actor, &s->w, "", "_actor", MERINA_Z, 1, who, err) ||
        reftrunk_bind(&s->critic, &s->w, "", "_critic", MERINA_Z, 1, who, err) ||
        refweights_take_heads(&s->w, &s->head, who, err) ||
        refweights_check_all_taken(&s->w, who, err) || bind_vae(s, who, err)) {
        return refagent_fail(a, opts->spec, err);
    }
    return a;
}
