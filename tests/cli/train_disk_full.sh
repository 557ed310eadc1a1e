#!/bin/sh
# A full disk while writing the run file, and while writing a checkpoint (a small tmpfs):
# one clear line naming the file and saying the disk is full, exit 1, no crash and none of
# HDF5's own diagnostics; the previous checkpoint stays intact and the run resumes from it
# (elsewhere) to the same results as an uninterrupted run; the run file stays readable.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); M=$D/small
cleanup() { umount "$M" 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
mkdir -p $M
if ! mount -t tmpfs -o size=1100k tmpfs $M 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"; exit 77
fi
expect_full() { # exit code, message and no HDF5 dump in $D/err
    [ "$1" -eq 1 ] || { echo "$2: exit $1, expected 1"; cat $D/err; exit 1; }
    grep -q "disk full" $D/err && grep -q "$3" $D/err || { echo "$2: no 'disk full' naming $3:"; cat $D/err; exit 1; }
    ! grep -q "HDF5-DIAG" $D/err || { echo "$2: HDF5's own diagnostics printed"; exit 1; }
}
# checkpoint: a checkpoint (about 600 KB) fits beside the run file, its successor's temporary file does not
C="--config configs/quick.ini --set total_timesteps=10000 --set num_steps=1000 --set checkpoint_every=1 --quiet"
$B/pamoe train $C --out $D/full.h5 2>/dev/null
rc=0; $B/pamoe train $C --out $M/r.h5 2>$D/err || rc=$?
expect_full $rc "checkpoint" "r.ckpt.h5"
[ ! -e $M/r.ckpt.h5.tmp ] || { echo "the temporary checkpoint was left behind"; exit 1; }
cp $M/r.h5 $M/r.ckpt.h5 $D/
rc=0; $B/pamoe train --resume $D/r.h5 --quiet 2>$D/err || rc=$?
[ $rc -eq 0 ] || { echo "resume from the checkpoint before the full disk: exit $rc"; cat $D/err; exit 1; }
$P $D/full.h5 $D/r.h5 >/dev/null || { echo "resumed after a full disk: differs"; exit 1; }
# run file: no checkpoint until the end, the run file's second block of 64 rows does not fit
rm -f $M/*; umount $M; mount -t tmpfs -o size=200k tmpfs $M
rc=0; $B/pamoe train $C --set total_timesteps=200000 --set checkpoint_every=0 --out $M/r.h5 2>$D/err || rc=$?
expect_full $rc "run file" "r.h5"
sh tools/run_python.sh - $M/r.h5 <<'PY' || { echo "the run file is not readable after the full disk"; exit 1; }
import sys, h5py
n = h5py.File(sys.argv[1], "r")["metrics/iteration"].shape[0]
sys.exit(0 if n >= 64 else 1)
PY
echo ok
