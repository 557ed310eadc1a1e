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
C="--config configs/paper.ini --set total_timesteps=20000 --quiet"
$B/pamoe train $C --out $D/r.h5 --stop-after 2 || true
expect "exists" $B/pamoe train $C --out $D/r.h5
head -c 3000 $D/r.ckpt.h5 > $D/t.h5 && mv $D/t.h5 $D/r.ckpt.h5
expect "r.ckpt.h5" $B/pamoe train --resume $D/r.h5
[ $fail -eq 0 ] && echo ok
exit $fail
