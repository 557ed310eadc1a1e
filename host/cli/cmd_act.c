/* cmd_act.c: `pamoe act`, the deployment view of a trained policy: for each observation row
 * of a CSV file, the action probabilities, the greedy action, the chosen expert and the value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abr.h"
#include "cli.h"
#include "obs_csv.h"
#include "policy.h"

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
    float *x = obs_csv_read(obs, &rows, &err);
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
