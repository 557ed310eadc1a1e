/* video.c: loader of the chunk-size files video_size_0..5 (see video.h). */
#include "video.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int video_load_dir(const char *dir, Video *out, PmError *err) {
    memset(out, 0, sizeof *out);
    int n_min = 1 << 30;
    for (int q = 0; q < ABR_LEVELS; q++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/video_size_%d", dir, q);
        FILE *f = fopen(path, "rb");
        if (!f) return pm_error(err, "%s: cannot open video size file video_size_%d: %s", path,
                                q, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        int n = 0, rc = 0;
        while (getline(&line, &cap, f) != -1) {
            char *save = NULL;
            char *tok = strtok_r(line, " \t\r\n\v\f", &save);
            if (!tok) {
                rc = pm_error(err, "%s:%d: expected a chunk size in bytes, got an empty line",
                              path, n + 1);
                break;
            }
            char *end;
            errno = 0;
            long long v = strtoll(tok, &end, 10);
            if (end == tok || *end != '\0' || errno || v <= 0) {
                rc = pm_error(err, "%s:%d: chunk size '%s' is not a positive integer", path,
                              n + 1, tok);
                break;
            }
            if (n < ABR_CHUNKS) out->size[q][n] = (double)v;
            n++;
        }
        free(line);
        fclose(f);
        if (rc) return rc;
        if (n < VIDEO_MIN_CHUNKS)
            return pm_error(err, "%s:%d: only %d chunk sizes, the simulator needs %d", path, n,
                            n, VIDEO_MIN_CHUNKS);
        if (n < n_min) n_min = n;
    }
    out->n_chunks = n_min;
    return 0;
}
