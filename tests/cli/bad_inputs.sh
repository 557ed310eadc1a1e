#!/bin/sh
# The bad-input table: every class of hostile input pamoe must refuse. Each row runs one
# command under a time limit and asserts
#   - a nonzero exit (never a crash signal, never a hang: `timeout` ends it as a failure),
#   - a message naming the file, line, key or dataset,
#   - no output left behind (the row's --out / output paths do not exist afterwards),
#   - files that existed before are unchanged (checksums of $D/keep before and after).
# Add a row per new class: `row NAME "needle" [-n PATH_THAT_MUST_NOT_EXIST] -- command...`.
set -u
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
fail=0; rows=0
LIMIT=${BAD_INPUT_TIMEOUT:-30}
mkdir -p "$D/keep"
sums() { (cd "$D/keep" && find . -type f -exec md5sum {} + | sort); }

row() { # row NAME "needle" [-n PATH]... -- command...
    name=$1; needle=$2; shift 2
    absent=""
    while [ "$1" = "-n" ]; do absent="$absent $2"; shift 2; done
    [ "$1" = "--" ] && shift
    rows=$((rows + 1))
    before=$(sums)
    out=$(timeout -s KILL "$LIMIT" "$@" 2>&1); rc=$?
    after=$(sums)
    why=""
    if [ $rc -eq 137 ]; then why="no answer within ${LIMIT}s (hang)"
    elif [ $rc -eq 0 ]; then why="exit 0"
    elif [ $rc -gt 128 ]; then why="killed by signal $((rc - 128)) (crash)"
    elif ! printf '%s' "$out" | grep -qF -- "$needle"; then why="message lacks '$needle'"
    fi
    for p in $absent; do [ -e "$p" ] && why="$why; left $p behind"; done
    [ "$before" = "$after" ] || why="$why; changed files in keep/"
    if [ -n "$why" ]; then
        echo "FAILED $name: $why"; printf '%s\n' "$out" | head -5 | sed 's/^/    /'; fail=1
    fi
}

TRAIN="$B/pamoe train --config configs/paper.ini --set total_timesteps=20000 --quiet"
good_video=data/video

# ---- traces: bounded work, load-time rejection naming file and line ----
mkdir -p "$D/slow" "$D/short" "$D/nul" "$D/link" "$D/fifo"
printf '0 1e-9\n1 1e-9\n2 1e-9\n' > "$D/slow/slow.log"
# full bandwidth, but the whole trace lasts 1 us: only the sleep loop's bound can refuse it
printf '0 1000000\n5e-7 1000000\n1e-6 1000000\n' > "$D/short/short.log"
printf '0 5\n1 5\0 junk\n2 5\n' > "$D/nul/nul.log"
cp data/traces/train/train_0000 "$D/link/a"; ln -s "$D/nowhere" "$D/link/b"
mkfifo "$D/fifo/pipe"
row trace_tiny_bandwidth "slow.log: one pass over the trace delivers only" -n "$D/o1.h5" -- \
    $TRAIN --set traces="$D/slow" --set trace_filter=hybrid --out "$D/o1.h5"
row trace_tiny_bandwidth_eval "slow.log: one pass" -n "$D/o2.h5" -- \
    $B/pamoe eval --agent bb --traces "$D/slow" --video-dir $good_video --sessions 2 --out "$D/o2.h5"
row trace_tiny_bandwidth_replay "slow.log: one pass" -- \
    $B/pamoe replay --trace "$D/slow/slow.log" --video-dir $good_video --start-ptr 1 \
    --last-quality 0 --content news --actions "0 0 0"
row trace_tiny_time_steps "short.log: the trace lasts only" -n "$D/o3.h5" -- \
    $TRAIN --set traces="$D/short" --set trace_filter=hybrid --out "$D/o3.h5"
row trace_nul_byte "nul.log:2: NUL byte" -n "$D/o4.h5" -- \
    $TRAIN --set traces="$D/nul" --set trace_filter=hybrid --out "$D/o4.h5"
row trace_broken_symlink "link/b: cannot read trace" -n "$D/o5.h5" -- \
    $TRAIN --set traces="$D/link" --set trace_filter=hybrid --out "$D/o5.h5"
row trace_fifo "fifo/pipe: not a regular file" -n "$D/o6.h5" -- \
    $TRAIN --set traces="$D/fifo" --set trace_filter=hybrid --out "$D/o6.h5"
row trace_fifo_replay "pipe: not a regular file" -- \
    $B/pamoe replay --trace "$D/fifo/pipe" --video-dir $good_video --start-ptr 1 \
    --last-quality 0 --content news --actions "0"

# ---- video sizes ----
v="$D/video_huge"; cp -r $good_video "$v"; sed -i "3s/.*/20000000000/" "$v/video_size_5"
row video_absurd_chunk "video_size_5:3: chunk size 20000000000 bytes is above" -n "$D/o7.h5" -- \
    $TRAIN --set video="$D/video_huge" --out "$D/o7.h5"
v="$D/video_nul"; cp -r $good_video "$v"; printf '12\0 34\n' >> "$v/video_size_2"
row video_nul_byte "video_size_2:" -n "$D/o9.h5" -- $TRAIN --set video="$v" --out "$D/o9.h5"

# ---- gen-traces writes only what its loader accepts, and nothing on failure ----
row gen_traces_unloadable "does not load" -n "$D/gen/train_0000" -- \
    $B/pamoe gen-traces --out "$D/gen" --count 2 --duration 1 --period 0.0001 --seed 1

# ---- configs: strict reader, per-run lists, step counts ----
mkfifo "$D/config_fifo"
row config_directory "cannot read config file: not a regular file" -n "$D/c1.h5" -- \
    $B/pamoe train --config "$D/keep" --out "$D/c1.h5"
row config_fifo "config_fifo: cannot read config file: not a regular file" -n "$D/c2.h5" -- \
    $B/pamoe train --config "$D/config_fifo" --out "$D/c2.h5"
printf '[ppo]\ngamma = 0.9\ngamma = 0.8\n' > "$D/keep/dup.ini"
row config_duplicate_key "dup.ini:3: duplicate key ppo.gamma (first set at line 2)" -n "$D/c3.h5" -- \
    $B/pamoe train --config "$D/keep/dup.ini" --out "$D/c3.h5"
printf '[ppo]\ngamma = 0.9\n\t0.95\n' > "$D/keep/cont.ini"
row config_continuation_line "cont.ini:3: syntax error" -n "$D/c4.h5" -- \
    $B/pamoe train --config "$D/keep/cont.ini" --out "$D/c4.h5"
printf '[ppo]\ngamma = 0.9\0 5\n' > "$D/keep/nul.ini"
row config_nul_byte "nul.ini:2: NUL byte" -n "$D/c5.h5" -- \
    $B/pamoe train --config "$D/keep/nul.ini" --out "$D/c5.h5"
row config_empty_list_element "run.seed: element 3 is empty" -n "$D/c6.h5" -- \
    $TRAIN --set runs=3 --set seed=1,2, --out "$D/c6.h5"
row config_partial_rollout "ppo.total_timesteps = 21000 is not a multiple of ppo.num_steps = 2000" -n "$D/c7.h5" -- \
    $TRAIN --set total_timesteps=21000 --out "$D/c7.h5"
row config_huge_step_count "more than 2147483647" -n "$D/c8.h5" -- \
    $TRAIN --set total_timesteps=9e12 --set num_steps=2 --set num_minibatches=1 --out "$D/c8.h5"

# ---- command lines: one parser, checked numbers, the option named ----
row option_missing_value "--out needs a value" -- $TRAIN --out
row option_bad_number "--stop-after: '1e3' is not a positive integer" -n "$D/c9.h5" -- \
    $TRAIN --stop-after 1e3 --out "$D/c9.h5"
row agent_option_without_value "option 'horizon' needs a value" -n "$D/e1.h5" -- \
    $B/pamoe eval --agent mpc:horizon --traces data/traces/test --video-dir $good_video --sessions 2 --out "$D/e1.h5"

# ---- act observations (checked before the checkpoint is read) ----
seq -s, 1 48 | sed 's/^1,/nan,/' > "$D/keep/nan.csv"
row act_nan_observation "nan.csv:1: field 1 'nan' is not a finite number" -- \
    $B/pamoe act --checkpoint "$D/none.h5" --obs "$D/keep/nan.csv"
{ seq -s, 1 48 | sed 's/,5,/,5x,/'; seq -s, 1 48; } > "$D/keep/row1.csv"
row act_malformed_first_row "row1.csv:1: field 5 '5x' is not a finite number" -- \
    $B/pamoe act --checkpoint "$D/none.h5" --obs "$D/keep/row1.csv"
seq -s, 1 48 > "$D/keep/ok.csv"
row act_missing_checkpoint "no checkpoint $D/none.ckpt.h5 (a run RUN.h5 keeps" -- \
    $B/pamoe act --checkpoint "$D/none.h5" --obs "$D/keep/ok.csv"

echo "$rows rows"
[ $fail -eq 0 ] && echo ok
exit $fail
