#!/bin/sh
# import_reference.sh BUILD: `pamoe import-reference` on a fake upstream checkout built from
# ../shared/data, laid out as the clones of tinyzqh/PA-MoE and tinyzqh/OptiVerse are
# (docs/reference/data.md):
#   1. the converted weights (.f32 and .manifest.tsv) equal the shared converted ones byte
#      for byte, and the copied traces and video equal their sources;
#   2. `pamoe eval` run in a directory holding only the import, with its default paths,
#      reproduces README's rows for Pensieve, Merina and PAMoE (the same table and checks as
#      eval_ref_agents.sh: within 4 sqrt(2) SE of the reference, equal to our seed-0 means);
#   3. refusals: an existing OUT without --force, a missing upstream directory (nothing
#      installed, no OUT.tmp left), and a planted pickle calling os.system (refused by
#      name, and the command it names never runs);
#   4. without --optiverse everything else is installed, the missing test traces are named,
#      and eval's defaults stay the synthetic traces and video (never a mix).
B=${1:-build}
if [ ! -d ../shared/data/pth ] || [ ! -d ../shared/data/weights ] || [ ! -d ../shared/data/traces/test ]; then
    echo "SKIP: ../shared/data not found"
    exit 77
fi
if ! PAMOE_PY_MODULES=numpy sh tools/run_python.sh -c 'import numpy' 2>/dev/null; then
    echo "SKIP: no python3 with numpy (tools/run_python.sh)"
    exit 77
fi
R=$(pwd)
S=$(cd ../shared/data && pwd)
B=$(cd "$B" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

PA=$T/clones/PA-MoE
OV=$T/clones/OptiVerse
mkdir -p "$PA/src/envs" "$PA/src/plots_perform" "$OV/OptiVerse/datasets/video/trace"
cp -r "$S/traces/train" "$PA/src/envs/trace"
cp -r "$S/video" "$PA/src/envs/envivio"
cp -r "$S/pth" "$PA/src/plots_perform/weights"
cp -r "$S/traces/test" "$OV/OptiVerse/datasets/video/trace/test"

# 1. import and compare
W=$T/work
mkdir -p "$W"
(cd "$W" && "$B/pamoe" import-reference --pa-moe "$PA" --optiverse "$OV") > "$T/log" 2>&1 ||
    { cat "$T/log"; fail "import"; }
cat "$T/log"
grep -q "^verified: all 283 files" "$T/log" || fail "the import did not verify all 283 files"
D=$W/data/reference
[ ! -e "$D.tmp" ] || fail "$D.tmp left behind"
for n in Pensieve Merina MerinaVAE PAMoE; do
    for ext in f32 manifest.tsv; do
        cmp "$S/weights/$n.$ext" "$D/weights/$n.$ext" || fail "weights/$n.$ext differs from the shared conversion"
    done
done
diff -r "$S/traces/train" "$D/traces/train" > /dev/null || fail "traces/train differs"
diff -r "$S/traces/test" "$D/traces/test" > /dev/null || fail "traces/test differs"
diff -r "$S/video" "$D/video" > /dev/null || fail "video differs"
echo "ok: weights byte-identical to the shared conversion, traces and video copied"

# 2. eval on the imported files through the default paths
(cd "$W" && "$B/pamoe" eval --agent pensieve,merina,pamoe_ref --sessions 300 --seed 0 --bootstrap 200) \
    > "$T/eval" || fail "eval on the imported data"
cat "$T/eval"
grep -q "traces data/reference/traces/test (142 files), video data/reference/video" "$T/eval" ||
    fail "eval did not default to data/reference"
cat > "$T/table" <<'EOF'
# agent metric reference(baselines.md 10) ours(seed 0) -- README "Evaluation and baselines"
pensieve qoe 0.88 0.9452
pensieve bitrate_reward 1.028 1.1066
pensieve rebuffer_time 0.0069 0.0082
pensieve smooth 0.118 0.1262
merina qoe 0.872 0.9421
merina bitrate_reward 1.057 1.1312
merina rebuffer_time 0.0106 0.0097
merina smooth 0.14 0.1475
pamoe_ref qoe 0.905 0.9756
pamoe_ref bitrate_reward 1.032 1.1056
pamoe_ref rebuffer_time 0.0043 0.0057
pamoe_ref smooth 0.109 0.1057
EOF
awk -v rows=12 -f "$R/tests/cli/eval_table.awk" "$T/table" "$T/eval" || fail "eval table"

# 3a. an existing OUT is kept without --force
(cd "$W" && "$B/pamoe" import-reference --pa-moe "$PA" --optiverse "$OV") > "$T/log" 2>&1 &&
    fail "overwrote an existing data/reference without --force"
grep -q "already exists; use --force" "$T/log" || { cat "$T/log"; fail "no clear overwrite refusal"; }
cmp -s "$S/weights/PAMoE.f32" "$D/weights/PAMoE.f32" || fail "the refused import touched OUT"

# 3b. a missing upstream directory: error names it, nothing installed
mv "$PA/src/envs/envivio" "$PA/src/envs/envivio.away"
"$B/pamoe" import-reference --pa-moe "$PA" --out "$T/x" > "$T/log" 2>&1 && fail "imported without the video"
grep -q "src/envs/envivio" "$T/log" || { cat "$T/log"; fail "error does not name src/envs/envivio"; }
[ ! -e "$T/x" ] && [ ! -e "$T/x.tmp" ] || fail "a failed import left files"
mv "$PA/src/envs/envivio.away" "$PA/src/envs/envivio"
echo "ok: refusals (existing OUT, missing upstream directory)"

# 3c. a planted pickle: the global is refused by name and never called
cp "$PA/src/plots_perform/weights/Merina.pth" "$T/Merina.good"
/usr/bin/python3 - "$PA/src/plots_perform/weights/Merina.pth" "$T/pwned" <<'PY' || fail "planting"
import os, pickle, sys, zipfile
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("agent/data.pkl", pickle.dumps(Evil(), protocol=2))
PY
"$B/pamoe" import-reference --pa-moe "$PA" --out "$T/x" > "$T/log" 2>&1 && fail "imported a planted pickle"
cat "$T/log"
grep -q "Merina.pth: refusing global '\(os\|posix\).system'" "$T/log" || fail "planted global not named"
[ ! -e "$T/pwned" ] || fail "the planted os.system ran"
[ ! -e "$T/x" ] && [ ! -e "$T/x.tmp" ] || fail "a failed import left files"
cp "$T/Merina.good" "$PA/src/plots_perform/weights/Merina.pth"
echo "ok: planted pickle refused"

# 4. --force without --optiverse: replaces OUT, says what is missing
(cd "$W" && "$B/pamoe" import-reference --pa-moe "$PA" --force) > "$T/log" 2>&1 || { cat "$T/log"; fail "--force"; }
grep -q "no --optiverse given" "$T/log" || { cat "$T/log"; fail "missing test traces not reported"; }
[ ! -e "$D/traces/test" ] && [ -f "$D/weights/PAMoE.f32" ] && [ ! -e "$D.old" ] ||
    fail "--force without --optiverse: wrong tree"
ln -s "$R/data/traces" "$W/data/traces" && ln -s "$R/data/video" "$W/data/video"
(cd "$W" && "$B/pamoe" eval --agent bb --sessions 2) > "$T/eval" || fail "eval after a partial import"
grep -q "traces data/traces/test (.* files), video data/video\$" "$T/eval" ||
    { head -1 "$T/eval"; fail "eval mixed the real video with the synthetic test traces"; }
echo "ok: import without --optiverse; eval keeps the synthetic traces and video together"
