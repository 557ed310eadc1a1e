/* bench_train.c: environment steps per second of the full faithful training run on the CPU
 * (configs/paper.ini: pamoe policy and value, change schedule, metrics every iteration, R = 1
 * run, E = 1 environment), on 1 thread and on 2, with the cost split of the trainer
 * (rollout, update, metrics, checkpoint: Trainer.time_*), next to the reference's figure.
 *
 *   make build/bench/bench_train && build/bench/bench_train [steps]     (run from the repo root)
 *
 * steps (default 100000 = 50 iterations of 2000) per measured run; about 2 x 2 s here. Each run
 * writes its run file and checkpoint under a temporary directory, removed at the end.
 *
 * Reference: the PyTorch reference (tinyzqh/PA-MoE, CPU) does about 1,300 env steps/s for
 * pamoe on this machine class (../shared/spec/ppo.md section 10: 60 iterations of 2000 steps
 * in about 130 s... on 2 cores, with metrics) - the ratio printed below is against 1,300. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "trainer.h"
#include "trainer_state.h"
#include "numparse.h"

#define REF_STEPS_PER_S 1300.0
#define PAPER_STEPS 2000000.0

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the process: on the shared 2-core machine wall time includes time this process
 * waited for a core; CPU time over wall time shows how much of a core it actually got. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_one(const char *dir, int threads, long steps) {
    TrainConfig cfg;
    PmError err = {0};
    config_defaults(&cfg);
    char set[128];
    if (config_load_file(&cfg, "configs/paper.ini", &err)) goto fail;
    snprintf(set, sizeof set, "total_timesteps=%ld", steps);
    if (config_set(&cfg, set, &err)) goto fail;
    snprintf(set, sizeof set, "threads=%d", threads);
    if (config_set(&cfg, set, &err)) goto fail;
    if (config_set(&cfg, "device=cpu", &err)) goto fail;
    if (config_set(&cfg, "checkpoint_every=0", &err)) goto fail;
    if (config_finalize(&cfg, &err)) goto fail;

    char path[512];
    snprintf(path, sizeof path, "%s/run_t%d.h5", dir, threads);
    Trainer *t = trainer_create(&cfg, path, "cpu", 0, &err);
    if (!t) goto fail;
    TrainOptions opt = {1, 0};
    double w0 = wall_seconds(), c0 = cpu_seconds();
    int rc = trainer_run(t, &opt, &err);
    double wall = wall_seconds() - w0, cpu = cpu_seconds() - c0;
    if (rc != 0) {
        trainer_free(t);
        goto fail;
    }
    double tr = t->time_rollout, tu = t->time_update, tm = t->time_metrics, tc = t->time_ckpt;
    double train = tr + tu + tm; /* the training loop without the final checkpoint */
    double sps = (double)t->global_step / train;
    printf("%7d | %9.0f | %7.0fx | %7.1f s | %5.1f%% %5.1f%% %5.1f%% %5.1f%% | %4.2f\n", threads, sps,
           sps / REF_STEPS_PER_S, PAPER_STEPS / sps, 100 * tr / wall, 100 * tu / wall, 100 * tm / wall,
           100 * tc / wall, cpu / wall);
    trainer_free(t);
    char *ck = trainer_ckpt_path(path);
    unlink(ck);
    unlink(path);
    free(ck);
    return 0;
fail:
    fprintf(stderr, "bench_train: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv) {
    long long arg = 100000;
    if ((argc > 1 && pm_parse_ll(argv[1], &arg)) || arg < 2000 || arg > 1000000000000LL) {
        fprintf(stderr, "usage: bench_train [steps >= 2000]\n");
        return 2;
    }
    long steps = (long)arg;
    if (access("configs/paper.ini", R_OK)) {
        fprintf(stderr, "bench_train: run from the repository root (configs/paper.ini)\n");
        return 2;
    }
    char dir[] = "/tmp/pamoe_bench_train_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("full faithful training (configs/paper.ini: pamoe/pamoe, change schedule, metrics on, R=1, E=1),\n"
           "%ld env steps per run, CPU backend; reference (PyTorch) %.0f steps/s\n\n", steps, REF_STEPS_PER_S);
    printf("threads |   steps/s | vs ref   | 2M steps  | rollout update metrics ckpt (%% of wall) | cpu/wall\n");
    int rc = bench_one(dir, 1, steps) || bench_one(dir, 2, steps);
    rmdir(dir);
    return rc;
}
