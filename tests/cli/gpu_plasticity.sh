#!/bin/sh
# Every plasticity method on the CUDA backend: two iterations (each method acts after the
# first) repeat bit for bit on the GPU and agree with the CPU backend within gpu_train.sh's
# tolerances (losses, QoE, weights, the distance from initialisation). ReDo is compared for
# determinism only: which units fall under the threshold is a count over a threshold that a
# 1-ulp difference may flip (as gpu_train.sh says of the dormant metrics). Needs a GPU: exits
# 77 with "SKIP: no CUDA device" otherwise. noise_target = grads acts at every optimizer step,
# so one iteration (45 steps) covers it; over two, the noise-dominated gradients of rarely
# routed experts, which Adam normalises to steps of about lr, let the few-ulp difference of
# the device's normals (pmath_rand.h) grow past the tolerance, as measured on the emulator.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=5000 --set num_steps=500 --set num_minibatches=8 --set redo_every=1 --set plasticity.redo_tau=0.3 --set sp_at=every --set sp_every=1 --quiet"
if ! $B/pamoe train $C --device cuda --out $D/probe.h5 --stop-after 1 2> $D/err; then
    if grep -q "CUDA" $D/err; then echo "SKIP: no CUDA device ($(tail -1 $D/err))"; exit 77; fi
    cat $D/err; exit 1
fi
for m in "plasticity.method=redo" "plasticity.method=shrink_perturb" "plasticity.method=reset --set reset_part=all" \
         "plasticity.method=l2_init --set l2_init_coef=0.01" "noise_target=grads"; do
    n=$(echo "$m" | tr -c 'a-z_\n' '_')
    it=2; case $m in noise_target*) it=1;; esac
    $B/pamoe train $C --set $m --device cuda --out $D/$n-g1.h5 --stop-after $it || [ $? -eq 2 ]
    $B/pamoe train $C --set $m --device cuda --out $D/$n-g2.h5 --stop-after $it || [ $? -eq 2 ]
    $B/pamoe train $C --set $m --device cpu --out $D/$n-c.h5 --stop-after $it || [ $? -eq 2 ]
    $P $D/$n-g1.h5 $D/$n-g2.h5 || { echo "FAIL: $m not deterministic on the GPU"; exit 1; }
    case $m in *redo*) continue;; esac
    $P $D/$n-g1.h5 $D/$n-c.h5 --rtol 2e-3 --atol 1e-4 --only '^(losses|Reward|SystemInfo|Weights|Plasticity/.*/dist_init_total)' ||
        { echo "FAIL: $m differs between the CUDA and the CPU backend"; exit 1; }
done
echo ok
