/* pmath_adam.h: one element of an Adam step, in the operation order of PyTorch 2.2's
 * single-tensor Adam (torch/optim/adam.py, the CPU path the reference runs):
 *   g = grad + wd*theta; m = m + (1-b1)(g - m); v = v*b2 + (1-b2) g g;
 *   theta += -(lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
 * AdamW (decoupled, an option) first multiplies theta by 1 - lr*wd and passes wd = 0 here.
 * Shared by the CPU loop (host/ops/adam.c) and a CUDA kernel with one thread per element. */
#ifndef PAMOE_PMATH_ADAM_H
#define PAMOE_PMATH_ADAM_H
#include <math.h>
#include "pmath.h"

/* Per-(run, tensor) constants of one step; scalars that PyTorch computes in double are
 * rounded to float once, as they are when they meet a float32 tensor. */
typedef struct {
    float neg_step_size;  /* -lr / (1 - b1^t) */
    float bc2_sqrt;       /* sqrt(1 - b2^t) */
    float wd;             /* coupled L2 coefficient (0 for AdamW or excluded tensors) */
    float decay_mul;      /* AdamW: 1 - lr*wd; 1 otherwise */
    float one_minus_b1, beta2, one_minus_b2, eps;
} PmathAdamCoef;

/* The step in two halves so the CPU loop can run each half (and sqrtf between them) as its own
 * vectorised pass; pmath_adam_elem is the two halves for one element. First half: decay (the
 * unconditional p * 1.0f == p exactly), gradient with coupled L2, new moments; writes m, v and
 * the decayed theta. */
PMATH_VEC PMATH_HD void pmath_adam_moments(float *theta, float *m, float *v, float grad,
                                           const PmathAdamCoef *c) {
    float p = *theta * c->decay_mul;
    float g = grad + c->wd * p;
    *m = *m + c->one_minus_b1 * (g - *m);
    *v = *v * c->beta2 + c->one_minus_b2 * g * g;
    *theta = p;
}

/* Second half, from the new m and sqrt of the new v. */
PMATH_VEC PMATH_HD void pmath_adam_update(float *theta, float m, float sqrt_v, const PmathAdamCoef *c) {
    float denom = sqrt_v / c->bc2_sqrt + c->eps;
    *theta = *theta + c->neg_step_size * m / denom;
}

PMATH_HD void pmath_adam_elem(float *theta, float *m, float *v, float grad, const PmathAdamCoef *c) {
    pmath_adam_moments(theta, m, v, grad, c);
    pmath_adam_update(theta, *m, sqrtf(*v), c);
}
#endif
