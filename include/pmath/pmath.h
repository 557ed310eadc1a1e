/* pmath.h: the qualifier that lets one formula compile as C11 and as CUDA.
 * Every element-wise or per-row formula the backends use lives in an include/pmath/pmath_*.h header
 * as a PMATH_HD function: the CPU backend calls it in a loop, the CUDA kernel calls it from a
 * thread. No C++ in these headers. */
#ifndef PAMOE_PMATH_H
#define PAMOE_PMATH_H
#ifdef __CUDACC__
#define PMATH_HD static inline __host__ __device__
#else
#define PMATH_HD static inline
#endif

/* PMATH_VEC marks a formula (and the CPU loop that calls it) for gcc's loop vectoriser, which
 * -O2 runs only with its "very cheap" cost model (no loop with a remainder). Caller and callee
 * must carry the same options or gcc will not inline. Vector add/mul/div round as the scalar
 * ones, so results do not change. Empty under nvcc and other compilers. */
#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
#define PMATH_VEC __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define PMATH_VEC
#endif
#endif
