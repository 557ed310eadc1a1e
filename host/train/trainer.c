/* trainer.c: the PPO iteration loop of docs/reference/ppo.md over R runs x E environments,
 * written once against the backend table.
 *
 * Faithful mode reproduces the reference's arithmetic and order: rollout (policy forward with
 * fresh routing noise, action sampled, value forward), statistics of the rollout, GAE with
 * true terminals, 5 epochs x 33 minibatches (62 + a 16-sample remainder), fresh forwards
 * with fresh routing noise, one Adam over both networks, expert noise on the policy then the
 * value network after every step, content switch by re-creating the environment with the
 * run seed. Streams: each run's environments, shuffles, routing noise, action uniforms and
 * expert noise depend on that run's seed only, so R runs batched equal R separate runs. */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"
#include "fpmode.h"
#include "train_choices.h"
#include "trainer_state.h"

/* A stop request that the current iteration cannot honour within this many seconds abandons
 * it: the previous checkpoint stands (resume repeats the iterations since, bit-identically). */
#define STOP_GRACE_S 0.5

static const EnvContent SCHEDULE_CHANGE[10] = {ENV_DOCUMENTARY, ENV_LIVE, ENV_NEWS, ENV_DOCUMENTARY, ENV_LIVE,
                                               ENV_NEWS, ENV_DOCUMENTARY, ENV_LIVE, ENV_NEWS, ENV_DOCUMENTARY};

static int schedule_len(const Trainer *t) { return config_schedule_phases(t->cfg.envs_model); }
EnvContent trainer_schedule_content(const Trainer *t, int idx) {
    switch (t->cfg.envs_model) {
    case CFG_ENVS_CHANGE: return SCHEDULE_CHANGE[idx];
    case CFG_ENVS_NORMAL: return ENV_DOCUMENTARY;
    }
    return ENV_DOCUMENTARY;
}

/* The content switch after iteration i (1-based) moves to schedule entry i / period when
 * period divides i, i < n_iterations and the schedule has that entry (environment.md 11). */
static long switch_period(const Trainer *t) { return t->n_iterations / schedule_len(t); }
int trainer_content_index(const Trainer *t, long iterations) {
    long period = switch_period(t), last = iterations < t->n_iterations ? iterations : t->n_iterations - 1;
    if (period <= 0 || last < period) return 0;
    long idx = last / period;
    return (int)(idx < schedule_len(t) ? idx : schedule_len(t) - 1);
}

float trainer_lr_at(const Trainer *t, int r, long iterations) {
    float lr0 = (float)t->cfg.learning_rate[r];
    return t->cfg.anneal_lr && iterations > 0 ? ppo_annealed_lr(lr0, (int)iterations, (int)t->n_iterations) : lr0;
}

int trainer_stop_now(Trainer *t) {
    if (pm_stop_requested() && pm_stop_age() > STOP_GRACE_S) t->abandoned = 1;
    return t->abandoned;
}

void trainer_config_hash(const TrainConfig *cfg, char out[TRAINER_HASH_LEN]) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 of "key=value\n" over every key in order */
    char *val = xmalloc(CONFIG_VALUE_LEN);
    for (int i = 0; i < config_count(); i++) {
        if (!config_in_identity(cfg, i)) continue;
        config_value_str(cfg, i, val, CONFIG_VALUE_LEN);
        const char *part[4] = {config_key(i), "=", val, "\n"};
        for (int k = 0; k < 4; k++)
            for (const char *c = part[k]; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    }
    free(val);
    snprintf(out, TRAINER_HASH_LEN, "%016llx", (unsigned long long)h);
}



uint64_t trainer_action_key(const Trainer *t, int r) { return prand_derive_seed(t->seeds[r], PRAND_ACTION, 0); }
uint64_t trainer_route_key(const Trainer *t, int k, int r) {
    return prand_derive_seed(t->seeds[r], PRAND_ROUTER_NOISE, (uint64_t)k);
}
uint64_t trainer_noise_key(const Trainer *t, int k, int r) {
    return prand_derive_seed(t->seeds[r], k == 0 ? PRAND_EXPERT_NOISE : PRAND_EXPERT_NOISE_VALUE, 0);
}

static void reset_shuffle_streams(Trainer *t) {
    for (int r = 0; r < t->R; r++) rng_seed(&t->run.shuffle[r], t->seeds[r], RNG_SHUFFLE, 0);
}

/* ---- the buffer tables (trainer_buffers.h): allocation, release, checkpoint, checks ---- */
#define F(S, f) offsetof(S, f)
#define SHAPE(...) {__VA_ARGS__}

const BufSpec TRAINER_RUN_STATE[] = {
    {"shuffle", F(RunState, shuffle), BT_U64, BUF_HOST, SHAPE(D_R, D_RNG), 1, CHK_ANY},
    {"action", F(RunState, action), BT_U64, BUF_HOST, SHAPE(D_R, D_PRAND), 1, CHK_ANY},
    {"route_policy", F(RunState, route[0]), BT_U64, BUF_HOST, SHAPE(D_R, D_PRAND), 1, CHK_ANY},
    {"route_value", F(RunState, route[1]), BT_U64, BUF_HOST, SHAPE(D_R, D_PRAND), 1, CHK_ANY},
    {"lr", F(RunState, lr), BT_F32, BUF_HOST, SHAPE(D_R), 1, CHK_FINITE_NONNEG},
    {"next_done", F(RunState, next_done), BT_U8, BUF_HOST, SHAPE(D_RE), 1, CHK_BOOL},
};
const BufSpec TRAINER_ROLLOUT[] = {
    {"obs", F(Rollout, obs), BT_F32, BUF_HOST, SHAPE(D_R, D_N, D_OBS), 0, CHK_ANY},
    {"act", F(Rollout, act), BT_I32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"logp", F(Rollout, logp), BT_F32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"val", F(Rollout, val), BT_F32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"adv", F(Rollout, adv), BT_F32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"ret", F(Rollout, ret), BT_F32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"rew", F(Rollout, rew), BT_F32, BUF_HOST, SHAPE(D_T, D_RE), 0, CHK_ANY},
    {"done", F(Rollout, done), BT_F32, BUF_HOST, SHAPE(D_T, D_RE), 0, CHK_ANY},
    {"stage", F(Rollout, stage), BT_F32, BUF_HOST, SHAPE(D_T, D_RE), 0, CHK_ANY},
    {"pin_x", F(Rollout, pin_x), BT_F32, BUF_PINNED, SHAPE(D_RE, D_OBS), 0, CHK_ANY},
    {"pin_act", F(Rollout, pin_act), BT_I32, BUF_PINNED, SHAPE(D_RE), 0, CHK_ANY},
    {"pin_logp", F(Rollout, pin_logp), BT_F32, BUF_PINNED, SHAPE(D_RE), 0, CHK_ANY},
    {"d_x", F(Rollout, d_x), BT_F32, BUF_BACKEND, SHAPE(D_RE, D_OBS), 0, CHK_ANY},
    {"d_u", F(Rollout, d_u), BT_F32, BUF_BACKEND, SHAPE(D_RE), 0, CHK_ANY},
    {"d_act_step", F(Rollout, d_act_step), BT_I32, BUF_BACKEND, SHAPE(D_RE), 0, CHK_ANY},
    {"d_logp_step", F(Rollout, d_logp_step), BT_F32, BUF_BACKEND, SHAPE(D_RE), 0, CHK_ANY},
    {"d_obs", F(Rollout, d_obs), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N, D_OBS), 0, CHK_ANY},
    {"d_act", F(Rollout, d_act), BT_I32, BUF_BACKEND, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"d_logp", F(Rollout, d_logp), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"d_val", F(Rollout, d_val), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"d_adv", F(Rollout, d_adv), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"d_ret", F(Rollout, d_ret), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"d_rew", F(Rollout, d_rew), BT_F32, BUF_BACKEND, SHAPE(D_T, D_RE), 0, CHK_ANY},
    {"d_done", F(Rollout, d_done), BT_F32, BUF_BACKEND, SHAPE(D_T, D_RE), 0, CHK_ANY},
    {"d_next_done", F(Rollout, d_next_done), BT_F32, BUF_BACKEND, SHAPE(D_RE), 0, CHK_ANY},
};
const BufSpec TRAINER_NOISE_PLAN[] = {
    {"d_eps0", F(NoisePlan, d_eps[0]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B, D_X0), 0, CHK_ANY},
    {"d_eps1", F(NoisePlan, d_eps[1]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B, D_X1), 0, CHK_ANY},
    {"d_replay0", F(NoisePlan, d_replay[0]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N, D_X0_REPLAY), 0, CHK_ANY},
    {"d_replay1", F(NoisePlan, d_replay[1]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_N, D_X1_REPLAY), 0, CHK_ANY},
    {"d_rnoise0", F(NoisePlan, d_rnoise[0]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_NOISE0), 0, CHK_ANY},
    {"d_rnoise1", F(NoisePlan, d_rnoise[1]), BT_F32, BUF_BACKEND, SHAPE(D_R, D_NOISE1), 0, CHK_ANY},
    {"d_ru", F(NoisePlan, d_ru), BT_F32, BUF_BACKEND, SHAPE(D_R, D_NOISE_U), 0, CHK_ANY},
    {"d_sidx0", F(NoisePlan, d_sidx[0]), BT_I32, BUF_BACKEND, SHAPE(D_R, D_SIDX0), 0, CHK_ANY},
    {"d_sidx1", F(NoisePlan, d_sidx[1]), BT_I32, BUF_BACKEND, SHAPE(D_R, D_SIDX1), 0, CHK_ANY},
    {"d_sidx_u", F(NoisePlan, d_sidx[2]), BT_I32, BUF_BACKEND, SHAPE(D_R, D_SIDX_U), 0, CHK_ANY},
    {"d_veps", F(NoisePlan, d_veps), BT_F32, BUF_BACKEND, SHAPE(D_R, D_VEPS), 0, CHK_ANY},
    {"d_vidx", F(NoisePlan, d_vidx), BT_I32, BUF_BACKEND, SHAPE(D_R, D_VIDX), 0, CHK_ANY},
};
const BufSpec TRAINER_UPDATE[] = {
    {"perm", F(UpdateScratch, perm), BT_I32, BUF_HOST, SHAPE(D_R, D_N), 0, CHK_ANY},
    {"idx", F(UpdateScratch, idx), BT_I32, BUF_HOST, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"stats", F(UpdateScratch, stats), BT_LOSS_STATS, BUF_HOST, SHAPE(D_R), 0, CHK_ANY},
    {"clipfrac_sum", F(UpdateScratch, clipfrac_sum), BT_F64, BUF_HOST, SHAPE(D_R), 0, CHK_ANY},
    {"d_idx", F(UpdateScratch, d_idx), BT_I32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_x", F(UpdateScratch, d_x), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B, D_OBS), 0, CHK_ANY},
    {"d_act", F(UpdateScratch, d_act), BT_I32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_logp", F(UpdateScratch, d_logp), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_val", F(UpdateScratch, d_val), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_adv", F(UpdateScratch, d_adv), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_ret", F(UpdateScratch, d_ret), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_dlogits", F(UpdateScratch, d_dlogits), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B, D_A), 0, CHK_ANY},
    {"d_dval", F(UpdateScratch, d_dval), BT_F32, BUF_BACKEND, SHAPE(D_R, D_B), 0, CHK_ANY},
    {"d_stats", F(UpdateScratch, d_stats), BT_LOSS_STATS, BUF_BACKEND, SHAPE(D_R), 0, CHK_ANY},
};
const BufSpec TRAINER_METRICS_SCRATCH[] = {
    {"rows", F(MetricsScratch, rows), BT_F32, BUF_HOST, SHAPE(D_2EMAX, D_MB, D_H), 0, CHK_ANY},
    {"gate", F(MetricsScratch, gate), BT_F32, BUF_HOST, SHAPE(D_R, D_MB, D_EMAX), 0, CHK_ANY},
    {"choice", F(MetricsScratch, choice), BT_I32, BUF_HOST, SHAPE(D_R, D_MB), 0, CHK_ANY},
    {"bulk", F(MetricsScratch, bulk), BT_F32, BUF_HOST, SHAPE(D_MB, D_H), 0, CHK_ANY},
    {"params", F(MetricsScratch, params), BT_F32, BUF_HOST, SHAPE(D_R, D_PMAX), 0, CHK_ANY},
};
/* owned by episodes.c, checkpointed as /episodes */
const BufSpec TRAINER_EPISODES[] = {
    {"sum", F(Episodes, sum), BT_F64, BUF_BORROWED, SHAPE(D_RE, D_EP), 1, CHK_FINITE},
    {"steps", F(Episodes, steps), BT_I32, BUF_BORROWED, SHAPE(D_RE), 1, CHK_NONNEG},
    {"hist", F(Episodes, hist), BT_F64, BUF_BORROWED, SHAPE(D_R, D_EPW, D_EP), 1, CHK_NAN_OR_FINITE},
    {"count", F(Episodes, episodes), BT_I64, BUF_BORROWED, SHAPE(D_R), 1, CHK_NONNEG},
};
#undef F
#undef SHAPE
const int TRAINER_RUN_STATE_N = PM_ARRAY_LEN(TRAINER_RUN_STATE), TRAINER_ROLLOUT_N = PM_ARRAY_LEN(TRAINER_ROLLOUT),
          TRAINER_NOISE_PLAN_N = PM_ARRAY_LEN(TRAINER_NOISE_PLAN), TRAINER_UPDATE_N = PM_ARRAY_LEN(TRAINER_UPDATE),
          TRAINER_METRICS_SCRATCH_N = PM_ARRAY_LEN(TRAINER_METRICS_SCRATCH),
          TRAINER_EPISODES_N = PM_ARRAY_LEN(TRAINER_EPISODES);
_Static_assert(sizeof(Rng) == 4 * sizeof(uint64_t), "Rng is checkpointed as 4 uint64 words");
_Static_assert(sizeof(PrandStream) == 2 * sizeof(uint64_t), "PrandStream is checkpointed as 2 uint64 words");
_Static_assert(sizeof(long) == sizeof(int64_t), "Episodes.episodes is checkpointed as int64");

static long max_l(long a, long b) { return a > b ? a : b; }

/* The named dimensions, once the networks exist. */
static void set_dims(Trainer *t) {
    const TrainConfig *c = &t->cfg;
    long *v = t->dims.v, R = t->R, E = t->E, T = t->T, N = t->N;
    long B = max_l(E, t->mb + 1), X0 = t->X[0], X1 = t->X[1];
    const Net *p = t->net[0], *q = t->net[1];
    v[D_R] = R; v[D_E] = E; v[D_RE] = R * E; v[D_N] = N; v[D_T] = T; v[D_B] = B;
    v[D_OBS] = ABR_OBS_DIM; v[D_A] = p->out; v[D_X0] = X0; v[D_X1] = X1;
    v[D_X0_REPLAY] = c->route_replay ? X0 : 0; v[D_X1_REPLAY] = c->route_replay ? X1 : 0;
    v[D_NOISE0] = X0 ? T * (long)prand_normal_advance(E * X0) : 0;
    v[D_NOISE1] = X1 ? T * (long)prand_normal_advance(E * X1) : 0;
    v[D_NOISE_U] = T * (long)prand_normal_advance(E);
    v[D_SIDX0] = R > 1 ? E * X0 : 0; v[D_SIDX1] = R > 1 ? E * X1 : 0; v[D_SIDX_U] = R > 1 ? E : 0;
    v[D_VIDX] = (E * X1) % 2 ? N * X1 : 0; /* adv(w) != w exactly when w is odd */
    v[D_VEPS] = c->route_replay ? 0 : v[D_VIDX];
    v[D_RNG] = 4; v[D_PRAND] = 2; v[D_EP] = EP_COUNT; v[D_EPW] = EP_WINDOW;
    v[D_MB] = max_l(B, N); /* the value network's rollout forward has N rows */
    v[D_EMAX] = max_l(p->E, q->E); v[D_2EMAX] = 2 * v[D_EMAX]; v[D_H] = c->hidden;
    v[D_PMAX] = max_l(p->pb.P, q->pb.P);
}

/* The per-step gather tables of the noise plan: j for every (run, j) of width w, and the
 * value noise's sample-order gather from the padded per-step blocks. */
static void fill_noise_tables(Trainer *t) {
    Backend *be = t->be;
    const long *v = t->dims.v;
    const BufDim widths[3] = {D_SIDX0, D_SIDX1, D_SIDX_U};
    for (int s = 0; s < 3; s++) {
        long w = v[widths[s]];
        if (!w) continue;
        int32_t *h = xcalloc((size_t)t->R * w, sizeof(int32_t));
        for (long i = 0; i < t->R * w; i++) h[i] = (int32_t)(i % w);
        be->ops->upload(be, t->np.d_sidx[s], h, (size_t)t->R * w * sizeof(int32_t));
        free(h);
    }
    size_t nx = (size_t)v[D_VIDX];
    if (!nx) return;
    long w1 = (long)t->E * t->X[1], a1 = (long)prand_normal_advance(w1);
    int32_t *h = xcalloc((size_t)t->R * nx, sizeof(int32_t));
    for (int r = 0; r < t->R; r++)
        for (size_t i = 0; i < nx; i++) h[r * nx + i] = (int32_t)((long)(i / w1) * a1 + (long)(i % w1));
    be->ops->upload(be, t->np.d_vidx, h, (size_t)t->R * nx * sizeof(int32_t));
    free(h);
}

static int load_data(Trainer *t, PmError *err) {
    const TrainConfig *c = &t->cfg;
    t->traces = trace_set_load_dir(c->traces, c->bw_scale, train_trace_filter(c->trace_filter), err);
    if (!t->traces) return -1;
    return video_load_dir(c->video, &t->video, err);
}

static int create_envs(Trainer *t, PmError *err) {
    const TrainConfig *c = &t->cfg;
    t->seeds = xcalloc(t->R, sizeof *t->seeds);
    for (int r = 0; r < t->R; r++) t->seeds[r] = (uint64_t)c->seed[r];
    EnvConfig ec = {0};
    ec.variant = ENV_TRAINING;
    ec.content = trainer_schedule_content(t, 0);
    ec.seed = t->seeds[0];
    ec.bw_scale = c->bw_scale;
    ec.delay_noise = c->delay_noise;
    ec.n_envs = t->R * t->E;
    ec.auto_reset = 1;
    ec.traces = t->traces;
    ec.video = &t->video;
    ec.run_seeds = t->seeds;
    ec.envs_per_run = t->E;
    t->env = env_create(&ec, err);
    return t->env ? 0 : -1;
}

static int create_nets(Trainer *t, PmError *err) {
    const TrainConfig *c = &t->cfg;
    for (int k = 0; k < 2; k++) {
        NetConfig nc = net_config_default(train_net_kind(k == 0 ? c->policy : c->value), k == 0 ? NET_POLICY : NET_VALUE);
        nc.hidden = c->hidden;
        nc.experts = c->experts;
        nc.router = train_route_mode(c->router);
        int maxB = t->E > t->mb + 1 ? t->E : t->mb + 1;
        if (k == 1 && maxB < t->N && !train_value_per_step(c->value_forward)) maxB = t->N; /* one forward per rollout */
        t->net[k] = net_create(t->be, &nc, t->R, maxB, t->seeds, err);
        if (!t->net[k]) return -1;
        t->X[k] = net_kind_is_sparse(nc.kind) ? t->net[k]->E : 0;
    }
    return 0;
}

static void configure_optimizer(Trainer *t) {
    const TrainConfig *c = &t->cfg;
    adam_config_default(&t->adam);
    t->adam.beta1 = (float)c->beta1;
    t->adam.beta2 = (float)c->beta2;
    t->adam.eps = (float)c->adam_eps;
    t->adam.weight_decay = (float)c->weight_decay;
    t->adam.decoupled = train_adam_decoupled(c->optimizer);
    t->adam.no_router_decay = !c->router_weight_decay;
    ppo_loss_config_default(&t->loss_cfg);
    t->loss_cfg.clip_coef = (float)c->clip_coef;
    t->loss_cfg.ent_coef = (float)c->ent_coef;
    t->loss_cfg.vf_coef = (float)c->vf_coef;
    t->loss_cfg.norm_adv = c->norm_adv;
    t->loss_cfg.clip_vloss = c->clip_vloss;
    noise_config_default(&t->noise_cfg);
    t->noise_cfg.only_took_part = train_noise_selected_only(c->noise_experts);
    t->noise_cfg.scale = c->noise_lr_scaled ? NOISE_SCALE_LR_RATIO : NOISE_SCALE_NONE;
    t->noise_cfg.every_k = c->noise_every;
    float sigma[t->R], lr0[t->R];
    uint64_t keys[t->R];
    for (int r = 0; r < t->R; r++) {
        sigma[r] = (float)c->noise_std[r];
        lr0[r] = (float)c->learning_rate[r];
    }
    for (int k = 0; k < 2; k++) {
        if (!train_noise_enabled(c, k)) continue;
        for (int r = 0; r < t->R; r++) keys[r] = trainer_noise_key(t, k, r);
        t->noise[k] = noise_create(&t->net[k]->pb, keys, sigma, lr0);
    }
}

/* The per-run state of iteration 0: learning rates and the streams' keys at offset 0. */
static void init_run_state(Trainer *t) {
    reset_shuffle_streams(t);
    for (int r = 0; r < t->R; r++) {
        t->run.lr[r] = (float)t->cfg.learning_rate[r];
        t->run.action[r].seed = trainer_action_key(t, r);
        for (int k = 0; k < 2; k++) t->run.route[k][r].seed = trainer_route_key(t, k, r);
    }
}

/* Everything but the run file: data, environments, networks, streams, buffers. */
int trainer_setup(Trainer *t, const TrainConfig *cfg, const char *device, PmError *err) {
    t->cfg = *cfg;
    const TrainConfig *c = &t->cfg;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    if (c->flush_denormals && (t->fp_previous = fpmode_flush_subnormals(1)) < 0)
        return pm_error(err, "run.flush_denormals = on: this CPU has no flush-to-zero mode pamoe knows (x86-64 only)");
    char msg[512];
    t->be = backend_create(device, msg, sizeof msg);
    if (!t->be) return pm_error(err, "--device %s: %s", device, msg);
    t->R = c->runs;
    t->E = c->envs_per_run;
    t->T = c->num_steps / t->E;
    t->N = c->num_steps;
    t->mb = train_equal_minibatches(c->minibatch_mode) ? (t->N + c->num_minibatches - 1) / c->num_minibatches
                                                 : t->N / c->num_minibatches;
    t->n_iterations = c->total_timesteps / c->num_steps;
    if (load_data(t, err) || create_envs(t, err) || create_nets(t, err)) return -1;
    set_dims(t);
    buf_alloc(TRAINER_RUN_STATE, TRAINER_RUN_STATE_N, &t->run, &t->dims, t->be);
    buf_alloc(TRAINER_ROLLOUT, TRAINER_ROLLOUT_N, &t->ro, &t->dims, t->be);
    buf_alloc(TRAINER_NOISE_PLAN, TRAINER_NOISE_PLAN_N, &t->np, &t->dims, t->be);
    buf_alloc(TRAINER_UPDATE, TRAINER_UPDATE_N, &t->up, &t->dims, t->be);
    buf_alloc(TRAINER_METRICS_SCRATCH, TRAINER_METRICS_SCRATCH_N, &t->ms, &t->dims, t->be);
    configure_optimizer(t);
    init_run_state(t);
    fill_noise_tables(t);
    episodes_init(&t->episodes, t->R, t->E, 0);
    t->store = xcalloc(t->R, sizeof *t->store);
    for (int r = 0; r < t->R; r++) t->store[r] = metrics_store_create(c->hidden, (int)t->dims.v[D_EMAX]);
    trainer_plasticity_setup(t);
    return 0;
}

/* Fills eps (R, B, X) for net k from each run's routing stream (fresh noise, faithful). */
void trainer_draw_route_noise(Trainer *t, int k, int B) {
    if (t->X[k]) t->be->ops->rand_normal_runs(t->be, t->np.d_eps[k], t->R, (long)B * t->X[k], t->run.route[k]);
}

/* Epochs x minibatches of PPO updates (ppo.md 6-7). */
static void update(Trainer *t) {
    Backend *be = t->be;
    int R = t->R, N = t->N, A = t->net[0]->out;
    size_t RN = (size_t)R * N;
    be->ops->upload(be, t->ro.d_act, t->ro.act, RN * sizeof(int32_t));
    be->ops->upload(be, t->ro.d_logp, t->ro.logp, RN * sizeof(float));
    be->ops->upload(be, t->ro.d_val, t->ro.val, RN * sizeof(float));
    be->ops->upload(be, t->ro.d_adv, t->ro.adv, RN * sizeof(float));
    be->ops->upload(be, t->ro.d_ret, t->ro.ret, RN * sizeof(float));
    for (int r = 0; r < R; r++) {
        t->up.clipfrac_sum[r] = 0;
        for (int n = 0; n < N; n++) t->up.perm[(size_t)r * N + n] = n;
    }
    t->up.clipfrac_n = 0;
    int equal = train_equal_minibatches(t->cfg.minibatch_mode);
    for (int epoch = 0; epoch < t->cfg.update_epochs; epoch++) {
        for (int r = 0; r < R; r++) rng_shuffle(&t->run.shuffle[r], t->up.perm + (size_t)r * N, N);
        for (int start = 0; start < N; start += t->mb) {
            int B = N - start < t->mb ? N - start : t->mb;
            if (equal && B < 1) break;
            pm_fault_point("update");
            if (trainer_stop_now(t)) return;
            for (int r = 0; r < R; r++)
                memcpy(t->up.idx + (size_t)r * B, t->up.perm + (size_t)r * N + start, (size_t)B * sizeof(int32_t));
            be->ops->upload(be, t->up.d_idx, t->up.idx, (size_t)R * B * sizeof(int32_t));
            be->ops->gather_rows(be, t->up.d_x, t->ro.d_obs, t->up.d_idx, R, B, N, ABR_OBS_DIM);
            be->ops->gather_rows_i32(be, t->up.d_act, t->ro.d_act, t->up.d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->up.d_logp, t->ro.d_logp, t->up.d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->up.d_val, t->ro.d_val, t->up.d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->up.d_adv, t->ro.d_adv, t->up.d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->up.d_ret, t->ro.d_ret, t->up.d_idx, R, B, N, 1);
            for (int k = 0; k < 2; k++) {
                if (!t->X[k]) continue;
                if (t->np.d_replay[k]) be->ops->gather_rows(be, t->np.d_eps[k], t->np.d_replay[k], t->up.d_idx, R, B, N, t->X[k]);
                else trainer_draw_route_noise(t, k, B);
                net_forward(t->net[k], t->up.d_x, B, t->np.d_eps[k]);
                trainer_metrics_observe(t, k, B, 0);
            }
            for (int k = 0; k < 2; k++)
                if (!t->X[k]) {
                    net_forward(t->net[k], t->up.d_x, B, NULL);
                    trainer_metrics_observe(t, k, B, 0);
                }
            be->ops->ppo_loss(be, &t->loss_cfg, R, B, A, net_output(t->net[0]), t->up.d_act, t->up.d_logp, t->up.d_adv,
                         t->up.d_ret, t->cfg.clip_vloss ? t->up.d_val : NULL, net_output(t->net[1]), t->up.d_dlogits,
                         t->up.d_dval, t->up.d_stats);
            net_backward(t->net[0], t->up.d_dlogits);
            net_backward(t->net[1], t->up.d_dval);
            trainer_plasticity_grads(t);
            /* noise_target = grads: the same draws land on the expert gradients, after the
             * L2-init term and before Adam (so Adam's moments see them) */
            for (int k = 0; k < 2; k++)
                if (t->noise[k] && t->noise_on_grads) plast_noise_on_grads(be, t->noise[k], &t->noise_cfg, &t->net[k]->pb, t->run.lr);
            be->ops->adam_step(be, &t->adam, &t->net[0]->pb, t->run.lr);
            be->ops->adam_step(be, &t->adam, &t->net[1]->pb, t->run.lr);
            for (int k = 0; k < 2; k++)
                if (t->noise[k] && !t->noise_on_grads) be->ops->noise_step(be, t->noise[k], &t->noise_cfg, &t->net[k]->pb, t->run.lr);
            be->ops->download(be, t->up.stats, t->up.d_stats, (size_t)R * sizeof *t->up.stats);
            for (int r = 0; r < R; r++) t->up.clipfrac_sum[r] += t->up.stats[r].clipfrac;
            t->up.clipfrac_n++;
        }
    }
}

/* Whether a content switch follows the update of iteration i = t->iteration (1-based). */
static int switch_due(const Trainer *t) {
    long i = t->iteration;
    long period = switch_period(t);
    return period > 0 && i % period == 0 && i < t->n_iterations && i / period < schedule_len(t);
}

/* After the update of iteration i (1-based): the content switch of environment.md 11. */
static void content_switch(Trainer *t) {
    long i = t->iteration;
    long period = switch_period(t);
    if (!switch_due(t)) return;
    t->content_idx = (int)(i / period);
    int reseed = t->cfg.reset_streams_on_switch;
    env_recreate(t->env, trainer_schedule_content(t, t->content_idx), reseed);
    if (reseed) reset_shuffle_streams(t);
    memset(t->run.next_done, 0, (size_t)t->R * t->E);
}

static void progress(const Trainer *t, double sps, int tty) {
    double qoe = 0;
    int n = 0;
    for (int r = 0; r < t->R; r++) {
        double v = episodes_value(&t->episodes, r, EP_RETURN);
        if (!isnan(v)) { qoe += v; n++; }
    }
    double eta = sps > 0 ? (double)(t->n_iterations - t->iteration) * t->N / sps : 0;
    char qbuf[32];
    if (n) snprintf(qbuf, sizeof qbuf, "%8.4f", qoe / n);
    else snprintf(qbuf, sizeof qbuf, "%8s", "n/a");
    fprintf(stderr, "%siter %5ld/%ld | steps/s %9.0f | QoE %s | %-11s | ETA %5.0fs%s", tty ? "\r" : "",
            t->iteration, t->n_iterations, sps * t->R, qbuf,
            env_content_name(trainer_schedule_content(t, t->content_idx)), eta, tty ? "" : "\n");
    fflush(stderr);
}

int trainer_run(Trainer *t, const TrainOptions *opt, PmError *err) {
    pm_stop_install();
    int tty = isatty(2);
    if (!opt->quiet)
        fprintf(stderr, "pamoe train: %s, %d run(s) x %d env(s), policy %s / value %s, %s schedule, iterations %ld..%ld of %d steps, "
                        "%d traces from %s (%s, bw x%g), backend %s\n",
                t->run_path, t->R, t->E, config_choice_name(&t->cfg, &t->cfg.policy), config_choice_name(&t->cfg, &t->cfg.value),
                config_choice_name(&t->cfg, &t->cfg.envs_model), t->iteration + 1,
                t->n_iterations, t->cfg.num_steps, t->traces->n, t->cfg.traces, config_choice_name(&t->cfg, &t->cfg.trace_filter), t->cfg.bw_scale,
                t->be->ops->name);
    long done_here = 0;
    while (t->iteration < t->n_iterations) {
        double t0 = now_seconds();
        for (int r = 0; r < t->R; r++) t->run.lr[r] = trainer_lr_at(t, r, t->iteration + 1);
        trainer_rollout(t);
        if (t->abandoned) break;
        trainer_advantages(t);
        double t1 = now_seconds();
        t->time_rollout += t1 - t0;
        double ev[t->R];
        for (int r = 0; r < t->R; r++)
            ev[r] = ppo_explained_variance(t->ro.val + (size_t)r * t->N, t->ro.ret + (size_t)r * t->N, t->N);
        /* statistics of the rollout are computed before the update (ppo.md 5) */
        double tm = now_seconds();
        if (trainer_metrics_rollout_done(t, err)) return -1;
        trainer_plasticity_before_update(t);
        double tm_done = now_seconds();
        update(t);
        if (t->abandoned) break;
        double t2 = now_seconds();
        t->time_update += t2 - t1;
        t->iteration++;
        trainer_plasticity_after_update(t, switch_due(t));
        t->elapsed_s += t2 - t0;
        double sps = t->elapsed_s > 0 ? (double)t->global_step / t->elapsed_s : 0;
        if (trainer_metrics_append(t, sps, ev, err)) return -1;
        double t3 = now_seconds();
        t->time_metrics += t3 - t2 + (tm_done - tm);
        t->time_update -= tm_done - tm;
        if (!opt->quiet) progress(t, sps, tty); /* names the content of this iteration */
        content_switch(t);
        done_here++;
        int last = t->iteration == t->n_iterations;
        int stop = pm_stop_requested() || (opt->stop_after && done_here >= opt->stop_after);
        if (last || stop || (t->cfg.checkpoint_every && t->iteration % t->cfg.checkpoint_every == 0))
            if (trainer_ckpt_save(t, err)) return -1;
        t->time_ckpt += now_seconds() - t3;
        if (stop && !last) {
            if (!opt->quiet) fprintf(stderr, "%spamoe train: stopped after iteration %ld; checkpoint %s\n", tty ? "\n" : "", t->iteration, t->ckpt_path);
            return pm_stop_requested() ? 1 : 2;
        }
    }
    if (t->abandoned) {
        if (!opt->quiet)
            fprintf(stderr, "%spamoe train: stopped during iteration %ld; the checkpoint %s of an earlier iteration stands "
                            "(--resume repeats the iterations since, with the same results)\n",
                    tty ? "\n" : "", t->iteration + 1, t->ckpt_path);
        return 1;
    }
    if (!opt->quiet) {
        double tot = t->time_rollout + t->time_update + t->time_metrics + t->time_ckpt;
        fprintf(stderr, "%spamoe train: done, %ld iterations; time split: rollout %.1f%%, update %.1f%%, metrics %.1f%%, checkpoints %.1f%% of %.1f s\n",
                tty ? "\n" : "", t->iteration, 100 * t->time_rollout / tot, 100 * t->time_update / tot,
                100 * t->time_metrics / tot, 100 * t->time_ckpt / tot, tot);
    }
    return 0;
}

void trainer_free(Trainer *t) {
    if (!t) return;
    Backend *be = t->be;
    if (t->h5) h5metrics_close(t->h5);
    trainer_plasticity_free(t);
    free(t->metric_names);
    for (int k = 0; k < 2; k++) {
        noise_free(t->noise[k]);
        net_free(t->net[k]);
    }
    buf_release(TRAINER_RUN_STATE, TRAINER_RUN_STATE_N, &t->run, be);
    buf_release(TRAINER_ROLLOUT, TRAINER_ROLLOUT_N, &t->ro, be);
    buf_release(TRAINER_NOISE_PLAN, TRAINER_NOISE_PLAN_N, &t->np, be);
    buf_release(TRAINER_UPDATE, TRAINER_UPDATE_N, &t->up, be);
    buf_release(TRAINER_METRICS_SCRATCH, TRAINER_METRICS_SCRATCH_N, &t->ms, be);
    if (t->store)
        for (int r = 0; r < t->R; r++) metrics_store_free(t->store[r]);
    free(t->store);
    episodes_free(&t->episodes);
    env_free(t->env);
    trace_set_free(t->traces);
    backend_free(be);
    if (t->cfg.flush_denormals) fpmode_restore(t->fp_previous);
    free(t->seeds);
    free(t->run_path);
    free(t->ckpt_path);
    free(t);
}
