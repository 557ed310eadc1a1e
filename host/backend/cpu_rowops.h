/* cpu_rowops.h: vector forms of the CPU backend's hot row ops (host/backend/cpu_rowops.c): AVX2, chosen
 * at run time (cpu_features.h), each performing the scalar formula's IEEE operations per lane
 * (the same bits as include/pmath/pmath_net.h's row formulas; tests/test_backend_cpu.c). */
#ifndef PAMOE_CPU_ROWOPS_H
#define PAMOE_CPU_ROWOPS_H

/* the widest row cpu_rowops_bias_act_avx2 takes */
#define CPU_ROWOPS_BIAS_MAX 64

/* 1 when the AVX2 forms below are compiled in (x86-64 gcc) and cpu_has_avx2(). */
int cpu_rowops_avx2(void);

/* y (rows, n) += b (n) per row, then ReLU when relu (pmath_bias_act_row); n <=
 * CPU_ROWOPS_BIAS_MAX. Only when cpu_rowops_avx2(). */
void cpu_rowops_bias_act_avx2(float *y, const float *b, long rows, int n, int relu);
/* dy = y > 0 ? dy : 0 (pmath_relu_bwd) over count elements. Only when cpu_rowops_avx2(). */
void cpu_rowops_relu_bwd_avx2(float *dy, const float *y, long count);

/* pmath_softplus_bounds over n elements (NaN bounds where it gives none); simd = 1: the AVX2
 * form when cpu_rowops_avx2() (what route_top1 uses), 0: the scalar formula (the reference). */
void cpu_rowops_softplus_bounds(const float *u, long n, float *lo, float *hi, int simd);
/* Noisy-logit bounds [zl, zh] of n elements: pmath_softplus_bounds then
 * pmath_noisy_logit_bounds (the scalar formulas, or their AVX2 form when cpu_rowops_avx2()). */
void cpu_rowops_route_zbounds(const float *l, const float *u, const float *eps, long n, float *zl, float *zh);
#endif
