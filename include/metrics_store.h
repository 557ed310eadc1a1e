/* metrics_store.h: the per-iteration activation store the trainer fills during the rollout,
 * and the statistics (metrics_stats.h) of every stored matrix.
 * Keys are (net, expert, layer) for expert layers, and (net, router) for gate vectors.
 * Two ways to fill it:
 *  - direct: metrics_store_append(key, rows) appends the rows given. Used for MLP and dense
 *    MoE (one row per rollout step) and for the "routed rows only" option of smoe/dmoe
 *    (defect 20, docs/reference/README.md): pass just the rows routed to that expert.
 *  - faithful hook emulation for smoe/dmoe: metrics_store_hook(key, rows) replaces the
 *    key's "last activation" (the PyTorch forward hook's storage; call it on EVERY forward
 *    in which the expert ran, training minibatches included, with the rows routed to it),
 *    and metrics_store_commit_step(net) appends, for every key of that net hooked at least
 *    once since the store was created, its last activation. Called once per rollout step
 *    after each net's forward, this reproduces the stale rows of metrics.md section 1.
 * metrics_store_clear() empties the appended rows (after each iteration's statistics) but
 * keeps the hook storage, as the reference's hooks outlive the per-iteration store.
 * Key order is first appearance (hook or append), like the reference's dict. */
#ifndef PAMOE_METRICS_STORE_H
#define PAMOE_METRICS_STORE_H
#include "common.h"
#include "metrics_stats.h"

typedef enum { METRICS_POLICY = 0, METRICS_VALUE = 1 } MetricsNet;
#define METRICS_ROUTER_LAYER (-1) /* layer value of a router key */

typedef struct MetricsStore MetricsStore;

/* d: width of the expert layers (18); n_experts: router width (3; 0 for MLP). */
MetricsStore *metrics_store_create(int d, int n_experts);
void metrics_store_free(MetricsStore *s);
void metrics_store_clear(MetricsStore *s);

/* rows: (n_rows, d) row-major, or (n_rows, n_experts) for a router key. */
void metrics_store_append(MetricsStore *s, MetricsNet net, int expert, int layer,
                          const float *rows, int n_rows);
void metrics_store_append_router(MetricsStore *s, MetricsNet net, const float *gates,
                                 int n_rows);
void metrics_store_hook(MetricsStore *s, MetricsNet net, int expert, int layer,
                        const float *rows, int n_rows);
void metrics_store_commit_step(MetricsStore *s, MetricsNet net);

typedef struct {
    MetricsNet net;
    int expert;          /* -1 for routers */
    int layer;           /* 0 (h1), 1 (h2), METRICS_ROUTER_LAYER */
    char name[48];       /* "expert_0_policy_1_layer" or "policy_router" */
    int rows;            /* rows in this iteration's matrix */
    int valid;           /* rows > 0 (the reference skips empty matrices) */
    MetricsDormant dormant;
    MetricsRanks ranks;
    double usage[METRICS_MAX_D]; /* routers only: per-expert usage */
    int n_usage;                 /* routers only: entries of usage */
} MetricsKeyStats;

typedef struct {
    int n_keys;
    MetricsKeyStats *keys;  /* n_keys, first-appearance order; owned by the store */
    /* totals over expert-layer keys with rows > 0 (routers excluded) */
    int total_neurons;
    int total_zero_count, total_dormant_count;
    double total_zero_pct, total_dormant_pct; /* NaN when no key had rows */
} MetricsIterStats;

typedef struct {
    double tau;              /* redo_tau, 0.5 */
    MetricsSvdMethod svd;
    MetricsRankMode rank_mode;
} MetricsOptions;

MetricsOptions metrics_options_default(void); /* 0.5, SGESDD, EXACT */

/* Computes all statistics of the stored matrices. out->keys stays valid until the next
 * compute/free. Returns 0 or -1 (err; only on a LAPACK failure). */
int metrics_store_compute(MetricsStore *s, const MetricsOptions *opt, MetricsIterStats *out,
                          PmError *err);

/* Looks up the stats of a key in out; NULL if the key did not appear this iteration. */
const MetricsKeyStats *metrics_stats_find(const MetricsIterStats *st, MetricsNet net,
                                          int expert, int layer);
#endif
