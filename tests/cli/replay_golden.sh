#!/bin/sh
# replay_golden.sh BUILD: `pamoe replay` against the reference golden episodes of
# ../shared/data/golden (relative tolerance 1e-6, as the data README states: 9 significant
# digits). Mapping: the golden starts with reset() at start ptr P and initial quality q0
# (row 0, no reward). Replay does no reset download, so it is started at the golden's hand-set
# state (--start-ptr P --last-quality q0) and its FIRST action is the reset's quality q0:
# that step downloads chunk 0 exactly as the reset does (same segment walk, buffer 0 -> 4 s),
# with a zero smoothness penalty. Replay row t (chunk t) then equals golden step t for t =
# 1..47 in every simulator column and in the reward of the chosen content; row 0 matches
# delay, buffer and chunk size of the reset row.
B=${1:-build}
D=../shared/data
if [ ! -d "$D/golden" ]; then echo "SKIP: ../shared/data not found"; exit 77; fi
fail=0
check() { # golden trace ptr q0 content rcol
    g=$D/golden/$1
    acts=$(awk -F, 'NR>1{printf "%s ", $3}' "$g")
    out=$("$B/pamoe" replay --trace "$D/traces/train/$2" --video-dir "$D/video" --start-ptr "$3" \
        --last-quality "$4" --content "$5" --no-delay-noise --actions "$acts") || { echo "replay failed"; fail=1; return; }
    echo "$out" | head -1 | grep -qx 'chunk,action,delay_ms,sleep_ms,buffer_s,rebuffer_s,chunk_size_bytes,bitrate_reward,rebuffer_penalty,smooth_penalty,reward,end_of_video' || { echo "bad header"; fail=1; }
    n=$(echo "$out" | awk 'END{print NR}')
    [ "$n" -eq 49 ] || { echo "$1: expected 49 lines, got $n"; fail=1; }
    # golden: 1 step,2 kind,3 action,4 last,5 chunk,6 bytes,7 delay,8 rebuf,9 buffer,10 sleep,
    # 13 end, 14..16 rewards. replay: 1 chunk,2 action,3 delay,4 sleep,5 buffer,6 rebuf,
    # 7 bytes,11 reward,12 end.
    echo "$out" | awk -F, -v rc="$6" -v name="$1-$5" '
        function bad(a, b) { d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); return d > 1e-6 * m + 1e-9 }
        NR == FNR { if (FNR > 1) g[FNR - 2] = $0; next }
        FNR > 1 { r = FNR - 2; split(g[r], G, ",");
            if ($1 != G[5] || $2 != G[3] || bad($3, G[7]) || bad($5, G[9]) || bad($7, G[6])) { print name " row " r " mismatch: " $0 " vs " g[r]; err = 1 }
            if (r >= 1 && (bad($4, G[10]) || bad($6, G[8]) || bad($11, G[rc]) || $12 != G[13])) { print name " row " r " mismatch: " $0 " vs " g[r]; err = 1 }
            rows++ }
        END { if (rows != 48) err = 1; exit err }' "$g" - || fail=1
}
for c in documentary:14 live:15 news:16; do
    check env_golden_rebuffer.csv trace_10367_http---www.facebook.com 11 2 ${c%:*} ${c#*:}
    check env_golden_sleep.csv bus.ljansbakken-oslo-report.2010-09-30_1114CEST.log 100 4 ${c%:*} ${c#*:}
done
[ $fail -eq 0 ] && echo "replay matches both golden episodes (3 contents)"
exit $fail
