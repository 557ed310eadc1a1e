#!/bin/sh
# Aggregate throughput of a sweep: the same R runs (pamoe on paper.ini, seeds 1..R) trained
#   (1) by one `pamoe train` process with runs = R (threads = 1, the default), and
#   (2) by `pamoe sweep run --jobs J` (J = the cores), its runs packed into J tasks of R/J runs,
#       one single-threaded worker process each,
# prints env steps/s of each (all runs' steps over the wall time, start-up and files
# included) and the ratio (2)/(1). Goal: >= 1.9x on 2 cores, linear in cores.
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
t0=$(now)
"$B/pamoe" train --config configs/paper.ini --set runs=$R --set seed=1 --set total_timesteps=$S \
    --set checkpoint_every=0 --quiet --out "$D/one.h5"
t1=$(now)
"$B/pamoe" sweep run "$D/bench.ini" --out "$D/sweep" --jobs $J --quiet
t2=$(now)
one=$(rate $((R * S)) "$t0" "$t1")
sweep=$(rate $((R * S)) "$t1" "$t2")
printf "%-48s %12s steps/s\n" "one pamoe train process, runs = $R, 1 thread" "$one"
printf "%-48s %12s steps/s\n" "pamoe sweep run --jobs $J ($J x $((R / J)) runs)" "$sweep"
awk -v a="$sweep" -v b="$one" -v j="$J" 'BEGIN { printf "sweep / one process: %.2fx on %d workers (goal >= %.1fx on 2)\n", a / b, j, 1.9 }'
