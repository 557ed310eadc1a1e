/* env.h: the batched chunk-level streaming simulator (../shared/spec/environment.md).
 *
 * One EnvBatch holds n independent environments in structure-of-arrays form and steps all of
 * them in one call (OpenMP over environments). Environment i of a batch has the global index
 * g = first_index + i; its random streams are rng_seed(seed, RNG_ENV, g) (delay noise, trace
 * and start-offset picks) and rng_seed(seed, RNG_QUALITY, g) (random initial quality), so its
 * results do not depend on the batch size or the thread count.
 *
 * Variants (config.variant):
 *  - ENV_TRAINING: PA-MoE's AdaptiveStreamingEnv. Bandwidth scaled (TraceSet.scale, 2.0),
 *    content-weighted log reward (section 8), 6x8 observation of section 9 (buffer in s),
 *    random initial quality at every reset.
 *  - ENV_EVALUATION: OptiVerse (section 12). Raw bandwidth (scale 1.0), linear QoE
 *    R/1000 - 4.3 rebuf_s - |dR|/1000, initial quality 1, observation of baselines.md 2
 *    (buffer in s/10, max(delay,1) in row 2) and an AbrObs per env for rule-based agents.
 *
 * Episode: a reset downloads chunk 0 (no reward), then 47 steps download chunks 1..47; the
 * 47th has done = 1. At the end of a video the env sets buffer 0, k 0 and draws a new trace
 * and start pointer at once (section 6). In auto-reset mode env_step then also performs the
 * reset download of that env, so `obs` (and `abr`) hold the first input of the next episode
 * (the terminal observation is discarded, as the reference PPO loop and the evaluation
 * pipeline do), while the per-step output arrays and `done` describe the finished step.
 *
 * Units: *_ms milliseconds, *_s seconds, bytes, trace time in seconds. */
#ifndef PAMOE_ENV_H
#define PAMOE_ENV_H
#include <stddef.h>
#include <stdint.h>

#include "abr.h"
#include "common.h"
#include "rng.h"
#include "trace.h"
#include "video.h"

typedef enum { ENV_TRAINING = 0, ENV_EVALUATION = 1 } EnvVariant;
typedef enum { ENV_DOCUMENTARY = 0, ENV_LIVE = 1, ENV_NEWS = 2, ENV_N_CONTENT = 3 } EnvContent;

typedef struct {
    EnvVariant variant;
    EnvContent content;     /* reward weights of the training variant (section 8) */
    uint64_t seed;
    double bw_scale;        /* must equal traces->scale (the scale is applied at load, because
                               the high/low filter uses the scaled mean); 0 = take traces'. */
    int delay_noise;        /* 1: delay *= U[0.9,1.1) per chunk; 0: multiplier 1 (goldens) */
    int n_envs;
    int64_t first_index;    /* global index of env 0 (RNG stream index) */
    int auto_reset;         /* 1: env_step resets finished envs (training, evaluation loop) */
    const TraceSet *traces; /* borrowed; must outlive the batch */
    const Video *video;     /* borrowed */
    /* Runs batched together (trainer): when run_seeds is not NULL, env i belongs to run
     * i / envs_per_run and its streams are (run_seeds[run], i % envs_per_run), so a run's
     * environments do not depend on the other runs in the batch (borrowed pointer). */
    const uint64_t *run_seeds;
    int envs_per_run;
    /* Options (spec defects; 0 = faithful): */
    int zero_stale_row4;    /* defect 15: zero row 4 columns 6,7 instead of the stale values */
    int buffer_obs_tenths;  /* defect 16: training row 1 in s/10 like evaluation */
} EnvConfig;

/* Element types of the checkpoint table. */
typedef enum { ENV_T_I32 = 0, ENV_T_F64 = 1, ENV_T_F32 = 2, ENV_T_U64 = 3, ENV_T_U8 = 4 } EnvType;

typedef struct {
    const char *name; /* dataset name, e.g. "t_last" */
    void *data;       /* n_envs * per_env elements, env-major */
    EnvType type;
    int per_env;      /* elements per environment */
} EnvField;

#define ENV_MAX_FIELDS 16

typedef struct {
    EnvConfig cfg;
    int n;

    /* ---- mutable state: everything below up to the outputs is in `fields` ---- */
    int32_t *trace;     /* (n) index into cfg.traces */
    int32_t *ptr;       /* (n) current segment, 1 <= ptr <= M-1 */
    double *t_last;     /* (n) trace time, s */
    double *buffer_ms;  /* (n) */
    int32_t *chunk;     /* (n) k: chunks downloaded in this video = next chunk index */
    int32_t *last_q;    /* (n) quality of the previous chunk */
    Rng *rng;           /* (n) RNG_ENV streams (4 x uint64 each) */
    Rng *rng_q;         /* (n) RNG_QUALITY streams */
    float *obs;         /* (n, 48) row-major, index 8*row + col; network input */
    AbrObs *abr;        /* (n) evaluation variant: the OptiVerse observation of the last
                           reset/step (after auto-reset: of the reset) */
    int32_t *content;   /* (n) per-env content (all equal to cfg.content unless changed) */

    /* ---- per-step outputs of the last env_step (describe the step, not the reset) ---- */
    double *reward;
    double *bitrate_reward;  /* positive term */
    double *rebuf_penalty;   /* positive number (weight * rebuffer_s) */
    double *smooth_penalty;  /* positive number */
    double *delay_ms;
    double *sleep_ms;        /* residual sleep (defect 14 quirk) */
    double *sleep_total_ms;  /* full sleep (defect 14 option) */
    double *buffer_s;        /* after the step; 0 at the end of a video */
    double *rebuf_s;
    double *chunk_bytes;
    double *chunk_bytes_per_time; /* chunk_bytes / delay_ms / 1000 (MB/s) */
    int32_t *action;
    int32_t *chunk_index;    /* index of the chunk downloaded by the step */
    uint8_t *done;           /* 1 on the last chunk of a video */

    int n_fields;
    EnvField fields[ENV_MAX_FIELDS];

    /* derived at create (constant): per-content bitrate reward (training) and float32 row-4
     * values size[q][k] / 1e6, so the step does no log() and no per-level division */
    double br_table[ENV_N_CONTENT][ABR_LEVELS];
    float next_mb[ABR_CHUNKS][ABR_LEVELS];
} EnvBatch;

const char *env_content_name(EnvContent c);
int env_content_parse(const char *s); /* -1 if unknown */

/* Refuses data that would make one download loop for hours: a trace whose payload per pass
 * or duration is tiny against the largest chunk of the video. Names the trace. env_create
 * calls it. */
int env_check_data(const TraceSet *ts, const Video *v, PmError *err);

/* Allocates and seeds the streams; no trace is chosen yet (call env_reset_all). NULL + err
 * on a bad configuration. */
EnvBatch *env_create(const EnvConfig *cfg, PmError *err);
void env_free(EnvBatch *b);

/* For every env: construction (trace = randint(0, n_traces), ptr = randint(1, M),
 * t_last = time[ptr-1], k = 0, buffer 0, one initial-quality draw) then reset(). */
void env_reset_all(EnvBatch *b);

/* reset() of env i (section 7): buffer 0, k 0, initial quality (random in training, 1 in
 * evaluation), obs zeroed, chunk 0 downloaded at that quality (no reward), obs filled.
 * Continues on the current trace/offset. */
void env_reset(EnvBatch *b, int i);

/* One chunk for every env, actions[i] in 0..5 (checked; a bad action dies). Fills the
 * output arrays; in auto-reset mode resets envs that finished. */
void env_step(EnvBatch *b, const int *actions);

/* Content of every env (reward weights only; takes effect at the next step). */
void env_set_content(EnvBatch *b, EnvContent content);

/* The trainer's content switch (section 11): set content, then (reseed = 1, faithful, defect
 * 9) re-seed every env's RNG_ENV stream (numpy in the reference: traces, offsets, delay noise)
 * to its initial state while the RNG_QUALITY stream (Python's `random`) runs on, or (reseed =
 * 0) keep both running, then env_reset_all. */
void env_recreate(EnvBatch *b, EnvContent content, int reseed);

/* Replay / tests: put env i at trace `trace`, pointer `ptr` (1..M-1), t_last = time[ptr-1],
 * buffer 0, chunk 0, last quality q, obs zeroed, WITHOUT the reset download. 0 or -1 + err. */
int env_set_state(EnvBatch *b, int i, int trace, int ptr, int last_q, PmError *err);

/* Checks restored state (a checkpoint's) against the loaded traces and the simulator's
 * ranges: trace index, segment pointer, chunk index, quality, content, finite times, buffer
 * and observation, live random streams. 0, or -1 with err "FIELD: element I is ...". */
int env_check_state(const EnvBatch *b, PmError *err);

/* Observation of env i, (48) floats. */
static inline const float *env_obs(const EnvBatch *b, int i) { return b->obs + (size_t)i * ABR_OBS_DIM; }

/* Per-level bitrate reward of section 8 for content c (w_b ln(R/1000+0.7) - 0.01/(R/1000)). */
double env_bitrate_reward(EnvContent c, int q);

size_t env_type_size(EnvType t);
#endif
