/* video.h: chunk sizes of the test video (environment.md section 3): files
 * `video_size_0` .. `video_size_5` in one directory, file q holding the size in bytes of
 * chunk i (line i) at quality q as the first whitespace field. At least VIDEO_MIN_CHUNKS
 * lines are required; the simulator uses indices 0..47. */
#ifndef PAMOE_VIDEO_H
#define PAMOE_VIDEO_H
#include "abr.h"
#include "common.h"

#define VIDEO_MIN_CHUNKS ABR_CHUNKS

typedef struct {
    int n_chunks;                        /* chunks per level present in every file (>= 48) */
    double size[ABR_LEVELS][ABR_CHUNKS]; /* bytes; [q][k] */
} Video;

/* 0 on success, -1 with err naming the file (and line) otherwise. */
int video_load_dir(const char *dir, Video *out, PmError *err);
#endif
