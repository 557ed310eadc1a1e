/* metrics.c: dormant ratio, singular-value ranks, router usage, weight magnitudes and the
 * per-iteration activation store (see metrics.h; spec metrics.md sections 1-5). */
#include "metrics.h"

#include "pmath.h"

#include <cblas.h>
#include <float.h>
#include <lapack.h>
#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE__
#include <immintrin.h>
#endif

#include "h5util.h"

/* ---- single-matrix statistics ---------------------------------------------------------- */

/* acc[j] += |x_ij| in double for the rows given, in row order: the per-column sums of the
 * ReDo score. One order of additions per column whatever the batching (rows one at a time
 * or all at once), so the store can sum as rows arrive and get the bits of a single pass. */
PMATH_VEC static void abs_sum_rows(double *restrict acc, const float *restrict x, int n, int d) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) acc[j] += fabs((double)x[(size_t)i * d + j]);
}

/* z from the column sums: s_j = mean |x_ij| (float32), z_j = s_j / (mean s + 1e-9). */
static void scores_from_sums(const double *acc, int n, int d, float *z) {
    float s[METRICS_MAX_D];
    double tot = 0;
    for (int j = 0; j < d; j++) {
        s[j] = (float)(acc[j] / n);
        tot += s[j];
    }
    /* torch: score / (score.mean() + 1e-9), all float32 */
    float denom = (float)(tot / d) + 1e-9f;
    for (int j = 0; j < d; j++) z[j] = s[j] / denom;
}

void metrics_neuron_scores(const float *x, int n, int d, float *z) {
    double acc[METRICS_MAX_D] = {0};
    abs_sum_rows(acc, x, n, d);
    scores_from_sums(acc, n, d, z);
}

static void dormant_from_scores(const float *zz, int d, double tau, MetricsDormant *out, float *z) {
    int zero = 0, dorm = 0;
    for (int j = 0; j < d; j++) {
        /* torch.isclose(z, 0): |z - 0| <= atol + rtol * |0| with atol 1e-8, rtol 1e-5 */
        zero += fabsf(zz[j]) <= 1e-8f;
        dorm += (double)zz[j] <= (double)(float)tau;
        if (z) z[j] = zz[j];
    }
    out->n_neurons = d;
    out->zero_count = zero;
    out->dormant_count = dorm;
    out->zero_pct = 100.0 * zero / d;
    out->dormant_pct = 100.0 * dorm / d;
}

int metrics_dormant(const float *x, int n, int d, double tau, MetricsDormant *out, float *z) {
    if (n < 1 || d < 1 || d > METRICS_MAX_D) return -1;
    float zz[METRICS_MAX_D];
    metrics_neuron_scores(x, n, d, zz);
    dormant_from_scores(zz, d, tau, out, z);
    return 0;
}

/* sgesdd's buffers, grown as needed and kept by the caller (each store has one): no allocation
 * per call once the largest matrix has been seen. */
typedef struct {
    float *a, *work;
    lapack_int *iwork;
    size_t a_cap, work_cap, iwork_cap;
    /* the last workspace query of sgesdd_n: lwork is a function of (m, n) alone, and the
     * square R of every tall key has the same size */
    lapack_int q_m, q_n, q_lwork;
} SvdWork;

static void *svd_grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    free(p);
    *cap = need;
    return xmalloc(need * elem);
}

static void svd_work_free(SvdWork *w) {
    free(w->a);
    free(w->work);
    free(w->iwork);
    memset(w, 0, sizeof *w);
}

/* sgesdd (Fortran interface) with a workspace query and then the very lwork it asks for, as
 * LAPACKE_sgesdd does for a column-major matrix: the same blocking, the same values. */
static lapack_int sgesdd_n(lapack_int m, lapack_int n, float *a, float *sigma, SvdWork *w) {
    lapack_int lda = m, ld1 = 1, lwork = -1, info = 0;
    lapack_int mn = m < n ? m : n;
    w->iwork = svd_grow(w->iwork, &w->iwork_cap, (size_t)(8 * mn > 1 ? 8 * mn : 1), sizeof(lapack_int));
    if (w->q_lwork > 0 && w->q_m == m && w->q_n == n) {
        lwork = w->q_lwork;
    } else {
        float wq = 0.0f;
        LAPACK_sgesdd("N", &m, &n, a, &lda, sigma, NULL, &ld1, NULL, &ld1, &wq, &lwork, w->iwork, &info);
        if (info != 0) return info;
        lwork = (lapack_int)wq;
        w->q_m = m;
        w->q_n = n;
        w->q_lwork = lwork;
    }
    w->work = svd_grow(w->work, &w->work_cap, (size_t)(lwork > 1 ? lwork : 1), sizeof(float));
    LAPACK_sgesdd("N", &m, &n, a, &lda, sigma, NULL, &ld1, NULL, &ld1, w->work, &lwork, w->iwork,
                  &info);
    return info;
}

/* max |x_i| as its bit pattern, from the sign-cleared bits (|v| orders as those bits; an
 * integer max vectorises where a float one would not): above 0x7f800000 (+inf) means a NaN. */
PMATH_VEC static uint32_t max_abs_bits(const float *x, size_t count) {
    uint32_t m = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    return m;
}

/* Singular values as LAPACKE_sgesdd gives them, bit for bit, without two hidden costs: LAPACKE
 * scans the whole input for NaN and allocates twice per call, and sgesdd's own norm check
 * (slange 'M', one out-of-line sisnan call per element: ~4% of a training run) scans it again.
 * For a tall matrix (m >= mnthr = int(n*11/6)) sgesdd's JOBZ = 'N' path is "path 1": sgeqrf
 * of A with lwork - n of the queried workspace, zero below R, then sgebrd + sbdsdc of the
 * n x n R, which is exactly what sgesdd does for the square R (path 5: sgebrd + sbdsdc, no
 * QR). So the QR runs here and sgesdd gets the small R, whose norm check is cheap. That is
 * the same arithmetic as long as sgesdd scales neither A nor R (it scales when the max |a| is
 * below ~1e-12 or above ~1e12, or NaN): max |a| is checked here (vectorised), and outside
 * [1e-9, 1e9 / sqrt(m n)] (where max|R| lies within sqrt(n) below, sqrt(m n) above max|a|)
 * or for NaN, sgesdd runs on A itself. Checked against LAPACKE_sgesdd bit for bit on 15,360
 * matrices (m 1..3000, n 1..64, scales 1e-10..1e5, sparse and rank-deficient; docs/perf.md),
 * and by tests/test_metrics.c's goldens. */
static int svd_sgesdd_a(int n, int d, uint32_t mbits, float *sigma, SvdWork *w, PmError *err) {
    float *a = w->a; /* (n x d) column-major, lda n, then room for R */
    int nan = mbits > 0x7f800000u;
    float amax;
    memcpy(&amax, &mbits, sizeof amax);
    int mn = n < d ? n : d;
    lapack_int info;
    int mnthr = (int)((float)mn * 11.0f / 6.0f);
    if (n >= d && n >= mnthr && !nan && amax >= 1e-9f &&
        (double)amax * sqrt((double)n * d) <= 1e9) {
        /* sgesdd's path 1, split: sgeqrf with the lwork sgesdd would pass it */
        lapack_int m = n, nn = d, lda = n, lwork = -1;
        float wq = 0.0f;
        w->iwork = svd_grow(w->iwork, &w->iwork_cap, (size_t)(8 * mn), sizeof(lapack_int));
        lapack_int ld1 = 1;
        LAPACK_sgesdd("N", &m, &nn, a, &lda, sigma, NULL, &ld1, NULL, &ld1, &wq, &lwork, w->iwork,
                      &info);
        if (info == 0) {
            lwork = (lapack_int)wq;
            w->work = svd_grow(w->work, &w->work_cap, (size_t)lwork, sizeof(float));
            lapack_int lqr = lwork - d; /* LWORK - NWORK + 1 with NWORK = ITAU + N = N + 1 */
            LAPACK_sgeqrf(&m, &nn, a, &lda, w->work, w->work + d, &lqr, &info);
        }
        if (info == 0) {
            float *r = a + (size_t)n * d; /* R (d x d), zero below the diagonal (slaset 'L') */
            for (int j = 0; j < d; j++)
                for (int i = 0; i < d; i++) r[(size_t)j * d + i] = i <= j ? a[(size_t)j * n + i] : 0.0f;
            info = sgesdd_n(d, d, r, sigma, w);
        }
    } else {
        info = sgesdd_n(n, d, a, sigma, w);
    }
    if (info != 0) return pm_error(err, "metrics: sgesdd failed (info %d) on a %d x %d matrix",
                                   (int)info, n, d);
    return mn;
}

/* x row-major (n x d). */
static int svd_sgesdd(const float *x, int n, int d, float *sigma, SvdWork *w, PmError *err) {
    /* Column-major (n x d) copy: the layout torch hands to LAPACK, so the tall (m >= n)
     * QR path of sgesdd is taken exactly as in the reference. */
    w->a = svd_grow(w->a, &w->a_cap, (size_t)n * d + (size_t)d * d, sizeof(float));
    float *a = w->a;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) a[(size_t)j * n + i] = x[(size_t)i * d + j];
    return svd_sgesdd_a(n, d, max_abs_bits(x, (size_t)n * d), sigma, w, err);
}

static int svd_gram(const float *x, int n, int d, float *sigma, PmError *err) {
    double *xd = xmalloc(sizeof(double) * (size_t)n * d);
    for (size_t i = 0; i < (size_t)n * d; i++) xd[i] = x[i];
    double g[METRICS_MAX_D * METRICS_MAX_D] = {0}, w[METRICS_MAX_D];
    /* G = X^T X (upper triangle), X row-major (n x d) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0, xd, d, 0.0, g, d);
    free(xd);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', d, g, d, w);
    if (info != 0) return pm_error(err, "metrics: dsyevd failed (info %d) on a %d x %d Gram matrix",
                                   (int)info, d, d);
    int k = n < d ? n : d;
    /* eigenvalues ascending; the top k are X's squared singular values (the rest are
     * rounding noise around 0 when n < d) */
    for (int i = 0; i < k; i++) {
        double l = w[d - 1 - i];
        sigma[i] = (float)sqrt(l > 0 ? l : 0);
    }
    return k;
}

static int singular_values_ws(const float *x, int n, int d, MetricsSvdMethod method, float *sigma,
                              SvdWork *w, PmError *err) {
    if (n < 1 || d < 1 || d > METRICS_MAX_D)
        return pm_error(err, "metrics: bad matrix size %d x %d (need rows >= 1, 1 <= cols <= %d)",
                        n, d, METRICS_MAX_D);
    return method == METRICS_SVD_GRAM ? svd_gram(x, n, d, sigma, err)
                                      : svd_sgesdd(x, n, d, sigma, w, err);
}

int metrics_singular_values(const float *x, int n, int d, MetricsSvdMethod method, float *sigma,
                            PmError *err) {
    SvdWork w = {0};
    int k = singular_values_ws(x, n, d, method, sigma, &w, err);
    svd_work_free(&w);
    return k;
}

static int cmp_float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The reference's while-loop: add sorted terms (float32) while the running sum < prop.
 * A NaN term (0/0 of an all-zero matrix) makes the comparison false after one term. */
static int approx_rank_loop(const float *q, int k, float prop) {
    float cum = 0.0f;
    int r = 0;
    while (cum < prop && r < k) cum += q[r++];
    return r;
}

void metrics_ranks_from_sv(const float *sigma, int k, int n, int d, MetricsRankMode mode,
                           MetricsRanks *out) {
    if (k <= 0) {
        out->rank = 0;
        out->eff_rank = 1.0;
        out->approx_rank = 0;
        out->abs_approx_rank = 0;
        return;
    }
    float sv[METRICS_MAX_D], q[METRICS_MAX_D];
    memcpy(sv, sigma, sizeof(float) * k);
    qsort(sv, k, sizeof(float), cmp_float_desc);

    int rank = 0;
    if (mode == METRICS_RANK_TOLERANCE) {
        double tol = (double)(n > d ? n : d) * FLT_EPSILON * sv[0];
        for (int i = 0; i < k; i++) rank += sv[i] > tol;
    } else {
        for (int i = 0; i < k; i++) rank += sv[i] != 0.0f;
    }
    out->rank = rank;

    /* float32 throughout, as compute_effective_rank does on a float32 tensor */
    float sabs = 0, s = 0, s2 = 0;
    for (int i = 0; i < k; i++) {
        sabs += fabsf(sv[i]);
        s += sv[i];
        s2 += sv[i] * sv[i];
    }
    float h = 0.0f;
    for (int i = 0; i < k; i++) {
        float p = sv[i] / sabs;
        if (p > 0.0f) h -= p * logf(p);
    }
    out->eff_rank = (double)powf((float)M_E, h);

    for (int i = 0; i < k; i++) q[i] = sv[i] * sv[i] / s2;
    out->approx_rank = approx_rank_loop(q, k, (float)METRICS_APPROX_PROP);
    for (int i = 0; i < k; i++) q[i] = sv[i] / s;
    out->abs_approx_rank = approx_rank_loop(q, k, (float)METRICS_APPROX_PROP);
}

static int ranks_ws(const float *x, int n, int d, MetricsSvdMethod method, MetricsRankMode mode,
                    MetricsRanks *out, SvdWork *w, PmError *err) {
    float sigma[METRICS_MAX_D];
    int k = singular_values_ws(x, n, d, method, sigma, w, err);
    if (k < 0) return -1;
    metrics_ranks_from_sv(sigma, k, n, d, mode, out);
    return 0;
}

int metrics_ranks(const float *x, int n, int d, MetricsSvdMethod method, MetricsRankMode mode,
                  MetricsRanks *out, PmError *err) {
    SvdWork w = {0};
    int rc = ranks_ws(x, n, d, method, mode, out, &w, err);
    svd_work_free(&w);
    return rc;
}

void metrics_router_usage(const float *gates, int rows, int n_experts, double *usage) {
    for (int e = 0; e < n_experts; e++) {
        float acc = 0.0f;
        for (int i = 0; i < rows; i++) acc += gates[(size_t)i * n_experts + e];
        usage[e] = (double)acc / rows;
    }
}

double metrics_weight_magnitude(const float *w, size_t count) {
    if (count == 0) return NAN;
    double acc = 0;
    for (size_t i = 0; i < count; i++) acc += fabs((double)w[i]);
    return acc / (double)count;
}

/* ---- store ----------------------------------------------------------------------------- */

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
    SvdWork svd;            /* sgesdd buffers reused across keys and iterations */
    short tab[2][KEY_TAB_E][3]; /* key index + 1, 0 = none */
    float *tmp;             /* row-major scratch (Gram option) */
    size_t tmp_cap;
};

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
    svd_work_free(&s->svd);
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

static StoreKey *store_key_slow(MetricsStore *s, MetricsNet net, int expert, int layer);

/* the key, created on first use; the common case is one table load */
static inline StoreKey *store_key(MetricsStore *s, MetricsNet net, int expert, int layer) {
    if ((unsigned)net <= 1u && expert >= -1 && expert < KEY_TAB_E - 1 && layer >= -1 && layer <= 1) {
        int i = s->tab[net][expert + 1][layer + 1];
        if (i) return &s->keys[i - 1];
    }
    return store_key_slow(s, net, expert, layer);
}

static __attribute__((noinline)) StoreKey *store_key_slow(MetricsStore *s, MetricsNet net, int expert,
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
    key_append(store_key(s, net, expert, layer), rows, n_rows);
}

void metrics_store_append_router(MetricsStore *s, MetricsNet net, const float *gates, int n_rows) {
    key_append(store_key(s, net, -1, METRICS_ROUTER_LAYER), gates, n_rows);
}

/* The reference's forward hook keeps the rows of the last call in which the expert ran. */
void metrics_store_hook(MetricsStore *s, MetricsNet net, int expert, int layer,
                        const float *rows, int n_rows) {
    StoreKey *k = store_key(s, net, expert, layer);
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
 * order (the additions abs_sum_rows makes on the written-out matrix). Rows are taken four at
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
    SvdWork *w = &s->svd;
    w->a = svd_grow(w->a, &w->a_cap, (size_t)n * d + (size_t)d * d, sizeof(float));
    key_write_cols(k, w->a, (size_t)n, acc);
    if (opt->svd == METRICS_SVD_GRAM) {
        s->tmp = svd_grow(s->tmp, &s->tmp_cap, (size_t)n * d, sizeof(float));
        for (int j = 0; j < d; j++)
            for (int i = 0; i < n; i++) s->tmp[(size_t)i * d + j] = w->a[(size_t)j * n + i];
        kk = singular_values_ws(s->tmp, n, d, opt->svd, sigma, w, err);
    } else {
        kk = svd_sgesdd_a(n, d, max_abs_bits(k->arena, k->arena_n), sigma, w, err);
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
        scores_from_sums(acc, k->n_rows, k->width, z);
        dormant_from_scores(z, k->width, opt->tau, &st->dormant, NULL);
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

/* ---- names ----------------------------------------------------------------------------- */

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

/* ---- checkpoint of the hook storage ------------------------------------------------------ *
 * A resumed run must append the same stale rows as an uninterrupted one, so the emulated
 * hooks (which outlive iterations) go into the training checkpoint: group `name` with
 * meta (n_keys, 6) int32 = net, expert, layer, width, hooked, hook_rows (key order kept)
 * and hook_data (sum of hook_rows*width) float32. The per-iteration rows are empty at a
 * checkpoint (the trainer clears them after each iteration's statistics). */
int metrics_store_save_hooks(const MetricsStore *s, hid_t loc, const char *name, PmError *err) {
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return pm_error(err, "cannot create checkpoint group %s", name);
    int32_t *meta = xcalloc((size_t)s->n_keys * 6 + 1, sizeof *meta);
    size_t total = 0;
    for (int i = 0; i < s->n_keys; i++) total += (size_t)s->keys[i].hook_rows * s->keys[i].width;
    float *data = xcalloc(total + 1, sizeof *data);
    size_t at = 0;
    for (int i = 0; i < s->n_keys; i++) {
        const StoreKey *k = &s->keys[i];
        int32_t m[6] = {k->net, k->expert, k->layer, k->width, k->hooked, k->hook_rows};
        memcpy(meta + 6 * i, m, sizeof m);
        size_t n = (size_t)k->hook_rows * k->width;
        if (n) memcpy(data + at, k->hook, n * sizeof(float)); /* a key never hooked has no buffer */
        at += n;
    }
    hsize_t dm[2] = {(hsize_t)s->n_keys, 6}, dd[1] = {(hsize_t)total};
    int rc = h5u_write(g, "meta", H5T_NATIVE_INT32, 2, dm, meta, H5U_CHECKSUM, "checkpoint", err) ||
             h5u_write(g, "hook_data", H5T_NATIVE_FLOAT, 1, dd, data, H5U_CHECKSUM, "checkpoint", err);
    H5Gclose(g);
    free(meta);
    free(data);
    return rc ? -1 : 0;
}

int metrics_store_load_hooks(MetricsStore *s, hid_t loc, const char *name, const char *file, PmError *err) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return pm_error(err, "checkpoint %s: missing group /%s", file, name);
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    hsize_t dm[2] = {H5U_ANY, 6}, dd[1] = {H5U_ANY};
    hid_t a = h5u_open_checked(g, "meta", 2, dm, "checkpoint", err);
    hid_t b = a < 0 ? -1 : h5u_open_checked(g, "hook_data", 1, dd, "checkpoint", err);
    int rc = a < 0 || b < 0 ? -1 : 0;
    int32_t *meta = xcalloc(rc ? 1 : (size_t)dm[0] * 6 + 1, sizeof *meta);
    float *data = xcalloc(rc ? 1 : (size_t)dd[0] + 1, sizeof *data);
    if (!rc) rc = h5u_read_into(a, H5T_NATIVE_INT32, H5S_ALL, meta, "checkpoint", err) ||
                  h5u_read_into(b, H5T_NATIVE_FLOAT, H5S_ALL, data, "checkpoint", err);
    size_t at = 0;
    for (hsize_t i = 0; i < dm[0] && !rc; i++) {
        const int32_t *m = meta + 6 * i;
        size_t n = (size_t)m[5] * (size_t)m[3];
        int router = m[2] == METRICS_ROUTER_LAYER;
        if (m[0] < 0 || m[0] > 1 || m[3] != (router ? s->n_experts : s->d) || m[5] < 0 || at + n > dd[0] ||
            (router ? m[1] != -1 : m[1] < 0 || m[1] >= s->n_experts || m[2] < 0 || m[2] > 1) || (m[4] != 0 && m[4] != 1)) {
            rc = pm_error(err, "checkpoint %s: /%s/meta row %d is inconsistent", file, name, (int)i);
            break;
        }
        StoreKey *k = store_key(s, (MetricsNet)m[0], m[1], m[2]);
        k->width = m[3];
        k->hooked = m[4];
        if (m[5] > k->hook_cap) {
            k->hook = xrealloc(k->hook, n * sizeof(float));
            k->hook_cap = m[5];
        }
        if (n) memcpy(k->hook, data + at, n * sizeof(float));
        k->hook_rows = m[5];
        k->hook_seg = 0;
        at += n;
    }
    free(meta);
    free(data);
    if (a >= 0) H5Dclose(a);
    if (b >= 0) H5Dclose(b);
    H5Gclose(g);
    return rc ? -1 : 0;
}
