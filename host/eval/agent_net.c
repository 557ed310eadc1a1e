/* agent_net.c: a policy trained by `pamoe train` as an evaluation agent (greedy argmax, as the
 * reference evaluates its learned agents, spec defect 29). The 6x8 input is the reference
 * pipeline's builder (agent_pipeline_obs); with obs=train (default) the buffer row is put back
 * into seconds, the unit the training simulator fed the network (spec defect 16). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "policy.h"

typedef struct {
    Policy *policy;
    int run, obs_train;
    float state[ABR_OBS_DIM]; /* pipeline observation, rolled every step */
} NetAgent;

static void net_reset(Agent *a) {
    NetAgent *s = a->state;
    memset(s->state, 0, sizeof s->state);
}

static int net_act(Agent *a, const AbrObs *obs) {
    NetAgent *s = a->state;
    agent_pipeline_obs(s->state, obs);
    float x[ABR_OBS_DIM];
    memcpy(x, s->state, sizeof x);
    if (s->obs_train)
        for (int c = 0; c < ABR_OBS_COLS; c++) x[1 * ABR_OBS_COLS + c] *= 10.0f;
    int action = 0;
    policy_decide(s->policy, s->run, x, 1, NULL, &action, NULL, NULL, NULL);
    return action;
}

static void net_destroy(Agent *a) {
    NetAgent *s = a->state;
    if (s) policy_free(s->policy);
}

Agent *agent_net_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    const char *ckpt = NULL, *label = NULL;
    int run = 0, obs = 0, noise = 0;
    if (agent_opt_str(opts, "ckpt", &ckpt, err) || agent_opt_str(opts, "label", &label, err)) return NULL;
    if (!ckpt) { pm_error(err, "agent '%s': net needs ckpt=RUN.h5", opts->spec); return NULL; }
    if (agent_opt_int(opts, "run", 0, 1 << 20, &run, err) ||
        agent_opt_choice(opts, "obs", "train|pipeline", &obs, err) || agent_opt_flag(opts, "noise", &noise, err))
        return NULL;
    Policy *p = policy_load(ckpt, "cpu", 1, noise, 0, err);
    if (!p) return NULL;
    if (run >= p->R) {
        pm_error(err, "agent '%s': run=%d but %s has %d run(s)", opts->spec, run, ckpt, p->R);
        policy_free(p);
        return NULL;
    }
    Agent *a = calloc(1, sizeof *a);
    NetAgent *s = calloc(1, sizeof *s);
    s->policy = p;
    s->run = run;
    s->obs_train = obs == 0;
    a->state = s;
    a->reset = net_reset;
    a->act = net_act;
    a->destroy = net_destroy;
    a->raw_obs = 1;
    if (label) {
        snprintf(a->label, sizeof a->label, "%s", label);
    } else {
        const char *base = strrchr(ckpt, '/') ? strrchr(ckpt, '/') + 1 : ckpt;
        snprintf(a->label, sizeof a->label, "net_%.*s", (int)(strcspn(base, ".")), base);
    }
    for (char *c = a->label; *c; c++)
        if (*c == '/') *c = '_';
    return a;
}
