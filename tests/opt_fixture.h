/* opt_fixture.h: a small PA-MoE-like ParamBlock in host memory for the optimizer, noise and
 * checkpoint tests: 2 experts x (fc1.weight 4x3, fc1.bias 4), a router (2x3 + 2), a head
 * (2x4 + 2) and an unused mix_gate (1x3). */
#ifndef PAMOE_OPT_FIXTURE_H
#define PAMOE_OPT_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

/* Parameters are a deterministic pattern, gradients a different one, moments zero, every
 * tensor marked as taking part (except mix_gate, which never does in the reference). */
static inline ParamBlock *fixture_create(int R) {
    ParamBlock *pb = calloc(1, sizeof *pb);
    pb->R = R;
    params_add_tensor(pb, "experts.0.fc1.weight", 4, 3, TENSOR_EXPERT, 0, 0);
    params_add_tensor(pb, "experts.0.fc1.bias", 4, 1, TENSOR_EXPERT, 0, 1);
    params_add_tensor(pb, "experts.1.fc1.weight", 4, 3, TENSOR_EXPERT, 1, 0);
    params_add_tensor(pb, "experts.1.fc1.bias", 4, 1, TENSOR_EXPERT, 1, 1);
    params_add_tensor(pb, "route.weight", 2, 3, TENSOR_ROUTER, -1, 0);
    params_add_tensor(pb, "route.bias", 2, 1, TENSOR_ROUTER, -1, 1);
    params_add_tensor(pb, "head.weight", 2, 4, TENSOR_HEAD, -1, 0);
    params_add_tensor(pb, "head.bias", 2, 1, TENSOR_HEAD, -1, 1);
    params_add_tensor(pb, "mix_gate.weight", 1, 3, TENSOR_UNUSED, -1, 0);
    long n = (long)R * pb->P;
    pb->params = calloc((size_t)n, sizeof(float));
    pb->grads = calloc((size_t)n, sizeof(float));
    pb->adam_m = calloc((size_t)n, sizeof(float));
    pb->adam_v = calloc((size_t)n, sizeof(float));
    for (long i = 0; i < n; i++) {
        pb->params[i] = 0.05f * (float)((i * 7) % 23 - 11);
        pb->grads[i] = 0.01f * (float)((i * 5) % 17 - 8);
    }
    pb->h_took_part = calloc((size_t)R * pb->n_tensors, 1);
    pb->h_adam_step = calloc((size_t)R * pb->n_tensors, sizeof(int32_t));
    for (int r = 0; r < R; r++)
        for (int t = 0; t < pb->n_tensors; t++)
            pb->h_took_part[r * pb->n_tensors + t] = pb->tensors[t].role != TENSOR_UNUSED;
    return pb;
}

static inline void fixture_free(ParamBlock *pb) {
    if (!pb) return;
    free(pb->params);
    free(pb->grads);
    free(pb->adam_m);
    free(pb->adam_v);
    free(pb->h_took_part);
    free(pb->h_adam_step);
    free(pb);
}

static inline int fixture_find(const ParamBlock *pb, const char *name) {
    for (int t = 0; t < pb->n_tensors; t++)
        if (!strcmp(pb->tensors[t].name, name)) return t;
    return -1;
}

static inline float *fixture_at(const ParamBlock *pb, float *base, int r, const char *name) {
    return base + (long)r * pb->P + pb->tensors[fixture_find(pb, name)].offset;
}
#endif
