/* noise.c: the CPU loop of the PA-MoE expert noise; the reference for the CUDA kernel, which
 * maps one thread to one expert float of one run and calls pmath_rand_normal2 and
 * pmath_noise_apply on the same stream elements. */
#include "noise.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pmath_noise.h"

void noise_config_default(NoiseConfig *cfg) {
    cfg->only_took_part = 0;
    cfg->scale = NOISE_SCALE_NONE;
    cfg->every_k = 1;
}

NoiseState *noise_create(const ParamBlock *pb, const uint64_t *keys, const float *sigma,
                         const float *lr_ref) {
    NoiseState *ns = xcalloc(1, sizeof *ns);
    ns->R = pb->R;
    for (int t = 0; t < pb->n_tensors; t++)
        if (pb->tensors[t].role == TENSOR_EXPERT) ns->n_expert += param_tensor_size(&pb->tensors[t]);
    ns->sigma = xmalloc((size_t)pb->R * sizeof(float));
    ns->lr_ref = xmalloc((size_t)pb->R * sizeof(float));
    ns->streams = xcalloc((size_t)pb->R, sizeof(PrandStream));
    for (int r = 0; r < pb->R; r++) {
        ns->sigma[r] = sigma[r];
        ns->lr_ref[r] = lr_ref ? lr_ref[r] : 1.0f;
        ns->streams[r].seed = keys[r];
        ns->streams[r].offset = 0;
    }
    /* at least one float so a block without experts still gets a valid pointer */
    ns->h_normals = xmalloc(((size_t)pb->R * (size_t)prand_normal_advance(ns->n_expert) + 1) * sizeof(float));
    return ns;
}

void noise_free(NoiseState *ns) {
    if (!ns) return;
    free(ns->sigma);
    free(ns->lr_ref);
    free(ns->streams);
    free(ns->h_normals);
    free(ns);
}

float noise_sigma_eff(const NoiseState *ns, const NoiseConfig *cfg, int r, const float *lr) {
    switch (cfg->scale) {
    case NOISE_SCALE_LR: return (float)((double)ns->sigma[r] * lr[r]);
    case NOISE_SCALE_LR_RATIO: return (float)((double)ns->sigma[r] * lr[r] / ns->lr_ref[r]);
    default: return ns->sigma[r];
    }
}

/* p[i] += sigma n[i] (pmath_noise_apply) over one tensor: vectorised (the loop inside the
 * OpenMP region was not; vector mul then add round as the scalar ones). */
PMATH_VEC static void noise_apply_span(float *restrict p, float sigma, const float *restrict n, long sz) {
    for (long i = 0; i < sz; i++) p[i] = pmath_noise_apply(p[i], sigma, n[i]);
}

/* Run r's expert floats p += sigma n, in table order (position k in the run's draw). */
static void noise_apply_run(const NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb, const float *lr, int r,
                            long stride) {
    float sigma = noise_sigma_eff(ns, cfg, r, lr);
    const float *n = ns->h_normals + (long)r * stride;
    long k = 0;
    for (int t = 0; t < pb->n_tensors; t++) {
        const ParamTensor *T = &pb->tensors[t];
        if (T->role != TENSOR_EXPERT) continue;
        long sz = param_tensor_size(T);
        int skip = cfg->only_took_part && !pb->h_took_part[(long)r * pb->n_tensors + t];
        if (!skip) noise_apply_span(pb->params + (long)r * pb->P + T->offset, sigma, n + k, sz);
        k += sz;
    }
}

int noise_step(NoiseState *ns, const NoiseConfig *cfg, ParamBlock *pb, const float *lr) {
    ns->calls++;
    if (cfg->every_k > 1 && ns->calls % cfg->every_k != 0) return 0;
    long stride = (long)prand_normal_advance(ns->n_expert);
    prand_normal_runs(ns->R, ns->streams, ns->h_normals, stride);
    /* runs are independent: threads split runs only (results do not depend on the count);
     * the region is entered only when parallel (prand_normal_runs says why) */
    if (ns->R >= 2 && (long)ns->R * stride >= (1L << 16)) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < ns->R; r++) noise_apply_run(ns, cfg, pb, lr, r, stride);
    } else {
        for (int r = 0; r < ns->R; r++) noise_apply_run(ns, cfg, pb, lr, r, stride);
    }
    return 1;
}
