/* cmd_train.c: `pamoe train`, the main job. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "trainer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: pamoe train --config FILE [--set key=value ...] --out RUN.h5 [options]\n"
            "       pamoe train --resume RUN.h5 [options]\n"
            "       pamoe train --print-config [--config FILE] [--set key=value ...]\n"
            "       pamoe train --print-config --resume RUN.h5\n\n"
            "Trains PPO agents (policy and value kinds mlp|moe|smoe|pamoe) on the streaming\n"
            "simulator with the reference's QoE-shift schedule. Metrics go to /metrics of RUN.h5\n"
            "every iteration (readable live with h5py in SWMR mode); checkpoints to RUN.ckpt.h5\n"
            "(written to a temporary name, then renamed).\n\n"
            "options:\n"
            "  --config FILE        .ini file (configs/paper.ini, normal.ini, quick.ini); keys documented there\n"
            "  --set key=value      override one key (section.key or key); repeatable, applied after --config\n"
            "  --out RUN.h5         run file to create; its checkpoint is RUN.ckpt.h5. Neither may exist\n"
            "  --force              with --out: replace an existing run file and checkpoint\n"
            "  --resume RUN.h5      continue a run from its last checkpoint (bit-identical to no interruption);\n"
            "                       its configuration is the run's own (--config/--set are refused); a run\n"
            "                       stopped before its first checkpoint starts again from iteration 1\n"
            "  --device D           auto|cpu|cuda (overrides run.device)\n"
            "  --stop-after N       stop after N iterations of this invocation, with a checkpoint\n"
            "  --print-config       print the resolved configuration as an .ini file and exit\n"
            "  --quiet              no progress output\n"
            "  -h, --help           this text\n\n"
            "SIGINT or SIGTERM stops cleanly within about a second: with a checkpoint when the current\n"
            "iteration ends within half a second, else that iteration is dropped and the previous\n"
            "checkpoint stands (exit 130 either way). A finished run resumed says so (exit 0).\n");
}

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(stdout); return 0; }
    TrainConfig *cfg = malloc(sizeof *cfg);
    config_defaults(cfg);
    const char *out = NULL, *resume = NULL, *device = NULL;
    int print = 0, force = 0, config_given = 0;
    TrainOptions opt = {0, 0};
    PmError err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--config") && has_val) {
            config_given = 1;
            if (config_load_file(cfg, argv[++i], &err)) goto fail;
        } else if (!strcmp(a, "--set") && has_val) {
            config_given = 1;
            if (config_set(cfg, argv[++i], &err)) goto fail;
        } else if (!strcmp(a, "--out") && has_val) {
            out = argv[++i];
        } else if (!strcmp(a, "--resume") && has_val) {
            resume = argv[++i];
        } else if (!strcmp(a, "--device") && has_val) {
            device = argv[++i];
        } else if (!strcmp(a, "--stop-after") && has_val) {
            char *end;
            opt.stop_after = strtol(argv[++i], &end, 10);
            if (*end || opt.stop_after < 1) { pm_error(&err, "--stop-after: expected a positive integer, got '%s'", argv[i]); goto fail; }
        } else if (!strcmp(a, "--print-config")) {
            print = 1;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--quiet")) {
            opt.quiet = 1;
        } else {
            pm_error(&err, "unknown or incomplete option '%s' (see pamoe train --help)", a);
            goto fail;
        }
    }
    if (resume && config_given) {
        pm_error(&err, "--resume %s continues the run with its own configuration; --config and --set cannot change it "
                       "(start a new run with --out to train another configuration)", resume);
        goto fail;
    }
    if (resume && force) { pm_error(&err, "--force goes with --out (replace a run); --resume never replaces anything"); goto fail; }
    if (print && resume) {
        if (trainer_run_config(resume, cfg, &err)) goto fail;
        config_write_ini(stdout, cfg, "pamoe training configuration");
        free(cfg);
        return 0;
    }
    if (print) {
        if (config_finalize(cfg, &err)) goto fail;
        config_write_ini(stdout, cfg, "pamoe training configuration");
        free(cfg);
        return 0;
    }
    if (!!out == !!resume) { pm_error(&err, "give exactly one of --out RUN.h5 or --resume RUN.h5"); goto fail; }
    Trainer *t;
    if (resume) {
        TrainerResume how = TRAINER_RESUME_CHECKPOINT;
        t = trainer_resume(resume, device, &how, &err);
        if (how == TRAINER_RESUME_FINISHED) {
            fprintf(stderr, "pamoe train: %s\n", err.msg);
            free(cfg);
            return 0;
        }
        if (t && how == TRAINER_RESUME_RESTART && !opt.quiet)
            fprintf(stderr, "pamoe train: %s has no checkpoint (it stopped before its first): starting it again from iteration 1\n", resume);
    } else {
        if (config_finalize(cfg, &err)) goto fail;
        t = trainer_create(cfg, out, device ? device : cfg->device, force, &err);
    }
    if (!t) goto fail;
    free(cfg);
    int rc = trainer_run(t, &opt, &err);
    trainer_free(t);
    if (rc < 0) { fprintf(stderr, "pamoe train: %s\n", err.msg); return 1; }
    return rc == 1 ? 130 : 0; /* 1: stopped by a signal; 2: --stop-after */
fail:
    fprintf(stderr, "pamoe train: %s\n", err.msg);
    free(cfg);
    return 1;
}
