/* trace.c: loader of Pensieve-format bandwidth traces (see trace.h). Every malformed input
 * is reported with file and line; nothing stays allocated after an error. */
#include "trace.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "numparse.h"

int trace_filter_parse(const char *s) {
    if (!strcmp(s, "hybrid")) return TRACE_HYBRID;
    if (!strcmp(s, "high")) return TRACE_HIGH;
    if (!strcmp(s, "low")) return TRACE_LOW;
    return -1;
}

const char *trace_filter_name(TraceFilter f) {
    return f == TRACE_HIGH ? "high" : f == TRACE_LOW ? "low" : "hybrid";
}

void trace_clear(Trace *t) {
    if (!t) return;
    free(t->name);
    free(t->time);
    free(t->bw);
    free(t->thr);
    memset(t, 0, sizeof *t);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Bandwidth above this is a unit mix-up (bit/s or kbit/s), not a network. */
#define TRACE_MAX_MBPS 1e6

int trace_load_file(const char *path, double scale, Trace *out, PmError *err) {
    memset(out, 0, sizeof *out);
    /* stat before fopen: opening a FIFO would block, and a directory reads as an error. */
    struct stat st;
    if (stat(path, &st) != 0) return pm_error(err, "%s: cannot open trace: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return pm_error(err, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return pm_error(err, "%s: cannot open trace: %s", path, strerror(errno));
    int cap = 256, m = 0;
    double *time = xmalloc(sizeof(double) * cap), *bw = xmalloc(sizeof(double) * cap);
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    int rc = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            rc = pm_error(err, "%s:%ld: NUL byte in the line (not a text trace)", path, lineno);
            break;
        }
        char *save = NULL;
        char *t0 = strtok_r(line, " \t\r\n\v\f", &save);
        char *t1 = t0 ? strtok_r(NULL, " \t\r\n\v\f", &save) : NULL;
        if (!t1) {
            rc = pm_error(err, "%s:%ld: expected 2 numbers (time_s bandwidth_Mbps), got %d",
                          path, lineno, t0 ? 1 : 0);
            break;
        }
        double t, b;
        if (pm_parse_double(t0, &t)) {
            rc = pm_error(err, "%s:%ld: time '%s' is not a number", path, lineno, t0);
            break;
        }
        if (pm_parse_double(t1, &b)) {
            rc = pm_error(err, "%s:%ld: bandwidth '%s' is not a number", path, lineno, t1);
            break;
        }
        if (b < 0) {
            rc = pm_error(err, "%s:%ld: negative bandwidth %g", path, lineno, b);
            break;
        }
        if (b > TRACE_MAX_MBPS) {
            rc = pm_error(err, "%s:%ld: bandwidth %g Mbps is above %g (wrong unit?)", path,
                          lineno, b, TRACE_MAX_MBPS);
            break;
        }
        if (m > 0 && !(t > time[m - 1])) {
            rc = pm_error(err, "%s:%ld: time %g does not increase (previous %g)", path, lineno,
                          t, time[m - 1]);
            break;
        }
        if (m == cap) {
            cap *= 2;
            time = xrealloc(time, sizeof(double) * cap);
            bw = xrealloc(bw, sizeof(double) * cap);
        }
        time[m] = t;
        bw[m] = scale * b; /* the reference's `2 * float(field1)` */
        m++;
    }
    if (!rc && ferror(f)) rc = pm_error(err, "%s: read error", path);
    free(line);
    fclose(f);
    if (!rc && m == 0) rc = pm_error(err, "%s: empty trace file", path);
    if (!rc && m < 2)
        rc = pm_error(err, "%s:1: a trace needs at least 2 samples, got %d", path, m);
    if (!rc) {
        /* Segment i spans (time[i-1], time[i]] at bw[i]; with no positive segment the download
         * loop of environment.md 6 would never finish. */
        int any = 0;
        for (int i = 1; i < m; i++) any |= bw[i] > 0;
        if (!any)
            rc = pm_error(err, "%s:2: every bandwidth after the first line is 0 (nothing can "
                               "ever be downloaded)", path);
    }
    if (rc) {
        free(time);
        free(bw);
        return rc;
    }
    double sum = 0;
    double *thr = xmalloc(sizeof(double) * m);
    for (int i = 0; i < m; i++) {
        sum += bw[i];
        thr[i] = bw[i] * 1e6 / 8; /* same operations as the reference's per-chunk `thr` */
    }
    out->name = xstrdup(base_name(path));
    out->m = m;
    out->time = time;
    out->bw = bw;
    out->thr = thr;
    out->mean_bw = sum / m;
    return 0;
}

static int keep(const Trace *t, TraceFilter filter) {
    if (filter == TRACE_HIGH) return t->mean_bw > 3.0;
    if (filter == TRACE_LOW) return t->mean_bw < 2.0;
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void trace_set_free(TraceSet *ts) {
    if (!ts) return;
    for (int i = 0; i < ts->n; i++) trace_clear(&ts->traces[i]);
    free(ts->traces);
    free(ts);
}

TraceSet *trace_set_load_dir(const char *dir, double scale, TraceFilter filter, PmError *err) {
    if (!(scale > 0) || !isfinite(scale)) {
        pm_error(err, "%s: bandwidth scale must be positive, got %g", dir, scale);
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        pm_error(err, "%s: cannot open trace directory: %s", dir, strerror(errno));
        return NULL;
    }
    int n_names = 0, cap_names = 64;
    char **names = xmalloc(sizeof(char *) * cap_names);
    struct dirent *e;
    size_t dlen = strlen(dir);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = xmalloc(dlen + strlen(e->d_name) + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        /* Subdirectories are skipped; anything else that is not a regular file (a broken
         * link, a FIFO) is an error rather than a silently smaller training set. */
        struct stat st;
        if (stat(p, &st) != 0) {
            pm_error(err, "%s: cannot read trace: %s", p, strerror(errno));
            free(p);
            goto fail_listing;
        }
        if (S_ISDIR(st.st_mode)) {
            free(p);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            pm_error(err, "%s: not a regular file", p);
            free(p);
            goto fail_listing;
        }
        if (n_names == cap_names) names = xrealloc(names, sizeof(char *) * (cap_names *= 2));
        names[n_names++] = p;
    }
    closedir(d);
    if (0) {
    fail_listing:
        closedir(d);
        for (int i = 0; i < n_names; i++) free(names[i]);
        free(names);
        return NULL;
    }
    qsort(names, n_names, sizeof(char *), cmp_str);
    TraceSet *ts = xcalloc(1, sizeof *ts);
    ts->scale = scale;
    ts->traces = xcalloc(n_names ? n_names : 1, sizeof(Trace));
    int failed = 0;
    for (int i = 0; i < n_names && !failed; i++) {
        Trace t;
        if (trace_load_file(names[i], scale, &t, err)) {
            failed = 1;
            break;
        }
        if (keep(&t, filter)) ts->traces[ts->n++] = t;
        else trace_clear(&t);
    }
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    if (failed) {
        trace_set_free(ts);
        return NULL;
    }
    if (ts->n == 0) {
        if (n_names == 0) pm_error(err, "%s: no trace files in directory", dir);
        else
            pm_error(err, "%s: none of the %d traces passes the '%s' filter at bandwidth scale %g",
                     dir, n_names, trace_filter_name(filter), scale);
        trace_set_free(ts);
        return NULL;
    }
    return ts;
}

TraceSet *trace_set_load_file(const char *path, double scale, PmError *err) {
    if (!(scale > 0) || !isfinite(scale)) {
        pm_error(err, "%s: bandwidth scale must be positive, got %g", path, scale);
        return NULL;
    }
    Trace t;
    if (trace_load_file(path, scale, &t, err)) return NULL;
    TraceSet *ts = xcalloc(1, sizeof *ts);
    ts->scale = scale;
    ts->n = 1;
    ts->traces = xmalloc(sizeof(Trace));
    ts->traces[0] = t;
    return ts;
}
