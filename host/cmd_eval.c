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
#include "stats.h"

#define H5_CHECK(x)                                                      \
    do {                                                                 \
        if ((x) < 0) {                                                   \
            H5Eprint2(H5E_DEFAULT, stderr);                              \
            check_die(__FILE__, __LINE__, #x, "HDF5 call failed");       \
        }                                                                \
    } while (0)

#define EVAL_MAX_AGENTS 16

static void usage(FILE *f) {
    fprintf(f,
        "usage: pamoe eval [--agent SPEC[,SPEC...]] [--traces DIR] [--video-dir DIR]\n"
        "                  [--sessions N|all] [--seed S] [--out FILE.h5] [--bootstrap N]\n"
        "                  [--obs-f64] [--latency]\n\n"
        "Runs the PA-MoE evaluation protocol (spec baselines.md 1) for each agent: a fresh\n"
        "OptiVerse-style environment (raw bandwidth, linear QoE R/1000 - 4.3 rebuf_s -\n"
        "|dR|/1000, initial quality 1) seeded with S, so all agents see the same traces,\n"
        "start offsets and delay noise; N sessions of reset + 47 steps, traces drawn with\n"
        "replacement from the sorted directory, random start. --sessions all plays every\n"
        "trace once from its start instead.\n\n"
        "  --agent SPEC     comma-separated agents (default bb,rb,mpc); SPEC is\n"
        "                   name[:option[=value]...], e.g. bb:pensieve, rb:reset,\n"
        "                   mpc:variant=pensieve:offbyone=0. Agents:\n");
    agent_print_help(f);
    fprintf(f,
        "  --traces DIR     trace directory (default ../shared/data/traces/test if present,\n"
        "                   else data/traces/test)\n"
        "  --video-dir DIR  video_size_0..5 (default ../shared/data/video, else data/video)\n"
        "  --sessions N     sessions per agent (default 300), or 'all'\n"
        "  --seed S         environment seed (default 0); also seeds the bootstrap\n"
        "  --out FILE       write /config and /agents/<spec>/<metric> datasets (HDF5)\n"
        "  --bootstrap N    bootstrap resamples for the 95%% CI of the mean (default 2000)\n"
        "  --obs-f64        give agents double observations (default: float32-rounded\n"
        "                   delay/buffer/rebuffer, as OptiVerse's observation dict)\n"
        "  --latency        time each decision; adds mean/p50/p95 ms to stdout and HDF5\n"
        "                   (makes the output vary between runs)\n\n"
        "Per-session metrics (each divided by the 47 steps): qoe, bitrate_reward (Mbps),\n"
        "rebuffer_reward, rebuffer_time (s/chunk), smooth_penalty_reward, smooth (Mbps).\n");
}

static const char *default_dir(const char *shared, const char *local) {
    struct stat st;
    return stat(shared, &st) == 0 && S_ISDIR(st.st_mode) ? shared : local;
}

static int parse_long(const char *opt, const char *s, long long lo, long long hi,
                      long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "pamoe eval: %s: '%s' is not an integer in %lld..%lld\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
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

static void attr_str(hid_t obj, const char *name, const char *val) {
    /* variable-length UTF-8: h5py reads it as str */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_CHECK(t);
    H5_CHECK(H5Tset_size(t, H5T_VARIABLE));
    H5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, t, &val));
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_num(hid_t obj, const char *name, hid_t type, const void *val) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, type, val));
    H5Aclose(a);
    H5Sclose(sp);
}

/* Object creation property lists without modification times, so files are byte-identical
 * for a seed. */
static hid_t dcpl_no_times(void) {
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(H5Pset_obj_track_times(p, 0));
    return p;
}

static hid_t group_create(hid_t parent, const char *name) {
    hid_t p = H5Pcreate(H5P_GROUP_CREATE);
    H5_CHECK(H5Pset_obj_track_times(p, 0));
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, p, H5P_DEFAULT);
    H5_CHECK(g);
    H5Pclose(p);
    return g;
}

static hid_t dataset_write(hid_t g, const char *name, hid_t mem_type, hid_t file_type,
                           int rank, const hsize_t *dims, const void *data, const char *units) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t p = dcpl_no_times();
    hid_t d = H5Dcreate2(g, name, file_type, sp, H5P_DEFAULT, p, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    if (units) attr_str(d, "units", units);
    H5Pclose(p);
    H5Sclose(sp);
    return d;
}

typedef struct {
    const char *traces_dir, *video_dir, *agents, *mode;
    long long sessions, seed, resamples;
    int f32_obs, latency, n_traces;
    const TraceSet *ts;
} EvalRun;

static int write_h5(const char *out, const EvalRun *run, Agent **agents, EvalResult *res,
                    int n_agents) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (f < 0) {
        fprintf(stderr, "pamoe eval: %s: cannot create the output file\n", tmp);
        return -1;
    }
    hid_t cfg = group_create(f, "config");
    attr_str(cfg, "command", "eval");
    attr_str(cfg, "agents", run->agents);
    attr_str(cfg, "traces", run->traces_dir);
    attr_str(cfg, "video_dir", run->video_dir);
    attr_str(cfg, "session_mode", run->mode);
    attr_str(cfg, "env", "OptiVerse VideoStreaming-v0 (spec environment.md 12): raw bandwidth, "
                         "all traces sorted by name, initial quality 1");
    attr_str(cfg, "qoe", "R/1000 - 4.3*rebuffer_s - 1*|R - R_prev|/1000");
    attr_str(cfg, "observation", run->f32_obs ? "float32-rounded (OptiVerse dict)" : "float64");
    int64_t v64 = run->sessions;
    attr_num(cfg, "sessions", H5T_NATIVE_INT64, &v64);
    v64 = run->seed;
    attr_num(cfg, "seed", H5T_NATIVE_INT64, &v64);
    v64 = run->resamples;
    attr_num(cfg, "bootstrap_resamples", H5T_NATIVE_INT64, &v64);
    v64 = run->n_traces;
    attr_num(cfg, "n_traces", H5T_NATIVE_INT64, &v64);
    v64 = EVAL_STEPS;
    attr_num(cfg, "steps_per_session", H5T_NATIVE_INT64, &v64);
    H5Gclose(cfg);

    /* trace names, index = the per-session `trace` datasets */
    {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5_CHECK(H5Tset_size(st, H5T_VARIABLE));
        H5_CHECK(H5Tset_cset(st, H5T_CSET_UTF8));
        const char **names = xmalloc(sizeof(char *) * run->ts->n);
        for (int i = 0; i < run->ts->n; i++) names[i] = run->ts->traces[i].name;
        hsize_t dims[1] = {(hsize_t)run->ts->n};
        H5Dclose(dataset_write(f, "trace_names", st, st, 1, dims, names, NULL));
        free(names);
        H5Tclose(st);
    }
    hid_t ag = group_create(f, "agents");
    for (int a = 0; a < n_agents; a++) {
        hid_t g = group_create(ag, agents[a]->label);
        attr_str(g, "spec", agents[a]->label);
        hsize_t dims[2] = {(hsize_t)res[a].sessions, EVAL_STEPS};
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            hid_t d = dataset_write(g, EVAL_METRIC_NAMES[m], H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1,
                                    dims, res[a].metric[m], EVAL_METRIC_UNITS[m]);
            attr_str(d, "reference_name", EVAL_METRIC_LABELS[m]);
            Summary s = summarize(res[a].metric[m], res[a].sessions, (int)run->resamples,
                                  (uint64_t)run->seed);
            attr_num(d, "mean", H5T_NATIVE_DOUBLE, &s.mean);
            attr_num(d, "iqm", H5T_NATIVE_DOUBLE, &s.iqm);
            attr_num(d, "bootstrap95_lo", H5T_NATIVE_DOUBLE, &s.lo);
            attr_num(d, "bootstrap95_hi", H5T_NATIVE_DOUBLE, &s.hi);
            attr_num(d, "t95_halfwidth", H5T_NATIVE_DOUBLE, &s.hw);
            H5Dclose(d);
        }
        H5Dclose(dataset_write(g, "trace", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dims,
                               res[a].trace, "index into /trace_names"));
        H5Dclose(dataset_write(g, "start_ptr", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dims,
                               res[a].start_ptr, "trace sample index before the reset download"));
        H5Dclose(dataset_write(g, "actions", H5T_NATIVE_UINT8, H5T_STD_U8LE, 2, dims,
                               res[a].actions, "quality 0..5 of chunks 1..47"));
        if (res[a].latency_ms) {
            hsize_t ld[1] = {(hsize_t)res[a].sessions * EVAL_STEPS};
            H5Dclose(dataset_write(g, "latency_ms", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, ld,
                                   res[a].latency_ms, "ms per decision"));
        }
        H5Gclose(g);
    }
    H5Gclose(ag);
    H5_CHECK(H5Fclose(f));
    if (rename(tmp, out)) {
        fprintf(stderr, "pamoe eval: cannot rename %s to %s: %s\n", tmp, out, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
            qsort(l, n, sizeof(double), cmp_double);
            printf("%-32s latency ms: mean %.6f p50 %.6f p95 %.6f\n", agents[a]->label,
                   stats_mean(l, n), stats_quantile_sorted(l, n, 0.5),
                   stats_quantile_sorted(l, n, 0.95));
            free(l);
        }
    }
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    EvalRun run = {0};
    run.agents = "bb,rb,mpc";
    run.traces_dir = default_dir("../shared/data/traces/test", "data/traces/test");
    run.video_dir = default_dir("../shared/data/video", "data/video");
    run.sessions = 300;
    run.seed = 0;
    run.resamples = 2000;
    run.f32_obs = 1;
    run.mode = "sample";
    const char *out = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--obs-f64")) {
            run.f32_obs = 0;
            continue;
        }
        if (!strcmp(o, "--latency")) {
            run.latency = 1;
            continue;
        }
        if (strncmp(o, "--", 2) || !(!strcmp(o, "--agent") || !strcmp(o, "--traces") ||
                                     !strcmp(o, "--video-dir") || !strcmp(o, "--sessions") ||
                                     !strcmp(o, "--seed") || !strcmp(o, "--out") ||
                                     !strcmp(o, "--bootstrap"))) {
            fprintf(stderr, "pamoe eval: unknown option '%s' (see pamoe eval --help)\n", o);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "pamoe eval: %s needs a value\n", o);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--agent")) run.agents = v;
        else if (!strcmp(o, "--traces")) run.traces_dir = v;
        else if (!strcmp(o, "--video-dir")) run.video_dir = v;
        else if (!strcmp(o, "--out")) out = v;
        else if (!strcmp(o, "--sessions")) {
            if (!strcmp(v, "all")) all = 1;
            else if (parse_long(o, v, 1, 10000000, &run.sessions)) return 2;
        } else if (!strcmp(o, "--seed")) {
            if (parse_long(o, v, 0, INT64_MAX, &run.seed)) return 2;
        } else if (!strcmp(o, "--bootstrap")) {
            if (parse_long(o, v, 1, 1000000, &run.resamples)) return 2;
        }
    }
    if (all) run.mode = "all";

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
    int n_agents = 0, rc = 0;
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
