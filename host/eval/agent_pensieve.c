/* agent_pensieve.c: the reference pipeline's Pensieve agent (baselines.md 7, `ppo_agent.py` +
 * `weights/Pensieve.pth`), greedy argmax of the actor logits on the pipeline's 6x8 input
 * (baselines.md 2). Two separate 128-wide branches:
 *   t0..t5 = relu(fc1/fc2/conv1/conv2/conv3/fc3 on rows 0..5), h = relu(fc4 concat(t0..t5))
 *   actor: logits = pi_head h;  critic: v = val_head h
 * The critic is only evaluated by agent_pensieve_forward (tests); acting needs the actor. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "refweights.h"

typedef struct {
    RefWeights w;
    RefTrunk actor, critic;
    RefHeads head;
    float state[ABR_OBS_DIM]; /* pipeline observation, rolled every step */
} PensieveAgent;

static void pensieve_reset(Agent *a) {
    PensieveAgent *s = a->state;
    memset(s->state, 0, sizeof s->state);
}

static int pensieve_actor(const PensieveAgent *s, const float *x, double *logits) {
    double h[REFTRUNK_F];
    reftrunk_forward(&s->actor, x, NULL, h);
    return refheads_policy(&s->head, h, logits);
}

static int pensieve_act(Agent *a, const AbrObs *obs) {
    PensieveAgent *s = a->state;
    agent_pipeline_obs(s->state, obs);
    double logits[ABR_LEVELS];
    return pensieve_actor(s, s->state, logits);
}

static void pensieve_destroy(Agent *a) {
    PensieveAgent *s = a->state;
    if (s) refweights_free(&s->w);
}

int agent_pensieve_forward(const Agent *a, const float x[ABR_OBS_DIM], double logp[ABR_LEVELS],
                           double *value) {
    if (!a || a->act != pensieve_act) return -1;
    const PensieveAgent *s = a->state;
    double logits[ABR_LEVELS], h[REFTRUNK_F];
    int best = pensieve_actor(s, x, logits);
    refweights_log_softmax(logits, ABR_LEVELS, logp);
    reftrunk_forward(&s->critic, x, NULL, h);
    refweights_linear(s->head.v_w, s->head.v_b, 1, REFTRUNK_F, h, value);
    return best;
}

Agent *agent_pensieve_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    const char *dir = AGENT_REF_WEIGHTS_DIR;
    if (agent_opt_str(opts, "weights", &dir, err)) return NULL;
    Agent *a = refagent_new(sizeof(PensieveAgent), pensieve_reset, pensieve_act, pensieve_destroy);
    PensieveAgent *s = a->state;
    const char *who = "pensieve (baselines.md 7)";
    if (refweights_load(&s->w, dir, "Pensieve", err) ||
        reftrunk_bind(&s->actor, &s->w, "", "_actor", 0, 1, who, err) ||
        reftrunk_bind(&s->critic, &s->w, "", "_critic", 0, 1, who, err) ||
        refweights_take_heads(&s->w, &s->head, who, err) ||
        refweights_check_all_taken(&s->w, who, err)) {
        return refagent_fail(a, opts->spec, err);
    }
    return a;
}
