/* main.c: build/pamoe, one binary with subcommands (as git). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "h5util.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"train", cmd_train, "train PPO agents (mlp, moe, smoe, pamoe) on the streaming simulator"},
    {"eval", cmd_eval, "evaluate ABR agents (baselines, checkpoints) on test traces"},
    {"act", cmd_act, "print a trained policy's decisions for observations in a CSV file"},
    {"replay", cmd_replay, "replay a fixed action sequence on one trace and print the steps"},
    {"gen-traces", cmd_gen_traces, "write synthetic bandwidth traces and a video size ladder"},
    {"import-reference", cmd_import_reference,
     "install the real traces, video and checkpoints from clones of the reference"},
    {"bench", cmd_bench, "training throughput per run count, CPU and CUDA, with the GPU/CPU ratio"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: pamoe <command> [options]   (pamoe <command> --help for details)\n\n"
               "PA-MoE trainer for adaptive video streaming (arXiv 2504.09906), C + CUDA.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-17s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    h5u_init();
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pamoe: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
