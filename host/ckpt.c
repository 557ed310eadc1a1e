/* ckpt.c: ParamBlock checkpoints in HDF5 (layout in docs/opt.md). Every dataset carries a
 * Fletcher-32 checksum so a corrupt file is reported instead of loaded; HDF5's own error stack
 * printing is switched off and each failure becomes one message naming the file and dataset. */
#include "ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "pamoe-params"
#define CKPT_VERSION 1

typedef struct {
    const char *file; /* for messages */
    char group[512];  /* absolute group path for messages */
    PmError *err;
} Ctx;

const char *ckpt_role_name(TensorRole role) {
    switch (role) {
    case TENSOR_EXPERT: return "expert";
    case TENSOR_ROUTER: return "router";
    case TENSOR_HEAD: return "head";
    default: return "unused";
    }
}

static void set_group_name(Ctx *c, const char *path) {
    snprintf(c->group, sizeof c->group, "%s%s", path[0] == '/' ? "" : "/", path);
}

/* ---- writing ---- */

static int attr_write(Ctx *c, hid_t obj, const char *name, hid_t type, int n, const void *data) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hsize_t dim = (hsize_t)n;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, type, data);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (st < 0) return pm_error(c->err, "checkpoint %s: cannot write attribute %s of %s", c->file, name, c->group);
    return 0;
}

static hid_t str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* n < 0: one scalar string; else an array of n strings. */
static int attr_write_str(Ctx *c, hid_t obj, const char *name, int n, const char *const *s) {
    hid_t t = str_type();
    int rc = attr_write(c, obj, name, t, n, s);
    H5Tclose(t);
    return rc;
}

static int attr_write_i64(Ctx *c, hid_t obj, const char *name, int64_t v) {
    return attr_write(c, obj, name, H5T_NATIVE_INT64, -1, &v);
}

/* Selects tensor t of every run inside the (R, P) memory block. */
static hid_t mem_space(const ParamBlock *pb, const ParamTensor *t) {
    hsize_t dims[2] = {(hsize_t)pb->R, (hsize_t)pb->P};
    hsize_t start[2] = {0, (hsize_t)t->offset}, count[2] = {(hsize_t)pb->R, (hsize_t)param_tensor_size(t)};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    return sp;
}

static int tensor_dims(const ParamBlock *pb, const ParamTensor *t, hsize_t *dims) {
    dims[0] = (hsize_t)pb->R;
    dims[1] = (hsize_t)t->rows;
    dims[2] = (hsize_t)t->cols;
    return t->is_bias ? 2 : 3;
}

static int write_tensor(Ctx *c, hid_t g, const char *sub, const ParamBlock *pb, const ParamTensor *t,
                        const float *base) {
    char name[PARAMS_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", sub, t->name);
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) H5Ldelete(g, name, H5P_DEFAULT);
    hsize_t dims[3];
    int rank = tensor_dims(pb, t, dims);
    hid_t fsp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, dims); /* one chunk: needed for the checksum filter */
    H5Pset_fletcher32(dcpl);
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, fsp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t msp = mem_space(pb, t);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, base);
    if (st >= 0 && !sub[0]) {
        const char *role = ckpt_role_name(t->role);
        if (attr_write_str(c, d, "role", -1, &role) < 0 || attr_write_i64(c, d, "expert", t->expert) < 0 ||
            attr_write_i64(c, d, "offset", t->offset) < 0)
            st = -1;
    }
    H5Sclose(msp);
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(fsp);
    if (st < 0) return pm_error(c->err, "checkpoint %s: cannot write dataset %s/%s", c->file, c->group, name);
    return 0;
}

static hid_t open_or_create_group(hid_t loc, const char *path) {
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g >= 0) return g;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

int ckpt_write(hid_t loc, const char *file_name, const char *path, const ParamBlock *pb,
               const CkptMeta *meta, PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    Ctx c = {file_name, "", err};
    set_group_name(&c, path);
    hid_t g = open_or_create_group(loc, path);
    if (g < 0) return pm_error(err, "checkpoint %s: cannot create group %s", file_name, c.group);
    hid_t gm = open_or_create_group(g, "adam_m"), gv = open_or_create_group(g, "adam_v");
    int rc = gm < 0 || gv < 0 ? pm_error(err, "checkpoint %s: cannot create %s/adam_m, adam_v", file_name, c.group) : 0;
    const char *format = CKPT_FORMAT, *kind = meta && meta->kind[0] ? meta->kind : "";
    const char *names[PARAMS_MAX_TENSORS];
    for (int t = 0; t < pb->n_tensors; t++) names[t] = pb->tensors[t].name;
    if (!rc)
        rc = attr_write_str(&c, g, "format", -1, &format) < 0 || attr_write_i64(&c, g, "version", CKPT_VERSION) < 0 ||
             attr_write_str(&c, g, "kind", -1, &kind) < 0 || attr_write_i64(&c, g, "n_runs", pb->R) < 0 ||
             attr_write_i64(&c, g, "n_params", pb->P) < 0 || attr_write_i64(&c, g, "n_tensors", pb->n_tensors) < 0 ||
             attr_write_str(&c, g, "tensor_names", pb->n_tensors, names) < 0;
    if (!rc && meta && meta->n_sizes > 0) {
        const char *sn[CKPT_MAX_SIZES];
        for (int i = 0; i < meta->n_sizes; i++) {
            sn[i] = meta->size_names[i];
            if (!rc) rc = attr_write_i64(&c, g, sn[i], meta->sizes[i]);
        }
        if (!rc) rc = attr_write_str(&c, g, "size_names", meta->n_sizes, sn);
        if (!rc) rc = attr_write(&c, g, "size_values", H5T_NATIVE_INT64, meta->n_sizes, meta->sizes);
    }
    if (!rc && meta && meta->noise) {
        const NoiseState *ns = meta->noise;
        uint64_t *seed = xmalloc((size_t)ns->R * 2 * sizeof(uint64_t)), *off = seed + ns->R;
        for (int r = 0; r < ns->R; r++) {
            seed[r] = ns->streams[r].seed;
            off[r] = ns->streams[r].offset;
        }
        rc = attr_write(&c, g, "noise_sigma", H5T_NATIVE_FLOAT, ns->R, ns->sigma) < 0 ||
             attr_write(&c, g, "noise_lr_ref", H5T_NATIVE_FLOAT, ns->R, ns->lr_ref) < 0 ||
             attr_write(&c, g, "noise_seed", H5T_NATIVE_UINT64, ns->R, seed) < 0 ||
             attr_write(&c, g, "noise_offset", H5T_NATIVE_UINT64, ns->R, off) < 0 ||
             attr_write_i64(&c, g, "noise_calls", ns->calls) < 0;
        free(seed);
    }
    for (int t = 0; t < pb->n_tensors && !rc; t++) {
        const ParamTensor *T = &pb->tensors[t];
        rc = write_tensor(&c, g, "", pb, T, pb->params) < 0 || write_tensor(&c, g, "adam_m/", pb, T, pb->adam_m) < 0 ||
             write_tensor(&c, g, "adam_v/", pb, T, pb->adam_v) < 0;
    }
    if (!rc) {
        if (H5Lexists(g, "adam_step", H5P_DEFAULT) > 0) H5Ldelete(g, "adam_step", H5P_DEFAULT);
        hsize_t dims[2] = {(hsize_t)pb->R, (hsize_t)pb->n_tensors};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(g, "adam_step", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, pb->h_adam_step) < 0)
            rc = pm_error(err, "checkpoint %s: cannot write dataset %s/adam_step", file_name, c.group);
        if (d >= 0) H5Dclose(d);
        H5Sclose(sp);
    }
    if (gm >= 0) H5Gclose(gm);
    if (gv >= 0) H5Gclose(gv);
    H5Gclose(g);
    return rc ? -1 : 0;
}

int ckpt_write_file(const char *file_path, int n, const char *const *paths,
                    const ParamBlock *const *blocks, const CkptMeta *const *metas, PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    size_t len = strlen(file_path) + 5;
    char *tmp = xmalloc(len);
    snprintf(tmp, len, "%s.tmp", file_path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) rc = pm_error(err, "checkpoint %s: cannot create %s", file_path, tmp);
    for (int i = 0; i < n && !rc; i++) rc = ckpt_write(f, file_path, paths[i], blocks[i], metas ? metas[i] : NULL, err);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = pm_error(err, "checkpoint %s: cannot close %s", file_path, tmp);
    if (!rc && rename(tmp, file_path) != 0) rc = pm_error(err, "checkpoint %s: cannot rename %s into place", file_path, tmp);
    if (rc) remove(tmp);
    free(tmp);
    return rc ? -1 : 0;
}

/* ---- reading ---- */

static int attr_read(Ctx *c, hid_t obj, const char *name, hid_t mem_type, int n, void *out) {
    if (H5Aexists(obj, name) <= 0)
        return pm_error(c->err, "checkpoint %s: %s: missing attribute %s", c->file, c->group, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t npts = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int rc = 0;
    if (npts != (n < 0 ? 1 : n))
        rc = pm_error(c->err, "checkpoint %s: %s: attribute %s has %lld values, expected %d", c->file, c->group,
                      name, (long long)npts, n < 0 ? 1 : n);
    else if (H5Aread(a, mem_type, out) < 0)
        rc = pm_error(c->err, "checkpoint %s: %s: cannot read attribute %s (corrupt file?)", c->file, c->group, name);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static int attr_read_i64(Ctx *c, hid_t obj, const char *name, int64_t *v) {
    return attr_read(c, obj, name, H5T_NATIVE_INT64, -1, v);
}

/* A scalar string attribute, variable-length (ours, h5py's) or fixed-size, into out. */
static int attr_read_str(Ctx *c, hid_t obj, const char *name, char *out, size_t out_len) {
    if (H5Aexists(obj, name) <= 0)
        return pm_error(c->err, "checkpoint %s: %s: missing attribute %s", c->file, c->group, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a < 0 ? -1 : H5Aget_type(a);
    int rc = 0;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
        rc = pm_error(c->err, "checkpoint %s: %s: attribute %s is not a string", c->file, c->group, name);
    } else if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = str_type();
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0 || !s) rc = pm_error(c->err, "checkpoint %s: %s: cannot read attribute %s", c->file, c->group, name);
        else snprintf(out, out_len, "%s", s);
        if (s) H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(ft);
        char *buf = xcalloc(sz + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        if (H5Aread(a, mt, buf) < 0) rc = pm_error(c->err, "checkpoint %s: %s: cannot read attribute %s", c->file, c->group, name);
        else snprintf(out, out_len, "%s", buf);
        H5Tclose(mt);
        free(buf);
    }
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static void fmt_dims(char *buf, size_t len, int rank, const hsize_t *d) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
}

/* Opens dataset `name` (may be "adam_m/x") of group g, checking that it exists and has the
 * expected shape; returns the dataset id or -1 with the error set. */
static hid_t open_checked(Ctx *c, hid_t g, const char *name, int rank, const hsize_t *dims) {
    char sub[PARAMS_NAME_LEN + 16];
    const char *slash = strchr(name, '/');
    if (slash) {
        snprintf(sub, sizeof sub, "%.*s", (int)(slash - name), name);
        htri_t e = H5Lexists(g, sub, H5P_DEFAULT);
        if (e == 0) return pm_error(c->err, "checkpoint %s: missing dataset %s/%s", c->file, c->group, name);
        if (e < 0) return pm_error(c->err, "checkpoint %s: cannot read %s/%s (corrupt file?)", c->file, c->group, sub);
    }
    htri_t e = H5Lexists(g, name, H5P_DEFAULT);
    if (e == 0) return pm_error(c->err, "checkpoint %s: missing dataset %s/%s", c->file, c->group, name);
    hid_t d = e < 0 ? -1 : H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return pm_error(c->err, "checkpoint %s: cannot open dataset %s/%s (corrupt file?)", c->file, c->group, name);
    hid_t sp = H5Dget_space(d);
    hsize_t found[H5S_MAX_RANK];
    int r = sp < 0 ? -1 : H5Sget_simple_extent_dims(sp, found, NULL);
    if (sp >= 0) H5Sclose(sp);
    int same = r == rank;
    for (int i = 0; same && i < rank; i++) same = found[i] == dims[i];
    if (!same) {
        char want[96], got[96];
        fmt_dims(want, sizeof want, rank, dims);
        if (r >= 0) fmt_dims(got, sizeof got, r, found);
        else snprintf(got, sizeof got, "unreadable");
        H5Dclose(d);
        return pm_error(c->err, "checkpoint %s: dataset %s/%s has shape %s, expected %s", c->file, c->group, name,
                        got, want);
    }
    return d;
}

static int read_tensor(Ctx *c, hid_t g, const char *sub, const ParamBlock *pb, const ParamTensor *t, float *base) {
    char name[PARAMS_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", sub, t->name);
    hsize_t dims[3];
    int rank = tensor_dims(pb, t, dims);
    hid_t d = open_checked(c, g, name, rank, dims);
    if (d < 0) return -1;
    hid_t msp = mem_space(pb, t);
    herr_t st = H5Dread(d, H5T_NATIVE_FLOAT, msp, H5S_ALL, H5P_DEFAULT, base);
    H5Sclose(msp);
    H5Dclose(d);
    if (st < 0)
        return pm_error(c->err, "checkpoint %s: cannot read dataset %s/%s (truncated or corrupt file: checksum or read failed)",
                        c->file, c->group, name);
    return 0;
}

int ckpt_read(hid_t loc, const char *file_name, const char *path, ParamBlock *pb, CkptMeta *meta,
              PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    Ctx c = {file_name, "", err};
    set_group_name(&c, path);
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return pm_error(err, "checkpoint %s: missing group %s", file_name, c.group);
    int rc = 0;
    int64_t n_runs = 0, n_params = 0;
    char format[64], kind[CKPT_NAME_LEN];
    if (attr_read_str(&c, g, "format", format, sizeof format) < 0) rc = -1;
    else if (strcmp(format, CKPT_FORMAT) != 0)
        rc = pm_error(err, "checkpoint %s: %s: format \"%s\", expected \"%s\"", file_name, c.group, format, CKPT_FORMAT);
    if (!rc) rc = attr_read_i64(&c, g, "n_runs", &n_runs) < 0 || attr_read_i64(&c, g, "n_params", &n_params) < 0 ||
                  attr_read_str(&c, g, "kind", kind, sizeof kind) < 0;
    if (!rc && n_runs != pb->R)
        rc = pm_error(err, "checkpoint %s: %s has %lld runs, expected %d", file_name, c.group, (long long)n_runs, pb->R);
    if (!rc && n_params != pb->P)
        rc = pm_error(err, "checkpoint %s: %s has %lld parameters per run, expected %ld", file_name, c.group,
                      (long long)n_params, pb->P);
    if (!rc && meta && meta->kind[0] && strcmp(meta->kind, kind) != 0)
        rc = pm_error(err, "checkpoint %s: %s holds a \"%s\" network, expected \"%s\"", file_name, c.group, kind, meta->kind);
    for (int t = 0; t < pb->n_tensors && !rc; t++) {
        const ParamTensor *T = &pb->tensors[t];
        rc = read_tensor(&c, g, "", pb, T, pb->params) < 0 || read_tensor(&c, g, "adam_m/", pb, T, pb->adam_m) < 0 ||
             read_tensor(&c, g, "adam_v/", pb, T, pb->adam_v) < 0;
    }
    if (!rc) {
        hsize_t dims[2] = {(hsize_t)pb->R, (hsize_t)pb->n_tensors};
        hid_t d = open_checked(&c, g, "adam_step", 2, dims);
        if (d < 0) rc = -1;
        else {
            if (H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, pb->h_adam_step) < 0)
                rc = pm_error(err, "checkpoint %s: cannot read dataset %s/adam_step (truncated or corrupt file)", file_name, c.group);
            H5Dclose(d);
        }
    }
    if (!rc && meta) {
        snprintf(meta->kind, sizeof meta->kind, "%s", kind);
        meta->n_sizes = 0;
        if (H5Aexists(g, "size_names") > 0) {
            hid_t a = H5Aopen(g, "size_names", H5P_DEFAULT);
            hid_t sp = H5Aget_space(a);
            hssize_t n = H5Sget_simple_extent_npoints(sp);
            if (n < 0 || n > CKPT_MAX_SIZES) rc = pm_error(err, "checkpoint %s: %s: bad size_names", file_name, c.group);
            else {
                char *s[CKPT_MAX_SIZES] = {0};
                hid_t mt = str_type();
                if (H5Aread(a, mt, s) < 0) rc = pm_error(err, "checkpoint %s: %s: cannot read size_names", file_name, c.group);
                else if (attr_read(&c, g, "size_values", H5T_NATIVE_INT64, (int)n, meta->sizes) < 0) rc = -1;
                for (int i = 0; i < n; i++) {
                    if (s[i] && !rc) snprintf(meta->size_names[i], CKPT_NAME_LEN, "%s", s[i]);
                    if (s[i]) H5free_memory(s[i]);
                }
                if (!rc) meta->n_sizes = (int)n;
                H5Tclose(mt);
            }
            H5Sclose(sp);
            H5Aclose(a);
        }
        if (!rc && meta->noise) {
            NoiseState *ns = meta->noise;
            uint64_t *seed = xmalloc((size_t)ns->R * 2 * sizeof(uint64_t)), *off = seed + ns->R;
            int64_t calls = 0;
            if (ns->R != pb->R) rc = pm_error(err, "checkpoint %s: noise state has %d runs, block %d", file_name, ns->R, pb->R);
            else rc = attr_read(&c, g, "noise_sigma", H5T_NATIVE_FLOAT, ns->R, ns->sigma) < 0 ||
                      attr_read(&c, g, "noise_lr_ref", H5T_NATIVE_FLOAT, ns->R, ns->lr_ref) < 0 ||
                      attr_read(&c, g, "noise_seed", H5T_NATIVE_UINT64, ns->R, seed) < 0 ||
                      attr_read(&c, g, "noise_offset", H5T_NATIVE_UINT64, ns->R, off) < 0 ||
                      attr_read_i64(&c, g, "noise_calls", &calls) < 0;
            if (!rc) {
                for (int r = 0; r < ns->R; r++) {
                    ns->streams[r].seed = seed[r];
                    ns->streams[r].offset = off[r];
                }
                ns->calls = calls;
            }
            free(seed);
        }
    }
    H5Gclose(g);
    return rc ? -1 : 0;
}

int ckpt_read_file(const char *file_path, const char *path, ParamBlock *pb, CkptMeta *meta,
                   PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(file_path) <= 0) {
        FILE *fp = fopen(file_path, "rb");
        if (!fp) return pm_error(err, "checkpoint %s: cannot open (no such file or not readable)", file_path);
        fclose(fp);
        return pm_error(err, "checkpoint %s: not an HDF5 file (empty, cut before its header, or damaged)", file_path);
    }
    hid_t f = H5Fopen(file_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return pm_error(err, "checkpoint %s: cannot open: file truncated or corrupt", file_path);
    int rc = ckpt_read(f, file_path, path, pb, meta, err);
    H5Fclose(f);
    return rc;
}
