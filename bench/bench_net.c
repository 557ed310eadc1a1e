/* bench_net.c: forward + backward throughput of the PA-MoE policy and value networks on the
 * CPU backend (minibatch 62 samples per run, as the PPO update), for R = 1 and R = 64 runs
 * batched in one call, without and with the optimizer step (Adam on both networks, then the
 * PA-MoE expert noise, as one PPO minibatch update does).
 *
 * Build and run:  make USE_CUDA=0 build/bench/bench_net && build/bench/bench_net
 * Prints samples/s (one sample = policy + value forward and backward) and samples/s per
 * thread. The PyTorch comparison runs only when /usr/bin/python3 can import torch. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common.h"
#include "adam.h"
#include "net.h"
#include "noise.h"
#include "rng.h"

static double bench(Backend *be, int R, int B, int router, int step) {
    NetConfig cp = net_config_default(NET_PAMOE, NET_POLICY), cv = net_config_default(NET_PAMOE, NET_VALUE);
    cp.router = cv.router = router;
    uint64_t *seeds = xmalloc(sizeof(uint64_t) * R);
    for (int r = 0; r < R; r++) seeds[r] = (uint64_t)r + 1;
    PmError err;
    Net *p = net_create(be, &cp, R, B, seeds, &err), *v = net_create(be, &cv, R, B, seeds, &err);
    long nx = (long)R * B * 48, ne = (long)R * B * 3;
    float *hx = xmalloc(sizeof(float) * nx), *he = xmalloc(sizeof(float) * ne), *hd = xmalloc(sizeof(float) * R * B * 6);
    Rng rng;
    rng_seed(&rng, 1, RNG_GEN, 0);
    for (long i = 0; i < nx; i++) hx[i] = (float)rng_uniform(&rng);
    for (long i = 0; i < ne; i++) he[i] = (float)(2.0 * rng_uniform(&rng) - 1.0);
    for (long i = 0; i < (long)R * B * 6; i++) hd[i] = (float)(rng_uniform(&rng) - 0.5);
    float *x = be->ops->alloc(be, sizeof(float) * nx), *eps = be->ops->alloc(be, sizeof(float) * ne);
    float *d = be->ops->alloc(be, sizeof(float) * R * B * 6);
    be->ops->upload(be, x, hx, sizeof(float) * nx);
    be->ops->upload(be, eps, he, sizeof(float) * ne);
    be->ops->upload(be, d, hd, sizeof(float) * R * B * 6);
    AdamConfig ac;
    adam_config_default(&ac);
    NoiseConfig nc;
    noise_config_default(&nc);
    float *lr = xmalloc(sizeof(float) * R), *sigma = xmalloc(sizeof(float) * R);
    for (int r = 0; r < R; r++) { lr[r] = 1e-3f; sigma[r] = 1e-3f; }
    NoiseState *np = noise_create(&p->pb, seeds, sigma, lr), *nv = noise_create(&v->pb, seeds, sigma, lr);
    long reps = 1;
    double t;
    for (;;) {
        double t0 = now_seconds();
        for (long i = 0; i < reps; i++) {
            net_forward(p, x, B, eps);
            net_backward(p, d);
            net_forward(v, x, B, eps);
            net_backward(v, d);
            if (step) {
                be->ops->adam_step(be, &ac, &p->pb, lr);
                be->ops->adam_step(be, &ac, &v->pb, lr);
                be->ops->noise_step(be, np, &nc, &p->pb, lr);
                be->ops->noise_step(be, nv, &nc, &v->pb, lr);
            }
        }
        be->ops->sync(be);
        t = now_seconds() - t0;
        if (t > 0.3) break;
        reps *= 2;
    }
    double sps = (double)reps * R * B / t;
    be->ops->release(be, x);
    be->ops->release(be, eps);
    be->ops->release(be, d);
    free(hx);
    free(he);
    free(hd);
    free(seeds);
    free(lr);
    free(sigma);
    noise_free(np);
    noise_free(nv);
    net_free(p);
    net_free(v);
    return sps;
}

int main(int argc, char **argv) {
    const char *dev = argc > 1 ? argv[1] : "cpu";
    if (!strcmp(dev, "--help")) {
        printf("usage: bench_net [cpu|cuda]\n");
        return 0;
    }
    char msg[256];
    Backend *be = backend_create(dev, msg, sizeof msg);
    if (!be) {
        fprintf(stderr, "bench_net: %s\n", msg);
        return 1;
    }
    int threads = omp_get_max_threads();
    printf("backend %s, %d OpenMP threads; pamoe policy + value, minibatch 62 samples per run\n",
           be->ops->name, threads);
    printf("%6s %8s %16s %16s %22s\n", "runs", "router", "fwd+bwd samp/s", "+Adam+noise", "+Adam+noise per thread");
    const int Rs[2] = {1, 64};
    for (int i = 0; i < 2; i++)
        for (int router = 0; router < 2; router++) {
            double s = bench(be, Rs[i], 62, router, 0), s2 = bench(be, Rs[i], 62, router, 1);
            printf("%6d %8s %16.0f %16.0f %22.0f\n", Rs[i], router ? "switch" : "faithful", s, s2, s2 / threads);
        }
    /* the same step in PyTorch (tools/bench_torch_net.py), one thread, for the ratio */
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        printf("PyTorch comparison skipped: python3-torch is not installed for /usr/bin/python3\n");
    } else {
        FILE *p = popen("/usr/bin/python3 tools/bench_torch_net.py --threads 1 2>/dev/null", "r");
        char line[256];
        double torch_sps = 0;
        while (p && fgets(line, sizeof line, p)) {
            fputs(line, stdout);
            const char *c = strstr(line, "): ");
            if (c) torch_sps = strtod(c + 3, NULL); /* "...): 12345 steps/s": the number that starts there */
        }
        if (p) pclose(p);
        if (torch_sps > 0) {
            /* the same core for both: pamoe's R = 1 step on one thread (dividing a 2-thread
             * figure by 2 would charge it for a thread that R = 1 cannot use) */
            omp_set_num_threads(1);
            double one = bench(be, 1, 62, 0, 1);
            omp_set_num_threads(threads);
            printf("pamoe R = 1 faithful +Adam+noise on 1 thread: %.0f samples/s\n", one);
            printf("pamoe / PyTorch (R = 1, faithful, +Adam+noise, both on one thread): %.1fx\n", one / torch_sps);
        }
    }
    backend_free(be);
    return 0;
}
