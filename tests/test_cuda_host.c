/* test_cuda_host.c: the parts of the CUDA backend a machine without a GPU can check: the one
 * launch-geometry helper (kernels/cuda_launch.h), device discovery and the --device factory
 * (no device -> "cuda" fails with the reason, "auto" falls back to the CPU), and that the
 * backend's Philox fills equal cuRAND's Philox host generator (the reference both backends'
 * rand ops reproduce). CUDA_VISIBLE_DEVICES is emptied first, so the no-device paths are the
 * ones tested on every machine, GPU or not; tests/gpu_backend.c covers the device itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_launch.h"
#include "prand.h"
#ifdef PAMOE_CUDA
#include <curand.h>

#include "backend_cuda.h"
#endif

static void check_geometry(long n) {
    CudaLaunch g = cuda_launch_1d(n);
    if (n <= 0) {
        assert_int_equal(g.grid, 0); /* the launcher skips the launch */
        return;
    }
    assert_true(g.block >= CUDA_LAUNCH_WARP && g.block <= CUDA_LAUNCH_BLOCK);
    assert_true(g.block <= 1024);           /* CUDA's limit per block */
    assert_int_equal(g.block % CUDA_LAUNCH_WARP, 0); /* whole warps */
    assert_true(g.grid >= 1 && (long)g.grid <= CUDA_LAUNCH_MAX_GRID);
    long threads = (long)g.grid * g.block;
    if ((long)g.grid < CUDA_LAUNCH_MAX_GRID) {
        assert_true(threads >= n);                  /* one pass covers n */
        assert_true(threads - (long)g.block < n);   /* and no whole block is idle */
    } else {
        /* capped: the grid-stride loop makes ceil(n / threads) passes */
        assert_true(threads == CUDA_LAUNCH_MAX_GRID * (long)CUDA_LAUNCH_BLOCK);
    }
}

static void test_launch_geometry(void **state) {
    (void)state;
    CudaLaunch g = cuda_launch_1d(0);
    assert_int_equal(g.grid, 0);
    g = cuda_launch_1d(-5);
    assert_int_equal(g.grid, 0);
    g = cuda_launch_1d(1);
    assert_int_equal(g.grid, 1);
    assert_int_equal(g.block, 32);
    g = cuda_launch_1d(62); /* one run's minibatch: two warps, not 256 threads */
    assert_int_equal(g.grid, 1);
    assert_int_equal(g.block, 64);
    g = cuda_launch_1d(256);
    assert_int_equal(g.grid, 1);
    assert_int_equal(g.block, 256);
    g = cuda_launch_1d(257);
    assert_int_equal(g.grid, 2);
    assert_int_equal(g.block, 256);
    g = cuda_launch_1d(1024L * 62 * 18); /* R = 1024 bias_act over (62, 18) rows */
    assert_int_equal(g.grid, (1024L * 62 * 18 + 255) / 256);
    g = cuda_launch_1d(1L << 40); /* beyond the cap: grid capped, block full */
    assert_int_equal(g.grid, CUDA_LAUNCH_MAX_GRID);
    assert_int_equal(g.block, CUDA_LAUNCH_BLOCK);
    for (long n = 0; n <= 5000; n++) check_geometry(n);
    for (long n = 1; n < (1L << 40); n = n * 3 + 1) check_geometry(n);
    check_geometry(CUDA_LAUNCH_MAX_GRID * (long)CUDA_LAUNCH_BLOCK);
    check_geometry(CUDA_LAUNCH_MAX_GRID * (long)CUDA_LAUNCH_BLOCK + 1);
}

static void test_no_device(void **state) {
    (void)state;
    char msg[512] = "";
    assert_int_equal(backend_cuda_available(), 0);
#ifdef PAMOE_CUDA
    assert_int_equal(backend_cuda_device_count(), 0);
    char why[256] = "";
    assert_int_equal(backend_cuda_probe(why, sizeof why), 0);
    /* the driver's reason is kept for the user: no driver, or no visible device */
    assert_non_null(strstr(why, "cudaGetDeviceCount"));
#endif
    Backend *be = backend_create("cuda", msg, sizeof msg);
    assert_null(be);
    printf("backend_create(\"cuda\"): %s\n", msg);
#ifdef PAMOE_CUDA
    assert_non_null(strstr(msg, "no usable CUDA device (cudaGetDeviceCount"));
#else
    assert_non_null(strstr(msg, "no CUDA backend"));
#endif
    msg[0] = 0;
    be = backend_create("auto", msg, sizeof msg);
    assert_non_null(be);
    assert_string_equal(be->ops->name, "cpu");
    assert_true(strlen(msg) > 0); /* the reason printed in the fallback line */
    backend_free(be);
    be = backend_create("gpu", msg, sizeof msg);
    assert_null(be);
    assert_string_equal(msg, "unknown device 'gpu' (expected auto, cpu or cuda)");
    be = backend_create("cpu", msg, sizeof msg);
    assert_non_null(be);
    assert_string_equal(be->ops->name, "cpu");
    backend_free(be);
}

/* Every backend op is filled in (a NULL entry would crash the trainer on that backend only). */
static void test_table_complete(void **state) {
    (void)state;
    char msg[256];
    Backend *be = backend_create("cpu", msg, sizeof msg);
    /* every entry after name is a function pointer, up to the end of the table */
    void (*const *fp)(void) = (void (*const *)(void))&be->ops->alloc;
    void (*const *end)(void) = (void (*const *)(void))(be->ops + 1);
    int n = 0;
    for (; fp < end; fp++, n++) assert_non_null(*fp);
    assert_true(n >= 28);
    assert_true(be->caps.host_memory); /* what the trainer asks before reading in place */
    backend_free(be);
}

/* The CPU backend's rand ops are the reference the CUDA kernels reproduce (same pmath_rand.h
 * element formulas); here they are checked against cuRAND's Philox host generator itself,
 * per run at that run's own offset, including an odd n and the offset advance. */
static void test_rand_vs_curand(void **state) {
    (void)state;
#ifndef PAMOE_CUDA
    skip();
#else
    char msg[256];
    Backend *be = backend_create("cpu", msg, sizeof msg);
    enum { R = 3, N = 37 };
    PrandStream st[R] = {{11, 0}, {prand_derive_seed(5, PRAND_ROUTER_NOISE, 2), 6}, {987654321, 262142}};
    PrandStream st0[R];
    memcpy(st0, st, sizeof st);
    float out[R * N], uni[R * N], ref[N + 1];
    be->ops->rand_normal_runs(be, out, R, N, st);
    for (int r = 0; r < R; r++) assert_true(st[r].offset == st0[r].offset + N + 1);
    be->ops->rand_uniform_runs(be, uni, R, N, st);
    for (int r = 0; r < R; r++) assert_true(st[r].offset == st0[r].offset + 2 * (N + 1));
    for (int r = 0; r < R; r++) {
        curandGenerator_t gen;
        assert_int_equal(curandCreateGeneratorHost(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10),
                         CURAND_STATUS_SUCCESS);
        assert_int_equal(curandSetPseudoRandomGeneratorSeed(gen, st0[r].seed), CURAND_STATUS_SUCCESS);
        assert_int_equal(curandSetGeneratorOffset(gen, st0[r].offset), CURAND_STATUS_SUCCESS);
        /* cuRAND wants an even count of normals, as the XORWOW generator requires: draw N + 1, compare N */
        assert_int_equal(curandGenerateNormal(gen, ref, N + 1, 0.0f, 1.0f), CURAND_STATUS_SUCCESS);
        for (int k = 0; k < N; k++) assert_true(out[r * N + k] == ref[k]);
        assert_int_equal(curandSetGeneratorOffset(gen, st0[r].offset + N + 1), CURAND_STATUS_SUCCESS);
        assert_int_equal(curandGenerateUniform(gen, ref, N), CURAND_STATUS_SUCCESS);
        for (int k = 0; k < N; k++) assert_true(uni[r * N + k] == ref[k]);
        curandDestroyGenerator(gen);
    }
    backend_free(be);
#endif
}

int main(void) {
    /* Hide any GPU before the first CUDA call: the no-device paths are under test here. */
    setenv("CUDA_VISIBLE_DEVICES", "", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_geometry),
        cmocka_unit_test(test_no_device),
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_rand_vs_curand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
