#!/bin/sh
# run.flush_denormals (include/fpmode.h). The faithful router's weight decay drives its
# parameters into the subnormal range within about 110 iterations of 160 Adam steps
# (docs/reference/networks.md 8), where every multiply that reads them is slow on x86.
#  - off (faithful): the router parameters end subnormal, as IEEE arithmetic gives them;
#  - on: not one float of the checkpoint (weights, Adam moments, any state) is subnormal,
#    and the run file records the key (so --resume keeps it).
# That the mode reaches every OpenMP thread is tests/test_common.c's test_fpmode.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/paper.ini --set traces=data/traces/train --set video=data/video --set num_steps=32
   --set num_minibatches=16 --set update_epochs=10 --set total_timesteps=4160 --set seed=1 --quiet"
$B/pamoe train $C --out $D/off.h5 2>/dev/null
$B/pamoe train $C --set flush_denormals=on --out $D/on1.h5 2>/dev/null
$B/pamoe train --resume $D/on1.h5 --print-config | grep -qx "flush_denormals = on" || { echo "the run file does not record flush_denormals = on"; exit 1; }
sh tools/run_python.sh - "$D" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
TINY = np.finfo(np.float32).tiny
def router(path):
    f = h5py.File(path, "r")
    return np.concatenate([np.abs(f[net][n][()]).ravel() for net in ("policy", "value")
                           for n in f[net].attrs["tensor_names"] if n.startswith("router")])
r = router(d + "/off.ckpt.h5")
print("off: router parameters %d, subnormal %d, largest %.3g" % (r.size, np.count_nonzero((r > 0) & (r < TINY)), r.max()))
assert r.max() < TINY and np.all(r > 0), "the faithful router did not decay into the subnormals: the test checks nothing"
bad = []
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
        x = np.abs(obj[()]).ravel()
        n = np.count_nonzero((x > 0) & (x < np.finfo(obj.dtype).tiny))
        if n: bad.append("%s (%d)" % (name, n))
h5py.File(d + "/on1.ckpt.h5", "r").visititems(visit)
assert not bad, "flush_denormals = on, subnormal values in " + ", ".join(bad)
print("on: no subnormal value in the checkpoint; router largest %.3g" % router(d + "/on1.ckpt.h5").max())
PY
echo ok
