#!/bin/sh
# Aggregate throughput of a sweep: the same R runs (pamoe on paper.ini, seeds 1..R) trained
#   (1) by one `pamoe train` process with runs = R (threads = 1, the default), and
#   (2) by `pamoe sweep run --jobs J` (J = the cores), its runs packed into J tasks of R/J runs,
#       one single-threaded worker process each,
# prints env steps/s of each (all runs' steps over the wall time, start-up and files
# included) and the ratio (2)/(1). Goal: >= 1.9x on 2 cores, linear in cores.
# On a machine shared with other jobs the wall ratio is capped by the CPU time the
# processes get, so it also prints CPU seconds (user + system of all processes) and the
# ratio of steps per CPU-second: a sweep that keeps one process's per-core efficiency
# scores ~1.0 there, and reaches ~J x the wall throughput when its J cores are free.
# Usage: sh bench/bench_sweep.sh [BUILD_DIR] [R] [STEPS_PER_RUN] [JOBS]
set -eu
B=${1:-build}
J=${4:-$(nproc)}
R=${2:-$((4 * J))}
S=${3:-40000}
[ $((R % J)) -eq 0 ] || { echo "bench_sweep: R = $R is not a multiple of the $J jobs"; exit 2; }
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
ROOT=$(pwd)
now() { date +%s.%N; }
# user + system seconds of all finished children so far: the second line of `times`, run in
# this shell (a command substitution's subshell has children of its own)
cpu_secs() { awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } print s }' "$D/times"; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

cat > "$D/bench.ini" <<EOF
base = $ROOT/configs/paper.ini
total_timesteps = $S
checkpoint_every = 0
[sweep]
kind = pamoe
seed = 1-$R
[limits]
task_runs = $((R / J))
EOF

echo "bench_sweep: $R pamoe runs x $S steps (paper.ini), $(nproc) cores, $J sweep workers; load average $(cut -d' ' -f1-3 /proc/loadavg)"
times > "$D/times"; c0=$(cpu_secs); t0=$(now)
"$B/pamoe" train --config configs/paper.ini --set runs=$R --set seed=1 --set total_timesteps=$S \
    --set checkpoint_every=0 --device cpu --quiet --out "$D/one.h5"
t1=$(now); times > "$D/times"; c1=$(cpu_secs)
"$B/pamoe" sweep run "$D/bench.ini" --out "$D/sweep" --jobs $J --device cpu --quiet
t2=$(now); times > "$D/times"; c2=$(cpu_secs)
one=$(rate $((R * S)) "$t0" "$t1")
sweep=$(rate $((R * S)) "$t1" "$t2")
one_cpu=$(rate $((R * S)) "$c0" "$c1")
sweep_cpu=$(rate $((R * S)) "$c1" "$c2")
printf "%-46s %10s %12s\n" "" "steps/s" "per CPU-s"
printf "%-46s %10s %12s\n" "one pamoe train process, runs = $R, 1 thread" "$one" "$one_cpu"
printf "%-46s %10s %12s\n" "pamoe sweep run --jobs $J ($J x $((R / J)) runs)" "$sweep" "$sweep_cpu"
awk -v a="$sweep" -v b="$one" -v ac="$sweep_cpu" -v bc="$one_cpu" -v j="$J" 'BEGIN {
    printf "sweep / one process: %.2fx wall on %d workers (goal >= 1.9x on 2 free cores), %.2fx per CPU-second\n", a / b, j, ac / bc }'
