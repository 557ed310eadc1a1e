/* test_ckpt.c: checkpoint round trip (bit-exact, metadata, noise stream positions) and the
 * rejection of truncated, corrupt, incomplete and mis-shaped files with messages that name
 * the file and the dataset. `test_ckpt --write-example FILE` writes a sample checkpoint for
 * tests/cli/ckpt_python.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "opt_fixture.h"

static char dir[64];

static void path_in_dir(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", dir, name); }

/* Two groups (policy: R = 2 block with moments, steps, noise state and sizes; value: a second
 * block), written atomically. */
static void write_sample(const char *file, ParamBlock *pb, ParamBlock *pv, NoiseState *ns) {
    for (long i = 0; i < 2 * pb->P; i++) {
        pb->adam_m[i] = 1e-3f * (float)i;
        pb->adam_v[i] = 1e-6f * (float)(i % 7);
    }
    for (int k = 0; k < 2 * pb->n_tensors; k++) pb->h_adam_step[k] = 100 + k;
    NoiseConfig nc;
    noise_config_default(&nc);
    for (int i = 0; i < 3; i++) noise_step(ns, &nc, pb, NULL);
    CkptMeta mp = {.kind = "dmoe", .n_sizes = 2, .size_names = {"obs_dim", "n_experts"}, .sizes = {48, 2}, .noise = ns};
    CkptMeta mv = {.kind = "mlp"};
    const char *paths[2] = {"checkpoint/policy", "checkpoint/value"};
    const ParamBlock *blocks[2] = {pb, pv};
    const CkptMeta *metas[2] = {&mp, &mv};
    PmError err;
    if (ckpt_write_file(file, 2, paths, blocks, metas, &err) != 0) fail_msg("%s", err.msg);
}

static NoiseState *sample_noise(const ParamBlock *pb) {
    const uint64_t keys[2] = {123, 456};
    const float sigma[2] = {1e-3f, 5e-3f}, lr[2] = {1e-3f, 2e-3f};
    return noise_create(pb, keys, sigma, lr);
}

static void test_round_trip(void **state) {
    (void)state;
    char file[128], tmp[140];
    path_in_dir(file, sizeof file, "rt.h5");
    ParamBlock *pb = fixture_create(2), *pv = fixture_create(1);
    NoiseState *ns = sample_noise(pb);
    write_sample(file, pb, pv, ns);
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    ParamBlock *q = fixture_create(2);
    memset(q->params, 0, 2 * q->P * sizeof(float));
    memset(q->h_adam_step, 0, 2 * q->n_tensors * sizeof(int32_t));
    NoiseState *nq = sample_noise(q);
    nq->sigma[0] = 0;
    CkptMeta m = {.kind = "dmoe", .noise = nq};
    PmError err;
    if (ckpt_read_file(file, "/checkpoint/policy", q, &m, &err) != 0) fail_msg("%s", err.msg);
    assert_memory_equal(q->params, pb->params, 2 * pb->P * sizeof(float));
    assert_memory_equal(q->adam_m, pb->adam_m, 2 * pb->P * sizeof(float));
    assert_memory_equal(q->adam_v, pb->adam_v, 2 * pb->P * sizeof(float));
    assert_memory_equal(q->h_adam_step, pb->h_adam_step, 2 * pb->n_tensors * sizeof(int32_t));
    assert_int_equal(m.n_sizes, 2);
    assert_string_equal(m.size_names[1], "n_experts");
    assert_int_equal(m.sizes[0], 48);
    assert_true(nq->sigma[0] == 1e-3f && nq->sigma[1] == 5e-3f && nq->calls == 3);
    assert_true(nq->streams[1].seed == 456 && nq->streams[1].offset == 3 * 32);
    /* the restored stream continues exactly where the saved one would */
    NoiseConfig nc;
    noise_config_default(&nc);
    noise_step(ns, &nc, pb, NULL);
    noise_step(nq, &nc, q, NULL);
    assert_memory_equal(q->params, pb->params, 2 * pb->P * sizeof(float));
    /* second group, and a kind mismatch */
    ParamBlock *v = fixture_create(1);
    CkptMeta mv = {.kind = "mlp"};
    if (ckpt_read_file(file, "checkpoint/value", v, &mv, &err) != 0) fail_msg("%s", err.msg);
    assert_memory_equal(v->params, pv->params, pv->P * sizeof(float));
    CkptMeta wrong = {.kind = "smoe"};
    assert_int_equal(ckpt_read_file(file, "checkpoint/value", v, &wrong, &err), -1);
    assert_non_null(strstr(err.msg, "holds a \"mlp\" network, expected \"smoe\""));
    noise_free(ns);
    noise_free(nq);
    fixture_free(pb);
    fixture_free(pv);
    fixture_free(q);
    fixture_free(v);
}

static void expect_error(const char *file, const char *group, ParamBlock *pb, const char *needle) {
    PmError err;
    err.msg[0] = 0;
    int rc = ckpt_read_file(file, group, pb, NULL, &err);
    if (rc != -1 || !strstr(err.msg, needle)) fail_msg("rc %d, message \"%s\", wanted \"%s\"", rc, err.msg, needle);
    printf("rejected: %s\n", err.msg);
}

static void test_truncated_and_corrupt(void **state) {
    (void)state;
    char file[128], want[256];
    path_in_dir(file, sizeof file, "trunc.h5");
    ParamBlock *pb = fixture_create(2), *pv = fixture_create(1), *q = fixture_create(2);
    NoiseState *ns = sample_noise(pb);
    write_sample(file, pb, pv, ns);
    FILE *fp = fopen(file, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *bytes = malloc(size);
    assert_int_equal(fread(bytes, 1, size, fp), size);
    fclose(fp);
    const long cuts[] = {size - 1, size / 2, 600, 100, 0};
    for (int i = 0; i < 5; i++) {
        fp = fopen(file, "wb");
        fwrite(bytes, 1, size, fp);
        fclose(fp);
        assert_int_equal(truncate(file, cuts[i]), 0);
        snprintf(want, sizeof want, "checkpoint %s: ", file);
        expect_error(file, "/checkpoint/policy", q, want);
    }
    expect_error(file, "/checkpoint/policy", q, "not an HDF5 file");
    /* one flipped byte inside the data of experts.0.fc1.weight (run 0's 12 floats are stored
     * first and contiguously): caught by the Fletcher-32 checksum */
    unsigned char *hit = memmem(bytes, size, pb->params, 12 * sizeof(float));
    assert_non_null(hit);
    hit[5] ^= 0x40;
    fp = fopen(file, "wb");
    fwrite(bytes, 1, size, fp);
    fclose(fp);
    snprintf(want, sizeof want, "checkpoint %s: cannot read dataset /checkpoint/policy/experts.0.fc1.weight", file);
    expect_error(file, "/checkpoint/policy", q, want);
    char missing[140];
    path_in_dir(missing, sizeof missing, "nope.h5");
    expect_error(missing, "/checkpoint/policy", q, "no such file");
    free(bytes);
    noise_free(ns);
    fixture_free(pb);
    fixture_free(pv);
    fixture_free(q);
}

static void test_missing_and_shape(void **state) {
    (void)state;
    char file[128], want[300];
    path_in_dir(file, sizeof file, "bad.h5");
    ParamBlock *pb = fixture_create(2), *pv = fixture_create(1);
    NoiseState *ns = sample_noise(pb);
    write_sample(file, pb, pv, ns);
    /* wrong shape: the reader expects experts.1.fc1.weight as (3, 4) */
    ParamBlock *q = fixture_create(2);
    int t = fixture_find(q, "experts.1.fc1.weight");
    q->tensors[t].rows = 3;
    q->tensors[t].cols = 4;
    snprintf(want, sizeof want, "checkpoint %s: dataset /checkpoint/policy/experts.1.fc1.weight has shape (2, 4, 3), expected (2, 3, 4)", file);
    expect_error(file, "/checkpoint/policy", q, want);
    fixture_free(q);
    /* wrong run count and group */
    q = fixture_create(3);
    expect_error(file, "/checkpoint/policy", q, "has 2 runs, expected 3");
    expect_error(file, "/checkpoint/critic", q, "missing group /checkpoint/critic");
    fixture_free(q);
    /* missing dataset (removed after writing), and a missing moment */
    hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Ldelete(f, "checkpoint/policy/experts.0.fc1.weight", H5P_DEFAULT) >= 0);
    assert_true(H5Ldelete(f, "checkpoint/value/adam_v/head.bias", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    q = fixture_create(2);
    snprintf(want, sizeof want, "checkpoint %s: missing dataset /checkpoint/policy/experts.0.fc1.weight", file);
    expect_error(file, "/checkpoint/policy", q, want);
    fixture_free(q);
    q = fixture_create(1);
    snprintf(want, sizeof want, "checkpoint %s: missing dataset /checkpoint/value/adam_v/head.bias", file);
    expect_error(file, "/checkpoint/value", q, want);
    fixture_free(q);
    noise_free(ns);
    fixture_free(pb);
    fixture_free(pv);
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-example")) {
        ParamBlock *pb = fixture_create(2), *pv = fixture_create(1);
        NoiseState *ns = sample_noise(pb);
        write_sample(argv[2], pb, pv, ns);
        printf("%.9g\n", pb->params[pb->P + 1]); /* run 1, experts.0.fc1.weight[0, 1] */
        noise_free(ns);
        fixture_free(pb);
        fixture_free(pv);
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/pamoe_ckpt_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_missing_and_shape),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_dir);
}
