"""Recurrent layers (chapter 08) against PyTorch CPU, float32: one LSTM training step, and the LSTM layer's forward +
backward alone.

  LSTM step (issue 16): batch 32, sequence 64, input size 65 (the character vocabulary of the chapter, as dense
    features), hidden 128, batch_first: nn.LSTM(65, 128, batch_first=True) -> Linear(128, 65) on every step ->
    F.cross_entropy over the 32 * 64 next-character targets, SGD lr 0.1 (opt.zero_grad(); loss = ...;
    loss.backward(); opt.step()): deeplearning101 eager, deeplearning101 under dl.compile, PyTorch eager; the same
    weights (PyTorch's U(-1/sqrt(128), 1/sqrt(128)) bounds) and data; three steps of each are checked to agree
    first.
  LSTM layer: y, (h, c) = lstm(x) on the same shapes, y.backward(g); x, the weights and biases require grad.
    'fwd' is the forward alone (under no_grad in both).

Target (issue 16): LSTM step eager / PyTorch <= 1.5, judged on wall-clock paired ratios (the compiled step and the
layer's ratios are reported beside it).  Each sample's CPU time is recorded too and its paired ratio printed beside
('cpu'); see bench/conv.py for why NumPy's BLAS and torch get 1 thread by default (--threads 2 on a quiet
machine).

Run:  .venv/bin/python bench/lstm.py [--quick] [--threads N]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _mlp import check_contenders, dl_step_runner, torch_sgd_runner
from _timing import fmt_ratio, header, iqr_pct, median, OtherLoad, paired_ratio, parse_quick
from conv import interleaved_wall_cpu, report_steps

B, T, I, H, V = 32, 64, 65, 128, 65
TARGET_STEP = 1.5
LR = 0.1
GAP_S = 0.15


def lstm_weights(seed=0):
    "LSTM then Linear parameters in PyTorch's order and layouts, from PyTorch's default initialisation bounds."
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    shapes = [((4 * H, I), k), ((4 * H, H), k), ((4 * H,), k), ((4 * H,), k), ((V, H), k), ((V,), k)]
    return [rng.uniform(-b, b, s).astype(np.float32) for s, b in shapes]


def lstm_batch(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, I)).astype(np.float32), rng.integers(0, V, B * T).astype(np.int64)


class DlLM(dl.nn.Module):
    def __init__(self):
        self.lstm, self.head = dl.nn.LSTM(I, H, batch_first=True), dl.nn.Linear(H, V)

    def forward(self, x):
        return self.head(self.lstm(x)[0]).reshape(-1, V)


def torch_model(torch):
    class TorchLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = torch.nn.LSTM(I, H, batch_first=True), torch.nn.Linear(H, V)

        def forward(self, x):
            return self.head(self.lstm(x)[0]).reshape(-1, V)
    return TorchLM()


def torch_step(torch, params, X, y):
    return torch_sgd_runner(torch, torch_model(torch), params, X, y, LR)


def step_contenders(torch, compiled=True):
    params, (X, y) = lstm_weights(), lstm_batch()
    make = lambda ps: dl.optim.SGD(ps, lr=LR)
    c = {'eager': dl_step_runner(dl, DlLM(), params, make, X, y, False)}
    if compiled:
        try:
            f = dl_step_runner(dl, DlLM(), params, make, X, y, True)
            f()                                         # traces here: a failure drops the contender
            c['compiled'] = dl_step_runner(dl, DlLM(), params, make, X, y, True)
        except Exception as e:
            print(f"  dl.compile of the LSTM step failed ({type(e).__name__}: {e}); not timed")
    if torch is not None: c['torch'] = torch_step(torch, params, X, y)
    return c



def check_step(torch):
    "Three steps of each contender from the same weights and data: the losses and weights must agree."
    return check_contenders(step_contenders(torch), "3 SGD steps")


def layer_runners(lib, torch=None):
    "(fwd+bwd, fwd, grads) callables for the LSTM layer alone, on deeplearning101 (lib=dl) or torch."
    params, (X, _) = lstm_weights(), lstm_batch()
    g = np.random.default_rng(2).standard_normal((B, T, H)).astype(np.float32)
    if torch is None:
        m = dl.nn.LSTM(I, H, batch_first=True)
        with dl.no_grad():
            for p, a in zip(m.parameters(), params[:4]): p.copy_(dl.from_numpy(a))
        x, G, no_grad = dl.tensor(X, requires_grad=True), dl.tensor(g), dl.no_grad
    else:
        m = torch.nn.LSTM(I, H, batch_first=True)
        with torch.no_grad():
            for p, a in zip(m.parameters(), params[:4]): p.copy_(torch.from_numpy(a))
        x, G, no_grad = torch.tensor(X, requires_grad=True), torch.tensor(g), torch.no_grad

    def clear():
        x.grad = None
        for p in m.parameters(): p.grad = None

    def run():
        m(x)[0].backward(G); clear()

    def fwd():
        with no_grad(): m(x)

    def grads():
        y = m(x)[0]
        y.backward(G)
        out = [y.detach().numpy().copy(), x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in m.parameters()]
        clear()
        return out
    return run, fwd, grads


def check_layer(torch):
    a, b = layer_runners(dl)[2](), layer_runners(dl, torch)[2]()
    err = max(float(np.max(np.abs(u - v)) / max(1e-30, np.max(np.abs(v)))) for u, v in zip(a, b))
    good = err <= 1e-5
    print(f"  LSTM layer: max |dl - torch| / max|torch| over y, dx and the 4 parameter gradients: {err:.1e} -> "
          f"{'OK' if good else 'MISMATCH'}")
    return good


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.set_defaults(threads=1)
    args = p.parse_args()
    reps, sample_s = (7, 0.05) if args.quick else (15, 0.2)
    threads, torch = header(f"lstm: an LSTM training step (batch {B}, sequence {T}, input {I}, hidden {H}), "
                            f"float32", args)
    gap = GAP_S if threads > 1 else 0.0
    print(f"{reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples"
          + (f"; {gap} s pause around each torch sample" if gap else ""))
    load = OtherLoad()
    if torch is None:
        print("torch is not installed: nothing to compare with")
        sys.exit(1)

    print("same computation check (float32, against PyTorch):")
    if not (check_layer(torch) and check_step(torch)):
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)

    print()
    print(f"LSTM layer forward + backward, [{B}, {T}, {I}] -> hidden {H} (reported; 'cpu': CPU-time ratio):")
    (dr, df, _), (tr, tf, _) = layer_runners(dl), layer_runners(dl, torch)
    t, c = interleaved_wall_cpu({'dl': dr, 'torch': tr, 'dl fwd': df, 'torch fwd': tf}, reps, sample_s,
                                gap_s=gap, gap_names=('torch', 'torch fwd'))
    print(f"  dl {median(t['dl']) * 1e3:.2f} ms (iqr {iqr_pct(t['dl']):.0f}%), torch {median(t['torch']) * 1e3:.2f} ms "
          f"(iqr {iqr_pct(t['torch']):.0f}%): fwd+bwd {fmt_ratio(paired_ratio(t, 'dl', 'torch')).strip()} "
          f"(cpu {fmt_ratio(paired_ratio(c, 'dl', 'torch')).strip()}), fwd only "
          f"{fmt_ratio(paired_ratio(t, 'dl fwd', 'torch fwd')).strip()} "
          f"(cpu {fmt_ratio(paired_ratio(c, 'dl fwd', 'torch fwd')).strip()})")

    print()
    print(f"LSTM training step (target eager/torch <= {TARGET_STEP}x, wall-clock; cpu beside it):")
    cs = step_contenders(torch)
    t, c = interleaved_wall_cpu(cs, reps, sample_s, gap_s=gap, gap_names=('torch',))
    report_steps(cs, t, c, {'eager': TARGET_STEP})
    print(load.report())


if __name__ == '__main__':
    main()
