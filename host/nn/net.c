/* net.c: mlp, dense MoE, sparse (noisy top-1) MoE and PA-MoE networks for R runs over the
 * backend (spec/networks.md 1-10). The reference for the layout: tensors in PyTorch's
 * construction order (so init draws follow the reference's order), (out, in) row-major.
 *
 * Matrix products in column-major backend terms: a row-major (out, in) weight is a
 * column-major (in, out) matrix with ld = in, a row-major activation (B, n) a column-major
 * (n, B) matrix with ld = n. Hence
 *   forward   Y (out,B) = op_T(W) X           gemm(T, N, out, B, in)
 *   weight    dW^T (in,out) = X dY^T          gemm(N, T, in, out, B)
 *   input     dX (in,B) = W dY                gemm(N, N, in, B, out)
 *   bias      db (out,1) = dY ones(B)         gemm(N, N, out, 1, B), strideB = 0
 * each batched over runs with strideA = P (the parameter block's run stride). */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

NetConfig net_config_default(NetKind kind, NetRole role) {
    NetConfig c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.role = role;
    c.router = ROUTE_FAITHFUL;
    c.in = 48;
    c.hidden = 18;
    c.experts = 3;
    c.actions = 6;
    return c;
}

static const char *const KIND_NAMES[] = {"mlp", "moe", "smoe", "pamoe"};

int net_kind_parse(const char *s) {
    for (int k = 0; k < 4; k++)
        if (!strcmp(s, KIND_NAMES[k])) return k;
    if (!strcmp(s, "dmoe")) return NET_PAMOE; /* the reference's name for PA-MoE */
    return -1;
}

const char *net_kind_name(NetKind k) { return (k >= 0 && k <= 3) ? KIND_NAMES[k] : "?"; }

int net_kind_is_sparse(NetKind k) { return k == NET_SMOE || k == NET_PAMOE; }

/* Adds Lin(in -> out) as "<prefix>.weight" (out, in) and "<prefix>.bias" (out, 1). */
static void add_linear(ParamBlock *pb, const char *prefix, int in, int out, TensorRole role,
                       int expert, int *tw, int *tb) {
    char name[PARAMS_NAME_LEN];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int w = params_add_tensor(pb, name, out, in, role, expert, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    int b = params_add_tensor(pb, name, out, 1, role, expert, 1);
    if (tw) *tw = w;
    if (tb) *tb = b;
}

static void add_experts(Net *n, ParamBlock *pb, const NetConfig *c, int E) {
    for (int e = 0; e < E; e++) {
        char p[PARAMS_NAME_LEN];
        if (c->kind == NET_MLP) snprintf(p, sizeof p, "expert.fc1");
        else snprintf(p, sizeof p, "experts.%d.fc1", e);
        add_linear(pb, p, c->in, c->hidden, TENSOR_EXPERT, e, &n->t_w1[e], &n->t_b1[e]);
        if (c->kind == NET_MLP) snprintf(p, sizeof p, "expert.fc2");
        else snprintf(p, sizeof p, "experts.%d.fc2", e);
        add_linear(pb, p, c->hidden, c->hidden, TENSOR_EXPERT, e, &n->t_w2[e], &n->t_b2[e]);
    }
}

/* The tensor table in the reference's construction order (networks.md 6). */
static void build_table(Net *n, ParamBlock *pb, const NetConfig *c) {
    int E = c->kind == NET_MLP ? 1 : c->experts;
    int out = c->role == NET_POLICY ? c->actions : 1;
    memset(pb, 0, sizeof *pb);
    n->t_gate_w = n->t_gate_b = n->t_route_w = n->t_route_b = -1;
    n->t_noise_w = n->t_noise_b = n->t_mix_w = n->t_mix_b = -1;
    switch (c->kind) {
    case NET_MLP:
        add_experts(n, pb, c, 1);
        break;
    case NET_MOE:
        add_experts(n, pb, c, E);
        add_linear(pb, "gate", c->in, E, TENSOR_ROUTER, -1, &n->t_gate_w, &n->t_gate_b);
        break;
    case NET_PAMOE:
        if (!c->omit_mix_gate)
            add_linear(pb, "mix_gate", c->hidden, 1, TENSOR_UNUSED, -1, &n->t_mix_w, &n->t_mix_b);
        __attribute__((fallthrough)); /* the rest is the sparse MoE */
    case NET_SMOE:
        add_linear(pb, "router.route", c->in, E, TENSOR_ROUTER, -1, &n->t_route_w, &n->t_route_b);
        add_linear(pb, "router.noise", c->in, E, TENSOR_ROUTER, -1, &n->t_noise_w, &n->t_noise_b);
        add_experts(n, pb, c, E);
        break;
    }
    add_linear(pb, "head", c->hidden, out, TENSOR_HEAD, -1, &n->t_head_w, &n->t_head_b);
}

static int check_config(const NetConfig *c, PmError *err) {
    if (c->kind < NET_MLP || c->kind > NET_PAMOE) return pm_error(err, "net: unknown kind %d", (int)c->kind);
    if (c->role != NET_POLICY && c->role != NET_VALUE) return pm_error(err, "net: unknown role %d", (int)c->role);
    if (c->in < 1 || c->hidden < 1 || c->actions < 2)
        return pm_error(err, "net: sizes must be positive (in %d, hidden %d, actions %d >= 2)",
                        c->in, c->hidden, c->actions);
    if (c->kind != NET_MLP && (c->experts < 1 || c->experts > NET_MAX_EXPERTS))
        return pm_error(err, "net: experts = %d, expected 1..%d", c->experts, NET_MAX_EXPERTS);
    if (c->router != ROUTE_FAITHFUL && c->router != ROUTE_SWITCH)
        return pm_error(err, "net: router mode %d, expected faithful (0) or switch (1)", c->router);
    return 0;
}

long net_param_count(const NetConfig *cfg) {
    if (check_config(cfg, NULL)) return -1;
    Net tmp;
    ParamBlock pb;
    build_table(&tmp, &pb, cfg);
    return pb.P;
}

Net *net_create(Backend *be, const NetConfig *cfg, int R, int max_B, const uint64_t *seeds,
                PmError *err) {
    if (check_config(cfg, err)) return NULL;
    if (R < 1 || max_B < 1) {
        pm_error(err, "net: runs %d and batch %d must be >= 1", R, max_B);
        return NULL;
    }
    Net *n = xcalloc(1, sizeof *n);
    n->cfg = *cfg;
    n->be = be;
    n->R = R;
    n->max_B = max_B;
    n->E = cfg->kind == NET_MLP ? 1 : cfg->experts;
    n->out = cfg->role == NET_POLICY ? cfg->actions : 1;
    build_table(n, &n->pb, cfg);
    ParamBlock *pb = &n->pb;
    pb->R = R;
    size_t pbytes = sizeof(float) * (size_t)R * (size_t)pb->P;
    pb->params = be->ops->alloc(be, pbytes);
    pb->grads = be->ops->alloc(be, pbytes);
    pb->adam_m = be->ops->alloc(be, pbytes);
    pb->adam_v = be->ops->alloc(be, pbytes);
    pb->h_took_part = xcalloc((size_t)R * pb->n_tensors, 1);
    pb->h_adam_step = xcalloc((size_t)R * pb->n_tensors, sizeof(int32_t));

    size_t rows = (size_t)R * max_B, H = (size_t)cfg->hidden, E = (size_t)n->E;
    size_t fl = sizeof(float);
    n->h1 = be->ops->alloc(be, fl * E * rows * H);
    n->h2 = be->ops->alloc(be, fl * E * rows * H);
    n->f = be->ops->alloc(be, fl * rows * H);
    n->out_buf = be->ops->alloc(be, fl * rows * (size_t)n->out);
    n->gate = be->ops->alloc(be, fl * rows * E);
    n->glog = be->ops->alloc(be, fl * rows * E);
    n->nlog = be->ops->alloc(be, fl * rows * E);
    n->choice = be->ops->alloc(be, sizeof(int32_t) * rows);
    n->counts = be->ops->alloc(be, sizeof(int32_t) * (size_t)R * E);
    n->h_counts = xcalloc((size_t)R * E, sizeof(int32_t));
    n->df = be->ops->alloc(be, fl * rows * H);
    n->dh2 = be->ops->alloc(be, fl * E * rows * H);
    n->dh1 = be->ops->alloc(be, fl * rows * H);
    n->dg = be->ops->alloc(be, fl * rows * E);
    n->dgl = be->ops->alloc(be, fl * rows * E);
    n->dnl = be->ops->alloc(be, fl * rows * E);
    n->ones = be->ops->alloc(be, fl * (size_t)max_B);
    n->h_rows = xmalloc(fl * (size_t)max_B * H);
    n->h_choice = xmalloc(sizeof(int32_t) * rows);
    /* Grouped experts where the backend asks for them (backend.h, BackendCaps). */
    n->grouped = net_kind_is_sparse(cfg->kind) && be->caps.grouped_experts;
    if (n->grouped) {
        n->perm = be->ops->alloc(be, sizeof(int32_t) * rows);
        n->pos = be->ops->alloc(be, sizeof(int32_t) * rows);
        n->h_perm = xmalloc(sizeof(int32_t) * rows);
        n->h_pos = xmalloc(sizeof(int32_t) * rows);
        n->h_gcount = xcalloc((size_t)R * E, sizeof(int32_t));
        n->h_goff = xcalloc((size_t)R * E, sizeof(int32_t));
        n->xs = be->ops->alloc(be, fl * rows * (size_t)cfg->in);
    }
    float *h = xmalloc(fl * (rows > (size_t)max_B ? rows : (size_t)max_B));
    for (size_t i = 0; i < (size_t)max_B; i++) h[i] = 1.0f;
    be->ops->upload(be, n->ones, h, fl * (size_t)max_B);
    if (cfg->kind == NET_MLP) {
        /* The single expert always has gate 1 (kept so callers can treat kinds alike). */
        for (size_t i = 0; i < rows; i++) h[i] = 1.0f;
        be->ops->upload(be, n->gate, h, fl * rows);
    }
    free(h);
    if (seeds) net_init(n, seeds);
    return n;
}

void net_free(Net *n) {
    if (!n) return;
    Backend *be = n->be;
    float *bufs[] = {n->pb.params, n->pb.grads, n->pb.adam_m, n->pb.adam_v, n->h1, n->h2, n->f,
                     n->out_buf, n->gate, n->glog, n->nlog, n->df, n->dh2, n->dh1, n->dg,
                     n->dgl, n->dnl, n->ones, n->xs};
    for (int i = 0; i < PM_ARRAY_LEN(bufs); i++) be->ops->release(be, bufs[i]);
    be->ops->release(be, n->choice);
    be->ops->release(be, n->counts);
    be->ops->release(be, n->perm);
    be->ops->release(be, n->pos);
    free(n->h_perm);
    free(n->h_pos);
    free(n->h_gcount);
    free(n->h_goff);
    free(n->h_counts);
    free(n->h_rows);
    free(n->h_choice);
    free(n->pb.h_took_part);
    free(n->pb.h_adam_step);
    free(n);
}

void net_init_run(Net *n, int r, uint64_t seed) {
    ParamBlock *pb = &n->pb;
    Backend *be = n->be;
    float *h = xmalloc(sizeof(float) * (size_t)pb->P);
    Rng rng;
    rng_seed(&rng, seed, RNG_INIT, (uint64_t)n->cfg.role);
    /* Tensors are stored in construction order, weight before bias, as PyTorch draws them;
     * a bias uses the bound of its layer's weight (fan_in = weight columns). */
    double bound = 0.0;
    for (int t = 0; t < pb->n_tensors; t++) {
        const ParamTensor *pt = &pb->tensors[t];
        if (!pt->is_bias) bound = 1.0 / sqrt((double)pt->cols);
        long sz = param_tensor_size(pt);
        for (long i = 0; i < sz; i++)
            h[pt->offset + i] = (float)((2.0 * rng_uniform(&rng) - 1.0) * bound);
    }
    size_t off = (size_t)r * (size_t)pb->P, bytes = sizeof(float) * (size_t)pb->P;
    be->ops->upload(be, pb->params + off, h, bytes);
    be->ops->zero(be, pb->grads + off, bytes);
    be->ops->zero(be, pb->adam_m + off, bytes);
    be->ops->zero(be, pb->adam_v + off, bytes);
    memset(pb->h_took_part + (size_t)r * pb->n_tensors, 0, (size_t)pb->n_tensors);
    memset(pb->h_adam_step + (size_t)r * pb->n_tensors, 0, sizeof(int32_t) * pb->n_tensors);
    free(h);
}

void net_init(Net *n, const uint64_t *seeds) {
    for (int r = 0; r < n->R; r++) net_init_run(n, r, seeds[r]);
}

/* Y (R,B,out) = X (R,B,in) W^T + b, optional ReLU; W, b tensors of the block. */
static void linear_fwd(Net *n, const float *X, int B, int in, int out, int tw, int tb, float *Y,
                       int relu) {
    Backend *be = n->be;
    const ParamBlock *pb = &n->pb;
    if (n->row_products)
        for (int r = 0; r < n->R; r++)
            be->ops->gemm_batched(be, BE_TRANS, BE_NOTRANS, out, 1, in, 1.0f,
                                  pb->params + (long)r * pb->P + pb->tensors[tw].offset, in, 0,
                                  X + (long)r * B * in, in, in, 0.0f, Y + (long)r * B * out, out, out, B);
    else
        be->ops->gemm_batched(be, BE_TRANS, BE_NOTRANS, out, B, in, 1.0f, pb->params + pb->tensors[tw].offset,
                              in, pb->P, X, in, (long)B * in, 0.0f, Y, out, (long)B * out, n->R);
    be->ops->bias_act(be, Y, pb->params + pb->tensors[tb].offset, pb->P, n->R, B, out, relu);
}

/* Weight and bias gradients of Y = X W^T + b from dY (R,B,out); dX (R,B,in) if dX != NULL. */
static void linear_bwd(Net *n, const float *X, const float *dY, int B, int in, int out, int tw,
                       int tb, float *dX) {
    Backend *be = n->be;
    const ParamBlock *pb = &n->pb;
    be->ops->gemm_batched(be, BE_NOTRANS, BE_TRANS, in, out, B, 1.0f, X, in, (long)B * in, dY, out,
                          (long)B * out, 0.0f, pb->grads + pb->tensors[tw].offset, in, pb->P, n->R);
    be->ops->gemm_batched(be, BE_NOTRANS, BE_NOTRANS, out, 1, B, 1.0f, dY, out, (long)B * out, n->ones,
                          B, 0, 0.0f, pb->grads + pb->tensors[tb].offset, out, pb->P, n->R);
    if (dX)
        be->ops->gemm_batched(be, BE_NOTRANS, BE_NOTRANS, in, B, out, 1.0f,
                              pb->params + pb->tensors[tw].offset, in, pb->P, dY, out, (long)B * out,
                              0.0f, dX, in, (long)B * in, n->R);
}

/* Y (c, out) = X (c, in) W_r^T + b_r for run r only: c contiguous rows (grouped form). */
static void linear_fwd_run(Net *n, int r, const float *X, int c, int in, int out, int tw, int tb,
                           float *Y, int relu) {
    Backend *be = n->be;
    const ParamBlock *pb = &n->pb;
    const float *p = pb->params + (long)r * pb->P;
    if (n->row_products)
        be->ops->gemm_batched(be, BE_TRANS, BE_NOTRANS, out, 1, in, 1.0f, p + pb->tensors[tw].offset, in, 0, X,
                              in, in, 0.0f, Y, out, out, c);
    else
        be->ops->gemm_batched(be, BE_TRANS, BE_NOTRANS, out, c, in, 1.0f, p + pb->tensors[tw].offset, in,
                              pb->P, X, in, (long)c * in, 0.0f, Y, out, (long)c * out, 1);
    be->ops->bias_act(be, Y, p + pb->tensors[tb].offset, pb->P, 1, c, out, relu);
}

/* Run r's weight and bias gradients over its c rows; dX (c, in) if dX != NULL. */
static void linear_bwd_run(Net *n, int r, const float *X, const float *dY, int c, int in, int out,
                           int tw, int tb, float *dX) {
    Backend *be = n->be;
    const ParamBlock *pb = &n->pb;
    float *g = pb->grads + (long)r * pb->P;
    be->ops->gemm_batched(be, BE_NOTRANS, BE_TRANS, in, out, c, 1.0f, X, in, (long)c * in, dY, out,
                          (long)c * out, 0.0f, g + pb->tensors[tw].offset, in, pb->P, 1);
    be->ops->gemm_batched(be, BE_NOTRANS, BE_NOTRANS, out, 1, c, 1.0f, dY, out, (long)c * out, n->ones,
                          c, 0, 0.0f, g + pb->tensors[tb].offset, out, pb->P, 1);
    if (dX)
        be->ops->gemm_batched(be, BE_NOTRANS, BE_NOTRANS, in, c, out, 1.0f,
                              pb->params + (long)r * pb->P + pb->tensors[tw].offset, in, pb->P, dY,
                              out, (long)c * out, 0.0f, dX, in, (long)c * in, 1);
}

/* Both layers of every expert of run r on its routed rows (grouped form). */
static void experts_fwd_run(Net *n, int r, int B) {
    int H = n->cfg.hidden, E = n->E, in = n->cfg.in;
    for (int e = 0; e < E; e++) {
        int cnt = n->h_gcount[r * E + e];
        long o = (long)r * B + n->h_goff[r * E + e];
        if (!cnt) continue;
        linear_fwd_run(n, r, n->xg + o * in, cnt, in, H, n->t_w1[e], n->t_b1[e], n->h1 + o * H, 1);
        linear_fwd_run(n, r, n->h1 + o * H, cnt, H, H, n->t_w2[e], n->t_b2[e], n->h2 + o * H, 1);
    }
}

/* The grouped form runs per-run products (batch 1), which the CPU backend's threading over
 * the runs of one batched gemm cannot split; the runs are split here instead, with the same
 * rule (only when the work pays for an OpenMP region, which costs a few microseconds even
 * with a false if() clause, so no region at all otherwise). Each run's calls are the same
 * whatever the thread count. Grouped nets exist only on backends with grouped_experts, whose
 * ops are thread-safe for disjoint outputs (BackendCaps). */
#define NET_PAR_MACS 200000L
static int runs_parallel(const Net *n, int B) {
    return n->R > 1 && (long)n->R * B * n->cfg.hidden * n->cfg.in >= NET_PAR_MACS;
}
#define FOR_RUNS(r, par, ...)                                                                    \
    do {                                                                                         \
        if (par) {                                                                               \
            _Pragma("omp parallel for schedule(static)") for (int r = 0; r < n->R; r++) {        \
                __VA_ARGS__;                                                                     \
            }                                                                                    \
        } else {                                                                                 \
            for (int r = 0; r < n->R; r++) { __VA_ARGS__; }                                      \
        }                                                                                        \
    } while (0)

/* Grouped form, after the router: sorts each run's rows by chosen expert (stable), uploads
 * perm/pos and gathers x in that order (skipped when no row moves, e.g. every B = 1 forward). */
static void group_rows(Net *n, int B) {
    Backend *be = n->be;
    int R = n->R, E = n->E, in = n->cfg.in;
    long rows = (long)R * B;
    be->ops->download(be, n->h_choice, n->choice, sizeof(int32_t) * (size_t)rows);
    int moved = 0;
    for (int r = 0; r < R; r++) {
        const int32_t *ch = n->h_choice + (long)r * B;
        int32_t *cnt = n->h_gcount + (long)r * E, *off = n->h_goff + (long)r * E;
        int32_t next[NET_MAX_EXPERTS];
        for (int e = 0; e < E; e++) cnt[e] = 0;
        for (int b = 0; b < B; b++) cnt[ch[b]]++;
        for (int e = 0, o = 0; e < E; e++) {
            off[e] = next[e] = o;
            o += cnt[e];
        }
        int32_t *perm = n->h_perm + (long)r * B, *pos = n->h_pos + (long)r * B;
        for (int b = 0; b < B; b++) {
            int k = next[ch[b]]++;
            perm[k] = b;
            pos[b] = k;
            moved |= k != b;
        }
    }
    be->ops->upload(be, n->pos, n->h_pos, sizeof(int32_t) * (size_t)rows);
    if (moved) {
        be->ops->upload(be, n->perm, n->h_perm, sizeof(int32_t) * (size_t)rows);
        be->ops->gather_rows(be, n->xs, n->x, n->perm, R, B, B, in);
        n->xg = n->xs;
    } else {
        n->xg = n->x;
    }
}

void net_forward(Net *n, const float *x, int B, const float *eps) {
    if (B < 1 || B > n->max_B) check_die(__FILE__, __LINE__, "net_forward", "batch outside 1..max_B");
    if (net_kind_is_sparse(n->cfg.kind) && !eps)
        check_die(__FILE__, __LINE__, "net_forward", "sparse kinds need routing noise eps");
    Backend *be = n->be;
    const NetConfig *c = &n->cfg;
    int H = c->hidden, E = n->E, in = c->in;
    long rows = (long)n->R * B, es = rows * H;
    n->last_B = B;
    n->x = x;
    n->eps = eps;
    /* The router first (it depends on x only). A single sparse row (the B = 1 rollout) runs
     * only its chosen expert and zeroes the others' activations: their gate is exactly 0, so
     * combine adds 0 * 0 = +0 where it added 0 * h (h >= 0 after ReLU: also +0), the output
     * bits are the same; metric rows are the routed rows only; and a backward would give
     * the unrouted experts zero gradients, which Adam skips anyway (took_part = 0). */
    int only = -1;
    if (c->kind == NET_MOE) {
        linear_fwd(n, x, B, in, E, n->t_gate_w, n->t_gate_b, n->glog, 0);
        be->ops->softmax_rows(be, n->gate, n->glog, rows, E);
        be->ops->cat_sample(be, n->choice, n->gate, NULL, rows, E); /* argmax, for metrics only */
    } else if (net_kind_is_sparse(c->kind)) {
        linear_fwd(n, x, B, in, E, n->t_route_w, n->t_route_b, n->glog, 0);
        linear_fwd(n, x, B, in, E, n->t_noise_w, n->t_noise_b, n->nlog, 0);
        be->ops->route_top1(be, c->router, n->glog, n->nlog, eps, rows, E, n->gate, n->choice);
        if (n->grouped) {
            group_rows(n, B);
            FOR_RUNS(r, runs_parallel(n, B), experts_fwd_run(n, r, B));
            be->ops->combine_grouped(be, n->f, n->gate, n->choice, n->h2, n->pos, n->R, B, E, H);
            linear_fwd(n, n->f, B, H, n->out, n->t_head_w, n->t_head_b, n->out_buf, 0);
            return;
        }
        if (rows == 1) {
            int32_t ch;
            be->ops->download(be, &ch, n->choice, sizeof ch);
            only = ch;
        }
    }
    for (int e = 0; e < E; e++) {
        if (only >= 0 && e != only) {
            be->ops->zero(be, n->h1 + e * es, sizeof(float) * (size_t)es);
            be->ops->zero(be, n->h2 + e * es, sizeof(float) * (size_t)es);
            continue;
        }
        linear_fwd(n, x, B, in, H, n->t_w1[e], n->t_b1[e], n->h1 + e * es, 1);
        linear_fwd(n, n->h1 + e * es, B, H, H, n->t_w2[e], n->t_b2[e], n->h2 + e * es, 1);
    }
    const float *feat = n->h2; /* mlp: the expert output itself */
    if (c->kind != NET_MLP) {
        be->ops->combine(be, n->f, n->gate, n->h2, es, rows, E, H);
        feat = n->f;
    }
    linear_fwd(n, feat, B, H, n->out, n->t_head_w, n->t_head_b, n->out_buf, 0);
}

/* Expert backward of run r, grouped form, second layers: zero gradients for the experts that
 * did not run, else weight/bias gradients over the routed rows and dh1 of those rows. */
static void experts_bwd2_run(Net *n, int r, int B) {
    Backend *be = n->be;
    ParamBlock *pb = &n->pb;
    int H = n->cfg.hidden, E = n->E;
    for (int e = 0; e < E; e++) {
        int cnt = n->h_gcount[r * E + e];
        long o = (long)r * B + n->h_goff[r * E + e];
        if (!cnt) { /* did not run: exact zeros, like the dense masked gradients */
            float *g = pb->grads + (long)r * pb->P;
            int ts[4] = {n->t_w1[e], n->t_b1[e], n->t_w2[e], n->t_b2[e]};
            for (int i = 0; i < 4; i++)
                be->ops->zero(be, g + pb->tensors[ts[i]].offset,
                              sizeof(float) * (size_t)param_tensor_size(&pb->tensors[ts[i]]));
            continue;
        }
        linear_bwd_run(n, r, n->h1 + o * H, n->dh2 + o * H, cnt, H, H, n->t_w2[e], n->t_b2[e],
                       n->dh1 + o * H);
    }
}

/* First layers of run r: weight/bias gradients over the routed rows. */
static void experts_bwd1_run(Net *n, int r, int B) {
    int H = n->cfg.hidden, E = n->E, in = n->cfg.in;
    for (int e = 0; e < E; e++) {
        int cnt = n->h_gcount[r * E + e];
        long o = (long)r * B + n->h_goff[r * E + e];
        if (cnt)
            linear_bwd_run(n, r, n->xg + o * in, n->dh1 + o * H, cnt, in, H, n->t_w1[e],
                           n->t_b1[e], NULL);
    }
}

/* Expert backward, grouped form: compact dh2, dh1 (R, B, H) in the sorted order of h1, h2;
 * each expert's gradients sum over its routed rows only. */
static void experts_bwd_grouped(Net *n, int B) {
    Backend *be = n->be;
    int H = n->cfg.hidden, E = n->E;
    long es = (long)n->R * B * H;
    int par = runs_parallel(n, B);
    /* the faithful router's backward is exact zeros and reads no dg (net_backward) */
    float *dg = n->cfg.router == ROUTE_FAITHFUL ? NULL : n->dg;
    be->ops->combine_grouped_bwd(be, n->dh2, dg, n->df, n->gate, n->choice, n->h2, n->pos, n->R, B, E, H);
    be->ops->relu_bwd(be, n->dh2, n->h2, es);
    FOR_RUNS(r, par, experts_bwd2_run(n, r, B));
    be->ops->relu_bwd(be, n->dh1, n->h1, es); /* every row belongs to one expert: dh1 is complete */
    FOR_RUNS(r, par, experts_bwd1_run(n, r, B));
}

/* Expert backward, dense form: every expert over every row, masked by the gate. */
static void experts_bwd_dense(Net *n, int B) {
    Backend *be = n->be;
    int H = n->cfg.hidden, E = n->E, in = n->cfg.in;
    long rows = (long)n->R * B, es = rows * H;
    if (n->cfg.kind != NET_MLP)
        be->ops->combine_bwd(be, n->dh2, n->dg, n->df, n->gate, n->h2, es, rows, E, H);
    for (int e = 0; e < E; e++) {
        float *da2 = n->dh2 + e * es;
        be->ops->relu_bwd(be, da2, n->h2 + e * es, es);
        linear_bwd(n, n->h1 + e * es, da2, B, H, H, n->t_w2[e], n->t_b2[e], n->dh1);
        be->ops->relu_bwd(be, n->dh1, n->h1 + e * es, es);
        linear_bwd(n, n->x, n->dh1, B, in, H, n->t_w1[e], n->t_b1[e], NULL);
    }
}

void net_backward(Net *n, const float *dout) {
    Backend *be = n->be;
    const NetConfig *c = &n->cfg;
    ParamBlock *pb = &n->pb;
    int B = n->last_B, H = c->hidden, E = n->E, in = c->in;
    long rows = (long)n->R * B;
    const float *feat = c->kind == NET_MLP ? n->h2 : n->f;
    /* mlp: d features = d h2 of the single expert, written straight into dh2. */
    float *df = c->kind == NET_MLP ? n->dh2 : n->df;
    linear_bwd(n, feat, dout, B, H, n->out, n->t_head_w, n->t_head_b, df);
    if (n->grouped) experts_bwd_grouped(n, B);
    else experts_bwd_dense(n, B);
    if (c->kind == NET_MOE) {
        be->ops->softmax_bwd_rows(be, n->dgl, n->gate, n->dg, rows, E);
        linear_bwd(n, n->x, n->dgl, B, in, E, n->t_gate_w, n->t_gate_b, NULL);
    } else if (net_kind_is_sparse(c->kind) && c->router == ROUTE_FAITHFUL) {
        /* The faithful router passes no gradient (networks.md 8: dl = du = 0), so its four
         * gradient tensors are the products of an all-zero dY: +0 in every element, which
         * is what the four gemms returned (each sum starts at +0 and adds only +-0 products,
         * +0 + -0 = +0; tests/test_net.c checks the bits against that path). Zeroing them
         * skips route_top1_bwd and four gemm calls per backward. */
        int ts[4] = {n->t_route_w, n->t_route_b, n->t_noise_w, n->t_noise_b};
        for (int r = 0; r < n->R; r++)
            for (int i = 0; i < 4; i++)
                be->ops->zero(be, pb->grads + (long)r * pb->P + pb->tensors[ts[i]].offset,
                              sizeof(float) * (size_t)param_tensor_size(&pb->tensors[ts[i]]));
    } else if (net_kind_is_sparse(c->kind)) {
        be->ops->route_top1_bwd(be, c->router, n->glog, n->nlog, n->eps, n->choice, n->dg, rows, E,
                                n->dgl, n->dnl);
        linear_bwd(n, n->x, n->dgl, B, in, E, n->t_route_w, n->t_route_b, NULL);
        linear_bwd(n, n->x, n->dnl, B, in, E, n->t_noise_w, n->t_noise_b, NULL);
    }

    /* took_part (spec ppo.md 2): an expert of a sparse kind takes part only if a sample of
     * that run was routed to it; mix_gate never. */
    if (n->grouped) {
        memcpy(n->h_counts, n->h_gcount, sizeof(int32_t) * (size_t)n->R * E);
    } else if (net_kind_is_sparse(c->kind)) {
        be->ops->count_choices(be, n->counts, n->choice, n->R, B, E);
        be->ops->download(be, n->h_counts, n->counts, sizeof(int32_t) * (size_t)n->R * E);
    } else {
        for (long i = 0; i < (long)n->R * E; i++) n->h_counts[i] = B;
    }
    for (int r = 0; r < n->R; r++) {
        uint8_t *tp = pb->h_took_part + (size_t)r * pb->n_tensors;
        for (int t = 0; t < pb->n_tensors; t++) {
            const ParamTensor *pt = &pb->tensors[t];
            if (pt->role == TENSOR_UNUSED) tp[t] = 0;
            else if (pt->role == TENSOR_EXPERT) tp[t] = n->h_counts[(long)r * E + pt->expert] > 0;
            else tp[t] = 1;
        }
    }
}

const float *net_routed_rows_ref(const Net *n, int r, int e, int layer, int *rows) {
    if (!n->grouped) {
        *rows = -1;
        return NULL;
    }
    int cnt = n->h_gcount[r * n->E + e];
    long o = (long)r * n->last_B + n->h_goff[r * n->E + e];
    *rows = cnt;
    return cnt ? (layer ? n->h2 : n->h1) + o * n->cfg.hidden : NULL;
}

int net_routed_rows(Net *n, int r, int e, int layer, float *h_dst) {
    Backend *be = n->be;
    int B = n->last_B, H = n->cfg.hidden;
    if (n->grouped) { /* expert e's rows of run r are contiguous, in b order */
        int cnt = n->h_gcount[r * n->E + e];
        long o = (long)r * B + n->h_goff[r * n->E + e];
        if (cnt) be->ops->download(be, h_dst, (layer ? n->h2 : n->h1) + o * H, sizeof(float) * (size_t)cnt * H);
        return cnt;
    }
    const float *src = (layer ? net_h2(n, e) : net_h1(n, e)) + (long)r * B * H;
    if (!net_kind_is_sparse(n->cfg.kind)) {
        be->ops->download(be, h_dst, src, sizeof(float) * (size_t)B * H);
        return B;
    }
    be->ops->download(be, n->h_choice, n->choice + (long)r * B, sizeof(int32_t) * (size_t)B);
    int routed = 0;
    for (int b = 0; b < B; b++) routed += n->h_choice[b] == e;
    if (!routed) return 0; /* e.g. 2 of 3 experts on every rollout step: no row download */
    be->ops->download(be, n->h_rows, src, sizeof(float) * (size_t)B * H);
    int k = 0;
    for (int b = 0; b < B; b++)
        if (n->h_choice[b] == e) memcpy(h_dst + (long)k++ * H, n->h_rows + (long)b * H, sizeof(float) * H);
    return k;
}
