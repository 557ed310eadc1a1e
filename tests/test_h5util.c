/* test_h5util.c: the shared HDF5 helpers: datasets round trip and are rejected with messages
 * naming file, dataset and both shapes; string and numeric attributes round trip (UTF-8,
 * fixed-size strings from other writers too); the tmp-then-rename write leaves the old file on
 * failure; missing, non-HDF5, truncated and bit-flipped files are each told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"

static char dir[64];

static void path_in_dir(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", dir, name); }

static void expect_msg(const PmError *err, const char *want) {
    if (!strstr(err->msg, want)) fail_msg("message \"%s\" lacks \"%s\"", err->msg, want);
}

static const double VALUES[6] = {1.5, -2.0, 3.25, 0.0, 1e-300, 7.0};

/* FILE with /g/d (2, 3) doubles, written through create_tmp + commit */
static void write_sample(const char *file) {
    PmError err;
    hid_t f = h5u_create_tmp(file, H5P_DEFAULT, "test", &err);
    assert_true(f >= 0);
    hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {2, 3}, none[1] = {0};
    assert_int_equal(h5u_write(g, "d", H5T_NATIVE_DOUBLE, 2, dims, VALUES, H5U_CHECKSUM, "test", &err), 0);
    assert_int_equal(h5u_write(g, "empty", H5T_NATIVE_FLOAT, 1, none, VALUES, 0, "test", &err), 0);
    H5Gclose(g);
    assert_int_equal(h5u_commit(f, file, 1, "test", &err), 0);
}

static void test_dataset_shapes(void **state) {
    (void)state;
    char file[128], want[300];
    path_in_dir(file, sizeof file, "shapes.h5");
    write_sample(file);
    PmError err;
    hid_t f = h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, "test", &err);
    assert_true(f >= 0);
    double got[6] = {0};
    hsize_t ok[2] = {2, 3}, wrong[2] = {3, 2}, any[2] = {2, H5U_ANY}, flat[1] = {6};
    assert_int_equal(h5u_read(f, "g/d", H5T_NATIVE_DOUBLE, 2, ok, got, "test", &err), 0);
    assert_memory_equal(got, VALUES, sizeof VALUES);
    /* the shape message names the file, the dataset's absolute path and both shapes */
    assert_int_equal(h5u_read(f, "g/d", H5T_NATIVE_DOUBLE, 2, wrong, got, "test", &err), -1);
    snprintf(want, sizeof want, "test %s: dataset /g/d has shape (2, 3), expected (3, 2)", file);
    assert_string_equal(err.msg, want);
    assert_int_equal(h5u_read(f, "g/d", H5T_NATIVE_DOUBLE, 1, flat, got, NULL, &err), -1);
    snprintf(want, sizeof want, "%s: dataset /g/d has shape (2, 3), expected (6)", file);
    assert_string_equal(err.msg, want);
    /* H5U_ANY takes the length found */
    hid_t g = H5Gopen2(f, "g", H5P_DEFAULT);
    hid_t d = h5u_open_checked(g, "d", 2, any, "test", &err);
    assert_true(d >= 0);
    assert_int_equal(any[1], 3);
    H5Dclose(d);
    /* an empty dataset (a checkpoint's hook storage before any hook) reads as such */
    hsize_t any1[1] = {H5U_ANY};
    d = h5u_open_checked(g, "empty", 1, any1, "test", &err);
    assert_true(d >= 0);
    assert_int_equal(any1[0], 0);
    assert_int_equal(h5u_read_into(d, H5T_NATIVE_FLOAT, H5S_ALL, got, "test", &err), 0);
    H5Dclose(d);
    hsize_t any_wrong[2] = {H5U_ANY, 4};
    assert_true(h5u_open_checked(g, "d", 2, any_wrong, "test", &err) < 0);
    expect_msg(&err, "dataset /g/d has shape (2, 3), expected (*, 4)");
    /* missing: a dataset, and one below a missing group (H5Lexists fails there) */
    assert_int_equal(h5u_read(g, "nope", H5T_NATIVE_DOUBLE, 2, ok, got, "test", &err), -1);
    snprintf(want, sizeof want, "test %s: missing dataset /g/nope", file);
    assert_string_equal(err.msg, want);
    assert_int_equal(h5u_read(f, "h/k/d", H5T_NATIVE_DOUBLE, 2, ok, got, "test", &err), -1);
    snprintf(want, sizeof want, "test %s: missing dataset /h/k/d", file);
    assert_string_equal(err.msg, want);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_attributes(void **state) {
    (void)state;
    char file[128], out[64];
    path_in_dir(file, sizeof file, "attrs.h5");
    PmError err;
    hid_t f = h5u_create_tmp(file, H5P_DEFAULT, NULL, &err);
    assert_true(f >= 0);
    const char *utf8 = "d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93"; /* "déjà vu ✓" */
    assert_int_equal(h5u_attr_str(f, "s", "first", NULL, &err), 0);
    assert_int_equal(h5u_attr_str(f, "s", utf8, NULL, &err), 0); /* replaced */
    const char *names[3] = {"a", "bb", ""};
    assert_int_equal(h5u_attr_strs(f, "names", 3, names, NULL, &err), 0);
    int64_t v[3] = {-5, 0, INT64_MAX};
    assert_int_equal(h5u_attr_write(f, "v", H5T_NATIVE_INT64, 3, v, NULL, &err), 0);
    double x = 0.1;
    assert_int_equal(h5u_attr_write(f, "x", H5T_NATIVE_DOUBLE, -1, &x, NULL, &err), 0);
    /* a fixed-size string, as h5py writes np.bytes_ or another tool may */
    hid_t ft = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(ft, 5);
    hid_t a = H5Acreate2(f, "fixed", ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, ft, "fiver") >= 0); /* all 5 bytes used, no NUL */
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ft);
    assert_int_equal(h5u_commit(f, file, 1, NULL, &err), 0);

    f = h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, NULL, &err);
    assert_true(f >= 0);
    assert_int_equal(h5u_attr_read_str(f, "s", out, sizeof out, NULL, &err), 0);
    assert_string_equal(out, utf8);
    a = H5Aopen(f, "s", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8); /* h5py reads it as str */
    assert_true(H5Tis_variable_str(t) > 0);
    H5Tclose(t);
    H5Aclose(a);
    assert_int_equal(h5u_attr_read_str(f, "fixed", out, sizeof out, NULL, &err), 0);
    assert_string_equal(out, "fiver");
    assert_int_equal(h5u_attr_read_str(f, "s", out, 4, NULL, &err), 0); /* truncated to fit */
    assert_string_equal(out, "d\xc3\xa9");
    int64_t w[3] = {0};
    assert_int_equal(h5u_attr_read(f, "v", H5T_NATIVE_INT64, 3, w, NULL, &err), 0);
    assert_memory_equal(w, v, sizeof v);
    double y = 0;
    assert_int_equal(h5u_attr_read(f, "x", H5T_NATIVE_DOUBLE, -1, &y, NULL, &err), 0);
    assert_true(y == 0.1);
    assert_int_equal(h5u_attr_read(f, "v", H5T_NATIVE_INT64, -1, w, NULL, &err), -1);
    expect_msg(&err, "attribute /@v has 3 values, expected 1");
    assert_int_equal(h5u_attr_read(f, "nope", H5T_NATIVE_INT64, -1, w, "test", &err), -1);
    expect_msg(&err, ": missing attribute /@nope");
    assert_int_equal(h5u_attr_read_str(f, "x", out, sizeof out, NULL, &err), -1);
    expect_msg(&err, "attribute /@x is not a string");
    H5Fclose(f);
}

static void test_tmp_and_damaged_files(void **state) {
    (void)state;
    char file[128], tmp[140], want[300];
    path_in_dir(file, sizeof file, "cut.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    write_sample(file);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    /* a failed write removes the tmp file and leaves the previous file alone */
    PmError err;
    hid_t f = h5u_create_tmp(file, H5P_DEFAULT, NULL, &err);
    assert_true(f >= 0);
    assert_int_equal(access(tmp, F_OK), 0);
    assert_int_equal(h5u_commit(f, file, 0, NULL, &err), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    hsize_t dims[2] = {2, 3};
    double got[6];
    f = h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, NULL, &err);
    assert_true(f >= 0);
    assert_int_equal(h5u_read(f, "g/d", H5T_NATIVE_DOUBLE, 2, dims, got, NULL, &err), 0);
    H5Fclose(f);
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.h5", dir);
    assert_true(h5u_create_tmp(nodir, H5P_DEFAULT, "test", &err) < 0);
    expect_msg(&err, "cannot create");

    FILE *fp = fopen(file, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *bytes = malloc(size);
    assert_int_equal(fread(bytes, 1, size, fp), size);
    fclose(fp);
    /* cut in the middle: the superblock is there, the rest is not */
    assert_int_equal(truncate(file, size / 2), 0);
    assert_true(h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, "test", &err) < 0);
    snprintf(want, sizeof want, "test %s: cannot open: file truncated or corrupt", file);
    expect_msg(&err, want);
    /* cut before the signature */
    assert_int_equal(truncate(file, 4), 0);
    assert_int_equal(h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, "test", &err), -1);
    snprintf(want, sizeof want, "test %s: not an HDF5 file", file);
    expect_msg(&err, want);
    /* one flipped bit in the data: the Fletcher-32 checksum catches it on read */
    unsigned char *hit = memmem(bytes, size, VALUES, sizeof VALUES);
    assert_non_null(hit);
    hit[9] ^= 0x10;
    fp = fopen(file, "wb");
    fwrite(bytes, 1, size, fp);
    fclose(fp);
    f = h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, "test", &err);
    assert_true(f >= 0);
    assert_int_equal(h5u_read(f, "g/d", H5T_NATIVE_DOUBLE, 2, dims, got, "test", &err), -1);
    snprintf(want, sizeof want, "test %s: cannot read dataset /g/d (truncated or corrupt", file);
    expect_msg(&err, want);
    H5Fclose(f);
    /* missing */
    remove(file);
    assert_int_equal(h5u_open(file, H5F_ACC_RDONLY, H5P_DEFAULT, "test", &err), H5U_MISSING);
    snprintf(want, sizeof want, "test %s: cannot open (no such file or not readable)", file);
    assert_string_equal(err.msg, want);
    free(bytes);
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/pamoe_h5util_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset_shapes),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_tmp_and_damaged_files),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_dir);
}
