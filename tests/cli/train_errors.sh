#!/bin/sh
# `pamoe train` rejects bad input with messages naming the key, file or problem, exit 1.
set -u
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
fail=0
expect() { # expect "needle" command...
    needle=$1; shift
    out=$("$@" 2>&1); rc=$?
    if [ $rc -eq 0 ] || ! printf '%s' "$out" | grep -qF -- "$needle"; then
        echo "FAILED: $* -> rc=$rc, wanted '$needle' in: $out"; fail=1
    fi
}
printf '[ppo]\nnum_steps = 100\nlerning_rate = 0.1\n' > $D/bad.ini
expect "$D/bad.ini:3: unknown key 'lerning_rate'" $B/pamoe train --config $D/bad.ini --out $D/x.h5
expect "ppo.gamma: 'x' is not a number" $B/pamoe train --config configs/paper.ini --set gamma=x --out $D/x.h5
expect "not one of mlp|moe|smoe|pamoe" $B/pamoe train --config configs/paper.ini --set policy=cnn --out $D/x.h5
expect "fewer than the 10 content phases" $B/pamoe train --config configs/paper.ini --set total_timesteps=4000 --out $D/x.h5
expect "no run file" $B/pamoe train --resume $D/none.h5
expect "give exactly one of --out" $B/pamoe train --config configs/paper.ini
expect "cannot open config file" $B/pamoe train --config $D/missing.ini --out $D/x.h5
mkdir $D/empty
expect "no trace" $B/pamoe train --config configs/paper.ini --set traces=$D/empty --out $D/x.h5
expect "bad.ini:1: expected 2 numbers" $B/pamoe train --config configs/paper.ini --set traces=$D --out $D/x.h5
# strict config files: each misreading of a lenient .ini reader is an error naming file:line
expect "$D: cannot read config file: not a regular file" $B/pamoe train --config $D --out $D/x.h5
printf '[ppo]\ngamma = 0.9\nnum_steps = 100\ngamma = 0.8\n' > $D/dup.ini
expect "$D/dup.ini:4: duplicate key ppo.gamma (first set at line 2)" $B/pamoe train --config $D/dup.ini --out $D/x.h5
printf '[ppo]\ngamma = 0.9\n    0.95\n' > $D/indent.ini
expect "$D/indent.ini:3: syntax error" $B/pamoe train --config $D/indent.ini --out $D/x.h5
printf '[ppo]\n\n# c\ngamma = 0.9\000\n' > $D/nul.ini
expect "$D/nul.ini:4: NUL byte" $B/pamoe train --config $D/nul.ini --out $D/x.h5
# a 300-character comment whose tail reads like a setting stays a comment
{ printf '# '; head -c 200 /dev/zero | tr '\0' x; printf ' gamma = 0.5\n[ppo]\nnum_steps = 400\n'; } > $D/long.ini
g=$($B/pamoe train --config $D/long.ini --print-config | grep '^gamma = ')
[ "$g" = "gamma = 0.98999999999999999" ] || { echo "FAILED: long comment line changed gamma: $g"; fail=1; }
# per-run lists: longer than 255 characters, and no empty elements
L=$(seq -s, 1000 1100)
$B/pamoe train --config configs/paper.ini --set runs=101 --set seed=$L --print-config | grep -q "^seed = $L\$" || { echo "FAILED: long seed list"; fail=1; }
expect "run.seed: element 2 is empty" $B/pamoe train --config configs/paper.ini --set seed=1,,2 --out $D/x.h5
expect "ppo.learning_rate: element 2 is empty" $B/pamoe train --config configs/paper.ini --set learning_rate=1e-3, --out $D/x.h5
# step counts: whole rollouts, at most INT_MAX iterations
expect "ppo.total_timesteps = 20500 is not a multiple of ppo.num_steps = 2000" $B/pamoe train --config configs/paper.ini --set total_timesteps=20500 --out $D/x.h5
expect "more than 2147483647" $B/pamoe train --config configs/paper.ini --set total_timesteps=1e13 --set num_steps=2 --set num_minibatches=1 --out $D/x.h5
[ ! -e $D/x.h5 ] || { echo "FAILED: a rejected config left $D/x.h5"; fail=1; }
# --resume continues the run's own configuration: --set is refused, not silently ignored
expect "--config and --set cannot change it" $B/pamoe train --resume $D/none.h5 --set gamma=0.5
C="--config configs/paper.ini --set total_timesteps=20000 --quiet"
$B/pamoe train $C --out $D/r.h5 --stop-after 2 || true
expect "exists" $B/pamoe train $C --out $D/r.h5
head -c 3000 $D/r.ckpt.h5 > $D/t.h5 && mv $D/t.h5 $D/r.ckpt.h5
expect "r.ckpt.h5" $B/pamoe train --resume $D/r.h5
[ $fail -eq 0 ] && echo ok
exit $fail
