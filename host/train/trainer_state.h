/* trainer_state.h: the Trainer's fields, shared by trainer.c (the iteration loop),
 * trainer_metrics.c (plasticity metrics and the run file) and trainer_ckpt.c (checkpoint
 * and resume). Not a public interface: use trainer.h. */
#ifndef PAMOE_TRAINER_STATE_H
#define PAMOE_TRAINER_STATE_H
#include <hdf5.h>
#include <stdint.h>

#include "adam.h"
#include "backend.h"
#include "config.h"
#include "env.h"
#include "episodes.h"
#include "h5metrics.h"
#include "metrics.h"
#include "net.h"
#include "noise.h"
#include "ppo_loss.h"
#include "plasticity.h"
#include "prand.h"
#include "rng.h"
#include "trainer.h"

/* Philox purposes of the trainer's own streams (prand.h owns 1..3). */
enum { PRAND_ACTION = 4 };

struct Trainer {
    TrainConfig cfg;
    char *run_path, *ckpt_path;
    Backend *be;
    TraceSet *traces;
    Video video;
    EnvBatch *env;          /* R*E environments, env r*E + e belongs to run r */
    Net *net[2];            /* [0] policy, [1] value */
    NoiseState *noise[2];   /* NULL when expert noise is off for that net */
    AdamConfig adam;
    NoiseConfig noise_cfg;
    PpoLossConfig loss_cfg;
    int R, E, T;            /* runs, envs per run, rollout steps per env */
    int N;                  /* samples per run per iteration = T*E = num_steps */
    int mb;                 /* minibatch size */
    int X[2];               /* routing-noise width per sample (experts of a sparse net, else 0) */
    long n_iterations, iteration; /* iteration = completed iterations */
    long global_step;       /* per run */
    int content_idx;        /* index into the schedule */
    double elapsed_s;       /* training wall time so far (SPS) */
    double time_rollout, time_update, time_metrics, time_ckpt; /* cost split, s (bench) */

    /* per-run random streams */
    uint64_t *seeds;        /* (R) */
    Rng *shuffle;           /* (R) minibatch permutations */
    PrandStream *route[2];  /* (R) routing noise per net */
    PrandStream *action;    /* (R) action-sampling uniforms */
    float *lr;              /* (R) current learning rate */
    float *lr0;             /* (R) configured learning rate */

    /* rollout storage, per run in sample order n = t*E + e (host; uploaded for the update) */
    float *h_obs;           /* (R, N, 48) */
    int32_t *h_act;         /* (R, N) */
    float *h_logp, *h_val;  /* (R, N) */
    /* GAE layout (T, R*E) */
    float *g_rew, *g_val, *g_done, *g_adv, *g_ret;
    float *h_adv, *h_ret;   /* (R, N) sample order */
    uint8_t *next_done;     /* (R*E) */
    int32_t *h_perm;        /* (R, N) current permutation */
    int32_t *h_idx;         /* (R, mb) minibatch indices */

    /* backend buffers */
    float *d_x;             /* (R, E, 48) current observation */
    float *d_eps[2];        /* (R, max(E, mb), X) */
    float *d_u;             /* (R, E) uniforms */
    int32_t *d_act_step;    /* (R, E) */
    float *d_logp_step;     /* (R, E) */
    float *d_obs;           /* (R, N, 48) rollout for the update */
    int32_t *d_act;         /* (R, N) */
    float *d_logp, *d_val, *d_adv, *d_ret; /* (R, N) */
    float *d_epsbuf[2];     /* (R, N, X) rollout routing noise (route_replay) */
    int32_t *d_idx;         /* (R, mb) */
    float *d_xmb;           /* (R, mb, 48) */
    int32_t *d_actmb;       /* (R, mb) */
    float *d_logpmb, *d_valmb, *d_advmb, *d_retmb; /* (R, mb) */
    float *d_dlogits, *d_dval; /* (R, mb, A), (R, mb) */
    PpoLossStats *d_stats;  /* (R) */
    float *dg_rew, *dg_val, *dg_done, *dg_adv, *dg_ret; /* (T, R*E) GAE inputs and outputs */
    float *dg_next_done;    /* (R*E) */
    /* The rollout's random numbers, drawn once at its start (trainer.c rollout_draws): the
     * same stream elements the per-step draws read, T blocks of adv(w) = w rounded up to even */
    float *d_rnoise[2];     /* (R, T * adv(E X[k])) routing noise of every step, raw */
    float *d_ru;            /* (R, T * adv(E)) action uniforms, raw */
    int32_t *d_sidx[3];     /* R > 1: (R, w) tables of j for the per-step gathers, w = E X[0], E X[1], E */
    float *d_veps;          /* (R, N, X[1]) value routing noise in sample order (E X[1] odd) */
    int32_t *d_vidx;        /* (R, N X[1]): its gather from d_rnoise[1] (E X[1] odd) */

    /* host scratch */
    float *hp_x;            /* (R*E, 48) page-locked staging of the observations */
    int32_t *hp_act;        /* (R*E) page-locked: actions of the step */
    float *hp_logp;         /* (R*E) page-locked: their log-probabilities */
    PpoLossStats *stats;    /* (R) last minibatch */
    double *clipfrac_sum;   /* (R) */
    long clipfrac_n;

    /* metrics */
    Episodes episodes;
    MetricsStore **store;   /* (R) */
    H5Metrics *h5;
    int n_metric_names;
    MetricsName *metric_names;
    float *h_act1, *h_act2, *h_gate; /* activation download scratch */
    int32_t *h_choice;
    float *h_params;        /* (R, P) download scratch for weight magnitudes */
    float *h_rows;          /* routed-rows scratch */
    float *h_bulk;          /* (N, hidden) scratch of trainer_metrics_observe_steps */

    volatile int *stop_flag;

    /* plasticity methods (trainer_plasticity.c); all NULL / 0 with method = none */
    int plast_method;       /* PlastMethod */
    int noise_on_grads;     /* noise.noise_target = grads */
    PlastNet *plast[2];
    int plast_B;            /* probe chunk (samples per run) */
    float *plast_dx;        /* (R, plast_B, 48) probe inputs */
    int32_t *plast_didx, *plast_hidx; /* (R, plast_B) probe gather indices (backend, host) */
    float *plast_deps;      /* (R, plast_B, X) zeros: noise-free probe routing */
    float *plast_act;       /* (R, E, 2, N, hidden) probe activations, host */
    int *plast_cnt;         /* (R, E, 2) rows in each block */
    uint8_t *plast_dormant; /* (R, E, 2, hidden) ReDo selection */
};

/* trainer_metrics.c */
int trainer_metrics_open(Trainer *t, int resume, PmError *err);
/* After a forward of net k (0 policy, 1 value) over B samples per run; rollout = 1 for the
 * rollout's calls (rows are appended), 0 for the update's (faithful hooks only). */
void trainer_metrics_observe(Trainer *t, int k, int B, int rollout);
/* After one forward of net k over T rollout steps of B samples per run (sample n = step*B + b):
 * the store gets what T calls of trainer_metrics_observe(t, k, B, 1), one per step, give. */
void trainer_metrics_observe_steps(Trainer *t, int k, int T, int B);
/* After the rollout, before the update (ppo.md 5): plasticity statistics of the rollout's
 * activations and weight magnitudes. Then, after the update, the losses and episode QoE, and
 * the row is appended to the run file. */
int trainer_metrics_rollout_done(Trainer *t, PmError *err);
int trainer_metrics_append(Trainer *t, double sps, double *ev, PmError *err);

/* trainer_plasticity.c: the hooks of the plasticity methods; no-ops with method = none. */
int trainer_plasticity_on(const Trainer *t);
void trainer_plasticity_setup(Trainer *t);
void trainer_plasticity_free(Trainer *t);
void trainer_plasticity_before_update(Trainer *t);  /* after the rollout's statistics */
void trainer_plasticity_grads(Trainer *t);          /* between backward and Adam */
void trainer_plasticity_after_update(Trainer *t, int switch_follows);
void trainer_plasticity_metrics(Trainer *t);        /* before the row is appended */
int trainer_plasticity_register(Trainer *t, PmError *err);
int trainer_plasticity_ckpt_save(Trainer *t, hid_t f, PmError *err);
int trainer_plasticity_ckpt_load(Trainer *t, hid_t f, PmError *err);

/* trainer_ckpt.c */
int trainer_ckpt_save(Trainer *t, PmError *err);
int trainer_ckpt_load(Trainer *t, const char *path, PmError *err);
int trainer_ckpt_read_config(const char *path, TrainConfig *cfg, PmError *err);
/* For readers of a checkpoint (act, eval): open it read-only with clear errors, and load one
 * network ("policy" or "value") into net's backend memory (noise state too when not NULL). */
hid_t trainer_ckpt_open(const char *path, PmError *err);
int trainer_ckpt_read_net(hid_t f, const char *path, const char *group, Backend *be, Net *net, NoiseState *noise,
                          PmError *err);
/* trainer.c / trainer_rollout.c: fresh routing noise for net k's next forward of B rows per
 * run; the rollout (obs, actions, log-probs, values, rewards, episodes) and GAE over it. */
void trainer_draw_route_noise(Trainer *t, int k, int B);
void trainer_rollout(Trainer *t);
void trainer_advantages(Trainer *t);
#endif
