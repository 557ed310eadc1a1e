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
#include "trainer_buffers.h"

/* Philox purposes of the trainer's own streams (prand.h owns 1..3). */
enum { PRAND_ACTION = 4 };

#define TRAINER_HASH_LEN 17 /* 16 hex digits */

/* Per-run state carried from one iteration to the next (the checkpoint's /trainer datasets,
 * trainer.c RUN_STATE table). */
typedef struct {
    Rng *shuffle;           /* (R) minibatch permutations */
    PrandStream *action;    /* (R) action-sampling uniforms */
    PrandStream *route[2];  /* (R) routing noise per net */
    float *lr;              /* (R) current learning rate */
    uint8_t *next_done;     /* (R E) done flag of each environment's last step */
} RunState;

/* One rollout (trainer.c ROLLOUT table). Host arrays per run in sample order n = t E + e;
 * the GAE arrays in its layout (T, R E), row t = step, column r E + e. The backend copies in
 * sample order are what the update reads; GAE's value input and outputs use them as scratch
 * in its layout first (trainer_advantages), before the sample-order uploads overwrite them. */
typedef struct {
    float *obs;             /* (R, N, 48) */
    int32_t *act;           /* (R, N) */
    float *logp, *val, *adv, *ret; /* (R, N) */
    float *rew, *done;      /* (T, R E) GAE inputs */
    float *stage;           /* (T, R E) values, advantages, returns on their way to/from GAE */
    float *pin_x;           /* (R E, 48) page-locked staging of the step's observations */
    int32_t *pin_act;       /* (R E) page-locked: the step's actions */
    float *pin_logp;        /* (R E) page-locked: their log-probabilities */
    float *d_x;             /* (R, E, 48) the step's observations */
    float *d_u;             /* (R, E) the step's action uniforms (R > 1) */
    int32_t *d_act_step;    /* (R, E) */
    float *d_logp_step;     /* (R, E) */
    float *d_obs;           /* (R, N, 48) */
    int32_t *d_act;         /* (R, N) */
    float *d_logp, *d_val, *d_adv, *d_ret; /* (R, N) */
    float *d_rew, *d_done;  /* (T, R E) */
    float *d_next_done;     /* (R E) */
} Rollout;

/* The rollout's random numbers (trainer.c NOISE_PLAN table), drawn once at its start
 * (trainer_rollout.c rollout_draws): the same stream elements the per-step draws read, T
 * blocks of adv(w) = w rounded up to even per run. */
typedef struct {
    float *d_eps[2];        /* (R, B, X[k]) routing noise of one forward */
    float *d_replay[2];     /* (R, N, X[k]) route_replay: the rollout's noise, kept for the update */
    float *d_rnoise[2];     /* (R, T adv(E X[k])) routing noise of every step, raw */
    float *d_ru;            /* (R, T adv(E)) action uniforms, raw */
    int32_t *d_sidx[3];     /* R > 1: (R, w) tables of j for the per-step gathers, w = E X[0], E X[1], E */
    float *d_veps;          /* (R, N, X[1]) value routing noise in sample order (E X[1] odd) */
    int32_t *d_vidx;        /* (R, N X[1]): its gather from d_rnoise[1] (E X[1] odd) */
} NoisePlan;

/* The update's minibatch scratch (trainer.c UPDATE table). */
typedef struct {
    int32_t *perm;          /* (R, N) current permutation */
    int32_t *idx;           /* (R, B) minibatch indices */
    int32_t *d_idx;         /* (R, B) */
    float *d_x;             /* (R, B, 48) */
    int32_t *d_act;         /* (R, B) */
    float *d_logp, *d_val, *d_adv, *d_ret; /* (R, B) */
    float *d_dlogits, *d_dval; /* (R, B, A), (R, B) */
    PpoLossStats *d_stats;  /* (R) */
    PpoLossStats *stats;    /* (R) last minibatch */
    double *clipfrac_sum;   /* (R) */
    long clipfrac_n;
} UpdateScratch;

/* Download scratch of the metrics (trainer_metrics.c). */
typedef struct {
    float *rows;            /* (2 Emax, Bm, hidden) routed rows, every (expert, layer) of one run */
    float *gate;            /* (R, Bm, Emax) */
    int32_t *choice;        /* (R, Bm) */
    float *bulk;            /* (Bm, hidden) */
    float *params;          /* (R, Pmax) weight magnitudes */
} MetricsScratch;

struct Trainer {
    TrainConfig cfg;
    char *run_path, *ckpt_path;
    char run_id[64];        /* random, hex: which run the run file and checkpoint belong to */
    Backend *be;
    int fp_previous; /* the process's subnormal mode before run.flush_denormals (fpmode.h) */
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
    BufDims dims;           /* the named dimensions of the buffer tables */
    long n_iterations, iteration; /* iteration = completed iterations */
    int abandoned;          /* a stop request ended the iteration in progress */
    long global_step;       /* per run */
    int content_idx;        /* index into the schedule */
    double elapsed_s;       /* training wall time so far (SPS) */
    double time_rollout, time_update, time_metrics, time_ckpt; /* cost split, s (bench) */

    uint64_t *seeds;        /* (R) run seeds (the environments borrow them) */
    RunState run;
    Rollout ro;
    NoisePlan np;
    UpdateScratch up;
    MetricsScratch ms;

    /* metrics */
    Episodes episodes;
    MetricsStore **store;   /* (R) */
    H5Metrics *h5;
    int n_metric_names;
    MetricsName *metric_names;

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

/* The tables (trainer.c). */
extern const BufSpec TRAINER_RUN_STATE[], TRAINER_ROLLOUT[], TRAINER_NOISE_PLAN[], TRAINER_UPDATE[],
    TRAINER_METRICS_SCRATCH[], TRAINER_EPISODES[];
extern const int TRAINER_RUN_STATE_N, TRAINER_ROLLOUT_N, TRAINER_NOISE_PLAN_N, TRAINER_UPDATE_N,
    TRAINER_METRICS_SCRATCH_N, TRAINER_EPISODES_N;

/* trainer.c: the schedule entry idx's content; the schedule index and run r's learning rate
 * after `iterations` completed iterations; the stop poll of the long loops (sets abandoned
 * once a stop request is older than the grace time); the resolved configuration's hash. */
EnvContent trainer_schedule_content(const Trainer *t, int idx);
int trainer_content_index(const Trainer *t, long iterations);
float trainer_lr_at(const Trainer *t, int r, long iterations);
int trainer_stop_now(Trainer *t);
void trainer_config_hash(const TrainConfig *cfg, char out[TRAINER_HASH_LEN]);

/* trainer.c: the keys of run r's streams (action uniforms, routing noise and expert noise of
 * net k), from its seed. */
uint64_t trainer_action_key(const Trainer *t, int r);
uint64_t trainer_route_key(const Trainer *t, int k, int r);
uint64_t trainer_noise_key(const Trainer *t, int k, int r);

/* trainer.c: data, environments, networks, streams and buffers of cfg (no files written). */
int trainer_setup(Trainer *t, const TrainConfig *cfg, const char *device, PmError *err);

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
int trainer_plasticity_ckpt_load(Trainer *t, hid_t f, const char *path, PmError *err);

/* trainer_ckpt.c */
int trainer_ckpt_save(Trainer *t, PmError *err);
int trainer_ckpt_load(Trainer *t, const char *path, PmError *err);
/* Which run a file belongs to: its configuration (from /config, derived.* skipped), that
 * configuration's hash, the run id when the file has one, and (checkpoint) its iteration. */
typedef struct {
    TrainConfig cfg;
    char hash[TRAINER_HASH_LEN];
    char run_id[64];        /* "" for files written before run identities */
    long iteration;
} RunIdentity;
/* f's /config and the run_id / config_hash attributes of id_loc (the checkpoint's /trainer,
 * the run file's root); `what` and `file` name it in messages. */
int trainer_read_identity(hid_t f, const char *what, const char *file, hid_t id_loc, RunIdentity *id, PmError *err);
int trainer_ckpt_read_identity(const char *path, RunIdentity *id, PmError *err);
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
