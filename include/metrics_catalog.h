/* metrics_catalog.h: the names of the run file's metrics (the reference's wandb keys, with
 * units and descriptions; docs/metrics.md) and the emission of one iteration's statistics
 * under those names. */
#ifndef PAMOE_METRICS_CATALOG_H
#define PAMOE_METRICS_CATALOG_H
#include <stddef.h>

#include "metrics_store.h"

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
#endif
