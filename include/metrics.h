/* metrics.h: the metrics subsystem's interface, in four parts: the statistics of one matrix
 * (metrics_stats.h), the per-iteration activation store (metrics_store.h), the metric names
 * (metrics_catalog.h) and the store's hooks in the training checkpoint (metrics_hooks_ckpt.h).
 * The run file itself is h5metrics.h. */
#ifndef PAMOE_METRICS_H
#define PAMOE_METRICS_H
#include "metrics_catalog.h"
#include "metrics_hooks_ckpt.h"
#include "metrics_stats.h"
#include "metrics_store.h"
#endif
