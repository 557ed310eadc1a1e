/* trainer_ckpt.c: the training checkpoint RUN.ckpt.h5, written to RUN.ckpt.h5.tmp and
 * renamed, so a crash at any moment leaves the previous checkpoint intact. It holds
 * everything a resumed run needs to continue bit-identically: both networks with their Adam
 * state and expert-noise streams (ckpt.c layout), every simulator state array, the shuffle,
 * routing-noise and action streams, the episode statistics, the faithful metrics hooks, the
 * iteration counters and the resolved configuration (/config attributes, as in the run file).
 *
 * Layout (all datasets have a leading run or environment axis):
 *   /config              attributes: every config key as a string
 *   /trainer             attributes iteration, global_step, content_idx, elapsed_s, version;
 *                        datasets shuffle (R,4) u64, action (R,2) u64, route_policy (R,2),
 *                        route_value (R,2), lr (R) f32, next_done (R*E) u8
 *   /episodes            sum (R*E,11) f64, steps (R*E) i32, hist (R,50,11) f64, count (R) i64
 *   /env/<field>         one dataset per simulator state array (env.h field table)
 *   /policy, /value      networks (ckpt.c: one dataset per tensor, PyTorch orientation)
 *   /metrics_hooks/run_<r>  the faithful hook storage of run r (metrics.h) */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "trainer_state.h"

#define CKPT_VERSION 1

static int write_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data,
                    const char *file, PmError *err) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(space);
    return rc < 0 ? pm_error(err, "%s: cannot write dataset %s", file, name) : 0;
}

/* Reads a dataset whose shape must equal dims; the error names file, dataset and shapes. */
static int read_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, void *data,
                   const char *file, PmError *err) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return pm_error(err, "checkpoint %s: missing dataset %s", file, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return pm_error(err, "checkpoint %s: cannot open dataset %s (corrupt file?)", file, name);
    hid_t space = H5Dget_space(ds);
    hsize_t got[8] = {0};
    int r = H5Sget_simple_extent_ndims(space);
    if (r > 0 && r <= 8) H5Sget_simple_extent_dims(space, got, NULL);
    H5Sclose(space);
    int ok = r == rank;
    for (int i = 0; ok && i < rank; i++) ok = got[i] == dims[i];
    if (!ok) {
        H5Dclose(ds);
        char want[64] = "", have[64] = "";
        for (int i = 0; i < rank; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", i ? "x" : "", (unsigned long long)dims[i]);
        for (int i = 0; i < r && i < 8; i++) snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? "x" : "", (unsigned long long)got[i]);
        return pm_error(err, "checkpoint %s: dataset %s has shape %s, expected %s", file, name, have, want);
    }
    herr_t rc = H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    return rc < 0 ? pm_error(err, "checkpoint %s: cannot read dataset %s (truncated or corrupt file?)", file, name) : 0;
}

static int write_attr_str(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc < 0 ? -1 : 0;
}

static int write_attr_num(hid_t loc, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int read_attr_num(hid_t loc, const char *name, hid_t type, void *value, const char *file, PmError *err) {
    if (H5Aexists(loc, name) <= 0) return pm_error(err, "checkpoint %s: missing attribute /trainer@%s", file, name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Aread(a, type, value);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? pm_error(err, "checkpoint %s: cannot read attribute /trainer@%s", file, name) : 0;
}

static hid_t env_h5_type(EnvType t) {
    switch (t) {
    case ENV_T_I32: return H5T_NATIVE_INT32;
    case ENV_T_F64: return H5T_NATIVE_DOUBLE;
    case ENV_T_F32: return H5T_NATIVE_FLOAT;
    case ENV_T_U64: return H5T_NATIVE_UINT64;
    case ENV_T_U8: return H5T_NATIVE_UINT8;
    }
    return H5T_NATIVE_UINT8;
}

/* The networks' ParamBlock as host memory: on the CPU backend the block itself; otherwise a
 * host mirror (download before writing, upload after reading). */
static ParamBlock host_block(Backend *be, const ParamBlock *pb, int download) {
    ParamBlock h = *pb;
    if (!strcmp(be->name, "cpu")) return h;
    size_t bytes = (size_t)pb->R * pb->P * sizeof(float);
    h.params = xmalloc(bytes);
    h.adam_m = xmalloc(bytes);
    h.adam_v = xmalloc(bytes);
    h.grads = NULL;
    if (download) {
        be->download(be, h.params, pb->params, bytes);
        be->download(be, h.adam_m, pb->adam_m, bytes);
        be->download(be, h.adam_v, pb->adam_v, bytes);
    }
    return h;
}

static void host_block_done(Backend *be, ParamBlock *dev, ParamBlock *h, int upload) {
    if (h->params == dev->params) return;
    size_t bytes = (size_t)dev->R * dev->P * sizeof(float);
    if (upload) {
        be->upload(be, dev->params, h->params, bytes);
        be->upload(be, dev->adam_m, h->adam_m, bytes);
        be->upload(be, dev->adam_v, h->adam_v, bytes);
    }
    free(h->params);
    free(h->adam_m);
    free(h->adam_v);
}

static CkptMeta net_meta(const Net *net, NoiseState *noise) {
    CkptMeta m;
    memset(&m, 0, sizeof m);
    snprintf(m.kind, sizeof m.kind, "%s", net_kind_name(net->cfg.kind));
    m.noise = noise;
    return m;
}

int trainer_ckpt_read_net(hid_t f, const char *path, const char *group, Backend *be, Net *net, NoiseState *noise,
                          PmError *err) {
    ParamBlock h = host_block(be, &net->pb, 0);
    CkptMeta m = net_meta(net, noise);
    int rc = ckpt_read(f, path, group, &h, &m, err);
    host_block_done(be, &net->pb, &h, !rc);
    return rc;
}

int trainer_ckpt_save(Trainer *t, PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    size_t n = strlen(t->ckpt_path) + 8;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp", t->ckpt_path);
    const char *file = t->ckpt_path;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) { pm_error(err, "cannot create checkpoint %s", tmp); free(tmp); return -1; }
    int rc = 0, R = t->R, nenv = t->R * t->E;
    hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < config_count() && !rc; i++) {
        char val[600];
        config_value_str(&t->cfg, i, val, sizeof val);
        rc = write_attr_str(g, config_key(i), val);
    }
    H5Gclose(g);
    if (rc) pm_error(err, "%s: cannot write /config", file);

    g = H5Gcreate2(f, "trainer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int version = CKPT_VERSION;
    int64_t it = t->iteration, gs = t->global_step, ci = t->content_idx;
    if (!rc && (write_attr_num(g, "version", H5T_NATIVE_INT, &version) ||
                write_attr_num(g, "iteration", H5T_NATIVE_INT64, &it) ||
                write_attr_num(g, "global_step", H5T_NATIVE_INT64, &gs) ||
                write_attr_num(g, "content_idx", H5T_NATIVE_INT64, &ci) ||
                write_attr_num(g, "elapsed_s", H5T_NATIVE_DOUBLE, &t->elapsed_s)))
        rc = pm_error(err, "%s: cannot write /trainer attributes", file);
    hsize_t d4[2] = {(hsize_t)R, 4}, d2[2] = {(hsize_t)R, 2}, d1[1] = {(hsize_t)R}, de[1] = {(hsize_t)nenv};
    if (!rc) rc = write_ds(g, "shuffle", H5T_NATIVE_UINT64, 2, d4, t->shuffle, file, err);
    if (!rc) rc = write_ds(g, "action", H5T_NATIVE_UINT64, 2, d2, t->action, file, err);
    if (!rc) rc = write_ds(g, "route_policy", H5T_NATIVE_UINT64, 2, d2, t->route[0], file, err);
    if (!rc) rc = write_ds(g, "route_value", H5T_NATIVE_UINT64, 2, d2, t->route[1], file, err);
    if (!rc) rc = write_ds(g, "lr", H5T_NATIVE_FLOAT, 1, d1, t->lr, file, err);
    if (!rc) rc = write_ds(g, "next_done", H5T_NATIVE_UINT8, 1, de, t->next_done, file, err);
    H5Gclose(g);

    g = H5Gcreate2(f, "episodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t ds[2] = {(hsize_t)nenv, EP_COUNT}, dh[3] = {(hsize_t)R, EP_WINDOW, EP_COUNT};
    if (!rc) rc = write_ds(g, "sum", H5T_NATIVE_DOUBLE, 2, ds, t->episodes.sum, file, err);
    if (!rc) rc = write_ds(g, "steps", H5T_NATIVE_INT, 1, de, t->episodes.steps, file, err);
    if (!rc) rc = write_ds(g, "hist", H5T_NATIVE_DOUBLE, 3, dh, t->episodes.hist, file, err);
    if (!rc) rc = write_ds(g, "count", H5T_NATIVE_LONG, 1, d1, t->episodes.episodes, file, err);
    H5Gclose(g);

    g = H5Gcreate2(f, "env", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < t->env->n_fields && !rc; i++) {
        const EnvField *fd = &t->env->fields[i];
        hsize_t dims[2] = {(hsize_t)nenv, (hsize_t)fd->per_env};
        rc = write_ds(g, fd->name, env_h5_type(fd->type), 2, dims, fd->data, file, err);
    }
    H5Gclose(g);

    for (int k = 0; k < 2 && !rc; k++) {
        ParamBlock h = host_block(t->be, &t->net[k]->pb, 1);
        CkptMeta m = net_meta(t->net[k], t->noise[k]);
        rc = ckpt_write(f, file, k == 0 ? "policy" : "value", &h, &m, err);
        host_block_done(t->be, &t->net[k]->pb, &h, 0);
    }
    g = H5Gcreate2(f, "metrics_hooks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int r = 0; r < R && !rc; r++) {
        char name[32];
        snprintf(name, sizeof name, "run_%d", r);
        rc = metrics_store_save_hooks(t->store[r], g, name, err);
    }
    H5Gclose(g);
    if (H5Fclose(f) < 0 && !rc) rc = pm_error(err, "%s: cannot close checkpoint (disk full?)", tmp);
    if (!rc && rename(tmp, t->ckpt_path)) rc = pm_error(err, "cannot rename %s to %s", tmp, t->ckpt_path);
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

/* attribute iterator: each /config attribute goes through config_set, so a checkpoint from
 * another version with an unknown key is reported by name */
typedef struct {
    TrainConfig *cfg;
    PmError *err;
    const char *file;
    int failed;
} AttrCtx;

static herr_t on_config_attr(hid_t loc, const char *name, const H5A_info_t *info, void *user) {
    (void)info;
    AttrCtx *ctx = user;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(a);
    char *value = NULL;
    herr_t rc = -1;
    if (H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5T_CSET_UTF8);
        rc = H5Aread(a, mem, &value);
        H5Tclose(mem);
    }
    H5Tclose(type);
    H5Aclose(a);
    if (rc < 0 || !value) {
        pm_error(ctx->err, "checkpoint %s: /config@%s is not a string", ctx->file, name);
        ctx->failed = 1;
        return -1;
    }
    char assign[1024];
    snprintf(assign, sizeof assign, "%s=%s", name, value);
    H5free_memory(value);
    PmError e;
    if (config_set(ctx->cfg, assign, &e)) {
        pm_error(ctx->err, "checkpoint %s: /config@%s: %s", ctx->file, name, e.msg);
        ctx->failed = 1;
        return -1;
    }
    return 0;
}

hid_t trainer_ckpt_open(const char *path, PmError *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(path, "rb");
    if (!probe) { pm_error(err, "no checkpoint %s to resume from (was the run started with --out?)", path); return -1; }
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) { pm_error(err, "checkpoint %s is not an HDF5 file (truncated or corrupt)", path); return -1; }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) pm_error(err, "cannot open checkpoint %s (truncated or corrupt)", path);
    return f;
}

int trainer_ckpt_read_config(const char *path, TrainConfig *cfg, PmError *err) {
    hid_t f = trainer_ckpt_open(path, err);
    if (f < 0) return -1;
    config_defaults(cfg);
    AttrCtx ctx = {cfg, err, path, 0};
    int rc = 0;
    if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) {
        rc = pm_error(err, "checkpoint %s: missing group /config", path);
    } else {
        hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
        hsize_t idx = 0;
        if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, on_config_attr, &ctx) < 0 && !ctx.failed)
            rc = pm_error(err, "checkpoint %s: cannot read /config", path);
        if (ctx.failed) rc = -1;
        H5Gclose(g);
    }
    H5Fclose(f);
    if (!rc && config_finalize(cfg, err)) rc = -1;
    return rc;
}

int trainer_ckpt_load(Trainer *t, const char *path, PmError *err) {
    hid_t f = trainer_ckpt_open(path, err);
    if (f < 0) return -1;
    int rc = 0, R = t->R, nenv = t->R * t->E, version = 0;
    int64_t it = 0, gs = 0, ci = 0;
    hid_t g = H5Lexists(f, "trainer", H5P_DEFAULT) > 0 ? H5Gopen2(f, "trainer", H5P_DEFAULT) : -1;
    if (g < 0) { H5Fclose(f); return pm_error(err, "checkpoint %s: missing group /trainer", path); }
    rc = read_attr_num(g, "version", H5T_NATIVE_INT, &version, path, err);
    if (!rc && version != CKPT_VERSION) rc = pm_error(err, "checkpoint %s: format version %d, this pamoe reads %d", path, version, CKPT_VERSION);
    if (!rc) rc = read_attr_num(g, "iteration", H5T_NATIVE_INT64, &it, path, err);
    if (!rc) rc = read_attr_num(g, "global_step", H5T_NATIVE_INT64, &gs, path, err);
    if (!rc) rc = read_attr_num(g, "content_idx", H5T_NATIVE_INT64, &ci, path, err);
    if (!rc) rc = read_attr_num(g, "elapsed_s", H5T_NATIVE_DOUBLE, &t->elapsed_s, path, err);
    hsize_t d4[2] = {(hsize_t)R, 4}, d2[2] = {(hsize_t)R, 2}, d1[1] = {(hsize_t)R}, de[1] = {(hsize_t)nenv};
    if (!rc) rc = read_ds(g, "shuffle", H5T_NATIVE_UINT64, 2, d4, t->shuffle, path, err);
    if (!rc) rc = read_ds(g, "action", H5T_NATIVE_UINT64, 2, d2, t->action, path, err);
    if (!rc) rc = read_ds(g, "route_policy", H5T_NATIVE_UINT64, 2, d2, t->route[0], path, err);
    if (!rc) rc = read_ds(g, "route_value", H5T_NATIVE_UINT64, 2, d2, t->route[1], path, err);
    if (!rc) rc = read_ds(g, "lr", H5T_NATIVE_FLOAT, 1, d1, t->lr, path, err);
    if (!rc) rc = read_ds(g, "next_done", H5T_NATIVE_UINT8, 1, de, t->next_done, path, err);
    H5Gclose(g);
    t->iteration = it;
    t->global_step = gs;
    t->content_idx = (int)ci;

    hsize_t ds[2] = {(hsize_t)nenv, EP_COUNT}, dh[3] = {(hsize_t)R, EP_WINDOW, EP_COUNT};
    if (!rc) rc = read_ds(f, "episodes/sum", H5T_NATIVE_DOUBLE, 2, ds, t->episodes.sum, path, err);
    if (!rc) rc = read_ds(f, "episodes/steps", H5T_NATIVE_INT, 1, de, t->episodes.steps, path, err);
    if (!rc) rc = read_ds(f, "episodes/hist", H5T_NATIVE_DOUBLE, 3, dh, t->episodes.hist, path, err);
    if (!rc) rc = read_ds(f, "episodes/count", H5T_NATIVE_LONG, 1, d1, t->episodes.episodes, path, err);
    for (int i = 0; i < t->env->n_fields && !rc; i++) {
        const EnvField *fd = &t->env->fields[i];
        hsize_t dims[2] = {(hsize_t)nenv, (hsize_t)fd->per_env};
        char name[96];
        snprintf(name, sizeof name, "env/%s", fd->name);
        rc = read_ds(f, name, env_h5_type(fd->type), 2, dims, fd->data, path, err);
    }
    /* the environments' content follows the schedule position */
    for (int k = 0; k < 2 && !rc; k++)
        rc = trainer_ckpt_read_net(f, path, k == 0 ? "policy" : "value", t->be, t->net[k], t->noise[k], err);
    for (int r = 0; r < R && !rc; r++) {
        char name[48];
        snprintf(name, sizeof name, "metrics_hooks/run_%d", r);
        rc = metrics_store_load_hooks(t->store[r], f, name, path, err);
    }
    H5Fclose(f);
    return rc;
}
