#!/bin/sh
# Determinism of `pamoe train`: the same config gives identical metrics and weights for any
# thread count, and R runs batched in one process equal R separate runs (same seeds), and
# with the vector paths switched off (PAMOE_NO_AVX2, PAMOE_NO_AVX512: cpu_features.h).
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=8000 --set num_steps=400 --set num_minibatches=8 --set checkpoint_every=0 --quiet"
$B/pamoe train $C --set runs=2 --set envs_per_run=2 --set seed=5,6 --set threads=1 --out $D/t1.h5
$B/pamoe train $C --set runs=2 --set envs_per_run=2 --set seed=5,6 --set threads=2 --out $D/t2.h5
$P $D/t1.h5 $D/t2.h5
$B/pamoe train $C --set envs_per_run=2 --set seed=6 --out $D/s6.h5
$P $D/t1.h5 $D/s6.h5 --run-a 1 --run-b 0
PAMOE_NO_AVX2=1 $B/pamoe train $C --set envs_per_run=2 --set seed=6 --out $D/n2.h5
$P $D/s6.h5 $D/n2.h5
PAMOE_NO_AVX512=1 $B/pamoe train $C --set envs_per_run=2 --set seed=6 --out $D/n5.h5
$P $D/s6.h5 $D/n5.h5
# enough runs that Philox, expert noise and Adam split the runs across threads
W="--config configs/paper.ini --set total_timesteps=2000 --set num_steps=200 --set num_minibatches=4 --set runs=12 --set checkpoint_every=0 --quiet"
$B/pamoe train $W --set threads=1 --out $D/w1.h5
$B/pamoe train $W --set threads=2 --out $D/w2.h5
$P $D/w1.h5 $D/w2.h5
# a different seed must differ (the comparison can fail)
$B/pamoe train $C --set envs_per_run=2 --set seed=7 --out $D/s7.h5
if $P $D/s6.h5 $D/s7.h5 >/dev/null; then echo "seeds 6 and 7 gave identical runs"; exit 1; fi
echo ok
