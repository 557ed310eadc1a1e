/* sweep_merge.c: DIR/sweep.h5, one file for the analysis of a whole sweep (docs/sweep.md).
 *   /runs                compound, one row per run: run_id, task, status, iterations_done,
 *                        cell, then one field per axis (text: fixed-length ASCII, integer:
 *                        int64, real: float64)
 *   /metrics/<name>      float64 (iterations, runs), the run files' names and attributes,
 *                        NaN where a run has no value (not yet written, or its kind lacks it)
 *   /metrics/iteration, /metrics/global_step   int64 (iterations, runs), -1 where absent
 *   /config              attributes sweep_file and base_config (the two files' texts)
 * The metrics are HDF5 virtual datasets mapping each run's column of its task file, so the
 * file copies nothing and shows the rows a worker writes as it writes them (read it with
 * SWMR, h5py.File(p, "r", swmr=True): the task files are open for SWMR writing, and a
 * plain open of the sweep file cannot open them and shows NaN). iteration and global_step
 * are 1-D in a run file, and HDF5 cannot map a 1-D source into a column of a 2-D virtual
 * dataset reliably while the source grows, so they, like /runs, are a snapshot written
 * at each rebuild. With copy the metrics are read and written too: a self-contained file. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"
#include "sweep.h"

typedef struct {
    char *name, *units, *description;
    unsigned char *in_task; /* per task: the task file has it */
} MetricInfo;

typedef struct {
    MetricInfo *m;
    int n, cap;
    int task, n_tasks;
    hid_t file;
} Catalog;

typedef struct {
    hid_t f;      /* the task file, or -1 */
    long rows;    /* rows written */
    TaskState state;
} TaskInfo;

static void read_attr_str(hid_t obj, const char *name, char **out) {
    char buf[1024] = "";
    if (H5Aexists(obj, name) > 0) h5u_attr_read_str(obj, name, buf, sizeof buf, NULL, NULL);
    *out = xstrdup(buf);
}

static herr_t visit(hid_t g, const char *name, const H5O_info_t *info, void *data) {
    Catalog *c = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t s = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(s);
    H5Sclose(s);
    if (rank == 2) {
        int i;
        for (i = 0; i < c->n && strcmp(c->m[i].name, name); i++) {}
        if (i == c->n) {
            if (c->n == c->cap) c->m = xrealloc(c->m, (size_t)(c->cap = c->cap ? 2 * c->cap : 128) * sizeof *c->m);
            MetricInfo *m = &c->m[c->n++];
            m->name = xstrdup(name);
            read_attr_str(d, "units", &m->units);
            read_attr_str(d, "description", &m->description);
            m->in_task = xcalloc((size_t)c->n_tasks, 1);
        }
        c->m[i].in_task[c->task] = 1;
    }
    H5Dclose(d);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(((const MetricInfo *)a)->name, ((const MetricInfo *)b)->name); }

static hid_t open_task(const char *path) {
    struct stat st;
    if (stat(path, &st)) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (f < 0) f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    return f;
}

static hid_t str_type(size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_CHECK(H5Tset_size(t, len ? len : 1));
    H5_CHECK(H5Tset_strpad(t, H5T_STR_NULLPAD));
    return t;
}

/* /runs: a packed compound written from one byte buffer. */
static int write_runs(hid_t file, const SweepPlan *p, const TaskInfo *ti, PmError *err) {
    const SweepFile *sf = p->sf;
    size_t id_len = 1, cell_len = 1, axis_len[SWEEP_MAX_AXES] = {0};
    for (int r = 0; r < p->n_runs; r++) {
        if (strlen(p->runs[r].id) > id_len) id_len = strlen(p->runs[r].id);
        if (strlen(p->runs[r].cell) > cell_len) cell_len = strlen(p->runs[r].cell);
        for (int a = 0; a < sf->n_axes; a++)
            if (strlen(sweep_run_value(p, r, a)) > axis_len[a]) axis_len[a] = strlen(sweep_run_value(p, r, a));
    }
    size_t off_task = id_len, off_status = off_task + 4, off_iter = off_status + 7, off_cell = off_iter + 8;
    size_t off_axis[SWEEP_MAX_AXES], size = off_cell + cell_len;
    for (int a = 0; a < sf->n_axes; a++) {
        off_axis[a] = size;
        size += sf->axes[a].type == CONFIG_TEXT ? axis_len[a] : 8;
    }
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    hid_t ts[3 + SWEEP_MAX_AXES];
    int nts = 0;
    H5_CHECK(H5Tinsert(t, "run_id", 0, ts[nts++] = str_type(id_len)));
    H5_CHECK(H5Tinsert(t, "task", off_task, H5T_NATIVE_INT32));
    H5_CHECK(H5Tinsert(t, "status", off_status, ts[nts++] = str_type(7)));
    H5_CHECK(H5Tinsert(t, "iterations_done", off_iter, H5T_NATIVE_INT64));
    H5_CHECK(H5Tinsert(t, "cell", off_cell, ts[nts++] = str_type(cell_len)));
    for (int a = 0; a < sf->n_axes; a++) {
        hid_t ft = sf->axes[a].type == CONFIG_TEXT ? (ts[nts++] = str_type(axis_len[a]))
                   : sf->axes[a].type == CONFIG_INT ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
        H5_CHECK(H5Tinsert(t, sf->axes[a].name, off_axis[a], ft));
    }
    unsigned char *buf = xcalloc((size_t)p->n_runs, size);
    for (int r = 0; r < p->n_runs; r++) {
        unsigned char *row = buf + (size_t)r * size;
        const SweepRun *run = &p->runs[r];
        const TaskInfo *k = &ti[run->task];
        memcpy(row, run->id, strlen(run->id));
        int32_t task = run->task;
        memcpy(row + off_task, &task, 4);
        const char *st = sweep_task_state_name(k->state);
        memcpy(row + off_status, st, strlen(st));
        int64_t it = k->state == TASK_DONE ? p->tasks[run->task].iterations : k->rows;
        memcpy(row + off_iter, &it, 8);
        memcpy(row + off_cell, run->cell, strlen(run->cell));
        for (int a = 0; a < sf->n_axes; a++) {
            const char *v = sweep_run_value(p, r, a);
            if (sf->axes[a].type == CONFIG_TEXT) memcpy(row + off_axis[a], v, strlen(v));
            else if (sf->axes[a].type == CONFIG_INT) { int64_t x = strtoll(v, NULL, 10); memcpy(row + off_axis[a], &x, 8); }
            else { double x = strtod(v, NULL); memcpy(row + off_axis[a], &x, 8); }
        }
    }
    hsize_t dims[1] = {(hsize_t)p->n_runs};
    int rc = h5u_write(file, "runs", t, 1, dims, buf, 0, "sweep file", err);
    free(buf);
    for (int i = 0; i < nts; i++) H5Tclose(ts[i]);
    H5Tclose(t);
    return rc;
}

/* iteration and global_step from each task file's 1-D axes, -1 where absent. */
static int write_axes(hid_t file, const SweepPlan *p, const TaskInfo *ti, hsize_t n_iter, PmError *err) {
    static const char *const names[2] = {"iteration", "global_step"};
    int64_t *out = xmalloc(n_iter * (size_t)p->n_runs * sizeof *out);
    int64_t *col = xmalloc(n_iter * sizeof *col);
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        for (size_t i = 0; i < n_iter * (size_t)p->n_runs; i++) out[i] = -1;
        for (int t = 0; t < p->n_tasks; t++) {
            if (ti[t].f < 0 || ti[t].rows <= 0) continue;
            char path[64];
            snprintf(path, sizeof path, "/metrics/%s", names[k]);
            hid_t d = H5Dopen2(ti[t].f, path, H5P_DEFAULT);
            if (d < 0) continue;
            hsize_t rows = (hsize_t)ti[t].rows < n_iter ? (hsize_t)ti[t].rows : n_iter;
            hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &rows, NULL);
            hsize_t start = 0;
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &rows, NULL);
            herr_t ok = H5Dread(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, col);
            H5Sclose(ms);
            H5Sclose(fs);
            H5Dclose(d);
            if (ok < 0) continue;
            for (int j = 0; j < p->tasks[t].n_runs; j++)
                for (hsize_t i = 0; i < rows; i++) out[i * (size_t)p->n_runs + (size_t)p->tasks[t].runs[j]] = col[i];
        }
        char name[64];
        snprintf(name, sizeof name, "metrics/%s", names[k]);
        hsize_t dims[2] = {n_iter, (hsize_t)p->n_runs};
        rc = h5u_write(file, name, H5T_NATIVE_INT64, 2, dims, out, 0, "sweep file", err);
    }
    free(col);
    free(out);
    return rc;
}

static hid_t intermediate_lcpl(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    return lcpl;
}

static hid_t write_metric_virtual(hid_t file, const SweepPlan *p, const MetricInfo *m, hsize_t n_iter) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    double nan = NAN;
    H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan));
    hsize_t vdims[2] = {n_iter, (hsize_t)p->n_runs};
    hid_t vs = H5Screate_simple(2, vdims, NULL);
    char src_name[600];
    snprintf(src_name, sizeof src_name, "/metrics/%s", m->name);
    for (int t = 0; t < p->n_tasks; t++) {
        if (!m->in_task[t]) continue;
        const SweepTask *task = &p->tasks[t];
        char src_file[64];
        snprintf(src_file, sizeof src_file, "tasks/t%04d.h5", t); /* relative: found beside sweep.h5 */
        hsize_t sdims[2] = {(hsize_t)task->iterations, (hsize_t)task->n_runs};
        hsize_t smax[2] = {H5S_UNLIMITED, (hsize_t)task->n_runs};
        hid_t ss = H5Screate_simple(2, sdims, smax);
        /* one mapping per block of slots whose runs are consecutive columns (a task's runs
         * usually are): each mapping opens its source when read, so fewer read faster */
        for (int j = 0; j < task->n_runs;) {
            int k = 1;
            while (j + k < task->n_runs && task->runs[j + k] == task->runs[j] + k) k++;
            hsize_t count[2] = {(hsize_t)task->iterations < n_iter ? (hsize_t)task->iterations : n_iter, (hsize_t)k};
            hsize_t vstart[2] = {0, (hsize_t)task->runs[j]}, sstart[2] = {0, (hsize_t)j};
            H5_CHECK(H5Sselect_hyperslab(vs, H5S_SELECT_SET, vstart, NULL, count, NULL));
            H5_CHECK(H5Sselect_hyperslab(ss, H5S_SELECT_SET, sstart, NULL, count, NULL));
            H5_CHECK(H5Pset_virtual(dcpl, vs, src_file, src_name, ss));
            j += k;
        }
        H5Sclose(ss);
    }
    H5_CHECK(H5Sselect_all(vs));
    hid_t lcpl = intermediate_lcpl();
    char name[600];
    snprintf(name, sizeof name, "metrics/%s", m->name);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F64LE, vs, lcpl, dcpl, H5P_DEFAULT);
    H5_CHECK(d);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(vs);
    return d;
}

static hid_t write_metric_copy(hid_t file, const SweepPlan *p, const TaskInfo *ti, const MetricInfo *m, hsize_t n_iter) {
    size_t n = n_iter * (size_t)p->n_runs;
    double *out = xmalloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = NAN;
    char src_name[600];
    snprintf(src_name, sizeof src_name, "/metrics/%s", m->name);
    for (int t = 0; t < p->n_tasks; t++) {
        if (!m->in_task[t] || ti[t].f < 0 || ti[t].rows <= 0) continue;
        const SweepTask *task = &p->tasks[t];
        hid_t d = H5Dopen2(ti[t].f, src_name, H5P_DEFAULT);
        if (d < 0) continue;
        hid_t fs = H5Dget_space(d);
        hsize_t dims[2];
        H5Sget_simple_extent_dims(fs, dims, NULL);
        if (dims[0] > n_iter) dims[0] = n_iter;
        hsize_t start[2] = {0, 0};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, dims, NULL);
        hid_t ms = H5Screate_simple(2, dims, NULL);
        double *buf = xmalloc(dims[0] * dims[1] * sizeof *buf + 1);
        if (H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0)
            for (int j = 0; j < task->n_runs && (hsize_t)j < dims[1]; j++)
                for (hsize_t i = 0; i < dims[0]; i++) out[i * (size_t)p->n_runs + (size_t)task->runs[j]] = buf[i * dims[1] + (hsize_t)j];
        free(buf);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
    }
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    double nan = NAN;
    H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan));
    hsize_t vdims[2] = {n_iter, (hsize_t)p->n_runs};
    hid_t vs = H5Screate_simple(2, vdims, NULL);
    hid_t lcpl = intermediate_lcpl();
    char name[600];
    snprintf(name, sizeof name, "metrics/%s", m->name);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F64LE, vs, lcpl, dcpl, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out));
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(vs);
    free(out);
    return d;
}

int sweep_merge(const char *dir, const SweepPlan *p, int copy, const char *out, PmError *err) {
    h5u_quiet();
    char path[SWEEP_PATH_LEN], tmp[SWEEP_PATH_LEN + 32];
    if (out) snprintf(path, sizeof path, "%s", out);
    else snprintf(path, sizeof path, "%s/%s", dir, copy ? "sweep_copy.h5" : "sweep.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    TaskInfo *ti = xcalloc((size_t)p->n_tasks, sizeof *ti);
    Catalog cat = {NULL, 0, 0, 0, p->n_tasks, -1};
    hsize_t n_iter = 1;
    for (int t = 0; t < p->n_tasks; t++) {
        char tp[SWEEP_PATH_LEN];
        sweep_task_path(dir, t, "h5", tp, sizeof tp);
        ti[t].state = sweep_task_state(dir, t, NULL, 0);
        ti[t].f = open_task(tp);
        ti[t].rows = sweep_task_rows(dir, t);
        if ((hsize_t)p->tasks[t].iterations > n_iter) n_iter = (hsize_t)p->tasks[t].iterations;
        if (ti[t].f < 0) continue;
        hid_t g = H5Gopen2(ti[t].f, "/metrics", H5P_DEFAULT);
        if (g < 0) continue;
        cat.task = t;
        H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_INC, visit, &cat, H5O_INFO_BASIC);
        H5Gclose(g);
    }
    if (cat.n) qsort(cat.m, (size_t)cat.n, sizeof *cat.m, by_name);
    /* a task not started yet is mapped for every name: HDF5 reads fill for a source file or
     * dataset that does not exist, and the rebuild after the task starts makes it exact */
    for (int t = 0; t < p->n_tasks; t++)
        if (ti[t].f < 0)
            for (int i = 0; i < cat.n; i++) cat.m[i].in_task[t] = 1;
    int rc = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) { pm_error(err, "%s: cannot create", tmp); goto out; }
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    int ok = !h5u_attr_str(root, "format", "pamoe-sweep-1", "sweep file", err);
    H5Gclose(root);
    hid_t cg = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok = ok && !h5u_attr_str(cg, "sweep_file", p->sf->text, "sweep file", err);
    ok = ok && !h5u_attr_str(cg, "base_config", p->sf->base_text, "sweep file", err);
    H5Gclose(cg);
    ok = ok && !write_runs(f, p, ti, err);
    if (ok) {
        hid_t mg = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(mg);
    }
    for (int i = 0; ok && i < cat.n; i++) {
        hid_t d = copy ? write_metric_copy(f, p, ti, &cat.m[i], n_iter) : write_metric_virtual(f, p, &cat.m[i], n_iter);
        ok = !h5u_attr_str(d, "units", cat.m[i].units, "sweep file", err) &&
             !h5u_attr_str(d, "description", cat.m[i].description, "sweep file", err);
        H5Dclose(d);
    }
    ok = ok && !write_axes(f, p, ti, n_iter, err);
    if (H5Fclose(f) < 0 && ok) { ok = 0; pm_error(err, "%s: cannot write", tmp); }
    if (ok && rename(tmp, path)) { ok = 0; pm_error(err, "%s: cannot write: %s", path, strerror(errno)); }
    if (!ok) unlink(tmp);
    rc = ok ? 0 : -1;
out:
    for (int t = 0; t < p->n_tasks; t++)
        if (ti[t].f >= 0) H5Fclose(ti[t].f);
    for (int i = 0; i < cat.n; i++) {
        free(cat.m[i].name);
        free(cat.m[i].units);
        free(cat.m[i].description);
        free(cat.m[i].in_task);
    }
    free(cat.m);
    free(ti);
    return rc;
}
