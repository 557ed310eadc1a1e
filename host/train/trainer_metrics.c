/* trainer_metrics.c: what the trainer measures each iteration and where it goes: the
 * activation store of metrics.md 1 (faithful stale rows or routed rows only), dormant
 * ratios, ranks, router usage, weight magnitudes, losses and episode QoE, appended to
 * /metrics of the run file (h5metrics.c) once per iteration. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "train_choices.h"
#include "trainer_state.h"


static void set_metric(Trainer *t, int r, double v, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_metric(Trainer *t, int r, double v, const char *fmt, ...) {
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int id = h5metrics_find(t->h5, name);
    if (id >= 0) h5metrics_set(t->h5, id, r, v);
}

int trainer_metrics_open(Trainer *t, int resume, PmError *err) {
    const Net *p = t->net[0], *v = t->net[1];
    MetricsCatalogSpec spec = {0};
    spec.experts[METRICS_POLICY] = p->cfg.kind == NET_MLP ? 0 : p->E;
    spec.experts[METRICS_VALUE] = v->cfg.kind == NET_MLP ? 0 : v->E;
    spec.tau = t->cfg.redo_tau;
    t->n_metric_names = metrics_catalog(&spec, &t->metric_names);
    t->h5 = resume ? h5metrics_open(t->run_path, t->R, err) : h5metrics_create(t->run_path, t->R, err);
    if (!t->h5) return -1;
    for (int i = 0; i < t->n_metric_names; i++)
        if (h5metrics_register(t->h5, t->metric_names[i].name, t->metric_names[i].units,
                               t->metric_names[i].description, err) < 0)
            return -1;
    if (!resume) {
        char hash[TRAINER_HASH_LEN];
        trainer_config_hash(&t->cfg, hash);
        if (h5metrics_attr_str(t->h5, "run_id", t->run_id, err) || h5metrics_attr_str(t->h5, "config_hash", hash, err))
            return -1;
        for (int i = 0; i < config_count(); i++) {
            char *val = xmalloc(CONFIG_VALUE_LEN);
            config_value_str(&t->cfg, i, val, CONFIG_VALUE_LEN);
            int bad = h5metrics_config_str(t->h5, config_key(i), val, err);
            free(val);
            if (bad) return -1;
        }
        if (h5metrics_config_int(t->h5, "derived.iterations", t->n_iterations, err) ||
            h5metrics_config_int(t->h5, "derived.minibatch_size", t->mb, err) ||
            h5metrics_config_int(t->h5, "derived.policy_params", t->net[0]->pb.P, err) ||
            h5metrics_config_int(t->h5, "derived.value_params", t->net[1]->pb.P, err) ||
            h5metrics_config_str(t->h5, "derived.backend", t->be->ops->name, err))
            return -1;
    } else if (h5metrics_truncate(t->h5, t->iteration, err)) {
        return -1;
    }
    if (h5metrics_start(t->h5, err)) return -1;
    return 0;
}

void trainer_metrics_observe(Trainer *t, int k, int B, int rollout) {
    Net *n = t->net[k];
    MetricsNet mn = k == 0 ? METRICS_POLICY : METRICS_VALUE;
    int faithful = train_metrics_rows_faithful(t->cfg.metrics_rows);
    int sparse = net_kind_is_sparse(n->cfg.kind);
    if (!rollout && !(sparse && faithful)) return; /* update forwards only feed the hooks */
    if (n->cfg.kind != NET_MLP && rollout)
        t->be->ops->download(t->be, t->ms.gate, n->gate, (size_t)t->R * B * n->E * sizeof(float));
    for (int r = 0; r < t->R; r++) {
        MetricsStore *s = t->store[r];
        for (int e = 0; e < n->E; e++)
            for (int layer = 0; layer < 2; layer++) {
                int rows;
                /* in place where the net has them (CPU grouped form): one copy, not two */
                const float *h = net_routed_rows_ref(n, r, e, layer, &rows);
                if (rows < 0) {
                    rows = net_routed_rows(n, r, e, layer, t->ms.rows);
                    h = t->ms.rows;
                }
                if (sparse && faithful) {
                    /* the reference's forward hook keeps the last call in which e ran */
                    if (rows > 0) metrics_store_hook(s, mn, e, layer, h, rows);
                } else if (rows > 0) {
                    metrics_store_append(s, mn, e, layer, h, rows);
                }
            }
        if (!rollout) continue;
        if (sparse && faithful) metrics_store_commit_step(s, mn);
        if (n->cfg.kind != NET_MLP) metrics_store_append_router(s, mn, t->ms.gate + (size_t)r * B * n->E, B);
    }
}

/* Equal to T per-step observe(t, k, B, 1) calls: the routed rows of a whole-rollout forward
 * are in sample order (stable by expert), so expert e's rows of step s follow those of steps
 * < s. Appends are per key and in order, so they go in at once; the reference's faithful hooks
 * keep per step the last rows of each expert, committed every step (stale rows included). */
void trainer_metrics_observe_steps(Trainer *t, int k, int T, int B) {
    Net *n = t->net[k];
    MetricsNet mn = k == 0 ? METRICS_POLICY : METRICS_VALUE;
    int hooks = net_kind_is_sparse(n->cfg.kind) && train_metrics_rows_faithful(t->cfg.metrics_rows);
    int N = T * B, E = n->E, H = t->cfg.hidden;
    if (n->cfg.kind != NET_MLP) t->be->ops->download(t->be, t->ms.gate, n->gate, (size_t)t->R * N * E * sizeof(float));
    if (hooks) t->be->ops->download(t->be, t->ms.choice, n->choice, (size_t)t->R * N * sizeof(int32_t));
    for (int r = 0; r < t->R; r++) {
        MetricsStore *s = t->store[r];
        float *rows[NET_MAX_EXPERTS][2];
        for (int e = 0; e < E; e++)
            for (int layer = 0; layer < 2; layer++) {
                rows[e][layer] = t->ms.rows + (size_t)(2 * e + layer) * N * H;
                int c = net_routed_rows(n, r, e, layer, rows[e][layer]);
                if (!hooks && c > 0) metrics_store_append(s, mn, e, layer, rows[e][layer], c);
            }
        if (hooks) {
            const int32_t *ch = t->ms.choice + (size_t)r * N;
            int used[NET_MAX_EXPERTS] = {0}, seen = 0, step = 0;
            /* per step until every expert has run once in this rollout (before that, commits
             * append hooks this function cannot read: the update's) */
            for (; step < T && seen < E; step++) {
                int c[NET_MAX_EXPERTS] = {0};
                for (int b = 0; b < B; b++) c[ch[step * B + b]]++;
                for (int e = 0; e < E; e++) {
                    if (!c[e]) continue;
                    seen += !used[e];
                    for (int layer = 0; layer < 2; layer++)
                        metrics_store_hook(s, mn, e, layer, rows[e][layer] + (size_t)used[e] * H, c[e]);
                    used[e] += c[e];
                }
                metrics_store_commit_step(s, mn);
            }
            /* then each key's remaining commits at once: at every step the rows of the last
             * step <= it in which the expert ran; the hook ends as those of its last step */
            for (int e = 0; e < E && step < T; e++)
                for (int layer = 0; layer < 2; layer++) {
                    int u = used[e], last = 0, n_rows = 0;
                    for (int b = 0; b < B; b++) last += ch[(step - 1) * B + b] == e;
                    /* `last` = rows of e's latest step so far, which end at u */
                    for (int st = step - 2; !last && st >= 0; st--)
                        for (int b = 0; b < B; b++) last += ch[st * B + b] == e;
                    for (int st = step; st < T; st++) {
                        int c = 0;
                        for (int b = 0; b < B; b++) c += ch[st * B + b] == e;
                        if (c) {
                            u += c;
                            last = c;
                        }
                        /* a few floats a step: a loop, not a libc call per step */
                        float *dst = t->ms.bulk + (size_t)n_rows * H;
                        const float *src = rows[e][layer] + (size_t)(u - last) * H;
                        for (int j = 0; j < last * H; j++) dst[j] = src[j];
                        n_rows += last;
                    }
                    metrics_store_append(s, mn, e, layer, t->ms.bulk, n_rows);
                    metrics_store_hook(s, mn, e, layer, rows[e][layer] + (size_t)(u - last) * H, last);
                }
        }
        if (n->cfg.kind != NET_MLP) metrics_store_append_router(s, mn, t->ms.gate + (size_t)r * N * E, N);
    }
}

/* mean |W| of the expert weights (biases excluded), metrics.md 5 */
static void weight_magnitudes(Trainer *t) {
    for (int k = 0; k < 2; k++) {
        Net *n = t->net[k];
        const ParamBlock *pb = &n->pb;
        size_t bytes = (size_t)t->R * pb->P * sizeof(float);
        t->be->ops->download(t->be, t->ms.params, pb->params, bytes);
        const char *net = metrics_net_name(k == 0 ? METRICS_POLICY : METRICS_VALUE);
        for (int r = 0; r < t->R; r++)
            for (int e = 0; e < n->E; e++)
                for (int layer = 0; layer < 2; layer++) {
                    const ParamTensor *pt = &pb->tensors[layer == 0 ? n->t_w1[e] : n->t_w2[e]];
                    double m = metrics_weight_magnitude(t->ms.params + (size_t)r * pb->P + pt->offset,
                                                        (size_t)param_tensor_size(pt));
                    if (n->cfg.kind == NET_MLP) set_metric(t, r, m, "Weights/%s_%d_layer_mean", net, layer);
                    else set_metric(t, r, m, "Weights/expert_%d_%s_%d_layer_mean", e, net, layer);
                }
    }
}

static int plasticity(Trainer *t, PmError *err) {
    MetricsOptions opt = metrics_options_default();
    opt.tau = t->cfg.redo_tau;
    opt.rank_mode = train_rank_mode(t->cfg.rank_mode);
    char tau[32];
    metrics_format_tau(tau, sizeof tau, opt.tau);
    for (int r = 0; r < t->R; r++) {
        MetricsIterStats st;
        if (metrics_store_compute(t->store[r], &opt, &st, err)) return -1;
        for (int i = 0; i < st.n_keys; i++) {
            const MetricsKeyStats *ks = &st.keys[i];
            if (!ks->valid) continue;
            if (ks->layer == METRICS_ROUTER_LAYER) {
                for (int e = 0; e < t->net[ks->net]->E; e++)
                    set_metric(t, r, ks->usage[e], "expert_%d_%s_router", e, metrics_net_name(ks->net));
                continue;
            }
            set_metric(t, r, ks->dormant.zero_pct, "Dorman/%s_zero_fraction", ks->name);
            set_metric(t, r, ks->dormant.dormant_pct, "Dorman/%s_%s_fraction", ks->name, tau);
            set_metric(t, r, ks->ranks.rank, "Ranks/%s_rank", ks->name);
            set_metric(t, r, ks->ranks.eff_rank, "Ranks/%s_eff_rank", ks->name);
            set_metric(t, r, ks->ranks.approx_rank, "Ranks/%s_approx_rank", ks->name);
            set_metric(t, r, ks->ranks.abs_approx_rank, "Ranks/%s_abs_approx_rank", ks->name);
        }
        set_metric(t, r, st.total_zero_count, "Dorman/total_zero_count");
        set_metric(t, r, st.total_zero_pct, "Dorman/total_zero_fraction");
        set_metric(t, r, st.total_dormant_count, "Dorman/total_dorman_count");
        set_metric(t, r, st.total_dormant_pct, "Dorman/total_dorman_fraction");
    }
    return 0;
}

int trainer_metrics_rollout_done(Trainer *t, PmError *err) {
    /* every metric starts the iteration as NaN (not measured) */
    for (int id = 0; id < h5metrics_count(t->h5); id++)
        for (int r = 0; r < t->R; r++) h5metrics_set(t->h5, id, r, NAN);
    long it = t->iteration + 1; /* 1-based number of the iteration in progress */
    int measure = it % t->cfg.metrics_every == 0 || it == 1;
    if (measure && plasticity(t, err)) return -1;
    for (int r = 0; r < t->R; r++) metrics_store_clear(t->store[r]);
    weight_magnitudes(t);
    return 0;
}

int trainer_metrics_append(Trainer *t, double sps, double *ev, PmError *err) {
    for (int r = 0; r < t->R; r++) {
        for (int k = 0; k < EP_COUNT; k++)
            set_metric(t, r, episodes_value(&t->episodes, r, k), "%s", episodes_metric_name(k));
        set_metric(t, r, t->run.lr[r], "charts/learning_rate");
        set_metric(t, r, sps, "charts/SPS");
        set_metric(t, r, (double)t->env->content[0], "charts/content"); /* before the switch */
        set_metric(t, r, (double)t->episodes.episodes[r], "charts/episodes");
        const PpoLossStats *s = &t->up.stats[r];
        set_metric(t, r, s->v_loss, "losses/value_loss");
        set_metric(t, r, s->pg_loss, "losses/policy_loss");
        set_metric(t, r, s->entropy, "losses/entropy");
        set_metric(t, r, s->old_approx_kl, "losses/old_approx_kl");
        set_metric(t, r, s->approx_kl, "losses/approx_kl");
        set_metric(t, r, t->up.clipfrac_n ? t->up.clipfrac_sum[r] / t->up.clipfrac_n : NAN, "losses/clipfrac");
        set_metric(t, r, ev[r], "losses/explained_variance");
    }
    pm_fault_point("metrics");
    return h5metrics_append(t->h5, t->iteration, t->global_step, err);
}

TrainerTimes trainer_times(const Trainer *t) {
    TrainerTimes tt = {t->time_rollout, t->time_update, t->time_metrics, t->global_step, t->R};
    return tt;
}
