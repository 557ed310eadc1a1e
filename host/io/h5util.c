/* h5util.c: see h5util.h. */
#include "h5util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "faults.h"

void h5u_init(void) {
    /* HDF5's exit-time clean-up closes files whose close failed (a full disk) a second time
     * and crashes; every file here is closed explicitly, so it has nothing to do */
    H5dont_atexit();
    h5u_quiet();
}

void h5u_quiet(void) {
    /* errors are reported once, as PmError or by H5_CHECK, never by HDF5's auto-printer */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* "WHAT FILE: message" */
static int h5u_verr(const char *file, const char *what, PmError *err, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return pm_error(err, "%s%s%s: %s", what ? what : "", what ? " " : "", file, msg);
}

static int h5u_file_fail(const char *file, const char *what, PmError *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int h5u_file_fail(const char *file, const char *what, PmError *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = h5u_verr(file, what, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* the same, the file name taken from the object's file */
static int h5u_fail(hid_t obj, const char *what, PmError *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int h5u_fail(hid_t obj, const char *what, PmError *err, const char *fmt, ...) {
    char file[512];
    if (H5Fget_name(obj, file, sizeof file) < 0) snprintf(file, sizeof file, "?");
    va_list ap;
    va_start(ap, fmt);
    int rc = h5u_verr(file, what, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* for messages: the absolute path of loc, then sep and name unless name is "": the dataset
 * /g/d is (g, '/', "d"), the attribute /g@a is (g, '@', "a") */
typedef struct {
    char s[768];
} H5uPath;

static H5uPath h5u_path(hid_t loc, char sep, const char *name) {
    char parent[512] = "";
    H5uPath p;
    if (H5Iget_name(loc, parent, sizeof parent) < 0) parent[0] = 0;
    if (sep == '/' && !strcmp(parent, "/")) parent[0] = 0;
    snprintf(p.s, sizeof p.s, name[0] ? "%s%c%s" : "%s", parent, sep, name);
    return p;
}

hid_t h5u_open(const char *path, unsigned flags, hid_t fapl, const char *what, PmError *err) {
    h5u_quiet();
    /* opening a FIFO blocks until someone writes to it, and a directory or device is no run
     * file: refuse anything but a regular file before opening it */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return h5u_file_fail(path, what, err, "not a regular file");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        h5u_file_fail(path, what, err, "cannot open (no such file or not readable)");
        return H5U_MISSING;
    }
    fclose(fp);
    if (H5Fis_hdf5(path) <= 0)
        return h5u_file_fail(path, what, err, "not an HDF5 file (empty, cut before its header, or damaged)");
    hid_t f = H5Fopen(path, flags, fapl);
    if (f < 0) h5u_file_fail(path, what, err, "cannot open: file truncated or corrupt (or in use by a running program)");
    return f;
}

static char *h5u_tmp_name(const char *path) {
    size_t len = strlen(path) + 5;
    char *tmp = xmalloc(len);
    snprintf(tmp, len, "%s.tmp", path);
    return tmp;
}

hid_t h5u_create_tmp(const char *path, hid_t fcpl, const char *what, PmError *err) {
    h5u_quiet();
    char *tmp = h5u_tmp_name(path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    if (f < 0) h5u_file_fail(path, what, err, "cannot create %s (missing directory or no permission?)", tmp);
    free(tmp);
    return f;
}

int h5u_commit(hid_t f, const char *path, int ok, const char *what, PmError *err) {
    char *tmp = h5u_tmp_name(path);
    int rc = ok ? 0 : -1;
    errno = 0;
    if (H5Fclose(f) < 0 && !rc)
        rc = h5u_file_fail(path, what, err, "cannot write %s: %s; the previous %s is unchanged", tmp,
                           errno == ENOSPC ? "disk full" : errno ? strerror(errno) : "close failed (disk full?)", path);
    if (!rc) pm_fault_point("rename");
    if (!rc && rename(tmp, path) != 0) rc = h5u_file_fail(path, what, err, "cannot rename %s into place", tmp);
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

hid_t h5u_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                 unsigned opts, const char *what, PmError *err) {
    if ((opts & H5U_REPLACE) && H5Lexists(loc, name, H5P_DEFAULT) > 0) H5Ldelete(loc, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int empty = 0;
    for (int i = 0; i < rank; i++) empty |= dims[i] == 0;
    if ((opts & H5U_CHECKSUM) && !empty) { /* an empty dataset has no chunk to check */
        H5Pset_chunk(dcpl, rank, dims); /* one chunk: the checksum filter needs chunking */
        H5Pset_fletcher32(dcpl);
    }
    if (opts & H5U_NO_TIMES) H5Pset_obj_track_times(dcpl, 0);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (d < 0) h5u_fail(loc, what, err, "cannot create dataset %s", h5u_path(loc, '/', name).s);
    return d;
}

int h5u_write_from(hid_t d, hid_t type, hid_t mspace, const void *data, const char *what, PmError *err) {
    if (H5Dwrite(d, type, mspace, H5S_ALL, H5P_DEFAULT, data) >= 0) return 0;
    return h5u_fail(d, what, err, "cannot write dataset %s", h5u_path(d, 0, "").s);
}

int h5u_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
              const void *data, unsigned opts, const char *what, PmError *err) {
    hid_t d = h5u_create(loc, name, type, rank, dims, opts, what, err);
    if (d < 0) return -1;
    int rc = h5u_write_from(d, type, H5S_ALL, data, what, err);
    H5Dclose(d);
    return rc;
}

static void h5u_fmt_dims(char *buf, size_t len, int rank, const hsize_t *d) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && k < len; i++)
        k += d[i] == H5U_ANY ? (size_t)snprintf(buf + k, len - k, "%s*", i ? ", " : "")
                             : (size_t)snprintf(buf + k, len - k, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
}

hid_t h5u_open_checked(hid_t loc, const char *name, int rank, hsize_t *dims,
                       const char *what, PmError *err) {
    char sub[512];
    H5uPath path = h5u_path(loc, '/', name);
    const char *p = path.s;
    /* H5Lexists fails, rather than saying 0, when an intermediate group is missing */
    for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(sub, sizeof sub, "%.*s", (int)(s - name), name);
        htri_t e = H5Lexists(loc, sub, H5P_DEFAULT);
        if (e == 0) return h5u_fail(loc, what, err, "missing dataset %s", p);
        if (e < 0) return h5u_fail(loc, what, err, "cannot read %.*s (corrupt file?)", (int)(strlen(p) - strlen(s)), p);
    }
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e == 0) return h5u_fail(loc, what, err, "missing dataset %s", p);
    hid_t d = e < 0 ? -1 : H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return h5u_fail(loc, what, err, "cannot open dataset %s (corrupt file?)", p);
    hid_t sp = H5Dget_space(d);
    hsize_t found[H5S_MAX_RANK];
    int r = sp < 0 ? -1 : H5Sget_simple_extent_dims(sp, found, NULL);
    if (sp >= 0) H5Sclose(sp);
    int same = r == rank;
    for (int i = 0; same && i < rank; i++) same = dims[i] == H5U_ANY || found[i] == dims[i];
    if (same) {
        memcpy(dims, found, sizeof(hsize_t) * (size_t)rank);
    } else {
        char want[160], got[160];
        h5u_fmt_dims(want, sizeof want, rank, dims);
        if (r >= 0) h5u_fmt_dims(got, sizeof got, r, found);
        else snprintf(got, sizeof got, "unreadable");
        h5u_fail(loc, what, err, "dataset %s has shape %s, expected %s", p, got, want);
        H5Dclose(d);
        return -1;
    }
    return d;
}

int h5u_read_into(hid_t d, hid_t type, hid_t mspace, void *data, const char *what, PmError *err) {
    if (H5Dread(d, type, mspace, H5S_ALL, H5P_DEFAULT, data) >= 0) return 0;
    return h5u_fail(d, what, err, "cannot read dataset %s (truncated or corrupt file: checksum or read failed)",
                    h5u_path(d, 0, "").s);
}

int h5u_read(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, void *data,
             const char *what, PmError *err) {
    hsize_t want[H5S_MAX_RANK];
    memcpy(want, dims, sizeof(hsize_t) * (size_t)rank);
    hid_t d = h5u_open_checked(loc, name, rank, want, what, err);
    if (d < 0) return -1;
    int rc = h5u_read_into(d, type, H5S_ALL, data, what, err);
    H5Dclose(d);
    return rc;
}

hid_t h5u_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int h5u_attr_write(hid_t obj, const char *name, hid_t type, int n, const void *data,
                   const char *what, PmError *err) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hsize_t dim = (hsize_t)n;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, type, data);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return st < 0 ? h5u_fail(obj, what, err, "cannot write attribute %s", h5u_path(obj, '@', name).s) : 0;
}

int h5u_attr_strs(hid_t obj, const char *name, int n, const char *const *s, const char *what,
                  PmError *err) {
    hid_t t = h5u_str_type();
    int rc = h5u_attr_write(obj, name, t, n, s, what, err);
    H5Tclose(t);
    return rc;
}

int h5u_attr_str(hid_t obj, const char *name, const char *value, const char *what, PmError *err) {
    return h5u_attr_strs(obj, name, -1, &value, what, err);
}

static hid_t h5u_attr_open(hid_t obj, const char *name, const char *what, PmError *err) {
    if (H5Aexists(obj, name) > 0) {
        hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a >= 0) return a;
    }
    return h5u_fail(obj, what, err, "missing attribute %s", h5u_path(obj, '@', name).s);
}

int h5u_attr_read(hid_t obj, const char *name, hid_t type, int n, void *out, const char *what,
                  PmError *err) {
    hid_t a = h5u_attr_open(obj, name, what, err);
    if (a < 0) return -1;
    H5uPath p = h5u_path(obj, '@', name);
    hid_t sp = H5Aget_space(a);
    hssize_t npts = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int rc = 0;
    if (npts != (n < 0 ? 1 : n))
        rc = h5u_fail(obj, what, err, "attribute %s has %lld values, expected %d", p.s, (long long)npts,
                      n < 0 ? 1 : n);
    else if (H5Aread(a, type, out) < 0)
        rc = h5u_fail(obj, what, err, "cannot read attribute %s (corrupt file?)", p.s);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

int h5u_attr_read_str(hid_t obj, const char *name, char *out, size_t out_len, const char *what,
                      PmError *err) {
    hid_t a = h5u_attr_open(obj, name, what, err);
    if (a < 0) return -1;
    H5uPath p = h5u_path(obj, '@', name);
    hid_t ft = H5Aget_type(a);
    int vlen = ft >= 0 && H5Tis_variable_str(ft) > 0;
    int rc = 0;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
        rc = h5u_fail(obj, what, err, "attribute %s is not a string", p.s);
    } else {
        /* ours and h5py's are variable-length; a fixed-size one is read one byte longer so
         * it ends in NUL even when the writer used every byte */
        size_t sz = vlen ? 0 : H5Tget_size(ft);
        char *buf = vlen ? NULL : xcalloc(sz + 1, 1), *s = NULL;
        hid_t mt = vlen ? h5u_str_type() : H5Tcopy(H5T_C_S1);
        if (!vlen) H5Tset_size(mt, sz + 1);
        if (H5Aread(a, mt, vlen ? (void *)&s : buf) < 0 || (vlen && !s))
            rc = h5u_fail(obj, what, err, "cannot read attribute %s", p.s);
        else snprintf(out, out_len, "%s", vlen ? s : buf);
        if (s) H5free_memory(s);
        free(buf);
        H5Tclose(mt);
    }
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}
