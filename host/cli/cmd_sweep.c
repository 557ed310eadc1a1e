/* cmd_sweep.c: `pamoe sweep plan|run|status|config|merge` (include/sweep.h, docs/sweep.md). */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"
#include "cmd_sweep_slurm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: pamoe sweep plan FILE [--jobs N] [--no-calibrate]\n"
            "       pamoe sweep run FILE --out DIR [--jobs N] [--task K] [--device D] [--quiet]\n"
            "       pamoe sweep status DIR\n"
            "       pamoe sweep config DIR --run ID\n"
            "       pamoe sweep merge DIR [--copy [--out FILE]]\n"
            "       pamoe sweep slurm FILE --out DIR [Slurm options: pamoe sweep slurm --help]\n\n"
            "Runs a grid of training runs described by a sweep file (configs/sweeps/*.ini): a base\n"
            "config, overrides, and a [sweep] section of axes (kind = mlp,moe,smoe,pamoe; seed = 1-20;\n"
            "any config key with a comma list; zip = a,b pairs axes). Runs that differ only in seed,\n"
            "learning_rate or noise_std are batched in one process (a task); the others go to\n"
            "separate tasks. Run ids r0000, r0001, ... follow the grid order (first axis slowest).\n"
            "Run every sweep command from the same directory: the data paths of the configs are\n"
            "relative to it, as for pamoe train.\n\n"
            "commands:\n"
            "  plan FILE      print the runs, the tasks, iterations and steps per task, and the time and\n"
            "                 memory per task estimated from a short calibration; writes nothing\n"
            "  run FILE       run the tasks as worker processes (one thread each) into --out DIR;\n"
            "                 rerunning skips finished tasks and resumes interrupted ones from their\n"
            "                 checkpoints, bit-identically; DIR/sweep.h5 is rebuilt as tasks end\n"
            "  status DIR     every task (pending, running, done, failed + its last error line) and\n"
            "                 every run's last QoE\n"
            "  config DIR     --run ID: the resolved .ini of one run; `pamoe train --config` on it\n"
            "                 gives that run's metrics bit for bit\n"
            "  merge DIR      (re)build DIR/sweep.h5: HDF5 virtual datasets into the task files,\n"
            "                 readable live (h5py.File(p, \"r\", swmr=True)); --copy writes a\n"
            "                 self-contained file (default DIR/sweep_copy.h5, or --out FILE)\n"
            "  slurm FILE     write DIR/sweep.sbatch, the sweep as a Slurm job array, and print the\n"
            "                 sbatch command (its own --help)\n\n"
            "options:\n"
            "  --out DIR      the sweep directory (run)\n"
            "  --jobs N       worker processes at once (default: the cores this process may use)\n"
            "  --task K       run only task K (a Slurm array element); other tasks are left alone\n"
            "  --device D     auto|cpu|cuda for every task (default: the config's run.device)\n"
            "  --no-calibrate plan without the calibration (static estimates only)\n"
            "  --quiet        no progress output\n"
            "  -h, --help     this text\n\n"
            "pamoe sweep COMMAND --help: that command's options. Exit status: 0 done; 1 an error or\n"
            "a failed task; 2 a usage error; 130 interrupted (SIGINT/SIGTERM: workers stop with a\n"
            "checkpoint; run again to resume).\n");
}

/* The cores this process may use (a Slurm or taskset allocation), not the machine's. */
static int usable_cores(void) {
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof set, &set) && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The subcommand's one positional argument (FILE or DIR) comes first; the options after it
 * go through the common parser. Returns CLI_RUN with *pos set, or the exit code. */
static int parse_sub(const CliCommand *cmd, int argc, char **argv, const char *what, const char **pos) {
    *pos = NULL;
    if (argc >= 2 && argv[1][0] != '-') {
        *pos = argv[1];
        return cli_parse(cmd, argc - 1, argv + 1, NULL);
    }
    int rc = cli_parse(cmd, argc, argv, NULL);
    if (rc != CLI_RUN) return rc;
    return cli_usage_error(cmd, "give the %s first", what);
}

static void fmt_seconds(double s, char *buf, size_t len) {
    if (!isfinite(s) || s < 0) snprintf(buf, len, "?");
    else if (s < 120) snprintf(buf, len, "%.0f s", s);
    else if (s < 7200) snprintf(buf, len, "%.1f min", s / 60);
    else snprintf(buf, len, "%.1f h", s / 3600);
}

static void run_range(const SweepPlan *p, int t, char *buf, size_t len) {
    const SweepTask *k = &p->tasks[t];
    if (k->n_runs == 1) snprintf(buf, len, "%s", p->runs[k->runs[0]].id);
    else snprintf(buf, len, "%s..%s", p->runs[k->runs[0]].id, p->runs[k->runs[k->n_runs - 1]].id);
}

/* Tasks whose iterations will slow down after the calibration: moe, smoe or pamoe networks
 * with IEEE subnormals, over more than the ~100 iterations it takes their decaying weights
 * (the faithful router's first) to turn subnormal (docs/perf.md, "Subnormal floats"). The
 * calibration times iterations 2-3, long before. mlp runs keep their speed. */
static int subnormal_slowdown_tasks(const SweepPlan *p) {
    int n = 0;
    TrainConfig *c = xmalloc(sizeof *c);
    PmError err;
    for (int t = 0; t < p->n_tasks; t++)
        if (p->tasks[t].iterations > 100 && !sweep_plan_task_config(p, t, c, &err) && !c->flush_denormals &&
            (c->policy != CFG_NET_MLP || c->value != CFG_NET_MLP))
            n++;
    free(c);
    return n;
}

/* Wall time of the tasks on `jobs` workers, longest first (the order does not change the
 * result of the sweep, only this estimate). */
static double schedule(const double *sec, int n, int jobs) {
    double *w = xcalloc((size_t)jobs, sizeof *w), *s = xmalloc((size_t)n * sizeof *s + 1);
    memcpy(s, sec, (size_t)n * sizeof *s);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (s[j] > s[i]) { double x = s[i]; s[i] = s[j]; s[j] = x; }
    for (int i = 0; i < n; i++) {
        int m = 0;
        for (int j = 1; j < jobs; j++) if (w[j] < w[m]) m = j;
        w[m] += s[i];
    }
    double mx = 0;
    for (int j = 0; j < jobs; j++) if (w[j] > mx) mx = w[j];
    free(w);
    free(s);
    return mx;
}

static int cmd_plan(int argc, char **argv) {
    const char *file;
    int jobs = usable_cores(), no_calibrate = 0;
    PmError err;
    const CliOpt opts[] = {
        {"--jobs", "N", CLI_INT, &jobs, .help = "workers the time estimate assumes (default: the cores this process may use)", .min = 1, .max = 1000000},
        {"--no-calibrate", NULL, CLI_FLAG, &no_calibrate, .help = "static estimates only (no measurement)"},
    };
    const CliCommand cmd = {"sweep plan", "FILE [options]",
                            "Prints the runs, the tasks, iterations and steps per task, and the time and memory\n"
                            "of each task, measured on iterations 2-3 of the first task of each family (one\n"
                            "thread, in a child process and a temporary directory). Writes nothing.",
                            opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = parse_sub(&cmd, argc, argv, "sweep FILE", &file);
    if (rc != CLI_RUN) return rc;
    int calibrate = !no_calibrate;
    SweepFile *sf = sweep_file_load(file, NULL, &err);
    SweepPlan *p = sf ? sweep_plan_make(sf, &err) : NULL;
    if (!p) { fprintf(stderr, "pamoe sweep plan: %s\n", err.msg); return 1; }
    sf = p->sf;
    printf("sweep %s: base %s, %d run(s) in %d task(s)\naxes:", file, sf->base, p->n_runs, p->n_tasks);
    for (int a = 0; a < sf->n_axes; a++) {
        printf("%s %s (%d value%s%s", a ? "," : "", sf->axes[a].key, sf->axes[a].n, sf->axes[a].n > 1 ? "s" : "", sf->axes[a].per_run ? ", per run" : "");
        for (int b = 0; b < a; b++)
            if (sf->axes[b].group == sf->axes[a].group) { printf(", zipped with %s", sf->axes[b].key); break; }
        printf(")");
    }
    printf("\n\nruns (grid order):\n");
    for (int r = 0; r < p->n_runs; r++) {
        printf("  %s  t%04d/%-3d", p->runs[r].id, p->runs[r].task, p->runs[r].slot);
        for (int a = 0; a < sf->n_axes; a++) printf(" %s=%s", sf->axes[a].name, sweep_run_value(p, r, a));
        printf("\n");
    }
    /* calibration: the first task of each family, measured; the others scaled by R */
    double *sec = xmalloc((size_t)p->n_tasks * sizeof *sec), *mib = xmalloc((size_t)p->n_tasks * sizeof *mib);
    int *measured = xcalloc((size_t)p->n_tasks, sizeof *measured);
    for (int t = 0; t < p->n_tasks; t++) { sec[t] = p->tasks[t].est_seconds; mib[t] = p->tasks[t].est_mib; }
    if (calibrate) {
        for (int t = 0; t < p->n_tasks; t++) {
            int ref = -1;
            for (int u = 0; u < t && ref < 0; u++) {
                int same = 1;
                for (int a = 0; a < sf->n_axes; a++)
                    if (!sf->axes[a].per_run && p->runs[p->tasks[u].runs[0]].value[a] != p->runs[p->tasks[t].runs[0]].value[a]) same = 0;
                if (same) ref = u;
            }
            if (ref >= 0 && measured[ref]) {
                double scale = (double)p->tasks[t].n_runs / p->tasks[ref].n_runs;
                sec[t] = sec[ref] / p->tasks[ref].iterations * p->tasks[t].iterations * scale;
                mib[t] = mib[ref] - p->tasks[ref].est_mib + p->tasks[t].est_mib;
                measured[t] = 2;
                continue;
            }
            SweepCalibration cal;
            if (sweep_calibrate(p, t, &cal, &err)) {
                fprintf(stderr, "pamoe sweep plan: calibration of t%04d: %s\n", t, err.msg);
                free(sec); free(mib); free(measured); sweep_plan_free(p);
                return 1;
            }
            sec[t] = cal.setup_seconds + cal.iteration_seconds * p->tasks[t].iterations;
            mib[t] = cal.peak_mib;
            measured[t] = 1;
        }
    }
    printf("\ntasks:\n  %-6s %-14s %5s %10s %10s %12s %12s\n", "task", "runs", "R", "iterations", "steps/run", "est. time", "est. memory");
    double steps = 0, over = 0;
    for (int t = 0; t < p->n_tasks; t++) {
        const SweepTask *k = &p->tasks[t];
        char range[64], ts[32];
        run_range(p, t, range, sizeof range);
        fmt_seconds(sec[t], ts, sizeof ts);
        printf("  t%04d  %-14s %5d %10ld %10ld %12s %8.0f MiB", t, range, k->n_runs, k->iterations, k->iterations * k->num_steps, ts, mib[t]);
        if (sec[t] > sf->task_hours * 3600 || mib[t] > sf->task_memory_mib) { printf("  over the task budget"); over = 1; }
        printf("\n");
        steps += (double)k->iterations * k->num_steps * k->n_runs;
    }
    char wall[32], budget[32];
    fmt_seconds(schedule(sec, p->n_tasks, jobs), wall, sizeof wall);
    fmt_seconds(sf->task_hours * 3600, budget, sizeof budget);
    printf("\ntotal: %.0f env steps; estimated %s with %d worker(s)\n", steps, wall, jobs);
    printf("budget per task: %s at %.0f steps/s per run, %.0f MiB, at most %d runs ([limits])\n", budget, sf->steps_per_second,
           sf->task_memory_mib, sf->task_runs);
    printf("estimates: %s\n", calibrate ? "measured on iterations 2-3 of the first task of each family (one thread), scaled by R and iterations"
                                         : "static (--no-calibrate): [limits] steps_per_second and a memory model");
    if (over) printf("warning: a task is over its budget: lower [limits] task_runs or raise the budget\n");
    int slow = subnormal_slowdown_tasks(p);
    if (slow)
        printf("note: %d task(s) train MoE networks with IEEE subnormals (run.flush_denormals = off, faithful):\n"
               "      from about iteration 100 their weights turn subnormal and iterations get 3-7x slower than\n"
               "      the estimated ones, so allow that much more time (docs/perf.md, \"Subnormal floats\")\n", slow);
    free(sec);
    free(mib);
    free(measured);
    sweep_plan_free(p);
    return 0;
}

static int cmd_run(int argc, char **argv) {
    const char *file, *out = NULL;
    SweepRunOptions opt = {usable_cores(), -1, 0, NULL};
    PmError err;
    const CliOpt opts[] = {
        {"--out", "DIR", CLI_STR, &out, .help = "the sweep directory (required; created; a rerun continues it)"},
        {"--jobs", "N", CLI_INT, &opt.jobs, .help = "worker processes at once (default: the cores this process may use)", .min = 1, .max = 1000000},
        {"--task", "K", CLI_INT, &opt.only_task, .help = "run only task K (a Slurm array element); the others are left alone", .min = 0, .max = 10000000},
        {"--device", "D", CLI_STR, &opt.device, .help = "auto|cpu|cuda for every task (default: the config's run.device)"},
        {"--quiet", NULL, CLI_FLAG, &opt.quiet, .help = "no progress output"},
    };
    const CliCommand cmd = {"sweep run", "FILE --out DIR [options]",
                            "Runs the tasks as worker processes (`pamoe train`, one thread each). A rerun skips\n"
                            "finished tasks and resumes interrupted ones from their checkpoints, bit-identically.\n"
                            "DIR/sweep.h5 is rebuilt at the start, when a task writes its first row or ends, and\n"
                            "at the end.",
                            opts, PM_ARRAY_LEN(opts),
                            "exit status: 0 every selected task done; 1 an error or a failed task; 2 a usage\n"
                            "error; 130 interrupted (SIGINT/SIGTERM: workers stop with a checkpoint; run again).",
                            NULL};
    int rc = parse_sub(&cmd, argc, argv, "sweep FILE", &file);
    if (rc != CLI_RUN) return rc;
    if (!out) return cli_usage_error(&cmd, "--out DIR is required");
    if (opt.device && strcmp(opt.device, "auto") && strcmp(opt.device, "cpu") && strcmp(opt.device, "cuda"))
        return cli_usage_error(&cmd, "--device: '%s' is not auto, cpu or cuda", opt.device);
    SweepFile *sf = sweep_file_load(file, NULL, &err);
    SweepPlan *p = sf ? sweep_plan_make(sf, &err) : NULL;
    if (!p) { fprintf(stderr, "pamoe sweep run: %s\n", err.msg); return 1; }
    rc = sweep_run(p, out, &opt, &err);
    sweep_plan_free(p);
    if (rc < 0) { fprintf(stderr, "pamoe sweep run: %s\n", err.msg); return 1; }
    return rc;
}

#define QOE_METRIC "Reward/Episode Mean Return"

static int cmd_status(int argc, char **argv) {
    const char *dir;
    const CliCommand cmd = {"sweep status", "DIR",
                            "Prints every task (pending, running, done, failed with its last error line, rows\n"
                            "written) and every run's last QoE (Reward/Episode Mean Return).",
                            NULL, 0, NULL, NULL};
    int rc = parse_sub(&cmd, argc, argv, "sweep directory DIR", &dir);
    if (rc != CLI_RUN) return rc;
    PmError err;
    SweepPlan *p = sweep_dir_plan(dir, &err);
    if (!p) { fprintf(stderr, "pamoe sweep status: %s\n", err.msg); return 1; }
    int count[4] = {0};
    TaskState *st = xmalloc((size_t)p->n_tasks * sizeof *st);
    long *rows = xmalloc((size_t)p->n_tasks * sizeof *rows);
    char (*why)[512] = xcalloc((size_t)p->n_tasks, sizeof *why);
    for (int t = 0; t < p->n_tasks; t++) {
        st[t] = sweep_task_state(dir, t, why[t], sizeof why[t]);
        rows[t] = st[t] == TASK_DONE ? p->tasks[t].iterations : sweep_task_rows(dir, t);
        count[st[t]]++;
    }
    printf("sweep %s: %d run(s) in %d task(s): %d done, %d running, %d failed, %d pending\n\n", dir, p->n_runs, p->n_tasks,
           count[TASK_DONE], count[TASK_RUNNING], count[TASK_FAILED], count[TASK_PENDING]);
    printf("  %-6s %-8s %-14s %12s\n", "task", "state", "runs", "iterations");
    for (int t = 0; t < p->n_tasks; t++) {
        char range[64], it[48];
        run_range(p, t, range, sizeof range);
        snprintf(it, sizeof it, "%ld/%ld", rows[t], p->tasks[t].iterations);
        printf("  t%04d  %-8s %-14s %12s", t, sweep_task_state_name(st[t]), range, it);
        if (st[t] == TASK_FAILED) printf("  %s", why[t]);
        printf("\n");
    }
    printf("\n  %-6s %-6s %-8s %10s %10s  %s\n", "run", "task", "status", "iterations", "last QoE", "values");
    for (int t = 0; t < p->n_tasks; t++) {
        const SweepTask *k = &p->tasks[t];
        double *qoe = xmalloc((size_t)k->n_runs * sizeof *qoe);
        sweep_task_last(dir, t, QOE_METRIC, k->n_runs, qoe);
        for (int j = 0; j < k->n_runs; j++) {
            int r = k->runs[j];
            char q[32];
            if (isnan(qoe[j])) snprintf(q, sizeof q, "-");
            else snprintf(q, sizeof q, "%.4f", qoe[j]);
            printf("  %-6s t%04d  %-8s %10ld %10s  ", p->runs[r].id, t, sweep_task_state_name(st[t]), rows[t], q);
            for (int a = 0; a < p->sf->n_axes; a++) printf("%s%s=%s", a ? " " : "", p->sf->axes[a].name, sweep_run_value(p, r, a));
            printf("\n");
        }
        free(qoe);
    }
    free(st);
    free(rows);
    free(why);
    sweep_plan_free(p);
    return 0;
}

static int cmd_config(int argc, char **argv) {
    const char *dir, *id = NULL;
    const CliOpt opts[] = {
        {"--run", "ID", CLI_STR, &id, .help = "the run (r0000, ...; pamoe sweep status DIR lists them)"},
    };
    const CliCommand cmd = {"sweep config", "DIR --run ID",
                            "Prints the resolved .ini of one run (run.runs = 1). `pamoe train --config` on it\n"
                            "gives that run's metrics bit for bit.",
                            opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = parse_sub(&cmd, argc, argv, "sweep directory DIR", &dir);
    if (rc != CLI_RUN) return rc;
    if (!id) return cli_usage_error(&cmd, "give --run ID (e.g. --run r0003; pamoe sweep status %s lists them)", dir);
    PmError err;
    SweepPlan *p = sweep_dir_plan(dir, &err);
    if (!p) { fprintf(stderr, "pamoe sweep config: %s\n", err.msg); return 1; }
    int r = sweep_plan_find_run(p, id);
    if (r < 0) {
        fprintf(stderr, "pamoe sweep config: --run %s: no such run in %s (r0000..%s)\n", id, dir, p->runs[p->n_runs - 1].id);
        sweep_plan_free(p);
        return 1;
    }
    TrainConfig *c = xmalloc(sizeof *c);
    rc = sweep_plan_run_config(p, r, c, &err);
    if (rc) fprintf(stderr, "pamoe sweep config: %s\n", err.msg);
    else {
        char title[600];
        snprintf(title, sizeof title, "run %s of sweep %s (column %d of task t%04d): %s", id, dir, p->runs[r].slot, p->runs[r].task,
                 p->runs[r].cell);
        config_write_ini(stdout, c, title);
    }
    free(c);
    sweep_plan_free(p);
    return rc ? 1 : 0;
}

static int cmd_merge(int argc, char **argv) {
    const char *dir, *out = NULL;
    int copy = 0;
    const CliOpt opts[] = {
        {"--copy", NULL, CLI_FLAG, &copy, .help = "write a self-contained file (the metrics copied) instead of the virtual one"},
        {"--out", "FILE", CLI_STR, &out, .help = "with --copy: where (default DIR/sweep_copy.h5)"},
    };
    const CliCommand cmd = {"sweep merge", "DIR [--copy [--out FILE]]",
                            "Rebuilds DIR/sweep.h5: HDF5 virtual datasets into the task files, readable while\n"
                            "tasks run with h5py.File(p, \"r\", swmr=True) (docs/sweep.md).",
                            opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = parse_sub(&cmd, argc, argv, "sweep directory DIR", &dir);
    if (rc != CLI_RUN) return rc;
    if (out && !copy) return cli_usage_error(&cmd, "--out goes with --copy (the virtual file is always DIR/sweep.h5, beside the task files it maps)");
    PmError err;
    SweepPlan *p = sweep_dir_plan(dir, &err);
    if (!p || sweep_merge(dir, p, copy, out, &err)) {
        fprintf(stderr, "pamoe sweep merge: %s\n", err.msg);
        sweep_plan_free(p);
        return 1;
    }
    printf("%s%s written\n", out ? out : dir, out ? "" : copy ? "/sweep_copy.h5" : "/sweep.h5");
    sweep_plan_free(p);
    return 0;
}

int cmd_sweep(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } SUB[] = {{"plan", cmd_plan}, {"run", cmd_run}, {"status", cmd_status}, {"config", cmd_config}, {"merge", cmd_merge}};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* HDF5 locks a file for its whole open (flock), and a SWMR writer's read-write open
     * fails while any reader holds it: a status or progress look, the coordinator's merge,
     * or a user reading sweep.h5 live would make a task that starts or resumes at that
     * moment fail. Each task has one writer, guaranteed by its own lock file, so HDF5's
     * locks add nothing here: off for this process and the workers it starts. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    /* slurm has its own options and --help (host/cli/cmd_sweep_slurm.c) */
    if (argc >= 2 && !strcmp(argv[1], "slurm")) return cmd_sweep_slurm(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof SUB / sizeof SUB[0]; i++)
        if (!strcmp(argv[1], SUB[i].name)) {
            return SUB[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "pamoe sweep: unknown command '%s' (plan, run, status, config, merge, slurm)\n\n", argv[1]);
    usage(stderr);
    return 2;
}
