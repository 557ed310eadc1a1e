/* metrics.h: plasticity and routing statistics of one training iteration (spec metrics.md
 * sections 1-5): dormant-neuron ratio (ReDo score), the four singular-value ranks, router
 * usage and weight magnitudes, plus the per-iteration activation store the trainer fills
 * during the rollout. Pure host C; matrices are row-major float32 (rows, cols) as captured.
 *
 * Reference for: src/utils/statistic.py (get_redo_masks, DormantStatistic, RankStatistic,
 * RouterStatistic, WeightMagnitudeStatistic) and src/utils/network_utils.py
 * (compute_matrix_rank_summaries) of tinyzqh/PA-MoE. */
#ifndef PAMOE_METRICS_H
#define PAMOE_METRICS_H
#include <hdf5.h>
#include <stddef.h>

#include "common.h"

#define METRICS_MAX_D 64        /* widest activation matrix the statistics accept */
#define METRICS_REDO_TAU 0.5    /* redo_tau of the reference config */
#define METRICS_APPROX_PROP 0.99

/* ---- single-matrix statistics ---------------------------------------------------------- */

typedef struct {
    int n_neurons;      /* d */
    int zero_count;     /* isclose(z_j, 0): z_j <= 1e-8 (atol 1e-8, rtol 1e-5 against 0) */
    int dormant_count;  /* z_j <= tau */
    double zero_pct;    /* 100 * zero_count / d */
    double dormant_pct; /* 100 * dormant_count / d */
} MetricsDormant;

/* Normalised ReDo scores z (d): s_j = mean_i |x_ij|, z_j = s_j / (mean_k s_k + 1e-9), in
 * float32 as the reference computes them (sums accumulated in double, then rounded, which
 * is within one float ulp of torch's pairwise reduction). n >= 1. */
void metrics_neuron_scores(const float *x, int n, int d, float *z);

/* Dormant counts of an (n x d) matrix for threshold tau > 0. z (d) may be NULL; it
 * receives the normalised scores. Returns 0, or -1 for n < 1 or d outside 1..METRICS_MAX_D
 * (the reference skips empty matrices: the caller logs nothing / NaN for them). */
int metrics_dormant(const float *x, int n, int d, double tau, MetricsDormant *out, float *z);

typedef enum {
    /* LAPACK sgesdd, jobz 'N', on the float32 matrix (called directly, with the values
     * LAPACKE_sgesdd gives, bit for bit): the routine torch.linalg.svdvals
     * calls on CPU, so exact zeros (the faithful "rank") come out the same way. Default. */
    METRICS_SVD_SGESDD = 0,
    /* Gram matrix X^T X (d x d) in double + LAPACKE_dsyevd, sigma = sqrt(max(lambda, 0)).
     * About 3x faster for tall matrices but squares the condition number (sigma below
     * ~1e-8 sigma_max is noise) and turns tiny sigma into exact zeros, so "rank" differs. */
    METRICS_SVD_GRAM = 1
} MetricsSvdMethod;

typedef enum {
    METRICS_RANK_EXACT = 0,     /* faithful: count of sigma != 0.0 (spec defect 21) */
    METRICS_RANK_TOLERANCE = 1  /* option: sigma > max(n, d) * FLT_EPSILON * sigma_max */
} MetricsRankMode;

/* Singular values of the (n x d) matrix, descending, into sigma (min(n, d) entries).
 * Returns the count written, or -1 (message in err) for bad sizes or a LAPACK failure. */
int metrics_singular_values(const float *x, int n, int d, MetricsSvdMethod method,
                            float *sigma, PmError *err);

typedef struct {
    double rank;            /* see MetricsRankMode */
    double eff_rank;        /* exp(entropy of sigma / sum|sigma|); all-zero -> 1.0 */
    double approx_rank;     /* smallest K with sum of top-K sigma^2/sum sigma^2 >= 0.99 */
    double abs_approx_rank; /* same with sigma / sum sigma */
} MetricsRanks;

/* The four ranks from singular values (k of them, any order; the reference's float32
 * arithmetic is mimicked). All-zero: 0, 1.0, 1, 1 (the NaN of 0/0 stops the 0.99 loops
 * after one term and is skipped by the entropy). k = 0 (empty matrix, which the reference
 * skips): 0, 1.0, 0, 0. */
void metrics_ranks_from_sv(const float *sigma, int k, int n, int d, MetricsRankMode mode,
                           MetricsRanks *out);

/* singular values + ranks. Returns 0 or -1 (err). */
int metrics_ranks(const float *x, int n, int d, MetricsSvdMethod method, MetricsRankMode mode,
                  MetricsRanks *out, PmError *err);

/* Router usage: usage[e] = (sum over rows of gates[:, e]) / rows, summed in float32 row
 * by row as Python's sum() over a float32 column does. rows >= 1. */
void metrics_router_usage(const float *gates, int rows, int n_experts, double *usage);

/* Mean |w| over count weights (biases are the caller's to leave out). */
double metrics_weight_magnitude(const float *w, size_t count);

/* ---- per-iteration activation store ---------------------------------------------------- *
 * Keys are (net, expert, layer) for expert layers, and (net, router) for gate vectors.
 * Two ways to fill it:
 *  - direct: metrics_store_append(key, rows) appends the rows given. Used for MLP and dense
 *    MoE (one row per rollout step) and for the "routed rows only" option of smoe/dmoe
 *    (spec defect 20): pass just the rows routed to that expert.
 *  - faithful hook emulation for smoe/dmoe: metrics_store_hook(key, rows) replaces the
 *    key's "last activation" (the PyTorch forward hook's storage; call it on EVERY forward
 *    in which the expert ran, training minibatches included, with the rows routed to it),
 *    and metrics_store_commit_step(net) appends, for every key of that net hooked at least
 *    once since the store was created, its last activation. Called once per rollout step
 *    after each net's forward, this reproduces the stale rows of metrics.md section 1.
 * metrics_store_clear() empties the appended rows (after each iteration's statistics) but
 * keeps the hook storage, as the reference's hooks outlive the per-iteration store.
 * Key order is first appearance (hook or append), like the reference's dict. */

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

/* ---- names ----------------------------------------------------------------------------- */

const char *metrics_net_name(MetricsNet net); /* "policy" / "value" */
/* "expert_{e}_{net}_{l}_layer", or "{net}_router" for layer METRICS_ROUTER_LAYER. */
void metrics_key_name(char *buf, size_t n, MetricsNet net, int expert, int layer);
/* tau as Python's repr prints a float ("0.5", "1.0", "1e-05"): the name suffix of the
 * dormant fraction, Dorman/{key}_{tau}_fraction. */
void metrics_format_tau(char *buf, size_t n, double tau);

/* Weights/expert_{e}_{net}_{l}_layer_mean (moe != 0) or Weights/{net}_{l}_layer_mean (MLP). */
void metrics_weight_name(char *buf, size_t n, int moe, MetricsNet net, int expert, int layer);

/* Calls emit(ctx, name, value) for every Dorman/, Ranks/ and router metric of one
 * iteration's statistics, with the catalog's names: per valid expert key its zero and tau
 * fractions and four ranks, per valid router key its per-expert usage, then the four
 * Dorman/total_* values. Keys without rows emit nothing (the reference logs nothing; the
 * run file keeps NaN). tau must be the MetricsOptions.tau the stats were computed with. */
void metrics_stats_emit(const MetricsIterStats *st, double tau,
                        void (*emit)(void *ctx, const char *name, double value), void *ctx);

/* One metric of the run file: name (reference wandb key), units, description. */
typedef struct {
    char name[96];
    char units[24];
    char description[160];
} MetricsName;

typedef struct {
    /* per net (MetricsNet order: policy, value): experts of an MoE network (3), or 0 for an
     * MLP (expert 0 only, no router, Weights/{net}_{l}_layer_mean); policy and value kinds
     * are chosen independently, so a mixed run lists each net as what it is */
    int experts[2];
    double tau; /* redo_tau */
} MetricsCatalogSpec;

/* The full list of per-iteration metric names the trainer fills, in a stable order
 * (docs/metrics.md). *out is xmalloc'ed; returns the count. */
int metrics_catalog(const MetricsCatalogSpec *spec, MetricsName **out);
/* The hook storage of a store, for the training checkpoint (bit-identical resume). */
int metrics_store_save_hooks(const MetricsStore *s, hid_t loc, const char *name, PmError *err);
int metrics_store_load_hooks(MetricsStore *s, hid_t loc, const char *name, const char *file, PmError *err);
#endif
