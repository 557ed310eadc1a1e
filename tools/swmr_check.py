"""Reader half of tests/cli/swmr.sh: follows a run file that test_h5metrics --swmr-writer
is writing, one row at a time, using the live-reading recipe of docs/metrics.md.
usage: swmr_check.py RUN.h5 MARKER_DIR N"""
import os
import sys
import time

import h5py
import numpy as np


def wait_for(path, seconds=20.0):
    t0 = time.time()
    while not os.path.exists(path):
        if time.time() - t0 > seconds:
            sys.exit(f"FAIL: {path} did not appear in {seconds} s")
        time.sleep(0.005)


def main():
    path, mark, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    wait_for(os.path.join(mark, "started"))
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        v = f["metrics/losses/value_loss"]
        r = f["metrics/Reward/Episode Mean Return"]
        it = f["metrics/iteration"]
        assert v.attrs["units"] == "1", v.attrs["units"]
        for i in range(n):
            wait_for(os.path.join(mark, f"written_{i}"))
            for d in (v, r, it):
                d.refresh()
            if v.shape != (i + 1, 2) or it.shape != (i + 1,):
                sys.exit(f"FAIL: after row {i} the reader sees {v.shape} / {it.shape}")
            want = np.array([[k, k + 0.5] for k in range(i + 1)])
            if not np.array_equal(v[...], want) or not np.array_equal(r[...], -want):
                sys.exit(f"FAIL: values after row {i}: {v[...]!r}")
            if it[i] != i + 1:
                sys.exit(f"FAIL: iteration axis {it[...]!r}")
            open(os.path.join(mark, f"ack_{i}"), "w").close()
    print(f"swmr_check: followed {n} rows")


if __name__ == "__main__":
    main()
