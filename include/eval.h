/* eval.h: the evaluation protocol of baselines.md 1 (PA-MoE `pipeline.py` on OptiVerse):
 * one fresh evaluation environment per agent (same seed, so every agent sees the same
 * traces, start offsets and delay-noise multipliers per chunk: common random numbers),
 * `sessions` sessions of reset + 47 steps, per-session metrics of section 1.5. */
#ifndef PAMOE_EVAL_H
#define PAMOE_EVAL_H
#include <stdint.h>

#include "agent.h"
#include "common.h"
#include "trace.h"
#include "video.h"

typedef enum {
    EVAL_QOE = 0,                /* mean r */
    EVAL_BITRATE_REWARD,         /* mean R/1000 */
    EVAL_REBUFFER_REWARD,        /* mean -4.3 * rebuffer_s */
    EVAL_REBUFFER_TIME,          /* |sum rebuffer reward| / steps / 4.3 */
    EVAL_SMOOTH_PENALTY_REWARD,  /* mean -|dR|/1000 */
    EVAL_SMOOTH,                 /* |sum smooth reward| / steps / 1 */
    EVAL_N_METRICS
} EvalMetric;

extern const char *const EVAL_METRIC_NAMES[EVAL_N_METRICS];  /* dataset names: "qoe", ... */
extern const char *const EVAL_METRIC_LABELS[EVAL_N_METRICS]; /* reference dict keys */
extern const char *const EVAL_METRIC_UNITS[EVAL_N_METRICS];

#define EVAL_STEPS (ABR_CHUNKS - 1)/* 47 steps per session (chunk 0 is the reset download) */

typedef struct {
    const TraceSet *traces; /* raw bandwidth (scale 1), all files ("hybrid") */
    const Video *video;
    uint64_t seed;
    int sessions;     /* sampled sessions; ignored when all_traces */
    int all_traces;   /* 1: every trace once, from its start (ptr 1), in sorted order */
    int f32_obs;      /* 1 (faithful): round the float fields of the observation to float32
                         as OptiVerse's dict does before agents see them */
    int measure_latency;
} EvalConfig;

typedef struct {
    int sessions;
    double *metric[EVAL_N_METRICS]; /* (sessions) each */
    int32_t *trace;                 /* (sessions) trace index of the session */
    int32_t *start_ptr;             /* (sessions) trace pointer before the reset download */
    uint8_t *actions;               /* (sessions, EVAL_STEPS) chosen qualities */
    double *latency_ms;             /* (sessions * EVAL_STEPS) when measured, else NULL */
} EvalResult;

/* The chunk-size table agents look ahead into (MPC), from a loaded video and its directory:
 * the 6 x 48 sizes plus the files' 49th line when every file has one (Pensieve's size tables
 * have it and its off-by-one MPC reads it; video.h keeps 48). `sizes` must hold
 * ABR_LEVELS * (ABR_CHUNKS + 1) doubles and outlive the returned view. */
AgentVideo eval_agent_video(const char *dir, const Video *v, double *sizes);

/* Runs the protocol for one agent (calls agent_reset at each session start). 0 or -1 + err. */
int eval_run(const EvalConfig *cfg, Agent *agent, EvalResult *out, PmError *err);
void eval_result_free(EvalResult *r);
#endif
