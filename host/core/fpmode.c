/* fpmode.c: flush-to-zero / denormals-are-zero for a training process (include/fpmode.h). */
#include "fpmode.h"

#if defined(__x86_64__)
#include <xmmintrin.h>

enum { MXCSR_FTZ_DAZ = 0x8040 }; /* bit 15 flush to zero, bit 6 denormals are zero */

static void set_mode(int on) {
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? csr | MXCSR_FTZ_DAZ : csr & ~(unsigned)MXCSR_FTZ_DAZ);
}

int fpmode_flushing(void) { return (_mm_getcsr() & MXCSR_FTZ_DAZ) == MXCSR_FTZ_DAZ; }

int fpmode_flush_subnormals(int on) {
    int previous = fpmode_flushing();
    /* MXCSR is per thread: every thread of the team, the caller (thread 0) included, gets it
     * here; threads that OpenMP creates later copy it from the thread that creates them
     * (pthread_create). */
#pragma omp parallel
    set_mode(on);
    return previous;
}

void fpmode_restore(int previous) {
    if (previous >= 0) fpmode_flush_subnormals(previous);
}
#else
int fpmode_flushing(void) { return -1; }
int fpmode_flush_subnormals(int on) {
    (void)on;
    return -1;
}
void fpmode_restore(int previous) { (void)previous; }
#endif
