/* pmath_net.h: the per-element and per-row formulas of the networks (expert block, gates,
 * noisy top-1 router, expert combine, categorical policy), written once for the CPU backend
 * (a loop over rows) and the CUDA backend (one thread per row). C11 and CUDA, no C++.
 * Reference: docs/reference/networks.md sections 1-8; backend.h documents the shapes. */
#ifndef PAMOE_PMATH_NET_H
#define PAMOE_PMATH_NET_H
#include <math.h>
#include <stdint.h>

#include "pmath.h"

PMATH_VEC PMATH_HD float pmath_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* PyTorch's softplus (beta 1, threshold 20): x itself above 20, where ln(1+e^x) == x in float. */
PMATH_HD float pmath_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* d softplus / dx; consistent with the threshold above (PyTorch's backward does the same). */
PMATH_HD float pmath_sigmoid_sp(float x) { return x > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-x)); }

/* y[j] += b[j], then ReLU if relu; one row of n. */
PMATH_VEC PMATH_HD void pmath_bias_act_row(float *y, const float *b, int n, int relu) {
    for (int j = 0; j < n; j++) {
        float v = y[j] + b[j];
        y[j] = relu ? pmath_relu(v) : v;
    }
}

/* The ReLU output y is > 0 exactly where the pre-activation was > 0 (PyTorch's threshold
 * backward uses the same strict test), so the mask can be taken from the stored output. */
PMATH_VEC PMATH_HD float pmath_relu_bwd(float dy, float y) { return y > 0.0f ? dy : 0.0f; }

PMATH_HD void pmath_softmax_row(float *out, const float *in, int n) {
    float m = in[0];
    for (int j = 1; j < n; j++) m = in[j] > m ? in[j] : m;
    float s = 0.0f;
    for (int j = 0; j < n; j++) {
        out[j] = expf(in[j] - m);
        s += out[j];
    }
    float inv = 1.0f / s;
    for (int j = 0; j < n; j++) out[j] *= inv;
}

PMATH_HD void pmath_softmax_bwd_row(float *dl, const float *p, const float *dp, int n) {
    float s = 0.0f;
    for (int j = 0; j < n; j++) s += p[j] * dp[j];
    for (int j = 0; j < n; j++) dl[j] = p[j] * (dp[j] - s);
}

/* Noisy logits z_j = l_j + eps_j * softplus(u_j) (networks.md 5). */
PMATH_HD float pmath_noisy_logit(float l, float u, float eps) { return l + eps * pmath_softplus(u); }

/* Maximum E the per-row routines keep on the stack. */
#define PMATH_MAX_EXPERTS 16

/* Top-1 of the noisy logits: the first maximum (torch.topk with k = 1 on CPU returns the
 * first index of a tie; exact ties of float noisy logits have probability ~0 anyway). */
PMATH_HD int pmath_route_top1_row(int mode, const float *l, const float *u, const float *eps,
                                  int E, float *g) {
    float z[PMATH_MAX_EXPERTS];
    int best = 0;
    for (int j = 0; j < E; j++) {
        z[j] = pmath_noisy_logit(l[j], u[j], eps[j]);
        if (z[j] > z[best]) best = j;
    }
    for (int j = 0; j < E; j++) g[j] = 0.0f;
    if (mode == 0) {
        /* softmax over {z_{e*}} with -inf elsewhere: exactly 1 (networks.md 5). */
        g[best] = 1.0f;
    } else {
        float p[PMATH_MAX_EXPERTS];
        pmath_softmax_row(p, z, E);
        g[best] = p[best];
    }
    return best;
}

/* Bounds on pmath_softplus(x) as libm computes it (log1pf(expf(x)), float), without libm:
 * softplus evaluated in double and widened by 2^-14 relative on each side. exp(x) = 2^k e^r,
 * k = x/ln2 rounded to nearest (the 1.5 * 2^52 trick), |r| <= 0.347, e^r by its degree-7 Taylor
 * polynomial (error < 6e-9 relative); log(1 + e^x) = e ln2 + log m with m in [sqrt(1/2),
 * sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172, by its series to s^9 (error
 * < 1e-9); the rounding of 1 + e^x costs < 4e-10 relative at x = -15. glibc's expf and log1pf
 * are each within 2 ulps (~2.4e-7 relative) and an error of the exp passes into log1p at most
 * in proportion, so the float result lies far inside [lo, hi] (tests/test_backend_cpu.c
 * checks it; the float rounding of each bound moves it by 2^-24 relative at most). Returns 0
 * (no bounds) for x outside [-15, 20] or NaN. The AVX2 form in host/backend/backend_cpu.c performs
 * these very double operations in the same order (same bits). */
#define PMATH_SP_LO (-15.0f)
#define PMATH_SP_HI 20.0f
#define PMATH_SP_WIDEN (1.0 / 16384)
PMATH_HD double pmath_softplus_approx(double x) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double kd = (x * 1.4426950408889634 + shift) - shift;
    double r = x - kd * 0.6931471805599453;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
               r * (1.0 / 720 + r * (1.0 / 5040)))))));
    union { double d; uint64_t u; } two_k, w;
    two_k.u = (uint64_t)((int64_t)kd + 1023) << 52;
    w.d = 1.0 + p * two_k.d; /* 1 + e^x in [1, 4.9e8] */
    double e = (double)((int)(w.u >> 52) - 1022);
    w.u = (w.u & 0x000fffffffffffffULL) | (0x3feULL << 52); /* mantissa in [0.5, 1) */
    double m = w.d;
    if (m < 0.7071067811865476) {
        m = m + m;
        e = e - 1.0;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double lg = (s + s) * (1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9)))));
    return e * 0.6931471805599453 + lg;
}

PMATH_HD int pmath_softplus_bounds(float x, float *lo, float *hi) {
    if (!(x >= PMATH_SP_LO && x <= PMATH_SP_HI)) return 0;
    double a = pmath_softplus_approx((double)x);
    *lo = (float)(a * (1.0 - PMATH_SP_WIDEN));
    *hi = (float)(a * (1.0 + PMATH_SP_WIDEN));
    return 1;
}

/* Bounds [zl, zh] on the noisy logit l + eps * s for s in [lo, hi] (see below); NaN for both
 * when either end is NaN or infinite (NaN bounds lo, hi give that too). */
PMATH_HD void pmath_noisy_logit_bounds(float l, float eps, float lo, float hi, float *zl, float *zh) {
    float a = l + eps * lo, b = l + eps * hi;
    if (!(a - a == 0.0f && b - b == 0.0f)) {
        *zl = *zh = NAN;
        return;
    }
    *zl = a < b ? a : b;
    *zh = a < b ? b : a;
}

/* The first maximum of a row whose noisy logits lie in [zl_j, zh_j], or -1 when the bounds do
 * not decide it or a bound is NaN (see below). */
PMATH_HD int pmath_route_top1_pick(const float *zl, const float *zh, int E) {
    int k = 0;
    for (int j = 0; j < E; j++)
        if (zl[j] != zl[j]) return -1;
    for (int j = 1; j < E; j++)
        if (zl[j] > zl[k]) k = j;
    for (int j = 0; j < E; j++)
        if (j < k ? !(zl[k] > zh[j]) : j > k && !(zl[k] >= zh[j])) return -1;
    return k;
}

/* The faithful router's choice from bounds [lo_j, hi_j] on softplus(u_j). */
PMATH_HD int pmath_route_top1_decide_b(const float *l, const float *lo, const float *hi,
                                       const float *eps, int E) {
    float zl[PMATH_MAX_EXPERTS], zh[PMATH_MAX_EXPERTS];
    for (int j = 0; j < E; j++) pmath_noisy_logit_bounds(l[j], eps[j], lo[j], hi[j], &zl[j], &zh[j]);
    return pmath_route_top1_pick(zl, zh, E);
}

/* The faithful router's choice (mode 0, where the gate is exactly 1 whatever the noisy logits
 * are, so only the argmax matters) from softplus bounds, without libm: z_j = l_j + eps_j s_j
 * rounds monotonically in s_j, so s_j in [lo, hi] puts the float z_j between the same formula
 * at lo and at hi. k is the choice of pmath_route_top1_row (first maximum) when its lower
 * bound beats every earlier upper bound strictly and every later one or ties it. Returns -1
 * when the bounds do not decide (near ties, x outside the bounds' range, NaN, infinities):
 * the caller then runs pmath_route_top1_row. */
PMATH_HD int pmath_route_top1_decide(const float *l, const float *u, const float *eps, int E) {
    float lo[PMATH_MAX_EXPERTS], hi[PMATH_MAX_EXPERTS];
    for (int j = 0; j < E; j++)
        if (!pmath_softplus_bounds(u[j], &lo[j], &hi[j])) return -1;
    return pmath_route_top1_decide_b(l, lo, hi, eps, E);
}

/* Backward of the router for one row: dg -> dl, du. Faithful: exact zeros (networks.md 8).
 * Switch: g_{e*} = p_{e*}(z) so dz_j = dg_{e*} p_{e*} (delta_{j e*} - p_j); then
 * dl_j = dz_j and du_j = dz_j * eps_j * softplus'(u_j). Only dg_{e*} matters: the other gate
 * entries are constant zeros. */
PMATH_HD void pmath_route_top1_bwd_row(int mode, const float *l, const float *u,
                                       const float *eps, int choice, const float *dg, int E,
                                       float *dl, float *du) {
    if (mode == 0) {
        for (int j = 0; j < E; j++) dl[j] = du[j] = 0.0f;
        return;
    }
    float z[PMATH_MAX_EXPERTS], p[PMATH_MAX_EXPERTS];
    for (int j = 0; j < E; j++) z[j] = pmath_noisy_logit(l[j], u[j], eps[j]);
    pmath_softmax_row(p, z, E);
    float a = dg[choice] * p[choice];
    for (int j = 0; j < E; j++) {
        float dz = a * ((j == choice ? 1.0f : 0.0f) - p[j]);
        dl[j] = dz;
        du[j] = dz * eps[j] * pmath_sigmoid_sp(u[j]);
    }
}

/* f[:] = sum_e g[e] * h_e[:] for one row; h_e = h + e*expert_stride (row already applied). */
PMATH_VEC PMATH_HD void pmath_combine_row(float *f, const float *g, const float *h, long expert_stride,
                                int E, int H) {
    /* e outer, j inner: each f[j] still sums 0 + g_0 h_0j + g_1 h_1j + ... in that order, and
     * the inner loop is contiguous so the CPU vectorises it (f must not alias h). */
    for (int j = 0; j < H; j++) f[j] = 0.0f;
    for (int e = 0; e < E; e++) {
        const float ge = g[e], *he = h + e * expert_stride;
        for (int j = 0; j < H; j++) f[j] += ge * he[j];
    }
}

PMATH_VEC PMATH_HD void pmath_combine_bwd_row(float *dh, float *dg, const float *df, const float *g,
                                    const float *h, long expert_stride, int E, int H) {
    for (int e = 0; e < E; e++) {
        float s = 0.0f;
        for (int j = 0; j < H; j++) {
            dh[e * expert_stride + j] = g[e] * df[j];
            s += df[j] * h[e * expert_stride + j];
        }
        dg[e] = s;
    }
}

/* Grouped expert layout (top-1 kinds): the chosen expert's activations of a row live in a
 * compact per-run buffer sorted by expert, hs = that row (already located). The dense combine
 * of a one-hot/top-1 gate sums +0 for every other expert (gate exactly 0, ReLU output >= 0),
 * so f = g[choice] * hs is the same float; written as that single product. */
PMATH_VEC PMATH_HD void pmath_combine_grouped_row(float *f, const float *g, int choice,
                                                  const float *hs, int H) {
    const float gc = g[choice];
    for (int j = 0; j < H; j++) f[j] = gc * hs[j];
}

/* Its backward for one row: dhs = g[choice] * df (the chosen expert's row of the compact
 * buffer) and dg[choice] = sum_j df[j] hs[j] in j order, as pmath_combine_bwd_row; the other
 * dg entries are 0 (the router backward reads dg[choice] only: the other gates are
 * constants, their experts did not run). dg = NULL skips the gate gradient (the faithful
 * router's backward is exact zeros and does not read it). */
PMATH_VEC PMATH_HD void pmath_combine_grouped_bwd_row(float *dhs, float *dg, const float *df,
                                                      const float *g, int choice,
                                                      const float *hs, int E, int H) {
    const float gc = g[choice];
    for (int j = 0; j < H; j++) dhs[j] = gc * df[j];
    if (!dg) return;
    float s = 0.0f;
    for (int j = 0; j < H; j++) s += df[j] * hs[j];
    for (int e = 0; e < E; e++) dg[e] = 0.0f;
    dg[choice] = s;
}

/* log-sum-exp of one row of logits (max-subtracted). */
PMATH_HD float pmath_logsumexp_row(const float *x, int n) {
    float m = x[0];
    for (int j = 1; j < n; j++) m = x[j] > m ? x[j] : m;
    float s = 0.0f;
    for (int j = 0; j < n; j++) s += expf(x[j] - m);
    return m + logf(s);
}

/* log p_a = x_a - logsumexp(x); entropy = -sum p log p (networks.md 2). */
PMATH_HD float pmath_cat_logp_row(const float *x, int A, int action, float *entropy) {
    float lse = pmath_logsumexp_row(x, A);
    if (entropy) {
        float h = 0.0f;
        for (int j = 0; j < A; j++) {
            float lp = x[j] - lse;
            h -= expf(lp) * lp;
        }
        *entropy = h;
    }
    return x[action] - lse;
}

/* Inverse CDF of softmax(x) at u in [0, 1); rounding leftovers go to the last action.
 * u < 0 means greedy (first argmax). */
PMATH_HD int pmath_cat_sample_row(const float *x, int A, float u) {
    if (u < 0.0f) {
        int best = 0;
        for (int j = 1; j < A; j++)
            if (x[j] > x[best]) best = j;
        return best;
    }
    float lse = pmath_logsumexp_row(x, A);
    float c = 0.0f;
    for (int j = 0; j < A - 1; j++) {
        c += expf(x[j] - lse);
        if (u < c) return j;
    }
    return A - 1;
}

/* d/dx of (dlogp * log p_a + dent * H): dlogp (onehot_a - p) - dent p (log p + H). */
PMATH_HD void pmath_cat_bwd_row(float *dx, const float *x, int A, int action, float dlogp,
                                float dent) {
    float lse = pmath_logsumexp_row(x, A);
    float h = 0.0f;
    if (dent != 0.0f)
        for (int j = 0; j < A; j++) {
            float lp = x[j] - lse;
            h -= expf(lp) * lp;
        }
    for (int j = 0; j < A; j++) {
        float lp = x[j] - lse, p = expf(lp);
        float d = dlogp * ((j == action ? 1.0f : 0.0f) - p);
        if (dent != 0.0f) d -= dent * p * (lp + h);
        dx[j] = d;
    }
}
#endif
