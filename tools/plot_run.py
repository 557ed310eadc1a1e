"""plot_run.py: figures of one or more pamoe run files (docs/metrics.md).

usage: plot_run.py RUN.h5 [RUN2.h5 ...] --out PREFIX [--smooth W] [--bootstrap B] [--seed S]
                  [--aggregate iqm|paper]

Writes PREFIX_<figure>.png and .pdf for: qoe, qoe_components, dormant, ranks, router,
weights, losses (a figure whose metrics are absent from every file is skipped). Every
column of every file is one run. One run: its curve. Several: thin per-run curves, the IQM
across runs at each x (standard 25-75 trimmed mean: drop floor(n/4) values at each end)
and a percentile bootstrap band (runs resampled with replacement, B times, seeded) of that
IQM (--aggregate paper: mean and 25th-80th percentile band, as the reference's
learning-curve plots). The x axis is the environment step (/metrics/global_step); content phases (metric
charts/content: 0 documentary, 1 live, 2 news) are shaded on the QoE figures."""
import argparse
import os
import re
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runfile import Run  # noqa: E402
from sweep_stats import nan_iqm_last  # noqa: E402

CONTENT = {0: ("documentary", "tab:blue"), 1: ("live", "tab:orange"), 2: ("news", "tab:green")}


def iqm(a, axis=-1):
    """25-75 trimmed mean along axis, ignoring NaN; NaN where no finite value."""
    return nan_iqm_last(np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1))


def bootstrap_band(y, reps, rng, lo=2.5, hi=97.5):
    """y: (T, R). Percentile bootstrap of the per-x IQM over runs."""
    r = y.shape[1]
    idx = rng.integers(0, r, size=(reps, r))
    stats = iqm(y[:, idx], axis=-1)  # (T, reps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN x (no episode yet)
        return np.nanpercentile(stats, lo, axis=1), np.nanpercentile(stats, hi, axis=1)


def paper_band(y):
    """The reference's plot_1_1 band: 25th to 80th percentile across runs (linear)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(y, 25, axis=1), np.nanpercentile(y, 80, axis=1)


def smooth(y, w):
    """NaN-aware trailing moving average of window w along axis 0 (same length)."""
    if w <= 1:
        return y
    ok = np.isfinite(y)
    c = np.cumsum(np.where(ok, y, 0.0), axis=0)
    n = np.cumsum(ok, axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c])
    n = np.concatenate([np.zeros_like(n[:1]), n])
    num = c[w:] - c[:-w]
    cnt = n[w:] - n[:-w]
    head_num, head_cnt = c[1:w], n[1:w]
    num = np.concatenate([head_num, num])
    cnt = np.concatenate([head_cnt, cnt])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, num / np.maximum(cnt, 1), np.nan)


class Runs:
    """Metrics of all files aligned on the longest x axis (NaN-padded)."""

    def __init__(self, paths):
        self.runs = [Run(p) for p in paths]
        longest = max(self.runs, key=lambda r: len(r.global_step))
        self.x = longest.global_step.astype(np.float64)
        self.names = sorted(set().union(*(r.metrics for r in self.runs)))
        self.units = {}
        for r in self.runs:
            self.units.update(r.units)

    def get(self, name):
        """(T, total runs) or None when no file has the metric."""
        cols = []
        for r in self.runs:
            a = r.metrics.get(name)
            if a is None:
                continue
            pad = np.full((len(self.x), a.shape[1]), np.nan)
            pad[: min(len(a), len(self.x))] = a[: len(self.x)]
            cols.append(pad)
        return np.concatenate(cols, axis=1) if cols else None

    def match(self, pattern):
        rx = re.compile(pattern)
        return [n for n in self.names if rx.fullmatch(n)]


class Plotter:
    def __init__(self, runs, args):
        self.runs = runs
        self.args = args
        self.rng = np.random.default_rng(args.seed)
        self.written = []

    def curve(self, ax, name, label=None, color=None, ls="-"):
        y = self.runs.get(name)
        if y is None or not np.isfinite(y).any():
            return False
        y = smooth(y, self.args.smooth)
        x = self.runs.x
        label = label or name
        if y.shape[1] == 1:
            ax.plot(x, y[:, 0], lw=1.2, label=label, color=color, ls=ls)
            return True
        paper = self.args.aggregate == "paper"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN x
            centre = np.nanmean(y, axis=1) if paper else iqm(y)
        tag = "mean" if paper else "IQM"
        line = ax.plot(x, centre, lw=1.6, label=f"{label} ({tag}, {y.shape[1]} runs)", color=color, ls=ls)[0]
        c = line.get_color()
        for j in range(y.shape[1]):
            ax.plot(x, y[:, j], lw=0.5, alpha=0.3, color=c, ls=ls)
        if paper:
            lo, hi = paper_band(y)
        else:
            lo, hi = bootstrap_band(y, self.args.bootstrap, self.rng)
        ax.fill_between(x, lo, hi, color=c, alpha=0.15, lw=0)
        return True

    def shade_content(self, ax):
        c = self.runs.get("charts/content")
        if c is None:
            return
        c = c[:, 0]
        x = self.runs.x
        step = x[0] if len(x) else 0
        left = np.concatenate([[x[0] - step], x[:-1]]) if len(x) else x
        i = 0
        while i < len(c):
            if not np.isfinite(c[i]):
                i += 1
                continue
            j = i
            while j + 1 < len(c) and c[j + 1] == c[i]:
                j += 1
            name, color = CONTENT.get(int(c[i]), (str(int(c[i])), "tab:gray"))
            ax.axvspan(left[i], x[j], color=color, alpha=0.08, lw=0)
            i = j + 1

    def content_legend(self, ax):
        if self.runs.get("charts/content") is None:
            return
        handles, labels = ax.get_legend_handles_labels()
        for k in sorted(CONTENT):
            name, color = CONTENT[k]
            handles.append(mpatches.Patch(color=color, alpha=0.25, label=name))
        ax.legend(handles=handles, fontsize=7, loc="best")

    def save(self, fig, tag):
        fig.tight_layout()
        for ext in ("png", "pdf"):
            out = f"{self.args.out}_{tag}.{ext}"
            fig.savefig(out, dpi=120)
            self.written.append(out)
        plt.close(fig)

    def finish_ax(self, ax, title, ylabel=None):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("environment steps")
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)

    # ---- figures -------------------------------------------------------------------------

    def fig_qoe(self):
        name = "Reward/Episode Mean Return"
        if self.runs.get(name) is None:
            return
        fig, ax = plt.subplots(figsize=(7, 4))
        self.shade_content(ax)
        self.curve(ax, name, "episode QoE")
        self.finish_ax(ax, "QoE (mean per-chunk reward, 50-episode running mean)", self.runs.units.get(name))
        self.content_legend(ax)
        self.save(fig, "qoe")

    def fig_components(self):
        comps = [("Reward/Episode BitRate Reward", "bitrate reward"),
                 ("Reward/Episode Rebuffer Reward", "rebuffer reward (negative)"),
                 ("Reward/Episode Smooth Reward", "smoothness reward (negative)")]
        comps = [c for c in comps if self.runs.get(c[0]) is not None]
        if not comps:
            return
        fig, axes = plt.subplots(len(comps), 1, figsize=(7, 2.6 * len(comps)), squeeze=False)
        for ax, (name, title) in zip(axes[:, 0], comps):
            self.shade_content(ax)
            self.curve(ax, name, title)
            self.finish_ax(ax, title, self.runs.units.get(name))
            self.content_legend(ax)
        self.save(fig, "qoe_components")

    @staticmethod
    def key_style(m):
        """colour per expert, solid layer 0 (h1), dashed layer 1 (h2)"""
        e = int(m.group("e") or 0)
        return dict(color=f"C{e}", ls="-" if m.group("l") == "0" else "--")

    def per_net(self, names, rx):
        """Groups names by the net (policy/value) captured as group 'net' of rx."""
        out = {}
        for n in names:
            m = re.fullmatch(rx, n)
            if m:
                out.setdefault(m.group("net"), []).append((n, m))
        return out

    def fig_dormant(self):
        names = [n for n in self.runs.match(r"Dorman/.*_fraction") if "total" not in n and "zero" not in n]
        groups = self.per_net(names, r"Dorman/(?:expert_(?P<e>\d+)_)?(?P<net>policy|value)_(?P<l>\d+)_layer_.*_fraction")
        if not groups and not self.runs.match(r"Dorman/total_.*"):
            return
        nets = sorted(groups)
        fig, axes = plt.subplots(len(nets) + 1, 1, figsize=(7, 2.8 * (len(nets) + 1)), squeeze=False)
        for ax, net in zip(axes[:, 0], nets):
            for n, m in groups[net]:
                self.curve(ax, n, f"expert {m.group('e') or 0} layer {m.group('l')}", **self.key_style(m))
            self.finish_ax(ax, f"{net}: dormant neurons (normalised score <= tau)", "%")
            ax.legend(fontsize=7)
        ax = axes[-1, 0]
        self.curve(ax, "Dorman/total_dorman_fraction", "dormant (score <= tau)")
        self.curve(ax, "Dorman/total_zero_fraction", "zero score")
        self.finish_ax(ax, "all expert layers of both nets", "%")
        ax.legend(fontsize=7)
        self.save(fig, "dormant")

    def fig_ranks(self):
        kinds = [("rank", "rank (non-zero singular values)"), ("eff_rank", "effective rank"),
                 ("approx_rank", "approximate rank (99% of sigma^2)"),
                 ("abs_approx_rank", "abs. approximate rank (99% of sigma)")]
        if not self.runs.match(r"Ranks/.*"):
            return
        nets = ["policy", "value"]
        fig, axes = plt.subplots(4, 2, figsize=(11, 11), squeeze=False)
        for row, (kind, title) in enumerate(kinds):
            rx = r"Ranks/(?:expert_(?P<e>\d+)_)?(?P<net>policy|value)_(?P<l>\d+)_layer_" + kind
            for col, net in enumerate(nets):
                ax = axes[row, col]
                for n in self.runs.names:
                    m = re.fullmatch(rx, n)
                    if m and m.group("net") == net:
                        self.curve(ax, n, f"expert {m.group('e') or 0} layer {m.group('l')}", **self.key_style(m))
                self.finish_ax(ax, f"{net}: {title}")
                if ax.lines:
                    ax.legend(fontsize=6, ncol=2)
        self.save(fig, "ranks")

    def fig_router(self):
        groups = self.per_net(self.runs.names, r"expert_(?P<e>\d+)_(?P<net>policy|value)_router")
        if not groups:
            return
        nets = sorted(groups)
        fig, axes = plt.subplots(len(nets), 1, figsize=(7, 2.8 * len(nets)), squeeze=False)
        for ax, net in zip(axes[:, 0], nets):
            for n, m in sorted(groups[net]):
                self.curve(ax, n, f"expert {m.group('e')}")
            ax.axhline(1.0 / len(groups[net]), color="k", lw=0.6, ls=":")
            self.finish_ax(ax, f"{net} router usage (fraction of rollout steps / mean gate)", "fraction")
            ax.legend(fontsize=7)
        self.save(fig, "router")

    def fig_weights(self):
        groups = self.per_net(self.runs.names,
                              r"Weights/(?:expert_(?P<e>\d+)_)?(?P<net>policy|value)_(?P<l>\d+)_layer_mean")
        if not groups:
            return
        nets = sorted(groups)
        fig, axes = plt.subplots(len(nets), 1, figsize=(7, 2.8 * len(nets)), squeeze=False)
        for ax, net in zip(axes[:, 0], nets):
            for n, m in groups[net]:
                self.curve(ax, n, f"expert {m.group('e') or 0} layer {m.group('l')}", **self.key_style(m))
            self.finish_ax(ax, f"{net}: mean |W| of expert layers", "mean |W|")
            ax.legend(fontsize=7)
        self.save(fig, "weights")

    def fig_losses(self):
        names = self.runs.match(r"losses/.*")
        if not names:
            return
        cols = 2
        rows = (len(names) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(10, 2.5 * rows), squeeze=False)
        for ax, n in zip(axes.flat, names):
            self.curve(ax, n, n.split("/", 1)[1])
            self.finish_ax(ax, n)
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        self.save(fig, "losses")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run files (HDF5)")
    ap.add_argument("--out", required=True, help="output prefix, e.g. runs/quick")
    ap.add_argument("--smooth", type=int, default=1, help="moving-average window in iterations (1: none)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the band")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    ap.add_argument("--aggregate", choices=("iqm", "paper"), default="iqm",
                    help="iqm: 25-75 trimmed mean + bootstrap band; paper: mean + 25th-80th "
                         "percentile band as the reference's plot_1_1")
    args = ap.parse_args(argv)
    for p in args.runs:
        if not os.path.isfile(p):
            ap.error(f"{p}: no such file")
    if args.smooth < 1 or args.bootstrap < 1:
        ap.error("--smooth and --bootstrap must be >= 1")
    d = os.path.dirname(args.out)
    if d:
        os.makedirs(d, exist_ok=True)
    runs = Runs(args.runs)
    if len(runs.x) == 0:
        sys.exit(f"{args.runs[0]}: no iterations written yet")
    p = Plotter(runs, args)
    for fig in (p.fig_qoe, p.fig_components, p.fig_dormant, p.fig_ranks, p.fig_router, p.fig_weights,
                p.fig_losses):
        fig()
    for out in p.written:
        print(out)
    if not p.written:
        sys.exit("no known metrics in the run files: nothing plotted")


if __name__ == "__main__":
    main()
