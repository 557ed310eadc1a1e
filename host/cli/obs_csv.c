/* obs_csv.c: the observation rows of `pamoe act` (obs_csv.h). */
#include "obs_csv.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abr.h"
#include "numparse.h"

/* Splits a line into fields: at commas when it has one (each field trimmed; an empty field
 * is kept, as ""), else at blanks. Returns the field count (fields beyond `cap` counted). */
static int split_fields(char *line, char **field, int cap) {
    int n = 0, commas = strchr(line, ',') != NULL;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p && !commas) break;
        char *start = p;
        while (*p && (commas ? *p != ',' : *p != ' ' && *p != '\t')) p++;
        char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        int last = !*p;
        *end = 0;
        if (n < cap) field[n] = start;
        n++;
        if (last) break;
        p++;
        if (!commas && !*p) break;
    }
    return n;
}

/* A header names its columns: every field starts with a letter or '_' (so "1,2,x" or
 * "nan,..." rows are data with an error, never a skipped header). */
static int is_header(char **field, int n) {
    if (n != ABR_OBS_DIM) return 0;
    for (int i = 0; i < n; i++) {
        if (!isalpha((unsigned char)field[i][0]) && field[i][0] != '_') return 0;
        double d;
        if (!pm_parse_double(field[i], &d) || !strcasecmp(field[i], "nan") || !strncasecmp(field[i], "inf", 3)) return 0;
    }
    return 1;
}

float *obs_csv_read(const char *path, int *rows_out, PmError *err) {
    FILE *f = fopen(path, "r");
    if (!f) { pm_error(err, "--obs %s: %s", path, strerror(errno)); return NULL; }
    int cap = 64, rows = 0, data_seen = 0;
    long lineno = 0;
    float *x = xmalloc(sizeof(float) * ABR_OBS_DIM * cap);
    char *line = NULL, *field[ABR_OBS_DIM];
    size_t line_cap = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        if ((size_t)len != strlen(line)) { rc = pm_error(err, "%s:%ld: NUL byte in the line", path, lineno); break; }
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || !*p) continue;
        int n = split_fields(p, field, ABR_OBS_DIM);
        if (!data_seen++ && is_header(field, n)) continue;
        if (n != ABR_OBS_DIM) { rc = pm_error(err, "%s:%ld: expected %d numbers (a 6x8 observation), got %d fields", path, lineno, ABR_OBS_DIM, n); break; }
        if (rows == cap) x = xrealloc(x, sizeof(float) * ABR_OBS_DIM * (cap *= 2));
        for (int i = 0; i < n; i++) {
            double d;
            if (pm_parse_double(field[i], &d) || fabs(d) > FLT_MAX) { /* the network reads float32 */
                rc = pm_error(err, "%s:%ld: field %d '%s' is not a finite number (float32)", path, lineno, i + 1, field[i]);
                break;
            }
            x[(size_t)rows * ABR_OBS_DIM + i] = (float)d;
        }
        rows++;
    }
    if (!rc && ferror(f)) rc = pm_error(err, "--obs %s: read error: %s", path, strerror(errno));
    if (!rc && !rows) rc = pm_error(err, "%s: no observation rows", path);
    free(line);
    fclose(f);
    if (rc) { free(x); return NULL; }
    *rows_out = rows;
    return x;
}
