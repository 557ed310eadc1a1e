/* cli.h: the subcommands of build/pamoe. Each lives in host/cmd_<name>.c, parses its own
 * options, prints its --help, and returns the process exit code. */
#ifndef PAMOE_CLI_H
#define PAMOE_CLI_H
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_act(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_gen_traces(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_import_reference(int argc, char **argv);

/* The overwrite rule of every command that writes: an existing output is refused (exit 1,
 * naming the file) unless --force was given. Returns 0 when path may be written, else prints
 * "pamoe CMD: PATH exists; ..." and returns -1. */
int cli_may_write(const char *cmd, const char *path, int force);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);
#endif
