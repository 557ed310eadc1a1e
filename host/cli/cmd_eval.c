/* cmd_eval.c: `pamoe eval`, the evaluation protocol of baselines.md 1 for one or more
 * agents (eval.h), a summary table on stdout (mean, IQM, bootstrap CI, Student-t
 * half-width as in the reference plots) and the per-session values in HDF5. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "cli.h"
#include "eval.h"
#include "h5util.h"
#include "numparse.h"
#include "stats.h"

#define EVAL_MAX_AGENTS 16

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Default test traces and video: the real ones installed by `pamoe import-reference` when
 * both are there, else the committed synthetic pair, so the same command runs on a fresh
 * clone and on the paper's data, and never mixes real chunk sizes with synthetic traces
 * (an import without --optiverse has the video but not the test traces). */
static void default_data(const char **traces, const char **video) {
    int real = is_dir("data/reference/traces/test") && is_dir("data/reference/video");
    *traces = real ? "data/reference/traces/test" : "data/traces/test";
    *video = real ? "data/reference/video" : "data/video";
}

typedef struct {
    double mean, iqm, lo, hi, hw;
} Summary;

static Summary summarize(const double *x, int n, int resamples, uint64_t seed) {
    Summary s;
    s.mean = stats_mean(x, n);
    s.iqm = stats_iqm(x, n);
    stats_bootstrap_ci(x, n, resamples, 0.95, seed, &s.lo, &s.hi);
    s.hw = n > 1 ? stats_t_halfwidth95(x, n) : 0.0;
    return s;
}

/* Groups and datasets without modification times, so files are byte-identical for a seed. */
static hid_t group_create(hid_t parent, const char *name) {
    hid_t p = H5Pcreate(H5P_GROUP_CREATE);
    H5_CHECK(H5Pset_obj_track_times(p, 0));
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, p, H5P_DEFAULT);
    H5_CHECK(g);
    H5Pclose(p);
    return g;
}

/* Dataset `name` of g written from data, with a "units" attribute when units is not NULL;
 * returned open for more attributes (-1 + err on failure). */
static hid_t dataset_write(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims,
                           const void *data, const char *units, PmError *err) {
    hid_t d = h5u_create(g, name, type, rank, dims, H5U_NO_TIMES, NULL, err);
    if (d >= 0 && (h5u_write_from(d, type, H5S_ALL, data, NULL, err) ||
                   (units && h5u_attr_str(d, "units", units, NULL, err)))) {
        H5Dclose(d);
        d = -1;
    }
    return d;
}

/* dataset_write and close */
static int dataset_put(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims,
                       const void *data, const char *units, PmError *err) {
    hid_t d = dataset_write(g, name, type, rank, dims, data, units, err);
    return d < 0 ? -1 : H5Dclose(d);
}

static int attr_i64(hid_t obj, const char *name, int64_t v, PmError *err) {
    return h5u_attr_write(obj, name, H5T_NATIVE_INT64, -1, &v, NULL, err);
}

typedef struct {
    const char *traces_dir, *video_dir, *agents, *mode;
    long long sessions, seed, resamples;
    int f32_obs, latency, n_traces;
    const TraceSet *ts;
} EvalRun;

static int write_h5(const char *out, const EvalRun *run, Agent **agents, EvalResult *res,
                    int n_agents) {
    PmError err;
    hid_t f = h5u_create_tmp(out, H5P_DEFAULT, NULL, &err);
    if (f < 0) {
        fprintf(stderr, "pamoe eval: %s\n", err.msg);
        return -1;
    }
    hid_t cfg = group_create(f, "config");
    int rc = h5u_attr_str(cfg, "command", "eval", NULL, &err) ||
             h5u_attr_str(cfg, "agents", run->agents, NULL, &err) ||
             h5u_attr_str(cfg, "traces", run->traces_dir, NULL, &err) ||
             h5u_attr_str(cfg, "video_dir", run->video_dir, NULL, &err) ||
             h5u_attr_str(cfg, "session_mode", run->mode, NULL, &err) ||
             h5u_attr_str(cfg, "env", "OptiVerse VideoStreaming-v0 (spec environment.md 12): raw bandwidth, "
                                      "all traces sorted by name, initial quality 1", NULL, &err) ||
             h5u_attr_str(cfg, "qoe", "R/1000 - 4.3*rebuffer_s - 1*|R - R_prev|/1000", NULL, &err) ||
             h5u_attr_str(cfg, "observation", run->f32_obs ? "float32-rounded (OptiVerse dict)" : "float64",
                          NULL, &err) ||
             attr_i64(cfg, "sessions", run->sessions, &err) || attr_i64(cfg, "seed", run->seed, &err) ||
             attr_i64(cfg, "bootstrap_resamples", run->resamples, &err) ||
             attr_i64(cfg, "n_traces", run->n_traces, &err) || attr_i64(cfg, "steps_per_session", EVAL_STEPS, &err);
    H5Gclose(cfg);

    /* trace names, index = the per-session `trace` datasets */
    if (!rc) {
        hid_t st = h5u_str_type();
        const char **names = xmalloc(sizeof(char *) * run->ts->n);
        for (int i = 0; i < run->ts->n; i++) names[i] = run->ts->traces[i].name;
        hsize_t dims[1] = {(hsize_t)run->ts->n};
        rc = dataset_put(f, "trace_names", st, 1, dims, names, NULL, &err);
        free(names);
        H5Tclose(st);
    }
    hid_t ag = group_create(f, "agents");
    for (int a = 0; a < n_agents && !rc; a++) {
        hid_t g = group_create(ag, agents[a]->label);
        rc = h5u_attr_str(g, "spec", agents[a]->label, NULL, &err);
        hsize_t dims[2] = {(hsize_t)res[a].sessions, EVAL_STEPS};
        for (int m = 0; m < EVAL_N_METRICS && !rc; m++) {
            hid_t d = dataset_write(g, EVAL_METRIC_NAMES[m], H5T_NATIVE_DOUBLE, 1, dims, res[a].metric[m],
                                    EVAL_METRIC_UNITS[m], &err);
            if (d < 0) { rc = -1; break; }
            Summary s = summarize(res[a].metric[m], res[a].sessions, (int)run->resamples,
                                  (uint64_t)run->seed);
            rc = h5u_attr_str(d, "reference_name", EVAL_METRIC_LABELS[m], NULL, &err) ||
                 h5u_attr_write(d, "mean", H5T_NATIVE_DOUBLE, -1, &s.mean, NULL, &err) ||
                 h5u_attr_write(d, "iqm", H5T_NATIVE_DOUBLE, -1, &s.iqm, NULL, &err) ||
                 h5u_attr_write(d, "bootstrap95_lo", H5T_NATIVE_DOUBLE, -1, &s.lo, NULL, &err) ||
                 h5u_attr_write(d, "bootstrap95_hi", H5T_NATIVE_DOUBLE, -1, &s.hi, NULL, &err) ||
                 h5u_attr_write(d, "t95_halfwidth", H5T_NATIVE_DOUBLE, -1, &s.hw, NULL, &err);
            H5Dclose(d);
        }
        if (!rc)
            rc = dataset_put(g, "trace", H5T_NATIVE_INT32, 1, dims, res[a].trace, "index into /trace_names", &err) ||
                 dataset_put(g, "start_ptr", H5T_NATIVE_INT32, 1, dims, res[a].start_ptr,
                             "trace sample index before the reset download", &err) ||
                 dataset_put(g, "actions", H5T_NATIVE_UINT8, 2, dims, res[a].actions,
                             "quality 0..5 of chunks 1..47", &err);
        if (!rc && res[a].latency_ms) {
            hsize_t ld[1] = {(hsize_t)res[a].sessions * EVAL_STEPS};
            rc = dataset_put(g, "latency_ms", H5T_NATIVE_DOUBLE, 1, ld, res[a].latency_ms, "ms per decision", &err);
        }
        H5Gclose(g);
    }
    H5Gclose(ag);
    if (h5u_commit(f, out, !rc, NULL, &err)) {
        fprintf(stderr, "pamoe eval: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void print_summary(const EvalRun *run, Agent **agents, EvalResult *res, int n_agents) {
    printf("pamoe eval: %lld sessions (%s), seed %lld, traces %s (%d files), video %s\n",
           run->sessions, run->mode[0] == 'a' ? "every trace once from its start"
                                              : "traces drawn with replacement, random start",
           run->seed, run->traces_dir, run->n_traces, run->video_dir);
    printf("%-32s %-22s %10s %10s %10s %10s %10s\n", "agent", "metric", "mean", "iqm",
           "boot95_lo", "boot95_hi", "t95_hw");
    for (int a = 0; a < n_agents; a++) {
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            Summary s = summarize(res[a].metric[m], res[a].sessions, (int)run->resamples,
                                  (uint64_t)run->seed);
            printf("%-32s %-22s %10.4f %10.4f %10.4f %10.4f %10.4f\n", agents[a]->label,
                   EVAL_METRIC_NAMES[m], s.mean, s.iqm, s.lo, s.hi, s.hw);
        }
        if (res[a].latency_ms) {
            int n = res[a].sessions * EVAL_STEPS;
            double *l = xmalloc(sizeof(double) * n);
            memcpy(l, res[a].latency_ms, sizeof(double) * n);
            stats_sort(l, n);
            printf("%-32s latency ms: mean %.6f p50 %.6f p95 %.6f\n", agents[a]->label,
                   stats_mean(l, n), stats_quantile_sorted(l, n, 0.5),
                   stats_quantile_sorted(l, n, 0.95));
            free(l);
        }
    }
}

static void print_agents(FILE *f) {
    fprintf(f, "\nagents (--agent SPEC, SPEC = name[:option[=value]...], e.g. bb:pensieve, rb:reset,\n"
               "mpc:variant=pensieve:offbyone=0; an option that is not a flag needs its =value):\n");
    agent_print_help(f);
}

static int set_sessions(void *ctx, const char *v, PmError *err) {
    EvalRun *run = ctx;
    if (!strcmp(v, "all")) { run->mode = "all"; return 0; }
    long long n;
    if (pm_parse_ll(v, &n) || n < 1 || n > 10000000)
        return pm_error(err, "'%s' is not an integer in 1..10000000 or 'all'", v);
    run->sessions = n;
    run->mode = "sample";
    return 0;
}

int cmd_eval(int argc, char **argv) {
    EvalRun run = {0};
    run.agents = "bb,rb,mpc";
    default_data(&run.traces_dir, &run.video_dir);
    run.sessions = 300;
    run.seed = 0;
    run.resamples = 2000;
    run.mode = "sample";
    const char *out = NULL;
    int obs_f64 = 0, force = 0;
    const CliOpt opts[] = {
        {"--agent", "SPEC[,SPEC...]", CLI_STR, &run.agents, .help = "comma-separated agents (default bb,rb,mpc); see the list below"},
        {"--traces", "DIR", CLI_STR, &run.traces_dir, .help = "trace directory (default data/reference/traces/test, the real\ntest traces installed by pamoe import-reference, when it and\ndata/reference/video exist, else the synthetic data/traces/test)"},
        {"--video-dir", "DIR", CLI_STR, &run.video_dir, .help = "video_size_0..5 (default data/reference/video, or data/video\nwith the synthetic traces)"},
        {"--sessions", "N|all", CLI_CALL, NULL, .help = "sessions per agent (default 300), or 'all'", .call = set_sessions},
        {"--seed", "S", CLI_LONG, &run.seed, .help = "environment seed (default 0); also seeds the bootstrap", .min = 0, .max = INT64_MAX},
        {"--out", "FILE.h5", CLI_STR, &out, .help = "write /config and /agents/<spec>/<metric> datasets (HDF5); an existing\nFILE is refused"},
        {"--force", NULL, CLI_FLAG, &force, .help = "replace an existing --out FILE"},
        {"--bootstrap", "N", CLI_LONG, &run.resamples, .help = "bootstrap resamples for the 95% CI of the mean (default 2000)", .min = 1, .max = 1000000},
        {"--obs-f64", NULL, CLI_FLAG, &obs_f64, .help = "give agents double observations (default: float32-rounded\ndelay/buffer/rebuffer, as OptiVerse's observation dict)"},
        {"--latency", NULL, CLI_FLAG, &run.latency, .help = "time each decision; adds mean/p50/p95 ms to stdout and HDF5\n(makes the output vary between runs)"},
    };
    const CliCommand cmd = {
        "eval", "[--agent SPEC[,SPEC...]] [--traces DIR] [--video-dir DIR]\n"
                "[--sessions N|all] [--seed S] [--out FILE.h5] [--bootstrap N]\n[--obs-f64] [--latency]",
        "Runs the PA-MoE evaluation protocol (docs/eval.md) for each agent: a fresh\n"
        "OptiVerse-style environment (raw bandwidth, linear QoE R/1000 - 4.3 rebuf_s -\n"
        "|dR|/1000, initial quality 1) seeded with S, so all agents see the same traces,\n"
        "start offsets and delay noise; N sessions of reset + 47 steps, traces drawn with\n"
        "replacement from the sorted directory, random start. --sessions all plays every\n"
        "trace once from its start instead.",
        opts, PM_ARRAY_LEN(opts),
        "Per-session metrics (each divided by the 47 steps): qoe, bitrate_reward (Mbps),\n"
        "rebuffer_reward, rebuffer_time (s/chunk), smooth_penalty_reward, smooth (Mbps).\n",
        print_agents};
    int rc = cli_parse(&cmd, argc, argv, &run);
    if (rc != CLI_RUN) return rc;
    run.f32_obs = !obs_f64;
    int all = !strcmp(run.mode, "all");
    if (out && cli_may_write("eval", out, force)) return 1;

    PmError err;
    TraceSet *ts = trace_set_load_dir(run.traces_dir, 1.0, TRACE_HYBRID, &err);
    if (!ts) {
        fprintf(stderr, "pamoe eval: --traces: %s\n", err.msg);
        return 1;
    }
    Video video;
    if (video_load_dir(run.video_dir, &video, &err)) {
        fprintf(stderr, "pamoe eval: --video-dir: %s\n", err.msg);
        trace_set_free(ts);
        return 1;
    }
    run.ts = ts;
    run.n_traces = ts->n;
    if (all) run.sessions = ts->n;
    double sizes[ABR_LEVELS * (ABR_CHUNKS + 1)];
    AgentVideo av = eval_agent_video(run.video_dir, &video, sizes);

    /* Build every agent first so a bad spec fails before any work. */
    Agent *agents[EVAL_MAX_AGENTS];
    EvalResult res[EVAL_MAX_AGENTS];
    int n_agents = 0;
    rc = 0;
    size_t alen = strlen(run.agents);
    if (run.agents[0] == ',' || run.agents[alen - 1] == ',' || strstr(run.agents, ",,")) {
        fprintf(stderr, "pamoe eval: --agent: '%s' has an empty element\n", run.agents);
        trace_set_free(ts);
        return 2;
    }
    char *list = xstrdup(run.agents);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_agents >= EVAL_MAX_AGENTS) {
            fprintf(stderr, "pamoe eval: --agent: at most %d agents\n", EVAL_MAX_AGENTS);
            rc = 2;
            break;
        }
        Agent *ag = agent_create(tok, &av, &err);
        if (!ag) {
            fprintf(stderr, "pamoe eval: --agent: %s\n", err.msg);
            rc = 2;
            break;
        }
        if (strchr(ag->label, '/') || !strcmp(ag->label, ".")) { /* the label names an HDF5 group */
            fprintf(stderr, "pamoe eval: --agent: '%s' may not contain '/'\n", ag->label);
            agent_free(ag);
            rc = 2;
            break;
        }
        for (int a = 0; a < n_agents && !rc; a++)
            if (!strcmp(agents[a]->label, ag->label)) {
                fprintf(stderr, "pamoe eval: --agent: '%s' given twice\n", ag->label);
                rc = 2;
            }
        if (rc) { agent_free(ag); break; }
        agents[n_agents++] = ag;
    }
    free(list);
    if (!rc && n_agents == 0) {
        fprintf(stderr, "pamoe eval: --agent: no agent given\n");
        rc = 2;
    }
    int n_done = 0;
    if (!rc) {
        EvalConfig ec = {ts, &video, (uint64_t)run.seed, (int)run.sessions, all, run.f32_obs,
                         run.latency};
        for (int a = 0; a < n_agents && !rc; a++, n_done++)
            if (eval_run(&ec, agents[a], &res[a], &err)) {
                fprintf(stderr, "pamoe eval: %s\n", err.msg);
                rc = 1;
            }
        if (!rc) {
            print_summary(&run, agents, res, n_agents);
            if (out && write_h5(out, &run, agents, res, n_agents)) rc = 1;
            else if (out) printf("wrote %s\n", out);
        }
    }
    for (int a = 0; a < n_done; a++) eval_result_free(&res[a]);
    for (int a = 0; a < n_agents; a++) agent_free(agents[a]);
    trace_set_free(ts);
    return rc;
}
