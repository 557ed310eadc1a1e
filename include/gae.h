/* gae.h: generalized advantage estimation over a rollout of T steps for N independent streams
 * (ppo.md section 5): episode ends are true terminals, nothing is normalised. */
#ifndef PAMOE_GAE_H
#define PAMOE_GAE_H

/* rewards, values, dones: (T, N) row-major; dones[t] = 1 when obs[t] starts a new episode.
 * next_value, next_done: (N), the value and done flag of the observation after step T-1.
 * Writes adv (T, N) and returns = adv + values (T, N). */
void gae_compute(int T, int N, const float *rewards, const float *values, const float *dones,
                 const float *next_value, const float *next_done, float gamma, float lambda,
                 float *adv, float *returns);
#endif
