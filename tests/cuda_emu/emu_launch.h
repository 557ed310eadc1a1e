/* emu_launch.h: the calls emulated code makes into the CUDA CPU emulator (through
 * emu_prelude.h): thread ids, barriers, warp collectives, dynamic shared memory, launches. */
#ifndef CUDA_EMU_LAUNCH_H
#define CUDA_EMU_LAUNCH_H
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace cuda_emu {

/* The emulated thread now running (set by the scheduler before each switch into a fiber). */
struct ThreadIds {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};
extern thread_local const ThreadIds *current_ids;

void syncthreads();
/* Warp collectives: `value` is this lane's operand; op and arg as in emu_fiber.cpp. */
enum WarpOp { WARP_SYNC, WARP_SHFL, WARP_SHFL_UP, WARP_SHFL_DOWN, WARP_SHFL_XOR, WARP_BALLOT };
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);
void *dynamic_shared();

/* The launch: validates the configuration and every pointer argument now (as the real
 * runtime checks the configuration at the launch), queues the kernel on the stream. */
struct PointerArg {
    const void *ptr;
    size_t min_bytes; /* sizeof the pointee (1 for void) */
};
void launch_submit(const char *file, int line, const char *func, dim3 grid, dim3 block,
                   size_t shmem, cudaStream_t stream, std::function<void()> body,
                   const PointerArg *ptrs, const int *ptr_index, int n_ptrs);

} // namespace cuda_emu
#endif
