#!/bin/sh
# tools/ end to end: two fake run files written by the C writer (test_h5metrics --fake-run,
# the trainer's full metric list), then plot_run.py must produce every figure as non-empty
# PNG and PDF, the IQM helper must give known values, and summarize_run.py must print the
# last row. $1 = build dir.
BUILD=${1:-build}
PY=$(sh tools/run_python.sh -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -z "$PY" ]; then echo "SKIP: no python3 with h5py/numpy/matplotlib"; exit 77; fi
DIR=$(mktemp -d /tmp/pamoe_plots_XXXXXX) || exit 1
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$BUILD/tests/test_h5metrics" --fake-run "$DIR/a.h5" 1 40 || fail "fake run a"
"$BUILD/tests/test_h5metrics" --fake-run "$DIR/b.h5" 2 30 || fail "fake run b"

# IQM: 25-75 trimmed mean ignoring NaN; bootstrap band contains the IQM of constant data
"$PY" - <<'PYEOF' || fail "iqm/bootstrap values"
import sys
sys.path.insert(0, "tools")
import numpy as np
from plot_run import iqm, bootstrap_band, smooth
assert iqm([1, 2, 3, 4, 100, 5, 6, 7]) == 4.5
assert iqm([1.0, 2.0, 30.0]) == 11.0                     # n < 4: plain mean
assert iqm([np.nan, 1, 2, 3, 4, 5, 6, 7, 100]) == 4.5    # NaN ignored
assert np.isnan(iqm([np.nan, np.nan]))
y = np.tile(np.arange(5.0)[:, None], (1, 6))
lo, hi = bootstrap_band(y, 50, np.random.default_rng(0))
assert np.array_equal(lo, np.arange(5.0)) and np.array_equal(hi, np.arange(5.0))
from summarize_run import trimmed, bar
# 20 values 1..20: paper trim keeps sorted[6:19] = 7..19 -> 13; standard keeps [5:15] = 6..15 -> 10.5
assert trimmed(list(range(20, 0, -1)) + [float("nan")], 0.30, 0.95) == 13.0
assert trimmed(list(range(1, 21)), 0.25, 0.75) == 10.5
m, e = bar([1.0, 3.0])
assert m == 2.0 and abs(e - 1.0 / 2 ** 0.5) < 1e-12
assert np.allclose(smooth(np.array([[1.0], [3.0], [5.0], [7.0]]), 2)[:, 0], [1, 2, 4, 6])
print("iqm ok")
PYEOF

sh tools/run_python.sh tools/plot_run.py "$DIR/a.h5" "$DIR/b.h5" --out "$DIR/out/ab" --bootstrap 100 \
    > "$DIR/list.txt" || fail "plot_run.py on two files"
sh tools/run_python.sh tools/plot_run.py "$DIR/a.h5" "$DIR/b.h5" --out "$DIR/out/p" --aggregate paper \
    --smooth 5 > /dev/null || fail "plot_run.py --aggregate paper --smooth 5"
for p in ab p; do
    for fig in qoe qoe_components dormant ranks router weights losses; do
        for ext in png pdf; do
            f="$DIR/out/${p}_$fig.$ext"
            [ -s "$f" ] || fail "$f missing or empty"
        done
        head -c 8 "$DIR/out/${p}_$fig.png" | od -An -c | grep -q 'P   N   G' || fail "${p}_$fig.png is not a PNG"
        head -c 5 "$DIR/out/${p}_$fig.pdf" | grep -q '%PDF' || fail "${p}_$fig.pdf is not a PDF"
    done
done
[ "$(wc -l < "$DIR/list.txt")" -eq 14 ] || fail "plot_run.py listed $(wc -l < "$DIR/list.txt") files, want 14"

# summary: 40 rows, content of the last row is news (2), fake learning rate 0.001
sh tools/run_python.sh tools/summarize_run.py "$DIR/a.h5" --config > "$DIR/sum.txt" || fail "summarize_run.py"
grep -q "40 rows, last iteration 40, global step 80000, 2 run(s)" "$DIR/sum.txt" || fail "summary header: $(head -1 "$DIR/sum.txt")"
grep -Eq '^charts/content +0/1/2 +2 +2$' "$DIR/sum.txt" || fail "summary content row"
grep -Eq '^charts/learning_rate +1 +0.001 +0.001$' "$DIR/sum.txt" || fail "summary learning rate row"
grep -q "config policy_type = dmoe" "$DIR/sum.txt" || fail "summary config"
# bad input: a clear message, nonzero exit
sh tools/run_python.sh tools/plot_run.py "$DIR/nope.h5" --out "$DIR/x" 2> "$DIR/err.txt" && fail "missing file accepted"
grep -q "nope.h5: no such file" "$DIR/err.txt" || fail "missing-file message: $(cat "$DIR/err.txt")"

sh tools/run_python.sh tools/summarize_run.py "$DIR/a.h5" "$DIR/b.h5" --bars > "$DIR/bars.txt" || fail "--bars"
grep -Eq '^Reward/Episode Mean Return .* 4$' "$DIR/bars.txt" || fail "bars: $(cat "$DIR/bars.txt")"

# MLP run with a single run column: no router metrics, so no router figure; plain curves
"$BUILD/tests/test_h5metrics" --fake-run "$DIR/m.h5" 3 20 mlp || fail "fake mlp run"
sh tools/run_python.sh tools/plot_run.py "$DIR/m.h5" --out "$DIR/out/m" > "$DIR/mlist.txt" || fail "plot_run.py mlp"
[ "$(wc -l < "$DIR/mlist.txt")" -eq 12 ] || fail "mlp: $(wc -l < "$DIR/mlist.txt") files, want 12"
[ -e "$DIR/out/m_router.png" ] && fail "mlp run has a router figure"
[ -s "$DIR/out/m_weights.pdf" ] || fail "mlp weights figure"
# a file with no rows yet (trainer just started): clear messages
"$BUILD/tests/test_h5metrics" --fake-run "$DIR/z.h5" 4 0 || fail "empty run"
sh tools/run_python.sh tools/summarize_run.py "$DIR/z.h5" | grep -q "no iterations written yet" || fail "empty summary"
sh tools/run_python.sh tools/plot_run.py "$DIR/z.h5" --out "$DIR/out/z" 2> "$DIR/zerr.txt" && fail "empty run plotted"
grep -q "no iterations written yet" "$DIR/zerr.txt" || fail "empty plot message: $(cat "$DIR/zerr.txt")"
echo "plots: 14 + 12 figures, summary and IQM checks ok"
