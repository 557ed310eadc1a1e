#!/bin/sh
# `pamoe act` and the learned `net` agent of `pamoe eval` on a freshly trained checkpoint:
# probabilities sum to 1, the action is their argmax, output is deterministic, and bad
# input names the file and line.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
$B/pamoe train --config configs/paper.ini --set total_timesteps=20000 --quiet --out $D/r.h5 2>/dev/null
sh tools/run_python.sh - > $D/obs.csv <<'PY'
import numpy as np
rng = np.random.default_rng(0)
print("# random observations in the training ranges")
for _ in range(5):
    x = np.zeros((6, 8))
    x[0] = rng.choice([300, 750, 1200, 1850, 2850, 4300], 8) / 4300
    x[1] = rng.uniform(0, 60, 8); x[2] = rng.uniform(0, 1, 8); x[3] = rng.uniform(0, 1, 8)
    x[4, :6] = [0.15, 0.4, 0.6, 0.9, 1.4, 2.1]; x[5] = rng.uniform(0, 1, 8)
    print(",".join("%.6g" % v for v in x.ravel()))
PY
$B/pamoe act --checkpoint $D/r.h5 --obs $D/obs.csv > $D/a1.csv
$B/pamoe act --checkpoint $D/r.ckpt.h5 --obs $D/obs.csv > $D/a2.csv
cmp $D/a1.csv $D/a2.csv
sh tools/run_python.sh - $D/a1.csv <<'PY'
import sys, numpy as np
rows = np.genfromtxt(sys.argv[1], delimiter=",", names=True)
assert len(rows) == 5, len(rows)
p = np.stack([rows["p%d" % a] for a in range(6)], 1)
assert np.allclose(p.sum(1), 1, atol=1e-5), p.sum(1)
assert (rows["action"] == p.argmax(1)).all()
assert set(rows["expert"]) <= {0, 1, 2}
print("act: ok")
PY
echo "1,2,3" >> $D/obs.csv
if $B/pamoe act --checkpoint $D/r.h5 --obs $D/obs.csv 2> $D/err; then echo "bad row accepted"; exit 1; fi
grep -q "obs.csv:7: expected 48 numbers" $D/err
sed -i '$d' $D/obs.csv
if $B/pamoe act --checkpoint $D/none.h5 --obs $D/obs.csv 2> $D/err; then echo "missing checkpoint accepted"; exit 1; fi
grep -q "no checkpoint" $D/err
$B/pamoe eval --agent bb,net:ckpt=$D/r.h5 --sessions 5 --seed 1 --traces data/traces/test --video-dir data/video --out $D/e.h5 > $D/eval.txt
grep -q "^net_r " $D/eval.txt
echo ok
