"""Per-op forward+backward cost of deeplearning101 on tiny tensors, against PyTorch CPU (when installed) and the
same array math written directly in NumPy (the framework-free floor).

For each op a chain of N applications is built on a (2, 2) float32 tensor: binary ops combine the running value
with a distinct small leaf that requires grad (y = y OP leaf_k), unary ops are applied to the running value
(y = op(y)).  The chain ends with .sum(), then backward(); the time is divided by the number of ops recorded
(N + 1, counting the final sum).  Leaves' grads are reset to None after each chain (as zero_grad(set_to_none)).
exp uses N = 5: exp(exp(...)) overflows float32 after five applications from any start.

Then a 100,000-node chain (y = y * 1.00001 on a scalar leaf, then backward) is timed end to end.

Run:  .venv/bin/python bench/op_overhead.py [--quick]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
from _timing import fmt_ratio, geomean, header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick

OPS = ['add', 'mul', 'div', 'matmul', 'exp', 'tanh', 'sigmoid', 'relu', 'sum', 'log_softmax']
BINARY = {'add', 'mul', 'div', 'matmul'}
N = 10
N_EXP = 5
SHAPE = (2, 2)
TARGET_US, TARGET_TORCH = 10.0, 0.6
DEEP = 100_000


def chain_len(op): return N_EXP if op == 'exp' else N


def make_inputs(op, seed=0):
    "The start value and the per-step leaves (float32 NumPy arrays) of one op's chain."
    rng = np.random.default_rng(seed)
    n = chain_len(op)
    if op == 'exp': x0 = rng.uniform(-4, -3, SHAPE)                 # 5 exps stay finite (max ~4e7)
    else: x0 = rng.uniform(-1, 1, SHAPE)                            # mixed signs, so relu has work to do
    if op == 'matmul': leaves = [np.eye(2) + 0.1 * rng.standard_normal(SHAPE) for _ in range(n)]
    elif op in BINARY: leaves = [rng.uniform(0.5, 1.5, SHAPE) for _ in range(n)]
    else: leaves = []
    return x0.astype(np.float32), [b.astype(np.float32) for b in leaves]


# ---------------------------------------------------------------- deeplearning101
DL_STEP = {
    'add': lambda y, b: y + b, 'mul': lambda y, b: y * b, 'div': lambda y, b: y / b,
    'matmul': lambda y, b: y @ b,
    'exp': lambda y: y.exp(), 'tanh': lambda y: y.tanh(), 'sigmoid': dl.sigmoid, 'relu': dl.relu,
    'sum': lambda y: y.sum(), 'log_softmax': lambda y: dl.log_softmax(y, axis=1),
}


def dl_contender(op, x0, leaves):
    x = dl.tensor(x0, requires_grad=True)          # dl.tensor copies, as torch.tensor
    bs = [dl.tensor(b, requires_grad=True) for b in leaves]
    step, n = DL_STEP[op], chain_len(op)
    if op in BINARY:
        def run():
            y = x
            for b in bs: y = step(y, b)
            y.sum().backward()
            x.grad = None
            for b in bs: b.grad = None
    else:
        def run():
            y = x
            for _ in range(n): y = step(y)
            y.sum().backward()
            x.grad = None
    def grads():
        y = x
        if op in BINARY:
            for b in bs: y = step(y, b)
        else:
            for _ in range(n): y = step(y)
        y.sum().backward()
        out = [x.grad.numpy().copy()] + [b.grad.numpy().copy() for b in bs]
        x.grad = None
        for b in bs: b.grad = None
        return out
    return run, grads


# ---------------------------------------------------------------- PyTorch
def torch_contender(torch, op, x0, leaves):
    x = torch.tensor(x0, requires_grad=True)
    bs = [torch.tensor(b, requires_grad=True) for b in leaves]
    n = chain_len(op)
    step = {
        'add': lambda y, b: y + b, 'mul': lambda y, b: y * b, 'div': lambda y, b: y / b,
        'matmul': lambda y, b: y @ b,
        'exp': torch.exp, 'tanh': torch.tanh, 'sigmoid': torch.sigmoid, 'relu': torch.relu,
        'sum': lambda y: y.sum(), 'log_softmax': lambda y: torch.log_softmax(y, dim=1),
    }[op]
    if op in BINARY:
        def run():
            y = x
            for b in bs: y = step(y, b)
            y.sum().backward()
            x.grad = None
            for b in bs: b.grad = None
    else:
        def run():
            y = x
            for _ in range(n): y = step(y)
            y.sum().backward()
            x.grad = None
    def grads():
        y = x
        if op in BINARY:
            for b in bs: y = step(y, b)
        else:
            for _ in range(n): y = step(y)
        y.sum().backward()
        out = [x.grad.numpy().copy()] + [b.grad.numpy().copy() for b in bs]
        x.grad = None
        for b in bs: b.grad = None
        return out
    return run, grads


# ---------------------------------------------------------------- NumPy, the same math by hand
def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1, e) / (1 + e)


def _log_softmax(a):
    z = a - np.max(a, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def numpy_contender(op, x0, leaves):
    x, bs, n = x0.copy(), [b.copy() for b in leaves], chain_len(op)
    one = np.float32(1)

    def forward_backward():
        "Forward keeping what backward needs, seed ones, then the chain rule in reverse; returns the grads."
        if op in BINARY:
            ys = [x]
            for b in bs:
                y = ys[-1]
                ys.append(y + b if op == 'add' else y * b if op == 'mul' else y / b if op == 'div' else y @ b)
            g = np.ones_like(ys[-1])                                # d sum / d y
            gb = [None] * len(bs)
            for k in range(len(bs) - 1, -1, -1):
                b, yin, yout = bs[k], ys[k], ys[k + 1]
                if op == 'add': gb[k] = g
                elif op == 'mul': gb[k], g = g * yin, g * b
                elif op == 'div': gb[k], g = -g * yout / b, g / b
                else: gb[k], g = yin.T @ g, g @ b.T
            return [g] + gb
        ys = [x]
        for _ in range(n):
            y = ys[-1]
            if op == 'exp': ys.append(np.exp(y))
            elif op == 'tanh': ys.append(np.tanh(y))
            elif op == 'sigmoid': ys.append(_sigmoid(y))
            elif op == 'relu': ys.append(np.maximum(y, 0))
            elif op == 'sum': ys.append(np.sum(y))
            else: ys.append(_log_softmax(y))
        g = np.ones_like(ys[-1])
        for k in range(n - 1, -1, -1):
            yin, yout = ys[k], ys[k + 1]
            if op == 'exp': g = g * yout
            elif op == 'tanh': g = g * (one - yout * yout)
            elif op == 'sigmoid': g = g * yout * (one - yout)
            elif op == 'relu': g = g * (yin > 0)
            elif op == 'sum': g = np.broadcast_to(g, yin.shape)
            else: g = g - np.exp(yout) * np.sum(g, axis=1, keepdims=True)
        return [np.ascontiguousarray(g)]

    return forward_backward, forward_backward


# ---------------------------------------------------------------- the deep chain
def deep_dl():
    x = dl.tensor(1.0, requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(DEEP): y = y * 1.00001
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    g = x.grad.item()
    del y
    return t1 - t0, t2 - t1, time.perf_counter() - t0, g


def deep_torch(torch):
    x = torch.tensor(1.0, requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(DEEP): y = y * 1.00001
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    g = x.grad.item()
    del y
    return t1 - t0, t2 - t1, time.perf_counter() - t0, g


def deep_numpy():
    "Raw NumPy: the same 100k multiplies forward and 100k backward (0-d array * float32 gives NumPy scalars)."
    x, c = np.asarray(np.float32(1.0)), np.float32(1.00001)
    t0 = time.perf_counter()
    y = x
    for _ in range(DEEP): y = y * c
    t1 = time.perf_counter()
    g = np.ones_like(y)
    for _ in range(DEEP): g = g * c
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, time.perf_counter() - t0, float(g)


def main():
    args = parse_quick(__doc__.split('\n')[0]).parse_args()
    reps, sample_s, deep_reps = (3, 0.003, 1) if args.quick else (15, 0.02, 3)
    threads, torch = header("op_overhead: per-op forward+backward on tiny (2, 2) float32 tensors", args)
    print(f"chain: N={N} applications per op (exp: N={N_EXP}) + final .sum(), backward; "
          f"us/op = chain time / (N + 1); {reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples")

    load = OtherLoad()
    # correctness of what is being timed: the three contenders compute the same gradients
    bad = []
    for op in OPS:
        x0, leaves = make_inputs(op)
        ref = numpy_contender(op, x0, leaves)[1]()
        got = {'deeplearning101': dl_contender(op, x0, leaves)[1]()}
        if torch is not None: got['torch'] = torch_contender(torch, op, x0, leaves)[1]()
        for who, gs in got.items():
            for a, b in zip(gs, ref):
                if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5): bad.append((op, who))
    print("gradient check vs NumPy by hand:", "OK (all ops, all contenders)" if not bad else f"MISMATCH {bad}")

    rows = []
    for op in OPS:
        x0, leaves = make_inputs(op)
        contenders = {'dl': dl_contender(op, x0, leaves)[0], 'numpy': numpy_contender(op, x0, leaves)[0]}
        if torch is not None: contenders['torch'] = torch_contender(torch, op, x0, leaves)[0]
        t = interleaved(contenders, reps, sample_s)
        nops = chain_len(op) + 1
        us = {k: median(v) / nops * 1e6 for k, v in t.items()}
        rows.append((op, us['dl'], us.get('torch', float('nan')), paired_ratio(t, 'dl', 'torch'),
                     us['numpy'], paired_ratio(t, 'dl', 'numpy'), max(iqr_pct(v) for v in t.values())))

    print()
    print(f"{'op':<12} {'dl us/op':>9} {'torch us/op':>12} {'dl/torch':>9} {'numpy us/op':>12} {'dl/numpy':>9}"
          f" {'dl-numpy us':>12} {'iqr%':>5}")
    for op, d, tt, r_t, n, r_n, noise in rows:
        tcol = f"{tt:>12.2f}" if tt == tt else f"{'n/a':>12}"
        print(f"{op:<12} {d:>9.2f} {tcol} {fmt_ratio(r_t, 9)} {n:>12.2f} {fmt_ratio(r_n, 9)} {d - n:>12.2f}"
              f" {noise:>5.0f}")
    print("(iqr%: the largest interquartile range of the three contenders' samples, % of its median: noise)")
    gm_torch = geomean([r[3] for r in rows])
    gm_np = geomean([r[5] for r in rows])
    worst = max(rows, key=lambda r: r[1])
    print()
    print(f"summary: geomean dl/torch = {fmt_ratio(gm_torch, 1).strip()}   (target <= {TARGET_TORCH}x PyTorch: "
          f"{'n/a, torch not installed' if gm_torch != gm_torch else 'met' if gm_torch <= TARGET_TORCH else 'NOT met'})")
    print(f"         max dl us/op = {worst[1]:.2f} ({worst[0]})   (target <= {TARGET_US:g} us per op: "
          f"{'met' if worst[1] <= TARGET_US else 'NOT met'})")
    print(f"         geomean dl/numpy-by-hand = {gm_np:.2f}x (framework overhead over the bare array math)")

    # the 100,000-node chain
    print()
    print(f"deep chain: y = y * 1.00001 repeated {DEEP:,} times on a scalar leaf, then backward "
          f"({deep_reps} interleaved repetition{'s' if deep_reps > 1 else ''}, median)")
    runs = {'deeplearning101': deep_dl, 'numpy by hand': deep_numpy}
    if torch is not None: runs['torch'] = lambda: deep_torch(torch)
    res = {k: [] for k in runs}
    for r in range(deep_reps):
        names = list(runs)
        k = r % len(names)
        for name in names[k:] + names[:k]: res[name].append(runs[name]())
    expect = float(np.float32(1.00001)) ** DEEP     # the constant is float32, as in all three contenders
    for name, rs in res.items():
        f, b, tot = (median([x[i] for x in rs]) for i in range(3))
        g = rs[-1][3]
        line = f"  {name:<16} forward {f:6.3f} s  backward {b:6.3f} s  total {tot:6.3f} s"
        if name == 'deeplearning101':
            line += f"   (target < 2 s: {'met' if tot < 2 else 'NOT met'})"
        line += f"   grad {g:.5f} (float64 reference {expect:.5f})"
        print(line)
    print(load.report())


if __name__ == '__main__':
    main()
