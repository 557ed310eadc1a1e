/* refweights.h: the reference's converted evaluation checkpoints (data/reference/weights,
 * installed by `pamoe import-reference`; docs/reference/data.md): `<name>.f32` = every tensor of a PyTorch state dict concatenated,
 * little-endian float32, row-major in PyTorch's shape; `<name>.manifest.tsv` = one line per
 * tensor: name, shape ("128x768"), offset (floats), count, float64 sum (load check).
 *
 * Loading checks the pair on its own (offsets contiguous, count = product of the shape, file
 * size = total, each tensor's sum); binding (refweights_take) checks it against the
 * architecture an agent expects (name present, shape equal), and refweights_check_all_taken
 * rejects tensors the architecture does not have. Every error names the file (and manifest
 * line where there is one).
 *
 * Also the Pensieve-style 128-wide trunk shared by the three reference agents (baselines.md
 * 7-9, networks.md 12), so the layer wiring is written once. */
#ifndef PAMOE_REFWEIGHTS_H
#define PAMOE_REFWEIGHTS_H
#include "agent.h"
#include "common.h"

#define REFW_MAX_DIMS 4

typedef struct {
    char name[96];
    int ndim;
    int shape[REFW_MAX_DIMS];
    long offset, count; /* in floats */
    double sum;         /* the manifest's float64 sum */
    int line;           /* manifest line, for messages */
    int taken;          /* bound by refweights_take */
} RefTensor;

typedef struct {
    char manifest_path[512];
    char data_path[512];
    float *data;  /* (n_floats) host-endian */
    long n_floats;
    RefTensor *tensors;
    int n_tensors;
} RefWeights;

/* Reads DIR/NAME.manifest.tsv and DIR/NAME.f32 and runs the self-consistency and sum checks.
 * On error: -1, err names the file (and line), *w is left empty (refweights_free is safe). */
int refweights_load(RefWeights *w, const char *dir, const char *name, PmError *err);
void refweights_free(RefWeights *w); /* accepts a zeroed or failed RefWeights */

/* Pointer to tensor `name` (row-major data) after checking that its shape is `shape`
 * ("128x768", "128", "3x2x3"); NULL + err (naming the manifest and, for a shape mismatch,
 * its line) otherwise. `who` names the architecture in messages ("pensieve"). */
const float *refweights_take(RefWeights *w, const char *name, const char *shape,
                             const char *who, PmError *err);
/* -1 + err naming the first manifest line that no refweights_take asked for. */
int refweights_check_all_taken(const RefWeights *w, const char *who, PmError *err);

/* Pensieve-style trunk on the (6, 8) observation x (index 8*row + col), width 128:
 *   t0 = relu(fc1 x[0,7]),  t1 = relu(fc2 x[1,7]),  t2 = relu(conv1 x[2,0:8]),
 *   t3 = relu(conv2 x[3,0:8]),  t4 = relu(conv3 x[4,0:6]),  t5 = relu(fc3 x[5,7])
 *   u  = fc4 concat(t0..t5, extra)     (+ relu when relu_out)
 * The "conv" layers are dense (the reference's names). Tensor names are
 * prefix + "fc1" + suffix + ".weight" etc.: Pensieve ("", "_actor"), PA-MoE router
 * ("actor_router.", "_router"), PA-MoE expert ("actor_experts.0.", "_expert"). */
#define REFTRUNK_F 128
#define REFTRUNK_CAT (6 * REFTRUNK_F) /* 768 */
#define REFTRUNK_MAX_EXTRA 32
typedef struct {
    const float *w1, *b1, *w2, *b2, *wc1, *bc1, *wc2, *bc2, *wc3, *bc3, *w3, *b3;
    const float *w4; /* (128, 768 + n_extra) */
    const float *b4;
    int n_extra;     /* extra inputs concatenated after t5 (Merina's 12-d latent), else 0 */
    int relu_out;
} RefTrunk;

int reftrunk_bind(RefTrunk *t, RefWeights *w, const char *prefix, const char *suffix,
                  int n_extra, int relu_out, const char *who, PmError *err);
/* out[128]; extra[n_extra] or NULL when n_extra = 0. Double accumulation, no allocation. */
void reftrunk_forward(const RefTrunk *t, const float *x, const double *extra, double *out);

/* y[m] = W x + b, W (m, n) row-major float32, accumulated in double. */
void refweights_linear(const float *W, const float *b, int m, int n, const double *x, double *y);

/* The actor and critic heads every reference agent ends with: pi_head (6 x 128) and
 * val_head (1 x 128), weights and biases. 0 or -1 + err. */
typedef struct {
    const float *pi_w, *pi_b, *v_w, *v_b;
} RefHeads;
int refweights_take_heads(RefWeights *w, RefHeads *heads, const char *who, PmError *err);
/* logits = pi_head(h); returns the greedy action (first maximum, as torch.argmax). */
int refheads_policy(const RefHeads *heads, const double *h, double *logits);

/* Construction boilerplate shared by the reference agents: a learned agent (raw float64
 * observations, baselines.md 2) with a zeroed state of state_size bytes; and the failure
 * path, which prefixes err with the agent spec (several agents run in one eval) and frees. */
Agent *refagent_new(size_t state_size, void (*reset)(Agent *), int (*act)(Agent *, const AbrObs *),
                    void (*destroy)(Agent *));
Agent *refagent_fail(Agent *a, const char *spec, PmError *err);
/* log-softmax of logits[n] into logp[n]; returns the argmax (first on ties, as torch). */
int refweights_log_softmax(const double *logits, int n, double *logp);
#endif
