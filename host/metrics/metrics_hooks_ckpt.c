/* metrics_hooks_ckpt.c: the activation store's emulated hooks in the training checkpoint.
 * A resumed run must append the same stale rows as an uninterrupted one, so the emulated
 * hooks (which outlive iterations) go into the training checkpoint: group `name` with
 * meta (n_keys, 6) int32 = net, expert, layer, width, hooked, hook_rows (key order kept)
 * and hook_data (sum of hook_rows*width) float32. The per-iteration rows are empty at a
 * checkpoint (the trainer clears them after each iteration's statistics). */
#include "metrics_hooks_ckpt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "metrics_store_keys.h"

int metrics_store_save_hooks(const MetricsStore *s, hid_t loc, const char *name, PmError *err) {
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return pm_error(err, "cannot create checkpoint group %s", name);
    int32_t *meta = xcalloc((size_t)s->n_keys * 6 + 1, sizeof *meta);
    size_t total = 0;
    for (int i = 0; i < s->n_keys; i++) total += (size_t)s->keys[i].hook_rows * s->keys[i].width;
    float *data = xcalloc(total + 1, sizeof *data);
    size_t at = 0;
    for (int i = 0; i < s->n_keys; i++) {
        const StoreKey *k = &s->keys[i];
        int32_t m[6] = {k->net, k->expert, k->layer, k->width, k->hooked, k->hook_rows};
        memcpy(meta + 6 * i, m, sizeof m);
        if (k->hook_rows) /* k->hook is NULL for a key without hook rows */
            memcpy(data + at, k->hook, (size_t)k->hook_rows * k->width * sizeof(float));
        at += (size_t)k->hook_rows * k->width;
    }
    hsize_t dm[2] = {(hsize_t)s->n_keys, 6}, dd[1] = {(hsize_t)total};
    int rc = h5u_write(g, "meta", H5T_NATIVE_INT32, 2, dm, meta, H5U_CHECKSUM, "checkpoint", err) ||
             h5u_write(g, "hook_data", H5T_NATIVE_FLOAT, 1, dd, data, H5U_CHECKSUM, "checkpoint", err);
    H5Gclose(g);
    free(meta);
    free(data);
    return rc ? -1 : 0;
}

int metrics_store_load_hooks(MetricsStore *s, hid_t loc, const char *name, const char *file, PmError *err) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return pm_error(err, "checkpoint %s: missing group /%s", file, name);
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    hsize_t dm[2] = {H5U_ANY, 6}, dd[1] = {H5U_ANY};
    hid_t a = h5u_open_checked(g, "meta", 2, dm, "checkpoint", err);
    hid_t b = a < 0 ? -1 : h5u_open_checked(g, "hook_data", 1, dd, "checkpoint", err);
    int rc = a < 0 || b < 0 ? -1 : 0;
    int32_t *meta = xcalloc(rc ? 1 : (size_t)dm[0] * 6 + 1, sizeof *meta);
    float *data = xcalloc(rc ? 1 : (size_t)dd[0] + 1, sizeof *data);
    if (!rc) rc = h5u_read_into(a, H5T_NATIVE_INT32, H5S_ALL, meta, "checkpoint", err) ||
                  h5u_read_into(b, H5T_NATIVE_FLOAT, H5S_ALL, data, "checkpoint", err);
    size_t at = 0;
    for (hsize_t i = 0; i < dm[0] && !rc; i++) {
        const int32_t *m = meta + 6 * i;
        size_t n = (size_t)m[5] * (size_t)m[3];
        /* a key is (net, expert, layer) of a network this store was made for, with its width */
        int router = m[2] == METRICS_ROUTER_LAYER;
        if (m[0] < 0 || m[0] > 1 || m[3] != (router ? s->n_experts : s->d) || m[5] < 0 || at + n > dd[0] ||
            (router ? m[1] != -1 : m[1] < 0 || m[1] >= s->n_experts || m[2] < 0 || m[2] > 1) || (m[4] != 0 && m[4] != 1)) {
            rc = pm_error(err, "checkpoint %s: /%s/meta row %d is inconsistent", file, name, (int)i);
            break;
        }
        StoreKey *k = metrics_store_key(s, (MetricsNet)m[0], m[1], m[2]);
        k->width = m[3];
        k->hooked = m[4];
        if (m[5] > k->hook_cap) {
            k->hook = xrealloc(k->hook, n * sizeof(float));
            k->hook_cap = m[5];
        }
        if (n) memcpy(k->hook, data + at, n * sizeof(float)); /* k->hook may be NULL then */
        k->hook_rows = m[5];
        k->hook_seg = 0;
        at += n;
    }
    free(meta);
    free(data);
    if (a >= 0) H5Dclose(a);
    if (b >= 0) H5Dclose(b);
    H5Gclose(g);
    return rc ? -1 : 0;
}
