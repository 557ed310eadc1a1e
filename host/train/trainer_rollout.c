/* trainer_rollout.c: one rollout of the PPO iteration (ppo.md 4-5): T policy forwards that
 * act on the simulator, the value network over the rollout's observations, and GAE with the
 * bootstrap value. The random numbers of a rollout are drawn at its start, one draw per
 * stream, at the very stream positions the per-step draws of the reference order read. */
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "train_choices.h"
#include "trainer_state.h"

/* route_replay: keep net k's routing noise eps (R, E, X) of step `step` at its sample
 * positions. */
static void store_route_noise(Trainer *t, int k, int step, const float *eps) {
    if (!t->np.d_replay[k]) return;
    size_t w = (size_t)t->E * t->X[k];
    for (int r = 0; r < t->R; r++)
        t->be->ops->copy(t->be, t->np.d_replay[k] + ((size_t)r * t->N + (size_t)step * t->E) * t->X[k],
                    eps + (size_t)r * w, w * sizeof(float));
}

/* The rollout's random numbers at its start, one draw per stream, equal to T per-step draws:
 * a draw of w numbers per run at step s (E X routing normals, E uniforms) reads elements
 * [o + s a, o + s a + w) with a = w rounded up to even and moves the offset by a; a draw of
 * T a numbers reads [o, o + T a) and moves it by T a, and an element's value depends only on
 * (key, position), so step s's numbers are the first w of block s, and the offsets
 * (checkpoints, the bootstrap and update draws that follow) end where T per-step draws leave
 * them. */
static void rollout_draws(Trainer *t) {
    Backend *be = t->be;
    for (int k = 0; k < 2; k++)
        if (t->X[k])
            be->ops->rand_normal_runs(be, t->np.d_rnoise[k], t->R, t->T * (long)prand_normal_advance((long)t->E * t->X[k]),
                                 t->run.route[k]);
    be->ops->rand_uniform_runs(be, t->np.d_ru, t->R, t->T * (long)prand_normal_advance(t->E), t->run.action);
}

/* Step `step`'s w numbers per run, (R, w), from a whole-rollout draw: in place for one run,
 * else gathered into dst through the index table idx (R, w) of j. */
static const float *step_draw(Trainer *t, const float *raw, long w, const int32_t *idx, int step, float *dst) {
    long a = (long)prand_normal_advance(w);
    if (t->R == 1) return raw + (long)step * a;
    t->be->ops->gather_rows(t->be, dst, raw + (long)step * a, idx, t->R, (int)w, t->T * a, 1);
    return dst;
}

/* The value network's routing noise of the rollout in sample order (R, N, X); kept for the
 * update too under route_replay. */
static const float *value_noise(Trainer *t) {
    Backend *be = t->be;
    long w = (long)t->E * t->X[1], a = (long)prand_normal_advance(w);
    size_t nx = (size_t)t->N * t->X[1];
    if (!w) return NULL;
    if (a != w) {
        float *dst = t->np.d_replay[1] ? t->np.d_replay[1] : t->np.d_veps;
        be->ops->gather_rows(be, dst, t->np.d_rnoise[1], t->np.d_vidx, t->R, (int)nx, t->T * a, 1);
        return dst;
    }
    if (!t->np.d_replay[1]) return t->np.d_rnoise[1];
    be->ops->copy(be, t->np.d_replay[1], t->np.d_rnoise[1], (size_t)t->R * nx * sizeof(float));
    return t->np.d_replay[1];
}

/* The value network does not act on the environment and its weights are fixed during the
 * rollout, so it runs once over the rollout's T x E observations per run (ppo.md 4 runs it
 * per step: the same inputs, noise and store rows; the values can differ from per-step
 * forwards in the last bit, as the products have other shapes). */
static void value_rollout(Trainer *t) {
    Backend *be = t->be;
    int R = t->R, E = t->E, N = t->N;
    size_t RN = (size_t)R * N;
    /* Row by row products where they are cheap, so every value and activation has the bits of
     * the per-step forward; one product per layer otherwise */
    t->net[1]->row_products = be->caps.single_column_products;
    net_forward(t->net[1], t->ro.d_obs, N, value_noise(t));
    t->net[1]->row_products = 0;
    trainer_metrics_observe_steps(t, 1, t->T, E);
    be->ops->download(be, t->ro.val, net_output(t->net[1]), RN * sizeof(float));
}

/* value_forward = step: the value forward of step `step` (the reference's order), the
 * observation in d_x. */
static void value_step(Trainer *t, int step) {
    Backend *be = t->be;
    int E = t->E, n_env = t->R * E;
    const float *eps = NULL;
    if (t->X[1]) {
        eps = step_draw(t, t->np.d_rnoise[1], (long)E * t->X[1], t->np.d_sidx[1], step, t->np.d_eps[1]);
        store_route_noise(t, 1, step, eps);
    }
    net_forward(t->net[1], t->ro.d_x, E, eps);
    trainer_metrics_observe(t, 1, E, 1);
    float val[n_env];
    be->ops->download(be, val, net_output(t->net[1]), sizeof val);
    for (int i = 0; i < n_env; i++) t->ro.val[(size_t)(i / E) * t->N + (size_t)step * E + i % E] = val[i];
}

/* One rollout of T steps per environment (ppo.md 4). */
void trainer_rollout(Trainer *t) {
    Backend *be = t->be;
    EnvBatch *env = t->env;
    int R = t->R, E = t->E, n_env = R * E, A = t->net[0]->out;
    int per_step = train_value_per_step(t->cfg.value_forward);
    episodes_begin_iteration(&t->episodes);
    rollout_draws(t);
    for (int step = 0; step < t->T; step++) {
        pm_fault_point("rollout");
        if (trainer_stop_now(t)) return;
        /* obs[step] = next_obs, dones[step] = next_done */
        for (int i = 0; i < n_env; i++) {
            int r = i / E, e = i % E;
            size_t n = (size_t)r * t->N + (size_t)step * E + e;
            memcpy(t->ro.obs + n * ABR_OBS_DIM, env_obs(env, i), ABR_OBS_DIM * sizeof(float));
            t->ro.done[(size_t)step * n_env + i] = t->run.next_done[i];
        }
        /* observations go up from page-locked staging (an asynchronous copy on CUDA) */
        memcpy(t->ro.pin_x, env->obs, (size_t)n_env * ABR_OBS_DIM * sizeof(float));
        be->ops->upload(be, t->ro.d_x, t->ro.pin_x, (size_t)n_env * ABR_OBS_DIM * sizeof(float));

        const float *eps = NULL;
        if (t->X[0]) {
            eps = step_draw(t, t->np.d_rnoise[0], (long)E * t->X[0], t->np.d_sidx[0], step, t->np.d_eps[0]);
            store_route_noise(t, 0, step, eps);
        }
        net_forward(t->net[0], t->ro.d_x, E, eps);
        const float *u = step_draw(t, t->np.d_ru, E, t->np.d_sidx[2], step, t->ro.d_u);
        be->ops->cat_sample(be, t->ro.d_act_step, net_output(t->net[0]), u, n_env, A);
        be->ops->cat_logp(be, t->ro.d_logp_step, NULL, net_output(t->net[0]), t->ro.d_act_step, n_env, A);
        trainer_metrics_observe(t, 0, E, 1);
        be->ops->download_async(be, t->ro.pin_act, t->ro.d_act_step, (size_t)n_env * sizeof(int32_t));
        be->ops->download_async(be, t->ro.pin_logp, t->ro.d_logp_step, (size_t)n_env * sizeof(float));
        if (per_step) value_step(t, step);
        be->ops->download_wait(be);
        const int32_t *act = t->ro.pin_act;
        env_step(env, (const int *)act);
        for (int i = 0; i < n_env; i++) {
            int r = i / E, e = i % E;
            size_t n = (size_t)r * t->N + (size_t)step * E + e;
            t->ro.act[n] = act[i];
            t->ro.logp[n] = t->ro.pin_logp[i];
            t->ro.rew[(size_t)step * n_env + i] = (float)env->reward[i];
            t->run.next_done[i] = env->done[i];
            EpisodeStep s = {env->action[i], env->delay_ms[i], env->buffer_s[i], env->sleep_ms[i],
                             env->rebuf_s[i], env->chunk_bytes[i], env->chunk_bytes_per_time[i],
                             env->reward[i], env->bitrate_reward[i], env->rebuf_penalty[i],
                             env->smooth_penalty[i]};
            episodes_add(&t->episodes, i, &s, env->done[i]);
        }
    }
    /* the rollout's observations go up once: the value forward below and the update read them */
    be->ops->upload(be, t->ro.d_obs, t->ro.obs, (size_t)R * t->N * ABR_OBS_DIM * sizeof(float));
    if (!per_step) value_rollout(t);
    t->global_step += t->T * E;
}

/* Sample order (R, N) <-> GAE layout (T, R E): sample r N + t E + e is row t, column r E + e. */
static void to_gae_layout(const Trainer *t, float *gae, const float *sample) {
    int n_env = t->R * t->E;
    for (int step = 0; step < t->T; step++)
        for (int i = 0; i < n_env; i++)
            gae[(size_t)step * n_env + i] = sample[(size_t)(i / t->E) * t->N + (size_t)step * t->E + i % t->E];
}
static void from_gae_layout(const Trainer *t, float *sample, const float *gae) {
    int n_env = t->R * t->E;
    for (int step = 0; step < t->T; step++)
        for (int i = 0; i < n_env; i++)
            sample[(size_t)(i / t->E) * t->N + (size_t)step * t->E + i % t->E] = gae[(size_t)step * n_env + i];
}

/* GAE after the rollout (ppo.md 5): one more value forward for the bootstrap. */
void trainer_advantages(Trainer *t) {
    Backend *be = t->be;
    int R = t->R, E = t->E, n_env = R * E;
    be->ops->upload(be, t->ro.d_x, t->env->obs, (size_t)n_env * ABR_OBS_DIM * sizeof(float));
    trainer_draw_route_noise(t, 1, E);
    net_forward(t->net[1], t->ro.d_x, E, t->np.d_eps[1]);
    float next_done[n_env];
    for (int i = 0; i < n_env; i++) next_done[i] = t->run.next_done[i];
    size_t TN = (size_t)t->T * n_env * sizeof(float);
    Rollout *ro = &t->ro;
    /* GAE runs in its layout (T, R E) in the update's sample-order buffers, which the
     * update's uploads overwrite afterwards */
    to_gae_layout(t, ro->stage, ro->val);
    be->ops->upload(be, ro->d_rew, ro->rew, TN);
    be->ops->upload(be, ro->d_val, ro->stage, TN);
    be->ops->upload(be, ro->d_done, ro->done, TN);
    be->ops->upload(be, ro->d_next_done, next_done, sizeof next_done);
    be->ops->gae(be, t->T, n_env, ro->d_rew, ro->d_val, ro->d_done, net_output(t->net[1]), ro->d_next_done,
            (float)t->cfg.gamma, (float)t->cfg.gae_lambda, ro->d_adv, ro->d_ret);
    be->ops->download(be, ro->stage, ro->d_adv, TN);
    from_gae_layout(t, ro->adv, ro->stage);
    be->ops->download(be, ro->stage, ro->d_ret, TN);
    from_gae_layout(t, ro->ret, ro->stage);
}
