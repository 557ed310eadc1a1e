/* fuzz_obs.c: the observation file of `pamoe act` (obs_csv_read). Whatever is accepted is
 * at least one row of ABR_OBS_DIM finite numbers. */
#include "abr.h"
#include "fuzz_util.h"
#include "obs_csv.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd, rows = 0;
    PmError err;
    float *x = obs_csv_read(fuzz_memfile(data, size, &fd, path, sizeof path), &rows, &err);
    close(fd);
    if (x) {
        FUZZ_ASSERT(rows >= 1);
        for (long i = 0; i < (long)rows * ABR_OBS_DIM; i++) FUZZ_ASSERT(isfinite(x[i]));
        free(x);
    } else {
        FUZZ_ASSERT(strstr(err.msg, path) != NULL); /* every error names the file */
    }
    return 0;
}
