/* trainer.h: PPO over R runs x E environments (../shared/spec/ppo.md), written once against
 * the backend table. One iteration: rollout -> plasticity metrics -> GAE -> epochs of
 * minibatch updates (forward, loss, backward, Adam, expert noise) -> metrics append ->
 * content switch -> checkpoint every K iterations. */
#ifndef PAMOE_TRAINER_H
#define PAMOE_TRAINER_H
#include "common.h"
#include "config.h"

typedef struct Trainer Trainer;

typedef struct {
    int quiet;          /* no progress on stderr */
    long stop_after;    /* stop (with a checkpoint) after this many iterations; 0 = run to the end */
} TrainOptions;

/* New run: creates the run file (metrics, /config) at run_path; fails if it exists. */
Trainer *trainer_create(const TrainConfig *cfg, const char *run_path, const char *device, PmError *err);
/* Continue a run from the checkpoint beside run_path (see ckpt path below); the metrics are
 * cut back to the checkpoint's iteration so a resumed run equals an uninterrupted one. */
Trainer *trainer_resume(const char *run_path, const char *device, PmError *err);
/* Runs to the end (0), or stops cleanly with a checkpoint after a SIGINT/SIGTERM (1) or after
 * opt->stop_after iterations (2); -1 error. */
int trainer_run(Trainer *t, const TrainOptions *opt, PmError *err);
void trainer_free(Trainer *t);

/* Where the iterations run so far spent their time (seconds) and how far they got, for
 * `pamoe bench`. */
typedef struct {
    double rollout, update, metrics;
    long global_step; /* environment steps per run */
    int runs;
} TrainerTimes;
TrainerTimes trainer_times(const Trainer *t);

/* "runs/x.h5" -> "runs/x.ckpt.h5" (caller frees). */
char *trainer_ckpt_path(const char *run_path);
#endif
