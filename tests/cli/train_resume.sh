#!/bin/sh
# A run killed with SIGKILL between checkpoints and resumed ends bit-identical (metrics,
# weights, Adam state) to an uninterrupted run; --stop-after + --resume likewise.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=60000 --set num_steps=1000 --set checkpoint_every=4 --quiet"
$B/pamoe train $C --out $D/full.h5
$B/pamoe train $C --out $D/killed.h5 &
pid=$!
# wait for the first checkpoint, then a little more so the kill lands between checkpoints
while [ ! -f $D/killed.ckpt.h5 ]; do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
sleep 0.3
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
$B/pamoe train --resume $D/killed.h5 --quiet
$P $D/full.h5 $D/killed.h5
$B/pamoe train $C --out $D/stopped.h5 --stop-after 7
$B/pamoe train --resume $D/stopped.h5 --quiet
$P $D/full.h5 $D/stopped.h5
echo ok
