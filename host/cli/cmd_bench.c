/* cmd_bench.c: `pamoe bench`, training throughput of the whole PPO iteration (rollout,
 * update, metrics) for several run counts R on the CPU and, where one is usable, the CUDA
 * backend, measured in one process and printed as one table with the GPU/CPU ratio. The
 * kernel-level benches live in bench/ (bench_env, bench_gemm, bench_net, bench_gpu). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "numparse.h"
#include "trainer.h"

typedef struct {
    double sps, rollout, update, metrics;
    int skipped;
} BenchResult;

/* One configuration: R runs on `device`, stop after `iters` iterations; 0 or -1 + err. */
static int bench_one(const TrainConfig *base, int R, const char *device, int iters, BenchResult *out, PmError *err) {
    TrainConfig *c = malloc(sizeof *c);
    *c = *base;
    c->runs = R;
    snprintf(c->seed_str, sizeof c->seed_str, "%ld", base->seed[0]);
    c->checkpoint_every = 0;
    int rc = -1;
    if (config_finalize(c, err)) goto out;
    char dir[] = "/tmp/pamoe_bench_XXXXXX";
    if (!mkdtemp(dir)) { pm_error(err, "cannot create a temporary directory"); goto out; }
    char path[64];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    Trainer *t = trainer_create(c, path, device, 0, err);
    if (t) {
        TrainOptions opt = {1, iters};
        if (trainer_run(t, &opt, err) >= 0) {
            TrainerTimes tt = trainer_times(t);
            double busy = tt.rollout + tt.update + tt.metrics;
            out->sps = (double)tt.global_step * tt.runs / busy;
            out->rollout = 100 * tt.rollout / busy;
            out->update = 100 * tt.update / busy;
            out->metrics = 100 * tt.metrics / busy;
            rc = 0;
        }
        trainer_free(t);
    }
    char ckpt[80];
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt.h5", dir);
    unlink(path);
    unlink(ckpt);
    rmdir(dir);
out:
    free(c);
    return rc;
}

typedef struct {
    TrainConfig *base;
    int Rs[64], nR;
} BenchArgs;

static int bench_config(void *ctx, const char *v, PmError *err) { return config_load_file(((BenchArgs *)ctx)->base, v, err); }
static int bench_set(void *ctx, const char *v, PmError *err) { return config_set(((BenchArgs *)ctx)->base, v, err); }

static int bench_runs(void *ctx, const char *v, PmError *err) {
    BenchArgs *b = ctx;
    b->nR = 0;
    for (const char *p = v;;) {
        size_t n = strcspn(p, ",");
        char tok[32];
        long long r;
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
        if (b->nR == PM_ARRAY_LEN(b->Rs) || n >= sizeof tok || pm_parse_ll(tok, &r) || r < 1 || r > CONFIG_MAX_RUNS)
            return pm_error(err, "'%s' is not a list of at most %d run counts in 1..%d", v, PM_ARRAY_LEN(b->Rs), CONFIG_MAX_RUNS);
        b->Rs[b->nR++] = (int)r;
        p += n;
        if (!*p++) return 0;
    }
}

int cmd_bench(int argc, char **argv) {
    TrainConfig *base = xmalloc(sizeof *base);
    config_defaults(base);
    BenchArgs args = {base, {1, 16, 256, 1024, 4096}, 5};
    const char *device = "both";
    int iters = 2;
    double budget = 20;
    PmError err;
    const CliOpt opts[] = {
        {"--device", "D", CLI_STR, &device, .help = "cpu | cuda | auto | both (default both: CPU, and CUDA when usable)"},
        {"--runs", "LIST", CLI_CALL, NULL, .help = "run counts, e.g. 1,16,256,1024,4096 (the default)", .call = bench_runs},
        {"--iterations", "N", CLI_INT, &iters, .help = "measured iterations per configuration (default 2)", .min = 1, .max = 1000000},
        {"--config", "FILE", CLI_CALL, NULL, .help = "base configuration (default: built-in = configs/paper.ini)", .call = bench_config},
        {"--set", "KEY=VALUE", CLI_CALL, NULL, .help = "override a key (repeatable), e.g. --set num_steps=400", .call = bench_set},
        {"--budget", "S", CLI_DOUBLE, &budget, .help = "seconds allowed per configuration (default 20)", .lo = 0, .hi = 1e9, .lo_open = 1, .want = "a positive number of seconds"},
    };
    const CliCommand cmd = {
        "bench", "[options]",
        "Measures environment steps per second (all runs together) of full PPO training\n"
        "(pamoe policy and value by default, metrics on) for each run count R, on each device,\n"
        "and prints rollout/update/metrics shares and the GPU/CPU ratio. Configurations whose\n"
        "estimated time exceeds --budget are skipped (and extrapolated, marked ~).",
        opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = cli_parse(&cmd, argc, argv, &args);
    if (rc != CLI_RUN) { free(base); return rc; }
    if (config_finalize(base, &err)) goto fail;
    /* enough iterations that the run is never cut short by the schedule */
    base->total_timesteps = (long)base->num_steps * (iters + 10) * 100;

    const int *Rs = args.Rs, nR = args.nR;
    const char *devs[2];
    int nd = 0;
    int cuda_ok = backend_cuda_available();
    if (!strcmp(device, "both")) {
        devs[nd++] = "cpu";
        if (cuda_ok) devs[nd++] = "cuda";
        else printf("GPU half skipped: no usable CUDA device (or a build without the CUDA backend)\n");
    } else if (!strcmp(device, "cpu") || !strcmp(device, "cuda") || !strcmp(device, "auto")) {
        devs[nd++] = !strcmp(device, "auto") ? (cuda_ok ? "cuda" : "cpu") : device;
    } else {
        pm_error(&err, "--device: '%s' is not one of cpu|cuda|auto|both", device);
        goto fail;
    }
    printf("pamoe bench: policy %s, value %s, %d steps x %d env(s) per run per iteration, %d measured iteration(s)\n",
           config_choice_name(base, &base->policy), config_choice_name(base, &base->value), base->num_steps, base->envs_per_run, iters);
    printf("%-5s %6s %16s %9s %8s %9s %10s\n", "dev", "runs", "steps/s (all)", "rollout%", "update%", "metrics%", "GPU/CPU");
    BenchResult res[2][64];
    memset(res, 0, sizeof res);
    for (int d = 0; d < nd; d++) {
        double per_step = 0; /* seconds per run-step, from the last measured R */
        for (int i = 0; i < nR; i++) {
            BenchResult *r = &res[d][i];
            double est = per_step * Rs[i] * base->num_steps * iters;
            if (per_step > 0 && est > budget) {
                r->skipped = 1;
                r->sps = 1.0 / per_step; /* linear in R: the same aggregate rate */
            } else {
                if (bench_one(base, Rs[i], devs[d], iters, r, &err)) goto fail;
                per_step = 1.0 / r->sps; /* seconds per run-step at the aggregate rate */
            }
            char ratio[16] = "";
            if (d == 1 && res[0][i].sps > 0) snprintf(ratio, sizeof ratio, "%.1fx", r->sps / res[0][i].sps);
            if (r->skipped)
                printf("%-5s %6d %15.0f~ %9s %8s %9s %10s   (skipped: est. %.0f s > --budget)\n", devs[d], Rs[i],
                       r->sps, "", "", "", ratio, est);
            else
                printf("%-5s %6d %16.0f %8.1f%% %7.1f%% %8.1f%% %10s\n", devs[d], Rs[i], r->sps, r->rollout, r->update,
                       r->metrics, ratio);
            fflush(stdout);
        }
    }
    printf("reference (PyTorch, spec ppo.md 10): about 1,300 steps/s for one pamoe run on this class of CPU\n");
    free(base);
    return 0;
fail:
    fprintf(stderr, "pamoe bench: %s\n", err.msg);
    free(base);
    return 1;
}
