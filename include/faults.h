/* faults.h: stopping on a signal, and the fault-injection test hook.
 *
 * Stop requests: pm_stop_install() makes SIGINT and SIGTERM set a flag instead of killing
 * the process (train; eval and replay keep the default action, which ends them at once and
 * leaves no partial output: results are written to a temporary name and renamed); the
 * trainer's long loops (rollout steps, minibatches) poll pm_stop_requested() so a request is honoured within about a
 * second wherever the program is, and the command ends cleanly (train: with a checkpoint
 * when the iteration completes in time, see trainer.c). Where no loop polls (a stuck
 * step), a deadline 2 s after the request, or a second request, ends the process at once
 * with exit 130; the files are still consistent, as after SIGKILL (atomic checkpoints).
 * The deadline is a POSIX timer on SIGRTMIN + 1: SIGALRM is left to the caller.
 *
 * Test hook: PAMOE_FAULT=PHASE:N makes the process SIGKILL itself at the N-th time (1-based)
 * it passes the point named PHASE, so tests can kill a run at an exact place in every phase.
 * PAMOE_FAULT=PHASE:N:stall blocks there for ever instead (a step stuck where no loop polls).
 * Phases: rollout (each rollout step), update (each minibatch), metrics (before each run-file
 * row), metrics_flush (after the row's chunks, before the flush), ckpt_open (before the
 * temporary checkpoint is created), ckpt_write (half-way through writing it), rename (after
 * a temporary file, checkpoint or eval result, is closed, before its rename). Always compiled in; without the variable it costs
 * one comparison per point. */
#ifndef PAMOE_FAULTS_H
#define PAMOE_FAULTS_H

void pm_stop_install(void);
int pm_stop_requested(void);
/* Seconds since the first stop request (0 when none). */
double pm_stop_age(void);

void pm_fault_point(const char *phase);
#endif
