/* ckpt.h: a ParamBlock (parameters, Adam moments, per-tensor step counts) and its metadata
 * (network kind, sizes, run count, expert-noise sigma and Philox stream positions) written to and
 * read from an HDF5 group, one dataset per tensor in PyTorch orientation with a leading run
 * axis, so h5py/numpy can load any run's weights directly (docs/opt.md lists the layout).
 *
 * Memory: the ParamBlock arrays are read and written as host memory (on the CUDA backend pass a
 * block whose pointers are host mirrors). Reading validates every dataset against the block's
 * tensor table; a missing dataset, a wrong shape, a wrong run count or kind, or a truncated or
 * corrupt file is returned as an error naming the file and the dataset, never a crash. */
#ifndef PAMOE_CKPT_H
#define PAMOE_CKPT_H
#include <hdf5.h>
#include <stdint.h>

#include "common.h"
#include "noise.h"
#include "params.h"

#define CKPT_MAX_SIZES 8
#define CKPT_NAME_LEN 32

typedef struct {
    char kind[CKPT_NAME_LEN]; /* network kind ("mlp", "moe", "smoe", "dmoe"); on read, "" accepts any */
    int n_sizes;              /* extra integer attributes, e.g. obs_dim, hidden, n_experts */
    char size_names[CKPT_MAX_SIZES][CKPT_NAME_LEN];
    int64_t sizes[CKPT_MAX_SIZES];
    NoiseState *noise;        /* optional: sigma, Philox seeds/offsets, calls (written; restored
                                 in place on read when not NULL) */
} CkptMeta;

/* Writes the block into group `path` of the open file or group `loc` (created with its
 * intermediate groups). `file_name` only names the file in messages. Returns 0, or -1 + err. */
int ckpt_write(hid_t loc, const char *file_name, const char *path, const ParamBlock *pb,
               const CkptMeta *meta, PmError *err);

/* Reads group `path` into pb (whose tensor table and R say what to expect). meta may be NULL;
 * otherwise a non-empty meta->kind must match, and the sizes found are written into meta
 * (n_sizes, names, values) and, with meta->noise set, the noise state is restored. */
int ckpt_read(hid_t loc, const char *file_name, const char *path, ParamBlock *pb, CkptMeta *meta,
              PmError *err);

/* A whole file atomically: writes `file_path`.tmp with n groups, closes it, renames it. */
int ckpt_write_file(const char *file_path, int n, const char *const *paths,
                    const ParamBlock *const *blocks, const CkptMeta *const *metas, PmError *err);

/* Opens `file_path` read-only and reads one group. */
int ckpt_read_file(const char *file_path, const char *path, ParamBlock *pb, CkptMeta *meta,
                   PmError *err);

/* "expert", "router", "head", "unused" */
const char *ckpt_role_name(TensorRole role);
#endif
