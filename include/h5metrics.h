/* h5metrics.h: the metrics part of a run file (HDF5), readable live by h5py while training
 * runs (single-writer/multiple-reader, SWMR).
 *
 * Layout (docs/metrics.md):
 *   /                      attrs: format = "pamoe-run-1", n_runs
 *   /config                attrs: resolved configuration, key -> string / float64 / int64
 *   /metrics/iteration     int64 (iterations,)  iteration number of each row (1-based)
 *   /metrics/global_step   int64 (iterations,)  environment steps per run at that row
 *   /metrics/<name>        float64 (iterations, runs), chunked (64, runs), unlimited rows,
 *                          attrs units, description (variable-length UTF-8 strings)
 * A name is the reference's wandb key; each '/' in it makes a nested group, so
 * "losses/value_loss" is the dataset /metrics/losses/value_loss and
 * "Reward/Episode Mean Return" is /metrics/Reward/Episode Mean Return (spaces kept).
 * float64 so that counts stay exact, NaN marks "not logged this iteration" (the reference
 * logs episode statistics only once 50 episodes exist, and skips empty matrices).
 *
 * Life cycle: create (new file) or open (resume) -> register every name, set config
 * attributes, optionally truncate (resume) -> start (creates / checks the datasets, then
 * H5Fstart_swmr_write; nothing can be added after this) -> per iteration: set values,
 * append (one row in every dataset, then H5Fflush) -> close.
 * HDF5 library failures die (H5_CHECK, STYLE.md); user-visible problems (cannot create
 * the file, a resumed file lacking a dataset or with another run count, a bad name) come
 * back as PmError. */
#ifndef PAMOE_H5METRICS_H
#define PAMOE_H5METRICS_H
#include <stdint.h>

#include "common.h"

typedef struct H5Metrics H5Metrics;

/* Creates path (replacing an existing file) for n_runs runs. NULL + err naming the path. */
H5Metrics *h5metrics_create(const char *path, int n_runs, PmError *err);
/* Opens an existing run file read-write to resume training. NULL + err. */
H5Metrics *h5metrics_open(const char *path, int n_runs, PmError *err);

/* Adds a metric before start. Returns its id (0, 1, ... in registration order) or -1 (err:
 * empty/invalid path component, duplicate, a name that is also a group of another name,
 * or a reserved name "iteration"/"global_step"). */
int h5metrics_register(H5Metrics *h, const char *name, const char *units,
                       const char *description, PmError *err);

/* An attribute of the root group (the run's identity: run_id, config_hash), before start. */
int h5metrics_attr_str(H5Metrics *h, const char *name, const char *value, PmError *err);

/* /config attributes (before start; an existing attribute is replaced). 0 or -1 (err). */
int h5metrics_config_str(H5Metrics *h, const char *key, const char *value, PmError *err);
int h5metrics_config_num(H5Metrics *h, const char *key, double value, PmError *err);
int h5metrics_config_int(H5Metrics *h, const char *key, int64_t value, PmError *err);

/* Rows stored (0 for a new file; the existing length for a resumed one). */
int64_t h5metrics_length(const H5Metrics *h);

/* Resume after a crash: keep the first k rows of every dataset under /metrics (registered
 * or not). Before start only. -1 (err) if the file holds fewer than k rows. */
int h5metrics_truncate(H5Metrics *h, int64_t k, PmError *err);

/* Creates the datasets (new file) or checks that every registered one exists with the
 * right run count (resume; the error names the first missing dataset), then switches the
 * file to SWMR writing. 0 or -1 (err). */
int h5metrics_start(H5Metrics *h, PmError *err);

/* Id of a registered name, or -1. */
int h5metrics_find(const H5Metrics *h, const char *name);
int h5metrics_count(const H5Metrics *h);
int h5metrics_runs(const H5Metrics *h);

/* Stage values of the next row. Unset entries are written as NaN. */
void h5metrics_set(H5Metrics *h, int id, int run, double value);
void h5metrics_set_runs(H5Metrics *h, int id, const double *values); /* n_runs values */
/* By name (linear search; ~100 names per iteration is nothing): -1 if not registered. */
int h5metrics_set_by_name(H5Metrics *h, const char *name, int run, double value);

/* Writes the staged row to every dataset plus the iteration/global_step axes, flushes,
 * and resets the staged row to NaN. After start only. 0 or -1 (err). */
int h5metrics_append(H5Metrics *h, int64_t iteration, int64_t global_step, PmError *err);

/* Flushes and closes; accepts NULL. */
void h5metrics_close(H5Metrics *h);
#endif
