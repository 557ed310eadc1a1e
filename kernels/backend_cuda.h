/* backend_cuda.h: the CUDA backend's entry points, defined in kernels/backend_cuda.cu (the twin
 * of host/backend/backend_cpu.h). C linkage, so C callers (the factory, tests, benches) and
 * the CUDA C++ definitions agree. They exist only in a CUDA build (PAMOE_CUDA). */
#ifndef PAMOE_BACKEND_CUDA_H
#define PAMOE_BACKEND_CUDA_H
#include <stddef.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NULL with the driver's reason in err_msg (no driver, no device, no kernel image). */
Backend *backend_cuda_create(char *err_msg, size_t err_len);
/* Usable devices (0 on any driver error); the reason for 0 in why when why is not NULL. */
int backend_cuda_probe(char *why, size_t why_len);
int backend_cuda_device_count(void); /* backend_cuda_probe without the reason */
/* The backend's cudaStream_t, for benches that time it with cudaEvents. */
void *backend_cuda_stream(Backend *be);

#ifdef __cplusplus
}
#endif
#endif
