#!/bin/sh
# replay_args.sh BUILD: `pamoe replay` argument validation (clear message, exit 2 / 1) and a
# hand-checkable run on a constant trace written here (8 Mbps at scale 1 = 1e6 bytes/s).
B=${1:-build}
P="$B/pamoe"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for i in 0 1 2 3 4 5 6 7 8 9; do echo "$i 8"; done > "$T/const"
mkdir "$T/video"
for q in 0 1 2 3 4 5; do
    : > "$T/video/video_size_$q"
    k=0; while [ $k -lt 49 ]; do echo 475000 >> "$T/video/video_size_$q"; k=$((k+1)); done
done
base="--trace $T/const --video-dir $T/video --start-ptr 1 --last-quality 1 --content live"
expect() { # exit-code message-fragment args...
    code=$1; msg=$2; shift 2
    out=$("$P" replay "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne "$code" ] || ! echo "$out" | grep -qF -- "$msg"; then
        echo "FAIL: replay $* -> rc $rc, '$out' (want $code, '$msg')"; fail=1
    fi
}
expect 2 "--trace is required" --video-dir "$T/video" --start-ptr 1 --last-quality 1 --content live --actions "0"
expect 2 "--content: 'sports' is not documentary, live or news" --trace "$T/const" --video-dir "$T/video" --start-ptr 1 --last-quality 1 --content sports --actions "0"
expect 2 "--last-quality: '6' is not an integer in 0..5" --trace "$T/const" --video-dir "$T/video" --start-ptr 1 --last-quality 6 --content live --actions "0"
expect 2 "--start-ptr: 'x' is not an integer" --trace "$T/const" --video-dir "$T/video" --start-ptr x --last-quality 1 --content live --actions "0"
expect 2 "--actions: item 3 is not a quality in 0..5" $base --actions "0 1 7"
expect 2 "--actions: no actions given" $base --actions " "
expect 2 "--bw-scale: '-1' is not a positive number" $base --bw-scale -1 --actions "0"
expect 2 "unknown option '--bogus'" $base --bogus 1 --actions "0"
expect 1 "start pointer 10 not in 1..9" --trace "$T/const" --video-dir "$T/video" --start-ptr 10 --last-quality 1 --content live --actions "0"
expect 1 "$T/nope: cannot open trace" --trace "$T/nope" --video-dir "$T/video" --start-ptr 1 --last-quality 1 --content live --actions "0"
expect 1 "video_size_0: cannot open video size file video_size_0" --trace "$T/const" --video-dir "$T" --start-ptr 1 --last-quality 1 --content live --actions "0"
"$P" replay --help | grep -q "usage: pamoe replay" || { echo "FAIL: --help"; fail=1; }
# 475 000 bytes at 1e6 B/s * 0.95 = 0.5 s -> delay 580 ms; from buffer 0: rebuffer 0.58 s,
# buffer 4 s; live: rebuffer weight 7, smoothness 1 (|750-300|/1000 = 0.45).
out=$("$P" replay $base --bw-scale 1 --no-delay-noise --actions "0 0")
row1=$(echo "$out" | sed -n 2p)
[ "$row1" = "0,0,580,0,4,0.58,475000,-0.0333333333,4.06,0.45,-4.54333333,0" ] || { echo "FAIL: row1 '$row1'"; fail=1; }
row2=$(echo "$out" | sed -n 3p)
[ "$row2" = "1,0,580,0,7.42,0,475000,-0.0333333333,0,0,-0.0333333333,0" ] || { echo "FAIL: row2 '$row2'"; fail=1; }
# with noise the delay is within [0.9, 1.1) x 580 and depends on --seed
d1=$("$P" replay $base --bw-scale 1 --seed 1 --actions "0" | awk -F, 'NR==2{print $3}')
d2=$("$P" replay $base --bw-scale 1 --seed 2 --actions "0" | awk -F, 'NR==2{print $3}')
awk -v a="$d1" -v b="$d2" 'BEGIN{exit !(a>=522 && a<638 && b>=522 && b<638 && a!=b)}' || { echo "FAIL: noise $d1 $d2"; fail=1; }
# 48 actions: the last row ends the video with buffer 0
last=$("$P" replay $base --no-delay-noise --actions "$(yes 1 | head -48 | tr "\n" " ")" | tail -1)
echo "$last" | grep -q '^47,1,.*,1$' || { echo "FAIL: last row '$last'"; fail=1; }
[ "$(echo "$last" | cut -d, -f5)" = "0" ] || { echo "FAIL: end buffer '$last'"; fail=1; }
[ $fail -eq 0 ] && echo "replay arguments and hand-computed rows ok"
exit $fail
