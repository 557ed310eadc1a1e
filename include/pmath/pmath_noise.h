/* pmath_noise.h: the PA-MoE expert parameter noise of one element, theta + sigma * n
 * (networks.md section 7), with both operations rounded once so a CUDA kernel (where nvcc would
 * fuse them into an FMA) gives the CPU's bytes for the same Philox normal. */
#ifndef PAMOE_PMATH_NOISE_H
#define PAMOE_PMATH_NOISE_H
#include "pmath.h"
#include "pmath_rand.h"

PMATH_HD float pmath_noise_apply(float theta, float sigma, float n) {
    return pmath_add_rn(theta, pmath_mul_rn(sigma, n));
}
#endif
