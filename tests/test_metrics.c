/* test_metrics.c: dormant ratio, ranks, router usage and the activation store against the
 * golden values of docs/reference/metrics.md sections 2-3 and constructed matrices with known answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "metrics.h"
#include "rng.h"

/* metrics.md section 2: X (40 x 18), X_ij = max(0, sin(0.7i + 1.3j) + 0.5 cos(0.11 i j)),
 * column 0 zeroed, column 1 scaled by 0.05, float32. */
static void golden_matrix(float *x) {
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 18; j++) {
            double v = sin(0.7 * i + 1.3 * j) + 0.5 * cos(0.11 * i * j);
            x[i * 18 + j] = (float)(v > 0 ? v : 0);
        }
    for (int i = 0; i < 40; i++) {
        x[i * 18 + 0] = 0.0f;
        x[i * 18 + 1] *= 0.05f;
    }
}

static void test_golden_dormant(void **state) {
    (void)state;
    float x[40 * 18], z[18];
    golden_matrix(x);
    MetricsDormant d;
    assert_int_equal(metrics_dormant(x, 40, 18, 0.5, &d, z), 0);
    assert_int_equal(d.n_neurons, 18);
    assert_int_equal(d.zero_count, 1);
    assert_int_equal(d.dormant_count, 2);
    assert_true(fabs(d.zero_pct - 5.5556) < 1e-4);
    assert_true(fabs(d.dormant_pct - 11.1111) < 1e-4);
    /* spec gives 4 decimals */
    const double want[4] = {0.0, 0.0506, 1.0849, 0.9331};
    for (int j = 0; j < 4; j++) assert_true(fabs(z[j] - want[j]) < 5e-5);
    /* neurons 0 and 1 are the dormant ones: every other score is above tau */
    for (int j = 2; j < 18; j++) assert_true(z[j] > 0.5f);
    /* the scores average to 1 by construction */
    double mean = 0;
    for (int j = 0; j < 18; j++) mean += z[j] / 18.0;
    assert_true(fabs(mean - 1.0) < 1e-5);
}

static void test_golden_ranks(void **state) {
    (void)state;
    float x[40 * 18];
    golden_matrix(x);
    PmError err;
    MetricsRanks r;
    assert_int_equal(metrics_ranks(x, 40, 18, METRICS_SVD_SGESDD, METRICS_RANK_EXACT, &r, &err), 0);
    assert_int_equal((int)r.rank, 17);
    assert_true(fabs(r.eff_rank - 11.2437) < 5e-4);
    assert_int_equal((int)r.approx_rank, 13);
    assert_int_equal((int)r.abs_approx_rank, 16);
    /* the Gram path agrees on every rank but the exact one is also 17 here: the zero
     * column gives an exactly zero row/column of X^T X */
    assert_int_equal(metrics_ranks(x, 40, 18, METRICS_SVD_GRAM, METRICS_RANK_EXACT, &r, &err), 0);
    assert_true(fabs(r.eff_rank - 11.2437) < 5e-4);
    assert_int_equal((int)r.approx_rank, 13);
    assert_int_equal((int)r.abs_approx_rank, 16);
    assert_int_equal(metrics_ranks(x, 40, 18, METRICS_SVD_SGESDD, METRICS_RANK_TOLERANCE, &r, &err), 0);
    assert_int_equal((int)r.rank, 17);
}

static void test_all_zero_and_empty(void **state) {
    (void)state;
    float x[30 * 18];
    memset(x, 0, sizeof x);
    PmError err;
    MetricsRanks r;
    for (int m = 0; m < 2; m++) {
        assert_int_equal(metrics_ranks(x, 30, 18, (MetricsSvdMethod)m, METRICS_RANK_EXACT, &r, &err), 0);
        assert_true(r.rank == 0 && r.eff_rank == 1.0 && r.approx_rank == 1 && r.abs_approx_rank == 1);
    }
    MetricsDormant d;
    assert_int_equal(metrics_dormant(x, 30, 18, 0.5, &d, NULL), 0);
    assert_int_equal(d.zero_count, 18);
    assert_int_equal(d.dormant_count, 18);
    /* empty: the reference skips it; the functions refuse it */
    assert_int_equal(metrics_dormant(x, 0, 18, 0.5, &d, NULL), -1);
    assert_int_equal(metrics_ranks(x, 0, 18, METRICS_SVD_SGESDD, METRICS_RANK_EXACT, &r, &err), -1);
    metrics_ranks_from_sv(NULL, 0, 0, 18, METRICS_RANK_EXACT, &r);
    assert_true(r.rank == 0 && r.eff_rank == 1.0 && r.approx_rank == 0 && r.abs_approx_rank == 0);
}

/* Orthonormal columns by modified Gram-Schmidt in double on a deterministic fill. */
static void orthonormal(double *q, int n, int k, double phase) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) q[i * k + j] = sin(phase + 0.37 * i * (j + 1) + 0.91 * j) + 0.1 * cos(1.7 * i);
    for (int j = 0; j < k; j++) {
        for (int p = 0; p < j; p++) {
            double dot = 0;
            for (int i = 0; i < n; i++) dot += q[i * k + j] * q[i * k + p];
            for (int i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p];
        }
        double nrm = 0;
        for (int i = 0; i < n; i++) nrm += q[i * k + j] * q[i * k + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < n; i++) q[i * k + j] /= nrm;
    }
}

/* X = U diag(s) V^T with 5 non-zero singular values: both SVD paths recover s; the
 * tolerance rank is 5; effective and approximate ranks follow from s in closed form. */
static void test_constructed_singular_values(void **state) {
    (void)state;
    enum { N = 200, D = 18, K = 5 };
    const double s[D] = {10, 6, 3, 1, 0.25};
    double *u = malloc(sizeof(double) * N * D), *v = malloc(sizeof(double) * D * D);
    orthonormal(u, N, D, 0.3);
    orthonormal(v, D, D, 1.1);
    float *x = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            double acc = 0;
            for (int k = 0; k < D; k++) acc += u[i * D + k] * s[k] * v[j * D + k];
            x[i * D + j] = (float)acc;
        }
    PmError err;
    float sig[D];
    for (int m = 0; m < 2; m++) {
        assert_int_equal(metrics_singular_values(x, N, D, (MetricsSvdMethod)m, sig, &err), D);
        for (int k = 0; k < D; k++) {
            /* float32 input: relative error ~1e-6 of sigma_max; the Gram path squares it,
             * so its noise floor on the zero values is ~sqrt(eps_double)*sigma_max-ish */
            double tol = m == 0 ? 1e-4 : 2e-3;
            assert_true(fabs(sig[k] - s[k]) < tol);
        }
    }
    MetricsRanks r;
    assert_int_equal(metrics_ranks(x, N, D, METRICS_SVD_SGESDD, METRICS_RANK_TOLERANCE, &r, &err), 0);
    assert_int_equal((int)r.rank, K);
    /* closed form from s */
    double sum = 0, sum2 = 0, h = 0;
    for (int k = 0; k < K; k++) {
        sum += s[k];
        sum2 += s[k] * s[k];
    }
    for (int k = 0; k < K; k++) h -= s[k] / sum * log(s[k] / sum);
    /* the 13 float-noise singular values (~1e-6) add a little entropy: tolerance 1e-3 */
    assert_true(fabs(r.eff_rank - exp(h)) < 1e-3);
    /* squared shares 100, 36, 9, 1, 0.0625 of 146.06: cumsum 0.685, 0.931, 0.993 -> 3 */
    assert_int_equal((int)r.approx_rank, 3);
    /* plain shares 10, 6, 3, 1, .25 of 20.25: cumsum .494, .790, .938, .988, 1.0 -> 5 */
    assert_int_equal((int)r.abs_approx_rank, 5);
    (void)sum2;
    free(u);
    free(v);
    free(x);
}

/* Known dormant units: column 3 all zero, column 7 scaled to 0.3 of the others' level,
 * column 11 at 0.6 (above tau 0.5). */
static void test_known_dormant(void **state) {
    (void)state;
    enum { N = 100, D = 18 };
    float x[N * D];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = (i + j) % 2 ? 1.0f : -1.0f; /* |x| = 1 */
    for (int i = 0; i < N; i++) {
        x[i * D + 3] = 0.0f;
        x[i * D + 7] *= 0.3f;
        x[i * D + 11] *= 0.6f;
    }
    float z[D];
    MetricsDormant d;
    assert_int_equal(metrics_dormant(x, N, D, 0.5, &d, z), 0);
    double mean = (15 + 0.3 + 0.6) / 18.0;
    assert_true(fabsf(z[0] - (float)(1.0 / mean)) < 1e-5f);
    assert_true(fabsf(z[7] - (float)(0.3 / mean)) < 1e-5f);
    assert_int_equal(d.zero_count, 1);
    assert_int_equal(d.dormant_count, 2); /* 3 and 7; z[11] = 0.68 */
    assert_int_equal(metrics_dormant(x, N, D, 0.7, &d, z), 0);
    assert_int_equal(d.dormant_count, 3);
}

static void test_router_and_weights(void **state) {
    (void)state;
    float g[5 * 3] = {1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0};
    double u[3];
    metrics_router_usage(g, 5, 3, u);
    assert_true(u[0] == 0.6 && u[1] == 0.2 && u[2] == 0.2);
    float w[4] = {-1, 2, -3, 0.5f};
    assert_true(metrics_weight_magnitude(w, 4) == 1.625);
}

/* Faithful hook emulation: after a commit every expert ever hooked contributes its last
 * rows (stale for the unselected one); clear keeps the hooks. Totals skip empty keys. */
static void test_store(void **state) {
    (void)state;
    MetricsStore *s = metrics_store_create(18, 3);
    float a[3 * 18], b[18], gate[3] = {0, 1, 0};
    for (int i = 0; i < 3 * 18; i++) a[i] = (float)(i % 18 == 0 ? 0 : 1 + i % 5);
    for (int i = 0; i < 18; i++) b[i] = 1.0f;
    /* a training minibatch routed 3 rows to expert 2 */
    metrics_store_hook(s, METRICS_POLICY, 2, 0, a, 3);
    /* rollout step 1: expert 1 selected */
    metrics_store_hook(s, METRICS_POLICY, 1, 0, b, 1);
    metrics_store_append_router(s, METRICS_POLICY, gate, 1);
    metrics_store_commit_step(s, METRICS_POLICY);
    /* rollout step 2: expert 1 again */
    metrics_store_hook(s, METRICS_POLICY, 1, 0, b, 1);
    metrics_store_append_router(s, METRICS_POLICY, gate, 1);
    metrics_store_commit_step(s, METRICS_POLICY);
    /* a key that appears but gets no rows (e.g. routed-only option, never selected) */
    metrics_store_append(s, METRICS_VALUE, 0, 1, b, 0);

    MetricsOptions opt = metrics_options_default();
    MetricsIterStats st;
    PmError err;
    assert_int_equal(metrics_store_compute(s, &opt, &st, &err), 0);
    assert_int_equal(st.n_keys, 4);
    assert_string_equal(st.keys[0].name, "expert_2_policy_0_layer"); /* first appearance */
    assert_string_equal(st.keys[1].name, "expert_1_policy_0_layer");
    assert_string_equal(st.keys[2].name, "policy_router");
    assert_int_equal(st.keys[0].rows, 6); /* stale 3 rows, twice */
    assert_int_equal(st.keys[1].rows, 2);
    assert_int_equal(st.keys[2].rows, 2);
    assert_false(st.keys[3].valid);
    assert_true(st.keys[2].usage[1] == 1.0 && st.keys[2].usage[0] == 0.0);
    assert_int_equal(st.keys[0].dormant.zero_count, 1);
    assert_int_equal(st.keys[1].dormant.zero_count, 0);
    assert_int_equal(st.total_neurons, 36);
    assert_int_equal(st.total_zero_count, 1);
    assert_true(fabs(st.total_zero_pct - 100.0 / 36) < 1e-12);
    /* two identical rows: rank 1 mathematically, but the exact count sees the rounding
     * residue of the second singular value (spec: "almost always min(n, d)") */
    assert_true(st.keys[1].ranks.rank >= 1);
    MetricsRanks r;
    float two[2 * 18];
    memcpy(two, b, sizeof b);
    memcpy(two + 18, b, sizeof b);
    assert_int_equal(metrics_ranks(two, 2, 18, METRICS_SVD_SGESDD, METRICS_RANK_TOLERANCE, &r, &err), 0);
    assert_int_equal((int)r.rank, 1);
    const MetricsKeyStats *k = metrics_stats_find(&st, METRICS_POLICY, 2, 0);
    assert_non_null(k);
    assert_int_equal(k->rows, 6);
    assert_null(metrics_stats_find(&st, METRICS_VALUE, 2, 0));

    metrics_store_clear(s);
    metrics_store_commit_step(s, METRICS_POLICY); /* hooks survive the clear */
    assert_int_equal(metrics_store_compute(s, &opt, &st, &err), 0);
    assert_int_equal(st.keys[0].rows, 3);
    assert_int_equal(st.keys[1].rows, 1);
    assert_false(st.keys[2].valid);
    metrics_store_free(s);
}

static void test_names(void **state) {
    (void)state;
    char buf[64];
    metrics_format_tau(buf, sizeof buf, 0.5);
    assert_string_equal(buf, "0.5");
    metrics_format_tau(buf, sizeof buf, 1.0);
    assert_string_equal(buf, "1.0");
    metrics_format_tau(buf, sizeof buf, 0.1);
    assert_string_equal(buf, "0.1");
    metrics_format_tau(buf, sizeof buf, 1e-5);
    assert_string_equal(buf, "1e-05");
    MetricsName *names;
    MetricsCatalogSpec moe = {{3, 3}, 0.5}, mlp = {{0, 0}, 0.5}, mixed = {{0, 3}, 0.5};
    int n = metrics_catalog(&moe, &names);
    /* 22 fixed + 24 dormant + 4 totals + 48 ranks + 6 router + 12 weights */
    assert_int_equal(n, 116);
    int found = 0;
    for (int i = 0; i < n; i++) {
        found += !strcmp(names[i].name, "Dorman/expert_2_value_1_layer_0.5_fraction");
        found += !strcmp(names[i].name, "Ranks/expert_0_policy_0_layer_abs_approx_rank");
        found += !strcmp(names[i].name, "expert_2_value_router");
        found += !strcmp(names[i].name, "Weights/expert_1_policy_0_layer_mean");
        for (int j = 0; j < i; j++) assert_string_not_equal(names[i].name, names[j].name);
    }
    assert_int_equal(found, 4);
    free(names);
    n = metrics_catalog(&mlp, &names);
    assert_int_equal(n, 22 + 8 + 4 + 16 + 4);
    found = 0;
    for (int i = 0; i < n; i++) found += !strcmp(names[i].name, "Weights/value_1_layer_mean");
    assert_int_equal(found, 1);
    free(names);
    /* policy mlp, value moe: each net listed as what it is (no NaN columns for experts the
     * MLP does not have, no router for it) */
    n = metrics_catalog(&mixed, &names);
    assert_int_equal(n, 22 + (4 + 12) + 4 + (8 + 24) + 3 + (2 + 6));
    found = 0;
    for (int i = 0; i < n; i++) {
        found += !strcmp(names[i].name, "Weights/policy_0_layer_mean");
        found += !strcmp(names[i].name, "Weights/expert_2_value_1_layer_mean");
        found += !strcmp(names[i].name, "expert_2_value_router");
        found += !strcmp(names[i].name, "Dorman/expert_0_policy_1_layer_zero_fraction");
        assert_true(strcmp(names[i].name, "expert_0_policy_router") != 0);
        assert_true(strcmp(names[i].name, "Dorman/expert_1_policy_0_layer_zero_fraction") != 0);
        assert_true(strcmp(names[i].name, "Weights/expert_0_policy_0_layer_mean") != 0);
    }
    assert_int_equal(found, 4);
    free(names);
}

typedef struct {
    int n;
    char name[256][96];
    double value[256];
} Emitted;

static void collect(void *ctx, const char *name, double value) {
    Emitted *e = ctx;
    assert_true(e->n < 256);
    snprintf(e->name[e->n], sizeof e->name[0], "%s", name);
    e->value[e->n++] = value;
}

static double emitted(const Emitted *e, const char *name) {
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->name[i], name)) return e->value[i];
    fail_msg("not emitted: %s", name);
    return NAN;
}

/* Every emitted name is in the catalog (so the run file has a dataset for it), with the
 * value of the stats: a full dense-MoE iteration on the golden matrix. */
static void test_emit(void **state) {
    (void)state;
    float x[40 * 18], g[40 * 3];
    golden_matrix(x);
    for (int i = 0; i < 40; i++)
        for (int e = 0; e < 3; e++) g[i * 3 + e] = e == i % 3 ? 0.5f : 0.25f;
    MetricsStore *s = metrics_store_create(18, 3);
    for (int net = 0; net < 2; net++) {
        for (int e = 0; e < 3; e++)
            for (int l = 0; l < 2; l++) metrics_store_append(s, (MetricsNet)net, e, l, x, 40);
        metrics_store_append_router(s, (MetricsNet)net, g, 40);
    }
    MetricsOptions opt = metrics_options_default();
    MetricsIterStats st;
    PmError err;
    assert_int_equal(metrics_store_compute(s, &opt, &st, &err), 0);
    static Emitted em;
    em.n = 0;
    metrics_stats_emit(&st, opt.tau, collect, &em);
    /* 12 keys x (2 dormant + 4 ranks) + 2 x 3 router + 4 totals */
    assert_int_equal(em.n, 12 * 6 + 6 + 4);
    MetricsName *names;
    MetricsCatalogSpec spec = {{3, 3}, 0.5};
    int n = metrics_catalog(&spec, &names);
    for (int i = 0; i < em.n; i++) {
        int found = 0;
        for (int j = 0; j < n && !found; j++) found = !strcmp(names[j].name, em.name[i]);
        if (!found) fail_msg("emitted name not in the catalog: %s", em.name[i]);
    }
    free(names);
    assert_true(fabs(emitted(&em, "Dorman/expert_1_value_0_layer_0.5_fraction") - 100.0 * 2 / 18) < 1e-9);
    assert_true(emitted(&em, "Ranks/expert_2_policy_1_layer_approx_rank") == 13);
    assert_true(fabs(emitted(&em, "Ranks/expert_0_value_1_layer_eff_rank") - 11.2437) < 5e-4);
    assert_true(emitted(&em, "Dorman/total_zero_count") == 12);
    assert_true(emitted(&em, "Dorman/total_dorman_count") == 24);
    assert_true(fabs(emitted(&em, "Dorman/total_dorman_fraction") - 100.0 * 24 / 216) < 1e-9);
    /* 14 rows of 0.5 + 26 of 0.25 for expert 0 (i % 3 == 0 for 14 of 40 rows) */
    assert_true(fabs(emitted(&em, "expert_0_policy_router") - (14 * 0.5 + 26 * 0.25) / 40) < 1e-7);
    metrics_store_free(s);
    char w[96];
    metrics_weight_name(w, sizeof w, 0, METRICS_VALUE, 0, 1);
    assert_string_equal(w, "Weights/value_1_layer_mean");
}

/* The SGESDD method calls LAPACK's sgesdd directly (and splits tall matrices into sgeqrf +
 * sgesdd on R exactly as sgesdd itself does, host/metrics/metrics_stats.c): it must give LAPACKE_sgesdd's
 * singular values bit for bit (the faithful exact "rank" counts exact zeros), on tall, square,
 * wide, zero-column, rank-deficient and extreme-scale matrices (the last take the fallback). */
static void test_svd_equals_lapacke(void **state) {
    (void)state;
    const int shapes[][2] = {{2000, 18}, {2000, 18}, {300, 18}, {64, 18}, {18, 18}, {7, 18}, {900, 40}};
    const float scales[] = {1.0f, 1.0f, 1e-9f, 1e5f, 1.0f, 1.0f, 1.0f};
    Rng rng;
    rng_seed(&rng, 11, RNG_GEN, 0);
    for (int c = 0; c < PM_ARRAY_LEN(scales); c++) {
        int n = shapes[c][0], d = shapes[c][1];
        float *x = malloc(sizeof(float) * n * d), *a = malloc(sizeof(float) * n * d);
        for (int i = 0; i < n * d; i++) {
            double u = rng_uniform(&rng);
            x[i] = u < 0.4 ? 0.0f : (float)(scales[c] * (u - 0.4)); /* ReLU-like, many zeros */
        }
        if (c == 1)
            for (int i = 0; i < n; i++) { x[i * d + 3] = 0.0f; x[i * d + 5] = 2.0f * x[i * d + 4]; }
        float ours[64], ref[64];
        PmError err;
        int k = metrics_singular_values(x, n, d, METRICS_SVD_SGESDD, ours, &err);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) a[(size_t)j * n + i] = x[(size_t)i * d + j];
        assert_int_equal(LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', n, d, a, n, ref, NULL, 1, NULL, 1), 0);
        assert_int_equal(k, n < d ? n : d);
        if (memcmp(ours, ref, sizeof(float) * k)) fail_msg("case %d (%d x %d): singular values differ from LAPACKE_sgesdd", c, n, d);
        free(x);
        free(a);
    }
}

/* metrics_singular_values (the split sgeqrf + sgesdd-of-R path for tall matrices, sgesdd
 * itself otherwise, buffers reused) equals LAPACKE_sgesdd on the column-major copy bit for
 * bit over a sweep: tall, square and wide shapes, on both sides of sgesdd's path-1 threshold
 * (m >= int(11 n / 6)) and of sgeqrf's blocked path (n 40, 64), scales where sgesdd scales
 * (1e-13, 1e13) and where this code hands the whole matrix to sgesdd (1e-10), signed dense,
 * ReLU-like, rank-deficient (repeated rows, a zero and a duplicated column) and NaN input. */
static void test_svd_sweep_equals_lapacke(void **state) {
    (void)state;
    const int ms[] = {1, 2, 5, 17, 18, 32, 33, 34, 60, 129, 700, 2001};
    const int ns[] = {1, 2, 5, 17, 18, 33, 40, 64};
    const float scales[] = {1e-13f, 1e-10f, 1e-3f, 1.0f, 3e4f, 1e13f};
    Rng rng;
    rng_seed(&rng, 17, RNG_GEN, 0);
    float *x = malloc(sizeof(float) * 2001 * 64), *a = malloc(sizeof(float) * 2001 * 64);
    int cases = 0;
    for (int mi = 0; mi < PM_ARRAY_LEN(ms); mi++)
        for (int ni = 0; ni < PM_ARRAY_LEN(ns); ni++)
            for (int pat = 0; pat < 5; pat++) {
                int m = ms[mi], n = ns[ni];
                float sc = scales[(mi + ni + pat) % PM_ARRAY_LEN(scales)];
                if (m * n > 40000 && pat > 1) continue; /* keep the sweep fast */
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double u = rng_uniform(&rng);
                        float v = (float)(sc * (2.0 * u - 1.0));
                        if (pat == 1) v = u < 0.5 ? 0.0f : (float)(sc * (u - 0.5));   /* ReLU-like */
                        if (pat == 2 && i >= 3) v = x[(size_t)(i % 3) * n + j];       /* rank <= 3 */
                        if (pat == 3 && (j == 0 || j == n - 1)) v = j == 0 ? 0.0f : x[(size_t)i * n];
                        x[(size_t)i * n + j] = v;
                    }
                if (pat == 3 && n > 1)
                    for (int i = 0; i < m; i++) x[(size_t)i * n + n - 1] = x[(size_t)i * n + (n > 2)];
                if (pat == 4) x[(size_t)(m / 2) * n + n / 2] = NAN;
                float ours[64], ref[64];
                PmError err;
                int k = metrics_singular_values(x, m, n, METRICS_SVD_SGESDD, ours, &err);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) a[(size_t)j * m + i] = x[(size_t)i * n + j];
                lapack_int info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', m, n, a, m, ref, NULL, 1, NULL, 1);
                if (pat == 4) { /* LAPACKE refuses NaN input (-5); ours hands it to sgesdd */
                    assert_int_equal(info, -5);
                    assert_true(k == -1 || k == (m < n ? m : n)); /* an error or values, no crash */
                    continue;
                }
                assert_int_equal(info, 0);
                assert_int_equal(k, m < n ? m : n);
                if (memcmp(ours, ref, sizeof(float) * k))
                    fail_msg("%d x %d, pattern %d, scale %g: singular values differ from LAPACKE_sgesdd",
                             m, n, pat, (double)sc);
                cases++;
            }
    assert_true(cases > 300);
    free(x);
    free(a);
}

/* The store keeps run-length segments and writes the matrix out column-major at the end;
 * its statistics must equal those of the plain row-major matrix (metrics_dormant,
 * metrics_ranks, metrics_router_usage) bit for bit, for stale hooks of 1-4 rows repeated,
 * new hooks, direct appends in between and a clear. */
static void test_store_equals_direct(void **state) {
    (void)state;
    enum { D = 18, E = 3, STEPS = 700 };
    MetricsStore *s = metrics_store_create(D, E);
    Rng rng;
    rng_seed(&rng, 23, RNG_GEN, 1);
    /* expected matrices, row-major, per (expert, layer) of the policy net and its router */
    float *want[E][2], *want_g = malloc(sizeof(float) * STEPS * E);
    int n_want[E][2] = {{0}}, n_g = 0;
    float hook[E][2][4 * D];
    int hook_rows[E][2] = {{0}};
    for (int e = 0; e < E; e++)
        for (int l = 0; l < 2; l++) want[e][l] = malloc(sizeof(float) * STEPS * 8 * D);
    for (int iter = 0; iter < 2; iter++) {
        for (int step = 0; step < STEPS; step++) {
            int e = (int)(rng_uniform(&rng) * E), rows = rng_uniform(&rng) < 0.8 ? 1 : 1 + (int)(rng_uniform(&rng) * 4);
            for (int l = 0; l < 2; l++) {
                for (int i = 0; i < rows * D; i++) {
                    double u = rng_uniform(&rng);
                    hook[e][l][i] = u < 0.3 ? 0.0f : (float)(u * (l + 1));
                }
                metrics_store_hook(s, METRICS_POLICY, e, l, hook[e][l], rows);
                hook_rows[e][l] = rows;
            }
            float g[E] = {0};
            g[e] = 1.0f;
            metrics_store_append_router(s, METRICS_POLICY, g, 1);
            memcpy(want_g + (size_t)n_g++ * E, g, sizeof g);
            if (step % 97 == 5) { /* a direct append between commits */
                metrics_store_append(s, METRICS_POLICY, e, 1, hook[e][1], 1);
                memcpy(want[e][1] + (size_t)n_want[e][1]++ * D, hook[e][1], sizeof(float) * D);
            }
            metrics_store_commit_step(s, METRICS_POLICY);
            for (int ee = 0; ee < E; ee++)
                for (int l = 0; l < 2; l++) {
                    memcpy(want[ee][l] + (size_t)n_want[ee][l] * D, hook[ee][l], sizeof(float) * hook_rows[ee][l] * D);
                    n_want[ee][l] += hook_rows[ee][l];
                }
        }
        MetricsOptions opt = metrics_options_default();
        MetricsIterStats st;
        PmError err;
        assert_int_equal(metrics_store_compute(s, &opt, &st, &err), 0);
        for (int e = 0; e < E; e++)
            for (int l = 0; l < 2; l++) {
                const MetricsKeyStats *k = metrics_stats_find(&st, METRICS_POLICY, e, l);
                assert_non_null(k);
                assert_int_equal(k->rows, n_want[e][l]);
                MetricsDormant d;
                MetricsRanks r;
                assert_int_equal(metrics_dormant(want[e][l], n_want[e][l], D, opt.tau, &d, NULL), 0);
                assert_int_equal(metrics_ranks(want[e][l], n_want[e][l], D, opt.svd, opt.rank_mode, &r, &err), 0);
                assert_int_equal(k->dormant.zero_count, d.zero_count);
                assert_int_equal(k->dormant.dormant_count, d.dormant_count);
                assert_true(k->dormant.zero_pct == d.zero_pct && k->dormant.dormant_pct == d.dormant_pct);
                assert_memory_equal(&k->ranks, &r, sizeof r); /* four doubles, no padding */
            }
        const MetricsKeyStats *k = metrics_stats_find(&st, METRICS_POLICY, -1, METRICS_ROUTER_LAYER);
        double u[E];
        metrics_router_usage(want_g, n_g, E, u);
        assert_memory_equal(k->usage, u, sizeof u);
        metrics_store_clear(s);
        for (int e = 0; e < E; e++)
            for (int l = 0; l < 2; l++) n_want[e][l] = 0;
        n_g = 0;
    }
    for (int e = 0; e < E; e++)
        for (int l = 0; l < 2; l++) free(want[e][l]);
    free(want_g);
    metrics_store_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_dormant),
        cmocka_unit_test(test_golden_ranks),
        cmocka_unit_test(test_all_zero_and_empty),
        cmocka_unit_test(test_constructed_singular_values),
        cmocka_unit_test(test_known_dormant),
        cmocka_unit_test(test_router_and_weights),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_emit),
        cmocka_unit_test(test_svd_equals_lapacke),
        cmocka_unit_test(test_svd_sweep_equals_lapacke),
        cmocka_unit_test(test_store_equals_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
