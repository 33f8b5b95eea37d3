"""Parity with PyTorch for the numerics added at the end of chapter 01b's "More of PyTorch's surface":
`linalg.lstsq`'s drivers, `linalg.pinv(rcond=)` / `matrix_rank(tol=)`, `cholesky_solve`, `cholesky_inverse`,
`addmm`, `addmv`, `addcdiv`, `vander`, `block_diag`, `cartesian_prod`, `gradient`, `histogram`, and in
`distributions`: `Normal.cdf` / `icdf`, `kl_divergence(Uniform, Normal)`, `Uniform`'s support check and
`MixtureSameFamily`. Values, dtypes, shapes, errors and gradients, each expression run with both libraries."""
import math

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.distributions as DD

torch = pytest.importorskip("torch")
import torch.distributions as TD  # noqa: E402

# the comparison helpers of tests/test_torch_more_tensor.py (gradients here use atol 1e-6)
from test_torch_more_tensor import _np, same, grads as _grads  # noqa: E402


def grads(expr, *arrays, atol=1e-6, **kw): return _grads(expr, *arrays, atol=atol, **kw)


rng = np.random.default_rng(0)
A3 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
B3 = np.array([[1.0], [2.0], [2.0]])
TALL, BT = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
TALLB, BTB = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
WIDE, BW = rng.standard_normal((3, 5)), rng.standard_normal((3, 2))
DEFICIENT = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
L3 = np.tril(rng.standard_normal((3, 3)), -1) + np.diag(rng.uniform(1, 2, 3))
LB = np.tril(rng.standard_normal((2, 3, 3)), -1) + 2 * np.eye(3)
DRIVERS = ["gelsy", "gels", "gelsd", "gelss"]


def raises_both(expr, kind, match=None):
    "expr(L) raises `kind` for L = dl and L = torch (dl's message matches `match`)."
    for L in (dl, torch):
        with pytest.raises(kind, match=match if L is dl else None):
            expr(L)


# ------------------------------------------------------------------ linalg.lstsq drivers

@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("a, b", [(A3, B3), (TALL, BT), (TALLB, BTB), (WIDE, BW)],
                         ids=["repro", "tall", "batch", "wide"])
def test_lstsq_outputs_per_driver(driver, dt, a, b):
    same(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver), a, b, dtypes=[dt, dt], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("driver", DRIVERS)
def test_lstsq_vector_b_and_broadcast_batch(driver):
    same(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver), A3, B3[:, 0], atol=1e-6)
    same(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver), TALLB, BT[None], atol=1e-6)


@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss"])
def test_lstsq_rank_deficient_has_no_residuals(driver):
    same(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver), DEFICIENT, B3, rtol=1e-4, atol=1e-5)
    out = dl.linalg.lstsq(dl.tensor(DEFICIENT), dl.tensor(B3), driver=driver)
    assert out.residuals.shape == (0,) and out.rank.item() == 1


def test_lstsq_rcond_sets_the_rank():
    a = np.array([[1.0, 0.0], [0.0, 1e-4], [0.0, 0.0]])
    for driver in ("gelsd", "gelss"):
        same(lambda L, a, b: L.linalg.lstsq(a, b, rcond=1e-3, driver=driver), a, B3, dtypes=["float64"] * 2)


def test_lstsq_residuals_of_the_probe():
    r = dl.linalg.lstsq(dl.tensor(A3.tolist()), dl.tensor(B3.tolist()), driver="gelsd")
    assert np.allclose(r.residuals.tolist(), [1 / 3]) and r.rank.dtype == dl.int64
    assert np.allclose(r.singular_values.tolist(), [3 ** 0.5, 1.0])


@pytest.mark.parametrize("driver", ["gels", "gelsd"])
def test_lstsq_gradients_of_solution_and_residuals(driver):
    grads(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver).solution, TALL, BT)
    grads(lambda L, a, b: L.linalg.lstsq(a, b, driver=driver).residuals, TALL, BT)


def test_lstsq_unknown_driver():
    raises_both(lambda L: L.linalg.lstsq(L.tensor(A3), L.tensor(B3), driver="gelsx"), RuntimeError,
                "should be one of")


# ------------------------------------------------------------------ pinv(rcond=), matrix_rank(tol=)

def test_pinv_rcond_and_matrix_rank_tol():
    m = np.array([[1.0, 2.0], [2.0, 4.0 + 1e-4], [0.0, 1.0]])
    for r in (1e-15, 1e-5, 1e-2, 0.5):
        same(lambda L, a: L.linalg.pinv(a, rcond=r), m, dtypes=["float64"])
        same(lambda L, a: L.linalg.pinv(a, r), m, dtypes=["float64"])
    for tol in (1e-6, 1e-3, 2.0, 100.0):
        same(lambda L, a: L.linalg.matrix_rank(a, tol=tol), m)
        same(lambda L, a: L.linalg.matrix_rank(a, tol), m)
    same(lambda L, a: L.linalg.pinv(a, rcond=1e-3, hermitian=False), m)
    grads(lambda L, a: L.linalg.pinv(a, rcond=1e-5), TALL)
    raises_both(lambda L: L.linalg.pinv(L.tensor(m), rcond=1e-3, rtol=1e-3), TypeError)
    raises_both(lambda L: L.linalg.matrix_rank(L.tensor(m), tol=1e-3, atol=1e-3), TypeError)


# ------------------------------------------------------------------ cholesky_solve / cholesky_inverse

@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_values(dt, upper):
    l = L3.T if upper else L3
    same(lambda L, b, l: L.cholesky_solve(b, l, upper), BW, l, dtypes=[dt, dt], rtol=1e-4)
    same(lambda L, b, l: b.cholesky_solve(l, upper=upper), BW, l, dtypes=[dt, dt], rtol=1e-4)
    lb = LB.transpose(0, 2, 1) if upper else LB
    same(lambda L, b, l: L.cholesky_solve(b, l, upper=upper), BW, lb, dtypes=[dt, dt], rtol=1e-4)
    same(lambda L, b, l: L.cholesky_solve(b, l, upper=upper), rng.standard_normal((4, 1, 3, 2)), lb,
         dtypes=[dt, dt], rtol=1e-4)


def test_cholesky_solve_reads_one_triangle():
    junk = L3 + np.triu(np.ones((3, 3)), 1) * 5           # the upper triangle is not read
    same(lambda L, b, l: L.cholesky_solve(b, l), BW, junk)
    same(lambda L, b, l: L.cholesky_solve(b, l, upper=True), BW, junk.T)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_gradients_as_torch(upper):
    l = L3.T if upper else L3
    grads(lambda L, b, l: L.cholesky_solve(b, l, upper=upper), BW, l)
    grads(lambda L, b, l: L.cholesky_solve(b, l, upper=upper), rng.standard_normal((2, 3, 1)), l)


def test_cholesky_solve_solves_the_system():
    a = L3 @ L3.T
    x = dl.cholesky_solve(dl.tensor(BW), dl.linalg.cholesky(dl.tensor(a)))
    np.testing.assert_allclose(a @ x.numpy(), BW, atol=1e-5)


def test_cholesky_solve_errors():
    raises_both(lambda L: L.cholesky_solve(L.ones(3), L.tensor(L3)), RuntimeError, "at least 2 dimensions")
    raises_both(lambda L: L.cholesky_solve(L.ones(3, 1, dtype=L.float64), L.tensor(L3, dtype=L.float32)),
                RuntimeError, "same dtype")
    raises_both(lambda L: L.cholesky_solve(L.ones(2, 1, dtype=L.float64), L.tensor(L3)), RuntimeError,
                "Incompatible")
    with pytest.raises(RuntimeError, match="cholesky_solve"):
        dl.cholesky_solve(dl.ones(3, 1), dl.ones(3, 2))


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_values_and_gradients(dt, upper):
    l, lb = (L3.T, LB.transpose(0, 2, 1)) if upper else (L3, LB)
    same(lambda L, l: L.cholesky_inverse(l, upper), l, dtypes=[dt], rtol=1e-4, atol=1e-6)
    same(lambda L, l: l.cholesky_inverse(upper=upper), lb, dtypes=[dt], rtol=1e-4, atol=1e-6)
    same(lambda L, l: L.cholesky_inverse(l, upper), L3 + np.triu(np.ones((3, 3)), 1), dtypes=[dt], rtol=1e-4)
    grads(lambda L, l: L.cholesky_inverse(l, upper), l)
    raises_both(lambda L: L.cholesky_inverse(L.ones(3)), RuntimeError, "at least 2 dimensions")
    raises_both(lambda L: L.cholesky_inverse(L.ones(2, 3)), RuntimeError, "square")


# ------------------------------------------------------------------ addmm, addmv, addcdiv

M23, M34 = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))


@pytest.mark.parametrize("kw", [{}, {"beta": 0.5}, {"alpha": -2.0}, {"beta": 0, "alpha": 3.0},
                                {"beta": 2.0, "alpha": 0.25}])
def test_addmm_addmv_values(kw):
    for inp in (rng.standard_normal((2, 4)), rng.standard_normal(4), rng.standard_normal((1, 4)), [1.5]):
        same(lambda L, i, a, b: L.addmm(i, a, b, **kw), inp, M23, M34)
        same(lambda L, i, a, b: i.addmm(a, b, **kw) if i.shape == (2, 4) else L.addmm(i, a, b, **kw),
             inp, M23, M34)
    for inp in (rng.standard_normal(2), [0.5]):
        same(lambda L, i, a, v: L.addmv(i, a, v, **kw), inp, M23, M34[:, 0])
        same(lambda L, i, a, v: i.expand(2).clone().addmv(a, v, **kw), inp, M23, M34[:, 0])


def test_addmm_integers_and_nan_input_with_beta_0():
    same(lambda L, i, a, b: L.addmm(i, a, b, beta=2, alpha=3), [[1, 2], [3, 4]], [[1, 2], [3, 4]],
         [[0, 1], [1, 0]])
    same(lambda L, i, a, b: L.addmm(i, a, b, beta=0), np.full((2, 4), np.nan), M23, M34)
    same(lambda L, i, a, v: L.addmv(i, a, v, beta=0), np.full(2, np.inf), M23, M34[:, 0])


def test_addmm_addmv_in_place():
    for L in (dl, torch):
        x = L.ones(2, 4, dtype=L.float64)
        assert x.addmm_(L.tensor(M23), L.tensor(M34), beta=2) is x
        y = L.ones(2, dtype=L.float64)
        assert y.addmv_(L.tensor(M23), L.tensor(M34[:, 1]), alpha=0.5) is y
        if L is dl: xd, yd = x.numpy(), y.numpy()
    np.testing.assert_allclose(xd, x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(yd, y.numpy(), rtol=1e-12)


def test_addmm_addmv_gradients():
    grads(lambda L, i, a, b: L.addmm(i, a, b, beta=0.5, alpha=2.0), rng.standard_normal(4), M23, M34)
    grads(lambda L, i, a, v: L.addmv(i, a, v, beta=-1.0, alpha=0.5), rng.standard_normal(2), M23, M34[:, 0])


def test_addmm_addmv_errors():
    raises_both(lambda L: L.addmm(L.zeros(2, 4), L.ones(3), L.ones(3, 4)), RuntimeError, "must be a matrix")
    raises_both(lambda L: L.addmm(L.zeros(2, 4), L.ones(2, 3), L.ones(2, 4)), RuntimeError, "cannot be multiplied")
    raises_both(lambda L: L.addmm(L.zeros(3, 4), L.ones(2, 3), L.ones(3, 4)), RuntimeError, "broadcast")
    raises_both(lambda L: L.addmm(L.zeros(2, 4, dtype=L.float64), L.ones(2, 3), L.ones(3, 4)), RuntimeError,
                "dtype")
    raises_both(lambda L: L.addmv(L.zeros(2), L.ones(2, 3), L.ones(4)), RuntimeError, "size mismatch")
    raises_both(lambda L: L.addmv(L.zeros(2), L.ones(2, 3), L.ones(3, 1)), RuntimeError, "expected")


T1, T2 = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, 3)


@pytest.mark.parametrize("value", [1, -2, 0.5])
def test_addcdiv_values_and_in_place(value):
    same(lambda L, i, a, b: L.addcdiv(i, a, b, value=value), rng.standard_normal(3), T1, T2)
    same(lambda L, i, a, b: i.addcdiv(a, b, value=value), rng.standard_normal((2, 3)), T1, T2)
    same(lambda L, i, a, b: i.clone().addcdiv_(a, b, value=value), rng.standard_normal((2, 3)), T1, T2)
    same(lambda L, i, a, b: L.addcdiv(i, a, b, value=value), [1, 2, 3], [1.0, 2.0, 3.0], [2, 4, 6])
    same(lambda L, i, a, b: L.addcdiv(i, a, b, value=value), [1.0, 2.0], [1, 2], [2.0, 4.0],
         dtypes=["float64", None, "float32"])


def test_addcdiv_the_probes_adam_step():
    for L in (dl, torch):
        a = L.ones(3)
        assert a.addcdiv_(L.tensor([1.0, 2.0, 3.0]), L.tensor([2.0, 4.0, 6.0]), value=-2) is a
        assert a.tolist() == [0.0, 0.0, 0.0]


def test_addcdiv_gradients_and_errors():
    grads(lambda L, i, a, b: L.addcdiv(i, a, b, value=-0.5), rng.standard_normal(3), T1, T2)
    grads(lambda L, i, a, b: i * 1.0 + a.addcdiv(a, b, value=3.0), rng.standard_normal(3), T1, T2)
    raises_both(lambda L: L.addcdiv(L.ones(3, dtype=L.long), L.tensor([1, 2, 3]), L.tensor([2, 4, 6])),
                RuntimeError, "Integer division")
    raises_both(lambda L: L.ones(3).addcdiv_(L.ones(2, 3), L.ones(3)), RuntimeError)


# ------------------------------------------------------------------ vander, block_diag, cartesian_prod

@pytest.mark.parametrize("N", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_values_and_dtypes(N, increasing):
    for x, dt in (([1, 2, 3], None), ([1, 2, 3], "int32"), ([1.5, -2.0, 0.5], "float32"),
                  ([1.5, -2.0], "float64"), ([True, False], None)):
        same(lambda L, x: L.vander(x, N=N, increasing=increasing), x, dtypes=[dt])


def test_vander_gradients_and_errors():
    # torch 2.13's vander has no usable gradient (its backward finds a saved tensor changed in place):
    # dl's is checked against finite differences and against d/dx x^j = j x^(j-1)
    with pytest.raises(RuntimeError):
        torch.vander(torch.tensor([1.5, 2.0], requires_grad=True)).sum().backward()
    x = dl.tensor([1.5, -0.5, 2.0], requires_grad=True)
    dl.vander(x, N=4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 * v * v + 2 * v + 1 for v in (1.5, -0.5, 2.0)], rtol=1e-6)
    dl_x = dl.tensor([1.5, -0.5, 2.0], dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda x: dl.vander(x, N=4), (dl_x,))
    assert dl.autograd.gradgradcheck(lambda x: dl.vander(x, N=4), (dl_x,))
    raises_both(lambda L: L.vander(L.ones(2, 2)), RuntimeError, "one-dimensional")
    raises_both(lambda L: L.vander(L.ones(3), N=-1), RuntimeError, "non-negative")


def test_block_diag():
    same(lambda L, a, b, c: L.block_diag(a, b, c), [[1, 2], [3, 4]], 5.0, [6, 7])
    same(lambda L, a, b: L.block_diag(a, b), np.ones((0, 2)), [[1.0]])
    same(lambda L, a, b: L.block_diag(a, b), [True], [2])
    same(lambda L, a: L.block_diag(a), M23)
    same(lambda L: L.block_diag())
    grads(lambda L, a, b, c: L.block_diag(a, b, c), M23, [1.0, 2.0], 3.0)
    raises_both(lambda L: L.block_diag(L.ones(2, 2, 2)), RuntimeError, "2 or fewer dimensions")


def test_cartesian_prod():
    same(lambda L, a, b: L.cartesian_prod(a, b), [1, 2], [3, 4, 5])
    same(lambda L, a, b, c: L.cartesian_prod(a, b, c), [1.0, 2.0], [3.0], [4.0, 5.0, 6.0])
    same(lambda L, a: L.cartesian_prod(a), [1, 2])
    same(lambda L, a, b: L.cartesian_prod(a, b), [1, 2], np.array([], dtype=np.int64))
    grads(lambda L, a, b: L.cartesian_prod(a, b), [1.0, 2.0], [3.0, 4.0, 5.0])
    raises_both(lambda L: L.cartesian_prod(L.ones(2, 2)), RuntimeError, "1D")
    raises_both(lambda L: L.cartesian_prod(L.tensor([1, 2]), L.tensor([3.0])), RuntimeError, "dtype")


# ------------------------------------------------------------------ gradient

Z = np.arange(12.0).reshape(3, 4) ** 2 + rng.standard_normal((3, 4))
XS, YS = np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.5, 2.0, 5.0])


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kw", [{}, {"spacing": 2.0}, {"spacing": [2.0, 0.5]}, {"dim": 1}, {"dim": (1, 0)},
                                {"dim": -1, "spacing": 3}, {"dim": [0], "spacing": [0.25]}],
                         ids=["plain", "scalar", "list", "dim", "dims", "dim-scalar", "dim-list"])
def test_gradient_values(edge_order, kw):
    for dt in ("float32", "float64"):
        same(lambda L, z: L.gradient(z, edge_order=edge_order, **kw), Z, dtypes=[dt], rtol=1e-5, atol=1e-5)
    same(lambda L, z: L.gradient(z, edge_order=edge_order, **kw), Z.astype(np.int64))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_with_coordinates(edge_order):
    same(lambda L, z, x, y: L.gradient(z, spacing=(x, y), edge_order=edge_order), Z, XS, YS, atol=1e-5)
    same(lambda L, z, y: L.gradient(z, spacing=[y], dim=1, edge_order=edge_order), Z, YS, atol=1e-5)
    same(lambda L, z, x: L.gradient(z, spacing=(x,), edge_order=edge_order), Z[:, 0], XS,
         dtypes=["float64", "float64"])
    grads(lambda L, z, x: L.gradient(z, spacing=(x,), edge_order=edge_order)[0], Z[:, 1], XS)


def test_gradient_of_the_probe_and_gradients():
    y = [1.0, 4.0, 9.0, 16.0, 25.0]
    same(lambda L, y: L.gradient(y), y)
    same(lambda L, y, x: L.gradient(y, spacing=(x,)), y, [0.0, 1.0, 3.0, 4.0, 7.0])
    for e in (1, 2):
        grads(lambda L, z: L.stack(L.gradient(z, spacing=[0.5, 2.0], edge_order=e)), Z)


def test_gradient_errors():
    raises_both(lambda L: L.gradient(L.tensor([1.0])), RuntimeError, "edge_order")
    raises_both(lambda L: L.gradient(L.tensor([1.0, 2.0]), edge_order=2), RuntimeError, "edge_order")
    raises_both(lambda L: L.gradient(L.ones(4), edge_order=3), RuntimeError, "edge_order=1 and edge_order=2")
    raises_both(lambda L: L.gradient(L.ones(3, 4), spacing=[1.0, 2.0, 3.0]), RuntimeError, "spacing")
    with pytest.raises(RuntimeError, match="coordinates"):      # torch gives a quiet (wrong) result here
        dl.gradient(dl.ones(3), spacing=(dl.tensor([0.0, 1.0]),))


# ------------------------------------------------------------------ histogram

H = np.array([1.0, 2.0, 1.0, 4.0, 2.5, -0.3, 3.9])


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_histogram_values(dt):
    big = rng.standard_normal(1000)
    for kw in ({"bins": 4}, {"bins": 3, "range": (0.0, 3.0)}, {"bins": 7, "density": True},
               {"bins": 1}, {"bins": 5, "range": (-10.0, 10.0)}):
        same(lambda L, x: L.histogram(x, **kw), H, dtypes=[dt])
        same(lambda L, x: x.histogram(**kw), big, dtypes=[dt])
    same(lambda L, x, e: L.histogram(x, e), H, [0.0, 1.5, 2.0, 5.0], dtypes=[dt, dt])
    same(lambda L, x, e: L.histogram(x, bins=e, density=True), H, [-1.0, 1.5, 2.0, 5.0], dtypes=[dt, dt])
    same(lambda L, x, w: L.histogram(x, 4, weight=w), H, np.arange(7.0), dtypes=[dt, dt])
    same(lambda L, x, w: L.histogram(x, 4, weight=w, density=True), H, np.arange(7.0), dtypes=[dt, dt])
    same(lambda L, x: L.histogram(x, bins=4), [2.0, 2.0], dtypes=[dt])
    same(lambda L, x: L.histogram(x, bins=2), np.zeros(0), dtypes=[dt])
    same(lambda L, x: L.histogram(x.reshape(2, 3), bins=3), H[:6], dtypes=[dt])


def test_histogram_is_a_named_tuple_and_errors():
    hist, edges = dl.histogram(dl.tensor(H), bins=4)
    assert type(dl.histogram(dl.tensor(H), 4)).__name__ == "histogram"
    assert dl.histogram(dl.tensor(H), 4).hist.tolist() == hist.tolist() and edges.shape == (5,)
    raises_both(lambda L: L.histogram(L.tensor([1, 2]), bins=4), (RuntimeError, NotImplementedError))
    raises_both(lambda L: L.histogram(L.tensor(H), bins=0), RuntimeError, "bins must be > 0")
    raises_both(lambda L: L.histogram(L.tensor(H), bins=2, range=(3.0, 1.0)), RuntimeError, "exceed")
    raises_both(lambda L: L.histogram(L.tensor([0.0, math.inf]), bins=2), RuntimeError, "finite")
    raises_both(lambda L: L.histogram(L.tensor(H), bins=2, weight=L.ones(4)), RuntimeError, "weight")
    raises_both(lambda L: L.histogram(L.tensor(H, dtype=L.float32), bins=L.tensor([0.0, 1.0], dtype=L.float64)), RuntimeError,
                "dtype")


# ------------------------------------------------------------------ distributions

LOC, SCALE = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))
PS = rng.uniform(0.02, 0.98, (2, 3))


def dist_same(make, *arrays, rtol=1e-9, atol=1e-12):
    "make(L, D, *tensors) -> tensor: values and gradients of sum(out * w) agree (float64)."
    res = []
    for L, D in ((dl, DD), (torch, TD)):
        ps = [L.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
        out = make(L, D, *ps)
        w = L.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        res.append((out.detach().numpy(), [np.zeros(np.shape(a)) if p.grad is None else p.grad.numpy()
                                           for p, a in zip(ps, arrays)]))
    (od, gd), (ot, gt) = res
    np.testing.assert_allclose(od, ot, rtol=rtol, atol=atol, err_msg="value")
    for a, b in zip(gd, gt):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg="gradient")


def test_normal_cdf_icdf_values_and_gradients():
    x = rng.standard_normal((2, 3)) * 2
    dist_same(lambda L, D, m, s, x: D.Normal(m, s).cdf(x), LOC, SCALE, x)
    dist_same(lambda L, D, m, s, p: D.Normal(m, s).icdf(p), LOC, SCALE, PS)
    dist_same(lambda L, D, m, s, p: D.Normal(m, s).icdf(p), LOC, SCALE, [[1e-12, 1e-6, 0.5], [0.9999, 0.3, 0.7]],
              rtol=1e-7)
    dist_same(lambda L, D, m, s, x: D.Normal(m, s).cdf(x), [0.0], [1.0], [-30.0])
    dist_same(lambda L, D, m, s: D.Normal(m, s).icdf(D.Normal(m, s).cdf(m + 0.5 * s)), LOC, SCALE)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_normal_cdf_icdf_float32_and_ends(dt):
    same(lambda L, m, s, x: L.distributions.Normal(m, s).cdf(x), LOC, SCALE, rng.standard_normal((2, 3)),
         dtypes=[dt] * 3, rtol=1e-5, atol=1e-6)
    same(lambda L, m, s, p: L.distributions.Normal(m, s).icdf(p), LOC, SCALE, PS, dtypes=[dt] * 3,
         rtol=1e-5, atol=1e-6)
    same(lambda L, p: L.distributions.Normal(0.0, 1.0).icdf(p), [0.0, 1.0, 1.5, -0.1, 1e-8, 0.99999],
         dtypes=[dt], rtol=1e-5)


def test_kl_uniform_normal():
    dist_same(lambda L, D, lo, w, m, s: D.kl_divergence(D.Uniform(lo, lo + w), D.Normal(m, s)),
              LOC, SCALE, rng.standard_normal((2, 3)), SCALE[::-1])
    kl = DD.kl_divergence(DD.Uniform(0.0, 1.0), DD.Normal(0.0, 1.0))
    assert abs(kl.item() - TD.kl_divergence(TD.Uniform(0.0, 1.0), TD.Normal(0.0, 1.0)).item()) < 1e-6


def test_uniform_validates_its_support_as_torch():
    for v in (2.0, -0.5, [0.5, 2.0], [[0.1], [1.5]]):
        with pytest.raises(ValueError) as e_dl:
            DD.Uniform(0.0, 1.0).log_prob(dl.tensor(v))
        with pytest.raises(ValueError) as e_t:
            TD.Uniform(0.0, 1.0).log_prob(torch.tensor(v))
        assert str(e_dl.value).replace("dl.", "") == str(e_t.value).replace("torch.", "")
    for v in (0.0, 0.5, 1.0, [0.0, 1.0]):                # the support is closed: [low, high]
        same(lambda L, v: L.distributions.Uniform(0.0, 1.0).log_prob(v), v)
    same(lambda L, v: L.distributions.Uniform(0.0, 1.0, validate_args=False).log_prob(v), [2.0, -1.0, 0.5])
    for lo, hi in ((1.0, 0.0), (1.0, 1.0), ([0.0, 2.0], [1.0, 1.0])):
        with pytest.raises(ValueError) as e_dl:
            DD.Uniform(dl.tensor(lo), dl.tensor(hi))
        with pytest.raises(ValueError) as e_t:
            TD.Uniform(torch.tensor(lo), torch.tensor(hi))
        assert str(e_dl.value).replace("dl.", "") == str(e_t.value).replace("torch.", "")
    assert DD.Uniform(1.0, 0.0, validate_args=False).low.item() == 1.0


K_LOGITS = rng.standard_normal((2, 3))


@pytest.mark.parametrize("what", ["log_prob", "mean", "variance", "cdf"])
def test_mixture_same_family_as_torch(what):
    x = rng.standard_normal((4, 2)) * 2

    def make(L, D, z, m, s, x):
        mix = D.MixtureSameFamily(D.Categorical(logits=z), D.Normal(m, s))
        return getattr(mix, what)(x) if what in ("log_prob", "cdf") else getattr(mix, what)
    dist_same(make, K_LOGITS, LOC, SCALE, x)


def test_mixture_same_family_probs_unbatched_and_sampling():
    w, m, s = [0.3, 0.7], [-1.0, 2.0], [0.5, 1.0]
    dist_same(lambda L, D, w, m, s, x: D.MixtureSameFamily(D.Categorical(probs=w), D.Normal(m, s)).log_prob(x),
              w, m, s, [0.0, 2.0, -3.0])
    mix = DD.MixtureSameFamily(DD.Categorical(probs=dl.tensor(w)), DD.Normal(dl.tensor(m), dl.tensor(s)))
    assert mix.batch_shape == () and mix.event_shape == () and repr(mix) == "MixtureSameFamily()"
    dl.manual_seed(0)
    draws = mix.sample((20000,))
    assert draws.shape == (20000,) and draws.requires_grad is False
    assert abs(draws.mean().item() - 1.1) < 0.05 and abs(draws.var().item() - mix.variance.item()) < 0.1
    batched = DD.MixtureSameFamily(DD.Categorical(logits=dl.tensor(K_LOGITS)),
                                   DD.Normal(dl.tensor(LOC), dl.tensor(SCALE)))
    assert batched.sample().shape == (2,) and batched.sample((5, 3)).shape == (5, 3, 2)
    assert batched.sample(4).shape == (4, 2) and batched.batch_shape == (2,)
    assert isinstance(batched.mixture_distribution, DD.Categorical)
    assert isinstance(batched.component_distribution, DD.Normal)


def test_mixture_same_family_errors():
    n = DD.Normal(dl.zeros(3), dl.ones(3))
    with pytest.raises(ValueError, match="Categorical"):
        DD.MixtureSameFamily(DD.Normal(0.0, 1.0), n)
    with pytest.raises(ValueError, match="components"):
        DD.MixtureSameFamily(DD.Categorical(logits=dl.zeros(2)), n)
    with pytest.raises(ValueError, match="batch axis"):
        DD.MixtureSameFamily(DD.Categorical(logits=dl.zeros(1)), DD.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="not compatible"):
        DD.MixtureSameFamily(DD.Categorical(logits=dl.zeros(4, 3)), DD.Normal(dl.zeros(2, 3), dl.ones(2, 3)))
    for D, L in ((DD, dl), (TD, torch)):                  # torch raises ValueError for all three too
        with pytest.raises(ValueError):
            D.MixtureSameFamily(D.Categorical(logits=L.zeros(2)), D.Normal(L.zeros(3), L.ones(3)))
