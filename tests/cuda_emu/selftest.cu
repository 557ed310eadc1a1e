/* selftest.cu: the CUDA CPU emulator's own test (built only in the emulated build:
 * make CUDA_EMU=plain BUILD=build-emu build-emu/cuda_emu/emu_selftest). CUDA source that real
 * nvcc would accept, compiled the way kernels/backend_cuda.cu is.
 *
 *   emu_selftest          barriers, shared memory (static and extern), shuffles and votes give
 *                         the results a GPU gives, whatever CUDA_EMU_ORDER; every check of the
 *                         registry, the launch limits and cuBLAS returns the real error code;
 *                         new memory reads as NaN; a page-locked download is stale until the
 *                         host synchronises (deferred mode). Exit 0 when all pass.
 *   emu_selftest race     a kernel that reads its neighbour's shared-memory slot without a
 *                         barrier: under TSan it must be reported (run_suite.sh checks that);
 *                         elsewhere its result depends on the thread order.
 *   emu_selftest deadlock __syncthreads reached by half the block: the emulator must abort. */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cublas_v2.h>
#include <cuda_runtime.h>

static int g_failed, g_checks;
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        g_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            g_failed++;                                                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                    \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
        }                                                                                  \
    } while (0)
#define OK(x) CHECK((x) == cudaSuccess, "%s", #x)

/* Tree sum over the block in static shared memory: wrong without the barriers. */
__global__ void block_sum(const int *in, int *out) {
    __shared__ int s[256];
    int t = threadIdx.x;
    s[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h /= 2) {
        if (t < h) s[t] += s[t + h];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

/* Each thread writes its slot of dynamic shared memory, then reads the reversed slot. */
__global__ void reverse_shared(const float *in, float *out, int n) {
    extern __shared__ float buf[];
    int t = threadIdx.x;
    buf[t] = in[t];
    __syncthreads();
    if (t < n) out[t] = buf[n - 1 - t];
}

/* Warp sum with __shfl_down_sync, broadcast with __shfl_sync, a butterfly with
 * __shfl_xor_sync, and votes. */
__global__ void warp_ops(const int *in, int *sum_down, int *bcast, int *xor_sum, unsigned *ballot,
                         int *any_all) {
    int lane = threadIdx.x & 31, w = threadIdx.x / 32;
    int v = in[threadIdx.x];
    int s = v;
    for (int d = 16; d > 0; d /= 2) s += __shfl_down_sync(0xffffffffu, s, d);
    if (lane == 0) sum_down[w] = s;
    bcast[threadIdx.x] = __shfl_sync(0xffffffffu, v, 5);
    int x = v;
    for (int m = 1; m < 32; m *= 2) x += __shfl_xor_sync(0xffffffffu, x, m);
    xor_sum[threadIdx.x] = x;
    unsigned b = __ballot_sync(0xffffffffu, v % 3 == 0);
    if (lane == 0) ballot[w] = b;
    int a = __any_sync(0xffffffffu, v == 7), l = __all_sync(0xffffffffu, v >= 0);
    if (lane == 0) any_all[w] = a * 2 + l;
}

/* Reads the neighbour's slot with no barrier between the write and the read: a race. */
__global__ void racy_neighbour(int *out) {
    __shared__ int s[64];
    s[threadIdx.x] = (int)threadIdx.x;
    out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

/* __syncthreads inside a branch only half the block takes. */
__global__ void divergent_barrier(int *out) {
    if (threadIdx.x < blockDim.x / 2) __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void fill(float *p, long n, float v) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        p[i] = v;
}

static void test_barriers_and_warps() {
    enum { B = 256, G = 3 };
    int h[B * G], *d_in, *d_out;
    long want[G] = {0, 0, 0};
    for (int i = 0; i < B * G; i++) h[i] = (i * 37) % 101, want[i / B] += h[i];
    OK(cudaMalloc((void **)&d_in, sizeof h));
    OK(cudaMalloc((void **)&d_out, sizeof(int) * G));
    OK(cudaMemcpy(d_in, h, sizeof h, cudaMemcpyHostToDevice));
    block_sum<<<G, B>>>(d_in, d_out);
    OK(cudaGetLastError());
    int got[G];
    OK(cudaMemcpy(got, d_out, sizeof got, cudaMemcpyDeviceToHost));
    for (int g = 0; g < G; g++) CHECK(got[g] == want[g], "block_sum[%d] = %d, want %ld", g, got[g], want[g]);

    float hf[64], *d_f, *d_g, back[64];
    for (int i = 0; i < 64; i++) hf[i] = (float)i;
    OK(cudaMalloc((void **)&d_f, sizeof hf));
    OK(cudaMalloc((void **)&d_g, sizeof hf));
    OK(cudaMemcpy(d_f, hf, sizeof hf, cudaMemcpyHostToDevice));
    reverse_shared<<<1, 64, 64 * sizeof(float)>>>(d_f, d_g, 64);
    OK(cudaGetLastError());
    OK(cudaMemcpy(back, d_g, sizeof back, cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int i = 0; i < 64; i++) bad += back[i] != (float)(63 - i);
    CHECK(!bad, "reverse_shared: %d wrong", bad);

    enum { T = 64 };
    int hv[T], *dv, *d_sum, *d_b, *d_x, *d_aa;
    unsigned *d_ballot;
    for (int i = 0; i < T; i++) hv[i] = (i * 5) % 11;
    OK(cudaMalloc((void **)&dv, sizeof hv));
    OK(cudaMalloc((void **)&d_sum, sizeof(int) * 2));
    OK(cudaMalloc((void **)&d_b, sizeof hv));
    OK(cudaMalloc((void **)&d_x, sizeof hv));
    OK(cudaMalloc((void **)&d_ballot, sizeof(unsigned) * 2));
    OK(cudaMalloc((void **)&d_aa, sizeof(int) * 2));
    OK(cudaMemcpy(dv, hv, sizeof hv, cudaMemcpyHostToDevice));
    warp_ops<<<1, T>>>(dv, d_sum, d_b, d_x, d_ballot, d_aa);
    OK(cudaGetLastError());
    int sum[2], bc[T], xs[T], aa[2];
    unsigned bal[2];
    OK(cudaMemcpy(sum, d_sum, sizeof sum, cudaMemcpyDeviceToHost));
    OK(cudaMemcpy(bc, d_b, sizeof bc, cudaMemcpyDeviceToHost));
    OK(cudaMemcpy(xs, d_x, sizeof xs, cudaMemcpyDeviceToHost));
    OK(cudaMemcpy(bal, d_ballot, sizeof bal, cudaMemcpyDeviceToHost));
    OK(cudaMemcpy(aa, d_aa, sizeof aa, cudaMemcpyDeviceToHost));
    for (int w = 0; w < 2; w++) {
        int s = 0, any7 = 0;
        unsigned b = 0;
        for (int l = 0; l < 32; l++) {
            int v = hv[w * 32 + l];
            s += v, any7 |= v == 7;
            if (v % 3 == 0) b |= 1u << l;
        }
        CHECK(sum[w] == s, "warp %d shfl_down sum %d, want %d", w, sum[w], s);
        CHECK(bal[w] == b, "warp %d ballot 0x%08x, want 0x%08x", w, bal[w], b);
        CHECK(aa[w] == any7 * 2 + 1, "warp %d any/all %d, want %d", w, aa[w], any7 * 2 + 1);
        for (int l = 0; l < 32; l++) {
            CHECK(bc[w * 32 + l] == hv[w * 32 + 5], "warp %d lane %d shfl broadcast", w, l);
            CHECK(xs[w * 32 + l] == s, "warp %d lane %d shfl_xor sum %d, want %d", w, l, xs[w * 32 + l], s);
        }
    }
    cudaFree(d_in), cudaFree(d_out), cudaFree(d_f), cudaFree(d_g), cudaFree(dv), cudaFree(d_sum);
    cudaFree(d_b), cudaFree(d_x), cudaFree(d_ballot), cudaFree(d_aa);
}

static void test_checks() {
    float *d, *d2, *pin, host[16];
    OK(cudaMalloc((void **)&d, 16 * sizeof(float)));
    OK(cudaMalloc((void **)&d2, 16 * sizeof(float)));
    OK(cudaMallocHost((void **)&pin, 16 * sizeof(float)));
    /* new device memory reads as NaN */
    OK(cudaMemcpy(host, d, sizeof host, cudaMemcpyDeviceToHost));
    CHECK(std::isnan(host[0]) && std::isnan(host[15]), "new device memory is not NaN-filled");
    /* launch limits */
    fill<<<1, 2048>>>(d, 16, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "block of 2048 threads accepted");
    fill<<<0, 32>>>(d, 16, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "empty grid accepted");
    fill<<<1, 32, 64 * 1024>>>(d, 16, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "64 KiB of dynamic shared memory accepted");
    /* kernel pointers: host memory and a pointer past the end are refused */
    fill<<<1, 32>>>(host, 16, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorIllegalAddress, "pageable host pointer passed to a kernel");
    fill<<<1, 32>>>(pin, 16, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorIllegalAddress, "page-locked pointer passed to a kernel");
    fill<<<1, 32>>>(d + 16, 0, 1.0f);
    CHECK(cudaGetLastError() == cudaErrorIllegalAddress, "pointer one past the end passed to a kernel");
    /* copies: direction, size, overlap */
    CHECK(cudaMemcpy(d, host, sizeof host, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue, "H2D copy declared D2H accepted");
    CHECK(cudaMemcpy(host, d, sizeof host, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "D2H copy declared H2D accepted");
    CHECK(cudaMemcpy(d, host, sizeof host + 4, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "copy past the end accepted");
    CHECK(cudaMemcpy(d + 1, d, 8 * sizeof(float), cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue, "overlapping copy accepted");
    CHECK(cudaMemsetAsync(d + 8, 0, 9 * sizeof(float), 0) == cudaErrorInvalidValue, "memset past the end accepted");
    CHECK(cudaMemcpyAsync(pin, d, 17 * sizeof(float), cudaMemcpyDeviceToHost, 0) == cudaErrorInvalidValue, "copy past a page-locked buffer accepted");
    cudaGetLastError();
    /* deferred execution: a page-locked download is stale until the host synchronises */
    cudaStream_t s;
    OK(cudaStreamCreate(&s));
    fill<<<1, 32, 0, s>>>(d, 16, 3.0f);
    OK(cudaMemcpyAsync(pin, d, 16 * sizeof(float), cudaMemcpyDeviceToHost, s));
    const char *exec = getenv("CUDA_EMU_EXEC");
    if (!exec || strcmp(exec, "immediate"))
        CHECK(std::isnan(pin[0]), "page-locked download visible before the stream was synchronised");
    OK(cudaStreamSynchronize(s));
    CHECK(pin[0] == 3.0f && pin[15] == 3.0f, "page-locked download after the sync: %g", pin[0]);
    OK(cudaStreamDestroy(s));
    /* cuBLAS: what cuBLAS refuses, and spans outside the allocation */
    cublasHandle_t h;
    CHECK(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
    float one = 1.0f, zero = 0.0f;
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 3, 0, d2, 4, 0, &zero, d, 4, 0, 1) == CUBLAS_STATUS_INVALID_VALUE, "lda < m accepted");
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 4, 4, &one, d, 2, 0, d2, 4, 0, &zero, d, 4, 0, 1) == CUBLAS_STATUS_INVALID_VALUE, "lda < k for a transposed A accepted");
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 4, 0, d2, 4, 0, &zero, d, 3, 0, 1) == CUBLAS_STATUS_INVALID_VALUE, "ldc < m accepted");
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 4, 16, d2, 4, 0, &zero, d, 4, 0, 2) == CUBLAS_STATUS_EXECUTION_FAILED, "second batch of A past the end accepted");
    float *d3;
    OK(cudaMalloc((void **)&d3, 32 * sizeof(float)));
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 4, 0, d2, 4, 0, &zero, d3, 4, 8, 2) == CUBLAS_STATUS_EXECUTION_FAILED, "overlapping C batches accepted");
    cudaFree(d3);
    /* a correct product: A = I*2 (column-major), B = ramp -> C = 2 * B */
    float ha[16] = {0}, hb[16], hc[16];
    for (int i = 0; i < 4; i++) ha[i * 4 + i] = 2.0f;
    for (int i = 0; i < 16; i++) hb[i] = (float)i;
    OK(cudaMemcpy(d, ha, sizeof ha, cudaMemcpyHostToDevice));
    OK(cudaMemcpy(d2, hb, sizeof hb, cudaMemcpyHostToDevice));
    float *dc;
    OK(cudaMalloc((void **)&dc, sizeof hc)); /* NaN-filled: beta = 0 must not read it */
    CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, 4, 0, d2, 4, 0, &zero, dc, 4, 0, 1) == CUBLAS_STATUS_SUCCESS, "gemm");
    OK(cudaMemcpy(hc, dc, sizeof hc, cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int i = 0; i < 16; i++) bad += hc[i] != 2.0f * hb[i];
    CHECK(!bad, "gemm: %d wrong elements", bad);
    cublasDestroy(h);
    cudaFree(d), cudaFree(d2), cudaFree(dc), cudaFreeHost(pin);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "all";
    if (!strcmp(mode, "race") || !strcmp(mode, "deadlock")) {
        int *d, h[64];
        cudaMalloc((void **)&d, sizeof h);
        if (!strcmp(mode, "race")) racy_neighbour<<<1, 64>>>(d);
        else divergent_barrier<<<1, 64>>>(d);
        cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int i = 0; i < 64; i++) wrong += h[i] != (i + 1) % 64;
        printf("%s: ran to the end, %d of 64 neighbour reads saw the neighbour's value\n", mode, 64 - wrong);
        return 0;
    }
    if (strcmp(mode, "all")) {
        fprintf(stderr, "usage: emu_selftest [all | race | deadlock]\n");
        return 2;
    }
    test_barriers_and_warps();
    test_checks();
    printf("emu_selftest: %d checks, %d failed\n", g_checks, g_failed);
    return g_failed ? 1 : 0;
}
