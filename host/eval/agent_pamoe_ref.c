/* agent_pamoe_ref.c: the reference pipeline's PA-MoE evaluation agent (baselines.md 9,
 * networks.md 12, `pamoe_agent.py` + `weights/PAMoE.pth`), greedy argmax of the actor logits.
 * This checkpoint is NOT the training architecture (networks.md 6): every expert and router
 * is a Pensieve-style 128-wide trunk whose last layer has no relu.
 *   router:  m = T_router(x);  l = topkroute m;  s = softplus(noise_linear m)
 *            eps = sin(m . pseudo_proj)  (one deterministic scalar for all 3 experts)
 *            z = l + eps * s;  e* = argmax z  (top-1: the gate is one-hot, networks.md 5)
 *   actor:   logits = pi_head T_{actor expert e*}(x);  critic: v = val_head T_{critic e*}(x)
 * Acting evaluates the actor router and one actor expert only. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "refweights.h"

#define PAMOE_REF_E 3

typedef struct {
    RefTrunk trunk;
    const float *proj;           /* pseudo_proj (128, 1) */
    const float *route_w, *route_b; /* (3, 128), (3) */
    const float *noise_w, *noise_b; /* (3, 128), (3) */
} PamoeRefRouter;

typedef struct {
    RefWeights w;
    PamoeRefRouter router[2];          /* 0 actor, 1 critic */
    RefTrunk expert[2][PAMOE_REF_E];   /* [actor|critic][e] */
    RefHeads head;
    float state[ABR_OBS_DIM];
} PamoeRefAgent;

static void pamoe_ref_reset(Agent *a) {
    PamoeRefAgent *s = a->state;
    memset(s->state, 0, sizeof s->state);
}

/* PyTorch's softplus (beta 1, threshold 20: linear above 20). */
static double softplus(double v) { return v > 20 ? v : log1p(exp(v)); }

static int route(const PamoeRefRouter *r, const float *x) {
    double m[REFTRUNK_F], l[PAMOE_REF_E], n[PAMOE_REF_E];
    reftrunk_forward(&r->trunk, x, NULL, m);
    refweights_linear(r->route_w, r->route_b, PAMOE_REF_E, REFTRUNK_F, m, l);
    refweights_linear(r->noise_w, r->noise_b, PAMOE_REF_E, REFTRUNK_F, m, n);
    double dot = 0;
    for (int i = 0; i < REFTRUNK_F; i++) dot += m[i] * r->proj[i];
    double eps = sin(dot);
    int best = 0;
    double zbest = -INFINITY;
    for (int e = 0; e < PAMOE_REF_E; e++) {
        double z = l[e] + eps * softplus(n[e]);
        if (z > zbest) { /* first maximum on ties, as torch.topk on CPU */
            zbest = z;
            best = e;
        }
    }
    return best;
}

static int pamoe_ref_actor(const PamoeRefAgent *s, const float *x, double *logits, int *expert) {
    double h[REFTRUNK_F];
    int e = route(&s->router[0], x);
    reftrunk_forward(&s->expert[0][e], x, NULL, h);
    if (expert) *expert = e;
    return refheads_policy(&s->head, h, logits);
}

static int pamoe_ref_act(Agent *a, const AbrObs *obs) {
    PamoeRefAgent *s = a->state;
    agent_pipeline_obs(s->state, obs);
    double logits[ABR_LEVELS];
    return pamoe_ref_actor(s, s->state, logits, NULL);
}

static void pamoe_ref_destroy(Agent *a) {
    PamoeRefAgent *s = a->state;
    if (s) refweights_free(&s->w);
}

int agent_pamoe_ref_forward(const Agent *a, const float x[ABR_OBS_DIM], int experts[2],
                            double logp[ABR_LEVELS], double *value) {
    if (!a || a->act != pamoe_ref_act) return -1;
    const PamoeRefAgent *s = a->state;
    double logits[ABR_LEVELS], h[REFTRUNK_F];
    int best = pamoe_ref_actor(s, x, logits, &experts[0]);
    refweights_log_softmax(logits, ABR_LEVELS, logp);
    experts[1] = route(&s->router[1], x);
    reftrunk_forward(&s->expert[1][experts[1]], x, NULL, h);
    refweights_linear(s->head.v_w, s->head.v_b, 1, REFTRUNK_F, h, value);
    return best;
}

static int bind_router(PamoeRefRouter *r, RefWeights *w, const char *side, const char *who,
                       PmError *err) {
    char prefix[64], name[128];
    snprintf(prefix, sizeof prefix, "%s_router.", side);
    if (reftrunk_bind(&r->trunk, w, prefix, "_router", 0, 0, who, err)) return -1;
#define TAKE(dst, tensor, shape)                                           \
    do {                                                                   \
        snprintf(name, sizeof name, "%s%s", prefix, tensor);               \
        if (!((dst) = refweights_take(w, name, shape, who, err))) return -1; \
    } while (0)
    TAKE(r->proj, "pseudo_proj", "128x1");
    TAKE(r->route_w, "topkroute_linear.weight", "3x128");
    TAKE(r->route_b, "topkroute_linear.bias", "3");
    TAKE(r->noise_w, "noise_linear.weight", "3x128");
    TAKE(r->noise_b, "noise_linear.bias", "3");
#undef TAKE
    return 0;
}

Agent *agent_pamoe_ref_create(AgentOpts *opts, const AgentVideo *video, PmError *err) {
    (void)video;
    const char *dir = AGENT_REF_WEIGHTS_DIR;
    if (agent_opt_str(opts, "weights", &dir, err)) return NULL;
    Agent *a = refagent_new(sizeof(PamoeRefAgent), pamoe_ref_reset, pamoe_ref_act, pamoe_ref_destroy);
    PamoeRefAgent *s = a->state;
    const char *who = "pamoe_ref (networks.md 12)";
    static const char *side[2] = {"actor", "critic"};
    int bad = refweights_load(&s->w, dir, "PAMoE", err);
    for (int k = 0; k < 2 && !bad; k++) {
        bad = bind_router(&s->router[k], &s->w, side[k], who, err);
        for (int e = 0; e < PAMOE_REF_E && !bad; e++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s_experts.%d.", side[k], e);
            bad = reftrunk_bind(&s->expert[k][e], &s->w, prefix, "_expert", 0, 0, who, err);
        }
    }
    if (bad || refweights_take_heads(&s->w, &s->head, who, err) ||
        refweights_check_all_taken(&s->w, who, err)) {
        return refagent_fail(a, opts->spec, err);
    }
    return a;
}
