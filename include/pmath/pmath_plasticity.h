/* pmath_plasticity.h: the element formulas of the plasticity methods (include/plasticity.h),
 * shared by the CPU backend's loops and the CUDA kernels (one thread per element).
 * Each is one or two roundings in a fixed order. Device code spells them with __fmul_rn /
 * __fadd_rn, which nvcc never contracts into an fma, so both backends round the same way and
 * the CUDA results equal the CPU's bit for bit. */
#ifndef PAMOE_PMATH_PLASTICITY_H
#define PAMOE_PMATH_PLASTICITY_H
#include "pmath.h"

/* Shrink-and-perturb (Ash & Adams 2020): theta' = alpha*theta + sigma*fresh, the two products
 * rounded before the sum. alpha = 1, sigma = 0 gives theta exactly (for finite fresh);
 * alpha = 0, sigma = 1 gives fresh exactly. */
PMATH_HD float pmath_plast_shrink_perturb(float theta, float fresh, float alpha, float sigma) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(__fmul_rn(alpha, theta), __fmul_rn(sigma, fresh));
#else
    float a = alpha * theta, b = sigma * fresh;
    return a + b;
#endif
}

/* Masked overwrite (ReDo and reset): mask != 0 takes src (0 when there is no source). */
PMATH_HD float pmath_plast_select(float dst, float src, unsigned char mask) { return mask ? src : dst; }

/* Gradient of the L2-init penalty c*||theta - theta0||^2 added to g: g + (2c)*(theta - theta0),
 * coef2 = 2c; the difference and the product rounded separately. */
PMATH_HD float pmath_plast_l2_init_grad(float g, float theta, float theta0, float coef2) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(g, __fmul_rn(coef2, __fsub_rn(theta, theta0)));
#else
    float d = theta - theta0, p = coef2 * d;
    return g + p;
#endif
}
#endif
