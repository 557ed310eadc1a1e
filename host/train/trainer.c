/* trainer.c: the PPO iteration loop of ../shared/spec/ppo.md over R runs x E environments,
 * written once against the backend table (DESIGN.md "Data flow of one training iteration").
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trainer_state.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static const EnvContent SCHEDULE_CHANGE[10] = {ENV_DOCUMENTARY, ENV_LIVE, ENV_NEWS, ENV_DOCUMENTARY, ENV_LIVE,
                                               ENV_NEWS, ENV_DOCUMENTARY, ENV_LIVE, ENV_NEWS, ENV_DOCUMENTARY};

static int schedule_len(const Trainer *t) { return !strcmp(t->cfg.envs_model, "change") ? 10 : 5; }
static EnvContent schedule_content(const Trainer *t, int idx) {
    return !strcmp(t->cfg.envs_model, "change") ? SCHEDULE_CHANGE[idx] : ENV_DOCUMENTARY;
}

char *trainer_ckpt_path(const char *run_path) {
    size_t n = strlen(run_path);
    char *p = xmalloc(n + 16);
    if (n > 3 && !strcmp(run_path + n - 3, ".h5")) snprintf(p, n + 16, "%.*s.ckpt.h5", (int)(n - 3), run_path);
    else snprintf(p, n + 16, "%s.ckpt.h5", run_path);
    return p;
}

/* Expert noise runs for net k under the configured rule (spec README defect 3). */
static int noise_enabled(const TrainConfig *c, int k) {
    const char *kind = k == 0 ? c->policy : c->value;
    if (!strcmp(c->noise_when, "never") || strcmp(kind, "pamoe")) return 0;
    if (!strcmp(c->noise_when, "always")) return 1;
    return !strcmp(c->policy, "pamoe") && !strcmp(c->value, "pamoe"); /* faithful */
}

static void reset_shuffle_streams(Trainer *t) {
    for (int r = 0; r < t->R; r++) rng_seed(&t->shuffle[r], t->seeds[r], RNG_SHUFFLE, 0);
}

/* Everything but the run file: data, environments, networks, streams, buffers. */
static int setup(Trainer *t, const TrainConfig *cfg, const char *device, PmError *err) {
    t->cfg = *cfg;
    const TrainConfig *c = &t->cfg;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    char msg[512];
    t->be = backend_create(device, msg, sizeof msg);
    if (!t->be) return pm_error(err, "--device %s: %s", device, msg);
    t->R = c->runs;
    t->E = c->envs_per_run;
    t->T = c->num_steps / t->E;
    t->N = c->num_steps;
    t->mb = !strcmp(c->minibatch_mode, "equal") ? (t->N + c->num_minibatches - 1) / c->num_minibatches
                                                 : t->N / c->num_minibatches;
    t->n_iterations = c->total_timesteps / c->num_steps;
    int R = t->R, E = t->E, N = t->N, mb = t->mb;

    t->traces = trace_set_load_dir(c->traces, c->bw_scale, (TraceFilter)trace_filter_parse(c->trace_filter), err);
    if (!t->traces) return -1;
    if (video_load_dir(c->video, &t->video, err)) return -1;

    t->seeds = xcalloc(R, sizeof *t->seeds);
    for (int r = 0; r < R; r++) t->seeds[r] = (uint64_t)c->seed[r];
    EnvConfig ec = {0};
    ec.variant = ENV_TRAINING;
    ec.content = schedule_content(t, 0);
    ec.seed = t->seeds[0];
    ec.bw_scale = c->bw_scale;
    ec.delay_noise = c->delay_noise;
    ec.n_envs = R * E;
    ec.auto_reset = 1;
    ec.traces = t->traces;
    ec.video = &t->video;
    ec.run_seeds = t->seeds;
    ec.envs_per_run = E;
    t->env = env_create(&ec, err);
    if (!t->env) return -1;

    for (int k = 0; k < 2; k++) {
        const char *kind = k == 0 ? c->policy : c->value;
        NetConfig nc = net_config_default((NetKind)net_kind_parse(kind), k == 0 ? NET_POLICY : NET_VALUE);
        nc.hidden = c->hidden;
        nc.experts = c->experts;
        nc.router = !strcmp(c->router, "switch") ? ROUTE_SWITCH : ROUTE_FAITHFUL;
        int maxB = E > mb + 1 ? E : mb + 1;
        if (k == 1 && maxB < N && strcmp(c->value_forward, "step")) maxB = N; /* one forward per rollout */
        t->net[k] = net_create(t->be, &nc, R, maxB, t->seeds, err);
        if (!t->net[k]) return -1;
        t->X[k] = (nc.kind == NET_SMOE || nc.kind == NET_PAMOE) ? t->net[k]->E : 0;
    }

    adam_config_default(&t->adam);
    t->adam.beta1 = (float)c->beta1;
    t->adam.beta2 = (float)c->beta2;
    t->adam.eps = (float)c->adam_eps;
    t->adam.weight_decay = (float)c->weight_decay;
    t->adam.decoupled = !strcmp(c->optimizer, "adamw");
    t->adam.no_router_decay = !c->router_weight_decay;
    ppo_loss_config_default(&t->loss_cfg);
    t->loss_cfg.clip_coef = (float)c->clip_coef;
    t->loss_cfg.ent_coef = (float)c->ent_coef;
    t->loss_cfg.vf_coef = (float)c->vf_coef;
    t->loss_cfg.norm_adv = c->norm_adv;
    t->loss_cfg.clip_vloss = c->clip_vloss;
    noise_config_default(&t->noise_cfg);
    t->noise_cfg.only_took_part = !strcmp(c->noise_experts, "selected");
    t->noise_cfg.scale = c->noise_lr_scaled ? NOISE_SCALE_LR_RATIO : NOISE_SCALE_NONE;
    t->noise_cfg.every_k = c->noise_every;

    t->lr = xcalloc(R, sizeof *t->lr);
    t->lr0 = xcalloc(R, sizeof *t->lr0);
    float *sigma = xcalloc(R, sizeof *sigma);
    uint64_t *keys = xcalloc(R, sizeof *keys);
    for (int r = 0; r < R; r++) {
        t->lr[r] = t->lr0[r] = (float)c->learning_rate[r];
        sigma[r] = (float)c->noise_std[r];
    }
    for (int k = 0; k < 2; k++) {
        if (!noise_enabled(c, k)) continue;
        for (int r = 0; r < R; r++)
            keys[r] = prand_derive_seed(t->seeds[r], k == 0 ? PRAND_EXPERT_NOISE : PRAND_EXPERT_NOISE_VALUE, 0);
        t->noise[k] = noise_create(&t->net[k]->pb, keys, sigma, t->lr0);
    }
    free(sigma);
    free(keys);

    t->shuffle = xcalloc(R, sizeof *t->shuffle);
    reset_shuffle_streams(t);
    t->action = xcalloc(R, sizeof *t->action);
    for (int k = 0; k < 2; k++) t->route[k] = xcalloc(R, sizeof *t->route[k]);
    for (int r = 0; r < R; r++) {
        t->action[r].seed = prand_derive_seed(t->seeds[r], PRAND_ACTION, 0);
        for (int k = 0; k < 2; k++) t->route[k][r].seed = prand_derive_seed(t->seeds[r], PRAND_ROUTER_NOISE, (uint64_t)k);
    }

    int A = t->net[0]->out;
    int Bmax = E > mb + 1 ? E : mb + 1;
    size_t RN = (size_t)R * N;
    t->h_obs = xcalloc(RN * ABR_OBS_DIM, sizeof(float));
    t->h_act = xcalloc(RN, sizeof(int32_t));
    t->h_logp = xcalloc(RN, sizeof(float));
    t->h_val = xcalloc(RN, sizeof(float));
    t->g_rew = xcalloc(RN, sizeof(float));
    t->g_val = xcalloc(RN, sizeof(float));
    t->g_done = xcalloc(RN, sizeof(float));
    t->g_adv = xcalloc(RN, sizeof(float));
    t->g_ret = xcalloc(RN, sizeof(float));
    t->h_adv = xcalloc(RN, sizeof(float));
    t->h_ret = xcalloc(RN, sizeof(float));
    t->next_done = xcalloc((size_t)R * E, 1);
    t->h_perm = xcalloc(RN, sizeof(int32_t));
    t->h_idx = xcalloc((size_t)R * Bmax, sizeof(int32_t));
    t->stats = xcalloc(R, sizeof *t->stats);
    t->clipfrac_sum = xcalloc(R, sizeof(double));

    Backend *be = t->be;
    t->hp_x = be->ops->host_alloc(be, (size_t)R * E * ABR_OBS_DIM * sizeof(float));
    t->hp_act = be->ops->host_alloc(be, (size_t)R * E * sizeof(int32_t));
    t->hp_logp = be->ops->host_alloc(be, (size_t)R * E * sizeof(float));
    t->d_x = be->ops->alloc(be, (size_t)R * E * ABR_OBS_DIM * sizeof(float));
    t->d_u = be->ops->alloc(be, (size_t)R * E * sizeof(float));
    t->d_act_step = be->ops->alloc(be, (size_t)R * E * sizeof(int32_t));
    t->d_logp_step = be->ops->alloc(be, (size_t)R * E * sizeof(float));
    t->d_obs = be->ops->alloc(be, RN * ABR_OBS_DIM * sizeof(float));
    t->d_act = be->ops->alloc(be, RN * sizeof(int32_t));
    t->d_logp = be->ops->alloc(be, RN * sizeof(float));
    t->d_val = be->ops->alloc(be, RN * sizeof(float));
    t->d_adv = be->ops->alloc(be, RN * sizeof(float));
    t->d_ret = be->ops->alloc(be, RN * sizeof(float));
    t->d_idx = be->ops->alloc(be, (size_t)R * Bmax * sizeof(int32_t));
    t->d_xmb = be->ops->alloc(be, (size_t)R * Bmax * ABR_OBS_DIM * sizeof(float));
    t->d_actmb = be->ops->alloc(be, (size_t)R * Bmax * sizeof(int32_t));
    t->d_logpmb = be->ops->alloc(be, (size_t)R * Bmax * sizeof(float));
    t->d_valmb = be->ops->alloc(be, (size_t)R * Bmax * sizeof(float));
    t->d_advmb = be->ops->alloc(be, (size_t)R * Bmax * sizeof(float));
    t->d_retmb = be->ops->alloc(be, (size_t)R * Bmax * sizeof(float));
    t->d_dlogits = be->ops->alloc(be, (size_t)R * Bmax * A * sizeof(float));
    t->d_dval = be->ops->alloc(be, (size_t)R * Bmax * sizeof(float));
    t->d_stats = be->ops->alloc(be, (size_t)R * sizeof(PpoLossStats));
    t->dg_rew = be->ops->alloc(be, RN * sizeof(float));
    t->dg_val = be->ops->alloc(be, RN * sizeof(float));
    t->dg_done = be->ops->alloc(be, RN * sizeof(float));
    t->dg_adv = be->ops->alloc(be, RN * sizeof(float));
    t->dg_ret = be->ops->alloc(be, RN * sizeof(float));
    t->dg_next_done = be->ops->alloc(be, (size_t)R * E * sizeof(float));
    for (int k = 0; k < 2; k++) {
        if (!t->X[k]) continue;
        t->d_eps[k] = be->ops->alloc(be, (size_t)R * Bmax * t->X[k] * sizeof(float));
        if (c->route_replay) t->d_epsbuf[k] = be->ops->alloc(be, RN * t->X[k] * sizeof(float));
    }
    /* whole-rollout draws (rollout_draws) and the tables that cut them into steps / samples */
    int T = t->T;
    for (int k = 0; k < 2; k++)
        if (t->X[k]) t->d_rnoise[k] = be->ops->alloc(be, (size_t)R * T * prand_normal_advance((long)E * t->X[k]) * sizeof(float));
    t->d_ru = be->ops->alloc(be, (size_t)R * T * prand_normal_advance(E) * sizeof(float));
    for (int s = 0; s < 3 && R > 1; s++) { /* widths E X[0], E X[1], E: table (R, w) of j */
        int w = s < 2 ? E * t->X[s] : E;
        if (!w) continue;
        int32_t *h = xcalloc((size_t)R * w, sizeof(int32_t));
        for (int i = 0; i < R * w; i++) h[i] = i % w;
        t->d_sidx[s] = be->ops->alloc(be, (size_t)R * w * sizeof(int32_t));
        be->ops->upload(be, t->d_sidx[s], h, (size_t)R * w * sizeof(int32_t));
        free(h);
    }
    long w1 = (long)E * t->X[1], a1 = (long)prand_normal_advance(w1);
    if (w1 && a1 != w1) {
        size_t nx = (size_t)N * t->X[1];
        int32_t *h = xcalloc((size_t)R * nx, sizeof(int32_t));
        for (int r = 0; r < R; r++)
            for (size_t i = 0; i < nx; i++) h[r * nx + i] = (int32_t)((long)(i / w1) * a1 + (long)(i % w1));
        t->d_vidx = be->ops->alloc(be, (size_t)R * nx * sizeof(int32_t));
        be->ops->upload(be, t->d_vidx, h, (size_t)R * nx * sizeof(int32_t));
        free(h);
        if (!c->route_replay) t->d_veps = be->ops->alloc(be, (size_t)R * nx * sizeof(float));
    }
    episodes_init(&t->episodes, R, E, 0);
    t->store = xcalloc(R, sizeof *t->store);
    for (int r = 0; r < R; r++) t->store[r] = metrics_store_create(c->hidden, t->net[0]->E > t->net[1]->E ? t->net[0]->E : t->net[1]->E);
    t->run_path = NULL;
    trainer_plasticity_setup(t);
    return 0;
}

/* Fills eps (R, B, X) for net k from each run's routing stream (fresh noise, faithful). */
void trainer_draw_route_noise(Trainer *t, int k, int B) {
    if (t->X[k]) t->be->ops->rand_normal_runs(t->be, t->d_eps[k], t->R, (long)B * t->X[k], t->route[k]);
}

/* Epochs x minibatches of PPO updates (ppo.md 6-7). */
static void update(Trainer *t) {
    Backend *be = t->be;
    int R = t->R, N = t->N, A = t->net[0]->out;
    size_t RN = (size_t)R * N;
    be->ops->upload(be, t->d_act, t->h_act, RN * sizeof(int32_t));
    be->ops->upload(be, t->d_logp, t->h_logp, RN * sizeof(float));
    be->ops->upload(be, t->d_val, t->h_val, RN * sizeof(float));
    be->ops->upload(be, t->d_adv, t->h_adv, RN * sizeof(float));
    be->ops->upload(be, t->d_ret, t->h_ret, RN * sizeof(float));
    for (int r = 0; r < R; r++) {
        t->clipfrac_sum[r] = 0;
        for (int n = 0; n < N; n++) t->h_perm[(size_t)r * N + n] = n;
    }
    t->clipfrac_n = 0;
    int equal = !strcmp(t->cfg.minibatch_mode, "equal");
    for (int epoch = 0; epoch < t->cfg.update_epochs; epoch++) {
        for (int r = 0; r < R; r++) rng_shuffle(&t->shuffle[r], t->h_perm + (size_t)r * N, N);
        for (int start = 0; start < N; start += t->mb) {
            int B = N - start < t->mb ? N - start : t->mb;
            if (equal && B < 1) break;
            for (int r = 0; r < R; r++)
                memcpy(t->h_idx + (size_t)r * B, t->h_perm + (size_t)r * N + start, (size_t)B * sizeof(int32_t));
            be->ops->upload(be, t->d_idx, t->h_idx, (size_t)R * B * sizeof(int32_t));
            be->ops->gather_rows(be, t->d_xmb, t->d_obs, t->d_idx, R, B, N, ABR_OBS_DIM);
            be->ops->gather_rows_i32(be, t->d_actmb, t->d_act, t->d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->d_logpmb, t->d_logp, t->d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->d_valmb, t->d_val, t->d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->d_advmb, t->d_adv, t->d_idx, R, B, N, 1);
            be->ops->gather_rows(be, t->d_retmb, t->d_ret, t->d_idx, R, B, N, 1);
            for (int k = 0; k < 2; k++) {
                if (!t->X[k]) continue;
                if (t->d_epsbuf[k]) be->ops->gather_rows(be, t->d_eps[k], t->d_epsbuf[k], t->d_idx, R, B, N, t->X[k]);
                else trainer_draw_route_noise(t, k, B);
                net_forward(t->net[k], t->d_xmb, B, t->d_eps[k]);
                trainer_metrics_observe(t, k, B, 0);
            }
            for (int k = 0; k < 2; k++)
                if (!t->X[k]) {
                    net_forward(t->net[k], t->d_xmb, B, NULL);
                    trainer_metrics_observe(t, k, B, 0);
                }
            be->ops->ppo_loss(be, &t->loss_cfg, R, B, A, net_output(t->net[0]), t->d_actmb, t->d_logpmb, t->d_advmb,
                              t->d_retmb, t->cfg.clip_vloss ? t->d_valmb : NULL, net_output(t->net[1]), t->d_dlogits,
                              t->d_dval, t->d_stats);
            net_backward(t->net[0], t->d_dlogits);
            net_backward(t->net[1], t->d_dval);
            trainer_plasticity_grads(t);
            /* noise_target = grads: the same draws land on the expert gradients, after the
             * L2-init term and before Adam (so Adam's moments see them) */
            for (int k = 0; k < 2; k++)
                if (t->noise[k] && t->noise_on_grads) plast_noise_on_grads(be, t->noise[k], &t->noise_cfg, &t->net[k]->pb, t->lr);
            be->ops->adam_step(be, &t->adam, &t->net[0]->pb, t->lr);
            be->ops->adam_step(be, &t->adam, &t->net[1]->pb, t->lr);
            for (int k = 0; k < 2; k++)
                if (t->noise[k] && !t->noise_on_grads) be->ops->noise_step(be, t->noise[k], &t->noise_cfg, &t->net[k]->pb, t->lr);
            be->ops->download(be, t->stats, t->d_stats, (size_t)R * sizeof *t->stats);
            for (int r = 0; r < R; r++) t->clipfrac_sum[r] += t->stats[r].clipfrac;
            t->clipfrac_n++;
        }
    }
}

/* Whether a content switch follows the update of iteration i = t->iteration (1-based). */
static int switch_due(const Trainer *t) {
    long i = t->iteration;
    long period = t->n_iterations / schedule_len(t);
    return period > 0 && i % period == 0 && i < t->n_iterations;
}

/* After the update of iteration i (1-based): the content switch of environment.md 11. */
static void content_switch(Trainer *t) {
    long i = t->iteration;
    long period = t->n_iterations / schedule_len(t);
    if (!switch_due(t)) return;
    t->content_idx = (int)(i / period);
    int reseed = t->cfg.reset_streams_on_switch;
    env_recreate(t->env, schedule_content(t, t->content_idx), reseed);
    if (reseed) reset_shuffle_streams(t);
    memset(t->next_done, 0, (size_t)t->R * t->E);
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
            env_content_name(schedule_content(t, t->content_idx)), eta, tty ? "" : "\n");
    fflush(stderr);
}

int trainer_run(Trainer *t, const TrainOptions *opt, PmError *err) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_stop = 0;
    int tty = isatty(2);
    if (!opt->quiet)
        fprintf(stderr, "pamoe train: %s, %d run(s) x %d env(s), policy %s / value %s, %s schedule, iterations %ld..%ld of %d steps, "
                        "%d traces from %s (%s, bw x%g), backend %s\n",
                t->run_path, t->R, t->E, t->cfg.policy, t->cfg.value, t->cfg.envs_model, t->iteration + 1,
                t->n_iterations, t->cfg.num_steps, t->traces->n, t->cfg.traces, t->cfg.trace_filter, t->cfg.bw_scale,
                t->be->ops->name);
    long done_here = 0;
    while (t->iteration < t->n_iterations) {
        double t0 = now_seconds();
        if (t->cfg.anneal_lr)
            for (int r = 0; r < t->R; r++)
                t->lr[r] = ppo_annealed_lr(t->lr0[r], (int)t->iteration + 1, (int)t->n_iterations);
        trainer_rollout(t);
        trainer_advantages(t);
        double t1 = now_seconds();
        t->time_rollout += t1 - t0;
        double ev[t->R];
        for (int r = 0; r < t->R; r++)
            ev[r] = ppo_explained_variance(t->h_val + (size_t)r * t->N, t->h_ret + (size_t)r * t->N, t->N);
        /* statistics of the rollout are computed before the update (ppo.md 5) */
        double tm = now_seconds();
        if (trainer_metrics_rollout_done(t, err)) return -1;
        trainer_plasticity_before_update(t);
        double tm_done = now_seconds();
        update(t);
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
        int stop = g_stop || (opt->stop_after && done_here >= opt->stop_after);
        if (last || stop || (t->cfg.checkpoint_every && t->iteration % t->cfg.checkpoint_every == 0))
            if (trainer_ckpt_save(t, err)) return -1;
        t->time_ckpt += now_seconds() - t3;
        if (stop && !last) {
            if (!opt->quiet) fprintf(stderr, "%spamoe train: stopped after iteration %ld; checkpoint %s\n", tty ? "\n" : "", t->iteration, t->ckpt_path);
            return g_stop ? 1 : 2;
        }
    }
    if (!opt->quiet) {
        double tot = t->time_rollout + t->time_update + t->time_metrics + t->time_ckpt;
        fprintf(stderr, "%spamoe train: done, %ld iterations; time split: rollout %.1f%%, update %.1f%%, metrics %.1f%%, checkpoints %.1f%% of %.1f s\n",
                tty ? "\n" : "", t->iteration, 100 * t->time_rollout / tot, 100 * t->time_update / tot,
                100 * t->time_metrics / tot, 100 * t->time_ckpt / tot, tot);
    }
    return 0;
}

Trainer *trainer_create(const TrainConfig *cfg, const char *run_path, const char *device, PmError *err) {
    struct stat st;
    if (!stat(run_path, &st)) {
        pm_error(err, "%s exists; choose another --out or continue it with --resume %s", run_path, run_path);
        return NULL;
    }
    Trainer *t = xcalloc(1, sizeof *t);
    if (setup(t, cfg, device, err)) { trainer_free(t); return NULL; }
    t->run_path = xstrdup(run_path);
    t->ckpt_path = trainer_ckpt_path(run_path);
    env_reset_all(t->env);
    if (trainer_metrics_open(t, 0, err)) { trainer_free(t); return NULL; }
    return t;
}

Trainer *trainer_resume(const char *run_path, const char *device, PmError *err) {
    char *ckpt = trainer_ckpt_path(run_path);
    TrainConfig *cfg = xmalloc(sizeof *cfg);
    Trainer *t = NULL;
    if (trainer_ckpt_read_config(ckpt, cfg, err)) goto out;
    t = xcalloc(1, sizeof *t);
    if (setup(t, cfg, device ? device : cfg->device, err)) goto fail;
    t->run_path = xstrdup(run_path);
    t->ckpt_path = xstrdup(ckpt);
    env_reset_all(t->env); /* overwritten by the checkpoint's state */
    if (trainer_ckpt_load(t, ckpt, err)) goto fail;
    if (trainer_metrics_open(t, 1, err)) goto fail;
    goto out;
fail:
    trainer_free(t);
    t = NULL;
out:
    free(cfg);
    free(ckpt);
    return t;
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
        free(t->route[k]);
        if (be) { be->ops->release(be, t->d_eps[k]); be->ops->release(be, t->d_epsbuf[k]); be->ops->release(be, t->d_rnoise[k]); }
    }
    if (be) {
        void *bufs[] = {t->d_x, t->d_u, t->d_act_step, t->d_logp_step, t->d_obs, t->d_act, t->d_logp, t->d_val,
                        t->d_adv, t->d_ret, t->d_idx, t->d_xmb, t->d_actmb, t->d_logpmb, t->d_valmb, t->d_advmb,
                        t->d_retmb, t->d_dlogits, t->d_dval, t->d_stats, t->dg_rew, t->dg_val, t->dg_done,
                        t->dg_adv, t->dg_ret, t->dg_next_done, t->d_ru, t->d_sidx[0], t->d_sidx[1], t->d_sidx[2], t->d_veps, t->d_vidx};
        for (int i = 0; i < PM_ARRAY_LEN(bufs); i++) be->ops->release(be, bufs[i]);
        be->ops->host_release(be, t->hp_x);
        be->ops->host_release(be, t->hp_act);
        be->ops->host_release(be, t->hp_logp);
    }
    if (t->store)
        for (int r = 0; r < t->R; r++) metrics_store_free(t->store[r]);
    free(t->store);
    episodes_free(&t->episodes);
    env_free(t->env);
    trace_set_free(t->traces);
    backend_free(be);
    void *host[] = {t->seeds, t->shuffle, t->action, t->lr, t->lr0, t->h_obs, t->h_act, t->h_logp, t->h_val,
                    t->g_rew, t->g_val, t->g_done, t->g_adv, t->g_ret, t->h_adv, t->h_ret, t->next_done, t->h_perm,
                    t->h_idx, t->stats, t->clipfrac_sum, t->h_act1, t->h_act2, t->h_gate, t->h_choice,
                    t->h_params, t->h_rows, t->h_bulk, t->run_path, t->ckpt_path};
    for (int i = 0; i < PM_ARRAY_LEN(host); i++) free(host[i]);
    free(t);
}
