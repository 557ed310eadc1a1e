/* cuda_common.cuh: error checks for every CUDA, cuBLAS and cuRAND call:
 * on failure print "pamoe: file:line: <call text>: <library reason>" through check_die and
 * exit 1, and the grid-stride loop the kernels share. CUDA C++ only (the kernels/ .cu files). */
#ifndef PAMOE_CUDA_COMMON_CUH
#define PAMOE_CUDA_COMMON_CUH
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

/* common.h is C11: its _Noreturn is spelled [[noreturn]] in C++. */
#define _Noreturn [[noreturn]]
extern "C" {
#include "common.h"
}
#undef _Noreturn
#include "cuda_launch.h"

#define CUDA_CHECK(x)                                                                      \
    do {                                                                                   \
        cudaError_t e_ = (x);                                                              \
        if (e_ != cudaSuccess) check_die(__FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
    } while (0)

#define CUBLAS_CHECK(x)                                                                    \
    do {                                                                                   \
        cublasStatus_t s_ = (x);                                                           \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                   \
            check_die(__FILE__, __LINE__, #x, cublasGetStatusString(s_));                  \
    } while (0)

/* cuRAND has no status-string function. */
static inline const char *cuda_curand_status_name(curandStatus_t s) {
    switch (s) {
    case CURAND_STATUS_SUCCESS: return "CURAND_STATUS_SUCCESS";
    case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH (header and library versions differ)";
    case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED (generator not initialised)";
    case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED (memory allocation failed)";
    case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR (wrong generator type)";
    case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE (argument out of range)";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE (length must be a multiple of the dimension / even for normals)";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED: return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE (kernel launch failed)";
    case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE (an earlier error was not cleared)";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED (no usable GPU / driver)";
    case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH (GPU architecture does not support it)";
    case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
    default: return "unknown curandStatus_t";
    }
}

#define CURAND_CHECK(x)                                                                    \
    do {                                                                                   \
        curandStatus_t s_ = (x);                                                           \
        if (s_ != CURAND_STATUS_SUCCESS)                                                   \
            check_die(__FILE__, __LINE__, #x, cuda_curand_status_name(s_));                \
    } while (0)

/* for (i = first item of this thread; i < n; i += all threads of the grid): covers n for any
 * grid the launch helper picks. */
#define CUDA_GRID_STRIDE(i, n)                                                             \
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (long)(n);              \
         i += (long)gridDim.x * blockDim.x)
#endif
