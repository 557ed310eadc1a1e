/* bench_metrics.c: cost of the per-iteration statistics and of one run-file append.
 * Build and run: make build/bench/bench_metrics && OPENBLAS_NUM_THREADS=1 build/bench/bench_metrics
 * Reports ms per 2000 x 18 matrix for both SVD paths (validated against each other first),
 * ms for a whole 3-expert iteration (12 expert-layer matrices + 2 routers), the faithful
 * capture of a paper iteration as the trainer drives the store (per env step: B = 1 hooks of
 * the routed expert, router row, commit, for both nets; per minibatch: ~21-row hooks of every
 * expert) and its statistics, in us per env step, and ms per h5metrics_append of the
 * 116-name catalog for 1 and 16 runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "h5metrics.h"
#include "metrics.h"

static void fill(float *y, int n, int d, int salt) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            y[i * d + j] = fmaxf(0.0f, sinf(0.37f * i + j + salt) + 0.3f * cosf(0.011f * i * (j + 1)));
}

int main(void) {
    enum { N = 2000, D = 18, REPS = 200 };
    float *y = malloc(sizeof(float) * N * D), a[D], b[D];
    fill(y, N, D, 0);
    PmError err;
    if (metrics_singular_values(y, N, D, METRICS_SVD_SGESDD, a, &err) != D ||
        metrics_singular_values(y, N, D, METRICS_SVD_GRAM, b, &err) != D) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double worst = 0;
    for (int k = 0; k < D; k++) worst = fmax(worst, fabs(a[k] - b[k]) / a[0]);
    printf("sgesdd vs Gram: max |diff| / sigma_max = %.2e\n", worst);
    if (worst > 1e-5) return 1;
    const char *label[2] = {"sgesdd", "Gram+dsyevd"};
    for (int m = 0; m < 2; m++) {
        double t = now_seconds();
        for (int r = 0; r < REPS; r++) metrics_singular_values(y, N, D, (MetricsSvdMethod)m, a, &err);
        printf("%-12s %.3f ms per %d x %d matrix\n", label[m], (now_seconds() - t) / REPS * 1e3, N, D);
    }

    MetricsStore *s = metrics_store_create(D, 3);
    float *g = malloc(sizeof(float) * N * 3);
    for (int i = 0; i < N * 3; i++) g[i] = (i % 3 == (i / 3) % 3) ? 1.0f : 0.0f;
    for (int m = 0; m < 2; m++) {
        MetricsOptions o = metrics_options_default();
        o.svd = (MetricsSvdMethod)m;
        double t = now_seconds();
        for (int r = 0; r < 20; r++) {
            metrics_store_clear(s);
            for (int net = 0; net < 2; net++) {
                for (int e = 0; e < 3; e++)
                    for (int l = 0; l < 2; l++) metrics_store_append(s, (MetricsNet)net, e, l, y, N);
                metrics_store_append_router(s, (MetricsNet)net, g, N);
            }
            MetricsIterStats st;
            if (metrics_store_compute(s, &o, &st, &err)) return 1;
        }
        printf("iteration statistics (%s): %.2f ms\n", label[m], (now_seconds() - t) / 20 * 1e3);
    }
    metrics_store_free(s);

    /* faithful capture of paper iterations (2000 steps, 165 minibatches of 62 per net) */
    {
        enum { STEPS = 2000, MB = 165, MBR = 21, IT = 5, E = 3 };
        MetricsStore *fs = metrics_store_create(D, E);
        MetricsOptions o = metrics_options_default();
        double t_cap = 0, t_stat = 0;
        unsigned seed = 12345;
        for (int it = 0; it < IT; it++) {
            double t0 = now_seconds();
            for (int step = 0; step < STEPS; step++)
                for (int net = 0; net < 2; net++) {
                    seed = seed * 1103515245u + 12345u;
                    int e = (int)(seed >> 16) % E;
                    for (int l = 0; l < 2; l++)
                        metrics_store_hook(fs, (MetricsNet)net, e, l, y + (size_t)((step * 7 + l) % N) * D, 1);
                    float gate[E] = {0};
                    gate[e] = 1.0f;
                    metrics_store_append_router(fs, (MetricsNet)net, gate, 1);
                    metrics_store_commit_step(fs, (MetricsNet)net);
                }
            for (int mb = 0; mb < MB; mb++)
                for (int net = 0; net < 2; net++)
                    for (int e = 0; e < E; e++)
                        for (int l = 0; l < 2; l++)
                            metrics_store_hook(fs, (MetricsNet)net, e, l, y + (size_t)((mb * 13 + e) % (N - MBR)) * D, MBR);
            double t1 = now_seconds();
            MetricsIterStats st;
            if (metrics_store_compute(fs, &o, &st, &err)) return 1;
            metrics_store_clear(fs);
            t_stat += now_seconds() - t1;
            t_cap += t1 - t0;
        }
        printf("faithful capture: %.3f us per env step; statistics (sgesdd): %.3f us per env step "
               "(%.2f ms per iteration)\n", t_cap / IT / STEPS * 1e6, t_stat / IT / STEPS * 1e6,
               t_stat / IT * 1e3);
        metrics_store_free(fs);
    }

    MetricsName *names;
    MetricsCatalogSpec spec = {{3, 3}, 0.5};
    int n = metrics_catalog(&spec, &names);
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_metrics_%d.h5", (int)getpid());
    const int runs[2] = {1, 16};
    for (int c = 0; c < 2; c++) {
        H5Metrics *h = h5metrics_create(path, runs[c], &err);
        if (!h) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int i = 0; i < n; i++) h5metrics_register(h, names[i].name, names[i].units, names[i].description, &err);
        if (h5metrics_start(h, &err)) return 1;
        double t = now_seconds();
        const int iters = 200;
        for (int it = 1; it <= iters; it++) {
            for (int i = 0; i < n; i++)
                for (int r = 0; r < runs[c]; r++) h5metrics_set(h, i, r, it + i + r);
            if (h5metrics_append(h, it, it * 2000, &err)) return 1;
        }
        printf("h5metrics_append, %d names x %d runs: %.2f ms per iteration (incl. flush)\n", n, runs[c],
               (now_seconds() - t) / iters * 1e3);
        h5metrics_close(h);
        remove(path);
    }
    free(names);
    free(g);
    free(y);
    return 0;
}
