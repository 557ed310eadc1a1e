/* adam.c: the CPU Adam step over a ParamBlock; the reference for the CUDA kernel, which calls
 * the same pmath_adam_elem with the coefficients adam_prepare computes. */
#include "adam.h"

#include <math.h>
#include <stdlib.h>

#include "common.h"

void adam_config_default(AdamConfig *cfg) {
    cfg->beta1 = 0.99f;
    cfg->beta2 = 0.99f;
    cfg->eps = 1e-5f;
    cfg->weight_decay = 1e-4f;
    cfg->decoupled = 0;
    cfg->no_router_decay = 0;
}

int adam_tensor_active(const ParamBlock *pb, int r, int t) {
    return pb->tensors[t].role != TENSOR_UNUSED && pb->h_took_part[(long)r * pb->n_tensors + t];
}

int adam_prepare(const AdamConfig *cfg, ParamBlock *pb, const float *lr, PmathAdamCoef *coef,
                 uint8_t *active) {
    int n_active = 0;
    for (int r = 0; r < pb->R; r++) {
        for (int t = 0; t < pb->n_tensors; t++) {
            long k = (long)r * pb->n_tensors + t;
            PmathAdamCoef *c = &coef[k];
            c->one_minus_b1 = (float)(1.0 - (double)cfg->beta1);
            c->beta2 = cfg->beta2;
            c->one_minus_b2 = (float)(1.0 - (double)cfg->beta2);
            c->eps = cfg->eps;
            c->wd = 0.0f;
            c->decay_mul = 1.0f;
            c->neg_step_size = 0.0f;
            c->bc2_sqrt = 1.0f;
            active[k] = (uint8_t)adam_tensor_active(pb, r, t);
            if (!active[k]) continue;
            n_active++;
            /* Python computes the step scalars in double from the tensor's own count. */
            double step = (double)++pb->h_adam_step[k];
            double bc1 = 1.0 - pow((double)cfg->beta1, step);
            double bc2 = 1.0 - pow((double)cfg->beta2, step);
            c->neg_step_size = (float)(-(double)lr[r] / bc1);
            c->bc2_sqrt = (float)sqrt(bc2);
            double wd = cfg->no_router_decay && pb->tensors[t].role == TENSOR_ROUTER ? 0.0 : (double)cfg->weight_decay;
            if (cfg->decoupled) c->decay_mul = (float)(1.0 - (double)lr[r] * wd);
            else c->wd = (float)wd;
        }
    }
    return n_active;
}

void adam_apply(ParamBlock *pb, const PmathAdamCoef *coef, const uint8_t *active) {
    for (int r = 0; r < pb->R; r++) {
        for (int t = 0; t < pb->n_tensors; t++) {
            long k = (long)r * pb->n_tensors + t;
            if (!active[k]) continue;
            long base = (long)r * pb->P + pb->tensors[t].offset, n = param_tensor_size(&pb->tensors[t]);
            for (long i = base; i < base + n; i++)
                pmath_adam_elem(&pb->params[i], &pb->adam_m[i], &pb->adam_v[i], pb->grads[i], &coef[k]);
        }
    }
}

void adam_step(const AdamConfig *cfg, ParamBlock *pb, const float *lr) {
    /* small: R * n_tensors entries; kept off the heap for the common sizes */
    enum { STACK = 64 * PARAMS_MAX_TENSORS };
    PmathAdamCoef coef_stack[STACK];
    uint8_t active_stack[STACK];
    long n = (long)pb->R * pb->n_tensors;
    PmathAdamCoef *coef = n <= STACK ? coef_stack : xmalloc((size_t)n * sizeof *coef);
    uint8_t *active = n <= STACK ? active_stack : xmalloc((size_t)n);
    adam_prepare(cfg, pb, lr, coef, active);
    adam_apply(pb, coef, active);
    if (coef != coef_stack) free(coef);
    if (active != active_stack) free(active);
}
