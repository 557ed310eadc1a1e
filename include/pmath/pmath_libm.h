/* pmath_libm.h: logf and sincosf giving glibc 2.36's x86-64 results bit for bit (the FMA
 * variants __logf_fma and __sincosf_fma, which glibc's ifunc picks on a CPU with FMA), as
 * PMATH_HD functions, so the Philox normals (pmath_rand.h) do not depend on a libm call: the
 * CPU's vector block (host/rand/prand_avx2.c) and a CUDA thread compute exactly what cuRAND's host
 * generator gets from glibc.
 *
 * The algorithms are glibc's (from Arm's optimized-routines, MIT licence): logf with a 16-entry
 * table of (1/c, log c) and a degree-4 polynomial in double; sincosf with a one-step reduction
 * by pi/2 (|x| < 120) and degree-4/5 polynomials in double. Written here from the machine code
 * of /lib/x86_64-linux-gnu/libm.so.6 (Debian glibc 2.36), which decides where gcc contracted a
 * product and a sum into one FMA: every fma() below is a vfmadd/vfnmadd there, every plain
 * product a vmulsd/vmulpd. The constants are that library's tables (printed with %a).
 * fma() on double is the exact IEEE operation in C and in CUDA, so these give the same bits on
 * both. Checked for EVERY float input the Box-Muller transform can produce (tests/
 * test_libm_port.c: logf on [2^-33, 1], sincosf on (0, 2 pi]); outside the fast ranges
 * (logf: zero, negative, subnormal, inf, NaN; sincosf: |x| >= 120, inf, NaN) they call the
 * platform's logf / sinf / cosf. */
#ifndef PAMOE_PMATH_LIBM_H
#define PAMOE_PMATH_LIBM_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pmath.h"

/* logf: ln 2, the polynomial A0 r^4 + A1 r^3 + A2 r^2 + r for log1p(r), and per subinterval i
 * of [0x3f330000, 2 * 0x3f330000) (16, by the top 4 mantissa bits) 1/c and log c. */
#define PMATH_LOGF_LN2 0x1.62e42fefa39efp-1
#define PMATH_LOGF_A0 (-0x1.00ea348b88334p-2)
#define PMATH_LOGF_A1 0x1.5575b0be00b6ap-2
#define PMATH_LOGF_A2 (-0x1.ffffef20a4123p-2)
#define PMATH_LOGF_OFF 0x3f330000u
/* pairs (invc, logc), so a vector path loads both with one 16-byte load */
#define PMATH_LOGF_TABLE                                                                          \
    {0x1.661ec79f8f3bep+0, -0x1.57bf7808caadep-2}, {0x1.571ed4aaf883dp+0, -0x1.2bef0a7c06ddbp-2},   \
        {0x1.49539f0f010b0p+0, -0x1.01eae7f513a67p-2}, {0x1.3c995b0b80385p+0, -0x1.b31d8a68224e9p-3}, \
        {0x1.30d190c8864a5p+0, -0x1.6574f0ac07758p-3}, {0x1.25e227b0b8ea0p+0, -0x1.1aa2bc79c8100p-3}, \
        {0x1.1bb4a4a1a343fp+0, -0x1.a4e76ce8c0e5ep-4}, {0x1.12358f08ae5bap+0, -0x1.1973c5a611cccp-4}, \
        {0x1.0953f419900a7p+0, -0x1.252f438e10c1ep-5}, {0x1.0000000000000p+0, 0x0.0p+0},             \
        {0x1.e608cfd9a47acp-1, 0x1.aa5aa5df25984p-5}, {0x1.ca4b31f026aa0p-1, 0x1.c5e53aa362eb4p-4},   \
        {0x1.b2036576afce6p-1, 0x1.526e57720db08p-3}, {0x1.9c2d163a1aa2dp-1, 0x1.bc2860d224770p-3},   \
        {0x1.886e6037841edp-1, 0x1.1058bc8a07ee1p-2}, {0x1.767dcf5534862p-1, 0x1.4043057b6ee09p-2}

typedef struct {
    double invc, logc;
} PmathLogfEntry;

/* the host copy; CUDA device code reads its own constant-memory copy */
static const PmathLogfEntry pmath_logf_table[16] = {PMATH_LOGF_TABLE};
#ifdef __CUDACC__
static __constant__ const PmathLogfEntry pmath_logf_table_dev[16] = {PMATH_LOGF_TABLE};
#endif

/* sincosf: 2/pi scaled by 2^24 (the quadrant lands in bits 24..31 of the truncated product),
 * pi/2, and the polynomials: cos ~ C0 + C1 x^2 + C2 x^4 + C3 x^6 + C4 x^8,
 * sin ~ x + S1 x^3 + S2 x^5 + S3 x^7. In quadrants 2 and 3 glibc uses a second table with the
 * C's negated, which gives exactly the negated cosine polynomial (round to nearest is
 * symmetric), and that is how it is written here. */
#define PMATH_SINCOSF_HPI_INV 0x1.45f306dc9c883p+23
#define PMATH_SINCOSF_HPI 0x1.921fb54442d18p+0
#define PMATH_SINCOSF_C0 0x1.0000000000000p+0
#define PMATH_SINCOSF_C1 (-0x1.ffffffd0c621cp-2)
#define PMATH_SINCOSF_C2 0x1.55553e1068f19p-5
#define PMATH_SINCOSF_C3 (-0x1.6c087e89a359dp-10)
#define PMATH_SINCOSF_C4 0x1.99343027bf8c3p-16
#define PMATH_SINCOSF_S1 (-0x1.555545995a603p-3)
#define PMATH_SINCOSF_S2 0x1.1107605230bc4p-7
#define PMATH_SINCOSF_S3 (-0x1.994eb3774cf24p-13)
/* abstop12 (bits 20..30 of the float) thresholds: below 2^-12 sin x = x, cos x = 1; from
 * 0.75 (glibc: abstop12(pi/4)) the reduction; from 120 the large-argument path (libm here). */
#define PMATH_SINCOSF_TOP_TINY 0x398u
#define PMATH_SINCOSF_TOP_REDUCE 0x3f4u
#define PMATH_SINCOSF_TOP_LARGE 0x42fu

PMATH_HD uint32_t pmath_libm_asuint(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

PMATH_HD float pmath_libm_asfloat(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* glibc's logf. */
PMATH_HD float pmath_logf(float x) {
    uint32_t ix = pmath_libm_asuint(x);
    if (ix == 0x3f800000u) return 0.0f;
    /* zero, subnormal, negative, inf, NaN: not reached by Box-Muller (u >= 2^-33) */
    if (ix - 0x00800000u >= 0x7f800000u - 0x00800000u) return logf(x);
    uint32_t tmp = ix - PMATH_LOGF_OFF;
    int i = (int)((tmp >> 19) & 15u);
    int32_t k = (int32_t)tmp >> 23; /* arithmetic shift: x = 2^k z, z in [OFF, 2 OFF) */
    uint32_t iz = ix - (tmp & 0xff800000u);
#ifdef __CUDA_ARCH__
    double invc = pmath_logf_table_dev[i].invc, logc = pmath_logf_table_dev[i].logc;
#else
    double invc = pmath_logf_table[i].invc, logc = pmath_logf_table[i].logc;
#endif
    double z = (double)pmath_libm_asfloat(iz);
    /* log x = log1p(z/c - 1) + log c + k ln 2 */
    double r = fma(z, invc, -1.0);
    double y0 = fma((double)k, PMATH_LOGF_LN2, logc);
    double r2 = r * r;
    double y = fma(r, PMATH_LOGF_A1, PMATH_LOGF_A2);
    y = fma(r2, PMATH_LOGF_A0, y);
    y = fma(r2, y, r + y0);
    return (float)y;
}

/* glibc's sincosf_poly: sin and cos of the reduced x (xs = x with the quadrant's sign,
 * x2 = x * x); `neg_cos` for quadrants 2, 3; `swap` for odd quadrants. */
PMATH_HD void pmath_sincosf_poly(double xs, double x2, int neg_cos, int swap, float *sinp,
                                 float *cosp) {
    double x3 = xs * x2, x4 = x2 * x2;
    double x5 = x3 * x2, x6 = x4 * x2;
    double c1 = fma(x2, PMATH_SINCOSF_C1, PMATH_SINCOSF_C0);
    double s1 = fma(x2, PMATH_SINCOSF_S3, PMATH_SINCOSF_S2);
    double c2 = fma(x2, PMATH_SINCOSF_C4, PMATH_SINCOSF_C3);
    double s = fma(x3, PMATH_SINCOSF_S1, xs);
    double c = fma(x4, PMATH_SINCOSF_C2, c1);
    double sn = fma(x5, s1, s), cs = fma(x6, c2, c);
    if (neg_cos) cs = -cs;
    float fs = (float)sn, fc = (float)cs;
    *sinp = swap ? fc : fs;
    *cosp = swap ? fs : fc;
}

/* glibc's sincosf. */
PMATH_HD void pmath_sincosf(float y, float *sinp, float *cosp) {
    uint32_t top = (pmath_libm_asuint(y) >> 20) & 0x7ffu;
    double x = (double)y;
    if (top < PMATH_SINCOSF_TOP_REDUCE) {
        if (top < PMATH_SINCOSF_TOP_TINY) {
            *sinp = y;
            *cosp = 1.0f;
            return;
        }
        pmath_sincosf_poly(x, x * x, 0, 0, sinp, cosp);
    } else if (top < PMATH_SINCOSF_TOP_LARGE) {
        /* quadrant n = round(x 2/pi), from the truncated x 2/pi 2^24 (no round instruction) */
        int n = ((int32_t)(x * PMATH_SINCOSF_HPI_INV) + 0x800000) >> 24;
        double xr = fma(-(double)n, PMATH_SINCOSF_HPI, x);
        /* glibc's sign table {1, -1, -1, 1}: multiplying by it only flips the sign */
        double xs = ((n + 1) & 2) ? -xr : xr;
        pmath_sincosf_poly(xs, xr * xr, n & 2, n & 1, sinp, cosp);
    } else {
        *sinp = sinf(y);
        *cosp = cosf(y);
    }
}
#endif
