/* cmd_act.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_act(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'act' is not implemented yet\n");
    return 2;
}
