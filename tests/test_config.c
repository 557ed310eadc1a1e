/* test_config.c: .ini parsing, --set, per-run lists and the error messages users see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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
    assert_string_equal(c.policy, "pamoe");
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
    assert_string_equal(c.policy, "mlp");
    assert_string_equal(c.value, "smoe");
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_reference),
        cmocka_unit_test(test_file_and_set),
        cmocka_unit_test(test_file_errors_name_line_and_key),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_finalize_errors),
        cmocka_unit_test(test_write_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
