/* env.c: the batched streaming simulator (see env.h). The per-env arithmetic follows
 * environment.md sections 6-9 and 12 operation by operation (same order of float64
 * operations as the Python reference), so the golden episodes match to ~1e-9. */
#include "env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (w_b, w_r, w_s) per content, environment.md section 8 (numbers are authoritative, defect 19) */
static const double CONTENT_W[ENV_N_CONTENT][3] = {{1, 1, 7}, {1, 7, 1}, {7, 1, 1}};
static const char *CONTENT_NAME[ENV_N_CONTENT] = {"documentary", "live", "news"};

#define EVAL_REBUF_W 4.3 /* OptiVerse "normal" QoE */
#define EVAL_SMOOTH_W 1.0
#define EVAL_INITIAL_Q 1

const char *env_content_name(EnvContent c) {
    return (unsigned)c < ENV_N_CONTENT ? CONTENT_NAME[c] : "?";
}

int env_content_parse(const char *s) {
    for (int c = 0; c < ENV_N_CONTENT; c++)
        if (!strcmp(s, CONTENT_NAME[c])) return c;
    return -1;
}

double env_bitrate_reward(EnvContent c, int q) {
    double r = ABR_BITRATE_KBPS[q] / 1000;
    return CONTENT_W[c][0] * log(r + 0.7) - 0.01 / r;
}

size_t env_type_size(EnvType t) {
    switch (t) {
    case ENV_T_I32: return 4;
    case ENV_T_F64: return 8;
    case ENV_T_F32: return 4;
    case ENV_T_U64: return 8;
    default: return 1;
    }
}

static void add_field(EnvBatch *b, const char *name, void *data, EnvType type, int per_env) {
    EnvField *f = &b->fields[b->n_fields++];
    f->name = name;
    f->data = data;
    f->type = type;
    f->per_env = per_env;
}

/* with_quality = 0 re-seeds only the numpy-like stream: the reference's content switch
 * re-seeds numpy (trace picks, offsets, delay noise) while Python's `random` (the initial
 * quality) runs on (environment.md 11). */
static void seed_streams(EnvBatch *b, int with_quality) {
    for (int i = 0; i < b->n; i++) {
        uint64_t g = (uint64_t)(b->cfg.first_index + i), seed = b->cfg.seed;
        if (b->cfg.run_seeds) { /* trainer: env e of run r has stream (seed_r, e) */
            seed = b->cfg.run_seeds[i / b->cfg.envs_per_run];
            g = (uint64_t)(i % b->cfg.envs_per_run);
        }
        rng_seed(&b->rng[i], seed, RNG_ENV, g);
        if (with_quality) rng_seed(&b->rng_q[i], seed, RNG_QUALITY, g);
    }
}

/* Work bound of the two trace loops of a download (environment.md 6). One pass over a trace
 * of m samples takes m - 1 segments, delivers W = sum_i thr[i] (time[i] - time[i-1]) 0.95
 * bytes and lasts D = time[m-1] - time[0] s. A chunk of S bytes then needs at most two passes
 * plus (S / W)(m - 1) segments, and the sleep after it (at most ABR_CHUNK_MS) two passes plus
 * (sleep / D)(m - 1). The reference's traces need at most 70 such extra segments with its
 * video; a trace with a tiny bandwidth or duration, or an absurd chunk, would need millions
 * per chunk and keep train, eval and replay busy for hours. Such data is refused where the
 * trace and the video meet, naming the trace; env_loop_limit is the backstop in the loops. */
#define ENV_MAX_EXTRA_SEGMENTS 1e4

int env_check_data(const TraceSet *ts, const Video *v, PmError *err) {
    double s_max = 0;
    for (int q = 0; q < ABR_LEVELS; q++)
        for (int k = 0; k < ABR_CHUNKS; k++)
            if (v->size[q][k] > s_max) s_max = v->size[q][k];
    for (int t = 0; t < ts->n; t++) {
        const Trace *tr = &ts->traces[t];
        double w = 0;
        for (int i = 1; i < tr->m; i++)
            w += tr->thr[i] * (tr->time[i] - tr->time[i - 1]) * ABR_PAYLOAD;
        const double d = tr->time[tr->m - 1] - tr->time[0];
        const double extra_dl = s_max / w * (tr->m - 1);
        const double extra_sleep = ABR_CHUNK_MS / 1000.0 / d * (tr->m - 1);
        if (!(extra_dl <= ENV_MAX_EXTRA_SEGMENTS))
            return pm_error(err, "%s: one pass over the trace delivers only %.3g bytes, so the "
                            "largest chunk (%.0f bytes) would take %.3g trace segments to "
                            "download (limit %.0f): bandwidth too small or chunk too large",
                            tr->name, w, s_max, extra_dl, ENV_MAX_EXTRA_SEGMENTS);
        if (!(extra_sleep <= ENV_MAX_EXTRA_SEGMENTS))
            return pm_error(err, "%s: the trace lasts only %.3g s, so a %.0f ms sleep would take "
                            "%.3g trace segments (limit %.0f): time steps too small", tr->name,
                            d, ABR_CHUNK_MS, extra_sleep, ENV_MAX_EXTRA_SEGMENTS);
    }
    return 0;
}

/* What env_check_data allows one loop, with room to spare. */
static inline long env_loop_limit(int m) { return 2 * ((long)ENV_MAX_EXTRA_SEGMENTS + 2L * m + 4); }

/* A loop ran past env_loop_limit although env_check_data accepted the data: only corrupted
 * state (e.g. a trace pointer) can do that. An error, not a hang. */
_Noreturn static void loop_limit_die(const EnvBatch *b, int i) {
    const Trace *tr = &b->cfg.traces->traces[b->trace[i]];
    fprintf(stderr, "pamoe: simulator: env %d on trace %s ran past %ld trace segments in one "
            "chunk; its state is corrupt\n", i, tr->name, env_loop_limit(tr->m));
    exit(1);
}

EnvBatch *env_create(const EnvConfig *cfg, PmError *err) {
    if (!cfg->traces || cfg->traces->n < 1) {
        pm_error(err, "env: no traces");
        return NULL;
    }
    if (!cfg->video) {
        pm_error(err, "env: no video");
        return NULL;
    }
    if (cfg->n_envs < 1) {
        pm_error(err, "env: n_envs must be >= 1, got %d", cfg->n_envs);
        return NULL;
    }
    if (cfg->variant != ENV_TRAINING && cfg->variant != ENV_EVALUATION) {
        pm_error(err, "env: unknown variant %d", (int)cfg->variant);
        return NULL;
    }
    if ((unsigned)cfg->content >= ENV_N_CONTENT) {
        pm_error(err, "env: unknown content %d", (int)cfg->content);
        return NULL;
    }
    if (cfg->bw_scale != 0 && cfg->bw_scale != cfg->traces->scale) {
        pm_error(err, "env: bw_scale %g differs from the scale %g the traces were loaded with",
                 cfg->bw_scale, cfg->traces->scale);
        return NULL;
    }
    if (cfg->first_index < 0) {
        pm_error(err, "env: first_index must be >= 0");
        return NULL;
    }
    if (env_check_data(cfg->traces, cfg->video, err)) return NULL;
    EnvBatch *b = xcalloc(1, sizeof *b);
    b->cfg = *cfg;
    b->cfg.bw_scale = cfg->traces->scale;
    int n = b->n = cfg->n_envs;
    b->trace = xcalloc(n, sizeof(int32_t));
    b->ptr = xcalloc(n, sizeof(int32_t));
    b->t_last = xcalloc(n, sizeof(double));
    b->buffer_ms = xcalloc(n, sizeof(double));
    b->chunk = xcalloc(n, sizeof(int32_t));
    b->last_q = xcalloc(n, sizeof(int32_t));
    b->rng = xcalloc(n, sizeof(Rng));
    b->rng_q = xcalloc(n, sizeof(Rng));
    b->obs = xcalloc((size_t)n * ABR_OBS_DIM, sizeof(float));
    b->abr = xcalloc(n, sizeof(AbrObs));
    b->content = xcalloc(n, sizeof(int32_t));
    b->reward = xcalloc(n, sizeof(double));
    b->bitrate_reward = xcalloc(n, sizeof(double));
    b->rebuf_penalty = xcalloc(n, sizeof(double));
    b->smooth_penalty = xcalloc(n, sizeof(double));
    b->delay_ms = xcalloc(n, sizeof(double));
    b->sleep_ms = xcalloc(n, sizeof(double));
    b->sleep_total_ms = xcalloc(n, sizeof(double));
    b->buffer_s = xcalloc(n, sizeof(double));
    b->rebuf_s = xcalloc(n, sizeof(double));
    b->chunk_bytes = xcalloc(n, sizeof(double));
    b->chunk_bytes_per_time = xcalloc(n, sizeof(double));
    b->action = xcalloc(n, sizeof(int32_t));
    b->chunk_index = xcalloc(n, sizeof(int32_t));
    b->done = xcalloc(n, sizeof(uint8_t));
    for (int i = 0; i < n; i++) {
        b->content[i] = cfg->content;
        b->last_q[i] = EVAL_INITIAL_Q;
        b->ptr[i] = 1;
    }
    for (int c = 0; c < ENV_N_CONTENT; c++)
        for (int q = 0; q < ABR_LEVELS; q++) b->br_table[c][q] = env_bitrate_reward((EnvContent)c, q);
    for (int k = 0; k < ABR_CHUNKS; k++)
        for (int q = 0; q < ABR_LEVELS; q++) b->next_mb[k][q] = (float)(cfg->video->size[q][k] / 1e6);
    seed_streams(b, 1);
    add_field(b, "trace", b->trace, ENV_T_I32, 1);
    add_field(b, "ptr", b->ptr, ENV_T_I32, 1);
    add_field(b, "t_last", b->t_last, ENV_T_F64, 1);
    add_field(b, "buffer_ms", b->buffer_ms, ENV_T_F64, 1);
    add_field(b, "chunk", b->chunk, ENV_T_I32, 1);
    add_field(b, "last_q", b->last_q, ENV_T_I32, 1);
    add_field(b, "rng", b->rng, ENV_T_U64, 4);
    add_field(b, "rng_q", b->rng_q, ENV_T_U64, 4);
    add_field(b, "obs", b->obs, ENV_T_F32, ABR_OBS_DIM);
    add_field(b, "abr", b->abr, ENV_T_U8, (int)sizeof(AbrObs));
    add_field(b, "content", b->content, ENV_T_I32, 1);
    return b;
}

void env_free(EnvBatch *b) {
    if (!b) return;
    void *ps[] = {b->trace, b->ptr, b->t_last, b->buffer_ms, b->chunk, b->last_q, b->rng,
                  b->rng_q, b->obs, b->abr, b->content, b->reward, b->bitrate_reward,
                  b->rebuf_penalty, b->smooth_penalty, b->delay_ms, b->sleep_ms,
                  b->sleep_total_ms, b->buffer_s, b->rebuf_s, b->chunk_bytes,
                  b->chunk_bytes_per_time, b->action, b->chunk_index, b->done};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) free(ps[k]);
    free(b);
}

static int rng_is_zero(const Rng *r) { return !(r->s[0] | r->s[1] | r->s[2] | r->s[3]); }

int env_check_state(const EnvBatch *b, PmError *err) {
    const TraceSet *ts = b->cfg.traces;
    for (int i = 0; i < b->n; i++) {
        int tr = b->trace[i];
        if (tr < 0 || tr >= ts->n) return pm_error(err, "trace: element %d is %d, not a trace index 0..%d", i, tr, ts->n - 1);
        int m = ts->traces[tr].m;
        if (b->ptr[i] < 1 || b->ptr[i] > m - 1)
            return pm_error(err, "ptr: element %d is %d, trace %d has segments 1..%d", i, b->ptr[i], tr, m - 1);
        if (!isfinite(b->t_last[i]) || b->t_last[i] < 0) return pm_error(err, "t_last: element %d is %g", i, b->t_last[i]);
        if (!isfinite(b->buffer_ms[i]) || b->buffer_ms[i] < 0 || b->buffer_ms[i] > ABR_BUFFER_CAP_MS + ABR_CHUNK_MS)
            return pm_error(err, "buffer_ms: element %d is %g, outside 0..%g", i, b->buffer_ms[i], ABR_BUFFER_CAP_MS + ABR_CHUNK_MS);
        if (b->chunk[i] < 0 || b->chunk[i] >= ABR_CHUNKS)
            return pm_error(err, "chunk: element %d is %d, not a chunk index 0..%d", i, b->chunk[i], ABR_CHUNKS - 1);
        if (b->last_q[i] < 0 || b->last_q[i] >= ABR_LEVELS)
            return pm_error(err, "last_q: element %d is %d, not a quality 0..%d", i, b->last_q[i], ABR_LEVELS - 1);
        if (b->content[i] < 0 || b->content[i] >= ENV_N_CONTENT)
            return pm_error(err, "content: element %d is %d, not a content index 0..%d", i, b->content[i], ENV_N_CONTENT - 1);
        if (rng_is_zero(&b->rng[i])) return pm_error(err, "rng: element %d is the all-zero state", i);
        if (rng_is_zero(&b->rng_q[i])) return pm_error(err, "rng_q: element %d is the all-zero state", i);
        for (int j = 0; j < ABR_OBS_DIM; j++)
            if (!isfinite(b->obs[(size_t)i * ABR_OBS_DIM + j]))
                return pm_error(err, "obs: element (%d, %d) is not finite", i, j);
    }
    return 0;
}

/* What one download returns (environment.md 6). */
typedef struct {
    double delay_ms, sleep_ms, sleep_total_ms, rebuf_ms, bytes;
    int remain, end, chunk;
} Download;

/* Chooses a new trace and start pointer (constructor and end of video). */
static inline void pick_trace(EnvBatch *b, int i) {
    const TraceSet *ts = b->cfg.traces;
    int t = (int)rng_randint(&b->rng[i], 0, ts->n);
    const Trace *tr = &ts->traces[t];
    int p = (int)rng_randint(&b->rng[i], 1, tr->m);
    b->trace[i] = t;
    b->ptr[i] = p;
    b->t_last[i] = tr->time[p - 1];
}

static inline Download download(EnvBatch *b, int i, int q) {
    Download d;
    const Trace *tr = &b->cfg.traces->traces[b->trace[i]];
    const double *time = tr->time, *thr = tr->thr;
    const int m = tr->m;
    int p = b->ptr[i];
    double t_last = b->t_last[i];
    int k = b->chunk[i];
    const double S = b->cfg.video->size[q][k];
    double delay = 0, sent = 0;
    const long limit = env_loop_limit(m);
    long iters = 0;
    for (;;) {
        if (++iters > limit) loop_limit_die(b, i);
        double th = thr[p];
        double dur = time[p] - t_last;
        double pay = th * dur * ABR_PAYLOAD;
        if (sent + pay > S) { /* strict >: an exact fill completes in the next segment */
            double frac = (S - sent) / th / ABR_PAYLOAD;
            delay += frac;
            t_last += frac;
            break;
        }
        sent += pay;
        delay += dur;
        t_last = time[p];
        if (++p >= m) {
            p = 1;
            t_last = time[0];
        }
    }
    delay *= 1000.0;
    delay += ABR_RTT_MS;
    if (b->cfg.delay_noise) delay *= 0.9 + (1.1 - 0.9) * rng_uniform(&b->rng[i]);
    double buf = b->buffer_ms[i];
    double rebuf = delay - buf > 0.0 ? delay - buf : 0.0;
    buf = (buf - delay > 0.0 ? buf - delay : 0.0) + ABR_CHUNK_MS;
    double sleep = 0, sleep_total = 0;
    if (buf > ABR_BUFFER_CAP_MS) {
        sleep = ceil((buf - ABR_BUFFER_CAP_MS) / ABR_DRAIN_MS) * ABR_DRAIN_MS;
        sleep_total = sleep;
        buf -= sleep;
        for (;;) {
            if (++iters > limit) loop_limit_die(b, i);
            double dur = time[p] - t_last;
            if (dur > sleep / 1000.0) {
                t_last += sleep / 1000.0;
                break;
            }
            sleep -= dur * 1000.0; /* Pensieve quirk: the returned value is the residual */
            t_last = time[p];
            if (++p >= m) {
                p = 1;
                t_last = time[0];
            }
        }
    }
    d.chunk = k;
    k += 1;
    d.remain = ABR_CHUNKS - k;
    d.end = k >= ABR_CHUNKS;
    b->ptr[i] = p;
    b->t_last[i] = t_last;
    if (d.end) {
        buf = 0;
        k = 0;
    }
    b->buffer_ms[i] = buf;
    b->chunk[i] = k;
    if (d.end) pick_trace(b, i);
    d.delay_ms = delay;
    d.sleep_ms = sleep;
    d.sleep_total_ms = sleep_total;
    d.rebuf_ms = rebuf;
    d.bytes = S;
    return d;
}

/* Roll every row left by one column, then write column 7 of rows 0,1,2,3,5 and columns 0..5
 * of row 4 (section 9; row 4 columns 6,7 keep stale values, defect 15). Rolling the whole
 * 48-float block left by one is the same thing: column 7 of each row receives column 0 of
 * the next row, but it is overwritten for every row except row 4, whose column 7 is set to
 * its own old column 0 as the per-row roll would. */
static inline void obs_push(EnvBatch *b, int i, double r0, double r1, double r2, double r3,
                            double r5) {
    float *o = b->obs + (size_t)i * ABR_OBS_DIM;
    float row4_first = o[4 * 8];
    memmove(o, o + 1, (ABR_OBS_DIM - 1) * sizeof(float));
    o[4 * 8 + 7] = row4_first;
    o[0 * 8 + 7] = (float)r0;
    o[1 * 8 + 7] = (float)r1;
    o[2 * 8 + 7] = (float)r2;
    o[3 * 8 + 7] = (float)r3;
    o[5 * 8 + 7] = (float)r5;
    const float *mb = b->next_mb[b->chunk[i]];
    for (int q = 0; q < ABR_LEVELS; q++) o[4 * 8 + q] = mb[q];
    if (b->cfg.zero_stale_row4) o[4 * 8 + 6] = o[4 * 8 + 7] = 0.0f;
}

/* Observation and AbrObs after a download of quality q (reset or step). */
static inline void observe(EnvBatch *b, int i, int q, const Download *d) {
    double remain = d->remain < ABR_CHUNKS ? d->remain : ABR_CHUNKS;
    if (b->cfg.variant == ENV_TRAINING) {
        double buf_feat = b->buffer_ms[i] / 10 / 100;
        if (b->cfg.buffer_obs_tenths) buf_feat /= 10;
        obs_push(b, i, ABR_BITRATE_KBPS[q] / 4300.0, buf_feat, d->bytes / d->delay_ms / 1000,
                 d->delay_ms / 1000 / 10, remain / ABR_CHUNKS);
    } else {
        double dl = d->delay_ms > 1.0 ? d->delay_ms : 1.0;
        obs_push(b, i, ABR_BITRATE_KBPS[q] / 4300.0, b->buffer_ms[i] / 10000, d->bytes / dl / 1000,
                 d->delay_ms / 1000 / 10, remain / ABR_CHUNKS);
        AbrObs *a = &b->abr[i];
        a->delay_ms = d->delay_ms;
        a->sleep_time_ms = d->sleep_ms;
        a->buffer_size_ms = b->buffer_ms[i];
        a->rebuffer_ms = d->rebuf_ms;
        a->chunk_bytes = d->bytes;
        a->done = d->end;
        a->remain_chunk = d->remain;
        a->last_quality = q;
        int k = b->chunk[i];
        for (int l = 0; l < ABR_LEVELS; l++) a->next_chunk_bytes[l] = b->cfg.video->size[l][k];
    }
}

void env_reset(EnvBatch *b, int i) {
    b->buffer_ms[i] = 0;
    b->chunk[i] = 0;
    int q = b->cfg.variant == ENV_TRAINING ? (int)rng_randint(&b->rng_q[i], 0, ABR_LEVELS)
                                           : EVAL_INITIAL_Q;
    b->last_q[i] = q;
    memset(b->obs + (size_t)i * ABR_OBS_DIM, 0, ABR_OBS_DIM * sizeof(float));
    Download d = download(b, i, q);
    observe(b, i, q, &d);
}

void env_reset_all(EnvBatch *b) {
    for (int i = 0; i < b->n; i++) {
        pick_trace(b, i);
        b->chunk[i] = 0;
        b->buffer_ms[i] = 0;
        /* the constructor's own initial-quality draw (section 5), overwritten by reset() */
        if (b->cfg.variant == ENV_TRAINING) (void)rng_randint(&b->rng_q[i], 0, ABR_LEVELS);
        env_reset(b, i);
        b->done[i] = 0;
    }
}

static inline void step_one(EnvBatch *b, int i, int a) {
    int p = b->last_q[i];
    Download d = download(b, i, a);
    double rebuf_s = d.rebuf_ms / 1000;
    double br, rp, sp;
    double dr = fabs(ABR_BITRATE_KBPS[a] - ABR_BITRATE_KBPS[p]);
    if (b->cfg.variant == ENV_TRAINING) {
        const double *w = CONTENT_W[b->content[i]];
        br = b->br_table[b->content[i]][a];
        rp = w[1] * 1 * rebuf_s;
        sp = w[2] * 1 * dr / 1000;
    } else {
        br = ABR_BITRATE_KBPS[a] / 1000;
        rp = EVAL_REBUF_W * rebuf_s;
        sp = EVAL_SMOOTH_W * dr / 1000;
    }
    b->reward[i] = br - rp - sp;
    b->bitrate_reward[i] = br;
    b->rebuf_penalty[i] = rp;
    b->smooth_penalty[i] = sp;
    b->delay_ms[i] = d.delay_ms;
    b->sleep_ms[i] = d.sleep_ms;
    b->sleep_total_ms[i] = d.sleep_total_ms;
    b->buffer_s[i] = b->buffer_ms[i] / 1000;
    b->rebuf_s[i] = rebuf_s;
    b->chunk_bytes[i] = d.bytes;
    b->chunk_bytes_per_time[i] = d.bytes / d.delay_ms / 1000;
    b->action[i] = a;
    b->chunk_index[i] = d.chunk;
    b->done[i] = (uint8_t)d.end;
    b->last_q[i] = a;
    observe(b, i, a, &d);
    if (d.end && b->cfg.auto_reset) env_reset(b, i);
}

void env_step(EnvBatch *b, const int *actions) {
    for (int i = 0; i < b->n; i++)
        if ((unsigned)actions[i] >= ABR_LEVELS) {
            char why[64];
            snprintf(why, sizeof why, "env %d: action %d not in 0..5", i, actions[i]);
            check_die(__FILE__, __LINE__, "env_step", why);
        }
    const int n = b->n;
    /* not a region with a false if(): libgomp still builds a team and syncs for it */
    if (n >= 64) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) step_one(b, i, actions[i]);
    } else {
        for (int i = 0; i < n; i++) step_one(b, i, actions[i]);
    }
}

void env_set_content(EnvBatch *b, EnvContent content) {
    b->cfg.content = content;
    for (int i = 0; i < b->n; i++) b->content[i] = content;
}

void env_recreate(EnvBatch *b, EnvContent content, int reseed) {
    env_set_content(b, content);
    if (reseed) seed_streams(b, 0);
    env_reset_all(b);
}

int env_set_state(EnvBatch *b, int i, int trace, int ptr, int last_q, PmError *err) {
    if (i < 0 || i >= b->n) return pm_error(err, "env %d: no such environment", i);
    const TraceSet *ts = b->cfg.traces;
    if (trace < 0 || trace >= ts->n)
        return pm_error(err, "trace index %d not in 0..%d", trace, ts->n - 1);
    const Trace *tr = &ts->traces[trace];
    if (ptr < 1 || ptr > tr->m - 1)
        return pm_error(err, "%s: start pointer %d not in 1..%d", tr->name, ptr, tr->m - 1);
    if (last_q < 0 || last_q >= ABR_LEVELS)
        return pm_error(err, "last quality %d not in 0..%d", last_q, ABR_LEVELS - 1);
    b->trace[i] = trace;
    b->ptr[i] = ptr;
    b->t_last[i] = tr->time[ptr - 1];
    b->buffer_ms[i] = 0;
    b->chunk[i] = 0;
    b->last_q[i] = last_q;
    b->done[i] = 0;
    memset(b->obs + (size_t)i * ABR_OBS_DIM, 0, ABR_OBS_DIM * sizeof(float));
    memset(&b->abr[i], 0, sizeof(AbrObs));
    return 0;
}
