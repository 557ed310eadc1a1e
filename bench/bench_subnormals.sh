#!/bin/sh
# What subnormal floats cost: the faithful paper run (paper.ini, 2M steps, one run, one
# thread) with run.flush_denormals off (the reference's IEEE arithmetic) and on (FTZ+DAZ,
# include/fpmode.h), one after the other on the same core; prints the CPU seconds and env
# steps/s of each and the speed-up. The faithful router's weight decay drives its parameters
# into the subnormal range from about iteration 100 (docs/reference/networks.md 8), and from
# then on every multiply that reads them takes a microcode assist; a short run (bench_train's
# 100,000 steps) never gets there, so this one runs the whole schedule.
# Usage: sh bench/bench_subnormals.sh [BUILD_DIR] [KIND] [STEPS]   (KIND pamoe, moe, ...)
set -eu
B=${1:-build}
K=${2:-pamoe}
S=${3:-2000000}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
echo "bench_subnormals: $K policy and value, paper.ini, $S steps, 1 thread; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in off on; do
    /usr/bin/time -f "%U %S %e" -o "$D/$mode.time" "$B/pamoe" train --config configs/paper.ini --set policy=$K \
        --set value=$K --set total_timesteps=$S --set threads=1 --set device=cpu \
        --set flush_denormals=$mode --out "$D/$mode.h5" --quiet 2>/dev/null
    read -r u s e < "$D/$mode.time"
    awk -v m=$mode -v u=$u -v s=$s -v e=$e -v n=$S 'BEGIN {
        printf "  flush_denormals = %-3s  %6.1f CPU-s  %6.1f s wall  %8.0f env steps/s per CPU-s\n", m, u + s, e, n / (u + s) }'
    echo "$u $s" > "$D/$mode.cpu"
done
read -r u0 s0 < "$D/off.cpu"; read -r u1 s1 < "$D/on.cpu"
awk -v a=$u0 -v b=$s0 -v c=$u1 -v d=$s1 'BEGIN { printf "  on is %.2fx faster per CPU-second\n", (a + b) / (c + d) }'
