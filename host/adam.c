/* adam.c: the CPU Adam step over a ParamBlock; the reference for the CUDA kernel, which calls
 * the same pmath_adam_elem with the coefficients adam_prepare computes. */
#include "adam.h"

#include <math.h>
#ifdef __SSE__
#include <immintrin.h>
#endif
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
    double memo_step = -1.0, memo_bc1 = 0.0, memo_bc2 = 0.0;
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
            if (step != memo_step) { /* tensors mostly share a step count: one pow pair each */
                memo_step = step;
                memo_bc1 = 1.0 - pow((double)cfg->beta1, step);
                memo_bc2 = 1.0 - pow((double)cfg->beta2, step);
            }
            double bc1 = memo_bc1, bc2 = memo_bc2;
            c->neg_step_size = (float)(-(double)lr[r] / bc1);
            c->bc2_sqrt = (float)sqrt(bc2);
            double wd = cfg->no_router_decay && pb->tensors[t].role == TENSOR_ROUTER ? 0.0 : (double)cfg->weight_decay;
            if (cfg->decoupled) c->decay_mul = (float)(1.0 - (double)lr[r] * wd);
            else c->wd = (float)wd;
        }
    }
    return n_active;
}

/* One tensor's elements in three vectorised passes per chunk (the Adam loop is a large share of
 * the CPU update): moments, sqrt, update. gcc never vectorises sqrtf without -fno-math-errno
 * on the command line (an optimize attribute does not reach the builtin), so the sqrt pass is
 * SSE's sqrtps; PMATH_VEC (pmath.h) turns the vectoriser on for the other two. Vector
 * add/mul/div/sqrt round as the scalar ones: the bytes equal pmath_adam_elem's. */
PMATH_VEC static void adam_apply_range(float *restrict theta, float *restrict m, float *restrict v,
                                       const float *restrict g, long n, PmathAdamCoef c) {
    enum { CHUNK = 512 };
    float s[CHUNK];
    for (long i0 = 0; i0 < n; i0 += CHUNK) {
        long len = n - i0 < CHUNK ? n - i0 : CHUNK;
        float *restrict th = theta + i0, *restrict mm = m + i0, *restrict vv = v + i0;
        const float *restrict gg = g + i0;
        for (long i = 0; i < len; i++) pmath_adam_moments(&th[i], &mm[i], &vv[i], gg[i], &c);
        long i = 0;
#ifdef __SSE__
        for (; i + 4 <= len; i += 4) _mm_storeu_ps(s + i, _mm_sqrt_ps(_mm_loadu_ps(vv + i)));
#endif
        for (; i < len; i++) s[i] = sqrtf(vv[i]);
        for (long i = 0; i < len; i++) pmath_adam_update(&th[i], mm[i], s[i], &c);
    }
}

void adam_apply(ParamBlock *pb, const PmathAdamCoef *coef, const uint8_t *active) {
    /* threads split runs only, and only for enough work (results do not depend on the count) */
#pragma omp parallel for schedule(static) if (pb->R >= 2 && (long)pb->R * pb->P >= (1L << 16))
    for (int r = 0; r < pb->R; r++) {
        for (int t = 0; t < pb->n_tensors; t++) {
            long k = (long)r * pb->n_tensors + t;
            if (!active[k]) continue;
            long base = (long)r * pb->P + pb->tensors[t].offset, n = param_tensor_size(&pb->tensors[t]);
            adam_apply_range(pb->params + base, pb->adam_m + base, pb->adam_v + base,
                             pb->grads + base, n, coef[k]);
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
