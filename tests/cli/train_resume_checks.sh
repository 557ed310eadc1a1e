#!/bin/sh
# Resume trusts nothing, and no run is lost or mixed up. Each case asserts the exit code, a
# message naming the file and dataset (or key), and that the run file and checkpoint are
# unchanged (checksums before and after):
#  - a byte flipped in a checkpoint dataset (checksum), values out of range written with a
#    valid checksum (trace index, pointer, chunk, quality, content, learning rate, counters,
#    stream keys, episode steps, hook metadata);
#  - a checkpoint of another configuration (seed, network kind, a late key set) or of another
#    run with the same configuration; a run written before a late key existed resumes; --out over an existing run file or checkpoint (and --force);
#    run names that would share a checkpoint; --resume with --set; --resume --print-config;
#    a finished run; a run killed before its first checkpoint; eval --out over a file.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C="--config configs/quick.ini --set total_timesteps=12000 --set num_steps=1000 --set checkpoint_every=4 --quiet"
fail() { echo "FAILED: $*"; exit 1; }
sums() { sha256sum "$@" 2>/dev/null | awk '{print $1}' | tr '\n' ' '; }
# expect RC TEXT CMD...: exit code RC, stderr containing TEXT, every .h5 in $D unchanged
expect() {
    want=$1; text=$2; shift 2
    before=$(sums $D/*.h5)
    rc=0; "$@" >$D/out 2>$D/err || rc=$?
    [ $rc -eq $want ] || fail "$* -> exit $rc, wanted $want: $(cat $D/err)"
    [ -z "$text" ] || grep -qF -- "$text" $D/err || fail "$* -> message lacks '$text': $(cat $D/err)"
    [ "$(sums $D/*.h5)" = "$before" ] || fail "$* changed a file"
}
$B/pamoe train $C --out $D/full.h5 2>/dev/null
$B/pamoe train $C --out $D/run.h5 --stop-after 6 2>/dev/null || true
cp $D/run.ckpt.h5 $D/good.ckpt.keep
py() { sh tools/run_python.sh - "$@"; }
# values out of range, written with h5py (which recomputes the checksum: the values must be
# caught), one corrupted copy per case made in one Python run: "edit|what the message names"
cat > $D/cases <<'CASES'
f['env/trace'][0] = 999|/env/trace
f['env/ptr'][0] = 0|/env/ptr
f['env/chunk'][0] = 48|/env/chunk
f['env/last_q'][0] = 6|/env/last_q
f['env/content'][0] = 2|/env/content
f['env/buffer_ms'][0] = np.nan|/env/buffer_ms
f['trainer/lr'][0] *= 2|/trainer/lr
f['trainer/next_done'][0] = 7|/trainer/next_done
f['trainer/action'][0, 0] += np.uint64(1)|/trainer/action
f['trainer'].attrs['iteration'] = 5|/trainer@global_step
f['trainer'].attrs['content_idx'] = 3|/trainer@content_idx
f['episodes/steps'][0] = -1|/episodes/steps
f['metrics_hooks/run_0/meta'][0, 3] = 7|/metrics_hooks/run_0/meta
f['policy'].attrs['noise_seed'] = np.array([1], dtype=np.uint64)|expert noise
f['config'].attrs['run.seed'] = '3'|config_hash
f['config'].attrs['run.flush_denormals'] = 'on'|config_hash
f['value/adam_v/head.weight'][0, 0, 0] = -1|/value/adam_v/head.weight
f['policy/experts.1.fc1.bias'][0, 2] = np.inf|/policy/experts.1.fc1.bias
CASES
py $D/good.ckpt.keep $D/cases <<'PY'
import shutil, sys, h5py, numpy as np
for i, line in enumerate(open(sys.argv[2]).read().splitlines()):
    out = "%s.%d" % (sys.argv[1], i)
    shutil.copy(sys.argv[1], out)
    with h5py.File(out, "r+") as f:
        exec(line.split("|")[0])
PY
i=0
while IFS= read -r e; do
    code=${e%%|*}; what=${e#*|}
    cp $D/good.ckpt.keep.$i $D/run.ckpt.h5; i=$((i + 1))
    expect 1 "$what" $B/pamoe train --resume $D/run.h5
    grep -qF "run.ckpt.h5" $D/err || fail "'$code': the message does not name the checkpoint"
done < $D/cases
# a flipped byte inside a dataset: the checksum catches it
cp $D/good.ckpt.keep $D/run.ckpt.h5
off=$(py $D/run.ckpt.h5 <<'PY'
import sys, h5py
print(h5py.File(sys.argv[1], "r")["env/t_last"].id.get_chunk_info(0).byte_offset)
PY
)
printf '\377' | dd of=$D/run.ckpt.h5 bs=1 seek=$((off + 3)) conv=notrunc 2>/dev/null
expect 1 "/env/t_last" $B/pamoe train --resume $D/run.h5
# another configuration (seed), another network kind, another run of the same configuration
cp $D/good.ckpt.keep $D/run.ckpt.h5
$B/pamoe train $C --set seed=3 --out $D/seed2.h5 --stop-after 4 2>/dev/null || true
$B/pamoe train $C --set policy=mlp --out $D/mlp.h5 --stop-after 4 2>/dev/null || true
$B/pamoe train $C --out $D/twin.h5 --stop-after 4 2>/dev/null || true
for o in "seed2:different configurations (run.seed" "mlp:different configurations (net.policy" "twin:another run"; do
    cp $D/${o%%:*}.ckpt.h5 $D/run.ckpt.h5
    expect 1 "${o#*:}" $B/pamoe train --resume $D/run.h5
done
cp $D/good.ckpt.keep $D/run.ckpt.h5
# the overwrite rule and run names
expect 1 "run.h5 exists" $B/pamoe train $C --out $D/run.h5
mv $D/run.h5 $D/run.keep
expect 1 "run.ckpt.h5 exists" $B/pamoe train $C --out $D/run.h5
mv $D/run.keep $D/run.h5
expect 1 "ends in .h5" $B/pamoe train $C --out $D/run
expect 1 "are checkpoints" $B/pamoe train $C --out $D/x.ckpt.h5
# --resume takes the run's configuration: --set is refused, --print-config prints it
expect 1 "cannot change it" $B/pamoe train --resume $D/run.h5 --set ppo.learning_rate=1
expect 0 "" $B/pamoe train --resume $D/run.h5 --print-config
$B/pamoe train $C --print-config > $D/want.ini
diff $D/out $D/want.ini >/dev/null || fail "--resume --print-config differs from the run's configuration"
# A run's identity survives new keys: this configuration's config_hash is the one pamoe gave
# it before run.flush_denormals existed (golden, from commit c03a33c). A key added without
# being named in config.c's LATE_KEYS changes it, and every older run then refuses to resume.
hash=$(py $D/full.h5 <<'PY'
import sys, h5py
print(h5py.File(sys.argv[1], "r").attrs["config_hash"])
PY
)
[ "$hash" = 894c3c49ac198d47 ] || fail "config_hash $hash, was 894c3c49ac198d47: a new key must be named in LATE_KEYS (config.c) or older runs no longer resume"
# resume, then resume the finished run. The files are first made as a pamoe older than the
# key run.flush_denormals wrote them, without it
py $D/run.h5 $D/run.ckpt.h5 <<'PY'
import sys, h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r+") as f:
        del f["config"].attrs["run.flush_denormals"]
PY
$B/pamoe train --resume $D/run.h5 2>/dev/null || fail "a run written before run.flush_denormals existed does not resume"
$P $D/full.h5 $D/run.h5 >/dev/null || fail "resumed run differs from the uninterrupted one"
expect 0 "is finished (12 of 12 iterations)" $B/pamoe train --resume $D/run.h5
grep -q "nan\|-[0-9]" $D/err && fail "finished run: $(cat $D/err)"
# --force replaces a finished run and its checkpoint
$B/pamoe train $C --out $D/run.h5 --force 2>/dev/null
$P $D/full.h5 $D/run.h5 >/dev/null || fail "--force run differs"
# killed before its first checkpoint: resume starts it again
rc=0; PAMOE_FAULT=metrics:3 $B/pamoe train $C --out $D/early.h5 2>/dev/null || rc=$?
[ $rc -eq 137 ] || fail "PAMOE_FAULT did not kill the run (exit $rc)"
[ ! -e $D/early.ckpt.h5 ] || fail "a checkpoint exists before the first one is due"
expect 1 "early.h5 exists: continue that run with --resume" $B/pamoe train $C --out $D/early.h5
rc=0; $B/pamoe train --resume $D/early.h5 2>$D/err || rc=$?
[ $rc -eq 0 ] && grep -q "starting it again from iteration 1" $D/err || fail "resume before the first checkpoint: exit $rc $(cat $D/err)"
$P $D/full.h5 $D/early.h5 >/dev/null || fail "restarted run differs"
# a run file cut to nothing and no checkpoint: the advice is --force, not --resume
: > $D/cut.h5
expect 1 "--out $D/cut.h5 --force" $B/pamoe train --resume $D/cut.h5
# eval --out follows the same rule
$B/pamoe eval --agent bb --sessions 2 --out $D/ev.h5 >/dev/null 2>&1
expect 1 "ev.h5 exists" $B/pamoe eval --agent bb --sessions 2 --out $D/ev.h5
rc=0; $B/pamoe eval --agent bb --sessions 2 --out $D/ev.h5 --force >/dev/null 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "eval --force: exit $rc"
# gen-traces too: nothing is written when one file exists
G="--out $D/tr --duration 100 --seed 1"
$B/pamoe gen-traces $G --count 2
s1=$(sums $D/tr/*)
rc=0; $B/pamoe gen-traces $G --count 3 2>$D/err || rc=$?
[ $rc -eq 1 ] && grep -q "synth_0000 exists" $D/err || fail "gen-traces over existing traces: exit $rc $(cat $D/err)"
[ ! -e $D/tr/synth_0002 ] && [ "$(sums $D/tr/*)" = "$s1" ] || fail "gen-traces wrote despite refusing"
$B/pamoe gen-traces $G --count 2 --force || fail "gen-traces --force"
echo ok
