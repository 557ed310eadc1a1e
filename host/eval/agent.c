/* agent.c: the agent table (name -> constructor), spec/option parsing and the robust
 * throughput estimator shared by the rate-based and RobustMPC agents (baselines.md 4, 6). */
#include "agent.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

typedef struct {
    char name[32];
    AgentCreateFn create;
    const char *help;
} AgentKind;

#define AGENT_MAX_KINDS 16
static AgentKind g_kinds[AGENT_MAX_KINDS] = {
    {"bb", agent_bb_create,
     "buffer-based (baselines.md 3): reservoir=MS (20000) cushion=MS (8000); "
     "'pensieve' = reservoir 5000, cushion 10000"},
    {"rb", agent_rb_create,
     "rate-based robust harmonic mean (baselines.md 4); 'reset' = forget the throughput "
     "history at each session (default: kept across sessions, spec defect 27)"},
    {"bola", agent_bola_create, "BOLA, linear utility (baselines.md 5); no options"},
    {"mpc", agent_mpc_create,
     "RobustMPC. variant=pipeline (default: horizon 3, monotone pruning, phantom chunk) | "
     "pensieve (exhaustive, horizon 5; offbyone=1 (default) reads chunk k+1+p as "
     "Pensieve's test/mpc.py, offbyone=0 the intended k+p); horizon=N (pipeline 3, "
     "pensieve 5); 'reset' as rb"},
    {"net", agent_net_create,
     "a policy trained by pamoe train, greedy: ckpt=RUN.h5 (required), run=R (default 0), "
     "obs=train (default: buffer row in seconds, as in training) | pipeline (seconds/10, the "
     "reference pipeline's builder, spec defect 16), noise (routing noise on, seed 0), "
     "label=NAME (HDF5 group; default net_<run file name>)"},
    {"pensieve", agent_pensieve_create,
     "the reference pipeline's Pensieve (baselines.md 7), greedy: weights=DIR (default "
     AGENT_REF_WEIGHTS_DIR ", reads Pensieve.f32 + .manifest.tsv)"},
    {"merina", agent_merina_create,
     "the reference pipeline's Merina, VAE mean latent (baselines.md 8), greedy: weights=DIR "
     "(default " AGENT_REF_WEIGHTS_DIR ", reads Merina and MerinaVAE)"},
    {"pamoe_ref", agent_pamoe_ref_create,
     "the reference pipeline's PA-MoE checkpoint (networks.md 12, sinusoidal pseudo-noise "
     "top-1 routers), greedy: weights=DIR (default " AGENT_REF_WEIGHTS_DIR ", reads PAMoE)"},
};
static int g_n_kinds = 8;

int agent_register(const char *name, AgentCreateFn create, const char *help) {
    if (g_n_kinds >= AGENT_MAX_KINDS || strlen(name) >= sizeof g_kinds[0].name) return -1;
    for (int i = 0; i < g_n_kinds; i++)
        if (!strcmp(g_kinds[i].name, name)) return -1;
    AgentKind *k = &g_kinds[g_n_kinds++];
    strcpy(k->name, name);
    k->create = create;
    k->help = help;
    return 0;
}

void agent_print_help(FILE *f) {
    for (int i = 0; i < g_n_kinds; i++) fprintf(f, "  %-10s %s\n", g_kinds[i].name, g_kinds[i].help);
}

static int parse_opts(const char *spec, char *name, size_t name_cap, AgentOpts *o,
                      PmError *err) {
    memset(o, 0, sizeof *o);
    o->spec = spec;
    const char *p = spec;
    size_t len = strcspn(p, ":");
    if (len == 0 || len >= name_cap) return pm_error(err, "agent '%s': missing or too long name", spec);
    memcpy(name, p, len);
    name[len] = 0;
    p += len;
    while (*p == ':') {
        p++;
        size_t n = strcspn(p, ":");
        if (n == 0) return pm_error(err, "agent '%s': empty option", spec);
        if (o->n >= AGENT_MAX_OPTS) return pm_error(err, "agent '%s': too many options", spec);
        size_t klen = strcspn(p, "=:");
        if (klen == 0 || klen >= sizeof o->key[0])
            return pm_error(err, "agent '%s': bad option name", spec);
        memcpy(o->key[o->n], p, klen);
        o->key[o->n][klen] = 0;
        if (klen < n) { /* key=value */
            size_t vlen = n - klen - 1;
            if (vlen == 0 || vlen >= sizeof o->val[0])
                return pm_error(err, "agent '%s': option '%s' needs a value", spec, o->key[o->n]);
            memcpy(o->val[o->n], p + klen + 1, vlen);
            o->val[o->n][vlen] = 0;
            o->has_value[o->n] = 1;
        } else {
            o->val[o->n][0] = 0;
        }
        for (int i = 0; i < o->n; i++)
            if (!strcmp(o->key[i], o->key[o->n]))
                return pm_error(err, "agent '%s': option '%s' given twice", spec, o->key[i]);
        o->n++;
        p += n;
    }
    return 0;
}

static int find_opt(AgentOpts *o, const char *key) {
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->key[i], key)) {
            o->used[i] = 1;
            return i;
        }
    return -1;
}

/* The index of a key given with a value, -1 when absent, -2 (err filled) when given bare. */
static int find_valued(AgentOpts *o, const char *key, PmError *err) {
    int i = find_opt(o, key);
    if (i >= 0 && !o->has_value[i]) {
        pm_error(err, "agent '%s': option '%s' needs a value (%s=...)", o->spec, key, key);
        return -2;
    }
    return i;
}

int agent_opt_str(AgentOpts *o, const char *key, const char **out, PmError *err) {
    int i = find_valued(o, key, err);
    if (i == -2) return -1;
    if (i >= 0) *out = o->val[i];
    return 0;
}

int agent_opt_given(AgentOpts *o, const char *key) { return find_opt(o, key) >= 0; }

int agent_opt_double(AgentOpts *o, const char *key, double lo, double hi, double *out,
                     PmError *err) {
    int i = find_valued(o, key, err);
    if (i == -2) return -1;
    if (i < 0) return 0;
    double v;
    if (pm_parse_double(o->val[i], &v) || v < lo || v > hi)
        return pm_error(err, "agent '%s': option %s=%s: expected a number in [%g, %g]", o->spec,
                        key, o->val[i], lo, hi);
    *out = v;
    return 0;
}

int agent_opt_int(AgentOpts *o, const char *key, int lo, int hi, int *out, PmError *err) {
    int i = find_valued(o, key, err);
    if (i == -2) return -1;
    if (i < 0) return 0;
    long long v;
    if (pm_parse_ll(o->val[i], &v) || v < lo || v > hi)
        return pm_error(err, "agent '%s': option %s=%s: expected an integer in [%d, %d]", o->spec,
                        key, o->val[i], lo, hi);
    *out = (int)v;
    return 0;
}

int agent_opt_flag(AgentOpts *o, const char *key, int *out, PmError *err) {
    int i = find_opt(o, key);
    if (i >= 0 && !o->has_value[i]) {
        *out = 1;
        return 0;
    }
    return agent_opt_int(o, key, 0, 1, out, err);
}

int agent_opt_choice(AgentOpts *o, const char *key, const char *choices, int *out,
                     PmError *err) {
    int i = find_valued(o, key, err);
    if (i == -2) return -1;
    if (i < 0) return 0;
    const char *c = choices;
    for (int idx = 0; *c; idx++) {
        size_t n = strcspn(c, "|");
        if (n == strlen(o->val[i]) && !strncmp(c, o->val[i], n)) {
            *out = idx;
            return 0;
        }
        c += n;
        if (*c == '|') c++;
    }
    return pm_error(err, "agent '%s': option %s=%s: expected one of %s", o->spec, key, o->val[i],
                    choices);
}

Agent *agent_create(const char *spec, const AgentVideo *video, PmError *err) {
    char name[32];
    AgentOpts o;
    if (parse_opts(spec, name, sizeof name, &o, err)) return NULL;
    if (strlen(spec) >= sizeof ((Agent *)0)->label) {
        pm_error(err, "agent '%s': spec too long", spec);
        return NULL;
    }
    const AgentKind *kind = NULL;
    for (int i = 0; i < g_n_kinds; i++)
        if (!strcmp(g_kinds[i].name, name)) kind = &g_kinds[i];
    if (!kind) {
        char known[256] = "";
        for (int i = 0; i < g_n_kinds; i++) {
            strncat(known, i ? "|" : "", sizeof known - strlen(known) - 1);
            strncat(known, g_kinds[i].name, sizeof known - strlen(known) - 1);
        }
        pm_error(err, "agent '%s': unknown agent '%s' (known: %s)", spec, name, known);
        return NULL;
    }
    Agent *a = kind->create(&o, video, err);
    if (!a) return NULL;
    for (int i = 0; i < o.n; i++)
        if (!o.used[i]) {
            pm_error(err, "agent '%s': unknown option '%s' for %s", spec, o.key[i], name);
            agent_free(a);
            return NULL;
        }
    if (!a->label[0]) strcpy(a->label, spec); /* a constructor may name itself (net agents) */
    return a;
}

void agent_free(Agent *a) {
    if (!a) return;
    if (a->destroy) a->destroy(a);
    free(a->state);
    free(a);
}

void agent_est_init(AgentEstimator *e, int n_samples_window) {
    memset(e, 0, sizeof *e);
    e->n_samples_window = n_samples_window;
}

void agent_est_clear_samples(AgentEstimator *e) {
    for (int i = 0; i < AGENT_EST_SAMPLES; i++) e->samples[i] = 0;
}

double agent_est_update(AgentEstimator *e, double sample) {
    for (int i = 0; i + 1 < AGENT_EST_SAMPLES; i++) e->samples[i] = e->samples[i + 1];
    e->samples[AGENT_EST_SAMPLES - 1] = sample;
    /* The error compares the previous UNDISCOUNTED estimate with the new sample. */
    double error = e->has_estimate ? fabs(e->last_estimate - sample) / sample : 0.0;
    e->errors[e->n_errors % AGENT_EST_ERRORS] = error;
    e->n_errors++;
    /* Harmonic mean over the filled slots of the window, summed oldest first as numpy's
     * small-array sum and Pensieve's loop do. */
    double inv_sum = 0;
    int n = 0;
    for (int i = AGENT_EST_SAMPLES - e->n_samples_window; i < AGENT_EST_SAMPLES; i++)
        if (e->samples[i] > 0) {
            inv_sum += 1.0 / e->samples[i];
            n++;
        }
    /* pipeline: len / sum;  Pensieve: 1 / (sum / len). Kept apart so the last bit matches. */
    double h = e->n_samples_window == AGENT_EST_SAMPLES ? n / inv_sum : 1.0 / (inv_sum / n);
    int ne = e->n_errors < AGENT_EST_ERRORS ? e->n_errors : AGENT_EST_ERRORS;
    double max_err = e->errors[0];
    for (int i = 1; i < ne; i++) max_err = fmax(max_err, e->errors[i]);
    e->last_estimate = h;
    e->has_estimate = 1;
    return h / (1.0 + max_err);
}

void agent_pipeline_obs(float *state, const AbrObs *o) {
    for (int r = 0; r < ABR_OBS_ROWS; r++) {
        float *row = state + r * ABR_OBS_COLS, first = row[0];
        for (int c = 0; c + 1 < ABR_OBS_COLS; c++) row[c] = row[c + 1];
        row[ABR_OBS_COLS - 1] = first;
    }
    const int last = ABR_OBS_COLS - 1;
    double delay = o->delay_ms > 1 ? o->delay_ms : 1;
    int remain = o->remain_chunk < ABR_CHUNKS ? o->remain_chunk : ABR_CHUNKS;
    state[0 * ABR_OBS_COLS + last] = (float)(ABR_BITRATE_KBPS[o->last_quality] / 4300.0);
    state[1 * ABR_OBS_COLS + last] = (float)(o->buffer_size_ms / 10000.0);
    state[2 * ABR_OBS_COLS + last] = (float)(o->chunk_bytes / delay / 1000.0);
    state[3 * ABR_OBS_COLS + last] = (float)(o->delay_ms / 1000.0 / 10);
    for (int q = 0; q < ABR_LEVELS; q++)
        state[4 * ABR_OBS_COLS + q] = (float)(o->next_chunk_bytes[q] / 1e6);
    state[5 * ABR_OBS_COLS + last] = (float)((double)remain / ABR_CHUNKS);
}
