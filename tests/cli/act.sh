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
grep -q "no checkpoint $D/none.ckpt.h5" $D/err
if grep -q -- "--out" $D/err; then echo "act's missing-checkpoint message speaks of train --out: $(cat $D/err)"; exit 1; fi
# act_rejects NEEDLE: the observations in $D/bad.csv fail with NEEDLE on stderr, nothing on stdout
act_rejects() {
    if $B/pamoe act --checkpoint $D/r.h5 --obs $D/bad.csv > $D/out 2> $D/err; then echo "accepted: $1"; exit 1; fi
    grep -qF -- "$1" $D/err || { echo "want '$1', got: $(cat $D/err)"; exit 1; }
    [ ! -s $D/out ] || { echo "partial output for: $1"; exit 1; }
}
row=$(grep -v '^#' $D/obs.csv | head -1)
# NaN and infinity are not observations
{ echo "$row"; echo "$row" | sed 's/^[^,]*,/nan,/'; } > $D/bad.csv
act_rejects "bad.csv:2: field 1 'nan' is not a finite number"
{ echo "$row" | sed 's/,[^,]*$/,-inf/'; } > $D/bad.csv
act_rejects "bad.csv:1: field 48 '-inf' is not a finite number"
# a malformed first row is data with an error, not a header to skip
{ echo "$row" | sed 's/^[^,]*,/x1,/'; echo "$row"; } > $D/bad.csv
act_rejects "bad.csv:1: field 1 'x1' is not a finite number"
# an empty field is an error, not a skipped separator
{ echo "$row" | sed 's/,/,,/'; } > $D/bad.csv
act_rejects "bad.csv:1: expected 48 numbers (a 6x8 observation), got 49 fields"
# a header of column names is skipped; rows longer than any fixed buffer are read whole
Z=$(printf '%0200d' 0)
{ seq -s, -f 'o%g' 0 47; grep -v '^#' $D/obs.csv | sed "s/,/,$Z/g"; } > $D/long.csv
[ "$(sed -n 2p $D/long.csv | wc -c)" -gt 8192 ] || { echo "long.csv rows are short"; exit 1; }
$B/pamoe act --checkpoint $D/r.h5 --obs $D/long.csv > $D/a3.csv
cmp $D/a1.csv $D/a3.csv
$B/pamoe eval --agent bb,net:ckpt=$D/r.h5 --sessions 5 --seed 1 --traces data/traces/test --video-dir data/video --out $D/e.h5 > $D/eval.txt
grep -q "^net_r " $D/eval.txt
echo ok
