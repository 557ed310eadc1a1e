/* sweep_slurm.c: the Slurm batch script of a sweep (include/sweep_slurm.h). The script holds
 * absolute paths only, so it runs from any working directory on any node that mounts them. */
#include <ctype.h>
#include <string.h>

#include "sweep_slurm.h"

int sweep_slurm_elements(const SweepSlurmOptions *o) {
    if (o->gpus_per_task > 0) return o->n_tasks;
    return (o->n_tasks + o->cpus_per_task - 1) / o->cpus_per_task;
}

/* A value written into an #SBATCH line: sbatch splits those at white space and expands %
 * patterns, and a newline would start a line of its own. */
static int sbatch_safe(const char *s) {
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '%' || *s == '"' || *s == '\'')
            return 0;
    return 1;
}

int sweep_slurm_check(const SweepSlurmOptions *o, PmError *err) {
    if (o->n_tasks < 1) return pm_error(err, "the sweep has no tasks");
    if (o->gpus_per_task < 0) return pm_error(err, "--gpus-per-task %d: must be >= 0", o->gpus_per_task);
    if (o->cpus_per_task < 1) return pm_error(err, "--cpus-per-task %d: must be >= 1", o->cpus_per_task);
    if (o->max_parallel < 0) return pm_error(err, "--max-parallel %d: must be >= 1", o->max_parallel);
    const struct { const char *name, *value; } v[] = {
        {"--partition", o->partition}, {"--time", o->time}, {"--account", o->account},
        {"--out", o->out_dir}, {"the sweep file", o->sweep_file}, {"the pamoe binary", o->pamoe},
        {"the working directory", o->work_dir}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (!v[i].value) continue;
        if (!*v[i].value) return pm_error(err, "%s: empty", v[i].name);
        if (!sbatch_safe(v[i].value))
            return pm_error(err, "%s '%s': white space, quotes and %% cannot go into an sbatch script",
                            v[i].name, v[i].value);
    }
    if (o->time) {
        for (const char *s = o->time; *s; s++)
            if (!strchr("0123456789:-", *s))
                return pm_error(err, "--time '%s': not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH:MM:SS)", o->time);
    }
    if (o->extra) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->extra);
        for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
            const char *name = tok + (strncmp(tok, "--", 2) ? 0 : 2);
            int ok = isalpha((unsigned char)*name);
            for (const char *c = name; *c && ok; c++) ok = isalnum((unsigned char)*c) || strchr("-_=:,./+@", *c);
            if (!ok)
                return pm_error(err, "--extra: '%s' is not an sbatch option (name or name=value of letters, "
                                     "digits and -_=:,./+@)", tok);
        }
    }
    return 0;
}

void sweep_slurm_write(FILE *f, const SweepSlurmOptions *o) {
    const int gpu = o->gpus_per_task > 0;
    const int n = sweep_slurm_elements(o);
    const int m = o->max_parallel > 0 && o->max_parallel < n ? o->max_parallel : n;
    fprintf(f, "#!/bin/sh\n");
    fprintf(f, "# The sweep %s (%d runs in %d tasks) as a Slurm job array, written by `pamoe sweep slurm`.\n",
            o->sweep_file, o->n_runs, o->n_tasks);
    fprintf(f, "# Submit with: sbatch %s/sweep.sbatch\n", o->out_dir);
    fprintf(f, "# Every element is safe to cancel, preempt or requeue: `pamoe sweep run` skips finished\n"
               "# tasks and resumes interrupted ones from their checkpoints.\n");
    fprintf(f, "#SBATCH --job-name=pamoe-sweep\n");
    fprintf(f, "#SBATCH --array=0-%d%%%d\n", n - 1, m);
    fprintf(f, "#SBATCH --output=%s/logs/%%A_%%a.out\n", o->out_dir);
    fprintf(f, "#SBATCH --chdir=%s\n", o->work_dir);
    fprintf(f, "#SBATCH --open-mode=append\n");
    fprintf(f, "#SBATCH --requeue\n");
    fprintf(f, "#SBATCH --ntasks=1\n");
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", o->cpus_per_task);
    if (gpu) fprintf(f, "#SBATCH --gpus-per-task=%d\n", o->gpus_per_task);
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    if (o->account) fprintf(f, "#SBATCH --account=%s\n", o->account);
    if (o->extra) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", o->extra);
        for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
            fprintf(f, "#SBATCH %s%s\n", strncmp(tok, "--", 2) ? "--" : "", tok);
    }
    fprintf(f, "set -u\n");
    fprintf(f, "PAMOE='%s'\nSWEEP='%s'\nOUT='%s'\n", o->pamoe, o->sweep_file, o->out_dir);
    fprintf(f, "K=${SLURM_ARRAY_TASK_ID:?run this script with sbatch (a job array)}\n");
    fprintf(f, "echo \"pamoe sweep: array element $K on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\"\n");
    if (gpu) {
        fprintf(f, "# one sweep task: its runs batched in one process on the GPU\n");
        fprintf(f, "exec \"$PAMOE\" sweep run \"$SWEEP\" --out \"$OUT\" --task \"$K\" --device cuda --quiet\n");
        return;
    }
    /* CPU: C tasks per element, one single-threaded process each. Slurm signals every
     * process of the job on scancel, so each worker checkpoints and stops by itself. */
    fprintf(f, "# sweep tasks K*%d .. K*%d+%d, one single-threaded process per allocated core\n",
            o->cpus_per_task, o->cpus_per_task, o->cpus_per_task - 1);
    fprintf(f, "first=$((K * %d)); last=$((first + %d - 1)); [ $last -le %d ] || last=%d\n",
            o->cpus_per_task, o->cpus_per_task, o->n_tasks - 1, o->n_tasks - 1);
    fprintf(f, "pids=\"\"\nt=$first\n");
    fprintf(f, "while [ $t -le $last ]; do\n"
               "    \"$PAMOE\" sweep run \"$SWEEP\" --out \"$OUT\" --task \"$t\" --jobs 1 --quiet &\n"
               "    pids=\"$pids $!\"; t=$((t + 1))\n"
               "done\n");
    fprintf(f, "rc=0\nfor p in $pids; do wait \"$p\" || rc=1; done\nexit $rc\n");
}
