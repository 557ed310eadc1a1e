#!/usr/bin/env python3
"""plot_eval.py: the five evaluation figures of the reference pipeline (docs/reference/baselines.md 11)
from a `pamoe eval --out results.h5` file, as PNG and PDF.

usage: plot_eval.py RESULTS.h5 --out PREFIX [--exact-cdf]

  PREFIX_cdf             CDF of per-session QoE. Faithful: a 500-bin histogram per agent over its
                         own min..max, plotted against the LEFT bin edges (defect 24, docs/reference/README.md);
                         --exact-cdf draws the exact empirical CDF instead. x limits [-1, 2].
  PREFIX_qoe_bar         mean QoE, Bitrate Reward, Rebuffer Reward, Smooth Penalty Reward per agent.
  PREFIX_bitrate_rebuf   (mean stall s/chunk, mean bitrate Mbps), 95 % t-interval error bars,
                         stall axis inverted (less stall to the right).
  PREFIX_smo_rebuffer    (mean stall, mean smoothness Mbps/chunk), both axes inverted.
  PREFIX_bitrate_smo     (mean smoothness, mean bitrate), smoothness axis inverted.
The 95 % interval is mean +- t(0.975, n-1) s / sqrt(n), s the sample standard deviation, as
the reference plots; it is stored by `pamoe eval` as the t95_halfwidth attribute."""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(path):
    with h5py.File(path, "r") as f:
        if "agents" not in f:
            sys.exit("plot_eval.py: %s has no /agents group (not a pamoe eval file?)" % path)
        out = {}
        for name, g in f["agents"].items():
            out[name] = {k: (np.asarray(g[k][()]), float(g[k].attrs.get("t95_halfwidth", np.nan)))
                         for k in ("qoe", "bitrate_reward", "rebuffer_reward", "rebuffer_time",
                                   "smooth_penalty_reward", "smooth")}
        return out


def save(fig, prefix, name):
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig("%s_%s.%s" % (prefix, name, ext), dpi=120)
    plt.close(fig)


def cdf(agents, prefix, exact):
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, a in agents.items():
        q = a["qoe"][0]
        if exact:
            x = np.sort(q)
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=name)
        else:  # the reference: 500 bins over the agent's own range, left edges (defect 24)
            counts, edges = np.histogram(q, bins=500)
            ax.plot(edges[:-1], np.cumsum(counts) / counts.sum(), label=name)
    ax.set_xlim(-1, 2)
    ax.set_xlabel("Average Values of Chunk's QoE")
    ax.set_ylabel("CDF (Perc. of sessions)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, prefix, "cdf")


def bars(agents, prefix):
    keys = [("qoe", "QoE"), ("bitrate_reward", "Bitrate Reward"), ("rebuffer_reward", "Rebuffer Reward"),
            ("smooth_penalty_reward", "Smooth Reward")]
    fig, ax = plt.subplots(figsize=(7, 4))
    w = 0.8 / max(len(agents), 1)
    for i, (name, a) in enumerate(agents.items()):
        ax.bar(np.arange(len(keys)) + i * w, [a[k][0].mean() for k, _ in keys], w, label=name)
    ax.set_xticks(np.arange(len(keys)) + w * (len(agents) - 1) / 2)
    ax.set_xticklabels([label for _, label in keys])
    ax.set_xlabel("QoE Components")
    ax.set_ylabel("QoE")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    save(fig, prefix, "qoe_bar")


def scatter(agents, prefix, name, xk, yk, xlabel, ylabel, invert_x, invert_y, ylim_from_bitrate):
    fig, ax = plt.subplots(figsize=(5, 4))
    hi = 0.0
    for label, a in agents.items():
        (x, xh), (y, yh) = a[xk], a[yk]
        ax.errorbar(x.mean(), y.mean(), xerr=xh, yerr=yh, fmt="o", capsize=3, label=label)
        hi = max(hi, y.mean() + yh)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim_from_bitrate:
        ax.set_ylim(0.5, 1.01 * hi)
    else:
        ax.set_ylim(0.05, hi + 0.05)
    if invert_x:
        ax.invert_xaxis()
    if invert_y:
        ax.invert_yaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, prefix, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--out", required=True)
    ap.add_argument("--exact-cdf", action="store_true")
    a = ap.parse_args()
    try:
        agents = load(a.results)
    except OSError as e:
        sys.exit("plot_eval.py: cannot read %s: %s" % (a.results, e))
    cdf(agents, a.out, a.exact_cdf)
    bars(agents, a.out)
    scatter(agents, a.out, "bitrate_rebuf", "rebuffer_time", "bitrate_reward", "Time Spent on Stall (s)",
            "Video Bitrate (mbps)", True, False, True)
    scatter(agents, a.out, "smo_rebuffer", "rebuffer_time", "smooth", "Time Spent on Stall (s)",
            "Bitrate Smoothness (mbps)", True, True, False)
    scatter(agents, a.out, "bitrate_smo", "smooth", "bitrate_reward", "Bitrate Smoothness (mbps)",
            "Video Bitrate (mbps)", True, False, True)
    print("wrote %s_{cdf,qoe_bar,bitrate_rebuf,smo_rebuffer,bitrate_smo}.{png,pdf}" % a.out)


if __name__ == "__main__":
    main()
