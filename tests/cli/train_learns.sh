#!/bin/sh
# PPO learns: on normal.ini (documentary, smoothness weight 7) with the default data, the
# 50-episode mean QoE after 50 iterations is far above the first logged value. A policy that
# does not learn stays near its initial value (about -3 to -9: random switching is charged
# 7 per Mbps of change), so the margins below cannot be met by a broken trainer.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
$B/pamoe train --config configs/normal.ini --set total_timesteps=100000 --set checkpoint_every=0 --quiet --out $D/n.h5
sh tools/run_python.sh - "$D/n.h5" <<'PY'
import sys, h5py, numpy as np
q = h5py.File(sys.argv[1], "r")["metrics/Reward/Episode Mean Return"][:, 0]
q = q[~np.isnan(q)]
first, last = q[0], q[-5:].mean()
print("first logged QoE %.3f, mean of the last 5 iterations %.3f" % (first, last))
assert last > 0.3, "final QoE %.3f too low" % last
assert last - first > 1.5, "QoE improved by only %.3f" % (last - first)
PY
