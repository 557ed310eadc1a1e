/* plasticity.c: the plasticity interventions of plasticity.h on a network's parameter block.
 * The host chooses elements (masks) and draws fresh initialisations; the backend writes them
 * (plast_* ops), so the same code drives the CPU and the CUDA backend. */
#include "plasticity.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "prand.h"

int plast_method_parse(const char *s) {
    static const char *names[] = {"none", "redo", "shrink_perturb", "reset", "l2_init"};
    for (int i = 0; i < PM_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

int plast_part_parse(const char *s) {
    static const char *names[] = {"head", "last_hidden", "experts", "all"};
    for (int i = 0; i < PM_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

uint64_t plast_fresh_seed(uint64_t run_seed, uint64_t event) {
    return prand_derive_seed(run_seed, PRAND_PLASTICITY, event);
}

static size_t block_floats(const Net *n) { return (size_t)n->R * (size_t)n->pb.P; }

PlastNet *plast_net_create(Net *net) {
    PlastNet *p = xcalloc(1, sizeof *p);
    Backend *be = net->be;
    size_t nf = block_floats(net);
    p->net = net;
    p->theta0 = be->ops->alloc(be, nf * sizeof(float));
    p->fresh = be->ops->alloc(be, nf * sizeof(float));
    p->mask = be->ops->alloc(be, nf);
    p->h_theta0 = xcalloc(nf, sizeof(float));
    p->h_fresh = xcalloc(nf, sizeof(float));
    p->h_mask = xcalloc(nf, 1);
    p->h_mask2 = xcalloc(nf, 1);
    be->ops->download(be, p->h_theta0, net->pb.params, nf * sizeof(float));
    be->ops->copy(be, p->theta0, net->pb.params, nf * sizeof(float));
    return p;
}

void plast_net_free(PlastNet *p) {
    if (!p) return;
    Backend *be = p->net->be;
    be->ops->release(be, p->theta0);
    be->ops->release(be, p->fresh);
    be->ops->release(be, p->mask);
    free(p->h_theta0);
    free(p->h_fresh);
    free(p->h_mask);
    free(p->h_mask2);
    free(p);
}

void plast_net_set_theta0(PlastNet *p, const float *h_theta0) {
    size_t nf = block_floats(p->net);
    memcpy(p->h_theta0, h_theta0, nf * sizeof(float));
    p->net->be->ops->upload(p->net->be, p->theta0, h_theta0, nf * sizeof(float));
}

/* Fresh initialisations of every run into p->fresh. */
static void draw_fresh(PlastNet *p, const uint64_t *fresh_seeds) {
    const Net *n = p->net;
    for (int r = 0; r < n->R; r++) net_init_values(n, fresh_seeds[r], p->h_fresh + (size_t)r * n->pb.P);
    n->be->ops->upload(n->be, p->fresh, p->h_fresh, block_floats(n) * sizeof(float));
}

long plast_shrink_perturb(PlastNet *p, const uint64_t *fresh_seeds, float alpha, float sigma) {
    Net *n = p->net;
    draw_fresh(p, fresh_seeds);
    n->be->ops->plast_shrink_perturb(n->be, n->pb.params, p->fresh, alpha, sigma, (long)block_floats(n));
    return n->pb.P;
}

int plast_part_has(const Net *net, PlastPart part, int t) {
    switch (part) {
    case PLAST_PART_HEAD: return t == net->t_head_w || t == net->t_head_b;
    case PLAST_PART_LAST_HIDDEN:
        for (int e = 0; e < net->E; e++)
            if (t == net->t_w2[e] || t == net->t_b2[e]) return 1;
        return 0;
    case PLAST_PART_EXPERTS: return net->pb.tensors[t].role == TENSOR_EXPERT;
    case PLAST_PART_ALL: return 1;
    }
    return 0;
}

/* mask -> backend; params <- fresh where set (src NULL: zero); moments zeroed where `moments`. */
static void apply_mask(PlastNet *p, const uint8_t *h_mask, int fresh, int moments) {
    Net *n = p->net;
    Backend *be = n->be;
    long nf = (long)block_floats(n);
    be->ops->upload(be, p->mask, h_mask, (size_t)nf);
    be->ops->plast_select(be, n->pb.params, fresh ? p->fresh : NULL, p->mask, nf);
    if (moments) {
        be->ops->plast_select(be, n->pb.adam_m, NULL, p->mask, nf);
        be->ops->plast_select(be, n->pb.adam_v, NULL, p->mask, nf);
    }
}

long plast_reset(PlastNet *p, const uint64_t *fresh_seeds, PlastPart part, int reset_adam) {
    Net *n = p->net;
    ParamBlock *pb = &n->pb;
    draw_fresh(p, fresh_seeds);
    memset(p->h_mask, 0, block_floats(n));
    long per_run = 0;
    for (int t = 0; t < pb->n_tensors; t++) {
        if (!plast_part_has(n, part, t)) continue;
        const ParamTensor *pt = &pb->tensors[t];
        per_run += param_tensor_size(pt);
        for (int r = 0; r < n->R; r++) {
            memset(p->h_mask + (size_t)r * pb->P + pt->offset, 1, (size_t)param_tensor_size(pt));
            if (reset_adam) pb->h_adam_step[(size_t)r * pb->n_tensors + t] = 0;
        }
    }
    apply_mask(p, p->h_mask, 1, reset_adam);
    return per_run;
}

int plast_redo_select(const float *x, int n, int d, double tau, uint8_t *dormant) {
    memset(dormant, 0, (size_t)d);
    if (n < 1) return 0;
    float z[METRICS_MAX_D];
    metrics_neuron_scores(x, n, d, z);
    int count = 0;
    for (int j = 0; j < d; j++)
        if (z[j] <= tau) { dormant[j] = 1; count++; }
    return count;
}

/* Marks row j (all columns) / column j (all rows) of tensor t of run r. */
static void mark_row(uint8_t *m, const ParamBlock *pb, int r, int t, int j) {
    const ParamTensor *pt = &pb->tensors[t];
    memset(m + (size_t)r * pb->P + pt->offset + (size_t)j * pt->cols, 1, (size_t)pt->cols);
}
static void mark_col(uint8_t *m, const ParamBlock *pb, int r, int t, int j) {
    const ParamTensor *pt = &pb->tensors[t];
    uint8_t *base = m + (size_t)r * pb->P + pt->offset;
    for (int i = 0; i < pt->rows; i++) base[(size_t)i * pt->cols + j] = 1;
}

void plast_redo(PlastNet *p, const uint64_t *fresh_seeds, const uint8_t *h_dormant, long *recycled,
                long *written) {
    Net *n = p->net;
    const ParamBlock *pb = &n->pb;
    int E = n->E, H = n->cfg.hidden;
    uint8_t *fresh_m = p->h_mask, *zero_m = p->h_mask2;
    size_t nf = block_floats(n);
    memset(fresh_m, 0, nf);
    memset(zero_m, 0, nf);
    for (int r = 0; r < n->R; r++) {
        long units = 0;
        for (int j = 0; j < H; j++) {
            int all_h2 = 1;
            for (int e = 0; e < E; e++) {
                const uint8_t *d = h_dormant + ((size_t)(r * E + e) * 2) * H;
                if (d[j]) { /* h1 unit */
                    mark_row(fresh_m, pb, r, n->t_w1[e], j);
                    mark_row(fresh_m, pb, r, n->t_b1[e], j);
                    mark_col(zero_m, pb, r, n->t_w2[e], j);
                    units++;
                }
                if (d[H + j]) { /* h2 unit */
                    mark_row(fresh_m, pb, r, n->t_w2[e], j);
                    mark_row(fresh_m, pb, r, n->t_b2[e], j);
                    units++;
                } else {
                    all_h2 = 0;
                }
            }
            if (all_h2) mark_col(zero_m, pb, r, n->t_head_w, j);
        }
        if (recycled) recycled[r] = units;
    }
    if (written)
        for (int r = 0; r < n->R; r++) {
            long w = 0;
            for (long i = 0; i < pb->P; i++) w += fresh_m[(size_t)r * pb->P + i] | zero_m[(size_t)r * pb->P + i];
            written[r] = w;
        }
    draw_fresh(p, fresh_seeds);
    /* zero first, fresh second: the fresh value wins where both are set */
    apply_mask(p, zero_m, 0, 1);
    apply_mask(p, fresh_m, 1, 1);
}

void plast_l2_init_grad(PlastNet *p, float coef) {
    Net *n = p->net;
    n->be->ops->plast_l2_init_grad(n->be, n->pb.grads, n->pb.params, p->theta0, 2.0f * coef, (long)block_floats(n));
}

void plast_dist_sq(const PlastNet *p, const float *h_params, double *sq) {
    const ParamBlock *pb = &p->net->pb;
    for (int r = 0; r < pb->R; r++)
        for (int t = 0; t < pb->n_tensors; t++) {
            const ParamTensor *pt = &pb->tensors[t];
            size_t base = (size_t)r * pb->P + pt->offset;
            double s = 0;
            for (long i = 0; i < param_tensor_size(pt); i++) {
                double d = (double)h_params[base + i] - (double)p->h_theta0[base + i];
                s += d * d;
            }
            sq[(size_t)r * pb->n_tensors + t] = s;
        }
}

int plast_noise_on_grads(Backend *be, NoiseState *ns, const NoiseConfig *cfg, const ParamBlock *pb,
                         const float *lr) {
    ParamBlock on_grads = *pb; /* same table and took-part flags; "params" are the gradients */
    on_grads.params = pb->grads;
    return be->ops->noise_step(be, ns, cfg, &on_grads, lr);
}
