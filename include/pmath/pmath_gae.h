/* pmath_gae.h: the per-step formulas of generalized advantage estimation (ppo.md section 5),
 * shared by the CPU loop (host/ops/gae.c) and a CUDA kernel with one thread per stream. The
 * operation order follows the reference's float32 expressions. */
#ifndef PAMOE_PMATH_GAE_H
#define PAMOE_PMATH_GAE_H
#include "pmath.h"

/* delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_{t+1}) - V(s_t) */
PMATH_HD float pmath_td_error(float r, float v, float v_next, float not_done, float gamma) {
    return r + gamma * v_next * not_done - v;
}

/* A_t = delta_t + gamma * lambda * (1 - done_{t+1}) * A_{t+1}; gamma_lambda is the product
 * computed once in double, as Python does before multiplying the tensors. */
PMATH_HD float pmath_gae_step(float delta, float not_done, float gamma_lambda, float next_adv) {
    return delta + gamma_lambda * not_done * next_adv;
}

/* The whole backward recursion of one stream n of N; arrays are (T, N) row-major. */
PMATH_HD void pmath_gae_stream(int T, int N, int n, const float *rewards, const float *values,
                               const float *dones, float next_value, float next_done,
                               float gamma, float gamma_lambda, float *adv, float *returns) {
    float last = 0.0f;
    for (int t = T - 1; t >= 0; t--) {
        long i = (long)t * N + n;
        float not_done = t == T - 1 ? 1.0f - next_done : 1.0f - dones[i + N];
        float v_next = t == T - 1 ? next_value : values[i + N];
        float delta = pmath_td_error(rewards[i], values[i], v_next, not_done, gamma);
        last = pmath_gae_step(delta, not_done, gamma_lambda, last);
        adv[i] = last;
        returns[i] = last + values[i];
    }
}
#endif
