/* fuzz_config.c: a config file plus --set assignments (config_load_file, config_set,
 * config_finalize). The input up to a line "--set" is the .ini file; each later line is one
 * --set key=value. Whatever is accepted must satisfy config.h's promises, and what
 * config_write_ini prints must read back to the same values. */
#include "config.h"
#include "fuzz_util.h"

#include <limits.h>
#include <math.h>

static void same_values(const TrainConfig *a, const TrainConfig *b) {
    char *va = malloc(CONFIG_VALUE_LEN), *vb = malloc(CONFIG_VALUE_LEN);
    for (int i = 0; i < config_count(); i++) {
        config_value_str(a, i, va, CONFIG_VALUE_LEN);
        config_value_str(b, i, vb, CONFIG_VALUE_LEN);
        if (strcmp(va, vb)) fprintf(stderr, "%s: '%s' read back as '%s'\n", config_key(i), va, vb);
        FUZZ_ASSERT(!strcmp(va, vb));
    }
    free(va);
    free(vb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 6 <= size; i++)
        if ((i == 0 || data[i - 1] == '\n') && !memcmp(data + i, "--set\n", 6)) { sep = data + i; break; }
    size_t file_len = sep ? (size_t)(sep - data) : size;
    TrainConfig *c = malloc(sizeof *c), *back = malloc(sizeof *back);
    PmError err;
    char path[64];
    int fd;
    config_defaults(c);
    int rc = config_load_file(c, fuzz_memfile(data, file_len, &fd, path, sizeof path), &err);
    close(fd);
    if (!rc && sep) { /* one --set per line; a NUL ends the assignment, as in argv */
        char *sets = malloc(size - file_len - 6 + 1);
        memcpy(sets, sep + 6, size - file_len - 6);
        sets[size - file_len - 6] = 0;
        for (char *save = NULL, *line = strtok_r(sets, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save))
            rc = config_set(c, line, &err);
        free(sets);
    }
    if (!rc && !config_finalize(c, &err)) {
        FUZZ_ASSERT(c->runs >= 1 && c->runs <= CONFIG_MAX_RUNS);
        FUZZ_ASSERT(c->total_timesteps % c->num_steps == 0);
        FUZZ_ASSERT(c->total_timesteps / c->num_steps <= INT_MAX);
        FUZZ_ASSERT(c->num_steps % c->envs_per_run == 0);
        for (int r = 0; r < c->runs; r++)
            FUZZ_ASSERT(isfinite(c->learning_rate[r]) && isfinite(c->noise_std[r]) && c->seed[r] >= 0);
        FUZZ_ASSERT(strcmp(config_choice_name(c, &c->policy), "?") && strcmp(config_choice_name(c, &c->rank_mode), "?"));
        /* the resolved config as an .ini reads back to the same values */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        config_write_ini(f, c, "fuzz");
        fclose(f);
        config_defaults(back);
        rc = config_load_file(back, fuzz_memfile((const uint8_t *)text, len, &fd, path, sizeof path), &err);
        close(fd);
        if (rc) fprintf(stderr, "written config does not read back: %s\n", err.msg);
        FUZZ_ASSERT(rc == 0);
        same_values(c, back);
        free(text);
    }
    free(c);
    free(back);
    return 0;
}
