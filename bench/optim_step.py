"""One optimizer step on the 235,146 parameters of a 784-256-128-10 MLP (float32): deeplearning101's in-place Adam
against torch.optim.Adam (foreach, the default on CPU, and the single-tensor loop) and against Adam written naively in
NumPy (`m = b1 * m + (1 - b1) * g` and so on: a fresh temporary for every operation).  The gradients are fixed random
arrays, so only the update is timed.  Also a tracemalloc check: bytes allocated per step by each NumPy contender.

  dl:           dl.Adam(params, lr=1e-3).step()          (np.multiply(..., out=...) with shared scratch buffers)
  numpy naive:  the textbook formulas with NumPy expressions
  torch:        torch.optim.Adam(params, lr=1e-3, foreach=True / False).step()

Target: dl / torch (foreach) <= 1.0.

Run:  .venv/bin/python bench/optim_step.py [--quick] [--threads N] [--sgd]
"""
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _timing import fmt_ratio, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick

SIZES = [784, 256, 128, 10]
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
TARGET = 1.0
GAP_S = 0.05


def make_arrays(seed=0):
    "Weights [out, in] and biases of the MLP, and one gradient array per parameter (float32)."
    rng = np.random.default_rng(seed)
    shapes = [s for n_in, n_out in zip(SIZES[:-1], SIZES[1:]) for s in ((n_out, n_in), (n_out,))]
    params = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in shapes]
    grads = [(rng.standard_normal(s) * 10.0 ** rng.uniform(-4, -1)).astype(np.float32) for s in shapes]
    return params, grads


class DLAdam:
    def __init__(self, params, grads, kind='adam'):
        self.ps = [dl.tensor(p, requires_grad=True) for p in params]  # it copies
        for p, g in zip(self.ps, grads): p.grad = dl.tensor(g)
        self.opt = (dl.Adam(self.ps, lr=LR, betas=BETAS, eps=EPS) if kind == 'adam'
                    else dl.SGD(self.ps, lr=LR, momentum=0.9, nesterov=True))
    def __call__(self): self.opt.step()
    def arrays(self): return [p.detach().numpy() for p in self.ps]


class NaiveAdam:
    "Adam as usually first written in NumPy: correct, but every expression allocates a temporary."
    def __init__(self, params, grads):
        self.ps, self.gs = [p.copy() for p in params], grads
        self.m, self.v, self.t = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], 0
    def __call__(self):
        self.t += 1
        b1, b2 = BETAS
        for i, (p, g) in enumerate(zip(self.ps, self.gs)):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            m_hat, v_hat = self.m[i] / (1 - b1 ** self.t), self.v[i] / (1 - b2 ** self.t)
            p -= LR * m_hat / (np.sqrt(v_hat) + EPS)
    def arrays(self): return self.ps


class NaiveSGD:
    def __init__(self, params, grads):
        self.ps, self.gs, self.b = [p.copy() for p in params], grads, None
    def __call__(self):
        if self.b is None: self.b = [g.copy() for g in self.gs]
        else: self.b = [0.9 * b + g for b, g in zip(self.b, self.gs)]
        for p, g, b in zip(self.ps, self.gs, self.b): p -= LR * (g + 0.9 * b)
    def arrays(self): return self.ps


class TorchOpt:
    def __init__(self, torch, params, grads, foreach, kind='adam'):
        self.ps = [torch.tensor(p, requires_grad=True) for p in params]
        for p, g in zip(self.ps, grads): p.grad = torch.tensor(g)
        self.opt = (torch.optim.Adam(self.ps, lr=LR, betas=BETAS, eps=EPS, foreach=foreach) if kind == 'adam'
                    else torch.optim.SGD(self.ps, lr=LR, momentum=0.9, nesterov=True, foreach=foreach))
    def __call__(self): self.opt.step()
    def arrays(self): return [p.detach().numpy() for p in self.ps]


def contenders(torch, kind):
    params, grads = make_arrays()
    c = {'dl': DLAdam(params, grads, kind), 'numpy naive': (NaiveAdam if kind == 'adam' else NaiveSGD)(params, grads)}
    if torch is not None:
        c['torch foreach'] = TorchOpt(torch, params, grads, True, kind)
        c['torch single'] = TorchOpt(torch, params, grads, False, kind)
    return c


def check_same_computation(torch, kind):
    c = contenders(torch, kind)
    for _ in range(5):
        for f in c.values(): f()
    ref = c['numpy naive'].arrays()
    # torch's foreach Nesterov SGD adds mu * buffer to p.grad in place (the gradient changes from step to step), so
    # its parameters drift away from the others here; the cost of a step is the same, so it is still timed.
    skip = {'numpy naive'} | ({'torch foreach'} if kind == 'sgd' else set())
    diff = {k: max(float(np.max(np.abs(a - b))) for a, b in zip(f.arrays(), ref)) for k, f in c.items() if k not in skip}
    ok = all(d < 1e-6 for d in diff.values())
    print("same computation check (5 steps from the same weights and gradients; max |param - numpy naive|): " +
          ", ".join(f"{k} {d:.1e}" for k, d in diff.items()) + f" -> {'OK' if ok else 'MISMATCH'}" +
          ("\n  (torch foreach not compared: its Nesterov step writes into p.grad)" if kind == 'sgd' else ''))
    return ok


def allocations(torch, kind):
    "Peak bytes allocated during one step, after warm-up (tracemalloc sees NumPy's array memory, not torch's)."
    out = {}
    for name, f in contenders(None, kind).items():
        f(); f()
        tracemalloc.start(); tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        f()
        out[name] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return out


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.add_argument('--sgd', action='store_true', help='also time SGD with Nesterov momentum')
    args = p.parse_args()
    reps, sample_s = (5, 0.01) if args.quick else (31, 0.03)
    threads, torch = header("optim_step: one optimizer step, 784-256-128-10 MLP parameters (235,146 float32)", args)
    n_params = sum(a.size for a in make_arrays()[0])
    print(f"{n_params} parameters in 6 tensors; {reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples, "
          f"{GAP_S} s pause before each sample")
    load = OtherLoad()
    for kind in (['adam', 'sgd'] if args.sgd else ['adam']):
        title = 'Adam' if kind == 'adam' else 'SGD, Nesterov momentum 0.9'
        print(f"\n--- {title}")
        if not check_same_computation(torch, kind): sys.exit(1)
        alloc = allocations(torch, kind)
        print("bytes allocated by one step (tracemalloc): " + ", ".join(f"{k} {v:,}" for k, v in alloc.items()))
        t = interleaved(contenders(torch, kind), reps, sample_s, gap_s=GAP_S)
        for k, v in t.items(): print(f"  {k:14s} {median(v) * 1e6:9.1f} us per step (iqr {iqr_pct(v):3.0f}%)")
        r_torch, r_single = paired_ratio(t, 'dl', 'torch foreach'), paired_ratio(t, 'dl', 'torch single')
        r_naive = paired_ratio(t, 'dl', 'numpy naive')
        print(f"  ratio dl / torch foreach {fmt_ratio(r_torch)}   (target <= {TARGET}x: "
              f"{'met' if r_torch <= TARGET else 'NOT met'})")
        print(f"  ratio dl / torch single  {fmt_ratio(r_single)}")
        print(f"  ratio dl / numpy naive   {fmt_ratio(r_naive)}")
    print(load.report())


if __name__ == '__main__':
    main()
