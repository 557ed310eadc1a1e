"""sweep_fixture.py: writes synthetic DIR/sweep.h5 files in the layout of `pamoe sweep`
(README, "Sweep report"), with planted effects, for the tests of tools/sweep_report.py.

    python3 tests/python/sweep_fixture.py OUT.h5 [--scenario grid|single|partial|zipped]

grid: kind = moe,pamoe x noise_std = 0,1e-3,5e-3 x learning_rate = 1e-3 x seed = 1..4, with
pamoe = moe + 1.0 QoE (same seed noise, so the paired difference is exactly 1.0 per seed),
a QoE optimum at noise_std = 1e-3, one failed run, one run still running (NaN tail) and one
pending run. single: one cell (kind = pamoe) with 1 run. partial: kind = mlp,pamoe x
learning_rate = 1e-4,1e-3 x seed = 1..3, every run still running (21 to 23 of 40 rows).
zipped: kind, plasticity.method and ent_coef on one zip line (moe/none, moe/redo, pamoe/none,
pamoe/none with ent_coef 0.01) x seed = 1..3, the entropy cell planted 0.5 above the others.
"""
import argparse
import sys

import h5py
import numpy as np

FIXED = ("run_id", "task", "status", "iterations_done", "cell")
QOE = "Reward/Episode Mean Return"
CONTENT = "charts/content"
# the paper's schedule: D, L, N three times, then D (envs_model = change)
SCHEDULE = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]


def content_schedule(iterations):
    """Per-iteration content codes of 10 equal phases (as the trainer splits them)."""
    return np.array([SCHEDULE[min(9, i * 10 // iterations)] for i in range(iterations)], dtype=np.float64)


def _field_dtype(values):
    if all(isinstance(v, (bytes, str)) for v in values):
        return f"S{max(1, max(len(v) for v in values))}"
    if all(isinstance(v, (int, np.integer)) for v in values):
        return "<i8"
    return "<f8"


def write_sweep(path, rows, axes, metrics, iterations_written, sweep_text="[sweep]\n", base_text=""):
    """rows: list of dicts with run_id, task, status, cell and every axis key; axes: axis keys
    in sweep-file order; metrics: name -> float64 (T, R) with NaN where not measured;
    iterations_written: per run, rows written (iteration/global_step -1 after, and every
    metric NaN after)."""
    n = len(rows)
    t = max(a.shape[0] for a in metrics.values())
    cols = {k: [r[k] for r in rows] for k in FIXED if k != "iterations_done"}
    cols["iterations_done"] = list(iterations_written)
    for a in axes:
        cols[a] = [r[a] for r in rows]
    names = list(FIXED) + list(axes)
    dtype = []
    for k in names:
        v = cols[k]
        if k == "task":
            dtype.append((k, "<i4"))
        elif k == "iterations_done":
            dtype.append((k, "<i8"))
        else:
            dtype.append((k, _field_dtype(v)))
    table = np.zeros(n, dtype=dtype)
    for k in names:
        table[k] = [v.encode() if isinstance(v, str) else v for v in cols[k]]
    with h5py.File(path, "w") as f:
        f.create_dataset("runs", data=table)
        m = f.create_group("metrics")
        it = np.full((t, n), -1, dtype=np.int64)
        for j, w in enumerate(iterations_written):
            it[:w, j] = np.arange(1, w + 1)
        m.create_dataset("iteration", data=it)
        m.create_dataset("global_step", data=np.where(it >= 0, it * 2000, -1))
        for name, a in metrics.items():
            a = np.array(a, dtype=np.float64)
            for j, w in enumerate(iterations_written):
                a[w:, j] = np.nan
            m.create_dataset(name, data=a)
        c = f.create_group("config")
        c.attrs["sweep_file"] = sweep_text
        c.attrs["base_config"] = base_text


def _plasticity(rng, t, kind, seed_shift):
    """Dormant %, ranks and |W| curves with names as in a run file (3 experts or MLP)."""
    out = {}
    x = np.linspace(0, 1, t)[:, None]
    dormant = 30 + 20 * x + (-8 if kind == "pamoe" else 0) + seed_shift
    out["Dorman/total_dorman_fraction"] = dormant
    out["Dorman/total_zero_fraction"] = dormant / 3
    experts = range(1) if kind == "mlp" else range(3)
    for e in experts:
        for net in ("policy", "value"):
            for layer in (0, 1):
                key = f"expert_{e}_{net}_{layer}_layer"
                out[f"Ranks/{key}_rank"] = 18 - 4 * x + 0 * seed_shift
                out[f"Ranks/{key}_eff_rank"] = 4 - 2 * x + 0.1 * seed_shift
                out[f"Ranks/{key}_approx_rank"] = 2 - x + 0 * seed_shift
                out[f"Ranks/{key}_abs_approx_rank"] = 9 - 3 * x + 0 * seed_shift
                wkey = f"Weights/{net}_{layer}_layer_mean" if kind == "mlp" else f"Weights/{key}_mean"
                out[wkey] = 0.07 + 0.05 * x + 0.001 * seed_shift
    return out


def planted_qoe(t, kind_effect, noise_effect, seed_noise, content):
    """QoE that starts NaN (fewer than 51 episodes), rises with training, dips after every
    content switch and recovers within 3 iterations, plus the planted effects."""
    i = np.arange(t)
    q = 0.5 + 0.5 * i / t + kind_effect + noise_effect + seed_noise
    switch = np.r_[False, content[1:] != content[:-1]]
    since = np.zeros(t)
    last = -100
    for r in range(t):
        if switch[r]:
            last = r
        since[r] = r - last
    q = q - np.where(since < 3, 0.6 * (3 - since) / 3, 0.0)
    q[:3] = np.nan
    return q


def grid_sweep(path, t=60, seeds=(1, 2, 3, 4)):
    kinds = ["moe", "pamoe"]
    noises = [0.0, 1e-3, 5e-3]
    rng = np.random.default_rng(7)
    seed_noise = {s: rng.normal(0, 0.3) for s in seeds}
    content = content_schedule(t)
    rows, cols = [], []
    for kind in kinds:
        for noise in noises:
            for s in seeds:
                cell = f"kind={kind},noise_std={noise:g},learning_rate=0.001"
                rows.append(dict(run_id=f"r{len(rows):04d}", task=len(rows) // len(seeds),
                                 status="done", cell=cell, kind=kind, seed=s,
                                 noise_std=noise, learning_rate=1e-3))
                noise_effect = {0.0: 0.0, 1e-3: 0.3, 5e-3: -0.2}[noise]
                q = planted_qoe(t, 1.0 if kind == "pamoe" else 0.0, noise_effect, seed_noise[s], content)
                cols.append((q, _plasticity(rng, t, kind, 0.5 * s)))
    written = [t] * len(rows)
    rows[1]["status"] = "failed"           # moe, noise 0, seed 2: excluded
    written[1] = t // 3
    rows[5]["status"] = "running"          # moe, noise 1e-3, seed 2: NaN tail
    written[5] = t // 2
    rows[-1]["status"] = "pending"         # pamoe, noise 5e-3, seed 4: nothing yet
    written[-1] = 0
    _write(path, rows, ["kind", "seed", "noise_std", "learning_rate"], cols, content, written,
           "base = configs/quick.ini\n[sweep]\nkind = moe,pamoe\nseed = 1-4\n"
           "noise_std = 0,1e-3,5e-3\nlearning_rate = 1e-3\n")


def _write(path, rows, axes, cols, content, written, sweep_text, base_text="[ppo]\nlearning_rate = 1e-3\n"):
    t = len(content)
    metrics = {QOE: np.stack([q for q, _ in cols], axis=1),
               CONTENT: np.repeat(content[:, None], len(cols), axis=1)}
    names = sorted(set().union(*[p.keys() for _, p in cols]))
    for name in names:
        metrics[name] = np.stack([p[name][:, 0] if name in p else np.full(t, np.nan)
                                  for _, p in cols], axis=1)
    write_sweep(path, rows, axes, metrics, written, sweep_text, base_text)


def single_sweep(path, t=40):
    content = content_schedule(t)
    rng = np.random.default_rng(3)
    rows = [dict(run_id="r0000", task=0, status="done", cell="kind=pamoe", kind="pamoe", seed=1)]
    cols = [(planted_qoe(t, 0.0, 0.0, 0.0, content), _plasticity(rng, t, "pamoe", 0.0))]
    _write(path, rows, ["kind", "seed"], cols, content, [t], "[sweep]\nkind = pamoe\nseed = 1\n")


def partial_sweep(path, t=40):
    content = content_schedule(t)
    rng = np.random.default_rng(5)
    rows, cols, written = [], [], []
    for kind in ("mlp", "pamoe"):
        for lr in (1e-4, 1e-3):
            for s in (1, 2, 3):
                rows.append(dict(run_id=f"r{len(rows):04d}", task=len(rows) // 3, status="running",
                                 cell=f"kind={kind},learning_rate={lr:g}", kind=kind, seed=s, learning_rate=lr))
                cols.append((planted_qoe(t, 0.2 * (kind == "pamoe") + 100 * lr, 0.0, 0.1 * s, content),
                             _plasticity(rng, t, kind, s)))
                written.append(t // 2 + s)
    _write(path, rows, ["kind", "seed", "learning_rate"], cols, content, written,
           "[sweep]\nkind = mlp,pamoe\nseed = 1-3\nlearning_rate = 1e-4,1e-3\n")


def zipped_sweep(path, t=40):
    content = content_schedule(t)
    rng = np.random.default_rng(9)
    rows, cols = [], []
    for kind, method, ent in (("moe", "none", 0.0), ("moe", "redo", 0.0), ("pamoe", "none", 0.0),
                              ("pamoe", "none", 0.01)):
        for s in (1, 2, 3):
            rows.append(dict(run_id=f"r{len(rows):04d}", task=len(rows) // 3, status="done",
                             cell=f"kind={kind},method={method},ent_coef={ent:g}", kind=kind,
                             method=method, ent_coef=ent, seed=s))
            cols.append((planted_qoe(t, 0.5 * (ent > 0), 0.0, 0.1 * s, content), _plasticity(rng, t, kind, s)))
    _write(path, rows, ["kind", "method", "ent_coef", "seed"], cols, content, [t] * len(rows),
           "[sweep]\nkind = moe,moe,pamoe,pamoe\nplasticity.method = none,redo,none,none\n"
           "ent_coef = 0,0,0,0.01  # the entropy cell\nzip = kind,plasticity.method,ent_coef\nseed = 1-3\n",
           "[ppo]\nent_coef = 0.0  # as 0\n[plasticity]\nmethod = none\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--scenario", choices=("grid", "single", "partial", "zipped"), default="grid")
    a = ap.parse_args()
    {"grid": grid_sweep, "single": single_sweep, "partial": partial_sweep,
     "zipped": zipped_sweep}[a.scenario](a.out)


if __name__ == "__main__":
    sys.exit(main())
