/* cmd_gen_traces.c: `pamoe gen-traces` writes synthetic Pensieve-format bandwidth traces and
 * a 6-level video size ladder, so the project trains and tests without the real data
 * (which may not be redistributed). The generator is deterministic for a seed.
 *
 * Trace model (per trace j, stream rng_seed(seed, RNG_GEN, j)), sampled every `period` s:
 *   trace level      L_j = exp(U[-spread, spread])          (per-trace multiplier)
 *   hidden state     s_t in 0..K-1, start uniform; each sample, with probability
 *                    `switch_prob`, jumps to a uniformly chosen OTHER state
 *   log-bandwidth    x_{t+1} = x_t + revert * (ln(mu[s_t] * L_j) - x_t) + noise * N(0,1)
 *   bandwidth        b_t = max(exp(x_t), min_bw) Mbps, except with probability `outage_prob`
 *                    an outage sample of exactly 0 (the real training traces have some)
 * Video ladder: size[q][k] = round(R[q] kbps * 4 s / 8 * 1000 * c_k * (1 + jit * u_qk)),
 *   c_k = U[1-var, 1+var) shared by all levels (scene complexity), u_qk = U[-1, 1). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abr.h"
#include "cli.h"
#include "numparse.h"
#include "rng.h"
#include "trace.h"
#include "video.h"

#define GEN_MAX_STATES 8

typedef struct {
    const char *out, *video_out, *prefix;
    long long count;
    double duration, period;
    unsigned long long seed;
    int have_seed;
    int n_states;
    double mu[GEN_MAX_STATES];
    double switch_prob, revert, noise, spread, outage_prob, min_bw;
    double video_var, video_jit;
    long long video_chunks;
} GenArgs;

static int set_seed(void *ctx, const char *v, PmError *err) {
    GenArgs *a = ctx;
    if (pm_parse_ull(v, &a->seed)) return pm_error(err, "'%s' is not a non-negative integer", v);
    a->have_seed = 1;
    return 0;
}

static int set_states(void *ctx, const char *v, PmError *err) {
    GenArgs *a = ctx;
    a->n_states = 0;
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        char tok[64];
        double d;
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
        if (a->n_states == GEN_MAX_STATES || n >= sizeof tok || pm_parse_double(tok, &d) || d <= 0)
            return pm_error(err, "'%s' is not a list of at most 8 positive Mbps values", v);
        a->mu[a->n_states++] = d;
        p += n;
        if (!*p) return 0;
    }
}

static int ensure_dir(const char *d) {
    struct stat st;
    if (!stat(d, &st)) {
        if (S_ISDIR(st.st_mode)) return 0;
        fprintf(stderr, "pamoe gen-traces: %s exists and is not a directory\n", d);
        return -1;
    }
    /* create missing parents too (mkdir -p) */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", d);
    for (char *c = buf + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            if (stat(buf, &st)) mkdir(buf, 0755);
            *c = '/';
        }
    if (mkdir(d, 0755)) {
        fprintf(stderr, "pamoe gen-traces: cannot create %s: %s\n", d, strerror(errno));
        return -1;
    }
    return 0;
}

static double normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static void trace_path(const GenArgs *a, long j, char *path, size_t len) {
    snprintf(path, len, "%s/%s_%04ld", a->out, a->prefix, j);
}

static int write_trace(const GenArgs *a, long j) {
    char path[4096];
    trace_path(a, j, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "pamoe gen-traces: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    Rng r;
    rng_seed(&r, a->seed, RNG_GEN, (uint64_t)j);
    double level = exp(a->spread * (2 * rng_uniform(&r) - 1));
    int s = (int)rng_randint(&r, 0, a->n_states);
    double x = log(a->mu[s] * level);
    long m = (long)floor(a->duration / a->period + 1e-9) + 1;
    for (long i = 0; i < m; i++) {
        if (a->n_states > 1 && rng_uniform(&r) < a->switch_prob)
            s = (s + 1 + (int)rng_randint(&r, 0, a->n_states - 1)) % a->n_states;
        x += a->revert * (log(a->mu[s] * level) - x) + a->noise * normal(&r);
        double bw = exp(x);
        if (bw < a->min_bw) bw = a->min_bw;
        if (rng_uniform(&r) < a->outage_prob && i > 0) bw = 0;
        fprintf(f, "%.3f %.4f\n", i * a->period, bw);
    }
    if (fclose(f)) {
        fprintf(stderr, "pamoe gen-traces: write error on %s\n", path);
        return -1;
    }
    /* The printed precision (ms, 0.1 kbps) can merge times or zero a trace; what is written
     * must load, so the real loader checks it. */
    Trace t;
    PmError err;
    if (trace_load_file(path, 1.0, &t, &err)) {
        fprintf(stderr, "pamoe gen-traces: the generated trace does not load (%s); change "
                        "--period or the bandwidth model\n", err.msg);
        return -1;
    }
    trace_clear(&t);
    return 0;
}

static int write_video(const GenArgs *a) {
    Rng r;
    rng_seed(&r, a->seed, RNG_GEN, 1ull << 40);
    double *c = malloc(sizeof(double) * a->video_chunks);
    for (long k = 0; k < a->video_chunks; k++) c[k] = 1 - a->video_var + 2 * a->video_var * rng_uniform(&r);
    int rc = 0;
    for (int q = 0; q < ABR_LEVELS && !rc; q++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/video_size_%d", a->video_out, q);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "pamoe gen-traces: cannot write %s: %s\n", path, strerror(errno));
            rc = -1;
            break;
        }
        for (long k = 0; k < a->video_chunks; k++) {
            double u = 2 * rng_uniform(&r) - 1;
            double bytes = ABR_BITRATE_KBPS[q] * 1000 * 4 / 8 * c[k] * (1 + a->video_jit * u);
            fprintf(f, "%lld\n", (long long)llround(bytes < 1 ? 1 : bytes));
        }
        if (fclose(f)) rc = -1;
    }
    free(c);
    return rc;
}

int cmd_gen_traces(int argc, char **argv) {
    GenArgs a = {0};
    a.count = -1;
    a.duration = -1;
    a.period = 1.0;
    a.n_states = 3;
    a.mu[0] = 0.7, a.mu[1] = 1.6, a.mu[2] = 3.0;
    a.switch_prob = 0.05;
    a.revert = 0.2;
    a.noise = 0.15;
    a.spread = 0.5;
    a.outage_prob = 0.005;
    a.min_bw = 0.05;
    a.prefix = "synth";
    a.video_var = 0.25;
    a.video_jit = 0.05;
    a.video_chunks = 49;
    int force = 0;
    const CliOpt opts[] = {
        {"--out", "DIR", CLI_STR, &a.out, .help = "trace directory to write (created with its parents)"},
        {"--count", "N", CLI_LONG, &a.count, .help = "number of traces", .min = 1, .max = 1000000},
        {"--duration", "S", CLI_DOUBLE, &a.duration, .help = "seconds per trace", .lo = 0, .hi = 1e7, .lo_open = 1, .want = "a positive number of seconds"},
        {"--seed", "K", CLI_CALL, NULL, .help = "generator seed, a non-negative integer (required)", .call = set_seed},
        {"--period", "P", CLI_DOUBLE, &a.period, .help = "sample period in s (default 1.0)", .lo = 0, .hi = 3600, .lo_open = 1, .want = "a positive number of seconds"},
        {"--states", "LIST", CLI_CALL, NULL, .help = "state means in Mbps, comma separated, <= 8 (default 0.7,1.6,3.0)", .call = set_states},
        {"--switch-prob", "p", CLI_DOUBLE, &a.switch_prob, .help = "per-sample probability of a state change (default 0.05)", .lo = 0, .hi = 1, .want = "a probability in [0, 1]"},
        {"--revert", "r", CLI_DOUBLE, &a.revert, .help = "pull of log-bw toward the state mean, 0..1 (default 0.2)", .lo = 0, .hi = 1},
        {"--step-noise", "s", CLI_DOUBLE, &a.noise, .help = "std of the log-bw step (default 0.15)", .lo = 0, .hi = 5},
        {"--trace-spread", "a", CLI_DOUBLE, &a.spread, .help = "per-trace level multiplier exp(U[-a,a]) (default 0.5)", .lo = 0, .hi = 5},
        {"--outage-prob", "p", CLI_DOUBLE, &a.outage_prob, .help = "probability of a 0 Mbps sample (default 0.005)", .lo = 0, .hi = 1, .hi_open = 1, .want = "a probability in [0, 1)"},
        {"--min-bw", "b", CLI_DOUBLE, &a.min_bw, .help = "floor of non-outage samples, Mbps (default 0.05)", .lo = 0, .hi = 1e6, .lo_open = 1, .want = "a positive number of Mbps"},
        {"--prefix", "NAME", CLI_STR, &a.prefix, .help = "file name prefix (default synth)"},
        {"--video-out", "DIR", CLI_STR, &a.video_out, .help = "write the video ladder video_size_0..5 here"},
        {"--video-var", "V", CLI_DOUBLE, &a.video_var, .help = "scene-complexity variation c_k in U[1-V,1+V) (default 0.25)", .lo = 0, .hi = 1, .hi_open = 1},
        {"--video-jitter", "J", CLI_DOUBLE, &a.video_jit, .help = "per-level variation U[-J,J) (default 0.05)", .lo = 0, .hi = 1, .hi_open = 1},
        {"--force", NULL, CLI_FLAG, &force, .help = "replace existing files (by default a file that exists is refused and\nnothing is written)"},
        {"--video-chunks", "C", CLI_LONG, &a.video_chunks, .help = "lines per file, >= 48 (default 49)", .min = ABR_CHUNKS, .max = 100000},
    };
    const CliCommand cmd = {
        "gen-traces", "--out DIR --count N --duration S --seed K [model options]\n"
                      "[--video-out DIR [--video-var V] [--video-jitter J]]",
        "Writes N synthetic traces DIR/<prefix>_NNNN (lines `time_s bandwidth_Mbps`), and/or a\n"
        "video ladder DIR/video_size_0..5 (49 chunk sizes each) with --video-out.\n"
        "--out may be omitted when only --video-out is wanted. A file that exists is refused\n"
        "(nothing is written) unless --force is given.\n\n"
        "Markov-modulated random walk in log-bandwidth (see docs/env.md); video ladder of\n"
        "bitrates 300..4300 kbps, 4 s chunks.",
        opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = cli_parse(&cmd, argc, argv, &a);
    if (rc != CLI_RUN) return rc;
    if (!*a.prefix || strchr(a.prefix, '/')) return cli_usage_error(&cmd, "--prefix: '%s' is not a file name prefix", a.prefix);
    if (!a.out && !a.video_out) {
        fprintf(stderr, "pamoe gen-traces: --out (traces) or --video-out (video) is required (see --help)\n");
        return 2;
    }
    if (!a.have_seed) {
        fprintf(stderr, "pamoe gen-traces: --seed is required\n");
        return 2;
    }
    if (a.out) {
        if (a.count < 0 || a.duration < 0) {
            fprintf(stderr, "pamoe gen-traces: --out needs --count and --duration\n");
            return 2;
        }
        if (a.duration < a.period) {
            fprintf(stderr, "pamoe gen-traces: --duration %g is shorter than one --period %g\n",
                    a.duration, a.period);
            return 2;
        }
        for (long j = 0; j < a.count; j++) { /* nothing is written when one file is refused */
            char path[4096];
            trace_path(&a, j, path, sizeof path);
            if (cli_may_write("gen-traces", path, force)) return 1;
        }
    }
    if (a.video_out)
        for (int q = 0; q < ABR_LEVELS; q++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/video_size_%d", a.video_out, q);
            if (cli_may_write("gen-traces", path, force)) return 1;
        }
    if (a.out) {
        if (ensure_dir(a.out)) return 1;
        for (long j = 0; j < a.count; j++)
            if (write_trace(&a, j)) {
                for (long i = 0; i <= j; i++) { /* no partial set left behind */
                    char path[4096];
                    trace_path(&a, i, path, sizeof path);
                    unlink(path);
                }
                return 1;
            }
    }
    if (a.video_out) {
        Video v;
        PmError err;
        if (ensure_dir(a.video_out) || write_video(&a)) return 1;
        if (video_load_dir(a.video_out, &v, &err)) {
            fprintf(stderr, "pamoe gen-traces: the generated video does not load (%s)\n", err.msg);
            return 1;
        }
    }
    return 0;
}
