"""sweep_figures.py: the figures of tools/sweep_report.py (PNG and PDF), drawn from its
Analysis. Each draw_* returns the paths it wrote; a figure with nothing to show is skipped."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402
import numpy as np  # noqa: E402

import sweep_stats as st  # noqa: E402
from sweep_data import fmt_value  # noqa: E402

CONTENT_COLORS = {0: "tab:blue", 1: "tab:orange", 2: "tab:green"}
MAX_POINTS = 200      # curves are drawn at every ceil(T / MAX_POINTS)-th iteration
# a curve's band is a visual aid, not a reported number: fewer resamples keep a large sweep's
# report within seconds (each costs a sort of points x runs)
CURVE_REPS = 500


def colors(n):
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def save(fig, prefix, tag):
    fig.tight_layout()
    out = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None})):
        path = f"{prefix}_{tag}.{ext}"
        fig.savefig(path, dpi=120, metadata=meta)
        out.append(path)
    plt.close(fig)
    return out


def draw_all(an, prefix):
    if not an.cells:
        return []
    out = []
    for fn in (draw_qoe, draw_profiles, draw_phases, draw_recovery, draw_pairs, draw_baseline,
               draw_plasticity):
        out += fn(an, prefix)
    for axis in an.sensitivity:
        out += draw_sensitivity(an, prefix, axis)
    return out


def _x(an, c):
    """Environment steps of the cell's longest run and the thinned row indices."""
    s = an.s
    ref = max(c.used, key=lambda j: s.written[j])
    rows = np.arange(0, c.length, max(1, math.ceil(c.length / MAX_POINTS)))
    return s.global_step[rows, ref].astype(np.float64), rows


def _curves(an, ax, data_of, tag):
    for c, col in zip(an.cells, colors(len(an.cells))):
        x, rows = _x(an, c)
        y = data_of(c)[rows][:, c.used]
        if not np.isfinite(y).any():
            continue
        centre, lo, hi = st.curve_band(y, min(an.reps, CURVE_REPS), an.rng(f"curve|{tag}|{c.label}"))
        ax.plot(x, centre, color=col, lw=1.4, label=f"{c.display} (n={len(c.used)})")
        ax.fill_between(x, lo, hi, color=col, alpha=0.18, lw=0)
    ax.set_xlabel("environment steps")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.grid(alpha=0.3)


def shade_phases(ax, an):
    c = max((c for c in an.cells if c.phases), key=lambda c: c.length, default=None)
    if c is None:
        return
    ref = max(c.used, key=lambda j: an.s.written[j])
    gs = an.s.global_step[:, ref].astype(np.float64)
    step = gs[0] if c.length else 0
    for p in c.phases:
        ax.axvspan(gs[p.start] - step, gs[p.stop - 1], color=CONTENT_COLORS.get(p.content, "tab:gray"),
                   alpha=0.07, lw=0)


def draw_qoe(an, prefix):
    fig, ax = plt.subplots(figsize=(8, 4.2))
    shade_phases(ax, an)
    _curves(an, ax, lambda c: an.s.qoe, "qoe")
    ax.set_ylabel("QoE (reward/chunk)")
    ax.set_title("QoE over training (IQM across runs, 95 % bootstrap band)", fontsize=9)
    handles, _ = ax.get_legend_handles_labels()
    handles += [mpatches.Patch(color=v, alpha=0.25, label=st.CONTENT_NAMES[k]) for k, v in CONTENT_COLORS.items()]
    ax.legend(handles=handles, fontsize=7, loc="best")
    return save(fig, prefix, "qoe")


def draw_profiles(an, prefix):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, w, title in zip(axes, ("whole", "final"), ("whole run", "last 10 %")):
        allv = np.concatenate([an.scores[c.label][w] for c in an.cells])
        allv = allv[np.isfinite(allv)]
        if not allv.size:
            continue
        pad = 0.05 * (allv.max() - allv.min()) or 0.1
        taus = np.linspace(allv.min() - pad, allv.max() + pad, 101)
        for c, col in zip(an.cells, colors(len(an.cells))):
            v = an.scores[c.label][w]
            if not np.isfinite(v).any():
                continue
            ax.plot(taus, st.performance_profile(v, taus), color=col, lw=1.4, label=c.display)
            lo, hi = st.performance_profile_band(v, taus, an.reps, an.rng(f"profile|{w}|{c.label}"))
            ax.fill_between(taus, lo, hi, color=col, alpha=0.15, lw=0)
        ax.set_xlabel(f"QoE threshold τ (mean over the {title})")
        ax.set_title(f"performance profile, {title}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of runs with score > τ")
    axes[0].legend(fontsize=7)
    return save(fig, prefix, "profiles")


def _errorbars(an, ax, series, labels):
    """series(c) -> list of Estimates per x position; one offset errorbar line per cell."""
    cells = an.cells
    width = 0.6 / max(1, len(cells))
    for i, (c, col) in enumerate(zip(cells, colors(len(cells)))):
        ests = series(c)
        if not ests:
            continue
        x = np.arange(len(ests)) + (i - (len(cells) - 1) / 2) * width
        y = np.array([e.point for e in ests])
        lo = np.array([e.lo if e.has_ci() else e.point for e in ests])
        hi = np.array([e.hi if e.has_ci() else e.point for e in ests])
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o-", ms=3, lw=1, capsize=2, color=col, label=c.display)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.grid(alpha=0.3)


def draw_phases(an, prefix):
    cells = [c for c in an.cells if c.phases]
    if not cells:
        return []
    ref = max(cells, key=lambda c: len(c.phases))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(ref.phases) + 3), 4))
    _errorbars(an, ax, lambda c: [sm["est"] for sm in an.phase[c.label]["per"]] if c.phases else [],
               [p.label for p in ref.phases])
    ax.set_ylabel("mean QoE over the phase")
    ax.set_title("QoE per content phase (IQM, 95 % CI)", fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, prefix, "phases")


def draw_recovery(an, prefix):
    cells = [c for c in an.cells if len(c.phases) > 1]
    if not cells:
        return []
    ref = max(cells, key=lambda c: len(c.phases))
    fig, axes = plt.subplots(1, 2, figsize=(min(14, max(10, 1.2 * len(ref.phases) + 2)), 4))
    labels = [f"→ {p.label}" for p in ref.phases[1:]]
    _errorbars(an, axes[0], lambda c: an.recovery[c.label]["frac"] if len(c.phases) > 1 else [], labels)
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[0].set_ylabel(f"early / final QoE (first {an.k} iterations)")
    axes[0].set_title("recovery after each switch (IQM, 95 % CI)", fontsize=9)
    _errorbars(an, axes[1], lambda c: an.recovery[c.label]["gap"] if len(c.phases) > 1 else [], labels)
    axes[1].axhline(0.0, color="k", lw=0.8, ls=":")
    axes[1].set_ylabel("early − final QoE")
    axes[1].set_title("recovery gap (IQM, 95 % CI)", fontsize=9)
    axes[0].legend(fontsize=7)
    return save(fig, prefix, "recovery")


def _forest(rows, labels, stat, ref, xlabel, title, prefix, tag, xlim=None):
    """One row per comparison, its point and 95 % CI, whole run (left) and last 10 % (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.3 * len(rows) + 1.5), sharey=True)
    y = np.arange(len(rows))[::-1]
    for ax, w, window in zip(axes, ("whole", "final"), ("whole run", "last 10 %")):
        for yi, r in zip(y, rows):
            e = r[f"{stat}_{w}"]
            if not np.isfinite(e.point):
                continue
            if e.has_ci():
                ax.plot([e.lo, e.hi], [yi, yi], color="tab:blue", lw=3, alpha=0.5)
            ax.plot([e.point], [yi], "o", color="tab:blue", ms=4)
        ax.axvline(ref, color="k", lw=0.8, ls=":")
        if xlim:
            ax.set_xlim(*xlim)
        ax.set_xlabel(xlabel)
        ax.set_title(f"{title}, {window}", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=7)
    return save(fig, prefix, tag)


def draw_pairs(an, prefix):
    if not an.pairs:
        return []
    labels = []
    for r in an.pairs:
        rest = an.s.describe(r["A"], skip=(r["axis"],))
        labels.append(f"{r['axis']}: {fmt_value(r['A'].axes[r['axis']])} > "
                      f"{fmt_value(r['B'].axes[r['axis']])}" + (f" ({rest})" if rest else ""))
    return _forest(an.pairs, labels, "poi", 0.5, "P(A > B)", "probability of improvement", prefix,
                   "pairs", xlim=(-0.02, 1.02))


def draw_baseline(an, prefix):
    """Each cell's paired difference to the baseline cell, with its CI."""
    if not an.baseline or not an.baseline["rows"]:
        return []
    rows = an.baseline["rows"]
    return _forest(rows, [r["A"].display for r in rows], "diff", 0.0,
                   f"paired Δ QoE vs {an.baseline['cell'].display}", "mean QoE", prefix, "baseline")


def draw_sensitivity(an, prefix, axis):
    groups = an.sensitivity[axis]
    xs = sorted({float(x) for g in groups for x in g["x"]})
    pos = [x for x in xs if x > 0]
    if not pos:
        return []
    zero_x = min(pos) / 10 ** 0.6           # where 0 is drawn, left of the log axis' data
    lo_x, hi_x = (zero_x if 0.0 in xs else min(pos)) / 10 ** 0.2, max(pos) * 10 ** 0.2
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, w, title in zip(axes, ("whole", "final"), ("whole run", "last 10 %")):
        table = an.whole if w == "whole" else an.final
        for g, col in zip(groups, colors(len(groups))):
            ests = [table[c.label]["est"] for c in g["cells"]]
            x = np.array([float(v) for v in g["x"]])
            y = np.array([e.point for e in ests])
            lo = np.array([e.lo if e.has_ci() else e.point for e in ests])
            hi = np.array([e.hi if e.has_ci() else e.point for e in ests])
            if len(x) == 1:                 # a reference group with one value: a flat line
                ax.axhline(y[0], color=col, ls="--", lw=1.2, label=f"{g['name']} ({axis}={fmt_value(g['x'][0])})")
                ax.axhspan(lo[0], hi[0], color=col, alpha=0.12, lw=0)
                continue
            p = x > 0
            ax.plot(x[p], y[p], "o-", color=col, ms=4, lw=1.4, label=g["name"])
            ax.fill_between(x[p], lo[p], hi[p], color=col, alpha=0.18, lw=0)
            if (~p).any():
                z = np.flatnonzero(~p)[0]
                ax.errorbar([zero_x], [y[z]], yerr=[[y[z] - lo[z]], [hi[z] - y[z]]], fmt="s",
                            color=col, ms=5, capsize=3)
        ax.set_xscale("log")
        ax.set_xlim(lo_x, hi_x)
        ticks = ([zero_x] if 0.0 in xs else []) + pos
        ax.set_xticks(ticks)
        ax.set_xticklabels(["0" if t == zero_x else f"{t:g}" for t in ticks], fontsize=7)
        ax.minorticks_off()
        if 0.0 in xs:
            ax.axvline(math.sqrt(zero_x * min(pos)), color="gray", lw=0.8, ls=(0, (2, 2)))
        ax.set_xlabel(f"{axis} (log axis; 0 drawn left of the dotted break)" if 0.0 in xs else f"{axis} (log axis)")
        ax.set_ylabel(f"QoE, mean over the {title} (IQM, 95 % CI)")
        ax.set_title(f"QoE vs {axis}, {title}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return save(fig, prefix, axis)


def draw_plasticity(an, prefix):
    titles = list(an.s.plasticity)
    if not titles:
        return []
    cols = min(3, len(titles))
    rows = math.ceil(len(titles) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, t in zip(axes.ravel(), titles):
        _curves(an, ax, lambda c, t=t: an.s.plasticity[t], f"plast|{t}")
        units = an.s.plasticity_sources[t][0]
        ax.set_title(f"{t} ({units})", fontsize=9)
    for ax in axes.ravel()[len(titles):]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=6)
    return save(fig, prefix, "plasticity")
