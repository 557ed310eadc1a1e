/* cuda_launch.h: the one launch geometry every CUDA kernel of kernels/backend_cuda.cu uses,
 * written as plain C so a host test (tests/test_cuda_host.c) checks it on a machine without a
 * GPU. Kernels are grid-stride loops over n work items (rows or elements), so any grid covers
 * n; the grid is capped only to bound the launch, never to drop work.
 *
 * Why 256 threads: the per-row kernels keep a few small float arrays (<= PMATH_MAX_EXPERTS)
 * in registers/local memory, and 256 lets 8 blocks share an SM on sm_80/sm_90 with room to
 * hide latency; the shapes of this project (rows = R * 62, 18-wide rows) leave the choice
 * unimportant next to launch latency (bench/README.md). Small n gets a smaller block (a
 * multiple of the 32-thread warp) so a 62-row op does not start 194 idle threads. */
#ifndef PAMOE_CUDA_LAUNCH_H
#define PAMOE_CUDA_LAUNCH_H

#define CUDA_LAUNCH_WARP 32
#define CUDA_LAUNCH_BLOCK 256
/* Grid cap: 2^20 blocks x 256 = 2^28 threads; beyond that the grid-stride loop iterates. */
#define CUDA_LAUNCH_MAX_GRID (1L << 20)

typedef struct {
    unsigned grid;  /* blocks; 0 when n <= 0 (the launcher then skips the launch) */
    unsigned block; /* threads per block: a multiple of 32, at most CUDA_LAUNCH_BLOCK */
} CudaLaunch;

static inline CudaLaunch cuda_launch_1d(long n) {
    CudaLaunch g = {0u, (unsigned)CUDA_LAUNCH_BLOCK};
    if (n <= 0) return g;
    if (n < CUDA_LAUNCH_BLOCK)
        g.block = (unsigned)((n + CUDA_LAUNCH_WARP - 1) / CUDA_LAUNCH_WARP * CUDA_LAUNCH_WARP);
    long blocks = (n + g.block - 1) / g.block;
    g.grid = (unsigned)(blocks < CUDA_LAUNCH_MAX_GRID ? blocks : CUDA_LAUNCH_MAX_GRID);
    return g;
}
#endif
