#!/bin/sh
# Replays each fuzz harness (built with the ordinary compiler, tests/fuzz/replay_main.c)
# over its seed corpus and over every regression input `make fuzz` ever saved: inputs that
# once crashed or hung pamoe must now be refused cleanly. Each harness asserts its own
# invariants and aborts on a violation.
set -u
B=$1
n=0
for h in "$B"/tests/fuzz/fuzz_*; do
    [ -x "$h" ] || continue
    s=$(basename "$h"); s=${s#fuzz_}
    timeout -s KILL 120 "$h" "tests/fuzz/corpus/$s" "tests/fuzz/regressions/$s" > "$B/tests/fuzz_$s.replay.log" 2>&1 \
        || { echo "FAILED: $h on tests/fuzz/*/$s"; tail -5 "$B/tests/fuzz_$s.replay.log"; exit 1; }
    tail -1 "$B/tests/fuzz_$s.replay.log"
    n=$((n + 1))
done
[ $n -gt 0 ] || { echo "no fuzz harness built in $B/tests/fuzz"; exit 1; }
echo ok
