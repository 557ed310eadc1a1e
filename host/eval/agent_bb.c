/* agent_bb.c: buffer-based agent (BBA-style), baselines.md 3 / PA-MoE
 * `buffer_based_agent.py`: q = 0 below the reservoir, 5 at reservoir + cushion or above,
 * else floor(5 * (buffer - reservoir) / cushion). Faithful default 20 s / 8 s (defect
 * 28, docs/reference/README.md); option `pensieve` = Pensieve's test/bb.py 5 s / 10 s. */
#include <math.h>

#include "agent.h"

typedef struct {
    double reservoir_ms, cushion_ms;
} BbState;

static void bb_reset(Agent *a) { (void)a; }

static int bb_act(Agent *a, const AbrObs *obs) {
    const BbState *s = a->state;
    double b = obs->buffer_size_ms;
    if (b < s->reservoir_ms) return 0;
    if (b >= s->reservoir_ms + s->cushion_ms) return ABR_LEVELS - 1;
    /* int() of a non-negative value = floor; the product is < 5 here. */
    int q = (int)((ABR_LEVELS - 1) * (b - s->reservoir_ms) / s->cushion_ms);
    return q < ABR_LEVELS - 1 ? q : ABR_LEVELS - 1;
}

Agent *agent_bb_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    int pensieve = 0;
    BbState s = {20000.0, 8000.0};
    if (agent_opt_flag(opts, "pensieve", &pensieve, err)) return NULL;
    if (pensieve) s = (BbState){5000.0, 10000.0};
    if (agent_opt_double(opts, "reservoir", 0, 1e7, &s.reservoir_ms, err)) return NULL;
    if (agent_opt_double(opts, "cushion", 1e-3, 1e7, &s.cushion_ms, err)) return NULL;
    Agent *a = xcalloc(1, sizeof *a);
    BbState *st = xmalloc(sizeof *st);
    *st = s;
    a->state = st;
    a->reset = bb_reset;
    a->act = bb_act;
    return a;
}
