/* cmd_import_reference.c: `pamoe import-reference`, installs the reference's real traces,
 * video sizes and evaluation checkpoints from a user's clones of tinyzqh/PA-MoE and
 * tinyzqh/OptiVerse (docs/reference/data.md).
 *
 * The work is done by tools/import_reference.py (numpy only): reading a PyTorch checkpoint
 * means unpickling, and Python's own unpickler, restricted to the few globals a state dict
 * needs, is far less code to trust than a pickle VM in C. This command finds the repository
 * from its own executable, /proc/self/exe = <repo>/<build dir>/pamoe, so it works from any
 * working directory and after the checkout is moved, and execs
 * `sh <repo>/tools/run_python.sh <repo>/tools/import_reference.py ARGS...`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"

/* <repo> = the directory above the one holding this executable; 0, or -1 with a message. */
static int repo_root(char *root, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "pamoe import-reference: cannot read /proc/self/exe: %s\n", strerror(errno));
        return -1;
    }
    exe[n] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) break;
        *slash = 0;
    }
    if ((size_t)snprintf(root, cap, "%s", exe[0] ? exe : "/") >= cap) {
        fprintf(stderr, "pamoe import-reference: path too long: %s\n", exe);
        return -1;
    }
    return 0;
}

int cmd_import_reference(int argc, char **argv) {
    const char *pa_moe = NULL, *optiverse = NULL, *out = NULL;
    int force = 0;
    const CliOpt opts[] = {
        {"--pa-moe", "DIR", CLI_STR, &pa_moe, .help = "clone of tinyzqh/PA-MoE (required)"},
        {"--optiverse", "DIR", CLI_STR, &optiverse, .help = "clone of tinyzqh/OptiVerse; without it everything but the test\n"
                                                              "traces is installed, and pamoe eval keeps the synthetic\n"
                                                              "data/traces/test and data/video"},
        {"--out", "DIR", CLI_STR, &out, .help = "install directory (default data/reference, relative to the\n"
                                                 "current directory: run pamoe from the repository root)"},
        {"--force", NULL, CLI_FLAG, &force, .help = "replace an existing OUT"},
    };
    const CliCommand cmd = {
        "import-reference", "--pa-moe DIR [--optiverse DIR] [--out DIR] [--force]",
        "Installs the reference's real data from your clones of the reference repositories\n"
        "(git clone https://github.com/tinyzqh/PA-MoE; git clone https://github.com/tinyzqh/OptiVerse)\n"
        "into OUT (default data/reference), where pamoe finds it by default:\n"
        "  OUT/traces/train/   the 127 training traces   PA-MoE src/envs/trace/\n"
        "  OUT/video/          video_size_0..5           PA-MoE src/envs/envivio/\n"
        "  OUT/traces/test/    the 142 test traces       OptiVerse OptiVerse/datasets/video/trace/test/\n"
        "  OUT/weights/        Pensieve, Merina, MerinaVAE, PAMoE as <Name>.f32 + .manifest.tsv,\n"
        "                      converted from PA-MoE src/plots_perform/weights/<Name>.pth\n"
        "The .pth files are read without PyTorch, by an unpickler that accepts only what a state\n"
        "dict of float32 tensors needs and refuses any other global. The result is written to\n"
        "OUT.tmp and renamed, so a failed import installs nothing, and it is checked against the\n"
        "sha256 list of the revision pamoe was tested with (tools/reference_data.sha256).\n"
        "Needs a python3 with numpy (tools/run_python.sh).",
        opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN) return rc;
    if (!pa_moe) return cli_usage_error(&cmd, "--pa-moe DIR is required");
    char root[PATH_MAX], runner[PATH_MAX + 32], script[PATH_MAX + 32];
    if (repo_root(root, sizeof root)) return 1;
    snprintf(runner, sizeof runner, "%s/tools/run_python.sh", root);
    snprintf(script, sizeof script, "%s/tools/import_reference.py", root);
    struct stat st;
    if (stat(runner, &st) || stat(script, &st)) {
        fprintf(stderr,
                "pamoe import-reference: %s not found: this command runs the repository's\n"
                "tools/import_reference.py and expects the binary at <repository>/build/pamoe\n",
                stat(runner, &st) ? runner : script);
        return 1;
    }
    /* the options as parsed, in one spelling, for tools/import_reference.py */
    char *args[12];
    int n = 0;
    args[n++] = "sh";
    args[n++] = runner;
    args[n++] = script;
    args[n++] = "--pa-moe";
    args[n++] = (char *)pa_moe;
    if (optiverse) { args[n++] = "--optiverse"; args[n++] = (char *)optiverse; }
    if (out) { args[n++] = "--out"; args[n++] = (char *)out; }
    if (force) args[n++] = "--force";
    args[n] = NULL;
    fflush(NULL);
    setenv("PAMOE_PY_MODULES", "numpy", 1); /* the import needs numpy only */
    execv("/bin/sh", args);
    fprintf(stderr, "pamoe import-reference: cannot run /bin/sh: %s\n", strerror(errno));
    return 1;
}
