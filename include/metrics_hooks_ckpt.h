/* metrics_hooks_ckpt.h: the store's emulated forward hooks in the training checkpoint. The
 * hooks outlive iterations, so a resumed run appends the same stale rows as an uninterrupted
 * one only if they are saved and restored (metrics_hooks_ckpt.c gives the layout). */
#ifndef PAMOE_METRICS_HOOKS_CKPT_H
#define PAMOE_METRICS_HOOKS_CKPT_H
#include <hdf5.h>

#include "common.h"
#include "metrics_store.h"

/* Group `name` of loc; returns 0, or -1 with err naming the file and the dataset. */
int metrics_store_save_hooks(const MetricsStore *s, hid_t loc, const char *name, PmError *err);
int metrics_store_load_hooks(MetricsStore *s, hid_t loc, const char *name, const char *file, PmError *err);
#endif
