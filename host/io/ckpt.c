/* ckpt.c: ParamBlock checkpoints in HDF5 (layout in docs/opt.md). Every dataset carries a
 * Fletcher-32 checksum so a corrupt file is reported instead of loaded; HDF5's own error stack
 * printing is switched off and each failure becomes one message naming the file and dataset. */
#include "ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

#define CKPT_FORMAT "pamoe-params"
#define CKPT_VERSION 1

#define W "checkpoint" /* starts every h5util message */

const char *ckpt_role_name(TensorRole role) {
    switch (role) {
    case TENSOR_EXPERT: return "expert";
    case TENSOR_ROUTER: return "router";
    case TENSOR_HEAD: return "head";
    default: return "unused";
    }
}

static void set_group_name(char *group, size_t len, const char *path) {
    snprintf(group, len, "%s%s", path[0] == '/' ? "" : "/", path);
}

/* ---- writing ---- */

static int put_i64(hid_t obj, const char *name, int64_t v, PmError *err) {
    return h5u_attr_write(obj, name, H5T_NATIVE_INT64, -1, &v, W, err);
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

static int write_tensor(hid_t g, const char *sub, const ParamBlock *pb, const ParamTensor *t,
                        const float *base, PmError *err) {
    char name[PARAMS_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", sub, t->name);
    hsize_t dims[3];
    int rank = tensor_dims(pb, t, dims);
    hid_t d = h5u_create(g, name, H5T_IEEE_F32LE, rank, dims, H5U_CHECKSUM | H5U_REPLACE, W, err);
    if (d < 0) return -1;
    hid_t msp = mem_space(pb, t);
    int rc = h5u_write_from(d, H5T_NATIVE_FLOAT, msp, base, W, err);
    if (!rc && !sub[0])
        rc = h5u_attr_str(d, "role", ckpt_role_name(t->role), W, err) || put_i64(d, "expert", t->expert, err) ||
             put_i64(d, "offset", t->offset, err);
    H5Sclose(msp);
    H5Dclose(d);
    return rc ? -1 : 0;
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
    h5u_quiet();
    char group[512];
    set_group_name(group, sizeof group, path);
    hid_t g = open_or_create_group(loc, path);
    if (g < 0) return pm_error(err, "checkpoint %s: cannot create group %s", file_name, group);
    hid_t gm = open_or_create_group(g, "adam_m"), gv = open_or_create_group(g, "adam_v");
    int rc = gm < 0 || gv < 0 ? pm_error(err, "checkpoint %s: cannot create %s/adam_m, adam_v", file_name, group) : 0;
    const char *names[PARAMS_MAX_TENSORS];
    for (int t = 0; t < pb->n_tensors; t++) names[t] = pb->tensors[t].name;
    if (!rc)
        rc = h5u_attr_str(g, "format", CKPT_FORMAT, W, err) || put_i64(g, "version", CKPT_VERSION, err) ||
             h5u_attr_str(g, "kind", meta ? meta->kind : "", W, err) || put_i64(g, "n_runs", pb->R, err) ||
             put_i64(g, "n_params", pb->P, err) || put_i64(g, "n_tensors", pb->n_tensors, err) ||
             h5u_attr_strs(g, "tensor_names", pb->n_tensors, names, W, err);
    if (!rc && meta && meta->n_sizes > 0) {
        const char *sn[CKPT_MAX_SIZES];
        for (int i = 0; i < meta->n_sizes; i++) {
            sn[i] = meta->size_names[i];
            if (!rc) rc = put_i64(g, sn[i], meta->sizes[i], err);
        }
        if (!rc) rc = h5u_attr_strs(g, "size_names", meta->n_sizes, sn, W, err);
        if (!rc) rc = h5u_attr_write(g, "size_values", H5T_NATIVE_INT64, meta->n_sizes, meta->sizes, W, err);
    }
    if (!rc && meta && meta->noise) {
        const NoiseState *ns = meta->noise;
        uint64_t *seed = xmalloc((size_t)ns->R * 2 * sizeof(uint64_t)), *off = seed + ns->R;
        for (int r = 0; r < ns->R; r++) {
            seed[r] = ns->streams[r].seed;
            off[r] = ns->streams[r].offset;
        }
        rc = h5u_attr_write(g, "noise_sigma", H5T_NATIVE_FLOAT, ns->R, ns->sigma, W, err) ||
             h5u_attr_write(g, "noise_lr_ref", H5T_NATIVE_FLOAT, ns->R, ns->lr_ref, W, err) ||
             h5u_attr_write(g, "noise_seed", H5T_NATIVE_UINT64, ns->R, seed, W, err) ||
             h5u_attr_write(g, "noise_offset", H5T_NATIVE_UINT64, ns->R, off, W, err) ||
             put_i64(g, "noise_calls", ns->calls, err);
        free(seed);
    }
    for (int t = 0; t < pb->n_tensors && !rc; t++) {
        const ParamTensor *T = &pb->tensors[t];
        rc = write_tensor(g, "", pb, T, pb->params, err) || write_tensor(g, "adam_m/", pb, T, pb->adam_m, err) ||
             write_tensor(g, "adam_v/", pb, T, pb->adam_v, err);
    }
    hsize_t dims[2] = {(hsize_t)pb->R, (hsize_t)pb->n_tensors};
    if (!rc) rc = h5u_write(g, "adam_step", H5T_STD_I32LE, 2, dims, pb->h_adam_step, H5U_CHECKSUM | H5U_REPLACE, W, err);
    if (gm >= 0) H5Gclose(gm);
    if (gv >= 0) H5Gclose(gv);
    H5Gclose(g);
    return rc ? -1 : 0;
}

int ckpt_write_file(const char *file_path, int n, const char *const *paths,
                    const ParamBlock *const *blocks, const CkptMeta *const *metas, PmError *err) {
    hid_t f = h5u_create_tmp(file_path, H5P_DEFAULT, W, err);
    if (f < 0) return -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = ckpt_write(f, file_path, paths[i], blocks[i], metas ? metas[i] : NULL, err);
    return h5u_commit(f, file_path, !rc, W, err);
}

/* ---- reading ---- */

static int read_tensor(hid_t g, const char *file_name, const char *group, const char *sub, const ParamBlock *pb,
                       const ParamTensor *t, float *base, PmError *err) {
    char name[PARAMS_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", sub, t->name);
    hsize_t dims[3];
    int rank = tensor_dims(pb, t, dims);
    hid_t d = h5u_open_checked(g, name, rank, dims, W, err);
    if (d < 0) return -1;
    hid_t msp = mem_space(pb, t);
    int rc = h5u_read_into(d, H5T_NATIVE_FLOAT, msp, base, W, err);
    H5Sclose(msp);
    H5Dclose(d);
    /* a value that passed its checksum can still be no network at all (a NaN or an infinity
     * written by a diverged run or an edit): every reader (resume, act, eval) refuses it here */
    long n = (long)param_tensor_size(t);
    for (int r = 0; r < pb->R && !rc; r++)
        for (long j = 0; j < n; j++) {
            float v = base[(size_t)r * (size_t)pb->P + (size_t)t->offset + (size_t)j];
            if (!isfinite(v) || (!strcmp(sub, "adam_v/") && v < 0)) {
                rc = pm_error(err, "checkpoint %s: dataset %s/%s: run %d holds %g", file_name, group, name, r, v);
                break;
            }
        }
    return rc;
}

int ckpt_read(hid_t loc, const char *file_name, const char *path, ParamBlock *pb, CkptMeta *meta,
              PmError *err) {
    h5u_quiet();
    char group[512];
    set_group_name(group, sizeof group, path);
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return pm_error(err, "checkpoint %s: missing group %s", file_name, group);
    int rc = 0;
    int64_t n_runs = 0, n_params = 0;
    char format[64], kind[CKPT_NAME_LEN];
    if (h5u_attr_read_str(g, "format", format, sizeof format, W, err) < 0) rc = -1;
    else if (strcmp(format, CKPT_FORMAT) != 0)
        rc = pm_error(err, "checkpoint %s: %s: format \"%s\", expected \"%s\"", file_name, group, format, CKPT_FORMAT);
    if (!rc) rc = h5u_attr_read(g, "n_runs", H5T_NATIVE_INT64, -1, &n_runs, W, err) < 0 ||
                  h5u_attr_read(g, "n_params", H5T_NATIVE_INT64, -1, &n_params, W, err) < 0 ||
                  h5u_attr_read_str(g, "kind", kind, sizeof kind, W, err) < 0;
    if (!rc && n_runs != pb->R)
        rc = pm_error(err, "checkpoint %s: %s has %lld runs, expected %d", file_name, group, (long long)n_runs, pb->R);
    if (!rc && n_params != pb->P)
        rc = pm_error(err, "checkpoint %s: %s has %lld parameters per run, expected %ld", file_name, group,
                      (long long)n_params, pb->P);
    if (!rc && meta && meta->kind[0] && strcmp(meta->kind, kind) != 0)
        rc = pm_error(err, "checkpoint %s: %s holds a \"%s\" network, expected \"%s\"", file_name, group, kind, meta->kind);
    for (int t = 0; t < pb->n_tensors && !rc; t++) {
        const ParamTensor *T = &pb->tensors[t];
        rc = read_tensor(g, file_name, group, "", pb, T, pb->params, err) < 0 ||
             read_tensor(g, file_name, group, "adam_m/", pb, T, pb->adam_m, err) < 0 ||
             read_tensor(g, file_name, group, "adam_v/", pb, T, pb->adam_v, err) < 0;
    }
    hsize_t dims[2] = {(hsize_t)pb->R, (hsize_t)pb->n_tensors};
    if (!rc) rc = h5u_read(g, "adam_step", H5T_NATIVE_INT32, 2, dims, pb->h_adam_step, W, err);
    if (!rc && meta) {
        snprintf(meta->kind, sizeof meta->kind, "%s", kind);
        meta->n_sizes = 0;
        if (H5Aexists(g, "size_names") > 0) {
            hid_t a = H5Aopen(g, "size_names", H5P_DEFAULT);
            hid_t sp = H5Aget_space(a);
            hssize_t n = H5Sget_simple_extent_npoints(sp);
            if (n < 0 || n > CKPT_MAX_SIZES) rc = pm_error(err, "checkpoint %s: %s: bad size_names", file_name, group);
            else {
                char *s[CKPT_MAX_SIZES] = {0};
                hid_t mt = h5u_str_type();
                if (H5Aread(a, mt, s) < 0) rc = pm_error(err, "checkpoint %s: %s: cannot read size_names", file_name, group);
                else if (h5u_attr_read(g, "size_values", H5T_NATIVE_INT64, (int)n, meta->sizes, W, err) < 0) rc = -1;
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
            else rc = h5u_attr_read(g, "noise_sigma", H5T_NATIVE_FLOAT, ns->R, ns->sigma, W, err) < 0 ||
                      h5u_attr_read(g, "noise_lr_ref", H5T_NATIVE_FLOAT, ns->R, ns->lr_ref, W, err) < 0 ||
                      h5u_attr_read(g, "noise_seed", H5T_NATIVE_UINT64, ns->R, seed, W, err) < 0 ||
                      h5u_attr_read(g, "noise_offset", H5T_NATIVE_UINT64, ns->R, off, W, err) < 0 ||
                      h5u_attr_read(g, "noise_calls", H5T_NATIVE_INT64, -1, &calls, W, err) < 0;
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
    hid_t f = h5u_open(file_path, H5F_ACC_RDONLY, H5P_DEFAULT, W, err);
    if (f < 0) return -1;
    int rc = ckpt_read(f, file_path, path, pb, meta, err);
    H5Fclose(f);
    return rc;
}
