#!/usr/bin/python3
"""ref_net.py: an independent numpy (float64) reference of the training networks
(docs/reference/networks.md 1-8) for small sizes, written as golden values for tests/test_net.c.

Run:  /usr/bin/python3 tools/ref_net.py > tests/ref_net_golden.h

Parameters, inputs, routing noise and the loss weights come from closed formulas that
tests/test_net.c repeats, so nothing but the formulas is shared:
  params[i] = 0.4 sin(0.37 i + 0.1 + 0.7 kind + 0.3 role)   (flat index in the run's block)
  x[b, j]   = sin(0.9 b + 0.45 j) + 0.2                      (B x IN)
  eps[b, e] = 1.3 sin(1.7 b + 2.9 e + 0.4)                   (B x E)
  c[b, o]   = cos(0.61 b + 1.1 o)                            loss = sum(c * out)
The block layout is the construction order of the reference (networks.md 6), weight
(out, in) then bias, PyTorch names as in host/nn/net.c.
"""
import numpy as np

IN, H, E, A, B = 5, 4, 3, 3, 6
KINDS = ["mlp", "moe", "smoe", "pamoe"]


def layout(kind, role):
    out = A if role == 0 else 1
    t = []

    def lin(name, i, o):
        t.append((name + ".weight", (o, i)))
        t.append((name + ".bias", (o,)))

    def experts(n):
        for e in range(n):
            p = "expert" if kind == "mlp" else "experts.%d" % e
            lin(p + ".fc1", IN, H)
            lin(p + ".fc2", H, H)

    if kind == "mlp":
        experts(1)
    elif kind == "moe":
        experts(E)
        lin("gate", IN, E)
    else:
        if kind == "pamoe":
            lin("mix_gate", H, 1)
        lin("router.route", IN, E)
        lin("router.noise", IN, E)
        experts(E)
    lin("head", H, out)
    return t


def unpack(kind, role):
    t = layout(kind, role)
    P = sum(int(np.prod(s)) for _, s in t)
    flat = 0.4 * np.sin(0.37 * np.arange(P) + 0.1 + 0.7 * KINDS.index(kind) + 0.3 * role)
    d, off = {}, 0
    for name, s in t:
        n = int(np.prod(s))
        d[name] = flat[off:off + n].reshape(s).copy()
        off += n
    return t, P, d


def softplus(z):
    return np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20))))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def relu(z):
    return np.maximum(z, 0)


def run(kind, role, router):
    t, P, p = unpack(kind, role)
    out = A if role == 0 else 1
    b_ = np.arange(B)[:, None]
    x = np.sin(0.9 * b_ + 0.45 * np.arange(IN)[None, :]) + 0.2
    eps = 1.3 * np.sin(1.7 * b_ + 2.9 * np.arange(E)[None, :] + 0.4)
    c = np.cos(0.61 * b_ + 1.1 * np.arange(out)[None, :])
    g = {k: np.zeros_like(v) for k, v in p.items()}
    ne = 1 if kind == "mlp" else E
    pre = "expert" if kind == "mlp" else "experts.%d"
    names = [(pre % e if "%" in pre else pre) for e in range(ne)]
    a1, h1, a2, h2 = [], [], [], []
    for n in names:
        a1.append(x @ p[n + ".fc1.weight"].T + p[n + ".fc1.bias"]); h1.append(relu(a1[-1]))
        a2.append(h1[-1] @ p[n + ".fc2.weight"].T + p[n + ".fc2.bias"]); h2.append(relu(a2[-1]))
    choice = np.zeros(B, dtype=int)
    if kind == "mlp":
        gate = np.ones((B, 1))
    elif kind == "moe":
        gl = x @ p["gate.weight"].T + p["gate.bias"]
        gate = np.exp(gl - gl.max(1, keepdims=True)); gate /= gate.sum(1, keepdims=True)
        choice = gate.argmax(1)
    else:
        l = x @ p["router.route.weight"].T + p["router.route.bias"]
        u = x @ p["router.noise.weight"].T + p["router.noise.bias"]
        z = l + eps * softplus(u)
        choice = z.argmax(1)
        pz = np.exp(z - z.max(1, keepdims=True)); pz /= pz.sum(1, keepdims=True)
        gate = np.zeros((B, E))
        gate[np.arange(B), choice] = 1.0 if router == 0 else pz[np.arange(B), choice]
    f = sum(gate[:, e:e + 1] * h2[e] for e in range(ne))
    y = f @ p["head.weight"].T + p["head.bias"]
    # backward of loss = sum(c * y)
    dy = c
    g["head.weight"] = dy.T @ f
    g["head.bias"] = dy.sum(0)
    df = dy @ p["head.weight"]
    dgate = np.stack([(df * h2[e]).sum(1) for e in range(ne)], 1)
    for e, n in enumerate(names):
        da2 = gate[:, e:e + 1] * df * (a2[e] > 0)
        g[n + ".fc2.weight"] = da2.T @ h1[e]; g[n + ".fc2.bias"] = da2.sum(0)
        da1 = (da2 @ p[n + ".fc2.weight"]) * (a1[e] > 0)
        g[n + ".fc1.weight"] = da1.T @ x; g[n + ".fc1.bias"] = da1.sum(0)
    if kind == "moe":
        dl = gate * (dgate - (gate * dgate).sum(1, keepdims=True))
        g["gate.weight"] = dl.T @ x; g["gate.bias"] = dl.sum(0)
    elif kind in ("smoe", "pamoe") and router == 1:
        onehot = np.zeros((B, E)); onehot[np.arange(B), choice] = 1
        a = dgate[np.arange(B), choice] * pz[np.arange(B), choice]
        dz = a[:, None] * (onehot - pz)
        du = dz * eps * sigmoid(u)
        g["router.route.weight"] = dz.T @ x; g["router.route.bias"] = dz.sum(0)
        g["router.noise.weight"] = du.T @ x; g["router.noise.bias"] = du.sum(0)
    grad = np.concatenate([g[name].ravel() for name, _ in t])
    assert grad.size == P
    return y, grad, choice, gate, P


def carr(name, a, fmt="%.9g"):
    a = np.asarray(a).ravel()
    body = ", ".join(fmt % v for v in a)
    return "static const double %s[%d] = {%s};" % (name, a.size, body)


CASES = [("mlp", 0, 0), ("mlp", 1, 0), ("moe", 0, 0), ("moe", 1, 0), ("smoe", 0, 0),
         ("smoe", 1, 1), ("pamoe", 0, 0), ("pamoe", 0, 1), ("pamoe", 1, 0)]

print("/* ref_net_golden.h: generated by /usr/bin/python3 tools/ref_net.py; do not edit. */")
print("#define REF_IN %d\n#define REF_H %d\n#define REF_E %d\n#define REF_A %d\n#define REF_B %d"
      % (IN, H, E, A, B))
print("typedef struct { int kind, role, router; long P; const double *out, *grad, *gate;"
      " const int *choice; } RefCase;")
for i, (k, r, m) in enumerate(CASES):
    y, grad, choice, gate, P = run(k, r, m)
    print(carr("ref%d_out" % i, y))
    print(carr("ref%d_grad" % i, grad))
    print(carr("ref%d_gate" % i, gate))
    print("static const int ref%d_choice[%d] = {%s};" % (i, B, ", ".join(str(v) for v in choice)))
print("static const RefCase REF_CASES[] = {")
for i, (k, r, m) in enumerate(CASES):
    P = unpack(k, r)[1]
    print("    {%d, %d, %d, %d, ref%d_out, ref%d_grad, ref%d_gate, ref%d_choice}," %
          (KINDS.index(k), r, m, P, i, i, i, i))
print("};")
