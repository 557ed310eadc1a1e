#!/bin/sh
# The CPU and CUDA backends fill in the same ops and capabilities, in the order backend.h
# declares them: catches an op added to backend.h and host/backend/backend_cpu.c but not to
# kernels/backend_cuda.cu, which would otherwise show up only as a NULL call on a GPU machine,
# and keeps the two tables line by line comparable. Args: build directory (unused).
# entries of the `static const TYPE ... = { .x = ..., };` table in file $2, in order
table() { sed -n "/^static const $1 [a-z_]* = {/,/^};/p" "$2" | grep -o '^ *\.[a-z_0-9]* =' | tr -d ' .='; }
# members of `typedef struct TYPE {` in backend.h, in order
members() {
    sed -n "/^typedef struct $1 {/,/^} $1;/p" include/backend.h | grep -v '^ *\(/\*\|\*\)' |
        grep -o '(\*[a-z_0-9]*)\|^ *\(int\|const char \*\)[a-z_ ]*;' | tr -d '(*);' | sed 's/^ *\(int\|const char\) *//'
}
fail=0
for type in BackendOps BackendCaps; do
    cpu=$(table $type host/backend/backend_cpu.c)
    cuda=$(table $type kernels/backend_cuda.cu)
    hdr=$(members $type)
    [ -n "$cpu" ] && [ -n "$hdr" ] || { echo "FAIL: no $type table found (the check reads nothing)"; exit 1; }
    if [ "$cpu" != "$cuda" ]; then
        echo "FAIL: $type tables differ (< cpu, > cuda):"
        printf '%s\n' "$cpu" > /tmp/pamoe_ops_cpu.$$; printf '%s\n' "$cuda" > /tmp/pamoe_ops_cuda.$$
        diff /tmp/pamoe_ops_cpu.$$ /tmp/pamoe_ops_cuda.$$; rm -f /tmp/pamoe_ops_cpu.$$ /tmp/pamoe_ops_cuda.$$
        fail=1
    fi
    if [ "$hdr" != "$cpu" ]; then
        echo "FAIL: backend.h's $type and the CPU table differ (order included):"
        echo "$hdr" | tr '\n' ' '; echo; echo "$cpu" | tr '\n' ' '; echo
        fail=1
    fi
done
[ $fail = 0 ] || exit 1
echo "ok: $(table BackendOps host/backend/backend_cpu.c | wc -l | tr -d ' ') ops and $(table BackendCaps host/backend/backend_cpu.c | wc -l | tr -d ' ') capabilities in backend.h, host/backend/backend_cpu.c and kernels/backend_cuda.cu, in one order"
