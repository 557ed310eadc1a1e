#!/bin/sh
# eval_reference.sh BUILD: `pamoe eval` on the real test traces (../shared/data) against the
# reference table of docs/reference/baselines.md 10 (300 sessions, seed 0, sorted trace order).
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
trap 'rm -f "$OUT" "$TABLE"' EXIT
"$B/pamoe" eval --agent bola,bb,rb,mpc --sessions 300 --seed 0 --bootstrap 200 \
    --traces ../shared/data/traces/test --video-dir ../shared/data/video > "$OUT" || { echo "FAIL: eval"; exit 1; }
cat "$OUT"
TABLE=$(mktemp)
cat > "$TABLE" <<'EOF'
# agent metric reference(baselines.md 10) ours(seed 0)
bola qoe -1.506 -1.2997
bola bitrate_reward 1.115 1.1799
bola rebuffer_time 0.2949 0.2443
bola smooth 1.353 1.4292
bb qoe 0.634 0.6809
bb bitrate_reward 1.002 1.0691
bb rebuffer_time 0.001 0.0008
bb smooth 0.363 0.3847
rb qoe 0.489 0.5202
rb bitrate_reward 1.131 1.2088
rb rebuffer_time 0.0767 0.0804
rb smooth 0.312 0.3428
mpc qoe 0.791 0.8702
mpc bitrate_reward 1.101 1.175
mpc rebuffer_time 0.035 0.0317
mpc smooth 0.159 0.1686
EOF
awk -v rows=16 -f tests/cli/eval_table.awk "$TABLE" "$OUT"
