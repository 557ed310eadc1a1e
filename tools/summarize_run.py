"""summarize_run.py: the last iteration of a pamoe run file as a table.

usage: summarize_run.py RUN.h5 [RUN2.h5 ...] [--grep REGEX] [--last-finite] [--config] [--bars]

One line per metric: name, units, then one value per run (column). With --last-finite,
a metric that is NaN in the final row (e.g. episode statistics before 50 episodes) shows
its last finite value instead. Works on a file that is still being written.

--bars: the QoE bar numbers over all runs of all files given, per QoE series: per run the
whole logged series is sorted and averaged between floor(0.30 n) and floor(0.95 n) (the
reference's "IQM", docs/reference/metrics.md 8) and between floor(0.25 n) and floor(0.75 n) (standard
IQM); then mean over runs +- population std / sqrt(runs)."""
import argparse
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runfile import Run  # noqa: E402


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


QOE_SERIES = ["Reward/Episode Mean Return", "Reward/Episode BitRate Reward",
              "Reward/Episode Rebuffer Reward", "Reward/Episode Smooth Reward"]


def trimmed(series, lo, hi):
    """Mean of the sorted finite values between floor(lo n) and floor(hi n) (exclusive)."""
    v = sorted(x for x in series if not math.isnan(x))
    n = len(v)
    part = v[int(math.floor(lo * n)):int(math.floor(hi * n))]
    return sum(part) / len(part) if part else float("nan")


def bar(values):
    """mean and population std / sqrt(n) over runs (the reference's error bar)."""
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / len(v))
    return m, sd / math.sqrt(len(v))


def print_bars(runs):
    print(f"{'QoE series':<32} {'paper 30-95 trim':>24} {'IQM 25-75':>24}  runs")
    for name in QOE_SERIES:
        cols = [r.metrics[name][:, j] for r in runs if name in r.metrics for j in range(r.metrics[name].shape[1])]
        if not cols:
            continue
        p = bar([trimmed(c, 0.30, 0.95) for c in cols])
        q = bar([trimmed(c, 0.25, 0.75) for c in cols])
        print(f"{name:<32} {fmt(p[0]):>12} +- {fmt(p[1]):<9} {fmt(q[0]):>12} +- {fmt(q[1]):<9} {len(cols)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="+", help="run file(s) (HDF5); the table is of the first")
    ap.add_argument("--grep", default=None, help="only metrics whose name matches this regex")
    ap.add_argument("--last-finite", action="store_true", help="show the last finite value of each metric")
    ap.add_argument("--config", action="store_true", help="also print the /config attributes")
    ap.add_argument("--bars", action="store_true", help="QoE bar numbers over all runs of all files")
    args = ap.parse_args(argv)
    for p in args.run:
        if not os.path.isfile(p):
            ap.error(f"{p}: no such file")
    if args.bars:
        print_bars([Run(p) for p in args.run])
        return
    args.run = args.run[0]
    run = Run(args.run)
    n = len(run.iteration)
    if n == 0:
        print(f"{args.run}: no iterations written yet")
        return
    print(f"{args.run}: {n} rows, last iteration {run.iteration[-1]}, global step {run.global_step[-1]}, "
          f"{run.n_runs} run(s)")
    if args.config:
        for k in sorted(run.config):
            print(f"  config {k} = {run.config[k]}")
    rx = re.compile(args.grep) if args.grep else None
    names = [k for k in sorted(run.metrics) if not rx or rx.search(k)]
    if not names:
        print("no metric matches")
        return
    width = max(len(k) for k in names)
    uw = max(5, max(len(str(run.units.get(k, ""))) for k in names))
    head = " ".join(f"{'run ' + str(r):>12}" for r in range(run.n_runs))
    print(f"{'metric':<{width}}  {'units':<{uw}}  {head}")
    for k in names:
        a = run.metrics[k]
        vals = []
        for r in range(a.shape[1]):
            col = a[:, r]
            v = col[-1]
            if args.last_finite and math.isnan(v):
                fin = [x for x in col if not math.isnan(x)]
                v = fin[-1] if fin else float("nan")
            vals.append(f"{fmt(float(v)):>12}")
        print(f"{k:<{width}}  {str(run.units.get(k, '')):<{uw}}  {' '.join(vals)}")


if __name__ == "__main__":
    main()
