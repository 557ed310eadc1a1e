/* cpu_features.c: the run-time CPU feature checks (include/cpu_features.h). One cached bit set:
 * libgcc's cpu model is cheap to ask, getenv is not (it walks the environment), and the
 * answers are asked on hot paths (every Adam range, every bias_act call). */
#include "cpu_features.h"

#include <stdatomic.h>
#include <stdlib.h>

enum {
    FEAT_AVX2 = 1,
    FEAT_AVX2_FMA = 2,
    FEAT_AVX512 = 4,
    FEAT_HW_AVX2_FMA = 8,
    FEAT_KNOWN = 16 /* the set has been computed */
};

static int env_on(const char *name) {
    const char *s = getenv(name);
    return s && s[0] && !(s[0] == '0' && s[1] == 0);
}

static int features_compute(void) {
    int f = FEAT_KNOWN;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2"), fma = __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    if (avx2 && fma) f |= FEAT_HW_AVX2_FMA;
    if (!env_on("PAMOE_NO_AVX2")) {
        if (avx2) f |= FEAT_AVX2;
        if (avx2 && fma) f |= FEAT_AVX2_FMA;
        if (avx2 && fma && avx512 && !env_on("PAMOE_NO_AVX512")) f |= FEAT_AVX512;
    }
#endif
    return f;
}

/* Threads may race to fill the cache: each computes the same value, so the relaxed store of
 * either is right. */
static int features(void) {
    static atomic_int cache;
    int f = atomic_load_explicit(&cache, memory_order_relaxed);
    if (!f) {
        f = features_compute();
        atomic_store_explicit(&cache, f, memory_order_relaxed);
    }
    return f;
}

int cpu_has_avx2(void) { return (features() & FEAT_AVX2) != 0; }
int cpu_has_avx2_fma(void) { return (features() & FEAT_AVX2_FMA) != 0; }
int cpu_has_avx512(void) { return (features() & FEAT_AVX512) != 0; }
int cpu_hw_has_avx2_fma(void) { return (features() & FEAT_HW_AVX2_FMA) != 0; }
