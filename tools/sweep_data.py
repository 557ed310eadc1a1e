"""sweep_data.py: reads a pamoe sweep file (DIR/sweep.h5, layout in README "Sweep report")
into runs, cells and per-run QoE scores for tools/sweep_report.py. Works on a file whose
tasks are still running (rows not written yet are -1 in /metrics/iteration, NaN elsewhere)."""
import warnings
from dataclasses import dataclass, field

import h5py
import numpy as np

from sweep_stats import segment_phases, tail_rows, window_mean

FIXED = ("run_id", "task", "status", "iterations_done", "cell")
QOE = "Reward/Episode Mean Return"
CONTENT = "charts/content"
FINAL_FRACTION = 0.1
# per-cell plasticity curves: (title, units, how the datasets are chosen). A summary that
# averages several datasets takes the plain mean over experts, nets and layers.
PLASTICITY = (
    ("dormant fraction", "%", "Dorman/total_dorman_fraction"),
    ("zero-activation fraction", "%", "Dorman/total_zero_fraction"),
    ("effective rank", "mean over layers", "_layer_eff_rank"),
    ("rank", "mean over layers", "_layer_rank"),
    ("approximate rank", "mean over layers", "_layer_approx_rank"),
    ("weight magnitude", "mean |W| over layers", "_layer_mean"),
)


class SweepError(Exception):
    pass


def open_h5(path):
    """Opens for reading; live (SWMR) when the file allows it."""
    try:
        return h5py.File(path, "r", libver="latest", swmr=True)
    except (OSError, ValueError):
        return h5py.File(path, "r")


def _py(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace").rstrip("\0")
    if isinstance(v, np.generic):
        return v.item()
    return v


def fmt_value(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass
class Cell:
    label: str                       # the /runs `cell` text
    axes: dict                       # non-seed axis -> value
    runs: list = field(default_factory=list)   # run indices, failed runs left out
    used: list = field(default_factory=list)   # runs with QoE data
    length: int = 0                  # rows: the longest used run
    phases: list = field(default_factory=list)
    display: str = ""


class Sweep:
    """One sweep file: runs (list of dicts), axes, metrics (T, R) and cells."""

    def __init__(self, path):
        self.path = path
        try:
            f = open_h5(path)
        except FileNotFoundError:
            raise SweepError(f"{path}: no such file")
        except OSError as e:
            raise SweepError(f"{path}: cannot open as HDF5 ({e})")
        with f:
            self._read(f)
        self._make_cells()

    # ---- reading ------------------------------------------------------------------------

    def _read(self, f):
        p = self.path
        if "runs" not in f:
            raise SweepError(f"{p}: no /runs dataset (not a pamoe sweep file)")
        table = f["runs"][()]
        names = table.dtype.names or ()
        missing = [k for k in FIXED if k not in names]
        if missing:
            raise SweepError(f"{p}: /runs lacks the field(s) {', '.join(missing)}")
        self.runs = [{k: _py(table[k][j]) for k in names} for j in range(len(table))]
        self.axes = [k for k in names if k not in FIXED]
        self.n = len(self.runs)
        if "metrics" not in f:
            raise SweepError(f"{p}: no /metrics group")
        m = f["metrics"]
        it = self._dataset(m, "iteration", None)
        self.t = it.shape[0]
        # (T, R) rows written: iterations count from 1; -1 marks a row not written yet, and 0
        # (a virtual dataset's default fill) is read the same way
        self.mask = it > 0
        self.written = self.mask.sum(axis=0)
        self.global_step = np.where(self.mask, self._dataset(m, "global_step", it.shape), -1)
        self.qoe = self._metric(m, QOE, required=True)
        self.content = self._metric(m, CONTENT)
        self.metric_names = []
        m.visititems(lambda n, o: self.metric_names.append(n) if isinstance(o, h5py.Dataset) else None)
        self.plasticity = {}
        self.plasticity_sources = {}
        for title, units, sel in PLASTICITY:
            chosen = [n for n in self.metric_names
                      if (n == sel if "/" in sel else n.endswith(sel) and _family_ok(n, sel))]
            if not chosen:
                continue
            stack = np.stack([self._metric(m, n) for n in chosen])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN entries stay NaN
                self.plasticity[title] = np.nanmean(stack, axis=0)
            self.plasticity_sources[title] = (units, sel, len(chosen))
        self.config = {}
        if "config" in f:
            self.config = {k: _py(v) for k, v in f["config"].attrs.items()}

    def _dataset(self, m, name, shape):
        if name not in m:
            raise SweepError(f"{self.path}: no /metrics/{name}")
        d = m[name]
        want = shape or (d.shape[0] if d.ndim == 2 else -1, self.n)
        if d.shape != tuple(want):
            raise SweepError(f"{self.path}: /metrics/{name} has shape {d.shape}, expected "
                             f"(iterations, runs) = {tuple(want)} (/runs has {self.n} rows)")
        return np.asarray(d[()])

    def _metric(self, m, name, required=False):
        if name not in m:
            if required:
                raise SweepError(f"{self.path}: no /metrics/{name}")
            return None
        a = self._dataset(m, name, (self.t, self.n)).astype(np.float64)
        a[~self.mask] = np.nan
        return a

    # ---- cells and scores ---------------------------------------------------------------

    def status(self, j):
        return str(self.runs[j]["status"])

    def has_qoe(self, j):
        return bool(np.isfinite(self.qoe[:, j]).any())

    def key(self, j):
        """Pairs runs across cells: the seed when seed is an axis, else the run id."""
        return self.runs[j]["seed"] if "seed" in self.axes else self.runs[j]["run_id"]

    def _make_cells(self):
        cells = {}
        self.value_order = {a: [] for a in self.axes}
        for j, r in enumerate(self.runs):
            for a in self.axes:
                if r[a] not in self.value_order[a]:
                    self.value_order[a].append(r[a])
            label = r["cell"] or "all runs"
            c = cells.setdefault(label, Cell(label, {a: r[a] for a in self.axes if a != "seed"}))
            if self.status(j) == "failed":
                continue
            c.runs.append(j)
            if self.has_qoe(j):
                c.used.append(j)
        self.cells = list(cells.values())
        self.varying = [a for a in self.axes if a != "seed" and len(self.value_order[a]) > 1]
        self.constant = [a for a in self.axes if a != "seed" and len(self.value_order[a]) == 1]
        self.quiet = self._quiet_axes()
        for c in self.cells:
            c.display = self.describe(c) or c.label
            c.length = int(max((self.written[j] for j in c.used), default=0))
            if self.content is not None and c.used:
                ref = max(c.used, key=lambda j: self.written[j])
                c.phases = segment_phases(self.content[:, ref])

    def describe(self, c, skip=()):
        """`axis=value, ...` of cell c over the varying axes not in skip; a zipped follower
        only where its value differs from the base config's (see _quiet_axes)."""
        return ", ".join(f"{a}={fmt_value(c.axes[a])}" for a in self.varying if a not in skip
                         and not (a in self.quiet and same_value(c.axes[a], self.quiet[a])))

    def _quiet_axes(self):
        """Axes that follow another on a `zip` line of the sweep file (/config sweep_file) and
        have a value in the base config (/config base_config), mapped to that value. A cell's
        name leaves such an axis out where it has the base value, so a zipped study of
        treatments reads `kind=pamoe, method=redo`, not every column of the zip; what is left
        out is what the base config says. Names stay unique: two cells that differ only in a
        follower differ from the base in it on at least one side, where it is shown."""
        base = _ini_values(self.config.get("base_config", ""))
        out = {}
        for section, key, value in _ini_lines(self.config.get("sweep_file", "")):
            if section == "sweep" and key == "zip":
                names = [v.strip().rsplit(".", 1)[-1] for v in value.split(",") if v.strip()]
                out.update((n, base[n]) for n in names[1:] if n in self.varying and n in base)
        return out

    def whole_score(self, c, j):
        """Mean QoE of run j over the rows it has written of its cell's length."""
        return window_mean(self.qoe[:, j], 0, c.length)

    def final_score(self, c, j):
        """Mean QoE of run j over the cell's last 10 % of rows (NaN if j has not reached them)."""
        return window_mean(self.qoe[:, j], c.length - tail_rows(c.length, FINAL_FRACTION), c.length)

    def phase_complete(self, j, phase, last):
        """A phase counts for a run once the run has written all of it: its rows up to the
        phase's end, where the phase is not the last one seen (its end is known from a run
        that has gone further) or the run is done."""
        return int(self.written[j]) >= phase.stop and (not last or self.status(j) == "done")

    def phase_matches(self, j, phase):
        c = self.content[phase.start:phase.stop, j]
        return bool(np.all(c == phase.content))


def _ini_lines(text):
    """(section, key, value) of every `key = value` line of an ini text, comments dropped."""
    section = ""
    for line in str(text).splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[] ").lower()
            continue
        key, eq, value = line.partition("=")
        if eq:
            yield section, key.strip(), value.strip()


def _ini_values(text):
    """key -> value of an ini text (a key's last component, as /runs names axes)."""
    return {k.rsplit(".", 1)[-1]: v for _, k, v in _ini_lines(text)}


def same_value(value, text):
    """Whether an axis value equals a config value written as text (numbers as numbers)."""
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return str(value) == text


def _family_ok(name, suffix):
    """`_layer_rank` must not pick `_layer_eff_rank` etc.; `_layer_mean` only under Weights/."""
    if suffix == "_layer_mean":
        return name.startswith("Weights/")
    if suffix == "_layer_rank":
        return name.startswith("Ranks/") and not name.endswith(("_eff_rank", "_approx_rank"))
    if suffix == "_layer_approx_rank":
        return name.startswith("Ranks/") and not name.endswith("_abs_approx_rank")
    return name.startswith("Ranks/")
