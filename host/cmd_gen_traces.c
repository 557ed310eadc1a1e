/* cmd_gen_traces.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_gen_traces(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'gen_traces' is not implemented yet\n");
    return 2;
}
