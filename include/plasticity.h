/* plasticity.h: interventions against plasticity loss on one network's parameter block for R
 * runs (the [plasticity] config section): ReDo (Sokar et al. 2023), shrink-and-perturb (Ash &
 * Adams 2020), resets (Nikishin et al. 2022) and the L2-init penalty (Kumar et al. 2023).
 * The element-wise work runs on the backend (plast_* ops, formulas in pmath_plasticity.h);
 * the host decides which elements: it builds an element mask (R, P) and fresh initialisations.
 *
 * Fresh initialisations: run r's fresh parameters for an event are net_init_values(net,
 * fresh_seed[r]) (the network's own initializer, PyTorch's U(+-1/sqrt(fan_in)) per layer),
 * with fresh_seed[r] = plast_fresh_seed(run seed, event): the trainer uses the 1-based
 * iteration number as the event, so no stream position needs a checkpoint.
 *
 * ReDo units. Each expert block (the MLP has one) has two hidden layers h1 = relu(W1 x + b1),
 * h2 = relu(W2 h1 + b2), and the head reads f (= h2 for the MLP, the gate-weighted sum of the
 * experts' h2 for MoE kinds). Recycling unit j of
 *  - h1 of expert e: incoming W1[e] row j and b1[e][j] get fresh values; outgoing W2[e]
 *    column j is zeroed;
 *  - h2 of expert e: incoming W2[e] row j and b2[e][j] get fresh values; the outgoing weights
 *    are the head's column j, which every expert shares: it is zeroed only when unit j is
 *    recycled in every expert of the network (always for the MLP), because zeroing it for one
 *    expert would cut unit j of the experts that are still alive. Otherwise the head column is
 *    kept and the recycled unit enters the output through it with its fresh weights.
 * Where a recycled h2 unit's incoming row crosses a recycled h1 unit's outgoing column, the
 * element takes the fresh value (layers in order, as Sokar et al.'s implementation). The Adam
 * moments (m, v) of every written element are zeroed; step counts stay. Units of an expert
 * that no sample reached (no activations) are not recycled. */
#ifndef PAMOE_PLASTICITY_H
#define PAMOE_PLASTICITY_H
#include <stdint.h>

#include "net.h"
#include "noise.h"

typedef enum { PLAST_NONE = 0, PLAST_REDO, PLAST_SHRINK_PERTURB, PLAST_RESET, PLAST_L2_INIT } PlastMethod;
typedef enum { PLAST_PART_HEAD = 0, PLAST_PART_LAST_HIDDEN, PLAST_PART_EXPERTS, PLAST_PART_ALL } PlastPart;

/* "none", "redo", ...; -1 if unknown. */
int plast_method_parse(const char *s);
/* "head", "last_hidden", "experts", "all"; -1 if unknown. */
int plast_part_parse(const char *s);

/* Philox purpose of the fresh initialisations (prand.h owns 1..3, the trainer 4). */
enum { PRAND_PLASTICITY = 5 };
uint64_t plast_fresh_seed(uint64_t run_seed, uint64_t event);

/* Per-network state: theta_0 (the parameters at creation, the L2-init anchor and the origin
 * of the distance metric) and scratch. */
typedef struct {
    Net *net;          /* not owned */
    float *theta0;     /* (R, P) backend memory */
    float *h_theta0;   /* (R, P) host copy */
    float *fresh;      /* (R, P) backend scratch: fresh initialisations */
    float *h_fresh;
    uint8_t *mask;     /* (R, P) backend scratch */
    uint8_t *h_mask, *h_mask2;
} PlastNet;

/* theta_0 = the network's current parameters. */
PlastNet *plast_net_create(Net *net);
void plast_net_free(PlastNet *p); /* accepts NULL */
/* Replaces theta_0 (host (R, P), e.g. from a checkpoint) and uploads it. */
void plast_net_set_theta0(PlastNet *p, const float *h_theta0);

/* theta <- alpha*theta + sigma*fresh on every parameter of every run (Adam state kept).
 * Returns the parameters written per run (P). */
long plast_shrink_perturb(PlastNet *p, const uint64_t *fresh_seeds, float alpha, float sigma);

/* Whether tensor t belongs to the part (head: head weight and bias; last_hidden: every
 * expert's fc2 weight and bias; experts: every expert tensor; all: every tensor). */
int plast_part_has(const Net *net, PlastPart part, int t);
/* Re-initialises the part from fresh values in every run; reset_adam also zeroes its Adam
 * moments and step counts. Returns the parameters written per run. */
long plast_reset(PlastNet *p, const uint64_t *fresh_seeds, PlastPart part, int reset_adam);

/* ReDo selection (same score as metrics_dormant): dormant[j] = 1 when unit j of the (n x d)
 * activation matrix has normalised score z_j <= tau; n = 0 marks nothing. Returns the count. */
int plast_redo_select(const float *x, int n, int d, double tau, uint8_t *dormant);
/* Recycles the units marked in h_dormant (R, E, 2, H) uint8 (index ((r*E + e)*2 + layer)*H +
 * j, layer 0 = h1, 1 = h2; E = net->E, H = hidden). recycled (R) and written (R) receive the
 * units recycled and the parameters written per run (may be NULL). */
void plast_redo(PlastNet *p, const uint64_t *fresh_seeds, const uint8_t *h_dormant, long *recycled,
                long *written);

/* grad += 2*coef*(theta - theta_0) over the whole block (the L2-init term's gradient). */
void plast_l2_init_grad(PlastNet *p, float coef);
/* From host parameters h_params (R, P): per tensor t, sq[r*n_tensors + t] = sum over the
 * tensor of (theta - theta_0)^2, in double. */
void plast_dist_sq(const PlastNet *p, const float *h_params, double *sq);

/* noise.noise_target = grads: the PA-MoE expert noise draws (the very draws noise_step would
 * add to the parameters, same stream, same sigma and options) are added to pb's gradients
 * instead; the parameters are untouched here. The trainer calls it after the backward (and
 * the L2-init term) and before Adam, so Adam's moments see the noisy gradient. Returns
 * noise_step's result. */
int plast_noise_on_grads(Backend *be, NoiseState *ns, const NoiseConfig *cfg, const ParamBlock *pb,
                         const float *lr);
#endif
