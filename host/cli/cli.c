/* cli.c: small helpers shared by the subcommands (kept out of main.c so the test binaries,
 * which link every host object but main.o, can call the commands). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cli_may_write(const char *cmd, const char *path, int force) {
    struct stat st;
    if (force || stat(path, &st)) return 0;
    fprintf(stderr, "pamoe %s: %s exists; choose another output or replace it with --force\n", cmd, path);
    return -1;
}
