/* backend.c: the backend factory; the one place (with the Makefile) that knows whether the
 * CUDA backend was compiled in. --device auto picks CUDA when a device is usable and says in
 * one line why it fell back to the CPU otherwise; --device cuda without one is an error. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

#include "backend_cpu.h"
#ifdef PAMOE_CUDA
#include "backend_cuda.h"
#endif

int backend_cuda_available(void) {
#ifdef PAMOE_CUDA
    return backend_cuda_device_count() > 0;
#else
    return 0;
#endif
}

Backend *backend_create(const char *name, char *err_msg, size_t err_len) {
    if (!strcmp(name, "cpu")) return backend_cpu_create();
    if (!strcmp(name, "cuda") || !strcmp(name, "auto")) {
#ifdef PAMOE_CUDA
        /* backend_cuda_create probes the device itself and fills err_msg with the driver's
         * reason (no driver, no device, no kernel image for this GPU). */
        Backend *be = backend_cuda_create(err_msg, err_len);
        if (be) return be;
#else
        snprintf(err_msg, err_len,
                 "this build has no CUDA backend (built with USE_CUDA=0 or without nvcc)");
#endif
        if (!strcmp(name, "auto")) {
            fprintf(stderr, "pamoe: device auto: %s; using the CPU backend\n", err_msg);
            return backend_cpu_create();
        }
        return NULL;
    }
    snprintf(err_msg, err_len, "unknown device '%s' (expected auto, cpu or cuda)", name);
    return NULL;
}

void backend_free(Backend *be) {
    if (be && be->ops->free) be->ops->free(be);
}
