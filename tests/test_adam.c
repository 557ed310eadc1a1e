/* test_adam.c: Adam with coupled L2 against hand-computed steps, the faithful skip rule,
 * per-tensor step counts, per-run learning rates and the two options (AdamW, no router decay). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "adam.h"
#include "opt_fixture.h"

/* Double-precision reference of one coupled-L2 Adam step for one element. */
static void ref_step(double *p, double *m, double *v, double g, int t, double lr, double wd) {
    const double b1 = 0.99, b2 = 0.99, eps = 1e-5;
    g += wd * *p;
    *m = b1 * *m + (1 - b1) * g;
    *v = b2 * *v + (1 - b2) * g * g;
    *p -= lr * (*m / (1 - pow(b1, t))) / (sqrt(*v) / sqrt(1 - pow(b2, t)) + eps);
}

static void close_to(float got, double want, double rel) {
    if (fabs(got - want) > rel * fabs(want) + 1e-12) fail_msg("got %.9g want %.9g", got, want);
}

/* First step by hand (lr 1e-3, betas 0.99, eps 1e-5, wd 1e-4):
 *  theta 1, grad 0.5: g = 0.5001, m = 0.005001, v = 0.0025010001, m^ = 0.5001, sqrt(v^) = 0.5001,
 *    theta = 1 - 1e-3 * 0.5001 / 0.50011 = 0.999000020
 *  theta -2, grad 0 (a router weight): g = -2e-4, m^ = -2e-4, sqrt(v^) = 2e-4,
 *    theta = -2 + 1e-3 * 2e-4 / 2.1e-4 = -1.999047619  (zero gradient, yet |theta| shrinks) */
static void test_hand_step(void **state) {
    (void)state;
    ParamBlock *pb = fixture_create(1);
    AdamConfig cfg;
    adam_config_default(&cfg);
    float *w = fixture_at(pb, pb->params, 0, "experts.0.fc1.weight");
    float *g = fixture_at(pb, pb->grads, 0, "experts.0.fc1.weight");
    float *rw = fixture_at(pb, pb->params, 0, "route.weight");
    float *rg = fixture_at(pb, pb->grads, 0, "route.weight");
    w[0] = 1.0f;
    g[0] = 0.5f;
    rw[0] = -2.0f;
    for (int i = 0; i < 6; i++) rg[i] = 0.0f;
    float lr = 1e-3f;
    adam_step(&cfg, pb, &lr);
    close_to(w[0], 0.999000020, 2e-7);
    close_to(rw[0], -1.999047619, 2e-7);
    close_to(*fixture_at(pb, pb->adam_m, 0, "experts.0.fc1.weight"), 0.005001, 1e-6);
    close_to(*fixture_at(pb, pb->adam_v, 0, "experts.0.fc1.weight"), 0.0025010001, 1e-6);
    /* 50 more steps of the router element with zero gradient, against the double reference:
     * the decay keeps shrinking it geometrically */
    double p = -1.999047619, m = -2e-6, v = 4e-10; /* state after step 1 */
    for (int t = 2; t <= 51; t++) {
        ref_step(&p, &m, &v, 0.0, t, 1e-3, 1e-4);
        adam_step(&cfg, pb, &lr);
    }
    close_to(rw[0], p, 1e-6);
    assert_true(fabsf(rw[0]) < 1.96f);
    for (int t = 0; t < pb->n_tensors; t++)
        assert_int_equal(pb->h_adam_step[t], pb->tensors[t].role == TENSOR_UNUSED ? 0 : 51);
    fixture_free(pb);
}

/* Every element of every stepped tensor against the double reference over 20 steps with
 * changing gradients. */
static void test_against_reference(void **state) {
    (void)state;
    ParamBlock *pb = fixture_create(2);
    AdamConfig cfg;
    adam_config_default(&cfg);
    long n = 2 * pb->P;
    double *p = malloc(n * sizeof(double)), *m = calloc(n, sizeof(double)), *v = calloc(n, sizeof(double));
    for (long i = 0; i < n; i++) p[i] = pb->params[i];
    const float lr[2] = {1e-3f, 3e-4f};
    for (int step = 1; step <= 20; step++) {
        for (long i = 0; i < n; i++) pb->grads[i] = 0.01f * sinf((float)(i * 13 + step * 7));
        adam_step(&cfg, pb, lr);
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < pb->n_tensors; t++) {
                if (pb->tensors[t].role == TENSOR_UNUSED) continue;
                long b = r * pb->P + pb->tensors[t].offset;
                for (long i = b; i < b + param_tensor_size(&pb->tensors[t]); i++)
                    ref_step(&p[i], &m[i], &v[i], pb->grads[i], step, lr[r], 1e-4);
            }
    }
    double worst = 0;
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < pb->n_tensors; t++) {
            if (pb->tensors[t].role == TENSOR_UNUSED) continue;
            long b = r * pb->P + pb->tensors[t].offset;
            for (long i = b; i < b + param_tensor_size(&pb->tensors[t]); i++) {
                /* float32 state vs double: relative to the total movement lr * steps */
                double d = fabs(pb->params[i] - p[i]) / (lr[r] * 20);
                if (d > worst) worst = d;
            }
        }
    assert_true(worst < 1e-3);
    free(p);
    free(m);
    free(v);
    fixture_free(pb);
}

/* took_part = 0: params, moments and step count untouched bit for bit; mix_gate never moves
 * even if flagged. On its first participation a tensor uses t = 1 bias correction. */
static void test_skip_rule(void **state) {
    (void)state;
    ParamBlock *pb = fixture_create(2);
    AdamConfig cfg;
    adam_config_default(&cfg);
    int e1w = fixture_find(pb, "experts.1.fc1.weight"), e1b = fixture_find(pb, "experts.1.fc1.bias");
    int mix = fixture_find(pb, "mix_gate.weight");
    const float lr[2] = {1e-3f, 1e-3f};
    adam_step(&cfg, pb, lr); /* everything (but mix_gate) steps once: nonzero moments */
    float *before = malloc(3 * 2 * pb->P * sizeof(float));
    memcpy(before, pb->params, 2 * pb->P * sizeof(float));
    memcpy(before + 2 * pb->P, pb->adam_m, 2 * pb->P * sizeof(float));
    memcpy(before + 4 * pb->P, pb->adam_v, 2 * pb->P * sizeof(float));
    /* run 1: expert 1 got no sample; mix_gate flagged (must still be ignored) */
    pb->h_took_part[1 * pb->n_tensors + e1w] = 0;
    pb->h_took_part[1 * pb->n_tensors + e1b] = 0;
    pb->h_took_part[1 * pb->n_tensors + mix] = 1;
    adam_step(&cfg, pb, lr);
    for (int t = 0; t < pb->n_tensors; t++) {
        long b = pb->P + pb->tensors[t].offset, sz = param_tensor_size(&pb->tensors[t]);
        int skipped = t == e1w || t == e1b || t == mix;
        int same = !memcmp(pb->params + b, before + b, sz * sizeof(float)) &&
                   !memcmp(pb->adam_m + b, before + 2 * pb->P + b, sz * sizeof(float)) &&
                   !memcmp(pb->adam_v + b, before + 4 * pb->P + b, sz * sizeof(float));
        assert_int_equal(same, skipped);
        assert_int_equal(pb->h_adam_step[pb->n_tensors + t], t == mix ? 0 : skipped ? 1 : 2);
        assert_int_equal(pb->h_adam_step[t], t == mix ? 0 : 2); /* run 0 unaffected */
    }
    /* run 0 took the step for expert 1 */
    assert_true(memcmp(pb->params + pb->tensors[e1w].offset, before + pb->tensors[e1w].offset, 12 * 4) != 0);
    free(before);
    fixture_free(pb);
}

/* Zero gradient: coupled decay shrinks; AdamW multiplies by exactly 1 - lr*wd (moments stay
 * zero, so the Adam part is 0/(0+eps) = 0); no_router_decay leaves routers untouched while
 * other zero-gradient tensors still shrink. */
static void test_options(void **state) {
    (void)state;
    const float lr = 1e-2f;
    for (int mode = 0; mode < 3; mode++) {
        ParamBlock *pb = fixture_create(1);
        AdamConfig cfg;
        adam_config_default(&cfg);
        cfg.decoupled = mode == 1;
        cfg.no_router_decay = mode == 2;
        memset(pb->grads, 0, pb->P * sizeof(float));
        float *before = malloc(pb->P * sizeof(float));
        memcpy(before, pb->params, pb->P * sizeof(float));
        adam_step(&cfg, pb, &lr);
        for (int t = 0; t < pb->n_tensors; t++) {
            const ParamTensor *T = &pb->tensors[t];
            for (long i = T->offset; i < T->offset + param_tensor_size(T); i++) {
                float b = before[i], a = pb->params[i];
                if (T->role == TENSOR_UNUSED || b == 0.0f) assert_true(a == b);
                else if (mode == 1) assert_true(a == b * (float)(1.0 - 1e-2 * (double)1e-4f));
                else if (mode == 2 && T->role == TENSOR_ROUTER) assert_true(a == b);
                else {
                    /* coupled: first step moves by lr * |g|/(|g|+eps) toward 0, g = 1e-4 theta */
                    double g = 1e-4 * b, want = b - 1e-2 * g / (fabs(g) + 1e-5);
                    close_to(a, want, 1e-6);
                    assert_true(fabsf(a) < fabsf(b));
                }
            }
        }
        free(before);
        fixture_free(pb);
    }
}

/* The vector element loop (AVX2 or SSE, what adam_apply runs) against the scalar
 * pmath_adam_elem, bit for bit: lengths with every remainder mod 8, both decay forms, several
 * steps so m and v carry history, values over many magnitudes (subnormal moments included). */
static void test_vector_equals_scalar(void **state) {
    (void)state;
    enum { NMAX = 203 };
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int form = 0; form < 2; form++)
        for (int n = 1; n <= NMAX; n += (n < 20 ? 1 : 23)) {
            float th[2][NMAX], m[2][NMAX], v[2][NMAX], g[NMAX];
            for (int i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                float a = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
                th[0][i] = th[1][i] = a * (float)(1 << (i % 7));
                m[0][i] = m[1][i] = i % 5 ? a * 1e-3f : 0.0f;
                v[0][i] = v[1][i] = i % 5 ? a * a * 1e-6f : (i % 10 ? 1e-40f : 0.0f);
            }
            for (int step = 1; step <= 5; step++) { /* step 5 stands for t >= 1650: bc2_sqrt = 1.0f */
                double bc2 = step == 5 ? 1 - pow(0.99, 2000) : 1 - pow(0.99, step);
                PmathAdamCoef c = {(float)(-1e-3 / (1 - pow(0.99, step))), (float)sqrt(bc2),
                                   form ? 0.0f : 1e-4f, form ? (float)(1 - 1e-7) : 1.0f, 0.01f, 0.99f, 0.01f, 1e-5f};
                for (int i = 0; i < n; i++) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    g[i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5) * (i % 3 ? 1.0f : 1e-6f);
                }
                if (step == 5) assert_true(c.bc2_sqrt == 1.0f);
                adam_apply_range(th[0], m[0], v[0], g, n, &c, 0);
                adam_apply_range(th[1], m[1], v[1], g, n, &c, 1);
                assert_memory_equal(th[0], th[1], n * sizeof(float));
                assert_memory_equal(m[0], m[1], n * sizeof(float));
                assert_memory_equal(v[0], v[1], n * sizeof(float));
            }
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_step),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_skip_rule),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_vector_equals_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
