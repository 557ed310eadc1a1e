#!/bin/sh
# `pamoe sweep config DIR --run ID` prints the resolved .ini of one run, and training it alone
# with `pamoe train` reproduces that run's column of its task file bit for bit (metrics,
# weights, Adam state): run r of a batch equals the same run trained alone. Also checks the
# grid order of run ids, the packing (per-run axes share a task, kind splits tasks), status.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cat > $D/s.ini <<EOT
base = $PWD/configs/quick.ini
total_timesteps = 20000
num_steps = 1000
[sweep]
kind = moe,pamoe
seed = 3,7
noise_std = 1e-3,5e-3
EOT
$B/pamoe sweep run $D/s.ini --out $D/out --jobs 2 --quiet
# r0007: kind=pamoe (second task), seed=7, noise_std=5e-3: the 4th column of t0001
$B/pamoe sweep config $D/out --run r0007 > $D/r7.ini
grep -q "^# run r0007 of sweep $D/out (column 3 of task t0001): kind=pamoe,noise_std=5e-3" $D/r7.ini || { head -3 $D/r7.ini; echo "config header"; exit 1; }
for kv in "runs = 1" "seed = 7" "noise_std = 5e-3" "policy = pamoe" "value = pamoe" "threads = 1" "total_timesteps = 20000"; do
    grep -qx "$kv" $D/r7.ini || { echo "r0007's config lacks '$kv'"; exit 1; }
done
$B/pamoe train --config $D/r7.ini --out $D/solo.h5 --quiet
$P $D/out/tasks/t0001.h5 $D/solo.h5 --run-a 3 --run-b 0
# a planted difference must be caught: r0006 (noise 1e-3) is not r0007's column
if $P $D/out/tasks/t0001.h5 $D/solo.h5 --run-a 2 --run-b 0 --no-ckpt >/dev/null; then echo "compare_runs did not see a different run"; exit 1; fi
# the first task's runs: moe x (3,7) x (1e-3,5e-3) in grid order, first axis slowest
$B/pamoe sweep status $D/out > $D/status.txt
grep -q "2 done, 0 running, 0 failed, 0 pending" $D/status.txt || { cat $D/status.txt; exit 1; }
grep -Eq "^  r0001 +t0000 +done +20 +-?[0-9.]+ +kind=moe seed=3 noise_std=5e-3$" $D/status.txt || { cat $D/status.txt; echo "status: r0001"; exit 1; }
grep -Eq "^  r0006 +t0001 +done +20 +-?[0-9.]+ +kind=pamoe seed=7 noise_std=1e-3$" $D/status.txt || { cat $D/status.txt; echo "status: r0006"; exit 1; }
grep -Eq "^  t0001 +done +r0004..r0007 +20/20$" $D/status.txt || { cat $D/status.txt; echo "status: t0001"; exit 1; }
! $B/pamoe sweep config $D/out --run r0008 2>$D/err.txt
grep -q "no such run" $D/err.txt
echo ok
