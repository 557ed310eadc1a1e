/* agent.h: one interface for ABR agents evaluated by `pamoe eval` (baselines.md 1, 3-6).
 * An agent decides the quality of the NEXT chunk from the AbrObs returned by the last
 * reset/step of an evaluation environment. Rule-based agents live in host/agent_<name>.c;
 * learned agents (a checkpoint) plug in through the same table (agent_register).
 *
 * Agent spec strings, as given to `pamoe eval --agent`: "name" or "name:opt:key=value...",
 * e.g. "bb:pensieve", "mpc:variant=pensieve:offbyone=0", "rb:reset". The full spec is the
 * agent's label (HDF5 group name). */
#ifndef PAMOE_AGENT_H
#define PAMOE_AGENT_H
#include <stdio.h>

#include "abr.h"
#include "common.h"

/* Chunk-size table for look-ahead (MPC). sizes[q * n_chunks + i] = bytes of chunk i at
 * quality q. n_chunks is 48, or 49 when the video files carry Pensieve's extra last line
 * (only Pensieve's off-by-one MPC reads index 48). */
typedef struct {
    const double *sizes; /* (ABR_LEVELS, n_chunks) row-major, bytes */
    int n_chunks;
} AgentVideo;

typedef struct Agent Agent;
struct Agent {
    char label[128]; /* the spec it was built from */
    /* Start of a session (before the reset obs). Faithful rule-based agents keep their
     * throughput history across sessions (spec defect 27), so this may do nothing. */
    void (*reset)(Agent *a);
    /* Quality 0..ABR_LEVELS-1 for the next chunk. */
    int (*act)(Agent *a, const AbrObs *obs);
    void (*destroy)(Agent *a);
    void *state;
    /* 1: eval passes the float64 observation even when OptiVerse's float32 rounding is on.
     * Learned agents want this: the pipeline builds their 6x8 input from the env's float64
     * client_buffer_size, not from the float32 dict (see agent_pipeline_obs). */
    int raw_obs;
};

/* Parsed "key=value" options of a spec; a bare word is a key without a value, which only a
 * flag accepts (any other getter reports "needs a value"). */
#define AGENT_MAX_OPTS 8
typedef struct {
    int n;
    char key[AGENT_MAX_OPTS][32];
    char val[AGENT_MAX_OPTS][96];
    int used[AGENT_MAX_OPTS];
    int has_value[AGENT_MAX_OPTS];
    const char *spec; /* for error messages */
} AgentOpts;

/* Option getters: return 0 and leave *out at the default when absent; -1 with an error
 * naming the spec and key when the value does not parse or is out of [lo, hi]. */
int agent_opt_double(AgentOpts *o, const char *key, double lo, double hi, double *out,
                     PmError *err);
int agent_opt_int(AgentOpts *o, const char *key, int lo, int hi, int *out, PmError *err);
/* One of the '|'-separated choices in `choices` (e.g. "pipeline|pensieve"); *out = index. */
int agent_opt_choice(AgentOpts *o, const char *key, const char *choices, int *out,
                     PmError *err);
/* A flag: "key", "key=1", "key=0". */
int agent_opt_flag(AgentOpts *o, const char *key, int *out, PmError *err);
/* Raw string value, *out left as is when absent (marks the key used). For checkpoint paths
 * and the like. */
int agent_opt_str(AgentOpts *o, const char *key, const char **out, PmError *err);
/* Whether the key was given at all (marks it used). */
int agent_opt_given(AgentOpts *o, const char *key);

/* Constructor of one agent kind. video may be NULL for agents that do not look ahead. */
typedef Agent *(*AgentCreateFn)(AgentOpts *opts, const AgentVideo *video, PmError *err);

/* Hook for agents defined elsewhere (a checkpoint agent): name -> constructor. Call before
 * agent_create. Returns -1 when the table is full or the name exists. */
int agent_register(const char *name, AgentCreateFn create, const char *help);

/* Builds an agent from a spec; NULL + err on an unknown name, a bad or unused option. */
Agent *agent_create(const char *spec, const AgentVideo *video, PmError *err);
/* Prints the known agents and their options (for --help). */
void agent_print_help(FILE *f);

static inline void agent_reset(Agent *a) { a->reset(a); }
static inline int agent_act(Agent *a, const AbrObs *obs) { return a->act(a, obs); }
void agent_free(Agent *a); /* accepts NULL */

/* Built-in constructors (host/agent_<name>.c). */
Agent *agent_bb_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_rb_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_bola_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_mpc_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_net_create(AgentOpts *opts, const AgentVideo *video, PmError *err); /* agent_net.c */

/* The reference pipeline's learned agents (baselines.md 7-9), from the converted weights
 * (refweights.h): option weights=DIR, default AGENT_REF_WEIGHTS_DIR, where
 * `pamoe import-reference` installs them (relative to the working directory, like every
 * default data path). Greedy argmax. */
#define AGENT_REF_WEIGHTS_DIR "data/reference/weights"
Agent *agent_pensieve_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_merina_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
Agent *agent_pamoe_ref_create(AgentOpts *opts, const AgentVideo *video, PmError *err);
/* Full forward of such an agent on one 6x8 input x (index 8*row + col; no observation state
 * is touched): actor log-probs, critic value, and (Merina) the VAE mean latent or (PA-MoE)
 * the experts chosen by the actor and critic routers. Returns the greedy action, or -1 when
 * `a` is not an agent of that kind. */
int agent_pensieve_forward(const Agent *a, const float x[ABR_OBS_DIM], double logp[ABR_LEVELS],
                           double *value);
int agent_merina_forward(const Agent *a, const float x[ABR_OBS_DIM], double latent[12],
                         double logp[ABR_LEVELS], double *value);
int agent_pamoe_ref_forward(const Agent *a, const float x[ABR_OBS_DIM], int experts[2],
                            double logp[ABR_LEVELS], double *value);

/* For learned agents: the 6x8 network input the reference pipeline builds from the OptiVerse
 * observation (baselines.md 2, `normalize_obs`): roll every row left by one column, then
 * row 0 = R[last_quality]/4300, row 1 = buffer_ms/10000, row 2 = bytes/max(delay,1)/1000,
 * row 3 = delay_ms/10000, row 4 columns 0..5 = next sizes/1e6 (columns 6,7 keep the rolled
 * stale values), row 5 = min(remain, 48)/48, each computed in double and stored as float.
 * `state` (ABR_OBS_DIM, index 8*row + col) must be zeroed at the start of each session. */
void agent_pipeline_obs(float *state, const AbrObs *o);

/* Robust throughput estimator shared by rate-based and RobustMPC (baselines.md 4):
 * harmonic mean of the last AGENT_EST_SAMPLES samples, discounted by 1 + the largest of the
 * last AGENT_EST_ERRORS relative errors of the previous undiscounted estimate. */
#define AGENT_EST_SAMPLES 6
#define AGENT_EST_ERRORS 5
typedef struct {
    int n_samples_window;                 /* 6 (pipeline) or 5 (Pensieve) */
    double samples[AGENT_EST_SAMPLES];    /* oldest first; 0 = empty slot */
    double errors[AGENT_EST_ERRORS];      /* ring of the last errors */
    int n_errors;                         /* total appended (ring index = n % 5) */
    double last_estimate;                 /* undiscounted harmonic mean; valid if has_estimate */
    int has_estimate;
} AgentEstimator;

void agent_est_init(AgentEstimator *e, int n_samples_window);
/* Forgets the samples only (Pensieve's per-video state row); errors are kept. */
void agent_est_clear_samples(AgentEstimator *e);
/* Adds one throughput sample (any unit > 0) and returns the discounted prediction. */
double agent_est_update(AgentEstimator *e, double sample);
#endif
