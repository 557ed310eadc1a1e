/* test_net.c: the training networks on the CPU backend (docs/reference/networks.md 1-10).
 *  - parameter counts of every kind and role (networks.md 10);
 *  - forward, gate, routing and every gradient against tools/ref_net.py (float64 numpy),
 *    golden values in tests/ref_net_golden.h;
 *  - every backward (kind x role x router) against central finite differences;
 *  - faithful top-1 router gradients are exact zeros, switch router gradients are not;
 *  - R runs in one block equal R single-run networks bit for bit;
 *  - took_part flags and exact-zero gradients of experts that received no sample;
 *  - initialisation bounds and seeding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "net.h"
#include "ref_net_golden.h"
#include "rng.h"

#include "cpu_fixture.h"

static Net *make_net(const NetConfig *c, int R, int max_B, uint64_t seed0) {
    uint64_t seeds[16];
    for (int r = 0; r < R; r++) seeds[r] = seed0 + 1000u * (uint64_t)r;
    PmError err;
    Net *n = net_create(g_be, c, R, max_B, seeds, &err);
    if (!n) fail_msg("%s", err.msg);
    return n;
}

static void test_param_counts(void **state) {
    (void)state;
    const long want[4][2] = {{1338, 1243}, {3933, 3838}, {4080, 3985}, {4099, 4004}};
    for (int k = 0; k < 4; k++)
        for (int role = 0; role < 2; role++) {
            NetConfig c = net_config_default((NetKind)k, (NetRole)role);
            assert_int_equal(net_param_count(&c), want[k][role]);
            Net *n = make_net(&c, 2, 4, 5);
            assert_int_equal(n->pb.P, want[k][role]);
            long sum = 0;
            for (int t = 0; t < n->pb.n_tensors; t++) {
                assert_int_equal(n->pb.tensors[t].offset, sum);
                sum += param_tensor_size(&n->pb.tensors[t]);
            }
            assert_int_equal(sum, want[k][role]);
            net_free(n);
        }
    NetConfig c = net_config_default(NET_PAMOE, NET_POLICY);
    c.omit_mix_gate = 1;
    assert_int_equal(net_param_count(&c), 4080);
    assert_int_equal(net_kind_parse("dmoe"), NET_PAMOE);
    assert_int_equal(net_kind_parse("smoe"), NET_SMOE);
    assert_int_equal(net_kind_parse("transformer"), -1);
}

/* PyTorch names, roles and (out, in) shapes of a PA-MoE policy. */
static void test_tensor_table(void **state) {
    (void)state;
    NetConfig c = net_config_default(NET_PAMOE, NET_POLICY);
    Net *n = make_net(&c, 1, 1, 1);
    const ParamBlock *pb = &n->pb;
    assert_int_equal(pb->n_tensors, 2 + 4 + 12 + 2);
    assert_string_equal(pb->tensors[0].name, "mix_gate.weight");
    assert_int_equal(pb->tensors[0].role, TENSOR_UNUSED);
    assert_string_equal(pb->tensors[2].name, "router.route.weight");
    assert_int_equal(pb->tensors[2].rows, 3);
    assert_int_equal(pb->tensors[2].cols, 48);
    assert_string_equal(pb->tensors[4].name, "router.noise.weight");
    assert_string_equal(pb->tensors[10].name, "experts.1.fc1.weight");
    assert_int_equal(pb->tensors[10].expert, 1);
    assert_int_equal(pb->tensors[10].rows, 18);
    assert_int_equal(pb->tensors[10].cols, 48);
    assert_string_equal(pb->tensors[19].name, "head.bias");
    assert_int_equal(pb->tensors[19].rows, 6);
    assert_int_equal(pb->tensors[19].is_bias, 1);
    net_free(n);
}

/* ---- golden values from tools/ref_net.py ---- */

static void ref_inputs(int kind, int role, long P, float *params, float *x, float *eps, float *c,
                       int out) {
    for (long i = 0; i < P; i++) params[i] = (float)(0.4 * sin(0.37 * i + 0.1 + 0.7 * kind + 0.3 * role));
    for (int b = 0; b < REF_B; b++) {
        for (int j = 0; j < REF_IN; j++) x[b * REF_IN + j] = (float)(sin(0.9 * b + 0.45 * j) + 0.2);
        for (int e = 0; e < REF_E; e++) eps[b * REF_E + e] = (float)(1.3 * sin(1.7 * b + 2.9 * e + 0.4));
        for (int o = 0; o < out; o++) c[b * out + o] = (float)cos(0.61 * b + 1.1 * o);
    }
}

static void assert_close(double got, double want, double atol, double rtol, const char *what,
                         int i) {
    if (!(fabs(got - want) <= atol + rtol * fabs(want)))
        fail_msg("%s[%d]: got %.9g want %.9g", what, i, got, want);
}

static void test_golden(void **state) {
    (void)state;
    /* float32 forward/backward against float64: sums of <= 6 samples x 5 terms of O(1), so
     * rounding stays below 1e-5 absolute; 1e-4 relative covers the larger gradients. */
    const double atol = 2e-5, rtol = 1e-4;
    for (int ci = 0; ci < PM_ARRAY_LEN(REF_CASES); ci++) {
        const RefCase *rc = &REF_CASES[ci];
        NetConfig c = net_config_default((NetKind)rc->kind, (NetRole)rc->role);
        c.in = REF_IN;
        c.hidden = REF_H;
        c.experts = REF_E;
        c.actions = REF_A;
        c.router = rc->router;
        Net *n = make_net(&c, 1, REF_B, 3);
        assert_int_equal(n->pb.P, rc->P);
        int out = n->out, E = n->E;
        float params[256], x[REF_B * REF_IN], eps[REF_B * REF_E], cc[REF_B * REF_A];
        ref_inputs(rc->kind, rc->role, rc->P, params, x, eps, cc, out);
        memcpy(n->pb.params, params, sizeof(float) * rc->P);
        net_forward(n, x, REF_B, eps);
        for (int i = 0; i < REF_B * out; i++) assert_close(net_output(n)[i], rc->out[i], atol, rtol, "out", i);
        for (int i = 0; i < REF_B * E; i++) assert_close(n->gate[i], rc->gate[i], atol, rtol, "gate", i);
        if (rc->kind >= NET_MOE)
            for (int b = 0; b < REF_B; b++) assert_int_equal(n->choice[b], rc->choice[b]);
        net_backward(n, cc);
        for (long i = 0; i < rc->P; i++) assert_close(n->pb.grads[i], rc->grad[i], atol, rtol, "grad", (int)i);
        net_free(n);
    }
}

/* ---- finite differences ---- */

static double loss_run(const Net *n, const float *c, int r, int B) {
    double s = 0.0;
    const float *y = net_output(n) + (long)r * B * n->out;
    for (long i = 0; i < (long)B * n->out; i++) s += (double)c[(long)r * B * n->out + i] * y[i];
    return s;
}

/* Activation masks and routing of run r, to detect ReLU kinks and routing flips. */
static void snapshot(const Net *n, int r, int B, uint8_t *mask, int32_t *choice) {
    int H = n->cfg.hidden;
    long k = 0;
    /* grouped form: one (R, B, H) block, rows sorted by expert (the same order while the
     * choices, compared below, stay the same) */
    for (int e = 0; e < (n->grouped ? 1 : n->E); e++) {
        const float *a = net_h1(n, e) + (long)r * B * H, *b = net_h2(n, e) + (long)r * B * H;
        for (long i = 0; i < (long)B * H; i++) mask[k++] = a[i] > 0;
        for (long i = 0; i < (long)B * H; i++) mask[k++] = b[i] > 0;
    }
    memcpy(choice, n->choice + (long)r * B, sizeof(int32_t) * B);
}

static void fd_case(NetKind kind, NetRole role, int router) {
    enum { R = 2, B = 7 };
    NetConfig c = net_config_default(kind, role);
    c.router = router;
    Net *n = make_net(&c, R, B, 42 + kind * 10 + role);
    int out = n->out, E = n->E;
    long P = n->pb.P;
    Rng rng;
    rng_seed(&rng, 99, RNG_GEN, (uint64_t)(kind * 4 + role * 2 + router));
    float x[R * B * 48], eps[R * B * 8], cw[R * B * 6];
    for (int i = 0; i < R * B * 48; i++) x[i] = (float)(2.0 * rng_uniform(&rng) - 0.5);
    for (int i = 0; i < R * B * E; i++) eps[i] = (float)(3.0 * rng_uniform(&rng) - 1.5);
    for (int i = 0; i < R * B * out; i++) cw[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
    if (router == ROUTE_SWITCH) {
        /* Larger router weights so the switch gate varies visibly across samples. */
        for (int t = 0; t < n->pb.n_tensors; t++)
            if (n->pb.tensors[t].role == TENSOR_ROUTER)
                for (int r = 0; r < R; r++)
                    for (long i = 0; i < param_tensor_size(&n->pb.tensors[t]); i++)
                        n->pb.params[r * P + n->pb.tensors[t].offset + i] *= 4.0f;
    }
    net_forward(n, x, B, eps);
    net_backward(n, cw);
    float *grad = malloc(sizeof(float) * R * P);
    memcpy(grad, n->pb.grads, sizeof(float) * R * P);
    long masklen = (long)E * 2 * B * 18;
    uint8_t *m0 = malloc(masklen), *m1 = malloc(masklen);
    int32_t ch0[B], ch1[B];

    const double h = 1e-3;
    int checked = 0, skipped = 0, router_checked = 0;
    for (int t = 0; t < n->pb.n_tensors; t++) {
        const ParamTensor *pt = &n->pb.tensors[t];
        long sz = param_tensor_size(pt);
        int r = t % R;
        /* Faithful top-1 router: exact zeros, not merely small (networks.md 8). */
        if (pt->role == TENSOR_ROUTER && router == ROUTE_FAITHFUL && kind != NET_MOE)
            for (int rr = 0; rr < R; rr++)
                for (long i = 0; i < sz; i++) assert_true(grad[rr * P + pt->offset + i] == 0.0f);
        if (pt->role == TENSOR_UNUSED) {
            for (long i = 0; i < sz; i++) assert_true(grad[r * P + pt->offset + i] == 0.0f);
            continue;
        }
        for (int s = 0; s < 6; s++) {
            long i = pt->offset + (long)rng_randint(&rng, 0, sz);
            float *p = n->pb.params + r * P + i, p0 = *p;
            snapshot(n, r, B, m0, ch0);
            *p = (float)(p0 + h);
            double hp = (double)*p - p0;
            net_forward(n, x, B, eps);
            double lp = loss_run(n, cw, r, B);
            snapshot(n, r, B, m1, ch1);
            int flip = memcmp(m0, m1, masklen) || memcmp(ch0, ch1, sizeof ch0);
            *p = (float)(p0 - h);
            double hm = p0 - (double)*p;
            net_forward(n, x, B, eps);
            double lm = loss_run(n, cw, r, B);
            snapshot(n, r, B, m1, ch1);
            flip |= memcmp(m0, m1, masklen) || memcmp(ch0, ch1, sizeof ch0);
            *p = p0;
            net_forward(n, x, B, eps);
            if (flip) {
                skipped++;
                continue;
            }
            double fd = (lp - lm) / (hp + hm), an = grad[r * P + i];
            /* float32 loss of ~50 terms O(1): rounding ~1e-6 / 2h = 5e-4 on the difference. */
            if (!(fabs(fd - an) <= 2e-3 + 1e-2 * fabs(an)))
                fail_msg("%s %s router %d: %s[%ld] run %d: analytic %.6g fd %.6g",
                         net_kind_name(kind), role ? "value" : "policy", router, pt->name,
                         i - pt->offset, r, an, fd);
            checked++;
            if (pt->role == TENSOR_ROUTER && fabs(an) > 1e-4) router_checked++;
        }
    }
    print_message("fd %-5s %-6s %-8s: %d checked (%d router), %d skipped (kink/flip)\n",
                  net_kind_name(kind), role ? "value" : "policy", router ? "switch" : "faithful",
                  checked, router_checked, skipped);
    assert_true(checked >= 4 * skipped);
    assert_true(checked > 20);
    if (router == ROUTE_SWITCH || kind == NET_MOE) assert_true(router_checked > 0);
    free(grad);
    free(m0);
    free(m1);
    net_free(n);
}

static void test_fd_all(void **state) {
    (void)state;
    for (int k = 0; k < 4; k++)
        for (int role = 0; role < 2; role++)
            for (int router = 0; router < 2; router++) {
                if (router && k < NET_SMOE) continue;
                fd_case((NetKind)k, (NetRole)role, router);
            }
}


/* R runs in one block = R single-run networks with the same seeds, bit for bit (params,
 * outputs, routing, gradients): run r depends only on its seed and its own data. */
static void test_runs_independent(void **state) {
    (void)state;
    enum { R = 8, B = 62 }; /* big enough for the parallel gemm path */
    for (int k = 0; k < 4; k++) {
        NetConfig c = net_config_default((NetKind)k, NET_POLICY);
        c.router = k >= NET_SMOE ? ROUTE_SWITCH : ROUTE_FAITHFUL;
        uint64_t seeds[R] = {11, 7777, 123456789, 4, 5, 6, 7, 8};
        PmError err;
        Net *all = net_create(g_be, &c, R, B, seeds, &err);
        assert_non_null(all);
        Rng rng;
        rng_seed(&rng, 5, RNG_GEN, (uint64_t)k);
        static float x[R * B * 48], eps[R * B * 3], d[R * B * 6];
        for (int i = 0; i < R * B * 48; i++) x[i] = (float)rng_uniform(&rng);
        for (int i = 0; i < R * B * 3; i++) eps[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
        for (int i = 0; i < R * B * 6; i++) d[i] = (float)(rng_uniform(&rng) - 0.5);
        net_forward(all, x, B, eps);
        net_backward(all, d);
        long P = all->pb.P;
        for (int r = 0; r < R; r++) {
            Net *one = net_create(g_be, &c, 1, B, &seeds[r], &err);
            assert_non_null(one);
            net_forward(one, x + r * B * 48, B, eps + r * B * 3);
            net_backward(one, d + r * B * 6);
            assert_memory_equal(one->pb.params, all->pb.params + r * P, sizeof(float) * P);
            assert_memory_equal(net_output(one), net_output(all) + r * B * 6, sizeof(float) * B * 6);
            assert_memory_equal(one->choice, all->choice + r * B, sizeof(int32_t) * B);
            assert_memory_equal(one->pb.grads, all->pb.grads + r * P, sizeof(float) * P);
            assert_memory_equal(one->pb.h_took_part, all->pb.h_took_part + r * all->pb.n_tensors,
                                (size_t)all->pb.n_tensors);
            net_free(one);
        }
        net_free(all);
    }
}

/* took_part (docs/reference/ppo.md 2): routing forced by the noise. Run 0 sends every sample to
 * expert 0, run 1 to experts 1 and 2 only. */
static void test_took_part(void **state) {
    (void)state;
    enum { R = 2, B = 4 };
    NetConfig c = net_config_default(NET_PAMOE, NET_VALUE);
    Net *n = make_net(&c, R, B, 9);
    float x[R * B * 48], eps[R * B * 3], d[R * B];
    for (int i = 0; i < R * B * 48; i++) x[i] = (float)sin(0.3 * i);
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) {
            int want = r == 0 ? 0 : 1 + (b % 2);
            for (int e = 0; e < 3; e++) eps[(r * B + b) * 3 + e] = e == want ? 60.0f : -60.0f;
            d[r * B + b] = 1.0f + 0.1f * b;
        }
    /* non-zero grads everywhere first, to see that backward overwrites */
    for (long i = 0; i < R * n->pb.P; i++) n->pb.grads[i] = 5.0f;
    for (int t = 0; t < n->pb.n_tensors; t++)
        if (n->pb.tensors[t].role == TENSOR_UNUSED)
            for (int r = 0; r < R; r++)
                for (long i = 0; i < param_tensor_size(&n->pb.tensors[t]); i++)
                    n->pb.grads[r * n->pb.P + n->pb.tensors[t].offset + i] = 0.0f;
    net_forward(n, x, B, eps);
    for (int b = 0; b < B; b++) {
        assert_int_equal(n->choice[b], 0);
        assert_int_equal(n->choice[B + b], 1 + (b % 2));
    }
    /* faithful top-1: the combined features are exactly the chosen expert's h2 row; h1 rows
     * are the routed samples' relu(W1 x + b1) (checked on the host) */
    float rows[B * 18];
    for (int r = 0; r < R; r++)
        for (int e = 0; e < 3; e++) {
            int k = net_routed_rows(n, r, e, 1, rows), j = 0;
            for (int b = 0; b < B; b++)
                if (n->choice[r * B + b] == e)
                    assert_memory_equal(n->f + (r * B + b) * 18, rows + 18 * j++, sizeof(float) * 18);
            assert_int_equal(k, j);
            k = net_routed_rows(n, r, e, 0, rows);
            j = 0;
            const float *p = n->pb.params + r * n->pb.P;
            const float *w1 = p + n->pb.tensors[n->t_w1[e]].offset, *b1 = p + n->pb.tensors[n->t_b1[e]].offset;
            for (int b = 0; b < B; b++) {
                if (n->choice[r * B + b] != e) continue;
                for (int o = 0; o < 18; o++) {
                    double a = b1[o];
                    for (int i = 0; i < 48; i++) a += (double)w1[o * 48 + i] * x[(r * B + b) * 48 + i];
                    assert_float_equal(rows[18 * j + o], a > 0 ? a : 0.0, 1e-5);
                }
                j++;
            }
            assert_int_equal(k, j);
        }
    /* metrics rows: run 0 expert 0 gets all 4 rows, run 1 expert 1 gets rows 0 and 2 */
    assert_int_equal(net_routed_rows(n, 0, 0, 1, rows), 4);
    assert_int_equal(net_routed_rows(n, 0, 2, 0, rows), 0);
    assert_int_equal(net_routed_rows(n, 1, 1, 0, rows), 2);
    assert_int_equal(net_routed_rows(n, 1, 2, 1, rows), 2);
    net_backward(n, d);
    for (int r = 0; r < R; r++)
        for (int t = 0; t < n->pb.n_tensors; t++) {
            const ParamTensor *pt = &n->pb.tensors[t];
            int tp = n->pb.h_took_part[r * n->pb.n_tensors + t], want;
            if (pt->role == TENSOR_UNUSED) want = 0;
            else if (pt->role == TENSOR_EXPERT) want = r == 0 ? pt->expert == 0 : pt->expert != 0;
            else want = 1;
            if (tp != want) fail_msg("run %d %s took_part %d want %d", r, pt->name, tp, want);
            const float *g = n->pb.grads + r * n->pb.P + pt->offset;
            int nonzero = 0;
            for (long i = 0; i < param_tensor_size(pt); i++) nonzero += g[i] != 0.0f;
            /* not taking part => exactly zero; faithful router => exactly zero too */
            if (!want || pt->role == TENSOR_ROUTER) assert_int_equal(nonzero, 0);
            if (want && pt->role == TENSOR_HEAD) assert_true(nonzero > 0);
        }
    net_free(n);
    /* mlp and moe: every tensor takes part */
    for (int k = 0; k < 2; k++) {
        NetConfig cm = net_config_default((NetKind)k, NET_POLICY);
        Net *m = make_net(&cm, 1, B, 3);
        float dd[B * 6];
        for (int i = 0; i < B * 6; i++) dd[i] = 0.5f;
        net_forward(m, x, B, NULL);
        net_backward(m, dd);
        for (int t = 0; t < m->pb.n_tensors; t++) assert_int_equal(m->pb.h_took_part[t], 1);
        net_free(m);
    }
}

/* The network takes its expert form from the backend's capabilities, not from its name: the
 * CPU backend's table with grouped_experts off (as CUDA sets it) gives dense sparse nets, and
 * dense kinds never group. */
static void test_form_from_caps(void **state) {
    (void)state;
    Backend dense_be = *g_be; /* same ops, same name "cpu" */
    dense_be.caps.grouped_experts = 0;
    uint64_t seeds[2] = {1, 2};
    PmError err;
    for (int k = NET_MLP; k <= NET_PAMOE; k++) {
        NetConfig c = net_config_default((NetKind)k, NET_POLICY);
        Net *on = net_create(g_be, &c, 2, 8, seeds, &err), *off = net_create(&dense_be, &c, 2, 8, seeds, &err);
        assert_non_null(on);
        assert_non_null(off);
        assert_int_equal(on->grouped, k == NET_SMOE || k == NET_PAMOE);
        assert_int_equal(off->grouped, 0);
        net_free(on);
        net_free(off);
    }
}

/* The grouped form (each expert on its routed rows only, the CPU default) against the dense
 * form (every expert on every row, masked; what the CUDA backend runs), forced on the same
 * backend: the same routing and took_part, outputs, metric rows and gradients equal up to
 * float rounding (different gemm shapes), across kinds, roles, routers, R = 3, B = 62. */
static void test_grouped_vs_dense(void **state) {
    (void)state;
    enum { R = 3, B = 62, H = 18 };
    for (int k = NET_SMOE; k <= NET_PAMOE; k++)
        for (int role = 0; role < 2; role++)
            for (int router = 0; router < 2; router++) {
                NetConfig c = net_config_default((NetKind)k, (NetRole)role);
                c.router = router;
                Net *g = make_net(&c, R, B, 77), *d = make_net(&c, R, B, 77);
                assert_true(g->grouped);
                d->grouped = 0;
                int out = g->out;
                Rng rng;
                rng_seed(&rng, 6, RNG_GEN, (uint64_t)(k * 4 + role * 2 + router));
                static float x[R * B * 48], eps[R * B * 3], dd[R * B * 6];
                for (int i = 0; i < R * B * 48; i++) x[i] = (float)(2.0 * rng_uniform(&rng) - 0.5);
                for (int i = 0; i < R * B * 3; i++) eps[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
                for (int i = 0; i < R * B * out; i++) dd[i] = (float)(rng_uniform(&rng) - 0.5);
                net_forward(g, x, B, eps);
                net_forward(d, x, B, eps);
                assert_memory_equal(g->choice, d->choice, sizeof(int32_t) * R * B);
                for (int i = 0; i < R * B * out; i++)
                    assert_close(net_output(g)[i], net_output(d)[i], 1e-6, 1e-5, "out", i);
                static float rg[B * H], rd[B * H];
                int seen = 0;
                for (int r = 0; r < R; r++)
                    for (int e = 0; e < 3; e++)
                        for (int layer = 0; layer < 2; layer++) {
                            int ng = net_routed_rows(g, r, e, layer, rg);
                            assert_int_equal(ng, net_routed_rows(d, r, e, layer, rd));
                            int nref, nd;
                            const float *ref = net_routed_rows_ref(g, r, e, layer, &nref);
                            assert_int_equal(nref, ng); /* in place: the same rows */
                            if (ng) assert_memory_equal(ref, rg, sizeof(float) * ng * H);
                            else assert_null(ref);
                            assert_null(net_routed_rows_ref(d, r, e, layer, &nd));
                            assert_int_equal(nd, -1); /* dense: not in place */
                            for (int i = 0; i < ng * H; i++) assert_close(rg[i], rd[i], 1e-6, 1e-5, "rows", i);
                            seen += ng;
                        }
                assert_int_equal(seen, 2 * R * B);
                net_backward(g, dd);
                net_backward(d, dd);
                for (long i = 0; i < R * g->pb.P; i++)
                    assert_close(g->pb.grads[i], d->pb.grads[i], 1e-6, 1e-4, "grad", (int)i);
                assert_memory_equal(g->pb.h_took_part, d->pb.h_took_part, (size_t)R * g->pb.n_tensors);
                net_free(g);
                net_free(d);
            }
}

/* The faithful router's gradient tensors are zeroed directly (net_backward); the path they
 * replace (route_top1_bwd's exact zeros, then the weight and bias gemms of linear_bwd over
 * them) must give the same bits, +0 everywhere, also for negative inputs (0 * x = -0). Every
 * kind with a top-1 router, both roles, R = 2, batches 1, 17 and 62. Also: the gradient
 * tensors hold garbage before the backward, so the zeroing is seen. */
static void test_faithful_router_grads(void **state) {
    (void)state;
    enum { R = 2, BMAX = 62, IN = 48, E = 3 };
    const int Bs[3] = {1, 17, 62};
    for (int k = NET_SMOE; k <= NET_PAMOE; k++)
        for (int role = 0; role < 2; role++)
            for (int bi = 0; bi < 3; bi++) {
                int B = Bs[bi];
                NetConfig c = net_config_default((NetKind)k, (NetRole)role);
                Net *n = make_net(&c, R, BMAX, 91);
                Rng rng;
                rng_seed(&rng, 8, RNG_GEN, (uint64_t)(k * 8 + role * 4 + bi));
                static float x[R * BMAX * IN], eps[R * BMAX * E], dd[R * BMAX * 6];
                for (int i = 0; i < R * B * IN; i++) x[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
                for (int i = 0; i < R * B * E; i++) eps[i] = (float)(4.0 * rng_uniform(&rng) - 2.0);
                for (int i = 0; i < R * B * n->out; i++) dd[i] = (float)(rng_uniform(&rng) - 0.5);
                for (long i = 0; i < R * n->pb.P; i++) n->pb.grads[i] = NAN;
                net_forward(n, x, B, eps);
                net_backward(n, dd);
                /* the reference: the router backward and the gradient products computed in full */
                static float dl[R * BMAX * E], du[R * BMAX * E], ones[BMAX];
                static float want[R * (IN * E + E)];
                for (int i = 0; i < B; i++) ones[i] = 1.0f;
                g_be->ops->route_top1_bwd(g_be, ROUTE_FAITHFUL, n->glog, n->nlog, eps, n->choice, n->dg,
                                          (long)R * B, E, dl, du);
                const int tw[2] = {n->t_route_w, n->t_noise_w}, tb[2] = {n->t_route_b, n->t_noise_b};
                const float *dy[2] = {dl, du};
                for (int t = 0; t < 2; t++) {
                    for (int i = 0; i < R * (IN * E + E); i++) want[i] = NAN;
                    g_be->ops->gemm_batched(g_be, BE_NOTRANS, BE_TRANS, IN, E, B, 1.0f, x, IN, (long)B * IN,
                                            dy[t], E, (long)B * E, 0.0f, want, IN, IN * E + E, R);
                    g_be->ops->gemm_batched(g_be, BE_NOTRANS, BE_NOTRANS, E, 1, B, 1.0f, dy[t], E, (long)B * E,
                                            ones, B, 0, 0.0f, want + IN * E, E, IN * E + E, R);
                    for (int r = 0; r < R; r++) {
                        const float *gw = n->pb.grads + (long)r * n->pb.P + n->pb.tensors[tw[t]].offset;
                        const float *gb = n->pb.grads + (long)r * n->pb.P + n->pb.tensors[tb[t]].offset;
                        const float *ww = want + r * (IN * E + E);
                        assert_memory_equal(gw, ww, sizeof(float) * IN * E);
                        assert_memory_equal(gb, ww + IN * E, sizeof(float) * E);
                        for (int i = 0; i < IN * E + E; i++) assert_true(signbit(ww[i]) == 0 && ww[i] == 0.0f);
                    }
                }
                net_free(n);
            }
}

/* PyTorch default bounds 1/sqrt(fan_in) (0.14434 for 48 inputs, 0.23570 for 18), spread over
 * the range, repeatable for a seed, different across seeds and roles. */
static void test_init(void **state) {
    (void)state;
    NetConfig c = net_config_default(NET_PAMOE, NET_POLICY);
    uint64_t seeds[2] = {2, 2};
    PmError err;
    Net *a = net_create(g_be, &c, 2, 1, seeds, &err);
    for (int t = 0; t < a->pb.n_tensors; t++) {
        const ParamTensor *pt = &a->pb.tensors[t];
        int fan_in = pt->is_bias ? a->pb.tensors[t - 1].cols : pt->cols;
        double bound = 1.0 / sqrt((double)fan_in), mx = 0.0;
        for (long i = 0; i < param_tensor_size(pt); i++) {
            double v = fabs(a->pb.params[pt->offset + i]);
            assert_true(v <= bound);
            mx = v > mx ? v : mx;
        }
        if (param_tensor_size(pt) >= 18) assert_true(mx > 0.7 * bound);
    }
    long P = a->pb.P;
    assert_memory_equal(a->pb.params, a->pb.params + P, sizeof(float) * P); /* same seed */
    NetConfig cv = net_config_default(NET_PAMOE, NET_VALUE);
    seeds[1] = 3;
    Net *b = net_create(g_be, &c, 2, 1, seeds, &err);
    Net *v = net_create(g_be, &cv, 1, 1, seeds, &err);
    assert_memory_equal(a->pb.params, b->pb.params, sizeof(float) * P);
    assert_memory_not_equal(b->pb.params, b->pb.params + P, sizeof(float) * 100);
    assert_memory_not_equal(a->pb.params, v->pb.params, sizeof(float) * 100); /* role stream */
    net_init_run(b, 1, 2); /* re-initialising one run reproduces that seed */
    assert_memory_equal(b->pb.params, b->pb.params + P, sizeof(float) * P);
    net_free(a);
    net_free(b);
    net_free(v);
}

/* Bad configurations are errors, not crashes. */
static void test_bad_config(void **state) {
    (void)state;
    PmError err;
    uint64_t seed = 1;
    NetConfig c = net_config_default(NET_MOE, NET_POLICY);
    c.experts = 99;
    assert_null(net_create(g_be, &c, 1, 1, &seed, &err));
    assert_non_null(strstr(err.msg, "experts"));
    c = net_config_default(NET_MLP, NET_VALUE);
    assert_null(net_create(g_be, &c, 0, 1, &seed, &err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_counts),
        cmocka_unit_test(test_tensor_table),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_fd_all),
        cmocka_unit_test(test_runs_independent),
        cmocka_unit_test(test_took_part),
        cmocka_unit_test(test_form_from_caps),
        cmocka_unit_test(test_grouped_vs_dense),
        cmocka_unit_test(test_faithful_router_grads),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
