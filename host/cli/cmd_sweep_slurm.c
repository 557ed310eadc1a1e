/* cmd_sweep_slurm.c: `pamoe sweep slurm FILE --out DIR [...]` writes DIR/sweep.sbatch, the
 * sweep as one Slurm job array, and prints the sbatch command. It prepares DIR here, once,
 * so the array elements (possibly on several nodes at once) find it ready and only run. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_sweep_slurm.h"
#include "sweep.h"
#include "sweep_slurm.h"

int cmd_sweep_slurm(int argc, char **argv) {
    SweepSlurmOptions o = {0};
    o.cpus_per_task = 1;
    const char *out = NULL;
    const CliOpt opts[] = {
        {"--out", "DIR", CLI_STR, &out, .help = "the sweep directory (created; as for `pamoe sweep run`); required"},
        {"--gpus-per-task", "G", CLI_INT, &o.gpus_per_task, .min = 0, .max = 64,
         .help = "G > 0: one sweep task per element, its runs batched on --device cuda;\n0 (default): a CPU sweep"},
        {"--cpus-per-task", "C", CLI_INT, &o.cpus_per_task, .min = 1, .max = 4096,
         .help = "cores per element (default 1); a CPU element runs C sweep tasks,\none single-threaded process per core"},
        {"--max-parallel", "M", CLI_INT, &o.max_parallel, .min = 1, .max = 1000000,
         .help = "at most M elements at once (the array's %M; default all)"},
        {"--partition", "P", CLI_STR, &o.partition, .help = "sbatch --partition"},
        {"--time", "T", CLI_STR, &o.time, .help = "sbatch --time (minutes, MM:SS, HH:MM:SS, D-HH:MM:SS)"},
        {"--account", "A", CLI_STR, &o.account, .help = "sbatch --account"},
        {"--extra", "\"OPT ...\"", CLI_STR, &o.extra,
         .help = "more sbatch options, e.g. \"mem=8G qos=long\" (the leading -- is optional;\nwrite --extra=\"--mem=8G\" when the value starts with --)"},
    };
    const CliCommand cmd = {
        "sweep slurm", "FILE --out DIR [options]",
        "Writes DIR/sweep.sbatch, the sweep FILE as a Slurm job array (logs in\n"
        "DIR/logs/%A_%a.out), prepares DIR, and prints the sbatch command that submits it.\n"
        "Each array element runs `pamoe sweep run FILE --out DIR --task K`: cancelling,\n"
        "preempting or requeueing an element loses nothing, its rerun resumes from the\n"
        "checkpoints. The script holds absolute paths to this pamoe binary, FILE and DIR, which\n"
        "every node must see, and runs in the current directory (the configs' data paths are\n"
        "relative to it, as for pamoe train).",
        opts, PM_ARRAY_LEN(opts), "docs/slurm.md has the script and how it is tested.\n", NULL};
    /* FILE comes first; the options follow it */
    const char *file = argc >= 2 && strncmp(argv[1], "--", 2) ? argv[1] : NULL;
    int rc = file ? cli_parse(&cmd, argc - 1, argv + 1, NULL) : cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN) return rc;
    if (!file) return cli_usage_error(&cmd, "the sweep FILE comes first");
    if (!out) return cli_usage_error(&cmd, "--out DIR is required");
    PmError err = {0};
    SweepFile *sf = sweep_file_load(file, NULL, &err);
    SweepPlan *p = sf ? sweep_plan_make(sf, &err) : NULL;
    if (!p) {
        fprintf(stderr, "pamoe sweep slurm: %s\n", err.msg);
        return 1;
    }
    char pamoe[PATH_MAX], sweep_abs[PATH_MAX], out_abs[PATH_MAX], cwd[PATH_MAX], logs[PATH_MAX + 8];
    ssize_t len = readlink("/proc/self/exe", pamoe, sizeof pamoe - 1);
    rc = 1;
    if (len <= 0) {
        fprintf(stderr, "pamoe sweep slurm: cannot find this binary's path (/proc/self/exe)\n");
        goto done;
    }
    pamoe[len] = 0;
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "pamoe sweep slurm: the working directory: %s\n", strerror(errno));
        goto done;
    }
    if (!realpath(file, sweep_abs)) {
        fprintf(stderr, "pamoe sweep slurm: %s: %s\n", file, strerror(errno));
        goto done;
    }
    if (sweep_dir_prepare(p, out, &err)) {
        fprintf(stderr, "pamoe sweep slurm: %s\n", err.msg);
        goto done;
    }
    if (!realpath(out, out_abs)) {
        fprintf(stderr, "pamoe sweep slurm: %s: %s\n", out, strerror(errno));
        goto done;
    }
    o.pamoe = pamoe;
    o.sweep_file = sweep_abs;
    o.out_dir = out_abs;
    o.work_dir = cwd;
    o.n_tasks = p->n_tasks;
    o.n_runs = p->n_runs;
    if (sweep_slurm_check(&o, &err)) {
        fprintf(stderr, "pamoe sweep slurm: %s\n", err.msg);
        goto done;
    }
    /* Slurm does not create the directory of --output: an element would fail before it ran */
    snprintf(logs, sizeof logs, "%s/logs", out_abs);
    if (mkdir(logs, 0777) && errno != EEXIST) {
        fprintf(stderr, "pamoe sweep slurm: %s: %s\n", logs, strerror(errno));
        goto done;
    }
    char script[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(script, sizeof script, "%s/sweep.sbatch", out_abs);
    snprintf(tmp, sizeof tmp, "%s.tmp", script);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "pamoe sweep slurm: %s: %s\n", tmp, strerror(errno));
        goto done;
    }
    sweep_slurm_write(f, &o);
    if (fclose(f) || chmod(tmp, 0755) || rename(tmp, script)) {
        fprintf(stderr, "pamoe sweep slurm: %s: %s\n", script, strerror(errno));
        remove(tmp);
        goto done;
    }
    int n = sweep_slurm_elements(&o);
    printf("%s: %d runs in %d tasks, %d array element%s (%s)\n", script, p->n_runs, p->n_tasks, n,
           n == 1 ? "" : "s", o.gpus_per_task > 0 ? "one task each, on a GPU" : "one process per core");
    if (o.gpus_per_task == 0 && p->n_tasks < o.cpus_per_task)
        fprintf(stderr, "pamoe sweep slurm: note: %d task(s) for %d cores per element: %d core(s) will idle "
                        "(a smaller [limits] task_runs makes more tasks)\n",
                p->n_tasks, o.cpus_per_task, o.cpus_per_task - p->n_tasks);
    printf("sbatch %s\n", script);
    printf("# progress: %s sweep status %s; when the array has ended: %s sweep merge %s\n", pamoe, out_abs,
           pamoe, out_abs);
    rc = 0;
done:
    sweep_plan_free(p);
    return rc;
}
