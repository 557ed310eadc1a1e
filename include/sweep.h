/* sweep.h: `pamoe sweep`, grids of training runs (kinds x seeds x noise x learning rate ...)
 * described by one .ini file, packed into R-batched `pamoe train` processes (tasks), run by
 * worker processes with resume after any interruption, and merged into one HDF5 file.
 *
 * The sweep file (docs/sweep.md):
 *   base = ../paper.ini        base configuration, relative to the sweep file's directory
 *   total_timesteps = 400000   overrides of any config key (top level or in its [section])
 *   [sweep]                    axes: a config key with a comma list (integer keys take a-b)
 *   kind = mlp,pamoe           kind sets policy and value together
 *   seed = 1-20
 *   zip = noise_std,learning_rate   pair axes (equal lengths) instead of crossing them
 *   [limits]                   grid limit and the per-task budgets the packing respects
 *
 * A run is one point of the grid, r0000, r0001, ... in grid order (the first axis varies
 * slowest). Runs that differ only in per-run keys (seed, learning_rate, noise_std) share a
 * task, one process with run.runs = R and per-run lists; other keys make separate tasks.
 * Every layout decision depends on the sweep file and the base config only, never on a
 * measurement, so a rerun (or another node) finds the same tasks. */
#ifndef PAMOE_SWEEP_H
#define PAMOE_SWEEP_H
#include <stdio.h>

#include "common.h"
#include "config.h"

#define SWEEP_MAX_AXES 16
#define SWEEP_PATH_LEN 1024
/* the per-run lists of a task must fit the config's list strings */
#define SWEEP_LIST_LEN (CONFIG_LIST_LEN - 1)

typedef struct {
    char key[64];      /* as written: "kind", "noise_std", "net.router" */
    char name[64];     /* its column name in /runs: the key without its section */
    int cfg;           /* config key index; -1 for kind */
    int per_run;       /* seed, learning_rate, noise_std: packed into one process */
    ConfigValueKind type;
    int n;
    char **values;     /* the tokens as written (ranges expanded) */
    int line;
    int group;         /* zip group: axes of one group advance together */
} SweepAxis;

typedef struct {
    char key[128], value[CONFIG_PATH_LEN + 64];
    int line;
} SweepOverride;

typedef struct {
    char path[SWEEP_PATH_LEN];      /* the sweep file as given */
    char base[SWEEP_PATH_LEN];      /* the base config, resolved */
    int base_line;
    SweepOverride *overrides;
    int n_overrides;
    SweepAxis axes[SWEEP_MAX_AXES];
    int n_axes;
    int n_groups;
    int group_size[SWEEP_MAX_AXES];
    /* [limits] */
    long max_runs;                  /* grid size limit */
    int task_runs;                  /* at most this many runs in one task */
    double task_memory_mib;         /* memory budget of one task */
    double task_hours;              /* time budget of one task, at steps_per_second */
    double steps_per_second;        /* one run on one core, for the time budget */
    char *text, *base_text;         /* both files' contents, for DIR/ and /config */
} SweepFile;

typedef struct {
    char id[12];                    /* r0000 */
    int task, slot;                 /* its task and its column in the task's run file */
    int value[SWEEP_MAX_AXES];      /* index into each axis' values */
    char cell[512];                 /* "kind=pamoe,noise_std=1e-3": the axes other than seed */
} SweepRun;

typedef struct {
    int n_runs;
    int *runs;                      /* run indices, in slot order */
    long iterations;                /* per run */
    int num_steps;
    double est_seconds, est_mib;    /* the static estimates the packing used */
} SweepTask;

typedef struct {
    SweepFile *sf;
    SweepRun *runs;
    int n_runs;
    SweepTask *tasks;
    int n_tasks;
} SweepPlan;

/* Parses and validates a sweep file. base_override (or NULL) replaces the base= path: the
 * copy kept in a sweep directory. Errors are "FILE:LINE: key: what is wrong". */
SweepFile *sweep_file_load(const char *path, const char *base_override, PmError *err);
void sweep_file_free(SweepFile *sf);

/* The grid, the run ids and the packing into tasks. Takes ownership of sf. */
SweepPlan *sweep_plan_make(SweepFile *sf, PmError *err);
void sweep_plan_free(SweepPlan *p);
/* The resolved configuration of task t (run.runs = R, per-run lists), or of one run alone
 * (task = -1, run = index). threads defaults to 1 per process unless the sweep sets it. */
int sweep_plan_task_config(const SweepPlan *p, int task, TrainConfig *c, PmError *err);
int sweep_plan_run_config(const SweepPlan *p, int run, TrainConfig *c, PmError *err);
/* Index of run "r0012", or -1. */
int sweep_plan_find_run(const SweepPlan *p, const char *id);
/* Text of the value of axis a for run r. */
const char *sweep_run_value(const SweepPlan *p, int r, int a);

/* Sweep directory layout: DIR/sweep.ini and DIR/base.ini (copies), DIR/tasks/tNNNN.{ini,h5,
 * ckpt.h5,log,lock,done,failed}, DIR/sweep.h5. */
typedef enum { TASK_PENDING, TASK_RUNNING, TASK_DONE, TASK_FAILED } TaskState;
const char *sweep_task_state_name(TaskState s);
/* "DIR/tasks/t0003.EXT" into buf. */
void sweep_task_path(const char *dir, int task, const char *ext, char *buf, size_t len);
/* Loads the plan kept in DIR (sweep.ini + base.ini). */
SweepPlan *sweep_dir_plan(const char *dir, PmError *err);
/* The state of task t as seen from outside: done/failed markers, a held lock = running. */
TaskState sweep_task_state(const char *dir, int task, char *last_error, size_t len);
/* Rows written so far in a task's run file (SWMR read; 0 when absent or unreadable). */
long sweep_task_rows(const char *dir, int task);

/* The last non-NaN value of metric in each of the task's n runs (NaN where none). 0 or -1. */
int sweep_task_last(const char *dir, int task, const char *metric, int n, double *out);

/* DIR/sweep.h5 with virtual datasets (copy = 0) or a self-contained file at out. */
int sweep_merge(const char *dir, const SweepPlan *p, int copy, const char *out, PmError *err);

/* A short measurement of task t: a child process builds the task's trainer (R runs, one
 * thread) in a temporary directory and times iterations 2 and 3 (the first warms up). */
typedef struct {
    double setup_seconds;      /* data loading, networks, first iteration's extra */
    double iteration_seconds;  /* one iteration of all R runs */
    double peak_mib;           /* peak resident memory of the process */
} SweepCalibration;
int sweep_calibrate(const SweepPlan *p, int task, SweepCalibration *out, PmError *err);

typedef struct {
    int jobs;          /* worker processes at once */
    int only_task;     /* -1: all */
    int quiet;
    const char *device; /* NULL: each task config's run.device; else given to every worker */
} SweepRunOptions;
/* Runs the tasks of plan p into dir; 0 when every selected task is done, 1 when some
 * failed, 130 after SIGINT/SIGTERM, -1 error. */
int sweep_run(SweepPlan *p, const char *dir, const SweepRunOptions *opt, PmError *err);
/* Prepares dir (copies of the sweep and base files; an existing dir must hold the same). */
int sweep_dir_prepare(const SweepPlan *p, const char *dir, PmError *err);
#endif
