#!/usr/bin/env python3
"""Load a pamoe checkpoint group into numpy arrays with h5py (layout: docs/opt.md).

Usage: /usr/bin/python3 tools/ckpt_load_example.py FILE.h5 [GROUP] [RUN]
Prints the group's metadata and every tensor of one run with its shape; the weights come out
in PyTorch (out, in) orientation, so `torch_module.weight.data = torch.from_numpy(w)` works.
"""
import sys

import h5py
import numpy as np


def load_run(path, group="checkpoint/policy", run=0):
    """Returns (meta dict, {tensor name: float32 array}) for one run of one group."""
    with h5py.File(path, "r") as f:
        g = f[group]
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["tensor_names"]]
        tensors = {n: np.asarray(g[n][run], dtype=np.float32) for n in names}
        return meta, tensors


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    path = sys.argv[1]
    group = sys.argv[2] if len(sys.argv) > 2 else "checkpoint/policy"
    run = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    meta, tensors = load_run(path, group, run)
    print(f"{path}:{group} kind={meta['kind']} runs={meta['n_runs']} params/run={meta['n_params']}")
    if "noise_sigma" in meta:
        print(f"noise sigma={list(meta['noise_sigma'])} offsets={list(meta['noise_offset'])}")
    for name, w in tensors.items():
        print(f"{name} {tuple(w.shape)} first={w.flat[0]:.9g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
