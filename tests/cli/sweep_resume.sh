#!/bin/sh
# `pamoe sweep run` killed with SIGKILL (the coordinator and its workers, as a preempted node)
# and run again ends bit-identical to an uninterrupted sweep: metrics, weights and Adam state
# of every task (tools/compare_runs.py), also where a task's .ini was written by an older
# pamoe; an edited one is refused. A rerun of a finished sweep does nothing.
set -eu
B=$1; P="sh tools/run_python.sh tools/compare_runs.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cat > $D/s.ini <<EOT
base = $PWD/configs/quick.ini
total_timesteps = 160000
num_steps = 1000
checkpoint_every = 3
[sweep]
kind = mlp,pamoe
seed = 1-2
EOT
$B/pamoe sweep run $D/s.ini --out $D/full --jobs 2 --quiet
setsid $B/pamoe sweep run $D/s.ini --out $D/killed --jobs 2 --quiet &
pid=$!
# wait for a checkpoint of each task, then a little more so the kill lands between checkpoints
while [ ! -f $D/killed/tasks/t0000.ckpt.h5 ] || [ ! -f $D/killed/tasks/t0001.ckpt.h5 ]; do
    kill -0 $pid 2>/dev/null || break; sleep 0.05
done
sleep 0.4
kill -9 -$pid 2>/dev/null || true
rc=0; wait $pid 2>/dev/null || rc=$?
[ $rc -eq 137 ] || { echo "the sweep was not killed mid-way (exit $rc): the test needs a longer sweep"; exit 1; }
[ ! -f $D/killed/tasks/t0000.done ] && [ ! -f $D/killed/tasks/t0001.done ] || { echo "a task finished before the kill"; exit 1; }
$B/pamoe sweep status $D/killed | grep -q "0 done, 0 running, 0 failed, 2 pending" || { $B/pamoe sweep status $D/killed; echo "status after the kill"; exit 1; }
# A task's .ini is compared by value. A copy whose t0000 has another gamma (an edited base
# config) is refused, and so is one whose t0001.ini is not an .ini any more (naming its line).
# t0001 written as an older pamoe did (other comments, no late key such as
# run.flush_denormals) goes on.
cp -r $D/killed $D/edited
sed -i 's/^gamma = .*/gamma = 0.9/' $D/edited/tasks/t0000.ini
rc=0; $B/pamoe sweep run $D/s.ini --out $D/edited --task 0 2>$D/edited.log || rc=$?
[ $rc -ne 0 ] && grep -q "t0000.ini: the configuration of this task changed" $D/edited.log || { cat $D/edited.log; echo "an edited task configuration was not refused (exit $rc)"; exit 1; }
echo "not an ini line" >> $D/edited/tasks/t0001.ini
rc=0; $B/pamoe sweep run $D/s.ini --out $D/edited --task 1 2>$D/edited.log || rc=$?
[ $rc -ne 0 ] && grep -q "t0001.ini: cannot read this task's configuration (.*t0001.ini:[0-9]*:" $D/edited.log || { cat $D/edited.log; echo "a broken task configuration was not refused with its line (exit $rc)"; exit 1; }
sed -i -e '/flush_denormals/d' -e 's/^# OpenMP threads.*/# threads (as documented by an older pamoe)/' $D/killed/tasks/t0001.ini
grep -q "older pamoe" $D/killed/tasks/t0001.ini || { echo "the test did not edit t0001.ini"; exit 1; }
$B/pamoe sweep run $D/s.ini --out $D/killed --jobs 2 2>$D/rerun.log
grep -q "t0000 resumed" $D/rerun.log || { cat $D/rerun.log; echo "t0000 was not resumed from its checkpoint"; exit 1; }
for t in t0000 t0001; do $P $D/full/tasks/$t.h5 $D/killed/tasks/$t.h5; done
# a finished sweep: the rerun starts nothing
$B/pamoe sweep run $D/s.ini --out $D/killed --jobs 2 2>$D/again.log
! grep -q "started\|resumed" $D/again.log || { cat $D/again.log; echo "a rerun of a finished sweep started a task"; exit 1; }
echo ok
