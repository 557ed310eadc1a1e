/* video.c: loader of the chunk-size files video_size_0..5 (see video.h). */
#include "video.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A chunk above this (10 GB for 4 s of video) is a unit mix-up; env_check_data bounds what
 * the traces can download against the largest chunk. */
#define VIDEO_MAX_CHUNK_BYTES 10000000000LL

int video_load_dir(const char *dir, Video *out, PmError *err) {
    memset(out, 0, sizeof *out);
    int n_min = 1 << 30;
    for (int q = 0; q < ABR_LEVELS; q++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/video_size_%d", dir, q);
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return pm_error(err, "%s: not a regular file", path);
        FILE *f = fopen(path, "rb");
        if (!f) return pm_error(err, "%s: cannot open video size file video_size_%d: %s", path,
                                q, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        int n = 0, rc = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) != -1) {
            if (memchr(line, '\0', (size_t)len)) {
                rc = pm_error(err, "%s:%d: NUL byte in the line (not a text file)", path, n + 1);
                break;
            }
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
            if (v > VIDEO_MAX_CHUNK_BYTES) {
                rc = pm_error(err, "%s:%d: chunk size %lld bytes is above %lld (wrong unit?)",
                              path, n + 1, v, VIDEO_MAX_CHUNK_BYTES);
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
