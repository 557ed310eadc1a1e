#!/bin/sh
# `make fuzz`: runs every libFuzzer harness of BUILD/fuzz/ for SECONDS, starting from the
# seed corpus tests/fuzz/corpus/<surface>/ (fuzz_<surface>), growing a working corpus in
# BUILD/corpus/<surface>/. A crash, a leak, a sanitizer report or an input slower than 10 s
# is copied to tests/fuzz/regressions/<surface>/, which `make test` replays from then on;
# commit it with the fix. Exit 1 when any harness found something. tests/fuzz/fuzz_<surface>.flags,
# where present, adds libFuzzer flags for that harness (they override the defaults).
set -u
BUILD=$1; SECONDS_EACH=$2
found=0
for h in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$h" ] || continue
    name=$(basename "$h"); surface=${name#fuzz_}
    work="$BUILD/corpus/$surface"; art="$BUILD/artifacts/$surface/"
    mkdir -p "$work" "$art"
    extra=$(cat "tests/fuzz/$name.flags" 2>/dev/null)
    echo "== $name: ${SECONDS_EACH}s $extra"
    # shellcheck disable=SC2086 # $extra: one flag per word
    "$h" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $extra \
        -artifact_prefix="$art" "$work" "tests/fuzz/corpus/$surface" > "$BUILD/$name.log" 2>&1
    rc=$?
    grep -E "^stat::number_of_executed_units|^Done|#[0-9]+.*DONE" "$BUILD/$name.log" | tail -2
    if [ $rc -ne 0 ]; then
        found=1
        mkdir -p "tests/fuzz/regressions/$surface"
        for a in "$art"*; do
            [ -f "$a" ] || continue
            cp "$a" "tests/fuzz/regressions/$surface/"
            echo "FOUND: $name: $(basename "$a") -> tests/fuzz/regressions/$surface/"
        done
        grep -m5 -E "ERROR|SUMMARY|runtime error|invariant failed" "$BUILD/$name.log"
    fi
done
[ $found -eq 0 ] && echo "fuzz: no crash, hang or sanitizer report"
exit $found
