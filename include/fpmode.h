/* fpmode.h: the CPU's treatment of subnormal floats, set for a whole training process.
 *
 * Weights and Adam moments that decay towards zero (the faithful router collapses
 * geometrically, docs/reference/networks.md 8, and settles among the subnormals, where
 * 1e-4 x theta underflows and the decay stops) make every multiply that reads them take a
 * microcode assist on x86: from about iteration 100 on, a faithful 2M-step run takes 3.3x
 * (PA-MoE) to 6.8x (MoE) the CPU time it takes with them flushed (docs/perf.md). Flush-to-zero plus denormals-are-zero (MXCSR FTZ|DAZ) removes that cost,
 * but it changes the arithmetic at the 1e-38 level, after which a run's trajectory drifts
 * from the unflushed one like another seed's; so it is an option (run.flush_denormals), off
 * in faithful mode, where the reference's IEEE arithmetic is kept. */
#ifndef PAMOE_FPMODE_H
#define PAMOE_FPMODE_H

/* Sets (on = 1) or clears (on = 0) FTZ and DAZ on the calling thread and on every thread of
 * its OpenMP team (threads created later inherit the caller's mode). Returns the caller's
 * previous mode, for fpmode_restore; -1 where the CPU has no such mode (not x86-64), in which
 * case nothing changed. */
int fpmode_flush_subnormals(int on);
/* Puts back what fpmode_flush_subnormals returned (nothing for -1). */
void fpmode_restore(int previous);
/* 1 when the calling thread flushes subnormals, 0 when not, -1 where it cannot. */
int fpmode_flushing(void);
#endif
