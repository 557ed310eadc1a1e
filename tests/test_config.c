/* test_config.c: .ini parsing, --set, per-run lists and the error messages users see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];


static void write_ini(const char *text) {
    snprintf(path, sizeof path, "/tmp/pamoe_test_config_%d.ini", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults_are_reference(void **state) {
    (void)state;
    TrainConfig c;
    config_defaults(&c);
    PmError err;
    assert_int_equal(config_finalize(&c, &err), 0);
    assert_int_equal(c.num_steps, 2000);
    assert_int_equal(c.num_minibatches, 32);
    assert_int_equal(c.update_epochs, 5);
    assert_true(c.learning_rate[0] == 1e-3);
    assert_true(c.beta1 == 0.99 && c.beta2 == 0.99 && c.adam_eps == 1e-5);
    assert_true(c.weight_decay == 1e-4 && c.vf_coef == 5 && c.ent_coef == 0);
    assert_int_equal(c.seed[0], 2);
    assert_int_equal(c.policy, CFG_NET_PAMOE);
    assert_string_equal(config_choice_name(&c, &c.policy), "pamoe");
    assert_true(c.noise_std[0] == 1e-3);
}

static void test_file_and_set(void **state) {
    (void)state;
    TrainConfig c;
    config_defaults(&c);
    PmError err;
    write_ini("# comment\n[ppo]\nnum_steps = 100\nnum_minibatches = 4\n[net]\npolicy = mlp\n[run]\nruns = 3\nseed = 5\n");
    assert_int_equal(config_load_file(&c, path, &err), 0);
    assert_int_equal(config_set(&c, "value=smoe", &err), 0);
    assert_int_equal(config_set(&c, "noise.noise_std=0.001,0.005,0", &err), 0);
    assert_int_equal(config_set(&c, "total_timesteps=1000", &err), 0);
    assert_int_equal(config_finalize(&c, &err), 0);
    assert_int_equal(c.num_steps, 100);
    assert_int_equal(c.policy, CFG_NET_MLP);
    assert_int_equal(c.value, CFG_NET_SMOE);
    assert_int_equal(c.seed[0], 5);
    assert_int_equal(c.seed[2], 7); /* one seed broadcasts as seed, seed+1, ... */
    assert_true(c.noise_std[1] == 0.005 && c.noise_std[2] == 0);
    assert_true(c.learning_rate[2] == 1e-3);
    unlink(path);
}

static void expect_file_error(const char *text, const char *needle) {
    TrainConfig c;
    config_defaults(&c);
    PmError err = {{0}};
    write_ini(text);
    assert_int_equal(config_load_file(&c, path, &err), -1);
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
    unlink(path);
}

static void test_file_errors_name_line_and_key(void **state) {
    (void)state;
    char want[128];
    write_ini("");
    snprintf(want, sizeof want, "%s:3: unknown key 'lerning_rate'", path);
    expect_file_error("[ppo]\nnum_steps = 10\nlerning_rate = 1\n", want);
    snprintf(want, sizeof want, "%s:2: ppo.gamma: 'abc' is not a number", path);
    expect_file_error("[ppo]\ngamma = abc\n", want);
    expect_file_error("[ppo]\ngamma = 1.5\n", "out of range");
    expect_file_error("[net]\npolicy = transformer\n", "not one of mlp|moe|smoe|pamoe");
    expect_file_error("[net]\nnum_steps = 10\n", "belongs to [ppo]");
    expect_file_error("[ppo]\nnum_steps = 2.5\n", "not an integer");
    expect_file_error("[ppo\nnum_steps = 2\n", ":1: syntax error");
}

static void test_missing_file(void **state) {
    (void)state;
    TrainConfig c;
    config_defaults(&c);
    PmError err;
    assert_int_equal(config_load_file(&c, "/nonexistent/x.ini", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/x.ini: cannot open"));
}

static void test_finalize_errors(void **state) {
    (void)state;
    TrainConfig c;
    PmError err;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "total_timesteps=8000", &err), 0); /* 4 iterations < 10 phases */
    assert_int_equal(config_finalize(&c, &err), -1);
    assert_non_null(strstr(err.msg, "fewer than the 10 content phases"));
    config_defaults(&c);
    assert_int_equal(config_set(&c, "runs=2", &err), 0);
    assert_int_equal(config_set(&c, "learning_rate=1e-3,1e-4,1e-5", &err), 0);
    assert_int_equal(config_finalize(&c, &err), -1);
    assert_non_null(strstr(err.msg, "ppo.learning_rate: has 3 values but run.runs = 2"));
    config_defaults(&c);
    assert_int_equal(config_set(&c, "num_steps=1985", &err), 0); /* 1985 = 32 x 62 + 1: a 1-sample last minibatch */
    assert_int_equal(config_finalize(&c, &err), -1);
    assert_non_null(strstr(err.msg, "minibatch of 1 sample"));
    assert_int_equal(config_set(&c, "norm_adv=off", &err), 0);
    assert_int_equal(config_set(&c, "total_timesteps=1985000", &err), 0);
    assert_int_equal(config_finalize(&c, &err), 0);
    assert_int_equal(config_set(&c, "nokey=1", &err), -1);
    assert_non_null(strstr(err.msg, "unknown key 'nokey'"));
    assert_int_equal(config_set(&c, "seed=1,x", &err), -1);
    assert_non_null(strstr(err.msg, "element 2 'x' is not a number"));
}

/* What config_write_ini prints parses back to the same values. */
static void test_write_roundtrip(void **state) {
    (void)state;
    TrainConfig a, b;
    PmError err;
    config_defaults(&a);
    assert_int_equal(config_set(&a, "router=switch", &err), 0);
    assert_int_equal(config_set(&a, "gamma=0.9", &err), 0);
    write_ini("");
    FILE *f = fopen(path, "w");
    config_write_ini(f, &a, "test");
    fclose(f);
    config_defaults(&b);
    assert_int_equal(config_load_file(&b, path, &err), 0);
    for (int i = 0; i < config_count(); i++) {
        char va[300], vb[300];
        config_value_str(&a, i, va, sizeof va);
        config_value_str(&b, i, vb, sizeof vb);
        assert_string_equal(va, vb);
    }
    unlink(path);
}


/* The strict reader: each of inih's silent misreadings is an error naming file and line. */
static void test_strict_reader(void **state) {
    (void)state;
    char want[256];
    write_ini("");
    /* a duplicate key names both lines */
    snprintf(want, sizeof want, "%s:4: duplicate key ppo.gamma (first set at line 2)", path);
    expect_file_error("[ppo]\ngamma = 0.9\n\ngamma = 0.8\n", want);
    snprintf(want, sizeof want, "%s:3: duplicate key net.policy (first set at line 1)", path);
    expect_file_error("policy = mlp\n[net]\npolicy = moe\n", want);
    /* an indented line is its own line, never the continuation of the previous value */
    snprintf(want, sizeof want, "%s:3: syntax error", path);
    expect_file_error("[ppo]\ngamma = 0.9\n   0.95\n", want);
    /* NUL byte */
    snprintf(path, sizeof path, "/tmp/pamoe_test_config_%d.ini", (int)getpid());
    FILE *f = fopen(path, "wb");
    fwrite("[ppo]\n# c\ngamma = 0.9\0 junk\n", 1, 28, f);
    fclose(f);
    TrainConfig c;
    PmError err = {{0}};
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path, &err), -1);
    snprintf(want, sizeof want, "%s:3: NUL byte", path);
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
    unlink(path);
    /* exact line numbers after comments, blank lines and a CRLF line */
    snprintf(want, sizeof want, "%s:6: ppo.gamma: 'x' is not a number", path);
    expect_file_error("# a\n\n[ppo] ; c\r\n  num_steps = 100\n; b\ngamma = x\n", want);
    /* a directory is not a config */
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/tmp", &err), -1);
    assert_non_null(strstr(err.msg, "/tmp: cannot read config file: not a regular file"));
}

/* A 300-character comment stays a comment (inih split it at 200 and applied the tail), and a
 * long value line is read whole. */
static void test_long_lines(void **state) {
    (void)state;
    char text[20000], pad[300];
    memset(pad, 'x', sizeof pad);
    pad[sizeof pad - 1] = 0;
    memcpy(pad + 200, " gamma = 0.5", 12);
    snprintf(text, sizeof text, "# %s\n[ppo]\nnum_steps = 100\n", pad);
    TrainConfig *c = malloc(sizeof *c);
    PmError err;
    config_defaults(c);
    write_ini(text);
    assert_int_equal(config_load_file(c, path, &err), 0);
    assert_true(c->gamma == 0.99);
    assert_int_equal(c->num_steps, 100);
    /* 1000 runs with one learning rate each: a line of about 15 kB */
    int n = snprintf(text, sizeof text, "[run]\nruns = 1000\n[ppo]\nlearning_rate = ");
    for (int r = 0; r < 1000; r++) n += snprintf(text + n, sizeof text - n, "%s%.7f", r ? "," : "", 1e-3 + r * 1e-7);
    snprintf(text + n, sizeof text - n, "\n");
    write_ini(text);
    config_defaults(c);
    assert_int_equal(config_load_file(c, path, &err), 0);
    assert_int_equal(config_finalize(c, &err), 0);
    assert_true(fabs(c->learning_rate[999] - (1e-3 + 999e-7)) < 1e-12);
    assert_true(fabs(c->learning_rate[0] - 1e-3) < 1e-12);
    /* the /config value is the list as given */
    char *val = malloc(CONFIG_VALUE_LEN);
    for (int i = 0; i < config_count(); i++)
        if (!strcmp(config_key(i), "ppo.learning_rate")) config_value_str(c, i, val, CONFIG_VALUE_LEN);
    assert_int_equal(strlen(val), n - (int)strlen("[run]\nruns = 1000\n[ppo]\nlearning_rate = "));
    free(val);
    unlink(path);
    free(c);
}

/* Per-run lists: CONFIG_MAX_RUNS values through --set; empty elements are errors. */
static void test_run_lists(void **state) {
    (void)state;
    TrainConfig *c = malloc(sizeof *c);
    PmError err;
    config_defaults(c);
    size_t cap = 8 * CONFIG_MAX_RUNS + 16;
    char *set = malloc(cap);
    int n = snprintf(set, cap, "seed=");
    for (int r = 0; r < CONFIG_MAX_RUNS; r++) n += snprintf(set + n, cap - n, "%s%d", r ? "," : "", 7 * r);
    assert_int_equal(config_set(c, "runs=4096", &err), 0);
    assert_int_equal(config_set(c, set, &err), 0);
    assert_int_equal(config_finalize(c, &err), 0);
    assert_int_equal(c->seed[4095], 7 * 4095);
    snprintf(set + n, cap - n, ",1"); /* 4097 values */
    assert_int_equal(config_set(c, set, &err), -1);
    assert_non_null(strstr(err.msg, "run.seed: more than 4096 values"));
    assert_int_equal(config_set(c, "seed=1,,2", &err), -1);
    assert_non_null(strstr(err.msg, "--set: run.seed: element 2 is empty"));
    assert_int_equal(config_set(c, "learning_rate=1e-3,", &err), -1);
    assert_non_null(strstr(err.msg, "ppo.learning_rate: element 2 is empty"));
    assert_int_equal(config_set(c, "noise_std=,1e-3", &err), -1);
    assert_non_null(strstr(err.msg, "noise.noise_std: element 1 is empty"));
    assert_int_equal(config_set(c, "seed=1, 2 ,3", &err), 0);
    assert_int_equal(config_set(c, "runs=3", &err), 0);
    assert_int_equal(config_finalize(c, &err), 0);
    assert_int_equal(c->seed[1], 2);
    free(set);
    free(c);
}

/* Step counts: whole rollouts only, and no iteration count beyond an int. */
static void test_step_counts(void **state) {
    (void)state;
    TrainConfig *c = malloc(sizeof *c);
    PmError err;
    config_defaults(c);
    assert_int_equal(config_set(c, "total_timesteps=2001000", &err), 0);
    assert_int_equal(config_finalize(c, &err), -1);
    assert_non_null(strstr(err.msg, "ppo.total_timesteps = 2001000 is not a multiple of ppo.num_steps = 2000"));
    assert_non_null(strstr(err.msg, "use 2000000 or 2002000"));
    assert_int_equal(config_set(c, "total_timesteps=1e13", &err), 0);
    assert_int_equal(config_set(c, "num_steps=2", &err), 0);
    assert_int_equal(config_set(c, "num_minibatches=1", &err), 0);
    assert_int_equal(config_finalize(c, &err), -1);
    assert_non_null(strstr(err.msg, "5000000000000 iterations, more than 2147483647"));
    assert_int_equal(config_set(c, "total_timesteps=1e14", &err), -1);
    assert_non_null(strstr(err.msg, "out of range"));
    free(c);
}

/* Every choice is an enum whose name maps back to the string of the .ini and /config. */
static void test_choices(void **state) {
    (void)state;
    TrainConfig c;
    PmError err;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "device=cuda", &err), 0);
    assert_int_equal(c.device, CFG_DEVICE_CUDA);
    assert_int_equal(config_set(&c, "trace_filter=hybrid", &err), 0);
    assert_int_equal(c.trace_filter, CFG_FILTER_HYBRID);
    assert_int_equal(config_set(&c, "noise_when=never", &err), 0);
    assert_int_equal(c.noise_when, CFG_NOISE_WHEN_NEVER);
    assert_int_equal(config_set(&c, "rank_mode=Tolerance", &err), -1);
    assert_non_null(strstr(err.msg, "metrics.rank_mode: 'Tolerance' is not one of exact|tolerance"));
    assert_string_equal(config_device_name(CFG_DEVICE_CPU), "cpu");
    assert_int_equal(config_device_parse("auto"), CFG_DEVICE_AUTO);
    assert_int_equal(config_device_parse("gpu"), -1);
    char val[64];
    int found = 0;
    for (int i = 0; i < config_count(); i++) {
        config_value_str(&c, i, val, sizeof val);
        if (!strcmp(config_key(i), "noise.noise_when")) found += !strcmp(val, "never");
        if (!strcmp(config_key(i), "run.device")) found += !strcmp(val, "cuda");
        if (!strcmp(config_key(i), "env.trace_filter")) found += !strcmp(val, "hybrid");
    }
    assert_int_equal(found, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_reference),
        cmocka_unit_test(test_file_and_set),
        cmocka_unit_test(test_file_errors_name_line_and_key),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_finalize_errors),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_strict_reader),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_run_lists),
        cmocka_unit_test(test_step_counts),
        cmocka_unit_test(test_choices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
