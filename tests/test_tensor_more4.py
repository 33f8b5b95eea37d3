"""Parity with PyTorch (probe K): `diagonal` as a view, the functions that write into parts of a
tensor (`unflatten`, `diag_embed`, `masked_scatter`, `take_along_dim`, `scatter_reduce`,
`scatter_(reduce='multiply')`, `index_copy`), NumPy's stacking helpers (`hstack` ...
`dsplit`), and the error classes of `diagonal` and `index_select`."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


def _run(lib, fn, arrays, grad=True):
    "fn(lib, *tensors) on float64 copies of `arrays`: the value and each input's gradient."
    ts = [lib.tensor(a.copy(), requires_grad=grad and a.dtype.kind == 'f') for a in arrays]
    out = fn(lib, *ts)
    grads = []
    if grad and out.dtype.is_floating_point:
        w = lib.tensor(np.linspace(0.5, 2.0, out.numel()).reshape(tuple(out.shape)))
        (out * w).sum().backward()
        grads = [None if t.grad is None else t.grad.numpy() for t in ts]
    return out.detach().numpy(), grads


def same(fn, *arrays, grad=True):
    "fn gives the same values (and gradients) in deeplearning101 and in torch."
    v1, g1 = _run(dl, fn, arrays, grad)
    v2, g2 = _run(torch, fn, arrays, grad)
    assert v1.shape == v2.shape and v1.dtype == v2.dtype, (v1.dtype, v2.dtype)
    np.testing.assert_allclose(v1, v2, rtol=1e-6, atol=1e-9)
    assert len(g1) == len(g2)
    for a, b in zip(g1, g2):
        assert (a is None) == (b is None)
        if a is not None: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3, 4))
M = rng.standard_normal((3, 4))


# ------------------------------------------------------------------ diagonal: a view
@pytest.mark.parametrize("args", [(), (1,), (-1,), (2, 1, 2), (0, -1, -2), (-2, 2, 0), (5, 0, 1)])
def test_diagonal_values_and_grads(args):
    same(lambda L, x: L.diagonal(x, *args), X)
    same(lambda L, x: x.diagonal(*args), X)


@pytest.mark.parametrize("lib", [dl, torch], ids=["dl", "torch"])
def test_diagonal_writes_through(lib):
    c = lib.zeros(3, 3)
    c.diagonal().fill_(5.)
    c.diagonal(1).copy_(lib.tensor([7., 8.]))
    assert c.tolist() == [[5, 7, 0], [0, 5, 8], [0, 0, 5]]
    assert lib.zeros(3, 3).diagonal().stride() == (4,)
    b = lib.zeros(2, 3, 3)
    b.diagonal(dim1=-2, dim2=-1).add_(1.)
    assert b.sum().item() == 6.0
    r = lib.ones(2, 3)
    r.diagonal(-1).mul_(4)
    assert r.tolist() == [[1, 1, 1], [4, 1, 1]]
    v0 = b._version
    lib.diagonal(b, 0, 0, 2).zero_()                   # a write bumps the base's version
    assert b._version > v0


def test_diagonal_is_a_view_of_the_array():
    x = dl.zeros(2, 3, 4)
    assert np.shares_memory(x.diagonal(1, 1, 2).numpy(), x.numpy())
    assert x.diagonal()._version == x._version


def test_diag_of_a_matrix_is_a_copy_as_torch():
    for lib in (dl, torch):
        x = lib.zeros(3, 3)
        lib.diag(x).fill_(1.)
        assert x.sum().item() == 0.0


def test_diagonal_view_grad_of_a_write():
    # a write into the view: the view's own gradient follows it, as in torch
    for lib in (dl, torch):
        p = lib.ones(2, 2, requires_grad=True)
        d = (p * 1).diagonal().clone()
        d.mul_(3)
        d.sum().backward()
        assert p.grad.tolist() == [[3, 0], [0, 3]]


def test_diagonal_double_backward():
    x = dl.tensor(M, requires_grad=True)
    dl.gradcheck(lambda a: dl.diagonal(a * a, 1), x)
    g, = dl.autograd.grad(dl.diagonal(x * x).sum(), x, create_graph=True)
    (h,) = dl.autograd.grad(g.sum(), x)
    assert np.allclose(h.numpy(), 2 * np.eye(3, 4))


# ------------------------------------------------------------------ new functions
def test_unflatten():
    same(lambda L, x: x.unflatten(1, (3, 1)), X)
    same(lambda L, x: L.unflatten(x, -1, (2, -1)), X)
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            lib.unflatten(lib.ones(3, 4), 1, (3, 3))


@pytest.mark.parametrize("args", [(), (1,), (-2,), (0, 0, 2), (1, -1, 0)])
def test_diag_embed(args):
    same(lambda L, x: L.diag_embed(x, *args), M)
    same(lambda L, x: x.diag_embed(*args), X)
    if len(args) < 2: same(lambda L, x: L.diag_embed(x, *args), M[0])


def test_masked_scatter():
    mask = M > 0
    src = rng.standard_normal(12)
    same(lambda L, x, s: x.masked_scatter(L.tensor(mask), s), M, src)
    same(lambda L, x, s: (x * 1).masked_scatter_(L.tensor(mask), s), M, src)
    same(lambda L, x, s: L.zeros(2, 3, 4, dtype=L.float64).masked_scatter(
        L.tensor(mask[0]), s * 2), M, src)                         # a broadcast mask
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            lib.zeros(3).masked_scatter_(lib.tensor([True, True, True]), lib.ones(2))


def test_take_along_dim():
    idx = rng.integers(0, 3, (2, 3, 1))
    same(lambda L, x: L.take_along_dim(x, L.tensor(idx), dim=1), X)
    same(lambda L, x: L.take_along_dim(x, L.tensor(idx[:1]), dim=-1), X)   # broadcast
    same(lambda L, x: L.take_along_dim(x, L.tensor([0, 5, 23])), X)          # flattened
    same(lambda L, x: x.take_along_dim(x.argsort(2), 2), X)


@pytest.mark.parametrize("reduce", ['sum', 'prod', 'mean', 'amax', 'amin'])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    idx = np.array([[0, 1, 0, 2], [2, 2, 1, 0], [0, 0, 0, 0]])
    src = rng.standard_normal((3, 4))
    same(lambda L, x, s: L.scatter_reduce(x, 0, L.tensor(idx), s, reduce,
                                          include_self=include_self), M, src)
    same(lambda L, x, s: (x * 1).scatter_reduce_(1, L.tensor(idx[:2, :3]), s[:2, :3], reduce,
                                                 include_self=include_self), M, src)
    # ties and zeros: the conventions of amax/amin and prod
    t = np.array([[1.0, 2.0], [0.0, 2.0]])
    s2 = np.array([[2.0, 0.0], [1.0, 2.0], [0.0, 2.0]])
    same(lambda L, x, s: x.scatter_reduce(0, L.tensor([[0, 0], [1, 1], [1, 0]]), s, reduce,
                                          include_self=include_self), t, s2)
    # integers (mean: floor division, as torch)
    same(lambda L, x, s: x.scatter_reduce(0, L.tensor([0, 0, 1, 1]), s, reduce,
                                          include_self=include_self),
         np.array([7, -3, 5]), np.array([2, -5, 4, 3]), grad=False)


def test_scatter_reduce_errors():
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            lib.zeros(3).scatter_reduce(0, lib.tensor([0]), lib.ones(1), 'add')


def test_scatter_multiply():
    for lib in (dl, torch):
        out = lib.full((2, 4), 2.).scatter_(1, lib.tensor([[2], [3]]), 1.23, reduce='multiply')
        assert np.allclose(out.tolist(), [[2, 2, 2.46, 2], [2, 2, 2, 2.46]])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        same(lambda L, x, s: (x * 1).scatter_(0, L.tensor([[1, 0, 1, 1]]), s,
                                              reduce='multiply'), M, M[:1] * 2, grad=False)


def test_index_copy():
    src = rng.standard_normal((3, 2))
    same(lambda L, x, s: x.index_copy(1, L.tensor([3, 0]), s), M, src)
    same(lambda L, x, s: (x * 1).index_copy_(1, L.tensor([3, 0]), s), M, src)
    same(lambda L, x, s: L.index_copy(x, 0, L.tensor([2, 0]), s), M, M[:2] * 3)


# ------------------------------------------------------------------ stacking
SEQS = [
    [np.array(1.0), np.array(2.0)],
    [np.arange(3.0), np.arange(3.0) + 5],
    [M, M * 2],
    [X, X + 1],
]


@pytest.mark.parametrize("name", ['hstack', 'vstack', 'dstack', 'column_stack', 'row_stack'])
@pytest.mark.parametrize("k", range(len(SEQS)))
def test_stacks(name, k):
    if name == 'column_stack' and k == 3: k = 2
    same(lambda L, a, b: getattr(L, name)((a, b)), *SEQS[k])
    same(lambda L, a, b: getattr(L, name)([a, b, a]), *SEQS[k])


@pytest.mark.parametrize("name", ['atleast_1d', 'atleast_2d', 'atleast_3d'])
def test_atleast(name):
    for a in (np.array(3.0), np.arange(3.0), M, X):
        same(lambda L, x: getattr(L, name)(x), a)
    want = [tuple(t.shape) for t in getattr(torch, name)(torch.tensor(1.), torch.ones(2))]
    for lib in (dl, torch):
        f = getattr(lib, name)
        out = f(lib.tensor(1.), lib.ones(2))
        assert isinstance(out, tuple) and [tuple(t.shape) for t in out] == want
        assert len(f([lib.tensor(1.)])) == 1


@pytest.mark.parametrize("name,arg", [('hsplit', 3), ('hsplit', [1, 2]), ('vsplit', 2),
                                      ('vsplit', [1]), ('dsplit', 4), ('dsplit', [1, 3])])
def test_splits(name, arg):
    same(lambda L, x: L.cat([p * (i + 1) for i, p in enumerate(getattr(L, name)(x, arg))],
                            dim=-1), X)
    same(lambda L, x: getattr(x, name)(arg)[-1], X)
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            getattr(lib, name)(lib.ones(6, 6, 6), 5)


def test_hsplit_1d_and_errors():
    same(lambda L, x: L.hsplit(x, 3)[1], np.arange(6.0))
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            lib.vsplit(lib.ones(4), 2)
        with pytest.raises(RuntimeError):
            lib.dsplit(lib.ones(4, 4), 2)


# ------------------------------------------------------------------ error classes
def test_error_classes_as_torch():
    for lib in (dl, torch):
        with pytest.raises(IndexError):
            lib.ones(3).diagonal()
        with pytest.raises(IndexError):
            lib.ones(3, 3).diagonal(0, 0, 2)
        with pytest.raises(RuntimeError):
            lib.ones(3, 3).diagonal(0, 1, 1)
        with pytest.raises(RuntimeError):
            lib.arange(4.).gather(0, lib.tensor([5]))
        with pytest.raises(RuntimeError):
            lib.ones(2, 3, 4).permute(0, 1)
        with pytest.raises(TypeError):
            lib.arange(6.).index_select(0, [1, 2])
        with pytest.raises(TypeError):
            lib.hstack(lib.ones(2) for _ in range(2))


def test_scatter_reduce_max_min_aliases():
    # torch 2.13 also takes 'max' and 'min' (as amax and amin)
    for r in ('max', 'min'):
        same(lambda L, x, s: x.scatter_reduce(0, L.tensor([0, 0, 2]), s, r), M[0, :3], M[1, :3],
             grad=False)              # torch has no gradient for these two names


def test_write_into_base_after_diagonal_was_saved_is_caught():
    # `d * d` saves the view; changing the base afterwards must fail in backward, as in torch
    for lib in (dl, torch):
        p = lib.ones(3, 3, requires_grad=True)
        y = p * 2
        d = y.diagonal()
        z = (d * d).sum()
        with lib.no_grad():
            y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()
