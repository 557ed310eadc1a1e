/* pmath.h: the qualifier that lets one formula compile as C11 and as CUDA.
 * Every element-wise or per-row formula the backends use lives in a kernels/pmath_*.h header
 * as a PMATH_HD function: the CPU backend calls it in a loop, the CUDA kernel calls it from a
 * thread. No C++ in these headers. */
#ifndef PAMOE_PMATH_H
#define PAMOE_PMATH_H
#ifdef __CUDACC__
#define PMATH_HD static inline __host__ __device__
#else
#define PMATH_HD static inline
#endif
#endif
