#!/bin/sh
# Live reading of a run file while it is written (SWMR): the C writer (test_h5metrics
# --swmr-writer) and an h5py reader advance in lockstep through marker files, so the test
# does not depend on timing. $1 = build dir.
BUILD=${1:-build}
PY=$(sh tools/run_python.sh -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -z "$PY" ]; then echo "SKIP: no python3 with h5py/numpy/matplotlib"; exit 77; fi
DIR=$(mktemp -d /tmp/pamoe_swmr_XXXXXX) || exit 1
trap 'rm -rf "$DIR"' EXIT
N=6
"$BUILD/tests/test_h5metrics" --swmr-writer "$DIR/run.h5" "$DIR" $N &
WPID=$!
"$PY" tools/swmr_check.py "$DIR/run.h5" "$DIR" $N
RC=$?
if [ $RC -ne 0 ]; then kill $WPID 2>/dev/null; wait $WPID 2>/dev/null; exit $RC; fi
wait $WPID || { echo "FAIL: writer exited non-zero"; exit 1; }
echo "swmr: reader followed $N appends live"
