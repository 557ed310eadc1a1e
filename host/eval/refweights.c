/* refweights.c: loader of the reference's converted evaluation checkpoints (.f32 +
 * .manifest.tsv, data README "weights/") and the Pensieve-style trunk the three reference
 * agents share (baselines.md 7-9, networks.md 12). */
#include "refweights.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The manifest prints each sum with 9 significant digits: a correct file is within half a
 * unit of the 9th digit (5e-9 relative) of it, plus the float64 rounding of a different
 * summation order (< 1e-12 of sum |x| for 1e5 terms). One changed value of typical size
 * (~0.05) moves a sum by far more than that bound on every tensor here. */
#define REFW_SUM_RTOL 1e-8
#define REFW_SUM_ATOL_ABS 1e-11

static int parse_shape(const char *s, RefTensor *t) {
    t->ndim = 0;
    const char *p = s;
    while (*p) {
        if (t->ndim >= REFW_MAX_DIMS) return -1;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v <= 0 || v > 1 << 24) return -1;
        t->shape[t->ndim++] = (int)v;
        p = end;
        if (*p == 'x') {
            p++;
            if (!*p) return -1;
        } else if (*p) {
            return -1;
        }
    }
    return t->ndim > 0 ? 0 : -1;
}

static long shape_count(const RefTensor *t) {
    long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static void shape_str(const RefTensor *t, char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < t->ndim; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%d", i ? "x" : "", t->shape[i]);
    }
}

static int read_manifest(RefWeights *w, PmError *err) {
    FILE *f = fopen(w->manifest_path, "r");
    if (!f) return pm_error(err, "%s: %s", w->manifest_path, strerror(errno));
    char line[1024];
    int lineno = 0, cap = 0, rc = 0;
    long next_offset = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = pm_error(err, "%s:%d: line too long", w->manifest_path, lineno);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        char *field[6];
        int nf = 0;
        for (char *p = line; nf < 6;) {
            field[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (nf != 5) {
            rc = pm_error(err, "%s:%d: expected 5 tab-separated fields (name, shape, offset, "
                          "count, sum), got %d", w->manifest_path, lineno, nf);
            break;
        }
        if (w->n_tensors == cap) {
            cap = cap ? 2 * cap : 64;
            w->tensors = xrealloc(w->tensors, (size_t)cap * sizeof *w->tensors);
        }
        RefTensor *t = &w->tensors[w->n_tensors];
        memset(t, 0, sizeof *t);
        t->line = lineno;
        if (strlen(field[0]) == 0 || strlen(field[0]) >= sizeof t->name) {
            rc = pm_error(err, "%s:%d: empty or too long tensor name", w->manifest_path, lineno);
            break;
        }
        strcpy(t->name, field[0]);
        if (parse_shape(field[1], t)) {
            rc = pm_error(err, "%s:%d: tensor %s: bad shape '%s' (expected e.g. 128x768)",
                          w->manifest_path, lineno, t->name, field[1]);
            break;
        }
        char *end1, *end2, *end3;
        errno = 0;
        t->offset = strtol(field[2], &end1, 10);
        t->count = strtol(field[3], &end2, 10);
        t->sum = strtod(field[4], &end3);
        if (errno || *end1 || *end2 || *end3 || end1 == field[2] || end2 == field[3] ||
            end3 == field[4] || !isfinite(t->sum)) {
            rc = pm_error(err, "%s:%d: tensor %s: offset, count and sum must be numbers",
                          w->manifest_path, lineno, t->name);
            break;
        }
        if (t->count != shape_count(t)) {
            rc = pm_error(err, "%s:%d: tensor %s: count %ld but shape %s has %ld values",
                          w->manifest_path, lineno, t->name, t->count, field[1], shape_count(t));
            break;
        }
        if (t->offset != next_offset) {
            rc = pm_error(err, "%s:%d: tensor %s: offset %ld, expected %ld (tensors are stored "
                          "back to back in manifest order)", w->manifest_path, lineno, t->name,
                          t->offset, next_offset);
            break;
        }
        for (int i = 0; i < w->n_tensors; i++)
            if (!strcmp(w->tensors[i].name, t->name)) {
                rc = pm_error(err, "%s:%d: tensor %s listed twice (first on line %d)",
                              w->manifest_path, lineno, t->name, w->tensors[i].line);
                break;
            }
        if (rc) break;
        next_offset += t->count;
        w->n_tensors++;
    }
    if (!rc && ferror(f)) rc = pm_error(err, "%s: read error", w->manifest_path);
    fclose(f);
    if (!rc && w->n_tensors == 0) rc = pm_error(err, "%s: no tensors", w->manifest_path);
    w->n_floats = next_offset;
    return rc;
}

static int read_data(RefWeights *w, PmError *err) {
    FILE *f = fopen(w->data_path, "rb");
    if (!f) return pm_error(err, "%s: %s", w->data_path, strerror(errno));
    if (fseek(f, 0, SEEK_END)) {
        fclose(f);
        return pm_error(err, "%s: cannot seek: %s", w->data_path, strerror(errno));
    }
    long bytes = ftell(f);
    rewind(f);
    if (bytes != w->n_floats * 4) {
        fclose(f);
        return pm_error(err, "%s: %ld bytes, but %s lists %ld float32 values (%ld bytes)",
                        w->data_path, bytes, w->manifest_path, w->n_floats, w->n_floats * 4);
    }
    w->data = xmalloc((size_t)w->n_floats * sizeof(float));
    size_t got = fread(w->data, sizeof(float), (size_t)w->n_floats, f);
    fclose(f);
    if (got != (size_t)w->n_floats) return pm_error(err, "%s: short read", w->data_path);
    /* The files are little-endian; swap on a big-endian host. */
    const uint32_t one = 1;
    if (*(const uint8_t *)&one == 0) {
        uint32_t *u = (uint32_t *)w->data;
        for (long i = 0; i < w->n_floats; i++)
            u[i] = (u[i] >> 24) | ((u[i] >> 8) & 0xff00u) | ((u[i] << 8) & 0xff0000u) | (u[i] << 24);
    }
    for (int k = 0; k < w->n_tensors; k++) {
        const RefTensor *t = &w->tensors[k];
        double s = 0, sabs = 0;
        for (long i = t->offset; i < t->offset + t->count; i++) {
            if (!isfinite(w->data[i]))
                return pm_error(err, "%s: tensor %s (%s:%d) holds a non-finite value at %ld",
                                w->data_path, t->name, w->manifest_path, t->line, i - t->offset);
            s += w->data[i];
            sabs += fabs(w->data[i]);
        }
        if (fabs(s - t->sum) > REFW_SUM_RTOL * fabs(t->sum) + REFW_SUM_ATOL_ABS * sabs + 1e-12)
            return pm_error(err, "%s: tensor %s: sum of values %.9g, %s:%d says %.9g (corrupt "
                            "file or a manifest of another checkpoint)", w->data_path, t->name,
                            s, w->manifest_path, t->line, t->sum);
    }
    return 0;
}

int refweights_load(RefWeights *w, const char *dir, const char *name, PmError *err) {
    memset(w, 0, sizeof *w);
    if ((size_t)snprintf(w->manifest_path, sizeof w->manifest_path, "%s/%s.manifest.tsv", dir,
                         name) >= sizeof w->manifest_path ||
        (size_t)snprintf(w->data_path, sizeof w->data_path, "%s/%s.f32", dir, name) >=
            sizeof w->data_path)
        return pm_error(err, "weights directory path too long: %s", dir);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return pm_error(err, "%s: weights directory %s not found: install the reference's "
                             "checkpoints with `pamoe import-reference --pa-moe DIR` (README, Real "
                             "data), or give the agent option weights=DIR", w->manifest_path, dir);
    if (read_manifest(w, err) || read_data(w, err)) {
        refweights_free(w);
        return -1;
    }
    return 0;
}

void refweights_free(RefWeights *w) {
    if (!w) return;
    free(w->data);
    free(w->tensors);
    w->data = NULL;
    w->tensors = NULL;
    w->n_tensors = 0;
    w->n_floats = 0;
}

const float *refweights_take(RefWeights *w, const char *name, const char *shape,
                             const char *who, PmError *err) {
    RefTensor want;
    memset(&want, 0, sizeof want);
    if (parse_shape(shape, &want)) {
        pm_error(err, "refweights_take: bad shape string '%s'", shape);
        return NULL;
    }
    for (int k = 0; k < w->n_tensors; k++) {
        RefTensor *t = &w->tensors[k];
        if (strcmp(t->name, name)) continue;
        int same = t->ndim == want.ndim;
        for (int i = 0; same && i < t->ndim; i++) same = t->shape[i] == want.shape[i];
        if (!same) {
            char got[64];
            shape_str(t, got, sizeof got);
            pm_error(err, "%s:%d: tensor %s has shape %s, %s expects %s", w->manifest_path,
                     t->line, name, got, who, shape);
            return NULL;
        }
        t->taken = 1;
        return w->data + t->offset;
    }
    pm_error(err, "%s: no tensor '%s' (%s expects one of shape %s)", w->manifest_path, name, who,
             shape);
    return NULL;
}

int refweights_check_all_taken(const RefWeights *w, const char *who, PmError *err) {
    for (int k = 0; k < w->n_tensors; k++)
        if (!w->tensors[k].taken)
            return pm_error(err, "%s:%d: tensor %s is not part of the %s architecture",
                            w->manifest_path, w->tensors[k].line, w->tensors[k].name, who);
    return 0;
}

int reftrunk_bind(RefTrunk *t, RefWeights *w, const char *prefix, const char *suffix,
                  int n_extra, int relu_out, const char *who, PmError *err) {
    static const struct {
        const char *layer;
        int in;
    } layers[7] = {{"fc1", 1}, {"fc2", 1}, {"conv1", 8}, {"conv2", 8},
                   {"conv3", 6}, {"fc3", 1}, {"fc4", REFTRUNK_CAT}};
    const float **slot[7][2] = {{&t->w1, &t->b1},   {&t->w2, &t->b2},   {&t->wc1, &t->bc1},
                                {&t->wc2, &t->bc2}, {&t->wc3, &t->bc3}, {&t->w3, &t->b3},
                                {&t->w4, &t->b4}};
    memset(t, 0, sizeof *t);
    if (n_extra < 0 || n_extra > REFTRUNK_MAX_EXTRA)
        return pm_error(err, "%s: %d extra trunk inputs (at most %d)", who, n_extra,
                        REFTRUNK_MAX_EXTRA);
    for (int i = 0; i < 7; i++) {
        char name[128], shape[32];
        int in = layers[i].in + (i == 6 ? n_extra : 0);
        snprintf(name, sizeof name, "%s%s%s.weight", prefix, layers[i].layer, suffix);
        snprintf(shape, sizeof shape, "%dx%d", REFTRUNK_F, in);
        if (!(*slot[i][0] = refweights_take(w, name, shape, who, err))) return -1;
        snprintf(name, sizeof name, "%s%s%s.bias", prefix, layers[i].layer, suffix);
        snprintf(shape, sizeof shape, "%d", REFTRUNK_F);
        if (!(*slot[i][1] = refweights_take(w, name, shape, who, err))) return -1;
    }
    t->n_extra = n_extra;
    t->relu_out = relu_out;
    return 0;
}

void refweights_linear(const float *W, const float *b, int m, int n, const double *x, double *y) {
    for (int i = 0; i < m; i++) {
        const float *row = W + (size_t)i * n;
        /* Four partial sums break the add-latency chain of one accumulator on the 768-wide
         * merge layer; the order change is far below float32 resolution. */
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            s0 += row[j] * x[j];
            s1 += row[j + 1] * x[j + 1];
            s2 += row[j + 2] * x[j + 2];
            s3 += row[j + 3] * x[j + 3];
        }
        for (; j < n; j++) s0 += row[j] * x[j];
        y[i] = (b ? b[i] : 0.0) + ((s0 + s1) + (s2 + s3));
    }
}

static void relu_inplace(double *v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] < 0) v[i] = 0;
}

void reftrunk_forward(const RefTrunk *t, const float *x, const double *extra, double *out) {
    enum { F = REFTRUNK_F };
    double cat[REFTRUNK_CAT + REFTRUNK_MAX_EXTRA]; /* t0..t5 then extra (Merina: 12) */
    double in[8];
    const int C = 8; /* columns of the observation */
    in[0] = x[0 * C + 7];
    refweights_linear(t->w1, t->b1, F, 1, in, cat + 0 * F);
    in[0] = x[1 * C + 7];
    refweights_linear(t->w2, t->b2, F, 1, in, cat + 1 * F);
    for (int j = 0; j < 8; j++) in[j] = x[2 * C + j];
    refweights_linear(t->wc1, t->bc1, F, 8, in, cat + 2 * F);
    for (int j = 0; j < 8; j++) in[j] = x[3 * C + j];
    refweights_linear(t->wc2, t->bc2, F, 8, in, cat + 3 * F);
    for (int j = 0; j < 6; j++) in[j] = x[4 * C + j];
    refweights_linear(t->wc3, t->bc3, F, 6, in, cat + 4 * F);
    in[0] = x[5 * C + 7];
    refweights_linear(t->w3, t->b3, F, 1, in, cat + 5 * F);
    relu_inplace(cat, REFTRUNK_CAT);
    for (int j = 0; j < t->n_extra; j++) cat[REFTRUNK_CAT + j] = extra[j];
    refweights_linear(t->w4, t->b4, F, REFTRUNK_CAT + t->n_extra, cat, out);
    if (t->relu_out) relu_inplace(out, F);
}

int refweights_log_softmax(const double *logits, int n, double *logp) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    double s = 0;
    for (int i = 0; i < n; i++) s += exp(logits[i] - logits[best]);
    double lse = logits[best] + log(s);
    for (int i = 0; i < n; i++) logp[i] = logits[i] - lse;
    return best;
}

int refweights_take_heads(RefWeights *w, RefHeads *h, const char *who, PmError *err) {
    return (h->pi_w = refweights_take(w, "pi_head.weight", "6x128", who, err)) &&
                   (h->pi_b = refweights_take(w, "pi_head.bias", "6", who, err)) &&
                   (h->v_w = refweights_take(w, "val_head.weight", "1x128", who, err)) &&
                   (h->v_b = refweights_take(w, "val_head.bias", "1", who, err))
               ? 0
               : -1;
}

Agent *refagent_new(size_t state_size, void (*reset)(Agent *), int (*act)(Agent *, const AbrObs *),
                    void (*destroy)(Agent *)) {
    Agent *a = xcalloc(1, sizeof *a);
    a->state = xcalloc(1, state_size);
    a->reset = reset;
    a->act = act;
    a->destroy = destroy;
    a->raw_obs = 1; /* the pipeline builds the input from the env's float64 values */
    return a;
}

Agent *refagent_fail(Agent *a, const char *spec, PmError *err) {
    if (err) { /* name the spec too: several agents run in one eval */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        pm_error(err, "agent '%s': %s", spec, msg);
    }
    agent_free(a);
    return NULL;
}

int refheads_policy(const RefHeads *heads, const double *h, double *logits) {
    refweights_linear(heads->pi_w, heads->pi_b, ABR_LEVELS, REFTRUNK_F, h, logits);
    int best = 0;
    for (int i = 1; i < ABR_LEVELS; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}
