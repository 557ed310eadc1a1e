/* h5metrics.c: run-file metrics writer (see h5metrics.h for the layout and life cycle). */
#include "h5metrics.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "h5util.h"

#define H5M_CHUNK_ROWS 64
#define H5M_NAME_MAX 256

typedef struct {
    char *name;
    char *units;
    char *description;
    hid_t dset; /* after start */
} H5mEntry;

struct H5Metrics {
    char *path;
    hid_t file;
    int n_runs;
    int resume;
    int started;
    int failed;   /* a write failed: the file is closed without another flush */
    int64_t length;
    int n, cap;
    H5mEntry *e;
    double *row;  /* (n, n_runs) staged values */
    hid_t d_iter, d_step;
    /* The chunk that the next row falls in, per dataset, as it is in the file: metric i at
     * chunk + i * H5M_CHUNK_ROWS * n_runs, (H5M_CHUNK_ROWS, n_runs) row-major, NaN past the
     * last row (the fill value); the axes' chunks (H5M_CHUNK_ROWS) int64, 0 past it. An
     * append writes each whole chunk with H5Dwrite_chunk (see h5metrics_append). */
    double *chunk;
    int64_t chunk_iter[H5M_CHUNK_ROWS], chunk_step[H5M_CHUNK_ROWS];
    /* name -> id after start (open addressing, FNV-1a; the trainer looks up ~120 names by
     * their text every iteration) */
    int *hash;    /* id + 1, 0 = empty */
    unsigned hash_mask;
};

static unsigned h5m_hash(const char *name) {
    uint32_t v = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) v = (v ^ *c) * 16777619u;
    return v;
}

/* H5Dwrite_chunk writes the bytes as they are: the file types are little-endian. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "h5metrics.c writes raw little-endian chunks (H5Dwrite_chunk): port h5m_put_chunk first"
#endif

static hid_t h5m_fapl(int clear_status_flags) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_CHECK(fapl);
    /* SWMR needs the latest file format */
    H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
    if (clear_status_flags) {
        /* The h5clear property: a writer that crashed in SWMR mode leaves the superblock
         * marked "open for writing"; resuming after a crash is exactly that case. */
        hbool_t yes = 1;
        H5_CHECK(H5Pset(fapl, "clear_status_flags", &yes));
    }
    return fapl;
}

static H5Metrics *h5m_new(const char *path, int n_runs) {
    H5Metrics *h = xcalloc(1, sizeof *h);
    h->path = xstrdup(path);
    h->n_runs = n_runs;
    h->file = H5I_INVALID_HID;
    h->d_iter = h->d_step = H5I_INVALID_HID;
    return h;
}

H5Metrics *h5metrics_create(const char *path, int n_runs, PmError *err) {
    h5u_quiet();
    if (n_runs < 1) {
        pm_error(err, "%s: run count must be >= 1, got %d", path, n_runs);
        return NULL;
    }
    hid_t fapl = h5m_fapl(0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        pm_error(err, "%s: cannot create the run file (missing directory, no permission, or "
                      "the file is open in another program)", path);
        return NULL;
    }
    H5Metrics *h = h5m_new(path, n_runs);
    h->file = f;
    int64_t r = n_runs;
    if (h5u_attr_str(f, "format", "pamoe-run-1", NULL, err) ||
        h5u_attr_write(f, "n_runs", H5T_NATIVE_INT64, -1, &r, NULL, err)) {
        h5metrics_close(h);
        return NULL;
    }
    hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g);
    H5Gclose(g);
    g = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g);
    H5Gclose(g);
    return h;
}

static int64_t h5m_dset_rows(hid_t d, int64_t *cols) {
    hid_t sp = H5Dget_space(d);
    H5_CHECK(sp);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5_CHECK(rank);
    H5Sclose(sp);
    if (cols) *cols = rank == 2 ? (int64_t)dims[1] : -1;
    return (int64_t)dims[0];
}

H5Metrics *h5metrics_open(const char *path, int n_runs, PmError *err) {
    h5u_quiet();
    if (n_runs < 1) {
        pm_error(err, "%s: run count must be >= 1, got %d", path, n_runs);
        return NULL;
    }
    hid_t fapl = h5m_fapl(0);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        fapl = h5m_fapl(1);
        f = h5u_open(path, H5F_ACC_RDWR, fapl, NULL, err);
        H5Pclose(fapl);
        if (f < 0) return NULL;
    }
    H5Metrics *h = h5m_new(path, n_runs);
    h->file = f;
    h->resume = 1;
    if (H5Lexists(f, "metrics", H5P_DEFAULT) <= 0 ||
        H5Lexists(f, "metrics/iteration", H5P_DEFAULT) <= 0 ||
        H5Lexists(f, "metrics/global_step", H5P_DEFAULT) <= 0) {
        pm_error(err, "%s: not a pamoe run file (no /metrics/iteration dataset)", path);
        h5metrics_close(h);
        return NULL;
    }
    if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) {
        hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(g);
        H5Gclose(g);
    }
    hid_t d = H5Dopen2(f, "metrics/iteration", H5P_DEFAULT);
    H5_CHECK(d);
    h->length = h5m_dset_rows(d, NULL);
    H5Dclose(d);
    return h;
}

static int h5m_valid_name(const char *name, PmError *err) {
    size_t len = strlen(name);
    if (len == 0 || len >= H5M_NAME_MAX)
        return pm_error(err, "metric name \"%s\": length must be 1..%d", name, H5M_NAME_MAX - 1);
    if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//"))
        return pm_error(err, "metric name \"%s\": empty path component", name);
    char buf[H5M_NAME_MAX];
    memcpy(buf, name, len + 1);
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save))
        if (!strcmp(c, ".") || !strcmp(c, ".."))
            return pm_error(err, "metric name \"%s\": \".\" or \"..\" component", name);
    if (!strcmp(name, "iteration") || !strcmp(name, "global_step"))
        return pm_error(err, "metric name \"%s\" is reserved for the row axis", name);
    return 0;
}

/* a is b, or a is a group prefix of b ("x" vs "x/y") */
static int h5m_prefix_clash(const char *a, const char *b) {
    size_t la = strlen(a);
    return !strncmp(a, b, la) && (b[la] == '\0' || b[la] == '/');
}

int h5metrics_register(H5Metrics *h, const char *name, const char *units,
                       const char *description, PmError *err) {
    if (h->started) return pm_error(err, "%s: metric \"%s\" registered after start", h->path, name);
    if (h5m_valid_name(name, err)) return -1;
    for (int i = 0; i < h->n; i++)
        if (h5m_prefix_clash(h->e[i].name, name) || h5m_prefix_clash(name, h->e[i].name))
            return pm_error(err, "metric name \"%s\" clashes with \"%s\" (same dataset, or one "
                                 "would be a group of the other)", name, h->e[i].name);
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 128;
        h->e = xrealloc(h->e, sizeof(H5mEntry) * h->cap);
    }
    H5mEntry *e = &h->e[h->n];
    e->name = xstrdup(name);
    e->units = xstrdup(units ? units : "");
    e->description = xstrdup(description ? description : "");
    e->dset = H5I_INVALID_HID;
    return h->n++;
}

static int h5m_config_check(H5Metrics *h, const char *key, PmError *err) {
    if (h->started) return pm_error(err, "%s: config attribute \"%s\" set after start", h->path, key);
    if (!key[0] || strchr(key, '/'))
        return pm_error(err, "config key \"%s\": must be non-empty without '/'", key);
    return 0;
}

static hid_t h5m_config_group(H5Metrics *h) {
    hid_t g = H5Gopen2(h->file, "config", H5P_DEFAULT);
    H5_CHECK(g);
    return g;
}

int h5metrics_attr_str(H5Metrics *h, const char *name, const char *value, PmError *err) {
    if (h5m_config_check(h, name, err)) return -1;
    return h5u_attr_str(h->file, name, value, NULL, err);
}

int h5metrics_config_str(H5Metrics *h, const char *key, const char *value, PmError *err) {
    if (h5m_config_check(h, key, err)) return -1;
    hid_t g = h5m_config_group(h);
    int rc = h5u_attr_str(g, key, value, NULL, err);
    H5Gclose(g);
    return rc;
}

int h5metrics_config_num(H5Metrics *h, const char *key, double value, PmError *err) {
    if (h5m_config_check(h, key, err)) return -1;
    hid_t g = h5m_config_group(h);
    int rc = h5u_attr_write(g, key, H5T_NATIVE_DOUBLE, -1, &value, NULL, err);
    H5Gclose(g);
    return rc;
}

int h5metrics_config_int(H5Metrics *h, const char *key, int64_t value, PmError *err) {
    if (h5m_config_check(h, key, err)) return -1;
    hid_t g = h5m_config_group(h);
    int rc = h5u_attr_write(g, key, H5T_NATIVE_INT64, -1, &value, NULL, err);
    H5Gclose(g);
    return rc;
}

int64_t h5metrics_length(const H5Metrics *h) { return h->length; }
int h5metrics_count(const H5Metrics *h) { return h->n; }
int h5metrics_runs(const H5Metrics *h) { return h->n_runs; }

typedef struct {
    int64_t k;
    int shrink;          /* 0: dry run that only looks for datasets shorter than k */
    int64_t short_rows;  /* rows of the first short dataset, -1 if none */
    char short_name[H5M_NAME_MAX];
} TruncCtx;

static herr_t h5m_truncate_cb(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    TruncCtx *c = data;
    hid_t o = H5Oopen(group, name, H5P_DEFAULT);
    H5_CHECK(o);
    if (H5Iget_type(o) == H5I_DATASET) {
        int64_t cols;
        int64_t rows = h5m_dset_rows(o, &cols);
        if (rows < c->k && c->short_rows < 0) {
            c->short_rows = rows;
            snprintf(c->short_name, sizeof c->short_name, "%s", name);
        } else if (c->shrink && rows > c->k) {
            hsize_t dims[2] = {(hsize_t)c->k, cols > 0 ? (hsize_t)cols : 0};
            H5_CHECK(H5Dset_extent(o, dims));
        }
    }
    H5Oclose(o);
    return 0;
}

int h5metrics_truncate(H5Metrics *h, int64_t k, PmError *err) {
    if (h->started) return pm_error(err, "%s: truncate after start", h->path);
    if (k < 0) return pm_error(err, "%s: cannot truncate to %lld rows", h->path, (long long)k);
    hid_t g = H5Gopen2(h->file, "metrics", H5P_DEFAULT);
    H5_CHECK(g);
    /* dry run first, so that a dataset shorter than k leaves the file untouched */
    TruncCtx c = {k, 0, -1, ""};
    H5_CHECK(H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, h5m_truncate_cb, &c));
    if (c.short_rows >= 0) {
        H5Gclose(g);
        return pm_error(err, "%s: /metrics/%s has %lld rows, fewer than the %lld to keep "
                             "(run file older than the checkpoint?)",
                        h->path, c.short_name, (long long)c.short_rows, (long long)k);
    }
    c.shrink = 1;
    H5_CHECK(H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, h5m_truncate_cb, &c));
    H5Gclose(g);
    h->length = k;
    H5_CHECK(H5Fflush(h->file, H5F_SCOPE_GLOBAL));
    return 0;
}

static hid_t h5m_create_dset(H5Metrics *h, const char *path, int rank, hid_t type) {
    hsize_t dims[2] = {0, (hsize_t)h->n_runs};
    hsize_t maxd[2] = {H5S_UNLIMITED, (hsize_t)h->n_runs};
    hsize_t chunk[2] = {H5M_CHUNK_ROWS, (hsize_t)h->n_runs};
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    H5_CHECK(sp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(dcpl);
    H5_CHECK(H5Pset_chunk(dcpl, rank, chunk));
    if (type == H5T_NATIVE_DOUBLE) {
        double nan = NAN;
        H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan));
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(lcpl);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t d = H5Dcreate2(h->file, path, type == H5T_NATIVE_DOUBLE ? H5T_IEEE_F64LE : H5T_STD_I64LE,
                         sp, lcpl, dcpl, H5P_DEFAULT);
    H5_CHECK(d);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* Every chunk buffer to its fill value (a new chunk). */
static void h5m_chunks_reset(H5Metrics *h) {
    size_t count = (size_t)h->n * H5M_CHUNK_ROWS * h->n_runs;
    for (size_t i = 0; i < count; i++) h->chunk[i] = NAN;
    memset(h->chunk_iter, 0, sizeof h->chunk_iter);
    memset(h->chunk_step, 0, sizeof h->chunk_step);
}

/* rows [row0, row0 + count) of a dataset into buf (count rows of n_runs). */
static void h5m_read_rows(hid_t d, int rank, int64_t row0, int64_t count, int n_runs, hid_t memtype,
                          void *buf) {
    hid_t fs = H5Dget_space(d);
    H5_CHECK(fs);
    hsize_t start[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)count, (hsize_t)n_runs};
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL));
    hid_t ms = H5Screate_simple(rank, cnt, NULL);
    H5_CHECK(ms);
    H5_CHECK(H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf));
    H5Sclose(ms);
    H5Sclose(fs);
}

int h5metrics_start(H5Metrics *h, PmError *err) {
    if (h->started) return 0;
    char path[H5M_NAME_MAX + 16];
    if (!h->resume) {
        h->d_iter = h5m_create_dset(h, "metrics/iteration", 1, H5T_NATIVE_INT64);
        h->d_step = h5m_create_dset(h, "metrics/global_step", 1, H5T_NATIVE_INT64);
        if (h5u_attr_str(h->d_iter, "units", "iterations", NULL, err) ||
            h5u_attr_str(h->d_iter, "description", "PPO iteration of the row (1-based)", NULL, err) ||
            h5u_attr_str(h->d_step, "units", "steps", NULL, err) ||
            h5u_attr_str(h->d_step, "description", "environment steps per run at the end of the iteration", NULL, err))
            return -1;
        for (int i = 0; i < h->n; i++) {
            snprintf(path, sizeof path, "metrics/%s", h->e[i].name);
            h->e[i].dset = h5m_create_dset(h, path, 2, H5T_NATIVE_DOUBLE);
            if (h5u_attr_str(h->e[i].dset, "units", h->e[i].units, NULL, err) ||
                h5u_attr_str(h->e[i].dset, "description", h->e[i].description, NULL, err))
                return -1;
        }
    } else {
        h->d_iter = H5Dopen2(h->file, "metrics/iteration", H5P_DEFAULT);
        h->d_step = H5Dopen2(h->file, "metrics/global_step", H5P_DEFAULT);
        H5_CHECK(h->d_iter);
        H5_CHECK(h->d_step);
        for (int i = 0; i < h->n; i++) {
            snprintf(path, sizeof path, "metrics/%s", h->e[i].name);
            /* H5Lexists fails (not just 0) when an intermediate group is missing */
            hid_t d = H5Dopen2(h->file, path, H5P_DEFAULT);
            if (d < 0)
                return pm_error(err, "%s: resumed run file lacks dataset /%s (written by another "
                                     "network type or version?)", h->path, path);
            int64_t cols, rows = h5m_dset_rows(d, &cols);
            h->e[i].dset = d;
            if (cols != h->n_runs)
                return pm_error(err, "%s: /%s has %lld run columns, the configuration has %d",
                                h->path, path, (long long)cols, h->n_runs);
            if (rows != h->length)
                return pm_error(err, "%s: /%s has %lld rows, /metrics/iteration has %lld "
                                     "(truncate first)", h->path, path, (long long)rows,
                                (long long)h->length);
        }
    }
    h->row = xmalloc(sizeof(double) * (size_t)(h->n ? h->n : 1) * h->n_runs);
    for (size_t i = 0; i < (size_t)h->n * h->n_runs; i++) h->row[i] = NAN;
    h->chunk = xmalloc(sizeof(double) * (size_t)(h->n ? h->n : 1) * H5M_CHUNK_ROWS * h->n_runs);
    h5m_chunks_reset(h);
    unsigned size = 16;
    while (size < 2u * (unsigned)h->n) size *= 2;
    h->hash = xcalloc(size, sizeof *h->hash);
    h->hash_mask = size - 1;
    for (int i = 0; i < h->n; i++) {
        unsigned at = h5m_hash(h->e[i].name) & h->hash_mask;
        while (h->hash[at]) at = (at + 1) & h->hash_mask;
        h->hash[at] = i + 1;
    }
    int64_t keep = h->length % H5M_CHUNK_ROWS; /* rows of a resumed file in its last chunk */
    if (keep) {
        for (int i = 0; i < h->n; i++)
            h5m_read_rows(h->e[i].dset, 2, h->length - keep, keep, h->n_runs, H5T_NATIVE_DOUBLE,
                          h->chunk + (size_t)i * H5M_CHUNK_ROWS * h->n_runs);
        h5m_read_rows(h->d_iter, 1, h->length - keep, keep, 1, H5T_NATIVE_INT64, h->chunk_iter);
        h5m_read_rows(h->d_step, 1, h->length - keep, keep, 1, H5T_NATIVE_INT64, h->chunk_step);
    }
    H5_CHECK(H5Fflush(h->file, H5F_SCOPE_GLOBAL));
    H5_CHECK(H5Fstart_swmr_write(h->file));
    h->started = 1;
    return 0;
}

int h5metrics_find(const H5Metrics *h, const char *name) {
    if (h->hash) {
        for (unsigned at = h5m_hash(name) & h->hash_mask; h->hash[at]; at = (at + 1) & h->hash_mask)
            if (!strcmp(h->e[h->hash[at] - 1].name, name)) return h->hash[at] - 1;
        return -1;
    }
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->e[i].name, name)) return i;
    return -1;
}

void h5metrics_set(H5Metrics *h, int id, int run, double value) {
    if (!h->started || id < 0 || id >= h->n || run < 0 || run >= h->n_runs)
        check_die(__FILE__, __LINE__, "h5metrics_set", "bad id/run or not started");
    h->row[(size_t)id * h->n_runs + run] = value;
}

void h5metrics_set_runs(H5Metrics *h, int id, const double *values) {
    for (int r = 0; r < h->n_runs; r++) h5metrics_set(h, id, r, values[r]);
}

int h5metrics_set_by_name(H5Metrics *h, const char *name, int run, double value) {
    int id = h5metrics_find(h, name);
    if (id < 0) return -1;
    h5metrics_set(h, id, run, value);
    return 0;
}

/* Makes row `row` part of the dataset and writes the whole chunk holding it (buf, the
 * chunk's bytes as stored) straight to the file. H5Dwrite_chunk skips what H5Dwrite does for
 * a one-row hyperslab (selection, type path, chunk cache; then the flush writing each cached
 * chunk): the file receives the same bytes for every row up to the extent. */
static int h5m_put_chunk(hid_t d, int rank, int64_t row, int n_runs, size_t elem, const void *buf) {
    hsize_t dims[2] = {(hsize_t)row + 1, (hsize_t)n_runs};
    hsize_t off[2] = {(hsize_t)(row - row % H5M_CHUNK_ROWS), 0};
    (void)rank;
    if (H5Dset_extent(d, dims) < 0) return -1;
    return H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, elem * H5M_CHUNK_ROWS * (size_t)n_runs, buf) < 0 ? -1 : 0;
}

/* A failed write is almost always the disk (full, quota, gone): say so in one line. After
 * it the file is not written again (close skips its flush). */
static int h5m_write_failed(H5Metrics *h, int64_t row, PmError *err) {
    int e = errno;
    h->failed = 1;
    return pm_error(err, "run file %s: cannot write row %lld: %s", h->path, (long long)row + 1,
                    e == ENOSPC ? "disk full" : e == EDQUOT ? "disk quota exceeded" : e ? strerror(e) : "write failed (disk full?)");
}

int h5metrics_append(H5Metrics *h, int64_t iteration, int64_t global_step, PmError *err) {
    if (!h->started) return pm_error(err, "%s: append before start", h->path);
    int64_t row = h->length;
    int c = (int)(row % H5M_CHUNK_ROWS);
    size_t cs = (size_t)H5M_CHUNK_ROWS * h->n_runs;
    /* metric rows first, the axes last: a live reader that sees iteration row i can trust
     * every metric's row i (the chunks are in the file before the flush below publishes the
     * new extents) */
    for (int i = 0; i < h->n; i++)
        memcpy(h->chunk + i * cs + (size_t)c * h->n_runs, h->row + (size_t)i * h->n_runs,
               sizeof(double) * h->n_runs);
    errno = 0;
    for (int i = 0; i < h->n; i++)
        if (h5m_put_chunk(h->e[i].dset, 2, row, h->n_runs, sizeof(double), h->chunk + i * cs))
            return h5m_write_failed(h, row, err);
    h->chunk_step[c] = global_step;
    h->chunk_iter[c] = iteration;
    if (h5m_put_chunk(h->d_step, 1, row, 1, sizeof(int64_t), h->chunk_step) ||
        h5m_put_chunk(h->d_iter, 1, row, 1, sizeof(int64_t), h->chunk_iter))
        return h5m_write_failed(h, row, err);
    pm_fault_point("metrics_flush");
    if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) return h5m_write_failed(h, row, err);
    h->length = row + 1;
    if (c == H5M_CHUNK_ROWS - 1) h5m_chunks_reset(h);
    for (size_t i = 0; i < (size_t)h->n * h->n_runs; i++) h->row[i] = NAN;
    return 0;
}

void h5metrics_close(H5Metrics *h) {
    if (!h) return;
    for (int i = 0; i < h->n; i++) {
        if (h->e[i].dset >= 0) H5Dclose(h->e[i].dset);
        free(h->e[i].name);
        free(h->e[i].units);
        free(h->e[i].description);
    }
    if (h->d_iter >= 0) H5Dclose(h->d_iter);
    if (h->d_step >= 0) H5Dclose(h->d_step);
    if (h->file >= 0) {
        if (!h->failed) H5Fflush(h->file, H5F_SCOPE_GLOBAL);
        H5Fclose(h->file);
    }
    free(h->e);
    free(h->row);
    free(h->chunk);
    free(h->hash);
    free(h->path);
    free(h);
}
