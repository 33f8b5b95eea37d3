"""The MLP data shared by the step benchmarks: the same initial weights and the same batch for every contender."""
import numpy as np

__all__ = ['mlp_params', 'mlp_batch', 'placed', 'dl_step_runner']


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
