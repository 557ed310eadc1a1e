/* pmath_rand.h: Philox4x32-10 and Box-Muller exactly as cuRAND's host generator lays them out,
 * compiled as C11 and as CUDA, so the CPU loop (host/rand/prand.c) and a CUDA kernel (one thread per
 * pair or quad) draw the same numbers for the same (seed, offset).
 *
 * What cuRAND does (measured against curandCreateGeneratorHost(CURAND_RNG_PSEUDO_PHILOX4_32_10),
 * CUDA 13; docs/opt.md has the test): the generator's output is one fixed sequence S[i] per
 * seed, and SetGeneratorOffset(o) + Generate(n) returns S[o .. o+n), after which the offset is
 * o+n. S is produced by 65536 Philox streams interleaved by quads:
 *     quad q = i / 4 comes from subsequence q % 65536 at counter position q / 65536, i.e.
 *     ctr = (x = (q >> 16) low 32, y = (q >> 16) high 32, z = q & 65535, w = 0),
 *     key = (seed low 32, seed high 32), output word i % 4 of Philox4x32-10(ctr, key).
 * Uniform: u = x * 2^-32 + 2^-33 in float (never 0, may round to 1). Normal pairs (even
 * offset): Box-Muller on (S[2j], S[2j+1]) -> (sin(v) s, cos(v) s), s = sqrt(-2 log u).
 * Host orderings DEFAULT, BEST and LEGACY give this same layout (SEEDED and DYNAMIC are
 * refused for Philox); a device generator should be set to CURAND_ORDERING_PSEUDO_LEGACY.
 * The host generator uses libm sinf/cosf/logf: we match it bit for bit on the same libm.
 * cuRAND's device generator uses __sincosf instead (curand_normal.h), which is not what
 * we use on the device: a CUDA kernel calling these functions uses pmath_libm.h's port of
 * glibc's logf / sincosf (x86-64 FMA variants), so it draws the very bits of the CPU on an
 * x86-64 host with FMA (where the host code calls glibc, or the same port vectorised:
 * host/rand/prand_avx2.c), and the products below are forced to round-to-nearest so nvcc's
 * default FMA contraction does not change them. */
#ifndef PAMOE_PMATH_RAND_H
#define PAMOE_PMATH_RAND_H
#include <stdint.h>
#include <math.h>
#include "pmath.h"
#include "pmath_libm.h"

#define PMATH_PHILOX_W0 0x9E3779B9u
#define PMATH_PHILOX_W1 0xBB67AE85u
#define PMATH_PHILOX_M0 0xD2511F53u
#define PMATH_PHILOX_M1 0xCD9E8D57u
/* cuRAND's constants (curand_globals.h), spelled the same way so they round the same way. */
#define PMATH_2POW32_INV (2.3283064e-10f)
#define PMATH_2POW32_INV_2PI (2.3283064e-10f * 6.2831855f)
/* cuRAND's host generator interleaves this many Philox subsequences. */
#define PMATH_PHILOX_STREAMS_LOG2 16

typedef struct {
    uint32_t x, y, z, w;
} PmathU4;

/* a*b and a+b rounded once each: nvcc would otherwise fuse x*c + d into an FMA on the device. */
PMATH_HD float pmath_mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

PMATH_HD float pmath_add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

PMATH_HD PmathU4 pmath_philox_round(PmathU4 c, uint32_t k0, uint32_t k1) {
    uint64_t p0 = (uint64_t)PMATH_PHILOX_M0 * c.x;
    uint64_t p1 = (uint64_t)PMATH_PHILOX_M1 * c.z;
    PmathU4 r;
    r.x = (uint32_t)(p1 >> 32) ^ c.y ^ k0;
    r.y = (uint32_t)p1;
    r.z = (uint32_t)(p0 >> 32) ^ c.w ^ k1;
    r.w = (uint32_t)p0;
    return r;
}

/* Philox4x32-10 (Salmon et al. 2011), the same rounds and key schedule as cuRAND. */
PMATH_HD PmathU4 pmath_philox4x32_10(PmathU4 c, uint32_t k0, uint32_t k1) {
    for (int i = 0; i < 10; i++) {
        if (i > 0) {
            k0 += PMATH_PHILOX_W0;
            k1 += PMATH_PHILOX_W1;
        }
        c = pmath_philox_round(c, k0, k1);
    }
    return c;
}

/* PMATH_PHILOX_LANES quads at once, struct-of-arrays: the very rounds of pmath_philox4x32_10,
 * laid out so the CPU's loop over lanes vectorises (SSE2 pmuludq: 32x32 -> 64 products). */
#define PMATH_PHILOX_LANES 8
typedef struct {
    uint32_t x[PMATH_PHILOX_LANES], y[PMATH_PHILOX_LANES], z[PMATH_PHILOX_LANES], w[PMATH_PHILOX_LANES];
} PmathU4Lanes;

PMATH_VEC PMATH_HD void pmath_philox4x32_10_lanes(PmathU4Lanes *c, uint32_t k0, uint32_t k1) {
    for (int i = 0; i < 10; i++) {
        if (i > 0) {
            k0 += PMATH_PHILOX_W0;
            k1 += PMATH_PHILOX_W1;
        }
        for (int j = 0; j < PMATH_PHILOX_LANES; j++) {
            uint64_t p0 = (uint64_t)PMATH_PHILOX_M0 * c->x[j];
            uint64_t p1 = (uint64_t)PMATH_PHILOX_M1 * c->z[j];
            uint32_t nx = (uint32_t)(p1 >> 32) ^ c->y[j] ^ k0;
            uint32_t nz = (uint32_t)(p0 >> 32) ^ c->w[j] ^ k1;
            c->y[j] = (uint32_t)p1;
            c->w[j] = (uint32_t)p0;
            c->x[j] = nx;
            c->z[j] = nz;
        }
    }
}

/* Quads q0 .. q0 + PMATH_PHILOX_LANES - 1 of the sequence for `seed` (as pmath_rand_quad). */
PMATH_VEC PMATH_HD void pmath_rand_quad_lanes(uint64_t seed, uint64_t q0, PmathU4Lanes *o) {
    for (int j = 0; j < PMATH_PHILOX_LANES; j++) {
        uint64_t q = q0 + (uint64_t)j, pos = q >> PMATH_PHILOX_STREAMS_LOG2;
        o->x[j] = (uint32_t)pos;
        o->y[j] = (uint32_t)(pos >> 32);
        o->z[j] = (uint32_t)(q & ((1u << PMATH_PHILOX_STREAMS_LOG2) - 1u));
        o->w[j] = 0;
    }
    pmath_philox4x32_10_lanes(o, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Quad q of the cuRAND host-generator sequence for `seed` (elements 4q .. 4q+3). */
PMATH_HD PmathU4 pmath_rand_quad(uint64_t seed, uint64_t q) {
    uint64_t pos = q >> PMATH_PHILOX_STREAMS_LOG2;
    PmathU4 c;
    c.x = (uint32_t)pos;
    c.y = (uint32_t)(pos >> 32);
    c.z = (uint32_t)(q & ((1u << PMATH_PHILOX_STREAMS_LOG2) - 1u));
    c.w = 0;
    return pmath_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

PMATH_HD uint32_t pmath_quad_word(PmathU4 o, unsigned k) {
    return k == 0 ? o.x : k == 1 ? o.y : k == 2 ? o.z : o.w;
}

/* Element i of the sequence (curandGenerate at offset i, first value). */
PMATH_HD uint32_t pmath_rand_u32(uint64_t seed, uint64_t i) {
    return pmath_quad_word(pmath_rand_quad(seed, i >> 2), (unsigned)(i & 3));
}

/* curandGenerateUniform's mapping of one 32-bit word: (0, 1], never 0. */
PMATH_HD float pmath_u32_to_uniform(uint32_t x) {
    return pmath_add_rn(pmath_mul_rn((float)x, PMATH_2POW32_INV), PMATH_2POW32_INV / 2.0f);
}

/* (float)x for a 32-bit unsigned word, correctly rounded: both halves convert exactly and the
 * one addition rounds once, so this is the plain conversion; written with signed conversions
 * so the CPU's loops over words vectorise (SSE2 has no unsigned conversion). */
PMATH_VEC PMATH_HD float pmath_u32_to_float(uint32_t x) {
    return pmath_add_rn(pmath_mul_rn((float)(int32_t)(x >> 16), 65536.0f), (float)(int32_t)(x & 0xFFFFu));
}

/* Box-Muller in three parts around the libm calls, so the CPU can run the arithmetic as
 * vectorised passes (host/rand/prand.c): the uniforms u (radius) and v (angle) of a pair of words, */
PMATH_VEC PMATH_HD void pmath_box_muller_uv(uint32_t x, uint32_t y, float *u, float *v) {
    *u = pmath_add_rn(pmath_mul_rn(pmath_u32_to_float(x), PMATH_2POW32_INV), PMATH_2POW32_INV / 2.0f);
    *v = pmath_add_rn(pmath_mul_rn(pmath_u32_to_float(y), PMATH_2POW32_INV_2PI), PMATH_2POW32_INV_2PI / 2.0f);
}

/* the radius argument -2 log u (s = its square root), */
PMATH_VEC PMATH_HD float pmath_box_muller_r2(float log_u) { return pmath_mul_rn(-2.0f, log_u); }

/* and the pair (sin(v) s, cos(v) s). */
PMATH_VEC PMATH_HD void pmath_box_muller_out(float sin_v, float cos_v, float s, float *n0, float *n1) {
    *n0 = pmath_mul_rn(sin_v, s);
    *n1 = pmath_mul_rn(cos_v, s);
}

/* Box-Muller of one pair of words, as cuRAND's host path (_curand_box_muller), with libm's
 * logf and sinf/cosf: what cuRAND's host generator computes on this machine. */
PMATH_HD void pmath_box_muller_libm(uint32_t x, uint32_t y, float *n0, float *n1) {
    float u, v;
    pmath_box_muller_uv(x, y, &u, &v);
    float s = sqrtf(pmath_box_muller_r2(logf(u)));
    pmath_box_muller_out(sinf(v), cosf(v), s, n0, n1);
}

/* The same with glibc's logf / sincosf ported (pmath_libm.h): equal to the libm form on an
 * x86-64 glibc with FMA (tests/test_libm_port.c checks every input), anywhere. */
PMATH_HD void pmath_box_muller_port(uint32_t x, uint32_t y, float *n0, float *n1) {
    float u, v, sn, cs;
    pmath_box_muller_uv(x, y, &u, &v);
    float s = sqrtf(pmath_box_muller_r2(pmath_logf(u)));
    pmath_sincosf(v, &sn, &cs);
    pmath_box_muller_out(sn, cs, s, n0, n1);
}

/* The device uses the port (CUDA's own logf / sinf differ by up to 2 ulp); the host keeps
 * libm, which is the reference on any CPU (glibc picks its non-FMA variants where the CPU has
 * no FMA, and those the port does not reproduce). */
PMATH_HD void pmath_box_muller(uint32_t x, uint32_t y, float *n0, float *n1) {
#ifdef __CUDA_ARCH__
    pmath_box_muller_port(x, y, n0, n1);
#else
    pmath_box_muller_libm(x, y, n0, n1);
#endif
}

/* Normals at elements i and i+1 (i even): what curandGenerateNormal(mean 0, std 1) returns at
 * positions i - offset and i + 1 - offset for an even offset. A pair never straddles a quad. */
PMATH_HD void pmath_rand_normal2(uint64_t seed, uint64_t i, float *n0, float *n1) {
    PmathU4 o = pmath_rand_quad(seed, i >> 2);
    if (i & 2) pmath_box_muller(o.z, o.w, n0, n1);
    else pmath_box_muller(o.x, o.y, n0, n1);
}
#endif
