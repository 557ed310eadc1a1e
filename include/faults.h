/* faults.h: stopping on a signal, and the fault-injection test hook.
 *
 * Stop requests: pm_stop_install() makes SIGINT and SIGTERM set a flag instead of killing
 * the process; long loops (rollout steps, minibatches, environment steps of eval and replay,
 * metric computations) poll pm_stop_requested() so a request is honoured within about a
 * second wherever the program is, and the command ends cleanly (train: with a checkpoint
 * when the iteration completes in time, see trainer.c).
 *
 * Test hook: PAMOE_FAULT=PHASE:N makes the process SIGKILL itself at the N-th time (1-based)
 * it passes the point named PHASE, so tests can kill a run at an exact place in every phase.
 * Phases: rollout (each rollout step), update (each minibatch), metrics (before each run-file
 * row), metrics_flush (after the row's chunks, before the flush), ckpt_open (before the
 * temporary checkpoint is created), ckpt_write (half-way through writing it), ckpt_rename
 * (after it is closed, before the rename). Always compiled in; without the variable it costs
 * one comparison per point. */
#ifndef PAMOE_FAULTS_H
#define PAMOE_FAULTS_H

void pm_stop_install(void);
int pm_stop_requested(void);
/* Seconds since the first stop request (0 when none). */
double pm_stop_age(void);

void pm_fault_point(const char *phase);
#endif
