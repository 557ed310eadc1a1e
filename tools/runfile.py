"""runfile.py: reading pamoe run files (HDF5, layout in docs/metrics.md) for the tools/
scripts. Works on files still being written (SWMR) and on finished ones."""
import h5py
import numpy as np


def open_run(path):
    """Opens a run file for reading; live (SWMR) when the file allows it."""
    try:
        return h5py.File(path, "r", libver="latest", swmr=True)
    except (OSError, ValueError):
        return h5py.File(path, "r")


class Run:
    """All metrics of one run file, read once: name -> (iterations, runs) float64."""

    def __init__(self, path):
        self.path = path
        self.metrics = {}
        self.units = {}
        self.descriptions = {}
        with open_run(path) as f:
            if "metrics" not in f:
                raise SystemExit(f"{path}: not a pamoe run file (no /metrics group)")
            m = f["metrics"]
            self.iteration = np.asarray(m["iteration"][...], dtype=np.int64)
            self.global_step = np.asarray(m["global_step"][...], dtype=np.int64)
            rows = len(self.iteration)

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and obj.ndim == 2:
                    # a live file may have a metric row written before its axis row
                    self.metrics[name] = np.asarray(obj[:rows], dtype=np.float64)
                    self.units[name] = _text(obj.attrs.get("units", ""))
                    self.descriptions[name] = _text(obj.attrs.get("description", ""))

            m.visititems(visit)
            self.config = {k: _text(v) for k, v in f["config"].attrs.items()} if "config" in f else {}
        self.n_runs = max((a.shape[1] for a in self.metrics.values()), default=1)


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v
