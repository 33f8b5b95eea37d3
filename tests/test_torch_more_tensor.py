"""Parity with PyTorch for the tensor functions and methods added at the end of chapter 01b
("More of PyTorch's surface"): values, dtypes and shapes, and gradients (first, and second
where the function is smooth), each expression written once and run with both libraries."""
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-5, 1e-7


def _np(t):
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def _flat(out):
    "A result as a list of tensors and sizes (tuples and namedtuples of tensors flattened, nested ones too)."
    if isinstance(out, (tuple, list)) and not all(isinstance(o, int) for o in out):
        return [t for o in out for t in _flat(o)]
    return [out]


def same(expr, *arrays, dtypes=None, rtol=RTOL, atol=ATOL):
    "expr(L, *tensors) with L = dl and L = torch on the same inputs: equal values, shapes and dtypes."
    dtypes = dtypes or [None] * len(arrays)
    outs = []
    for L in (dl, torch):
        xs = [L.tensor(np.array(a), dtype=None if d is None else getattr(L, d)) for a, d in zip(arrays, dtypes)]
        outs.append(_flat(expr(L, *xs)))
    assert len(outs[0]) == len(outs[1])
    for d, t in zip(*outs):
        if not isinstance(t, torch.Tensor):                   # a size
            assert tuple(d) == tuple(t), (d, t)
            continue
        assert isinstance(d, dl.Tensor), type(d)
        assert tuple(d.shape) == tuple(t.shape), (d.shape, t.shape)
        assert _np(d).dtype == _np(t).dtype, (_np(d).dtype, _np(t).dtype)
        np.testing.assert_allclose(_np(d), _np(t), rtol=rtol, atol=atol, equal_nan=True)
    return outs


def grads(expr, *arrays, second=True, seed=0, rtol=RTOL, atol=ATOL):
    "Values, first derivatives of sum(out * w) and Hessian-vector products agree with torch."
    res = []
    for L, grad in ((dl, dl.grad), (torch, torch.autograd.grad)):
        xs = [L.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
        out = expr(L, *xs)
        rs = np.random.default_rng(seed)
        w = L.tensor(rs.standard_normal(tuple(out.shape)))
        g = grad((out * w).sum(), xs, create_graph=second, allow_unused=True)
        h = None
        if second:
            vs = [L.tensor(rs.standard_normal(x.shape)) for x in xs]
            terms = [(gi * v).sum() for gi, v in zip(g, vs) if gi is not None and gi.requires_grad]
            h = grad(sum(terms[1:], terms[0]), xs, allow_unused=True) if terms else None
        res.append((out, g, h))
    (od, gd, hd), (ot, gt, ht) = res
    np.testing.assert_allclose(_np(od), _np(ot), rtol=rtol, atol=atol, err_msg="value")
    z = lambda t, a: np.zeros(np.shape(a)) if t is None else _np(t)
    for a, b, x in zip(gd, gt, arrays):
        np.testing.assert_allclose(z(a, x), z(b, x), rtol=rtol, atol=atol, err_msg="gradient")
    if second and ht is not None:
        for a, b, x in zip(hd or [None] * len(arrays), ht, arrays):
            np.testing.assert_allclose(z(a, x), z(b, x), rtol=rtol, atol=atol, err_msg="2nd")


rng = np.random.default_rng(0)
M = rng.standard_normal((3, 4))
V = rng.uniform(-0.9, 0.9, 5)
NAN = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
NAN2 = np.array([[1.0, np.nan, 3.0], [np.nan, 5.0, 2.0]])


# --------------------------------------------------------------------------- group 1: fixes

def test_scatter_with_a_0d_index_is_the_tutorials_one_hot():
    for y in range(4):
        same(lambda L: L.zeros(4, dtype=L.float).scatter_(0, L.tensor(y), value=1))
    same(lambda L, x: x.scatter(0, L.tensor(1), L.tensor(5.0)), [0.0, 0.0, 0.0], dtypes=["float"])
    same(lambda L, x: x.scatter_add(0, L.tensor(1), L.tensor([5.0])), [1.0, 1.0, 1.0], dtypes=["float"])


def test_scatter_with_a_python_bool_value():
    same(lambda L: L.zeros(2, 3, dtype=L.bool).scatter_(1, L.tensor([[0], [2]]), True))
    same(lambda L: L.zeros(2, 3).scatter(1, L.tensor([[0], [2]]), True))
    same(lambda L: L.zeros(2, 3, dtype=L.long).scatter(1, L.tensor([[1]]), value=7))


def test_scatter_0d_index_keeps_gradients():
    grads(lambda L, x, s: x.scatter(0, L.tensor(2), s.reshape(())), [1.0, 2.0, 3.0], [4.0], second=False)


@pytest.mark.parametrize("dim", [(0, 1), [0], (1,), [-1, 0], (), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_any_all_with_a_tuple_or_list_dim(dim, keepdim):
    b = [[True, False], [True, True]]
    same(lambda L, x: (x.all(dim=dim, keepdim=keepdim), x.any(dim=dim, keepdim=keepdim),
                       L.all(x, dim=dim, keepdim=keepdim)), b)
    same(lambda L, x: (x.all(dim=dim), x.any(dim=dim)), [[1.0, 0.0], [2.0, 3.0]])


def test_bernoulli_inplace_with_a_tensor_p():
    same(lambda L: L.empty(3).bernoulli_(L.tensor([0.0, 1.0, 1.0])))
    same(lambda L: L.empty(2, 3).bernoulli_(L.tensor([0.0, 1.0, 1.0])))
    same(lambda L: L.empty(3, dtype=L.long).bernoulli_(L.tensor([1.0, 0.0, 1.0])))
    with pytest.raises(RuntimeError, match="bernoulli_"):
        dl.empty(3).bernoulli_(dl.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="bernoulli_"):
        dl.empty(3).bernoulli_(dl.tensor([[0.0, 1.0, 1.0]] * 2))
    p = dl.empty(20000).bernoulli_(dl.full((20000,), 0.3))
    assert abs(p.mean().item() - 0.3) < 0.02


def test_flip_method_takes_dims():
    same(lambda L, x: (x.flip(dims=[1]), x.flip(0, 1), x.flip([0]), x.flip((1, 0))), M)
    grads(lambda L, x: x.flip(dims=(0,)), M)


# --------------------------------------------------------------------------- element-wise

@pytest.mark.parametrize("name", ["tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                                  "frac"])
def test_unary_functions_and_gradients(name):
    grads(lambda L, x: getattr(L, name)(x), V)
    grads(lambda L, x: getattr(x, name)(), V)


@pytest.mark.parametrize("name", ["tan", "asin", "atan", "sinh", "cosh"])
def test_unary_functions_on_integers_give_float32(name):
    same(lambda L, x: getattr(L, name)(x), [0, 1], dtypes=["long"])


def test_frac_rejects_integers_like_torch():
    with pytest.raises(NotImplementedError, match="frac"):
        dl.frac(dl.tensor([1, 2]))


def test_atan2_values_gradients_and_quadrants():
    pts = [1.0, -1.0, 0.0, 2.0]
    same(lambda L, a, b: (L.atan2(a, b), L.arctan2(b, a), a.atan2(b)), pts, [1.0, -1.0, -3.0, 0.5])
    same(lambda L, a, b: L.atan2(a, b), [1, 2], [3, 4], dtypes=["long", "long"])
    grads(lambda L, a, b: L.atan2(a, b), M, M[::-1] + 0.5)
    grads(lambda L, a, b: L.atan2(a, b), M, [[1.5], [-2.0], [0.7]])      # broadcasting


def test_logaddexp_is_stable():
    big = [1000.0, -1000.0, 0.0, -np.inf, np.inf]
    same(lambda L, a, b: L.logaddexp(a, b), big, [1000.0, -1001.0, 0.0, -np.inf, 1.0])
    same(lambda L, a, b: a.logaddexp(b), [1.0, 2.0], [3.0, -4.0], dtypes=["float", "float"])
    grads(lambda L, a, b: L.logaddexp(a, b), M, M[::-1] * 2)


def test_fmax_fmin_ignore_nan_and_route_gradients_like_torch():
    a, b = [1.0, np.nan, 3.0, np.nan, 2.0], [2.0, 0.0, np.nan, np.nan, 2.0]
    same(lambda L, x, y: (L.fmax(x, y), L.fmin(x, y), x.fmax(y), x.fmin(y)), a, b)
    same(lambda L, x, y: L.fmax(x, y), [1, 2], [3.0, 0.0], dtypes=["long", None])
    grads(lambda L, x, y: L.fmax(x, y) + L.fmin(x, y) * 2, [1.0, 2.0, 3.0, 2.0], [2.0, 0.0, 3.0, 5.0],
          second=False)                                                   # a tie at 3.0


def test_isposinf_isneginf_and_comparison_aliases():
    x = [np.inf, -np.inf, 0.0, np.nan]
    same(lambda L, v: (L.isposinf(v), L.isneginf(v), v.isposinf(), v.isneginf()), x)
    same(lambda L, v: (L.isposinf(v), L.isneginf(v)), [1, 2], dtypes=["long"])
    for name in ("greater", "greater_equal", "less", "less_equal", "not_equal"):
        same(lambda L, a, b: (getattr(L, name)(a, b), getattr(a, name)(b), getattr(a, name)(1.0)),
             [0.0, 1.0, 2.0], [1.0, 1.0, 1.0])


def test_is_floating_point_function():
    for d in ("float32", "float64", "int64", "bool"):
        assert dl.is_floating_point(dl.zeros(2, dtype=getattr(dl, d))) == torch.is_floating_point(
            torch.zeros(2, dtype=getattr(torch, d)))
    with pytest.raises(TypeError, match="is_floating_point"):
        dl.is_floating_point(1.0)


# --------------------------------------------------------------------------- reductions

@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}])
def test_nansum_nanmean(kw):
    same(lambda L, x: (L.nansum(x, **kw), x.nansum(**kw), L.nanmean(x, **kw), x.nanmean(**kw)), NAN)
    same(lambda L, x: L.nansum(x, **kw), [[1, 2, 3], [4, 5, 6]], dtypes=["long"])
    grads(lambda L, x: L.nansum(x, **kw), NAN, second=False)
    grads(lambda L, x: L.nanmean(x, **kw), NAN2, second=False)   # no all-NaN column: see below


def test_nanmean_of_only_nans():
    "The mean is NaN, as in torch; but its gradient is 0 here, NaN in torch (0 / 0)."
    same(lambda L, x: L.nanmean(x, 0), NAN)
    x = dl.tensor(NAN, requires_grad=True)
    dl.nanmean(x, 0).sum().backward()
    assert x.grad[:, 1].tolist() == [0.0, 0.0]


def test_nanmean_rejects_integers():
    with pytest.raises(RuntimeError, match="nanmean"):
        dl.nanmean(dl.tensor([1, 2]))


@pytest.mark.parametrize("args,kw", [((), {}), ((1,), {}), ((0,), {"keepdim": True}), (((0, 1),), {}),
                                     ((1,), {"correction": 0}), ((False,), {}), ((1, False), {})])
def test_std_mean_var_mean(args, kw):
    same(lambda L, x: (*L.std_mean(x, *args, **kw), *L.var_mean(x, *args, **kw)), M)
    assert type(dl.std_mean(dl.tensor(M))) is tuple
    grads(lambda L, x: L.std_mean(x, *args, **kw)[0] + L.var_mean(x, *args, **kw)[1] * 3, M)


@pytest.mark.parametrize("kw", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}])
def test_aminmax(kw):
    same(lambda L, x: (L.aminmax(x, **kw).min, L.aminmax(x, **kw).max, *x.aminmax(**kw)), M)
    same(lambda L, x: tuple(L.aminmax(x, **kw)), [[3, 1, 2], [0, 5, 5]], dtypes=["long"])
    grads(lambda L, x: L.aminmax(x, **kw).max - 2 * L.aminmax(x, **kw).min, [[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]],
          second=False)                                                   # ties share the gradient


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_cumprod_values_and_gradients_with_zeros(n):
    x = rng.uniform(0.5, 1.5, (2, n)) * rng.choice([-1, 1], (2, n))
    same(lambda L, v: (L.cumprod(v, 1), v.cumprod(0), v.cumprod(dim=-1)), x)
    x[0, n // 2] = 0.0
    if n > 2: x[1, [0, n - 1]] = 0.0
    grads(lambda L, v: L.cumprod(v, 1), x)
    grads(lambda L, v: L.cumprod(v, 0), x)


def test_cumprod_dtypes():
    same(lambda L, v: L.cumprod(v, 0), [True, True, False], dtypes=["bool"])
    same(lambda L, v: L.cumprod(v, 0), [1, 2, 3], dtypes=["int32"])
    same(lambda L, v: L.cumprod(v, 0, dtype=L.float64), [1, 2, 3], dtypes=["int32"])
    same(lambda L, v: L.cumprod(v, 0), 2.0)


@pytest.mark.parametrize("n,dim", [(1, -1), (2, 1), (1, 0), (3, 1), (0, 1), (6, 1)])
def test_diff(n, dim):
    same(lambda L, x: (L.diff(x, n, dim), x.diff(n=n, dim=dim)), M)
    same(lambda L, x: L.diff(x, n, dim), (M > 0).tolist())
    same(lambda L, x: L.diff(x, n, dim), (M * 10).astype(int))
    grads(lambda L, x: L.diff(x, n, dim), M)


def test_diff_prepend_append():
    same(lambda L, x: L.diff(x, prepend=L.tensor([0]), append=L.tensor([10, 20])), [1, 3, 6])
    grads(lambda L, x, p: L.diff(x, dim=0, prepend=p), M, M[:1] * 3)
    with pytest.raises(RuntimeError, match="diff"):
        dl.diff(dl.tensor(3.0))


# --------------------------------------------------------------------------- reordering and building

@pytest.mark.parametrize("shifts,dims", [(1, None), (-7, None), (1, 0), (5, 1), ((1, 2), (0, 1)), ((-1, 3), (1, 1))])
def test_roll(shifts, dims):
    same(lambda L, x: (L.roll(x, shifts, dims), x.roll(shifts, dims)), M)
    grads(lambda L, x: L.roll(x, shifts, dims), M)


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (2, 0)])
def test_rot90(k, dims):
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.rot90(v, k, dims), v.rot90(k, dims)), x)
    grads(lambda L, v: L.rot90(v, k, dims), x)


def test_rot90_default_and_errors():
    same(lambda L, x: (L.rot90(x), x.rot90()), M)
    for bad in (lambda: dl.rot90(dl.arange(3)), lambda: dl.rot90(dl.zeros(2, 2), 1, (0, 0)),
                lambda: dl.rot90(dl.zeros(2, 2), 1, (0,))):
        with pytest.raises(RuntimeError, match="rot90"):
            bad()


def test_fliplr_flipud():
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.fliplr(v), L.flipud(v), v.fliplr(), v.flipud(), L.flipud(v[0, 0])), x)
    grads(lambda L, v: L.fliplr(v) * 2 + L.flipud(v), x)
    with pytest.raises(RuntimeError, match="fliplr"):
        dl.fliplr(dl.arange(3))
    with pytest.raises(RuntimeError, match="flipud"):
        dl.flipud(dl.tensor(3))


@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ([1, 2], [0, 1]), ((), ())])
def test_movedim_moveaxis(src, dst):
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.movedim(v, src, dst), L.moveaxis(v, src, dst), v.movedim(src, dst),
                       v.moveaxis(src, dst)), x)
    grads(lambda L, v: L.movedim(v, src, dst), x)


def test_swapaxes_swapdims():
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.swapaxes(v, 0, 2), L.swapdims(v, -1, 1), v.swapaxes(0, 1), v.swapdims(2, 0)), x)
    grads(lambda L, v: L.swapaxes(v, 0, 2), x)


@pytest.mark.parametrize("k", [-4, -2, -1, 0, 1, 3, 5])
def test_diag_both_ways(k):
    same(lambda L, v: (L.diag(v, k), v.diag(k)), V)
    same(lambda L, v: L.diag(v, k), [1, 2, 3], dtypes=["long"])
    same(lambda L, m: (L.diag(m, k), m.diag(diagonal=k)), M)
    grads(lambda L, v: L.diag(v, k), V)
    grads(lambda L, m: L.diag(m, k), M)
    with pytest.raises(RuntimeError, match="diag"):
        dl.diag(dl.tensor(3))


@pytest.mark.parametrize("offset,d1,d2", [(0, 0, 1), (1, 1, 2), (-1, 2, 0), (2, -1, -2), (0, 2, 1), (9, 0, 1)])
def test_diagonal(offset, d1, d2):
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.diagonal(v, offset, d1, d2), v.diagonal(offset=offset, dim1=d1, dim2=d2)), x)
    grads(lambda L, v: L.diagonal(v, offset, d1, d2), x)


def test_trace():
    same(lambda L, m: (L.trace(m), m.trace()), M)
    same(lambda L, m: L.trace(m), [[1, 2, 3], [4, 5, 6]], dtypes=["int32"])
    grads(lambda L, m: L.trace(m), M)
    with pytest.raises(RuntimeError, match="trace"):
        dl.trace(dl.arange(3))


@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (3, 4, 1), (4, 3, -2), (0, 3, 0), (2, 5, 7), (5, 2, -9)])
def test_tril_triu_indices(row, col, offset):
    same(lambda L: (L.tril_indices(row, col, offset), L.triu_indices(row, col, offset),
                    L.tril_indices(row, col, offset, dtype=L.int32)))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    a, b, c = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(4)
    same(lambda L, x, y, z: L.meshgrid(x, y, z, indexing=indexing), a, b, c)
    same(lambda L, x, y: L.meshgrid([x, y], indexing=indexing), a, b)
    same(lambda L, x: L.meshgrid(x, indexing=indexing), a)
    same(lambda L, x, y: L.meshgrid(x[0], y, indexing=indexing), a, b)
    grads(lambda L, x, y: sum(g * (i + 1) for i, g in enumerate(L.meshgrid(x, y, indexing=indexing))), a, b)


def test_meshgrid_default_warns_like_torch():
    with pytest.warns(UserWarning, match="indexing argument"):
        xx, yy = dl.meshgrid(dl.arange(2), dl.arange(3))
    assert xx.shape == (2, 3)
    with pytest.raises(RuntimeError, match="same dtype"):
        dl.meshgrid(dl.arange(2), dl.arange(2.0), indexing="ij")


def test_isin_and_argwhere():
    same(lambda L, x, y: (L.isin(x, y), L.isin(x, y, invert=True)), [[1, 2], [3, 4]], [2, 3, 9])
    same(lambda L, x: (L.isin(x, 2), L.argwhere(x), x.argwhere()), [[0, 2], [3, 0]])
    same(lambda L, x: L.argwhere(x), [[0.0, 1.5], [-1.0, 0.0]])
    same(lambda L: (L.argwhere(L.tensor(2.0)), L.argwhere(L.tensor(0)), L.argwhere(L.zeros(2, 0))))


@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), (2, 1), ([1, 0, 2], 0), ([2], 1), ([0, 1, 2, 3], -1)])
def test_repeat_interleave(repeats, dim):
    def f(L, x):
        r = L.tensor(repeats) if isinstance(repeats, list) else repeats
        return L.repeat_interleave(x, r, dim), x.repeat_interleave(r, dim=dim)
    same(f, M)
    grads(lambda L, x: f(L, x)[0], M)


def test_repeat_interleave_counts_only():
    same(lambda L, r: L.repeat_interleave(r), [2, 0, 3])
    same(lambda L, x: L.repeat_interleave(x, 2), 3.0)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_cdist(p):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    same(lambda L, x, y: L.cdist(x, y, p=p), a, b)
    same(lambda L, x, y: L.cdist(x, y, p), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)))
    same(lambda L, x, y: L.cdist(x, y), a, b, dtypes=["float", "float"])
    grads(lambda L, x, y: L.cdist(x, y, p=p), a, b, second=False)     # torch: no 2nd derivative


def test_cdist_zero_distance_gradient_and_errors():
    grads(lambda L, x, y: L.cdist(x, y), [[0.0, 0.0], [3.0, 4.0]], [[0.0, 0.0]], second=False)
    with pytest.raises(RuntimeError, match="cdist"):
        dl.cdist(dl.tensor([[1, 2]]), dl.tensor([[1, 2]]))
    with pytest.raises(RuntimeError, match="cdist"):
        dl.cdist(dl.zeros(2, 3), dl.zeros(2, 4))


# --------------------------------------------------------------------------- linalg

@pytest.mark.parametrize("args,kw", [((), {}), ((1,), {}), ((-1,), {}), ((math.inf,), {}), ((-math.inf,), {}),
                                     (("fro",), {}), ((None, 1), {}), ((3, 0), {}), ((None, (0, 1)), {}),
                                     ((1, (1, 0)), {"keepdim": True}), ((math.inf, -1), {"keepdim": True})])
def test_linalg_norm(args, kw):
    same(lambda L, x: L.linalg.norm(x, *args, **kw), M)
    grads(lambda L, x: L.linalg.norm(x, *args, **kw), M, second=False)


def test_linalg_norm_3d_and_errors():
    x = rng.standard_normal((2, 3, 4))
    same(lambda L, v: (L.linalg.norm(v), L.linalg.norm(v, dim=(1, 2)), L.linalg.norm(v, 1, dim=(0, 2))), x)
    for bad in (lambda: dl.linalg.norm(dl.tensor(x), 1), lambda: dl.linalg.norm(dl.tensor(x), dim=(0, 1, 2))):
        with pytest.raises(RuntimeError, match="linalg.norm"):
            bad()
    same(lambda L, v: L.linalg.norm(v, "nuc"), M)
    with pytest.raises(AttributeError, match="linalg"):
        dl.linalg.lu_factor


@pytest.mark.parametrize("args,kw", [((), {}), ((1,), {}), ((0,), {}), ((math.inf,), {}), ((3, 1), {}),
                                     ((2, (0, 1)), {"keepdim": True}), ((-math.inf, 0), {}), ((2, ()), {})])
def test_linalg_vector_norm(args, kw):
    x = M.copy()
    x[0, 1] = 0.0
    same(lambda L, v: L.linalg.vector_norm(v, *args, **kw), x)
    if args[:1] != (0,):
        grads(lambda L, v: L.linalg.vector_norm(v, *args, **kw), M, second=False)
    with pytest.raises(RuntimeError, match="vector_norm"):
        dl.linalg.vector_norm(dl.tensor([1, 2]))


# --------------------------------------------------------------------------- methods

def test_ndimension_nbytes_itemsize():
    for shape, d in (((2, 3), "float32"), ((4,), "int64"), ((), "float64"), ((2, 0), "int16"), ((3,), "bool")):
        x, t = dl.zeros(shape, dtype=getattr(dl, d)), torch.zeros(shape, dtype=getattr(torch, d))
        assert (x.ndimension(), x.nbytes, x.itemsize) == (t.ndimension(), t.nbytes, t.itemsize)


def test_shape_changing_inplace_methods():
    def f(L, x):
        y = x * 2
        outs = [y.t_().clone(), y.unsqueeze_(1).clone(), y.unsqueeze_(-1).clone(), y.squeeze_(1).clone(),
                y.squeeze_().clone()]
        assert y.t_() is y
        return outs + [y * 3]
    same(f, M)
    grads(lambda L, x: f(L, x)[-1], M)
    same(lambda L, x: x.squeeze_((0, 2)), np.zeros((1, 2, 1)))
    same(lambda L, x: x.clone().unsqueeze_(0).squeeze_(0), M)


def test_shape_changing_inplace_on_a_leaf_that_requires_grad():
    for L in (dl, torch):
        x = L.zeros(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            x.t_()
    with pytest.raises(RuntimeError, match="t_"):
        dl.zeros(2, 3, 4).t_()


def test_shape_changing_inplace_leaves_the_base_alone():
    for L in (dl, torch):
        base = L.arange(6.0).reshape(2, 3)
        row = base[0]
        row.unsqueeze_(0)
        assert tuple(row.shape) == (1, 3) and tuple(base.shape) == (2, 3)
        row.mul_(10)
        assert base.tolist() == [[0.0, 10.0, 20.0], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize("dim,index", [(0, [0, 2]), (1, [3]), (-1, [0, 0, 1]), (1, 2)])
def test_index_fill(dim, index):
    same(lambda L, x: (x.clone().index_fill_(dim, L.tensor(index), -1.5), x.index_fill(dim, L.tensor(index), 7),
                       x.clone().index_fill_(dim, L.tensor(index), L.tensor(2.5))), M)
    same(lambda L, x: x.index_fill_(dim, L.tensor(index), 9), (M * 10).astype(int))
    grads(lambda L, x: (x * 1).index_fill_(dim, L.tensor(index), 0.5), M)
    grads(lambda L, x: x.index_fill(dim, L.tensor(index), 0.5), M)


@pytest.mark.parametrize("dim,index", [(0, [0, 2]), (1, [3, 3, 0]), (-1, [1]), (0, [1, 1, 1, 1])])
@pytest.mark.parametrize("alpha", [1, 2.5])
def test_index_add(dim, index, alpha):
    shape = list(M.shape)
    shape[dim] = len(index)
    src = rng.standard_normal(shape)
    same(lambda L, x, s: (x.clone().index_add_(dim, L.tensor(index), s, alpha=alpha),
                          x.index_add(dim, L.tensor(index), s, alpha=alpha)), M, src)
    grads(lambda L, x, s: (x * 1).index_add_(dim, L.tensor(index), s, alpha=alpha), M, src)
    grads(lambda L, x, s: x.index_add(dim, L.tensor(index), s * s, alpha=alpha), M, src)


def test_index_add_errors():
    with pytest.raises(RuntimeError, match="index_add_"):
        dl.zeros(3).index_add_(0, dl.tensor(0), dl.tensor(5.0))
    with pytest.raises(IndexError, match="index_add_"):
        dl.zeros(3).index_add_(0, dl.tensor([3]), dl.tensor([5.0]))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(accumulate):
    rows, cols = [0, 2, 2, 1], [1, 3, 3, 0]
    same(lambda L, x, v: (x.clone().index_put_((L.tensor(rows), L.tensor(cols)), v, accumulate=accumulate),
                          L.index_put(x, (L.tensor(rows), L.tensor(cols)), v[:1], accumulate),
                          x.index_put((L.tensor([1, 0]),), v[:1] * 2, accumulate=accumulate),
                          x.clone().index_put_((L.tensor(M > 0),), v[0], accumulate=accumulate)),
         M, [1.0, 2.0, 3.0, 4.0])
    same(lambda L: L.zeros(3, 3, dtype=L.long).index_put_((L.tensor([0, 1, 1]), L.tensor([0, 1, 1])), L.tensor(1),
                                                          accumulate=accumulate))
    if accumulate:          # torch gives no determined winner for repeated positions without accumulate
        grads(lambda L, x, v: (x * 1).index_put_((L.tensor(rows), L.tensor(cols)), v * v, accumulate=True),
              M, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(RuntimeError, match="index_put_"):
        dl.zeros(2).index_put_((dl.tensor([0]),), dl.tensor([1]))


def test_addcmul():
    a, b, c = M, rng.standard_normal((1, 4)), rng.standard_normal((3, 1))
    same(lambda L, x, y, z: (x.clone().addcmul_(y, z, value=0.5), x.addcmul(y, z), L.addcmul(x, y, z, value=-2)),
         a, b, c)
    grads(lambda L, x, y, z: (x * 1).addcmul_(y, z, value=0.5), a, b, c)


@pytest.mark.parametrize("weight", [0.0, 0.25, 0.5, 0.9, 1.0, 1.5, -0.5, "tensor"])
def test_lerp(weight):
    end = rng.standard_normal((3, 4))
    wt = rng.uniform(-0.5, 1.5, (1, 4))
    def w(L):
        return L.tensor(wt) if weight == "tensor" else weight
    same(lambda L, x, e: (x.clone().lerp_(e, w(L)), x.lerp(e, w(L)), L.lerp(x, e, w(L))), M, end)
    grads(lambda L, x, e: (x * 1).lerp_(e, w(L)), M, end)
    grads(lambda L, x, e, ww: L.lerp(x, e, ww), M, end, rng.uniform(-0.5, 1.5, (3, 1)))
    same(lambda L, x, e: x.lerp_(e, 0.3), [0.0, 1.0], [1.0, 3.0], dtypes=["float", "float"])


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_inplace(decimals):
    x = np.array([1.25, 2.5, -0.5, 3.14159, 15.5, -27.35])
    same(lambda L, v: (v.clone().round_(decimals=decimals), v.round_(decimals=decimals)), x)
    same(lambda L, v: v.round_(decimals=decimals), x, dtypes=["float"])
    same(lambda L, v: v.round_(), [1, 2], dtypes=["long"])
    grads(lambda L, v: (v * 1).round_(decimals=decimals), x + 0.01, second=False)


# --------------------------------------------------------------------------- on a simulated GPU

GPU_EXPRS = {
    "tan atan2 logaddexp": (lambda L, x, y: L.tan(x) + L.atan2(x, y) + L.logaddexp(x, y), (V, V[::-1])),
    "asin acos sinh cosh frac": (lambda L, x: L.asin(x) * L.acos(x) + L.sinh(x) - L.cosh(x) + L.frac(x), (V,)),
    "fmax fmin isposinf": (lambda L, x, y: (L.fmax(x, y) - L.fmin(x, y), L.isposinf(x)), (V, V[::-1])),
    "nansum nanmean": (lambda L, x: L.nansum(x, 1) + L.nanmean(x, 1), (NAN2,)),
    "std_mean aminmax": (lambda L, x: (*L.std_mean(x, 0), *L.aminmax(x, dim=1)), (M,)),
    "cumprod diff": (lambda L, x: (L.cumprod(x, 1), L.diff(x, 2, 1)), (M,)),
    "roll rot90 flips": (lambda L, x: L.roll(x, 1, 0) + L.rot90(x, 2) + L.flipud(L.fliplr(x)), (M,)),
    "movedim swapaxes": (lambda L, x: L.movedim(x, 0, 1) + L.swapaxes(x, 0, 1), (M,)),
    "diag diagonal trace": (lambda L, x: (L.diag(x[0], 1), L.diag(x, 1), L.diagonal(x, -1), L.trace(x)), (M,)),
    "tril_indices": (lambda L, x: x[tuple(L.tril_indices(3, 4, device=x.device))], (M,)),
    "meshgrid": (lambda L, x: L.meshgrid(x[0], x[1], indexing="xy"), (M,)),
    "isin": (lambda L, x: L.isin(x, x[0]), (M,)),      # argwhere is nonzero, which fake_cupy lacks
    "repeat_interleave": (lambda L, x: L.repeat_interleave(x, 2, dim=0), (M,)),
    "cdist linalg": (lambda L, x: L.cdist(x, x[:2]) + L.linalg.norm(x, 1) + L.linalg.vector_norm(x, 3), (M,)),
    "index_fill index_add": (lambda L, x: x.index_fill(1, L.tensor([0, 2], device=x.device), 2.0).index_add(
        0, L.tensor([1, 1], device=x.device), x[:2] * 3), (M,)),
    "lerp addcmul": (lambda L, x: L.lerp(x, x * x, 0.3) + L.addcmul(x, x, x, value=2), (M,)),
    "msort mH cummax cummin": (lambda L, x: (L.msort(x), x.mH, *L.cummax(x, 1), *L.cummin(x, 0)), (M,)),
    "mode nanmedian": (lambda L, x: (*L.mode(x.round(), 0), *L.nanmedian(x, 1), L.nanmedian(x)), (NAN2,)),
    "quantile nanquantile": (lambda L, x: L.quantile(x, L.tensor([0.2, 0.7], device=x.device, dtype=x.dtype), 1)
                             + L.nanquantile(x, 0.3, 1, interpolation="midpoint"), (NAN2,)),
}


@pytest.mark.parametrize("name", list(GPU_EXPRS))
def test_on_a_simulated_gpu(name, monkeypatch):
    import fake_cupy
    from deeplearning101 import gpu as G
    fn, arrays = GPU_EXPRS[name]
    results = []
    for device in ("cpu", "cuda"):
        G._probe.cache_clear()
        if device == "cuda":
            fake_cupy.install(monkeypatch)
        try:
            xs = [dl.tensor(np.array(a), requires_grad=True, device=device) for a in arrays]
            outs = _flat(fn(dl, *xs))
            floats = [o for o in outs if o.requires_grad]
            if floats: sum((o * o).sum() for o in floats).backward()
            assert all(o.device == ("cuda:0" if device == "cuda" else "cpu") for o in outs), name
            results.append([o.detach().cpu().numpy() for o in outs]
                           + [x.grad.cpu().numpy() for x in xs if x.grad is not None])
        finally:
            G._probe.cache_clear()
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, err_msg=name)


def test_shift_operators_match_torch():
    "bitwise_left_shift / bitwise_right_shift and the << >> operators on integer tensors (and their reflections)."
    a, b = np.array([1, 2, 8, 100]), np.array([1, 0, 2, 3])
    for f in (lambda L, x, y: x << 2, lambda L, x, y: x >> 1, lambda L, x, y: 1 << y, lambda L, x, y: 64 >> y,
              lambda L, x, y: x << y, lambda L, x, y: L.bitwise_left_shift(x, y),
              lambda L, x, y: L.bitwise_right_shift(x, 1)):
        ours, theirs = f(dl, dl.tensor(a), dl.tensor(b)), f(torch, torch.tensor(a), torch.tensor(b))
        assert ours.tolist() == theirs.tolist() and str(ours.dtype)[-5:] == str(theirs.dtype)[-5:]
    with pytest.raises(TypeError, match='bitwise_left_shift'):
        dl.tensor([1.0]) << 1


# --------------------------------------------------------------------------- statistics along an axis

TIES = np.array([[1, 3, 3, 2, 3, 1], [2, 2, 1, 1, 0, 0], [5, 4, 4, 5, 4, 5]])
NANS = np.array([[1.0, np.nan, 2.0, np.nan, 0.5], [3.0, 3.0, np.nan, 1.0, 1.0]])


def test_msort():
    same(lambda L, x: (L.msort(x), x.msort()), M)
    same(lambda L, x: L.msort(x), TIES)
    same(lambda L, x: L.msort(x), 3.0)
    grads(lambda L, x: L.msort(x), M)


def test_mH_and_H():
    same(lambda L, x: (x.H, x.mH, x.mT), M)
    same(lambda L, x: x.mH, np.arange(24).reshape(2, 3, 4))
    grads(lambda L, x: x.H * x.mH, M)
    for shape, attr in (((3,), "H"), ((2, 3, 4), "H"), ((3,), "mH")):
        with pytest.raises(RuntimeError, match=attr):
            getattr(dl.zeros(*shape), attr)
        with pytest.raises(RuntimeError):
            getattr(torch.zeros(*shape), attr)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cummax_cummin(name, dim):
    "Ties and NaNs take the later index, as torch."
    same(lambda L, x: (getattr(L, name)(x, dim), getattr(x, name)(dim=dim)), TIES)
    same(lambda L, x: getattr(L, name)(x, dim), TIES.astype(float))
    same(lambda L, x: getattr(L, name)(x, dim), NANS)
    same(lambda L, x: getattr(L, name)(x, dim), TIES > 2)
    grads(lambda L, x: getattr(L, name)(x, dim).values, M)
    grads(lambda L, x: getattr(L, name)(x, dim).values, TIES.astype(float))   # the gradient goes to the index


def test_cummax_cummin_0d_and_3d():
    same(lambda L, x: (L.cummax(x, 0), L.cummin(x, -1)), 2.5)
    x3 = np.random.default_rng(1).integers(0, 3, (2, 3, 4))
    for d in range(3):
        same(lambda L, x: (L.cummax(x, d), L.cummin(x, d)), x3)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_mode(dim, keepdim):
    "The smallest of the most frequent values, and the index of its last occurrence (torch's CPU kernel)."
    same(lambda L, x: (L.mode(x, dim, keepdim), x.mode(dim, keepdim=keepdim)), TIES)
    same(lambda L, x: L.mode(x, dim, keepdim), TIES.astype(float))
    same(lambda L, x: L.mode(x, dim, keepdim), TIES > 2)
    same(lambda L, x: L.mode(x, dim, keepdim), np.random.default_rng(2).integers(0, 4, (5, 16)))
    # slices longer than 16: torch's index is some occurrence (an unstable sort), ours the last
    big = np.random.default_rng(2).integers(0, 4, (5, 30))
    same(lambda L, x: L.mode(x, dim, keepdim).values, big)
    v, i = dl.mode(dl.tensor(big), dim, keepdim=True)
    assert (dl.tensor(big).gather(dim, i) == v).all()
    grads(lambda L, x: L.mode(x, dim, keepdim).values, TIES.astype(float))


def test_mode_defaults_0d_and_errors():
    same(lambda L, x: (L.mode(x), x.mode()), [2, 1, 2, 1, 5, 1, 2])
    same(lambda L, x: L.mode(x), 4)
    x3 = np.random.default_rng(1).integers(0, 3, (3, 4, 5))
    for d in range(3):
        same(lambda L, x: L.mode(x, d), x3)
    with pytest.raises(RuntimeError, match="mode"):
        dl.mode(dl.zeros(0))


def test_nanmedian():
    same(lambda L, x: (L.nanmedian(x), x.nanmedian()), NANS)
    same(lambda L, x: L.nanmedian(x), [np.nan, np.nan])
    same(lambda L, x: L.nanmedian(x), [3, 1, 2, 5])
    for d in (0, 1, -1):
        for keepdim in (False, True):
            same(lambda L, x: L.nanmedian(x, d, keepdim), NAN2)
            same(lambda L, x: L.nanmedian(x, d, keepdim), M)
        same(lambda L, x: L.nanmedian(x, dim=d).values, NAN)      # an all-NaN slice: NaN
    same(lambda L, x: L.nanmedian(x, 1), NANS[:, [0, 2, 4]])
    grads(lambda L, x: L.nanmedian(x), M)
    grads(lambda L, x: L.nanmedian(x, 1).values, NAN2)
    grads(lambda L, x: L.nanmedian(x, 0, True).values, M)


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("counts", [False, True])
def test_unique_consecutive(inverse, counts):
    kw = dict(return_inverse=inverse, return_counts=counts)
    same(lambda L, x: L.unique_consecutive(x, **kw), [1, 1, 2, 2, 3, 1, 1, 2])
    same(lambda L, x: x.unique_consecutive(**kw), TIES)
    same(lambda L, x: L.unique_consecutive(x, **kw), [1.0, np.nan, np.nan, 2.0, 2.0])
    same(lambda L, x: L.unique_consecutive(x, **kw), 5)
    same(lambda L, x: L.unique_consecutive(x, **kw), np.zeros(0))
    same(lambda L, x: L.unique_consecutive(x, **kw), [True, True, False])
    rows = [[1, 1], [1, 1], [2, 3], [1, 1]]
    for d in (0, 1, -1):
        same(lambda L, x: L.unique_consecutive(x, dim=d, **kw), rows)
        same(lambda L, x: L.unique_consecutive(x, dim=d, **kw), TIES)


QS = [0.0, 0.125, 0.375, 0.4, 0.5, 1.0]


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_quantile_and_nanquantile(interpolation, dim, keepdim):
    kw = dict(dim=dim, keepdim=keepdim, interpolation=interpolation)
    five = np.arange(10.0).reshape(2, 5)[:, ::-1].copy()   # 5 per row: ranks with halves
    for name in ("quantile", "nanquantile"):
        for a in (M, five, NAN2, NANS, NAN):
            for q in QS:
                same(lambda L, x: (getattr(L, name)(x, q, **kw), getattr(x, name)(q, **kw)), a)
            same(lambda L, x: getattr(L, name)(x, L.tensor(QS, dtype=x.dtype), **kw), a)
            same(lambda L, x: getattr(L, name)(x, L.tensor(0.3, dtype=x.dtype), **kw), a)
        same(lambda L, x: getattr(L, name)(x, L.tensor(QS), **kw), M, dtypes=["float32"])
        grads(lambda L, x: getattr(L, name)(x, L.tensor([0.3, 0.5, 1.0], dtype=L.float64), **kw), M)
        grads(lambda L, x: getattr(L, name)(x, 0.45, **kw), NAN2 if name == "nanquantile" else M)


def test_quantile_0d_and_errors():
    same(lambda L, x: (L.quantile(x, 0.5), L.nanquantile(x, 0.2)), 3.0)
    same(lambda L, x: L.quantile(x, 0.5, 0), 3.0)
    bad = [(lambda L: L.quantile(L.tensor([1, 2]), 0.5), "float or double"),
           (lambda L: L.quantile(L.tensor([1.0, 2.0]), 1.5), "range"),
           (lambda L: L.nanquantile(L.tensor([1.0, 2.0]), 0.5, interpolation="foo"), "interpolation"),
           (lambda L: L.quantile(L.tensor([1.0, 2.0], dtype=L.float64), L.tensor(0.5)), "same dtype"),
           (lambda L: L.quantile(L.ones(2), L.ones(2, 2)), "1D tensor"),
           (lambda L: L.quantile(L.ones(0), 0.5), "non-empty")]
    for f, msg in bad:
        with pytest.raises(RuntimeError, match=msg):
            f(dl)
        with pytest.raises(RuntimeError):
            f(torch)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_quantile_gradients_reach_q(interpolation, dim):
    "torch differentiates 'linear' with respect to q, too (the weight q * (n - 1) - floor(...))."
    kw = dict(dim=dim, interpolation=interpolation)
    for keepdim in (False, True):
        grads(lambda L, x, q: L.quantile(x, q, keepdim=keepdim, **kw), M, [0.3, 0.55, 0.9])
        grads(lambda L, x, q: L.nanquantile(x, q.reshape(()), keepdim=keepdim, **kw), NAN2, [0.45])
    with pytest.raises(TypeError, match="quantile"):
        dl.quantile(dl.tensor(M), [0.5], **kw)


def test_logcumsumexp_histc_matrix_norm_storage_offset_match_torch():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 6)) * 4
    a[1, 2] = 700.0                                  # exp overflows: the scan must not
    for dim in (0, 1, -1):
        x, y = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours, theirs = dl.logcumsumexp(x, dim), torch.logcumsumexp(y, dim)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
        w = rng.standard_normal(a.shape)
        (ours * dl.tensor(w)).sum().backward(); (theirs * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert dl.tensor(2.0).logcumsumexp(0).item() == torch.tensor(2.0).logcumsumexp(0).item()
    data = rng.uniform(-1, 2, 50).astype(np.float32)
    for kw in (dict(bins=4, min=0, max=1), dict(bins=7), dict(bins=3, min=-5, max=5), dict()):
        assert dl.histc(dl.tensor(data), **kw).tolist() == torch.histc(torch.tensor(data), **kw).tolist()
    assert dl.tensor(data).histc(bins=5).dtype == dl.float32
    assert dl.histc(dl.tensor([3.0, 3.0]), bins=2).tolist() == torch.histc(torch.tensor([3.0, 3.0]), bins=2).tolist()
    m = rng.standard_normal((2, 3, 4))
    for ord in ('fro', 1, -1, float('inf'), -float('inf')):
        for dim in ((-2, -1), (0, 2)):
            assert np.allclose(dl.linalg.matrix_norm(dl.tensor(m), ord=ord, dim=dim).numpy(),
                               torch.linalg.matrix_norm(torch.tensor(m), ord=ord, dim=dim).numpy())
    for t in (dl, torch):
        z = t.zeros(3, 4)
        assert (z.storage_offset(), z[1].storage_offset(), z[2, 1:].storage_offset(), z[:, 2].storage_offset()) == (0, 4, 9, 2)


@pytest.mark.parametrize('p', [2, 1, 3, float('inf'), 0])
def test_dist_and_pdist_match_torch(p):
    rng = np.random.default_rng(11)
    a, b, rows = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((5, 3))
    if p == 0:                          # the count of differing entries: no gradient here
        same(lambda L, x, y: L.dist(x, y, p), a, b)
    else:
        grads(lambda L, x, y: L.dist(x, y, p), a, b, second=p in (2, 3))
        grads(lambda L, x, y: x.dist(y, p=p), a, a[::-1].copy(), second=False)
        grads(lambda L, x: L.nn.functional.pdist(x, p), rows, second=False)   # torch: no 2nd
    same(lambda L, x: L.nn.functional.pdist(x, p), rows.astype(np.float32))
    for L in (dl, torch):
        with pytest.raises(RuntimeError, match="pdist"):
            L.nn.functional.pdist(L.ones(2, 2, 2))
        with pytest.raises(RuntimeError):
            L.dist(L.tensor([1, 2]), L.tensor([1, 2]))
