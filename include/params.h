/* params.h: a parameter block of one network for R independent runs, as the optimizer,
 * the expert noise and the checkpoint see it. The network module (net.c) owns the layout;
 * adam.c, noise.c and ckpt.c only walk this description.
 *
 * Memory: params, grads, adam_m, adam_v are backend memory of shape (R, P) float32, run
 * stride P; tensor t of run r starts at r*P + tensors[t].offset. Tensors are stored in
 * PyTorch (out, in) row-major orientation, so a checkpoint writes them as they are. */
#ifndef PAMOE_PARAMS_H
#define PAMOE_PARAMS_H
#include <stdint.h>
#include <stdio.h>

#define PARAMS_MAX_TENSORS 32
#define PARAMS_NAME_LEN 48

typedef enum {
    TENSOR_EXPERT = 0, /* W1, b1, W2, b2 of an expert block: gets PA-MoE noise */
    TENSOR_ROUTER = 1, /* route/noise linears (sparse), dense gate (moe) */
    TENSOR_HEAD = 2,   /* policy or value head */
    TENSOR_UNUSED = 3  /* pamoe mix_gate: stored and counted, never stepped (defect 4, docs/reference/README.md) */
} TensorRole;

typedef struct {
    char name[PARAMS_NAME_LEN]; /* PyTorch-style, e.g. "experts.1.fc1.weight" */
    long offset;                /* floats from the start of a run's block */
    int rows, cols;             /* (out, in) for weights; (out, 1) for biases */
    TensorRole role;
    int expert;                 /* expert index for TENSOR_EXPERT, else -1 */
    int is_bias;
} ParamTensor;

typedef struct ParamBlock {
    int R;           /* runs */
    long P;          /* floats per run (sum of tensor sizes) */
    int n_tensors;
    ParamTensor tensors[PARAMS_MAX_TENSORS];
    float *params;   /* (R, P) backend memory */
    float *grads;    /* (R, P) */
    float *adam_m;   /* (R, P) */
    float *adam_v;   /* (R, P) */
    /* Host arrays (R, n_tensors): whether the tensor took part in the last forward
     * (defect 1, docs/reference/README.md: Adam skips tensors that did not) and its own Adam step count. */
    uint8_t *h_took_part;
    int32_t *h_adam_step;
} ParamBlock;

static inline long param_tensor_size(const ParamTensor *t) { return (long)t->rows * t->cols; }

/* Appends a tensor to pb's table at the end of the run block; returns its index. The caller
 * keeps n_tensors below PARAMS_MAX_TENSORS. */
static inline int params_add_tensor(ParamBlock *pb, const char *name, int rows, int cols, TensorRole role,
                                    int expert, int is_bias) {
    ParamTensor *t = &pb->tensors[pb->n_tensors];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = pb->P;
    t->rows = rows;
    t->cols = cols;
    t->role = role;
    t->expert = expert;
    t->is_bias = is_bias;
    pb->P += (long)rows * cols;
    return pb->n_tensors++;
}
#endif
