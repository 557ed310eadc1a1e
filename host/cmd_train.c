/* cmd_train.c: placeholder until the owning issue lands. */
#include <stdio.h>

#include "cli.h"

int cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "pamoe: 'train' is not implemented yet\n");
    return 2;
}
