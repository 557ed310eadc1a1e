/* cpu_fixture.h: the CPU backend as a cmocka group fixture (g_be), for the tests of the
 * backend and the networks. */
#ifndef PAMOE_CPU_FIXTURE_H
#define PAMOE_CPU_FIXTURE_H
#include "backend.h"

static Backend *g_be;

static int setup(void **state) {
    (void)state;
    char msg[256];
    g_be = backend_create("cpu", msg, sizeof msg);
    return g_be ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    backend_free(g_be);
    return 0;
}
#endif
