/* cuda_emu.h: what a program linked against the CUDA CPU emulator (tests/cuda_emu/) can ask it,
 * from C or C++. The counters are the GPU-efficiency figures the emulator can measure:
 * kernel launches, host synchronisations and bytes moved per direction. */
#ifndef CUDA_EMU_H
#define CUDA_EMU_H
#ifdef __cplusplus
extern "C" {
#endif
typedef struct {
    unsigned long long launches;   /* kernel launches (cuBLAS calls are counted in gemms) */
    unsigned long long threads;    /* emulated CUDA threads run */
    unsigned long long gemms;      /* cuBLAS calls */
    unsigned long long host_syncs; /* calls on which the host waits for the device: */
    unsigned long long stream_syncs; /*   cudaStreamSynchronize, cudaDeviceSynchronize */
    unsigned long long event_syncs;  /*   cudaEventSynchronize */
    unsigned long long copy_syncs;   /*   blocking copies, async copies into pageable memory */
    unsigned long long free_syncs;   /*   cudaFree, cudaFreeHost (they wait for the device) */
    unsigned long long h2d_copies, h2d_bytes;
    unsigned long long d2h_copies, d2h_bytes;
    unsigned long long d2d_copies, d2d_bytes;
    unsigned long long memsets;
} CudaEmuCounters;

void cuda_emu_counters(CudaEmuCounters *out);
/* Prints the counters as one "key=value ..." line. */
void cuda_emu_counters_print(const CudaEmuCounters *c, const char *label, void *file /* FILE* */);
#ifdef __cplusplus
}
#endif
#endif
