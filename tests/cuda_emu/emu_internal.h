/* emu_internal.h: what the parts of the CUDA CPU emulator share (runtime, fibers, cuBLAS).
 * Not for emulated code, which sees emu_prelude.h and NVIDIA's headers only. */
#ifndef CUDA_EMU_INTERNAL_H
#define CUDA_EMU_INTERNAL_H
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "cuda_emu.h"

namespace cuda_emu {

enum Order { ORDER_FORWARD, ORDER_REVERSE, ORDER_RANDOM };
struct Options {
    Order order;
    uint64_t seed;  /* ORDER_RANDOM */
    bool immediate; /* run every queued operation at once (debugging) */
};
const Options &options();

/* One line on stderr, "cuda_emu: ...". */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum MemKind { MEM_DEVICE, MEM_PINNED };
struct Alloc {
    const char *base; /* what cudaMalloc / cudaMallocHost returned */
    size_t size;
    MemKind kind;
};
/* The live allocation that contains p, or NULL. */
const Alloc *find_alloc(const void *p);
/* Whether [p, p + bytes) lies in one live allocation of that kind. */
bool range_in(const void *p, size_t bytes, MemKind kind);

/* Queues fn on the stream (runs it at once in immediate mode). */
void enqueue(cudaStream_t s, std::function<void()> fn);

extern CudaEmuCounters counters;

struct KernelRun {
    dim3 grid, block;
    size_t shmem;
    std::function<void()> body;
    const char *file, *func;
    int line;
};
void run_kernel(const KernelRun &k);
} // namespace cuda_emu
#endif
