#!/bin/sh
# Sweep file errors name the file, the line and the key, and exit 1 without writing anything;
# a task whose worker fails is reported failed with its last error line by run and status.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
Q=$PWD/configs/quick.ini
n=0
# expect LINE_SUBSTRING FILE_BODY...: the plan must fail with "s.ini:LINE..." in its message
expect() {
    want=$1; shift
    n=$((n + 1))
    printf '%s\n' "$@" > $D/s$n.ini
    if $B/pamoe sweep plan $D/s$n.ini --no-calibrate >$D/out.txt 2>$D/err.txt; then
        echo "case $n: accepted:"; cat $D/s$n.ini; exit 1
    fi
    grep -qF "$D/s$n.ini:$want" $D/err.txt || { echo "case $n: expected '$D/s$n.ini:$want', got:"; cat $D/err.txt; exit 1; }
}
expect "3: nosuchkey: unknown key" "base = $Q" "[sweep]" "nosuchkey = 1,2"
expect "3: seed: empty axis" "base = $Q" "[sweep]" "seed ="
expect "3: seed: empty value in the list" "base = $Q" "[sweep]" "seed = 1,,2"
expect "3: seed: empty value in the list" "base = $Q" "[sweep]" "seed = 1,2,"
expect "3: runs: cannot vary" "base = $Q" "[sweep]" "runs = 1,2"
expect "3: threads: cannot vary" "base = $Q" "[sweep]" "threads = 1,2"
expect "4: kind: " "base = $Q" "[sweep]" "seed = 1-2" "kind = mlp,cnn"
expect "3: noise_std: noise.noise_std: element 1 = -1 is out of range" "base = $Q" "[sweep]" "noise_std = -1"
expect "3: seed: range '5-2' is empty" "base = $Q" "[sweep]" "seed = 5-2"
expect "2: learning_rat: unknown key" "base = $Q" "learning_rat = 1e-3" "[sweep]" "seed = 1-2"
expect "2: runs: a sweep sets run.runs itself" "base = $Q" "runs = 4" "[sweep]" "seed = 1-2"
expect "3: ppo.hidden: key 'hidden' is not in section [ppo]" "base = $Q" "[ppo]" "hidden = 8" "[sweep]" "seed = 1-2"
expect "5: zip: 'noise_std' has 3 values but 'seed' has 2" "base = $Q" "[sweep]" "seed = 1-2" "noise_std = 0,1e-3,2e-3" "zip = seed,noise_std"
expect "4: zip: 'lr' is not an axis" "base = $Q" "[sweep]" "seed = 1-2" "zip = seed,lr"
expect "3: [sweep]: the grid has 4000 runs, above limits.max_runs = 1000" "base = $Q" "[sweep]" "seed = 1-1000" "kind = mlp,moe,smoe,pamoe" "[limits]" "max_runs = 1000"
expect "3: limits.task_runs: 'zero' is not a whole number" "base = $Q" "[limits]" "task_runs = zero" "[sweep]" "seed = 1"
expect "4: policy: kind (line 3) already sets policy and value" "base = $Q" "[sweep]" "kind = mlp,moe" "policy = mlp,moe"
expect "2: noise_std: also an axis of [sweep] (line 4)" "base = $Q" "noise_std = 1e-3" "[sweep]" "noise_std = 0,1e-3"
expect "4: ppo.num_steps: given twice (first at line 2)" "base = $Q" "num_steps = 1000" "[ppo]" "num_steps = 500" "[sweep]" "seed = 1-2"
expect "4: seed: axis given twice (first at line 3)" "base = $Q" "[sweep]" "seed = 1-2" "seed = 3"
expect "1: base: " "base = nowhere.ini" "[sweep]" "seed = 1-2"
expect "3: syntax error" "base = $Q" "[sweep]" "seed 1-2"
n=$((n + 1)); printf 'total_timesteps = 20000\n[sweep]\nseed = 1-2\n' > $D/s$n.ini
! $B/pamoe sweep plan $D/s$n.ini 2>$D/err.txt && grep -q "s$n.ini: missing \`base = CONFIG.ini\`" $D/err.txt || { cat $D/err.txt; exit 1; }
n=$((n + 1)); printf 'base = %s\n' "$Q" > $D/s$n.ini
! $B/pamoe sweep plan $D/s$n.ini 2>$D/err.txt && grep -q "s$n.ini: no \[sweep\] section" $D/err.txt || { cat $D/err.txt; exit 1; }
# nothing was written next to the sweep files
[ -z "$(ls $D | grep -v '\.ini$\|\.txt$')" ] || { ls $D; echo "plan wrote files"; exit 1; }
# a worker that fails: run exits 1, status shows the task failed with the trainer's error
printf 'base = %s\ntraces = %s/no-traces\ntotal_timesteps = 20000\nnum_steps = 1000\n[sweep]\nseed = 1-2\n' "$Q" "$D" > $D/fail.ini
rc=0; $B/pamoe sweep run $D/fail.ini --out $D/fail --jobs 1 --quiet || rc=$?
[ $rc -eq 1 ] || { echo "a failed task: run exit $rc, expected 1"; exit 1; }
$B/pamoe sweep status $D/fail > $D/status.txt
grep -q "0 done, 0 running, 1 failed, 0 pending" $D/status.txt || { cat $D/status.txt; exit 1; }
grep -q "^  t0000  failed .*exit 1: pamoe train: .*no-traces" $D/status.txt || { cat $D/status.txt; echo "no error line"; exit 1; }
# another sweep file into the same directory is refused
printf 'base = %s\ntotal_timesteps = 20000\n[sweep]\nseed = 1-3\n' "$Q" > $D/other.ini
! $B/pamoe sweep run $D/other.ini --out $D/fail 2>$D/err.txt && grep -q "holds another sweep" $D/err.txt || { cat $D/err.txt; exit 1; }
! $B/pamoe sweep run $D/fail.ini --out $D/fail --task 5 2>$D/err.txt && grep -q "\-\-task 5: the sweep has 1 task" $D/err.txt || { cat $D/err.txt; exit 1; }
for c in plan run status config merge; do
    $B/pamoe sweep $c --help | grep -q "^usage: pamoe sweep $c " || { $B/pamoe sweep $c --help; exit 1; }
done
$B/pamoe sweep --help | grep -q "usage: pamoe sweep plan FILE"
# usage errors exit 2 and name the option (the common option parser)
rc=0; $B/pamoe sweep run $D/fail.ini --frobnicate 2>$D/err.txt || rc=$?
[ $rc -eq 2 ] && grep -q "pamoe sweep run: unknown option '--frobnicate' (see pamoe sweep run --help)" $D/err.txt || { cat $D/err.txt; exit 1; }
rc=0; $B/pamoe sweep run $D/fail.ini --out $D/x --jobs 0 2>$D/err.txt || rc=$?
[ $rc -eq 2 ] && grep -q "\-\-jobs: '0' is not" $D/err.txt || { cat $D/err.txt; exit 1; }
rc=0; $B/pamoe sweep run $D/fail.ini 2>$D/err.txt || rc=$?
[ $rc -eq 2 ] && grep -q "\-\-out DIR is required" $D/err.txt || { cat $D/err.txt; exit 1; }
rc=0; $B/pamoe sweep status 2>$D/err.txt || rc=$?
[ $rc -eq 2 ] && grep -q "give the sweep directory DIR first" $D/err.txt || { cat $D/err.txt; exit 1; }
rc=0; $B/pamoe sweep frob 2>$D/err.txt || rc=$?
[ $rc -eq 2 ] && grep -q "unknown command 'frob'" $D/err.txt || { cat $D/err.txt; exit 1; }
echo ok
