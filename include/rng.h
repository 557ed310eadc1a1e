/* rng.h: the host random streams (environment delay noise and trace picks, minibatch
 * shuffles, initial qualities). xoshiro256** seeded through splitmix64 from
 * (seed, purpose, index), so every environment and every run has its own stream and results
 * do not depend on how many environments, runs or threads there are. Gaussian numbers for the networks come from Philox instead (pmath_rand.h),
 * because they must be the same on the CPU and the GPU. */
#ifndef PAMOE_RNG_H
#define PAMOE_RNG_H
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Purposes keep streams of one seed apart. */
enum {
    RNG_ENV = 1,     /* delay noise, trace and offset picks of one environment */
    RNG_QUALITY = 2, /* random initial quality at reset (Python's `random` in the reference) */
    RNG_SHUFFLE = 3, /* minibatch permutations of one run */
    RNG_EVAL = 4,    /* evaluation sessions */
    RNG_GEN = 5,     /* synthetic trace generator */
    RNG_ACTION = 6,  /* action sampling in the rollout */
    RNG_INIT = 7     /* network initialisation; index = NetRole (0 policy, 1 value) */
};

static inline uint64_t rng_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void rng_seed(Rng *r, uint64_t seed, uint64_t purpose, uint64_t index) {
    uint64_t x = seed;
    uint64_t h = rng_splitmix64(&x);
    x = h ^ (purpose * 0xD1B54A32D192ED03ull);
    h = rng_splitmix64(&x);
    x = h ^ (index * 0xA0761D6478BD642Full);
    for (int i = 0; i < 4; i++) r->s[i] = rng_splitmix64(&x);
}

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rng_rotl(s[3], 45);
    return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [lo, hi) (hi exclusive, as numpy's randint). Unbiased (rejection). */
static inline int64_t rng_randint(Rng *r, int64_t lo, int64_t hi) {
    uint64_t range = (uint64_t)(hi - lo);
    if (range <= 1) return lo;
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t x;
    do x = rng_next(r); while (x >= limit);
    return lo + (int64_t)(x % range);
}

/* Fisher-Yates shuffle of idx[0..n). */
static inline void rng_shuffle(Rng *r, int *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_randint(r, 0, i + 1);
        int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
}
#endif
