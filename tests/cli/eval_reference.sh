#!/bin/sh
# eval_reference.sh BUILD: `pamoe eval` on the real test traces (../shared/data) against the
# reference table of spec baselines.md 10 (300 sessions, seed 0, sorted trace order).
#
# Why a tolerance and not equality: the reference draws traces, start offsets and delay noise
# from numpy's MT19937/PCG64 streams, we from xoshiro256** (rng.h), so the 300 sessions are a
# different sample of the same distribution. Given the SAME stream, our agents reproduce the
# reference agents exactly (checked with an independent Python port of pipeline.py's agents
# driven by our xoshiro stream: all 300 x 47 actions identical for bb, rb, bola, mpc; QoE equal
# to 1e-7, the float32 rebuffer in OptiVerse's reward). Across 20 seeds the numpy-driven and
# xoshiro-driven means agree (e.g. bb QoE 0.663 vs 0.663, mpc 0.834 vs 0.829, sd ~0.03).
# Two independent 300-session means differ with standard deviation sqrt(2) * SE, SE = s/sqrt(300)
# (estimated from our run: t95 half-width / t(0.975, 299)); we allow 4 of those.
#
# Then an exact regression check of our own seed-0 means (4 decimals) so that any change in
# the agents, the environment or the protocol is noticed. If the env's random stream changes
# on purpose, re-derive these numbers (and re-run the cross-check).
B=${1:-build}
if [ ! -d ../shared/data/traces/test ] || [ ! -d ../shared/data/video ]; then
    echo "SKIP: ../shared/data not found"
    exit 77
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$B/pamoe" eval --agent bola,bb,rb,mpc --sessions 300 --seed 0 --bootstrap 200 \
    --traces ../shared/data/traces/test --video-dir ../shared/data/video > "$OUT" || { echo "FAIL: eval"; exit 1; }
cat "$OUT"
awk '
BEGIN {
    # baselines.md 10: QoE, bitrate (Mbps), stall (s/chunk), smooth (Mbps/chunk)
    ref["bola","qoe"] = -1.506; ref["bola","bitrate_reward"] = 1.115; ref["bola","rebuffer_time"] = 0.2949; ref["bola","smooth"] = 1.353
    ref["bb","qoe"] = 0.634;    ref["bb","bitrate_reward"] = 1.002;   ref["bb","rebuffer_time"] = 0.0010;   ref["bb","smooth"] = 0.363
    ref["rb","qoe"] = 0.489;    ref["rb","bitrate_reward"] = 1.131;   ref["rb","rebuffer_time"] = 0.0767;   ref["rb","smooth"] = 0.312
    ref["mpc","qoe"] = 0.791;   ref["mpc","bitrate_reward"] = 1.101;  ref["mpc","rebuffer_time"] = 0.0350;  ref["mpc","smooth"] = 0.159
    # our seed-0 means (regression)
    gold["bola","qoe"] = -1.2997; gold["bola","bitrate_reward"] = 1.1799; gold["bola","rebuffer_time"] = 0.2443; gold["bola","smooth"] = 1.4292
    gold["bb","qoe"] = 0.6809;    gold["bb","bitrate_reward"] = 1.0691;   gold["bb","rebuffer_time"] = 0.0008;   gold["bb","smooth"] = 0.3847
    gold["rb","qoe"] = 0.5202;    gold["rb","bitrate_reward"] = 1.2088;   gold["rb","rebuffer_time"] = 0.0804;   gold["rb","smooth"] = 0.3428
    gold["mpc","qoe"] = 0.8702;   gold["mpc","bitrate_reward"] = 1.1750;  gold["mpc","rebuffer_time"] = 0.0317;  gold["mpc","smooth"] = 0.1686
    t = 1.9679296690653618; bad = 0; n = 0
}
(($1, $2) in ref) {
    se = $7 / t; tol = 4 * sqrt(2) * se; d = $3 - ref[$1, $2]; if (d < 0) d = -d
    printf "check %-5s %-15s ours %8.4f ref %8.4f |diff| %.4f tol %.4f (%.1f SE of a difference)\n", \
        $1, $2, $3, ref[$1, $2], d, tol, d / (sqrt(2) * se)
    if (d > tol) { print "FAIL: too far from the reference table"; bad = 1 }
    g = $3 - gold[$1, $2]; if (g < 0) g = -g
    if (g > 0.00005001) { printf "FAIL: regression: %s %s = %.4f, was %.4f\n", $1, $2, $3, gold[$1, $2]; bad = 1 }
    n++
}
END { if (n != 16) { print "FAIL: expected 16 rows, got " n; bad = 1 }; exit bad }' "$OUT"
