#!/bin/sh
# The grid, run ids, zip and packing of `pamoe sweep plan` (golden output: a family of 6
# runs over task_runs = 4 becomes 2 equal tasks of 3), the task and memory budgets, and `sweep run --task K` running one task with its per-run lists.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cat > $D/p.ini <<EOT
base = $PWD/configs/quick.ini
total_timesteps = 20000
num_steps = 1000
[sweep]
router = faithful,switch
seed = 1-3
noise_std = 1e-3,5e-3
learning_rate = 1e-4,1e-3
zip = noise_std,learning_rate
[limits]
task_runs = 4
EOT
$B/pamoe sweep plan $D/p.ini --no-calibrate --jobs 2 > $D/plan.txt
sed -n '1,2p;4,16p;18,23p' $D/plan.txt | sed "s|$D|D|; s|$PWD|REPO|" > $D/got.txt
cat > $D/want.txt <<'EOT'
sweep D/p.ini: base REPO/configs/quick.ini, 12 run(s) in 4 task(s)
axes: router (2 values), seed (3 values, per run), noise_std (2 values, per run), learning_rate (2 values, per run, zipped with noise_std)
runs (grid order):
  r0000  t0000/0   router=faithful seed=1 noise_std=1e-3 learning_rate=1e-4
  r0001  t0000/1   router=faithful seed=1 noise_std=5e-3 learning_rate=1e-3
  r0002  t0000/2   router=faithful seed=2 noise_std=1e-3 learning_rate=1e-4
  r0003  t0001/0   router=faithful seed=2 noise_std=5e-3 learning_rate=1e-3
  r0004  t0001/1   router=faithful seed=3 noise_std=1e-3 learning_rate=1e-4
  r0005  t0001/2   router=faithful seed=3 noise_std=5e-3 learning_rate=1e-3
  r0006  t0002/0   router=switch seed=1 noise_std=1e-3 learning_rate=1e-4
  r0007  t0002/1   router=switch seed=1 noise_std=5e-3 learning_rate=1e-3
  r0008  t0002/2   router=switch seed=2 noise_std=1e-3 learning_rate=1e-4
  r0009  t0003/0   router=switch seed=2 noise_std=5e-3 learning_rate=1e-3
  r0010  t0003/1   router=switch seed=3 noise_std=1e-3 learning_rate=1e-4
  r0011  t0003/2   router=switch seed=3 noise_std=5e-3 learning_rate=1e-3
tasks:
  task   runs               R iterations  steps/run    est. time  est. memory
  t0000  r0000..r0002       3         20      20000          1 s      258 MiB
  t0001  r0003..r0005       3         20      20000          1 s      258 MiB
  t0002  r0006..r0008       3         20      20000          1 s      258 MiB
  t0003  r0009..r0011       3         20      20000          1 s      258 MiB
EOT
diff $D/want.txt $D/got.txt || { echo "plan output differs"; exit 1; }
[ "$(ls $D)" = "$(printf 'got.txt\np.ini\nplan.txt\nwant.txt')" ] || { ls $D; echo "plan wrote files"; exit 1; }
# the time budget: 20000 steps at 1000 steps/s = 20 s per run, 50 s per task -> 2 runs a task
sed 's/^task_runs = 4/steps_per_second = 1000\ntask_hours = 0.0139/' $D/p.ini > $D/t.ini
$B/pamoe sweep plan $D/t.ini --no-calibrate | grep -q "12 run(s) in 6 task(s)" || { $B/pamoe sweep plan $D/t.ini --no-calibrate; exit 1; }
# the memory budget: 250 MiB + 2.7 MiB per run at num_steps 1000 -> 3 runs in 259 MiB
sed 's/^task_runs = 4/task_memory_mib = 259/' $D/p.ini > $D/m.ini
$B/pamoe sweep plan $D/m.ini --no-calibrate | grep -q "t0000  r0000..r0002       3" || { $B/pamoe sweep plan $D/m.ini --no-calibrate; exit 1; }
# --task 1 runs task 1 only, with the per-run lists of its three runs
$B/pamoe sweep run $D/p.ini --out $D/out --task 1 --quiet
for kv in "runs = 3" "seed = 2,3,3" "noise_std = 5e-3,1e-3,5e-3" "learning_rate = 1e-3,1e-4,1e-3" "router = faithful" "threads = 1"; do
    grep -qx "$kv" $D/out/tasks/t0001.ini || { echo "t0001.ini lacks '$kv'"; cat $D/out/tasks/t0001.ini; exit 1; }
done
[ -f $D/out/tasks/t0001.done ] && [ ! -e $D/out/tasks/t0000.h5 ] && [ ! -e $D/out/tasks/t0002.ini ] || { ls $D/out/tasks; exit 1; }
$B/pamoe sweep status $D/out | grep -q "1 done, 0 running, 0 failed, 3 pending"
# the shipped sweeps parse and pack (the paper ones as in docs/sweep.md)
for f in configs/sweeps/*.ini; do $B/pamoe sweep plan $f --no-calibrate > $D/shipped.txt || { echo "$f"; exit 1; }; done
$B/pamoe sweep plan configs/sweeps/paper_noise.ini --no-calibrate | grep -q "180 run(s) in 18 task(s)"
$B/pamoe sweep plan configs/sweeps/paper_kinds.ini --no-calibrate | grep -q "80 run(s) in 4 task(s)"
$B/pamoe sweep plan configs/sweeps/paper_lr.ini --no-calibrate | grep -q "160 run(s) in 32 task(s)"
$B/pamoe sweep plan configs/sweeps/plasticity.ini --no-calibrate | grep -q "280 run(s) in 14 task(s)"
$B/pamoe sweep plan configs/sweeps/flush_denormals.ini --no-calibrate | grep -q "80 run(s) in 16 task(s)"
# the estimates warn of the late subnormal slowdown: paper_kinds' moe, smoe and pamoe tasks
# (not mlp); flush_denormals.ini's 8 tasks with it off (not the 8 with it on)
$B/pamoe sweep plan configs/sweeps/paper_kinds.ini --no-calibrate | grep -q "^note: 3 task(s) train MoE networks with IEEE subnormals"
$B/pamoe sweep plan configs/sweeps/flush_denormals.ini --no-calibrate | grep -q "^note: 8 task(s) train MoE networks with IEEE subnormals"
echo ok
