#!/bin/sh
# DIR/sweep.h5 (HDF5 virtual datasets into the task files) reads live with h5py in SWMR mode
# while a task runs: the rows a worker has written are there, equal to its run file, and
# the rest is NaN. After the sweep: `merge --copy` equals the virtual view value for value;
# /runs reads into pandas; a metric only one kind has is NaN for the other kind's runs.
set -eu
B=$1; PY="sh tools/run_python.sh"
D=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$D"' EXIT
pid=
cat > $D/s.ini <<EOT
base = $PWD/configs/quick.ini
total_timesteps = 40000
num_steps = 1000
[sweep]
kind = mlp,pamoe
seed = 1-2
EOT
cat > $D/live.py <<'EOT'
import sys, time, h5py, numpy as np
d = sys.argv[1]
name = "Reward/Episode Mean Return"
for _ in range(600):
    try:
        with h5py.File(d + "/tasks/t0001.h5", "r", swmr=True) as t:
            src = t["metrics/" + name][()]
        with h5py.File(d + "/sweep.h5", "r", swmr=True) as s:
            have = "metrics/" + name in s
            v = s["metrics/" + name][:, 2:4] if have else None
    except (OSError, KeyError):
        time.sleep(0.05)
        continue
    n = src.shape[0]
    if have and 3 <= n < 40:
        assert v.shape == (40, 2), v.shape
        # rows the worker wrote after our read of its file may show up too: compare the first n
        assert np.array_equal(v[:n], src, equal_nan=True), (v[:n], src)
        assert np.isnan(v[n + 2:]).all() or n + 2 >= 40, v
        print("live: %d rows of t0001 read through sweep.h5" % n)
        sys.exit(0)
    if n >= 40:
        break
    time.sleep(0.05)
print("never saw t0001 half-way through sweep.h5")
sys.exit(1)
EOT
cat > $D/same.py <<'EOT'
import sys, h5py, numpy as np, pandas as pd
a, b = h5py.File(sys.argv[1], "r", swmr=True), h5py.File(sys.argv[2], "r")
def names(f):
    out = []
    f["metrics"].visit(lambda n: out.append(n) if isinstance(f["metrics"][n], h5py.Dataset) else None)
    return sorted(out)
assert names(a) == names(b) and len(names(a)) > 50, (len(names(a)), len(names(b)))
for n in names(a):
    x, y = a["metrics"][n], b["metrics"][n]
    assert x.is_virtual or n in ("iteration", "global_step"), n
    assert not y.is_virtual, n
    assert x.dtype == y.dtype and x.shape == y.shape == (40, 4), (n, x.shape, y.shape)
    assert np.array_equal(x[()], y[()], equal_nan=True), n
    assert dict(x.attrs) == dict(y.attrs), n
assert (a["runs"][()] == b["runs"][()]).all()
df = pd.DataFrame(a["runs"][()])
assert list(df.columns) == ["run_id", "task", "status", "iterations_done", "cell", "kind", "seed"], df.columns
assert list(df.run_id) == [b"r0000", b"r0001", b"r0002", b"r0003"] and list(df.seed) == [1, 2, 1, 2]
assert list(df.kind) == [b"mlp", b"mlp", b"pamoe", b"pamoe"] and list(df.cell) == [b"kind=mlp"] * 2 + [b"kind=pamoe"] * 2
assert (df.status == b"done").all() and (df.iterations_done == 40).all() and list(df.task) == [0, 0, 1, 1]
it = a["metrics/iteration"][()]
assert (it == np.arange(1, 41)[:, None]).all() and (a["metrics/global_step"][-1] == 40000).all()
assert a["metrics/iteration"].dtype == np.int64
# a metric of the pamoe kind only (its second expert): NaN for the mlp runs, values for pamoe
e = a["metrics/Dorman/expert_1_policy_0_layer_zero_fraction"][()]
assert np.isnan(e[:, :2]).all() and np.isfinite(e[:, 2:]).all()
src = h5py.File(sys.argv[3], "r")["metrics/losses/value_loss"][()]
assert np.array_equal(a["metrics/losses/value_loss"][:, 2:4], src)
assert "base = " in a["config"].attrs["sweep_file"] and "[ppo]" in a["config"].attrs["base_config"]
print("copy == virtual view, %d metrics" % len(names(a)))
EOT
$B/pamoe sweep run $D/s.ini --out $D/out --jobs 2 --quiet &
pid=$!
$PY $D/live.py $D/out
wait $pid
pid=
$B/pamoe sweep merge $D/out --copy
$PY $D/same.py $D/out/sweep.h5 $D/out/sweep_copy.h5 $D/out/tasks/t0001.h5
# the virtual file finds its task files relative to itself, from any working directory
(R=$PWD; cd / && sh $R/tools/run_python.sh $D/same.py $D/out/sweep.h5 $D/out/sweep_copy.h5 $D/out/tasks/t0001.h5) >/dev/null
# seed before kind: a task's runs are not consecutive columns (t0000 holds r0000 and r0002)
sed 's/^kind = mlp,pamoe$/seed = 1-2/; t; s/^seed = 1-2$/kind = mlp,pamoe/; s/^total_timesteps = 40000/total_timesteps = 10000/' $D/s.ini > $D/s2.ini
$B/pamoe sweep run $D/s2.ini --out $D/out2 --jobs 2 --quiet
cat > $D/cols.py <<'EOT'
import sys, h5py, numpy as np
d = sys.argv[1]
s = h5py.File(d + "/sweep.h5", "r", swmr=True)
assert [r.decode() for r in s["runs"]["kind"]] == ["mlp", "pamoe", "mlp", "pamoe"]
for t, cols in ((0, [0, 2]), (1, [1, 3])):
    src = h5py.File(d + "/tasks/t%04d.h5" % t, "r")["metrics/losses/value_loss"][()]
    assert np.array_equal(s["metrics/losses/value_loss"][:, cols], src), t
print("interleaved columns map their task files")
EOT
$PY $D/cols.py $D/out2
echo ok
