/* test_agents.c: the rule-based ABR agents (agent.h) against decisions worked out by hand
 * on small crafted states (docs/reference/baselines.md 3-6). Units: buffer in ms in AbrObs, bitrates
 * R = 300, 750, 1200, 1850, 2850, 4300 kbps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "agent.h"
#include "env.h"

static AbrObs obs_make(double chunk_bytes, double delay_ms, double buffer_ms, int remain,
                       int last_q, const double next[ABR_LEVELS]) {
    AbrObs o;
    memset(&o, 0, sizeof o);
    o.chunk_bytes = chunk_bytes;
    o.delay_ms = delay_ms;
    o.buffer_size_ms = buffer_ms;
    o.remain_chunk = remain;
    o.last_quality = last_q;
    for (int q = 0; q < ABR_LEVELS; q++) o.next_chunk_bytes[q] = next ? next[q] : 1e6;
    return o;
}

static Agent *make(const char *spec, const AgentVideo *v) {
    PmError err;
    Agent *a = agent_create(spec, v, &err);
    if (!a) fail_msg("%s", err.msg);
    return a;
}

static int act_buffer(Agent *a, double buffer_ms) {
    AbrObs o = obs_make(1e6, 1000, buffer_ms, 40, 1, NULL);
    return agent_act(a, &o);
}

/* BB, reservoir 20 000 ms, cushion 8 000 ms: q = floor(5 (b - 20000) / 8000) in between.
 *  19 999.9 -> 0 (below the reservoir);  20 000 -> floor(0) = 0;  21 599 -> floor(0.999) = 0
 *  21 600 -> floor(1.0) = 1;  24 000 -> floor(2.5) = 2;  27 999 -> floor(4.999) = 4
 *  28 000 -> 5 (reservoir + cushion reached);  60 000 -> 5
 * Pensieve (5 000 / 10 000): 4 999 -> 0;  12 000 -> floor(3.5) = 3;  15 000 -> 5.
 * Explicit reservoir=1000:cushion=1000: 1 500 -> floor(2.5) = 2. */
static void test_bb(void **state) {
    (void)state;
    Agent *a = make("bb", NULL);
    const double b[8] = {19999.9, 20000, 21599, 21600, 24000, 27999, 28000, 60000};
    const int want[8] = {0, 0, 0, 1, 2, 4, 5, 5};
    for (int i = 0; i < 8; i++) assert_int_equal(act_buffer(a, b[i]), want[i]);
    agent_free(a);
    a = make("bb:pensieve", NULL);
    assert_int_equal(act_buffer(a, 4999), 0);
    assert_int_equal(act_buffer(a, 12000), 3);
    assert_int_equal(act_buffer(a, 15000), 5);
    agent_free(a);
    a = make("bb:reservoir=1000:cushion=1000", NULL);
    assert_int_equal(act_buffer(a, 1500), 2);
    agent_free(a);
}

/* Estimator (bytes/ms samples), harmonic mean of up to 6 samples, discount 1 + max of the
 * last 5 errors, error = |previous undiscounted estimate - sample| / sample:
 *  1: c=400  err 0                          h = 400                      pred 400
 *  2: c=200  err |400-200|/200 = 1          h = 2/(1/400+1/200) = 266.67 pred h/2 = 133.33
 *  3: c=400  err |266.67-400|/400 = 1/3     h = 3/(2/400+1/200) = 300    pred 150
 *  4: c=300  err 0                          h = 4/(0.01+1/300) = 300     pred 150
 *  5: c=300  err 0                          h = 300                      pred 150
 *  6: c=300  err 0, errors 1,1/3,0,0,0      h = 6/(0.01+3/300) = 300     pred 150
 *  7: c=300  error 1 leaves the 5-window: max 1/3; the first 400 leaves the 6-window:
 *            h = 6/(1/200+1/400+4/300) = 288                             pred 288/(4/3) = 216
 *  8: c=300  err |288-300|/300 = 0.04; errors 1/3 gone (window 0,0,0,0,0.04);
 *            samples 400,300 x5: h = 6/(1/400+5/300) = 313.0435          pred h/1.04 = 301.003 */
static void test_estimator(void **state) {
    (void)state;
    AgentEstimator e;
    agent_est_init(&e, AGENT_EST_SAMPLES);
    const double c[8] = {400, 200, 400, 300, 300, 300, 300, 300};
    const double want[8] = {400, 400.0 / 3, 150, 150, 150, 150, 216, (6 / (1.0 / 400 + 5.0 / 300)) / 1.04};
    for (int i = 0; i < 8; i++) assert_float_equal(agent_est_update(&e, c[i]), want[i], 1e-9);
    assert_float_equal(want[7], 301.00334448160535, 1e-9);
}

/* RB on the first three samples above, next sizes S = 100k, 250k, 400k, 600k, 1M, 1.5M bytes:
 *  step 1: pred 400, buffer 2000 ms: S/pred = 250,625,1000,1500,2500,3750 ms -> q 3 (1500 <= 2000)
 *  step 2: pred 133.33, buffer 5000: 750,1875,3000,4500,7500,11250 -> q 3 (4500 <= 5000)
 *  step 3: pred 150, buffer 3000: 666.7,1666.7,2666.7,4000 -> q 2
 * Across sessions (defect 27): after steps 1-2 and agent_reset, step 3 still sees pred 150 -> 2;
 * with rb:reset the history is forgotten: pred 400, 1M/400 = 2500 <= 3000 -> q 4. */
static void test_rb(void **state) {
    (void)state;
    const double next[6] = {100000, 250000, 400000, 600000, 1000000, 1500000};
    AbrObs o1 = obs_make(400000, 1000, 2000, 46, 1, next);
    AbrObs o2 = obs_make(400000, 2000, 5000, 45, 3, next);
    AbrObs o3 = obs_make(400000, 1000, 3000, 44, 3, next);
    Agent *a = make("rb", NULL);
    assert_int_equal(agent_act(a, &o1), 3);
    assert_int_equal(agent_act(a, &o2), 3);
    assert_int_equal(agent_act(a, &o3), 2);
    agent_free(a);
    a = make("rb", NULL);
    agent_act(a, &o1);
    agent_act(a, &o2);
    agent_reset(a);
    assert_int_equal(agent_act(a, &o3), 2);
    agent_free(a);
    a = make("rb:reset", NULL);
    agent_act(a, &o1);
    agent_act(a, &o2);
    agent_reset(a);
    assert_int_equal(agent_act(a, &o3), 4);
    agent_free(a);
    /* zero delay counts as a 1e-6 bytes/ms sample: nothing fits in a 0 ms buffer -> 0 */
    a = make("rb", NULL);
    AbrObs z = obs_make(400000, 0, 0, 40, 1, next);
    assert_int_equal(agent_act(a, &z), 0);
    agent_free(a);
}

/* BOLA: gp = 1 + ln(4300/300)/(30/10 - 1) = 2.3312939135, V = 10/(gp - 1) = 7.5114893101.
 * score_q = (V (R_q/1000 + gp) - b_s) / S_q; S = 200k, 500k, 800k, 1.2M, 1.9M, 3.2M bytes.
 * V (R/1000 + gp) = 19.7649, 23.1451, 26.5252, 31.4077, 38.9192, 49.8109.
 *  b = 0 s:  19.7649/2e5 = 9.88e-5 is the largest (q1 4.63e-5, ...)           -> 0
 *  b = 20 s: -1.18e-6, 6.29e-6, 8.16e-6, 9.51e-6, 9.96e-6, 9.32e-6            -> 4
 *  b = 60 s: all negative; -3.18e-6 (q5, the largest size) is the largest    -> 5 */
static void test_bola(void **state) {
    (void)state;
    const double next[6] = {200000, 500000, 800000, 1200000, 1900000, 3200000};
    Agent *a = make("bola", NULL);
    const double b[3] = {0, 20000, 60000};
    const int want[3] = {0, 4, 5};
    for (int i = 0; i < 3; i++) {
        AbrObs o = obs_make(1e6, 1000, b[i], 40, 1, next);
        assert_int_equal(agent_act(a, &o), want[i]);
    }
    agent_free(a);
}

/* Video with the same sizes for every chunk; MB -> bytes. */
static double g_sizes[ABR_LEVELS * (ABR_CHUNKS + 1)];
static AgentVideo video_const(const double mb[ABR_LEVELS], int n_chunks) {
    for (int q = 0; q < ABR_LEVELS; q++)
        for (int i = 0; i < n_chunks; i++) g_sizes[q * n_chunks + i] = mb[q] * 1e6;
    AgentVideo v = {g_sizes, n_chunks};
    return v;
}

/* Pipeline RobustMPC, horizon 3. First observation: 1e6 bytes in 1000 ms -> pred 1000 bytes/ms
 * = 1 MB/s, so download time dt_q = size in MB: dt = 0.5, 3, 6, 9, 12, 15 s. remain 40 (chunks
 * 8, 9, 10 planned), root buffer 3.5 s, last quality 1. r = R/1000 - 4.3 rebuf - |dR|/1000.
 * "q+1 superior": dreb = 4.3 (max(dt[q+1]-b,0) - max(dt[q]-b,0)), gain = R_q/1000 - R_q+1/1000,
 * superior iff 3 gain + dreb < 0 (q+1 <= parent's last) else gain + dreb < 0.
 * pos 0, root (b 3.5, last 1):
 *   q0: b 3+4 = 7, r = .3 - .45 = -.15                                   -> A (-0.15, 7, 0)
 *   q1?: dreb 0 (3 < 3.5), 3(-.45) < 0: q1: b .5+4 = 4.5, r .75          -> B (0.75, 4.5, 1)
 *   q2?: dreb 4.3 (6 - 3.5) = 10.75 > .45: stop
 * pos 1, A (b 7, last 0): q0 b 10.5, r .3 -> A0 .15; q1 (dreb 0) b 8, r .75-.45 = .3 -> A1 .15;
 *   q2 (6 < 7) b 5, r 1.2-.9 = .3 -> A2 .15; q3?: dreb 4.3 (9-7) = 8.6: stop
 *        B (b 4.5, last 1): q0 b 8, r -.15 -> B0 .6; q1 (3 < 4.5, 3 gain < 0) b 5.5, r .75 -> B1 1.5;
 *   q2?: dreb 4.3 (6-4.5) = 6.45: stop
 * pos 2 (leaves):
 *   A0 (b 10.5, l0): q0 .45, q1 .45, q2 .45, q3 (9 < 10.5) .45; q4?: dreb 4.3 (12-10.5): stop
 *   A1 (b 8, l1):    q0 .15-.15 = 0, q1 .9, q2 (6 < 8) .9; q3?: dreb 4.3: stop
 *   A2 (b 5, l2):    q0 .15+.3-.9 = -.45, q1 (3 gain + 0 < 0) .15+.75-.45 = .45;
 *                    q2?: 3(-.45) + 4.3 (6-5) = 2.95 > 0: stop
 *   B0 (b 8, l0):    q0 .9, q1 .9, q2 .9; q3?: dreb 4.3: stop
 *   B1 (b 5.5, l1):  q0 1.5-.15 = 1.35, q1 1.5+.75 = 2.25; q2?: -.45 + 4.3 (.5) = 1.7: stop
 * 14 leaves; best 2.25 = path (1, 1, 1) -> play 1.
 * Exhaustive horizon 3 would also consider e.g. (1,1,0)... but none beats 2.25 either; the
 * pruned tree never evaluates q2 at the root, which a rebuffer of 2.5 s makes hopeless. */
static void test_mpc_tree(void **state) {
    (void)state;
    const double mb[6] = {0.5, 3, 6, 9, 12, 15};
    AgentVideo v = video_const(mb, ABR_CHUNKS);
    Agent *a = make("mpc", &v);
    AbrObs o = obs_make(1e6, 1000, 3500, 40, 1, NULL);
    assert_int_equal(agent_act(a, &o), 1);
    agent_free(a);
    /* root buffer 1 s, last 1: q0 b 4.5 r -.15; q1?: 3(-.45) + 4.3 (3-1) = 7.25 > 0: stop.
     * Only q0 at the root survives -> play 0 whatever the deeper positions add. */
    a = make("mpc", &v);
    o = obs_make(1e6, 1000, 1000, 40, 1, NULL);
    assert_int_equal(agent_act(a, &o), 0);
    agent_free(a);
}

/* The phantom chunk: remain 1 -> j = 46, H = min(3, 48-46) = 2: position 0 is chunk 47,
 * position 1 is index 48 > 47, download time 0. dt = .5, 1.1, 6, 9, 12, 15 s, root b 1 s,
 * last 0, pred 1 MB/s.
 * pos 0: q0: b .5+4 = 4.5, r .3 -> A (.3, l0)
 *        q1?: dreb 4.3 (.1 - 0) = .43, gain -.45 -> -.02 < 0: q1: rebuf .1, b 4,
 *             r = .75 - .43 - .45 = -.13 -> B (-.13, l1)
 *        q2?: dreb 4.3 (5 - .1) = 21.07: stop
 * pos 1 (phantom, dt 0, every test passes): from A every q gives R_q - (R_q - R_0) = .3 -> .6;
 *        from B: q0 .3 - .45 -> -.28; q1..q5 give .75 -> .62.
 * Best .62 (first action 1) -> play 1. With horizon=1 there is no phantom: .3 > -.13 -> 0. */
static void test_mpc_phantom(void **state) {
    (void)state;
    const double mb[6] = {0.5, 1.1, 6, 9, 12, 15};
    /* A 49th table entry exists (15 MB) but the pipeline never reads past chunk 47: were it
     * read, both subtrees would rebuffer > 10 s and A (.3 - 45.15 + .3) would beat B -> 0. */
    AgentVideo v = video_const(mb, ABR_CHUNKS + 1);
    for (int q = 0; q < ABR_LEVELS; q++) g_sizes[q * (ABR_CHUNKS + 1) + ABR_CHUNKS] = 15e6;
    AbrObs o = obs_make(1e6, 1000, 1000, 1, 0, NULL);
    Agent *a = make("mpc", &v);
    assert_int_equal(agent_act(a, &o), 1);
    agent_free(a);
    a = make("mpc:horizon=1", &v);
    assert_int_equal(agent_act(a, &o), 0);
    agent_free(a);
}

/* Pensieve's RobustMPC at the last decision (remain 1, k = 47 chunks downloaded):
 * H = min(5, 48 - 47) = 1, sample 1e6 bytes / 1000 ms / 1000 = 1 MB/s, buffer 1 s, last 1.
 *  offbyone=0 reads chunk 47 (dt = .5, 1.1, 6, 9, 12, 15 s):
 *    q0 .3 - .45 = -.15; q1 .75 - 4.3 (.1) = .32; q2 1.2 - 4.3 (5) - .45 < 0 ... -> 1
 *  offbyone=1 (Pensieve) reads index 48: the 49th table entry (0.1 MB each here) or 0 beyond
 *    the table: no rebuffer, r = R_q - |R_q - .75| = .75 for every q >= 1, ties go to the
 *    later combination -> 5. */
static void test_mpc_pensieve_offbyone(void **state) {
    (void)state;
    const double mb[6] = {0.5, 1.1, 6, 9, 12, 15};
    AbrObs o = obs_make(1e6, 1000, 1000, 1, 1, NULL);
    AgentVideo v = video_const(mb, ABR_CHUNKS + 1);
    for (int q = 0; q < ABR_LEVELS; q++) g_sizes[q * (ABR_CHUNKS + 1) + ABR_CHUNKS] = 1e5;
    Agent *a = make("mpc:variant=pensieve:offbyone=0", &v);
    assert_int_equal(agent_act(a, &o), 1);
    agent_free(a);
    a = make("mpc:variant=pensieve", &v);
    assert_int_equal(agent_act(a, &o), 5);
    agent_free(a);
    v = video_const(mb, ABR_CHUNKS); /* no 49th entry: size 0 */
    a = make("mpc:variant=pensieve:offbyone=1", &v);
    assert_int_equal(agent_act(a, &o), 5);
    agent_free(a);
}

/* Pensieve exhaustive search at horizon 3 on the pipeline tree state (b 3.5, last 1, remain 40,
 * offbyone=0 so the same chunks are planned): the exhaustive maximum is also (1,1,1) = 2.25
 * (raising quality later always rebuffers: dt 6 > buffer), so both variants play 1. */
static void test_mpc_pensieve_agrees(void **state) {
    (void)state;
    const double mb[6] = {0.5, 3, 6, 9, 12, 15};
    AgentVideo v = video_const(mb, ABR_CHUNKS);
    AbrObs o = obs_make(1e6, 1000, 3500, 40, 1, NULL);
    Agent *a = make("mpc:variant=pensieve:offbyone=0:horizon=3", &v);
    assert_int_equal(agent_act(a, &o), 1);
    agent_free(a);
}

/* Monotone pruning can miss a better higher level: root b 1 s, last 2, pred 1 MB/s,
 * dt = .5, 1.32, 1.33, 9, 12, 15 s.
 *  pipeline: q0: r = .3 - .9 = -.6; q1?: dreb 4.3 (.32 - 0) = 1.376, 3 (-.45) + 1.376 = .026 > 0:
 *            stop -> only q0 survives at the root -> 0 (remain 40, horizon 3).
 *  exhaustive (Pensieve, offbyone=0, horizon 1): q0 -.6; q1 .75 - 4.3 (.32) - .45 = -1.076;
 *            q2 1.2 - 4.3 (.33) - 0 = -.219; q3.. rebuffer > 7 s -> 2. */
static void test_mpc_pruning_misses(void **state) {
    (void)state;
    const double mb[6] = {0.5, 1.32, 1.33, 9, 12, 15};
    AgentVideo v = video_const(mb, ABR_CHUNKS);
    AbrObs o = obs_make(1e6, 1000, 1000, 40, 2, NULL);
    Agent *a = make("mpc", &v);
    assert_int_equal(agent_act(a, &o), 0);
    agent_free(a);
    a = make("mpc:variant=pensieve:offbyone=0:horizon=1", &v);
    assert_int_equal(agent_act(a, &o), 2);
    agent_free(a);
}

/* The pipeline's 6x8 builder from AbrObs equals the evaluation env's own observation, bit for
 * bit, over two sessions on a small hand-made trace (1 Mbps then 3 Mbps, 10 s each). */
static void test_pipeline_obs(void **state) {
    (void)state;
    double t[4] = {0, 10, 20, 30}, bw[4] = {1, 3, 1, 3}, thr[4];
    for (int i = 0; i < 4; i++) thr[i] = bw[i] * 1e6 / 8;
    Trace tr = {"hand", 4, t, bw, thr, 2.0};
    TraceSet ts = {1, &tr, 1.0};
    Video v;
    v.n_chunks = ABR_CHUNKS;
    for (int q = 0; q < ABR_LEVELS; q++)
        for (int k = 0; k < ABR_CHUNKS; k++) v.size[q][k] = ABR_BITRATE_KBPS[q] * 500.0 + 1000 * k;
    EnvConfig ec = {0};
    ec.variant = ENV_EVALUATION;
    ec.seed = 5;
    ec.delay_noise = 1;
    ec.n_envs = 1;
    ec.traces = &ts;
    ec.video = &v;
    PmError err;
    EnvBatch *b = env_create(&ec, &err);
    assert_non_null(b);
    env_reset_all(b);
    float mine[ABR_OBS_DIM];
    int compared = 0;
    for (int s = 0; s < 2; s++) {
        if (s > 0) env_reset(b, 0);
        memset(mine, 0, sizeof mine);
        for (int step = 0;; step++) {
            agent_pipeline_obs(mine, &b->abr[0]);
            assert_memory_equal(mine, env_obs(b, 0), sizeof mine);
            compared++;
            int a = (step * 5) % ABR_LEVELS;
            env_step(b, &a);
            if (b->done[0]) break;
        }
    }
    assert_int_equal(compared, 2 * 47);
    env_free(b);
}

static Agent *const_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
static int const_act(Agent *a, const AbrObs *o) {
    (void)o;
    return *(int *)a->state;
}
static void const_reset(Agent *a) { (void)a; }
static Agent *const_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    int q = 0;
    if (agent_opt_int(opts, "q", 0, 5, &q, err)) return NULL;
    Agent *a = xcalloc(1, sizeof *a);
    a->state = xmalloc(sizeof(int));
    *(int *)a->state = q;
    a->act = const_act;
    a->reset = const_reset;
    return a;
}

/* Factory: names, options and the registration hook for agents defined elsewhere. */
static void test_factory(void **state) {
    (void)state;
    PmError err;
    const double mb[6] = {0.5, 3, 6, 9, 12, 15};
    AgentVideo v = video_const(mb, ABR_CHUNKS);
    assert_null(agent_create("nosuch", &v, &err));
    assert_non_null(strstr(err.msg, "unknown agent 'nosuch'"));
    assert_non_null(strstr(err.msg, "bb|rb|bola|mpc"));
    assert_null(agent_create("bb:speed=2", &v, &err));
    assert_non_null(strstr(err.msg, "unknown option 'speed'"));
    assert_null(agent_create("bb:cushion=abc", &v, &err));
    assert_non_null(strstr(err.msg, "cushion=abc"));
    assert_null(agent_create("mpc:variant=fast", &v, &err));
    assert_non_null(strstr(err.msg, "pipeline|pensieve"));
    assert_null(agent_create("mpc:offbyone=0", &v, &err));
    assert_null(agent_create("mpc", NULL, &err));
    assert_non_null(strstr(err.msg, "chunk sizes"));
    assert_null(agent_create("", &v, &err));
    assert_null(agent_create("rb:reset:reset", &v, &err));
    Agent *a = make("mpc:variant=pensieve:offbyone=0", &v);
    assert_string_equal(a->label, "mpc:variant=pensieve:offbyone=0");
    agent_free(a);
    agent_free(NULL);
    assert_int_equal(agent_register("const", const_create, "always quality q"), 0);
    assert_int_equal(agent_register("const", const_create, "again"), -1);
    a = make("const:q=4", NULL);
    AbrObs o = obs_make(1e6, 1000, 0, 40, 1, NULL);
    assert_int_equal(agent_act(a, &o), 4);
    agent_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bb),
        cmocka_unit_test(test_estimator),
        cmocka_unit_test(test_rb),
        cmocka_unit_test(test_bola),
        cmocka_unit_test(test_mpc_tree),
        cmocka_unit_test(test_mpc_phantom),
        cmocka_unit_test(test_mpc_pensieve_offbyone),
        cmocka_unit_test(test_mpc_pensieve_agrees),
        cmocka_unit_test(test_mpc_pruning_misses),
        cmocka_unit_test(test_factory),
        cmocka_unit_test(test_pipeline_obs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
