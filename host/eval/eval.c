/* eval.c: see eval.h. Mirrors `process()` of PA-MoE's pipeline.py: act on the observation
 * of the last reset/step, sum the env's reward terms over the 47 steps, divide by 47. */
#include "eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

const char *const EVAL_METRIC_NAMES[EVAL_N_METRICS] = {
    "qoe", "bitrate_reward", "rebuffer_reward", "rebuffer_time", "smooth_penalty_reward", "smooth"};
const char *const EVAL_METRIC_LABELS[EVAL_N_METRICS] = {
    "QoE", "Bitrate Reward", "Rebuffer Reward", "Rebuffer Time", "Smooth Penalty Reward", "Smooth"};
const char *const EVAL_METRIC_UNITS[EVAL_N_METRICS] = {
    "QoE per chunk (Mbps-equivalent)", "Mbps per chunk", "QoE per chunk (-4.3 x s)",
    "s of stall per chunk", "QoE per chunk (-Mbps)", "Mbps of |bitrate change| per chunk"};

#define EVAL_REBUF_PENALTY 4.3
#define EVAL_SMOOTH_PENALTY 1.0

static void to_f32(AbrObs *o) {
    /* OptiVerse returns delay/sleep/buffer/rebuffer as float32 and sizes as int32 */
    o->delay_ms = (float)o->delay_ms;
    o->sleep_time_ms = (float)o->sleep_time_ms;
    o->buffer_size_ms = (float)o->buffer_size_ms;
    o->rebuffer_ms = (float)o->rebuffer_ms;
}

int eval_run(const EvalConfig *cfg, Agent *agent, EvalResult *out, PmError *err) {
    memset(out, 0, sizeof *out);
    int n = cfg->all_traces ? cfg->traces->n : cfg->sessions;
    if (n <= 0) return pm_error(err, "eval: no sessions to run");
    EnvConfig ec = {0};
    ec.variant = ENV_EVALUATION;
    ec.seed = cfg->seed;
    ec.bw_scale = 0;
    ec.delay_noise = 1;
    ec.n_envs = 1;
    ec.first_index = 0;
    ec.auto_reset = 0;
    ec.traces = cfg->traces;
    ec.video = cfg->video;
    EnvBatch *env = env_create(&ec, err);
    if (!env) return -1;
    out->sessions = n;
    for (int m = 0; m < EVAL_N_METRICS; m++) out->metric[m] = xcalloc(n, sizeof(double));
    out->trace = xcalloc(n, sizeof(int32_t));
    out->start_ptr = xcalloc(n, sizeof(int32_t));
    out->actions = xcalloc((size_t)n * EVAL_STEPS, 1);
    if (cfg->measure_latency) out->latency_ms = xcalloc((size_t)n * EVAL_STEPS, sizeof(double));

    /* Construction draws the first trace and start pointer (environment.md 5). */
    if (!cfg->all_traces) env_reset_all(env);
    for (int s = 0; s < n; s++) {
        if (cfg->all_traces) {
            if (env_set_state(env, 0, s, 1, 1, err)) {
                env_free(env);
                eval_result_free(out);
                return -1;
            }
        }
        out->trace[s] = env->trace[0];
        out->start_ptr[s] = env->ptr[0];
        if (cfg->all_traces || s > 0) env_reset(env, 0);
        agent_reset(agent);
        double sum_r = 0, sum_b = 0, sum_reb = 0, sum_sm = 0;
        int steps = 0;
        for (;;) {
            AbrObs obs = env->abr[0];
            if (cfg->f32_obs && !agent->raw_obs) to_f32(&obs);
            double t0 = cfg->measure_latency ? now_seconds() : 0;
            int a = agent_act(agent, &obs);
            if (cfg->measure_latency)
                out->latency_ms[(size_t)s * EVAL_STEPS + steps] = (now_seconds() - t0) * 1e3;
            if (a < 0 || a >= ABR_LEVELS) {
                pm_error(err, "agent '%s' returned quality %d (not in 0..5)", agent->label, a);
                env_free(env);
                eval_result_free(out);
                return -1;
            }
            env_step(env, &a);
            out->actions[(size_t)s * EVAL_STEPS + steps] = (uint8_t)a;
            sum_r += env->reward[0];
            sum_b += env->bitrate_reward[0];
            sum_reb += -env->rebuf_penalty[0];
            sum_sm += -env->smooth_penalty[0];
            steps++;
            if (env->done[0]) break;
        }
        out->metric[EVAL_QOE][s] = sum_r / steps;
        out->metric[EVAL_BITRATE_REWARD][s] = sum_b / steps;
        out->metric[EVAL_REBUFFER_REWARD][s] = sum_reb / steps;
        out->metric[EVAL_REBUFFER_TIME][s] = (sum_reb < 0 ? -sum_reb : sum_reb) / steps / EVAL_REBUF_PENALTY;
        out->metric[EVAL_SMOOTH_PENALTY_REWARD][s] = sum_sm / steps;
        out->metric[EVAL_SMOOTH][s] = (sum_sm < 0 ? -sum_sm : sum_sm) / steps / EVAL_SMOOTH_PENALTY;
    }
    env_free(env);
    return 0;
}

void eval_result_free(EvalResult *r) {
    if (!r) return;
    for (int m = 0; m < EVAL_N_METRICS; m++) free(r->metric[m]);
    free(r->trace);
    free(r->start_ptr);
    free(r->actions);
    free(r->latency_ms);
    memset(r, 0, sizeof *r);
}

/* see eval.h */
AgentVideo eval_agent_video(const char *dir, const Video *v, double *sizes) {
    int n = v->n_chunks > ABR_CHUNKS ? ABR_CHUNKS + 1 : ABR_CHUNKS;
    double extra[ABR_LEVELS];
    for (int q = 0; q < ABR_LEVELS && n > ABR_CHUNKS; q++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/video_size_%d", dir, q);
        FILE *f = fopen(path, "r");
        char line[256];
        int ok = 0;
        for (int i = 0; f && i <= ABR_CHUNKS && fgets(line, sizeof line, f); i++)
            if (i == ABR_CHUNKS) ok = sscanf(line, "%lf", &extra[q]) == 1 && extra[q] > 0;
        if (f) fclose(f);
        if (!ok) n = ABR_CHUNKS;
    }
    for (int q = 0; q < ABR_LEVELS; q++) {
        for (int i = 0; i < ABR_CHUNKS; i++) sizes[q * n + i] = v->size[q][i];
        if (n > ABR_CHUNKS) sizes[q * n + ABR_CHUNKS] = extra[q];
    }
    AgentVideo av = {sizes, n};
    return av;
}

