/* agent_rb.c: rate-based agent, PA-MoE `rate_based_agent.py` (baselines.md 4): robust
 * harmonic-mean throughput (6 samples, 5-error discount), then the highest quality whose
 * predicted download time (ms) does not exceed the buffer (ms). The estimator persists
 * across sessions as in the reference (defect 27, docs/reference/README.md); option `reset` forgets it at each
 * session. */
#include "agent.h"

typedef struct {
    AgentEstimator est;
    int reset_per_session;
} RbState;

static void rb_reset(Agent *a) {
    RbState *s = a->state;
    if (s->reset_per_session) agent_est_init(&s->est, AGENT_EST_SAMPLES);
}

static int rb_act(Agent *a, const AbrObs *obs) {
    RbState *s = a->state;
    double c = obs->delay_ms > 0 ? obs->chunk_bytes / obs->delay_ms : 1e-6; /* bytes/ms */
    double pred = agent_est_update(&s->est, c);
    for (int q = ABR_LEVELS - 1; q >= 0; q--)
        if (obs->next_chunk_bytes[q] / pred <= obs->buffer_size_ms) return q;
    return 0;
}

Agent *agent_rb_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    int reset = 0;
    if (agent_opt_flag(opts, "reset", &reset, err)) return NULL;
    Agent *a = xcalloc(1, sizeof *a);
    RbState *s = xcalloc(1, sizeof *s);
    agent_est_init(&s->est, AGENT_EST_SAMPLES);
    s->reset_per_session = reset;
    a->state = s;
    a->reset = rb_reset;
    a->act = rb_act;
    return a;
}
