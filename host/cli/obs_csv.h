/* obs_csv.h: reads the observation file of `pamoe act`. Private to host/cli (and its fuzz
 * harness). */
#ifndef PAMOE_OBS_CSV_H
#define PAMOE_OBS_CSV_H
#include "common.h"

/* Every row of `path`: ABR_OBS_DIM finite numbers, comma separated (each field trimmed; an
 * empty field counts) or blank separated; '#' comment lines and blank lines are skipped, and
 * so is a first line that names the columns (every field starts with a letter or '_' and is
 * not nan/inf). Lines of any length. Returns rows x ABR_OBS_DIM floats (caller frees) and
 * *rows >= 1, or NULL with "path:line: ..." in err. */
float *obs_csv_read(const char *path, int *rows, PmError *err);
#endif
