"""One full training step with Adam -- forward, backward, optimizer step -- of a 784-256-128-10 ReLU MLP with
softmax cross-entropy, float32, at batch sizes 32, 128 and 1024: deeplearning101 (the chapter 03/04 way: a
Sequential of Linear and ReLU modules, dl.cross_entropy, dl.Adam) against PyTorch CPU (nn.Sequential, F.cross_entropy,
torch.optim.Adam with its default foreach implementation) and against the same step hand-written in NumPy (manual
backward, in-place Adam), measured interleaved from the same initial weights and data.  Structure as bench/mlp_step.py.

  deeplearning101: opt.zero_grad(); loss = dl.cross_entropy(model(x), y); loss.backward(); opt.step()
  NumPy by hand:   the same forward, stable log-softmax, manual backward (no gradient for x), in-place Adam
  PyTorch:         opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()

Targets: dl / torch <= 0.8 at batch 32, <= 1.0 at batch 128 and 1024.
Then a memory check: RSS / tracemalloc / live-tensor growth over 1,000 deeplearning101 steps at batch 32.

Run:  .venv/bin/python bench/mlp_step_adam.py [--quick] [--threads N] [--profile]
"""
import gc
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _mlp import mlp_batch, mlp_params
from _timing import fmt_ratio, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick, rss_bytes

SIZES = [784, 256, 128, 10]
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BATCHES = [32, 128, 1024]
TARGETS = {32: 0.8, 128: 1.0, 1024: 1.0}
GAP_S = 0.15    # pause before each sample: OpenBLAS / OpenMP workers left spinning by the previous contender go to sleep


def init_params(seed=0): return mlp_params(SIZES, seed, layout='out_in')
def make_batch(B, seed=1): return mlp_batch(SIZES, B, seed)


# ---------------------------------------------------------------- deeplearning101
class DLStep:
    def __init__(self, params, X, y):
        self.model = dl.Sequential(dl.Linear(784, 256), dl.ReLU(), dl.Linear(256, 128), dl.ReLU(), dl.Linear(128, 10))
        with dl.no_grad():
            for p, a in zip(self.model.parameters(), params): p.copy_(dl.from_numpy(a))
        self.opt = dl.Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.x, self.y = dl.tensor(X), y

    def __call__(self):
        self.opt.zero_grad()
        loss = dl.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def arrays(self): return [p.detach().numpy() for p in self.model.parameters()]


# ---------------------------------------------------------------- NumPy by hand
class NumpyStep:
    def __init__(self, params, X, y):
        self.params = [p.copy() for p in params]
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.x, self.y, self.ar, self.t = X, y, np.arange(len(y)), 0
        self.inv_b = np.float32(1 / len(y))

    def __call__(self):
        W1, b1, W2, b2, W3, b3 = self.params
        x, y, ar = self.x, self.y, self.ar
        h1 = x @ W1.T; h1 += b1; np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2.T; h2 += b2; np.maximum(h2, 0, out=h2)
        z = h2 @ W3.T; z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s[:, 0]).mean() - z[ar, y].mean()
        e /= s; e[ar, y] -= 1; e *= self.inv_b                 # d loss / d logits = (softmax - onehot) / B
        gW3, gb3 = e.T @ h2, e.sum(axis=0)
        d2 = e @ W3; d2 *= h2 > 0
        gW2, gb2 = d2.T @ h1, d2.sum(axis=0)
        d1 = d2 @ W2; d1 *= h1 > 0
        gW1, gb1 = d1.T @ x, d1.sum(axis=0)
        self.t += 1
        b1_, b2_ = BETAS
        bc1, bc2 = 1 - b1_ ** self.t, np.sqrt(1 - b2_ ** self.t)
        for p, g, m, v, t in zip(self.params, (gW1, gb1, gW2, gb2, gW3, gb3), self.m, self.v, self.tmp):
            np.subtract(g, m, out=t); t *= 1 - b1_; m += t
            np.multiply(g, g, out=t); t *= 1 - b2_; v *= b2_; v += t
            np.sqrt(v, out=t); t += EPS * bc2; np.divide(m, t, out=t); t *= LR * bc2 / bc1; p -= t
        return loss

    def arrays(self): return self.params


# ---------------------------------------------------------------- PyTorch
class TorchStep:
    def __init__(self, torch, params, X, y):
        self.torch, self.F = torch, __import__('torch.nn.functional', fromlist=['cross_entropy'])
        nn = torch.nn
        self.model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        with torch.no_grad():
            for p, a in zip(self.model.parameters(), params): p.copy_(torch.from_numpy(a))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.x, self.y = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())

    def __call__(self):
        self.opt.zero_grad()
        loss = self.F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def arrays(self): return [p.detach().numpy() for p in self.model.parameters()]


def contenders_for(B, torch, params):
    X, y = make_batch(B)
    c = {'dl': DLStep(params, X, y), 'numpy': NumpyStep(params, X, y)}
    if torch is not None: c['torch'] = TorchStep(torch, params, X, y)
    return c


def _scalar(loss): return loss.item() if hasattr(loss, 'item') else float(loss)


def check_same_computation(torch, params):
    "Three steps each from the same weights and data: losses and parameters must agree."
    ok = True
    for B in BATCHES:
        c = contenders_for(B, torch, params)
        losses = [{k: _scalar(f()) for k, f in c.items()} for _ in range(3)]
        dw = max(float(np.max(np.abs(a - b))) for k in c if k != 'numpy'
                 for a, b in zip(c[k].arrays(), c['numpy'].arrays()))
        diff = max(abs(v - step['numpy']) for step in losses for v in step.values())
        good = diff <= 1e-4 and dw <= 1e-4 and {str(a.dtype) for a in c['dl'].arrays()} == {'float32'}
        ok &= good
        print(f"  B={B:<5} losses at steps 1-3: " + "; ".join(", ".join(f"{k} {v:.5f}" for k, v in step.items()) for step in losses)
              + f" | max |loss diff| {diff:.1e}, max |param diff| {dw:.1e} -> {'OK' if good else 'MISMATCH'}")
    return ok


def memory_check(params, first, last):
    "RSS, traced memory and live dl.Tensor objects between steps `first` and `last` (should not grow)."
    def live_tensors(): return sum(1 for o in gc.get_objects() if type(o) in (dl.Tensor, dl.Parameter))
    step = contenders_for(32, None, params)['dl']
    at = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    for i in range(1, last + 1):
        step()
        if i in (first, last):
            rss, n = rss_bytes(), live_tensors()
            gc.collect()
            at[i] = (rss, tracemalloc.get_traced_memory()[0], n)
    dt = time.perf_counter() - t0
    tracemalloc.stop()
    (r0, m0, n0), (r1, m1, n1) = at[first], at[last]
    print(f"memory: {last} deeplearning101 Adam steps at B=32 ({dt:.1f} s with tracemalloc on); growth from step "
          f"{first} to step {last}: RSS {(r1 - r0) / 2**20:+.2f} MiB, tracemalloc {(m1 - m0) / 2**10:+.1f} KiB "
          f"({(m1 - m0) / (last - first):+.1f} B/step), live tensors {n0} -> {n1} (expected: no growth)")


def profile_dl(params, steps):
    import cProfile
    import pstats
    f = contenders_for(32, None, params)['dl']
    f()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps): f()
    pr.disable()
    print(f"\nprofile: cProfile of {steps} dl steps at B=32, top 20 by tottime:")
    pstats.Stats(pr, stream=sys.stdout).sort_stats('tottime').print_stats(20)


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.add_argument('--profile', action='store_true', help='also cProfile the deeplearning101 step at batch 32')
    args = p.parse_args()
    reps, sample_s = (3, 0.005) if args.quick else (25, 0.02)
    mem_points = (30, 300) if args.quick else (100, 1000)
    threads, torch = header("mlp_step_adam: 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam step, float32", args)
    print(f"Adam lr {LR}, betas {BETAS}, eps {EPS}; {reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples "
          f"per batch size, {GAP_S} s pause (busy-wait) before each sample")
    load = OtherLoad()
    params = init_params()
    print("same computation check (same initial weights and data, tolerance 1e-4):")
    if not check_same_computation(torch, params):
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)
    print()
    cols = ['dl', 'numpy'] + (['torch'] if torch is not None else [])
    print(f"{'batch':>6} " + " ".join(f"{c + ' ms':>10} {'iqr%':>5}" for c in cols) +
          f" {'dl/numpy':>9} {'dl/torch':>9}   target dl/torch")
    for B in BATCHES:
        c = contenders_for(B, torch, params)
        t = interleaved(c, reps, sample_s, gap_s=GAP_S)
        ms = {k: median(v) * 1e3 for k, v in t.items()}
        r_np, r_t = paired_ratio(t, 'dl', 'numpy'), paired_ratio(t, 'dl', 'torch')
        verdict = 'n/a' if r_t != r_t else 'met' if r_t <= TARGETS[B] else 'NOT met'
        print(f"{B:>6} " + " ".join(f"{ms[k]:>10.3f} {iqr_pct(t[k]):>5.0f}" for k in cols) +
              f" {fmt_ratio(r_np, 9)} {fmt_ratio(r_t, 9)}   <= {TARGETS[B]}x: {verdict}")
    print()
    memory_check(params, *mem_points)
    print(load.report())
    if args.profile: profile_dl(params, 100 if args.quick else 500)


if __name__ == '__main__':
    main()
