#!/bin/sh
# One full training iteration on the CUDA and the CPU backend from the same seed agrees within
# tolerance, and two CUDA runs with the same seed are bit-identical. Needs a GPU: exits 77
# with "SKIP: no CUDA device" otherwise.
# Tolerances: every op agrees to ~1e-5 relative (tests/gpu_backend.c); over one iteration
# (2000 rollout steps, 165 Adam steps) the weights drift apart by about lr * 165 * 1e-5 and
# the losses by ~1e-4 relative, so rtol 2e-3 / atol 1e-4 leaves a margin of 10x while a wrong
# kernel (a sign, a missing term) moves them by O(1). Quantities that are counts over
# thresholds (exact ranks, dormant percentages) can flip on a 1-ulp difference and are not
# compared across backends.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=20000 --quiet"
if ! $B/pamoe train $C --device cuda --out $D/g1.h5 --stop-after 1 2> $D/err; then
    if grep -q "CUDA" $D/err; then echo "SKIP: no CUDA device ($(tail -1 $D/err))"; exit 77; fi
    cat $D/err; exit 1
fi
$B/pamoe train $C --device cuda --out $D/g2.h5 --stop-after 1
$B/pamoe train $C --device cpu --out $D/c.h5 --stop-after 1
$P $D/g1.h5 $D/g2.h5
$P $D/g1.h5 $D/c.h5 --rtol 2e-3 --atol 1e-4 --only '^(losses|Reward|SystemInfo|Weights|charts/learning_rate|expert_)'
echo ok
