#!/bin/sh
# Two `sweep run` processes on one directory (two Slurm array elements given the same task,
# or a rerun while the first still works) never run a task twice: the task's lock is held
# for the worker's life; the second process waits for it and finds it done. While it runs,
# status says running. SIGTERM to a sweep stops its workers with a checkpoint (exit 130),
# and the next run resumes them, even while a reader holds the task file open.
set -eu
B=$1
D=$(mktemp -d); trap 'kill $p1 $p2 2>/dev/null || true; rm -rf "$D"' EXIT
p1=; p2=
cat > $D/s.ini <<EOT
base = $PWD/configs/quick.ini
total_timesteps = 30000
num_steps = 1000
checkpoint_every = 2
[sweep]
seed = 1-2
EOT
$B/pamoe sweep run $D/s.ini --out $D/out --task 0 --quiet & p1=$!
while [ ! -f $D/out/tasks/t0000.h5 ]; do sleep 0.05; done
$B/pamoe sweep run $D/s.ini --out $D/out --task 0 2>$D/second.log & p2=$!
$B/pamoe sweep status $D/out | grep -q "^  t0000  running" || { $B/pamoe sweep status $D/out; echo "status: not running"; exit 1; }
wait $p1; wait $p2; p1=; p2=
[ "$(grep -c '^== sweep: start' $D/out/tasks/t0000.log)" = 1 ] || { cat $D/out/tasks/t0000.log; echo "the task ran twice"; exit 1; }
grep -q "held by another" $D/second.log || { cat $D/second.log; echo "the second run did not wait"; exit 1; }
$B/pamoe sweep status $D/out | grep -q "1 done, 0 running, 0 failed, 0 pending"
# SIGTERM: workers checkpoint and stop, exit 130; the rerun resumes
rm -rf $D/out
$B/pamoe sweep run $D/s.ini --out $D/out --quiet & p1=$!
while [ ! -f $D/out/tasks/t0000.ckpt.h5 ]; do sleep 0.05; done
kill -TERM $p1
rc=0; wait $p1 || rc=$?; p1=
[ $rc -eq 130 ] || { echo "SIGTERM: exit $rc, expected 130"; exit 1; }
$B/pamoe sweep status $D/out | grep -q "0 done, 0 running, 0 failed, 1 pending"
# a reader holding the task file open (h5py, SWMR, HDF5's file lock) must not make the
# resume fail: the sweep's workers do not take HDF5's lock
sh tools/run_python.sh -c "import h5py, time, sys; f = h5py.File(sys.argv[1], 'r', swmr=True); open(sys.argv[2], 'w').close(); time.sleep(4)" \
    $D/out/tasks/t0000.h5 $D/reader.ready & p2=$!
while [ ! -f $D/reader.ready ]; do kill -0 $p2 2>/dev/null || { echo "the reader could not open the file"; exit 1; }; sleep 0.05; done
$B/pamoe sweep run $D/s.ini --out $D/out 2>$D/rerun.log || { cat $D/rerun.log; echo "the resume failed while a reader had the task file open"; exit 1; }
wait $p2; p2=
grep -q "t0000 resumed: 2 run(s) r0000..r0001, iteration [1-9]" $D/rerun.log || { cat $D/rerun.log; exit 1; }
echo ok
