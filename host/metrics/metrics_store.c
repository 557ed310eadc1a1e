/* metrics_store.c: the per-iteration activation store and the statistics of its matrices
 * (see metrics_store.h; metrics.md section 1). */
#include "metrics_store.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE__
#include <immintrin.h>
#endif

#include "metrics_catalog.h"
#include "metrics_store_keys.h"
#include "metrics_svd.h"
#include "pmath.h"


MetricsStore *metrics_store_create(int d, int n_experts) {
    if (d < 1 || d > METRICS_MAX_D || n_experts < 0 || n_experts > METRICS_MAX_D)
        check_die(__FILE__, __LINE__, "metrics_store_create", "width out of range");
    MetricsStore *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->n_experts = n_experts;
    return s;
}

void metrics_store_free(MetricsStore *s) {
    if (!s) return;
    for (int i = 0; i < s->n_keys; i++) {
        free(s->keys[i].arena);
        free(s->keys[i].segs);
        free(s->keys[i].hook);
    }
    free(s->keys);
    free(s->stats);
    free(s->tmp);
    metrics_svd_work_free(&s->svd);
    free(s);
}

void metrics_store_clear(MetricsStore *s) {
    for (int i = 0; i < s->n_keys; i++) {
        StoreKey *k = &s->keys[i];
        k->arena_n = 0;
        k->n_segs = 0;
        k->n_rows = 0;
        k->hook_seg = 0;
    }
}

__attribute__((noinline)) StoreKey *metrics_store_key_slow(MetricsStore *s, MetricsNet net, int expert,
                                                         int layer) {
    int tabbed = (net == METRICS_POLICY || net == METRICS_VALUE) && expert >= -1 &&
                 expert < KEY_TAB_E - 1 && layer >= -1 && layer <= 1;
    if (!tabbed) {
        for (int i = 0; i < s->n_keys; i++) {
            StoreKey *k = &s->keys[i];
            if (k->net == net && k->expert == expert && k->layer == layer) return k;
        }
    }
    if (s->n_keys == s->cap_keys) {
        s->cap_keys = s->cap_keys ? 2 * s->cap_keys : 16;
        s->keys = xrealloc(s->keys, sizeof(StoreKey) * s->cap_keys);
        s->stats = xrealloc(s->stats, sizeof(MetricsKeyStats) * s->cap_keys);
    }
    StoreKey *k = &s->keys[s->n_keys++];
    memset(k, 0, sizeof *k);
    k->net = net;
    k->expert = expert;
    k->layer = layer;
    k->width = layer == METRICS_ROUTER_LAYER ? s->n_experts : s->d;
    metrics_key_name(k->name, sizeof k->name, net, expert, layer);
    if (tabbed) s->tab[net][expert + 1][layer + 1] = (short)s->n_keys;
    return k;
}

PMATH_VEC static void key_append(StoreKey *k, const float *rows, int n_rows) {
    if (n_rows <= 0) return;
    size_t count = (size_t)n_rows * k->width;
    if (n_rows == 1 && k->n_segs && k->hook_seg != k->n_segs) { /* the last row again? */
        StoreSeg *last = &k->segs[k->n_segs - 1];
        const float *p = k->arena + last->off;
        int same = last->rows == 1;
        for (size_t i = 0; i < count && same; i++) { /* bits, as memcmp (no call for 3 floats) */
            uint32_t a, b;
            memcpy(&a, p + i, sizeof a);
            memcpy(&b, rows + i, sizeof b);
            same = a == b;
        }
        if (same) {
            last->reps++; /* bit-identical: the same matrix row (a router's one-hot gate) */
            k->n_rows++;
            return;
        }
    }
    if (k->arena_n + count > k->arena_cap) {
        size_t cap = k->arena_cap ? k->arena_cap : (size_t)256 * k->width;
        while (cap < k->arena_n + count) cap *= 2;
        k->arena = xrealloc(k->arena, sizeof(float) * cap);
        k->arena_cap = cap;
    }
    if (k->n_segs == k->cap_segs) {
        k->cap_segs = k->cap_segs ? 2 * k->cap_segs : 256;
        k->segs = xrealloc(k->segs, sizeof(StoreSeg) * k->cap_segs);
    }
    float *y = k->arena + k->arena_n;
    for (size_t i = 0; i < count; i++) y[i] = rows[i]; /* mostly one row: no memcpy call */
    k->segs[k->n_segs++] = (StoreSeg){k->arena_n, n_rows, 1};
    k->arena_n += count;
    k->n_rows += n_rows;
}

void metrics_store_append(MetricsStore *s, MetricsNet net, int expert, int layer,
                          const float *rows, int n_rows) {
    key_append(metrics_store_key(s, net, expert, layer), rows, n_rows);
}

void metrics_store_append_router(MetricsStore *s, MetricsNet net, const float *gates, int n_rows) {
    key_append(metrics_store_key(s, net, -1, METRICS_ROUTER_LAYER), gates, n_rows);
}

/* The reference's forward hook keeps the rows of the last call in which the expert ran. */
void metrics_store_hook(MetricsStore *s, MetricsNet net, int expert, int layer,
                        const float *rows, int n_rows) {
    StoreKey *k = metrics_store_key(s, net, expert, layer);
    if (n_rows > k->hook_cap) {
        k->hook = xrealloc(k->hook, sizeof(float) * (size_t)n_rows * k->width);
        k->hook_cap = n_rows;
    }
    if (n_rows > 0) memcpy(k->hook, rows, sizeof(float) * (size_t)n_rows * k->width);
    k->hook_rows = n_rows;
    k->hooked = 1;
    k->hook_seg = 0; /* a new hook: the next commit copies it */
}

void metrics_store_commit_step(MetricsStore *s, MetricsNet net) {
    for (int i = 0; i < s->n_keys; i++) {
        StoreKey *k = &s->keys[i];
        if (k->net != net || !k->hooked || k->layer == METRICS_ROUTER_LAYER || k->hook_rows <= 0)
            continue;
        if (k->hook_seg && k->hook_seg == k->n_segs) { /* the same rows again, right after */
            k->segs[k->n_segs - 1].reps++;
            k->n_rows += k->hook_rows;
        } else {
            key_append(k, k->hook, k->hook_rows);
            k->hook_seg = k->n_segs;
        }
    }
}

MetricsOptions metrics_options_default(void) {
    MetricsOptions o = {METRICS_REDO_TAU, METRICS_SVD_SGESDD, METRICS_RANK_EXACT};
    return o;
}

/* Rows r[0..3] (width w) to dst[j * ld + 0..3], j < w: four rows of the column-major matrix.
 * SSE: 4 x 4 transposes of the first w & ~3 columns, plain stores for the rest. */
static inline __attribute__((always_inline)) void rows4_to_cols(const float *const r[4], int w, float *dst,
                                                               size_t ld) {
    int j = 0;
#ifdef __SSE__
    for (; j + 4 <= w; j += 4) {
        __m128 a0 = _mm_loadu_ps(r[0] + j), a1 = _mm_loadu_ps(r[1] + j);
        __m128 a2 = _mm_loadu_ps(r[2] + j), a3 = _mm_loadu_ps(r[3] + j);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        _mm_storeu_ps(dst + (size_t)j * ld, a0);
        _mm_storeu_ps(dst + (size_t)(j + 1) * ld, a1);
        _mm_storeu_ps(dst + (size_t)(j + 2) * ld, a2);
        _mm_storeu_ps(dst + (size_t)(j + 3) * ld, a3);
    }
#endif
    for (; j < w; j++) {
        float *c = dst + (size_t)j * ld;
        c[0] = r[0][j];
        c[1] = r[1][j];
        c[2] = r[2][j];
        c[3] = r[3][j];
    }
}

/* Writes the key's matrix out column-major (n_rows x width, leading dimension ld) into dst
 * and forms the ReDo column sums acc[j] = sum_i |x_ij| in double, row by row in the matrix's
 * order (the additions metrics_abs_sum_rows makes on the written-out matrix). Rows are taken four at
 * a time and transposed in registers. Always inlined so that a constant width (the paper's
 * 18) unrolls and keeps the sums in registers. */
static inline __attribute__((always_inline)) void write_cols_w(const StoreKey *k, int w, float *dst,
                                                              size_t ld, double *acc_out) {
    double acc[METRICS_MAX_D];
    for (int j = 0; j < w; j++) acc[j] = 0.0;
    int t = 0;
    size_t pos = 0;
    const float *r[4];
    for (int g = 0; g < k->n_segs; g++) {
        const StoreSeg *sg = &k->segs[g];
        /* a block of several rows repeats as a whole: block, block, ... */
        for (int rep = 0; rep < sg->reps; rep++)
            for (int i = 0; i < sg->rows; i++) {
                const float *x = k->arena + sg->off + (size_t)i * w;
                for (int j = 0; j < w; j++) acc[j] += fabs((double)x[j]);
                r[t++] = x;
                if (t == 4) {
                    rows4_to_cols(r, w, dst + pos, ld);
                    pos += 4;
                    t = 0;
                }
            }
    }
    for (int i = 0; i < t; i++)
        for (int j = 0; j < w; j++) dst[(size_t)j * ld + pos + i] = r[i][j];
    for (int j = 0; j < w; j++) acc_out[j] = acc[j];
}

PMATH_VEC static void key_write_cols(const StoreKey *k, float *dst, size_t ld, double *acc) {
    if (k->width == 18) write_cols_w(k, 18, dst, ld, acc);
    else write_cols_w(k, k->width, dst, ld, acc);
}

/* metrics_router_usage over the rows in order: the same float sums, row by row */
static void key_router_usage(const StoreKey *k, double *usage) {
    float acc[METRICS_MAX_D] = {0};
    int w = k->width;
    for (int g = 0; g < k->n_segs; g++) {
        const StoreSeg *sg = &k->segs[g];
        for (int r = 0; r < sg->reps; r++)
            for (int i = 0; i < sg->rows; i++)
                for (int e = 0; e < w; e++) acc[e] += k->arena[sg->off + (size_t)i * w + e];
    }
    for (int e = 0; e < w; e++) usage[e] = (double)acc[e] / k->n_rows;
}

/* The four ranks of a key's matrix, and its ReDo column sums (acc) on the way. */
static int key_ranks(MetricsStore *s, const StoreKey *k, const MetricsOptions *opt, MetricsRanks *out,
                     double *acc, PmError *err) {
    float sigma[METRICS_MAX_D];
    int n = k->n_rows, d = k->width, kk;
    MetricsSvdWork *w = &s->svd;
    w->a = metrics_svd_grow(w->a, &w->a_cap, (size_t)n * d + (size_t)d * d, sizeof(float));
    key_write_cols(k, w->a, (size_t)n, acc);
    if (opt->svd == METRICS_SVD_GRAM) {
        s->tmp = metrics_svd_grow(s->tmp, &s->tmp_cap, (size_t)n * d, sizeof(float));
        for (int j = 0; j < d; j++)
            for (int i = 0; i < n; i++) s->tmp[(size_t)i * d + j] = w->a[(size_t)j * n + i];
        kk = metrics_singular_values_ws(s->tmp, n, d, opt->svd, sigma, w, err);
    } else {
        kk = metrics_svd_sgesdd_cols(n, d, metrics_max_abs_bits(k->arena, k->arena_n), sigma, w, err);
    }
    if (kk < 0) return -1;
    metrics_ranks_from_sv(sigma, kk, n, d, opt->rank_mode, out);
    return 0;
}

int metrics_store_compute(MetricsStore *s, const MetricsOptions *opt, MetricsIterStats *out,
                          PmError *err) {
    memset(out, 0, sizeof *out);
    out->n_keys = s->n_keys;
    out->keys = s->stats;
    for (int i = 0; i < s->n_keys; i++) {
        StoreKey *k = &s->keys[i];
        MetricsKeyStats *st = &s->stats[i];
        memset(st, 0, sizeof *st);
        st->net = k->net;
        st->expert = k->expert;
        st->layer = k->layer;
        memcpy(st->name, k->name, sizeof st->name);
        st->rows = k->n_rows;
        st->valid = k->n_rows > 0;
        if (!st->valid) continue;
        if (k->layer == METRICS_ROUTER_LAYER) {
            key_router_usage(k, st->usage);
            st->n_usage = k->width;
            continue;
        }
        double acc[METRICS_MAX_D];
        float z[METRICS_MAX_D];
        if (key_ranks(s, k, opt, &st->ranks, acc, err)) return -1;
        metrics_scores_from_sums(acc, k->n_rows, k->width, z);
        metrics_dormant_from_scores(z, k->width, opt->tau, &st->dormant, NULL);
        out->total_neurons += st->dormant.n_neurons;
        out->total_zero_count += st->dormant.zero_count;
        out->total_dormant_count += st->dormant.dormant_count;
    }
    /* the reference divides by zero here (no expert matrix at all); we report NaN */
    out->total_zero_pct = out->total_neurons ? 100.0 * out->total_zero_count / out->total_neurons : NAN;
    out->total_dormant_pct =
        out->total_neurons ? 100.0 * out->total_dormant_count / out->total_neurons : NAN;
    return 0;
}

const MetricsKeyStats *metrics_stats_find(const MetricsIterStats *st, MetricsNet net, int expert,
                                          int layer) {
    for (int i = 0; i < st->n_keys; i++) {
        const MetricsKeyStats *k = &st->keys[i];
        if (k->net == net && k->layer == layer && (layer == METRICS_ROUTER_LAYER || k->expert == expert))
            return k;
    }
    return NULL;
}
