/* cmd_act.c: `pamoe act`, the deployment view of a trained policy: for each observation row
 * of a CSV file, the action probabilities, the greedy action, the chosen expert and the value. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abr.h"
#include "cli.h"
#include "numparse.h"
#include "policy.h"

/* Splits a line into fields: at commas when it has one (each field trimmed; an empty field
 * is kept, as ""), else at blanks. Returns the field count (fields beyond `cap` counted). */
static int split_fields(char *line, char **field, int cap) {
    int n = 0, commas = strchr(line, ',') != NULL;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p && !commas) break;
        char *start = p;
        while (*p && (commas ? *p != ',' : *p != ' ' && *p != '\t')) p++;
        char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        int last = !*p;
        *end = 0;
        if (n < cap) field[n] = start;
        n++;
        if (last) break;
        p++;
        if (!commas && !*p) break;
    }
    return n;
}

/* A header names its columns: every field starts with a letter or '_' (so "1,2,x" or
 * "nan,..." rows are data with an error, never a skipped header). */
static int is_header(char **field, int n) {
    if (n != ABR_OBS_DIM) return 0;
    for (int i = 0; i < n; i++) {
        if (!isalpha((unsigned char)field[i][0]) && field[i][0] != '_') return 0;
        double d;
        if (!pm_parse_double(field[i], &d) || !strcasecmp(field[i], "nan") || !strncasecmp(field[i], "inf", 3)) return 0;
    }
    return 1;
}

/* Reads every observation row of `path` (a bad line fails before anything is printed). */
static float *read_obs(const char *path, int *rows_out, PmError *err) {
    FILE *f = fopen(path, "r");
    if (!f) { pm_error(err, "--obs %s: %s", path, strerror(errno)); return NULL; }
    int cap = 64, rows = 0, data_seen = 0;
    long lineno = 0;
    float *x = xmalloc(sizeof(float) * ABR_OBS_DIM * cap);
    char *line = NULL, *field[ABR_OBS_DIM];
    size_t line_cap = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        if ((size_t)len != strlen(line)) { rc = pm_error(err, "%s:%ld: NUL byte in the line", path, lineno); break; }
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || !*p) continue;
        int n = split_fields(p, field, ABR_OBS_DIM);
        if (!data_seen++ && is_header(field, n)) continue;
        if (n != ABR_OBS_DIM) { rc = pm_error(err, "%s:%ld: expected %d numbers (a 6x8 observation), got %d fields", path, lineno, ABR_OBS_DIM, n); break; }
        if (rows == cap) x = xrealloc(x, sizeof(float) * ABR_OBS_DIM * (cap *= 2));
        for (int i = 0; i < n; i++) {
            double d;
            if (pm_parse_double(field[i], &d)) {
                rc = pm_error(err, "%s:%ld: field %d '%s' is not a finite number", path, lineno, i + 1, field[i]);
                break;
            }
            x[(size_t)rows * ABR_OBS_DIM + i] = (float)d;
        }
        rows++;
    }
    if (!rc && ferror(f)) rc = pm_error(err, "--obs %s: read error: %s", path, strerror(errno));
    if (!rc && !rows) rc = pm_error(err, "%s: no observation rows", path);
    free(line);
    fclose(f);
    if (rc) { free(x); return NULL; }
    *rows_out = rows;
    return x;
}

int cmd_act(int argc, char **argv) {
    const char *ckpt = NULL, *obs = NULL, *device = "cpu";
    long long run = 0;
    unsigned long long seed = 0;
    int noise = 0;
    const CliOpt opts[] = {
        {"--checkpoint", "PATH", CLI_STR, &ckpt, .help = "run file (its RUN.ckpt.h5 is read) or the checkpoint itself"},
        {"--obs", "FILE.csv", CLI_STR, &obs, .help = "observations, comma or blank separated; '#' comments, and a header line\nof column names, are skipped"},
        {"--run", "R", CLI_LONG, &run, .help = "which run of a multi-run checkpoint (default 0)", .min = 0, .max = 4095},
        {"--router-noise", NULL, CLI_FLAG, &noise, .help = "draw routing noise as in training (Philox, --seed)"},
        {"--seed", "S", CLI_U64, &seed, .help = "seed of the routing noise (default 0)"},
        {"--device", "D", CLI_STR, &device, .help = "auto|cpu|cuda (default cpu)"},
    };
    const CliCommand cmd = {
        "act", "--checkpoint RUN.h5 --obs FILE.csv [options]",
        "Prints, for each observation row of FILE.csv (48 finite numbers: the 6x8 observation\n"
        "flattened row-major, index 8*row + col, as the training simulator builds it), the\n"
        "policy's action probabilities, the greedy action, the chosen policy expert, the value\n"
        "and the value network's expert, as CSV on stdout. Deterministic: routing noise is zero\n"
        "(each router picks the largest route logit) unless --router-noise.",
        opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN) return rc;
    if (!ckpt || !obs) return cli_usage_error(&cmd, "--checkpoint and --obs are required");
    PmError err;
    int rows = 0;
    float *x = read_obs(obs, &rows, &err);
    if (!x) { fprintf(stderr, "pamoe act: %s\n", err.msg); return 1; }
    int B = rows < 256 ? rows : 256;
    Policy *p = policy_load(ckpt, device, B, noise, (uint64_t)seed, &err);
    if (!p) { fprintf(stderr, "pamoe act: --checkpoint: %s\n", err.msg); free(x); return 1; }
    if (run >= p->R) {
        fprintf(stderr, "pamoe act: --run %lld: the checkpoint has %d run(s)\n", run, p->R);
        policy_free(p);
        free(x);
        return 1;
    }
    int A = p->net[0]->out;
    printf("row");
    for (int a = 0; a < A; a++) printf(",p%d", a);
    printf(",action,expert,value,value_expert\n");
    float probs[256 * 16], value[256];
    int action[256], expert[256], vexpert[256];
    for (int start = 0; start < rows; start += B) {
        int n = rows - start < B ? rows - start : B;
        policy_decide(p, (int)run, x + (size_t)start * ABR_OBS_DIM, n, probs, action, expert, value, vexpert);
        for (int b = 0; b < n; b++) {
            printf("%d", start + b);
            for (int a = 0; a < A; a++) printf(",%.9g", probs[b * A + a]);
            printf(",%d,%d,%.9g,%d\n", action[b], expert[b], value[b], vexpert[b]);
        }
    }
    policy_free(p);
    free(x);
    return 0;
}
