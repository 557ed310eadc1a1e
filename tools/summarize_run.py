"""summarize_run.py: the last iteration of a pamoe run file as a table.

usage: summarize_run.py RUN.h5 [--grep REGEX] [--last-finite] [--config]

One line per metric: name, units, then one value per run (column). With --last-finite,
a metric that is NaN in the final row (e.g. episode statistics before 50 episodes) shows
its last finite value instead. Works on a file that is still being written."""
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="run file (HDF5)")
    ap.add_argument("--grep", default=None, help="only metrics whose name matches this regex")
    ap.add_argument("--last-finite", action="store_true", help="show the last finite value of each metric")
    ap.add_argument("--config", action="store_true", help="also print the /config attributes")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.run):
        ap.error(f"{args.run}: no such file")
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
