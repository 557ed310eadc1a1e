/* backend_cpu.c: placeholder CPU backend; the numerical-core issue fills it in. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common.h"

static void *cpu_alloc(Backend *be, size_t bytes) { (void)be; return xcalloc(1, bytes); }
static void cpu_release(Backend *be, void *p) { (void)be; free(p); }

Backend *backend_cpu_create(void) {
    Backend *be = xcalloc(1, sizeof *be);
    be->name = "cpu";
    be->alloc = cpu_alloc;
    be->release = cpu_release;
    return be;
}
