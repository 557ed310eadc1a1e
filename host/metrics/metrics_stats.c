/* metrics_stats.c: dormant ratio, singular-value ranks, router usage and weight magnitudes of
 * one matrix (see metrics_stats.h; metrics.md sections 1-5). */
#include "metrics_stats.h"

#include <cblas.h>
#include <float.h>
#include <lapack.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_svd.h"
#include "pmath.h"

/* acc[j] += |x_ij| in double for the rows given, in row order: the per-column sums of the
 * ReDo score. One order of additions per column whatever the batching (rows one at a time
 * or all at once), so the store can sum as rows arrive and get the bits of a single pass. */
PMATH_VEC void metrics_abs_sum_rows(double *restrict acc, const float *restrict x, int n, int d) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) acc[j] += fabs((double)x[(size_t)i * d + j]);
}

/* z from the column sums: s_j = mean |x_ij| (float32), z_j = s_j / (mean s + 1e-9). */
void metrics_scores_from_sums(const double *acc, int n, int d, float *z) {
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
    metrics_abs_sum_rows(acc, x, n, d);
    metrics_scores_from_sums(acc, n, d, z);
}

void metrics_dormant_from_scores(const float *zz, int d, double tau, MetricsDormant *out, float *z) {
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
    metrics_dormant_from_scores(zz, d, tau, out, z);
    return 0;
}


void *metrics_svd_grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    free(p);
    *cap = need;
    return xmalloc(need * elem);
}

void metrics_svd_work_free(MetricsSvdWork *w) {
    free(w->a);
    free(w->work);
    free(w->iwork);
    memset(w, 0, sizeof *w);
}

/* sgesdd (Fortran interface) with a workspace query and then the very lwork it asks for, as
 * LAPACKE_sgesdd does for a column-major matrix: the same blocking, the same values. */
static lapack_int sgesdd_n(lapack_int m, lapack_int n, float *a, float *sigma, MetricsSvdWork *w) {
    lapack_int lda = m, ld1 = 1, lwork = -1, info = 0;
    lapack_int mn = m < n ? m : n;
    w->iwork = metrics_svd_grow(w->iwork, &w->iwork_cap, (size_t)(8 * mn > 1 ? 8 * mn : 1), sizeof(lapack_int));
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
    w->work = metrics_svd_grow(w->work, &w->work_cap, (size_t)(lwork > 1 ? lwork : 1), sizeof(float));
    LAPACK_sgesdd("N", &m, &n, a, &lda, sigma, NULL, &ld1, NULL, &ld1, w->work, &lwork, w->iwork,
                  &info);
    return info;
}

/* max |x_i| as its bit pattern, from the sign-cleared bits (|v| orders as those bits; an
 * integer max vectorises where a float one would not): above 0x7f800000 (+inf) means a NaN. */
PMATH_VEC uint32_t metrics_max_abs_bits(const float *x, size_t count) {
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
 * (slange 'M', one out-of-line sisnan call per element; docs/perf.md) scans it again.
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
int metrics_svd_sgesdd_cols(int n, int d, uint32_t mbits, float *sigma, MetricsSvdWork *w, PmError *err) {
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
        w->iwork = metrics_svd_grow(w->iwork, &w->iwork_cap, (size_t)(8 * mn), sizeof(lapack_int));
        lapack_int ld1 = 1;
        LAPACK_sgesdd("N", &m, &nn, a, &lda, sigma, NULL, &ld1, NULL, &ld1, &wq, &lwork, w->iwork,
                      &info);
        if (info == 0) {
            lwork = (lapack_int)wq;
            w->work = metrics_svd_grow(w->work, &w->work_cap, (size_t)lwork, sizeof(float));
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
static int svd_sgesdd(const float *x, int n, int d, float *sigma, MetricsSvdWork *w, PmError *err) {
    /* Column-major (n x d) copy: the layout torch hands to LAPACK, so the tall (m >= n)
     * QR path of sgesdd is taken exactly as in the reference. */
    w->a = metrics_svd_grow(w->a, &w->a_cap, (size_t)n * d + (size_t)d * d, sizeof(float));
    float *a = w->a;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) a[(size_t)j * n + i] = x[(size_t)i * d + j];
    return metrics_svd_sgesdd_cols(n, d, metrics_max_abs_bits(x, (size_t)n * d), sigma, w, err);
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

int metrics_singular_values_ws(const float *x, int n, int d, MetricsSvdMethod method, float *sigma,
                              MetricsSvdWork *w, PmError *err) {
    if (n < 1 || d < 1 || d > METRICS_MAX_D)
        return pm_error(err, "metrics: bad matrix size %d x %d (need rows >= 1, 1 <= cols <= %d)",
                        n, d, METRICS_MAX_D);
    return method == METRICS_SVD_GRAM ? svd_gram(x, n, d, sigma, err)
                                      : svd_sgesdd(x, n, d, sigma, w, err);
}

int metrics_singular_values(const float *x, int n, int d, MetricsSvdMethod method, float *sigma,
                            PmError *err) {
    MetricsSvdWork w = {0};
    int k = metrics_singular_values_ws(x, n, d, method, sigma, &w, err);
    metrics_svd_work_free(&w);
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
                    MetricsRanks *out, MetricsSvdWork *w, PmError *err) {
    float sigma[METRICS_MAX_D];
    int k = metrics_singular_values_ws(x, n, d, method, sigma, w, err);
    if (k < 0) return -1;
    metrics_ranks_from_sv(sigma, k, n, d, mode, out);
    return 0;
}

int metrics_ranks(const float *x, int n, int d, MetricsSvdMethod method, MetricsRankMode mode,
                  MetricsRanks *out, PmError *err) {
    MetricsSvdWork w = {0};
    int rc = ranks_ws(x, n, d, method, mode, out, &w, err);
    metrics_svd_work_free(&w);
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
