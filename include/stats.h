/* stats.h: summary statistics of per-session evaluation metrics (baselines.md 1, 11;
 * metrics.md 8): mean, sample standard deviation, interquartile mean, seeded percentile
 * bootstrap interval of the mean, and the Student-t quantile for the 95 % half-width. */
#ifndef PAMOE_STATS_H
#define PAMOE_STATS_H
#include <stdint.h>

double stats_mean(const double *x, int n);
/* Sample standard deviation (divisor n - 1); 0 when n < 2. */
double stats_std(const double *x, int n);
/* Mean of the sorted values with index in [floor(0.25 n), floor(0.75 n)) (the 25-75
 * trimming of metrics.md 8); the plain mean when that range is empty. */
double stats_iqm(const double *x, int n);
/* Percentile bootstrap interval of the mean: `resamples` resamples with replacement from
 * a stream seeded by `seed`; lo/hi are the (1-level)/2 and (1+level)/2 quantiles of the
 * resampled means (numpy's default linear interpolation). */
void stats_bootstrap_ci(const double *x, int n, int resamples, double level, uint64_t seed,
                        double *lo, double *hi);
/* Quantile p (0 < p < 1) of Student's t with df > 0 degrees of freedom. */
double stats_t_quantile(double p, double df);
/* t_{0.975, n-1} * s / sqrt(n): the half-width of the reference plots' error bars. */
double stats_t_halfwidth95(const double *x, int n);
/* Sorts x ascending (in place). */
void stats_sort(double *x, int n);
/* Linear-interpolation quantile of sorted values (numpy's default). */
double stats_quantile_sorted(const double *sorted, int n, double p);
#endif
