#!/usr/bin/env python3
"""Compare two pamoe run files (and their checkpoints) value by value.

Usage: compare_runs.py A.h5 B.h5 [--run-a I] [--run-b J] [--no-ckpt]
                       [--rtol R --atol A] [--only REGEX]

Exits 0 when every metric (except the wall-clock charts/SPS) and, unless --no-ckpt, every
network tensor and Adam moment of A.ckpt.h5 and B.ckpt.h5 are bit-identical (NaN equals NaN)
for run I of A and run J of B; otherwise prints the first differences and exits 1. This is
how the tests check determinism across thread counts, resume after a kill, and that runs
batched together equal separate runs. With --rtol/--atol values may differ by
atol + rtol*|b| (the CUDA-vs-CPU check); --only keeps the metrics whose name matches REGEX.
"""
import argparse
import re
import sys

import h5py
import numpy as np

SKIP = {"charts/SPS"}


def datasets(group):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]

    group.visititems(visit)
    return out


def ckpt_path(run_path):
    return run_path[:-3] + ".ckpt.h5" if run_path.endswith(".h5") else run_path + ".ckpt.h5"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--run-a", type=int, default=None)
    ap.add_argument("--run-b", type=int, default=None)
    ap.add_argument("--no-ckpt", action="store_true")
    ap.add_argument("--rtol", type=float, default=0.0)
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    diffs = []

    def pick(x, run):
        return x if run is None else x[:, run]

    def same(xa, xb):
        if xa.shape != xb.shape:
            return False
        if args.rtol == 0 and args.atol == 0:
            return np.array_equal(xa, xb, equal_nan=True)
        return np.allclose(xa, xb, rtol=args.rtol, atol=args.atol, equal_nan=True)

    with h5py.File(args.a, "r", libver="latest", swmr=True) as fa, h5py.File(args.b, "r", libver="latest", swmr=True) as fb:
        ma, mb = datasets(fa["metrics"]), datasets(fb["metrics"])
        if set(ma) != set(mb):
            diffs.append("metric names differ: %s" % sorted(set(ma) ^ set(mb))[:5])
        for name in sorted(set(ma) & set(mb)):
            if name in SKIP or (args.only and not re.search(args.only, name)):
                continue
            xa, xb = ma[name], mb[name]
            if xa.ndim == 2:
                xa, xb = pick(xa, args.run_a), pick(xb, args.run_b)
            if not same(xa, xb):
                diffs.append("metrics/%s: %s vs %s" % (name, np.ravel(xa)[-3:], np.ravel(xb)[-3:]))
    if not args.no_ckpt:
        with h5py.File(ckpt_path(args.a), "r") as fa, h5py.File(ckpt_path(args.b), "r") as fb:
            for net in ("policy", "value"):
                da, db = datasets(fa[net]), datasets(fb[net])
                for name in sorted(da):
                    xa, xb = da[name], db.get(name)
                    if xb is None:
                        diffs.append("%s/%s missing in B" % (net, name))
                        continue
                    if args.run_a is not None:
                        xa, xb = xa[args.run_a], xb[args.run_b]
                    if not same(np.asarray(xa, dtype=float), np.asarray(xb, dtype=float)):
                        diffs.append("checkpoint %s/%s differs" % (net, name))
    for d in diffs[:20]:
        print("DIFF", d)
    print("identical" if not diffs else "%d differences" % len(diffs))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
