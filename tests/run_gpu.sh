#!/bin/sh
# `make test-gpu`: the CUDA-vs-CPU suite (tests/gpu_* binaries, then tests/cli/gpu_*.sh with the
# build dir). Each exits 77 ("SKIP: no CUDA device") without a GPU; the suite then exits 77 too.
BUILD=$1; shift
rc=0; ran=0
for t in "$@" tests/cli/gpu_*.sh; do
    case $t in *.sh) sh "$t" "$BUILD" ;; *) "$t" ;; esac
    r=$?
    if [ $r -eq 77 ]; then continue; fi
    ran=1; [ $r -eq 0 ] || { echo "FAIL: $t"; rc=1; }
done
[ $ran -eq 0 ] && { echo "SKIP: no CUDA device"; exit 77; }
[ $rc -eq 0 ] && echo "test-gpu: all CUDA-vs-CPU checks passed"
exit $rc
