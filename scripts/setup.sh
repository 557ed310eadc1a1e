#!/bin/sh
# Installs the Debian packages pamoe needs, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run and fails.
# Called by `make` and by .ci/run; a no-op (one dpkg query) when everything is present.
set -u
# clang, its runtime (libFuzzer, sanitizers) and OpenMP: `make fuzz`.
FUZZ_PKGS="clang libclang-rt-14-dev libomp-14-dev"
# scipy: tools/sweep_report.py's tests check its bootstrap against scipy.stats; pandas: the
# README's way to read a sweep file's /runs table.
PKGS="$FUZZ_PKGS build-essential pkg-config libhdf5-dev libcmocka-dev libopenblas-dev liblapacke-dev python3 python3-h5py python3-numpy python3-matplotlib python3-scipy python3-pandas"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "pamoe setup: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "pamoe setup: run as root:  apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 || {
    echo "pamoe setup: apt-get install failed for:$missing" >&2; exit 1; }
echo "pamoe setup: installed$missing" >&2
