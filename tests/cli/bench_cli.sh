#!/bin/sh
# `pamoe bench` runs a short training per run count and prints one row each with a positive
# throughput and a cost split that sums to ~100 %; bad options are rejected.
set -eu
B=$1
out=$($B/pamoe bench --device cpu --runs 1,2 --iterations 1 --set num_steps=200 --set num_minibatches=4 2>/dev/null)
echo "$out"
echo "$out" | awk '$1 == "cpu" { n++; s = $3; r = $4 + $5 + $6; if (s <= 0 || r < 99 || r > 101) bad = 1 }
                   END { exit (n == 2 && !bad) ? 0 : 1 }'
if $B/pamoe bench --device gpu 2>/dev/null; then echo "bad device accepted"; exit 1; fi
if $B/pamoe bench --runs 0 2>/dev/null; then echo "runs 0 accepted"; exit 1; fi
echo ok
