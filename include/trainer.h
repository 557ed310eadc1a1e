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

/* How trainer_resume went on. */
typedef enum {
    TRAINER_RESUME_CHECKPOINT, /* from the last checkpoint */
    TRAINER_RESUME_RESTART,    /* stopped before its first checkpoint: started again from iteration 1 */
    TRAINER_RESUME_FINISHED,   /* nothing to do (returns NULL, err says so) */
} TrainerResume;

/* New run: creates the run file (metrics, /config, run identity) at run_path, a name ending
 * in .h5. An existing run file or checkpoint (run_path's .ckpt.h5) is refused unless force,
 * which replaces both. */
Trainer *trainer_create(const TrainConfig *cfg, const char *run_path, const char *device, int force, PmError *err);
/* Continue a run from the checkpoint beside run_path (see ckpt path below); the metrics are
 * cut back to the checkpoint's iteration so a resumed run equals an uninterrupted one. Both
 * files are read and checked (identity, configuration, every restored value) before the run
 * file is opened for writing; a mismatch changes nothing. device NULL: the run's own. */
Trainer *trainer_resume(const char *run_path, const char *device, TrainerResume *how, PmError *err);
/* The configuration of an existing run (its checkpoint's, else its run file's). */
int trainer_run_config(const char *run_path, TrainConfig *cfg, PmError *err);
/* 0 when run_path is a valid run file name (NAME.h5, not NAME.ckpt.h5), else -1 + err. */
int trainer_check_run_name(const char *run_path, PmError *err);
/* Runs to the end (0), or stops cleanly after a SIGINT/SIGTERM (1: with a checkpoint when the
 * iteration in progress ends within half a second, else that iteration is dropped and the
 * previous checkpoint stands) or with a checkpoint after opt->stop_after iterations (2);
 * -1 error. */
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
