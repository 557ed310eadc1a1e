/* cpu_features.h: which x86-64 vector extensions the host code may use, asked in one place.
 * The vector paths (Adam, the CPU backend's row ops and single-column products, the Philox
 * normals) are compiled for any x86-64 with target attributes and chosen at run time with
 * these, never with -march flags. Each answer is computed once and cached.
 *
 * Environment switches (for comparisons: every vector path gives the scalar path's bits):
 *   PAMOE_NO_AVX2=1    all three report 0: the SSE / scalar / OpenBLAS / libm paths run;
 *   PAMOE_NO_AVX512=1  cpu_has_avx512 reports 0 (the AVX2 + FMA paths stay).
 * A switch counts when set to a non-empty value other than "0". */
#ifndef PAMOE_CPU_FEATURES_H
#define PAMOE_CPU_FEATURES_H

/* AVX2 (the "avx2"-target code: Adam, bias_act, relu_bwd, the softplus bounds). */
int cpu_has_avx2(void);
/* AVX2 and FMA (the "avx2,fma"-target code: single-column products, Philox normals). */
int cpu_has_avx2_fma(void);
/* AVX-512 F + VL besides AVX2 + FMA (host/rand/prand_avx512.c). */
int cpu_has_avx512(void);

/* AVX2 and FMA in the hardware, whatever the switches say: what glibc's own run-time choice
 * of its logf / sincosf variants sees (tests/test_libm_port.c). */
int cpu_hw_has_avx2_fma(void);
#endif
