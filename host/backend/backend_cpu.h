/* backend_cpu.h: the CPU backend's entry points (the twin of kernels/backend_cuda.h). Only the
 * factory (backend.c) creates backends; tests reach the switch below. */
#ifndef PAMOE_BACKEND_CPU_H
#define PAMOE_BACKEND_CPU_H
#include "backend.h"

Backend *backend_cpu_create(void);

/* on = 0: the CPU backend's bias_act and relu_bwd run their row formulas only (tests compare
 * the vector forms with them); 1 (default): vector forms where the CPU has them. Process-wide,
 * like the CPU features it depends on. */
void backend_cpu_set_simd(int on);
#endif
