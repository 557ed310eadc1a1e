/* episodes.h: per-episode QoE statistics of the training rollout (docs/reference/ppo.md 4 and 9).
 * Faithful mode reproduces the reference exactly: the per-environment sums are reset at the
 * start of every iteration (an episode straddling two iterations is averaged over its tail
 * only, defect 8), each finished episode appends its averages to a history, and the logged
 * value is the mean of the last 50 entries once more than 50 episodes exist (NaN before). */
#ifndef PAMOE_EPISODES_H
#define PAMOE_EPISODES_H

enum {
    EP_BITRATE,          /* SystemInfo/Episode BitRate: mean action index */
    EP_DELAY,            /* SystemInfo/Episode Delay: s/10 */
    EP_BUFFER,           /* SystemInfo/Episode Buffer Size: s/10 */
    EP_SLEEP,            /* SystemInfo/Episode Sleep Time: s (residual sleep) */
    EP_REBUFFER,         /* SystemInfo/Episode Rebuffer: s */
    EP_CHUNK_SIZE,       /* SystemInfo/Episode Choose Video Chunk Size: bytes */
    EP_CHUNK_RATE,       /* SystemInfo/Episode Choose Video Chunk Size Per Time: MB/s */
    EP_RETURN,           /* Reward/Episode Mean Return: mean per-chunk reward */
    EP_BITRATE_REWARD,   /* Reward/Episode BitRate Reward */
    EP_REBUFFER_REWARD,  /* Reward/Episode Rebuffer Reward (negative) */
    EP_SMOOTH_REWARD,    /* Reward/Episode Smooth Reward (negative) */
    EP_COUNT
};
#define EP_WINDOW 50

typedef struct {
    int n_envs, envs_per_run, runs;
    int per_true_episode;  /* option: do not reset the sums at iteration starts */
    double *sum;           /* (n_envs, EP_COUNT) sums of the episode in progress */
    int *steps;            /* (n_envs) steps counted into sum */
    double *hist;          /* (runs, EP_WINDOW, EP_COUNT) ring of the last episode averages */
    long *episodes;        /* (runs) finished episodes so far */
} Episodes;

typedef struct {
    /* one environment step, as the simulator reports it */
    int action;
    double delay_ms, buffer_s, sleep_ms, rebuf_s, chunk_bytes, chunk_rate;
    double reward, bitrate_reward, rebuf_penalty, smooth_penalty;
} EpisodeStep;

const char *episodes_metric_name(int k); /* the reference's wandb key */
const char *episodes_metric_units(int k);
void episodes_init(Episodes *ep, int runs, int envs_per_run, int per_true_episode);
void episodes_free(Episodes *ep);
void episodes_begin_iteration(Episodes *ep);
/* Adds one step of env i (global index r*E + e); `done` closes its episode. */
void episodes_add(Episodes *ep, int i, const EpisodeStep *s, int done);
/* Mean of the last 50 episode averages of run r for quantity k; NaN until > 50 exist. */
double episodes_value(const Episodes *ep, int r, int k);
#endif
