/* cmd_act.c: `pamoe act`, the deployment view of a trained policy: for each observation row
 * of a CSV file, the action probabilities, the greedy action, the chosen expert and the value. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abr.h"
#include "cli.h"
#include "policy.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: pamoe act --checkpoint RUN.h5 --obs FILE.csv [options]\n\n"
            "Prints, for each observation row of FILE.csv (48 numbers: the 6x8 observation flattened\n"
            "row-major, index 8*row + col, as the training simulator builds it), the policy's action\n"
            "probabilities, the greedy action, the chosen policy expert, the value and the value\n"
            "network's expert, as CSV on stdout. Deterministic: routing noise is zero (each router\n"
            "picks the largest route logit) unless --router-noise.\n\n"
            "options:\n"
            "  --checkpoint PATH   run file (its RUN.ckpt.h5 is read) or the checkpoint itself\n"
            "  --obs FILE.csv      observations; comma or space separated; '#' comments and one\n"
            "                      header line are skipped\n"
            "  --run R             which run of a multi-run checkpoint (default 0)\n"
            "  --router-noise      draw routing noise as in training (Philox, --seed)\n"
            "  --seed S            seed of the routing noise (default 0)\n"
            "  --device D          auto|cpu|cuda (default cpu)\n"
            "  -h, --help          this text\n");
}

/* Reads up to 48 numbers from a line; returns how many, -1 on a non-number. */
static int parse_row(char *line, float *out) {
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno) return -1;
        if (n < ABR_OBS_DIM) out[n] = (float)v;
        n++;
        p = end;
        if (*p && *p != ' ' && *p != '\t' && *p != ',' && *p != '\r' && *p != '\n') return -1;
    }
    return n;
}

int cmd_act(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(stdout); return 0; }
    const char *ckpt = NULL, *obs = NULL, *device = "cpu";
    long run = 0, seed = 0;
    int noise = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        char *end;
        if (!strcmp(a, "--checkpoint") && v) ckpt = argv[++i];
        else if (!strcmp(a, "--obs") && v) obs = argv[++i];
        else if (!strcmp(a, "--device") && v) device = argv[++i];
        else if (!strcmp(a, "--router-noise")) noise = 1;
        else if ((!strcmp(a, "--run") || !strcmp(a, "--seed")) && v) {
            long x = strtol(argv[++i], &end, 10);
            if (*end || x < 0) { fprintf(stderr, "pamoe act: %s: expected a non-negative integer, got '%s'\n", a, argv[i]); return 1; }
            if (!strcmp(a, "--run")) run = x; else seed = x;
        } else {
            fprintf(stderr, "pamoe act: unknown or incomplete option '%s' (see pamoe act --help)\n", a);
            return 1;
        }
    }
    if (!ckpt || !obs) { fprintf(stderr, "pamoe act: --checkpoint and --obs are required (see pamoe act --help)\n"); return 1; }
    FILE *f = fopen(obs, "r");
    if (!f) { fprintf(stderr, "pamoe act: %s: %s\n", obs, strerror(errno)); return 1; }
    /* read every row first: a bad line fails before anything is printed */
    int cap = 64, rows = 0, lineno = 0, header_ok = 1;
    float *x = malloc(sizeof(float) * ABR_OBS_DIM * cap);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p) continue;
        if (rows == cap) x = realloc(x, sizeof(float) * ABR_OBS_DIM * (cap *= 2));
        int n = parse_row(line, x + (size_t)rows * ABR_OBS_DIM);
        if (n < 0 && header_ok) { header_ok = 0; continue; } /* one header line */
        header_ok = 0;
        if (n != ABR_OBS_DIM) {
            fprintf(stderr, "pamoe act: %s:%d: expected %d numbers (a 6x8 observation), got %s%d\n", obs, lineno,
                    ABR_OBS_DIM, n < 0 ? "a non-number after " : "", n < 0 ? 0 : n);
            fclose(f);
            free(x);
            return 1;
        }
        rows++;
    }
    fclose(f);
    if (!rows) { fprintf(stderr, "pamoe act: %s: no observation rows\n", obs); free(x); return 1; }
    PmError err;
    int B = rows < 256 ? rows : 256;
    Policy *p = policy_load(ckpt, device, B, noise, (uint64_t)seed, &err);
    if (!p) { fprintf(stderr, "pamoe act: %s\n", err.msg); free(x); return 1; }
    if (run >= p->R) {
        fprintf(stderr, "pamoe act: --run %ld: the checkpoint has %d run(s)\n", run, p->R);
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
