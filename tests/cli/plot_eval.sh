#!/bin/sh
# tools/plot_eval.py turns a `pamoe eval` file into the reference's five figures (PNG + PDF),
# faithful and exact CDF; a file that is not an eval file is refused with a message.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
$B/pamoe eval --agent bb,mpc --sessions 20 --traces data/traces/test --video-dir data/video --out $D/e.h5 > /dev/null
sh tools/run_python.sh tools/plot_eval.py $D/e.h5 --out $D/f > /dev/null
sh tools/run_python.sh tools/plot_eval.py $D/e.h5 --out $D/x --exact-cdf > /dev/null
for n in cdf qoe_bar bitrate_rebuf smo_rebuffer bitrate_smo; do
    for ext in png pdf; do [ -s $D/f_$n.$ext ] || { echo "missing $D/f_$n.$ext"; exit 1; }; done
done
cmp -s $D/f_cdf.png $D/x_cdf.png && { echo "--exact-cdf drew the same CDF"; exit 1; }
$B/pamoe train --config configs/paper.ini --set total_timesteps=20000 --quiet --out $D/r.h5 --stop-after 1 2>/dev/null || true
if sh tools/run_python.sh tools/plot_eval.py $D/r.h5 --out $D/y 2> $D/err; then echo "run file accepted"; exit 1; fi
grep -q "no /agents group" $D/err
echo ok
