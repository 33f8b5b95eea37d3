"""One training epoch of chapter 03b's digits MLP (64-128-64-10, ReLU, softmax cross-entropy, plain SGD lr 0.1,
batch size 32, 1,438 training images -> 45 steps, float32), with and without BatchNorm1d before each ReLU:
deeplearning101 against the same epoch hand-written in NumPy and against PyTorch CPU (when installed), measured
interleaved from the same initial weights, the same data and the same batch order.

  dl:       dl.Sequential(dl.Linear, [dl.BatchNorm1d], dl.ReLU, ...), dl.CrossEntropyLoss, dl.SGD; the loop
            forward / loss / zero_grad / backward / step over the same precomputed index batches as the others
  dl.fit:   the same model trained by dl.fit(..., progress=False) over a dl.DataLoader (adds the bookkeeping of
            fit: per-iteration history, training accuracy, timing)
  numpy:    the same epoch by hand: forward, stable log-softmax, manual backward (batch norm's closed-form
            backward included), in-place SGD
  torch:    torch.nn.Sequential(Linear, [BatchNorm1d], ReLU, ...), F.cross_entropy, torch.optim.SGD,
            batches by indexing tensors with the same index arrays

Ratios are medians of per-repetition (paired) ratios; the target is dl/torch <= 1.0.

Run:  .venv/bin/python bench/digits_fit.py [--quick] [--threads N]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _timing import fmt_ratio, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick

SIZES = [64, 128, 64, 10]
LR, BATCH, EPS, MOMENTUM = 0.1, 32, 1e-5, 0.1
TARGET_TORCH = 1.0
GAP_S = 0.1


def data():
    X, y, _, _ = dl.load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    batches = [order[i:i + BATCH] for i in range(0, len(y), BATCH)]
    return X, y, batches


def init_params(seed=0):
    "He-uniform weights [out, in] and zero biases, float32, as dl.Linear(init='he') draws them: [W1, b1, W2, b2, W3, b3]."
    rng = np.random.default_rng(seed)
    ps = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        bound = np.sqrt(6 / n_in)
        ps += [rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32), np.zeros(n_out, np.float32)]
    return ps


# ---------------------------------------------------------------- deeplearning101
def dl_model(params, bn):
    layers = []
    for k, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = dl.Linear(n_in, n_out)
        with dl.no_grad():                      # PyTorch's idiom for setting parameters
            lin.weight.copy_(dl.from_numpy(params[2 * k]))
            lin.bias.copy_(dl.from_numpy(params[2 * k + 1]))
        layers.append(lin)
        if k < len(SIZES) - 2: layers += ([dl.BatchNorm1d(n_out)] if bn else []) + [dl.ReLU()]
    return dl.Sequential(*layers)


class DLEpoch:
    def __init__(self, params, bn, X, y, batches):
        self.model, self.loss_fn = dl_model(params, bn), dl.CrossEntropyLoss()
        self.opt = dl.SGD(self.model.parameters(), lr=LR)
        self.X, self.y, self.batches = X, y, batches

    def __call__(self):
        model, loss_fn, opt, total = self.model, self.loss_fn, self.opt, 0.0
        model.train()
        for idx in self.batches:
            loss = loss_fn(model(dl.tensor(self.X[idx])), dl.tensor(self.y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    def arrays(self): return [p.detach().numpy() for p in self.model.parameters()]


class DLFit:
    "dl.fit over a dl.DataLoader that replays the same batch order (a fixed permutation)."
    def __init__(self, params, bn, X, y, batches):
        self.model, self.loss_fn = dl_model(params, bn), dl.CrossEntropyLoss()
        self.opt = dl.SGD(self.model.parameters(), lr=LR)
        order = np.concatenate(batches)
        self.loader = dl.DataLoader(dl.TensorDataset(X[order], y[order]), batch_size=BATCH)

    def __call__(self):
        h = dl.fit(self.model, self.loss_fn, self.opt, self.loader, epochs=1, progress=False)
        return sum(r['loss'] for r in h.iterations)

    def arrays(self): return [p.detach().numpy() for p in self.model.parameters()]


# ---------------------------------------------------------------- NumPy by hand
class NumpyEpoch:
    def __init__(self, params, bn, X, y, batches):
        self.params = [p.copy() for p in params]
        self.bn = bn
        self.gamma = [np.ones(n, np.float32) for n in SIZES[1:-1]]
        self.beta = [np.zeros(n, np.float32) for n in SIZES[1:-1]]
        self.rm = [np.zeros(n, np.float32) for n in SIZES[1:-1]]
        self.rv = [np.ones(n, np.float32) for n in SIZES[1:-1]]
        self.X, self.y, self.batches = X, y, batches
        self.lr = np.float32(LR)

    def step(self, x, y):
        W1, b1, W2, b2, W3, b3 = self.params
        B, ar = len(y), np.arange(len(y))
        acts, caches = [x], []
        h = x
        for k, (W, b) in enumerate(((W1, b1), (W2, b2))):
            z = h @ W.T; z += b
            if self.bn:
                mu = z.mean(0); zc = z - mu; var = (zc * zc).mean(0)
                inv = 1 / np.sqrt(var + EPS); xhat = zc * inv
                self.rm[k] *= 1 - MOMENTUM; self.rm[k] += MOMENTUM * mu
                self.rv[k] *= 1 - MOMENTUM; self.rv[k] += MOMENTUM * B / (B - 1) * var
                caches.append((xhat, inv))
                z = xhat * self.gamma[k]; z += self.beta[k]
            h = np.maximum(z, 0)
            acts.append(h)
        z = h @ W3.T; z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z); s = e.sum(axis=1, keepdims=True)
        loss = np.log(s[:, 0]).mean() - z[ar, y].mean()
        e /= s; e[ar, y] -= 1; e *= np.float32(1 / B)                  # dL/dlogits
        grads = [None] * 6
        grads[4], grads[5] = e.T @ acts[2], e.sum(0)
        d = e @ W3
        gbn = []
        for k in (1, 0):
            d = d * (acts[k + 1] > 0)
            if self.bn:
                xhat, inv = caches[k]
                gbn.append((k, (d * xhat).sum(0), d.sum(0)))
                gy = d * self.gamma[k]
                d = inv / B * (B * gy - gy.sum(0) - xhat * (gy * xhat).sum(0))
            grads[2 * k], grads[2 * k + 1] = d.T @ acts[k], d.sum(0)
            if k: d = d @ self.params[2 * k]
        for p, g in zip(self.params, grads): p -= self.lr * g
        for k, gg, gb in gbn: self.gamma[k] -= self.lr * gg; self.beta[k] -= self.lr * gb
        return loss

    def __call__(self):
        return sum(float(self.step(self.X[idx], self.y[idx])) for idx in self.batches)

    def arrays(self):
        W1, b1, W2, b2, W3, b3 = self.params
        if not self.bn: return self.params
        return [W1, b1, self.gamma[0], self.beta[0], W2, b2, self.gamma[1], self.beta[1], W3, b3]


# ---------------------------------------------------------------- PyTorch
class TorchEpoch:
    def __init__(self, torch, params, bn, X, y, batches):
        nn = torch.nn
        self.torch, self.F = torch, torch.nn.functional
        layers = []
        for k, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            lin = nn.Linear(n_in, n_out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(params[2 * k])); lin.bias.copy_(torch.from_numpy(params[2 * k + 1]))
            layers.append(lin)
            if k < len(SIZES) - 2: layers += ([nn.BatchNorm1d(n_out)] if bn else []) + [nn.ReLU()]
        self.model = nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.X, self.y = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())
        self.batches = [torch.from_numpy(b) for b in batches]

    def __call__(self):
        model, opt, F, total = self.model, self.opt, self.F, 0.0
        model.train()
        for idx in self.batches:
            loss = F.cross_entropy(model(self.X[idx]), self.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    def arrays(self): return [p.detach().numpy() for p in self.model.parameters()]


def contenders(torch, params, bn, X, y, batches):
    c = {'dl': DLEpoch(params, bn, X, y, batches), 'dl.fit': DLFit(params, bn, X, y, batches),
         'numpy': NumpyEpoch(params, bn, X, y, batches)}
    if torch is not None: c['torch'] = TorchEpoch(torch, params, bn, X, y, batches)
    return c


def check_same_computation(torch, params, X, y, batches):
    "Two epochs each from the same weights and batches: summed losses and final parameters must agree."
    ok = True
    for bn in (False, True):
        c = contenders(torch, params, bn, X, y, batches)
        losses = {k: (f(), f()) for k, f in c.items()}
        ref = c['numpy'].arrays()
        dw = max(float(np.max(np.abs(a - b))) for k in c if k != 'numpy' for a, b in zip(c[k].arrays(), ref))
        dloss = max(abs(v[i] - losses['numpy'][i]) / len(batches) for v in losses.values() for i in (0, 1))
        good = dloss <= 1e-4 and dw <= 1e-3
        ok &= good
        print(f"  {'bn   ' if bn else 'plain'} mean loss epoch 1 / epoch 2: " +
              ", ".join(f"{k} {a / len(batches):.5f}/{b / len(batches):.5f}" for k, (a, b) in losses.items()) +
              f" | max |mean-loss diff| {dloss:.1e}, max |param diff| {dw:.1e} -> {'OK' if good else 'MISMATCH'}")
    return ok


def main():
    args = parse_quick(__doc__.split('\n')[0]).parse_args()
    reps, sample_s = (3, 0.02) if args.quick else (15, 0.1)
    threads, torch = header("digits_fit: one epoch of the chapter-03b digits MLP, SGD, batch 32, float32", args)
    print(f"lr {LR}, {reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples, {GAP_S} s pause before each sample")
    load = OtherLoad()
    X, y, batches = data()
    params = init_params()
    print(f"data: {X.shape[0]} training images -> {len(batches)} steps per epoch")
    print("same computation check (same initial weights, data and batch order; tolerances 1e-4 loss, 1e-3 params):")
    if not check_same_computation(torch, params, X, y, batches):
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)
    print()
    cols = ['dl', 'dl.fit', 'numpy'] + (['torch'] if torch is not None else [])
    print(f"{'model':>6} " + " ".join(f"{c + ' ms':>10} {'iqr%':>5}" for c in cols) +
          f" {'dl/torch':>9} {'fit/torch':>9} {'dl/numpy':>9}   target dl/torch <= {TARGET_TORCH}x")
    for bn in (False, True):
        t = interleaved(contenders(torch, params, bn, X, y, batches), reps, sample_s, gap_s=GAP_S)
        ms = {k: median(v) * 1e3 for k, v in t.items()}
        r_t, r_f, r_n = paired_ratio(t, 'dl', 'torch'), paired_ratio(t, 'dl.fit', 'torch'), paired_ratio(t, 'dl', 'numpy')
        verdict = 'n/a' if r_t != r_t else 'met' if r_t <= TARGET_TORCH else 'NOT met'
        print(f"{'bn' if bn else 'plain':>6} " + " ".join(f"{ms[k]:>10.2f} {iqr_pct(t[k]):>5.0f}" for k in cols) +
              f" {fmt_ratio(r_t, 9)} {fmt_ratio(r_f, 9)} {fmt_ratio(r_n, 9)}   {verdict}")
    print(load.report())


if __name__ == '__main__':
    main()
