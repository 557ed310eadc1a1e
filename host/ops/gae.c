/* gae.c: the CPU loop over include/pmath/pmath_gae.h, one stream at a time; the reference for the
 * CUDA kernel that runs one thread per stream. */
#include "gae.h"

#include "pmath_gae.h"

void gae_compute(int T, int N, const float *rewards, const float *values, const float *dones,
                 const float *next_value, const float *next_done, float gamma, float lambda,
                 float *adv, float *returns) {
    float gamma_lambda = (float)((double)gamma * (double)lambda);
    for (int n = 0; n < N; n++)
        pmath_gae_stream(T, N, n, rewards, values, dones, next_value[n], next_done[n], gamma,
                         gamma_lambda, adv, returns);
}
