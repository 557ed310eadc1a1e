"""sweep_stats.py: the statistics of rliable (Agarwal et al., "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", NeurIPS 2021), written with numpy for
tools/sweep_report.py, plus the content-phase segmentation and recovery of a run's QoE.

Conventions (as rliable):
- scores are a (runs, tasks) matrix; NaN marks a missing entry and is left out;
- IQM is the 25 % trimmed mean of all entries: floor(n/4) values dropped at each end
  (scipy.stats.trim_mean(x, 0.25));
- CIs are percentile intervals of a stratified bootstrap: within each task (column) the runs
  are resampled with replacement, independently of the other tasks;
- P(X > Y) = mean over tasks of P(X_m > Y_m), where P(X_m > Y_m) is the fraction of
  (x, y) run pairs with x > y, ties counting 1/2; its CI resamples X and Y independently.
"""
import math
import warnings
from dataclasses import dataclass

import numpy as np

CI_LEVEL = 95.0
# bootstrap statistics are evaluated in chunks of at most this many values (memory bound)
CHUNK_VALUES = 4_000_000


@dataclass
class Estimate:
    """A point estimate, its percentile CI (NaN when not defined) and the sample size."""
    point: float
    lo: float
    hi: float
    n: int

    def has_ci(self):
        return np.isfinite(self.lo) and np.isfinite(self.hi)

    def excludes(self, value):
        return self.has_ci() and (self.lo > value or self.hi < value)

    def fmt(self, digits=3):
        if not np.isfinite(self.point):
            return "n/a"
        if not self.has_ci():
            return f"{self.point:.{digits}f} [n/a]"
        return f"{self.point:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def iqm(values):
    """IQM of the finite values of any array (NaN when there is none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = np.sort(v[np.isfinite(v)])
    n = v.size
    if n == 0:
        return float("nan")
    cut = n // 4
    return float(v[cut:n - cut].mean())


def iqm_rows(a):
    """IQM of each row of a finite (rows, n) array."""
    s = np.sort(np.asarray(a, dtype=np.float64), axis=1)
    n = s.shape[1]
    cut = n // 4
    return s[:, cut:n - cut].mean(axis=1)


def mean_rows(a):
    return np.asarray(a, dtype=np.float64).mean(axis=1)


def task_columns(scores):
    """scores: (runs,) or (runs, tasks). -> the finite values of each task that has any."""
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    cols = [c[np.isfinite(c)] for c in a.T]
    return [c for c in cols if c.size]


def stratified_resample(cols, reps, rng):
    """(reps, sum of column sizes): each bootstrap row holds, for every task, as many runs as
    that task has, drawn with replacement from that task only."""
    parts = [c[rng.integers(0, c.size, size=(reps, c.size))] for c in cols]
    return np.concatenate(parts, axis=1)


def percentile_ci(boot):
    tail = (100.0 - CI_LEVEL) / 2
    lo, hi = np.percentile(boot, [tail, 100.0 - tail])
    return float(lo), float(hi)


def aggregate(scores, reps, rng, statistic=iqm_rows):
    """rliable's interval estimate of one aggregate (IQM by default) of a (runs, tasks)
    score matrix, with a stratified bootstrap percentile CI. The CI is n/a when no task has
    two runs (a resample could not differ from the data)."""
    cols = task_columns(scores)
    n = int(sum(c.size for c in cols))
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = float(statistic(np.concatenate(cols)[None, :])[0])
    if max(c.size for c in cols) < 2 or reps < 1:
        return Estimate(point, float("nan"), float("nan"), n)
    boot = np.concatenate([statistic(stratified_resample(cols, r, rng))
                           for r in _chunks(reps, n)])
    lo, hi = percentile_ci(boot)
    return Estimate(point, lo, hi, n)


def _chunks(reps, width):
    step = max(1, CHUNK_VALUES // max(1, width))
    return [min(step, reps - i) for i in range(0, reps, step)]


def _p_greater(x, y):
    """x: (reps, n), y: (reps, m) -> (reps,) fraction of pairs with x > y, ties 1/2."""
    d = x[:, :, None] - y[:, None, :]
    return ((d > 0).sum(axis=(1, 2)) + 0.5 * (d == 0).sum(axis=(1, 2))) / (x.shape[1] * y.shape[1])


def probability_of_improvement(x, y):
    """P(X > Y) of two (runs, tasks) score matrices with the same tasks (see module doc)."""
    pairs = _task_pairs(x, y)
    if not pairs:
        return float("nan")
    return float(np.mean([_p_greater(a[None, :], b[None, :])[0] for a, b in pairs]))


def _task_pairs(x, y):
    """Per task, the finite runs of X and of Y; tasks missing on either side are dropped."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xa = xa[:, None] if xa.ndim == 1 else xa
    ya = ya[:, None] if ya.ndim == 1 else ya
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"probability of improvement: {xa.shape[1]} tasks vs {ya.shape[1]}")
    out = []
    for a, b in zip(xa.T, ya.T):
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size and b.size:
            out.append((a, b))
    return out


def probability_of_improvement_ci(x, y, reps, rng):
    """P(X > Y) with the CI of rliable's independent stratified bootstrap: X's runs and Y's
    runs are resampled separately, within each task. n = runs of X + runs of Y (first task);
    the CI is n/a when either side has fewer than 2 runs."""
    pairs = _task_pairs(x, y)
    if not pairs:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = probability_of_improvement(x, y)
    n = int(pairs[0][0].size + pairs[0][1].size)
    if min(min(a.size, b.size) for a, b in pairs) < 2 or reps < 1:
        return Estimate(point, float("nan"), float("nan"), n)
    boot = np.zeros(reps)
    for a, b in pairs:
        step = max(1, CHUNK_VALUES // (a.size * b.size))
        for i in range(0, reps, step):
            r = min(step, reps - i)
            xa = a[rng.integers(0, a.size, size=(r, a.size))]
            yb = b[rng.integers(0, b.size, size=(r, b.size))]
            boot[i:i + r] += _p_greater(xa, yb)
    boot /= len(pairs)
    lo, hi = percentile_ci(boot)
    return Estimate(point, lo, hi, n)


def paired_difference(a_by_key, b_by_key, reps, rng):
    """Mean of a[k] - b[k] over the keys (seeds) both have with finite values, with a
    percentile bootstrap CI over those pairs (pairs resampled with replacement).
    n = number of pairs; the CI is n/a below 2 pairs."""
    keys = sorted(k for k in a_by_key if k in b_by_key
                  and np.isfinite(a_by_key[k]) and np.isfinite(b_by_key[k]))
    d = np.array([a_by_key[k] - b_by_key[k] for k in keys], dtype=np.float64)
    return aggregate(d, reps, rng, statistic=mean_rows)


def performance_profile(scores, taus):
    """Fraction of the finite scores strictly above each threshold."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.full(len(taus), np.nan)
    return (s[:, None] > np.asarray(taus)[None, :]).mean(axis=0)


def performance_profile_band(scores, taus, reps, rng):
    """Percentile bootstrap band (runs resampled) of the performance profile; NaN below 2
    runs."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = s[np.isfinite(s)]
    nan = np.full(len(taus), np.nan)
    if s.size < 2 or reps < 1:
        return nan, nan.copy()
    t = np.asarray(taus)
    boot = np.concatenate([
        (s[rng.integers(0, s.size, size=(r, s.size))][:, :, None] > t[None, None, :]).mean(axis=1)
        for r in _chunks(reps, s.size * t.size)])
    tail = (100.0 - CI_LEVEL) / 2
    return np.percentile(boot, tail, axis=0), np.percentile(boot, 100.0 - tail, axis=0)


def curve_band(y, reps, rng):
    """y: (T, runs), NaN = not measured. -> IQM across runs at each row and its percentile
    bootstrap band (whole runs resampled, the same draw for every row, so the band is that
    of the curve of a resampled set of runs). Band NaN where a row has fewer than 2 runs."""
    y = np.asarray(y, dtype=np.float64)
    centre = np.array([iqm(row) for row in y])
    lo = np.full(len(y), np.nan)
    hi = lo.copy()
    finite = np.isfinite(y).sum(axis=1)
    if y.shape[1] < 2 or reps < 1 or not (finite >= 2).any():
        return centre, lo, hi
    boots = []
    for r in _chunks(reps, y.size):
        idx = rng.integers(0, y.shape[1], size=(r, y.shape[1]))
        boots.append(nan_iqm_last(y[:, idx]))     # (T, r)
    boot = np.concatenate(boots, axis=1)
    tail = (100.0 - CI_LEVEL) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # rows with no finite resample
        lo = np.nanpercentile(boot, tail, axis=1)
        hi = np.nanpercentile(boot, 100.0 - tail, axis=1)
    ok = finite >= 2
    return centre, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def nan_iqm_last(a):
    """IQM along the last axis ignoring NaN; NaN where no finite value."""
    s = np.sort(np.asarray(a, dtype=np.float64), axis=-1)   # NaN sort last
    n = np.isfinite(s).sum(axis=-1)
    cut = n // 4
    k = np.arange(s.shape[-1])
    keep = (k >= cut[..., None]) & (k < (n - cut)[..., None])
    cnt = keep.sum(axis=-1)
    tot = np.where(keep, np.nan_to_num(s), 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


# ---- windows, content phases and recovery ------------------------------------------------

def tail_rows(length, fraction):
    """Rows in the last `fraction` of `length` rows: ceil(fraction * length), at least 1."""
    return max(1, math.ceil(fraction * length)) if length > 0 else 0


def window_mean(y, start, stop):
    """Mean of the finite values of y[start:stop] (NaN when none)."""
    v = np.asarray(y[start:stop], dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


CONTENT_NAMES = {0: "documentary", 1: "live", 2: "news"}


@dataclass
class Phase:
    """Rows [start, stop) of one run with the same content; occurrence counts from 1 per
    content type (documentary #1, live #1, news #1, documentary #2, ...)."""
    content: int
    start: int
    stop: int
    occurrence: int

    @property
    def label(self):
        return f"{CONTENT_NAMES.get(self.content, str(self.content))} #{self.occurrence}"

    def __len__(self):
        return self.stop - self.start


def segment_phases(content):
    """Splits a per-iteration content code sequence into maximal constant phases. The
    sequence ends at its first non-finite entry (rows not written yet)."""
    c = np.asarray(content, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(c))
    end = int(bad[0]) if bad.size else len(c)
    phases, seen = [], {}
    i = 0
    while i < end:
        j = i
        while j + 1 < end and c[j + 1] == c[i]:
            j += 1
        code = int(c[i])
        seen[code] = seen.get(code, 0) + 1
        phases.append(Phase(code, i, j + 1, seen[code]))
        i = j + 1
    return phases


@dataclass
class Recovery:
    early: float      # mean QoE of the phase's first k rows
    final: float      # mean QoE of the phase's last tail_rows(len, final_fraction) rows
    fraction: float   # early / final; NaN unless final > 0 (a ratio of non-positive levels
    #                   does not say how far the run has recovered)
    gap: float        # early - final (QoE units; <= 0 means below the final level)


def recovery(qoe, phase, k, final_fraction=0.1):
    """Recovery of one run in one phase (the QoE shift is the switch into the phase)."""
    n = len(phase)
    early = window_mean(qoe, phase.start, phase.start + min(k, n))
    final = window_mean(qoe, phase.stop - tail_rows(n, final_fraction), phase.stop)
    frac = early / final if np.isfinite(early) and np.isfinite(final) and final > 0 else float("nan")
    return Recovery(early, final, frac, early - final)
