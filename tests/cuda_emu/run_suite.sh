#!/bin/sh
# `make test-cuda-emu`: the CUDA backend executed on the CPU emulator (tests/cuda_emu/,
# docs/cuda.md "CPU emulator"). Builds it plain (build-emu), with ASan+UBSan (build-emu-asan)
# and with TSan (build-emu-tsan), then runs
#   - under every thread order (forward, reverse, random:1): the emulator's selftest, the
#     existing GPU suite (tests/run_gpu.sh: tests/gpu_backend op by op and per network kind
#     against the CPU backend, then tests/cli/gpu_train.sh, one full training iteration
#     against the CPU and CUDA reproducibility), and tests/cuda_emu/emu_train.sh (pamoe train
#     --device cuda on a tiny config against the CPU run, stop + resume, another order);
#   - tests/test_cuda_host, and gpu_backend once with CUDA_EMU_EXEC=immediate;
#   - selftest, gpu_backend and emu_train once under ASan+UBSan and once under TSan, where a
#     kernel with a missing barrier must be reported (emu_selftest race);
#   - the mutation test (tests/cuda_emu/mutations.sh): every planted bug caught.
# Arg: the make command. Exit 77 (skip) without NVIDIA's headers, 1 on any failure.
MAKE=${1:-make}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$CUDA_HOME/include/cuda_runtime.h" ]; then
    echo "SKIP: the CUDA emulator needs NVIDIA's headers ($CUDA_HOME/include/cuda_runtime.h; set CUDA_HOME)"
    exit 77
fi
export CUDA_HOME
fail=0; failed=""
L=$(mktemp); trap 'rm -f "$L"' EXIT
step() {
    name=$1; shift
    start=$(date +%s)
    if "$@" > "$L" 2>&1; then echo "PASS  $name ($(( $(date +%s) - start ))s)"
    else fail=1; failed="$failed [$name]"; echo "FAIL  $name"; tail -30 "$L" | sed 's/^/      /'; fi
}
# A run that must fail, with a given message.
step_fails() {
    name=$1; want=$2; shift 2
    if "$@" > "$L" 2>&1; then fail=1; failed="$failed [$name]"; echo "FAIL  $name: ran clean"
    elif grep -q "$want" "$L"; then echo "PASS  $name (reported: $want)"
    else fail=1; failed="$failed [$name]"; echo "FAIL  $name: no '$want'"; tail -10 "$L" | sed 's/^/      /'; fi
}

for v in plain asan tsan; do
    B=build-emu; [ $v = plain ] || B=build-emu-$v
    step "build $B" $MAKE --no-print-directory -s CUDA_EMU=$v BUILD=$B emu-bins
done
[ $fail -eq 0 ] || { echo "test-cuda-emu: build failed"; exit 1; }

for order in forward reverse random:1; do
    export CUDA_EMU_ORDER=$order
    step "selftest [$order]" build-emu/cuda_emu/emu_selftest
    step "run_gpu.sh [$order]" sh tests/run_gpu.sh build-emu build-emu/tests/gpu_backend
    step "emu_train [$order]" sh tests/cuda_emu/emu_train.sh build-emu
done
unset CUDA_EMU_ORDER
# the no-device paths (CUDA_VISIBLE_DEVICES emptied) and the real cuRAND host generator
# linked beside the emulator
step "test_cuda_host" build-emu/tests/test_cuda_host
step "selftest [immediate]" env CUDA_EMU_EXEC=immediate build-emu/cuda_emu/emu_selftest
step "gpu_backend [immediate]" env CUDA_EMU_EXEC=immediate build-emu/tests/gpu_backend
step_fails "selftest deadlock" "__syncthreads is waited on after some threads" build-emu/cuda_emu/emu_selftest deadlock

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
step "selftest [asan+ubsan]" build-emu-asan/cuda_emu/emu_selftest
step "gpu_backend [asan+ubsan]" build-emu-asan/tests/gpu_backend
step "emu_train [asan+ubsan]" sh tests/cuda_emu/emu_train.sh build-emu-asan
unset ASAN_OPTIONS UBSAN_OPTIONS

# TSan: one OpenMP thread (libgomp is not instrumented); the first report fails the run.
export OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:exitcode=66
step "selftest [tsan]" build-emu-tsan/cuda_emu/emu_selftest
step_fails "selftest race [tsan]" "ThreadSanitizer: data race" build-emu-tsan/cuda_emu/emu_selftest race
step_fails "selftest race [tsan, reverse]" "ThreadSanitizer: data race" env CUDA_EMU_ORDER=reverse build-emu-tsan/cuda_emu/emu_selftest race
step "gpu_backend [tsan]" build-emu-tsan/tests/gpu_backend
step "emu_train [tsan]" sh tests/cuda_emu/emu_train.sh build-emu-tsan
unset OMP_NUM_THREADS TSAN_OPTIONS

step "mutations [deferred]" env MAKE="$MAKE" sh tests/cuda_emu/mutations.sh deferred
echo
if [ $fail -eq 0 ]; then echo "test-cuda-emu: all passed"; else echo "test-cuda-emu: failed:$failed"; fi
exit $fail
