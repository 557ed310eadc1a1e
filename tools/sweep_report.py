"""sweep_report.py: the statistics report of a pamoe sweep, with the methods of rliable
(Agarwal et al., NeurIPS 2021).

usage: sweep_report.py DIR/sweep.h5 --out PREFIX [--k K] [--seed S] [--reps N]
                       [--baseline AXIS=VALUE[,AXIS=VALUE...]]

Writes PREFIX.md (tables with IQM [95 % CI] and n, definitions, figure links) and
PREFIX_<figure>.png / .pdf: qoe, profiles, phases, recovery, pairs, plasticity, and
noise_std / learning_rate sensitivity when the sweep has those axes. --baseline names one
cell (e.g. kind=moe,method=none) and adds every other cell against it: P(cell > baseline)
and the paired difference, whatever axes they differ in (figure: baseline). Failed runs are left
out and counted; runs still running count with the rows they have written. The same file
and --seed give the same report.
"""
import argparse
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweep_stats as st  # noqa: E402
from sweep_data import FINAL_FRACTION, QOE, SweepError, Sweep, fmt_value, same_value  # noqa: E402

SENSITIVITY_AXES = ("noise_std", "learning_rate")


class Analysis:
    """Every statistic of the report, computed once; figures and markdown read it."""

    def __init__(self, sweep, k, seed, reps, baseline=None):
        self.s, self.k, self.seed, self.reps = sweep, k, seed, reps
        self.cells = [c for c in sweep.cells if c.used]
        self.whole, self.final, self.phase, self.recovery = {}, {}, {}, {}
        self.mismatch = []        # (run id, phase) left out: content differs from the cell's
        self.scores = {}          # cell label -> dict(whole=, final=) per-run arrays
        for c in self.cells:
            self._cell(c)
        self.pairs = self._pairs()
        self.baseline = self._baseline(baseline) if baseline else None
        self.sensitivity = {a: self._sensitivity(a) for a in SENSITIVITY_AXES
                            if a in sweep.axes and len(sweep.value_order[a]) > 1
                            and all(isinstance(v, (int, float)) for v in sweep.value_order[a])}
        self.plasticity_final = {c.label: {t: self._est(f"plast|{c.label}|{t}", self._final_of(c, a))
                                           for t, a in sweep.plasticity.items()} for c in self.cells}

    def rng(self, tag):
        """A generator per statistic, so each CI depends only on --seed and its own data."""
        return np.random.default_rng([self.seed, zlib.crc32(tag.encode())])

    def _est(self, tag, scores, statistic=st.iqm_rows):
        return st.aggregate(scores, self.reps, self.rng(tag), statistic)

    def _final_of(self, c, a):
        lo = c.length - st.tail_rows(c.length, FINAL_FRACTION)
        return np.array([st.window_mean(a[:, j], lo, c.length) for j in c.used])

    def _cell(self, c):
        s = self.s
        whole = np.array([s.whole_score(c, j) for j in c.used])
        final = np.array([s.final_score(c, j) for j in c.used])
        self.scores[c.label] = dict(whole=whole, final=final)
        notdone = np.array([s.status(j) != "done" for j in c.used])
        self.whole[c.label] = self._summary(f"whole|{c.label}", whole, notdone)
        self.final[c.label] = self._summary(f"final|{c.label}", final, notdone)
        # phases: (runs, phases) of phase means; a phase a run has not finished is NaN
        ph = np.full((len(c.used), len(c.phases)), np.nan)
        fr = np.full((len(c.used), max(0, len(c.phases) - 1)), np.nan)
        gap = fr.copy()
        for i, j in enumerate(c.used):
            for p, phase in enumerate(c.phases):
                if not s.phase_complete(j, phase, p == len(c.phases) - 1):
                    continue
                if not s.phase_matches(j, phase):
                    self.mismatch.append((s.runs[j]["run_id"], phase.label))
                    continue
                ph[i, p] = st.window_mean(s.qoe[:, j], phase.start, phase.stop)
                if p:
                    r = st.recovery(s.qoe[:, j], phase, self.k, FINAL_FRACTION)
                    fr[i, p - 1], gap[i, p - 1] = r.fraction, r.gap
        self.phase[c.label] = dict(
            per=[self._summary(f"phase|{c.label}|{p}", ph[:, p]) for p in range(len(c.phases))],
            all=self._est(f"phase-all|{c.label}", ph), runs=int(np.isfinite(ph).any(axis=1).sum()))
        self.recovery[c.label] = dict(
            frac=[self._est(f"rec|{c.label}|{p}", fr[:, p]) for p in range(fr.shape[1])],
            gap=[self._est(f"gap|{c.label}|{p}", gap[:, p]) for p in range(gap.shape[1])],
            frac_all=self._est(f"rec-all|{c.label}", fr), gap_all=self._est(f"gap-all|{c.label}", gap),
            undefined=int((np.isfinite(gap) & ~np.isfinite(fr)).sum()), entries=int(np.isfinite(gap).sum()),
            runs_all=int(np.isfinite(gap).any(axis=1).sum()) if gap.size else 0)

    def _summary(self, tag, v, notdone=None):
        v = np.asarray(v, dtype=np.float64)
        f = v[np.isfinite(v)]
        e = self._est(tag, v)
        partial = int((np.isfinite(v) & notdone).sum()) if notdone is not None else 0
        return dict(est=e, mean=float(f.mean()) if f.size else float("nan"),
                    median=float(np.median(f)) if f.size else float("nan"), n=int(f.size), partial=partial)

    def _compare(self, A, B, **row):
        """P(A > B) and the paired difference A - B over shared seeds, whole run and last 10 %."""
        s = self.s
        row.update(A=A, B=B)
        for w in ("whole", "final"):
            xa, xb = self.scores[A.label][w], self.scores[B.label][w]
            tag = f"{w}|{A.label}|{B.label}"
            row[f"poi_{w}"] = st.probability_of_improvement_ci(xa, xb, self.reps, self.rng("poi|" + tag))
            ka = {s.key(j): v for j, v in zip(A.used, xa)}
            kb = {s.key(j): v for j, v in zip(B.used, xb)}
            row[f"diff_{w}"] = st.paired_difference(ka, kb, self.reps, self.rng("diff|" + tag))
        return row

    def _pairs(self):
        """Every pair of cells that differ in exactly one axis; A is the later value in the
        sweep file's order (so `kind = moe,pamoe` gives P(pamoe > moe))."""
        s, out = self.s, []
        for ia, a in enumerate(self.cells):
            for b in self.cells[:ia]:
                diff = [x for x in s.varying if a.axes[x] != b.axes[x]]
                if len(diff) != 1:
                    continue
                ax = diff[0]
                order = s.value_order[ax]
                A, B = (a, b) if order.index(a.axes[ax]) > order.index(b.axes[ax]) else (b, a)
                out.append(self._compare(A, B, axis=ax))
        out.sort(key=lambda r: (self.s.axes.index(r["axis"]),))
        return out

    def _baseline(self, spec):
        """The cell that spec (AXIS=VALUE,...) names, and every other cell compared with it."""
        want = {}
        for item in spec.split(","):
            axis, eq, value = (x.strip() for x in item.partition("="))
            if not eq or not axis:
                raise SweepError(f"--baseline: '{item}' is not AXIS=VALUE")
            if axis not in self.s.axes or axis == "seed":
                raise SweepError(f"--baseline: '{axis}' is not an axis of the sweep "
                                 f"(axes: {', '.join(a for a in self.s.axes if a != 'seed')})")
            want[axis] = value
        match = [c for c in self.cells if all(same_value(c.axes[a], v) for a, v in want.items())]
        if len(match) != 1:
            raise SweepError(f"--baseline {spec}: matches {len(match)} cells with data, not 1 "
                             f"(cells: {'; '.join(c.display for c in self.cells)})")
        base = match[0]
        return dict(cell=base, rows=[self._compare(c, base) for c in self.cells if c is not base])

    def _sensitivity(self, axis):
        """Curves of cell statistics against one axis, one per value of the other varying axes."""
        groups = {}
        for c in self.cells:
            rest = tuple((a, c.axes[a]) for a in self.s.varying if a != axis)
            groups.setdefault(rest, []).append(c)
        out = []
        for rest, cells in groups.items():
            cells = sorted(cells, key=lambda c: c.axes[axis])
            name = ", ".join(f"{a}={fmt_value(v)}" for a, v in rest) or "all cells"
            out.append(dict(name=name, cells=cells, x=[c.axes[axis] for c in cells]))
        return out


# ---- markdown ---------------------------------------------------------------------------

def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def num(v, digits=3):
    return f"{v:.{digits}f}" if np.isfinite(v) else "n/a"


def stat_cols(sm):
    n = f"{sm['n']} ({sm['partial']} not done)" if sm.get("partial") else sm["n"]
    return [n, sm["est"].fmt(), num(sm["mean"]), num(sm["median"])]


class Markdown:
    def __init__(self, an, figures, prefix):
        self.an, self.s, self.figs = an, an.s, figures
        self.base = os.path.basename(prefix)
        self.lines = []

    def add(self, *text):
        self.lines.extend(text)

    def fig(self, tag, caption):
        if tag in self.figs:
            self.add(f"![{caption}]({self.base}_{tag}.png)", "",
                     f"*{caption}* ([PDF]({self.base}_{tag}.pdf))", "")

    def write(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.lines).rstrip() + "\n")

    def build(self):
        an, s = self.an, self.s
        self.add(f"# Sweep report: {os.path.basename(s.path)}", "",
                 f"From `{s.path}` by `tools/sweep_report.py` (bootstrap seed {an.seed}, "
                 f"{an.reps} resamples, recovery window k = {an.k} iterations).", "")
        self.runs_section()
        self.definitions()
        if not an.cells:
            self.add("No run has QoE data yet: nothing to report.", "")
            return
        self.qoe_section()
        self.phase_section()
        self.recovery_section()
        self.pairs_section()
        self.baseline_section()
        self.add("## Performance profiles", "",
                 "Fraction of runs whose score is above each QoE threshold τ, per cell, with a "
                 "95 % percentile bootstrap band (runs resampled). A curve above another at every τ "
                 "dominates it stochastically.", "")
        self.fig("profiles", "Performance profiles: mean QoE over the whole run (left) and over the "
                 "last 10 % (right)")
        for axis in an.sensitivity:
            self.sensitivity_section(axis)
        self.plasticity_section()

    def runs_section(self):
        s = self.s
        self.add("## Runs", "")
        axes = [f"`{a}` ({', '.join(fmt_value(v) for v in s.value_order[a][:12])}"
                f"{', ...' if len(s.value_order[a]) > 12 else ''})" for a in s.axes]
        constant = f"; the constant axes {', '.join(s.constant)} are left out of the cell names" if s.constant else ""
        self.add(f"{s.n} runs in {len(s.cells)} cell(s); axes: {', '.join(axes) or 'none'}. "
                 f"Cells are the axis values other than seed{constant}.", "")
        counts = {}
        for j in range(s.n):
            counts[s.status(j)] = counts.get(s.status(j), 0) + 1
        failed = [s.runs[j]["run_id"] for j in range(s.n) if s.status(j) == "failed"]
        partial = [j for c in s.cells for j in c.used if s.status(j) != "done"]
        nodata = [s.runs[j]["run_id"] for c in s.cells for j in c.runs if j not in c.used]
        rows = [[k, v] for k, v in sorted(counts.items())]
        self.add(table(["status", "runs"], rows))
        if failed:
            self.add(f"- {len(failed)} failed run(s) are left out of every statistic: {_ids(failed)}.")
        if partial:
            ids = [f"{s.runs[j]['run_id']} ({s.written[j]} rows)" for j in partial]
            self.add(f"- {len(partial)} run(s) are not done and count with the rows written so far "
                     f"(NaN tails): {_ids(ids)}. "
                     "Whole-run means use those rows; the last-10 % window is that of the cell's longest run, "
                     "so a run that has not reached it is left out there; a content phase counts once "
                     "written to its end.")
        if nodata:
            self.add(f"- {len(nodata)} run(s) have no QoE yet (pending, or fewer than 51 episodes): {_ids(nodata)}.")
        if failed or partial or nodata:
            self.add("")
        if self.an.mismatch:
            ids = [f"{r} {p}" for r, p in self.an.mismatch]
            self.add(f"- Warning: {len(ids)} (run, phase) entries left out because the run's "
                     f"content schedule differs from its cell's: {_ids(ids)}.", "")

    def definitions(self):
        self.add("## Definitions", "",
                 f"- **QoE**: `/metrics/{QOE}`, the mean per-chunk reward of an episode, averaged over "
                 "the last 50 episodes (NaN until 51 episodes exist). One score per run is the mean of its "
                 "finite values over a window of iterations.",
                 "- **whole run**: all iterations of the run; **last 10 %**: the last ceil(0.1 T) of the "
                 "cell's T iterations (T = rows of the cell's longest run).",
                 "- **IQM**: interquartile mean, the mean of the runs' scores after dropping floor(n/4) "
                 "at each end (scipy `trim_mean(x, 0.25)`); robust to outlier runs, less noisy than the median.",
                 "- **[95 % CI]**: percentile interval (2.5th, 97.5th) of the statistic over "
                 f"{self.an.reps} stratified bootstrap resamples: runs drawn with replacement within each "
                 "task (a task is a phase or a switch where several are aggregated). `n/a` with 1 run.",
                 "- **n**: the number of runs (or pairs) that have a value for the statistic.",
                 "- **P(A > B)**: probability of improvement, the fraction of (run of A, run of B) pairs "
                 "where A scores higher, ties counting 1/2; CI from resampling A's and B's runs independently.",
                 "- **paired Δ**: mean over the seeds both cells have of score(A) − score(B), CI from "
                 "resampling those seeds.", "")

    def qoe_section(self):
        an = self.an
        self.add("## QoE per cell", "")
        for title, d in (("whole run", an.whole), ("last 10 % of iterations", an.final)):
            self.add(f"Mean QoE over the {title}:", "")
            self.add(table(["cell", "n", "IQM [95 % CI]", "mean", "median"],
                           [[c.display] + stat_cols(d[c.label]) for c in an.cells]))
        self.fig("qoe", "QoE over training: IQM across runs per cell with its 95 % bootstrap band; "
                 "content phases shaded")

    def phase_section(self):
        an = self.an
        cells = [c for c in an.cells if c.phases]
        if not cells:
            self.add("## Content phases", "", "No `/metrics/charts/content`: no phases.", "")
            return
        self.add("## Content phases", "",
                 "Mean QoE of each run over each content phase (each occurrence counted: documentary #1, "
                 "live #1, news #1, documentary #2, ...). *all phases* is the IQM over every (run, phase) "
                 "value with the bootstrap stratified by phase (rliable's aggregate over tasks).", "")
        rows = []
        for c in cells:
            d = an.phase[c.label]
            for p, phase in enumerate(c.phases):
                rows.append([c.display, phase.label, f"{phase.start + 1}-{phase.stop}"] + stat_cols(d["per"][p]))
            rows.append([c.display, "*all phases*", f"1-{c.length}", d["runs"], d["all"].fmt(), "", ""])
        self.add(table(["cell", "phase", "iterations", "n", "IQM [95 % CI]", "mean", "median"], rows))
        self.fig("phases", "Mean QoE per content phase: IQM with 95 % CI per cell")

    def recovery_section(self):
        an = self.an
        cells = [c for c in an.cells if len(c.phases) > 1]
        if not cells:
            return
        self.add("## Recovery after each QoE shift", "",
                 f"For each switch into a phase: **early** = mean QoE over the phase's first k = {an.k} "
                 "iterations (all of it if shorter); **final level** = mean QoE over the phase's last "
                 "10 % of iterations (ceil(0.1 × length), at least 1). **recovery** = early / final, "
                 "defined only when the final level is > 0; **gap** = early − final (QoE units, "
                 "always defined; 0 = fully recovered within k). The QoE is a 50-episode running mean, so "
                 "its first iterations after a switch still hold episodes of the previous content. "
                 "*all switches* aggregates every (run, switch) value, stratified by switch.", "")
        rows = []
        for c in cells:
            d = an.recovery[c.label]
            for p, phase in enumerate(c.phases[1:]):
                fr, gap = d["frac"][p], d["gap"][p]
                rows.append([c.display, f"→ {phase.label}", fr.n, fr.fmt(), gap.n, gap.fmt()])
            rows.append([c.display, "*all switches*", d["runs_all"], d["frac_all"].fmt(),
                         d["runs_all"], d["gap_all"].fmt()])
        self.add(table(["cell", "switch", "n", "recovery IQM [95 % CI]", "n", "gap IQM [95 % CI]"], rows))
        undefined = sum(an.recovery[c.label]["undefined"] for c in cells)
        total = sum(an.recovery[c.label]["entries"] for c in cells)
        if undefined:
            self.add(f"{undefined} of {total} (run, switch) values have a final level ≤ 0, so no recovery "
                     "fraction (their gap is counted).", "")
        self.fig("recovery", "Recovery after each switch: early / final QoE per cell (IQM, 95 % CI)")

    def pairs_section(self):
        an = self.an
        self.add("## Pairwise comparisons", "")
        if not an.pairs:
            self.add("One cell, or no two cells that differ in a single axis: no comparisons.", "")
            return
        self.add("Every pair of cells that differ in one axis. A is the value listed later in the sweep "
                 "file. P(A > B) > 0.5 with a CI above 0.5, or a paired Δ whose CI excludes 0, is a "
                 "difference the runs support. When every run of A beats every run of B, every resample "
                 "does too and the CI is [1.000, 1.000]: read it with the number of runs.", "")
        for w, title in (("whole", "whole run"), ("final", "last 10 %")):
            self.add(f"Mean QoE over the {title}:", "")
            rows = []
            for r in an.pairs:
                A, B = r["A"], r["B"]
                rest = self.s.describe(A, skip=(r["axis"],))
                p, d = r[f"poi_{w}"], r[f"diff_{w}"]
                rows.append([r["axis"], fmt_value(A.axes[r["axis"]]), fmt_value(B.axes[r["axis"]]), rest or "-",
                             p.n, p.fmt(), d.n, d.fmt()])
            self.add(table(["axis", "A", "B", "other axes", "runs A+B", "P(A > B) [95 % CI]",
                            "seeds", "paired Δ [95 % CI]"], rows))
        self.fig("pairs", "Probability of improvement P(A > B) with 95 % CIs: whole run (left), last 10 % (right)")

    def baseline_section(self):
        b = self.an.baseline
        if not b:
            return
        self.add(f"## Against the baseline {b['cell'].display}", "",
                 "Every other cell (A) against the baseline cell (B), whatever axes they differ in: "
                 "P(A > B) and the paired Δ = A − B over the seeds both have, for the mean QoE over "
                 "the whole run and over the last 10 %. A CI of Δ that excludes 0 is a difference "
                 "the runs support.", "")
        rows = []
        for r in b["rows"]:
            rows.append([r["A"].display] + [x for w in ("whole", "final")
                                            for x in (r[f"poi_{w}"].fmt(), r[f"diff_{w}"].n, r[f"diff_{w}"].fmt())])
        self.add(table(["cell A", "P(A > B) whole run", "seeds", "paired Δ whole run",
                        "P(A > B) last 10 %", "seeds", "paired Δ last 10 %"], rows))
        self.fig("baseline", f"Paired difference to {b['cell'].display} (mean, 95 % CI): "
                 "whole run (left), last 10 % (right)")

    def sensitivity_section(self, axis):
        an = self.an
        self.add(f"## Sensitivity to {axis}", "",
                 f"IQM of the mean QoE against `{axis}` on a log axis with the 95 % CI band, one curve per "
                 "value of the other axes (the shape of the paper's Figure 10, QoE vs noise std). A value "
                 "of 0 has no place on a log axis: it is drawn as a separate marker with its CI at the "
                 "left edge, labelled 0, not joined to the curve. A group with one value is a horizontal "
                 "reference line with its band.", "")
        rows = []
        for g in an.sensitivity[axis]:
            for c in g["cells"]:
                w, f = an.whole[c.label], an.final[c.label]
                rows.append([g["name"], fmt_value(c.axes[axis]), w["n"], w["est"].fmt(), f["n"], f["est"].fmt()])
        self.add(table(["curve", axis, "n", "whole run IQM [95 % CI]", "n", "last 10 % IQM [95 % CI]"], rows))
        self.fig(axis, f"QoE against {axis} (log axis): IQM with 95 % CI band")

    def plasticity_section(self):
        an, s = self.an, self.s
        if not s.plasticity:
            return
        self.add("## Dormant neurons, ranks and weights", "",
                 "Per cell over training: the IQM across runs with a 95 % bootstrap band. Metrics used: "
                 + "; ".join(f"**{t}** = " + (f"`{sel}`" if "/" in sel else f"mean of the {n} `*{sel}` datasets")
                             for t, (u, sel, n) in s.plasticity_sources.items())
                 + " (means over experts, nets and layers are unweighted). The table gives each run's mean over "
                 "the last 10 % of iterations, IQM [95 % CI] across runs.", "")
        titles = list(s.plasticity)
        rows = [[c.display, len(c.used)] + [an.plasticity_final[c.label][t].fmt() for t in titles] for c in an.cells]
        self.add(table(["cell", "n"] + titles, rows))
        self.fig("plasticity", "Dormant fraction, ranks and mean |W| over training: IQM per cell with 95 % band")


def _ids(items, limit=12):
    items = [str(i) for i in items]
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", help="DIR/sweep.h5 written by `pamoe sweep run`")
    ap.add_argument("--out", required=True, help="output prefix: PREFIX.md, PREFIX_<figure>.png/.pdf")
    ap.add_argument("--k", type=int, default=10, help="recovery window: iterations after a switch (default 10)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    ap.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    ap.add_argument("--baseline", metavar="AXIS=VALUE[,...]",
                    help="a cell to compare every other cell with (e.g. kind=moe,method=none)")
    a = ap.parse_args(argv)
    if a.k < 1 or a.reps < 1 or a.seed < 0:
        ap.error("--k and --reps must be >= 1 and --seed >= 0")
    try:
        sweep = Sweep(a.sweep)
        an = Analysis(sweep, a.k, a.seed, a.reps, a.baseline)
    except SweepError as e:
        print(f"sweep_report.py: {e}", file=sys.stderr)
        return 1
    out_dir = os.path.dirname(a.out)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    import sweep_figures  # matplotlib only when there is something to draw
    written = sweep_figures.draw_all(an, a.out)
    figs = {os.path.basename(p)[len(os.path.basename(a.out)) + 1:].rsplit(".", 1)[0] for p in written}
    md = Markdown(an, figs, a.out)
    md.build()
    md.write(a.out + ".md")
    for p in [a.out + ".md"] + written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
