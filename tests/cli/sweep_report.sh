#!/bin/sh
# tools/sweep_report.py: the statistics unit tests (tests/python/test_sweep_stats.py), then
# the report end to end on synthetic sweep.h5 files in the layout of `pamoe sweep`
# (tests/python/sweep_fixture.py): a grid with planted effects and failed / running /
# pending runs, one cell with one run, and a sweep whose runs are all still running.
# $1 = build dir (unused: no C binary needed).
PY=$(sh tools/run_python.sh -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -z "$PY" ]; then echo "SKIP: no python3 with h5py/numpy/matplotlib"; exit 77; fi
"$PY" -c 'import scipy' 2>/dev/null || { echo "FAIL: scipy missing (sh scripts/setup.sh installs python3-scipy)"; exit 1; }
DIR=$(mktemp -d /tmp/pamoe_sweep_report_XXXXXX) || exit 1
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
report() { sh tools/run_python.sh tools/sweep_report.py "$@"; }

"$PY" tests/python/test_sweep_stats.py || fail "unit tests"

"$PY" tests/python/sweep_fixture.py "$DIR/grid.h5" --scenario grid || fail "fixture grid"
report --help | grep -q "usage: sweep_report.py" || fail "--help"
report "$DIR/grid.h5" --out "$DIR/out/g" --reps 200 --k 2 > "$DIR/list.txt" || fail "report on the grid"
for fig in qoe profiles phases recovery pairs plasticity noise_std; do
    for ext in png pdf; do [ -s "$DIR/out/g_$fig.$ext" ] || fail "g_$fig.$ext missing or empty"; done
    head -c 8 "$DIR/out/g_$fig.png" | od -An -c | grep -q 'P   N   G' || fail "g_$fig.png is not a PNG"
    head -c 5 "$DIR/out/g_$fig.pdf" | grep -q '%PDF' || fail "g_$fig.pdf is not a PDF"
    grep -q "](g_$fig.png)" "$DIR/out/g.md" || fail "g.md does not link g_$fig.png"
done
[ -e "$DIR/out/g_learning_rate.png" ] && fail "learning_rate has one value: no sensitivity figure"
[ "$(wc -l < "$DIR/list.txt")" -eq 15 ] || fail "listed $(wc -l < "$DIR/list.txt") files, want 15"
md="$DIR/out/g.md"
has() { grep -qF -- "$1" "$md" || fail "g.md lacks: $1"; }
has "24 runs in 6 cell(s)"
has "| failed | 1 |"
has "1 failed run(s) are left out of every statistic: r0001."
has "r0005 (30 rows)"
has "have no QoE yet (pending, or fewer than 51 episodes): r0023."
# QoE tables: the failed run is out (n = 3), the running one counts over the whole run only
has "| kind=moe, noise_std=0 | 3 | "
has "| kind=moe, noise_std=0.001 | 4 (1 not done) | "
has "| kind=moe, noise_std=0.001 | 3 | 0.954 ["
# phases and recovery rows
has "| kind=pamoe, noise_std=0 | documentary #2 | 19-24 | 4 | "
has "| kind=pamoe, noise_std=0 | → live #1 | 4 | "
# the planted effect pamoe = moe + 1.0: P = 1 and paired difference 1.0 on every seed
has "| kind | pamoe | moe | noise_std=0 | 7 | 1.000 [1.000, 1.000] | 3 | 1.000 [1.000, 1.000] |"
has "| kind=moe | 0 | 3 | "
has "mean of the 12 \`*_layer_eff_rank\` datasets"

# --baseline: every cell against kind=moe,noise_std=0, across axes; the planted pamoe = moe + 1.0
# at noise_std=0 gives P = 1 and Δ = 1; a baseline against itself is not listed
report "$DIR/grid.h5" --out "$DIR/out/b" --reps 200 --k 2 --baseline "kind=moe,noise_std=0.0" > /dev/null || fail "--baseline"
bmd="$DIR/out/b.md"
grep -qF "## Against the baseline kind=moe, noise_std=0" "$bmd" || fail "baseline section"
grep -qF "| kind=pamoe, noise_std=0 | 1.000 [1.000, 1.000] | 3 | 1.000 [1.000, 1.000] |" "$bmd" || fail "baseline: planted effect row"
grep -qF "| kind=moe, noise_std=0 | 1.000" "$bmd" && fail "baseline compared with itself"
[ "$(sed -n '/## Against the baseline/,/^## /p' "$bmd" | grep -c '^| kind=')" -eq 5 ] || fail "baseline: want 5 rows (6 cells less the baseline)"
[ -s "$DIR/out/b_baseline.png" ] && [ -s "$DIR/out/b_baseline.pdf" ] || fail "baseline figure"
[ -e "$DIR/out/g_baseline.png" ] && fail "a baseline figure without --baseline"
report "$DIR/grid.h5" --out "$DIR/x" --baseline "colour=red" 2> "$DIR/err.txt" && fail "unknown baseline axis accepted"
grep -q "'colour' is not an axis of the sweep (axes: kind, noise_std" "$DIR/err.txt" || fail "baseline axis message: $(cat "$DIR/err.txt")"
report "$DIR/grid.h5" --out "$DIR/x" --baseline "kind=moe" 2> "$DIR/err.txt" && fail "ambiguous baseline accepted"
grep -q "matches 3 cells with data, not 1" "$DIR/err.txt" || fail "ambiguous baseline message: $(cat "$DIR/err.txt")"
# numbers match as numbers: 1e-3 names the noise_std = 0.001 cell
report "$DIR/grid.h5" --out "$DIR/out/b2" --reps 50 --k 2 --baseline "kind=pamoe,noise_std=1e-3" > /dev/null || fail "--baseline with 1e-3"
grep -qF "## Against the baseline kind=pamoe, noise_std=0.001" "$DIR/out/b2.md" || fail "--baseline 1e-3 picked another cell"

# zipped axes: a follower of a zip line is named only where it differs from the base config, so
# the cells read kind=moe, kind=moe, method=redo, kind=pamoe, kind=pamoe, ent_coef=0.01;
# the entropy cell's planted +0.5 against the baseline across two axes
"$PY" tests/python/sweep_fixture.py "$DIR/zip.h5" --scenario zipped || fail "fixture zipped"
report "$DIR/zip.h5" --out "$DIR/out/z" --reps 100 --k 2 --baseline kind=moe,method=none > /dev/null || fail "report on the zipped sweep"
zmd="$DIR/out/z.md"
for cell in "kind=moe" "kind=moe, method=redo" "kind=pamoe" "kind=pamoe, ent_coef=0.01"; do
    grep -qF "| $cell | 3 | " "$zmd" || fail "zipped: no QoE row named '$cell'"
done
grep -qF "ent_coef=0," "$zmd" && fail "zipped: a follower at its first value is named"
grep -qF "| method | redo | none | kind=moe | 6 | " "$zmd" || fail "zipped: the one-axis pair"
grep -qF "| kind=pamoe, ent_coef=0.01 | 1.000 [1.000, 1.000] | 3 | 0.500 [" "$zmd" || fail "zipped: the planted entropy cell against the baseline"

# one cell with one run: CIs n/a, no comparisons, no crash
"$PY" tests/python/sweep_fixture.py "$DIR/single.h5" --scenario single || fail "fixture single"
report "$DIR/single.h5" --out "$DIR/out/s" --reps 100 > /dev/null || fail "report on one run"
grep -qF "| kind=pamoe | 1 | " "$DIR/out/s.md" && grep -qF "[n/a]" "$DIR/out/s.md" || fail "single: n = 1 row with n/a CI"
grep -q "no comparisons" "$DIR/out/s.md" || fail "single: comparisons"
[ -e "$DIR/out/s_pairs.png" ] && fail "single: a pairs figure"
# same seed, same files (the unit tests check the grid's markdown, and that --seed matters)
report "$DIR/single.h5" --out "$DIR/out/s2" --reps 100 > /dev/null || fail "second report on one run"
sed 's/s2_/s_/g' "$DIR/out/s2.md" | cmp -s - "$DIR/out/s.md" || fail "same --seed gave a different report"
for f in qoe.png recovery.pdf; do
    cmp -s "$DIR/out/s_$f" "$DIR/out/s2_$f" || fail "same --seed gave a different s_$f"
done

# every run still running, with a learning-rate axis: its sensitivity figure
"$PY" tests/python/sweep_fixture.py "$DIR/partial.h5" --scenario partial || fail "fixture partial"
report "$DIR/partial.h5" --out "$DIR/out/p" --reps 100 --k 2 > /dev/null || fail "report on running runs"
[ -s "$DIR/out/p_learning_rate.png" ] && [ -s "$DIR/out/p_learning_rate.pdf" ] || fail "partial: learning_rate figure"
grep -qF "12 run(s) are not done" "$DIR/out/p.md" || fail "partial: running runs not reported"
grep -qF "| kind=pamoe, learning_rate=0.001 | 3 (3 not done) | " "$DIR/out/p.md" || fail "partial: QoE row"

# bad input: a message naming the file, nonzero exit
report "$DIR/nope.h5" --out "$DIR/x" 2> "$DIR/err.txt" && fail "missing file accepted"
grep -q "nope.h5: no such file" "$DIR/err.txt" || fail "missing-file message: $(cat "$DIR/err.txt")"
report "$DIR/grid.h5" --out "$DIR/x" --reps 0 2> "$DIR/err.txt" && fail "--reps 0 accepted"
echo "sweep_report: unit tests, 5 reports, --baseline and error cases ok"
