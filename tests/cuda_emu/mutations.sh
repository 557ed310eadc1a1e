#!/bin/sh
# mutations.sh [MODE...]: planted bugs in a copy of kernels/backend_cuda.cu; the emulated GPU
# suite must fail on every one. Modes (default: deferred):
#   deferred   plain build, queued work runs at synchronisation points, threads in order
#   immediate  plain build, CUDA_EMU_EXEC=immediate
#   reverse    plain build, CUDA_EMU_ORDER=reverse
#   asan       ASan+UBSan build        tsan  TSan build
# For each mutant and mode it runs tests/gpu_backend, then (if that passed)
# tests/cuda_emu/emu_train.sh, and prints what caught it. Exit 1 when the deferred mode misses
# a mutant (the other modes are reported: docs/cuda.md's table comes from
# `sh tests/cuda_emu/mutations.sh deferred immediate reverse asan tsan`). Needs the matching
# emulated builds (build-emu, build-emu-asan, build-emu-tsan: make test-cuda-emu) to copy
# their host objects from. Env MAKE: the make to call.
set -u
MAKE=${MAKE:-make}
MODES=${*:-deferred}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0

# name|perl substitution (applied once, with -0: the whole file is one string)
MUTANTS='row-index|s/pmath_cat_bwd_row\(dlogits \+ i \* A,/pmath_cat_bwd_row(dlogits + i * (A - 1),/
copy-direction|s/^    CUDA_CHECK\(cudaMemcpyAsync\(h_dst, src, bytes, cudaMemcpyDeviceToHost/    CUDA_CHECK(cudaMemcpyAsync(h_dst, src, bytes, cudaMemcpyHostToDevice/m
copy-size|s/cudaMemcpyAsync\(dst, h_src, bytes, cudaMemcpyHostToDevice/cudaMemcpyAsync(dst, h_src, bytes - sizeof(float), cudaMemcpyHostToDevice/
missing-sync|s/\{ CUDA_CHECK\(cudaEventSynchronize\(ctx_of\(be\)->downloaded\)\); \}/{ (void)be; }/
gemm-ld|s/k, &alpha, A, lda, \(long long\)strideA/k, &alpha, A, lda + 1, (long long)strideA/
grid-off-by-one|s/CUDA_GRID_STRIDE\(i, rows\) pmath_softmax_row\(/CUDA_GRID_STRIDE(i, rows - 1) pmath_softmax_row(/
read-before-write|s/CUDA_CHECK\(cudaMemsetAsync\(p, 0, bytes, ctx_of\(be\)->stream\)\);/(void)ctx_of(be);/'

variant_of() { case $1 in asan) echo asan ;; tsan) echo tsan ;; *) echo plain ;; esac; }
base_of() { case $1 in plain) echo build-emu ;; *) echo build-emu-$1 ;; esac; }

# The first line that says why a run failed.
why() { grep -m1 -E '^FAIL|^cuda_emu:|AddressSanitizer|ThreadSanitizer: data race|runtime error|^pamoe: |differ|Segmentation|Aborted' "$1" | cut -c1-110; }

printf '%s\n' "$MUTANTS" > "$W/list"
printf '%-18s %-10s %s\n' mutant mode "caught by"
while IFS='|' read -r name subst; do
    mkdir -p "$W/$name"
    cp kernels/backend_cuda.cu "$W/$name/backend_cuda.cu"
    perl -0pi -e "$subst" "$W/$name/backend_cuda.cu"
    if cmp -s kernels/backend_cuda.cu "$W/$name/backend_cuda.cu"; then
        echo "FAIL: mutant $name did not apply: kernels/backend_cuda.cu changed, update tests/cuda_emu/mutations.sh"
        fail=1; continue
    fi
    for mode in $MODES; do
        v=$(variant_of "$mode"); base=$(base_of "$v"); B="$W/build-$v"
        [ -d "$base/host" ] || { echo "FAIL: $base not built (make test-cuda-emu builds it)"; fail=1; continue; }
        if [ ! -d "$B" ]; then mkdir -p "$B"; cp -a "$base/." "$B/"; fi
        if ! $MAKE --no-print-directory -s CUDA_EMU=$v BUILD="$B" EMU_KERNELS="$W/$name" \
                "$B/pamoe" "$B/tests/gpu_backend" > "$W/build.log" 2>&1; then
            printf '%-18s %-10s %s\n' "$name" "$mode" "compile: $(grep -m1 error "$W/build.log")"; continue
        fi
        env=""
        case $mode in immediate) env="CUDA_EMU_EXEC=immediate" ;; reverse) env="CUDA_EMU_ORDER=reverse" ;; esac
        san="ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 TSAN_OPTIONS=halt_on_error=1:exitcode=66 OMP_NUM_THREADS=1"
        if ! env $env $san "$B/tests/gpu_backend" > "$W/run.log" 2>&1; then
            res="gpu_backend: $(why "$W/run.log")"
        elif ! env $env $san sh tests/cuda_emu/emu_train.sh "$B" > "$W/run.log" 2>&1; then
            res="emu_train: $(why "$W/run.log")"
        else
            res="MISSED"
            [ "$mode" = deferred ] && fail=1
        fi
        printf '%-18s %-10s %s\n' "$name" "$mode" "$res"
    done
done < "$W/list"
exit $fail
