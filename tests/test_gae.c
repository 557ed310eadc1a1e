/* test_gae.c: GAE against the golden example of ppo.md section 5, and stream independence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "gae.h"

static const float golden_adv[10] = {1.609975f, 1.606565f, 0.709297f, -1.339101f, -1.675939f,
                                     -1.078295f, -0.226870f, -0.043013f, 1.087053f, 0.007119f};

/* gamma 0.99, lambda 0.95, r_t = sin t, v_t = 0.1 t, dones as in docs/reference/ppo.md, next_value 0.5.
 * Stream 0 is the golden one; stream 1 is the same data with a terminal next_done, which only
 * changes the last step's bootstrap and what flows back to the previous episode start. */
static void test_golden(void **state) {
    (void)state;
    enum { T = 10, N = 2 };
    const float d[T] = {0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    float r[T * N], v[T * N], dn[T * N], adv[T * N], ret[T * N];
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            r[t * N + n] = sinf((float)t);
            v[t * N + n] = 0.1f * (float)t;
            dn[t * N + n] = d[t];
        }
    const float nv[N] = {0.5f, 0.5f}, nd[N] = {0.0f, 1.0f};
    gae_compute(T, N, r, v, dn, nv, nd, 0.99f, 0.95f, adv, ret);
    for (int t = 0; t < T; t++) {
        /* golden printed to 6 decimals; float32 accumulation adds < 1e-6 */
        assert_true(fabsf(adv[t * N] - golden_adv[t]) < 1e-5f);
        assert_true(ret[t * N] == adv[t * N] + v[t * N]);
    }
    /* stream 1: last step delta = sin(9) - 0.9 (no bootstrap); steps 8 and 9 belong to the
     * last episode; steps before 8 are cut off by dones[8] and equal stream 0 */
    assert_true(fabsf(adv[9 * N + 1] - (sinf(9.0f) - 0.9f)) < 1e-6f);
    float a8 = sinf(8.0f) + 0.99f * 0.9f - 0.8f + 0.99f * 0.95f * adv[9 * N + 1];
    assert_true(fabsf(adv[8 * N + 1] - a8) < 1e-5f);
    for (int t = 0; t < 8; t++) assert_true(adv[t * N + 1] == adv[t * N]);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
