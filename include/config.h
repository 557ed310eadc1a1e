/* config.h: the training configuration (configs/NAME.ini + --set key=value).
 * Every key has a descriptor (type, default = the reference's value, range or choices,
 * documentation); unknown keys and bad values are errors naming the file, line and key.
 * Per-run keys (seed, learning_rate, noise_std) accept a comma list of length `runs` or
 * one value broadcast to all runs: that is how a sweep runs in one process. */
#ifndef PAMOE_CONFIG_H
#define PAMOE_CONFIG_H
#include <stdio.h>

#include "common.h"

#define CONFIG_MAX_RUNS 4096
#define CONFIG_PATH_LEN 512

typedef struct {
    /* [run] */
    int runs;                 /* R independent runs batched in one process */
    int envs_per_run;         /* E environments per run (1 = the paper) */
    char device[16];          /* auto | cpu | cuda */
    int threads;              /* OpenMP threads for the simulator and CPU backend (0 = all) */
    /* [env] */
    char envs_model[16];      /* change | normal */
    char traces[CONFIG_PATH_LEN];
    char video[CONFIG_PATH_LEN];
    double bw_scale;
    char trace_filter[16];    /* high | low | hybrid */
    int delay_noise;
    int reset_streams_on_switch; /* faithful: re-seed env and shuffle streams (defect 9) */
    /* [ppo] */
    long total_timesteps;
    int num_steps;
    int num_minibatches;
    char minibatch_mode[16];  /* faithful (size = steps // num_minibatches, remainder batch) | equal */
    int update_epochs;
    double weight_decay, beta1, beta2, adam_eps;
    char optimizer[16];       /* adam (coupled L2, faithful) | adamw */
    int router_weight_decay;  /* faithful on; off = no decay on router tensors */
    int anneal_lr;
    double gamma, gae_lambda, clip_coef, vf_coef, ent_coef;
    int norm_adv, clip_vloss;
    char value_forward[16];   /* rollout (one batched forward) | step (per env step) */
    /* [net] */
    char policy[8], value[8]; /* mlp | moe | smoe | pamoe */
    int hidden, experts;
    char router[16];          /* faithful | switch */
    int route_replay;
    /* [noise] */
    char noise_when[16];      /* faithful (only when both nets are pamoe) | always | never */
    char noise_experts[16];   /* all | selected */
    int noise_lr_scaled;      /* sigma * lr / lr_0 (paper eq. 11 option) */
    int noise_every;          /* optimizer steps between noise applications */
    char noise_target[16];    /* params (after the optimizer step, faithful) | grads (before Adam) */
    /* [plasticity] (include/plasticity.h) */
    char plast_method[16];    /* none | redo | shrink_perturb | reset | l2_init */
    int redo_every;           /* iterations between ReDo passes */
    double plast_redo_tau;    /* ReDo recycles units with normalised score <= this */
    char sp_at[16];           /* every (sp_every iterations) | switch (each content switch) */
    int sp_every;
    double sp_alpha, sp_sigma;
    char reset_part[16];      /* head | last_hidden | experts | all */
    int reset_adam;
    double l2_init_coef;
    /* [metrics] */
    double redo_tau;
    char metrics_rows[16];    /* faithful (stale rows, defect 20) | routed */
    char rank_mode[16];       /* exact (defect 21) | tolerance */
    int metrics_every;
    /* [checkpoint] */
    int checkpoint_every;     /* iterations; 0 = only at the end */
    /* per run, expanded to `runs` entries */
    long seed[CONFIG_MAX_RUNS];
    double learning_rate[CONFIG_MAX_RUNS];
    double noise_std[CONFIG_MAX_RUNS];
    /* raw strings of the per-run keys as given (for /config attributes) */
    char seed_str[256], learning_rate_str[256], noise_std_str[256];
} TrainConfig;

void config_defaults(TrainConfig *c);
/* Parses an .ini file over the current values. Error: "configs/x.ini:12: unknown key 'foo'". */
int config_load_file(TrainConfig *c, const char *path, PmError *err);
/* One "key=value" or "section.key=value" (from --set). */
int config_set(TrainConfig *c, const char *assignment, PmError *err);
/* Cross-key checks and per-run list expansion; call once after all files and --set. */
int config_finalize(TrainConfig *c, PmError *err);

/* Resolved configuration as key/value strings, in documentation order. */
int config_count(void);
const char *config_key(int i);          /* "ppo.learning_rate" */
void config_value_str(const TrainConfig *c, int i, char *buf, int len);
const char *config_doc(int i);
/* Writes every key with its documentation as an .ini file (how configs/ were made). */
void config_write_ini(FILE *f, const TrainConfig *c, const char *title);
#endif
