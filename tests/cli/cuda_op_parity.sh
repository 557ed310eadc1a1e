#!/bin/sh
# Every op the CPU backend fills in, the CUDA backend fills in too (and no other): catches an op
# added to backend.h and host/backend/backend_cpu.c but not to kernels/backend_cuda.cu, which would
# otherwise show up only as a NULL call on a GPU machine. Args: build directory (unused).
ops() { grep -o 'be->[a-z_0-9]* = ' "$1" | grep -v -e 'be->ctx = ' -e 'be->name = ' | sort; }
cpu=$(ops host/backend/backend_cpu.c) || exit 1
cuda=$(ops kernels/backend_cuda.cu) || exit 1
n=$(echo "$cpu" | wc -l | tr -d " ")
if [ "$cpu" != "$cuda" ]; then
    echo "FAIL: backend op tables differ (< cpu, > cuda):"
    printf '%s\n' "$cpu" > /tmp/pamoe_ops_cpu.$$; printf '%s\n' "$cuda" > /tmp/pamoe_ops_cuda.$$
    diff /tmp/pamoe_ops_cpu.$$ /tmp/pamoe_ops_cuda.$$; rm -f /tmp/pamoe_ops_cpu.$$ /tmp/pamoe_ops_cuda.$$
    exit 1
fi
# and the table in backend.h has exactly these entries (besides name and ctx)
hdr=$(sed -n '/^struct Backend {/,/^};/p' include/backend.h | grep -o '(\*[a-z_0-9]*)' | tr -d '(*)' | sort)
tab=$(echo "$cpu" | sed 's/be->\([a-z_0-9]*\) = /\1/' | sort)
[ "$hdr" = "$tab" ] || { echo "FAIL: backend.h entries and the CPU table differ"; echo "$hdr" | tr '\n' ' '; echo; echo "$tab" | tr '\n' ' '; exit 1; }
echo "ok: $n ops in backend.h, host/backend/backend_cpu.c and kernels/backend_cuda.cu"
