/* common.h: error reporting, checked allocation and timing shared by every module.
 * User-input errors (a bad trace line, an unknown config key, a truncated checkpoint) are
 * reported through PmError and returned; library failures (CUDA, HDF5, out of memory) die
 * through check_die with the call text and file:line. */
#ifndef PAMOE_COMMON_H
#define PAMOE_COMMON_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char msg[1024]; /* "file:line: what is wrong" */
} PmError;

/* printf-style; returns -1 so callers can `return pm_error(err, ...)`. err may be NULL. */
int pm_error(PmError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "pamoe: file:line: call: reason" and exits 1. */
_Noreturn void check_die(const char *file, int line, const char *call, const char *reason);

void *xmalloc(size_t bytes);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t bytes);
char *xstrdup(const char *s);

double now_seconds(void); /* monotonic clock */

#define PM_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#endif
