#!/bin/sh
# gen_traces.sh BUILD: `pamoe gen-traces` writes loadable, deterministic traces and video
# ladders, validates its arguments, and regenerates the committed data/ set byte for byte.
B=${1:-build}
P="$B/pamoe"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$P" gen-traces --out "$T/a" --count 5 --duration 100 --seed 7 --video-out "$T/v" || fail=1
"$P" gen-traces --out "$T/b" --count 5 --duration 100 --seed 7 || fail=1
"$P" gen-traces --out "$T/c" --count 5 --duration 100 --seed 8 || fail=1
[ "$(ls "$T/a" | wc -l)" -eq 5 ] || { echo "FAIL: count"; fail=1; }
[ "$(wc -l < "$T/a/synth_0003")" -eq 101 ] || { echo "FAIL: 101 samples expected"; fail=1; }
diff -r "$T/a" "$T/b" > /dev/null || { echo "FAIL: same seed differs"; fail=1; }
cmp -s "$T/a/synth_0000" "$T/c/synth_0000" && { echo "FAIL: different seeds give equal traces"; fail=1; }
[ "$(wc -l < "$T/v/video_size_5")" -eq 49 ] || { echo "FAIL: video lines"; fail=1; }
# level 5 averages about 4300 kbps * 4 s / 8 = 2.15 MB per chunk; levels increase per chunk
awk '{s+=$1} END{m=s/NR; exit !(m>1.8e6 && m<2.5e6)}' "$T/v/video_size_5" || { echo "FAIL: video mean"; fail=1; }
paste "$T/v/video_size_0" "$T/v/video_size_1" "$T/v/video_size_5" | awk '{if(!($1<$2 && $2<$3)) bad=1} END{exit bad}' || { echo "FAIL: ladder order"; fail=1; }
# timestamps start at 0 with the period, bandwidth non-negative
awk 'NR==1 && $1!=0 {bad=1} NR>1 && $1-p!=1 {bad=1} $2<0 {bad=1} {p=$1} END{exit bad}' "$T/a/synth_0002" || { echo "FAIL: trace format"; fail=1; }
# the simulator loads them
"$P" replay --trace "$T/a/synth_0001" --video-dir "$T/v" --start-ptr 5 --last-quality 0 --content news --actions "3 3 3" > "$T/out.csv" || { echo "FAIL: replay on generated data"; fail=1; }
[ "$(wc -l < "$T/out.csv")" -eq 4 ] || { echo "FAIL: replay rows"; fail=1; }
# argument errors
expect() { msg=$1; shift; out=$("$P" gen-traces "$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] || ! echo "$out" | grep -qF -- "$msg"; then echo "FAIL: gen-traces $* -> $rc '$out'"; fail=1; fi; }
expect "--count: '0' is not an integer in 1..1000000" --out "$T/x" --count 0 --duration 10 --seed 1
expect "--seed is required" --out "$T/x" --count 1 --duration 10
expect "--out needs --count and --duration" --out "$T/x" --seed 1
expect "--states: '1,-2' is not a list" --out "$T/x" --count 1 --duration 10 --seed 1 --states 1,-2
expect "--switch-prob: '1.5' is not a probability" --out "$T/x" --count 1 --duration 10 --seed 1 --switch-prob 1.5
expect "unknown option '--bogus'" --out "$T/x" --count 1 --duration 10 --seed 1 --bogus 2
expect "--out (traces) or --video-out (video) is required" --count 1 --seed 1
"$P" gen-traces --help | grep -q "Markov-modulated" || { echo "FAIL: --help"; fail=1; }
# the committed default data set is exactly what data/README.md says
if [ -d data/traces/train ]; then
    "$P" gen-traces --out "$T/d/traces/train" --count 40 --duration 500 --seed 1 --prefix train --video-out "$T/d/video" &&
    "$P" gen-traces --out "$T/d/traces/test" --count 30 --duration 300 --seed 2 --prefix test &&
    for s in traces/train traces/test video; do diff -r "$T/d/$s" "data/$s" > /dev/null || { echo "FAIL: data/$s differs from its regeneration"; fail=1; }; done
fi
[ $fail -eq 0 ] && echo "gen-traces ok"
exit $fail
