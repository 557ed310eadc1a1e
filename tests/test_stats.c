/* test_stats.c: summary statistics used by `pamoe eval` (stats.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "rng.h"
#include "stats.h"

/* Mean 5, sample variance sum((x-5)^2)/(n-1) = (9+1+1+1+0+0+4+16)/7 = 32/7. */
static void test_mean_std(void **state) {
    (void)state;
    const double x[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    assert_float_equal(stats_mean(x, 8), 5.0, 1e-15);
    assert_float_equal(stats_std(x, 8), sqrt(32.0 / 7.0), 1e-14);
    assert_float_equal(stats_std(x, 1), 0.0, 0);
}

/* n = 8: keep sorted indices [2, 6) = 3,4,5,6 -> 4.5, whatever the outlier and order. */
static void test_iqm(void **state) {
    (void)state;
    const double x[8] = {100, 7, 1, 6, 2, 5, 3, 4};
    assert_float_equal(stats_iqm(x, 8), 4.5, 1e-15);
    /* n = 300 of 0..299: indices [75, 225) -> mean of 75..224 = 149.5 */
    double y[300];
    for (int i = 0; i < 300; i++) y[i] = 299 - i;
    assert_float_equal(stats_iqm(y, 300), 149.5, 1e-12);
}

/* numpy.quantile([1, 2, 4, 8], [0.25, 0.5, 0.9]) = 1.75, 3.0, 6.8 */
static void test_quantile(void **state) {
    (void)state;
    const double s[4] = {1, 2, 4, 8};
    assert_float_equal(stats_quantile_sorted(s, 4, 0.25), 1.75, 1e-15);
    assert_float_equal(stats_quantile_sorted(s, 4, 0.5), 3.0, 1e-15);
    assert_float_equal(stats_quantile_sorted(s, 4, 0.9), 6.8, 1e-14);
}

/* scipy.stats.t.ppf(0.975, df) for df = 1, 2, 10, 30, 299. */
static void test_t_quantile(void **state) {
    (void)state;
    const double df[5] = {1, 2, 10, 30, 299};
    const double want[5] = {12.706204736432095, 4.302652729911275, 2.2281388519649385,
                            2.0422724563012373, 1.9679296690653618};
    for (int i = 0; i < 5; i++) assert_float_equal(stats_t_quantile(0.975, df[i]), want[i], 1e-9);
    assert_float_equal(stats_t_quantile(0.025, 10), -want[2], 1e-9);
    /* half-width of {2,4,4,4,5,5,7,9}: t(0.975,7) = 2.3646242510102993 * s / sqrt(8) */
    const double x[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    assert_float_equal(stats_t_halfwidth95(x, 8), 2.3646242510102993 * sqrt(32.0 / 7.0) / sqrt(8.0),
                       1e-9);
}

/* Bootstrap of 2000 N(0,1)-ish draws (sum of 12 uniforms - 6): the percentile interval of
 * the mean has width about 2 * 1.96 * s / sqrt(n) (+-10 % for 4000 resamples), contains the
 * mean, and is identical for the same seed. */
static void test_bootstrap(void **state) {
    (void)state;
    enum { N = 2000 };
    static double x[N];
    Rng r;
    rng_seed(&r, 3, RNG_EVAL, 9);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < 12; k++) s += rng_uniform(&r);
        x[i] = s - 6;
    }
    double lo, hi, lo2, hi2, lo3, hi3;
    stats_bootstrap_ci(x, N, 4000, 0.95, 1, &lo, &hi);
    stats_bootstrap_ci(x, N, 4000, 0.95, 1, &lo2, &hi2);
    stats_bootstrap_ci(x, N, 4000, 0.95, 2, &lo3, &hi3);
    double m = stats_mean(x, N), want = 2 * 1.959964 * stats_std(x, N) / sqrt((double)N);
    assert_true(lo < m && m < hi);
    assert_true(fabs((hi - lo) / want - 1) < 0.1);
    assert_true(lo == lo2 && hi == hi2);
    assert_true(lo != lo3 || hi != hi3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_std),  cmocka_unit_test(test_iqm),
        cmocka_unit_test(test_quantile),  cmocka_unit_test(test_t_quantile),
        cmocka_unit_test(test_bootstrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
