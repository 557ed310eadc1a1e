/* bench_normals.c: ns per Philox normal (prand_normal) for the draw sizes of the PA-MoE expert
 * noise (3,672 per network and minibatch in configs/paper.ini) and a long draw, on one thread:
 * the dispatching prand_normal (AVX2 + FMA blocks where the CPU has them), the scalar libm loop
 * (prand_normal_libm, the path before), each vector path (0: not on this CPU), and the scalar port of glibc's functions
 * (pmath_box_muller_port per pair, what a CUDA thread runs). Best of 7 repetitions.
 * Usage: build/bench/bench_normals [total normals per repetition, default 4000000] */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "pmath_rand.h"
#include "prand.h"
#include "prand_avx2.h"
#include "numparse.h"

typedef void (*DrawFn)(uint64_t seed, uint64_t offset, float *out, long n);

static void draw_port(uint64_t seed, uint64_t offset, float *out, long n) {
    for (long k = 0; k < n; k += 2) {
        PmathU4 o = pmath_rand_quad(seed, (offset + (uint64_t)k) >> 2);
        float a, b;
        if ((offset + (uint64_t)k) & 2) pmath_box_muller_port(o.z, o.w, &a, &b);
        else pmath_box_muller_port(o.x, o.y, &a, &b);
        out[k] = a;
        if (k + 1 < n) out[k + 1] = b;
    }
}

static void draw_avx2(uint64_t seed, uint64_t offset, float *out, long n) {
    prand_normal_path(PRAND_PATH_AVX2, seed, offset, out, n);
}

static void draw_avx512(uint64_t seed, uint64_t offset, float *out, long n) {
    prand_normal_path(PRAND_PATH_AVX512, seed, offset, out, n);
}

/* ns per normal: `total` normals in draws of n, offsets moving on as the trainer's do */
static double time_draws(DrawFn f, long n, long total, float *buf) {
    double best = 1e30;
    volatile float sink = 0;
    for (int rep = 0; rep < 7; rep++) {
        uint64_t off = 0;
        double t0 = now_seconds();
        for (long done = 0; done < total; done += n) {
            f(12345, off, buf, n);
            off += (uint64_t)(n + (n & 1));
            sink += buf[n / 2];
        }
        double t = (now_seconds() - t0) / (double)total * 1e9;
        if (t < best) best = t;
    }
    (void)sink;
    return best;
}

int main(int argc, char **argv) {
    long long arg = 4000000;
    if (argc > 1 && (pm_parse_ll(argv[1], &arg) || arg < 1 || arg > 1000000000000LL)) {
        fprintf(stderr, "usage: bench_normals [count]: '%s' is not a positive integer\n", argv[1]);
        return 2;
    }
    long total = (long)arg;
    if (total < 100000) total = 100000;
    const long sizes[] = {3672, 1 << 20};
    float *buf = xmalloc((size_t)(1 << 20) * sizeof(float));
    static const char *names[] = {"libm", "AVX2", "AVX-512"};
    printf("Philox normals, ns per normal (best of 7, one thread); prand_normal uses: %s\n",
           names[prand_best_path()]);
    printf("%10s %12s %12s %12s %12s %12s\n", "draw", "prand_normal", "libm loop", "AVX2", "AVX-512",
           "scalar port");
    for (int i = 0; i < 2; i++) {
        long n = sizes[i];
        double v = time_draws(prand_normal, n, total, buf);
        double l = time_draws(prand_normal_libm, n, total, buf);
        double a2 = prand_path_supported(PRAND_PATH_AVX2) ? time_draws(draw_avx2, n, total, buf) : 0;
        double a5 = prand_path_supported(PRAND_PATH_AVX512) ? time_draws(draw_avx512, n, total, buf) : 0;
        double p = time_draws(draw_port, n, total / 4, buf);
        printf("%10ld %12.3f %12.3f %12.3f %12.3f %12.3f   (prand_normal x%.1f vs libm)\n", n, v, l, a2,
               a5, p, l / v);
    }
    free(buf);
    return 0;
}
