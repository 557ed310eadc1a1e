"""Tests of tools/sweep_stats.py and tools/sweep_data.py / sweep_report.py's analysis:
hand-worked values, scipy.stats cross-checks, planted effects, and the edge cases of a sweep
file (failed, running and pending runs, one cell, one run).

    python3 tests/python/test_sweep_stats.py        (from the repository root)
"""
import os
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, HERE)
import sweep_fixture as fx  # noqa: E402
import sweep_stats as st  # noqa: E402
from sweep_data import Sweep, SweepError  # noqa: E402
from sweep_report import Analysis, Markdown  # noqa: E402

try:
    import scipy.stats as sps
except ImportError:                      # scripts/setup.sh installs python3-scipy
    sps = None
try:
    import pandas
except ImportError:                      # scripts/setup.sh installs python3-pandas
    pandas = None


def rng(seed=0):
    return np.random.default_rng(seed)


class TestIqm(unittest.TestCase):
    def test_hand_worked(self):
        # n = 8: drop 2 at each end of 1..7,100 -> mean(3, 4, 5, 6) = 4.5
        self.assertEqual(st.iqm([1, 2, 3, 4, 100, 5, 6, 7]), 4.5)
        # n = 5: drop 1 at each end of 1,2,3,10,50 -> mean(2, 3, 10) = 5
        self.assertEqual(st.iqm([10, 1, 3, 2, 50]), 5.0)
        # n = 3: floor(3/4) = 0, the plain mean
        self.assertEqual(st.iqm([1.0, 2.0, 30.0]), 11.0)
        self.assertEqual(st.iqm([np.nan, 1, 2, 3, 4, 5, 6, 7, 100]), 4.5)
        self.assertTrue(np.isnan(st.iqm([np.nan, np.nan])))
        np.testing.assert_array_equal(st.iqm_rows([[1, 2, 3, 4, 100, 5, 6, 7], [8] * 8]), [4.5, 8.0])

    @unittest.skipIf(sps is None, "scipy missing")
    def test_matches_scipy_trim_mean(self):
        r = rng(1)
        for n in range(1, 40):
            x = r.normal(size=n)
            self.assertAlmostEqual(st.iqm(x), sps.trim_mean(x, 0.25), places=12)


class TestBootstrap(unittest.TestCase):
    def test_stratified_keeps_each_task_size(self):
        # task 0 is all 0 and task 1 all 1: a stratified resample always holds three of each,
        # so every bootstrap mean is exactly 0.5 (pooling the runs would vary it)
        est = st.aggregate([[0, 1], [0, 1], [0, 1]], 500, rng(), st.mean_rows)
        self.assertEqual((est.point, est.lo, est.hi, est.n), (0.5, 0.5, 0.5, 6))

    def test_stratified_resample_distribution(self):
        # task 0 = {0, 2}, task 1 = {10, 10}: resample mean = (a + b + 20) / 4 with a, b drawn
        # from {0, 2}: 5 with p 1/4, 5.5 with p 1/2, 6 with p 1/4
        boot = st.mean_rows(st.stratified_resample(st.task_columns([[0, 10], [2, 10]]), 40000, rng(2)))
        vals, counts = np.unique(boot, return_counts=True)
        np.testing.assert_array_equal(vals, [5.0, 5.5, 6.0])
        np.testing.assert_allclose(counts / 40000, [0.25, 0.5, 0.25], atol=0.01)

    def test_one_run_has_no_ci(self):
        e = st.aggregate([3.0, np.nan], 100, rng())
        self.assertEqual((e.point, e.n, e.has_ci()), (3.0, 1, False))
        self.assertEqual(e.fmt(), "3.000 [n/a]")
        e = st.aggregate([np.nan], 100, rng())
        self.assertEqual((e.n, e.fmt()), (0, "n/a"))

    def test_deterministic(self):
        x = rng(3).normal(size=12)
        a = st.aggregate(x, 300, np.random.default_rng(5))
        b = st.aggregate(x, 300, np.random.default_rng(5))
        c = st.aggregate(x, 300, np.random.default_rng(6))
        self.assertEqual(a, b)
        self.assertNotEqual((a.lo, a.hi), (c.lo, c.hi))

    @unittest.skipIf(sps is None, "scipy missing")
    def test_percentile_ci_matches_scipy(self):
        # one task: the stratified bootstrap is the ordinary one, so scipy's percentile CI of
        # the same statistic must agree within Monte-Carlo error
        x = rng(4).normal(size=24)
        reps = 20000
        mine = st.aggregate(x, reps, rng(5))
        ref = sps.bootstrap((x,), lambda a, axis: sps.trim_mean(a, 0.25, axis=axis), n_resamples=reps,
                            method="percentile", random_state=np.random.default_rng(6)).confidence_interval
        spread = np.std(st.iqm_rows(st.stratified_resample([x], reps, rng(7))))
        self.assertLess(abs(mine.lo - ref.low), 0.1 * spread)
        self.assertLess(abs(mine.hi - ref.high), 0.1 * spread)
        # a mistaken interval (e.g. 90 % instead of 95 %) is further off than that
        wrong = np.percentile(st.iqm_rows(st.stratified_resample([x], reps, rng(8))), 5)
        self.assertGreater(abs(wrong - ref.low), 0.2 * spread)


class TestProbabilityOfImprovement(unittest.TestCase):
    def test_hand_worked(self):
        # x = 1,2,3 vs y = 2,2,0: pairs x > y: (1,0) (2,0) (3,*)x3 = 5, ties (2,2)x2 = 1 -> 6/9
        self.assertAlmostEqual(st.probability_of_improvement([1, 2, 3], [2, 2, 0]), 6 / 9)
        self.assertAlmostEqual(st.probability_of_improvement([2, 2, 0], [1, 2, 3]), 3 / 9)
        # two tasks: the mean of 6/9 and a tie 5 vs 5 (1/2) = 7/12
        x = [[1, 5], [2, np.nan], [3, np.nan]]
        y = [[2, 5], [2, np.nan], [0, np.nan]]
        self.assertAlmostEqual(st.probability_of_improvement(x, y), 7 / 12)

    def test_ci_edges(self):
        e = st.probability_of_improvement_ci([1, 1, 1], [0, 0], 200, rng())
        self.assertEqual((e.point, e.lo, e.hi, e.n), (1.0, 1.0, 1.0, 5))
        e = st.probability_of_improvement_ci([1], [0, 1], 200, rng())
        self.assertEqual((e.point, e.has_ci()), (0.75, False))

    @unittest.skipIf(sps is None, "scipy missing")
    def test_ci_matches_scipy(self):
        # rliable resamples X and Y independently: scipy's two-sample bootstrap does the same
        r = rng(9)
        x, y = r.normal(0.3, 1, 15), r.normal(0, 1, 12)

        def poi(a, b, axis=-1):
            d = np.expand_dims(a, -1) - np.expand_dims(b, -2)
            return ((d > 0).mean(axis=(-1, -2)) + 0.5 * (d == 0).mean(axis=(-1, -2)))
        reps = 10000
        mine = st.probability_of_improvement_ci(x, y, reps, rng(10))
        ref = sps.bootstrap((x, y), poi, n_resamples=reps, method="percentile", vectorized=True,
                            random_state=np.random.default_rng(11)).confidence_interval
        self.assertAlmostEqual(mine.point, poi(x, y), places=12)
        self.assertLess(abs(mine.lo - ref.low), 0.02)
        self.assertLess(abs(mine.hi - ref.high), 0.02)


class TestPairedDifference(unittest.TestCase):
    def test_hand_worked(self):
        # shared seeds 1, 2: differences 2 and 1 -> mean 1.5; resample means are 1, 1.5 or 2
        # with p 1/4, 1/2, 1/4, so the 95 % percentile interval is [1, 2]
        e = st.paired_difference({1: 3, 2: 5, 3: 4}, {1: 1, 2: 4, 4: 9}, 2000, rng())
        self.assertEqual((e.point, e.n, e.lo, e.hi), (1.5, 2, 1.0, 2.0))
        e = st.paired_difference({1: 3, 2: np.nan}, {1: 1, 2: 4}, 2000, rng())
        self.assertEqual((e.point, e.n, e.has_ci()), (2.0, 1, False))

    @unittest.skipIf(sps is None, "scipy missing")
    def test_ci_matches_scipy(self):
        r = rng(12)
        a, b = r.normal(size=16), r.normal(size=16)
        reps = 20000
        mine = st.paired_difference(dict(enumerate(a)), dict(enumerate(b)), reps, rng(13))
        ref = sps.bootstrap((a, b), lambda u, v, axis: np.mean(u - v, axis=axis), paired=True,
                            n_resamples=reps, method="percentile",
                            random_state=np.random.default_rng(14)).confidence_interval
        se = np.std(a - b) / 4
        self.assertLess(abs(mine.lo - ref.low), 0.1 * se)
        self.assertLess(abs(mine.hi - ref.high), 0.1 * se)


class TestPlantedEffects(unittest.TestCase):
    def test_effect_detected(self):
        r = rng(15)
        b = r.normal(0, 0.5, 10)
        a = b + 1.0 + r.normal(0, 0.1, 10)
        poi = st.probability_of_improvement_ci(a, b, 2000, rng(16))
        diff = st.paired_difference(dict(enumerate(a)), dict(enumerate(b)), 2000, rng(17))
        self.assertGreater(poi.lo, 0.5)
        self.assertGreater(diff.lo, 0.0)
        self.assertLess(abs(diff.point - 1.0), 0.1)

    def test_no_effect_not_detected(self):
        r = rng(18)
        b = r.normal(0, 0.5, 10)
        a = r.normal(0, 0.5, 10)
        poi = st.probability_of_improvement_ci(a, b, 2000, rng(19))
        diff = st.paired_difference(dict(enumerate(a)), dict(enumerate(b)), 2000, rng(20))
        self.assertTrue(poi.lo < 0.5 < poi.hi)
        self.assertTrue(diff.lo < 0.0 < diff.hi)


class TestPhasesAndRecovery(unittest.TestCase):
    def test_segmentation(self):
        p = st.segment_phases([0, 0, 1, 1, 2, 2, 0, 0, 1, np.nan, 2])
        self.assertEqual([(x.label, x.start, x.stop) for x in p],
                         [("documentary #1", 0, 2), ("live #1", 2, 4), ("news #1", 4, 6),
                          ("documentary #2", 6, 8), ("live #2", 8, 9)])
        self.assertEqual(st.segment_phases([np.nan, 0]), [])

    def test_tail_rows(self):
        self.assertEqual([st.tail_rows(n, 0.1) for n in (0, 1, 5, 10, 11, 30, 100)], [0, 1, 1, 1, 2, 3, 10])

    def test_recovery_hand_worked(self):
        content = [0] * 4 + [1] * 10
        qoe = [9] * 4 + list(range(1, 11))
        live = st.segment_phases(content)[1]
        r = st.recovery(np.array(qoe, float), live, k=2)
        # early = mean(1, 2) = 1.5; final = last ceil(0.1 * 10) = 1 row = 10
        self.assertEqual((r.early, r.final, r.fraction, r.gap), (1.5, 10.0, 0.15, -8.5))
        # k longer than the phase: the whole phase; NaN rows are skipped
        q = np.array([9] * 4 + [np.nan, 2, 4, 6, 8, 10, 12, 14, 16, 18], float)
        r = st.recovery(q, live, k=50)
        self.assertEqual((r.early, r.final), (10.0, 18.0))
        # a final level <= 0 has no recovery fraction, the gap stays
        r = st.recovery(-np.array(qoe, float), live, k=2)
        self.assertTrue(np.isnan(r.fraction))
        self.assertEqual(r.gap, 8.5)


class TestSweepFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.grid = os.path.join(cls.tmp.name, "grid.h5")
        fx.grid_sweep(cls.grid)
        cls.an = Analysis(Sweep(cls.grid), k=2, seed=0, reps=400)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cell(self, kind, noise):
        return f"kind={kind},noise_std={noise:g},learning_rate=0.001"

    @unittest.skipIf(pandas is None, "pandas missing")
    def test_layout_reads_with_pandas(self):
        with h5py.File(self.grid, "r") as f:
            df = pandas.DataFrame(f["runs"][()])
        self.assertEqual(list(df.columns[:5]), ["run_id", "task", "status", "iterations_done", "cell"])
        self.assertEqual(df.loc[0, "kind"], b"moe")
        self.assertEqual(len(df), 24)

    def test_status_handling(self):
        an = self.an
        # failed run r0001 (moe, noise 0, seed 2) left out
        self.assertEqual(an.whole[self.cell("moe", 0.0)]["n"], 3)
        # running r0005 (30 of 60 rows): counts over the whole run, not in the last 10 %
        self.assertEqual(an.whole[self.cell("moe", 1e-3)]["n"], 4)
        self.assertEqual(an.whole[self.cell("moe", 1e-3)]["partial"], 1)
        self.assertEqual(an.final[self.cell("moe", 1e-3)]["n"], 3)
        # its phases: 5 of 10 written (the 5th ends where the longer runs' 6th starts), so
        # the 6th on counts 3 runs
        per = an.phase[self.cell("moe", 1e-3)]["per"]
        self.assertEqual([p["n"] for p in per], [4] * 5 + [3] * 5)
        # pending r0023 has no data
        self.assertEqual(an.whole[self.cell("pamoe", 5e-3)]["n"], 3)

    def test_planted_effects(self):
        an = self.an
        kinds = [r for r in an.pairs if r["axis"] == "kind"]
        self.assertEqual(len(kinds), 3)
        for r in kinds:
            self.assertEqual((r["A"].axes["kind"], r["B"].axes["kind"]), ("pamoe", "moe"))
            self.assertGreater(r["poi_final"].lo, 0.5)
            self.assertTrue(r["diff_final"].excludes(0.0))
            # same seed noise in both kinds: every fully written pair differs by exactly 1.0
            self.assertAlmostEqual(r["diff_final"].point, 1.0, places=9)
        # noise optimum at 1e-3 for both kinds
        for kind in ("moe", "pamoe"):
            q = [an.final[self.cell(kind, n)]["est"].point for n in (0.0, 1e-3, 5e-3)]
            self.assertEqual(int(np.argmax(q)), 1)
        self.assertEqual(len(an.pairs), 3 + 2 * 3)       # kind pairs + noise pairs per kind
        # recovery: the planted dip is 0.6, 0.4, 0.2 below trend in the first 3 rows of a phase
        gap = an.recovery[self.cell("pamoe", 0.0)]["gap"][0]
        # phase of 6 rows, k = 2: early = trend(0,1) - 0.5; final = trend(5) -> gap = -0.5 - 4.5/60
        self.assertAlmostEqual(gap.point, -0.5 - 4.5 * 0.5 / 60, places=9)

    def test_plasticity_curves(self):
        s = self.an.s
        self.assertEqual(sorted(s.plasticity), sorted(["dormant fraction", "zero-activation fraction",
                                                        "effective rank", "rank", "approximate rank",
                                                        "weight magnitude"]))
        self.assertEqual(s.plasticity_sources["rank"][2], 12)       # 3 experts x 2 nets x 2 layers
        d = self.an.plasticity_final
        self.assertLess(d[self.cell("pamoe", 0.0)]["dormant fraction"].point,
                        d[self.cell("moe", 0.0)]["dormant fraction"].point)

    def test_report_deterministic(self):
        a = Markdown(Analysis(Sweep(self.grid), 2, 7, 200), set(), "x")
        b = Markdown(Analysis(Sweep(self.grid), 2, 7, 200), set(), "x")
        c = Markdown(Analysis(Sweep(self.grid), 2, 8, 200), set(), "x")
        for m in (a, b, c):
            m.build()
        self.assertEqual(a.lines, b.lines)
        self.assertNotEqual(a.lines, c.lines)

    def test_single_cell_one_run(self):
        p = os.path.join(self.tmp.name, "single.h5")
        fx.single_sweep(p)
        an = Analysis(Sweep(p), 10, 0, 200)
        self.assertEqual(an.pairs, [])
        e = an.whole["kind=pamoe"]["est"]
        self.assertEqual((e.n, e.has_ci()), (1, False))
        md = Markdown(an, set(), "x")
        md.build()
        text = "\n".join(md.lines)
        self.assertIn("| kind=pamoe | 1 | ", text)
        self.assertIn("[n/a]", text)
        self.assertIn("no comparisons", text)

    def test_zero_fill_is_not_written(self):
        # a virtual dataset read past its sources gives the fill value, 0 unless set to -1
        p = os.path.join(self.tmp.name, "zero.h5")
        with h5py.File(self.grid, "r") as g, h5py.File(p, "w") as f:
            f.create_dataset("runs", data=g["runs"][()])
            f.copy(g["metrics"], "metrics")
            it = f["metrics/iteration"][()]
            f["metrics/iteration"][...] = np.where(it < 0, 0, it)
        an = Analysis(Sweep(p), k=2, seed=0, reps=400)
        for c in self.an.cells:
            self.assertEqual(an.whole[c.label], self.an.whole[c.label])
            self.assertEqual(an.final[c.label], self.an.final[c.label])

    def test_content_mismatch_left_out_with_warning(self):
        p = os.path.join(self.tmp.name, "mismatch.h5")
        with h5py.File(self.grid, "r") as g, h5py.File(p, "w") as f:
            f.create_dataset("runs", data=g["runs"][()])
            f.copy(g["metrics"], "metrics")
            f["metrics/charts/content"][6:12, 2] = 2        # r0002: news where its cell has live #1
        an = Analysis(Sweep(p), k=2, seed=0, reps=100)
        self.assertEqual(an.mismatch, [("r0002", "live #1")])
        per = an.phase[self.cell("moe", 0.0)]["per"]
        self.assertEqual([x["n"] for x in per[:3]], [3, 2, 3])
        md = Markdown(an, set(), "x")
        md.build()
        self.assertIn("content schedule differs from its cell's: r0002 live #1.", "\n".join(md.lines))

    def test_errors_name_the_file_and_dataset(self):
        p = os.path.join(self.tmp.name, "bad.h5")
        with h5py.File(p, "w") as f:
            f.create_dataset("x", data=[1])
        with self.assertRaisesRegex(SweepError, "bad.h5: no /runs dataset"):
            Sweep(p)
        with h5py.File(self.grid, "r") as g, h5py.File(p, "w") as f:
            f.create_dataset("runs", data=g["runs"][()])
            f.copy(g["metrics"], "metrics")
            del f["metrics/charts/content"]
            f["metrics/charts/content"] = np.zeros((60, 3))
        with self.assertRaisesRegex(SweepError, r"/metrics/charts/content has shape \(60, 3\)"):
            Sweep(p)
        with self.assertRaisesRegex(SweepError, "nope.h5: no such file"):
            Sweep(os.path.join(self.tmp.name, "nope.h5"))


if __name__ == "__main__":
    unittest.main(verbosity=1)
