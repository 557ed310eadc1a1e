#!/usr/bin/env python3
"""PyTorch reference timing for bench/bench_net.c: the reference's PA-MoE ("dmoe") policy and
value networks (docs/reference/networks.md 1-7: top-1 noisy router with fresh noise per call, experts
run on their group and scattered, unused mix_gate), one PPO minibatch step of 62 samples:
forward + backward of both networks, torch Adam (betas 0.99/0.99, eps 1e-5, weight decay
1e-4) over both, then N(0, 0.001^2) noise on every expert parameter. CPU, float32.

usage: bench_torch_net.py [--threads N] [--seconds S]
Prints samples/s (one sample = policy + value forward, backward, optimizer step share)."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, d=48, h=18):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h), nn.Linear(h, h)

    def forward(self, x):
        return F.relu(self.fc2(F.relu(self.fc1(x))))


class DMoE(nn.Module):
    def __init__(self, out, d=48, h=18, e=3):
        super().__init__()
        self.mix_gate = nn.Linear(h, 1)  # unused, as in the reference
        self.route, self.noise = nn.Linear(d, e), nn.Linear(d, e)
        self.experts = nn.ModuleList(Expert(d, h) for _ in range(e))
        self.head = nn.Linear(h, out)
        self.h = h

    def forward(self, x):
        logits = self.route(x)
        noisy = logits + torch.randn_like(logits) * F.softplus(self.noise(x))
        top, idx = noisy.topk(1, dim=-1)
        gate = F.softmax(torch.full_like(noisy, float("-inf")).scatter(-1, idx, top), dim=-1)
        out = torch.zeros(x.shape[0], self.h)
        for e, expert in enumerate(self.experts):
            rows = (idx[:, 0] == e).nonzero(as_tuple=True)[0]
            if len(rows):
                out = out.index_add(0, rows, expert(x[rows]) * gate[rows, e:e + 1])
        return self.head(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    pol, val = DMoE(6), DMoE(1)
    opt = torch.optim.Adam(list(pol.parameters()) + list(val.parameters()), lr=1e-3, betas=(0.99, 0.99),
                           eps=1e-5, weight_decay=1e-4)
    x, act, ret = torch.rand(62, 48), torch.randint(0, 6, (62,)), torch.randn(62)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        logp = F.log_softmax(pol(x), -1).gather(1, act[:, None])[:, 0]
        loss = -logp.mean() + 5 * 0.5 * ((val(x)[:, 0] - ret) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for net in (pol, val):
                for p in net.experts.parameters():
                    p.add_(torch.randn_like(p) * 0.001)
        n += 1
    dt = time.perf_counter() - t0
    print("PyTorch %s, %d thread(s): %.0f samples/s (fwd+bwd+Adam+noise, minibatch 62)" % (torch.__version__, a.threads, n * 62 / dt))


if __name__ == "__main__":
    main()
