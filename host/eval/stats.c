/* stats.c: see stats.h. The t quantile inverts the regularized incomplete beta function
 * (continued fraction, Numerical Recipes' betacf) by bisection, which is plenty for a
 * plotting half-width and needs no library. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "rng.h"

double stats_mean(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n > 0 ? s / n : NAN;
}

double stats_std(const double *x, int n) {
    if (n < 2) return 0;
    double m = stats_mean(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *x, int n) { qsort(x, n, sizeof(double), cmp_double); }

double stats_iqm(const double *x, int n) {
    if (n <= 0) return NAN;
    double *s = xmalloc(sizeof(double) * n);
    memcpy(s, x, sizeof(double) * n);
    qsort(s, n, sizeof(double), cmp_double);
    int lo = (int)floor(0.25 * n), hi = (int)floor(0.75 * n);
    double r = hi > lo ? stats_mean(s + lo, hi - lo) : stats_mean(s, n);
    free(s);
    return r;
}

double stats_quantile_sorted(const double *s, int n, double p) {
    double pos = p * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return s[n - 1];
    if (i < 0) return s[0];
    return s[i] + (pos - i) * (s[i + 1] - s[i]);
}

void stats_bootstrap_ci(const double *x, int n, int resamples, double level, uint64_t seed,
                        double *lo, double *hi) {
    if (n <= 0 || resamples <= 0) {
        *lo = *hi = NAN;
        return;
    }
    Rng r;
    rng_seed(&r, seed, RNG_EVAL, 0xB007);
    double *means = xmalloc(sizeof(double) * resamples);
    for (int b = 0; b < resamples; b++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[rng_randint(&r, 0, n)];
        means[b] = s / n;
    }
    qsort(means, resamples, sizeof(double), cmp_double);
    *lo = stats_quantile_sorted(means, resamples, (1 - level) / 2);
    *hi = stats_quantile_sorted(means, resamples, (1 + level) / 2);
    free(means);
}

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double betai(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double t_cdf(double t, double df) {
    double tail = 0.5 * betai(df / 2, 0.5, df / (df + t * t));
    return t >= 0 ? 1 - tail : tail;
}

double stats_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    if (p < 0.5) return -stats_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (t_cdf(hi, df) < p) hi *= 2; /* df = 1, p = 0.975: 12.7 */
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_cdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double stats_t_halfwidth95(const double *x, int n) {
    if (n < 2) return NAN;
    return stats_t_quantile(0.975, n - 1) * stats_std(x, n) / sqrt((double)n);
}
