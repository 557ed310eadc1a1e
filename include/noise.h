/* noise.h: PA-MoE expert parameter noise over a ParamBlock for R runs: theta += sigma_r * N(0,1)
 * on every element of every TENSOR_EXPERT tensor (weights and biases of all experts), drawn from
 * a Philox stream per run (prand.h), applied after the optimizer step (networks.md section 7,
 * defect 3, docs/reference/README.md). Does not touch the Adam moments.
 *
 * Stream layout: one application draws n_expert normals per run (all expert floats of the block
 * in tensor-table order, rounded up to even) from that run's stream at its current offset, then
 * advances the offset; expert tensors are filled in table order. The draw is the same size
 * whatever the options, so a run's sequence does not depend on routing. */
#ifndef PAMOE_NOISE_H
#define PAMOE_NOISE_H
#include <stdint.h>

#include "params.h"
#include "prand.h"

typedef enum {
    NOISE_SCALE_NONE = 0,    /* faithful: sigma as given */
    NOISE_SCALE_LR = 1,      /* option: sigma * lr_r (noise as part of an lr-sized step, the form
                                theta_{t+1} = theta_t - lr (grad + sigma xi) of a noisy SGD update) */
    NOISE_SCALE_LR_RATIO = 2 /* option: sigma * lr_r / lr_ref_r (sigma at the base lr, annealed
                                with the learning-rate schedule) */
} NoiseScale;

typedef struct NoiseConfig {
    int only_took_part; /* option: only expert tensors with h_took_part = 1 in this minibatch */
    NoiseScale scale;
    int every_k;        /* apply at every k-th call (1 = after every optimizer step: faithful) */
} NoiseConfig;

typedef struct NoiseState {
    int R;
    long n_expert;        /* expert floats per run */
    float *sigma;         /* (R) noise std per run */
    float *lr_ref;        /* (R) base learning rate for NOISE_SCALE_LR_RATIO */
    PrandStream *streams; /* (R) Philox key and next element per run (checkpointed) */
    int64_t calls;        /* noise_step calls so far (for every_k; checkpointed) */
    float *h_normals;     /* (R, n_expert rounded to even) scratch */
} NoiseState;

void noise_config_default(NoiseConfig *cfg); /* all experts, no scaling, every step */

/* keys: (R) Philox keys (e.g. prand_derive_seed(run_seed, PRAND_EXPERT_NOISE, 0)); sigma,
 * lr_ref: (R); lr_ref may be NULL (then 1). Offsets start at 0. */
NoiseState *noise_create(const ParamBlock *pb, const uint64_t *keys, const float *sigma,
                         const float *lr_ref);
void noise_free(NoiseState *ns);

/* One call after an optimizer step; lr: (R) current learning rates (used by the scale options,
 * may be NULL with NOISE_SCALE_NONE). Returns 1 when noise was applied, 0 when every_k skipped. */
int noise_step(NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb, const float *lr);

/* The std actually used for run r under cfg. */
float noise_sigma_eff(const NoiseState *ns, const NoiseConfig *cfg, int r, const float *lr);
#endif
