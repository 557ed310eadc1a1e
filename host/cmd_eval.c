/* cmd_eval.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'eval' is not implemented yet\n");
    return 2;
}
