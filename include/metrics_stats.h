/* metrics_stats.h: plasticity and routing statistics of one activation or weight matrix
 * (metrics.md sections 1-5): dormant-neuron ratio (ReDo score), the four singular-value ranks,
 * router usage and weight magnitudes. Pure host C; matrices are row-major float32 (rows, cols)
 * as captured.
 *
 * Reference for: src/utils/statistic.py (get_redo_masks, DormantStatistic, RankStatistic,
 * RouterStatistic, WeightMagnitudeStatistic) and src/utils/network_utils.py
 * (compute_matrix_rank_summaries) of tinyzqh/PA-MoE. */
#ifndef PAMOE_METRICS_STATS_H
#define PAMOE_METRICS_STATS_H
#include <stddef.h>

#include "common.h"

#define METRICS_MAX_D 64        /* widest activation matrix the statistics accept */
#define METRICS_REDO_TAU 0.5    /* redo_tau of the reference config */
#define METRICS_APPROX_PROP 0.99

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
     * Faster for tall matrices (docs/metrics.md) but squares the condition number (sigma below
     * ~1e-8 sigma_max is noise) and turns tiny sigma into exact zeros, so "rank" differs. */
    METRICS_SVD_GRAM = 1
} MetricsSvdMethod;

typedef enum {
    METRICS_RANK_EXACT = 0,     /* faithful: count of sigma != 0.0 (defect 21, docs/reference/README.md) */
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
#endif
