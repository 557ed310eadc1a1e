#!/bin/sh
# `pamoe sweep slurm` without a cluster: the batch script it writes (array size per CPU and
# GPU layout, throttle, logs, requeue, absolute paths, sbatch options), the errors for options
# that would break the script, and the CPU script itself run as Slurm would run one element
# (SLURM_ARRAY_TASK_ID set): it must run exactly that element's sweep tasks, one process each.
# tests/cli/slurm_sweep.sh runs the same on real Slurm daemons.
set -eu
B=$1
ROOT=$(pwd)
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -qx -- "$2" "$1" || fail "$1 lacks the line '$2'; it has: $(grep -- "${2%%=*}" "$1" || echo nothing)"; }

# 3 kinds x 2 seeds: 3 tasks of 2 runs
cat > "$D/s.ini" <<EOF
base = $ROOT/configs/paper.ini
total_timesteps = 20000
num_steps = 1000
num_minibatches = 4
checkpoint_every = 0
[sweep]
kind = mlp,moe,pamoe
seed = 1-2
EOF
"$B/pamoe" sweep slurm --help | grep -q -- "--gpus-per-task" || fail "--help"

# CPU, 2 cores per element: tasks {0,1} and {2} -> 2 elements
"$B/pamoe" sweep slurm "$D/s.ini" --out "$D/cpu" --cpus-per-task 2 --partition short --time 1:00:00 \
    --account lab --extra "mem=2G --qos=low" > "$D/out.txt" || fail "sweep slurm (cpu)"
S=$D/cpu/sweep.sbatch
grep -qx "sbatch $S" "$D/out.txt" || fail "printed: $(cat "$D/out.txt")"
[ -x "$S" ] && [ -d "$D/cpu/logs" ] && [ -f "$D/cpu/sweep.ini" ] || fail "script, logs/ or the prepared directory missing"
has "$S" "#SBATCH --array=0-1%2"
has "$S" "#SBATCH --output=$D/cpu/logs/%A_%a.out"
has "$S" "#SBATCH --chdir=$ROOT"
has "$S" "#SBATCH --requeue"
has "$S" "#SBATCH --cpus-per-task=2"
has "$S" "#SBATCH --partition=short"
has "$S" "#SBATCH --time=1:00:00"
has "$S" "#SBATCH --account=lab"
has "$S" "#SBATCH --mem=2G"
has "$S" "#SBATCH --qos=low"
has "$S" "PAMOE='$(readlink -f "$B/pamoe")'"
has "$S" "SWEEP='$D/s.ini'"
grep -q "gpus" "$S" && fail "a CPU script asks for GPUs"
# element 0 runs tasks 0 and 1 at once, element 1 runs task 2 only
SLURM_ARRAY_TASK_ID=0 sh "$S" > "$D/e0.txt" 2>&1 || fail "element 0: $(cat "$D/e0.txt")"
[ -f "$D/cpu/tasks/t0000.done" ] && [ -f "$D/cpu/tasks/t0001.done" ] || fail "element 0 did not run tasks 0 and 1"
[ -e "$D/cpu/tasks/t0002.log" ] && fail "element 0 ran element 1's task 2"
SLURM_ARRAY_TASK_ID=1 sh "$S" > "$D/e1.txt" 2>&1 || fail "element 1: $(cat "$D/e1.txt")"
[ -f "$D/cpu/tasks/t0002.done" ] || fail "element 1 did not run task 2"
# rerun (a requeue after the end): nothing to do, still success
SLURM_ARRAY_TASK_ID=0 sh "$S" > /dev/null 2>&1 || fail "a rerun of element 0 failed"
sh "$S" > /dev/null 2>&1 && fail "the script ran outside a job array"

# GPU: one task per element, throttled to 2 at once, on --device cuda
"$B/pamoe" sweep slurm "$D/s.ini" --out "$D/gpu" --gpus-per-task 1 --cpus-per-task 4 --max-parallel 2 \
    > /dev/null || fail "sweep slurm (gpu)"
S=$D/gpu/sweep.sbatch
has "$S" "#SBATCH --array=0-2%2"
has "$S" "#SBATCH --gpus-per-task=1"
has "$S" "#SBATCH --cpus-per-task=4"
grep -q 'sweep run "$SWEEP" --out "$OUT" --task "$K" --device cuda' "$S" || fail "GPU element command: $(grep 'sweep run' "$S")"
# run by hand, element 2 trains task 2 on CUDA: done where a GPU is usable, otherwise the task
# fails with the device's error (proof that --device cuda reaches the workers)
if SLURM_ARRAY_TASK_ID=2 sh "$S" > "$D/g2.txt" 2>&1; then
    [ -f "$D/gpu/tasks/t0002.done" ] || fail "GPU element 2 exited 0 without finishing task 2"
else
    "$B/pamoe" sweep status "$D/gpu" | grep "t0002" | grep -q "failed.*cuda" ||
        fail "GPU element 2 failed for another reason: $("$B/pamoe" sweep status "$D/gpu" | grep t0002)"
fi

# errors name the option; nothing that would break the script gets into it
for bad in "--time 1h" "--partition a%b" "--extra mem=2G;x" "--cpus-per-task 0" "--gpus-per-task -1" \
           "--max-parallel x" "--bogus 1"; do
    # shellcheck disable=SC2086
    if "$B/pamoe" sweep slurm "$D/s.ini" --out "$D/bad" $bad > "$D/err.txt" 2>&1; then fail "accepted $bad"; fi
    grep -q -- "${bad%% *}" "$D/err.txt" || fail "$bad: the error does not name the option: $(cat "$D/err.txt")"
done
"$B/pamoe" sweep slurm "$D/s.ini" > /dev/null 2>&1 && fail "accepted a missing --out"
"$B/pamoe" sweep slurm "$D/missing.ini" --out "$D/bad" 2> "$D/err.txt" && fail "accepted a missing sweep file"
grep -q "missing.ini" "$D/err.txt" || fail "the error does not name the file: $(cat "$D/err.txt")"
echo ok
