/* trainer_plasticity.c: where the plasticity methods (plasticity.h) meet the PPO loop, their
 * metrics and the checkpoint. Off (plasticity.method = none) nothing here runs, allocates or
 * registers, so faithful runs are unchanged bit for bit.
 *
 * When each method acts (i = 1-based iteration number, also the fresh-initialisation event):
 *  - redo: when i % redo_every == 0, after the rollout's statistics and before the update,
 *    on activations of that rollout (a probe forward, below), on both networks;
 *  - shrink_perturb: after the update of i, when i % sp_every == 0 (sp_at = every) or when a
 *    content switch follows (sp_at = switch);
 *  - reset: after the update that a content switch follows;
 *  - l2_init: every minibatch, grad += 2c(theta - theta_0) between the backward and Adam.
 *
 * Probe forward: the rollout's observations (already in d_obs) go through the network in
 * chunks of its max_B samples with routing noise eps = 0 (no stream is consumed, so measuring
 * changes nothing else), and each expert's h1/h2 rows of the samples routed to it are kept
 * (all rows for mlp and moe). ReDo's scores are the Dorman metric's (metrics_neuron_scores)
 * on these rows; the before/after statistics (dormant percent at metrics.redo_tau, mean
 * effective rank over expert layers) are taken on them before and after the intervention. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "plasticity.h"
#include "trainer_state.h"

#define W "checkpoint"

static const char *net_name(int k) { return k == 0 ? "policy" : "value"; }

int trainer_plasticity_on(const Trainer *t) { return t->plast_method != PLAST_NONE; }

/* The configuration's choices as the module's settings: switches without `default:`, so a
 * choice added to config.h fails to compile (-Wswitch) until it is handled here. */
static PlastMethod method_of(CfgPlastMethod m) {
    switch (m) {
    case CFG_PLAST_NONE: return PLAST_NONE;
    case CFG_PLAST_REDO: return PLAST_REDO;
    case CFG_PLAST_SHRINK_PERTURB: return PLAST_SHRINK_PERTURB;
    case CFG_PLAST_RESET: return PLAST_RESET;
    case CFG_PLAST_L2_INIT: return PLAST_L2_INIT;
    }
    return PLAST_NONE;
}
static PlastPart part_of(CfgResetPart p) {
    switch (p) {
    case CFG_RESET_HEAD: return PLAST_PART_HEAD;
    case CFG_RESET_LAST_HIDDEN: return PLAST_PART_LAST_HIDDEN;
    case CFG_RESET_EXPERTS: return PLAST_PART_EXPERTS;
    case CFG_RESET_ALL: return PLAST_PART_ALL;
    }
    return PLAST_PART_HEAD;
}
static int noise_on_grads(CfgNoiseTarget n) {
    switch (n) {
    case CFG_NOISE_TARGET_PARAMS: return 0;
    case CFG_NOISE_TARGET_GRADS: return 1;
    }
    return 0;
}
static int sp_at_switch(CfgSpAt a) {
    switch (a) {
    case CFG_SP_AT_EVERY: return 0;
    case CFG_SP_AT_SWITCH: return 1;
    }
    return 1;
}

void trainer_plasticity_setup(Trainer *t) {
    t->plast_method = method_of(t->cfg.plast_method);
    t->noise_on_grads = noise_on_grads(t->cfg.noise_target);
    if (!trainer_plasticity_on(t)) return;
    Backend *be = t->be;
    int Bp = 0, X = 0;
    for (int k = 0; k < 2; k++) {
        t->plast[k] = plast_net_create(t->net[k]);
        if (t->net[k]->max_B > Bp) Bp = t->net[k]->max_B;
        if (t->X[k] > X) X = t->X[k];
    }
    if (Bp > t->N) Bp = t->N;
    t->plast_B = Bp;
    t->plast_dx = be->ops->alloc(be, (size_t)t->R * Bp * ABR_OBS_DIM * sizeof(float));
    t->plast_didx = be->ops->alloc(be, (size_t)t->R * Bp * sizeof(int32_t));
    t->plast_deps = X ? be->ops->alloc(be, (size_t)t->R * Bp * X * sizeof(float)) : NULL; /* zeros */
    t->plast_hidx = xcalloc((size_t)t->R * Bp, sizeof(int32_t));
    int Emax = t->net[0]->E > t->net[1]->E ? t->net[0]->E : t->net[1]->E;
    t->plast_act = xcalloc((size_t)t->R * Emax * 2 * t->N * t->cfg.hidden, sizeof(float));
    t->plast_cnt = xcalloc((size_t)t->R * Emax * 2, sizeof(int));
    t->plast_dormant = xcalloc((size_t)t->R * Emax * 2 * t->cfg.hidden, 1);
}

void trainer_plasticity_free(Trainer *t) {
    for (int k = 0; k < 2; k++) plast_net_free(t->plast[k]);
    if (t->be) {
        t->be->ops->release(t->be, t->plast_dx);
        t->be->ops->release(t->be, t->plast_didx);
        t->be->ops->release(t->be, t->plast_deps);
    }
    free(t->plast_hidx);
    free(t->plast_act);
    free(t->plast_cnt);
    free(t->plast_dormant);
}

/* Activations of net k over the rollout: plast_act block (r, e, layer) holds plast_cnt rows. */
static void probe(Trainer *t, int k) {
    Backend *be = t->be;
    Net *n = t->net[k];
    int R = t->R, N = t->N, E = n->E, H = t->cfg.hidden, Bp = n->max_B < t->plast_B ? n->max_B : t->plast_B;
    memset(t->plast_cnt, 0, (size_t)R * E * 2 * sizeof(int));
    for (int start = 0; start < N; start += Bp) {
        int B = N - start < Bp ? N - start : Bp;
        for (int r = 0; r < R; r++)
            for (int b = 0; b < B; b++) t->plast_hidx[(size_t)r * B + b] = start + b;
        be->ops->upload(be, t->plast_didx, t->plast_hidx, (size_t)R * B * sizeof(int32_t));
        be->ops->gather_rows(be, t->plast_dx, t->ro.d_obs, t->plast_didx, R, B, N, ABR_OBS_DIM);
        net_forward(n, t->plast_dx, B, t->X[k] ? t->plast_deps : NULL);
        for (int r = 0; r < R; r++)
            for (int e = 0; e < E; e++)
                for (int layer = 0; layer < 2; layer++) {
                    size_t key = (size_t)(r * E + e) * 2 + layer;
                    float *dst = t->plast_act + (key * N + t->plast_cnt[key]) * H;
                    t->plast_cnt[key] += net_routed_rows(n, r, e, layer, dst);
                }
    }
}

/* Dormant percent (at metrics.redo_tau) and mean effective rank of net k's probe, run r. */
static void probe_stats(Trainer *t, int k, int r, double *dormant_pct, double *eff_rank) {
    const Net *n = t->net[k];
    int E = n->E, H = t->cfg.hidden, N = t->N;
    long units = 0, dormant = 0;
    double eff = 0;
    int layers = 0;
    for (int e = 0; e < E; e++)
        for (int layer = 0; layer < 2; layer++) {
            size_t key = (size_t)(r * E + e) * 2 + layer;
            int rows = t->plast_cnt[key];
            if (rows < 1) continue;
            const float *x = t->plast_act + key * N * H;
            MetricsDormant md;
            if (!metrics_dormant(x, rows, H, t->cfg.redo_tau, &md, NULL)) {
                units += md.n_neurons;
                dormant += md.dormant_count;
            }
            MetricsRanks rk;
            PmError err;
            if (!metrics_ranks(x, rows, H, METRICS_SVD_SGESDD, METRICS_RANK_EXACT, &rk, &err)) {
                eff += rk.eff_rank;
                layers++;
            }
        }
    *dormant_pct = units ? 100.0 * (double)dormant / (double)units : NAN;
    *eff_rank = layers ? eff / layers : NAN;
}

static void set(Trainer *t, int r, double v, const char *fmt, int k, const char *what) {
    char name[160];
    snprintf(name, sizeof name, fmt, net_name(k), what);
    h5metrics_set_by_name(t->h5, name, r, v);
}

static void before_stats(Trainer *t, int k) {
    probe(t, k);
    for (int r = 0; r < t->R; r++) {
        double d, e;
        probe_stats(t, k, r, &d, &e);
        set(t, r, d, "Plasticity/%s/%s", k, "dormant_before");
        set(t, r, e, "Plasticity/%s/%s", k, "eff_rank_before");
    }
}

static void after_stats(Trainer *t, int k) {
    probe(t, k);
    for (int r = 0; r < t->R; r++) {
        double d, e;
        probe_stats(t, k, r, &d, &e);
        set(t, r, d, "Plasticity/%s/%s", k, "dormant_after");
        set(t, r, e, "Plasticity/%s/%s", k, "eff_rank_after");
    }
}

static void fresh_seeds(const Trainer *t, long event, uint64_t *out) {
    for (int r = 0; r < t->R; r++) out[r] = plast_fresh_seed(t->seeds[r], (uint64_t)event);
}

void trainer_plasticity_before_update(Trainer *t) {
    if (!trainer_plasticity_on(t)) return;
    long i = t->iteration + 1;
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < t->R; r++) {
            set(t, r, 0, "Plasticity/%s/%s", k, "units_recycled");
            set(t, r, 0, "Plasticity/%s/%s", k, "params_changed");
        }
    if (t->plast_method != PLAST_REDO || i % t->cfg.redo_every) return;
    uint64_t seeds[t->R];
    long recycled[t->R], written[t->R];
    fresh_seeds(t, i, seeds);
    for (int k = 0; k < 2; k++) {
        Net *n = t->net[k];
        int E = n->E, H = t->cfg.hidden, N = t->N;
        before_stats(t, k);
        for (int r = 0; r < t->R; r++)
            for (int e = 0; e < E; e++)
                for (int layer = 0; layer < 2; layer++) {
                    size_t key = (size_t)(r * E + e) * 2 + layer;
                    plast_redo_select(t->plast_act + key * N * H, t->plast_cnt[key], H, t->cfg.plast_redo_tau,
                                      t->plast_dormant + key * H);
                }
        plast_redo(t->plast[k], seeds, t->plast_dormant, recycled, written);
        for (int r = 0; r < t->R; r++) {
            set(t, r, (double)recycled[r], "Plasticity/%s/%s", k, "units_recycled");
            set(t, r, (double)written[r], "Plasticity/%s/%s", k, "params_changed");
        }
        after_stats(t, k);
    }
}

void trainer_plasticity_grads(Trainer *t) {
    if (t->plast_method != PLAST_L2_INIT) return;
    for (int k = 0; k < 2; k++) plast_l2_init_grad(t->plast[k], (float)t->cfg.l2_init_coef);
}

void trainer_plasticity_after_update(Trainer *t, int switch_follows) {
    if (!trainer_plasticity_on(t)) return;
    long i = t->iteration; /* the update of iteration i is done */
    int sp = t->plast_method == PLAST_SHRINK_PERTURB &&
             (sp_at_switch(t->cfg.sp_at) ? switch_follows : i % t->cfg.sp_every == 0);
    int reset = t->plast_method == PLAST_RESET && switch_follows;
    if (!sp && !reset) return;
    uint64_t seeds[t->R];
    fresh_seeds(t, i, seeds);
    for (int k = 0; k < 2; k++) {
        before_stats(t, k);
        long w = sp ? plast_shrink_perturb(t->plast[k], seeds, (float)t->cfg.sp_alpha, (float)t->cfg.sp_sigma)
                    : plast_reset(t->plast[k], seeds, part_of(t->cfg.reset_part), t->cfg.reset_adam);
        for (int r = 0; r < t->R; r++) set(t, r, (double)w, "Plasticity/%s/%s", k, "params_changed");
        after_stats(t, k);
    }
}

/* The layer of tensor t: its name without ".weight" / ".bias". */
static void layer_name(const ParamTensor *pt, char *buf, size_t n) {
    snprintf(buf, n, "%s", pt->name);
    char *dot = strrchr(buf, '.');
    if (dot && (!strcmp(dot, ".weight") || !strcmp(dot, ".bias"))) *dot = 0;
}

void trainer_plasticity_metrics(Trainer *t) {
    if (!trainer_plasticity_on(t)) return;
    Backend *be = t->be;
    for (int k = 0; k < 2; k++) {
        const ParamBlock *pb = &t->net[k]->pb;
        be->ops->download(be, t->ms.params, pb->params, (size_t)t->R * pb->P * sizeof(float));
        double sq[(size_t)t->R * pb->n_tensors];
        plast_dist_sq(t->plast[k], t->ms.params, sq);
        for (int r = 0; r < t->R; r++) {
            double total = 0, layer = 0;
            char name[PARAMS_NAME_LEN], next[PARAMS_NAME_LEN];
            for (int ti = 0; ti < pb->n_tensors; ti++) {
                total += sq[(size_t)r * pb->n_tensors + ti];
                layer += sq[(size_t)r * pb->n_tensors + ti];
                layer_name(&pb->tensors[ti], name, sizeof name);
                if (ti + 1 < pb->n_tensors) layer_name(&pb->tensors[ti + 1], next, sizeof next);
                if (ti + 1 == pb->n_tensors || strcmp(name, next)) {
                    char m[200];
                    snprintf(m, sizeof m, "Plasticity/%s/dist_init/%s", net_name(k), name);
                    h5metrics_set_by_name(t->h5, m, r, sqrt(layer));
                    layer = 0;
                }
            }
            set(t, r, sqrt(total), "Plasticity/%s/%s", k, "dist_init_total");
            set(t, r, t->plast_method == PLAST_L2_INIT ? t->cfg.l2_init_coef * total : NAN, "Plasticity/%s/%s", k,
                "l2_init_penalty");
        }
    }
}

int trainer_plasticity_register(Trainer *t, PmError *err) {
    if (!trainer_plasticity_on(t)) return 0;
    static const struct { const char *what, *units, *desc; } per_net[] = {
        {"units_recycled", "units", "hidden units ReDo recycled this iteration (expert layers h1 and h2, every expert)"},
        {"params_changed", "parameters", "parameters written this iteration by ReDo, shrink-and-perturb or reset"},
        {"l2_init_penalty", "1", "l2_init_coef * ||theta - theta_0||^2 after the update (l2_init only, else NaN)"},
        {"dist_init_total", "1", "||theta - theta_0|| over the whole network after the update"},
        {"dormant_before", "%", "dormant units (score <= metrics.redo_tau) of the probe forward before an intervention, NaN when none"},
        {"dormant_after", "%", "the same right after the intervention, NaN when none"},
        {"eff_rank_before", "1", "mean effective rank of the expert layers' probe activations before an intervention, NaN when none"},
        {"eff_rank_after", "1", "the same right after the intervention, NaN when none"},
    };
    char name[200];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < PM_ARRAY_LEN(per_net); i++) {
            snprintf(name, sizeof name, "Plasticity/%s/%s", net_name(k), per_net[i].what);
            if (h5metrics_register(t->h5, name, per_net[i].units, per_net[i].desc, err) < 0) return -1;
        }
        const ParamBlock *pb = &t->net[k]->pb;
        char layer[PARAMS_NAME_LEN], prev[PARAMS_NAME_LEN] = "";
        for (int ti = 0; ti < pb->n_tensors; ti++) {
            layer_name(&pb->tensors[ti], layer, sizeof layer);
            if (!strcmp(layer, prev)) continue;
            snprintf(prev, sizeof prev, "%s", layer);
            snprintf(name, sizeof name, "Plasticity/%s/dist_init/%s", net_name(k), layer);
            if (h5metrics_register(t->h5, name, "1", "||theta - theta_0|| of the layer (weight and bias) after the update", err) < 0)
                return -1;
        }
    }
    return 0;
}

int trainer_plasticity_ckpt_save(Trainer *t, hid_t f, PmError *err) {
    if (!trainer_plasticity_on(t)) return 0;
    hid_t g = H5Gcreate2(f, "plasticity", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        hsize_t dims[2] = {(hsize_t)t->R, (hsize_t)t->net[k]->pb.P};
        char name[32];
        snprintf(name, sizeof name, "%s_theta0", net_name(k));
        rc = h5u_write(g, name, H5T_NATIVE_FLOAT, 2, dims, t->plast[k]->h_theta0, H5U_CHECKSUM | H5U_NO_TIMES, W, err);
    }
    H5Gclose(g);
    return rc;
}

/* theta_0 is the initialisation from the run seeds, which setup computed again: the
 * checkpoint's copy must be the same bytes, or the file belongs to other seeds or is damaged. */
int trainer_plasticity_ckpt_load(Trainer *t, hid_t f, const char *path, PmError *err) {
    if (!trainer_plasticity_on(t)) return 0;
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        const ParamBlock *pb = &t->net[k]->pb;
        size_t nf = (size_t)t->R * pb->P;
        hsize_t dims[2] = {(hsize_t)t->R, (hsize_t)pb->P};
        char name[48];
        snprintf(name, sizeof name, "plasticity/%s_theta0", net_name(k));
        float *h = xcalloc(nf, sizeof(float));
        rc = h5u_read(f, name, H5T_NATIVE_FLOAT, 2, dims, h, W, err);
        if (!rc && memcmp(h, t->plast[k]->h_theta0, nf * sizeof(float)))
            rc = pm_error(err, "checkpoint %s: /%s is not the initialisation of the run seeds", path, name);
        if (!rc) plast_net_set_theta0(t->plast[k], h);
        free(h);
    }
    return rc;
}
