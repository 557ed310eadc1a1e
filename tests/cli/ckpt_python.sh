#!/bin/sh
# A checkpoint written by ckpt.c loads in h5py with the documented layout: shapes in PyTorch
# orientation with a leading run axis, and run 1's first expert weight equals what C wrote.
# Args: build directory.
BUILD=${1:-build}
PY=/usr/bin/python3
if ! $PY -c "import h5py, numpy" 2>/dev/null; then echo "SKIP: /usr/bin/python3 lacks h5py/numpy"; exit 77; fi
[ -x "$BUILD/tests/test_ckpt" ] || { echo "SKIP: $BUILD/tests/test_ckpt not built"; exit 77; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
want=$("$BUILD/tests/test_ckpt" --write-example "$dir/x.h5") || exit 1
out=$($PY tools/ckpt_load_example.py "$dir/x.h5" checkpoint/policy 1) || { echo "loader failed"; exit 1; }
echo "$out"
echo "$out" | grep -q "kind=dmoe runs=2 params/run=53" || { echo "FAIL: metadata"; exit 1; }
echo "$out" | grep -q "^experts.0.fc1.weight (4, 3) first=.*" || { echo "FAIL: weight shape"; exit 1; }
echo "$out" | grep -q "^experts.0.fc1.bias (4,) first=" || { echo "FAIL: bias shape"; exit 1; }
got=$($PY -c "
import sys; sys.path.insert(0, 'tools')
from ckpt_load_example import load_run
m, t = load_run('$dir/x.h5', 'checkpoint/policy', 1)
print('%.9g' % t['experts.0.fc1.weight'][0, 1])")
[ "$got" = "$want" ] || { echo "FAIL: run 1 weight[0,1] $got != $want"; exit 1; }
echo "ok"
