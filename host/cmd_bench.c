/* cmd_bench.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'bench' is not implemented yet\n");
    return 2;
}
