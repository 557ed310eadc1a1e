/* sweep_file.c: parsing and validation of a sweep file. The file is read by the config
 * module's strict .ini reader (ini_strict), which gives every entry its line, so every error
 * names the file, the line and the key. Values are validated by the config module itself
 * (each one is applied to a scratch configuration), so a sweep accepts exactly what
 * `pamoe train --set` accepts. */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "ini_strict.h"
#include "sweep.h"

/* Keys that say how a run executes, not what it computes: varying them would only repeat
 * runs, and runs is the packing's own decision. */
static const char *const FIXED_KEYS[] = {"runs", "threads", "device"};

typedef struct {
    char names[SWEEP_MAX_AXES][64];
    int n, line;
} ZipLine;

typedef struct {
    SweepFile *sf;
    int line;
    PmError *err;
    TrainConfig *scratch;
    ZipLine zips[SWEEP_MAX_AXES];
    int n_zips;
} ParseCtx;

static char *read_text(const char *path, PmError *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { pm_error(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = xrealloc(buf, cap *= 2);
    }
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* config_set's message without its "--set ...: " prefix (the caller names file:line:key). */
static const char *set_message(const PmError *e) {
    if (strncmp(e->msg, "--set", 5)) return e->msg;
    const char *p = strstr(e->msg, ": ");
    return p ? p + 2 : e->msg;
}

/* Applies key = value to the scratch config: 0, or -1 with "FILE:LINE: key: reason". */
static int check_value(ParseCtx *ctx, const char *key, const char *value) {
    size_t len = strlen(key) + strlen(value) + 16;
    char *assign = xmalloc(len);
    PmError e;
    const char *keys[2] = {key, NULL};
    if (!strcmp(key, "kind")) keys[0] = "policy", keys[1] = "value";
    int rc = 0;
    for (int i = 0; i < 2 && keys[i] && !rc; i++) {
        snprintf(assign, len, "%s=%s", keys[i], value);
        if (config_set(ctx->scratch, assign, &e))
            rc = pm_error(ctx->err, "%s:%d: %s: %s", ctx->sf->path, ctx->line, key, set_message(&e));
    }
    free(assign);
    return rc;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int add_value(SweepAxis *a, const char *v) {
    a->values = xrealloc(a->values, (size_t)(a->n + 1) * sizeof *a->values);
    a->values[a->n++] = xstrdup(v);
    return 0;
}

/* "1-20" for integer keys: 1, 2, ..., 20. 1 when tok was a range (expanded), 0 when not, -1 error. */
static int expand_range(ParseCtx *ctx, SweepAxis *a, const char *tok) {
    if (a->type != CONFIG_INT) return 0;
    char *end;
    long lo = strtol(tok, &end, 10);
    if (end == tok || *end != '-') return 0;
    const char *rest = end + 1;
    long hi = strtol(rest, &end, 10);
    if (end == rest || *end) return 0;
    if (hi < lo) return pm_error(ctx->err, "%s:%d: %s: range '%s' is empty (the end is below the start)", ctx->sf->path, ctx->line, a->key, tok);
    if (hi - lo >= 1000000) return pm_error(ctx->err, "%s:%d: %s: range '%s' is too long", ctx->sf->path, ctx->line, a->key, tok);
    for (long v = lo; v <= hi; v++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", v);
        if (check_value(ctx, a->key, buf)) return -1;
        add_value(a, buf);
    }
    return 1;
}

static int parse_axis(ParseCtx *ctx, const char *key, const char *value) {
    SweepFile *sf = ctx->sf;
    for (int i = 0; i < sf->n_axes; i++)
        if (!strcmp(sf->axes[i].key, key))
            return pm_error(ctx->err, "%s:%d: %s: axis given twice (first at line %d)", sf->path, ctx->line, key, sf->axes[i].line);
    if (sf->n_axes == SWEEP_MAX_AXES)
        return pm_error(ctx->err, "%s:%d: %s: more than %d axes", sf->path, ctx->line, key, SWEEP_MAX_AXES);
    SweepAxis *a = &sf->axes[sf->n_axes];
    memset(a, 0, sizeof *a);
    snprintf(a->key, sizeof a->key, "%s", key);
    const char *dot = strchr(key, '.');
    snprintf(a->name, sizeof a->name, "%s", dot ? dot + 1 : key);
    a->line = ctx->line;
    if (!strcmp(a->name, "kind")) {
        a->cfg = -1;
        a->type = CONFIG_TEXT;
    } else {
        a->cfg = config_find(key);
        if (a->cfg < 0) return pm_error(ctx->err, "%s:%d: %s: unknown key (see configs/paper.ini for every key)", sf->path, ctx->line, key);
        for (int i = 0; i < PM_ARRAY_LEN(FIXED_KEYS); i++)
            if (!strcmp(a->name, FIXED_KEYS[i]))
                return pm_error(ctx->err, "%s:%d: %s: cannot vary (it says how runs execute, not what they compute; set it outside [sweep])",
                                sf->path, ctx->line, key);
        a->per_run = config_per_run(a->cfg);
        a->type = config_value_kind(a->cfg);
    }
    sf->n_axes++; /* owned from here: sweep_file_free releases its values on error */
    char *buf = xstrdup(value), *rest = buf;
    int rc = 0;
    if (!*trim(buf)) rc = pm_error(ctx->err, "%s:%d: %s: empty axis (give a comma list of values)", sf->path, ctx->line, key);
    /* strsep, not strtok: "1,,2" and a trailing comma are errors, not silently skipped */
    for (char *tok; !rc && (tok = strsep(&rest, ",")) != NULL;) {
        tok = trim(tok);
        if (!*tok) { rc = pm_error(ctx->err, "%s:%d: %s: empty value in the list", sf->path, ctx->line, key); break; }
        int r = expand_range(ctx, a, tok);
        if (r < 0) rc = -1;
        else if (r == 0) {
            if (check_value(ctx, key, tok)) rc = -1;
            else add_value(a, tok);
        }
    }
    free(buf);
    return rc;
}

static int parse_zip(ParseCtx *ctx, const char *value) {
    if (ctx->n_zips == SWEEP_MAX_AXES)
        return pm_error(ctx->err, "%s:%d: zip: too many zip lines", ctx->sf->path, ctx->line);
    ZipLine *z = &ctx->zips[ctx->n_zips++];
    memset(z, 0, sizeof *z);
    z->line = ctx->line;
    char *buf = xstrdup(value), *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (z->n == SWEEP_MAX_AXES) break;
        snprintf(z->names[z->n++], sizeof z->names[0], "%s", tok);
    }
    free(buf);
    if (z->n < 2) return pm_error(ctx->err, "%s:%d: zip: name at least two axes (zip = a,b)", ctx->sf->path, ctx->line);
    return 0;
}

static int parse_limit(ParseCtx *ctx, const char *name, const char *value) {
    static const char *const names[] = {"max_runs", "task_runs", "task_memory_mib", "task_hours", "steps_per_second"};
    static const double lo[] = {1, 1, 1, 1e-3, 1}, hi[] = {1e7, CONFIG_MAX_RUNS, 1e9, 1e6, 1e12};
    SweepFile *sf = ctx->sf;
    for (int i = 0; i < PM_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i])) continue;
        char *end;
        double v = strtod(value, &end);
        if (end == value || *trim(end) || v < lo[i] || v > hi[i] || ((i < 2) && v != (long)v))
            return pm_error(ctx->err, "%s:%d: limits.%s: '%s' is not a %s in [%g, %g]", sf->path, ctx->line, name, value,
                            i < 2 ? "whole number" : "number", lo[i], hi[i]);
        switch (i) {
        case 0: sf->max_runs = (long)v; break;
        case 1: sf->task_runs = (int)v; break;
        case 2: sf->task_memory_mib = v; break;
        case 3: sf->task_hours = v; break;
        case 4: sf->steps_per_second = v; break;
        }
        return 0;
    }
    return pm_error(ctx->err, "%s:%d: limits.%s: unknown key (max_runs, task_runs, task_memory_mib, task_hours, steps_per_second)",
                    sf->path, ctx->line, name);
}

static int parse_override(ParseCtx *ctx, const char *section, const char *name, const char *value) {
    SweepFile *sf = ctx->sf;
    char key[128];
    if (*section) snprintf(key, sizeof key, "%s.%s", section, name);
    else snprintf(key, sizeof key, "%s", name);
    if (strcmp(name, "kind")) {
        int k = config_find(key);
        if (k < 0) {
            if (*section && config_find(name) >= 0)
                return pm_error(ctx->err, "%s:%d: %s: key '%s' is not in section [%s]", sf->path, ctx->line, key, name, section);
            return pm_error(ctx->err, "%s:%d: %s: unknown key", sf->path, ctx->line, key);
        }
        if (!strcmp(name, "runs"))
            return pm_error(ctx->err, "%s:%d: %s: a sweep sets run.runs itself (it packs runs into tasks; see [limits] task_runs)", sf->path, ctx->line, key);
    }
    for (int o = 0; o < sf->n_overrides; o++) {
        const SweepOverride *prev = &sf->overrides[o];
        if (config_find(prev->key) == config_find(key) && (strcmp(name, "kind") || !strcmp(prev->key, key)))
            return pm_error(ctx->err, "%s:%d: %s: given twice (first at line %d)", sf->path, ctx->line, key, prev->line);
    }
    if (check_value(ctx, key, value)) return -1;
    if (strlen(value) >= sizeof sf->overrides[0].value)
        return pm_error(ctx->err, "%s:%d: %s: value too long", sf->path, ctx->line, key);
    sf->overrides = xrealloc(sf->overrides, (size_t)(sf->n_overrides + 1) * sizeof *sf->overrides);
    SweepOverride *o = &sf->overrides[sf->n_overrides++];
    snprintf(o->key, sizeof o->key, "%s", key);
    snprintf(o->value, sizeof o->value, "%s", value);
    o->line = ctx->line;
    return 0;
}

static int on_entry(void *user, const char *section, const char *name, const char *value, long line, PmError *err) {
    ParseCtx *ctx = user;
    SweepFile *sf = ctx->sf;
    ctx->line = (int)line;
    ctx->err = err;
    int rc;
    if (!*section && !strcmp(name, "base")) {
        if (!*value) rc = pm_error(ctx->err, "%s:%d: base: empty path", sf->path, ctx->line);
        else {
            rc = 0;
            sf->base_line = ctx->line;
            if (value[0] == '/') snprintf(sf->base, sizeof sf->base, "%s", value);
            else {
                char *copy = xstrdup(sf->path);
                snprintf(sf->base, sizeof sf->base, "%s/%s", dirname(copy), value);
                free(copy);
            }
        }
    } else if (!strcmp(section, "sweep")) {
        rc = !strcmp(name, "zip") ? parse_zip(ctx, value) : parse_axis(ctx, name, value);
    } else if (!strcmp(section, "limits")) {
        rc = parse_limit(ctx, name, value);
    } else {
        rc = parse_override(ctx, section, name, value);
    }
    return rc ? -1 : 0;
}

static int axis_index(const SweepFile *sf, const char *name) {
    for (int i = 0; i < sf->n_axes; i++)
        if (!strcmp(sf->axes[i].key, name) || !strcmp(sf->axes[i].name, name)) return i;
    return -1;
}

/* Zip groups, conflicts between axes and overrides, and the grid limit. */
static int check_grid(ParseCtx *ctx) {
    SweepFile *sf = ctx->sf;
    int zip_of[SWEEP_MAX_AXES];
    for (int i = 0; i < SWEEP_MAX_AXES; i++) zip_of[i] = -1;
    for (int z = 0; z < ctx->n_zips; z++) {
        const ZipLine *zl = &ctx->zips[z];
        for (int j = 0; j < zl->n; j++) {
            int a = axis_index(sf, zl->names[j]);
            if (a < 0) return pm_error(ctx->err, "%s:%d: zip: '%s' is not an axis of [sweep]", sf->path, zl->line, zl->names[j]);
            if (zip_of[a] >= 0) return pm_error(ctx->err, "%s:%d: zip: '%s' is already zipped (line %d)", sf->path, zl->line, zl->names[j], ctx->zips[zip_of[a]].line);
            zip_of[a] = z;
            int a0 = axis_index(sf, zl->names[0]);
            if (sf->axes[a].n != sf->axes[a0].n)
                return pm_error(ctx->err, "%s:%d: zip: '%s' has %d values but '%s' has %d (zipped axes need equal lengths)", sf->path,
                                zl->line, zl->names[j], sf->axes[a].n, zl->names[0], sf->axes[a0].n);
        }
    }
    sf->n_groups = 0;
    for (int a = 0; a < sf->n_axes; a++) {
        sf->axes[a].group = -1;
        if (zip_of[a] >= 0)
            for (int b = 0; b < a; b++)
                if (zip_of[b] == zip_of[a]) { sf->axes[a].group = sf->axes[b].group; break; }
        if (sf->axes[a].group < 0) {
            sf->axes[a].group = sf->n_groups;
            sf->group_size[sf->n_groups++] = sf->axes[a].n;
        }
    }
    /* kind sets policy and value: varying both ways at once is ambiguous */
    for (int a = 0; a < sf->n_axes; a++) {
        if (strcmp(sf->axes[a].name, "policy") && strcmp(sf->axes[a].name, "value")) continue;
        int k = axis_index(sf, "kind");
        if (k >= 0) return pm_error(ctx->err, "%s:%d: %s: kind (line %d) already sets policy and value; vary one or the other", sf->path, sf->axes[a].line, sf->axes[a].key, sf->axes[k].line);
    }
    for (int o = 0; o < sf->n_overrides; o++) {
        const char *on = strchr(sf->overrides[o].key, '.') ? strchr(sf->overrides[o].key, '.') + 1 : sf->overrides[o].key;
        int a = axis_index(sf, on);
        if (a >= 0) return pm_error(ctx->err, "%s:%d: %s: also an axis of [sweep] (line %d); give it in one place", sf->path, sf->overrides[o].line, sf->overrides[o].key, sf->axes[a].line);
    }
    double total = 1;
    for (int g = 0; g < sf->n_groups; g++) total *= sf->group_size[g];
    if (total > sf->max_runs)
        return pm_error(ctx->err, "%s:%d: [sweep]: the grid has %.0f runs, above limits.max_runs = %ld (raise it in [limits] if you mean it)", sf->path,
                        sf->n_axes ? sf->axes[0].line : 1, total, sf->max_runs);
    return 0;
}

SweepFile *sweep_file_load(const char *path, const char *base_override, PmError *err) {
    SweepFile *sf = xcalloc(1, sizeof *sf);
    snprintf(sf->path, sizeof sf->path, "%s", path);
    sf->max_runs = 10000;
    sf->task_runs = 64;
    sf->task_memory_mib = 4096;
    sf->task_hours = 4;
    sf->steps_per_second = 100000;
    ParseCtx ctx = {0};
    ctx.sf = sf;
    ctx.err = err;
    ctx.scratch = xmalloc(sizeof *ctx.scratch);
    config_defaults(ctx.scratch);
    if (!(sf->text = read_text(path, err))) goto fail;
    if (ini_read_strict(path, on_entry, &ctx, err)) goto fail;
    if (base_override) snprintf(sf->base, sizeof sf->base, "%s", base_override);
    if (!*sf->base) { pm_error(err, "%s: missing `base = CONFIG.ini` (the configuration the sweep varies)", path); goto fail; }
    if (!sf->n_axes) { pm_error(err, "%s: no [sweep] section with at least one axis (e.g. seed = 1-10)", path); goto fail; }
    if (check_grid(&ctx)) goto fail;
    config_defaults(ctx.scratch);
    if (config_load_file(ctx.scratch, sf->base, err)) {
        PmError inner = *err;
        pm_error(err, "%s:%d: base: %.900s", path, sf->base_line, inner.msg);
        goto fail;
    }
    if (!(sf->base_text = read_text(sf->base, err))) goto fail;
    free(ctx.scratch);
    return sf;
fail:
    free(ctx.scratch);
    sweep_file_free(sf);
    return NULL;
}

void sweep_file_free(SweepFile *sf) {
    if (!sf) return;
    for (int a = 0; a < sf->n_axes; a++) {
        for (int i = 0; i < sf->axes[a].n; i++) free(sf->axes[a].values[i]);
        free(sf->axes[a].values);
    }
    free(sf->overrides);
    free(sf->text);
    free(sf->base_text);
    free(sf);
}
