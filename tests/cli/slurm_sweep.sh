#!/bin/sh
# `pamoe sweep slurm` on a real Slurm cluster (munged, slurmctld and slurmd on localhost,
# tests/slurm/cluster.sh): the job array of a tiny sweep (2 kinds x 2 seeds = 2 tasks) runs to
# the end while one element is cancelled halfway (scancel) and requeued (scontrol requeue);
# the merged sweep.h5 then has every run done with its metrics, and every task's run file and
# checkpoint are bit-identical to a plain `pamoe sweep run` of the same sweep.
# Needs root and the Debian packages slurm-wlm and munge (scripts/setup.sh installs them);
# prints SKIP and exits 77 without them.
set -u
B=$1
ROOT=$(pwd)
case $B in /*) ;; *) B=$ROOT/$B ;; esac
. tests/slurm/cluster.sh
D=$(mktemp -d /tmp/pamoe-slurm.XXXXXX)
trap 'cluster_stop; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; for f in "$D"/slurm/logs/*.out; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }

cluster_start "$D/cluster" || exit $?

# 160 iterations of 1,000 steps per run, a checkpoint every 4: long enough to cancel halfway
# (with 40, a task took about 1 s and on a loaded machine finished between its first
# checkpoint and the scancel)
cat > "$D/tiny.ini" <<EOF
base = $ROOT/configs/paper.ini
total_timesteps = 160000
num_steps = 1000
num_minibatches = 8
checkpoint_every = 4
[sweep]
kind = mlp,pamoe
seed = 1-2
EOF
"$B/pamoe" sweep slurm "$D/tiny.ini" --out "$D/slurm" --cpus-per-task 1 --max-parallel 2 \
    --time 10 > "$D/slurm.txt" || fail "pamoe sweep slurm"
cat "$D/slurm.txt"
grep -q "^sbatch $D/slurm/sweep.sbatch\$" "$D/slurm.txt" || fail "no sbatch command printed"
grep -q '^#SBATCH --array=0-1%2$' "$D/slurm/sweep.sbatch" || fail "array line: $(grep array "$D/slurm/sweep.sbatch")"
job=$(sbatch --parsable "$D/slurm/sweep.sbatch") || fail "sbatch refused the script"

# element 1 (task 1) halfway: running, and its first checkpoint written
i=0
until squeue -h -t R -j "${job}_1" -o %i 2>/dev/null | grep -q . && [ -f "$D/slurm/tasks/t0001.ckpt.h5" ]; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "element 1 did not start and checkpoint in 60 s"
    sleep 0.1
done
scancel "${job}_1" || fail "scancel"
i=0
until scontrol show job "${job}_1" 2>/dev/null | grep -q "JobState=CANCELLED"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "element 1 was not cancelled"
    sleep 0.1
done
[ -f "$D/slurm/tasks/t0001.done" ] && fail "element 1 finished before it was cancelled: the test needs longer runs"
scontrol requeue "${job}_1" || fail "scontrol requeue"
cluster_wait_idle 90 || fail "the array did not finish in 90 s: $(squeue)"
for k in 0 1; do
    scontrol show job "${job}_$k" | grep -q "JobState=COMPLETED" ||
        fail "element $k: $(scontrol show job "${job}_$k" | grep JobState)"
done
grep -q "restart 1" "$D"/slurm/logs/${job}_1.out || fail "element 1 was not run again after the requeue"
# resumed from its checkpoint, not started over (which would give the same bits too)
grep -q "sweep: resume task t0001" "$D/slurm/tasks/t0001.log" || fail "task 1 did not resume: $(cat "$D/slurm/tasks/t0001.log")"

# the same sweep without Slurm, uninterrupted
"$B/pamoe" sweep run "$D/tiny.ini" --out "$D/plain" --jobs 2 --quiet || fail "plain sweep run"
for t in t0000 t0001; do
    sh tools/run_python.sh tools/compare_runs.py "$D/slurm/tasks/$t.h5" "$D/plain/tasks/$t.h5" ||
        fail "task $t differs from the plain sweep run"
done
"$B/pamoe" sweep merge "$D/slurm" >/dev/null || fail "sweep merge"
cat > "$D/check.py" <<'EOF'
import sys
import h5py
import numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as g:
    runs = f["runs"][()]
    assert len(runs) == 4, f"{len(runs)} rows in /runs, expected 4"
    assert all(s == b"done" for s in runs["status"]), f"status {runs['status']}"
    assert list(runs["iterations_done"]) == [160] * 4, f"iterations {runs['iterations_done']}"
    assert sorted(set(runs["kind"])) == [b"mlp", b"pamoe"], f"kinds {runs['kind']}"
    assert (runs == g["runs"][()]).all(), "/runs differs from the plain sweep's"
    names = []
    f["metrics"].visit(lambda n: names.append(n) if isinstance(f["metrics"][n], h5py.Dataset) else None)
    assert len(names) >= 10, f"only {len(names)} metrics in /metrics"
    for n in names:
        a, b = f["metrics"][n][()], g["metrics"][n][()]
        assert a.shape[:2] == (160, 4), f"/metrics/{n}: shape {a.shape}"
        if n != "charts/SPS":
            assert np.array_equal(a, b, equal_nan=True), f"/metrics/{n} differs from the plain sweep's"
print(f"sweep.h5: 4 runs done, 160 iterations, {len(names)} metrics equal to the plain sweep's")
EOF
sh tools/run_python.sh "$D/check.py" "$D/slurm/sweep.h5" "$D/plain/sweep.h5" || fail "merged sweep.h5"
cluster_stop
echo ok
