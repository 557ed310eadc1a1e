/* sweep_dir.c: the sweep directory. DIR/sweep.ini and DIR/base.ini are copies of the files the
 * plan came from, so status, config and merge rebuild the same plan from DIR alone, and a
 * second `sweep run` into DIR with another sweep file is refused. Each task has files
 * DIR/tasks/tNNNN.*: .ini (its configuration), .h5 and .ckpt.h5 (the run file and checkpoint
 * of `pamoe train`), .log (the worker's output), .lock (held with flock by whoever runs it),
 * .done and .failed (markers). */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"
#include "sweep.h"

const char *sweep_task_state_name(TaskState s) {
    static const char *const names[] = {"pending", "running", "done", "failed"};
    return names[s];
}

void sweep_task_path(const char *dir, int task, const char *ext, char *buf, size_t len) {
    snprintf(buf, len, "%s/tasks/t%04d.%s", dir, task, ext);
}

static int file_exists(const char *path) {
    struct stat st;
    return !stat(path, &st);
}

/* Whole file into a string (NULL when absent). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = fread(s, 1, (size_t)(n > 0 ? n : 0), f);
    s[got] = 0;
    fclose(f);
    return s;
}

/* Writes text to path through path.tmp.PID and a rename, so a reader never sees half a file. */
static int write_atomic(const char *path, const char *text, PmError *err) {
    char tmp[SWEEP_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return pm_error(err, "%s: cannot write: %s", tmp, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return pm_error(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

static int keep_copy(const char *dir, const char *name, const char *text, const char *source, PmError *err) {
    char path[SWEEP_PATH_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *old = slurp(path);
    if (!old) return write_atomic(path, text, err);
    int same = !strcmp(old, text);
    free(old);
    if (!same)
        return pm_error(err, "%s holds another sweep: %s differs from %s; use another --out (or delete %s to start over)", dir, path, source, dir);
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir) {
    char path[SWEEP_PATH_LEN];
    snprintf(path, sizeof path, "%s", dir);
    for (char *s = path + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(path, 0777) && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(path, 0777) && errno != EEXIST ? -1 : 0;
}

int sweep_dir_prepare(const SweepPlan *p, const char *dir, PmError *err) {
    char path[SWEEP_PATH_LEN];
    if (make_dirs(dir)) return pm_error(err, "%s: cannot create: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/tasks", dir);
    if (mkdir(path, 0777) && errno != EEXIST) return pm_error(err, "%s: cannot create: %s", path, strerror(errno));
    if (keep_copy(dir, "sweep.ini", p->sf->text, p->sf->path, err)) return -1;
    return keep_copy(dir, "base.ini", p->sf->base_text, p->sf->base, err);
}

SweepPlan *sweep_dir_plan(const char *dir, PmError *err) {
    char sweep[SWEEP_PATH_LEN], base[SWEEP_PATH_LEN];
    snprintf(sweep, sizeof sweep, "%s/sweep.ini", dir);
    snprintf(base, sizeof base, "%s/base.ini", dir);
    if (!file_exists(sweep)) {
        pm_error(err, "%s: not a sweep directory (no sweep.ini; `pamoe sweep run FILE --out %s` makes one)", dir, dir);
        return NULL;
    }
    SweepFile *sf = sweep_file_load(sweep, base, err);
    return sf ? sweep_plan_make(sf, err) : NULL;
}

/* The last non-empty line of a text file, into out. */
static void last_line(const char *path, char *out, size_t len) {
    out[0] = 0;
    char *s = slurp(path);
    if (!s) return;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) *--end = 0;
    char *start = strrchr(s, '\n');
    snprintf(out, len, "%s", start ? start + 1 : s);
    free(s);
}

TaskState sweep_task_state(const char *dir, int task, char *last_error, size_t len) {
    char path[SWEEP_PATH_LEN];
    if (last_error && len) last_error[0] = 0;
    sweep_task_path(dir, task, "done", path, sizeof path);
    if (file_exists(path)) return TASK_DONE;
    sweep_task_path(dir, task, "lock", path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int busy = flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
        close(fd); /* releases the probe's lock */
        if (busy) return TASK_RUNNING;
    }
    sweep_task_path(dir, task, "failed", path, sizeof path);
    if (file_exists(path)) {
        if (last_error) last_line(path, last_error, len);
        return TASK_FAILED;
    }
    return TASK_PENDING;
}

long sweep_task_rows(const char *dir, int task) {
    char path[SWEEP_PATH_LEN];
    sweep_task_path(dir, task, "h5", path, sizeof path);
    if (!file_exists(path)) return 0;
    h5u_quiet();
    /* SWMR read: the worker may be writing it, or may have been killed while writing */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (f < 0) f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    long rows = 0;
    hid_t d = H5Dopen2(f, "/metrics/iteration", H5P_DEFAULT);
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        hsize_t dims[1] = {0};
        if (s >= 0 && H5Sget_simple_extent_ndims(s) == 1) H5Sget_simple_extent_dims(s, dims, NULL);
        rows = (long)dims[0];
        if (s >= 0) H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return rows;
}

int sweep_task_last(const char *dir, int task, const char *metric, int n, double *out) {
    for (int j = 0; j < n; j++) out[j] = NAN;
    char path[SWEEP_PATH_LEN];
    sweep_task_path(dir, task, "h5", path, sizeof path);
    if (!file_exists(path)) return -1;
    h5u_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (f < 0) f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    char name[600];
    snprintf(name, sizeof name, "/metrics/%s", metric);
    int rc = -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        if (H5Sget_simple_extent_ndims(s) == 2 && H5Sget_simple_extent_dims(s, dims, NULL) == 2 && dims[1] == (hsize_t)n && dims[0] > 0) {
            double *buf = xmalloc(dims[0] * dims[1] * sizeof *buf);
            if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
                for (int j = 0; j < n; j++)
                    for (hsize_t i = dims[0]; i-- > 0;)
                        if (!isnan(buf[i * dims[1] + (hsize_t)j])) { out[j] = buf[i * dims[1] + (hsize_t)j]; break; }
                rc = 0;
            }
            free(buf);
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return rc;
}
