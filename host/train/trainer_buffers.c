/* trainer_buffers.c: see trainer_buffers.h. */
#include "trainer_buffers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "ppo_loss.h"

#define W "checkpoint" /* starts every h5util message */

size_t buf_type_size(BufType t) {
    switch (t) {
    case BT_F32: return 4;
    case BT_F64: return 8;
    case BT_I32: return 4;
    case BT_I64: return 8;
    case BT_U8: return 1;
    case BT_U64: return 8;
    case BT_LOSS_STATS: return sizeof(PpoLossStats);
    }
    return 1;
}

hid_t buf_h5_type(BufType t) {
    switch (t) {
    case BT_F32: return H5T_NATIVE_FLOAT;
    case BT_F64: return H5T_NATIVE_DOUBLE;
    case BT_I32: return H5T_NATIVE_INT32;
    case BT_I64: return H5T_NATIVE_INT64;
    case BT_U8: return H5T_NATIVE_UINT8;
    case BT_U64: return H5T_NATIVE_UINT64;
    case BT_LOSS_STATS: break; /* never checkpointed */
    }
    return H5T_NATIVE_UINT8;
}

size_t buf_count(const BufSpec *s, const BufDims *d, int *rank, hsize_t *dims) {
    size_t n = 1;
    int r = 0;
    for (; r < 4 && s->shape[r] != D_NONE; r++) {
        long v = d->v[s->shape[r]];
        n *= v > 0 ? (size_t)v : 0;
        if (dims) dims[r] = (hsize_t)(v > 0 ? v : 0);
    }
    if (rank) *rank = r;
    return n;
}

void buf_alloc(const BufSpec *tab, int n, void *base, const BufDims *d, Backend *be) {
    for (int i = 0; i < n; i++) {
        const BufSpec *s = &tab[i];
        if (s->place == BUF_BORROWED) continue;
        size_t bytes = buf_count(s, d, NULL, NULL) * buf_type_size(s->type);
        void **slot = buf_slot(base, s);
        if (!bytes) { *slot = NULL; continue; }
        switch (s->place) {
        case BUF_HOST: *slot = xcalloc(bytes, 1); break;
        case BUF_PINNED: *slot = be->ops->host_alloc(be, bytes); break;
        case BUF_BACKEND: *slot = be->ops->alloc(be, bytes); break;
        case BUF_BORROWED: break;
        }
    }
}

void buf_release(const BufSpec *tab, int n, void *base, Backend *be) {
    for (int i = 0; i < n; i++) {
        const BufSpec *s = &tab[i];
        void **slot = buf_slot(base, s);
        switch (s->place) {
        case BUF_HOST: free(*slot); break;
        case BUF_PINNED: if (be) be->ops->host_release(be, *slot); break;
        case BUF_BACKEND: if (be) be->ops->release(be, *slot); break;
        case BUF_BORROWED: continue;
        }
        *slot = NULL;
    }
}

int buf_write(hid_t g, const BufSpec *tab, int n, void *base, const BufDims *d, PmError *err) {
    for (int i = 0; i < n; i++) {
        const BufSpec *s = &tab[i];
        if (!s->ckpt) continue;
        hsize_t dims[4];
        int rank;
        buf_count(s, d, &rank, dims);
        if (h5u_write(g, s->name, buf_h5_type(s->type), rank, dims, *buf_slot(base, s), H5U_CHECKSUM, W, err))
            return -1;
    }
    return 0;
}

static int bad_value(const char *file, const char *where, size_t i, const char *what, PmError *err) {
    return pm_error(err, "checkpoint %s: dataset %s: element %zu is %s", file, where, i, what);
}

int buf_check_values(const void *data, BufType type, size_t count, BufCheck check, const char *file,
                     const char *where, PmError *err) {
    if (check == CHK_ANY) return 0;
    for (size_t i = 0; i < count; i++) {
        double v;
        switch (type) {
        case BT_F32: v = ((const float *)data)[i]; break;
        case BT_F64: v = ((const double *)data)[i]; break;
        case BT_I32: v = ((const int32_t *)data)[i]; break;
        case BT_I64: v = (double)((const int64_t *)data)[i]; break;
        case BT_U8: v = ((const uint8_t *)data)[i]; break;
        default: return 0;
        }
        switch (check) {
        case CHK_ANY: break;
        case CHK_FINITE:
            if (!isfinite(v)) return bad_value(file, where, i, "not finite", err);
            break;
        case CHK_FINITE_NONNEG:
            if (!isfinite(v) || v < 0) return bad_value(file, where, i, "negative or not finite", err);
            break;
        case CHK_BOOL:
            if (v != 0 && v != 1) return bad_value(file, where, i, "neither 0 nor 1", err);
            break;
        case CHK_NONNEG:
            if (v < 0) return bad_value(file, where, i, "negative", err);
            break;
        case CHK_NAN_OR_FINITE:
            if (isinf(v)) return bad_value(file, where, i, "infinite", err);
            break;
        }
    }
    return 0;
}

int buf_read(hid_t g, const char *file, const BufSpec *tab, int n, void *base, const BufDims *d, PmError *err) {
    char gname[256];
    if (H5Iget_name(g, gname, sizeof gname) < 0) snprintf(gname, sizeof gname, "?");
    for (int i = 0; i < n; i++) {
        const BufSpec *s = &tab[i];
        if (!s->ckpt) continue;
        hsize_t dims[4];
        int rank;
        size_t count = buf_count(s, d, &rank, dims);
        void *data = *buf_slot(base, s);
        if (h5u_read(g, s->name, buf_h5_type(s->type), rank, dims, data, W, err)) return -1;
        char where[320];
        snprintf(where, sizeof where, "%s/%s", strcmp(gname, "/") ? gname : "", s->name);
        if (buf_check_values(data, s->type, count, s->check, file, where, err)) return -1;
    }
    return 0;
}
