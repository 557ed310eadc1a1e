/* numparse.c: whole-string number parsing (numparse.h). strtod/strtoll skip leading white
 * space and stop at the first bad character; both are refused here so "1x", " 1" and ""
 * never pass as numbers. */
#include "numparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int starts_clean(const char *s) { return s && *s && !isspace((unsigned char)*s); }

int pm_parse_double(const char *s, double *out) {
    if (!starts_clean(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return -1; /* ERANGE with a finite v: underflow, kept */
    *out = v;
    return 0;
}

int pm_parse_ll(const char *s, long long *out) {
    if (!starts_clean(s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) return -1;
    *out = v;
    return 0;
}

int pm_parse_ull(const char *s, unsigned long long *out) {
    if (!starts_clean(s) || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno) return -1;
    *out = v;
    return 0;
}
