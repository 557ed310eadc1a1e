/* trainer_buffers.h: the trainer's arrays described by tables, as llm.c describes its
 * parameter and activation tensors. Each entry names one pointer field of a struct (by
 * offset), its element type, its shape as a product of named dimensions, where it lives
 * (host, page-locked host, backend memory, or owned by another module) and whether the
 * checkpoint carries it. One table then drives allocation, release, checkpoint writing,
 * reading and the checks of what was read, so no list has to be kept in step by hand.
 * Not a public interface: the trainer's files only. */
#ifndef PAMOE_TRAINER_BUFFERS_H
#define PAMOE_TRAINER_BUFFERS_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "common.h"

/* Named dimensions; a shape is a product of up to 4 of them. One whose value is 0 (a net
 * without routing noise, route_replay off, a single run) leaves the buffer unallocated. */
typedef enum {
    D_NONE = 0, /* ends a shape */
    D_R,        /* runs */
    D_E,        /* environments per run */
    D_RE,       /* all environments, R E */
    D_N,        /* samples per run per iteration, T E */
    D_T,        /* rollout steps per environment */
    D_B,        /* most rows of one forward in the rollout or update, max(E, mb + 1) */
    D_OBS,      /* observation width, 48 */
    D_A,        /* actions */
    D_X0, D_X1, /* routing-noise width per row of the policy / value net (0: dense net) */
    D_X0_REPLAY, D_X1_REPLAY, /* the same under route_replay, else 0 */
    D_NOISE0, D_NOISE1, D_NOISE_U, /* one rollout's raw draws per run: T adv(E X0), T adv(E X1), T adv(E) */
    D_SIDX0, D_SIDX1, D_SIDX_U,    /* per-step gather widths E X0, E X1, E when R > 1, else 0 */
    D_VIDX,     /* N X1 when E X1 is odd (the value noise must be gathered), else 0 */
    D_VEPS,     /* D_VIDX without route_replay, else 0 */
    D_RNG,      /* uint64 words of one Rng, 4 */
    D_PRAND,    /* uint64 words of one PrandStream, 2 */
    D_EP, D_EPW, /* episode quantities, episode window */
    D_MB,       /* most rows of any forward whose activations the metrics download, max(B, N) */
    D_EMAX, D_2EMAX, /* experts of the larger net, twice that */
    D_H,        /* hidden width */
    D_PMAX,     /* parameters per run of the larger net */
    D_COUNT
} BufDim;

typedef enum { BT_F32, BT_F64, BT_I32, BT_I64, BT_U8, BT_U64, BT_LOSS_STATS } BufType;

typedef enum {
    BUF_HOST,     /* calloc */
    BUF_PINNED,   /* backend host_alloc: page-locked staging */
    BUF_BACKEND,  /* backend alloc: device memory on CUDA */
    BUF_BORROWED, /* allocated by its owner (Episodes, ...): only checkpointed through the table */
} BufPlace;

/* What a restored value must satisfy, beyond its shape and checksum. */
typedef enum {
    CHK_ANY,      /* any bit pattern is a state (stream positions) */
    CHK_FINITE,   /* no NaN or infinity */
    CHK_FINITE_NONNEG,
    CHK_BOOL,     /* 0 or 1 */
    CHK_NONNEG,   /* integers >= 0 */
    CHK_NAN_OR_FINITE, /* NaN marks "no value yet" */
} BufCheck;

typedef struct {
    const char *name; /* checkpoint dataset name and message name */
    size_t offset;    /* offsetof the pointer field in its struct */
    BufType type;
    BufPlace place;
    BufDim shape[4];
    int ckpt;         /* 1: written to and read from the checkpoint */
    BufCheck check;
} BufSpec;

typedef struct {
    long v[D_COUNT];
} BufDims;

size_t buf_type_size(BufType t);
hid_t buf_h5_type(BufType t);
/* Elements of a shape (0: not allocated); rank and dims for HDF5 (dims may be NULL). */
size_t buf_count(const BufSpec *s, const BufDims *d, int *rank, hsize_t *dims);
static inline void **buf_slot(void *base, const BufSpec *s) { return (void **)((char *)base + s->offset); }

/* Allocates (zero-filled) every entry of the table that is not borrowed and has a
 * non-zero size; the others stay NULL. Release frees them (NULL accepted). */
void buf_alloc(const BufSpec *tab, int n, void *base, const BufDims *d, Backend *be);
void buf_release(const BufSpec *tab, int n, void *base, Backend *be);

/* Checkpoint: write the ckpt entries (host memory only) of a table as datasets of group g
 * with a Fletcher-32 checksum; read them back with shape and checksum checked, then the
 * values against each entry's check. Errors name the file and the dataset. */
int buf_write(hid_t g, const BufSpec *tab, int n, void *base, const BufDims *d, PmError *err);
int buf_read(hid_t g, const char *file, const BufSpec *tab, int n, void *base, const BufDims *d, PmError *err);
/* The value check alone, for data read elsewhere; `where` names the dataset in messages. */
int buf_check_values(const void *data, BufType type, size_t count, BufCheck check, const char *file,
                     const char *where, PmError *err);
#endif
