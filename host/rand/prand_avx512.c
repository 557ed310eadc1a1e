/* prand_avx512.c: the Philox normals with AVX-512 (F + VL), the fastest of prand.c's paths:
 * the operations of host/rand/prand_avx2.c (and so of the scalar libm path, bit for bit) with
 * what AVX-512 adds: Philox words kept in 64-bit lanes (vpmuludq reads only the low 32 bits,
 * so a round is 2 products, 2 shifts and 2 three-way xors, vpternlogd), the unsigned
 * conversion vcvtudq2ps (correctly rounded, as (float)x), logf's 16-entry table in registers
 * (vpermt2pd instead of gathers), 8 doubles per vector. Compiled with target attributes; prand.c
 * calls it only when cpu_has_avx512() (cpu_features.h). As in prand_avx2.c, the Makefile's -std=c11
 * keeps gcc from contracting separate products and sums into FMAs. */
#include "prand_avx2.h"

#include "pmath_libm.h"
#include "pmath_rand.h"
#include "prand_simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx2,fma"), always_inline)) static inline

/* Quads q0 .. q0 + 8 G - 1, group g (8 quads, one per 64-bit lane) in x[g] .. w[g]; the words
 * are the low 32 bits of each lane (the high bits carry garbage: no consumer reads them). */
AVX512_INLINE void philox8g(uint64_t seed, uint64_t q0, int G, __m512i *x, __m512i *y, __m512i *z,
                            __m512i *w) {
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    for (int g = 0; g < G; g++) {
        __m512i q = _mm512_add_epi64(_mm512_set1_epi64((long long)(q0 + 8u * (uint64_t)g)), lane);
        __m512i pos = _mm512_srli_epi64(q, PMATH_PHILOX_STREAMS_LOG2);
        x[g] = pos;
        y[g] = _mm512_srli_epi64(pos, 32);
        z[g] = _mm512_and_si512(q, _mm512_set1_epi64((1 << PMATH_PHILOX_STREAMS_LOG2) - 1));
        w[g] = _mm512_setzero_si512();
    }
    const __m512i m0 = _mm512_set1_epi64(PMATH_PHILOX_M0), m1 = _mm512_set1_epi64(PMATH_PHILOX_M1);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int i = 0; i < 10; i++) {
        if (i > 0) {
            k0 += PMATH_PHILOX_W0;
            k1 += PMATH_PHILOX_W1;
        }
        __m512i vk0 = _mm512_set1_epi32((int)k0), vk1 = _mm512_set1_epi32((int)k1);
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            __m512i p0 = _mm512_mul_epu32(x[g], m0), p1 = _mm512_mul_epu32(z[g], m1);
            /* 0x96: a ^ b ^ c */
            x[g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p1, 32), y[g], vk0, 0x96);
            z[g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0, 32), w[g], vk1, 0x96);
            y[g] = p1;
            w[g] = p0;
        }
    }
}

/* pmath_logf of 8 floats; with `check`, lanes outside the fast path (not normal, positive,
 * finite) take the scalar function. The normal blocks pass 0: a uniform is always in
 * [2^-33, 1], an angle in (0, 2 pi], and no call stays in their code. */
AVX512_INLINE __m256 logf8(__m256 x, __m512d tinv_lo, __m512d tinv_hi, __m512d tlog_lo,
                           __m512d tlog_hi, int check) {
    __m256i ix = _mm256_castps_si256(x);
    __m256i tmp = _mm256_sub_epi32(ix, _mm256_set1_epi32((int)PMATH_LOGF_OFF));
    __m256i i = _mm256_and_si256(_mm256_srli_epi32(tmp, 19), _mm256_set1_epi32(15));
    __m256i k = _mm256_srai_epi32(tmp, 23);
    __m256i iz = _mm256_sub_epi32(ix, _mm256_and_si256(tmp, _mm256_set1_epi32((int)0xff800000u)));
    __m512i i64 = _mm512_cvtepu32_epi64(i);
    __m512d invc = _mm512_permutex2var_pd(tinv_lo, i64, tinv_hi);
    __m512d logc = _mm512_permutex2var_pd(tlog_lo, i64, tlog_hi);
    __m512d z = _mm512_cvtps_pd(_mm256_castsi256_ps(iz));
    __m512d r = _mm512_fmadd_pd(z, invc, _mm512_set1_pd(-1.0));
    __m512d y0 = _mm512_fmadd_pd(_mm512_cvtepi32_pd(k), _mm512_set1_pd(PMATH_LOGF_LN2), logc);
    __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(r, _mm512_set1_pd(PMATH_LOGF_A1), _mm512_set1_pd(PMATH_LOGF_A2));
    y = _mm512_fmadd_pd(r2, _mm512_set1_pd(PMATH_LOGF_A0), y);
    y = _mm512_fmadd_pd(r2, y, _mm512_add_pd(r, y0));
    __m256 out = _mm512_cvtpd_ps(y);
    /* lanes outside the fast path: ix - 0x00800000 >= 0x7f000000 (unsigned) */
    __mmask8 bad = _mm256_cmpge_epu32_mask(_mm256_sub_epi32(ix, _mm256_set1_epi32(0x00800000)),
                                          _mm256_set1_epi32(0x7f000000));
    if (check && bad) {
        float xs[8], ys[8];
        _mm256_storeu_ps(xs, x);
        _mm256_storeu_ps(ys, out);
        for (int j = 0; j < 8; j++)
            if (bad >> j & 1) ys[j] = pmath_logf(xs[j]);
        out = _mm256_loadu_ps(ys);
    }
    return out;
}

/* pmath_sincosf of 8 floats: the reduction for every lane (n = 0 below 0.75, the same
 * operations as glibc's unreduced path, see prand_avx2.c), sin x = x, cos x = 1 below 2^-12,
 * the scalar function from 120 on (inf, NaN included). */
AVX512_INLINE void sincosf8(__m256 xf, __m256 *sp, __m256 *cp, int check) {
    __m512d x = _mm512_cvtps_pd(xf);
    __m256i n = _mm512_cvttpd_epi32(_mm512_mul_pd(x, _mm512_set1_pd(PMATH_SINCOSF_HPI_INV)));
    n = _mm256_srai_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(0x800000)), 24);
    __m512d xr = _mm512_fnmadd_pd(_mm512_cvtepi32_pd(n), _mm512_set1_pd(PMATH_SINCOSF_HPI), x);
    __m512i n64 = _mm512_cvtepi32_epi64(n);
    __m512i two = _mm512_set1_epi64(2);
    /* sign bit where (n + 1) & 2 (glibc's sign table), where n & 2 (negated cosine) */
    __m512i sgn = _mm512_slli_epi64(_mm512_and_si512(_mm512_add_epi64(n64, _mm512_set1_epi64(1)), two), 62);
    __m512i negc = _mm512_slli_epi64(_mm512_and_si512(n64, two), 62);
    __mmask8 swap = _mm512_test_epi64_mask(n64, _mm512_set1_epi64(1));
    __m512d xs = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(xr), sgn));
    __m512d x2 = _mm512_mul_pd(xr, xr);
    __m512d x3 = _mm512_mul_pd(xs, x2), x4 = _mm512_mul_pd(x2, x2);
    __m512d x5 = _mm512_mul_pd(x3, x2), x6 = _mm512_mul_pd(x4, x2);
    __m512d c1 = _mm512_fmadd_pd(x2, _mm512_set1_pd(PMATH_SINCOSF_C1), _mm512_set1_pd(PMATH_SINCOSF_C0));
    __m512d s1 = _mm512_fmadd_pd(x2, _mm512_set1_pd(PMATH_SINCOSF_S3), _mm512_set1_pd(PMATH_SINCOSF_S2));
    __m512d c2 = _mm512_fmadd_pd(x2, _mm512_set1_pd(PMATH_SINCOSF_C4), _mm512_set1_pd(PMATH_SINCOSF_C3));
    __m512d s = _mm512_fmadd_pd(x3, _mm512_set1_pd(PMATH_SINCOSF_S1), xs);
    __m512d c = _mm512_fmadd_pd(x4, _mm512_set1_pd(PMATH_SINCOSF_C2), c1);
    __m512d sn = _mm512_fmadd_pd(x5, s1, s);
    __m512d cs = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(_mm512_fmadd_pd(x6, c2, c)), negc));
    __m256 so = _mm512_cvtpd_ps(_mm512_mask_blend_pd(swap, sn, cs));
    __m256 co = _mm512_cvtpd_ps(_mm512_mask_blend_pd(swap, cs, sn));
    __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(xf), 20), _mm256_set1_epi32(0x7ff));
    __mmask8 tiny = _mm256_cmplt_epi32_mask(top, _mm256_set1_epi32((int)PMATH_SINCOSF_TOP_TINY));
    so = _mm256_mask_blend_ps(tiny, so, xf);
    co = _mm256_mask_blend_ps(tiny, co, _mm256_set1_ps(1.0f));
    __mmask8 large = _mm256_cmpge_epi32_mask(top, _mm256_set1_epi32((int)PMATH_SINCOSF_TOP_LARGE));
    if (check && large) {
        float xv[8], ss[8], cc[8];
        _mm256_storeu_ps(xv, xf);
        _mm256_storeu_ps(ss, so);
        _mm256_storeu_ps(cc, co);
        for (int j = 0; j < 8; j++)
            if (large >> j & 1) pmath_sincosf(xv[j], &ss[j], &cc[j]);
        so = _mm256_loadu_ps(ss);
        co = _mm256_loadu_ps(cc);
    }
    *sp = so;
    *cp = co;
}

/* logf's table as four registers: invc of entries 0-7, 8-15, logc of 0-7, 8-15 (the (invc,
 * logc) pairs loaded and split by two-source permutes) */
#define LOGF_TABLES                                                                                \
    const double *tab_ = &pmath_logf_table[0].invc;                                                \
    __m512d t0_ = _mm512_loadu_pd(tab_), t1_ = _mm512_loadu_pd(tab_ + 8);                          \
    __m512d t2_ = _mm512_loadu_pd(tab_ + 16), t3_ = _mm512_loadu_pd(tab_ + 24);                    \
    const __m512i even_ = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);                             \
    const __m512i odd_ = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);                              \
    __m512d tinv_lo = _mm512_permutex2var_pd(t0_, even_, t1_);                                     \
    __m512d tinv_hi = _mm512_permutex2var_pd(t2_, even_, t3_);                                     \
    __m512d tlog_lo = _mm512_permutex2var_pd(t0_, odd_, t1_);                                      \
    __m512d tlog_hi = _mm512_permutex2var_pd(t2_, odd_, t3_)

/* out[0 .. 32 G) = normals of quads q0 .. q0 + 8 G - 1, G <= 4 (as prand_avx2.c's). */
AVX512_INLINE void normal_blocks(uint64_t seed, uint64_t q0, int G, float *out) {
    __m512i x[4], y[4], z[4], w[4];
    philox8g(seed, q0, G, x, y, z, w);
    LOGF_TABLES;
    /* Box-Muller group by group (a pass per stage over all groups keeps too many vectors
     * live: spills); the groups' chains still overlap in the out-of-order window */
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        __m256 n0[2], n1[2];
        /* the (x, y) pairs of the group's 8 quads, then the (z, w) pairs */
        __m256i wx[2] = {_mm512_cvtepi64_epi32(x[g]), _mm512_cvtepi64_epi32(z[g])};
        __m256i wy[2] = {_mm512_cvtepi64_epi32(y[g]), _mm512_cvtepi64_epi32(w[g])};
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            /* vcvtudq2ps rounds once, as pmath_u32_to_float's exact halves and one add */
            __m256 u = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepu32_ps(wx[h]), _mm256_set1_ps(PMATH_2POW32_INV)),
                                     _mm256_set1_ps(PMATH_2POW32_INV / 2.0f));
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepu32_ps(wy[h]), _mm256_set1_ps(PMATH_2POW32_INV_2PI)),
                                     _mm256_set1_ps(PMATH_2POW32_INV_2PI / 2.0f));
            __m256 sr = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), logf8(u, tinv_lo, tinv_hi, tlog_lo, tlog_hi, 0)));
            __m256 sn, cs;
            sincosf8(v, &sn, &cs, 0);
            n0[h] = _mm256_mul_ps(sn, sr);
            n1[h] = _mm256_mul_ps(cs, sr);
        }
        /* quad j's normals 0, 1 from the (x, y) pair, 2, 3 from (z, w), to o[4j .. 4j + 3] */
        prand_simd_store_quads8(out + 32 * g, n0[0], n1[0], n0[1], n1[1]);
    }
}

AVX512 void prand_avx512_normal_block(uint64_t seed, uint64_t q0, float *out) {
    normal_blocks(seed, q0, 4, out);
}

AVX512 void prand_avx512_logf(const float *x, float *y, long n) {
    LOGF_TABLES;
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, logf8(_mm256_loadu_ps(x + i), tinv_lo, tinv_hi, tlog_lo, tlog_hi, 1));
    for (; i < n; i++) y[i] = pmath_logf(x[i]);
}

AVX512 void prand_avx512_sincosf(const float *x, float *s, float *c, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 sv, cv;
        sincosf8(_mm256_loadu_ps(x + i), &sv, &cv, 1);
        _mm256_storeu_ps(s + i, sv);
        _mm256_storeu_ps(c + i, cv);
    }
    for (; i < n; i++) pmath_sincosf(x[i], &s[i], &c[i]);
}

#endif /* elsewhere: stubs in prand_avx2.c */
