/* cmd_sweep_slurm.h: `pamoe sweep slurm`, called by `pamoe sweep` (host/cli/cmd_sweep.c). */
#ifndef PAMOE_CMD_SWEEP_SLURM_H
#define PAMOE_CMD_SWEEP_SLURM_H
/* argv[0] is "slurm"; returns the exit code. */
int cmd_sweep_slurm(int argc, char **argv);
#endif
