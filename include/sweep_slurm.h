/* sweep_slurm.h: `pamoe sweep slurm`, a sweep as one Slurm job array.
 *
 * The array's elements run `pamoe sweep run FILE --out DIR --task K`, which is idempotent and
 * resumes from checkpoints, so an element that is cancelled, preempted or requeued loses
 * nothing: its rerun skips finished tasks and resumes the interrupted ones.
 *   GPU elements (gpus_per_task > 0): element K runs sweep task K, its runs batched on
 *     --device cuda.
 *   CPU elements: element K runs the sweep tasks K*C .. K*C+C-1 (C = cpus_per_task), one
 *     single-threaded process per allocated core, so an element keeps all its cores busy. */
#ifndef PAMOE_SWEEP_SLURM_H
#define PAMOE_SWEEP_SLURM_H
#include <stdio.h>

#include "common.h"

typedef struct {
    const char *pamoe;        /* absolute path of the pamoe binary */
    const char *sweep_file;   /* absolute path of the sweep file */
    const char *out_dir;      /* absolute path of the sweep directory */
    const char *work_dir;     /* where the elements run: config data paths are relative to it */
    int n_tasks, n_runs;      /* of the sweep plan */
    const char *partition, *time, *account;   /* NULL: the cluster's defaults */
    const char *extra;        /* more sbatch options, whitespace separated, "--" optional ("mem=8G qos=x") */
    int gpus_per_task;        /* 0: a CPU sweep */
    int cpus_per_task;        /* >= 1 */
    int max_parallel;         /* array elements at once; 0: all */
} SweepSlurmOptions;

/* Array elements the sweep needs: one per task on GPUs, one per cpus_per_task tasks on CPUs. */
int sweep_slurm_elements(const SweepSlurmOptions *o);
/* Checks the options (values that would break the script or inject lines into it); 0 or -1
 * with a message naming the option. */
int sweep_slurm_check(const SweepSlurmOptions *o, PmError *err);
/* Writes the batch script to f. */
void sweep_slurm_write(FILE *f, const SweepSlurmOptions *o);
#endif
