/* adam.c: the CPU Adam step over a ParamBlock; the reference for the CUDA kernel, which calls
 * the same pmath_adam_elem with the coefficients adam_prepare computes. */
#include "adam.h"

#include <math.h>
#ifdef __SSE__
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

void adam_config_default(AdamConfig *cfg) {
    cfg->beta1 = 0.99f;
    cfg->beta2 = 0.99f;
    cfg->eps = 1e-5f;
    cfg->weight_decay = 1e-4f;
    cfg->decoupled = 0;
    cfg->no_router_decay = 0;
}

int adam_tensor_active(const ParamBlock *pb, int r, int t) {
    return pb->tensors[t].role != TENSOR_UNUSED && pb->h_took_part[(long)r * pb->n_tensors + t];
}

int adam_prepare(const AdamConfig *cfg, ParamBlock *pb, const float *lr, PmathAdamCoef *coef,
                 uint8_t *active) {
    int n_active = 0;
    double memo_step = -1.0, memo_bc1 = 0.0, memo_bc2 = 0.0;
    for (int r = 0; r < pb->R; r++) {
        for (int t = 0; t < pb->n_tensors; t++) {
            long k = (long)r * pb->n_tensors + t;
            PmathAdamCoef *c = &coef[k];
            c->one_minus_b1 = (float)(1.0 - (double)cfg->beta1);
            c->beta2 = cfg->beta2;
            c->one_minus_b2 = (float)(1.0 - (double)cfg->beta2);
            c->eps = cfg->eps;
            c->wd = 0.0f;
            c->decay_mul = 1.0f;
            c->neg_step_size = 0.0f;
            c->bc2_sqrt = 1.0f;
            active[k] = (uint8_t)adam_tensor_active(pb, r, t);
            if (!active[k]) continue;
            n_active++;
            /* Python computes the step scalars in double from the tensor's own count. */
            double step = (double)++pb->h_adam_step[k];
            if (step != memo_step) { /* tensors mostly share a step count: one pow pair each */
                memo_step = step;
                memo_bc1 = 1.0 - pow((double)cfg->beta1, step);
                memo_bc2 = 1.0 - pow((double)cfg->beta2, step);
            }
            double bc1 = memo_bc1, bc2 = memo_bc2;
            c->neg_step_size = (float)(-(double)lr[r] / bc1);
            c->bc2_sqrt = (float)sqrt(bc2);
            double wd = cfg->no_router_decay && pb->tensors[t].role == TENSOR_ROUTER ? 0.0 : (double)cfg->weight_decay;
            if (cfg->decoupled) c->decay_mul = (float)(1.0 - (double)lr[r] * wd);
            else c->wd = (float)wd;
        }
    }
    return n_active;
}

/* One tensor's elements in three vectorised passes per chunk (the Adam loop is a large share of
 * the CPU update): moments, sqrt, update. gcc never vectorises sqrtf without -fno-math-errno
 * on the command line (an optimize attribute does not reach the builtin), so the sqrt pass is
 * SSE's sqrtps; PMATH_VEC (pmath.h) turns the vectoriser on for the other two. Vector
 * add/mul/div/sqrt round as the scalar ones: the bytes equal pmath_adam_elem's. */
PMATH_VEC static void adam_apply_range_sse(float *restrict theta, float *restrict m, float *restrict v,
                                           const float *restrict g, long n, const PmathAdamCoef *cp) {
    enum { CHUNK = 512 };
    float s[CHUNK];
    PmathAdamCoef c = *cp;
    for (long i0 = 0; i0 < n; i0 += CHUNK) {
        long len = n - i0 < CHUNK ? n - i0 : CHUNK;
        float *restrict th = theta + i0, *restrict mm = m + i0, *restrict vv = v + i0;
        const float *restrict gg = g + i0;
        for (long i = 0; i < len; i++) pmath_adam_moments(&th[i], &mm[i], &vv[i], gg[i], &c);
        long i = 0;
#ifdef __SSE__
        for (; i + 4 <= len; i += 4) _mm_storeu_ps(s + i, _mm_sqrt_ps(_mm_loadu_ps(vv + i)));
#endif
        for (; i < len; i++) s[i] = sqrtf(vv[i]);
        for (long i = 0; i < len; i++) pmath_adam_update(&th[i], mm[i], s[i], &c);
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ADAM_HAVE_AVX2 1
/* The same step in one pass, 8 lanes: each element's operations are pmath_adam_moments then
 * pmath_adam_update in their order (p = theta*decay; g += wd*p; m += (1-b1)(g - m);
 * v = v*b2 + ((1-b2) g) g; theta = p + (nss m) / (sqrt(v)/bc2 + eps)), each one IEEE
 * mul/add/sub/div/sqrt in its own instruction: no FMA (the target is "avx2" only, and
 * -std=c11 keeps contraction off), so every lane rounds as the scalar code. The tail (n % 8)
 * is pmath_adam_elem itself. Chosen at run time (cpu_has_avx2), never by -march flags. */
/* The whole vectors of the range (returns how many elements they cover); div_bc2 = 0 leaves
 * out the division by bc2_sqrt, exact only when it is 1. Inlined with a constant div_bc2: two
 * loops without a test inside. */
__attribute__((target("avx2"), always_inline)) static inline long adam_avx2_vectors(float *theta, float *m, float *v,
                                                                                     const float *g, long n,
                                                                                     const PmathAdamCoef *cp,
                                                                                     int div_bc2) {
    const __m256 decay = _mm256_set1_ps(cp->decay_mul), wd = _mm256_set1_ps(cp->wd);
    const __m256 omb1 = _mm256_set1_ps(cp->one_minus_b1), b2 = _mm256_set1_ps(cp->beta2);
    const __m256 omb2 = _mm256_set1_ps(cp->one_minus_b2), eps = _mm256_set1_ps(cp->eps);
    const __m256 bc2 = _mm256_set1_ps(cp->bc2_sqrt), nss = _mm256_set1_ps(cp->neg_step_size);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(theta + i), decay);
        __m256 gr = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(wd, p));
        __m256 mo = _mm256_loadu_ps(m + i);
        mo = _mm256_add_ps(mo, _mm256_mul_ps(omb1, _mm256_sub_ps(gr, mo)));
        __m256 vo = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2),
                                  _mm256_mul_ps(_mm256_mul_ps(omb2, gr), gr));
        __m256 sq = _mm256_sqrt_ps(vo);
        if (div_bc2) sq = _mm256_div_ps(sq, bc2);
        __m256 denom = _mm256_add_ps(sq, eps);
        p = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(nss, mo), denom));
        _mm256_storeu_ps(m + i, mo);
        _mm256_storeu_ps(v + i, vo);
        _mm256_storeu_ps(theta + i, p);
    }
    return i;
}

__attribute__((target("avx2"))) static void adam_apply_range_avx2(float *theta, float *m, float *v,
                                                                   const float *g, long n,
                                                                   const PmathAdamCoef *cp) {
    /* From step ~1650 on, sqrt(1 - b2^t) rounds to 1.0f; sqrt(v) / 1 == sqrt(v) exactly, so the
     * division (a third of this loop's divider time) is left out then. */
    long i = cp->bc2_sqrt == 1.0f ? adam_avx2_vectors(theta, m, v, g, n, cp, 0)
                                  : adam_avx2_vectors(theta, m, v, g, n, cp, 1);
    /* clean upper halves before the SSE code that follows: gcc omits the vzeroupper on the
     * path through the tail's calls, and dirty uppers made the next SSE-heavy code (the
     * expert noise) twice as slow (measured) */
    _mm256_zeroupper();
    for (; i < n; i++) pmath_adam_elem(theta + i, m + i, v + i, g[i], cp);
}

#else
#define ADAM_HAVE_AVX2 0
#endif

void adam_apply_range(float *theta, float *m, float *v, const float *g, long n,
                      const PmathAdamCoef *c, int simd) {
#if ADAM_HAVE_AVX2
    if (simd && cpu_has_avx2()) {
        adam_apply_range_avx2(theta, m, v, g, n, c);
        return;
    }
#endif
    if (simd) adam_apply_range_sse(theta, m, v, g, n, c);
    else
        for (long i = 0; i < n; i++) pmath_adam_elem(theta + i, m + i, v + i, g[i], c);
}

/* Adjacent active tensors with the same coefficients (the usual case: one step count, one
 * decay) are one range: the element formula does not depend on the grouping, and the small
 * tensors (biases of 18, 6, 3, 1) do not run alone through the scalar tail. */
static void adam_apply_run(ParamBlock *pb, const PmathAdamCoef *coef, const uint8_t *active, int r) {
    for (int t = 0; t < pb->n_tensors;) {
        long k = (long)r * pb->n_tensors + t;
        if (!active[k]) {
            t++;
            continue;
        }
        long off = pb->tensors[t].offset, end = off + param_tensor_size(&pb->tensors[t]);
        int u = t + 1;
        for (; u < pb->n_tensors; u++) {
            long ku = (long)r * pb->n_tensors + u;
            if (!active[ku] || pb->tensors[u].offset != end || memcmp(&coef[ku], &coef[k], sizeof coef[k])) break;
            end += param_tensor_size(&pb->tensors[u]);
        }
        long base = (long)r * pb->P + off;
        adam_apply_range(pb->params + base, pb->adam_m + base, pb->adam_v + base, pb->grads + base,
                         end - off, &coef[k], 1);
        t = u;
    }
}

void adam_apply(ParamBlock *pb, const PmathAdamCoef *coef, const uint8_t *active) {
    /* threads split runs only, and only for enough work (results do not depend on the count);
     * no OpenMP region at all otherwise: one with a false if() still builds a team (malloc,
     * free, a barrier), twice per minibatch on the R = 1 update */
    if (pb->R >= 2 && (long)pb->R * pb->P >= (1L << 16)) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < pb->R; r++) adam_apply_run(pb, coef, active, r);
    } else {
        for (int r = 0; r < pb->R; r++) adam_apply_run(pb, coef, active, r);
    }
}

void adam_step(const AdamConfig *cfg, ParamBlock *pb, const float *lr) {
    /* small: R * n_tensors entries; kept off the heap for the common sizes */
    enum { STACK = 64 * PARAMS_MAX_TENSORS };
    PmathAdamCoef coef_stack[STACK];
    uint8_t active_stack[STACK];
    long n = (long)pb->R * pb->n_tensors;
    PmathAdamCoef *coef = n <= STACK ? coef_stack : xmalloc((size_t)n * sizeof *coef);
    uint8_t *active = n <= STACK ? active_stack : xmalloc((size_t)n);
    adam_prepare(cfg, pb, lr, coef, active);
    adam_apply(pb, coef, active);
    if (coef != coef_stack) free(coef);
    if (active != active_stack) free(active);
}
