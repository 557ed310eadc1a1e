/* fuzz_video.c: the six chunk-size files of a video (video_load_dir). The input is split
 * on '|' into video_size_0..5 (fewer parts leave files missing). Whatever loads must
 * satisfy video.h's invariants. */
#include "fuzz_util.h"
#include "video.h"

#include <stdlib.h>

static char dir[64];

static void remove_dir(void) {
    char p[128];
    for (int q = 0; q < ABR_LEVELS; q++) {
        snprintf(p, sizeof p, "%s/video_size_%d", dir, q);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/pamoe-fuzz-video-XXXXXX");
        if (!mkdtemp(dir)) abort();
        atexit(remove_dir);
    }
    size_t start = 0;
    for (int q = 0; q < ABR_LEVELS; q++) {
        char p[128];
        snprintf(p, sizeof p, "%s/video_size_%d", dir, q);
        unlink(p);
        if (start > size) continue;
        size_t end = start;
        while (end < size && data[end] != '|') end++;
        FILE *f = fopen(p, "wb");
        if (!f) abort();
        fwrite(data + start, 1, end - start, f);
        fclose(f);
        start = end + 1;
    }
    Video v;
    PmError err;
    if (video_load_dir(dir, &v, &err) == 0) {
        FUZZ_ASSERT(v.n_chunks >= VIDEO_MIN_CHUNKS);
        for (int q = 0; q < ABR_LEVELS; q++)
            for (int k = 0; k < ABR_CHUNKS; k++) FUZZ_ASSERT(v.size[q][k] > 0);
    }
    return 0;
}
