#!/bin/sh
# Runs every test binary given (cmocka), then the shell-level CLI tests in tests/cli/*.sh,
# and prints one closing line "N passed, N failed, N skipped". Exit 1 on any failure.
# A test that exits 77 is a skip (needs ../shared/data or a GPU), as in automake.
BUILD=$1; shift
pass=0; fail=0; skip=0; failed=""
run() {
    name=$1; shift
    start=$(date +%s)
    "$@" > "$BUILD/tests/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS  $name (${secs}s)"
    elif [ $rc -eq 77 ]; then skip=$((skip+1)); echo "SKIP  $name: $(grep -m1 SKIP "$BUILD/tests/$name.log")"
    else fail=$((fail+1)); failed="$failed $name"; echo "FAIL  $name (exit $rc)"; sed 's/^/      /' "$BUILD/tests/$name.log" | tail -40
    fi
}
mkdir -p "$BUILD/tests"
for t in "$@"; do run "$(basename "$t")" "$t"; done
for s in tests/cli/*.sh; do [ -f "$s" ] && run "$(basename "$s" .sh)" sh "$s" "$BUILD"; done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
