#!/bin/sh
# Every plasticity method (and noise_target = grads) resumes bit for bit: a run stopped with
# --stop-after between interventions and resumed equals an uninterrupted one (metrics, weights,
# Adam state; theta_0 comes from the checkpoint), and run 1 of a 2-run batch equals the same
# seed run alone. 10 iterations of 500 steps: a content switch after each of iterations 1..9.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=5000 --set num_steps=500 --set num_minibatches=8 --set checkpoint_every=0 --quiet --device cpu"
M="--set redo_every=2 --set plasticity.redo_tau=0.5 --set sp_at=every --set sp_every=3"
for m in "plasticity.method=redo" "plasticity.method=shrink_perturb" "plasticity.method=reset --set reset_part=all" \
         "plasticity.method=l2_init --set l2_init_coef=0.01" "noise_target=grads" "plasticity.method=reset --set reset_part=last_hidden --set policy=mlp --set value=moe"; do
    n=$(echo "$m" | tr -c 'a-z_\n' '_')
    $B/pamoe train $C $M --set $m --out $D/$n-full.h5
    $B/pamoe train $C $M --set $m --out $D/$n-stop.h5 --stop-after 5 || [ $? -eq 2 ]
    $B/pamoe train --resume $D/$n-stop.h5 --quiet
    $P $D/$n-full.h5 $D/$n-stop.h5 > $D/cmp || { cat $D/cmp; echo "FAIL: resume differs with $m"; exit 1; }
    echo "$D/$n-full.h5|$m" >> $D/list
done
# batched runs equal separate runs (run 1 of seeds 5,6 == seed 6 alone)
m="--set plasticity.method=redo"
$B/pamoe train $C $M $m --set runs=2 --set seed=5,6 --out $D/batch.h5
$B/pamoe train $C $M $m --set seed=6 --out $D/single.h5
$P $D/batch.h5 $D/single.h5 --run-a 1 --run-b 0 > $D/cmp || { cat $D/cmp; echo "FAIL: batched run differs from the single run"; exit 1; }
# a checkpoint whose theta_0 is not the seeds' initialisation is refused, naming the dataset
$B/pamoe train $C $M --set plasticity.method=l2_init --out $D/bad.h5 --stop-after 2 || [ $? -eq 2 ]
sh tools/run_python.sh - $D/bad.ckpt.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["plasticity/value_theta0"]
    a = d[()]
    a[0, 5] += 1e-3
    d[...] = a
PY
if $B/pamoe train --resume $D/bad.h5 --quiet 2> $D/err; then echo "FAIL: a wrong theta_0 was accepted"; exit 1; fi
grep -q "plasticity/value_theta0" $D/err || { cat $D/err; echo "FAIL: the error does not name the dataset"; exit 1; }
# every method did something: its metrics exist and are not all NaN / zero
sh tools/run_python.sh - $D/list <<'PY'
import sys, h5py, numpy as np
for line in open(sys.argv[1]):
    path, m = line.strip().split("|")
    f = h5py.File(path, "r")
    if "method" not in m:
        assert "Plasticity" not in f["metrics"], "noise_target alone registers no plasticity metrics"
        continue
    g = f["metrics/Plasticity/policy"]
    changed = g["params_changed"][:, 0]
    d = g["dist_init_total"][:, 0]
    assert np.all(np.isfinite(d)) and d[-1] > 0, "distance from init not logged: " + m
    if "l2_init" in m:
        assert np.all(changed == 0) and np.all(np.isfinite(g["l2_init_penalty"][:, 0])), m
    else:
        assert changed.max() > 0, "no parameter changed with " + m
        nb, na = (np.isfinite(g[k][:, 0]).sum() for k in ("dormant_before", "dormant_after"))
        assert nb == na > 0, m
PY
echo ok
