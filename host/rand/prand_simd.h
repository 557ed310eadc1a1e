/* prand_simd.h: inline AVX2 pieces shared by the vector Philox normals (host/rand/prand_avx2.c,
 * host/rand/prand_avx512.c; include only there). always_inline with the "avx2" target: it inlines
 * into either file's functions, whose targets include AVX2. */
#ifndef PAMOE_PRAND_SIMD_H
#define PAMOE_PRAND_SIMD_H
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* o[0 .. 31] for 8 quads: quad j's normals 0, 1 from its (x, y) pair (a0[j], a1[j]), 2, 3 from
 * its (z, w) pair (b0[j], b1[j]), transposed to o[4j .. 4j + 3] = a0[j], a1[j], b0[j], b1[j]. */
__attribute__((target("avx2"), always_inline)) static inline void prand_simd_store_quads8(float *o, __m256 a0,
                                                                                          __m256 a1, __m256 b0,
                                                                                          __m256 b1) {
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    __m256 t2 = _mm256_unpacklo_ps(b0, b1), t3 = _mm256_unpackhi_ps(b0, b1);
    __m256d o0 = _mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)); /* quads 0 | 4 */
    __m256d o1 = _mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)); /* 1 | 5 */
    __m256d o2 = _mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)); /* 2 | 6 */
    __m256d o3 = _mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)); /* 3 | 7 */
    _mm256_storeu_pd((double *)(void *)o, _mm256_permute2f128_pd(o0, o1, 0x20));
    _mm256_storeu_pd((double *)(void *)(o + 8), _mm256_permute2f128_pd(o2, o3, 0x20));
    _mm256_storeu_pd((double *)(void *)(o + 16), _mm256_permute2f128_pd(o0, o1, 0x31));
    _mm256_storeu_pd((double *)(void *)(o + 24), _mm256_permute2f128_pd(o2, o3, 0x31));
}
#endif
#endif
