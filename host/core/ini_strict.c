/* ini_strict.c: a strict .ini reader, written here because inih (Debian's libinih) is
 * configured at its build time, not ours: the packaged library splits lines at 200
 * characters (the tail of a long comment then parses as a setting), treats an indented line
 * as the continuation of the previous value, stops a value at a NUL byte, and reads a
 * directory as an empty file. Those are silent misreadings of a training config; here each
 * is an error naming the file and line, and lines may be as long as a per-run list needs.
 *
 * Grammar, line by line: blank; a comment starting with '#' or ';' (after blanks); a
 * `[section]`; or `key = value`, the value being everything after the '=' (trimmed): there
 * are no inline comments, so any value config_write_ini writes reads back unchanged. A UTF-8
 * byte-order mark before the first line is skipped. */
#include "ini_strict.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = 0;
    return s;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-') return 0;
    return 1;
}

static int parse_line(const char *path, long ln, char *raw, char *section, size_t section_cap, IniEntryFn fn,
                      void *user, PmError *err) {
    char *s = trim(raw);
    if (!*s || *s == '#' || *s == ';') return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close) return pm_error(err, "%s:%ld: syntax error: '[' without ']'", path, ln);
        char *rest = trim(close + 1);
        if (*rest && *rest != '#' && *rest != ';')
            return pm_error(err, "%s:%ld: syntax error: text after [section]", path, ln);
        *close = 0;
        char *name = trim(s + 1);
        if (!valid_name(name) || strlen(name) >= section_cap)
            return pm_error(err, "%s:%ld: syntax error: bad section name '%s'", path, ln, name);
        snprintf(section, section_cap, "%s", name);
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) return pm_error(err, "%s:%ld: syntax error (expected `key = value` or `[section]`)", path, ln);
    *eq = 0;
    char *key = trim(s), *value = eq + 1;
    if (!valid_name(key)) return pm_error(err, "%s:%ld: syntax error: bad key name '%s'", path, ln, key);
    return fn(user, section, key, trim(value), ln, err);
}

int ini_read_strict(const char *path, IniEntryFn fn, void *user, PmError *err) {
    struct stat st;
    /* stat before open: opening a FIFO would block */
    if (stat(path, &st)) return pm_error(err, "%s: cannot open config file: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return pm_error(err, "%s: cannot read config file: not a regular file", path);
    FILE *f = fopen(path, "r");
    if (!f) return pm_error(err, "%s: cannot open config file: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return pm_error(err, "%s: cannot read config file: not a regular file", path);
    }
    char section[64] = "", *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) != -1) {
        ln++;
        if (len > INI_MAX_LINE) { rc = pm_error(err, "%s:%ld: line longer than %d bytes", path, ln, INI_MAX_LINE); break; }
        if ((size_t)len != strlen(line)) { rc = pm_error(err, "%s:%ld: NUL byte in the line", path, ln); break; }
        if (len && line[len - 1] == '\n') line[--len] = 0;
        if (len && line[len - 1] == '\r') line[--len] = 0;
        char *s = line;
        if (ln == 1 && !strncmp(s, "\xEF\xBB\xBF", 3)) s += 3;
        rc = parse_line(path, ln, s, section, sizeof section, fn, user, err);
    }
    if (!rc && ferror(f)) rc = pm_error(err, "%s: read error: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}
