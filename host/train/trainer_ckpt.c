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
 *   /metrics_hooks/run_<r>  the faithful hook storage of run r (metrics.h)
 *   /plasticity          with plasticity.method != none: policy_theta0, value_theta0 (R,P)
 *                        f32, the initial parameters (L2-init anchor, distance origin) */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "h5util.h"
#include "trainer_state.h"

#define CKPT_VERSION 1

#define W "checkpoint" /* starts every h5util message */

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

/* The networks' ParamBlock as host memory: the block itself where backend memory is host
 * memory; otherwise a host mirror (download before writing, upload after reading). */
static ParamBlock host_block(Backend *be, const ParamBlock *pb, int download) {
    ParamBlock h = *pb;
    if (be->caps.host_memory) return h;
    size_t bytes = (size_t)pb->R * pb->P * sizeof(float);
    h.params = xmalloc(bytes);
    h.adam_m = xmalloc(bytes);
    h.adam_v = xmalloc(bytes);
    h.grads = NULL;
    if (download) {
        be->ops->download(be, h.params, pb->params, bytes);
        be->ops->download(be, h.adam_m, pb->adam_m, bytes);
        be->ops->download(be, h.adam_v, pb->adam_v, bytes);
    }
    return h;
}

static void host_block_done(Backend *be, ParamBlock *dev, ParamBlock *h, int upload) {
    if (h->params == dev->params) return;
    size_t bytes = (size_t)dev->R * dev->P * sizeof(float);
    if (upload) {
        be->ops->upload(be, dev->params, h->params, bytes);
        be->ops->upload(be, dev->adam_m, h->adam_m, bytes);
        be->ops->upload(be, dev->adam_v, h->adam_v, bytes);
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
    const char *file = t->ckpt_path;
    hid_t f = h5u_create_tmp(file, H5P_DEFAULT, W, err);
    if (f < 0) return -1;
    int rc = 0, R = t->R, nenv = t->R * t->E;
    hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < config_count() && !rc; i++) {
        char val[600];
        config_value_str(&t->cfg, i, val, sizeof val);
        rc = h5u_attr_str(g, config_key(i), val, W, err);
    }
    H5Gclose(g);

    g = H5Gcreate2(f, "trainer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int version = CKPT_VERSION;
    int64_t it = t->iteration, gs = t->global_step, ci = t->content_idx;
    if (!rc)
        rc = h5u_attr_write(g, "version", H5T_NATIVE_INT, -1, &version, W, err) ||
             h5u_attr_write(g, "iteration", H5T_NATIVE_INT64, -1, &it, W, err) ||
             h5u_attr_write(g, "global_step", H5T_NATIVE_INT64, -1, &gs, W, err) ||
             h5u_attr_write(g, "content_idx", H5T_NATIVE_INT64, -1, &ci, W, err) ||
             h5u_attr_write(g, "elapsed_s", H5T_NATIVE_DOUBLE, -1, &t->elapsed_s, W, err);
    hsize_t d4[2] = {(hsize_t)R, 4}, d2[2] = {(hsize_t)R, 2}, d1[1] = {(hsize_t)R}, de[1] = {(hsize_t)nenv};
    if (!rc) rc = h5u_write(g, "shuffle", H5T_NATIVE_UINT64, 2, d4, t->shuffle, 0, W, err);
    if (!rc) rc = h5u_write(g, "action", H5T_NATIVE_UINT64, 2, d2, t->action, 0, W, err);
    if (!rc) rc = h5u_write(g, "route_policy", H5T_NATIVE_UINT64, 2, d2, t->route[0], 0, W, err);
    if (!rc) rc = h5u_write(g, "route_value", H5T_NATIVE_UINT64, 2, d2, t->route[1], 0, W, err);
    if (!rc) rc = h5u_write(g, "lr", H5T_NATIVE_FLOAT, 1, d1, t->lr, 0, W, err);
    if (!rc) rc = h5u_write(g, "next_done", H5T_NATIVE_UINT8, 1, de, t->next_done, 0, W, err);
    H5Gclose(g);

    g = H5Gcreate2(f, "episodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t ds[2] = {(hsize_t)nenv, EP_COUNT}, dh[3] = {(hsize_t)R, EP_WINDOW, EP_COUNT};
    if (!rc) rc = h5u_write(g, "sum", H5T_NATIVE_DOUBLE, 2, ds, t->episodes.sum, 0, W, err);
    if (!rc) rc = h5u_write(g, "steps", H5T_NATIVE_INT, 1, de, t->episodes.steps, 0, W, err);
    if (!rc) rc = h5u_write(g, "hist", H5T_NATIVE_DOUBLE, 3, dh, t->episodes.hist, 0, W, err);
    if (!rc) rc = h5u_write(g, "count", H5T_NATIVE_LONG, 1, d1, t->episodes.episodes, 0, W, err);
    H5Gclose(g);

    g = H5Gcreate2(f, "env", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < t->env->n_fields && !rc; i++) {
        const EnvField *fd = &t->env->fields[i];
        hsize_t dims[2] = {(hsize_t)nenv, (hsize_t)fd->per_env};
        rc = h5u_write(g, fd->name, env_h5_type(fd->type), 2, dims, fd->data, 0, W, err);
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
    if (!rc) rc = trainer_plasticity_ckpt_save(t, f, err);
    return h5u_commit(f, file, !rc, W, err);
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
    char value[1024], assign[1200];
    PmError e;
    if (h5u_attr_read_str(loc, name, value, sizeof value, W, ctx->err)) {
        ctx->failed = 1;
        return -1;
    }
    snprintf(assign, sizeof assign, "%s=%s", name, value);
    if (config_set(ctx->cfg, assign, &e)) {
        pm_error(ctx->err, "checkpoint %s: /config@%s: %s", ctx->file, name, e.msg);
        ctx->failed = 1;
        return -1;
    }
    return 0;
}

hid_t trainer_ckpt_open(const char *path, PmError *err) {
    hid_t f = h5u_open(path, H5F_ACC_RDONLY, H5P_DEFAULT, W, err);
    if (f == H5U_MISSING) pm_error(err, "no checkpoint %s to resume from (was the run started with --out?)", path);
    return f < 0 ? -1 : f;
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
    rc = h5u_attr_read(g, "version", H5T_NATIVE_INT, -1, &version, W, err);
    if (!rc && version != CKPT_VERSION) rc = pm_error(err, "checkpoint %s: format version %d, this pamoe reads %d", path, version, CKPT_VERSION);
    if (!rc) rc = h5u_attr_read(g, "iteration", H5T_NATIVE_INT64, -1, &it, W, err);
    if (!rc) rc = h5u_attr_read(g, "global_step", H5T_NATIVE_INT64, -1, &gs, W, err);
    if (!rc) rc = h5u_attr_read(g, "content_idx", H5T_NATIVE_INT64, -1, &ci, W, err);
    if (!rc) rc = h5u_attr_read(g, "elapsed_s", H5T_NATIVE_DOUBLE, -1, &t->elapsed_s, W, err);
    hsize_t d4[2] = {(hsize_t)R, 4}, d2[2] = {(hsize_t)R, 2}, d1[1] = {(hsize_t)R}, de[1] = {(hsize_t)nenv};
    if (!rc) rc = h5u_read(g, "shuffle", H5T_NATIVE_UINT64, 2, d4, t->shuffle, W, err);
    if (!rc) rc = h5u_read(g, "action", H5T_NATIVE_UINT64, 2, d2, t->action, W, err);
    if (!rc) rc = h5u_read(g, "route_policy", H5T_NATIVE_UINT64, 2, d2, t->route[0], W, err);
    if (!rc) rc = h5u_read(g, "route_value", H5T_NATIVE_UINT64, 2, d2, t->route[1], W, err);
    if (!rc) rc = h5u_read(g, "lr", H5T_NATIVE_FLOAT, 1, d1, t->lr, W, err);
    if (!rc) rc = h5u_read(g, "next_done", H5T_NATIVE_UINT8, 1, de, t->next_done, W, err);
    H5Gclose(g);
    t->iteration = it;
    t->global_step = gs;
    t->content_idx = (int)ci;

    hsize_t ds[2] = {(hsize_t)nenv, EP_COUNT}, dh[3] = {(hsize_t)R, EP_WINDOW, EP_COUNT};
    if (!rc) rc = h5u_read(f, "episodes/sum", H5T_NATIVE_DOUBLE, 2, ds, t->episodes.sum, W, err);
    if (!rc) rc = h5u_read(f, "episodes/steps", H5T_NATIVE_INT, 1, de, t->episodes.steps, W, err);
    if (!rc) rc = h5u_read(f, "episodes/hist", H5T_NATIVE_DOUBLE, 3, dh, t->episodes.hist, W, err);
    if (!rc) rc = h5u_read(f, "episodes/count", H5T_NATIVE_LONG, 1, d1, t->episodes.episodes, W, err);
    for (int i = 0; i < t->env->n_fields && !rc; i++) {
        const EnvField *fd = &t->env->fields[i];
        hsize_t dims[2] = {(hsize_t)nenv, (hsize_t)fd->per_env};
        char name[96];
        snprintf(name, sizeof name, "env/%s", fd->name);
        rc = h5u_read(f, name, env_h5_type(fd->type), 2, dims, fd->data, W, err);
    }
    /* the environments' content follows the schedule position */
    for (int k = 0; k < 2 && !rc; k++)
        rc = trainer_ckpt_read_net(f, path, k == 0 ? "policy" : "value", t->be, t->net[k], t->noise[k], err);
    for (int r = 0; r < R && !rc; r++) {
        char name[48];
        snprintf(name, sizeof name, "metrics_hooks/run_%d", r);
        rc = metrics_store_load_hooks(t->store[r], f, name, path, err);
    }
    if (!rc) rc = trainer_plasticity_ckpt_load(t, f, err);
    H5Fclose(f);
    return rc;
}
