/* policy.h: a trained policy and value network loaded from a training checkpoint, for
 * deployment-style use (`pamoe act`, the learned agent of `pamoe eval`). Decisions are
 * deterministic: routing noise is zero (z = route logits) unless router_noise is set, in
 * which case it comes from the Philox stream of the given seed. */
#ifndef PAMOE_POLICY_H
#define PAMOE_POLICY_H
#include <stdint.h>

#include "backend.h"
#include "common.h"
#include "config.h"
#include "net.h"
#include "prand.h"

typedef struct {
    TrainConfig cfg;   /* the run's resolved configuration, from the checkpoint */
    Backend *be;
    Net *net[2];       /* policy, value; R = cfg.runs */
    int R, max_B, X[2];
    float *d_x, *d_eps[2];  /* (R, max_B, 48), (R, max_B, X) */
    PrandStream *noise;     /* (R) router-noise streams when router_noise */
    int router_noise;
    float *h_buf;           /* download scratch */
} Policy;

/* path: a run file (runs/x.h5, its checkpoint runs/x.ckpt.h5 is read) or the checkpoint. */
Policy *policy_load(const char *path, const char *device, int max_B, int router_noise, uint64_t seed,
                    PmError *err);
void policy_free(Policy *p);

/* B <= max_B observations (B, 48) for run `run`: probabilities (B, A), greedy action (B),
 * chosen policy expert (B), value (B) and value expert (B); any output may be NULL. */
void policy_decide(Policy *p, int run, const float *h_obs, int B, float *probs, int *action, int *expert,
                   float *value, int *value_expert);
#endif
