#!/bin/sh
# Installs the Debian packages pamoe needs, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run and fails.
# Called by `make` and by .ci/run; a no-op (one dpkg query) when everything is present.
# The optional packages are only for tests (slurm-wlm and munge: tests/cli/slurm_sweep.sh
# runs a Slurm cluster on localhost). As root they are installed too, and a failure is only
# a warning; otherwise the tests that need them print SKIP.
set -u
# clang, its runtime (libFuzzer, sanitizers) and OpenMP: `make fuzz`.
FUZZ_PKGS="clang libclang-rt-14-dev libomp-14-dev"
PKGS="$FUZZ_PKGS build-essential pkg-config libhdf5-dev libinih-dev libcmocka-dev libopenblas-dev liblapacke-dev python3 python3-h5py python3-numpy python3-matplotlib python3-pandas"
OPTIONAL="slurm-wlm munge"
missing_of() {
    out=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}
missing=$(missing_of $PKGS)
optional=$(missing_of $OPTIONAL)
[ -z "$missing" ] && { [ -z "$optional" ] || [ "$(id -u)" -ne 0 ]; } && exit 0
if [ -n "$missing" ]; then
    echo "pamoe setup: missing Debian packages:$missing" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "pamoe setup: run as root:  apt-get install -y$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { [ -z "$missing" ] || { echo "pamoe setup: apt-get update failed" >&2; exit 1; }; }
if [ -n "$missing" ]; then
    apt-get install -y -qq $missing >&2 || {
        echo "pamoe setup: apt-get install failed for:$missing" >&2; exit 1; }
    echo "pamoe setup: installed$missing" >&2
fi
if [ -n "$optional" ]; then
    if apt-get install -y -qq $optional >&2; then
        echo "pamoe setup: installed (for tests)$optional" >&2
    else
        echo "pamoe setup: warning: could not install the test packages$optional (their tests will SKIP)" >&2
    fi
fi
exit 0
