/* sweep_plan.c: the grid (Cartesian product of the axis groups, first group slowest), run ids
 * in grid order, and the packing of runs into tasks. Runs whose process-level values are
 * equal (every axis but seed, learning_rate and noise_std) form one family; a family is cut,
 * in grid order, into tasks no larger than the task budgets allow. The budgets use static
 * estimates (below), never a measurement, so the tasks are the same on every machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* Static memory model of one `pamoe train` process, from the paper config on the CPU
 * backend (peak resident size at R = 1, 16, 64 and num_steps = 2000, 4000): the libraries,
 * traces and buffers of the process, plus the rollout and metric buffers of each run. */
#define MEM_BASE_MIB 250.0
#define MEM_RUN_MIB 2.0
#define MEM_RUN_MIB_PER_STEP 0.0007

const char *sweep_run_value(const SweepPlan *p, int r, int a) {
    return p->sf->axes[a].values[p->runs[r].value[a]];
}

int sweep_plan_find_run(const SweepPlan *p, const char *id) {
    for (int r = 0; r < p->n_runs; r++)
        if (!strcmp(p->runs[r].id, id)) return r;
    return -1;
}

/* Applies "key=value" (kind: policy and value); messages name the sweep file's line. */
static int apply(TrainConfig *c, const char *key, const char *value, const char *path, int line, PmError *err) {
    const char *keys[2] = {key, NULL};
    if (!strcmp(key, "kind") || (strchr(key, '.') && !strcmp(strchr(key, '.') + 1, "kind"))) keys[0] = "policy", keys[1] = "value";
    size_t len = strlen(key) + strlen(value) + 16;
    char *assign = xmalloc(len);
    int rc = 0;
    for (int i = 0; i < 2 && keys[i] && !rc; i++) {
        snprintf(assign, len, "%s=%s", keys[i], value);
        PmError e;
        if (config_set(c, assign, &e)) rc = pm_error(err, "%s:%d: %s: %s", path, line, key, e.msg);
    }
    free(assign);
    return rc;
}

/* Base + overrides + the process-level values of run r; threads = 1 unless the sweep sets
 * it (one worker per core is the sweep's parallelism). */
static int family_config(const SweepPlan *p, int r, TrainConfig *c, PmError *err) {
    const SweepFile *sf = p->sf;
    config_defaults(c);
    if (config_load_file(c, sf->base, err)) return -1;
    c->threads = 1;
    for (int o = 0; o < sf->n_overrides; o++)
        if (apply(c, sf->overrides[o].key, sf->overrides[o].value, sf->path, sf->overrides[o].line, err)) return -1;
    for (int a = 0; a < sf->n_axes; a++)
        if (!sf->axes[a].per_run && apply(c, sf->axes[a].key, sweep_run_value(p, r, a), sf->path, sf->axes[a].line, err)) return -1;
    return 0;
}

/* The per-run lists of runs[0..n) (seed, learning_rate, noise_std): the axis values, or
 * the base value repeated (a single seed would otherwise mean seed, seed+1, ...). Writes
 * them into lists (3 buffers of CONFIG_LIST_LEN) when lists is not NULL; returns the length
 * of the longest. */
static size_t run_lists(const SweepPlan *p, const TrainConfig *base, const int *runs, int n, char **lists) {
    static const char *const keys[3] = {"seed", "learning_rate", "noise_std"};
    const char *base_vals[3] = {base->seed_str, base->learning_rate_str, base->noise_std_str};
    size_t longest = 0;
    for (int k = 0; k < 3; k++) {
        int axis = -1;
        for (int a = 0; a < p->sf->n_axes; a++)
            if (p->sf->axes[a].per_run && !strcmp(p->sf->axes[a].name, keys[k])) axis = a;
        size_t len = 0;
        if (lists) lists[k][0] = 0;
        for (int i = 0; i < n; i++) {
            const char *v = axis >= 0 ? sweep_run_value(p, runs[i], axis) : base_vals[k];
            size_t vl = strlen(v);
            if (lists && len + vl + 1 < CONFIG_LIST_LEN) {
                if (i) lists[k][len] = ',';
                memcpy(lists[k] + len + (i > 0), v, vl + 1);
            }
            len += vl + (i > 0);
        }
        if (len > longest) longest = len;
    }
    return longest;
}

static char **lists_new(void) {
    char **l = xmalloc(3 * sizeof *l);
    for (int k = 0; k < 3; k++) l[k] = xmalloc(CONFIG_LIST_LEN);
    return l;
}

static void lists_free(char **l) {
    for (int k = 0; k < 3; k++) free(l[k]);
    free(l);
}

static int set_lists(TrainConfig *c, int n, char **lists, PmError *err) {
    char *assign = xmalloc(CONFIG_LIST_LEN + 32);
    snprintf(assign, CONFIG_LIST_LEN + 32, "runs=%d", n);
    int rc = config_set(c, assign, err);
    static const char *const keys[3] = {"seed", "learning_rate", "noise_std"};
    for (int k = 0; k < 3 && !rc; k++) {
        snprintf(assign, CONFIG_LIST_LEN + 32, "%s=%s", keys[k], lists[k]);
        rc = config_set(c, assign, err);
    }
    free(assign);
    return rc ? -1 : config_finalize(c, err);
}

static double est_mib(const TrainConfig *c, int R) {
    return MEM_BASE_MIB + R * (MEM_RUN_MIB + MEM_RUN_MIB_PER_STEP * c->num_steps);
}

static double est_seconds(const SweepFile *sf, const TrainConfig *c, int R) {
    return (double)R * (double)c->total_timesteps / sf->steps_per_second;
}

/* Same process-level values, compared as text: an axis may repeat a value (a zipped
 * kind = pamoe,pamoe,...,moe), and equal values belong in one process. */
static int same_family(const SweepPlan *p, int r1, int r2) {
    for (int a = 0; a < p->sf->n_axes; a++)
        if (!p->sf->axes[a].per_run && strcmp(sweep_run_value(p, r1, a), sweep_run_value(p, r2, a))) return 0;
    return 1;
}

/* Runs from members[i] on that fit one task: at most cap, and per-run lists that fit a line. */
static int chunk_len(const SweepPlan *p, const TrainConfig *c, const int *members, int i, int n, int cap) {
    int k = 1;
    while (i + k < n && k < cap && run_lists(p, c, members + i, k + 1, NULL) <= SWEEP_LIST_LEN) k++;
    return k;
}

static void make_runs(SweepPlan *p) {
    const SweepFile *sf = p->sf;
    long total = 1;
    for (int g = 0; g < sf->n_groups; g++) total *= sf->group_size[g];
    p->n_runs = (int)total;
    p->runs = xcalloc((size_t)total, sizeof *p->runs);
    for (int r = 0; r < p->n_runs; r++) {
        SweepRun *run = &p->runs[r];
        int idx[SWEEP_MAX_AXES];
        long rest = r;
        for (int g = sf->n_groups - 1; g >= 0; g--) {
            idx[g] = (int)(rest % sf->group_size[g]);
            rest /= sf->group_size[g];
        }
        snprintf(run->id, sizeof run->id, "r%04d", r);
        run->task = -1;
        size_t len = 0;
        for (int a = 0; a < sf->n_axes; a++) {
            run->value[a] = idx[sf->axes[a].group];
            if (!strcmp(sf->axes[a].name, "seed")) continue;
            len += snprintf(run->cell + len, sizeof run->cell - len, "%s%s=%s", len ? "," : "", sf->axes[a].name, sweep_run_value(p, r, a));
            if (len >= sizeof run->cell) len = sizeof run->cell - 1;
        }
    }
}

/* Cuts each family, in grid order, into tasks within the budgets. */
static int pack(SweepPlan *p, PmError *err) {
    const SweepFile *sf = p->sf;
    TrainConfig *c = xmalloc(sizeof *c);
    int *members = xmalloc((size_t)p->n_runs * sizeof *members);
    int cap = 0, rc = -1;
    for (int first = 0; first < p->n_runs; first++) {
        if (p->runs[first].task >= 0) continue;
        if (family_config(p, first, c, err)) goto out;
        if (strchr(c->seed_str, ',') || strchr(c->learning_rate_str, ',') || strchr(c->noise_std_str, ',')) {
            pm_error(err, "%s: the base or an override gives a per-run list (seed, learning_rate or noise_std); make it an axis of [sweep] instead", sf->path);
            goto out;
        }
        double one_s = est_seconds(sf, c, 1);
        int by_time = (int)fmax(1, floor(sf->task_hours * 3600 / one_s));
        int by_mem = (int)fmax(1, floor((sf->task_memory_mib - MEM_BASE_MIB) / (est_mib(c, 1) - MEM_BASE_MIB)));
        int rmax = sf->task_runs;
        if (by_time < rmax) rmax = by_time;
        if (by_mem < rmax) rmax = by_mem;
        int n = 0;
        for (int r = first; r < p->n_runs; r++)
            if (p->runs[r].task < 0 && same_family(p, first, r)) members[n++] = r;
        /* as many tasks as the budgets need, then equal sizes: 64 + 64 + 32 becomes 54 + 54 + 52 */
        int chunks = 0;
        for (int i = 0; i < n; chunks++) i += chunk_len(p, c, members, i, n, rmax);
        int even = (n + chunks - 1) / chunks;
        for (int i = 0; i < n;) {
            int k = chunk_len(p, c, members, i, n, even < rmax ? even : rmax);
            if (run_lists(p, c, members + i, k, NULL) > SWEEP_LIST_LEN) {
                pm_error(err, "%s: run %s: a per-run value is too long for one task's list", sf->path, p->runs[members[i]].id);
                goto out;
            }
            if (p->n_tasks == cap) p->tasks = xrealloc(p->tasks, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *p->tasks);
            SweepTask *t = &p->tasks[p->n_tasks];
            memset(t, 0, sizeof *t);
            t->n_runs = k;
            t->runs = xmalloc((size_t)k * sizeof *t->runs);
            for (int j = 0; j < k; j++) {
                t->runs[j] = members[i + j];
                p->runs[members[i + j]].task = p->n_tasks;
                p->runs[members[i + j]].slot = j;
            }
            t->iterations = c->total_timesteps / c->num_steps;
            t->num_steps = c->num_steps;
            t->est_seconds = est_seconds(sf, c, k);
            t->est_mib = est_mib(c, k);
            p->n_tasks++;
            i += k;
        }
    }
    rc = 0;
out:
    free(members);
    free(c);
    return rc;
}

SweepPlan *sweep_plan_make(SweepFile *sf, PmError *err) {
    SweepPlan *p = xcalloc(1, sizeof *p);
    p->sf = sf;
    make_runs(p);
    if (pack(p, err)) { sweep_plan_free(p); return NULL; }
    /* every task's configuration must pass the trainer's own checks before anything runs */
    TrainConfig *c = xmalloc(sizeof *c);
    for (int t = 0; t < p->n_tasks; t++)
        if (sweep_plan_task_config(p, t, c, err)) { free(c); sweep_plan_free(p); return NULL; }
    free(c);
    return p;
}

int sweep_plan_task_config(const SweepPlan *p, int task, TrainConfig *c, PmError *err) {
    const SweepTask *t = &p->tasks[task];
    if (family_config(p, t->runs[0], c, err)) return -1;
    char **lists = lists_new();
    run_lists(p, c, t->runs, t->n_runs, lists);
    PmError e;
    int rc = set_lists(c, t->n_runs, lists, &e);
    lists_free(lists);
    if (rc) return pm_error(err, "%s: task t%04d: %s", p->sf->path, task, e.msg);
    return 0;
}

int sweep_plan_run_config(const SweepPlan *p, int run, TrainConfig *c, PmError *err) {
    if (family_config(p, run, c, err)) return -1;
    char **lists = lists_new();
    run_lists(p, c, &run, 1, lists);
    PmError e;
    int rc = set_lists(c, 1, lists, &e);
    lists_free(lists);
    if (rc) return pm_error(err, "%s: run %s: %s", p->sf->path, p->runs[run].id, e.msg);
    return 0;
}

void sweep_plan_free(SweepPlan *p) {
    if (!p) return;
    for (int t = 0; t < p->n_tasks; t++) free(p->tasks[t].runs);
    free(p->tasks);
    free(p->runs);
    sweep_file_free(p->sf);
    free(p);
}
