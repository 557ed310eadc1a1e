/* test_common.c: error formatting, the host random streams, CPU features and the subnormal mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"
#include "fpmode.h"
#include "rng.h"

static void test_error_message(void **state) {
    (void)state;
    PmError err;
    assert_int_equal(pm_error(&err, "%s:%d: bad", "a.log", 17), -1);
    assert_string_equal(err.msg, "a.log:17: bad");
}

/* Streams of different (seed, purpose, index) differ; the same triple repeats exactly. */
static void test_rng_streams(void **state) {
    (void)state;
    Rng a, b, c;
    rng_seed(&a, 1, RNG_ENV, 0);
    rng_seed(&b, 1, RNG_ENV, 0);
    rng_seed(&c, 1, RNG_ENV, 1);
    int same_c = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_next(&a);
        assert_true(x == rng_next(&b));
        same_c += x == rng_next(&c);
    }
    assert_int_equal(same_c, 0);
}

/* randint is in range and roughly uniform; uniform is in [0, 1) with mean 1/2. */
static void test_rng_ranges(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7, RNG_EVAL, 3);
    int count[6] = {0};
    double sum = 0;
    for (int i = 0; i < 60000; i++) {
        int64_t k = rng_randint(&r, 0, 6);
        assert_true(k >= 0 && k < 6);
        count[k]++;
        double u = rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    for (int k = 0; k < 6; k++) assert_in_range(count[k], 9500, 10500);
    assert_true(sum / 60000 > 0.49 && sum / 60000 < 0.51);
}

/* cpu_features: each level implies the one below (the vector code of a level also uses the
 * lower ones), a switched-on level is in the hardware, PAMOE_NO_AVX2 turns every level off,
 * and the answers are stable (cached). */
static void test_cpu_features(void **state) {
    (void)state;
    int a2 = cpu_has_avx2(), fma = cpu_has_avx2_fma(), a5 = cpu_has_avx512();
    assert_true(!a5 || fma);
    assert_true(!fma || a2);
    assert_true(!fma || cpu_hw_has_avx2_fma());
    const char *no2 = getenv("PAMOE_NO_AVX2");
    if (no2 && no2[0] && strcmp(no2, "0") != 0) assert_true(!a2 && !fma && !a5);
    assert_int_equal(cpu_has_avx2(), a2);
    assert_int_equal(cpu_has_avx512(), a5);
    printf("cpu_features: avx2 %d, avx2+fma %d, avx512 %d (hardware avx2+fma %d)\n", a2, fma, a5,
           cpu_hw_has_avx2_fma());
}

/* What each of 2 OpenMP threads computes: 1e-30 * 1e-10 (a subnormal result: 0 under FTZ) and
 * 1e-40 * 1 (a subnormal operand: 0 under DAZ); 1 per thread where both are 0. */
static void flushed_per_thread(int out[2]) {
#pragma omp parallel num_threads(2)
    {
        volatile float tiny = 1e-30f, small = 1e-10f, sub = 1e-40f, one = 1.0f;
        int flushed = tiny * small == 0.0f && sub * one == 0.0f;
        assert_int_equal(fpmode_flushing(), flushed); /* the mode reports what the math does */
        out[omp_get_thread_num()] = flushed;
    }
}

/* run.flush_denormals: the switch reaches every thread of an OpenMP team that already exists
 * (MXCSR is per thread; a team made before the switch is the case that could be missed), and
 * restoring gives IEEE subnormals back to all of them. */
static void test_fpmode(void **state) {
    (void)state;
    if (fpmode_flushing() < 0) skip();
    int f[2] = {-1, -1};
    flushed_per_thread(f); /* IEEE at start; also makes the team */
    assert_true(f[0] == 0 && f[1] == 0);
    int previous = fpmode_flush_subnormals(1);
    assert_int_equal(previous, 0);
    flushed_per_thread(f);
    assert_true(f[0] == 1 && f[1] == 1);
    fpmode_restore(previous);
    flushed_per_thread(f);
    assert_true(f[0] == 0 && f[1] == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_rng_ranges),
        cmocka_unit_test(test_cpu_features),
        cmocka_unit_test(test_fpmode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
