/* ini_strict.h: the .ini reader of config.c. Private to host/core. */
#ifndef PAMOE_INI_STRICT_H
#define PAMOE_INI_STRICT_H
#include "common.h"

#define INI_MAX_LINE (1 << 20)

/* One `key = value` line: section "" before the first [section]; key and value trimmed.
 * Returns 0, or -1 with err filled (the reader prefixes nothing: the callback names file:line). */
typedef int (*IniEntryFn)(void *user, const char *section, const char *key, const char *value, long line,
                          PmError *err);

/* Reads `path`, calling fn per key line in file order. -1 + "path:line: ..." on the first
 * syntax error, or the callback's error. */
int ini_read_strict(const char *path, IniEntryFn fn, void *user, PmError *err);
#endif
