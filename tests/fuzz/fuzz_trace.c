/* fuzz_trace.c: a bandwidth trace file (trace_load_file). Whatever the loader accepts must
 * satisfy trace.h's invariants, and the simulator must finish a video on it in bounded work
 * (env_check_data), against a synthetic video ladder. */
#include "env.h"
#include "fuzz_util.h"
#include "trace.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd;
    Trace t;
    PmError err;
    fuzz_memfile(data, size, &fd, path, sizeof path);
    if (trace_load_file(path, 2.0, &t, &err) == 0) {
        FUZZ_ASSERT(t.m >= 2);
        for (int i = 0; i < t.m; i++) {
            FUZZ_ASSERT(isfinite(t.time[i]) && isfinite(t.bw[i]) && t.bw[i] >= 0);
            if (i) FUZZ_ASSERT(t.time[i] > t.time[i - 1]);
        }
        Video v = {.n_chunks = ABR_CHUNKS};
        for (int q = 0; q < ABR_LEVELS; q++)
            for (int k = 0; k < ABR_CHUNKS; k++) v.size[q][k] = 500.0 * ABR_BITRATE_KBPS[q];
        TraceSet ts = {.n = 1, .traces = &t, .scale = 2.0};
        EnvConfig ec = {.variant = ENV_TRAINING, .content = ENV_DOCUMENTARY, .seed = 1,
                        .delay_noise = 1, .n_envs = 1, .auto_reset = 1, .traces = &ts,
                        .video = &v};
        EnvBatch *b = env_create(&ec, &err);
        if (b) {
            env_reset_all(b);
            for (int s = 0; s < 2 * ABR_CHUNKS; s++) {
                int a = size ? data[s % size] % ABR_LEVELS : 0;
                env_step(b, &a);
                FUZZ_ASSERT(isfinite(b->reward[0]) && b->buffer_s[0] >= 0);
            }
            env_free(b);
        }
        trace_clear(&t);
    }
    close(fd);
    return 0;
}
