/* test_h5metrics.c: the run-file metrics writer. Without arguments: cmocka tests (write a
 * file, read it back through the C API, resume + truncate, crash recovery, errors).
 * With arguments it is also the writer half of the shell tests (tests/cli/):
 *   test_h5metrics --fake-run PATH SEED [ITERS [mlp]]  a run file with the trainer's
 *                                                  full metric list (MoE with 3 experts and
 *                                                  2 runs, or MLP and 1 run), ITERS rows
 *   test_h5metrics --swmr-writer PATH DIR N       N appends in lockstep with a reader:
 *                                                  after row i it creates DIR/written_i and
 *                                                  waits for DIR/ack_i (20 s limit) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "h5metrics.h"
#include "metrics.h"

static char tmpdir[256];

static void tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pamoe_h5m_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *NAMES[3] = {"losses/value_loss", "Reward/Episode Mean Return", "charts/SPS"};

static double value_of(int name, int64_t it, int run) { return 100.0 * name + it + 0.25 * run; }

/* a file with 5 rows, 2 runs; "charts/SPS" is left unset at row 2 (must read NaN) */
static void write_five(const char *path) {
    PmError err;
    H5Metrics *h = h5metrics_create(path, 2, &err);
    assert_non_null(h);
    for (int i = 0; i < 3; i++) assert_int_equal(h5metrics_register(h, NAMES[i], "u", "desc é", &err), i);
    assert_int_equal(h5metrics_config_str(h, "policy_type", "dmoe", &err), 0);
    assert_int_equal(h5metrics_config_num(h, "learning_rate", 1e-3, &err), 0);
    assert_int_equal(h5metrics_config_int(h, "seed", 42, &err), 0);
    assert_int_equal(h5metrics_start(h, &err), 0);
    assert_int_equal(h5metrics_register(h, "late", "", "", &err), -1);
    for (int64_t it = 1; it <= 5; it++) {
        for (int i = 0; i < 3; i++)
            for (int r = 0; r < 2; r++)
                if (!(i == 2 && it == 2)) h5metrics_set(h, i, r, value_of(i, it, r));
        assert_int_equal(h5metrics_append(h, it, it * 2000, &err), 0);
    }
    assert_int_equal(h5metrics_length(h), 5);
    h5metrics_close(h);
}

static char *read_str_attr(hid_t obj, const char *key) {
    hid_t a = H5Aopen(obj, key, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *s = NULL;
    assert_true(H5Aread(a, t, &s) >= 0);
    char *out = strdup(s);
    H5free_memory(s);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

static void read_matrix(hid_t f, const char *path, int64_t *rows, int64_t *cols, double *buf) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *rows = (int64_t)dims[0];
    *cols = rank == 2 ? (int64_t)dims[1] : 1;
    if (buf) assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
}

static void test_write_read(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "a.h5");
    write_five(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    double buf[64];
    int64_t rows, cols;
    read_matrix(f, "metrics/losses/value_loss", &rows, &cols, buf);
    assert_int_equal(rows, 5);
    assert_int_equal(cols, 2);
    for (int it = 1; it <= 5; it++)
        for (int r = 0; r < 2; r++) assert_true(buf[(it - 1) * 2 + r] == value_of(0, it, r));
    read_matrix(f, "metrics/charts/SPS", &rows, &cols, buf);
    assert_true(isnan(buf[2]) && isnan(buf[3]) && buf[4] == value_of(2, 3, 0));
    read_matrix(f, "metrics/Reward/Episode Mean Return", &rows, &cols, buf);
    assert_true(buf[9] == value_of(1, 5, 1));
    read_matrix(f, "metrics/global_step", &rows, &cols, buf);
    assert_int_equal(rows, 5);
    assert_int_equal(cols, 1);
    assert_true(buf[0] == 2000 && buf[4] == 10000);
    read_matrix(f, "metrics/iteration", &rows, &cols, buf);
    assert_true(buf[0] == 1 && buf[4] == 5);

    hid_t d = H5Dopen2(f, "metrics/losses/value_loss", H5P_DEFAULT);
    char *s = read_str_attr(d, "units");
    assert_string_equal(s, "u");
    free(s);
    s = read_str_attr(d, "description");
    assert_string_equal(s, "desc é");
    free(s);
    H5Dclose(d);

    hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
    s = read_str_attr(g, "policy_type");
    assert_string_equal(s, "dmoe");
    free(s);
    double lr = 0;
    int64_t seed = 0;
    hid_t a = H5Aopen(g, "learning_rate", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &lr);
    H5Aclose(a);
    a = H5Aopen(g, "seed", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &seed);
    H5Aclose(a);
    assert_true(lr == 1e-3 && seed == 42);
    H5Gclose(g);
    s = read_str_attr(f, "format");
    assert_string_equal(s, "pamoe-run-1");
    free(s);
    H5Fclose(f);
}

static void test_resume_truncate(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "b.h5");
    write_five(path);
    PmError err;
    H5Metrics *h = h5metrics_open(path, 2, &err);
    assert_non_null(h);
    assert_int_equal(h5metrics_length(h), 5);
    for (int i = 0; i < 3; i++) assert_int_equal(h5metrics_register(h, NAMES[i], "u", "d", &err), i);
    assert_int_equal(h5metrics_truncate(h, 9, &err), -1);
    assert_non_null(strstr(err.msg, "fewer than the 9"));
    assert_int_equal(h5metrics_truncate(h, 3, &err), 0);
    assert_int_equal(h5metrics_config_str(h, "resumed_from", "it3", &err), 0);
    assert_int_equal(h5metrics_start(h, &err), 0);
    for (int i = 0; i < 2; i++) h5metrics_set(h, i, 1, -7.0);
    assert_int_equal(h5metrics_set_by_name(h, "charts/SPS", 1, -7.0), 0);
    assert_int_equal(h5metrics_set_by_name(h, "charts/nope", 1, -7.0), -1);
    assert_int_equal(h5metrics_append(h, 4, 8000, &err), 0);
    h5metrics_close(h);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    double buf[64];
    int64_t rows, cols;
    read_matrix(f, "metrics/losses/value_loss", &rows, &cols, buf);
    assert_int_equal(rows, 4);
    assert_true(buf[4] == value_of(0, 3, 0) && isnan(buf[6]) && buf[7] == -7.0);
    read_matrix(f, "metrics/iteration", &rows, &cols, buf);
    assert_int_equal(rows, 4);
    assert_true(buf[2] == 3 && buf[3] == 4);
    H5Fclose(f);

    /* resuming with a metric the file does not have names the dataset */
    h = h5metrics_open(path, 2, &err);
    assert_non_null(h);
    assert_int_equal(h5metrics_register(h, "losses/other", "", "", &err), 0);
    assert_int_equal(h5metrics_start(h, &err), -1);
    assert_non_null(strstr(err.msg, "/metrics/losses/other"));
    h5metrics_close(h);
    /* another run count */
    h = h5metrics_open(path, 3, &err);
    h5metrics_register(h, NAMES[0], "", "", &err);
    assert_int_equal(h5metrics_start(h, &err), -1);
    assert_non_null(strstr(err.msg, "run columns"));
    h5metrics_close(h);
}

/* A writer killed in SWMR mode leaves the file marked open; resume must still open it. */
static void test_crash_resume(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "c.h5");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        PmError err;
        H5Metrics *h = h5metrics_create(path, 1, &err);
        if (!h || h5metrics_register(h, "x/y", "", "", &err) < 0 || h5metrics_start(h, &err)) _exit(2);
        for (int it = 1; it <= 3; it++) {
            h5metrics_set(h, 0, 0, it * 1.5);
            if (h5metrics_append(h, it, it, &err)) _exit(3);
        }
        _exit(0); /* no close: the crash */
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    PmError err;
    H5Metrics *h = h5metrics_open(path, 1, &err);
    if (!h) fail_msg("%s", err.msg);
    assert_int_equal(h5metrics_length(h), 3);
    assert_int_equal(h5metrics_register(h, "x/y", "", "", &err), 0);
    assert_int_equal(h5metrics_truncate(h, 2, &err), 0);
    assert_int_equal(h5metrics_start(h, &err), 0);
    h5metrics_set(h, 0, 0, 9.0);
    assert_int_equal(h5metrics_append(h, 3, 3, &err), 0);
    h5metrics_close(h);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    double buf[8];
    int64_t rows, cols;
    read_matrix(f, "metrics/x/y", &rows, &cols, buf);
    assert_int_equal(rows, 3);
    assert_true(buf[0] == 1.5 && buf[1] == 3.0 && buf[2] == 9.0);
    H5Fclose(f);
}

static void test_errors(void **state) {
    (void)state;
    PmError err;
    assert_null(h5metrics_create("/nonexistent_dir_pamoe/run.h5", 1, &err));
    assert_non_null(strstr(err.msg, "/nonexistent_dir_pamoe/run.h5: cannot create"));
    assert_null(h5metrics_open("/nonexistent_dir_pamoe/run.h5", 1, &err));
    assert_non_null(strstr(err.msg, "/nonexistent_dir_pamoe/run.h5"));
    char path[300];
    tmp_path(path, sizeof path, "e.h5");
    H5Metrics *h = h5metrics_create(path, 1, &err);
    assert_non_null(h);
    const char *bad[] = {"", "/a", "a/", "a//b", "a/../b", "iteration", "global_step"};
    for (int i = 0; i < PM_ARRAY_LEN(bad); i++) assert_int_equal(h5metrics_register(h, bad[i], "", "", &err), -1);
    assert_int_equal(h5metrics_register(h, "a/b", "", "", &err), 0);
    assert_int_equal(h5metrics_register(h, "a/b", "", "", &err), -1);
    assert_int_equal(h5metrics_register(h, "a/b/c", "", "", &err), -1);
    assert_non_null(strstr(err.msg, "clashes"));
    assert_int_equal(h5metrics_register(h, "a", "", "", &err), -1);
    assert_int_equal(h5metrics_register(h, "a/bc", "", "", &err), 1);
    assert_int_equal(h5metrics_config_str(h, "x/y", "v", &err), -1);
    assert_int_equal(h5metrics_find(h, "a/bc"), 1);
    assert_int_equal(h5metrics_find(h, "zz"), -1);
    assert_int_equal(h5metrics_append(h, 1, 1, &err), -1);
    h5metrics_close(h);
}

/* Rows across several 64-row chunks (each append writes its whole chunk directly), a resume
 * inside a chunk (its earlier rows reloaded), and name lookups after start (hashed). */
static void test_chunks_and_find(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "k.h5");
    PmError err;
    for (int pass = 0; pass < 2; pass++) {
        H5Metrics *h = pass ? h5metrics_open(path, 2, &err) : h5metrics_create(path, 2, &err);
        assert_non_null(h);
        for (int i = 0; i < 3; i++) assert_int_equal(h5metrics_register(h, NAMES[i], "u", "d", &err), i);
        if (pass) assert_int_equal(h5metrics_truncate(h, 130, &err), 0);
        assert_int_equal(h5metrics_start(h, &err), 0);
        for (int i = 0; i < 3; i++) assert_int_equal(h5metrics_find(h, NAMES[i]), i);
        assert_int_equal(h5metrics_find(h, "losses/value_los"), -1);
        for (int64_t it = pass ? 131 : 1; it <= (pass ? 140 : 150); it++) {
            for (int i = 0; i < 3; i++)
                for (int r = 0; r < 2; r++)
                    if (!(i == 2 && it % 7 == 0)) h5metrics_set(h, i, r, value_of(i, it, r) + 1000 * pass);
            assert_int_equal(h5metrics_append(h, it, it * 2000, &err), 0);
        }
        h5metrics_close(h);
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    double *buf = malloc(sizeof(double) * 150 * 2);
    int64_t rows, cols;
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "metrics/%s", NAMES[i]);
        read_matrix(f, p, &rows, &cols, buf);
        assert_int_equal(rows, 140);
        for (int64_t it = 1; it <= 140; it++)
            for (int r = 0; r < 2; r++) {
                double v = buf[(it - 1) * 2 + r];
                if (i == 2 && it % 7 == 0) assert_true(isnan(v));
                else assert_true(v == value_of(i, it, r) + (it > 130 ? 1000 : 0));
            }
    }
    read_matrix(f, "metrics/iteration", &rows, &cols, buf);
    assert_int_equal(rows, 140);
    for (int64_t it = 1; it <= 140; it++) assert_true(buf[it - 1] == (double)it);
    read_matrix(f, "metrics/global_step", &rows, &cols, buf);
    assert_true(buf[63] == 64 * 2000 && buf[64] == 65 * 2000 && buf[139] == 140 * 2000);
    free(buf);
    H5Fclose(f);
}

/* ---- writer modes for the shell tests ---------------------------------------------------- */

static double hash01(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (double)((x ^ (x >> 31)) >> 11) / 9007199254740992.0;
}

/* Plausible curves for every catalog name: enough for the plots to have shape. */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Plausible curves for every catalog name: enough for the plots to have shape. */
static double fake_value(const char *name, int it, int iters, int run, uint64_t seed) {
    uint64_t key = fnv1a(name);
    double t = (double)it / iters * (0.8 + 0.4 * hash01(key)); /* per-metric pace */
    double noise = hash01(key ^ (seed * 1000003u + (uint64_t)it * 7919u + (uint64_t)run * 104729u)) - 0.5;
    int phase = (it - 1) * 3 / iters;
    if (!strcmp(name, "charts/content")) return phase;
    if (it < 3 && (!strncmp(name, "Reward/", 7) || !strncmp(name, "SystemInfo/", 11))) return NAN;
    if (!strncmp(name, "Reward/Episode Mean Return", 26)) return 0.5 + 1.5 * (1 - exp(-8 * fmod(3.0 * it / iters, 1.0))) - 0.4 * phase + 0.2 * noise;
    if (!strncmp(name, "Reward/", 7)) return (strstr(name, "BitRate") ? 1.5 : -0.3) * (1 - 0.5 * exp(-5 * t)) + 0.1 * noise;
    if (!strncmp(name, "Dorman/total_zero_count", 23)) return floor(10 * t + 2 * (noise + 0.5));
    if (!strncmp(name, "Dorman/total_dorman_count", 25)) return floor(40 * t + 4 * (noise + 0.5));
    if (!strncmp(name, "Dorman/", 7)) return fmax(0, (strstr(name, "zero") ? 10 : 30) * t + 8 * noise);
    if (strstr(name, "_abs_approx_rank")) return floor(16 - 4 * t + noise);
    if (strstr(name, "_approx_rank")) return floor(13 - 5 * t + noise);
    if (strstr(name, "_eff_rank")) return 12 - 4 * t + noise;
    if (strstr(name, "_rank")) return 18;
    if (strstr(name, "_router")) return 1.0 / 3 + 0.2 * exp(-10 * t) * (name[7] == '0' ? 2 : -1) + 0.02 * noise;
    if (!strncmp(name, "Weights/", 8)) return 0.12 + 0.05 * t + 0.005 * noise;
    if (!strcmp(name, "charts/learning_rate")) return 1e-3;
    if (!strcmp(name, "charts/SPS")) return 900 + 50 * noise;
    if (!strcmp(name, "charts/episodes")) return floor(it * 2000 / 48.0);
    return exp(-3 * t) + 0.1 * noise;
}

static int fake_run(const char *path, uint64_t seed, int iters, int mlp) {
    PmError err;
    const int runs = mlp ? 1 : 2; /* the MLP file exercises the single-run plots */
    H5Metrics *h = h5metrics_create(path, runs, &err);
    if (!h) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    MetricsName *names;
    MetricsCatalogSpec spec = {{mlp ? 0 : 3, mlp ? 0 : 3}, 0.5};
    int n = metrics_catalog(&spec, &names);
    for (int i = 0; i < n; i++)
        if (h5metrics_register(h, names[i].name, names[i].units, names[i].description, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    h5metrics_config_str(h, "policy_type", mlp ? "mlp" : "dmoe", &err);
    h5metrics_config_str(h, "fake", "written by tests/test_h5metrics --fake-run", &err);
    h5metrics_config_int(h, "seed", (int64_t)seed, &err);
    h5metrics_config_num(h, "learning_rate", 1e-3, &err);
    if (h5metrics_start(h, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int it = 1; it <= iters; it++) {
        for (int i = 0; i < n; i++)
            for (int r = 0; r < runs; r++) h5metrics_set(h, i, r, fake_value(names[i].name, it, iters, r, seed));
        if (h5metrics_append(h, it, (int64_t)it * 2000, &err)) return 1;
    }
    free(names);
    h5metrics_close(h);
    return 0;
}

static int wait_file(const char *path, double seconds) {
    struct stat sb;
    double t0 = now_seconds();
    while (stat(path, &sb) != 0) {
        if (now_seconds() - t0 > seconds) return -1;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int swmr_writer(const char *path, const char *dir, int n) {
    PmError err;
    H5Metrics *h = h5metrics_create(path, 2, &err);
    if (!h || h5metrics_register(h, "losses/value_loss", "1", "v", &err) < 0 ||
        h5metrics_register(h, "Reward/Episode Mean Return", "1", "r", &err) < 0 || h5metrics_start(h, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char mark[600];
    snprintf(mark, sizeof mark, "%s/started", dir);
    fclose(fopen(mark, "w"));
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < 2; r++) {
            h5metrics_set(h, 0, r, i + 0.5 * r);
            h5metrics_set(h, 1, r, -i - 0.5 * r);
        }
        if (h5metrics_append(h, i + 1, (int64_t)(i + 1) * 2000, &err)) return 1;
        snprintf(mark, sizeof mark, "%s/written_%d", dir, i);
        fclose(fopen(mark, "w"));
        snprintf(mark, sizeof mark, "%s/ack_%d", dir, i);
        if (wait_file(mark, 20.0)) {
            fprintf(stderr, "swmr writer: no reader ack for row %d in 20 s\n", i);
            return 1;
        }
    }
    h5metrics_close(h);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--fake-run"))
        return fake_run(argv[2], strtoull(argv[3], NULL, 10), argc >= 5 ? atoi(argv[4]) : 60,
                        argc >= 6 && !strcmp(argv[5], "mlp"));
    if (argc == 5 && !strcmp(argv[1], "--swmr-writer")) return swmr_writer(argv[2], argv[3], atoi(argv[4]));
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--fake-run PATH SEED [ITERS [mlp]] | --swmr-writer PATH DIR N]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_resume_truncate),
        cmocka_unit_test(test_crash_resume),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_chunks_and_find),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
