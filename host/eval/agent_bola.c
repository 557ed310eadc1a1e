/* agent_bola.c: BOLA with the linear utility, PA-MoE `bola_agent.py` (baselines.md 5; not
 * run by the reference pipeline). Target buffer 30 s, minimum 10 s:
 * gp = 1 + ln(R5/R0) / (30/10 - 1), V = 10 / (gp - 1);
 * score_q = (V * (R[q]/1000 + gp) - buffer_s) / next_size[q]; argmax, ties to the higher q. */
#include <math.h>

#include "agent.h"

typedef struct {
    double gp, v;
} BolaState;

static void bola_reset(Agent *a) { (void)a; }

static int bola_act(Agent *a, const AbrObs *obs) {
    const BolaState *s = a->state;
    double best = -65535.0;
    int q_best = 0;
    for (int q = 0; q < ABR_LEVELS; q++) {
        double score = (s->v * (ABR_BITRATE_KBPS[q] / 1000.0 + s->gp) - obs->buffer_size_ms / 1000) /
                       obs->next_chunk_bytes[q];
        if (score >= best) {
            best = score;
            q_best = q;
        }
    }
    return q_best;
}

Agent *agent_bola_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)opts;
    (void)video;
    (void)err;
    const double target_s = 30, min_s = 10;
    Agent *a = xcalloc(1, sizeof *a);
    BolaState *s = xmalloc(sizeof *s);
    s->gp = 1 + log(ABR_BITRATE_KBPS[ABR_LEVELS - 1] / ABR_BITRATE_KBPS[0]) / (target_s / min_s - 1);
    s->v = min_s / (s->gp - 1);
    a->state = s;
    a->reset = bola_reset;
    a->act = bola_act;
    return a;
}
