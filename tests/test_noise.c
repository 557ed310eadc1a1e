/* test_noise.c: PA-MoE expert noise: statistics of the applied noise, exactly the expert tensors
 * touched, the Philox stream layout, per-run independence, determinism and the options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "noise.h"
#include "opt_fixture.h"

static NoiseState *make(const ParamBlock *pb, uint64_t key0, float sigma) {
    uint64_t keys[4];
    float sig[4], lr_ref[4];
    for (int r = 0; r < pb->R; r++) {
        keys[r] = key0 + 1000u * (uint64_t)r;
        sig[r] = sigma * (float)(r + 1); /* run r has std (r+1) sigma */
        lr_ref[r] = 1e-3f;
    }
    return noise_create(pb, keys, sig, lr_ref);
}

/* Over 4000 applications: per run, mean 0 and std sigma_r of the increments; non-expert
 * tensors bit-identical; increments of run 0 and run 1 uncorrelated. */
static void test_statistics_and_scope(void **state) {
    (void)state;
    ParamBlock *pb = fixture_create(2);
    NoiseConfig cfg;
    noise_config_default(&cfg);
    NoiseState *ns = make(pb, 7, 0.01f);
    assert_int_equal(ns->n_expert, 32);
    long n = 2 * pb->P;
    float *orig = malloc(n * sizeof(float)), *prev = malloc(n * sizeof(float));
    memcpy(orig, pb->params, n * sizeof(float));
    double sum[2] = {0}, sq[2] = {0}, cross = 0;
    long cnt = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(prev, pb->params, n * sizeof(float));
        assert_int_equal(noise_step(ns, &cfg, pb, NULL), 1);
        for (int t = 0; t < pb->n_tensors; t++) {
            if (pb->tensors[t].role != TENSOR_EXPERT) continue;
            long b = pb->tensors[t].offset;
            for (long i = b; i < b + param_tensor_size(&pb->tensors[t]); i++) {
                double d0 = (double)pb->params[i] - prev[i], d1 = (double)pb->params[pb->P + i] - prev[pb->P + i];
                sum[0] += d0;
                sq[0] += d0 * d0;
                sum[1] += d1;
                sq[1] += d1 * d1;
                cross += d0 * d1;
                cnt++;
            }
        }
    }
    for (int r = 0; r < 2; r++) {
        double sigma = 0.01 * (r + 1), mean = sum[r] / cnt, sd = sqrt(sq[r] / cnt - mean * mean);
        /* 128000 samples: std error of the mean sigma/358, of the std about sigma/506 */
        assert_true(fabs(mean) < 5 * sigma / 358);
        assert_true(fabs(sd / sigma - 1) < 5.0 / 506);
    }
    assert_true(fabs(cross / cnt / (0.01 * 0.02)) < 5.0 / 358);
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < pb->n_tensors; t++) {
            long b = (long)r * pb->P + pb->tensors[t].offset, sz = param_tensor_size(&pb->tensors[t]);
            int same = !memcmp(pb->params + b, orig + b, sz * sizeof(float));
            assert_int_equal(same, pb->tensors[t].role != TENSOR_EXPERT);
        }
    assert_true(ns->streams[0].offset == 4000 * 32 && ns->calls == 4000);
    free(orig);
    free(prev);
    noise_free(ns);
    fixture_free(pb);
}

/* The increments are sigma * (the run's Philox normals in tensor-table order), bit for bit;
 * run 1 with R = 2 equals the same run alone; the same keys give the same bytes. */
static void test_stream_layout_and_determinism(void **state) {
    (void)state;
    ParamBlock *a = fixture_create(2), *b = fixture_create(1);
    memcpy(b->params, a->params + a->P, a->P * sizeof(float));
    NoiseConfig cfg;
    noise_config_default(&cfg);
    NoiseState *na = make(a, 42, 0.001f);
    uint64_t key1 = 42 + 1000;
    float sig1 = 0.002f;
    NoiseState *nb = noise_create(b, &key1, &sig1, NULL);
    float *before = malloc(a->P * sizeof(float));
    for (int it = 0; it < 3; it++) {
        memcpy(before, a->params, a->P * sizeof(float));
        noise_step(na, &cfg, a, NULL);
        noise_step(nb, &cfg, b, NULL);
        float normals[32];
        prand_normal(42, (uint64_t)it * 32, normals, 32);
        long k = 0;
        for (int t = 0; t < a->n_tensors; t++) {
            const ParamTensor *T = &a->tensors[t];
            if (T->role != TENSOR_EXPERT) continue;
            for (long i = 0; i < param_tensor_size(T); i++, k++)
                assert_true(a->params[T->offset + i] == before[T->offset + i] + 0.001f * normals[k]);
        }
    }
    assert_memory_equal(a->params + a->P, b->params, a->P * sizeof(float));
    ParamBlock *c = fixture_create(2);
    NoiseState *nc = make(c, 42, 0.001f);
    for (int it = 0; it < 3; it++) noise_step(nc, &cfg, c, NULL);
    assert_memory_equal(a->params, c->params, 2 * a->P * sizeof(float));
    free(before);
    noise_free(na);
    noise_free(nb);
    noise_free(nc);
    fixture_free(a);
    fixture_free(b);
    fixture_free(c);
}

/* only_took_part skips expert 1 of run 0 but still consumes its normals (expert 0 then gets
 * the same increments as without the option); every_k = 3 applies at calls 3 and 6; the lr
 * scales multiply sigma by lr or lr / lr_ref. */
static void test_options(void **state) {
    (void)state;
    ParamBlock *a = fixture_create(1), *b = fixture_create(1);
    NoiseConfig all, some;
    noise_config_default(&all);
    noise_config_default(&some);
    some.only_took_part = 1;
    b->h_took_part[fixture_find(b, "experts.1.fc1.weight")] = 0;
    b->h_took_part[fixture_find(b, "experts.1.fc1.bias")] = 0;
    NoiseState *na = make(a, 5, 0.01f), *nb = make(b, 5, 0.01f);
    float *orig = malloc(a->P * sizeof(float));
    memcpy(orig, b->params, a->P * sizeof(float));
    noise_step(na, &all, a, NULL);
    noise_step(nb, &some, b, NULL);
    int e0 = fixture_find(a, "experts.0.fc1.weight"), e1 = fixture_find(a, "experts.1.fc1.weight");
    assert_memory_equal(a->params + a->tensors[e0].offset, b->params + b->tensors[e0].offset, 16 * sizeof(float));
    assert_memory_equal(b->params + b->tensors[e1].offset, orig + b->tensors[e1].offset, 16 * sizeof(float));
    assert_true(nb->streams[0].offset == na->streams[0].offset);

    NoiseConfig k3;
    noise_config_default(&k3);
    k3.every_k = 3;
    NoiseState *nk = make(a, 5, 0.01f);
    int applied[7];
    for (int c = 1; c <= 6; c++) applied[c] = noise_step(nk, &k3, a, NULL);
    assert_true(!applied[1] && !applied[2] && applied[3] && !applied[4] && !applied[5] && applied[6]);
    assert_true(nk->streams[0].offset == 2 * 32 && nk->calls == 6);
    noise_free(nk);

    NoiseConfig s;
    noise_config_default(&s);
    float lr = 5e-4f;
    s.scale = NOISE_SCALE_LR;
    assert_true(noise_sigma_eff(na, &s, 0, &lr) == (float)(0.01 * (double)5e-4f));
    s.scale = NOISE_SCALE_LR_RATIO;
    assert_true(fabsf(noise_sigma_eff(na, &s, 0, &lr) - 0.005f) < 1e-9f);
    /* and it is what noise_step applies */
    memcpy(orig, a->params, a->P * sizeof(float));
    uint64_t off = na->streams[0].offset;
    noise_step(na, &s, a, &lr);
    float normals[32];
    prand_normal(5, off, normals, 32);
    assert_true(a->params[a->tensors[e0].offset] == orig[a->tensors[e0].offset] + noise_sigma_eff(na, &s, 0, &lr) * normals[0]);
    free(orig);
    noise_free(na);
    noise_free(nb);
    fixture_free(a);
    fixture_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics_and_scope),
        cmocka_unit_test(test_stream_layout_and_determinism),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
