/* test_plasticity.c: the plasticity methods (plasticity.h) on real networks over the CPU
 * backend: ReDo recycles exactly the hand-named units and nothing else, shrink-and-perturb's
 * two limits, which tensors each reset part touches, the L2-init gradient against finite
 * differences, and where noise_target = grads puts the expert noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_fixture.h"
#include "plasticity.h"
#include "prand.h"

#define R 2

/* A small network (in 5, hidden 4, 3 experts, 3 actions) with params, Adam moments and step
 * counts all set to distinct non-zero values, so any stray write shows. */
static Net *make_net(NetKind kind, NetRole role) {
    NetConfig c = net_config_default(kind, role);
    c.in = 5;
    c.hidden = 4;
    c.experts = 3;
    c.actions = 3;
    uint64_t seeds[R] = {11, 12};
    PmError err;
    Net *n = net_create(g_be, &c, R, 8, seeds, &err);
    assert_non_null(n);
    ParamBlock *pb = &n->pb;
    for (long i = 0; i < R * pb->P; i++) {
        pb->adam_m[i] = 0.001f * (float)(i + 1);
        pb->adam_v[i] = 0.002f * (float)(i + 3);
    }
    for (int i = 0; i < R * pb->n_tensors; i++) pb->h_adam_step[i] = 7 + i;
    return n;
}

typedef struct {
    float *p, *m, *v;
    int32_t *steps;
} Snapshot;

static Snapshot snap(const Net *n) {
    const ParamBlock *pb = &n->pb;
    size_t nf = (size_t)R * pb->P;
    Snapshot s = {malloc(nf * 4), malloc(nf * 4), malloc(nf * 4), malloc((size_t)R * pb->n_tensors * 4)};
    memcpy(s.p, pb->params, nf * 4);
    memcpy(s.m, pb->adam_m, nf * 4);
    memcpy(s.v, pb->adam_v, nf * 4);
    memcpy(s.steps, pb->h_adam_step, (size_t)R * pb->n_tensors * 4);
    return s;
}
static void snap_free(Snapshot *s) { free(s->p); free(s->m); free(s->v); free(s->steps); }

static int same_bits(float a, float b) { return !memcmp(&a, &b, sizeof a); }

/* Fresh values of run r for event `ev` (what the methods must write). */
static float *fresh_of(const Net *n, const uint64_t *seeds) {
    float *f = malloc((size_t)R * n->pb.P * 4);
    for (int r = 0; r < R; r++) net_init_values(n, seeds[r], f + (size_t)r * n->pb.P);
    return f;
}

/* Scores by hand: column mean |x| = 1, 0, 3, 0.1 -> mean 1.025 -> z = 0.976, 0, 2.93, 0.0976:
 * at tau 0.1 units 1 and 3 are dormant, at tau 0.0 only unit 1, at tau 1 units 0, 1, 3. */
static void test_redo_select_hand(void **state) {
    (void)state;
    const float x[3 * 4] = {1, 0, 3, 0.1f, -1, 0, -3, -0.1f, 1, 0, 3, 0.1f};
    uint8_t d[4];
    assert_int_equal(plast_redo_select(x, 3, 4, 0.1, d), 2);
    assert_int_equal(d[0], 0); assert_int_equal(d[1], 1); assert_int_equal(d[2], 0); assert_int_equal(d[3], 1);
    assert_int_equal(plast_redo_select(x, 3, 4, 0.0, d), 1);
    assert_int_equal(d[1], 1);
    assert_int_equal(plast_redo_select(x, 3, 4, 1.0, d), 3);
    assert_int_equal(d[2], 0);
    assert_int_equal(plast_redo_select(x, 0, 4, 1.0, d), 0); /* no rows: nothing recycled */
}

/* Run 0: expert 0's h1 unit 1, expert 1's h2 unit 2, and h2 unit 3 in every expert (so the
 * head's column 3 is zeroed, column 2 is not); run 1: nothing. The expected value of every
 * element is derived from (tensor, row, column) by the rules of plasticity.h. */
static void test_redo_exact(void **state) {
    (void)state;
    for (int kind = NET_MLP; kind <= NET_PAMOE; kind++) {
        Net *n = make_net((NetKind)kind, NET_POLICY);
        ParamBlock *pb = &n->pb;
        int E = n->E, H = 4;
        PlastNet *p = plast_net_create(n);
        uint8_t *dorm = calloc((size_t)R * E * 2 * H, 1);
#define DORM(r, e, layer, j) dorm[((size_t)((r) * E + (e)) * 2 + (layer)) * H + (j)]
        DORM(0, 0, 0, 1) = 1;
        if (E > 1) DORM(0, 1, 1, 2) = 1;
        for (int e = 0; e < E; e++) DORM(0, e, 1, 3) = 1;
        Snapshot s = snap(n);
        uint64_t seeds[R] = {plast_fresh_seed(11, 4), plast_fresh_seed(12, 4)};
        float *fresh = fresh_of(n, seeds);
        long recycled[R], written[R];
        plast_redo(p, seeds, dorm, recycled, written);
        assert_int_equal(recycled[0], 1 + (E > 1) + E);
        assert_int_equal(recycled[1], 0);
        long n_fresh = 0, n_zero = 0;
        for (int r = 0; r < R; r++)
            for (int t = 0; t < pb->n_tensors; t++) {
                const ParamTensor *pt = &pb->tensors[t];
                for (int i = 0; i < pt->rows; i++)
                    for (int j = 0; j < pt->cols; j++) {
                        size_t k = (size_t)r * pb->P + pt->offset + (size_t)i * pt->cols + j;
                        int want_fresh = 0, want_zero = 0;
                        for (int e = 0; e < E && r == 0; e++) {
                            if ((t == n->t_w1[e] || t == n->t_b1[e]) && DORM(0, e, 0, i)) want_fresh = 1;
                            if ((t == n->t_w2[e] || t == n->t_b2[e]) && DORM(0, e, 1, i)) want_fresh = 1;
                            if (t == n->t_w2[e] && DORM(0, e, 0, j)) want_zero = 1;
                        }
                        if (r == 0 && t == n->t_head_w && j == 3) want_zero = 1;
                        if (want_fresh) {
                            assert_true(same_bits(pb->params[k], fresh[k]));
                            n_fresh++;
                        } else if (want_zero) {
                            assert_true(pb->params[k] == 0.0f);
                            n_zero++;
                        } else {
                            assert_true(same_bits(pb->params[k], s.p[k]));
                        }
                        if (want_fresh || want_zero) {
                            assert_true(pb->adam_m[k] == 0.0f && pb->adam_v[k] == 0.0f);
                        } else {
                            assert_true(same_bits(pb->adam_m[k], s.m[k]) && same_bits(pb->adam_v[k], s.v[k]));
                        }
                    }
            }
        /* by hand: W1 row (5) + b1 (1) of the h1 unit; W2 row (4) + b2 (1) per h2 unit; zeros:
         * expert 0's W2 column 1 (4 rows, less row 3, fresh as expert 0's h2 unit 3 is
         * recycled) and the head's column 3 (3 actions) */
        long want_fresh = 6 + 5 * ((E > 1) + E), want_zero = 3 + 3;
        assert_int_equal(n_fresh, want_fresh);
        assert_int_equal(n_zero, want_zero);
        assert_int_equal(written[0], want_fresh + want_zero);
        assert_int_equal(written[1], 0);
        assert_memory_equal(pb->h_adam_step, s.steps, (size_t)R * pb->n_tensors * 4); /* steps kept */
        free(fresh);
        free(dorm);
        snap_free(&s);
        plast_net_free(p);
        net_free(n);
#undef DORM
    }
}

static void test_shrink_perturb_limits(void **state) {
    (void)state;
    for (int kind = NET_MLP; kind <= NET_PAMOE; kind++) {
        Net *n = make_net((NetKind)kind, NET_VALUE);
        ParamBlock *pb = &n->pb;
        size_t nf = (size_t)R * pb->P;
        PlastNet *p = plast_net_create(n);
        uint64_t seeds[R] = {plast_fresh_seed(11, 9), plast_fresh_seed(12, 9)};
        for (long i = 0; i < (long)nf; i++) pb->params[i] += 0.01f * (float)(i % 7); /* trained */
        Snapshot s = snap(n);
        assert_int_equal(plast_shrink_perturb(p, seeds, 1.0f, 0.0f), pb->P);
        assert_memory_equal(pb->params, s.p, nf * 4);
        float *fresh = fresh_of(n, seeds);
        plast_shrink_perturb(p, seeds, 0.0f, 1.0f);
        assert_memory_equal(pb->params, fresh, nf * 4);
        /* a fresh initialisation from the same stream: net_init_run with that seed */
        for (int r = 0; r < R; r++) net_init_run(n, r, seeds[r]);
        assert_memory_equal(pb->params, fresh, nf * 4);
        /* Adam state was never touched by shrink-and-perturb */
        memcpy(pb->params, s.p, nf * 4);
        plast_shrink_perturb(p, seeds, 0.5f, 0.25f);
        for (size_t i = 0; i < nf; i++) {
            float a = 0.5f * s.p[i], b = 0.25f * fresh[i];
            assert_true(same_bits(pb->params[i], a + b));
        }
        free(fresh);
        snap_free(&s);
        plast_net_free(p);
        net_free(n);
    }
}

/* Each part touches exactly its named tensors, in every run; with reset_adam their moments and
 * step counts restart, without it they stay. */
static void test_reset_parts(void **state) {
    (void)state;
    static const char *names[4] = {"head", "last_hidden", "experts", "all"};
    for (int kind = NET_MLP; kind <= NET_PAMOE; kind++)
        for (int part = 0; part < 4; part++)
            for (int adam = 0; adam < 2; adam++) {
                Net *n = make_net((NetKind)kind, NET_POLICY);
                ParamBlock *pb = &n->pb;
                assert_int_equal(plast_part_parse(names[part]), part);
                PlastNet *p = plast_net_create(n);
                uint64_t seeds[R] = {plast_fresh_seed(11, 2), plast_fresh_seed(12, 2)};
                Snapshot s = snap(n);
                float *fresh = fresh_of(n, seeds);
                long w = plast_reset(p, seeds, (PlastPart)part, adam);
                long want_w = 0;
                for (int t = 0; t < pb->n_tensors; t++) {
                    const char *nm = pb->tensors[t].name;
                    /* the parts by name, independent of plast_part_has */
                    int in = part == 3 || (part == 0 && !strncmp(nm, "head.", 5)) ||
                             (part == 1 && strstr(nm, "fc2.")) || (part == 2 && strstr(nm, "xpert"));
                    assert_int_equal(plast_part_has(n, (PlastPart)part, t), in);
                    long sz = param_tensor_size(&pb->tensors[t]);
                    if (in) want_w += sz;
                    for (int r = 0; r < R; r++) {
                        size_t o = (size_t)r * pb->P + pb->tensors[t].offset;
                        int32_t step = pb->h_adam_step[r * pb->n_tensors + t];
                        if (in) {
                            assert_memory_equal(pb->params + o, fresh + o, (size_t)sz * 4);
                            assert_int_equal(step, adam ? 0 : s.steps[r * pb->n_tensors + t]);
                        } else {
                            assert_memory_equal(pb->params + o, s.p + o, (size_t)sz * 4);
                            assert_int_equal(step, s.steps[r * pb->n_tensors + t]);
                        }
                        for (long i = 0; i < sz; i++) {
                            if (in && adam) assert_true(pb->adam_m[o + i] == 0.0f && pb->adam_v[o + i] == 0.0f);
                            else assert_true(same_bits(pb->adam_m[o + i], s.m[o + i]) && same_bits(pb->adam_v[o + i], s.v[o + i]));
                        }
                    }
                }
                assert_int_equal(w, want_w);
                free(fresh);
                snap_free(&s);
                plast_net_free(p);
                net_free(n);
            }
}

/* L(theta) = c ||theta - theta_0||^2 in double; its central difference at a few elements
 * against the gradient the backend op adds (to a non-zero gradient, which must be kept). */
static double l2_loss(const ParamBlock *pb, const float *theta0, double c) {
    double s = 0;
    for (long i = 0; i < R * pb->P; i++) s += ((double)pb->params[i] - theta0[i]) * ((double)pb->params[i] - theta0[i]);
    return c * s;
}

static void test_l2_init_fd(void **state) {
    (void)state;
    Net *n = make_net(NET_PAMOE, NET_POLICY);
    ParamBlock *pb = &n->pb;
    PlastNet *p = plast_net_create(n);
    size_t nf = (size_t)R * pb->P;
    for (size_t i = 0; i < nf; i++) {
        pb->params[i] += 0.05f * (float)((int)(i % 11) - 5);
        pb->grads[i] = 0.125f * (float)(i % 3);
    }
    float *g0 = malloc(nf * 4);
    memcpy(g0, pb->grads, nf * 4);
    const double c = 0.3;
    plast_l2_init_grad(p, (float)c);
    /* the penalty the metric reports is the same sum */
    double sq[R * PARAMS_MAX_TENSORS], tot = 0;
    plast_dist_sq(p, pb->params, sq);
    for (int i = 0; i < R * pb->n_tensors; i++) tot += sq[i];
    assert_true(fabs(c * tot - l2_loss(pb, p->h_theta0, c)) < 1e-9 * (1 + c * tot));
    const long idx[] = {0, 7, pb->P / 2, pb->P - 1, pb->P + 3, 2 * pb->P - 2};
    for (int q = 0; q < PM_ARRAY_LEN(idx); q++) {
        long i = idx[q];
        float keep = pb->params[i];
        const float h = 1e-2f;
        pb->params[i] = keep + h;
        double lp = l2_loss(pb, p->h_theta0, c);
        pb->params[i] = keep - h;
        double lm = l2_loss(pb, p->h_theta0, c);
        pb->params[i] = keep;
        double fd = (lp - lm) / (2.0 * h), an = (double)pb->grads[i] - g0[i];
        assert_true(fabs(fd - an) < 1e-4 * (1 + fabs(fd)));
    }
    free(g0);
    plast_net_free(p);
    net_free(n);
}

/* noise_target = grads: the draws noise_step adds to the parameters land, the same bits, on
 * the expert gradients; the parameters and the other gradients are untouched. */
static void test_noise_on_grads(void **state) {
    (void)state;
    Net *a = make_net(NET_PAMOE, NET_POLICY), *b = make_net(NET_PAMOE, NET_POLICY);
    size_t nf = (size_t)R * a->pb.P;
    uint64_t keys[R] = {prand_derive_seed(11, PRAND_EXPERT_NOISE, 0), prand_derive_seed(12, PRAND_EXPERT_NOISE, 0)};
    float sigma[R] = {0.01f, 0.02f};
    NoiseConfig cfg;
    noise_config_default(&cfg);
    NoiseState *na = noise_create(&a->pb, keys, sigma, NULL), *nb = noise_create(&b->pb, keys, sigma, NULL);
    memset(a->pb.params, 0, nf * 4); /* then params = the noise itself */
    memset(b->pb.grads, 0, nf * 4);
    float *pb_before = malloc(nf * 4);
    memcpy(pb_before, b->pb.params, nf * 4);
    assert_int_equal(g_be->ops->noise_step(g_be, na, &cfg, &a->pb, NULL), 1);
    assert_int_equal(plast_noise_on_grads(g_be, nb, &cfg, &b->pb, NULL), 1);
    assert_memory_equal(b->pb.grads, a->pb.params, nf * 4);
    assert_memory_equal(b->pb.params, pb_before, nf * 4);
    long nonzero = 0;
    for (int r = 0; r < R; r++)
        for (int t = 0; t < b->pb.n_tensors; t++) {
            const ParamTensor *pt = &b->pb.tensors[t];
            for (long i = 0; i < param_tensor_size(pt); i++) {
                float g = b->pb.grads[(size_t)r * b->pb.P + pt->offset + i];
                if (pt->role != TENSOR_EXPERT) assert_true(g == 0.0f);
                else nonzero += g != 0.0f;
            }
        }
    assert_true(nonzero > 0);
    assert_int_equal(nb->streams[0].offset, na->streams[0].offset); /* the same draws were consumed */
    free(pb_before);
    noise_free(na);
    noise_free(nb);
    net_free(a);
    net_free(b);
}

static void test_parse(void **state) {
    (void)state;
    assert_int_equal(plast_method_parse("none"), PLAST_NONE);
    assert_int_equal(plast_method_parse("l2_init"), PLAST_L2_INIT);
    assert_int_equal(plast_method_parse("ReDo"), -1);
    assert_int_equal(plast_part_parse("last_hidden"), PLAST_PART_LAST_HIDDEN);
    assert_int_equal(plast_part_parse("bias"), -1);
    /* fresh seeds differ per event and per run seed */
    assert_true(plast_fresh_seed(1, 1) != plast_fresh_seed(1, 2));
    assert_true(plast_fresh_seed(1, 1) != plast_fresh_seed(2, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_redo_select_hand),
        cmocka_unit_test(test_redo_exact),
        cmocka_unit_test(test_shrink_perturb_limits),
        cmocka_unit_test(test_reset_parts),
        cmocka_unit_test(test_l2_init_fd),
        cmocka_unit_test(test_noise_on_grads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
