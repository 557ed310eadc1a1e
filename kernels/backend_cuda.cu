/* backend_cuda.cu: placeholder CUDA backend; the CUDA issue fills it in. */
#include <cuda_runtime.h>
#include <stdio.h>

#include "backend.h"

extern "C" int backend_cuda_device_count(void) {
    int n = 0;
    /* Without a driver cudaGetDeviceCount fails rather than returning 0: treat any error as
     * "no device" (STYLE.md). */
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}

extern "C" Backend *backend_cuda_create(char *err_msg, size_t err_len) {
    snprintf(err_msg, err_len, "the CUDA backend is not implemented yet");
    return NULL;
}
