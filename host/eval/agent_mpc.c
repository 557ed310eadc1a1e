/* agent_mpc.c: RobustMPC.
 * Default ("pipeline", spec defect 26): PA-MoE `robust_mpc_agent.py` (baselines.md 6):
 * horizon 3 search tree with monotone pruning (a parent expands q = 0, then q+1 only while
 * it "may be superior" to q), a phantom chunk with download time 0 past the last chunk,
 * best leaf by `>=` with exact ties kept on the larger first action.
 * Option variant=pensieve: `hongzimao/pensieve` test/mpc.py: exhaustive horizon 5 in
 * lexicographic order, ties to the later combination, throughput samples from the
 * per-video state row (last 5, reset each session), errors kept for ever; offbyone=1
 * (default) reads chunk k+1+p as the original (k = chunks downloaded), offbyone=0 reads k+p.
 * Both keep the estimator across sessions by default (defect 27); option `reset` clears it.
 * Under the pipeline protocol no agent sees the terminal observation of a video, so unlike
 * Pensieve's own loop the Pensieve variant does not add the last chunk's sample/error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define MPC_REBUF_PENALTY 4.3 /* OptiVerse "normal" QoE, read from the env by the reference */
#define MPC_SMOOTH_PENALTY 1
#define MPC_MAX_HORIZON 6

enum { MPC_PIPELINE = 0, MPC_PENSIEVE = 1 };

typedef struct {
    double qoe, buf;
    int last, first;
} MpcNode;

typedef struct {
    int variant, horizon, offbyone, reset_per_session;
    AgentEstimator est;
    double *sizes; /* (ABR_LEVELS, n_chunks) */
    int n_chunks;
    MpcNode *pool[2]; /* pipeline tree levels, 6^horizon each */
    /* Pensieve exhaustive search scratch */
    double dt[MPC_MAX_HORIZON][ABR_LEVELS];
    double best_reward;
    int best_first;
} MpcState;

static double mpc_size(const MpcState *s, int q, int index) {
    return index < 0 || index >= s->n_chunks ? 0.0 : s->sizes[q * s->n_chunks + index];
}

static void mpc_reset(Agent *a) {
    MpcState *s = a->state;
    if (s->reset_per_session)
        agent_est_init(&s->est, s->est.n_samples_window);
    else if (s->variant == MPC_PENSIEVE)
        agent_est_clear_samples(&s->est); /* Pensieve zeroes its state row per video */
}

/* One child of the pipeline tree: download quality c after parent p (dt = its download time). */
static MpcNode mpc_child(const MpcNode *p, int c, double dt) {
    double buf = p->buf, rebuf = 0;
    if (buf < dt) {
        rebuf = dt - buf;
        buf = 0.0;
    } else {
        buf -= dt;
    }
    buf += 4;
    double r = ABR_BITRATE_KBPS[c] / 1000.0 - MPC_REBUF_PENALTY * rebuf -
               MPC_SMOOTH_PENALTY * fabs(ABR_BITRATE_KBPS[c] - ABR_BITRATE_KBPS[p->last]) / 1000.0;
    MpcNode n = {r + p->qoe, buf, c, p->first < 0 ? c : p->first};
    return n;
}

/* "q+1 may be superior to q" test of the reference, relative to parent buffer b. */
static int mpc_may_be_superior(const double *dt, int q, double b, int parent_last) {
    double dreb = MPC_REBUF_PENALTY * (fmax(dt[q + 1] - b, 0) - fmax(dt[q] - b, 0));
    double gain = ABR_BITRATE_KBPS[q] / 1000.0 - ABR_BITRATE_KBPS[q + 1] / 1000.0; /* < 0 */
    /* Going up towards the last quality also saves smoothness cost twice over. */
    if (q + 1 <= parent_last) return (1.0 + 2 * MPC_SMOOTH_PENALTY) * gain + dreb < 0.0;
    return gain + dreb < 0.0;
}

static int mpc_pipeline(MpcState *s, const AbrObs *obs, double pred) {
    int j = ABR_CHUNKS - obs->remain_chunk - 1; /* chunk just downloaded */
    int h = s->horizon;
    if (ABR_CHUNKS - j < h) h = ABR_CHUNKS - j;
    double dt[MPC_MAX_HORIZON][ABR_LEVELS];
    for (int p = 0; p < h; p++)
        for (int q = 0; q < ABR_LEVELS; q++) {
            int index = j + p + 1;
            /* Past chunk 47 the reference plans a "phantom" chunk that downloads in 0 s. */
            double bytes = index < 0 || index > ABR_CHUNKS - 1 ? 0.0 : mpc_size(s, q, index);
            dt[p][q] = (bytes / 1000000.0) / (pred / 1000);
        }
    MpcNode *parents = s->pool[0], *children = s->pool[1];
    parents[0] = (MpcNode){0.0, obs->buffer_size_ms / 1000, obs->last_quality, -1};
    int n_parents = 1;
    double max_reward = -100000000;
    int send = 0;
    for (int p = 0; p < h; p++) {
        int last_pos = p == h - 1, n_children = 0;
        for (int i = 0; i < n_parents; i++) {
            const MpcNode *par = &parents[i];
            for (int q = 0;; q++) {
                MpcNode c = mpc_child(par, q, dt[p][q]);
                children[n_children++] = c;
                if (last_pos && c.qoe >= max_reward) {
                    if (!(send > c.first && c.qoe == max_reward)) send = c.first;
                    max_reward = c.qoe;
                }
                if (q + 1 == ABR_LEVELS || !mpc_may_be_superior(dt[p], q, par->buf, par->last))
                    break;
            }
        }
        MpcNode *t = parents;
        parents = children;
        children = t;
        n_parents = n_children;
    }
    return send;
}

/* Depth-first over combos in lexicographic order; the accumulation order per combo is the
 * reference's (sums over positions in order), so rewards are bit-identical. */
static void mpc_pensieve_dfs(MpcState *s, int pos, int h, int first, int last, double buf,
                             double rebuf, double bitrate_sum, double smooth_sum) {
    if (pos == h) {
        double r = bitrate_sum / 1000. - MPC_REBUF_PENALTY * rebuf - smooth_sum / 1000.;
        if (r >= s->best_reward) {
            s->best_reward = r;
            s->best_first = first;
        }
        return;
    }
    for (int q = 0; q < ABR_LEVELS; q++) {
        double dt = s->dt[pos][q], b = buf, rb = rebuf;
        if (b < dt) {
            rb += dt - b;
            b = 0;
        } else {
            b -= dt;
        }
        b += 4;
        mpc_pensieve_dfs(s, pos + 1, h, pos == 0 ? q : first, q, b, rb,
                         bitrate_sum + ABR_BITRATE_KBPS[q],
                         smooth_sum + fabs(ABR_BITRATE_KBPS[q] - ABR_BITRATE_KBPS[last]));
    }
}

static int mpc_pensieve(MpcState *s, const AbrObs *obs, double pred_mbs) {
    int k = ABR_CHUNKS - obs->remain_chunk; /* chunks downloaded = Pensieve's last_index */
    int h = s->horizon;
    if (ABR_CHUNKS - k < h) h = ABR_CHUNKS - k;
    for (int p = 0; p < h; p++)
        for (int q = 0; q < ABR_LEVELS; q++) {
            int index = k + p + (s->offbyone ? 1 : 0);
            double bytes = index > 48 ? 0.0 : mpc_size(s, q, index); /* 49-entry tables */
            s->dt[p][q] = (bytes / 1000000.) / pred_mbs;
        }
    s->best_reward = -100000000;
    s->best_first = 0;
    mpc_pensieve_dfs(s, 0, h, 0, obs->last_quality, obs->buffer_size_ms / 1000, 0, 0, 0);
    return s->best_first;
}

static int mpc_act(Agent *a, const AbrObs *obs) {
    MpcState *s = a->state;
    if (s->variant == MPC_PENSIEVE) {
        /* Pensieve's state row: kilobytes per ms (= MB/s). */
        double c = obs->chunk_bytes / obs->delay_ms / 1000.0;
        return mpc_pensieve(s, obs, agent_est_update(&s->est, c));
    }
    double c = obs->delay_ms > 0 ? obs->chunk_bytes / obs->delay_ms : 1e-6; /* bytes/ms */
    return mpc_pipeline(s, obs, agent_est_update(&s->est, c));
}

static void mpc_destroy(Agent *a) {
    MpcState *s = a->state;
    free(s->sizes);
    free(s->pool[0]);
    free(s->pool[1]);
}

Agent *agent_mpc_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    int variant = MPC_PIPELINE, offbyone = 1, reset = 0, horizon = -1;
    if (agent_opt_choice(opts, "variant", "pipeline|pensieve", &variant, err)) return NULL;
    if (agent_opt_flag(opts, "offbyone", &offbyone, err)) return NULL;
    if (agent_opt_flag(opts, "reset", &reset, err)) return NULL;
    if (agent_opt_int(opts, "horizon", 1, MPC_MAX_HORIZON, &horizon, err)) return NULL;
    if (variant == MPC_PIPELINE && agent_opt_given(opts, "offbyone")) {
        pm_error(err, "agent '%s': offbyone applies to variant=pensieve only", opts->spec);
        return NULL;
    }
    if (!video || !video->sizes || video->n_chunks < ABR_CHUNKS) {
        pm_error(err, "agent '%s': RobustMPC needs the video chunk sizes (%d chunks or more)",
                 opts->spec, ABR_CHUNKS);
        return NULL;
    }
    if (horizon < 0) horizon = variant == MPC_PIPELINE ? 3 : 5;
    Agent *a = xcalloc(1, sizeof *a);
    MpcState *s = xcalloc(1, sizeof *s);
    s->variant = variant;
    s->horizon = horizon;
    s->offbyone = offbyone;
    s->reset_per_session = reset;
    agent_est_init(&s->est, variant == MPC_PIPELINE ? AGENT_EST_SAMPLES : 5);
    s->n_chunks = video->n_chunks;
    s->sizes = xmalloc(sizeof(double) * ABR_LEVELS * video->n_chunks);
    memcpy(s->sizes, video->sizes, sizeof(double) * ABR_LEVELS * video->n_chunks);
    size_t cap = 1;
    for (int p = 0; p < horizon; p++) cap *= ABR_LEVELS;
    s->pool[0] = xmalloc(sizeof(MpcNode) * cap);
    s->pool[1] = xmalloc(sizeof(MpcNode) * cap);
    a->state = s;
    a->reset = mpc_reset;
    a->act = mpc_act;
    a->destroy = mpc_destroy;
    return a;
}
