"""One training step of the 784-256-128-10 ReLU MLP with softmax cross-entropy, float32, at batch sizes 32, 128
and 1024: `dl.compile`d (chapter 06b) against the best hand-written NumPy step, against the eager step, and
against PyTorch CPU eager, with SGD and with Adam, measured interleaved from the same weights and data.

  compiled:          dl.compile(step) of  opt.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward();
                     opt.step()  with the book's model (nn.Sequential of nn.Linear and nn.ReLU) and dl.optim.SGD / Adam
  eager:             the same step, not compiled
  NumPy by hand:     the same forward, stable log-softmax, manual backward (no gradient for x), and the update, all
                     with preallocated buffers (np.matmul(..., out=), in-place element-wise ops): the best a NumPy
                     programmer writes without a compiler
  PyTorch:           the same model and step in torch (torch.optim.SGD / Adam, foreach implementation), eager

Targets (issue 13): compiled / NumPy by hand <= 1.0 with SGD and <= 1.05 with Adam at every batch size;
compiled / PyTorch <= 0.6 at batch 32 (SGD).  Default: 2 BLAS threads (torch gets the same number).

Run:  .venv/bin/python bench/compiled_step.py [--quick] [--threads N]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _mlp import dl_step_runner, mlp_batch, mlp_params
from _timing import fmt_ratio, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick

SIZES = [784, 256, 128, 10]
LR, BETAS, EPS = 0.01, (0.9, 0.999), 1e-8
ADAM_LR = 1e-3
BATCHES = [32, 128, 1024]
TARGET_SGD, TARGET_ADAM, TARGET_TORCH_32 = 1.0, 1.05, 0.6
GAP_S = 0.15
COPIES = 4      # independent instances of each contender, pooled (array placement moves timings by several %)


def init_params(seed=0): return mlp_params(SIZES, seed, layout='out_in')     # nn.Linear's [out, in] weights
def make_batch(B, seed=1): return mlp_batch(SIZES, B, seed)


# ---------------------------------------------------------------- deeplearning101, eager and compiled
def dl_step(params, X, y, adam, compiled):
    model = dl.nn.Sequential(dl.nn.Linear(784, 256), dl.nn.ReLU(), dl.nn.Linear(256, 128), dl.nn.ReLU(),
                             dl.nn.Linear(128, 10))
    make_opt = ((lambda ps: dl.optim.Adam(ps, lr=ADAM_LR, betas=BETAS, eps=EPS)) if adam
                else (lambda ps: dl.optim.SGD(ps, lr=LR)))
    return dl_step_runner(dl, model, params, make_opt, X, y, compiled)


# ---------------------------------------------------------------- NumPy by hand, preallocated
class NumpyStep:
    "The step by hand, every array preallocated: matrix products with out=, element-wise ops in place."
    def __init__(self, params, X, y, adam):
        self.params = [p.copy() for p in params]
        W1, _, W2, _, W3, _ = self.params
        B, f32 = len(y), np.float32
        self.x, self.y, self.ar, self.adam, self.t = X, y, np.arange(B), adam, 0
        self.h1, self.h2, self.z = (np.empty((B, n), f32) for n in SIZES[1:])
        self.d1, self.d2 = np.empty((B, 256), f32), np.empty((B, 128), f32)
        self.mask1, self.mask2 = np.empty((B, 256), bool), np.empty((B, 128), bool)
        self.zmax, self.s = np.empty((B, 1), f32), np.empty((B, 1), f32)
        self.grads = [np.empty_like(p) for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.inv_b = f32(1 / B)

    def __call__(self):
        W1, b1, W2, b2, W3, b3 = self.params
        gW1, gb1, gW2, gb2, gW3, gb3 = self.grads
        x, y, ar, h1, h2, z = self.x, self.y, self.ar, self.h1, self.h2, self.z
        np.matmul(x, W1.T, out=h1); h1 += b1; np.maximum(h1, 0, out=h1)
        np.matmul(h1, W2.T, out=h2); h2 += b2; np.maximum(h2, 0, out=h2)
        np.matmul(h2, W3.T, out=z); z += b3
        np.max(z, axis=1, keepdims=True, out=self.zmax); z -= self.zmax
        zy = z[ar, y]                                         # the label's logit, before the exp
        e = np.exp(z, out=self.z)
        np.sum(e, axis=1, keepdims=True, out=self.s)
        loss = np.log(self.s[:, 0]).mean() - zy.mean()
        e /= self.s; e[ar, y] -= 1; e *= self.inv_b            # d loss / d logits = (softmax - onehot) / B
        np.matmul(e.T, h2, out=gW3); np.sum(e, axis=0, out=gb3)
        np.matmul(e, W3, out=self.d2); np.greater(h2, 0, out=self.mask2); self.d2 *= self.mask2
        np.matmul(self.d2.T, h1, out=gW2); np.sum(self.d2, axis=0, out=gb2)
        np.matmul(self.d2, W2, out=self.d1); np.greater(h1, 0, out=self.mask1); self.d1 *= self.mask1
        np.matmul(self.d1.T, x, out=gW1); np.sum(self.d1, axis=0, out=gb1)
        if not self.adam:
            for p, g in zip(self.params, self.grads): g *= LR; p -= g
            return loss
        self.t += 1
        b1_, b2_ = BETAS
        bc1, bc2 = 1 - b1_ ** self.t, np.sqrt(1 - b2_ ** self.t)
        for p, g, m, v, t in zip(self.params, self.grads, self.m, self.v, self.tmp):
            np.subtract(g, m, out=t); t *= 1 - b1_; m += t
            np.multiply(g, g, out=t); t *= 1 - b2_; v *= b2_; v += t
            np.sqrt(v, out=t); t += EPS * bc2; np.divide(m, t, out=t); t *= ADAM_LR * bc2 / bc1; p -= t
        return loss

    def arrays(self): return self.params


# ---------------------------------------------------------------- PyTorch
def torch_step(torch, params, X, y, adam):
    nn, Fn = torch.nn, torch.nn.functional
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    with torch.no_grad():
        for p, a in zip(model.parameters(), params): p.copy_(torch.from_numpy(a))
    opt = (torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=BETAS, eps=EPS) if adam
           else torch.optim.SGD(model.parameters(), lr=LR))
    x, t = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())

    def run():
        opt.zero_grad()
        loss = Fn.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss
    run.arrays = lambda: [p.detach().numpy() for p in model.parameters()]
    return run


def contenders_for(B, torch, params, adam, copies=1):
    """{name: step}; with copies > 1, that many independent compiled, NumPy and eager steps, built one after the
    other ('compiled@0', ...): each lands its arrays at other addresses, which alone moves a step's time by several
    per cent (see bench/mlp_step.py), so ratios are pooled over the copies."""
    X, y = make_batch(B)
    c = {}
    for k in range(copies):
        at = f'@{k}' if copies > 1 else ''
        c['compiled' + at] = dl_step(params, X, y, adam, True)
        c['numpy' + at] = NumpyStep(params, X, y, adam)
        c['eager' + at] = dl_step(params, X, y, adam, False)
    if torch is not None: c['torch'] = torch_step(torch, params, X, y, adam)
    return c


def pooled_ratio(t, a, b, copies):
    "Median of the per-repetition ratios a@k / b@k (or / b when b has one instance), over all copies."
    rs = [x / y for k in range(copies) for x, y in zip(t[f'{a}@{k}'], t[f'{b}@{k}' if f'{b}@{k}' in t else b])]
    return median(rs)


def _scalar(loss): return loss.item() if hasattr(loss, 'item') else float(loss)


def check_same_computation(torch, params):
    "Three steps of each contender from the same weights and data: the losses and weights must agree."
    ok = True
    for adam in (False, True):
        for B in BATCHES:
            c = contenders_for(B, torch, params, adam)
            losses = {k: [_scalar(f()) for _ in range(3)] for k, f in c.items()}
            dl_ = max(abs(a - b) for k in c for a, b in zip(losses[k], losses['numpy']))
            dw = max(float(np.max(np.abs(a - b))) for k in c if k != 'numpy'
                     for a, b in zip(c[k].arrays(), c['numpy'].arrays()))
            good = dl_ <= 1e-4 and dw <= (1e-4 if adam else 1e-5) and c['compiled'].traces() == 1
            ok &= good
            print(f"  {'Adam' if adam else 'SGD ':4s} B={B:<5} 3 steps: max |loss diff| {dl_:.1e}, max |weight diff| "
                  f"{dw:.1e}, compiled traced {c['compiled'].traces()} time(s) -> {'OK' if good else 'MISMATCH'}")
    return ok


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.set_defaults(threads=2)
    args = p.parse_args()
    reps, sample_s = (3, 0.005) if args.quick else (15, 0.01)
    threads, torch = header("compiled_step: 784-256-128-10 ReLU MLP, softmax cross-entropy, float32", args)
    print(f"{reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples per batch size and optimizer; "
          f"{COPIES} independent copies of the compiled, NumPy and eager steps, ratios pooled over them; "
          f"{GAP_S} s pause around each torch sample")
    load = OtherLoad()
    params = init_params()
    print("same computation check (tolerance: losses 1e-4, weights 1e-5 with SGD, 1e-4 with Adam, whose update divides by sqrt(v)):")
    if not check_same_computation(torch, params):
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)
    print()
    for adam in (False, True):
        name, target = ('Adam', TARGET_ADAM) if adam else ('SGD', TARGET_SGD)
        cols = ['compiled', 'numpy', 'eager'] + (['torch'] if torch is not None else [])
        print(f"{name}: {'batch':>6} " + " ".join(f"{c + ' ms':>12} {'iqr%':>5}" for c in cols) +
              f" {'compiled/numpy':>15} {'eager/numpy':>12} {'compiled/torch':>15}   target compiled/numpy <= {target}x"
              + (f", compiled/torch <= {TARGET_TORCH_32}x at batch 32" if not adam else ""))
        for B in BATCHES:
            c = contenders_for(B, torch, params, adam, COPIES)
            t = interleaved(c, reps, sample_s, gap_s=GAP_S, gap_names=('torch',))
            t.update({k: [x for i in range(COPIES) for x in t[f'{k}@{i}']] for k in ('compiled', 'numpy', 'eager')})
            ms = {k: median(t[k]) * 1e3 for k in cols}
            r_np = pooled_ratio(t, 'compiled', 'numpy', COPIES)
            r_eager = pooled_ratio(t, 'eager', 'numpy', COPIES)
            r_t = pooled_ratio(t, 'compiled', 'torch', COPIES) if torch is not None else float('nan')
            met = r_np <= target and (adam or B != 32 or not r_t == r_t or r_t <= TARGET_TORCH_32)
            print(f"{'':5s} {B:>6} " + " ".join(f"{ms[k]:>12.3f} {iqr_pct(t[k]):>5.0f}" for k in cols) +
                  f" {fmt_ratio(r_np, 15)} {fmt_ratio(r_eager, 12)} {fmt_ratio(r_t, 15)}   "
                  f"{'met' if met else 'NOT met'}")
        print()
    print(load.report())


if __name__ == '__main__':
    main()
