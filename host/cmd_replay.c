/* cmd_replay.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_replay(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'replay' is not implemented yet\n");
    return 2;
}
