/* emu_prelude.h: force-included (g++ -include) before a .cu file that cu2cpp.pl rewrote, so
 * that g++ compiles CUDA device code for the CPU emulator (tests/cuda_emu/, docs/cuda.md
 * "CPU emulator").
 *
 * NVIDIA's own headers come first, so every type, constant and runtime / cuBLAS / cuRAND
 * signature is the toolkit's. Then the CUDA qualifiers become host C++ (kernels and device
 * functions are plain functions; __shared__ is function-static storage, which works because
 * the emulator runs one block at a time on one OS thread), and __CUDACC__ / __CUDA_ARCH__ are
 * defined so that shared headers (include/pmath/) take their device paths, as nvcc's device
 * pass does. threadIdx and friends read the running emulated thread; barriers, warp
 * shuffles and votes call the fiber scheduler (emu_fiber.cpp). */
#ifndef CUDA_EMU_PRELUDE_H
#define CUDA_EMU_PRELUDE_H
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "emu_launch.h"

#undef __host__
#undef __device__
#undef __global__
#undef __shared__
#undef __constant__
#undef __forceinline__
#undef __launch_bounds__
#define __host__
#define __device__
#define __global__
#define __shared__ static
#define __constant__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __CUDACC__ 1
#define __CUDA_ARCH__ 800

namespace cuda_emu {

template <class T> constexpr size_t pointee_size() {
    using U = std::remove_cv_t<std::remove_pointer_t<T>>;
    if constexpr (std::is_void_v<U>) return 1;
    else return sizeof(U);
}

template <class... P> struct Launcher {
    void (*kernel)(P...);
    const char *file;
    int line;
    const char *func;
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;

    template <class... A> void operator()(A &&...a) const {
        static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
        /* Arguments are converted to the parameter types and copied now, as a real launch
         * copies them into the parameter buffer. */
        auto args = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(a)...);
        PointerArg ptrs[sizeof...(P) + 1];
        int index[sizeof...(P) + 1];
        int n = 0;
        collect(*args, ptrs, index, n, std::index_sequence_for<P...>{});
        auto k = kernel;
        launch_submit(file, line, func, grid, block, shmem, stream,
                      [k, args]() { std::apply(k, *args); }, ptrs, index, n);
    }

  private:
    template <class Tup, size_t... I>
    static void collect(const Tup &t, PointerArg *ptrs, int *index, int &n,
                        std::index_sequence<I...>) {
        (add<std::tuple_element_t<I, Tup>>(std::get<I>(t), (int)I, ptrs, index, n), ...);
    }
    template <class T>
    static void add(const T &v, int i, PointerArg *ptrs, int *index, int &n) {
        if constexpr (std::is_pointer_v<T>) {
            ptrs[n] = PointerArg{(const void *)v, pointee_size<T>()};
            index[n++] = i;
        } else {
            (void)v, (void)i, (void)ptrs, (void)index, (void)n;
        }
    }
};

template <class... P>
Launcher<P...> launcher(void (*kernel)(P...), const char *file, int line, const char *func,
                        dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t stream = 0) {
    return Launcher<P...>{kernel, file, line, func, grid, block, shmem, stream};
}

template <class T> uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp operand wider than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof v);
    return b;
}
template <class T> T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}
} // namespace cuda_emu

/* cuda_runtime.h has these C++ overloads only for nvcc. */
template <class T>
static inline cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *attr, T *entry) {
    return ::cudaFuncGetAttributes(attr, (const void *)entry);
}

#define threadIdx (::cuda_emu::current_ids->thread)
#define blockIdx (::cuda_emu::current_ids->block)
#define blockDim (::cuda_emu::current_ids->block_dim)
#define gridDim (::cuda_emu::current_ids->grid_dim)
#define warpSize 32

static inline void __syncthreads() { ::cuda_emu::syncthreads(); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    ::cuda_emu::warp_collective(::cuda_emu::WARP_SYNC, mask, 0, 0, 32);
}
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_collective(
        ::cuda_emu::WARP_SHFL, mask, ::cuda_emu::to_bits(v), src, width));
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_collective(
        ::cuda_emu::WARP_SHFL_UP, mask, ::cuda_emu::to_bits(v), (int)d, width));
}
template <class T>
static inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_collective(
        ::cuda_emu::WARP_SHFL_DOWN, mask, ::cuda_emu::to_bits(v), (int)d, width));
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lm, int width = 32) {
    return ::cuda_emu::from_bits<T>(::cuda_emu::warp_collective(
        ::cuda_emu::WARP_SHFL_XOR, mask, ::cuda_emu::to_bits(v), lm, width));
}
static inline unsigned __ballot_sync(unsigned mask, int pred) {
    return (unsigned)::cuda_emu::warp_collective(::cuda_emu::WARP_BALLOT, mask, pred != 0, 0, 32);
}
static inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
static inline int __all_sync(unsigned mask, int pred) {
    return (__ballot_sync(mask, pred) & mask) == mask;
}
static inline void __threadfence() {}
static inline void __threadfence_block() {}

/* Round-to-nearest arithmetic without contraction: host float arithmetic rounds each
 * operation (the emulator's sources are compiled with -ffp-contract=off). */
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline float __int_as_float(int i) { return ::cuda_emu::from_bits<float>((uint32_t)i); }
static inline int __float_as_int(float f) { return (int)(uint32_t)::cuda_emu::to_bits(f); }
template <class T> static inline T __ldg(const T *p) { return *p; }
/* One OS thread runs every emulated thread and switches only at barriers: plain
 * read-modify-write is atomic here. */
template <class T> static inline T atomicAdd(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
#endif
