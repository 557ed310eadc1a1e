/* config.c: .ini parsing (ini_strict.c) and validation of the training configuration.
 * The table KEYS is the single source of each key's type, range, default and meaning:
 * defaults are the reference's values (docs/reference/ppo.md section 1) in faithful mode. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ini_strict.h"
#include "numparse.h"

typedef enum { K_INT, K_LONG, K_DOUBLE, K_BOOL, K_CHOICE, K_PATH, K_RUN_LONG, K_RUN_DOUBLE } KeyType;

typedef struct {
    const char *section, *name;
    KeyType type;
    size_t offset;      /* into TrainConfig */
    size_t size;        /* field size; for K_RUN_* the capacity of the list string */
    size_t str_offset;  /* K_RUN_*: where the raw list string lives */
    const char *dflt;
    double min, max;    /* numeric range (inclusive) */
    const char *const *choices; /* K_CHOICE: names, NULL-terminated; index = the CfgXxx value */
    const char *doc;
} KeyDesc;

#define F(field) offsetof(TrainConfig, field), sizeof(((TrainConfig *)0)->field), 0
#define RUN(field, str) offsetof(TrainConfig, field), sizeof(((TrainConfig *)0)->str), offsetof(TrainConfig, str)

/* Choice names in CfgXxx order (config.h). */
static const char *const DEVICES[] = {"auto", "cpu", "cuda", NULL};
static const char *const ENVS_MODELS[] = {"change", "normal", NULL};
static const char *const TRACE_FILTERS[] = {"high", "low", "hybrid", NULL};
static const char *const MINIBATCH_MODES[] = {"faithful", "equal", NULL};
static const char *const OPTIMIZERS[] = {"adam", "adamw", NULL};
static const char *const VALUE_FORWARDS[] = {"rollout", "step", NULL};
static const char *const NET_KINDS[] = {"mlp", "moe", "smoe", "pamoe", NULL};
static const char *const ROUTERS[] = {"faithful", "switch", NULL};
static const char *const NOISE_WHENS[] = {"faithful", "always", "never", NULL};
static const char *const NOISE_EXPERTS[] = {"all", "selected", NULL};
static const char *const METRICS_ROWS[] = {"faithful", "routed", NULL};
static const char *const RANK_MODES[] = {"exact", "tolerance", NULL};
static const char *const NOISE_TARGETS[] = {"params", "grads", NULL};
static const char *const PLAST_METHODS[] = {"none", "redo", "shrink_perturb", "reset", "l2_init", NULL};
static const char *const SP_ATS[] = {"every", "switch", NULL};
static const char *const RESET_PARTS[] = {"head", "last_hidden", "experts", "all", NULL};

static const KeyDesc KEYS[] = {
    {"run", "runs", K_INT, F(runs), "1", 1, CONFIG_MAX_RUNS, NULL,
     "independent runs batched in one process (seed/lr/noise sweeps)"},
    {"run", "envs_per_run", K_INT, F(envs_per_run), "1", 1, 4096, NULL,
     "environments per run; the rollout of num_steps is split across them (reference: 1)"},
    {"run", "seed", K_RUN_LONG, RUN(seed, seed_str), "2", 0, 4294967295.0, NULL,
     "seed per run: one value (run r gets seed+r) or a comma list of `runs` values (reference: 2)"},
    {"run", "device", K_CHOICE, F(device), "auto", 0, 0, DEVICES,
     "compute backend; auto = CUDA when a device is usable, else CPU"},
    {"run", "threads", K_INT, F(threads), "1", 0, 1024, NULL,
     "OpenMP threads (0 = all cores; more than 1 pays only for many runs on idle cores); results do not depend on it"},
    {"run", "flush_denormals", K_BOOL, F(flush_denormals), "off", 0, 0, NULL,
     "treat subnormal floats as zero on the CPU (FTZ+DAZ): faster once decayed weights turn subnormal, as the faithful router's do (docs/perf.md), but runs then drift from IEEE ones as another seed would; CUDA kernels keep subnormals (reference: off)"},
    {"env", "envs_model", K_CHOICE, F(envs_model), "change", 0, 0, ENVS_MODELS,
     "content schedule: change = D,L,N x3,D over 10 phases; normal = documentary only"},
    {"env", "traces", K_PATH, F(traces), "data/traces/train", 0, 0, NULL,
     "directory of training traces (reference: PA-MoE src/envs/trace, installed by pamoe import-reference in data/reference/traces/train)"},
    {"env", "video", K_PATH, F(video), "data/video", 0, 0, NULL,
     "directory with video_size_0..5 (reference: PA-MoE src/envs/envivio, installed in data/reference/video)"},
    {"env", "bw_scale", K_DOUBLE, F(bw_scale), "2.0", 1e-6, 1e6, NULL,
     "bandwidth multiplier at load (reference: 2.0, defect 12, docs/reference/README.md)"},
    {"env", "trace_filter", K_CHOICE, F(trace_filter), "high", 0, 0, TRACE_FILTERS,
     "keep traces by mean scaled bandwidth: high > 3.0, low < 2.0, hybrid all (reference: high)"},
    {"env", "delay_noise", K_BOOL, F(delay_noise), "on", 0, 0, NULL,
     "multiplicative U[0.9,1.1) download-time noise (reference: on)"},
    {"env", "reset_streams_on_switch", K_BOOL, F(reset_streams_on_switch), "on", 0, 0, NULL,
     "re-seed environment and shuffle streams at each content switch (reference: on, defect 9)"},
    {"ppo", "total_timesteps", K_LONG, F(total_timesteps), "2000000", 1, 1e13, NULL,
     "environment steps per run (reference: 2000000)"},
    {"ppo", "num_steps", K_INT, F(num_steps), "2000", 2, 1000000, NULL,
     "rollout length per iteration per run (reference: 2000)"},
    {"ppo", "num_minibatches", K_INT, F(num_minibatches), "32", 1, 1000000, NULL,
     "minibatch size = num_steps // num_minibatches (reference: 32 -> 62, 33 minibatches)"},
    {"ppo", "minibatch_mode", K_CHOICE, F(minibatch_mode), "faithful", 0, 0, MINIBATCH_MODES,
     "faithful: size num_steps//num_minibatches plus a remainder batch (defect 7); equal: exactly num_minibatches"},
    {"ppo", "update_epochs", K_INT, F(update_epochs), "5", 1, 1000, NULL, "epochs per iteration (reference: 5)"},
    {"ppo", "learning_rate", K_RUN_DOUBLE, RUN(learning_rate, learning_rate_str), "1e-3", 0, 10, NULL,
     "Adam learning rate, one value or a comma list per run (reference: 1e-3, defect 6)"},
    {"ppo", "anneal_lr", K_BOOL, F(anneal_lr), "off", 0, 0, NULL,
     "linear learning-rate decay to 0 over the iterations (reference: off)"},
    {"ppo", "optimizer", K_CHOICE, F(optimizer), "adam", 0, 0, OPTIMIZERS,
     "adam = torch Adam with coupled L2 (reference); adamw = decoupled decay"},
    {"ppo", "weight_decay", K_DOUBLE, F(weight_decay), "1e-4", 0, 1, NULL, "L2 weight decay (reference: 1e-4)"},
    {"ppo", "router_weight_decay", K_BOOL, F(router_weight_decay), "on", 0, 0, NULL,
     "apply weight decay to router tensors (reference: on; off avoids the router collapse, defect 1)"},
    {"ppo", "beta1", K_DOUBLE, F(beta1), "0.99", 0, 0.999999, NULL, "Adam beta1 (reference: 0.99)"},
    {"ppo", "beta2", K_DOUBLE, F(beta2), "0.99", 0, 0.999999, NULL, "Adam beta2 (reference: 0.99)"},
    {"ppo", "adam_eps", K_DOUBLE, F(adam_eps), "1e-5", 0, 1, NULL, "Adam epsilon (reference: 1e-5)"},
    {"ppo", "gamma", K_DOUBLE, F(gamma), "0.99", 0, 1, NULL, "discount (reference: 0.99)"},
    {"ppo", "gae_lambda", K_DOUBLE, F(gae_lambda), "0.95", 0, 1, NULL, "GAE lambda (reference: 0.95)"},
    {"ppo", "clip_coef", K_DOUBLE, F(clip_coef), "0.2", 0, 10, NULL, "PPO ratio clip (reference: 0.2)"},
    {"ppo", "norm_adv", K_BOOL, F(norm_adv), "on", 0, 0, NULL, "per-minibatch advantage normalisation (reference: on)"},
    {"ppo", "clip_vloss", K_BOOL, F(clip_vloss), "off", 0, 0, NULL, "value clipping (reference: off)"},
    {"ppo", "value_forward", K_CHOICE, F(value_forward), "rollout", 0, 0, VALUE_FORWARDS,
     "rollout: one value forward over the whole rollout (fast; on the CPU the same bits as step, on CUDA the last bit may differ); step: one per env step (reference order)"},
    {"ppo", "vf_coef", K_DOUBLE, F(vf_coef), "5", 0, 1e6, NULL, "value loss weight (reference: 5)"},
    {"ppo", "ent_coef", K_DOUBLE, F(ent_coef), "0", 0, 1e6, NULL, "entropy bonus weight (reference: 0)"},
    {"net", "policy", K_CHOICE, F(policy), "pamoe", 0, 0, NET_KINDS, "policy network kind (reference: dmoe = pamoe)"},
    {"net", "value", K_CHOICE, F(value), "pamoe", 0, 0, NET_KINDS, "value network kind (reference: dmoe = pamoe)"},
    {"net", "hidden", K_INT, F(hidden), "18", 1, 64, NULL, "expert hidden width (reference: 18; at most 64, the widest layer the plasticity metrics take)"},
    {"net", "experts", K_INT, F(experts), "3", 1, 6, NULL, "experts per MoE (reference: 3; at most 6)"},
    {"net", "router", K_CHOICE, F(router), "faithful", 0, 0, ROUTERS,
     "faithful: top-1 gate = 1 (router gets no gradient, defect 1); switch: gate = softmax prob of the chosen expert"},
    {"net", "route_replay", K_BOOL, F(route_replay), "off", 0, 0, NULL,
     "replay the rollout's routing noise in the update (reference: off = fresh noise per call, defect 2)"},
    {"noise", "noise_std", K_RUN_DOUBLE, RUN(noise_std, noise_std_str), "1e-3", 0, 10, NULL,
     "PA-MoE expert parameter noise std, one value or a comma list per run (reference: 0.001)"},
    {"noise", "noise_when", K_CHOICE, F(noise_when), "faithful", 0, 0, NOISE_WHENS,
     "faithful: only when policy and value are both pamoe (defect 3); always: every pamoe net"},
    {"noise", "noise_experts", K_CHOICE, F(noise_experts), "all", 0, 0, NOISE_EXPERTS,
     "perturb all experts (reference) or only those selected in the minibatch"},
    {"noise", "noise_lr_scaled", K_BOOL, F(noise_lr_scaled), "off", 0, 0, NULL,
     "scale the noise std by lr_t / lr_0 (paper eq. 11 option; reference: off)"},
    {"noise", "noise_every", K_INT, F(noise_every), "1", 1, 1000000, NULL,
     "optimizer steps between noise applications (reference: 1)"},
    {"noise", "noise_target", K_CHOICE, F(noise_target), "params", 0, 0, NOISE_TARGETS,
     "params: noise added to the expert parameters after the optimizer step (reference code); grads: added to the expert gradients before Adam (the paper's text)"},
    {"metrics", "redo_tau", K_DOUBLE, F(redo_tau), "0.5", 1e-9, 1e9, NULL, "dormant threshold tau (reference: 0.5)"},
    {"metrics", "metrics_rows", K_CHOICE, F(metrics_rows), "faithful", 0, 0, METRICS_ROWS,
     "faithful: stale rows of unselected experts included (defect 20); routed: only rows routed to the expert"},
    {"metrics", "rank_mode", K_CHOICE, F(rank_mode), "exact", 0, 0, RANK_MODES,
     "rank = count of singular values != 0 (reference, defect 21) or above a numerical tolerance"},
    {"metrics", "metrics_every", K_INT, F(metrics_every), "1", 1, 1000000,
     NULL, "iterations between plasticity metrics (dormant, ranks); others every iteration"},
    {"plasticity", "method", K_CHOICE, F(plast_method), "none", 0, 0, PLAST_METHODS,
     "plasticity method beside the expert noise (reference: none); see README Plasticity methods"},
    {"plasticity", "redo_every", K_INT, F(redo_every), "10", 1, 100000000, NULL,
     "redo: iterations between ReDo passes (on that iteration's rollout, before its update)"},
    {"plasticity", "redo_tau", K_DOUBLE, F(plast_redo_tau), "0.1", 0, 1e9, NULL,
     "redo: recycle units whose normalised activation score (as metrics.redo_tau's) is <= this"},
    {"plasticity", "sp_at", K_CHOICE, F(sp_at), "switch", 0, 0, SP_ATS,
     "shrink_perturb: after every sp_every-th update, or after the update before each content switch"},
    {"plasticity", "sp_every", K_INT, F(sp_every), "10", 1, 100000000, NULL, "shrink_perturb: iterations between applications (sp_at = every)"},
    {"plasticity", "sp_alpha", K_DOUBLE, F(sp_alpha), "0.8", 0, 10, NULL, "shrink_perturb: theta <- sp_alpha*theta + sp_sigma*theta_fresh"},
    {"plasticity", "sp_sigma", K_DOUBLE, F(sp_sigma), "0.2", 0, 10, NULL, "shrink_perturb: weight of the fresh initialisation"},
    {"plasticity", "reset_part", K_CHOICE, F(reset_part), "head", 0, 0, RESET_PARTS,
     "reset: what is re-initialised at each content switch (last_hidden = every expert's fc2)"},
    {"plasticity", "reset_adam", K_BOOL, F(reset_adam), "on", 0, 0, NULL, "reset: also zero the Adam moments and step counts of the reset tensors"},
    {"plasticity", "l2_init_coef", K_DOUBLE, F(l2_init_coef), "1e-3", 0, 1e6, NULL,
     "l2_init: c in the loss term c*||theta - theta_0||^2 over every parameter of both networks"},
    {"checkpoint", "checkpoint_every", K_INT, F(checkpoint_every), "50", 0, 100000000, NULL,
     "iterations between checkpoints (0 = only at the end and on SIGINT)"},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static char *field_ptr(TrainConfig *c, const KeyDesc *k) { return (char *)c + k->offset; }

_Static_assert(sizeof(CfgDevice) == sizeof(int) && sizeof(CfgNetKind) == sizeof(int), "choices are stored as int");

static int parse_bool(const char *s, int *out) {
    static const char *on[] = {"on", "true", "yes", "1"}, *off[] = {"off", "false", "no", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, on[i])) { *out = 1; return 0; }
        if (!strcasecmp(s, off[i])) { *out = 0; return 0; }
    }
    return -1;
}

static int choice_index(const char *const *choices, const char *v) {
    for (int i = 0; choices[i]; i++)
        if (!strcmp(choices[i], v)) return i;
    return -1;
}

/* "a|b|c" */
static const char *choice_list(const char *const *choices, char *buf, size_t len) {
    buf[0] = 0;
    for (int i = 0; choices[i]; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? "|" : "", choices[i]);
    }
    return buf;
}

/* Parses a per-run list "a, b, c" (blanks around elements allowed) into vals[0..n). Every
 * element must be a number in the key's range (an integer for K_RUN_LONG); an empty element
 * ("1,,2", "1,") is an error. */
static int parse_list(const KeyDesc *k, const char *list, double *vals, int *n_out, const char *where, PmError *err) {
    int n = 0;
    for (const char *p = list;; n++) {
        size_t len = strcspn(p, ",");
        char tok[64];
        if (n == CONFIG_MAX_RUNS)
            return pm_error(err, "%s: %s.%s: more than %d values", where, k->section, k->name, CONFIG_MAX_RUNS);
        if (len >= sizeof tok)
            return pm_error(err, "%s: %s.%s: element %d is longer than %d characters", where, k->section, k->name, n + 1, (int)sizeof tok - 1);
        memcpy(tok, p, len);
        tok[len] = 0;
        char *t = tok, *e = tok + len;
        while (*t == ' ' || *t == '\t') t++;
        while (e > t && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        double d;
        if (!*t) return pm_error(err, "%s: %s.%s: element %d is empty", where, k->section, k->name, n + 1);
        if (pm_parse_double(t, &d))
            return pm_error(err, "%s: %s.%s: element %d '%s' is not a number", where, k->section, k->name, n + 1, t);
        if (d < k->min || d > k->max)
            return pm_error(err, "%s: %s.%s: element %d = %s is out of range [%g, %g]", where, k->section, k->name, n + 1, t, k->min, k->max);
        if (k->type == K_RUN_LONG && d != floor(d))
            return pm_error(err, "%s: %s.%s: element %d '%s' is not an integer", where, k->section, k->name, n + 1, t);
        vals[n] = d;
        p += len;
        if (!*p) break;
        p++;
    }
    *n_out = n + 1;
    return 0;
}

/* Sets one key from its (trimmed) value; `where` prefixes the message ("configs/a.ini:12" or "--set"). */
static int set_key(TrainConfig *c, const KeyDesc *k, const char *value, const char *where, PmError *err) {
    char *p = field_ptr(c, k);
    double d;
    if (strpbrk(value, "\r\n")) /* (from --set) it could not be written back as one .ini line */
        return pm_error(err, "%s: %s.%s: the value contains a line break", where, k->section, k->name);
    switch (k->type) {
    case K_INT: case K_LONG: case K_DOUBLE:
        if (pm_parse_double(value, &d))
            return pm_error(err, "%s: %s.%s: '%s' is not a number", where, k->section, k->name, value);
        if (d < k->min || d > k->max)
            return pm_error(err, "%s: %s.%s = %s is out of range [%g, %g]", where, k->section, k->name, value, k->min, k->max);
        if (k->type != K_DOUBLE && d != floor(d))
            return pm_error(err, "%s: %s.%s: '%s' is not an integer", where, k->section, k->name, value);
        if (k->type == K_INT) *(int *)p = (int)d;
        else if (k->type == K_LONG) *(long *)p = (long)d;
        else *(double *)p = d;
        return 0;
    case K_BOOL:
        if (parse_bool(value, (int *)p))
            return pm_error(err, "%s: %s.%s: '%s' is not on/off", where, k->section, k->name, value);
        return 0;
    case K_CHOICE: {
        int idx = choice_index(k->choices, value);
        char names[128];
        if (idx < 0)
            return pm_error(err, "%s: %s.%s: '%s' is not one of %s", where, k->section, k->name, value,
                            choice_list(k->choices, names, sizeof names));
        *(int *)p = idx;
        return 0;
    }
    case K_PATH:
        if (!*value) return pm_error(err, "%s: %s.%s: empty path", where, k->section, k->name);
        if (strlen(value) >= k->size) return pm_error(err, "%s: %s.%s: path longer than %d characters", where, k->section, k->name, (int)k->size - 1);
        snprintf(p, k->size, "%s", value);
        return 0;
    case K_RUN_LONG: case K_RUN_DOUBLE: {
        /* validate every element now; expansion to `runs` happens in config_finalize */
        double *vals = xmalloc(sizeof(double) * CONFIG_MAX_RUNS);
        int n;
        int rc = strlen(value) >= k->size
                     ? pm_error(err, "%s: %s.%s: list longer than %d characters", where, k->section, k->name, (int)k->size - 1)
                     : parse_list(k, value, vals, &n, where, err);
        free(vals);
        if (!rc) snprintf((char *)c + k->str_offset, k->size, "%s", value);
        return rc;
    }
    }
    return 0;
}

static const KeyDesc *find_key(const char *section, const char *name) {
    const KeyDesc *found = NULL;
    for (int i = 0; i < N_KEYS; i++) {
        if (strcmp(KEYS[i].name, name)) continue;
        if (section && *section && strcmp(KEYS[i].section, section)) continue;
        found = &KEYS[i];
    }
    return found;
}

void config_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_KEYS; i++)
        if (set_key(c, &KEYS[i], KEYS[i].dflt, "default", NULL)) abort(); /* table bug */
}

typedef struct {
    TrainConfig *c;
    const char *path;
    long first_line[N_KEYS]; /* line where each key was set in this file (0: not yet) */
} IniCtx;

static int on_ini_entry(void *user, const char *section, const char *name, const char *value, long line, PmError *err) {
    IniCtx *ctx = user;
    const KeyDesc *k = find_key(section, name);
    char where[CONFIG_PATH_LEN + 32];
    snprintf(where, sizeof where, "%s:%ld", ctx->path, line);
    if (!k) {
        const KeyDesc *elsewhere = find_key(NULL, name);
        if (elsewhere)
            return pm_error(err, "%s: key '%s' is not in section [%s] (it belongs to [%s])", where, name, section, elsewhere->section);
        return pm_error(err, "%s: unknown key '%s' in section [%s]", where, name, section);
    }
    long *first = &ctx->first_line[k - KEYS];
    if (*first)
        return pm_error(err, "%s: duplicate key %s.%s (first set at line %ld)", where, k->section, k->name, *first);
    *first = line;
    return set_key(ctx->c, k, value, where, err);
}

int config_load_file(TrainConfig *c, const char *path, PmError *err) {
    IniCtx *ctx = xcalloc(1, sizeof *ctx);
    ctx->c = c;
    ctx->path = path;
    int rc = ini_read_strict(path, on_ini_entry, ctx, err);
    free(ctx);
    return rc;
}

int config_set(TrainConfig *c, const char *assignment, PmError *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) return pm_error(err, "--set %s: expected key=value", assignment);
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) return pm_error(err, "--set %s: key too long", assignment);
    memcpy(key, assignment, klen);
    key[klen] = 0;
    char *dot = strchr(key, '.');
    const char *section = NULL, *name = key;
    if (dot) { *dot = 0; section = key; name = dot + 1; }
    const KeyDesc *k = find_key(section, name);
    if (!k) return pm_error(err, "--set %s: unknown key '%s%s%s'", assignment, section ? section : "", section ? "." : "", name);
    /* values are trimmed as in a file */
    const char *v = eq + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
    char *value = xmalloc(vlen + 1);
    memcpy(value, v, vlen);
    value[vlen] = 0;
    int rc = set_key(c, k, value, "--set", err);
    free(value);
    return rc;
}

/* Expands a validated list "a,b,c" or a single value into `runs` entries (a single seed s
 * gives s, s+1, ...). */
static int expand_list(const char *key, int runs, int is_seed, long *out_l, double *out_d, const TrainConfig *c, PmError *err) {
    const KeyDesc *k = find_key(NULL, strchr(key, '.') + 1);
    double *vals = xmalloc(sizeof(double) * CONFIG_MAX_RUNS);
    int n = 0;
    int rc = parse_list(k, (const char *)c + k->str_offset, vals, &n, "config", err);
    if (!rc && n != 1 && n != runs)
        rc = pm_error(err, "%s: has %d values but run.runs = %d (give one value or one per run)", key, n, runs);
    for (int r = 0; r < runs && !rc; r++) {
        double v = n == 1 ? vals[0] + (is_seed ? r : 0) : vals[r];
        if (out_l) out_l[r] = (long)v;
        if (out_d) out_d[r] = v;
    }
    free(vals);
    return rc;
}

int config_schedule_phases(CfgEnvsModel m) {
    switch (m) {
    case CFG_ENVS_CHANGE: return 10;
    case CFG_ENVS_NORMAL: return 5;
    }
    return 10;
}

int config_finalize(TrainConfig *c, PmError *err) {
    if (expand_list("run.seed", c->runs, 1, c->seed, NULL, c, err)) return -1;
    if (expand_list("ppo.learning_rate", c->runs, 0, NULL, c->learning_rate, c, err)) return -1;
    if (expand_list("noise.noise_std", c->runs, 0, NULL, c->noise_std, c, err)) return -1;
    if (c->num_steps % c->envs_per_run)
        return pm_error(err, "ppo.num_steps = %d is not a multiple of run.envs_per_run = %d", c->num_steps, c->envs_per_run);
    if (c->num_steps / c->num_minibatches < 1)
        return pm_error(err, "ppo.num_minibatches = %d exceeds ppo.num_steps = %d", c->num_minibatches, c->num_steps);
    if (c->norm_adv) { /* a 1-sample minibatch has no unbiased std: its advantages become NaN */
        int mb = c->num_steps / c->num_minibatches, rest = c->num_steps % mb;
        switch (c->minibatch_mode) {
        case CFG_MB_FAITHFUL: break;
        case CFG_MB_EQUAL:
            mb = (c->num_steps + c->num_minibatches - 1) / c->num_minibatches;
            rest = c->num_steps % mb;
            break;
        }
        if (mb < 2 || rest == 1)
            return pm_error(err, "ppo.num_steps = %d with ppo.num_minibatches = %d gives a minibatch of 1 sample, whose normalised advantages are NaN (ppo.norm_adv = on); change either",
                            c->num_steps, c->num_minibatches);
    }
    long iters = c->total_timesteps / c->num_steps;
    if (iters < 1)
        return pm_error(err, "ppo.total_timesteps = %ld is less than one rollout (ppo.num_steps = %d)", c->total_timesteps, c->num_steps);
    /* A partial last rollout would be dropped without a word: refuse it instead. */
    if (c->total_timesteps % c->num_steps)
        return pm_error(err, "ppo.total_timesteps = %ld is not a multiple of ppo.num_steps = %d (the rollout length); use %ld or %ld",
                        c->total_timesteps, c->num_steps, iters * c->num_steps, (iters + 1) * c->num_steps);
    /* iteration counters and the annealed learning rate take the count as an int */
    if (iters > INT_MAX)
        return pm_error(err, "ppo.total_timesteps = %ld gives %ld iterations, more than %d", c->total_timesteps, iters, INT_MAX);
    int phases = config_schedule_phases(c->envs_model);
    if (iters < phases) /* defect 10, docs/reference/README.md: the reference divides by zero here */
        return pm_error(err, "ppo.total_timesteps = %ld gives %ld iterations, fewer than the %d content phases of envs_model = %s (the reference crashes here); use at least %ld",
                        c->total_timesteps, iters, phases, config_choice_name(c, &c->envs_model), (long)phases * c->num_steps);
    return 0;
}

int config_count(void) { return N_KEYS; }

/* Keys added after run files and sweep tasks were in users' hands. They belong to a run's
 * identity only when set away from their default, so that a file written before the key
 * existed keeps its config_hash and resumes, and a sweep started before it goes on. Every key
 * added from now on is named here. */
static const char *const LATE_KEYS[] = {"run.flush_denormals", NULL};

int config_in_identity(const TrainConfig *c, int i) {
    int late = 0;
    for (int j = 0; LATE_KEYS[j]; j++) late |= !strcmp(config_key(i), LATE_KEYS[j]);
    if (!late) return 1;
    TrainConfig *d = xmalloc(sizeof *d);
    config_defaults(d);
    char *a = xmalloc(CONFIG_VALUE_LEN), *b = xmalloc(CONFIG_VALUE_LEN);
    config_value_str(c, i, a, CONFIG_VALUE_LEN);
    config_value_str(d, i, b, CONFIG_VALUE_LEN);
    int in = strcmp(a, b) != 0;
    free(a);
    free(b);
    free(d);
    return in;
}

int config_first_difference(const TrainConfig *a, const TrainConfig *b) {
    char *va = xmalloc(CONFIG_VALUE_LEN), *vb = xmalloc(CONFIG_VALUE_LEN);
    int first = -1;
    for (int i = 0; i < N_KEYS && first < 0; i++) {
        config_value_str(a, i, va, CONFIG_VALUE_LEN);
        config_value_str(b, i, vb, CONFIG_VALUE_LEN);
        if (strcmp(va, vb)) first = i;
    }
    free(va);
    free(vb);
    return first;
}

const char *config_key(int i) {
    static char names[N_KEYS][64];
    if (!names[i][0]) snprintf(names[i], sizeof names[i], "%s.%s", KEYS[i].section, KEYS[i].name);
    return names[i];
}

const char *config_doc(int i) { return KEYS[i].doc; }

int config_find(const char *name) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", name);
    char *dot = strchr(buf, '.');
    const KeyDesc *k = dot ? (*dot = 0, find_key(buf, dot + 1)) : find_key(NULL, buf);
    return k ? (int)(k - KEYS) : -1;
}

ConfigValueKind config_value_kind(int i) {
    switch (KEYS[i].type) {
    case K_INT: case K_LONG: case K_RUN_LONG: return CONFIG_INT;
    case K_DOUBLE: case K_RUN_DOUBLE: return CONFIG_REAL;
    default: return CONFIG_TEXT;
    }
}

int config_per_run(int i) { return KEYS[i].type == K_RUN_LONG || KEYS[i].type == K_RUN_DOUBLE; }

const char *config_choice_name(const TrainConfig *c, const void *field) {
    size_t off = (size_t)((const char *)field - (const char *)c);
    for (int i = 0; i < N_KEYS; i++)
        if (KEYS[i].type == K_CHOICE && KEYS[i].offset == off) {
            int v = *(const int *)field;
            for (int j = 0; KEYS[i].choices[j]; j++)
                if (j == v) return KEYS[i].choices[j];
            return "?";
        }
    abort(); /* not a choice field of c */
}

int config_device_parse(const char *s) { return choice_index(DEVICES, s); }

const char *config_device_name(CfgDevice d) {
    switch (d) {
    case CFG_DEVICE_AUTO: case CFG_DEVICE_CPU: case CFG_DEVICE_CUDA: return DEVICES[d];
    }
    return "?";
}

void config_value_str(const TrainConfig *c, int i, char *buf, int len) {
    const KeyDesc *k = &KEYS[i];
    const char *p = (const char *)c + k->offset;
    switch (k->type) {
    case K_INT: snprintf(buf, len, "%d", *(const int *)p); break;
    case K_LONG: snprintf(buf, len, "%ld", *(const long *)p); break;
    case K_DOUBLE: snprintf(buf, len, "%.17g", *(const double *)p); break;
    case K_BOOL: snprintf(buf, len, "%s", *(const int *)p ? "on" : "off"); break;
    case K_CHOICE: snprintf(buf, len, "%s", config_choice_name(c, p)); break;
    case K_PATH: snprintf(buf, len, "%s", p); break;
    case K_RUN_LONG: case K_RUN_DOUBLE: snprintf(buf, len, "%s", (const char *)c + k->str_offset); break;
    }
}

void config_write_ini(FILE *f, const TrainConfig *c, const char *title) {
    fprintf(f, "# %s\n# Every key: meaning and the reference's value. Per-run keys take one value or a\n"
               "# comma list of run.runs values. Override any key with --set section.key=value.\n", title);
    const char *section = "";
    char *val = xmalloc(CONFIG_VALUE_LEN);
    for (int i = 0; i < N_KEYS; i++) {
        if (strcmp(section, KEYS[i].section)) {
            section = KEYS[i].section;
            fprintf(f, "\n[%s]\n", section);
        }
        config_value_str(c, i, val, CONFIG_VALUE_LEN);
        fprintf(f, "# %s", KEYS[i].doc);
        char names[128];
        if (KEYS[i].type == K_CHOICE) fprintf(f, " [%s]", choice_list(KEYS[i].choices, names, sizeof names));
        fprintf(f, "\n%s = %s\n", KEYS[i].name, val);
    }
    free(val);
}
