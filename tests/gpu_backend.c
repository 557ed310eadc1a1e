/* gpu_backend.c: the CUDA backend against the CPU backend (the reference), op by op, from
 * identical random inputs (after llm.c dev/cuda and ggml test-backend-ops): every entry of
 * backend.h, then forward + backward + Adam + expert noise of every network kind. Floats pass
 * when |gpu - cpu| <= atol + rtol*|cpu| (tolerances with their reasons at each check); integer
 * outputs (routing choices, actions, counts) and ops without rounding must match exactly;
 * inputs are built away from ties so that rounding cannot flip an argmax. Then the whole suite
 * runs a second time and the GPU outputs must be the same bytes (determinism).
 *
 * Build: make build/tests/gpu_backend (make test-gpu runs it via tests/run_gpu.sh).
 * Without a usable device: prints "SKIP: no CUDA device" and exits 77.
 * Output: one line per check, then "gpu_backend: N checks, F failed"; exit 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "backend.h"
#include "gae.h"
#include "net.h"
#include "noise.h"
#include "pmath_net.h"
#include "pmath_ppo.h"
#include "ppo_loss.h"
#include "prand.h"
#include "rng.h"

static Backend *g_cpu, *g_gpu;
static int g_checks, g_failed;
static uint64_t g_digest; /* FNV-1a over every GPU output of one suite pass */
static Rng g_rng;

/* ---- a buffer on both backends ---- */
typedef struct {
    void *c, *g;
    size_t bytes;
} Buf;

static Backend *side_be(int side) { return side ? g_gpu : g_cpu; }
/* The buffer's pointer on `side` (0 cpu, 1 gpu). */
#define P(b) (side ? (b).g : (b).c)
/* Runs the statement once per backend with `be` and `side` set. */
#define BOTH(stmt)                                                                         \
    for (int side = 0; side < 2; side++) {                                                 \
        Backend *be = side_be(side);                                                       \
        (void)be;                                                                          \
        stmt;                                                                              \
    }

static Buf buf_in(const void *h, size_t bytes) {
    Buf b = {g_cpu->ops->alloc(g_cpu, bytes), g_gpu->ops->alloc(g_gpu, bytes), bytes};
    if (h) {
        g_cpu->ops->upload(g_cpu, b.c, h, bytes);
        g_gpu->ops->upload(g_gpu, b.g, h, bytes);
    }
    return b;
}
static void buf_free(Buf *b) {
    g_cpu->ops->release(g_cpu, b->c);
    g_gpu->ops->release(g_gpu, b->g);
    b->c = b->g = NULL;
}

static void digest_add(const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) g_digest = (g_digest ^ s[i]) * 0x100000001B3ull;
}

static void report(const char *what, long n, long bad, double max_err, long first) {
    g_checks++;
    if (bad) {
        g_failed++;
        printf("FAIL %-44s %ld/%ld elements out of tolerance (first at %ld), max |gpu-cpu| %.3g\n",
               what, bad, n, first, max_err);
    } else {
        printf("ok   %-44s %7ld elements, max |gpu-cpu| %.3g\n", what, n, max_err);
    }
}

/* Floats: |a - b| <= atol + rtol*|b|; identical bits (NaN padding left alone) also pass. */
static void check_f(const char *what, const float *gpu, const float *cpu, long n, float atol,
                    float rtol) {
    long bad = 0, first = -1;
    double max_err = 0;
    for (long i = 0; i < n; i++) {
        if (!memcmp(&gpu[i], &cpu[i], sizeof(float))) continue;
        double d = fabs((double)gpu[i] - cpu[i]);
        if (d > max_err || isnan(d)) max_err = isnan(d) ? INFINITY : d;
        if (!(d <= atol + rtol * fabs((double)cpu[i]))) {
            if (first < 0) first = i;
            if (bad < 3) printf("     %s[%ld]: gpu %.9g cpu %.9g\n", what, i, gpu[i], cpu[i]);
            bad++;
        }
    }
    report(what, n, bad, max_err, first);
}

static void check_bytes(const char *what, const void *gpu, const void *cpu, long n, size_t elem) {
    long bad = 0, first = -1;
    for (long i = 0; i < n; i++)
        if (memcmp((const char *)gpu + i * elem, (const char *)cpu + i * elem, elem)) {
            if (first < 0) first = i;
            bad++;
        }
    report(what, n, bad, bad ? NAN : 0.0, first);
}

/* Downloads both sides of b and compares them as floats (atol/rtol) or exactly (exact = 1:
 * floats bit for bit, or int32). */
static void buf_check(const char *what, Buf b, int exact, float atol, float rtol) {
    void *hc = malloc(b.bytes), *hg = malloc(b.bytes);
    g_cpu->ops->download(g_cpu, hc, b.c, b.bytes);
    g_gpu->ops->download(g_gpu, hg, b.g, b.bytes);
    digest_add(hg, b.bytes);
    if (exact) check_bytes(what, hg, hc, (long)(b.bytes / 4), 4);
    else check_f(what, hg, hc, (long)(b.bytes / sizeof(float)), atol, rtol);
    free(hc);
    free(hg);
}

static float frand(float lo, float hi) { return lo + (hi - lo) * (float)rng_uniform(&g_rng); }
static float *rand_floats(long n, float lo, float hi) {
    float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++) h[i] = frand(lo, hi);
    return h;
}
static Buf rand_buf(long n, float lo, float hi) {
    float *h = rand_floats(n, lo, hi);
    Buf b = buf_in(h, sizeof(float) * (size_t)n);
    free(h);
    return b;
}

/* Tolerances for the row ops. The GPU runs the same pmath function; differences come only from
 * (1) CUDA's expf/logf (<= 2 ulp, glibc's <= 1 ulp) and (2) nvcc contracting a*b + c into one
 * FMA. Both are relative errors of a few 1e-7 per operation on sums of <= 18 terms: rtol 1e-5
 * is 10x that, atol 1e-6 covers results that cancel to near zero. A wrong index or formula
 * gives errors of order 1e-1. */
#define ROW_ATOL 1e-6f
#define ROW_RTOL 1e-5f

/* ---- memory ---- */
static void test_memory(void) {
    enum { N = 1000 };
    /* alloc is zero-filled on both */
    Buf z = buf_in(NULL, sizeof(float) * N);
    buf_check("alloc zero-filled", z, 1, 0, 0);
    float *h = rand_floats(N, -1, 1);
    BOTH(be->ops->upload(be, P(z), h, sizeof(float) * N));
    buf_check("upload/download round trip", z, 1, 0, 0);
    float *back = malloc(sizeof(float) * N);
    g_gpu->ops->download(g_gpu, back, z.g, sizeof(float) * N);
    check_bytes("download == uploaded host data", back, h, N, 4);
    /* memmove semantics, both directions of overlap, and zero of a sub-range */
    BOTH(be->ops->copy(be, (float *)P(z) + 10, P(z), sizeof(float) * 500));
    BOTH(be->ops->copy(be, P(z), (float *)P(z) + 300, sizeof(float) * 600));
    BOTH(be->ops->zero(be, (float *)P(z) + 17, sizeof(float) * 33));
    Buf d = buf_in(NULL, sizeof(float) * N);
    BOTH(be->ops->copy(be, P(d), P(z), sizeof(float) * N));
    BOTH(be->ops->sync(be));
    buf_check("copy (overlapping) / zero", d, 1, 0, 0);
    /* page-locked staging and the asynchronous download the trainer overlaps with the
     * simulator: queued behind a later kernel, it must still deliver the earlier contents */
    float *pin = g_gpu->ops->host_alloc(g_gpu, sizeof(float) * N);
    g_gpu->ops->download_async(g_gpu, pin, d.g, sizeof(float) * N);
    g_gpu->ops->zero(g_gpu, d.g, sizeof(float) * N); /* queued after the copy */
    g_gpu->ops->download_wait(g_gpu);
    float *ref = malloc(sizeof(float) * N);
    g_cpu->ops->download(g_cpu, ref, d.c, sizeof(float) * N);
    check_bytes("download_async into host_alloc memory", pin, ref, N, 4);
    g_gpu->ops->sync(g_gpu);
    g_gpu->ops->host_release(g_gpu, pin);
    free(ref);
    free(h);
    free(back);
    buf_free(&z);
    buf_free(&d);
}

/* ---- gemm ---- */
static void gemm_case(int ta, int tb, int m, int n, int k, int batch, float alpha, float beta,
                      int strideB_zero) {
    int pad = 3;
    int lda = (ta ? k : m) + pad, ldb = (tb ? n : k) + pad, ldc = m + 2;
    long sA = (long)lda * (ta ? m : k) + 5, sB = strideB_zero ? 0 : (long)ldb * (tb ? k : n) + 7,
         sC = (long)ldc * n + 4;
    long nA = sA * batch, nB = strideB_zero ? (long)ldb * (tb ? k : n) : sB * batch,
         nC = sC * batch;
    Buf A = rand_buf(nA, -1, 1), B = rand_buf(nB, -1, 1);
    float *hc = rand_floats(nC, -1, 1);
    if (beta == 0.0f) /* C must not be read: NaN there must not reach the result */
        for (long i = 0; i < nC; i++) hc[i] = NAN;
    Buf C = buf_in(hc, sizeof(float) * (size_t)nC);
    BOTH(be->ops->gemm_batched(be, ta, tb, m, n, k, alpha, P(A), lda, sA, P(B), ldb,
                               strideB_zero ? 0 : sB, beta, P(C), ldc, sC, batch));
    char what[96];
    snprintf(what, sizeof what, "gemm %c%c m%d n%d k%d x%d a%.2g b%.2g%s", ta ? 'T' : 'N',
             tb ? 'T' : 'N', m, n, k, batch, alpha, beta, strideB_zero ? " sB=0" : "");
    /* cuBLAS and the CPU backend (OpenBLAS) each sum the k products in their own blocked order
     * (with FMAs): each is within gamma_k * sum|a_i b_i| of the exact value; with
     * |a|,|b| <= 1 and k <= 62 the expected difference is a few 1e-6 (random rounding grows
     * like sqrt(k)), the worst-case bound about 6e-5. atol 2e-5 + rtol 1e-5 sits between: 10x the typical
     * difference, far below the O(0.1) of a wrong operand, transpose or stride. The padding
     * between columns and batch items must stay untouched (bit for bit, NaN included). */
    buf_check(what, C, 0, 2e-5f, 1e-5f);
    free(hc);
    buf_free(&A);
    buf_free(&B);
    buf_free(&C);
}

static void test_gemm(void) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(ta, tb, 18, 62, 48, 5, 1.0f, 0.0f, 0);
            gemm_case(ta, tb, 6, 62, 18, 3, 0.75f, 0.5f, 0);
        }
    /* the network's own call shapes: forward X W^T, weight gradient, bias gradient (ones
     * vector with strideB = 0), input gradient */
    gemm_case(1, 0, 18, 62, 48, 7, 1.0f, 0.0f, 0);
    gemm_case(0, 1, 48, 18, 62, 7, 1.0f, 0.0f, 0);
    gemm_case(0, 0, 18, 1, 62, 7, 1.0f, 0.0f, 1);
    gemm_case(0, 0, 48, 62, 18, 7, 1.0f, 0.0f, 0);
    gemm_case(0, 0, 5, 3, 0, 2, 1.0f, 0.0f, 0); /* k = 0: C = 0 */
}

/* ---- fused row ops ---- */
static void test_rows(void) {
    const int R = 5, B = 62, H = 18, E = 3, A = 6;
    const long rows = (long)R * B, P = 101; /* bias run stride as a parameter block's */

    /* bias_act: one float add (and a max) per element, correctly rounded on both: exact */
    for (int relu = 0; relu < 2; relu++) {
        Buf y = rand_buf(rows * H, -1, 1), bias = rand_buf(R * P, -1, 1);
        BOTH(be->ops->bias_act(be, P(y), (float *)P(bias) + 7, P, R, B, H, relu));
        buf_check(relu ? "bias_act relu (exact)" : "bias_act linear (exact)", y, 1, 0, 0);
        /* relu_bwd on the ReLU output: a select, exact */
        if (relu) {
            Buf dy = rand_buf(rows * H, -1, 1);
            BOTH(be->ops->relu_bwd(be, P(dy), P(y), rows * H));
            buf_check("relu_bwd (exact)", dy, 1, 0, 0);
            buf_free(&dy);
        }
        buf_free(&y);
        buf_free(&bias);
    }

    /* softmax and its backward, in place too */
    Buf in = rand_buf(rows * E, -4, 4), out = buf_in(NULL, sizeof(float) * rows * E);
    BOTH(be->ops->softmax_rows(be, P(out), P(in), rows, E));
    buf_check("softmax_rows", out, 0, ROW_ATOL, ROW_RTOL);
    Buf in2 = rand_buf(rows * A, -4, 4);
    BOTH(be->ops->softmax_rows(be, P(in2), P(in2), rows, A));
    buf_check("softmax_rows in place (A=6)", in2, 0, ROW_ATOL, ROW_RTOL);
    /* the backward takes the CPU's p on both sides so only the backward is compared */
    float *hp = malloc(sizeof(float) * rows * E);
    g_cpu->ops->download(g_cpu, hp, out.c, sizeof(float) * rows * E);
    Buf p = buf_in(hp, sizeof(float) * rows * E), dp = rand_buf(rows * E, -1, 1),
        dl = buf_in(NULL, sizeof(float) * rows * E);
    BOTH(be->ops->softmax_bwd_rows(be, P(dl), P(p), P(dp), rows, E));
    buf_check("softmax_bwd_rows", dl, 0, ROW_ATOL, ROW_RTOL);
    free(hp);
    buf_free(&in);
    buf_free(&out);
    buf_free(&in2);
    buf_free(&p);
    buf_free(&dp);
    buf_free(&dl);

    /* noisy top-1 routing: inputs nudged so the top noisy logit leads by >= 0.05 (float
     * differences between the backends are ~1e-6, so no argmax can flip) */
    float *hl = rand_floats(rows * E, -1, 1), *hu = rand_floats(rows * E, -2, 2),
          *he = rand_floats(rows * E, -2, 2);
    int32_t *hch = malloc(sizeof(int32_t) * rows);
    for (long i = 0; i < rows; i++) {
        float z[PMATH_MAX_EXPERTS];
        int best = 0, second = -1;
        for (int j = 0; j < E; j++) {
            z[j] = pmath_noisy_logit(hl[i * E + j], hu[i * E + j], he[i * E + j]);
            if (z[j] > z[best]) best = j;
        }
        for (int j = 0; j < E; j++)
            if (j != best && (second < 0 || z[j] > z[second])) second = j;
        if (z[best] - z[second] < 0.05f) hl[i * E + best] += 0.1f;
        hch[i] = best;
    }
    Buf l = buf_in(hl, sizeof(float) * rows * E), u = buf_in(hu, sizeof(float) * rows * E),
        eps = buf_in(he, sizeof(float) * rows * E), g = buf_in(NULL, sizeof(float) * rows * E),
        ch = buf_in(NULL, sizeof(int32_t) * rows), chin = buf_in(hch, sizeof(int32_t) * rows),
        dg = rand_buf(rows * E, -1, 1), dlr = buf_in(NULL, sizeof(float) * rows * E),
        du = buf_in(NULL, sizeof(float) * rows * E);
    for (int mode = 0; mode < 2; mode++) {
        BOTH(be->ops->route_top1(be, mode, P(l), P(u), P(eps), rows, E, P(g), P(ch)));
        buf_check(mode ? "route_top1 switch: choice (exact)" : "route_top1 faithful: choice (exact)",
                  ch, 1, 0, 0);
        if (mode) buf_check("route_top1 switch: gate", g, 0, ROW_ATOL, ROW_RTOL);
        else buf_check("route_top1 faithful: one-hot gate (exact)", g, 1, 0, 0);
        BOTH(be->ops->route_top1_bwd(be, mode, P(l), P(u), P(eps), P(chin), P(dg), rows, E, P(dlr),
                                     P(du)));
        if (mode) {
            buf_check("route_top1_bwd switch: dl", dlr, 0, ROW_ATOL, ROW_RTOL);
            buf_check("route_top1_bwd switch: du", du, 0, ROW_ATOL, ROW_RTOL);
        } else {
            buf_check("route_top1_bwd faithful: dl exact zeros", dlr, 1, 0, 0);
            buf_check("route_top1_bwd faithful: du exact zeros", du, 1, 0, 0);
        }
    }
    /* counts per run from the (identical) choices: exact */
    Buf counts = buf_in(NULL, sizeof(int32_t) * R * E);
    BOTH(be->ops->count_choices(be, P(counts), P(chin), R, B, E));
    buf_check("count_choices (exact)", counts, 1, 0, 0);
    buf_free(&counts);

    /* combine: dense softmax gates (FMA contraction: tolerance) and one-hot gates (the sparse
     * kinds: 1*h + 0*h' is exact with or without FMA) */
    long es = rows * H + 11; /* expert blocks with a gap, as a strided layout */
    Buf h = rand_buf(es * E, -1, 1), f = buf_in(NULL, sizeof(float) * rows * H),
        gd = rand_buf(rows * E, 0, 1);
    BOTH(be->ops->combine(be, P(f), P(gd), P(h), es, rows, E, H));
    buf_check("combine (dense gates)", f, 0, ROW_ATOL, ROW_RTOL);
    BOTH(be->ops->route_top1(be, 0, P(l), P(u), P(eps), rows, E, P(g), P(ch)));
    BOTH(be->ops->combine(be, P(f), P(g), P(h), es, rows, E, H));
    buf_check("combine (one-hot gates, exact)", f, 1, 0, 0);
    Buf df = rand_buf(rows * H, -1, 1), dh = rand_buf(es * E, -1, 1),
        dgo = buf_in(NULL, sizeof(float) * rows * E);
    BOTH(be->ops->combine_bwd(be, P(dh), P(dgo), P(df), P(gd), P(h), es, rows, E, H));
    buf_check("combine_bwd dh (one multiply, exact)", dh, 1, 0, 0);
    buf_check("combine_bwd dg", dgo, 0, ROW_ATOL, ROW_RTOL);
    /* grouped combine (each expert's rows compact, sorted): pos a shuffle of each run's rows,
     * the choices of route_top1 above; one multiply per element (exact), dg a sum over H */
    int32_t *hpos = malloc(sizeof(int32_t) * rows);
    for (int r = 0; r < R; r++) {
        int32_t *pr = hpos + (long)r * B;
        for (int b = 0; b < B; b++) pr[b] = b;
        for (int b = B - 1; b > 0; b--) {
            int j = (int)rng_randint(&g_rng, 0, b + 1);
            int32_t t = pr[b];
            pr[b] = pr[j];
            pr[j] = t;
        }
    }
    Buf pos = buf_in(hpos, sizeof(int32_t) * rows), hs = rand_buf(rows * H, 0, 1),
        fg = buf_in(NULL, sizeof(float) * rows * H), dhs = rand_buf(rows * H, -1, 1),
        dgg = rand_buf(rows * E, -1, 1);
    BOTH(be->ops->combine_grouped(be, P(fg), P(gd), P(ch), P(hs), P(pos), R, B, E, H));
    buf_check("combine_grouped (one multiply, exact)", fg, 1, 0, 0);
    BOTH(be->ops->combine_grouped_bwd(be, P(dhs), P(dgg), P(df), P(gd), P(ch), P(hs), P(pos), R, B, E,
                                      H));
    buf_check("combine_grouped_bwd dhs (one multiply, exact)", dhs, 1, 0, 0);
    buf_check("combine_grouped_bwd dg", dgg, 0, ROW_ATOL, ROW_RTOL);
    free(hpos);
    buf_free(&pos);
    buf_free(&hs);
    buf_free(&fg);
    buf_free(&dhs);
    buf_free(&dgg);
    buf_free(&h);
    buf_free(&f);
    buf_free(&gd);
    buf_free(&df);
    buf_free(&dh);
    buf_free(&dgo);
    free(hl);
    free(hu);
    free(he);
    free(hch);
    buf_free(&l);
    buf_free(&u);
    buf_free(&eps);
    buf_free(&g);
    buf_free(&ch);
    buf_free(&chin);
    buf_free(&dg);
    buf_free(&dlr);
    buf_free(&du);

    /* categorical policy. Logits are kept with a greedy gap >= 1e-3 and uniforms >= 1e-4 away
     * from every CDF boundary, so sampling cannot flip between the backends. */
    float *hx = rand_floats(rows * A, -2, 2), *hux = malloc(sizeof(float) * rows);
    int32_t *ha = malloc(sizeof(int32_t) * rows);
    for (long i = 0; i < rows; i++) {
        float *x = hx + i * A;
        int best = 0;
        for (int j = 1; j < A; j++) best = x[j] > x[best] ? j : best;
        for (int j = 0; j < A; j++)
            if (j != best && x[best] - x[j] < 1e-3f) x[best] += 2e-3f;
        double m = x[0], s = 0, c = 0;
        for (int j = 1; j < A; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < A; j++) s += exp(x[j] - m);
        int ok;
        do {
            hux[i] = frand(0, 1);
            ok = 1;
            c = 0;
            for (int j = 0; j < A - 1; j++) {
                c += exp(x[j] - m) / s;
                if (fabs(hux[i] - c) < 1e-4) ok = 0;
            }
        } while (!ok);
        ha[i] = (int32_t)(i % A);
    }
    Buf X = buf_in(hx, sizeof(float) * rows * A), U = buf_in(hux, sizeof(float) * rows),
        act = buf_in(ha, sizeof(int32_t) * rows), lp = buf_in(NULL, sizeof(float) * rows),
        ent = buf_in(NULL, sizeof(float) * rows), smp = buf_in(NULL, sizeof(int32_t) * rows),
        dlp = rand_buf(rows, -1, 1), dent = rand_buf(rows, -1, 1),
        dx = buf_in(NULL, sizeof(float) * rows * A);
    BOTH(be->ops->cat_logp(be, P(lp), P(ent), P(X), P(act), rows, A));
    buf_check("cat_logp: logp", lp, 0, ROW_ATOL, ROW_RTOL);
    buf_check("cat_logp: entropy", ent, 0, ROW_ATOL, ROW_RTOL);
    BOTH(be->ops->cat_logp(be, P(lp), NULL, P(X), P(act), rows, A));
    buf_check("cat_logp: logp (entropy NULL)", lp, 0, ROW_ATOL, ROW_RTOL);
    BOTH(be->ops->cat_sample(be, P(smp), P(X), P(U), rows, A));
    buf_check("cat_sample inverse CDF (exact)", smp, 1, 0, 0);
    BOTH(be->ops->cat_sample(be, P(smp), P(X), NULL, rows, A));
    buf_check("cat_sample greedy (exact)", smp, 1, 0, 0);
    BOTH(be->ops->cat_bwd(be, P(dx), P(X), P(act), P(dlp), P(dent), rows, A));
    buf_check("cat_bwd (with entropy)", dx, 0, ROW_ATOL, ROW_RTOL);
    BOTH(be->ops->cat_bwd(be, P(dx), P(X), P(act), P(dlp), NULL, rows, A));
    buf_check("cat_bwd (dent NULL)", dx, 0, ROW_ATOL, ROW_RTOL);
    free(hx);
    free(hux);
    free(ha);
    buf_free(&X);
    buf_free(&U);
    buf_free(&act);
    buf_free(&lp);
    buf_free(&ent);
    buf_free(&smp);
    buf_free(&dlp);
    buf_free(&dent);
    buf_free(&dx);

    /* minibatch gathers: copies, exact */
    const long src_rows = 97;
    const int len = 48;
    int32_t *hidx = malloc(sizeof(int32_t) * rows);
    for (long i = 0; i < rows; i++) hidx[i] = (int32_t)rng_randint(&g_rng, 0, src_rows);
    Buf idx = buf_in(hidx, sizeof(int32_t) * rows), src = rand_buf(R * src_rows * len, -1, 1),
        dst = buf_in(NULL, sizeof(float) * rows * len);
    BOTH(be->ops->gather_rows(be, P(dst), P(src), P(idx), R, B, src_rows, len));
    buf_check("gather_rows (exact)", dst, 1, 0, 0);
    BOTH(be->ops->gather_rows_i32(be, P(dst), P(src), P(idx), R, B, src_rows, 3));
    buf_check("gather_rows_i32 (exact)", dst, 1, 0, 0);
    free(hidx);
    buf_free(&idx);
    buf_free(&src);
    buf_free(&dst);
}

/* ---- randomness ---- */
static void test_rand(void) {
    enum { R = 4 };
    const long ns[] = {37, 64};
    for (int c = 0; c < 2; c++) {
        long n = ns[c];
        PrandStream st[2][R];
        for (int r = 0; r < R; r++) {
            st[0][r].seed = st[1][r].seed = prand_derive_seed(42, PRAND_ROUTER_NOISE, (uint64_t)r);
            st[0][r].offset = st[1][r].offset = (uint64_t)r * 2 + (r == 3 ? (1ull << 33) : 0);
        }
        Buf o = buf_in(NULL, sizeof(float) * R * n);
        BOTH(be->ops->rand_normal_runs(be, P(o), R, n, st[side]));
        /* exact: the CUDA Box-Muller runs glibc's logf/sincosf ported to double FMA
         * (include/pmath/pmath_libm.h, equal to this host's libm on every input: test_libm_port) */
        buf_check(n & 1 ? "rand_normal_runs (odd n, exact)" : "rand_normal_runs (exact)", o, 1, 0, 0);
        BOTH(be->ops->rand_uniform_runs(be, P(o), R, n, st[side]));
        buf_check("rand_uniform_runs (exact)", o, 1, 0, 0);
        check_bytes("rand stream offsets advance alike", st[1], st[0], R, sizeof(PrandStream));
        buf_free(&o);
    }
}

/* ---- optimizer and noise on a hand-built parameter block ---- */
typedef struct {
    ParamBlock pb[2]; /* cpu, gpu */
} PbPair;

static void pb_pair_init(PbPair *pp, int R, uint64_t seed) {
    const struct {
        const char *name;
        int rows, cols;
        TensorRole role;
        int expert, is_bias;
    } spec[] = {
        {"mix_gate.weight", 1, 18, TENSOR_UNUSED, -1, 0},
        {"router.route.weight", 3, 48, TENSOR_ROUTER, -1, 0},
        {"experts.0.fc1.weight", 18, 48, TENSOR_EXPERT, 0, 0},
        {"experts.0.fc1.bias", 18, 1, TENSOR_EXPERT, 0, 1},
        {"odd.weight", 5, 3, TENSOR_EXPERT, 1, 0}, /* odd size: noise pairs straddle tensors */
        {"experts.1.fc2.bias", 18, 1, TENSOR_EXPERT, 1, 1},
        {"head.weight", 6, 18, TENSOR_HEAD, -1, 0},
    };
    int nt = PM_ARRAY_LEN(spec);
    Rng r0;
    rng_seed(&r0, seed, 99, 0);
    for (int side = 0; side < 2; side++) {
        ParamBlock *pb = &pp->pb[side];
        memset(pb, 0, sizeof *pb);
        pb->R = R;
        pb->n_tensors = nt;
        long off = 0;
        for (int t = 0; t < nt; t++) {
            ParamTensor *T = &pb->tensors[t];
            snprintf(T->name, sizeof T->name, "%s", spec[t].name);
            T->rows = spec[t].rows;
            T->cols = spec[t].cols;
            T->role = spec[t].role;
            T->expert = spec[t].expert;
            T->is_bias = spec[t].is_bias;
            T->offset = off;
            off += param_tensor_size(T);
        }
        pb->P = off;
        pb->h_took_part = calloc((size_t)R * nt, 1);
        pb->h_adam_step = calloc((size_t)R * nt, sizeof(int32_t));
    }
    long n = (long)R * pp->pb[0].P;
    float *h = malloc(sizeof(float) * (size_t)n);
    for (int which = 0; which < 4; which++) {
        for (long i = 0; i < n; i++)
            h[i] = which == 0 ? (float)(rng_uniform(&r0) * 0.4 - 0.2)
                   : which == 1 ? (float)(rng_uniform(&r0) * 2e-2 - 1e-2)
                                : 0.0f;
        for (int side = 0; side < 2; side++) {
            ParamBlock *pb = &pp->pb[side];
            Backend *be = side_be(side);
            float **dst = which == 0 ? &pb->params : which == 1 ? &pb->grads
                          : which == 2 ? &pb->adam_m : &pb->adam_v;
            *dst = be->ops->alloc(be, sizeof(float) * (size_t)n);
            be->ops->upload(be, *dst, h, sizeof(float) * (size_t)n);
        }
    }
    /* the router's loss gradient is exactly zero (faithful top-1): only decay moves it */
    for (int side = 0; side < 2; side++) {
        ParamBlock *pb = &pp->pb[side];
        for (int r = 0; r < R; r++)
            side_be(side)->ops->zero(side_be(side), pb->grads + r * pb->P + pb->tensors[1].offset,
                                     sizeof(float) * (size_t)param_tensor_size(&pb->tensors[1]));
        for (int r = 0; r < R; r++)
            for (int t = 0; t < nt; t++) /* expert tensors of some runs did not take part */
                pb->h_took_part[r * nt + t] = !(pb->tensors[t].role == TENSOR_EXPERT && (r + t) % 3 == 0);
    }
    free(h);
}

static void pb_pair_check(const char *what, PbPair *pp, float atol, float rtol) {
    char name[96];
    const char *field[4] = {"params", "grads", "adam_m", "adam_v"};
    long n = (long)pp->pb[0].R * pp->pb[0].P;
    for (int k = 0; k < 4; k++) {
        if (k == 1) continue;
        Buf b = {k == 0 ? pp->pb[0].params : k == 2 ? pp->pb[0].adam_m : pp->pb[0].adam_v,
                 k == 0 ? pp->pb[1].params : k == 2 ? pp->pb[1].adam_m : pp->pb[1].adam_v,
                 sizeof(float) * (size_t)n};
        snprintf(name, sizeof name, "%s: %s", what, field[k]);
        buf_check(name, b, 0, atol, rtol);
    }
    snprintf(name, sizeof name, "%s: step counts (exact)", what);
    check_bytes(name, pp->pb[1].h_adam_step, pp->pb[0].h_adam_step,
                (long)pp->pb[0].R * pp->pb[0].n_tensors, sizeof(int32_t));
}

static void pb_pair_free(PbPair *pp) {
    for (int side = 0; side < 2; side++) {
        ParamBlock *pb = &pp->pb[side];
        Backend *be = side_be(side);
        be->ops->release(be, pb->params);
        be->ops->release(be, pb->grads);
        be->ops->release(be, pb->adam_m);
        be->ops->release(be, pb->adam_v);
        free(pb->h_took_part);
        free(pb->h_adam_step);
    }
}

static void test_adam_noise(void) {
    enum { R = 4 };
    PbPair pp;
    pb_pair_init(&pp, R, 3);
    long n = (long)R * pp.pb[0].P;
    float *before = malloc(sizeof(float) * (size_t)n), *after = malloc(sizeof(float) * (size_t)n);
    g_gpu->ops->download(g_gpu, before, pp.pb[1].params, sizeof(float) * (size_t)n);
    float lr[R] = {3e-4f, 1e-3f, 1e-4f, 3e-4f};
    AdamConfig cfg;
    adam_config_default(&cfg);
    for (int step = 0; step < 3; step++) BOTH(be->ops->adam_step(be, &cfg, &pp.pb[side], lr));
    /* pmath_adam_elem with the same host-prepared constants; sqrtf and division are correctly
     * rounded on both, FMA contraction of m/v updates differs by an ulp; an update is
     * lr * m / (sqrt(v) + eps) <= ~lr: 1e-6 relative of params ~0.2 plus 1e-9 absolute */
    pb_pair_check("adam_step x3 (coupled decay)", &pp, 1e-9f, 2e-6f);
    /* slices that did not take part (and mix_gate) are untouched on the GPU: bit for bit */
    g_gpu->ops->download(g_gpu, after, pp.pb[1].params, sizeof(float) * (size_t)n);
    long bad = 0, cnt = 0;
    const ParamBlock *pb = &pp.pb[1];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < pb->n_tensors; t++) {
            if (adam_tensor_active(pb, r, t)) continue;
            long o = r * pb->P + pb->tensors[t].offset, sz = param_tensor_size(&pb->tensors[t]);
            cnt += sz;
            bad += memcmp(after + o, before + o, sizeof(float) * (size_t)sz) != 0;
        }
    report("adam_step skips inactive slices (exact)", cnt, bad, 0, bad ? 0 : -1);
    cfg.decoupled = 1;
    cfg.no_router_decay = 1;
    BOTH(be->ops->adam_step(be, &cfg, &pp.pb[side], lr));
    pb_pair_check("adam_step AdamW, no router decay", &pp, 1e-9f, 2e-6f);

    /* expert noise: the same normals (exact, see test_rand), scaled by sigma = 1e-3 and added
     * once, onto params that Adam above left an ulp apart: atol 2e-8 covers one ulp of params
     * ~0.2 (1.5e-8); a wrong stream element gives ~1e-3 */
    uint64_t keys[R];
    float sigma[R] = {1e-3f, 5e-4f, 5e-3f, 1e-3f};
    for (int r = 0; r < R; r++) keys[r] = prand_derive_seed(7 + (uint64_t)r, PRAND_EXPERT_NOISE, 0);
    NoiseState *ns[2];
    for (int side = 0; side < 2; side++) ns[side] = noise_create(&pp.pb[side], keys, sigma, NULL);
    NoiseConfig nc;
    noise_config_default(&nc);
    int applied[2];
    for (int k = 0; k < 2; k++) BOTH(applied[side] = be->ops->noise_step(be, ns[side], &nc, &pp.pb[side], lr));
    pb_pair_check("noise_step x2 (faithful)", &pp, 2e-8f, 1e-6f);
    nc.only_took_part = 1;
    nc.scale = NOISE_SCALE_LR;
    nc.every_k = 2;
    for (int k = 0; k < 3; k++) {
        BOTH(applied[side] = be->ops->noise_step(be, ns[side], &nc, &pp.pb[side], lr));
        report("noise_step every_k decision alike", 1, applied[0] != applied[1], 0, 0);
    }
    pb_pair_check("noise_step only_took_part, lr scale, every 2", &pp, 2e-8f, 1e-6f);
    check_bytes("noise streams and call counts alike", ns[1]->streams, ns[0]->streams, R,
                sizeof(PrandStream));
    report("noise call counts alike", 1, ns[0]->calls != ns[1]->calls, 0, 0);
    for (int side = 0; side < 2; side++) noise_free(ns[side]);
    free(before);
    free(after);
    pb_pair_free(&pp);
}

/* ---- GAE ---- */
static void test_gae(void) {
    const int T = 24, N = 37;
    float *dn = malloc(sizeof(float) * T * N), *nd = malloc(sizeof(float) * N);
    for (long i = 0; i < (long)T * N; i++) dn[i] = rng_uniform(&g_rng) < 0.1 ? 1.0f : 0.0f;
    for (int i = 0; i < N; i++) nd[i] = rng_uniform(&g_rng) < 0.2 ? 1.0f : 0.0f;
    Buf rew = rand_buf((long)T * N, -1, 3), val = rand_buf((long)T * N, -2, 2),
        done = buf_in(dn, sizeof(float) * T * N), nv = rand_buf(N, -2, 2),
        ndone = buf_in(nd, sizeof(float) * N), adv = buf_in(NULL, sizeof(float) * T * N),
        ret = buf_in(NULL, sizeof(float) * T * N);
    BOTH(be->ops->gae(be, T, N, P(rew), P(val), P(done), P(nv), P(ndone), 0.99f, 0.95f, P(adv), P(ret)));
    /* the same recursion, FMA-contracted on the GPU: an ulp per step over <= 24 steps of
     * values <= ~30 */
    buf_check("gae advantages", adv, 0, 1e-5f, 1e-5f);
    buf_check("gae returns", ret, 0, 1e-5f, 1e-5f);
    free(dn);
    free(nd);
    buf_free(&rew);
    buf_free(&val);
    buf_free(&done);
    buf_free(&nv);
    buf_free(&ndone);
    buf_free(&adv);
    buf_free(&ret);
}

/* ---- PPO loss ---- */
static void test_ppo_loss(void) {
    enum { R = 6, B = 62, A = 6 };
    const long rows = (long)R * B;
    const float clip = 0.2f;
    float *hx = rand_floats(rows * A, -2, 2), *hold = malloc(sizeof(float) * rows),
          *hadv = rand_floats(rows, -2, 2), *hret = rand_floats(rows, -1, 4),
          *hv = malloc(sizeof(float) * rows), *hov = rand_floats(rows, -1, 4);
    int32_t *ha = malloc(sizeof(int32_t) * rows);
    /* ratios and value steps kept >= 2e-3 away from the clip edges 1 +- clip and +-clip, so
     * the GPU's expf (a few ulp off) cannot move a sample across an edge */
    for (long i = 0; i < rows; i++) {
        float logp[PMATH_MAX_ACTIONS];
        ha[i] = (int32_t)rng_randint(&g_rng, 0, A);
        pmath_log_softmax(hx + i * A, A, logp);
        float ratio;
        do ratio = frand(0.5f, 1.5f);
        while (fabsf(ratio - (1 - clip)) < 2e-3f || fabsf(ratio - (1 + clip)) < 2e-3f);
        hold[i] = logp[ha[i]] - logf(ratio);
        float dv;
        do dv = frand(-0.5f, 0.5f);
        while (fabsf(fabsf(dv) - clip) < 2e-3f);
        hv[i] = hov[i] + dv;
    }
    Buf X = buf_in(hx, sizeof(float) * rows * A), act = buf_in(ha, sizeof(int32_t) * rows),
        old = buf_in(hold, sizeof(float) * rows), adv = buf_in(hadv, sizeof(float) * rows),
        ret = buf_in(hret, sizeof(float) * rows), v = buf_in(hv, sizeof(float) * rows),
        ov = buf_in(hov, sizeof(float) * rows), dx = buf_in(NULL, sizeof(float) * rows * A),
        dv = buf_in(NULL, sizeof(float) * rows), st = buf_in(NULL, sizeof(PpoLossStats) * R);
    for (int variant = 0; variant < 3; variant++) {
        PpoLossConfig cfg;
        ppo_loss_config_default(&cfg);
        if (variant == 1) {
            cfg.clip_vloss = 1;
            cfg.ent_coef = 0.01f;
        }
        if (variant == 2) cfg.norm_adv = 0;
        const char *tag = variant == 0 ? "ppo_loss default" : variant == 1 ? "ppo_loss clip_vloss, entropy" : "ppo_loss no adv norm";
        BOTH(be->ops->ppo_loss(be, &cfg, R, B, A, P(X), P(act), P(old), P(adv), P(ret),
                               cfg.clip_vloss ? P(ov) : NULL, P(v), P(dx), P(dv), P(st)));
        char what[96];
        /* per-sample formulas through expf/logf: row-op tolerances; the statistics are
         * per-run means of those in the same double order */
        snprintf(what, sizeof what, "%s: d_logits", tag);
        buf_check(what, dx, 0, ROW_ATOL, ROW_RTOL);
        snprintf(what, sizeof what, "%s: d_values", tag);
        buf_check(what, dv, 0, ROW_ATOL, ROW_RTOL);
        snprintf(what, sizeof what, "%s: stats", tag);
        buf_check(what, st, 0, ROW_ATOL, ROW_RTOL);
    }
    free(hx);
    free(hold);
    free(hadv);
    free(hret);
    free(hv);
    free(hov);
    free(ha);
    Buf all[] = {X, act, old, adv, ret, v, ov, dx, dv, st};
    for (int i = 0; i < PM_ARRAY_LEN(all); i++) buf_free(&all[i]);
}

/* ---- networks: forward, backward, Adam, noise ---- */

/* Whether the two backends took the same branch everywhere: ReLU masks of every expert layer
 * and routing choices. An input that puts a pre-activation within rounding of 0 (or two
 * noisy logits within rounding of each other) flips a branch and is redrawn instead of
 * compared, as ggml's test-backend-ops skips ReLU kinks. */
static int same_branches(Net *nn[2]) {
    long rows = (long)nn[0]->R * nn[0]->last_B;
    int32_t *ca = malloc(sizeof(int32_t) * rows), *cb = malloc(sizeof(int32_t) * rows);
    g_cpu->ops->download(g_cpu, ca, nn[0]->choice, sizeof(int32_t) * rows);
    g_gpu->ops->download(g_gpu, cb, nn[1]->choice, sizeof(int32_t) * rows);
    int same = !memcmp(ca, cb, sizeof(int32_t) * rows); /* routing, or moe's gate argmax */
    free(ca);
    free(cb);
    /* the rows each expert ran on (net_routed_rows: the same rows whether a side keeps the
     * grouped or the dense layout) */
    long cap = (long)nn[0]->last_B * nn[0]->cfg.hidden;
    float *a = malloc(sizeof(float) * (size_t)cap), *b = malloc(sizeof(float) * (size_t)cap);
    for (int r = 0; r < nn[0]->R && same; r++)
        for (int e = 0; e < nn[0]->E && same; e++)
            for (int layer = 0; layer < 2 && same; layer++) {
                int na = net_routed_rows(nn[0], r, e, layer, a);
                int nb = net_routed_rows(nn[1], r, e, layer, b);
                same &= na == nb;
                for (long i = 0; same && i < (long)na * nn[0]->cfg.hidden; i++)
                    same &= (a[i] > 0) == (b[i] > 0);
            }
    free(a);
    free(b);
    return same;
}

static void net_case(NetKind kind, NetRole role, int router) {
    enum { R = 3, B = 62 };
    NetConfig c = net_config_default(kind, role);
    c.router = router;
    uint64_t seeds[R] = {1, 2, 3};
    Net *nn[2];
    PmError err;
    for (int side = 0; side < 2; side++) {
        nn[side] = net_create(side_be(side), &c, R, B, seeds, &err);
        if (!nn[side]) {
            printf("FAIL net_create: %s\n", err.msg);
            g_failed++;
            return;
        }
    }
    /* The CUDA side computes sparse experts densely, the CPU grouped (BackendCaps
     * grouped_experts); --cpu-vs-cpu pairs the same two forms */
    if (g_gpu->caps.grouped_experts) nn[1]->grouped = 0;
    char tag[64], what[128];
    snprintf(tag, sizeof tag, "%s %s%s", net_kind_name(kind), role ? "value" : "policy",
             (kind == NET_SMOE || kind == NET_PAMOE) ? (router ? " switch" : " faithful") : "");
    const int in = c.in, E = nn[0]->E, out = nn[0]->out;
    long rows = (long)R * B;
    Buf x = {0}, eps = {0};
    int attempt = 0, same = 0;
    for (; attempt < 8 && !same; attempt++) {
        if (attempt) {
            buf_free(&x);
            buf_free(&eps);
        }
        x = rand_buf(rows * in, 0, 1);
        eps = buf_in(NULL, sizeof(float) * rows * E);
        PrandStream st[2][R];
        for (int r = 0; r < R; r++) {
            st[0][r].seed = st[1][r].seed = prand_derive_seed(seeds[r], PRAND_ROUTER_NOISE, 0);
            st[0][r].offset = st[1][r].offset = 2 * (uint64_t)attempt * rows * E;
        }
        /* each backend draws its own routing noise: the device Philox path in the loop */
        BOTH(be->ops->rand_normal_runs(be, P(eps), R, (long)B * E, st[side]));
        BOTH(net_forward(nn[side], P(x), B, P(eps)));
        same = same_branches(nn);
    }
    snprintf(what, sizeof what, "%s: no branch flips (%d draw%s)", tag, attempt, attempt > 1 ? "s" : "");
    report(what, 1, !same, 0, 0);
    /* Chains of <= 4 gemms (k <= 62) and row ops, each within ~1e-6 relative (see gemm):
     * outputs and gradients of magnitude ~0.1-10 agree to rtol 1e-4, atol 1e-5. */
    Buf o = {nn[0]->out_buf, nn[1]->out_buf, sizeof(float) * (size_t)rows * out};
    snprintf(what, sizeof what, "%s: forward output", tag);
    buf_check(what, o, 0, 1e-5f, 1e-4f);
    if (kind != NET_MLP) {
        Buf g = {nn[0]->gate, nn[1]->gate, sizeof(float) * (size_t)rows * E};
        snprintf(what, sizeof what, "%s: gate", tag);
        buf_check(what, g, 0, 1e-5f, 1e-4f);
        Buf ch = {nn[0]->choice, nn[1]->choice, sizeof(int32_t) * (size_t)rows};
        snprintf(what, sizeof what, "%s: choice (exact)", tag);
        buf_check(what, ch, 1, 0, 0);
    }
    Buf dout = rand_buf(rows * out, -1, 1);
    BOTH(net_backward(nn[side], P(dout)));
    long np = (long)R * nn[0]->pb.P;
    Buf gr = {nn[0]->pb.grads, nn[1]->pb.grads, sizeof(float) * (size_t)np};
    snprintf(what, sizeof what, "%s: backward grads", tag);
    buf_check(what, gr, 0, 1e-5f, 1e-4f);
    snprintf(what, sizeof what, "%s: took_part (exact)", tag);
    check_bytes(what, nn[1]->pb.h_took_part, nn[0]->pb.h_took_part,
                (long)R * nn[0]->pb.n_tensors, 1);
    /* one optimizer step and, for PA-MoE, the expert noise: the update of a training step */
    float lr[R] = {3e-4f, 1e-4f, 1e-3f};
    AdamConfig ac;
    adam_config_default(&ac);
    BOTH(be->ops->adam_step(be, &ac, &nn[side]->pb, lr));
    if (kind == NET_PAMOE) {
        uint64_t keys[R];
        float sigma[R] = {1e-3f, 1e-3f, 1e-3f};
        for (int r = 0; r < R; r++) keys[r] = prand_derive_seed(seeds[r], PRAND_EXPERT_NOISE, role);
        NoiseConfig ncfg;
        noise_config_default(&ncfg);
        BOTH({
            NoiseState *ns = noise_create(&nn[side]->pb, keys, sigma, NULL);
            be->ops->noise_step(be, ns, &ncfg, &nn[side]->pb, lr);
            noise_free(ns);
        });
    }
    /* Adam's first step moves every active parameter by ~lr * sign(g): gradients that agree
     * to 1e-4 relative give updates that agree to ~1e-4 * lr, unless |g| is near Adam's eps
     * (1e-5) where the update is lr * g / (|g| + eps): 1e-6 absolute covers that */
    Buf pr = {nn[0]->pb.params, nn[1]->pb.params, sizeof(float) * (size_t)np};
    snprintf(what, sizeof what, "%s: params after Adam%s", tag, kind == NET_PAMOE ? " + noise" : "");
    buf_check(what, pr, 0, 1e-6f, 1e-5f);
    buf_free(&x);
    buf_free(&eps);
    buf_free(&dout);
    for (int side = 0; side < 2; side++) net_free(nn[side]);
}

static void test_nets(void) {
    for (int k = NET_MLP; k <= NET_PAMOE; k++)
        for (int role = 0; role < 2; role++)
            for (int router = 0; router < ((k == NET_SMOE || k == NET_PAMOE) ? 2 : 1); router++)
                net_case((NetKind)k, (NetRole)role, router);
}

static void run_suite(void) {
    rng_seed(&g_rng, 2024, 77, 0);
    g_digest = 0xcbf29ce484222325ull;
    test_memory();
    test_gemm();
    test_rows();
    test_rand();
    test_adam_noise();
    test_gae();
    test_ppo_loss();
    test_nets();
}

/* --cpu-vs-cpu: the harness against itself (a second CPU backend in the GPU's place; every
 * check must pass, exact ones trivially), to test this file on a machine without a GPU. */
int main(int argc, char **argv) {
    int self = argc > 1 && !strcmp(argv[1], "--cpu-vs-cpu");
    if (!self && !backend_cuda_available()) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    char msg[512];
    g_cpu = backend_create("cpu", msg, sizeof msg);
    g_gpu = backend_create(self ? "cpu" : "cuda", msg, sizeof msg);
    if (!g_gpu) {
        printf("FAIL backend_create(\"cuda\"): %s\n", msg);
        return 1;
    }
    run_suite();
    uint64_t first = g_digest;
    int checks = g_checks;
    printf("-- second pass (determinism: the GPU outputs must repeat bit for bit)\n");
    run_suite();
    report("determinism: second pass, same GPU bytes", 1, g_digest != first, 0, 0);
    printf("gpu_backend: %d checks, %d failed\n", g_checks, g_failed);
    (void)checks;
    backend_free(g_gpu);
    backend_free(g_cpu);
    return g_failed ? 1 : 0;
}
