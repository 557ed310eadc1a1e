#!/bin/sh
# Which subsystem may include which (README, "Architecture"). Every `#include "x.h"` of
# host/, kernels/ and include/ is resolved to the subsystem that owns x.h: the folder of x.c
# (include/x.h is the interface of host/<sub>/x.c), the folder the header sits in
# (host/<sub>/x.h, kernels/, include/pmath/), or the table of header-only interfaces below.
# Fails, naming file:line, on
#  - an include the rules below do not allow (nn/ including train/, env/ including nn/, ...);
#  - a private header (host/<sub>/x.h) included from outside host/<sub>/;
#  - a header in include/ that no other subsystem reaches (it belongs beside its .c);
#  - a header without an owner, a header name that exists twice, a folder without a rule.
# Then plants forbidden includes in a copy of the tree and checks that each one is caught.
# Args: build directory (unused). Exit 0 pass, 1 fail.

# subsystem: what it may include besides itself (a DAG, lowest first)
RULES='
pmath:
core: pmath
rand: core pmath
ops: core rand pmath
env: core rand
io: core rand ops
metrics: core io pmath
backend: core rand ops pmath kernels
kernels: core rand ops pmath backend
nn: core rand ops pmath backend
plasticity: core rand ops pmath backend nn metrics
train: core rand ops pmath backend nn env io metrics plasticity
eval: core rand ops pmath backend nn env io metrics train
sweep: core rand ops pmath backend nn env io metrics train
cli: core rand ops pmath backend nn env io metrics train eval sweep plasticity
'
# interfaces in include/ without a .c of their own: header owner
HEADER_ONLY='
abr.h env
rng.h rand
params.h ops
metrics.h metrics
sweep.h sweep
'

# check ROOT: prints one line per violation; exit status 1 if there is any
check() {
    (
        cd "$1" || exit 2
        files=$(ls host/*/*.c host/*/*.h kernels/*.cu kernels/*.cuh kernels/*.h include/*.h \
                   include/pmath/*.h 2>/dev/null)
        {
            for f in $files; do echo "FILE $f"; done
            echo "$RULES" | sed -n 's/^\([a-z]*\):\(.*\)$/RULE \1 \2/p'
            echo "$HEADER_ONLY" | sed -n 's/^\([a-z_0-9.]*\) \([a-z]*\)$/HONLY \1 \2/p'
            grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files | sed 's/^/INC /'
        } | awk '
        function base(p) { sub(/.*\//, "", p); return p }
        function err(msg) { print msg; bad++ }
        # the subsystem that owns the header at path p ("" and a message when none)
        function owner_of_path(p,    b, c) {
            if (p ~ /^host\//) { split(p, c, "/"); return c[2] }
            if (p ~ /^kernels\//) return "kernels"
            if (p ~ /^include\/pmath\//) return "pmath"
            b = base(p)
            if (b in cfile) return cfile[b]
            if (b in honly) return honly[b]
            return ""
        }
        $1 == "FILE" {
            p = $2; b = base(p)
            if (p ~ /\.(h|cuh)$/) { nloc[b]++; loc[b] = p }
            if (p ~ /^host\/[^\/]*\/[^\/]*\.c$/) { h = b; sub(/\.c$/, ".h", h); split(p, c, "/"); cfile[h] = c[2] }
            if (p ~ /^host\//) { split(p, c, "/"); folders[c[2]] = 1 }
            nfiles++; file[nfiles] = p
            next
        }
        $1 == "RULE" { known[$2] = 1; for (i = 3; i <= NF; i++) allowed[$2 SUBSEP $i] = 1; next }
        $1 == "HONLY" { honly[$2] = $3; next }
        $1 == "INC" {
            line = substr($0, 5)
            split(line, part, ":"); f = part[1]; ln = part[2]
            h = line; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
            n++; inc_f[n] = f; inc_ln[n] = ln; inc_h[n] = h
            next
        }
        END {
            for (s in folders) if (!(s in known)) err("host/" s "/: no layering rule for this subsystem (tests/cli/layering.sh)")
            for (b in nloc) if (nloc[b] > 1) err(b ": the header name exists " nloc[b] " times (every folder is on the include path)")
            for (i = 1; i <= nfiles; i++) {
                p = file[i]
                if (p ~ /^include\/[^\/]*\.h$/ && owner_of_path(p) == "")
                    err(p ": no owner (no host/<sub>/" substr(base(p), 1, length(base(p)) - 2) ".c; add it to HEADER_ONLY)")
            }
            for (i = 1; i <= n; i++) {
                f = inc_f[i]; h = inc_h[i]
                if (!(h in loc)) continue # not a project header
                p = loc[h]
                sf = owner_of_path(f); so = owner_of_path(p)
                if (sf == "" || so == "") continue # reported above
                where = f ":" inc_ln[i] ": "
                if (p ~ /^host\// && f !~ ("^host/" so "/"))
                    err(where h " is private to host/" so "/ (move it to include/ if it is an interface)")
                else if (sf != so && !((sf SUBSEP so) in allowed))
                    err(where sf " may not include " h " (" so ")")
                if (sf != so && p ~ /^include\/[^\/]*\.h$/) across[h] = 1
                if (f ~ /^include\/[^\/]*\.h$/) { ne++; e_from[ne] = base(f); e_to[ne] = h }
            }
            # an interface reached through another interface of its subsystem is used across too
            do {
                more = 0
                for (i = 1; i <= ne; i++)
                    if ((e_from[i] in across) && !(e_to[i] in across) && loc[e_to[i]] ~ /^include\/[^\/]*\.h$/) { across[e_to[i]] = 1; more = 1 }
            } while (more)
            for (i = 1; i <= nfiles; i++) {
                p = file[i]
                if (p ~ /^include\/[^\/]*\.h$/ && owner_of_path(p) != "" && !(base(p) in across))
                    err(p ": used by " owner_of_path(p) "/ only: a private header belongs beside its .c (host/" owner_of_path(p) "/)")
            }
            exit bad > 0
        }'
    )
}

root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(check "$root")
if [ $? -ne 0 ]; then
    echo "FAIL: forbidden includes:"
    echo "$out"
    exit 1
fi

# The check must catch planted violations, each named by file and line.
tmp=$(mktemp -d /tmp/pamoe_layering.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
plant() { # plant FILE TEXT EXPECTED: appends the line to a fresh copy and expects EXPECTED
    rm -rf "$tmp/t" && mkdir -p "$tmp/t" && cp -R "$root/host" "$root/include" "$root/kernels" "$tmp/t/" || exit 1
    printf '%s\n' "$2" >> "$tmp/t/$1"
    n=$(wc -l < "$tmp/t/$1" | tr -d ' ')
    got=$(check "$tmp/t") && { echo "FAIL: planted '$2' in $1 was not caught"; exit 1; }
    case "$got" in
    *"$3"*) ;;
    *) echo "FAIL: planted '$2' in $1: expected '$3', got:"; echo "$got"; exit 1 ;;
    esac
    case "$3" in "$1:"*) [ "$3" = "$1:$n: ${3#*: }" ] || { echo "FAIL: wrong line for $1"; exit 1; } ;; esac
}
n_nn=$(($(wc -l < "$root/host/nn/net.c") + 1))
plant host/nn/net.c '#include "trainer.h"' "host/nn/net.c:$n_nn: nn may not include trainer.h (train)"
n_env=$(($(wc -l < "$root/host/env/env.c") + 1))
plant host/env/env.c '#include "net.h"' "host/env/env.c:$n_env: env may not include net.h (nn)"
n_pm=$(($(wc -l < "$root/include/pmath/pmath_net.h") + 1))
plant include/pmath/pmath_net.h '#include "common.h"' "include/pmath/pmath_net.h:$n_pm: pmath may not include common.h (core)"
n_cli=$(($(wc -l < "$root/host/cli/cmd_bench.c") + 1))
plant host/cli/cmd_bench.c '#include "trainer_state.h"' "host/cli/cmd_bench.c:$n_cli: trainer_state.h is private to host/train/"
rm -rf "$tmp/t" && mkdir -p "$tmp/t" && cp -R "$root/host" "$root/include" "$root/kernels" "$tmp/t/" &&
    mv "$tmp/t/host/train/episodes.h" "$tmp/t/include/episodes.h"
got=$(check "$tmp/t") && { echo "FAIL: a private header in include/ was not caught"; exit 1; }
case "$got" in *"include/episodes.h: used by train/ only"*) ;; *) echo "FAIL: expected include/episodes.h to be named, got:"; echo "$got"; exit 1 ;; esac
echo "ok: every include of host/, kernels/ and include/ follows the layering; 5 planted violations caught"
