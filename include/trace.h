/* trace.h: Pensieve-format bandwidth traces (environment.md section 2, defects 12-13, docs/reference/README.md).
 * A trace file holds one sample per line, `time_s bandwidth_Mbps [ignored fields...]`,
 * whitespace separated. A trace directory is every regular file in it, in SORTED name order
 * (defect 13: the reference uses the OS listing order, which is not portable). Bandwidth is
 * multiplied by `scale` at load time (2.0 in training, 1.0 in evaluation; defect 12) and the
 * high/low/hybrid filter applies to the mean of the SCALED bandwidth. */
#ifndef PAMOE_TRACE_H
#define PAMOE_TRACE_H
#include "common.h"

typedef enum {
    TRACE_HYBRID = 0, /* keep all */
    TRACE_HIGH = 1,   /* keep if mean(scaled bw) > 3.0 */
    TRACE_LOW = 2     /* keep if mean(scaled bw) < 2.0 */
} TraceFilter;

typedef struct {
    char *name;    /* file name without the directory */
    int m;         /* samples, >= 2 */
    double *time;  /* (m) seconds, strictly increasing */
    double *bw;    /* (m) scaled Mbps: scale * field 1, as the reference computes it */
    double *thr;   /* (m) bytes per second = bw * 1e6 / 8 (the simulator's `thr`) */
    double mean_bw; /* mean of bw (scaled) over all lines */
} Trace;

typedef struct {
    int n;
    Trace *traces; /* (n) in sorted file-name order */
    double scale;  /* bandwidth multiplier applied at load */
} TraceSet;

/* Parses "high", "low", "hybrid"; -1 otherwise. */
int trace_filter_parse(const char *s);
const char *trace_filter_name(TraceFilter f);

/* Loads one file into *out (caller frees with trace_clear). 0 on success; on error -1 with
 * err naming file and line, and nothing allocated. */
int trace_load_file(const char *path, double scale, Trace *out, PmError *err);
void trace_clear(Trace *t);

/* Loads every regular file of `dir` (sorted names, dot files skipped), keeps those passing
 * `filter`. NULL + err on any bad file, an unreadable directory, or no trace left. */
TraceSet *trace_set_load_dir(const char *dir, double scale, TraceFilter filter, PmError *err);
/* A set of exactly one file (replay). */
TraceSet *trace_set_load_file(const char *path, double scale, PmError *err);
void trace_set_free(TraceSet *ts);
#endif
