#!/bin/sh
# cli_options.sh BUILD: every command parses its options with the one parser (include/cli.h):
# the same --help layout, and usage errors (unknown option, missing value, bad number,
# repeated option, stray argument) exit 2 with a message naming the option.
set -u
B=${1:-build}
P="$B/pamoe"
fail=0
expect() { # exit-code message-fragment command args...
    code=$1; msg=$2; shift 2
    out=$("$P" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne "$code" ] || ! printf '%s' "$out" | grep -qF -- "$msg"; then
        echo "FAIL: pamoe $* -> rc $rc, '$out' (want $code, '$msg')"; fail=1
    fi
}
for c in train eval act replay gen-traces bench import-reference; do
    h=$("$P" $c --help) || { echo "FAIL: $c --help exit code"; fail=1; }
    for part in "usage: pamoe $c " "options:" "  -h, --help "; do
        printf '%s\n' "$h" | grep -qF -- "$part" || { echo "FAIL: $c --help lacks '$part'"; fail=1; }
    done
    expect 2 "pamoe $c: unknown option '--frobnicate' (see pamoe $c --help)" $c --frobnicate
    expect 2 "pamoe $c: unexpected argument 'stray'" $c stray
done
"$P" act -h > /dev/null || { echo "FAIL: act -h"; fail=1; }
expect 2 "pamoe eval: unknown option '--frobnicate'" eval --frobnicate=1
# a value-taking option at the end, or followed by another option, has no value
expect 2 "--out needs a value (RUN.h5)" train --config configs/paper.ini --out
expect 2 "--out needs a value (RUN.h5)" train --out --quiet
expect 2 "--obs needs a value" act --checkpoint x.h5 --obs
expect 2 "--seed needs a value" gen-traces --out /nonexistent --seed
expect 2 "--iterations needs a value" bench --iterations
expect 2 "--set: empty value" train --set= --out x.h5
# a flag takes no value
expect 2 "--quiet takes no value" train --quiet=1
# checked numbers: the whole string, in range, the option named
expect 2 "--stop-after: 'x' is not a positive integer" train --stop-after x
expect 2 "--stop-after: '3x' is not a positive integer" train --stop-after 3x
expect 2 "--stop-after: '0' is not a positive integer" train --stop-after=0
expect 2 "--iterations: '2.5' is not an integer in 1..1000000" bench --iterations 2.5
expect 2 "--budget: 'nan' is not a positive number of seconds" bench --budget nan
expect 2 "--budget: 'inf' is not a positive number of seconds" bench --budget inf
expect 2 "--runs: '1,x' is not a list" bench --runs 1,x --device cpu
expect 2 "--runs: '1,,2' is not a list" bench --runs 1,,2 --device cpu
expect 2 "--run: '-1' is not an integer in 0..4095" act --run -1 --checkpoint x --obs y
expect 2 "--seed: '99999999999999999999' is not a non-negative integer" act --seed 99999999999999999999 --checkpoint x --obs y
expect 2 "--duration: '1e999' is not a positive number" gen-traces --out /nonexistent --count 1 --seed 1 --duration 1e999
expect 2 "--device: 'gpu' is not one of auto|cpu|cuda" train --config configs/paper.ini --out x.h5 --device gpu
# single-use options given twice
expect 2 "--out given twice" train --out a.h5 --out b.h5
expect 2 "--seed given twice" eval --seed 1 --seed 2
# --name=value is the same as --name value
a=$("$P" train --print-config --set=gamma=0.5 | grep '^gamma')
[ "$a" = "gamma = 0.5" ] || { echo "FAIL: --set=key=value gave '$a'"; fail=1; }
# -h as the value of an option is a value, not a request for help
expect 2 "--content: '-h' is not documentary, live or news" replay --trace t --video-dir v --start-ptr 1 --last-quality 0 --actions 0 --content -h
[ $fail -eq 0 ] && echo "cli options ok"
exit $fail
