/* cmd_train.c: `pamoe train`, the main job. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "trainer.h"

/* --config and --set in the order given: a later one overrides an earlier one. They are
 * kept (not applied while parsing) so that each mode (new run, --resume, --print-config)
 * decides what they apply to. */
typedef struct {
    int n;
    struct { int is_file; const char *text; } src[512];
} ConfigSources;

static int add_source(ConfigSources *s, int is_file, const char *text, PmError *err) {
    if (s->n == PM_ARRAY_LEN(s->src)) return pm_error(err, "more than %d --config/--set options", PM_ARRAY_LEN(s->src));
    s->src[s->n].is_file = is_file;
    s->src[s->n++].text = text;
    return 0;
}
static int add_file(void *ctx, const char *v, PmError *err) { return add_source(ctx, 1, v, err); }
static int add_set(void *ctx, const char *v, PmError *err) { return add_source(ctx, 0, v, err); }

static int apply_sources(TrainConfig *cfg, const ConfigSources *s, PmError *err) {
    for (int i = 0; i < s->n; i++)
        if (s->src[i].is_file ? config_load_file(cfg, s->src[i].text, err) : config_set(cfg, s->src[i].text, err))
            return -1;
    return 0;
}

int cmd_train(int argc, char **argv) {
    const char *out = NULL, *resume = NULL, *device = NULL;
    int print = 0, force = 0;
    long long stop_after = 0;
    TrainOptions opt = {0, 0};
    ConfigSources *sources = xcalloc(1, sizeof *sources);
    const CliOpt opts[] = {
        {"--config", "FILE", CLI_CALL, NULL, .help = ".ini file (configs/paper.ini, normal.ini, quick.ini); keys documented there", .call = add_file},
        {"--set", "KEY=VALUE", CLI_CALL, NULL, .help = "override one key (section.key or key); repeatable; --config and --set\napply in the order given", .call = add_set},
        {"--out", "RUN.h5", CLI_STR, &out, .help = "run file to create; its checkpoint is RUN.ckpt.h5. Neither may exist"},
        {"--force", NULL, CLI_FLAG, &force, .help = "with --out: replace an existing run file and checkpoint"},
        {"--resume", "RUN.h5", CLI_STR, &resume, .help = "continue a run from its last checkpoint (bit-identical to no interruption);\n"
                                                         "its configuration is the run's own (--config/--set are refused); a run\n"
                                                         "stopped before its first checkpoint starts again from iteration 1"},
        {"--device", "D", CLI_STR, &device, .help = "auto|cpu|cuda (overrides run.device)"},
        {"--stop-after", "N", CLI_LONG, &stop_after, .help = "stop after N iterations of this invocation, with a checkpoint", .min = 1, .max = 1000000000000LL, .want = "a positive integer"},
        {"--print-config", NULL, CLI_FLAG, &print, .help = "print the resolved configuration as an .ini file and exit"},
        {"--quiet", NULL, CLI_FLAG, &opt.quiet, .help = "no progress output"},
    };
    const CliCommand cmd = {
        "train",
        "--config FILE [--set key=value ...] --out RUN.h5 [options]\n"
        "--resume RUN.h5 [options]\n"
        "--print-config [--config FILE] [--set key=value ...]\n"
        "--print-config --resume RUN.h5",
        "Trains PPO agents (policy and value kinds mlp|moe|smoe|pamoe) on the streaming\n"
        "simulator with the reference's QoE-shift schedule. Metrics go to /metrics of RUN.h5\n"
        "every iteration (readable live with h5py in SWMR mode); checkpoints to RUN.ckpt.h5\n"
        "(written to a temporary name, then renamed).",
        opts, PM_ARRAY_LEN(opts),
        "SIGINT or SIGTERM stops cleanly within about a second: with a checkpoint when the current\n"
        "iteration ends within half a second, else that iteration is dropped and the previous\n"
        "checkpoint stands (exit 130 either way). A finished run resumed says so (exit 0).\n", NULL};
    int rc = cli_parse(&cmd, argc, argv, sources);
    if (rc != CLI_RUN) { free(sources); return rc; }
    opt.stop_after = (long)stop_after;
    if (device && config_device_parse(device) < 0) {
        free(sources);
        return cli_usage_error(&cmd, "--device: '%s' is not one of auto|cpu|cuda", device);
    }
    if (!print && !!out == !!resume) {
        free(sources);
        return cli_usage_error(&cmd, "give exactly one of --out RUN.h5 or --resume RUN.h5");
    }
    TrainConfig *cfg = xmalloc(sizeof *cfg);
    PmError err;
    Trainer *t;
    config_defaults(cfg);
    /* A resumed run continues its own configuration (read from its files by trainer_resume);
     * --config/--set cannot change it, and --print-config prints it. */
    if (resume) {
        if (sources->n) {
            pm_error(&err, "--resume %s continues the run with its own configuration; --config and --set cannot change it "
                           "(start a new run with --out to train another configuration)", resume);
            goto fail;
        }
        if (force) { pm_error(&err, "--force goes with --out (replace a run); --resume never replaces anything"); goto fail; }
        if (print) {
            if (trainer_run_config(resume, cfg, &err)) goto fail;
            config_write_ini(stdout, cfg, "pamoe training configuration");
            free(cfg);
            free(sources);
            return 0;
        }
        TrainerResume how = TRAINER_RESUME_CHECKPOINT;
        t = trainer_resume(resume, device, &how, &err);
        if (how == TRAINER_RESUME_FINISHED) {
            fprintf(stderr, "pamoe train: %s\n", err.msg);
            free(cfg);
            free(sources);
            return 0;
        }
        if (t && how == TRAINER_RESUME_RESTART && !opt.quiet)
            fprintf(stderr, "pamoe train: %s has no checkpoint (it stopped before its first): starting it again from iteration 1\n", resume);
    } else {
        if (apply_sources(cfg, sources, &err) || config_finalize(cfg, &err)) goto fail;
        if (print) {
            config_write_ini(stdout, cfg, "pamoe training configuration");
            free(cfg);
            free(sources);
            return 0;
        }
        t = trainer_create(cfg, out, device ? device : config_device_name(cfg->device), force, &err);
    }
    if (!t) goto fail;
    free(cfg);
    free(sources);
    rc = trainer_run(t, &opt, &err);
    trainer_free(t);
    if (rc < 0) { fprintf(stderr, "pamoe train: %s\n", err.msg); return 1; }
    return rc == 1 ? 130 : 0; /* 1: stopped by a signal; 2: --stop-after */
fail:
    fprintf(stderr, "pamoe train: %s\n", err.msg);
    free(cfg);
    free(sources);
    return 1;
}
