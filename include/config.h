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
/* Room for a per-run list of CONFIG_MAX_RUNS values of up to 31 characters each; also the
 * buffer size for config_value_str of any key. */
#define CONFIG_LIST_LEN (CONFIG_MAX_RUNS * 32)
#define CONFIG_VALUE_LEN CONFIG_LIST_LEN

/* The choices. Each is parsed once (config_load_file / config_set) from the name in the
 * key table's choice list ("auto|cpu|cuda": index 0, 1, 2); the names live only in .ini
 * files and in the /config attributes of run files and checkpoints (config_value_str).
 * Code acts on them with `switch` and no `default:`, so -Wswitch flags a mode not handled. */
typedef enum { CFG_DEVICE_AUTO, CFG_DEVICE_CPU, CFG_DEVICE_CUDA } CfgDevice;
typedef enum { CFG_ENVS_CHANGE, CFG_ENVS_NORMAL } CfgEnvsModel;
typedef enum { CFG_FILTER_HIGH, CFG_FILTER_LOW, CFG_FILTER_HYBRID } CfgTraceFilter;
typedef enum { CFG_MB_FAITHFUL, CFG_MB_EQUAL } CfgMinibatchMode;
typedef enum { CFG_OPT_ADAM, CFG_OPT_ADAMW } CfgOptimizer;
typedef enum { CFG_VF_ROLLOUT, CFG_VF_STEP } CfgValueForward;
typedef enum { CFG_NET_MLP, CFG_NET_MOE, CFG_NET_SMOE, CFG_NET_PAMOE } CfgNetKind;
typedef enum { CFG_ROUTER_FAITHFUL, CFG_ROUTER_SWITCH } CfgRouter;
typedef enum { CFG_NOISE_WHEN_FAITHFUL, CFG_NOISE_WHEN_ALWAYS, CFG_NOISE_WHEN_NEVER } CfgNoiseWhen;
typedef enum { CFG_NOISE_EXPERTS_ALL, CFG_NOISE_EXPERTS_SELECTED } CfgNoiseExperts;
typedef enum { CFG_ROWS_FAITHFUL, CFG_ROWS_ROUTED } CfgMetricsRows;
typedef enum { CFG_RANK_EXACT, CFG_RANK_TOLERANCE } CfgRankMode;
typedef enum { CFG_NOISE_TARGET_PARAMS, CFG_NOISE_TARGET_GRADS } CfgNoiseTarget;
typedef enum { CFG_PLAST_NONE, CFG_PLAST_REDO, CFG_PLAST_SHRINK_PERTURB, CFG_PLAST_RESET, CFG_PLAST_L2_INIT } CfgPlastMethod;
typedef enum { CFG_SP_AT_EVERY, CFG_SP_AT_SWITCH } CfgSpAt;
typedef enum { CFG_RESET_HEAD, CFG_RESET_LAST_HIDDEN, CFG_RESET_EXPERTS, CFG_RESET_ALL } CfgResetPart;

typedef struct {
    /* [run] */
    int runs;                 /* R independent runs batched in one process */
    int envs_per_run;         /* E environments per run (1 = the paper) */
    CfgDevice device;         /* auto | cpu | cuda */
    int threads;              /* OpenMP threads for the simulator and CPU backend (0 = all, default 1) */
    int flush_denormals;      /* FTZ + DAZ on the CPU (include/fpmode.h); off in faithful mode */
    /* [env] */
    CfgEnvsModel envs_model;  /* change | normal */
    char traces[CONFIG_PATH_LEN];
    char video[CONFIG_PATH_LEN];
    double bw_scale;
    CfgTraceFilter trace_filter; /* high | low | hybrid */
    int delay_noise;
    int reset_streams_on_switch; /* faithful: re-seed env and shuffle streams (defect 9) */
    /* [ppo] */
    long total_timesteps;     /* a multiple of num_steps (config_finalize) */
    int num_steps;
    int num_minibatches;
    CfgMinibatchMode minibatch_mode; /* faithful (size = steps // num_minibatches, remainder batch) | equal */
    int update_epochs;
    double weight_decay, beta1, beta2, adam_eps;
    CfgOptimizer optimizer;   /* adam (coupled L2, faithful) | adamw */
    int router_weight_decay;  /* faithful on; off = no decay on router tensors */
    int anneal_lr;
    double gamma, gae_lambda, clip_coef, vf_coef, ent_coef;
    int norm_adv, clip_vloss;
    CfgValueForward value_forward; /* rollout (one batched forward) | step (per env step) */
    /* [net] */
    CfgNetKind policy, value; /* mlp | moe | smoe | pamoe */
    int hidden, experts;
    CfgRouter router;         /* faithful | switch */
    int route_replay;
    /* [noise] */
    CfgNoiseWhen noise_when;  /* faithful (only when both nets are pamoe) | always | never */
    CfgNoiseExperts noise_experts; /* all | selected */
    int noise_lr_scaled;      /* sigma * lr / lr_0 (paper eq. 11 option) */
    int noise_every;          /* optimizer steps between noise applications */
    CfgNoiseTarget noise_target; /* params (after the optimizer step, faithful) | grads (before Adam) */
    /* [plasticity] (include/plasticity.h) */
    CfgPlastMethod plast_method; /* none | redo | shrink_perturb | reset | l2_init */
    int redo_every;           /* iterations between ReDo passes */
    double plast_redo_tau;    /* ReDo recycles units with normalised score <= this */
    CfgSpAt sp_at;            /* every (sp_every iterations) | switch (each content switch) */
    int sp_every;
    double sp_alpha, sp_sigma;
    CfgResetPart reset_part;  /* head | last_hidden | experts | all */
    int reset_adam;
    double l2_init_coef;
    /* [metrics] */
    double redo_tau;
    CfgMetricsRows metrics_rows; /* faithful (stale rows, defect 20) | routed */
    CfgRankMode rank_mode;    /* exact (defect 21) | tolerance */
    int metrics_every;
    /* [checkpoint] */
    int checkpoint_every;     /* iterations; 0 = only at the end */
    /* per run, expanded to `runs` entries */
    long seed[CONFIG_MAX_RUNS];
    double learning_rate[CONFIG_MAX_RUNS];
    double noise_std[CONFIG_MAX_RUNS];
    /* raw strings of the per-run keys as given (for /config attributes) */
    char seed_str[CONFIG_LIST_LEN], learning_rate_str[CONFIG_LIST_LEN], noise_std_str[CONFIG_LIST_LEN];
} TrainConfig;

void config_defaults(TrainConfig *c);
/* Parses an .ini file over the current values. Strict: a regular file; `[section]`,
 * `key = value`, blank and comment (`#`, `;`) lines only; no inline comments (a value is
 * everything after '='); no continuation lines; a key given
 * twice in one file, a NUL byte or a line over 1 MiB is an error. Errors name the file and
 * line: "configs/x.ini:12: unknown key 'foo' in section [ppo]". */
int config_load_file(TrainConfig *c, const char *path, PmError *err);
/* One "key=value" or "section.key=value" (from --set). */
int config_set(TrainConfig *c, const char *assignment, PmError *err);
/* Cross-key checks and per-run list expansion; call once after all files and --set.
 * total_timesteps must be a whole number of rollouts (num_steps) and give at most INT_MAX
 * iterations. */
int config_finalize(TrainConfig *c, PmError *err);

/* Name of the choice stored in `field`, a CfgXxx member of c: config_choice_name(c, &c->policy)
 * = "pamoe". */
const char *config_choice_name(const TrainConfig *c, const void *field);
/* "auto|cpu|cuda" <-> CfgDevice (-1: not a device name). */
int config_device_parse(const char *s);
const char *config_device_name(CfgDevice d);
/* Content phases of the schedule: 10 for change (D,L,N x3,D), 5 for normal. */
int config_schedule_phases(CfgEnvsModel m);

/* Resolved configuration as key/value strings, in documentation order. */
int config_count(void);
const char *config_key(int i);          /* "ppo.learning_rate" */
void config_value_str(const TrainConfig *c, int i, char *buf, int len);
const char *config_doc(int i);
/* Whether key i is part of a run's identity (its config_hash): every key, except one added
 * late that c leaves at its default (config.c, LATE_KEYS). */
int config_in_identity(const TrainConfig *c, int i);
/* The first key whose values differ between a and b, -1 when every key has the same value
 * (then they train the same runs; a late key missing from an older file reads as its
 * default). */
int config_first_difference(const TrainConfig *a, const TrainConfig *b);
/* For sweeps (host/sweep/): a key's index from "key" or "section.key" (-1 when unknown), the
 * kind of its values, and whether it is per run (a comma list of run.runs values). */
typedef enum { CONFIG_TEXT, CONFIG_INT, CONFIG_REAL } ConfigValueKind;
int config_find(const char *name);
ConfigValueKind config_value_kind(int i);
int config_per_run(int i);
/* Writes every key with its documentation as an .ini file (how configs/ were made). */
void config_write_ini(FILE *f, const TrainConfig *c, const char *title);
#endif
