"""The MLP data shared by the step benchmarks: the same initial weights and the same batch for every contender."""
import numpy as np

__all__ = ['mlp_params', 'mlp_batch', 'placed', 'dl_step_runner', 'torch_sgd_runner', 'check_contenders']


def mlp_params(sizes, seed=0, layout='out_in'):
    """He-normal weights and small random biases, float32: [W1, b1, W2, b2, ...].
    `layout='out_in'` stores each weight as [out, in] (the `Linear` and PyTorch layout), `'in_out'` as [in, out]."""
    rng = np.random.default_rng(seed)
    ps = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        shape = (n_out, n_in) if layout == 'out_in' else (n_in, n_out)
        ps.append((rng.standard_normal(shape) * np.sqrt(2 / n_in)).astype(np.float32))
        ps.append((0.01 * rng.standard_normal(n_out)).astype(np.float32))
    return ps


def mlp_batch(sizes, B, seed=1):
    "A float32 input batch [B, sizes[0]] and int64 class labels in [0, sizes[-1])."
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], B).astype(np.int64)


def placed(a, offset):
    """A copy of array `a` whose data starts `offset` bytes past a 64-byte boundary (a cache line).  NumPy only
    promises 16-byte alignment, so where an array lands depends on the allocator's history, and a matrix
    product or an elementwise pass over it can run several per cent faster or slower for that reason alone:
    benchmarks place every contender's parameters at each of the offsets 0, 16, 32, 48 in turn."""
    buf = np.empty(a.nbytes + 64 + offset, np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def dl_step_runner(dl, model, params, make_opt, X, y, compiled):
    """A deeplearning101 training step as a no-argument callable: `model` gets the arrays `params`, `make_opt`
    builds its optimizer, and each call runs zero_grad, cross-entropy, backward and step on (X, y), through
    `dl.compile` when `compiled`. `.arrays()` gives the parameters' values, `.traces()` how often it traced."""
    F = dl.nn.functional
    with dl.no_grad():
        for p, a in zip(model.parameters(), params): p.copy_(dl.from_numpy(a))
    opt = make_opt(model.parameters())
    x, t = dl.from_numpy(X), dl.from_numpy(y)

    def step(x, t):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss
    f = dl.compile(step) if compiled else step
    run = lambda: f(x, t)
    run.arrays = lambda: [p.detach().numpy() for p in model.parameters()]
    run.traces = (lambda: f.traces) if compiled else (lambda: 0)
    return run


def torch_sgd_runner(torch, model, params, X, y, lr):
    """PyTorch's training step on fixed data, from the weights `params` (arrays, in `model.parameters()` order):
    zero_grad, cross-entropy, backward, SGD step. The runner has .arrays(), the weights after the steps so far."""
    with torch.no_grad():
        for p, a in zip(model.parameters(), params): p.copy_(torch.from_numpy(a))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, t = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())

    def run():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss
    run.arrays = lambda: [p.detach().numpy() for p in model.parameters()]
    return run


def _scalar(loss): return loss.item() if hasattr(loss, 'item') else float(loss)


def check_contenders(c, what, weight_tol=1e-5, digits=6):
    """Three steps of each contender of `c` (name -> runner with .arrays(), and .traces() for 'compiled'), started
    from the same weights and data: the losses (1e-4) and the weights (`weight_tol`) must agree with PyTorch's (or
    eager's when torch is absent), and the compiled step must trace once. Prints one line; returns True when all hold."""
    losses = {k: [_scalar(f()) for _ in range(3)] for k, f in c.items()}
    ref = 'torch' if 'torch' in c else 'eager'
    dloss = max(abs(a - b) for k in c for a, b in zip(losses[k], losses[ref]))
    dw = max(float(np.max(np.abs(a - b))) for k in c for a, b in zip(c[k].arrays(), c[ref].arrays()))
    traces = c['compiled'].traces() if 'compiled' in c else 1
    good = dloss <= 1e-4 and dw <= weight_tol and traces == 1
    print(f"  {what}, losses " + ", ".join(f"{k} {v[0]:.{digits}f}->{v[-1]:.{digits}f}" for k, v in losses.items())
          + f": max |loss diff| {dloss:.1e}, max |weight diff| {dw:.1e}"
          + (f", compiled traced {traces} time(s)" if 'compiled' in c else "") + f" -> {'OK' if good else 'MISMATCH'}")
    return good
