/* metrics_store_keys.h: the activation store's layout, shared by the store (metrics_store.c)
 * and its checkpoint (metrics_hooks_ckpt.c). Private to host/metrics/. */
#ifndef PAMOE_METRICS_STORE_KEYS_H
#define PAMOE_METRICS_STORE_KEYS_H
#include <stddef.h>

#include "metrics_store.h"
#include "metrics_svd.h"

/* A key's matrix for this iteration is kept as a run-length list: segments of (rows of the
 * arena, repeat count), in row order. The faithful hook emulation appends the same stale hook
 * rows at every rollout step for every expert that did not run (2 of 3 at B = 1), so a commit
 * whose hook has not changed since its last commit only counts one more repeat instead of
 * copying the rows again. The matrix is written out (column-major, as sgesdd wants it) once,
 * when the statistics are computed, with the ReDo sums (row by row in the original order);
 * max |x| does not depend on order or repeats and is taken over the distinct rows. */
typedef struct {
    size_t off;  /* first float in the arena (rows, width) row-major */
    int rows;
    int reps;    /* the block occurs reps times in a row */
} StoreSeg;

typedef struct {
    MetricsNet net;
    int expert, layer, width;
    char name[48];  /* metrics_key_name */
    /* this iteration */
    float *arena;   /* distinct row blocks, row-major */
    size_t arena_n, arena_cap;
    StoreSeg *segs;
    int n_segs, cap_segs;
    int n_rows;     /* rows of the matrix: sum of rows * reps */
    int hook_seg;   /* 1 + the segment holding the current hook this iteration; 0: none */
    /* hook */
    float *hook; /* last activation seen by the emulated forward hook (hook_rows, width) */
    int hook_rows, hook_cap, hooked;
} StoreKey;

/* direct lookup of (net, expert, layer) for expert -1 (router) .. KEY_TAB_E - 2, layer -1..1 */
#define KEY_TAB_E 17

struct MetricsStore {
    int d, n_experts;
    int n_keys, cap_keys;
    StoreKey *keys;
    MetricsKeyStats *stats; /* cap_keys */
    MetricsSvdWork svd;            /* sgesdd buffers reused across keys and iterations */
    short tab[2][KEY_TAB_E][3]; /* key index + 1, 0 = none */
    float *tmp;             /* row-major scratch (Gram option) */
    size_t tmp_cap;
};

/* Creates the key on first use (the slow path of metrics_store_key). */
StoreKey *metrics_store_key_slow(MetricsStore *s, MetricsNet net, int expert, int layer);

/* the key, created on first use; the common case is one table load */
static inline StoreKey *metrics_store_key(MetricsStore *s, MetricsNet net, int expert, int layer) {
    if ((unsigned)net <= 1u && expert >= -1 && expert < KEY_TAB_E - 1 && layer >= -1 && layer <= 1) {
        int i = s->tab[net][expert + 1][layer + 1];
        if (i) return &s->keys[i - 1];
    }
    return metrics_store_key_slow(s, net, expert, layer);
}
#endif
