/* cmd_replay.c: `pamoe replay` plays a fixed action sequence on one trace from a hand-set
 * state (no reset download) and prints one CSV row per step. It is the reference for the
 * golden episodes of ../shared/data/golden (see docs/env.md for the mapping). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "env.h"

int cmd_replay(int argc, char **argv) {
    const char *trace = NULL, *video_dir = NULL, *content_s = NULL, *actions_s = NULL;
    int start_ptr = -1, last_q = -1, no_noise = 0;
    double scale = 2.0;
    unsigned long long seed = 0;
    const CliOpt opts[] = {
        {"--trace", "FILE", CLI_STR, &trace, .help = "the trace (lines `time_s bandwidth_Mbps`)"},
        {"--video-dir", "DIR", CLI_STR, &video_dir, .help = "directory with video_size_0..5"},
        {"--start-ptr", "P", CLI_INT, &start_ptr, .help = "trace pointer to start at, 1..M-1", .min = 1, .max = 1 << 30},
        {"--last-quality", "Q", CLI_INT, &last_q, .help = "quality of the previous chunk, 0..5", .min = 0, .max = ABR_LEVELS - 1},
        {"--content", "C", CLI_STR, &content_s, .help = "documentary|live|news"},
        {"--actions", "\"a0 a1 ...\"", CLI_STR, &actions_s, .help = "qualities 0..5, blank or comma separated (48 = one video)"},
        {"--no-delay-noise", NULL, CLI_FLAG, &no_noise, .help = "no U[0.9,1.1) delay noise"},
        {"--bw-scale", "X", CLI_DOUBLE, &scale, .help = "bandwidth multiplier (default 2.0)", .lo = 0, .hi = 1e6, .lo_open = 1, .want = "a positive number"},
        {"--seed", "S", CLI_U64, &seed, .help = "seed of the env stream (delay noise; default 0)"},
    };
    const CliCommand cmd = {
        "replay", "--trace FILE --video-dir DIR --start-ptr P --last-quality Q\n"
                  "--content documentary|live|news --actions \"a0 a1 ... a47\"\n"
                  "[--no-delay-noise] [--bw-scale X] [--seed S]",
        "Puts the training simulator on trace FILE alone (bandwidth x X, default 2.0) at\n"
        "pointer P (1..M-1), trace time time[P-1], buffer 0, chunk 0, last quality Q (0..5),\n"
        "WITHOUT the reset download, then downloads one chunk per action (0..5; 48 actions =\n"
        "one video) and prints CSV to stdout:\n"
        "  chunk,action,delay_ms,sleep_ms,buffer_s,rebuffer_s,chunk_size_bytes,bitrate_reward,\n"
        "  rebuffer_penalty,smooth_penalty,reward,end_of_video\n"
        "sleep_ms is the residual sleep (Pensieve quirk), penalties are positive, buffer_s is\n"
        "after the step (0 on the last chunk of a video). Without --no-delay-noise the delay\n"
        "is multiplied by U[0.9,1.1) from the env stream of --seed (default 0).",
        opts, PM_ARRAY_LEN(opts), NULL, NULL};
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN) return rc;
    int noise = !no_noise;
    const char *missing = !trace ? "--trace" : !video_dir ? "--video-dir"
                        : start_ptr < 0 ? "--start-ptr" : last_q < 0 ? "--last-quality"
                        : !content_s ? "--content" : !actions_s ? "--actions" : NULL;
    if (missing) {
        return cli_usage_error(&cmd, "%s is required", missing);
    }
    int content = env_content_parse(content_s);
    if (content < 0) {
        fprintf(stderr, "pamoe replay: --content: '%s' is not documentary, live or news\n",
                content_s);
        return 2;
    }
    int n_act = 0, cap = 64;
    int *actions = xmalloc(sizeof(int) * cap);
    const char *s = actions_s;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (!*s) break;
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s || a < 0 || a >= ABR_LEVELS || (*end && *end != ' ' && *end != '\t' && *end != ',')) {
            fprintf(stderr, "pamoe replay: --actions: item %d is not a quality in 0..5\n", n_act + 1);
            free(actions);
            return 2;
        }
        if (n_act == cap) actions = xrealloc(actions, sizeof(int) * (cap *= 2));
        actions[n_act++] = (int)a;
        s = end;
    }
    if (n_act == 0) {
        fprintf(stderr, "pamoe replay: --actions: no actions given\n");
        free(actions);
        return 2;
    }
    PmError err;
    TraceSet *ts = trace_set_load_file(trace, scale, &err);
    Video *video = xmalloc(sizeof *video);
    EnvBatch *b = NULL;
    rc = 1;
    if (!ts || video_load_dir(video_dir, video, &err)) goto fail;
    EnvConfig cfg = {0};
    cfg.variant = ENV_TRAINING;
    cfg.content = (EnvContent)content;
    cfg.seed = seed;
    cfg.delay_noise = noise;
    cfg.n_envs = 1;
    cfg.auto_reset = 0;
    cfg.traces = ts;
    cfg.video = video;
    if (!(b = env_create(&cfg, &err))) goto fail;
    if (env_set_state(b, 0, 0, (int)start_ptr, (int)last_q, &err)) goto fail;
    printf("chunk,action,delay_ms,sleep_ms,buffer_s,rebuffer_s,chunk_size_bytes,bitrate_reward,"
           "rebuffer_penalty,smooth_penalty,reward,end_of_video\n");
    for (int t = 0; t < n_act; t++) {
        env_step(b, &actions[t]);
        printf("%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d\n", b->chunk_index[0],
               b->action[0], b->delay_ms[0], b->sleep_ms[0], b->buffer_s[0], b->rebuf_s[0],
               b->chunk_bytes[0], b->bitrate_reward[0], b->rebuf_penalty[0],
               b->smooth_penalty[0], b->reward[0], b->done[0]);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "pamoe replay: %s\n", err.msg);
done:
    env_free(b);
    trace_set_free(ts);
    free(video);
    free(actions);
    return rc;
}
