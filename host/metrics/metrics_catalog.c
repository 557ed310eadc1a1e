/* metrics_catalog.c: the run file's metric names and the emission of one iteration's
 * statistics under them (see metrics_catalog.h; docs/metrics.md). */
#include "metrics_catalog.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *metrics_net_name(MetricsNet net) { return net == METRICS_POLICY ? "policy" : "value"; }

void metrics_key_name(char *buf, size_t n, MetricsNet net, int expert, int layer) {
    if (layer == METRICS_ROUTER_LAYER) snprintf(buf, n, "%s_router", metrics_net_name(net));
    else snprintf(buf, n, "expert_%d_%s_%d_layer", expert, metrics_net_name(net), layer);
}

void metrics_format_tau(char *buf, size_t n, double tau) {
    /* Python repr: the shortest representation that round-trips, with ".0" on integers */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, tau);
        if (strtod(buf, NULL) == tau) break;
    }
    if (!strpbrk(buf, ".en") && strlen(buf) + 3 <= n) strcat(buf, ".0");
}

void metrics_weight_name(char *buf, size_t n, int moe, MetricsNet net, int expert, int layer) {
    if (moe) snprintf(buf, n, "Weights/expert_%d_%s_%d_layer_mean", expert, metrics_net_name(net), layer);
    else snprintf(buf, n, "Weights/%s_%d_layer_mean", metrics_net_name(net), layer);
}

void metrics_stats_emit(const MetricsIterStats *st, double tau,
                        void (*emit)(void *ctx, const char *name, double value), void *ctx) {
    char name[128], t[32];
    metrics_format_tau(t, sizeof t, tau);
    for (int i = 0; i < st->n_keys; i++) {
        const MetricsKeyStats *k = &st->keys[i];
        if (!k->valid) continue;
        if (k->layer == METRICS_ROUTER_LAYER) {
            /* the router width is the expert count the store was created with */
            for (int e = 0; e < METRICS_MAX_D && e < k->n_usage; e++) {
                snprintf(name, sizeof name, "expert_%d_%s", e, k->name);
                emit(ctx, name, k->usage[e]);
            }
            continue;
        }
        snprintf(name, sizeof name, "Dorman/%s_zero_fraction", k->name);
        emit(ctx, name, k->dormant.zero_pct);
        snprintf(name, sizeof name, "Dorman/%s_%s_fraction", k->name, t);
        emit(ctx, name, k->dormant.dormant_pct);
        static const char *kind[4] = {"rank", "eff_rank", "approx_rank", "abs_approx_rank"};
        const double v[4] = {k->ranks.rank, k->ranks.eff_rank, k->ranks.approx_rank, k->ranks.abs_approx_rank};
        for (int r = 0; r < 4; r++) {
            snprintf(name, sizeof name, "Ranks/%s_%s", k->name, kind[r]);
            emit(ctx, name, v[r]);
        }
    }
    emit(ctx, "Dorman/total_zero_count", st->total_zero_count);
    emit(ctx, "Dorman/total_zero_fraction", st->total_zero_pct);
    emit(ctx, "Dorman/total_dorman_count", st->total_dormant_count);
    emit(ctx, "Dorman/total_dorman_fraction", st->total_dormant_pct);
}

typedef struct {
    MetricsName *v;
    int n, cap;
} NameList;

static void add_name(NameList *l, const char *units, const char *desc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_name(NameList *l, const char *units, const char *desc, const char *fmt, ...) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 128;
        l->v = xrealloc(l->v, sizeof(MetricsName) * l->cap);
    }
    MetricsName *m = &l->v[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->name, sizeof m->name, fmt, ap);
    va_end(ap);
    snprintf(m->units, sizeof m->units, "%s", units);
    snprintf(m->description, sizeof m->description, "%s", desc);
}

int metrics_catalog(const MetricsCatalogSpec *spec, MetricsName **out) {
    NameList l = {0};
    static const struct { const char *name, *units, *desc; } fixed[] = {
        {"Reward/Episode Mean Return", "reward/chunk",
         "mean per-chunk training reward of an episode, running mean of the last 50 episodes"},
        {"Reward/Episode BitRate Reward", "reward/chunk", "bitrate utility term, 50-episode mean"},
        {"Reward/Episode Rebuffer Reward", "reward/chunk",
         "minus the rebuffer penalty term (negative), 50-episode mean"},
        {"Reward/Episode Smooth Reward", "reward/chunk",
         "minus the smoothness penalty term (negative), 50-episode mean"},
        {"SystemInfo/Episode BitRate", "level", "mean chosen bitrate index (0-5), 50-episode mean"},
        {"SystemInfo/Episode Delay", "10 s", "mean chunk download delay in s/10, 50-episode mean"},
        {"SystemInfo/Episode Buffer Size", "10 s", "mean buffer level in s/10, 50-episode mean"},
        {"SystemInfo/Episode Sleep Time", "s", "mean residual sleep time, 50-episode mean"},
        {"SystemInfo/Episode Rebuffer", "s", "mean rebuffer time per chunk, 50-episode mean"},
        {"SystemInfo/Episode Choose Video Chunk Size", "bytes", "mean chosen chunk size, 50-episode mean"},
        {"SystemInfo/Episode Choose Video Chunk Size Per Time", "MB/s",
         "mean chunk size / download time, 50-episode mean"},
        {"charts/learning_rate", "1", "Adam learning rate"},
        {"charts/SPS", "steps/s", "environment steps per second since the start of training"},
        {"charts/content", "0/1/2", "content type of the iteration: 0 documentary, 1 live, 2 news"},
        {"charts/episodes", "episodes", "episodes completed since the start of the run"},
        {"losses/value_loss", "1", "0.5 * MSE of the value head, last minibatch of the last epoch"},
        {"losses/policy_loss", "1", "clipped PPO surrogate loss, last minibatch of the last epoch"},
        {"losses/entropy", "nats", "mean policy entropy, last minibatch of the last epoch"},
        {"losses/old_approx_kl", "nats", "mean(-logratio), last minibatch of the last epoch"},
        {"losses/approx_kl", "nats", "mean((ratio - 1) - logratio), last minibatch of the last epoch"},
        {"losses/clipfrac", "1", "mean over all minibatches of the fraction with |ratio - 1| > clip"},
        {"losses/explained_variance", "1", "1 - Var(returns - values) / Var(returns) over the rollout"},
    };
    for (int i = 0; i < PM_ARRAY_LEN(fixed); i++) add_name(&l, fixed[i].units, fixed[i].desc, "%s", fixed[i].name);

    char tau[32];
    metrics_format_tau(tau, sizeof tau, spec->tau);
    int ne[2]; /* expert keys per net: an MLP has the one key of expert 0 */
    for (int net = 0; net < 2; net++) ne[net] = spec->experts[net] > 0 ? spec->experts[net] : 1;
    char key[96];
    for (int net = 0; net < 2; net++)
        for (int e = 0; e < ne[net]; e++)
            for (int layer = 0; layer < 2; layer++) {
                metrics_key_name(key, sizeof key, (MetricsNet)net, e, layer);
                add_name(&l, "%", "percent of the layer's neurons with normalised score ~ 0",
                         "Dorman/%s_zero_fraction", key);
                add_name(&l, "%", "percent of the layer's neurons with normalised score <= tau",
                         "Dorman/%s_%s_fraction", key, tau);
            }
    add_name(&l, "neurons", "zero-score neurons over all expert layers of both nets", "Dorman/total_zero_count");
    add_name(&l, "%", "zero-score neurons over all expert layers, percent", "Dorman/total_zero_fraction");
    add_name(&l, "neurons", "dormant (score <= tau) neurons over all expert layers", "Dorman/total_dorman_count");
    add_name(&l, "%", "dormant neurons over all expert layers, percent", "Dorman/total_dorman_fraction");

    static const char *rank_kind[4] = {"rank", "eff_rank", "approx_rank", "abs_approx_rank"};
    static const char *rank_desc[4] = {
        "number of non-zero singular values of the layer's rollout activations",
        "effective rank exp(H(sigma / sum sigma)) (Roy & Vetterli)",
        "smallest K whose top-K squared singular values hold 99% of the sum",
        "smallest K whose top-K singular values hold 99% of the sum"};
    for (int net = 0; net < 2; net++)
        for (int e = 0; e < ne[net]; e++)
            for (int layer = 0; layer < 2; layer++) {
                metrics_key_name(key, sizeof key, (MetricsNet)net, e, layer);
                for (int r = 0; r < 4; r++)
                    add_name(&l, "1", rank_desc[r], "Ranks/%s_%s", key, rank_kind[r]);
            }
    for (int net = 0; net < 2; net++)
        for (int e = 0; e < spec->experts[net]; e++)
                add_name(&l, "1", "fraction of rollout forwards routed to the expert (mean gate weight)",
                         "expert_%d_%s_router", e, metrics_net_name((MetricsNet)net));
    for (int net = 0; net < 2; net++)
        for (int e = 0; e < ne[net]; e++)
            for (int layer = 0; layer < 2; layer++) {
                metrics_weight_name(key, sizeof key, spec->experts[net] > 0, (MetricsNet)net, e, layer);
                add_name(&l, "1", "mean |W| of the layer's weight matrix (biases excluded)", "%s", key);
            }
    *out = l.v;
    return l.n;
}
