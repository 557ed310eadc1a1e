/* trainer_ckpt.c: the training checkpoint RUN.ckpt.h5, written to RUN.ckpt.h5.tmp and
 * renamed, so a crash at any moment leaves the previous checkpoint intact. It holds
 * everything a resumed run needs to continue bit-identically: both networks with their Adam
 * state and expert-noise streams (ckpt.c layout), every simulator state array, the shuffle,
 * routing-noise and action streams, the episode statistics, the faithful metrics hooks, the
 * iteration counters and the resolved configuration (/config attributes, as in the run file).
 *
 * Layout (all datasets have a leading run or environment axis):
 *   /config              attributes: every config key as a string
 *   /trainer             attributes iteration, global_step, content_idx, elapsed_s, version,
 *                        run_id, config_hash (the run's identity, as in the run file);
 *                        datasets of the RUN_STATE table (trainer.c): shuffle (R,4) u64,
 *                        action (R,2) u64, route_policy (R,2), route_value (R,2), lr (R) f32,
 *                        next_done (R*E) u8
 *   /episodes            sum (R*E,11) f64, steps (R*E) i32, hist (R,50,11) f64, count (R) i64
 *   /env/<field>         one dataset per simulator state array (env.h field table)
 *   /policy, /value      networks (ckpt.c: one dataset per tensor, PyTorch orientation)
 *   /metrics_hooks/run_<r>  the faithful hook storage of run r (metrics.h)
 *   /plasticity          with plasticity.method != none: policy_theta0, value_theta0 (R,P)
 *                        f32, the initial parameters (L2-init anchor, distance origin)
 * Every dataset carries a Fletcher-32 checksum. Resume trusts nothing it reads: shapes,
 * checksums, then every value against the configuration and the loaded data
 * (trainer_ckpt_check), before anything runs; each failure names the file and dataset. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "faults.h"
#include "h5util.h"
#include "trainer_state.h"

#define CKPT_VERSION 1

#define W "checkpoint" /* starts every h5util message */

static BufType env_buf_type(EnvType t) {
    switch (t) {
    case ENV_T_I32: return BT_I32;
    case ENV_T_F64: return BT_F64;
    case ENV_T_F32: return BT_F32;
    case ENV_T_U64: return BT_U64;
    case ENV_T_U8: return BT_U8;
    }
    return BT_U8;
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

static int create_group(hid_t f, const char *file, const char *name, hid_t *g, PmError *err) {
    *g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return *g < 0 ? pm_error(err, "checkpoint %s: cannot create group /%s (disk full?)", file, name) : 0;
}

static int write_config(hid_t f, const char *file, const TrainConfig *cfg, PmError *err) {
    hid_t g;
    if (create_group(f, file, "config", &g, err)) return -1;
    int rc = 0;
    char *val = xmalloc(CONFIG_VALUE_LEN);
    for (int i = 0; i < config_count() && !rc; i++) {
        config_value_str(cfg, i, val, CONFIG_VALUE_LEN);
        rc = h5u_attr_str(g, config_key(i), val, W, err);
    }
    free(val);
    H5Gclose(g);
    return rc;
}

static int write_counters(hid_t g, const Trainer *t, PmError *err) {
    int version = CKPT_VERSION;
    int64_t it = t->iteration, gs = t->global_step, ci = t->content_idx;
    char hash[TRAINER_HASH_LEN];
    trainer_config_hash(&t->cfg, hash);
    return h5u_attr_write(g, "version", H5T_NATIVE_INT, -1, &version, W, err) ||
           h5u_attr_write(g, "iteration", H5T_NATIVE_INT64, -1, &it, W, err) ||
           h5u_attr_write(g, "global_step", H5T_NATIVE_INT64, -1, &gs, W, err) ||
           h5u_attr_write(g, "content_idx", H5T_NATIVE_INT64, -1, &ci, W, err) ||
           h5u_attr_write(g, "elapsed_s", H5T_NATIVE_DOUBLE, -1, &t->elapsed_s, W, err) ||
           h5u_attr_str(g, "run_id", t->run_id, W, err) || h5u_attr_str(g, "config_hash", hash, W, err);
}

/* /env: one dataset (R E, per_env) per entry of the simulator's own field table */
static int env_fields(const Trainer *t, hid_t g, int write, PmError *err) {
    int rc = 0;
    for (int i = 0; i < t->env->n_fields && !rc; i++) {
        const EnvField *fd = &t->env->fields[i];
        hid_t type = buf_h5_type(env_buf_type(fd->type));
        hsize_t dims[2] = {(hsize_t)t->R * t->E, (hsize_t)fd->per_env};
        rc = write ? h5u_write(g, fd->name, type, 2, dims, fd->data, H5U_CHECKSUM, W, err)
                   : h5u_read(g, fd->name, type, 2, dims, fd->data, W, err);
    }
    return rc;
}

int trainer_ckpt_save(Trainer *t, PmError *err) {
    const char *file = t->ckpt_path;
    pm_fault_point("ckpt_open");
    hid_t f = h5u_create_tmp(file, H5P_DEFAULT, W, err);
    if (f < 0) return -1;
    hid_t g = -1;
    int rc = write_config(f, file, &t->cfg, err);
    if (!rc && !(rc = create_group(f, file, "trainer", &g, err))) {
        rc = write_counters(g, t, err) || buf_write(g, TRAINER_RUN_STATE, TRAINER_RUN_STATE_N, &t->run, &t->dims, err);
        H5Gclose(g);
    }
    if (!rc && !(rc = create_group(f, file, "episodes", &g, err))) {
        rc = buf_write(g, TRAINER_EPISODES, TRAINER_EPISODES_N, &t->episodes, &t->dims, err);
        H5Gclose(g);
    }
    if (!rc && !(rc = create_group(f, file, "env", &g, err))) {
        rc = env_fields(t, g, 1, err);
        H5Gclose(g);
    }
    pm_fault_point("ckpt_write");
    for (int k = 0; k < 2 && !rc; k++) {
        ParamBlock h = host_block(t->be, &t->net[k]->pb, 1);
        CkptMeta m = net_meta(t->net[k], t->noise[k]);
        rc = ckpt_write(f, file, k == 0 ? "policy" : "value", &h, &m, err);
        host_block_done(t->be, &t->net[k]->pb, &h, 0);
    }
    if (!rc && !(rc = create_group(f, file, "metrics_hooks", &g, err))) {
        for (int r = 0; r < t->R && !rc; r++) {
            char name[32];
            snprintf(name, sizeof name, "run_%d", r);
            rc = metrics_store_save_hooks(t->store[r], g, name, err);
        }
        H5Gclose(g);
    }
    if (!rc) rc = trainer_plasticity_ckpt_save(t, f, err);
    return h5u_commit(f, file, !rc, W, err);
}

/* attribute iterator: each /config attribute goes through config_set, so a file from
 * another version with an unknown key is reported by name; derived.* (run file) are skipped */
typedef struct {
    TrainConfig *cfg;
    PmError *err;
    const char *what, *file;
    int failed;
} AttrCtx;

static herr_t on_config_attr(hid_t loc, const char *name, const H5A_info_t *info, void *user) {
    (void)info;
    AttrCtx *ctx = user;
    if (!strncmp(name, "derived.", 8)) return 0;
    size_t cap = CONFIG_VALUE_LEN + 128;
    char *value = xmalloc(CONFIG_VALUE_LEN), *assign = xmalloc(cap);
    PmError e;
    int read_bad = h5u_attr_read_str(loc, name, value, CONFIG_VALUE_LEN, ctx->what, ctx->err), set_bad = 0;
    if (!read_bad) {
        snprintf(assign, cap, "%s=%s", name, value);
        set_bad = config_set(ctx->cfg, assign, &e);
    }
    free(value);
    free(assign);
    if (set_bad) pm_error(ctx->err, "%s %s: /config@%s: %s", ctx->what, ctx->file, name, e.msg);
    if (read_bad || set_bad) {
        ctx->failed = 1;
        return -1;
    }
    return 0;
}

hid_t trainer_ckpt_open(const char *path, PmError *err) {
    hid_t f = h5u_open(path, H5F_ACC_RDONLY, H5P_DEFAULT, W, err);
    if (f == H5U_MISSING) pm_error(err, "no checkpoint %s (train a run with --out RUN.h5; its checkpoint is RUN.ckpt.h5)", path);
    return f < 0 ? -1 : f;
}

int trainer_read_identity(hid_t f, const char *what, const char *file, hid_t id_loc, RunIdentity *id, PmError *err) {
    memset(id, 0, sizeof *id);
    config_defaults(&id->cfg);
    AttrCtx ctx = {&id->cfg, err, what, file, 0};
    if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) return pm_error(err, "%s %s: missing group /config", what, file);
    hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
    hsize_t idx = 0;
    int rc = 0;
    if (g < 0 || (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, on_config_attr, &ctx) < 0 && !ctx.failed))
        rc = pm_error(err, "%s %s: cannot read /config (corrupt file?)", what, file);
    if (ctx.failed) rc = -1;
    if (g >= 0) H5Gclose(g);
    if (rc) return -1;
    if (config_finalize(&id->cfg, err)) return -1;
    trainer_config_hash(&id->cfg, id->hash);
    /* files written before run identities existed have none; the configuration still counts */
    if (H5Aexists(id_loc, "run_id") > 0) {
        char stored[64];
        if (h5u_attr_read_str(id_loc, "run_id", id->run_id, sizeof id->run_id, what, err) ||
            h5u_attr_read_str(id_loc, "config_hash", stored, sizeof stored, what, err))
            return -1;
        if (strcmp(stored, id->hash))
            return pm_error(err, "%s %s: config_hash %s does not match its /config (hash %s): the file was edited or is corrupt",
                            what, file, stored, id->hash);
    }
    return 0;
}

int trainer_ckpt_read_identity(const char *path, RunIdentity *id, PmError *err) {
    hid_t f = trainer_ckpt_open(path, err);
    if (f < 0) return -1;
    hid_t g = H5Lexists(f, "trainer", H5P_DEFAULT) > 0 ? H5Gopen2(f, "trainer", H5P_DEFAULT) : -1;
    int rc = g < 0 ? pm_error(err, "checkpoint %s: missing group /trainer", path)
                   : trainer_read_identity(f, W, path, g, id, err);
    int64_t it = 0;
    if (!rc) rc = h5u_attr_read(g, "iteration", H5T_NATIVE_INT64, -1, &it, W, err);
    id->iteration = it;
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

/* The values a resumed run continues from, against the configuration and the loaded data. */
static int check_counters(const Trainer *t, const char *path, int64_t it, int64_t gs, int64_t ci, PmError *err) {
    if (it < 0 || it > t->n_iterations)
        return pm_error(err, "checkpoint %s: /trainer@iteration is %lld, the run has %ld iterations", path, (long long)it,
                        t->n_iterations);
    int64_t per_iter = (int64_t)t->T * t->E;
    if (gs != it * per_iter)
        return pm_error(err, "checkpoint %s: /trainer@global_step is %lld, expected %lld after %lld iterations", path,
                        (long long)gs, (long long)(it * per_iter), (long long)it);
    if (ci != trainer_content_index(t, it))
        return pm_error(err, "checkpoint %s: /trainer@content_idx is %lld, expected %d after %lld iterations", path,
                        (long long)ci, trainer_content_index(t, it), (long long)it);
    if (!(t->elapsed_s >= 0) || !isfinite(t->elapsed_s))
        return pm_error(err, "checkpoint %s: /trainer@elapsed_s is %g", path, t->elapsed_s);
    return 0;
}

static int check_streams(const Trainer *t, const char *path, int64_t it, PmError *err) {
    for (int r = 0; r < t->R; r++) {
        float lr = trainer_lr_at(t, r, it);
        if (memcmp(&lr, &t->run.lr[r], sizeof lr))
            return pm_error(err, "checkpoint %s: dataset /trainer/lr: run %d has %g, the configuration gives %g after %lld iterations",
                            path, r, t->run.lr[r], lr, (long long)it);
        const Rng *sh = &t->run.shuffle[r];
        if (!(sh->s[0] | sh->s[1] | sh->s[2] | sh->s[3]))
            return pm_error(err, "checkpoint %s: dataset /trainer/shuffle: run %d is the all-zero state", path, r);
        const PrandStream *ps[3] = {&t->run.action[r], &t->run.route[0][r], &t->run.route[1][r]};
        const char *names[3] = {"action", "route_policy", "route_value"};
        uint64_t keys[3] = {trainer_action_key(t, r), trainer_route_key(t, 0, r), trainer_route_key(t, 1, r)};
        for (int k = 0; k < 3; k++)
            if (ps[k]->seed != keys[k] || ps[k]->offset % 2)
                return pm_error(err, "checkpoint %s: dataset /trainer/%s: run %d is not a stream of seed %lld", path,
                                names[k], r, (long long)t->cfg.seed[r]);
        for (int k = 0; k < 2; k++) {
            const NoiseState *ns = t->noise[k];
            if (!ns) continue;
            if (ns->streams[r].seed != trainer_noise_key(t, k, r) || ns->streams[r].offset % 2 ||
                ns->sigma[r] != (float)t->cfg.noise_std[r] || ns->lr_ref[r] != (float)t->cfg.learning_rate[r] ||
                ns->calls < 0)
                return pm_error(err, "checkpoint %s: /%s@noise_*: run %d's expert noise does not belong to this configuration",
                                path, k == 0 ? "policy" : "value", r);
        }
    }
    return 0;
}

static int check_env(const Trainer *t, const char *path, PmError *err) {
    PmError e;
    if (env_check_state(t->env, &e)) return pm_error(err, "checkpoint %s: dataset /env/%s", path, e.msg);
    EnvContent want = trainer_schedule_content(t, t->content_idx);
    for (int i = 0; i < t->env->n; i++)
        if (t->env->content[i] != (int32_t)want)
            return pm_error(err, "checkpoint %s: dataset /env/content: element %d is %d, the schedule gives %d (%s)", path, i,
                            t->env->content[i], (int)want, env_content_name(want));
    /* every finished episode took at least one of the run's steps: a larger count would make
     * the episode metrics average an unfilled history as if it were full */
    for (int r = 0; r < t->R; r++)
        if (t->episodes.episodes[r] > t->global_step)
            return pm_error(err, "checkpoint %s: dataset /episodes/count: element %d is %ld, more episodes than the %ld steps so far",
                            path, r, t->episodes.episodes[r], t->global_step);
    for (int i = 0; i < t->env->n; i++)
        if (t->episodes.steps[i] > ABR_CHUNKS)
            return pm_error(err, "checkpoint %s: dataset /episodes/steps: element %d is %d, an episode has %d steps", path,
                            i, t->episodes.steps[i], ABR_CHUNKS);
    return 0;
}

/* Parameters and Adam moments finite (second moments >= 0), step counts >= 0: a value that
 * passed its checksum but is not a state training can continue from names its tensor. */
static int check_nets(const Trainer *t, const char *path, PmError *err) {
    for (int k = 0; k < 2; k++) {
        ParamBlock *pb = &t->net[k]->pb;
        ParamBlock h = host_block(t->be, pb, 1);
        const float *arrays[3] = {h.params, h.adam_m, h.adam_v};
        const char *prefix[3] = {"", "adam_m/", "adam_v/"};
        int rc = 0;
        for (int a = 0; a < 3 && !rc; a++)
            for (size_t i = 0; i < (size_t)pb->R * pb->P && !rc; i++) {
                float v = arrays[a][i];
                if (isfinite(v) && (a < 2 || v >= 0)) continue;
                long j = (long)(i % (size_t)pb->P);
                int ti = 0;
                while (ti + 1 < pb->n_tensors && pb->tensors[ti + 1].offset <= j) ti++;
                rc = pm_error(err, "checkpoint %s: dataset /%s/%s%s: run %d holds %g", path, k == 0 ? "policy" : "value",
                              prefix[a], pb->tensors[ti].name, (int)(i / (size_t)pb->P), v);
            }
        for (int i = 0; i < pb->R * pb->n_tensors && !rc; i++)
            if (pb->h_adam_step[i] < 0)
                rc = pm_error(err, "checkpoint %s: dataset /%s/adam_step: element %d is negative", path,
                              k == 0 ? "policy" : "value", i);
        host_block_done(t->be, pb, &h, 0);
        if (rc) return -1;
    }
    return 0;
}

static int read_group_table(hid_t f, const char *path, const char *group, const BufSpec *tab, int n, void *base,
                            const BufDims *d, PmError *err) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) return pm_error(err, "checkpoint %s: missing group /%s", path, group);
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return pm_error(err, "checkpoint %s: cannot open group /%s (corrupt file?)", path, group);
    int rc = buf_read(g, path, tab, n, base, d, err);
    H5Gclose(g);
    return rc;
}

int trainer_ckpt_load(Trainer *t, const char *path, PmError *err) {
    hid_t f = trainer_ckpt_open(path, err);
    if (f < 0) return -1;
    int rc = 0, version = 0;
    int64_t it = 0, gs = 0, ci = 0;
    hid_t g = H5Lexists(f, "trainer", H5P_DEFAULT) > 0 ? H5Gopen2(f, "trainer", H5P_DEFAULT) : -1;
    if (g < 0) { H5Fclose(f); return pm_error(err, "checkpoint %s: missing group /trainer", path); }
    rc = h5u_attr_read(g, "version", H5T_NATIVE_INT, -1, &version, W, err);
    if (!rc && version != CKPT_VERSION) rc = pm_error(err, "checkpoint %s: format version %d, this pamoe reads %d", path, version, CKPT_VERSION);
    if (!rc) rc = h5u_attr_read(g, "iteration", H5T_NATIVE_INT64, -1, &it, W, err);
    if (!rc) rc = h5u_attr_read(g, "global_step", H5T_NATIVE_INT64, -1, &gs, W, err);
    if (!rc) rc = h5u_attr_read(g, "content_idx", H5T_NATIVE_INT64, -1, &ci, W, err);
    if (!rc) rc = h5u_attr_read(g, "elapsed_s", H5T_NATIVE_DOUBLE, -1, &t->elapsed_s, W, err);
    H5Gclose(g);
    if (!rc) rc = read_group_table(f, path, "trainer", TRAINER_RUN_STATE, TRAINER_RUN_STATE_N, &t->run, &t->dims, err);
    if (!rc) rc = read_group_table(f, path, "episodes", TRAINER_EPISODES, TRAINER_EPISODES_N, &t->episodes, &t->dims, err);
    if (!rc) {
        g = H5Lexists(f, "env", H5P_DEFAULT) > 0 ? H5Gopen2(f, "env", H5P_DEFAULT) : -1;
        rc = g < 0 ? pm_error(err, "checkpoint %s: missing group /env", path) : env_fields(t, g, 0, err);
        if (g >= 0) H5Gclose(g);
    }
    for (int k = 0; k < 2 && !rc; k++)
        rc = trainer_ckpt_read_net(f, path, k == 0 ? "policy" : "value", t->be, t->net[k], t->noise[k], err);
    for (int r = 0; r < t->R && !rc; r++) {
        char name[48];
        snprintf(name, sizeof name, "metrics_hooks/run_%d", r);
        rc = metrics_store_load_hooks(t->store[r], f, name, path, err);
    }
    if (!rc) rc = trainer_plasticity_ckpt_load(t, f, path, err);
    H5Fclose(f);
    if (!rc) rc = check_counters(t, path, it, gs, ci, err);
    if (rc) return -1;
    t->iteration = it;
    t->global_step = gs;
    t->content_idx = (int)ci;
    return check_streams(t, path, it, err) || check_env(t, path, err) || check_nets(t, path, err) ? -1 : 0;
}

int trainer_ckpt_read_config(const char *path, TrainConfig *cfg, PmError *err) {
    RunIdentity *id = xcalloc(1, sizeof *id);
    int rc = trainer_ckpt_read_identity(path, id, err);
    if (!rc) *cfg = id->cfg;
    free(id);
    return rc;
}
