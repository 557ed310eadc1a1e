/* policy.c: load a trained policy from a checkpoint and run it greedily (see policy.h). */
#include "policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_choices.h"
#include "trainer.h"
#include "trainer_state.h"

Policy *policy_load(const char *path, const char *device, int max_B, int router_noise, uint64_t seed,
                    PmError *err) {
    size_t n = strlen(path);
    char *ckpt = n > 8 && !strcmp(path + n - 8, ".ckpt.h5") ? xstrdup(path) : trainer_ckpt_path(path);
    Policy *p = xcalloc(1, sizeof *p);
    hid_t f = -1;
    if (access(ckpt, F_OK)) {
        pm_error(err, "no checkpoint %s (a run RUN.h5 keeps its policy in RUN.ckpt.h5, written at each checkpoint)", ckpt);
        goto fail;
    }
    if (trainer_ckpt_read_config(ckpt, &p->cfg, err)) goto fail;
    char msg[512];
    p->be = backend_create(device, msg, sizeof msg);
    if (!p->be) { pm_error(err, "--device %s: %s", device, msg); goto fail; }
    p->R = p->cfg.runs;
    p->max_B = max_B;
    uint64_t *seeds = xcalloc(p->R, sizeof *seeds);
    for (int r = 0; r < p->R; r++) seeds[r] = (uint64_t)p->cfg.seed[r];
    for (int k = 0; k < 2; k++) {
        NetConfig nc = net_config_default(train_net_kind(k == 0 ? p->cfg.policy : p->cfg.value),
                                          k == 0 ? NET_POLICY : NET_VALUE);
        nc.hidden = p->cfg.hidden;
        nc.experts = p->cfg.experts;
        nc.router = train_route_mode(p->cfg.router);
        p->net[k] = net_create(p->be, &nc, p->R, max_B, seeds, err);
        if (!p->net[k]) { free(seeds); goto fail; }
        p->X[k] = net_kind_is_sparse(nc.kind) ? p->net[k]->E : 0;
        if (p->X[k]) p->d_eps[k] = p->be->ops->alloc(p->be, (size_t)p->R * max_B * p->X[k] * sizeof(float));
    }
    p->router_noise = router_noise;
    p->noise = xcalloc(p->R, sizeof *p->noise);
    for (int r = 0; r < p->R; r++) p->noise[r].seed = prand_derive_seed(seed, PRAND_ROUTER_NOISE, (uint64_t)r);
    free(seeds);
    f = trainer_ckpt_open(ckpt, err);
    if (f < 0) goto fail;
    for (int k = 0; k < 2; k++)
        if (trainer_ckpt_read_net(f, ckpt, k == 0 ? "policy" : "value", p->be, p->net[k], NULL, err)) goto fail;
    H5Fclose(f);
    p->d_x = p->be->ops->alloc(p->be, (size_t)p->R * max_B * ABR_OBS_DIM * sizeof(float));
    p->h_buf = xcalloc((size_t)p->R * max_B * (p->net[0]->out + 2), sizeof(float));
    free(ckpt);
    return p;
fail:
    if (f >= 0) H5Fclose(f);
    free(ckpt);
    policy_free(p);
    return NULL;
}

void policy_free(Policy *p) {
    if (!p) return;
    for (int k = 0; k < 2; k++) {
        net_free(p->net[k]);
        if (p->be) p->be->ops->release(p->be, p->d_eps[k]);
    }
    if (p->be) p->be->ops->release(p->be, p->d_x);
    backend_free(p->be);
    free(p->noise);
    free(p->h_buf);
    free(p);
}

void policy_decide(Policy *p, int run, const float *h_obs, int B, float *probs, int *action, int *expert,
                   float *value, int *value_expert) {
    Backend *be = p->be;
    size_t row = (size_t)B * ABR_OBS_DIM;
    for (int r = 0; r < p->R; r++) be->ops->upload(be, p->d_x + r * row, h_obs, row * sizeof(float));
    for (int k = 0; k < 2; k++) {
        Net *n = p->net[k];
        if (p->X[k]) {
            if (p->router_noise) be->ops->rand_normal_runs(be, p->d_eps[k], p->R, (long)B * p->X[k], p->noise);
            else be->ops->zero(be, p->d_eps[k], (size_t)p->R * B * p->X[k] * sizeof(float));
        }
        net_forward(n, p->d_x, B, p->d_eps[k]);
        int out = n->out;
        float *h = p->h_buf;
        be->ops->download(be, h, net_output(n) + (size_t)run * B * out, (size_t)B * out * sizeof(float));
        int32_t ch[B];
        be->ops->download(be, ch, n->choice + (size_t)run * B, sizeof ch);
        for (int b = 0; b < B; b++) {
            if (k == 0) {
                /* softmax and greedy argmax (first maximum, as torch.argmax) */
                const float *l = h + (size_t)b * out;
                int best = 0;
                double m = l[0], s = 0;
                for (int a = 1; a < out; a++) if (l[a] > l[best]) best = a;
                m = l[best];
                for (int a = 0; a < out; a++) s += exp((double)l[a] - m);
                if (probs) for (int a = 0; a < out; a++) probs[(size_t)b * out + a] = (float)(exp((double)l[a] - m) / s);
                if (action) action[b] = best;
                if (expert) expert[b] = ch[b];
            } else {
                if (value) value[b] = h[b];
                if (value_expert) value_expert[b] = ch[b];
            }
        }
    }
}
