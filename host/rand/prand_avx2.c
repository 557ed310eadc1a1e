/* prand_avx2.c: the Philox normals with AVX2 + FMA (32 quads, 128 normals per block): Philox in
 * 8 x 32-bit lanes (vpmuludq), the uniforms in 8 floats, glibc's logf and sincosf
 * (include/pmath/pmath_libm.h, the same operations: fma where glibc's FMA build fused) in 4 doubles,
 * sqrt and the products in 8 floats. Every operation is an IEEE add / mul / fma / sqrt /
 * conversion rounded as in the scalar code, so the bits are the scalar path's (tests/
 * test_libm_port.c, test_rand.c). Compiled with target attributes: the build stays generic
 * x86-64 and prand.c calls this only when cpu_has_avx2_fma() (cpu_features.h).
 * The Makefile's -std=c11 keeps gcc from contracting the separate _mm256_mul_ps /
 * _mm256_add_ps below into FMAs (ISO C mode: -ffp-contract=off), which would change the
 * uniforms; FMAs are written as FMAs. */
#include "prand_avx2.h"

#include "pmath_libm.h"
#include "pmath_rand.h"
#include "prand_simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

/* 8 products a[j] * m (32 x 32 -> 64 bits): the high and low words, as pmath_philox_round. */
AVX2_INLINE __m256i mul_hilo(__m256i a, __m256i m, __m256i *hi) {
    __m256i pe = _mm256_mul_epu32(a, m);                        /* lanes 0, 2, 4, 6 */
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m); /* lanes 1, 3, 5, 7 */
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    return _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

/* Quads q0 .. q0 + 8 G - 1 (pmath_rand_quad_lanes), group g (8 quads) in x[g] .. w[g]: the G
 * groups' rounds are independent, interleaved so one round's latency hides behind the others. */
AVX2_INLINE void philox8g(uint64_t seed, uint64_t q0, int G, __m256i *x, __m256i *y, __m256i *z,
                          __m256i *w) {
    for (int g = 0; g < G; g++) {
        uint32_t cx[8], cy[8], cz[8];
        for (int j = 0; j < 8; j++) {
            uint64_t q = q0 + (uint64_t)(8 * g + j), pos = q >> PMATH_PHILOX_STREAMS_LOG2;
            cx[j] = (uint32_t)pos;
            cy[j] = (uint32_t)(pos >> 32);
            cz[j] = (uint32_t)(q & ((1u << PMATH_PHILOX_STREAMS_LOG2) - 1u));
        }
        x[g] = _mm256_loadu_si256((const __m256i *)cx);
        y[g] = _mm256_loadu_si256((const __m256i *)cy);
        z[g] = _mm256_loadu_si256((const __m256i *)cz);
        w[g] = _mm256_setzero_si256();
    }
    const __m256i m0 = _mm256_set1_epi32((int)PMATH_PHILOX_M0), m1 = _mm256_set1_epi32((int)PMATH_PHILOX_M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int i = 0; i < 10; i++) {
        if (i > 0) {
            k0 += PMATH_PHILOX_W0;
            k1 += PMATH_PHILOX_W1;
        }
        __m256i vk0 = _mm256_set1_epi32((int)k0), vk1 = _mm256_set1_epi32((int)k1);
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            __m256i hi0, hi1;
            __m256i lo0 = mul_hilo(x[g], m0, &hi0), lo1 = mul_hilo(z[g], m1, &hi1);
            x[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, y[g]), vk0);
            z[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, w[g]), vk1);
            y[g] = lo1;
            w[g] = lo0;
        }
    }
}

/* pmath_u32_to_float: two exact signed conversions and one rounding add. */
AVX2_INLINE __m256 u32_to_float(__m256i x) {
    __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(x, 16));
    __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(x, _mm256_set1_epi32(0xFFFF)));
    return _mm256_add_ps(_mm256_mul_ps(hi, _mm256_set1_ps(65536.0f)), lo);
}

/* pmath_logf of 4 floats known to be normal, positive and finite. */
AVX2_INLINE __m128 logf4(__m128 x) {
    __m128i ix = _mm_castps_si128(x);
    __m128i tmp = _mm_sub_epi32(ix, _mm_set1_epi32((int)PMATH_LOGF_OFF));
    /* index * 2: the table holds (invc, logc) pairs and the gather scale is at most 8 */
    __m128i i2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(tmp, 19), _mm_set1_epi32(15)), 1);
    __m128i k = _mm_srai_epi32(tmp, 23);
    __m128i iz = _mm_sub_epi32(ix, _mm_and_si128(tmp, _mm_set1_epi32((int)0xff800000u)));
    __m256d invc = _mm256_i32gather_pd(&pmath_logf_table[0].invc, i2, 8);
    __m256d logc = _mm256_i32gather_pd(&pmath_logf_table[0].logc, i2, 8);
    __m256d z = _mm256_cvtps_pd(_mm_castsi128_ps(iz));
    __m256d r = _mm256_fmadd_pd(z, invc, _mm256_set1_pd(-1.0));
    __m256d y0 = _mm256_fmadd_pd(_mm256_cvtepi32_pd(k), _mm256_set1_pd(PMATH_LOGF_LN2), logc);
    __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(PMATH_LOGF_A1), _mm256_set1_pd(PMATH_LOGF_A2));
    y = _mm256_fmadd_pd(r2, _mm256_set1_pd(PMATH_LOGF_A0), y);
    y = _mm256_fmadd_pd(r2, y, _mm256_add_pd(r, y0));
    return _mm256_cvtpd_ps(y);
}

/* pmath_logf of 8 floats; with `check`, lanes outside the fast path take the scalar function
 * (x == 1 is in it: it gives +0 there too, the test checks). The normal blocks pass 0: a
 * uniform is always in [2^-33, 1], an angle in (0, 2 pi], and no call stays in their code. */
AVX2_INLINE __m256 logf8(__m256 x, int check) {
    __m256 y = _mm256_set_m128(logf4(_mm256_extractf128_ps(x, 1)), logf4(_mm256_castps256_ps128(x)));
    /* ix - 0x00800000 >= 0x7f000000 unsigned <=> (signed) ix - 0x00800000 outside [0, 0x7f000000) */
    __m256i d = _mm256_sub_epi32(_mm256_castps_si256(x), _mm256_set1_epi32(0x00800000));
    __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), d),
                                  _mm256_cmpgt_epi32(d, _mm256_set1_epi32(0x7effffff)));
    int m = _mm256_movemask_ps(_mm256_castsi256_ps(out));
    if (check && m) {
        float xs[8], ys[8];
        _mm256_storeu_ps(xs, x);
        _mm256_storeu_ps(ys, y);
        for (int j = 0; j < 8; j++)
            if (m >> j & 1) ys[j] = pmath_logf(xs[j]);
        y = _mm256_loadu_ps(ys);
    }
    return y;
}

/* pmath_sincosf's reduction + polynomial for 4 floats with |x| < 120. Below 0.75 glibc skips
 * the reduction; here it runs with n = 0, where x * 2/pi 2^24 < 2^23 truncates to quadrant 0
 * and fma(-0, pi/2, x) = x: the same operations on the same values. */
AVX2_INLINE void sincosf4(__m128 xf, __m128 *sp, __m128 *cp) {
    __m256d x = _mm256_cvtps_pd(xf);
    __m128i n = _mm256_cvttpd_epi32(_mm256_mul_pd(x, _mm256_set1_pd(PMATH_SINCOSF_HPI_INV)));
    n = _mm_srai_epi32(_mm_add_epi32(n, _mm_set1_epi32(0x800000)), 24);
    __m256d xr = _mm256_fnmadd_pd(_mm256_cvtepi32_pd(n), _mm256_set1_pd(PMATH_SINCOSF_HPI), x);
    __m256i n64 = _mm256_cvtepi32_epi64(n);
    __m256i two = _mm256_set1_epi64x(2);
    /* sign bit where (n + 1) & 2 (glibc's sign table), where n & 2 (negated cosine) */
    __m256d sgn = _mm256_castsi256_pd(
        _mm256_slli_epi64(_mm256_and_si256(_mm256_add_epi64(n64, _mm256_set1_epi64x(1)), two), 62));
    __m256d negc = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(n64, two), 62));
    __m256d swap = _mm256_castsi256_pd(_mm256_slli_epi64(n64, 63)); /* blendv reads bit 63 */
    __m256d xs = _mm256_xor_pd(xr, sgn), x2 = _mm256_mul_pd(xr, xr);
    __m256d x3 = _mm256_mul_pd(xs, x2), x4 = _mm256_mul_pd(x2, x2);
    __m256d x5 = _mm256_mul_pd(x3, x2), x6 = _mm256_mul_pd(x4, x2);
    __m256d c1 = _mm256_fmadd_pd(x2, _mm256_set1_pd(PMATH_SINCOSF_C1), _mm256_set1_pd(PMATH_SINCOSF_C0));
    __m256d s1 = _mm256_fmadd_pd(x2, _mm256_set1_pd(PMATH_SINCOSF_S3), _mm256_set1_pd(PMATH_SINCOSF_S2));
    __m256d c2 = _mm256_fmadd_pd(x2, _mm256_set1_pd(PMATH_SINCOSF_C4), _mm256_set1_pd(PMATH_SINCOSF_C3));
    __m256d s = _mm256_fmadd_pd(x3, _mm256_set1_pd(PMATH_SINCOSF_S1), xs);
    __m256d c = _mm256_fmadd_pd(x4, _mm256_set1_pd(PMATH_SINCOSF_C2), c1);
    __m256d sn = _mm256_fmadd_pd(x5, s1, s);
    __m256d cs = _mm256_xor_pd(_mm256_fmadd_pd(x6, c2, c), negc);
    *sp = _mm256_cvtpd_ps(_mm256_blendv_pd(sn, cs, swap));
    *cp = _mm256_cvtpd_ps(_mm256_blendv_pd(cs, sn, swap));
}

/* pmath_sincosf of 8 floats: below 2^-12 sin x = x, cos x = 1; |x| >= 120, inf, NaN (never
 * a Box-Muller angle) take the scalar function. */
AVX2_INLINE void sincosf8(__m256 x, __m256 *sp, __m256 *cp, int check) {
    __m128 s0, c0, s1, c1;
    sincosf4(_mm256_castps256_ps128(x), &s0, &c0);
    sincosf4(_mm256_extractf128_ps(x, 1), &s1, &c1);
    __m256 s = _mm256_set_m128(s1, s0), c = _mm256_set_m128(c1, c0);
    __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 20), _mm256_set1_epi32(0x7ff));
    __m256 tiny = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)PMATH_SINCOSF_TOP_TINY), top));
    s = _mm256_blendv_ps(s, x, tiny);
    c = _mm256_blendv_ps(c, _mm256_set1_ps(1.0f), tiny);
    __m256i large = _mm256_cmpgt_epi32(top, _mm256_set1_epi32((int)PMATH_SINCOSF_TOP_LARGE - 1));
    int m = _mm256_movemask_ps(_mm256_castsi256_ps(large));
    if (check && m) {
        float xs[8], ss[8], cc[8];
        _mm256_storeu_ps(xs, x);
        _mm256_storeu_ps(ss, s);
        _mm256_storeu_ps(cc, c);
        for (int j = 0; j < 8; j++)
            if (m >> j & 1) pmath_sincosf(xs[j], &ss[j], &cc[j]);
        s = _mm256_loadu_ps(ss);
        c = _mm256_loadu_ps(cc);
    }
    *sp = s;
    *cp = c;
}

/* Box-Muller (pmath_box_muller) of np vectors of 8 pairs of words (wx[i], wy[i]):
 * n0 = sin(v) s, n1 = cos(v) s, stage by stage so the vectors' chains run side by side. */
AVX2_INLINE void box_muller8n(int np, const __m256i *wx, const __m256i *wy, __m256 *n0, __m256 *n1) {
    __m256 u[8], v[8], s[8];
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        u[i] = _mm256_add_ps(_mm256_mul_ps(u32_to_float(wx[i]), _mm256_set1_ps(PMATH_2POW32_INV)),
                             _mm256_set1_ps(PMATH_2POW32_INV / 2.0f));
        v[i] = _mm256_add_ps(_mm256_mul_ps(u32_to_float(wy[i]), _mm256_set1_ps(PMATH_2POW32_INV_2PI)),
                             _mm256_set1_ps(PMATH_2POW32_INV_2PI / 2.0f));
    }
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) s[i] = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), logf8(u[i], 0)));
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        __m256 sn, cs;
        sincosf8(v[i], &sn, &cs, 0);
        n0[i] = _mm256_mul_ps(sn, s[i]);
        n1[i] = _mm256_mul_ps(cs, s[i]);
    }
}

/* out[0 .. 32 G) = normals of quads q0 .. q0 + 8 G - 1, G <= 4. */
AVX2_INLINE void normal_blocks(uint64_t seed, uint64_t q0, int G, float *out) {
    __m256i x[4], y[4], z[4], w[4];
    philox8g(seed, q0, G, x, y, z, w);
    /* pairs (x, y) of group g in slot 2 g, (z, w) in slot 2 g + 1 */
    __m256i px[8], py[8];
    for (int g = 0; g < G; g++) {
        px[2 * g] = x[g];
        py[2 * g] = y[g];
        px[2 * g + 1] = z[g];
        py[2 * g + 1] = w[g];
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        /* group by group (all groups' stages at once would keep too many vectors live) */
        __m256 n0[2], n1[2];
        box_muller8n(2, px + 2 * g, py + 2 * g, n0, n1);
        /* quad j's normals 0, 1 from the (x, y) pair, 2, 3 from (z, w), to o[4j .. 4j + 3] */
        prand_simd_store_quads8(out + 32 * g, n0[0], n1[0], n0[1], n1[1]);
    }
}

AVX2 void prand_avx2_normal_block(uint64_t seed, uint64_t q0, float *out) {
    normal_blocks(seed, q0, 4, out);
}

AVX2 void prand_avx2_logf(const float *x, float *y, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, logf8(_mm256_loadu_ps(x + i), 1));
    for (; i < n; i++) y[i] = pmath_logf(x[i]);
}

AVX2 void prand_avx2_sincosf(const float *x, float *s, float *c, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 sv, cv;
        sincosf8(_mm256_loadu_ps(x + i), &sv, &cv, 1);
        _mm256_storeu_ps(s + i, sv);
        _mm256_storeu_ps(c + i, cv);
    }
    for (; i < n; i++) pmath_sincosf(x[i], &s[i], &c[i]);
}

#else /* not x86-64 gcc/clang: no vector path; prand.c uses the libm loop. The stubs of
       * both vector files (prand_avx512.c compiles to nothing here). */
#include "common.h"

static void prand_vector_absent(void) {
    check_die(__FILE__, __LINE__, "prand_avx2", "vector path called on a build without it");
}

void prand_avx2_normal_block(uint64_t seed, uint64_t q0, float *out) {
    (void)seed, (void)q0, (void)out;
    prand_vector_absent();
}

void prand_avx2_logf(const float *x, float *y, long n) {
    (void)x, (void)y, (void)n;
    prand_vector_absent();
}

void prand_avx2_sincosf(const float *x, float *s, float *c, long n) {
    (void)x, (void)s, (void)c, (void)n;
    prand_vector_absent();
}

void prand_avx512_normal_block(uint64_t seed, uint64_t q0, float *out) {
    (void)seed, (void)q0, (void)out;
    prand_vector_absent();
}

void prand_avx512_logf(const float *x, float *y, long n) {
    (void)x, (void)y, (void)n;
    prand_vector_absent();
}

void prand_avx512_sincosf(const float *x, float *s, float *c, long n) {
    (void)x, (void)s, (void)c, (void)n;
    prand_vector_absent();
}
#endif
