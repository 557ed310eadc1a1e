#!/bin/sh
# ppo.value_forward: the value network run once over the whole rollout (rollout, default)
# equals one forward per env step (step, the reference's order) bit for bit on the CPU:
# values, GAE, losses, every metric (faithful hooks and routed rows), weights and Adam state.
# Covers an odd routing-noise width per step (E X = 3: the whole-rollout draw is cut into
# steps of 4 elements), an even one with runs batched (E X = 6, R = 2: per-step gathers),
# route_replay (the stored noise) and a value net without routing noise (mlp).
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=4000 --set num_steps=400 --set num_minibatches=8 --set checkpoint_every=0 --set threads=1 --quiet"
i=0
for opts in "" \
            "--set runs=2 --set envs_per_run=2 --set seed=5,6" \
            "--set route_replay=on --set metrics_rows=routed" \
            "--set envs_per_run=2 --set route_replay=on" \
            "--set value=mlp"; do
    i=$((i + 1))
    $B/pamoe train $C $opts --set value_forward=step --out $D/s$i.h5
    $B/pamoe train $C $opts --set value_forward=rollout --out $D/r$i.h5
    $P $D/s$i.h5 $D/r$i.h5 || { echo "value_forward step != rollout with: $opts"; exit 1; }
done
# the comparison can fail: another seed differs
$B/pamoe train $C --set seed=9 --out $D/x.h5
if $P $D/s1.h5 $D/x.h5 >/dev/null; then echo "seeds 2 and 9 gave identical runs"; exit 1; fi
echo ok
