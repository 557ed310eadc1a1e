/* cli.c: the option parser of every subcommand (cli.h). Kept out of main.c so the test
 * binaries, which link every host object but main.o, can call the commands. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "numparse.h"

#define CLI_MAX_OPTS 64

static int is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

static int takes_value(const CliOpt *o) { return o->type != CLI_FLAG && !(o->type == CLI_CALL && !o->meta); }

/* The option named by `arg` ("--out" or "--out=x"), or NULL. */
static const CliOpt *find_opt(const CliCommand *cmd, const char *arg) {
    size_t n = strcspn(arg, "=");
    for (int i = 0; i < cmd->n_opts; i++)
        if (strlen(cmd->opts[i].name) == n && !strncmp(cmd->opts[i].name, arg, n)) return &cmd->opts[i];
    return NULL;
}

int cli_usage_error(const CliCommand *cmd, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pamoe %s: %s (see pamoe %s --help)\n", cmd->name, msg, cmd->name);
    return CLI_USAGE;
}

/* "an integer in 1..4096", "a number in (0, 1e+06]" */
static void default_want(const CliOpt *o, char *buf, size_t len) {
    switch (o->type) {
    case CLI_INT: case CLI_LONG:
        if (o->min || o->max) snprintf(buf, len, "an integer in %lld..%lld", o->min, o->max);
        else snprintf(buf, len, "an integer");
        return;
    case CLI_U64: snprintf(buf, len, "a non-negative integer"); return;
    case CLI_DOUBLE:
        if (o->lo || o->hi)
            snprintf(buf, len, "a number in %c%g, %g%c", o->lo_open ? '(' : '[', o->lo, o->hi, o->hi_open ? ')' : ']');
        else snprintf(buf, len, "a finite number");
        return;
    case CLI_FLAG: case CLI_STR: case CLI_CALL: snprintf(buf, len, "a valid value"); return;
    }
}

static int bad_value(const CliCommand *cmd, const CliOpt *o, const char *v) {
    char want[96];
    if (o->want) snprintf(want, sizeof want, "%s", o->want);
    else default_want(o, want, sizeof want);
    fprintf(stderr, "pamoe %s: %s: '%s' is not %s\n", cmd->name, o->name, v, want);
    return CLI_USAGE;
}

static int store(const CliCommand *cmd, const CliOpt *o, const char *v, void *ctx) {
    long long ll;
    unsigned long long ull;
    double d;
    PmError err;
    switch (o->type) {
    case CLI_FLAG: *(int *)o->dest = 1; return CLI_RUN;
    case CLI_STR: *(const char **)o->dest = v; return CLI_RUN;
    case CLI_INT: case CLI_LONG: {
        long long lo = o->min, hi = o->max;
        if (!lo && !hi) { lo = o->type == CLI_INT ? INT_MIN : LLONG_MIN; hi = o->type == CLI_INT ? INT_MAX : LLONG_MAX; }
        if (pm_parse_ll(v, &ll) || ll < lo || ll > hi) return bad_value(cmd, o, v);
        if (o->type == CLI_INT) *(int *)o->dest = (int)ll;
        else *(long long *)o->dest = ll;
        return CLI_RUN;
    }
    case CLI_U64:
        if (pm_parse_ull(v, &ull)) return bad_value(cmd, o, v);
        *(unsigned long long *)o->dest = ull;
        return CLI_RUN;
    case CLI_DOUBLE:
        if (pm_parse_double(v, &d)) return bad_value(cmd, o, v);
        if ((o->lo || o->hi) && (o->lo_open ? d <= o->lo : d < o->lo)) return bad_value(cmd, o, v);
        if ((o->lo || o->hi) && (o->hi_open ? d >= o->hi : d > o->hi)) return bad_value(cmd, o, v);
        *(double *)o->dest = d;
        return CLI_RUN;
    case CLI_CALL:
        if (o->call(ctx, v, &err)) {
            fprintf(stderr, "pamoe %s: %s: %s\n", cmd->name, o->name, err.msg);
            return CLI_USAGE;
        }
        return CLI_RUN;
    }
    return CLI_USAGE;
}

/* -h/--help anywhere an option may stand (not as the value of another option). */
static int help_asked(const CliCommand *cmd, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) return 1;
        const CliOpt *o = find_opt(cmd, argv[i]);
        if (o && takes_value(o) && !strchr(argv[i], '=')) i++;
    }
    return 0;
}

int cli_may_write(const char *cmd, const char *path, int force) {
    struct stat st;
    if (force || stat(path, &st)) return 0;
    fprintf(stderr, "pamoe %s: %s exists; choose another output or replace it with --force\n", cmd, path);
    return -1;
}

int cli_parse(const CliCommand *cmd, int argc, char **argv, void *ctx) {
    if (help_asked(cmd, argc, argv)) {
        cli_print_help(cmd, stdout);
        return 0;
    }
    char seen[CLI_MAX_OPTS] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        const CliOpt *o = find_opt(cmd, a);
        if (!o) {
            size_t n = strcspn(a, "=");
            return cli_usage_error(cmd, "unknown option '%.*s'", (int)n, a);
        }
        const char *eq = strchr(a, '='), *v = NULL;
        if (!takes_value(o)) {
            if (eq) return cli_usage_error(cmd, "%s takes no value", o->name);
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
            v = argv[++i];
        } else {
            return cli_usage_error(cmd, "%s needs a value (%s)", o->name, o->meta);
        }
        if (v && !*v) return cli_usage_error(cmd, "%s: empty value (expected %s)", o->name, o->meta);
        int k = (int)(o - cmd->opts);
        if (o->type != CLI_CALL && k < CLI_MAX_OPTS && seen[k]++)
            return cli_usage_error(cmd, "%s given twice", o->name);
        int rc = store(cmd, o, v, ctx);
        if (rc != CLI_RUN) return rc;
    }
    return CLI_RUN;
}

/* Prints `text` with every line after the first indented by `indent` columns. */
static void print_indented(FILE *f, const char *text, int indent) {
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "%.*s\n", (int)n, p);
        p += n;
        if (*p == '\n' && *++p) fprintf(f, "%*s", indent, "");
    }
}

void cli_print_help(const CliCommand *cmd, FILE *f) {
    fprintf(f, "usage: ");
    char lead[64];
    snprintf(lead, sizeof lead, "pamoe %s ", cmd->name);
    fprintf(f, "%s", lead);
    print_indented(f, cmd->synopsis, 7 + (int)strlen(lead));
    fprintf(f, "\n%s\n\noptions:\n", cmd->description);
    int width = 12;
    for (int i = 0; i < cmd->n_opts; i++) {
        const CliOpt *o = &cmd->opts[i];
        int w = (int)strlen(o->name) + (o->meta ? 1 + (int)strlen(o->meta) : 0);
        if (w > width && w <= 24) width = w;
    }
    for (int i = 0; i < cmd->n_opts; i++) {
        const CliOpt *o = &cmd->opts[i];
        char left[128];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        if ((int)strlen(left) > width) fprintf(f, "  %s\n  %-*s  ", left, width, "");
        else fprintf(f, "  %-*s  ", width, left);
        print_indented(f, o->help, width + 4);
    }
    fprintf(f, "  %-*s  this text\n", width, "-h, --help");
    if (cmd->notes) fprintf(f, "\n%s", cmd->notes);
    if (cmd->more_help) cmd->more_help(f);
}
