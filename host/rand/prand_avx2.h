/* prand_avx2.h: the AVX2 + FMA and AVX-512 paths of the Philox normals (host/rand/prand_avx2.c,
 * host/rand/prand_avx512.c; prand.c picks one, include/prand.h): Philox4x32-10,
 * Box-Muller and glibc's logf / sincosf (include/pmath/pmath_libm.h) as 4-double / 8-float vectors,
 * the same bits as the scalar libm path. Compiled for any x86-64 (target attributes); call only
 * when cpu_has_avx2_fma() (cpu_has_avx512() for the AVX-512 ones, cpu_features.h): then glibc's
 * logf / sincosf are its FMA variants, which the vector code reproduces. On other machines the
 * functions exist but must not be called. */
#ifndef PAMOE_PRAND_AVX2_H
#define PAMOE_PRAND_AVX2_H
#include <stdint.h>

/* Normals per block call: 32 Philox quads, as 4 groups of 8 whose dependency chains overlap. */
#define PRAND_AVX2_BLOCK 128

/* out[0 .. 127] = normals at elements 4 q0 .. 4 q0 + 127 of the stream `seed` (pmath_rand.h). */
void prand_avx2_normal_block(uint64_t seed, uint64_t q0, float *out);

/* y[i] = logf(x[i]); s[i], c[i] = sinf(x[i]), cosf(x[i]): glibc's results, vectorised
 * (exposed for the exhaustive tests; any n >= 0, any inputs). */
void prand_avx2_logf(const float *x, float *y, long n);
void prand_avx2_sincosf(const float *x, float *s, float *c, long n);

/* The same with AVX-512 (F + VL, besides AVX2 + FMA): host/rand/prand_avx512.c. */
void prand_avx512_normal_block(uint64_t seed, uint64_t q0, float *out);
void prand_avx512_logf(const float *x, float *y, long n);
void prand_avx512_sincosf(const float *x, float *s, float *c, long n);
#endif
