#!/bin/sh
# cuda_emu_counters.sh [BUILD]: the GPU-efficiency counters of `pamoe train --device cuda`,
# measured on the CUDA CPU emulator (tests/cuda_emu/; BUILD default build-emu, from
# `make bench-cuda-emu`): kernel launches, cuBLAS calls, host synchronisations (calls on which
# the host waits for the device), and copies/bytes per direction, for the paper config
# (1 run, 2000 steps, 33 minibatches x 5 epochs):
#   per PPO iteration   = counters(--stop-after 2) - counters(--stop-after 1)  (setup excluded)
#   per minibatch update = (counters(update_epochs=6) - counters(update_epochs=5)) / 33
#   rollout + GAE        = per iteration - 165 minibatch updates
# The counts are exact (they do not depend on the machine); bench/README.md records them.
set -eu
B=${1:-build-emu}
[ -x "$B/pamoe" ] || { echo "cuda_emu_counters.sh: $B/pamoe missing (make bench-cuda-emu builds it)"; exit 1; }
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set total_timesteps=40000 --device cuda --quiet"
count() { # OUT ARGS...: the counters of one run
    out=$1; shift
    rm -f "$D/cnt"
    CUDA_EMU_COUNTERS=$D/cnt $B/pamoe train $C --out "$D/run.h5" "$@"
    rm -f "$D/run.h5" "$D/run.ckpt.h5"
    mv "$D/cnt" "$D/$out"
}
count one --stop-after 1
count two --stop-after 2
count e6 --stop-after 1 --set update_epochs=6
awk -v mb=33 -v epochs=5 '
    FNR == 1 { f++ }
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[f, kv[1]] = kv[2]; if (f == 1) key[++n] = kv[1] } }
    END {
        printf "%-26s", "counter";
        printf " %14s %14s %14s\n", "per iteration", "per minibatch", "rollout+GAE";
        for (i = 1; i <= n; i++) {
            k = key[i]; if (k == "threads") continue;
            it = v[2, k] - v[1, k]; m = (v[3, k] - v[1, k]) / mb;
            printf "%-26s %14d %14.1f %14.1f\n", k, it, m, it - m * mb * epochs;
        }
    }' "$D/one" "$D/two" "$D/e6"
