#!/bin/sh
# A run killed with SIGKILL between checkpoints and resumed ends bit-identical (metrics,
# weights, Adam state) to an uninterrupted run; SIGINT (clean stop with a checkpoint, exit
# 130) and --stop-after followed by --resume likewise.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=120000 --set num_steps=1000 --set checkpoint_every=4 --quiet"
$B/pamoe train $C --out $D/full.h5
$B/pamoe train $C --out $D/killed.h5 &
pid=$!
# wait for the first checkpoint, then a little more so the kill lands between checkpoints
while [ ! -f $D/killed.ckpt.h5 ]; do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
sleep 0.3
kill -9 $pid 2>/dev/null || true
rc=0; wait $pid 2>/dev/null || rc=$?
[ $rc -eq 137 ] || { echo "the run was not killed mid-way (exit $rc): the test needs a longer run"; exit 1; }
$B/pamoe train --resume $D/killed.h5 --quiet
$P $D/full.h5 $D/killed.h5
# SIGINT: a short iteration ends with a checkpoint (a long one is dropped), exit 130
$B/pamoe train $C --out $D/int.h5 &
pid=$!
while [ ! -f $D/int.ckpt.h5 ]; do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -INT $pid 2>/dev/null || true
rc=0; wait $pid || rc=$?
[ $rc -eq 130 ] || { echo "SIGINT: exit $rc, expected 130"; exit 1; }
$B/pamoe train --resume $D/int.h5 --quiet
$P $D/full.h5 $D/int.h5
$B/pamoe train $C --out $D/stopped.h5 --stop-after 7
$B/pamoe train --resume $D/stopped.h5 --quiet
$P $D/full.h5 $D/stopped.h5
echo ok
