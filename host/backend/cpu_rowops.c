/* cpu_rowops.c: the CPU backend's vector row ops (host/backend/cpu_rowops.h). AVX2 chosen at run time
 * (never -march flags), each performing the scalar formula's IEEE operations per lane (same
 * bits; no FMA: the target is "avx2" only and -std=c11 keeps contraction off). PAMOE_NO_AVX2=1
 * in the environment keeps the scalar forms (cpu_features.h). */
#include "cpu_rowops.h"

#include <math.h>

#include "common.h"
#include "cpu_features.h"
#include "pmath_net.h"

/* compiled where gcc's target attributes and x86 intrinsics are */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_ROWOPS_HAVE_AVX2 1
#include <immintrin.h>
#else
#define CPU_ROWOPS_HAVE_AVX2 0
#endif

int cpu_rowops_avx2(void) { return CPU_ROWOPS_HAVE_AVX2 && cpu_has_avx2(); }

#if CPU_ROWOPS_HAVE_AVX2
/* y (rows, n) += bias per row, then ReLU: the block as one flat array of 8-lane vectors (rows
 * of n = 18 or 6 do not fill vectors on their own). Lane t of the vector at flat index i needs
 * b[(i + t) % n] = bb[i % n + t] from bb, the bias repeated to n + 7 entries. The same add and
 * the same max(v, 0) per element as pmath_bias_act_row (maxps(v, 0) returns 0 for v <= 0 and
 * NaN, v > 0 ? v : 0 exactly). */
__attribute__((target("avx2"))) void cpu_rowops_bias_act_avx2(float *y, const float *b, long rows, int n, int relu) {
    float bb[CPU_ROWOPS_BIAS_MAX + 7];
    for (int j = 0; j < n + 7; j++) bb[j] = j < n ? b[j] : bb[j - n]; /* no division */
    long total = rows * n, i = 0;
    int o = 0, step = 8 % n; /* o = i % n, kept without a division per vector */
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= total; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(bb + o));
        _mm256_storeu_ps(y + i, relu ? _mm256_max_ps(v, zero) : v);
        o += step;
        if (o >= n) o -= n;
    }
    _mm256_zeroupper();
    for (; i < total; i++) {
        float v = y[i] + bb[o++];
        y[i] = relu ? pmath_relu(v) : v;
    }
}

/* dy = y > 0 ? dy : 0 as an AND with the compare mask (+0 where y <= 0, dy itself else). */
__attribute__((target("avx2"))) void cpu_rowops_relu_bwd_avx2(float *dy, const float *y, long count) {
    long i = 0;
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dy + i, _mm256_and_ps(_mm256_loadu_ps(dy + i),
                                               _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ)));
    _mm256_zeroupper();
    for (; i < count; i++) dy[i] = pmath_relu_bwd(dy[i], y[i]);
}
#else
void cpu_rowops_bias_act_avx2(float *y, const float *b, long rows, int n, int relu) {
    (void)y, (void)b, (void)rows, (void)n, (void)relu;
    check_die(__FILE__, __LINE__, "cpu_rowops_bias_act_avx2", "AVX2 form called on a build without it");
}
void cpu_rowops_relu_bwd_avx2(float *dy, const float *y, long count) {
    (void)dy, (void)y, (void)count;
    check_die(__FILE__, __LINE__, "cpu_rowops_relu_bwd_avx2", "AVX2 form called on a build without it");
}
#endif


/* Softplus bounds of n elements (pmath_softplus_bounds; NaN where it gives none). */
static void softplus_bounds_scalar(const float *u, long n, float *lo, float *hi) {
    for (long i = 0; i < n; i++)
        if (!pmath_softplus_bounds(u[i], &lo[i], &hi[i])) lo[i] = hi[i] = NAN;
}

#if CPU_ROWOPS_HAVE_AVX2
/* The same, 4 lanes of double: pmath_softplus_approx's operations in its order (IEEE
 * mul/add/sub/div, no FMA: the target is "avx2" only and -std=c11 keeps contraction off), so
 * the bounds are the scalar ones bit for bit (tests/test_backend_cpu.c). Integer steps: k by
 * cvtpd (exact on an integral double), e by the 2^52 trick (exact). */
__attribute__((target("avx2"), always_inline)) static inline void sp_bounds4(__m128 xf, __m128 *lo,
                                                                              __m128 *hi) {
    const __m256d shift = _mm256_set1_pd(6755399441055744.0), l2e = _mm256_set1_pd(1.4426950408889634);
    const __m256d ln2 = _mm256_set1_pd(0.6931471805599453), one = _mm256_set1_pd(1.0);
    const __m256d sqrt_half = _mm256_set1_pd(0.7071067811865476);
    const __m256d emagic = _mm256_set1_pd(4503599627370496.0 + 1022.0);
    const __m256i mant = _mm256_set1_epi64x(0x000fffffffffffffLL), half_exp = _mm256_set1_epi64x(0x3feLL << 52);
    const __m256i bias = _mm256_set1_epi64x(1023), emagic_bits = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d wlo = _mm256_set1_pd(1.0 - PMATH_SP_WIDEN), whi = _mm256_set1_pd(1.0 + PMATH_SP_WIDEN);
    __m128 ok = _mm_and_ps(_mm_cmpge_ps(xf, _mm_set1_ps(PMATH_SP_LO)), _mm_cmple_ps(xf, _mm_set1_ps(PMATH_SP_HI)));
    __m256d x = _mm256_cvtps_pd(_mm_and_ps(xf, ok)); /* lanes without bounds compute on 0 */
    __m256d kd = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(x, l2e), shift), shift);
    __m256d r = _mm256_sub_pd(x, _mm256_mul_pd(kd, ln2));
    __m256d p = _mm256_add_pd(_mm256_set1_pd(1.0 / 720), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 5040)));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 120), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 24), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 6), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 2), _mm256_mul_pd(r, p));
    p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
    p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
    __m256i k64 = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(kd));
    __m256d two_k = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k64, bias), 52));
    __m256d w = _mm256_add_pd(one, _mm256_mul_pd(p, two_k));
    __m256i wb = _mm256_castpd_si256(w);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(wb, 52), emagic_bits)), emagic);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(wb, mant), half_exp));
    __m256d lt = _mm256_cmp_pd(m, sqrt_half, _CMP_LT_OQ);
    m = _mm256_blendv_pd(m, _mm256_add_pd(m, m), lt);
    e = _mm256_blendv_pd(e, _mm256_sub_pd(e, one), lt);
    __m256d sv = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    __m256d s2 = _mm256_mul_pd(sv, sv);
    __m256d q = _mm256_add_pd(_mm256_set1_pd(1.0 / 7), _mm256_mul_pd(s2, _mm256_set1_pd(1.0 / 9)));
    q = _mm256_add_pd(_mm256_set1_pd(1.0 / 5), _mm256_mul_pd(s2, q));
    q = _mm256_add_pd(_mm256_set1_pd(1.0 / 3), _mm256_mul_pd(s2, q));
    q = _mm256_add_pd(one, _mm256_mul_pd(s2, q));
    __m256d lg = _mm256_mul_pd(_mm256_add_pd(sv, sv), q);
    __m256d av = _mm256_add_pd(_mm256_mul_pd(e, ln2), lg);
    __m128 nan = _mm_set1_ps(NAN);
    *lo = _mm_blendv_ps(nan, _mm256_cvtpd_ps(_mm256_mul_pd(av, wlo)), ok);
    *hi = _mm_blendv_ps(nan, _mm256_cvtpd_ps(_mm256_mul_pd(av, whi)), ok);
}

__attribute__((target("avx2"))) static void softplus_bounds_avx2(const float *u, long n, float *lo,
                                                                  float *hi) {
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 a, b;
        sp_bounds4(_mm_loadu_ps(u + i), &a, &b);
        _mm_storeu_ps(lo + i, a);
        _mm_storeu_ps(hi + i, b);
    }
    _mm256_zeroupper(); /* before the scalar tail and the SSE code after (see host/ops/adam.c) */
    softplus_bounds_scalar(u + i, n - i, lo + i, hi + i);
}

/* Noisy-logit bounds of n elements: pmath_softplus_bounds then pmath_noisy_logit_bounds, the
 * latter's float operations per lane (a = l + eps lo, b = l + eps hi; min/max as its a < b
 * tests: minps(a, b) = a < b ? a : b, maxps(b, a) = b > a ? b : a; NaN for both where a or b
 * is not finite). */
__attribute__((target("avx2"))) static void route_zbounds_avx2(const float *l, const float *u,
                                                                const float *eps, long n, float *zl,
                                                                float *zh) {
    long i = 0;
    const __m128 zero = _mm_setzero_ps(), nan = _mm_set1_ps(NAN);
    for (; i + 8 <= n; i += 8) { /* two independent chains per iteration */
        __m128 lo[2], hi[2];
        sp_bounds4(_mm_loadu_ps(u + i), &lo[0], &hi[0]);
        sp_bounds4(_mm_loadu_ps(u + i + 4), &lo[1], &hi[1]);
        for (int h = 0; h < 2; h++) {
            __m128 lv = _mm_loadu_ps(l + i + 4 * h), ev = _mm_loadu_ps(eps + i + 4 * h);
            __m128 a = _mm_add_ps(lv, _mm_mul_ps(ev, lo[h])), b = _mm_add_ps(lv, _mm_mul_ps(ev, hi[h]));
            __m128 fin = _mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(a, a), zero), _mm_cmpeq_ps(_mm_sub_ps(b, b), zero));
            _mm_storeu_ps(zl + i + 4 * h, _mm_blendv_ps(nan, _mm_min_ps(a, b), fin));
            _mm_storeu_ps(zh + i + 4 * h, _mm_blendv_ps(nan, _mm_max_ps(b, a), fin));
        }
    }
    for (; i + 4 <= n; i += 4) {
        __m128 lo, hi;
        sp_bounds4(_mm_loadu_ps(u + i), &lo, &hi);
        __m128 lv = _mm_loadu_ps(l + i), ev = _mm_loadu_ps(eps + i);
        __m128 a = _mm_add_ps(lv, _mm_mul_ps(ev, lo)), b = _mm_add_ps(lv, _mm_mul_ps(ev, hi));
        __m128 fin = _mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(a, a), zero), _mm_cmpeq_ps(_mm_sub_ps(b, b), zero));
        _mm_storeu_ps(zl + i, _mm_blendv_ps(nan, _mm_min_ps(a, b), fin));
        _mm_storeu_ps(zh + i, _mm_blendv_ps(nan, _mm_max_ps(b, a), fin));
    }
    _mm256_zeroupper();
    for (; i < n; i++) {
        float lo, hi;
        if (!pmath_softplus_bounds(u[i], &lo, &hi)) lo = hi = NAN;
        pmath_noisy_logit_bounds(l[i], eps[i], lo, hi, &zl[i], &zh[i]);
    }
}
#endif

void cpu_rowops_softplus_bounds(const float *u, long n, float *lo, float *hi, int simd) {
#if CPU_ROWOPS_HAVE_AVX2
    if (simd && cpu_rowops_avx2()) {
        softplus_bounds_avx2(u, n, lo, hi);
        return;
    }
#endif
    (void)simd;
    softplus_bounds_scalar(u, n, lo, hi);
}

/* Noisy-logit bounds [zl, zh] of n elements (the scalar formulas, or their AVX2 form). */
void cpu_rowops_route_zbounds(const float *l, const float *u, const float *eps, long n, float *zl, float *zh) {
#if CPU_ROWOPS_HAVE_AVX2
    if (cpu_rowops_avx2()) {
        route_zbounds_avx2(l, u, eps, n, zl, zh);
        return;
    }
#endif
    for (long i = 0; i < n; i++) {
        float lo, hi;
        if (!pmath_softplus_bounds(u[i], &lo, &hi)) lo = hi = NAN;
        pmath_noisy_logit_bounds(l[i], eps[i], lo, hi, &zl[i], &zh[i]);
    }
}

