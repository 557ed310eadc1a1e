#!/bin/sh
# eval.sh BUILD: `pamoe eval` on the synthetic data in data/ (always present): --help, clear
# errors for bad input, determinism for a seed (identical stdout and byte-identical HDF5),
# a different seed gives different sessions, HDF5 layout, --sessions all.
B=${1:-build}
P="$B/pamoe"
T=data/traces/test
V=data/video
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$P" eval --help > "$TMP/help" || fail "--help exit code"
grep -q -- "--agent" "$TMP/help" && grep -q "mpc" "$TMP/help" || fail "--help text"

# expect_error CODE PATTERN ARGS...: nonzero exit CODE and PATTERN on stderr
expect_error() {
    code=$1; pat=$2; shift 2
    "$P" eval "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    [ $rc -eq "$code" ] || fail "eval $*: exit $rc, want $code ($(cat "$TMP/err"))"
    grep -q -- "$pat" "$TMP/err" || fail "eval $*: stderr lacks '$pat': $(cat "$TMP/err")"
}
expect_error 2 "unknown agent 'foo'" --agent bb,foo --traces $T --video-dir $V
expect_error 2 "unknown option 'speed'" --agent bb:speed=2 --traces $T --video-dir $V
expect_error 2 "given twice" --agent bb,bb --traces $T --video-dir $V
expect_error 2 "agent 'mpc:horizon': option 'horizon' needs a value (horizon=...)" --agent mpc:horizon --traces $T --video-dir $V
expect_error 2 "option 'variant' needs a value" --agent mpc:variant --traces $T --video-dir $V
expect_error 2 "option 'ckpt' needs a value" --agent net:ckpt --traces $T --video-dir $V
expect_error 2 "option 'weights' needs a value" --agent pensieve:weights --traces $T --video-dir $V
expect_error 2 "option 'reservoir' needs a value" --agent bb:reservoir --traces $T --video-dir $V
expect_error 2 "'bb,,rb' has an empty element" --agent bb,,rb --traces $T --video-dir $V
expect_error 2 "'bb,' has an empty element" --agent bb, --traces $T --video-dir $V
expect_error 2 "--sessions: '3x' is not an integer" --sessions 3x --traces $T --video-dir $V
expect_error 2 "not an integer" --sessions abc --traces $T --video-dir $V
expect_error 2 "not an integer" --sessions 0 --traces $T --video-dir $V
expect_error 2 "not an integer" --seed -1 --traces $T --video-dir $V
expect_error 2 "unknown option '--frobnicate'" --frobnicate
expect_error 2 "needs a value" --traces $T --video-dir $V --agent
expect_error 1 "no/such/dir" --traces no/such/dir --video-dir $V
expect_error 1 "no/such/video" --traces $T --video-dir no/such/video
expect_error 1 "cannot create" --agent bb --sessions 2 --traces $T --video-dir $V --out no/such/dir/x.h5

run() { "$P" eval --agent bb,rb,bola,mpc,mpc:variant=pensieve --sessions 40 --traces $T --video-dir $V \
        --bootstrap 200 "$@"; }
run --seed 3 --out "$TMP/a.h5" | grep -v '^wrote' > "$TMP/a.txt" || fail "eval run a"
run --seed 3 --out "$TMP/b.h5" | grep -v '^wrote' > "$TMP/b.txt" || fail "eval run b"
run --seed 4 > "$TMP/c.txt" || fail "eval run c"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || fail "same seed, different stdout"
cmp -s "$TMP/a.h5" "$TMP/b.h5" || fail "same seed, different HDF5 bytes"
cmp -s "$TMP/a.txt" "$TMP/c.txt" && fail "seeds 3 and 4 gave identical results"
[ "$(grep -c ' qoe ' "$TMP/a.txt")" -eq 5 ] || fail "summary rows: $(cat "$TMP/a.txt")"

# HDF5 layout and invariants: every per-session metric has 40 values and units; the
# components add up (qoe = bitrate + rebuffer + smooth rewards); common random numbers
# (every agent saw the same trace and start offset per session); the mean attribute matches.
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then
/usr/bin/python3 - "$TMP/a.h5" <<'PY' || fail "HDF5 layout"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
c = f["config"].attrs
assert c["sessions"] == 40 and c["seed"] == 3 and c["session_mode"] == "sample", dict(c)
names = ["qoe", "bitrate_reward", "rebuffer_reward", "rebuffer_time", "smooth_penalty_reward", "smooth"]
ag = f["agents"]
assert list(ag.keys()) == sorted(["bb", "rb", "bola", "mpc", "mpc:variant=pensieve"]), list(ag.keys())
tr0 = ag["bb"]["trace"][:]; sp0 = ag["bb"]["start_ptr"][:]
for a in ag:
    g = ag[a]
    for n in names:
        d = g[n]
        assert d.shape == (40,) and d.dtype == np.float64 and len(d.attrs["units"]) > 0
        assert abs(d.attrs["mean"] - d[:].mean()) < 1e-12
    q = g["qoe"][:]; s = g["bitrate_reward"][:] + g["rebuffer_reward"][:] + g["smooth_penalty_reward"][:]
    assert np.abs(q - s).max() < 1e-12, (a, np.abs(q - s).max())
    assert np.allclose(g["rebuffer_time"][:] * 4.3, -g["rebuffer_reward"][:])
    assert np.allclose(g["smooth"][:], -g["smooth_penalty_reward"][:])
    acts = g["actions"][:]
    assert acts.shape == (40, 47) and acts.max() <= 5
    # bitrate reward is the mean of R[a]/1000 over the 47 actions
    R = np.array([300, 750, 1200, 1850, 2850, 4300]) / 1000
    assert np.abs(R[acts].mean(1) - g["bitrate_reward"][:]).max() < 1e-12
    assert (g["trace"][:] == tr0).all() and (g["start_ptr"][:] == sp0).all(), a
assert len(f["trace_names"]) == 30
PY
else
    echo "note: /usr/bin/python3 without h5py: HDF5 layout not checked"
fi

# --sessions all: one session per trace, from its start, in sorted order
"$P" eval --agent bb --sessions all --traces $T --video-dir $V --out "$TMP/all.h5" > "$TMP/all.txt" \
    || fail "--sessions all"
grep -q "30 sessions (every trace once" "$TMP/all.txt" || fail "--sessions all header: $(head -1 "$TMP/all.txt")"
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
/usr/bin/python3 - "$TMP/all.h5" <<'PY' || fail "--sessions all layout"
import sys, h5py, numpy as np
g = h5py.File(sys.argv[1], "r")["agents"]["bb"]
assert (g["trace"][:] == np.arange(30)).all() and (g["start_ptr"][:] == 1).all()
PY
fi
echo "eval CLI: ok"
