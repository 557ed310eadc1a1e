/* prand.h: Gaussian and uniform numbers from counter-based Philox streams (include/pmath/pmath_rand.h),
 * identical to cuRAND's Philox host generator for the same (seed, offset). A stream is a key and
 * the index of its next element; drawing n numbers reads elements [offset, offset + n) and moves
 * the offset, so a checkpoint that records (seed, offset) resumes the exact sequence, and a run's
 * numbers depend only on its own seed (not on how many runs are batched). */
#ifndef PAMOE_PRAND_H
#define PAMOE_PRAND_H
#include <stdint.h>

typedef struct PrandStream {
    uint64_t seed;   /* Philox key (cuRAND: curandSetPseudoRandomGeneratorSeed) */
    uint64_t offset; /* next element (cuRAND: curandSetGeneratorOffset); kept even */
} PrandStream;

/* Purposes keep the Philox streams of one run seed apart. */
enum {
    PRAND_EXPERT_NOISE = 1, /* PA-MoE parameter noise of the policy network */
    PRAND_EXPERT_NOISE_VALUE = 2, /* ... of the value network */
    PRAND_ROUTER_NOISE = 3  /* noisy top-k router noise */
};

/* Key for (run seed, purpose, index), via splitmix64 as rng.h, so nearby seeds do not give
 * related keys. */
uint64_t prand_derive_seed(uint64_t run_seed, uint64_t purpose, uint64_t index);

/* out[k] = normal at element offset + k, k < n. offset must be even (cuRAND pairs Box-Muller
 * outputs from even positions); an odd n draws the last pair and drops its second value. */
void prand_normal(uint64_t seed, uint64_t offset, float *out, long n);
/* The same numbers from the scalar loop around libm's logf / sincosf (what prand_normal runs
 * on a CPU without AVX2 + FMA, or with PAMOE_NO_AVX2 set: cpu_features.h); prand_normal's vector
 * path is checked against it. */
void prand_normal_libm(uint64_t seed, uint64_t offset, float *out, long n);

/* How prand_normal computes: all paths give the same bits (tests/test_rand.c,
 * tests/test_libm_port.c); the vector ones need the CPU features they are named after. */
typedef enum { PRAND_PATH_LIBM = 0, PRAND_PATH_AVX2 = 1, PRAND_PATH_AVX512 = 2 } PrandPath;
int prand_path_supported(PrandPath path);
/* the fastest supported path (what prand_normal uses) */
PrandPath prand_best_path(void);
/* prand_normal through a given path (dies when the CPU lacks it) */
void prand_normal_path(PrandPath path, uint64_t seed, uint64_t offset, float *out, long n);
/* out[k] = uniform in (0, 1] at element offset + k (curandGenerateUniform). */
void prand_uniform(uint64_t seed, uint64_t offset, float *out, long n);

/* Fills out (R, n) row r from stream r, then advances each offset by n rounded up to even. */
void prand_normal_runs(int R, PrandStream *streams, float *out, long n);
/* Elements a draw of n normals consumes (n rounded up to even). */
static inline uint64_t prand_normal_advance(long n) { return (uint64_t)(n + (n & 1)); }
#endif
