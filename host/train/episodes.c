/* episodes.c: per-episode QoE statistics (see episodes.h). */
#include "episodes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *NAMES[EP_COUNT] = {
    "SystemInfo/Episode BitRate", "SystemInfo/Episode Delay", "SystemInfo/Episode Buffer Size",
    "SystemInfo/Episode Sleep Time", "SystemInfo/Episode Rebuffer",
    "SystemInfo/Episode Choose Video Chunk Size", "SystemInfo/Episode Choose Video Chunk Size Per Time",
    "Reward/Episode Mean Return", "Reward/Episode BitRate Reward", "Reward/Episode Rebuffer Reward",
    "Reward/Episode Smooth Reward"};
static const char *UNITS[EP_COUNT] = {"quality level", "s/10", "s/10", "s", "s", "bytes", "MB/s",
                                      "reward per chunk", "reward per chunk", "reward per chunk",
                                      "reward per chunk"};

const char *episodes_metric_name(int k) { return NAMES[k]; }
const char *episodes_metric_units(int k) { return UNITS[k]; }

void episodes_init(Episodes *ep, int runs, int envs_per_run, int per_true_episode) {
    memset(ep, 0, sizeof *ep);
    ep->runs = runs;
    ep->envs_per_run = envs_per_run;
    ep->n_envs = runs * envs_per_run;
    ep->per_true_episode = per_true_episode;
    ep->sum = xcalloc((size_t)ep->n_envs * EP_COUNT, sizeof *ep->sum);
    ep->steps = xcalloc((size_t)ep->n_envs, sizeof *ep->steps);
    ep->hist = xcalloc((size_t)runs * EP_WINDOW * EP_COUNT, sizeof *ep->hist);
    ep->episodes = xcalloc((size_t)runs, sizeof *ep->episodes);
}

void episodes_free(Episodes *ep) {
    free(ep->sum);
    free(ep->steps);
    free(ep->hist);
    free(ep->episodes);
    memset(ep, 0, sizeof *ep);
}

void episodes_begin_iteration(Episodes *ep) {
    if (ep->per_true_episode) return;
    memset(ep->sum, 0, (size_t)ep->n_envs * EP_COUNT * sizeof *ep->sum);
    memset(ep->steps, 0, (size_t)ep->n_envs * sizeof *ep->steps);
}

void episodes_add(Episodes *ep, int i, const EpisodeStep *s, int done) {
    double *sum = ep->sum + (size_t)i * EP_COUNT;
    /* the info fields as ppo.md 4 and environment.md 10 define them */
    sum[EP_BITRATE] += s->action;
    sum[EP_DELAY] += s->delay_ms / 1000.0 / 10.0;
    sum[EP_BUFFER] += s->buffer_s / 10.0;
    sum[EP_SLEEP] += s->sleep_ms;
    sum[EP_REBUFFER] += s->rebuf_s;
    sum[EP_CHUNK_SIZE] += s->chunk_bytes;
    sum[EP_CHUNK_RATE] += s->chunk_rate;
    sum[EP_RETURN] += s->reward;
    sum[EP_BITRATE_REWARD] += s->bitrate_reward;
    sum[EP_REBUFFER_REWARD] += -s->rebuf_penalty;
    sum[EP_SMOOTH_REWARD] += -s->smooth_penalty;
    ep->steps[i]++;
    if (!done) return;
    int r = i / ep->envs_per_run;
    double *h = ep->hist + ((size_t)r * EP_WINDOW + (size_t)(ep->episodes[r] % EP_WINDOW)) * EP_COUNT;
    for (int k = 0; k < EP_COUNT; k++) h[k] = sum[k] / ep->steps[i];
    h[EP_SLEEP] /= 1000.0; /* the reference converts the sleep average to seconds */
    ep->episodes[r]++;
    memset(sum, 0, EP_COUNT * sizeof *sum);
    ep->steps[i] = 0;
}

double episodes_value(const Episodes *ep, int r, int k) {
    if (ep->episodes[r] <= EP_WINDOW) return NAN;
    double acc = 0;
    for (int j = 0; j < EP_WINDOW; j++) acc += ep->hist[((size_t)r * EP_WINDOW + j) * EP_COUNT + k];
    return acc / EP_WINDOW;
}
