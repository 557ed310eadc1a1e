#!/usr/bin/env python3
"""import_reference.py: installs the reference's real data from a user's clones of
tinyzqh/PA-MoE and tinyzqh/OptiVerse into OUT (default data/reference), in the layout
pamoe reads (docs/reference/data.md):

    OUT/traces/train/   PA-MoE     src/envs/trace/                       (127 training traces)
    OUT/video/          PA-MoE     src/envs/envivio/video_size_0..5      (Envivio chunk sizes)
    OUT/traces/test/    OptiVerse  OptiVerse/datasets/video/trace/test/  (142 test traces)
    OUT/weights/<Name>.f32 + <Name>.manifest.tsv
                        PA-MoE     src/plots_perform/weights/<Name>.pth  (Pensieve, Merina,
                                                                          MerinaVAE, PAMoE)

The .pth files are PyTorch zip archives of a pickled state dict. They are read WITHOUT
PyTorch, by a restricted unpickler: the only globals it resolves are the few a state dict of
float32 tensors needs (ALLOWED_GLOBALS); any other global (os.system, builtins.eval, ...) is
refused before anything is called, so a planted archive cannot run code. Tensors become
float32 little-endian, row-major, concatenated in state-dict order; the manifest lists name,
shape, offset, count and the float64 sum of each tensor.

Everything is written to OUT.tmp and renamed to OUT at the end, so a failed import leaves
nothing half-installed. An existing OUT is replaced only with --force. The installed files
are compared with the sha256 list of the revision pamoe was checked against
(tools/reference_data.sha256); a difference is reported, not fatal.

Run through `pamoe import-reference` or `sh tools/run_python.sh tools/import_reference.py`.
Needs numpy only.
"""
import argparse
import collections
import hashlib
import io
import os
import pickle
import shutil
import sys
import zipfile

import numpy as np

PROG = "pamoe import-reference"
CHECKPOINTS = ("Pensieve", "Merina", "MerinaVAE", "PAMoE")
VIDEO_FILES = tuple("video_size_%d" % q for q in range(6))
UPSTREAM = {
    "traces/train": ("--pa-moe", "src/envs/trace"),
    "video": ("--pa-moe", "src/envs/envivio"),
    "weights": ("--pa-moe", "src/plots_perform/weights"),
    "traces/test": ("--optiverse", "OptiVerse/datasets/video/trace/test"),
}
MANIFEST_HEADER = ("# tensor\tshape (row-major, PyTorch order)\toffset (floats)\tcount\t"
                   "sum (float64 of float32 values)\n")
KNOWN_SHA256 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_data.sha256")


class ImportError_(Exception):
    """An error to print as `pamoe import-reference: MESSAGE` with exit status 1."""


# ---------------------------------------------------------------------------------------
# Restricted unpickling of a PyTorch zip checkpoint

class _Storage:
    """A storage persistent id: which zip entry holds the bytes, and their dtype."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _StorageType:
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("_rebuild_tensor_v2 without a storage")
    return _Tensor(storage, storage_offset, size, stride)


# The only globals a state dict of float32 tensors needs. Only float32 storages are listed:
# the output format is float32, and converting another dtype would change the values.
ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _StorageType("FloatStorage", np.dtype("<f4")),
}


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, f, archive):
        super().__init__(f)
        self.archive = archive

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        raise ImportError_(
            "%s: refusing global '%s.%s' in the pickle: a state dict of float32 tensors needs "
            "only %s (is this file a PyTorch state dict?)"
            % (self.archive, module, name,
               ", ".join("%s.%s" % k for k in ALLOWED_GLOBALS)))

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str)
                or not isinstance(pid[4], int)):
            raise ImportError_("%s: unexpected persistent id %r in the pickle (expected a "
                               "tensor storage)" % (self.archive, pid))
        return _Storage(pid[2], pid[1].dtype, pid[4])


def read_state_dict(path):
    """[(name, float32 ndarray)] in state-dict order, from a PyTorch zip checkpoint."""
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise ImportError_("%s: not a PyTorch zip checkpoint (%s)" % (path, e))
    with z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ImportError_("%s: expected one <prefix>/data.pkl in the archive, found %d"
                               % (path, len(pkl)))
        prefix = pkl[0][: -len("data.pkl")]
        order = "little"
        if prefix + "byteorder" in names:
            order = z.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ImportError_("%s: unknown byteorder '%s'" % (path, order))
        try:
            sd = _StateDictUnpickler(io.BytesIO(z.read(pkl[0])), path).load()
        except ImportError_:
            raise
        except Exception as e:  # malformed pickle: name the file, never a traceback
            raise ImportError_("%s: cannot read the pickled state dict (%s: %s)"
                               % (path, type(e).__name__, e))
        if not isinstance(sd, collections.OrderedDict):
            raise ImportError_("%s: the pickle holds a %s, not a state dict (OrderedDict)"
                               % (path, type(sd).__name__))
        out, cache = [], {}
        for key, t in sd.items():
            if not isinstance(key, str) or not isinstance(t, _Tensor):
                raise ImportError_("%s: entry %r is not a tensor" % (path, key))
            st = t.storage
            if st.key not in cache:
                entry = prefix + "data/" + st.key
                if entry not in names:
                    raise ImportError_("%s: tensor '%s': storage %s missing from the archive"
                                       % (path, key, entry))
                raw = z.read(entry)
                dt = st.dtype.newbyteorder("<" if order == "little" else ">")
                if len(raw) != st.numel * dt.itemsize:
                    raise ImportError_("%s: storage %s has %d bytes, the pickle says %d values"
                                       % (path, entry, len(raw), st.numel))
                cache[st.key] = np.frombuffer(raw, dtype=dt).astype("<f4")
            buf = cache[st.key]
            size, stride = t.size, t.stride
            if len(size) != len(stride) or any(s < 0 for s in size) or t.offset < 0:
                raise ImportError_("%s: tensor '%s': bad size %s / stride %s"
                                   % (path, key, size, stride))
            last = t.offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else -1
            if last >= buf.size:
                raise ImportError_("%s: tensor '%s' (size %s, stride %s, offset %d) reads past "
                                   "its storage of %d values" % (path, key, size, stride,
                                                                 t.offset, buf.size))
            arr = np.lib.stride_tricks.as_strided(
                buf[t.offset:], shape=size, strides=[s * 4 for s in stride], writeable=False)
            out.append((key, np.ascontiguousarray(arr, dtype="<f4")))
        if not out:
            raise ImportError_("%s: the state dict holds no tensors" % path)
        return out


def manifest_sum(a):
    return float(np.sum(a.astype(np.float64)))


def convert_checkpoint(pth, out_dir, name):
    """Writes out_dir/name.f32 and name.manifest.tsv; returns (tensors, floats)."""
    tensors = read_state_dict(pth)
    lines, offset = [MANIFEST_HEADER], 0
    with open(os.path.join(out_dir, name + ".f32"), "wb") as f:
        for key, a in tensors:
            f.write(a.tobytes(order="C"))
            shape = "x".join(str(n) for n in a.shape) if a.ndim else "1"
            lines.append("%s\t%s\t%d\t%d\t%s\n" % (key, shape, offset, a.size,
                                                   format(manifest_sum(a), ".9g")))
            offset += a.size
    with open(os.path.join(out_dir, name + ".manifest.tsv"), "w") as f:
        f.writelines(lines)
    check_converted(out_dir, name)
    return len(tensors), offset


def check_converted(out_dir, name):
    """Reads the written pair back: sizes add up and every tensor's sum is the manifest's."""
    data = np.fromfile(os.path.join(out_dir, name + ".f32"), dtype="<f4")
    path = os.path.join(out_dir, name + ".manifest.tsv")
    expect = 0
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#"):
                continue
            key, shape, off, count, s = line.rstrip("\n").split("\t")
            off, count = int(off), int(count)
            if off != expect or int(np.prod([int(n) for n in shape.split("x")])) != count:
                raise ImportError_("%s:%d: %s: shape/offset do not add up" % (path, lineno, key))
            got = manifest_sum(data[off:off + count])
            if abs(got - float(s)) > 1e-8 * max(1.0, abs(got)):
                raise ImportError_("%s:%d: %s: sum %r of the written data, manifest says %s"
                                   % (path, lineno, key, got, s))
            expect = off + count
    if expect != data.size:
        raise ImportError_("%s: manifest covers %d floats, %s.f32 has %d"
                           % (path, expect, name, data.size))


# ---------------------------------------------------------------------------------------
# Copying the text data

def upstream_dir(root, flag, rel, what):
    d = os.path.join(root, rel)
    if not os.path.isdir(d):
        raise ImportError_("%s %s: no directory %s (expected %s there; is %s a clone of "
                           "tinyzqh/%s?)" % (flag, root, d, what, root,
                                             "PA-MoE" if flag == "--pa-moe" else "OptiVerse"))
    return d


def copy_traces(src, dst):
    files = sorted(f for f in os.listdir(src)
                   if not f.startswith(".") and os.path.isfile(os.path.join(src, f)))
    if not files:
        raise ImportError_("%s: no trace files" % src)
    os.makedirs(dst)
    for f in files:
        shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    return len(files)


def copy_video(src, dst):
    os.makedirs(dst)
    for f in VIDEO_FILES:
        p = os.path.join(src, f)
        if not os.path.isfile(p):
            raise ImportError_("--pa-moe: missing %s (expected the six files video_size_0..5 "
                               "of the Envivio video in %s)" % (p, src))
        shutil.copyfile(p, os.path.join(dst, f))
    return len(VIDEO_FILES)


def verify(tmp):
    """Compares the installed files with the known sha256 list; returns a report line."""
    if not os.path.isfile(KNOWN_SHA256):
        return "note: %s not found, files not verified" % KNOWN_SHA256
    known = {}
    with open(KNOWN_SHA256) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                digest, rel = line.rstrip("\n").split("  ", 1)
                known[rel] = digest
    checked, differ = 0, []
    for rel, digest in sorted(known.items()):
        p = os.path.join(tmp, rel)
        if not os.path.exists(p):
            continue  # a part not installed (no --optiverse)
        with open(p, "rb") as fh:
            h = hashlib.sha256(fh.read()).hexdigest()
        checked += 1
        if h != digest:
            differ.append(rel)
    extra = []
    for top in ("traces/train", "traces/test", "video", "weights"):
        d = os.path.join(tmp, top)
        if os.path.isdir(d):
            extra += [top + "/" + f for f in sorted(os.listdir(d)) if top + "/" + f not in known]
    if not differ and not extra:
        return "verified: all %d files equal the reference revision pamoe was checked against" % checked
    msg = ("WARNING: %d of %d files differ from the reference revision pamoe was checked "
           "against, and %d are not in it (your clones may be another revision; results may "
           "differ from README's tables)" % (len(differ), checked, len(extra)))
    for rel in (differ + extra)[:10]:
        msg += "\n  " + rel
    return msg


def run(args):
    out = args.out.rstrip("/") or args.out
    tmp = out + ".tmp"
    if os.path.exists(out) and not args.force:
        raise ImportError_("%s already exists; use --force to replace it" % out)
    pa = os.path.abspath(args.pa_moe)
    if not os.path.isdir(pa):
        raise ImportError_("--pa-moe %s: no such directory (expected a clone of "
                           "https://github.com/tinyzqh/PA-MoE)" % args.pa_moe)
    src = {
        "traces/train": upstream_dir(pa, "--pa-moe", UPSTREAM["traces/train"][1],
                                     "the training traces"),
        "video": upstream_dir(pa, "--pa-moe", UPSTREAM["video"][1], "video_size_0..5"),
        "weights": upstream_dir(pa, "--pa-moe", UPSTREAM["weights"][1],
                                "the evaluation checkpoints " +
                                ", ".join(n + ".pth" for n in CHECKPOINTS)),
    }
    for n in CHECKPOINTS:
        p = os.path.join(src["weights"], n + ".pth")
        if not os.path.isfile(p):
            raise ImportError_("--pa-moe: missing %s (expected the four evaluation checkpoints "
                               "%s in %s)" % (p, ", ".join(c + ".pth" for c in CHECKPOINTS),
                                              src["weights"]))
    if args.optiverse:
        ov = os.path.abspath(args.optiverse)
        if not os.path.isdir(ov):
            raise ImportError_("--optiverse %s: no such directory (expected a clone of "
                               "https://github.com/tinyzqh/OptiVerse)" % args.optiverse)
        src["traces/test"] = upstream_dir(ov, "--optiverse", UPSTREAM["traces/test"][1],
                                          "the test traces")

    if os.path.lexists(tmp):
        shutil.rmtree(tmp) if os.path.isdir(tmp) and not os.path.islink(tmp) else os.remove(tmp)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    os.makedirs(tmp)
    try:
        report = []
        n = copy_traces(src["traces/train"], os.path.join(tmp, "traces/train"))
        report.append("traces/train  %4d files  from %s" % (n, src["traces/train"]))
        if "traces/test" in src:
            n = copy_traces(src["traces/test"], os.path.join(tmp, "traces/test"))
            report.append("traces/test   %4d files  from %s" % (n, src["traces/test"]))
        n = copy_video(src["video"], os.path.join(tmp, "video"))
        report.append("video         %4d files  from %s" % (n, src["video"]))
        wdir = os.path.join(tmp, "weights")
        os.makedirs(wdir)
        for name in CHECKPOINTS:
            nt, nf = convert_checkpoint(os.path.join(src["weights"], name + ".pth"), wdir, name)
            report.append("weights/%-10s %3d tensors, %7d floats  from %s.pth" % (name, nt, nf, name))
        check = verify(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(out):  # --force: swap in the new tree, then drop the old one
        old = out + ".old"
        if os.path.lexists(old):
            shutil.rmtree(old)
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old)
    else:
        os.rename(tmp, out)
    print("installed %s:" % out)
    for line in report:
        print("  " + line)
    print(check)
    if "traces/test" not in src:
        print("note: no --optiverse given, so %s/traces/test (the 142 evaluation traces) is "
              "missing; pamoe eval falls back to the synthetic data/traces/test and data/video. Clone "
              "https://github.com/tinyzqh/OptiVerse and rerun with --optiverse DIR --force."
              % out)
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--pa-moe", required=True, metavar="DIR", help="clone of tinyzqh/PA-MoE")
    p.add_argument("--optiverse", metavar="DIR", help="clone of tinyzqh/OptiVerse")
    p.add_argument("--out", default="data/reference", metavar="DIR",
                   help="install directory (default data/reference)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    args = p.parse_args(argv)
    try:
        return run(args)
    except ImportError_ as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
