/* cli.c: small helpers shared by the subcommands (kept out of main.c so the test binaries,
 * which link every host object but main.o, can call the commands). */
#include <string.h>

#include "cli.h"

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}
