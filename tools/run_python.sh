#!/bin/sh
# Runs a pamoe tools/ script with a python3 that has the modules it needs: /usr/bin/python3
# first (Debian's python3-h5py & co. install there), then the python3 on PATH (which may be
# a pyenv one without them). Usage: sh tools/run_python.sh SCRIPT [ARGS...]
# PAMOE_PY_MODULES names the modules to require (default "h5py, numpy, matplotlib", what the
# plotting tools import; `pamoe import-reference` sets "numpy").
mods=${PAMOE_PY_MODULES:-h5py, numpy, matplotlib}
for py in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    [ -n "$py" ] && [ -x "$py" ] || continue
    if "$py" -c "import $mods" >/dev/null 2>&1; then
        exec "$py" "$@"
    fi
done
echo "run_python.sh: no python3 with $mods found." >&2
echo "Install them with: apt-get install -y python3-h5py python3-numpy python3-matplotlib" >&2
exit 1
