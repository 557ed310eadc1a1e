/* test_refagents.c: the reference pipeline's learned agents (pensieve, merina, pamoe_ref) on
 * the converted weights in ../shared/data/weights (exit 77 without them).
 *
 * Golden forwards (baselines.md 10): input x[i][j] = 0.1*(i+1) + 0.01*j (float32). The spec
 * prints 5 significant digits (values 6), so a correct forward is within half a unit of the
 * last digit: <= 5e-5 relative (-1.0953: 4.6e-5). The reference computed in float32, we
 * accumulate in double; on 768-term dot products that differs by ~1e-6 relative. Hence
 * |ours - ref| <= 1e-4 |ref| + 2e-6: the absolute floor covers a log-prob near 0 (PA-MoE's
 * -0.0014839 = logit 12.99 - logsumexp, computed by the reference in float32 whose ulp at 13
 * is 9.5e-7): a numpy port of this forward gives -0.0014839172 in float32 and
 * -0.0014835094 in float64, which is ours. The routes (actor expert 0, critic expert 1) must
 * match exactly.
 *
 * Load checks: the shipped manifests pass their sum checks; altered copies (one value
 * changed, a wrong count, a wrong offset, a transposed shape, a truncated .f32, a missing
 * file) are each rejected with a message naming the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "refweights.h"

#define WDIR "../shared/data/weights"

static void golden_input(float x[ABR_OBS_DIM]) {
    for (int i = 0; i < ABR_OBS_ROWS; i++)
        for (int j = 0; j < ABR_OBS_COLS; j++) x[i * ABR_OBS_COLS + j] = (float)(0.1 * (i + 1) + 0.01 * j);
}

static void assert_close(double got, double want, const char *what, int i) {
    double tol = 1e-4 * fabs(want) + 2e-6;
    if (!(fabs(got - want) <= tol))
        fail_msg("%s[%d]: got %.8g, reference %.8g (|diff| %.3g > tol %.3g)", what, i, got, want,
                 fabs(got - want), tol);
}

/* The agent `name` on the shared converted weights (its default directory, data/reference,
 * holds them only after `pamoe import-reference`). */
static Agent *make(const char *name) {
    PmError err;
    char spec[256];
    snprintf(spec, sizeof spec, "%s:weights=%s", name, WDIR);
    Agent *a = agent_create(spec, NULL, &err);
    if (!a) fail_msg("%s", err.msg);
    return a;
}

static void test_pensieve_golden(void **state) {
    (void)state;
    static const double want_lp[6] = {-4.5368, -0.42332, -1.0953, -15.536, -30.664, -52.002};
    float x[ABR_OBS_DIM];
    double lp[6], v;
    golden_input(x);
    Agent *a = make("pensieve");
    assert_int_equal(agent_pensieve_forward(a, x, lp, &v), 1);
    for (int i = 0; i < 6; i++) assert_close(lp[i], want_lp[i], "pensieve log-prob", i);
    assert_close(v, 85.2119, "pensieve value", 0);
    /* A wrong kind is refused, not misread. */
    assert_int_equal(agent_merina_forward(a, x, (double[12]){0}, lp, &v), -1);
    agent_free(a);
}

static void test_merina_golden(void **state) {
    (void)state;
    static const double want_z[3] = {0.0002736, -0.00039646, 0.00021758};
    static const double want_lp[6] = {-1.4044, -0.42339, -2.5319, -3.9045, -11.804, -11.62};
    float x[ABR_OBS_DIM];
    double z[12], lp[6], v;
    golden_input(x);
    Agent *a = make("merina");
    assert_int_equal(agent_merina_forward(a, x, z, lp, &v), 1);
    /* The latent is small (~3e-4): hold it to the printed digits, relative, no floor. */
    for (int i = 0; i < 3; i++)
        if (!(fabs(z[i] - want_z[i]) <= 1e-4 * fabs(want_z[i]) + 1e-9))
            fail_msg("merina latent[%d]: got %.8g, reference %.8g", i, z[i], want_z[i]);
    for (int i = 0; i < 6; i++) assert_close(lp[i], want_lp[i], "merina log-prob", i);
    assert_close(v, 96.1424, "merina value", 0);
    agent_free(a);
}

static void test_pamoe_golden(void **state) {
    (void)state;
    static const double want_lp[6] = {-0.0014839, -6.538, -10.26, -18.203, -29.341, -18.974};
    float x[ABR_OBS_DIM];
    double lp[6], v;
    int ex[2] = {-1, -1};
    golden_input(x);
    Agent *a = make("pamoe_ref");
    assert_int_equal(agent_pamoe_ref_forward(a, x, ex, lp, &v), 0);
    assert_int_equal(ex[0], 0);
    assert_int_equal(ex[1], 1);
    for (int i = 0; i < 6; i++) assert_close(lp[i], want_lp[i], "pamoe log-prob", i);
    assert_close(v, -128.088, "pamoe value", 0);
    agent_free(a);
}

/* act() = argmax of the forward on the pipeline observation it rolls (agent_pipeline_obs),
 * and reset() clears that observation: a session replayed after reset gives the same
 * actions. Observations vary buffer, throughput and delay so several actions occur. */
static void test_act_matches_forward(void **state) {
    (void)state;
    const char *specs[3] = {"pensieve", "merina", "pamoe_ref"};
    for (int k = 0; k < 3; k++) {
        Agent *a = make(specs[k]);
        assert_int_equal(a->raw_obs, 1);
        int first[40], seen = 0;
        for (int pass = 0; pass < 2; pass++) {
            agent_reset(a);
            float st[ABR_OBS_DIM] = {0};
            for (int t = 0; t < 40; t++) {
                AbrObs o;
                memset(&o, 0, sizeof o);
                o.delay_ms = 300 + 2500 * (0.5 + 0.5 * sin(0.7 * t));
                o.buffer_size_ms = 1000.0 * (t % 25);
                o.chunk_bytes = 150000 + 60000 * (t % 7);
                o.remain_chunk = 47 - t;
                o.last_quality = (t * 5) % ABR_LEVELS;
                for (int q = 0; q < ABR_LEVELS; q++) o.next_chunk_bytes[q] = 1.5e5 * (q + 1);
                agent_pipeline_obs(st, &o);
                double lp[6], v, z[12];
                int ex[2], want;
                if (k == 0) want = agent_pensieve_forward(a, st, lp, &v);
                else if (k == 1) want = agent_merina_forward(a, st, z, lp, &v);
                else want = agent_pamoe_ref_forward(a, st, ex, lp, &v);
                int got = agent_act(a, &o);
                assert_int_equal(got, want);
                if (pass == 0) {
                    first[t] = got;
                    seen |= 1 << got;
                } else {
                    assert_int_equal(got, first[t]);
                }
            }
        }
        if (__builtin_popcount(seen) < 2) fail_msg("%s: one action for 40 varied inputs", specs[k]);
        agent_free(a);
    }
}

/* The shipped files: tensor and float counts of the data README, and every sum check. */
static void test_manifests(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int tensors;
        long floats;
    } want[4] = {{"Pensieve", 32, 205703}, {"Merina", 32, 208775}, {"MerinaVAE", 16, 1179},
                 {"PAMoE", 126, 821907}};
    for (int i = 0; i < 4; i++) {
        RefWeights w;
        PmError err;
        if (refweights_load(&w, WDIR, want[i].name, &err)) fail_msg("%s", err.msg);
        assert_int_equal(w.n_tensors, want[i].tensors);
        assert_int_equal(w.n_floats, want[i].floats);
        /* Independent recomputation of one sum (the loader checked all of them). */
        const RefTensor *t = &w.tensors[w.n_tensors - 2];
        double s = 0;
        for (long k = 0; k < t->count; k++) s += w.data[t->offset + k];
        assert_true(fabs(s - t->sum) <= 1e-8 * fabs(t->sum));
        refweights_free(&w);
    }
}

/* ---- altered copies in a temporary directory ---- */

static char g_tmp[64];

static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)*len + 1);
    assert_int_equal(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void spit(const char *name, const char *buf, long len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

/* Writes Pensieve.{f32,manifest.tsv} into g_tmp: the manifest with `from` replaced by `to`
 * (NULL: unchanged), the data with float `poke` (>= 0) changed by +0.01 and `cut` bytes
 * removed from the end. Returns pensieve's error message (fails if it loads). */
static void try_pensieve(const char *from, const char *to, long poke, long cut, char *msg) {
    long ml, dl;
    char *man = slurp(WDIR "/Pensieve.manifest.tsv", &ml);
    char *data = slurp(WDIR "/Pensieve.f32", &dl);
    if (from) {
        char *at = strstr(man, from);
        assert_non_null(at);
        size_t fl = strlen(from), tl = strlen(to);
        char *edited = malloc((size_t)ml + tl + 1);
        memcpy(edited, man, (size_t)(at - man));
        memcpy(edited + (at - man), to, tl);
        strcpy(edited + (at - man) + tl, at + fl);
        free(man);
        man = edited;
        ml = (long)strlen(man);
    }
    if (poke >= 0) {
        float v;
        memcpy(&v, data + 4 * poke, 4);
        v += 0.01f;
        memcpy(data + 4 * poke, &v, 4);
    }
    spit("Pensieve.manifest.tsv", man, ml);
    spit("Pensieve.f32", data, dl - cut);
    free(man);
    free(data);
    char spec[128];
    snprintf(spec, sizeof spec, "pensieve:weights=%s", g_tmp);
    PmError err;
    Agent *a = agent_create(spec, NULL, &err);
    if (a) {
        agent_free(a);
        fail_msg("altered weights loaded (%s -> %s, poke %ld, cut %ld)", from ? from : "-",
                 to ? to : "-", poke, cut);
    }
    strcpy(msg, err.msg);
    printf("  rejected: %s\n", msg);
}

static void expect_in(const char *msg, const char *part) {
    if (!strstr(msg, part)) fail_msg("message '%s' lacks '%s'", msg, part);
}

static void test_bad_weights(void **state) {
    (void)state;
    char msg[1024];
    /* Missing directory: names the file and the agent spec. */
    PmError err;
    assert_null(agent_create("pensieve:weights=/nonexistent/w", NULL, &err));
    expect_in(err.msg, "/nonexistent/w/Pensieve.manifest.tsv");
    expect_in(err.msg, "agent 'pensieve:weights=/nonexistent/w'");
    assert_null(agent_create("pamoe_ref:weights=/nonexistent/w", NULL, &err));
    expect_in(err.msg, "/nonexistent/w/PAMoE.manifest.tsv");

    strcpy(g_tmp, "/tmp/test_refagents.XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    char path[256];
    /* One value of fc4_actor.weight (offset 106497) changed by 0.01: the sum check. */
    try_pensieve(NULL, NULL, 106497 + 5000, 0, msg);
    expect_in(msg, "Pensieve.f32: tensor fc4_actor.weight: sum");
    /* Count disagreeing with the shape. */
    try_pensieve("fc4_actor.weight\t128x768\t106497\t98304", "fc4_actor.weight\t128x768\t106497\t98303", -1, 0, msg);
    expect_in(msg, "Pensieve.manifest.tsv:30: tensor fc4_actor.weight: count 98303");
    /* Offset not back to back. */
    try_pensieve("\t204801\t", "\t204800\t", -1, 0, msg);
    expect_in(msg, "Pensieve.manifest.tsv:31: tensor fc4_actor.bias: offset 204800, expected 204801");
    /* Transposed shape (same count): the file is self-consistent, the architecture is not. */
    try_pensieve("fc4_actor.weight\t128x768", "fc4_actor.weight\t768x128", -1, 0, msg);
    expect_in(msg, "Pensieve.manifest.tsv:30: tensor fc4_actor.weight has shape 768x128, pensieve");
    /* A renamed tensor: the architecture's one is missing. */
    try_pensieve("pi_head.bias", "pi_head.b", -1, 0, msg);
    expect_in(msg, "no tensor 'pi_head.bias'");
    /* Truncated data file. */
    try_pensieve(NULL, NULL, -1, 4, msg);
    expect_in(msg, "Pensieve.f32: 822808 bytes");
    /* Merina with its VAE missing names the VAE file. */
    long ml, dl;
    char *man = slurp(WDIR "/Merina.manifest.tsv", &ml);
    char *data = slurp(WDIR "/Merina.f32", &dl);
    spit("Merina.manifest.tsv", man, ml);
    spit("Merina.f32", data, dl);
    free(man);
    free(data);
    char spec[128];
    snprintf(spec, sizeof spec, "merina:weights=%s", g_tmp);
    assert_null(agent_create(spec, NULL, &err));
    snprintf(path, sizeof path, "%s/MerinaVAE.manifest.tsv", g_tmp);
    expect_in(err.msg, path);
    const char *files[4] = {"Pensieve.manifest.tsv", "Pensieve.f32", "Merina.manifest.tsv",
                            "Merina.f32"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", g_tmp, files[i]);
        unlink(path);
    }
    rmdir(g_tmp);
}

int main(void) {
    if (access(WDIR, R_OK)) {
        printf("SKIP: ../shared/data not found\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pensieve_golden),   cmocka_unit_test(test_merina_golden),
        cmocka_unit_test(test_pamoe_golden),      cmocka_unit_test(test_act_matches_forward),
        cmocka_unit_test(test_manifests),         cmocka_unit_test(test_bad_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
