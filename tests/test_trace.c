/* test_trace.c: trace and video loaders: values, sorting, scale and filters, and every
 * input error naming its file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "video.h"

static char tmpdir[256];

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *mkdir_sub(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", p, p);
    assert_int_equal(system(cmd), 0);
    return p;
}

static void test_load_values(void **state) {
    (void)state;
    const char *d = mkdir_sub("vals");
    write_file(d, "a", "0.0 1.5 extra fields\n1.0\t2.25\n2.5 0\n");
    char p[512];
    snprintf(p, sizeof p, "%s/a", d);
    Trace t;
    PmError err;
    assert_int_equal(trace_load_file(p, 2.0, &t, &err), 0);
    assert_int_equal(t.m, 3);
    assert_string_equal(t.name, "a");
    assert_true(t.time[1] == 1.0 && t.time[2] == 2.5);
    assert_true(t.bw[0] == 3.0 && t.bw[1] == 4.5 && t.bw[2] == 0.0);
    assert_true(t.thr[1] == 4.5 * 1e6 / 8);
    assert_true(t.mean_bw == 2.5);
    trace_clear(&t);
}

/* Files come back sorted by name whatever the creation order; the filter sees the scaled
 * mean: raw means 1.0 / 1.6 / 0.9 -> scaled x2: 2.0 / 3.2 / 1.8. */
static void test_dir_sorted_and_filtered(void **state) {
    (void)state;
    const char *d = mkdir_sub("dir");
    write_file(d, "zeta", "0 1.0\n1 1.0\n");
    write_file(d, "alpha", "0 1.6\n1 1.6\n");
    write_file(d, "mid", "0 0.9\n1 0.9\n");
    write_file(d, ".hidden", "garbage\n");
    PmError err;
    TraceSet *ts = trace_set_load_dir(d, 2.0, TRACE_HYBRID, &err);
    assert_non_null(ts);
    assert_int_equal(ts->n, 3);
    assert_string_equal(ts->traces[0].name, "alpha");
    assert_string_equal(ts->traces[1].name, "mid");
    assert_string_equal(ts->traces[2].name, "zeta");
    trace_set_free(ts);
    ts = trace_set_load_dir(d, 2.0, TRACE_HIGH, &err);
    assert_non_null(ts);
    assert_int_equal(ts->n, 1);
    assert_string_equal(ts->traces[0].name, "alpha");
    trace_set_free(ts);
    ts = trace_set_load_dir(d, 2.0, TRACE_LOW, &err); /* 2.0 is not < 2.0 */
    assert_non_null(ts);
    assert_int_equal(ts->n, 1);
    assert_string_equal(ts->traces[0].name, "mid");
    trace_set_free(ts);
    /* at scale 1 nothing exceeds 3.0 */
    ts = trace_set_load_dir(d, 1.0, TRACE_HIGH, &err);
    assert_null(ts);
    assert_non_null(strstr(err.msg, "none of the 3 traces passes the 'high' filter"));
    assert_int_equal(trace_filter_parse("low"), TRACE_LOW);
    assert_int_equal(trace_filter_parse("medium"), -1);
}

static void expect_file_error(const char *text, const char *expect) {
    const char *d = mkdir_sub("err");
    write_file(d, "bad.log", text);
    char p[512];
    snprintf(p, sizeof p, "%s/bad.log", d);
    Trace t;
    PmError err = {{0}};
    assert_int_equal(trace_load_file(p, 2.0, &t, &err), -1);
    assert_null(t.time);
    char want[1200];
    snprintf(want, sizeof want, "%s%s", p, expect);
    if (strncmp(err.msg, want, strlen(want))) fail_msg("got '%s', want prefix '%s'", err.msg, want);
    /* the directory loader reports the same error and returns nothing */
    PmError err2;
    assert_null(trace_set_load_dir(d, 2.0, TRACE_HYBRID, &err2));
    assert_string_equal(err.msg, err2.msg);
}

static void test_trace_errors(void **state) {
    (void)state;
    expect_file_error("0 1\n1 abc\n", ":2: bandwidth 'abc' is not a number");
    expect_file_error("0 1\nx1 2\n", ":2: time 'x1' is not a number");
    expect_file_error("0 1\n1 2\n2\n", ":3: expected 2 numbers (time_s bandwidth_Mbps), got 1");
    expect_file_error("0 1\n\n", ":2: expected 2 numbers (time_s bandwidth_Mbps), got 0");
    expect_file_error("0 1\n1 2\n1 3\n", ":3: time 1 does not increase (previous 1)");
    expect_file_error("0 1\n2 2\n1 3\n", ":3: time 1 does not increase");
    expect_file_error("0 1\n1 -0.5\n", ":2: negative bandwidth -0.5");
    expect_file_error("", ": empty trace file");
    expect_file_error("0 1\n", ":1: a trace needs at least 2 samples, got 1");
    expect_file_error("0 5\n1 0\n2 0\n", ":2: every bandwidth after the first line is 0");
    expect_file_error("0 1\n1 nan\n", ":2: bandwidth 'nan' is not a number");
}

static void test_dir_errors(void **state) {
    (void)state;
    PmError err;
    const char *d = mkdir_sub("empty");
    assert_null(trace_set_load_dir(d, 2.0, TRACE_HYBRID, &err));
    assert_non_null(strstr(err.msg, "no trace files in directory"));
    assert_null(trace_set_load_dir("/nonexistent/pamoe", 2.0, TRACE_HYBRID, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/pamoe: cannot open trace directory"));
    Trace t;
    assert_int_equal(trace_load_file("/nonexistent/pamoe/x", 1.0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/pamoe/x: cannot open trace"));
    /* one bad file among good ones: whole load fails, message names the bad one */
    d = mkdir_sub("mixed");
    write_file(d, "a", "0 1\n1 1\n");
    write_file(d, "b", "0 1\n1 1\n2 q\n");
    assert_null(trace_set_load_dir(d, 2.0, TRACE_HYBRID, &err));
    assert_non_null(strstr(err.msg, "/b:3: bandwidth 'q' is not a number"));
}

static void write_video(const char *d, int skip_level, int n_chunks, const char *bad_line) {
    for (int q = 0; q < 6; q++) {
        if (q == skip_level) continue;
        char name[32], buf[4096] = "";
        snprintf(name, sizeof name, "video_size_%d", q);
        for (int k = 0; k < n_chunks; k++) {
            char line[64];
            if (q == 3 && k == 4 && bad_line) snprintf(line, sizeof line, "%s\n", bad_line);
            else snprintf(line, sizeof line, "%d extra\n", 1000 * (q + 1) + k);
            strcat(buf, line);
        }
        write_file(d, name, buf);
    }
}

static void test_video(void **state) {
    (void)state;
    PmError err;
    Video *v = malloc(sizeof *v);
    const char *d = mkdir_sub("video_ok");
    write_video(d, -1, 49, NULL);
    assert_int_equal(video_load_dir(d, v, &err), 0);
    assert_int_equal(v->n_chunks, 49);
    assert_true(v->size[0][0] == 1000 && v->size[5][47] == 6047 && v->size[3][10] == 4010);
    d = mkdir_sub("video_missing");
    write_video(d, 2, 49, NULL);
    assert_int_equal(video_load_dir(d, v, &err), -1);
    assert_non_null(strstr(err.msg, "video_size_2: cannot open video size file video_size_2"));
    d = mkdir_sub("video_bad");
    write_video(d, -1, 49, "12.5");
    assert_int_equal(video_load_dir(d, v, &err), -1);
    assert_non_null(strstr(err.msg, "video_size_3:5: chunk size '12.5' is not a positive integer"));
    d = mkdir_sub("video_short");
    write_video(d, -1, 47, NULL);
    assert_int_equal(video_load_dir(d, v, &err), -1);
    assert_non_null(strstr(err.msg, "video_size_0:47: only 47 chunk sizes, the simulator needs 48"));
    free(v);
}

/* The real data, when present: 127 training files, 51 "high" at x2 (environment.md 2). */
static void test_real_counts(void **state) {
    (void)state;
    if (access("../shared/data/traces/train", R_OK)) skip();
    PmError err;
    TraceSet *ts = trace_set_load_dir("../shared/data/traces/train", 2.0, TRACE_HIGH, &err);
    assert_non_null(ts);
    assert_int_equal(ts->n, 51);
    trace_set_free(ts);
    ts = trace_set_load_dir("../shared/data/traces/train", 2.0, TRACE_LOW, &err);
    assert_non_null(ts);
    assert_int_equal(ts->n, 53);
    trace_set_free(ts);
    ts = trace_set_load_dir("../shared/data/traces/test", 1.0, TRACE_HYBRID, &err);
    assert_non_null(ts);
    assert_int_equal(ts->n, 142);
    trace_set_free(ts);
    Video v;
    assert_int_equal(video_load_dir("../shared/data/video", &v, &err), 0);
    assert_true(v.size[0][0] == 181801 && v.size[5][0] == 2354772);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pamoe_test_trace_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_values),
        cmocka_unit_test(test_dir_sorted_and_filtered),
        cmocka_unit_test(test_trace_errors),
        cmocka_unit_test(test_dir_errors),
        cmocka_unit_test(test_video),
        cmocka_unit_test(test_real_counts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) rc = rc ? rc : 1;
    return rc;
}
