#!/bin/sh
# `pamoe train --device cuda` on the CUDA CPU emulator (tests/cuda_emu/), a tiny config (2 runs,
# the first 3 iterations of 64 steps): its metrics against the CPU run (gpu_train.sh's tolerances and
# their reasons), a stop after 1 iteration + --resume ends bit-identical to the uninterrupted
# run (checkpoint written and read through the CUDA backend), and a run under another thread
# order (random:99) is bit-identical (no kernel depends on the order of its threads).
# Args: BUILD (an emulated build: make CUDA_EMU=plain BUILD=build-emu). Exit 0 pass, else fail.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set runs=2 --set num_steps=64 --set num_minibatches=4
   --set update_epochs=2 --set total_timesteps=640 --set checkpoint_every=1 --quiet"
$B/pamoe train $C --device cuda --out $D/g.h5 --stop-after 3
$B/pamoe train $C --device cpu --out $D/c.h5 --stop-after 3
$P $D/g.h5 $D/c.h5 --rtol 2e-3 --atol 1e-4 --only '^(losses|Reward|SystemInfo|Weights|charts/learning_rate|expert_)'
$B/pamoe train $C --device cuda --out $D/s.h5 --stop-after 1
$B/pamoe train --resume $D/s.h5 --device cuda --quiet --stop-after 2
$P $D/g.h5 $D/s.h5
CUDA_EMU_ORDER=random:99 $B/pamoe train $C --device cuda --out $D/o.h5 --stop-after 3
$P $D/g.h5 $D/o.h5
echo ok
