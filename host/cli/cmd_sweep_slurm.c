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

static void usage(FILE *f) {
    fprintf(f,
        "usage: pamoe sweep slurm FILE --out DIR [--partition P] [--time T] [--gpus-per-task G]\n"
        "                         [--cpus-per-task C] [--max-parallel M] [--account A]\n"
        "                         [--extra \"opt=value ...\"]\n\n"
        "Writes DIR/sweep.sbatch, the sweep FILE as a Slurm job array (logs in DIR/logs/%%A_%%a.out),\n"
        "prepares DIR, and prints the sbatch command that submits it. Each array element runs\n"
        "`pamoe sweep run FILE --out DIR --task K`: cancelling, preempting or requeueing an\n"
        "element loses nothing, its rerun resumes from the checkpoints. The script holds absolute\n"
        "paths to this pamoe binary, FILE and DIR, which every node must see, and runs in the\n"
        "current directory (the configs' data paths are relative to it, as for pamoe train).\n\n"
        "options:\n"
        "  --out DIR            the sweep directory (created; as for `pamoe sweep run`)\n"
        "  --gpus-per-task G    G > 0: one sweep task per element, its runs batched on --device cuda;\n"
        "                       0 (default): a CPU sweep\n"
        "  --cpus-per-task C    cores per element (default 1); a CPU element runs C sweep tasks,\n"
        "                       one single-threaded process per core\n"
        "  --max-parallel M     at most M elements at once (the array's %%M; default all)\n"
        "  --partition P, --time T, --account A   the sbatch options of the same name\n"
        "  --extra \"...\"        more sbatch options, e.g. \"mem=8G qos=long\" (the -- is optional)\n"
        "  -h, --help           this text\n");
}

static int parse_int(const char *opt, const char *s, int lo, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > 1000000) {
        fprintf(stderr, "pamoe sweep slurm: %s '%s': expected an integer >= %d\n", opt, s, lo);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_sweep_slurm(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(stdout); return 0; }
    SweepSlurmOptions o = {0};
    o.cpus_per_task = 1;
    const char *file = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = a[0] == '-' && a[1] == '-';
        if (takes && !v) {
            fprintf(stderr, "pamoe sweep slurm: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--partition")) o.partition = v;
        else if (!strcmp(a, "--time")) o.time = v;
        else if (!strcmp(a, "--account")) o.account = v;
        else if (!strcmp(a, "--extra")) o.extra = v;
        else if (!strcmp(a, "--gpus-per-task")) { if (parse_int(a, v, 0, &o.gpus_per_task)) return 2; }
        else if (!strcmp(a, "--cpus-per-task")) { if (parse_int(a, v, 1, &o.cpus_per_task)) return 2; }
        else if (!strcmp(a, "--max-parallel")) { if (parse_int(a, v, 1, &o.max_parallel)) return 2; }
        else if (takes) {
            fprintf(stderr, "pamoe sweep slurm: unknown option %s (see --help)\n", a);
            return 2;
        } else if (!file) { file = a; continue; }
        else {
            fprintf(stderr, "pamoe sweep slurm: unexpected argument '%s' (one sweep file)\n", a);
            return 2;
        }
        i++;
    }
    if (!file || !out) {
        fprintf(stderr, "pamoe sweep slurm: needs a sweep FILE and --out DIR\n\n");
        usage(stderr);
        return 2;
    }
    PmError err = {0};
    SweepFile *sf = sweep_file_load(file, NULL, &err);
    SweepPlan *p = sf ? sweep_plan_make(sf, &err) : NULL;
    if (!p) {
        fprintf(stderr, "pamoe sweep slurm: %s\n", err.msg);
        return 1;
    }
    char pamoe[PATH_MAX], sweep_abs[PATH_MAX], out_abs[PATH_MAX], cwd[PATH_MAX], logs[PATH_MAX + 8];
    ssize_t len = readlink("/proc/self/exe", pamoe, sizeof pamoe - 1);
    int rc = 1;
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
