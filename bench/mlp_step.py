"""One training step (forward + backward + plain SGD) of a 784-256-128-10 ReLU MLP with softmax cross-entropy,
float32, at batch sizes 32, 128 and 1024: deeplearning101 against the same step hand-written in NumPy and
against PyTorch CPU (when installed), measured interleaved from the same initial weights and data.

  dl:              the same code as the PyTorch contender: logits = relu(relu(x@W1+b1)@W2+b2)@W3+b3 (chapter 00's
                   ops), loss = dl.cross_entropy(logits, y) (chapter 03's fused softmax cross-entropy, as PyTorch's
                   F.cross_entropy); loss.backward(); under dl.no_grad():
                   g = p.grad; g *= lr; p -= g; p.grad = None (the NumPy step's in-place
                   update, with in-place tensor ops: a leaf owns its .grad)
  dl_ops:          the engine of chapters 00-01 alone: the same, with
                   loss = -(dl.log_softmax(logits, axis=1)[arange(B), y]).mean() (12 graph nodes instead of 9)
  NumPy by hand:   the same forward, stable log-softmax, manual backward with matrix products (no gradient
                   for the input x), in-place SGD
  PyTorch:         the same model, F.cross_entropy (the same mean of -log_softmax at the label), manual SGD
                   under torch.no_grad()

Target: dl / NumPy by hand <= 1.15 at every batch size (the 'dl' row; the 'dl_ops' row is reported beside it).
Two interleaved rounds per batch size: dl, dl_ops and NumPy (the target's ratio), then dl against PyTorch (with a
pause around each torch sample).  With torch's samples in the first round, dl / NumPy moved by up to 4 per cent
at batch 128 (1.17-1.18x there, 1.13-1.14x with torch imported but not run, 2026-12-06): after a torch sample
(its OpenMP workers, its allocator's memory traffic) the next samples run slower, and not by the same amount for
dl and for NumPy, so the third contender is timed in a round of its own.
Where an array lands in memory moves these timings by several per cent (NumPy aligns arrays to 16 bytes, a
cache line is 64): four copies of the same two steps, built one after the other in one process, measured from
1.11x to 1.19x at batch 32.  So every dl, dl_ops and NumPy step runs at four placements of its parameters (0, 16,
32 and 48 bytes past a cache-line boundary), and the ratio pools the paired ratios of all four.
Then a memory check: 1,000 dl steps at batch 32, RSS / tracemalloc / live-tensor growth between step 100 and
step 1000 (should be ~0: the graph is freed by backward).

Run:  .venv/bin/python bench/mlp_step.py [--quick] [--threads N] [--profile]
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
from _mlp import mlp_batch, mlp_params, placed
from _timing import fmt_ratio, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick, rss_bytes

SIZES = [784, 256, 128, 10]
LR = 0.01
BATCHES = [32, 128, 1024]
TARGET_NUMPY = 1.15
OFFSETS = (0, 16, 32, 48)     # byte offsets past a cache line at which each contender's parameters are placed
GAP_S = 0.15    # pause before each torch sample and the one after it: OpenBLAS / OpenMP workers left spinning by the previous contender go to sleep


def init_params(seed=0): return mlp_params(SIZES, seed, layout='in_out')
def make_batch(B, seed=1): return mlp_batch(SIZES, B, seed)


# ---------------------------------------------------------------- deeplearning101
class DLStep:
    def __init__(self, params, X, y, ops_loss=False, offset=0):
        # from_numpy shares the placed array (dl.tensor would copy it, placed anywhere)
        self.params = [dl.from_numpy(placed(p, offset)).requires_grad_()
                       for p in params]
        self.x, self.y, self.ar = dl.from_numpy(X), y, np.arange(len(y))
        self.lr, self.ops_loss = LR, ops_loss

    def loss(self):
        W1, b1, W2, b2, W3, b3 = self.params
        logits = dl.relu(dl.relu(self.x @ W1 + b1) @ W2 + b2) @ W3 + b3
        if self.ops_loss: return -(dl.log_softmax(logits, axis=1)[self.ar, self.y]).mean()
        return dl.cross_entropy(logits, self.y)

    def __call__(self):
        loss = self.loss()
        loss.backward()
        with dl.no_grad():
            for p in self.params:
                g = p.grad
                g *= self.lr                                    # the same in-place update as NumpyStep
                p -= g
                p.grad = None
        return loss

    def arrays(self): return [p.detach().numpy() for p in self.params]


# ---------------------------------------------------------------- NumPy by hand
class NumpyStep:
    def __init__(self, params, X, y, offset=0):
        self.params = [placed(p, offset) for p in params]
        self.x, self.y, self.ar = X, y, np.arange(len(y))
        self.inv_b = np.float32(1 / len(y))
        self.lr = np.float32(LR)

    def __call__(self):
        W1, b1, W2, b2, W3, b3 = self.params
        x, y, ar = self.x, self.y, self.ar
        h1 = x @ W1; h1 += b1; np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2; h2 += b2; np.maximum(h2, 0, out=h2)
        z = h2 @ W3; z += b3
        z -= z.max(axis=1, keepdims=True)                   # stable log-softmax: z - log(sum(exp(z)))
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s[:, 0]).mean() - z[ar, y].mean()     # mean of -log_softmax at the label
        # backward: d loss / d logits = (softmax - onehot) / B
        e /= s; e[ar, y] -= 1; e *= self.inv_b
        gW3, gb3 = h2.T @ e, e.sum(axis=0)
        d2 = e @ W3.T; d2 *= h2 > 0
        gW2, gb2 = h1.T @ d2, d2.sum(axis=0)
        d1 = d2 @ W2.T; d1 *= h1 > 0
        gW1, gb1 = x.T @ d1, d1.sum(axis=0)
        for p, g in zip(self.params, (gW1, gb1, gW2, gb2, gW3, gb3)):
            g *= self.lr; p -= g
        return loss

    def arrays(self): return self.params


# ---------------------------------------------------------------- PyTorch
class TorchStep:
    def __init__(self, torch, params, X, y):
        self.torch, self.F = torch, __import__('torch.nn.functional', fromlist=['cross_entropy'])
        self.params = [torch.tensor(p, requires_grad=True) for p in params]
        self.x, self.y = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())

    def __call__(self):
        torch, F = self.torch, self.F
        W1, b1, W2, b2, W3, b3 = self.params
        logits = torch.relu(torch.relu(self.x @ W1 + b1) @ W2 + b2) @ W3 + b3
        loss = F.cross_entropy(logits, self.y)
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p.add_(p.grad, alpha=-LR)
                p.grad = None
        return loss

    def arrays(self): return [p.detach().numpy() for p in self.params]


def contenders_for(B, torch, params, offsets=(0,)):
    """{name: step}; with several `offsets`, one dl, dl_ops and NumPy step per offset (their parameters placed that
    many bytes past a cache-line boundary), named 'dl@16' etc.; torch places its own tensors (64-byte aligned)."""
    X, y = make_batch(B)
    c = {}
    for off in offsets:
        at = f'@{off}' if len(offsets) > 1 else ''
        c['dl' + at] = DLStep(params, X, y, offset=off)
        c['dl_ops' + at] = DLStep(params, X, y, ops_loss=True, offset=off)
        c['numpy' + at] = NumpyStep(params, X, y, offset=off)
    if torch is not None: c['torch'] = TorchStep(torch, params, X, y)
    return c


def pooled_ratio(t, a, b, offsets):
    "Median of the per-repetition ratios a@off / b@off (b@off, or b itself when it has one instance), over all offsets."
    rs = [x / y for off in offsets for x, y in zip(t[f'{a}@{off}'], t[f'{b}@{off}' if f'{b}@{off}' in t else b])]
    return median(rs) if rs else float('nan')


def pooled(t, name, offsets): return [x for off in offsets for x in t[f'{name}@{off}']]


def graph_nodes(params, ops_loss):
    "How many recorded ops one dl step's graph has (counted on a batch of 4, before backward frees it)."
    loss = DLStep(params, *make_batch(4), ops_loss=ops_loss).loss()
    return sum(n._op is not None for n in dl.topological_order([loss]))


def _scalar(loss): return loss.item() if hasattr(loss, 'item') else float(loss)   # dl.Tensor has no __float__


def check_same_computation(torch, params):
    "One step each from the same weights and data, twice: the losses must agree (the 2nd reflects the update)."
    ok = True
    for B in BATCHES:
        c = contenders_for(B, torch, params)
        first = {k: _scalar(f()) for k, f in c.items()}
        second = {k: _scalar(f()) for k, f in c.items()}
        dw = max(float(np.max(np.abs(a - b))) for k in c if k != 'numpy'
                 for a, b in zip(c[k].arrays(), c['numpy'].arrays()))
        diff = max(abs(v - first['numpy']) for v in first.values())
        diff = max(diff, max(abs(v - second['numpy']) for v in second.values()))
        dtypes = {str(a.dtype) for a in c['dl'].arrays()}
        good = diff <= 1e-4 and dtypes == {'float32'}
        ok &= good
        print(f"  B={B:<5} loss step 1: " + ", ".join(f"{k} {v:.6f}" for k, v in first.items()) +
              f" | after one SGD step: " + ", ".join(f"{k} {v:.6f}" for k, v in second.items()) +
              f" | max |loss diff| {diff:.1e}, max |param diff| {dw:.1e}, dl params {'/'.join(sorted(dtypes))}"
              f" -> {'OK' if good else 'MISMATCH'}")
    return ok


def memory_check(params, first, last):
    """Run `last` dl steps at batch 32 with tracemalloc on; RSS, traced memory and live dl.Tensor objects at steps
    `first` and `last`.  Traced memory is read twice at each point: as is, and after gc.collect() (which also
    empties CPython's free lists of small tuples, floats etc.: blocks parked there count as allocated for
    tracemalloc and fill up over the first thousand steps or so, without being a leak)."""
    def live_tensors(): return sum(1 for o in gc.get_objects() if type(o) is dl.Tensor)
    def sample():
        rss, raw, n = rss_bytes(), tracemalloc.get_traced_memory()[0], live_tensors()
        found = gc.collect()
        return rss, raw, tracemalloc.get_traced_memory()[0], n, found
    step = contenders_for(32, None, params)['dl']
    at = {}
    tracemalloc.start()
    t0 = time.perf_counter()
    for i in range(1, last + 1):
        step()
        if i in (first, last): at[i] = sample()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (r0, raw0, m0, n0, u0), (r1, raw1, m1, n1, u1) = at[first], at[last]
    print(f"memory: {last} deeplearning101 steps at B=32 ({dt:.1f} s with tracemalloc on); growth from step "
          f"{first} to step {last}:")
    print(f"  RSS                            {(r1 - r0) / 2**20:+8.2f} MiB  ({r0 / 2**20:.1f} -> {r1 / 2**20:.1f} MiB)")
    print(f"  tracemalloc after gc.collect() {(m1 - m0) / 2**10:+8.1f} KiB  ({m0 / 2**10:.1f} -> {m1 / 2**10:.1f} KiB "
          f"traced = {(m1 - m0) / (last - first):+.1f} B/step; peak inside a step {peak / 2**20:.2f} MiB)")
    print(f"  tracemalloc as is              {(raw1 - raw0) / 2**10:+8.1f} KiB  (includes free-list warm-up)")
    print(f"  live dl.Tensor objects {n0} -> {n1}; gc.collect() found {u0} and {u1} unreachable objects "
          f"(0: the graph is freed by reference counting alone)")
    print(f"  expected ~0 growth: the graph is freed after backward")


def profile_dl(params, steps):
    import cProfile
    import pstats
    c = contenders_for(32, None, params)
    for f in c.values(): f()
    t = {}
    for k, f in c.items():
        t0 = time.perf_counter()
        for _ in range(steps): f()
        t[k] = (time.perf_counter() - t0) / steps
    print(f"\nprofile: {steps} steps at B=32 (unprofiled: dl {t['dl'] * 1e3:.3f} ms/step, numpy by hand "
          f"{t['numpy'] * 1e3:.3f} ms/step); cProfile of the dl step, top 25 by tottime:")
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps): c['dl']()
    pr.disable()
    pstats.Stats(pr, stream=sys.stdout).sort_stats('tottime').print_stats(25)


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.add_argument('--profile', action='store_true', help='also cProfile the deeplearning101 step at batch 32')
    args = p.parse_args()
    reps, sample_s = (3, 0.005) if args.quick else (25, 0.02)
    mem_points = (30, 300) if args.quick else (100, 1000)
    threads, torch = header("mlp_step: 784-256-128-10 ReLU MLP, softmax cross-entropy, SGD step, float32",
                            args)
    print(f"lr {LR}; per batch size two rounds of {reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples: "
          f"dl, dl_ops and numpy; then dl@0 and torch,\n        with a {GAP_S} s pause (busy-wait) before and after each "
          f"torch sample (so the OpenMP threads torch leaves spinning, and OpenBLAS's, are asleep)"
          + ("; torch loss via F.cross_entropy" if torch is not None else ""))
    load = OtherLoad()
    params = init_params()

    print("same computation check (same initial weights and data, tolerance 1e-4):")
    if not check_same_computation(torch, params):
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)

    print()
    cols = ['dl', 'dl_ops', 'numpy'] + (['torch'] if torch is not None else [])
    n_dl, n_ops = graph_nodes(params, False), graph_nodes(params, True)
    print(f"dl = x @ W + b, relu, dl.cross_entropy ({n_dl} graph nodes, the torch contender's code); dl_ops = the same "
          f"with the loss from chapter 01's ops (log_softmax, indexing, mean, neg: {n_ops} nodes)")
    print(f"each of dl, dl_ops and numpy runs {len(OFFSETS)} times, its parameters placed at {', '.join(map(str, OFFSETS))} "
          f"bytes past a cache-line boundary;\nratios pool the per-repetition ratios of all placements "
          f"(dl@16 / numpy@16, ...); 'by placement' gives the lowest and highest of the per-placement medians;\n"
          f"dl/torch pairs dl@0 with torch in the second round")
    print(f"{'batch':>6} " + " ".join(f"{c + ' ms':>10} {'iqr%':>5}" for c in cols) +
          f" {'dl/numpy':>9} {'by placement':>13} {'dl/torch':>9} {'dl_ops/numpy':>13}   target dl/numpy <= {TARGET_NUMPY}x")
    for B in BATCHES:
        c = contenders_for(B, torch, params, OFFSETS)
        torch_step = c.pop('torch', None)
        t = interleaved(c, reps, sample_s)                  # round 1: dl, dl_ops and NumPy
        if torch_step is not None:                          # round 2: dl against torch
            t2 = interleaved({'dl': c['dl@0'], 'torch': torch_step}, reps, sample_s,
                             gap_s=GAP_S, gap_names=('torch',))
            t['torch'], t['dl vs torch'] = t2['torch'], t2['dl']
        t.update({k: pooled(t, k, OFFSETS) for k in ('dl', 'dl_ops', 'numpy')})
        ms = {k: median(t[k]) * 1e3 for k in cols}
        r_np = pooled_ratio(t, 'dl', 'numpy', OFFSETS)
        each = [paired_ratio(t, f'dl@{o}', f'numpy@{o}') for o in OFFSETS]
        r_t = paired_ratio(t, 'dl vs torch', 'torch') if torch is not None else float('nan')
        print(f"{B:>6} " + " ".join(f"{ms[k]:>10.3f} {iqr_pct(t[k]):>5.0f}" for k in cols) +
              f" {fmt_ratio(r_np, 9)} {min(each):>6.2f}-{max(each):.2f}x {fmt_ratio(r_t, 9)} "
              f"{fmt_ratio(pooled_ratio(t, 'dl_ops', 'numpy', OFFSETS), 13)}"
              f"   {'met' if r_np <= TARGET_NUMPY else 'NOT met'}")

    print()
    memory_check(params, *mem_points)
    print(load.report())
    if args.profile: profile_dl(params, 100 if args.quick else 500)


if __name__ == '__main__':
    main()
