/* metrics_svd.h: the pieces of metrics_stats.c the activation store reuses when it writes a
 * key's matrix out once and computes its statistics in place (metrics_store.c): the sgesdd
 * workspace, the SVD on a column-major matrix, and the ReDo sums and scores. Private to
 * host/metrics/. */
#ifndef PAMOE_METRICS_SVD_H
#define PAMOE_METRICS_SVD_H
#include <lapack.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "metrics_stats.h"

/* sgesdd's buffers, grown as needed and kept by the caller (each store has one): no allocation
 * per call once the largest matrix has been seen. */
typedef struct {
    float *a, *work;
    lapack_int *iwork;
    size_t a_cap, work_cap, iwork_cap;
    /* the last workspace query of sgesdd_n: lwork is a function of (m, n) alone, and the
     * square R of every tall key has the same size */
    lapack_int q_m, q_n, q_lwork;
} MetricsSvdWork;

/* p grown to hold need elements of elem bytes (contents dropped when it grows). */
void *metrics_svd_grow(void *p, size_t *cap, size_t need, size_t elem);
void metrics_svd_work_free(MetricsSvdWork *w);

/* max |x_i| as its bit pattern (above 0x7f800000: a NaN). */
uint32_t metrics_max_abs_bits(const float *x, size_t count);
/* Singular values of the (n x d) column-major matrix in w->a (lda n, with room for d x d
 * after it), given max |a| as metrics_max_abs_bits; descending. Returns the count or -1. */
int metrics_svd_sgesdd_cols(int n, int d, uint32_t mbits, float *sigma, MetricsSvdWork *w,
                            PmError *err);
/* metrics_singular_values with the caller's workspace. */
int metrics_singular_values_ws(const float *x, int n, int d, MetricsSvdMethod method,
                               float *sigma, MetricsSvdWork *w, PmError *err);

/* acc[j] += |x_ij| in double, rows in order (the ReDo column sums). */
void metrics_abs_sum_rows(double *restrict acc, const float *restrict x, int n, int d);
/* z (d) from the column sums of n rows: the normalised ReDo scores. */
void metrics_scores_from_sums(const double *acc, int n, int d, float *z);
/* Dormant counts from the scores zz (d); z (d) receives them when not NULL. */
void metrics_dormant_from_scores(const float *zz, int d, double tau, MetricsDormant *out,
                                 float *z);
#endif
