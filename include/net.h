/* net.h: the four training network kinds of the reference (mlp, moe, smoe, pamoe), policy or
 * value role, for R independent runs at once (spec/networks.md 1-10). One network = one
 * parameter block (R, P) (params.h) whose tensors carry PyTorch names and (out, in)
 * orientation; forward and backward run over the backend for a batch of B samples per run.
 *
 * Sparse kinds (top-1 routing) on the CPU backend compute each expert only on the rows routed
 * to it, as the reference does: after the router, the choices come to the host, each run's
 * rows are sorted by expert (stable: b order within an expert), x is gathered in that order
 * and every expert's two layers run as one gemm per (run, expert) on its contiguous rows; the
 * combine reads them back through the per-row position. Backward: the weight and bias
 * gradients sum over the routed rows only; an expert with no row gets exact-zero gradients.
 * The loop over runs makes each run's products the very same calls whatever R is (batched
 * runs equal separate runs bit for bit). The CUDA backend keeps the dense form (all E experts
 * for every row, then select: f = sum_e g_e h2_e with g one-hot, masked gradients), which
 * stays batched over runs in one launch per product instead of R x E small ones; the two
 * forms are equal up to rounding. Dense exception: a single-sample forward (B = 1, the
 * rollout) runs only the chosen expert and zeroes the others' activations, with
 * bit-identical outputs (docs/perf.md says why).
 *
 * Buffers are backend memory; shapes are row-major, row = r*B + b. */
#ifndef PAMOE_NET_H
#define PAMOE_NET_H
#include <stdint.h>

#include "backend.h"
#include "common.h"
#include "params.h"

/* PARAMS_MAX_TENSORS = 32 holds pamoe: mix_gate 2 + router 4 + 4 per expert + head 2. */
#define NET_MAX_EXPERTS 6

typedef enum { NET_MLP = 0, NET_MOE = 1, NET_SMOE = 2, NET_PAMOE = 3 } NetKind;
typedef enum { NET_POLICY = 0, NET_VALUE = 1 } NetRole;

typedef struct {
    NetKind kind;
    NetRole role;
    int router;         /* ROUTE_FAITHFUL (default) or ROUTE_SWITCH; sparse kinds only */
    int in;             /* 48 */
    int hidden;         /* 18 */
    int experts;        /* 3 (mlp uses one expert block regardless) */
    int actions;        /* 6 (policy head width) */
    int omit_mix_gate;  /* pamoe option (spec README defect 4); 0 = faithful */
} NetConfig;

typedef struct {
    NetConfig cfg;
    Backend *be;
    int R, max_B;
    int E;   /* expert blocks: 1 for mlp, cfg.experts otherwise */
    int out; /* head width: cfg.actions (policy) or 1 (value) */
    ParamBlock pb;
    /* tensor indices into pb.tensors (-1 when the kind has none) */
    int t_w1[NET_MAX_EXPERTS], t_b1[NET_MAX_EXPERTS], t_w2[NET_MAX_EXPERTS], t_b2[NET_MAX_EXPERTS];
    int t_gate_w, t_gate_b;   /* moe dense gate */
    int t_route_w, t_route_b; /* smoe/pamoe router.route */
    int t_noise_w, t_noise_b; /* smoe/pamoe router.noise */
    int t_head_w, t_head_b;
    int t_mix_w, t_mix_b;     /* pamoe mix_gate (TENSOR_UNUSED) */

    /* State of the last forward (B = last_B). Dense form (mlp, moe; sparse kinds off the
     * CPU): activations of expert e are block e of (E, R, B, H) at h1 + e*R*B*H, the rows
     * routed to e those with choice == e. Grouped form (grouped = 1): h1, h2 hold (R, B, H),
     * run r's rows sorted by expert, expert e's at rows r*B + h_goff[r*E+e] ... + h_gcount
     * - 1; use net_routed_rows (net_h1/net_h2 are the dense blocks). */
    int grouped;
    /* Set by the caller: every linear layer of net_forward computes each row as its own
     * single-column product (batch of B products of n = 1), so each sample's outputs and
     * activations have the bits of a B = 1 forward (the trainer's whole-rollout value forward
     * on the CPU, where n = 1 products are cheap). Forward only; 0 = one product per layer. */
    int row_products;
    int last_B;
    const float *x;      /* (R, B, in) input of the last forward (caller's buffer) */
    const float *eps;    /* (R, B, E) routing noise of the last forward (caller's buffer) */
    float *h1, *h2;      /* (E, R, max_B, H) capacity */
    float *f;            /* (R, B, H) combined features */
    float *out_buf;      /* (R, B, out): logits (policy) or value (value, out = 1) */
    float *gate;         /* (R, B, E): gate vector (moe softmax; sparse one-hot or switch) */
    float *glog;         /* (R, B, E): moe gate logits or sparse route logits l */
    float *nlog;         /* (R, B, E): sparse noise pre-activations u */
    int32_t *choice;     /* (R, B): chosen expert (sparse); argmax of the gate (moe); 0 (mlp) */
    int32_t *counts;     /* (R, E) samples routed to each expert (sparse kinds) */
    int32_t *h_counts;   /* host copy of counts after the last backward */
    /* backward scratch */
    float *df, *dh2, *dh1, *dg, *dgl, *dnl, *ones;
    /* host scratch of net_routed_rows: (max_B, H) floats; (R, max_B) choices */
    float *h_rows;
    int32_t *h_choice;
    /* grouped form: perm (R, B) backend, sorted position -> sample b; pos (R, B) backend,
     * sample b -> sorted position; host copies; per-run expert counts and offsets (R, E);
     * x gathered in sorted order (R, B, in) and the input the experts read (xs or x). */
    int32_t *perm, *pos, *h_perm, *h_pos, *h_gcount, *h_goff;
    float *xs;
    const float *xg;
} Net;

/* Defaults: in 48, hidden 18, experts 3, actions 6, faithful router, mix_gate kept. */
NetConfig net_config_default(NetKind kind, NetRole role);
/* "mlp", "moe", "smoe", "pamoe" (alias "dmoe"); -1 if unknown. */
int net_kind_parse(const char *s);
/* smoe and pamoe: top-1 routed experts */
int net_kind_is_sparse(NetKind k);
const char *net_kind_name(NetKind k);
/* Parameters per run for a configuration (networks.md 10). */
long net_param_count(const NetConfig *cfg);

/* Builds the tensor table, allocates params/grads/Adam moments (zero) and scratch for up to
 * max_B samples per run, and initialises run r from seeds[r] (net_init). NULL + err on a bad
 * configuration. */
Net *net_create(Backend *be, const NetConfig *cfg, int R, int max_B, const uint64_t *seeds,
                PmError *err);
void net_free(Net *n); /* accepts NULL */

/* PyTorch default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), in the
 * reference's construction order, from the host stream rng(seeds[r], RNG_INIT, role): run r's
 * parameters depend only on its seed. Uploads; resets Adam moments and steps. */
void net_init(Net *n, const uint64_t *seeds);
/* Same for one run only (reset a run inside a batch). */
void net_init_run(Net *n, int r, uint64_t seed);

/* Forward for B <= max_B samples per run. x (R, B, in); eps (R, B, E) standard normals for
 * the sparse router (NULL allowed for mlp/moe). The caller owns x and eps and keeps them
 * unchanged until net_backward. Output: net_output(n) (R, B, out). */
void net_forward(Net *n, const float *x, int B, const float *eps);
/* Backward of the last forward. dout (R, B, out) = d loss / d output. Overwrites pb.grads
 * (tensors that did not take part stay exactly zero) and sets pb.h_took_part (spec ppo.md 2):
 * head, gate, router: 1; experts: 1 if at least one sample of the run was routed to it
 * (sparse) / always (mlp, moe); mix_gate: 0. Downloads the (R, E) routing counts. */
void net_backward(Net *n, const float *dout);

/* Metrics helper (spec metrics.md 1): copies to h_dst (rows, H) the layer (0 = h1, 1 = h2)
 * activations of expert e, run r, from the last forward, only the rows of samples routed to
 * e (sparse kinds; every row for mlp and moe). Returns the number of rows. h_dst holds at
 * least last_B * H floats. Downloads; no allocation. */
int net_routed_rows(Net *n, int r, int e, int layer, float *h_dst);

/* The same rows without a copy where the network can give them in place: the grouped form
 * (CPU backend, host memory) keeps expert e's rows of run r contiguous; returns them and
 * their count in *rows (NULL with *rows = 0 when none). Returns NULL with *rows = -1 when
 * the rows are not available in place (other forms): use net_routed_rows. Valid until the
 * next forward. */
const float *net_routed_rows_ref(const Net *n, int r, int e, int layer, int *rows);

static inline float *net_output(const Net *n) { return n->out_buf; }
/* Activations of expert e from the last forward, dense form only: (R, last_B, H). */
static inline float *net_h1(const Net *n, int e) {
    return n->h1 + (long)e * n->R * n->last_B * n->cfg.hidden;
}
static inline float *net_h2(const Net *n, int e) {
    return n->h2 + (long)e * n->R * n->last_B * n->cfg.hidden;
}
#endif
