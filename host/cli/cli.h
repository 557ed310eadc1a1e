/* cli.h: the subcommands of build/pamoe and the one option parser they all use.
 *
 * Each command lives in host/cli/cmd_<name>.c, describes its options in a CliOpt table and
 * calls cli_parse, which walks argv once: `--name value` or `--name=value`, `-h`/`--help`
 * anywhere, checked numbers (whole string, range, the option named in the error), unknown
 * options, missing values and a repeated single-use option are usage errors (a next argument
 * that starts with "--" is taken as a missing value, not as the value: write --out=--x for
 * that). Every command's --help has the same layout (usage, description, options, notes).
 *
 * Usage (a new command):
 *   int cmd_sweep(int argc, char **argv) {
 *       const char *out = NULL; int runs = 4, quiet = 0;
 *       const CliOpt opts[] = {
 *           {"--out", "DIR", CLI_STR, &out, .help = "where the runs go (required)"},
 *           {"--runs", "N", CLI_INT, &runs, .help = "runs per point (default 4)", .min = 1, .max = 4096},
 *           {"--quiet", NULL, CLI_FLAG, &quiet, .help = "no progress output"},
 *       };
 *       const CliCommand cmd = {"sweep", "--out DIR [options]", "What it does.", opts,
 *                               PM_ARRAY_LEN(opts), NULL, NULL};
 *       int rc = cli_parse(&cmd, argc, argv, NULL);
 *       if (rc != CLI_RUN) return rc;   // 0 after --help, CLI_USAGE after an error (printed)
 *       if (!out) return cli_usage_error(&cmd, "--out is required");
 *       ...
 *   }
 * A repeatable or structured option (--set, --sessions N|all) is CLI_CALL with a callback
 * that receives the value and the ctx passed to cli_parse. A command with subcommands
 * (`pamoe sweep plan ...`) gives each its own table and calls cli_parse(&cmd, argc - 1,
 * argv + 1, ctx) with name "sweep plan", so messages and --help name the subcommand. */
#ifndef PAMOE_CLI_H
#define PAMOE_CLI_H
#include <stdio.h>

#include "common.h"

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_act(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_gen_traces(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_import_reference(int argc, char **argv);

#define CLI_RUN (-1)  /* cli_parse: go on and run the command */
#define CLI_USAGE 2   /* exit code of a usage error (bad option or value); input errors exit 1 */

typedef enum {
    CLI_FLAG,   /* int *dest = 1; takes no value */
    CLI_STR,    /* const char **dest = the value (non-empty) */
    CLI_INT,    /* int *dest, in [min, max] (both 0: the whole int range) */
    CLI_LONG,   /* long long *dest, in [min, max] (both 0: the whole range) */
    CLI_U64,    /* unsigned long long *dest, any non-negative 64-bit value */
    CLI_DOUBLE, /* double *dest, finite, in [lo, hi] (lo_open/hi_open: exclusive; both 0: any) */
    CLI_CALL,   /* call(ctx, value, err); repeatable; meta NULL: a flag (value NULL) */
} CliType;

typedef struct {
    const char *name;   /* "--out" */
    const char *meta;   /* value placeholder for --help ("FILE"); NULL for a flag */
    CliType type;
    void *dest;
    const char *help;   /* may hold '\n' for more lines */
    long long min, max;
    double lo, hi;
    int lo_open, hi_open;
    const char *want;   /* error wording "'v' is not WANT" (default: from the type and range) */
    int (*call)(void *ctx, const char *value, PmError *err); /* CLI_CALL: 0 or -1 + err */
} CliOpt;

typedef struct {
    const char *name;        /* "train" */
    const char *synopsis;    /* after "usage: pamoe NAME "; may hold '\n' for more usage lines */
    const char *description; /* paragraph(s) after the usage */
    const CliOpt *opts;
    int n_opts;
    const char *notes;       /* printed after the options (may be NULL) */
    void (*more_help)(FILE *f); /* printed after notes (e.g. the agent list); may be NULL */
} CliCommand;

/* Parses argv[1..argc-1] into the table's destinations. Returns CLI_RUN to go on, 0 after
 * printing --help to stdout, CLI_USAGE after printing "pamoe NAME: ..." to stderr. */
int cli_parse(const CliCommand *cmd, int argc, char **argv, void *ctx);
/* Prints "pamoe NAME: MESSAGE (see pamoe NAME --help)" and returns CLI_USAGE. */
int cli_usage_error(const CliCommand *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_print_help(const CliCommand *cmd, FILE *f);

/* The overwrite rule of every command that writes: an existing output is refused (exit 1,
 * naming the file) unless --force was given. Returns 0 when path may be written, else prints
 * "pamoe CMD: PATH exists; ..." and returns -1. */
int cli_may_write(const char *cmd, const char *path, int force);
#endif
