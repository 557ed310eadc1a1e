#!/bin/sh
# Kill points in every phase: the run SIGKILLs itself (test hook PAMOE_FAULT=PHASE:N, see
# include/faults.h) at a random N-th pass of the rollout (a step), the update (a minibatch),
# the metrics write (before a run-file row; between its chunks and its flush), and the
# checkpoint (before the temporary file, half-way through writing it, after closing it and
# before the rename). Each killed run must resume (from its last checkpoint, or from the
# start when it had none) and end bit-identical to an uninterrupted run. The kill points are
# random; the seed is printed so a failure can be replayed with FAULT_SEED=S.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
SEED=${FAULT_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "train_faults: FAULT_SEED=$SEED"
# 12 iterations of 1000 steps, 32 minibatches x 5 epochs each, a checkpoint every 4
C="--config configs/quick.ini --set total_timesteps=12000 --set num_steps=1000 --set checkpoint_every=4 --quiet"
$B/pamoe train $C --out $D/full.h5 2>/dev/null
i=0
# phase and how many times a run passes it
for pm in rollout:12000 update:1920 metrics:12 metrics_flush:12 ckpt_open:3 ckpt_write:3 rename:3; do
    phase=${pm%%:*}; max=${pm#*:}; i=$((i + 1))
    n=$(awk -v s="$SEED" -v i="$i" -v m="$max" 'BEGIN { srand(s * 13 + i); print 1 + int(rand() * m) }')
    rc=0; PAMOE_FAULT=$phase:$n $B/pamoe train $C --out $D/k$i.h5 2>$D/err || rc=$?
    [ $rc -eq 137 ] || { echo "PAMOE_FAULT=$phase:$n: exit $rc, expected 137 (killed)"; cat $D/err; exit 1; }
    rc=0; $B/pamoe train --resume $D/k$i.h5 --quiet 2>$D/err || rc=$?
    [ $rc -eq 0 ] || { echo "resume after PAMOE_FAULT=$phase:$n: exit $rc"; cat $D/err; exit 1; }
    $P $D/full.h5 $D/k$i.h5 >/dev/null || { echo "PAMOE_FAULT=$phase:$n: resumed run differs"; $P $D/full.h5 $D/k$i.h5; exit 1; }
    echo "  $phase:$n resumed, identical"
done
echo ok
