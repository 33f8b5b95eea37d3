"""Parity with PyTorch for `dl.linalg` beyond the norms (inverse, determinants, solve,
the factorizations, pinv, lstsq, rank) and their top-level aliases and methods (chapter
01b): values, dtypes, shapes, errors, and gradients (first and second order)."""
import math

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")



# the comparison helpers of tests/test_torch_more_tensor.py (this file's gradients use atol 1e-6)
from test_torch_more_tensor import _np, same, grads as _grads  # noqa: E402


def grads(expr, *arrays, atol=1e-6, **kw): return _grads(expr, *arrays, atol=atol, **kw)


rng = np.random.default_rng(0)
A = rng.standard_normal((3, 3)) + 3 * np.eye(3)           # well-conditioned
AB = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)       # a batch
S = A @ A.T + np.eye(3)                                   # symmetric positive-definite
SB = AB @ AB.transpose(0, 2, 1) + np.eye(3)
TALL, WIDE = rng.standard_normal((5, 3)), rng.standard_normal((3, 5))
B, BV = rng.standard_normal((3, 2)), rng.standard_normal(3)
SING = np.array([[1.0, 2.0], [2.0, 4.0]])


# ------------------------------------------------------------------ values and dtypes

@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_inv_det_slogdet_values_and_dtypes(dt):
    tol = dict(rtol=1e-4, atol=1e-5) if dt == "float32" else {}
    for M in (A, AB):
        same(lambda L, x: L.linalg.inv(x), M, dtypes=[dt], **tol)
        same(lambda L, x: L.linalg.det(x), M, dtypes=[dt], **tol)
        same(lambda L, x: L.linalg.slogdet(x), M, dtypes=[dt], **tol)
        same(lambda L, x: (L.inverse(x), x.inverse(), L.det(x), x.det(), L.logdet(x), x.logdet()),
             M, dtypes=[dt], **tol)
        same(lambda L, x: (L.slogdet(x), x.slogdet()), M, dtypes=[dt], **tol)
    same(lambda L, x: (L.linalg.det(x), L.linalg.slogdet(x), L.logdet(x)), SING, dtypes=[dt])
    same(lambda L, x: L.logdet(x), [[0.0, 1.0], [1.0, 0.0]], dtypes=[dt])     # det < 0: nan


def test_slogdet_is_a_named_tuple():
    r = dl.linalg.slogdet(dl.tensor(A))
    assert r._fields == ("sign", "logabsdet")
    assert dl.linalg.eigh(dl.tensor(S))._fields == ("eigenvalues", "eigenvectors")
    assert dl.linalg.svd(dl.tensor(A))._fields == ("U", "S", "Vh")
    assert dl.svd(dl.tensor(A))._fields == ("U", "S", "V")
    assert dl.linalg.qr(dl.tensor(A))._fields == ("Q", "R")
    assert dl.linalg.lstsq(dl.tensor(TALL), dl.tensor(TALL[:, :1]))._fields[0] == "solution"


def test_solve_shapes_as_torch():
    same(lambda L, a, b: L.linalg.solve(a, b), A, B)
    same(lambda L, a, b: L.linalg.solve(a, b), A, BV)                     # a vector
    same(lambda L, a, b: L.linalg.solve(a, b), AB, BV)                    # broadcast vector
    same(lambda L, a, b: L.linalg.solve(a, b), AB, rng.standard_normal((2, 3)))  # batch of vectors
    same(lambda L, a, b: L.linalg.solve(a, b), AB, B)                     # broadcast matrix
    same(lambda L, a, b: L.linalg.solve(a, b), A, rng.standard_normal((4, 3, 2)))
    same(lambda L, a, b: L.linalg.solve(a, b, left=False), A, rng.standard_normal((2, 3)))
    same(lambda L, a, b: L.linalg.solve(a, b), A, B, dtypes=["float32", "float32"], rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
def test_cholesky_eigh_svd_qr_values():
    same(lambda L, x: (L.linalg.cholesky(x), L.linalg.cholesky(x, upper=True)), S)
    same(lambda L, x: (L.cholesky(x), x.cholesky(), L.cholesky(x, upper=True)), SB)
    same(lambda L, x: L.linalg.eigvalsh(x), SB)
    same(lambda L, x: L.linalg.eigvalsh(x, UPLO="U"), S)
    same(lambda L, x: L.linalg.eigh(x).eigenvectors.abs(), S)             # signs: up to the solver
    for M in (A, TALL, WIDE, AB):
        same(lambda L, x: L.linalg.svdvals(x), M)
        same(lambda L, x: L.linalg.svd(x).S, M)
        k = min(M.shape[-2:])          # a full U's extra columns are any basis of the rest
        for full in (True, False):
            same(lambda L, x: L.linalg.svd(x, full_matrices=full).S, M)
            same(lambda L, x: (lambda u, s, vh: (u[..., :k].abs(), vh[..., :k, :].abs(), u.shape))(
                *L.linalg.svd(x, full_matrices=full)), M)
            same(lambda L, x: (lambda u, s, v: (u[..., :k].abs(), s, v[..., :k].abs(), u.shape, v.shape))(
                *L.svd(x, some=not full)), M)
        same(lambda L, x: [t.abs() for t in x.svd()], M)
        same(lambda L, x: L.svd(x, compute_uv=False), M)
        for mode in ("reduced", "complete", "r"):
            same(lambda L, x: (lambda q, r: (q[..., :k].abs(), r.abs(), q.shape))(
                *L.linalg.qr(x, mode=mode)), M)
    same(lambda L, x: L.linalg.svdvals(x), A, dtypes=["float32"], rtol=1e-4, atol=1e-5)


def test_reconstructions():
    a = dl.tensor(TALL)
    u, s, vh = dl.linalg.svd(a, full_matrices=False)
    assert np.allclose((u * s.unsqueeze(-2) @ vh).numpy(), TALL)
    q, r = dl.linalg.qr(a)
    assert np.allclose((q @ r).numpy(), TALL)
    w, v = dl.linalg.eigh(dl.tensor(SB))
    assert np.allclose((v * w.unsqueeze(-2) @ v.mT).numpy(), SB)


def test_pinv_lstsq_rank():
    for M in (A, TALL, WIDE, AB, SING):
        same(lambda L, x: (L.linalg.pinv(x), L.pinverse(x), x.pinverse()), M)
        same(lambda L, x: L.linalg.matrix_rank(x), M)
    same(lambda L, x: L.linalg.matrix_rank(x, atol=1.0, rtol=0.0), A)
    same(lambda L, x: L.linalg.matrix_rank(x, hermitian=True), S)
    same(lambda L, x: L.linalg.pinv(x, atol=2.5), A)
    same(lambda L, x: L.linalg.pinv(x, rtol=0.5), A)
    b = rng.standard_normal((5, 2))
    same(lambda L, a, b: L.linalg.lstsq(a, b), TALL, b)
    same(lambda L, a, b: L.linalg.lstsq(a, b).solution, TALL, b[:, 0])
    same(lambda L, a, b: L.linalg.lstsq(a, b), TALL, b, dtypes=["float32", "float32"], rtol=1e-4, atol=1e-5)


def test_matrix_norms_through_singular_values():
    for M in (A, TALL, AB):
        for ord in (2, -2, "nuc"):
            same(lambda L, x: L.linalg.matrix_norm(x, ord=ord), M)
            same(lambda L, x: L.linalg.matrix_norm(x, ord=ord, keepdim=True), M)
            same(lambda L, x: L.linalg.norm(x, ord, dim=(-2, -1)), M)
    same(lambda L, x: L.linalg.norm(x, 2), A)
    same(lambda L, x: L.linalg.norm(x, "nuc", dim=(1, 0)), TALL)
    same(lambda L, x: L.linalg.matrix_norm(x, ord=2, dim=(0, 2)), AB)


def test_cross_kron_tensordot_ger():
    u, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    same(lambda L, a, b: (L.linalg.cross(a, b), L.cross(a, b, dim=1), a.cross(b, dim=-1)), u, v)
    same(lambda L, a, b: L.linalg.cross(a, b, dim=0), u.T, v.T)
    same(lambda L, a, b: L.linalg.cross(a, b), u, v[:1])                 # broadcast
    same(lambda L, a, b: L.cross(a, b, dim=0), u[:3].T, v[:3].T)
    same(lambda L, a, b: L.linalg.cross(a, b), [1, 0, 0], [0, 1, 0])     # integers
    same(lambda L, a, b: (L.kron(a, b), a.kron(b)), A, B)
    same(lambda L, a, b: L.kron(a, b), BV, AB)
    same(lambda L, a, b: L.kron(a, b), [[1, 2], [3, 4]], [[0, 1], [1, 0]])
    t1, t2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4, 5))
    same(lambda L, a, b: L.tensordot(a, b), t1, t2)
    same(lambda L, a, b: L.tensordot(a, b, dims=1), t1, t2.transpose(1, 0, 2)[:4].transpose(1, 0, 2)[:, :, :] if False else rng.standard_normal((4, 2)))
    same(lambda L, a, b: L.tensordot(a, b, dims=([1, 0], [0, 2])), t1, rng.standard_normal((3, 5, 2)))
    same(lambda L, a, b: L.tensordot(a, b, dims=0), BV, BV)
    same(lambda L, a, b: (L.ger(a, b), a.ger(b)), BV, BV[:2])


# ------------------------------------------------------------------ errors

def test_errors_as_torch():
    sing = dl.tensor(SING).float()
    with pytest.raises(dl.linalg.LinAlgError, match="singular"):
        dl.linalg.inv(sing)
    assert issubclass(dl.linalg.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="singular"):
        dl.inverse(sing)
    with pytest.raises(dl.linalg.LinAlgError, match="singular"):
        dl.linalg.solve(sing, dl.ones(2))
    with pytest.raises(dl.linalg.LinAlgError, match="positive-definite"):
        dl.linalg.cholesky(-dl.eye(2))
    with pytest.raises(RuntimeError, match="square"):
        dl.linalg.inv(dl.ones(2, 3))
    with pytest.raises(RuntimeError, match="square"):
        dl.linalg.det(dl.ones(2, 3))
    with pytest.raises(RuntimeError, match="floating point"):
        dl.linalg.inv(dl.ones(2, 2, dtype=dl.int64))
    with pytest.raises(RuntimeError, match="Low precision"):
        dl.linalg.inv(dl.eye(2).half())
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        dl.linalg.det(dl.ones(3))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        dl.linalg.solve(dl.eye(2), dl.ones(3))
    with pytest.raises(RuntimeError, match="length 3"):
        dl.linalg.cross(dl.ones(2), dl.ones(2))
    with pytest.raises(NotImplementedError, match="complex tensors are not part"):
        dl.linalg.eig(dl.eye(2))
    with pytest.raises(NotImplementedError, match="complex"):
        dl.linalg.eigvals(dl.eye(2))
    with pytest.raises(AttributeError, match="inv, lstsq"):
        dl.linalg.lu_factor
    with pytest.raises(RuntimeError, match="not supported"):
        dl.linalg.matrix_norm(dl.eye(2), ord=3)
    assert torch.linalg.det(torch.tensor(SING)).item() == dl.det(sing).item() == 0


# ------------------------------------------------------------------ gradients

def test_gradients_inv_det_slogdet_solve():
    grads(lambda L, x: L.linalg.inv(x), A)
    grads(lambda L, x: L.linalg.inv(x), AB)
    grads(lambda L, x: L.linalg.det(x), A)
    grads(lambda L, x: L.linalg.det(x), AB)
    grads(lambda L, x: L.linalg.slogdet(x).logabsdet, AB)
    grads(lambda L, x: L.logdet(x), S)
    grads(lambda L, a, b: L.linalg.solve(a, b), A, B)
    grads(lambda L, a, b: L.linalg.solve(a, b), AB, BV)
    grads(lambda L, a, b: L.linalg.solve(a, b), A, rng.standard_normal((2, 3, 2)))
    grads(lambda L, x: x.inverse() * x.det(), A)


def test_det_gradient_of_a_singular_matrix_as_torch():
    grads(lambda L, x: L.linalg.det(x), SING, second=False)            # det exactly 0: 0
    grads(lambda L, x: L.linalg.det(x), [[1.0, 0.0], [0.0, 0.0]], second=False)
    grads(lambda L, x: L.det(x), np.stack([SING, A[:2, :2]]), second=False)


def test_gradients_cholesky_eigh():
    grads(lambda L, x: L.linalg.cholesky(x), S)
    grads(lambda L, x: L.linalg.cholesky(x, upper=True), SB)
    grads(lambda L, x: L.linalg.eigvalsh(x), S)
    grads(lambda L, x: L.linalg.eigvalsh(x), SB)
    grads(lambda L, x: L.linalg.eigh(x).eigenvectors ** 2, S)            # sign-free
    grads(lambda L, x: (lambda w, v: v ** 2 * w.unsqueeze(-2))(*L.linalg.eigh(x)), SB)


def test_gradients_svd_qr_pinv_lstsq():
    for M in (A, TALL, WIDE, AB):
        grads(lambda L, x: L.linalg.svdvals(x), M)
        grads(lambda L, x: L.linalg.matrix_norm(x, "nuc"), M)
        grads(lambda L, x: (lambda u, s, vh: u ** 2)(*L.linalg.svd(x, full_matrices=False)), M)
        grads(lambda L, x: (lambda u, s, vh: vh ** 2 * s.unsqueeze(-1))(*L.linalg.svd(x, full_matrices=False)), M)
        grads(lambda L, x: L.linalg.pinv(x), M)
    grads(lambda L, x: L.linalg.svd(x).S, TALL)
    for M in (TALL, WIDE):                      # full_matrices: only the first k columns count
        k = min(M.shape)
        grads(lambda L, x: (lambda u, s, vh: (u[:, :k] * vh[:k, :1].T) ** 2)(*L.linalg.svd(x)), M)
    grads(lambda L, x: (lambda q, r: q ** 2 + r[:, :3].sum())(*L.linalg.qr(x, mode="complete")), WIDE)
    with pytest.raises(RuntimeError, match="not differentiable"):
        dl.linalg.qr(dl.tensor(TALL, requires_grad=True), mode="complete").Q.sum().backward()
    grads(lambda L, x: L.linalg.norm(x, 2), A)
    for M in (A, TALL, WIDE, AB):
        grads(lambda L, x: (lambda q, r: q * r[..., :1, :1] + r.sum())(*L.linalg.qr(x)), M)
        grads(lambda L, x: L.linalg.qr(x).R ** 2, M)
    grads(lambda L, a, b: L.linalg.lstsq(a, b).solution, TALL, rng.standard_normal((5, 2)))


def test_gradients_cross_kron_tensordot():
    grads(lambda L, a, b: L.linalg.cross(a, b), rng.standard_normal((4, 3)), rng.standard_normal((1, 3)))
    grads(lambda L, a, b: L.kron(a, b), A, B)
    grads(lambda L, a, b: L.tensordot(a, b, dims=([0], [1])), TALL, rng.standard_normal((2, 5)))


# ------------------------------------------------------------------ group 2: statistics, integration, cutting

OBS = rng.standard_normal((3, 6))


def test_cov_corrcoef():
    for M in (OBS, OBS[0], OBS[:1], OBS.T):
        same(lambda L, x: (L.cov(x), x.cov(), L.corrcoef(x), x.corrcoef()), M)
        same(lambda L, x: L.cov(x, correction=0), M)
    same(lambda L, x: L.cov(x), [[1, 2, 4], [2, 3, 5]])                  # ints: float32
    same(lambda L, x: L.cov(x), OBS, dtypes=["float32"], rtol=1e-4, atol=1e-6)
    fw, aw = np.array([1, 2, 1, 3, 1, 1]), rng.uniform(0.1, 2.0, 6)
    same(lambda L, x, f: L.cov(x, fweights=f), OBS, fw)
    same(lambda L, x, a: L.cov(x, aweights=a), OBS, aw)
    same(lambda L, x, f, a: L.cov(x, correction=2, fweights=f, aweights=a), OBS, fw, aw)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        same(lambda L, x: L.cov(x, correction=2), OBS[:, :2])            # 0 dof: inf/nan
    with pytest.warns(UserWarning, match="degrees of freedom"):
        dl.cov(dl.tensor(OBS[:, :2]), correction=3)
    grads(lambda L, x: L.cov(x), OBS)
    grads(lambda L, x, a: L.cov(x, aweights=a), OBS, aw)
    grads(lambda L, x: L.corrcoef(x), OBS)
    with pytest.raises(RuntimeError, match="integral"):
        dl.cov(dl.tensor(OBS), fweights=dl.tensor(aw))
    with pytest.raises(RuntimeError, match="two or fewer"):
        dl.cov(dl.ones(2, 3, 4))


def test_trapezoid_family():
    Y, X = rng.standard_normal((3, 5)), np.sort(rng.uniform(0, 4, 5))
    for f in ("trapezoid", "trapz", "cumulative_trapezoid"):
        same(lambda L, y: getattr(L, f)(y), Y)
        same(lambda L, y: getattr(L, f)(y, dim=0), Y)
        same(lambda L, y: getattr(L, f)(y, dx=0.5), Y)
        same(lambda L, y, x: getattr(L, f)(y, x), Y, X)
        same(lambda L, y, x: getattr(L, f)(y, x, dim=0), Y, rng.uniform(0, 1, (3, 5)))
        same(lambda L, y: getattr(L, f)(y), [1, 2, 4])                   # ints: float32
        grads(lambda L, y, x: getattr(L, f)(y, x), Y, X)
    same(lambda L, y: L.trapezoid(y), np.ones((2, 0)))


def test_searchsorted_bucketize():
    seq, vals = np.array([1, 3, 3, 5, 7]), np.array([[0, 3, 4], [7, 8, 5]])
    for kw in ({}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}):
        same(lambda L, s, v: L.searchsorted(s, v, **kw), seq, vals)
    same(lambda L, s: L.searchsorted(s, 3), seq)
    same(lambda L, s: L.searchsorted(s, 3.5, right=True), seq.astype(float))
    rows = np.array([[1, 3, 5], [2, 4, 6]])
    same(lambda L, s, v: L.searchsorted(s, v), rows, np.array([[3, 6], [3, 0]]))
    same(lambda L, s, v, o: L.searchsorted(s, v, sorter=o), [5, 1, 3], [3, 4], [1, 2, 0])
    for kw in ({}, {"right": True}, {"out_int32": True}):
        same(lambda L, v, b: L.bucketize(v, b, **kw), vals, seq)
    same(lambda L, b: L.bucketize(3, b), seq)
    same(lambda L, v, b: L.bucketize(v, b), [0.5, 3.0, 9.0], [1.0, 3.0])
    with pytest.raises(RuntimeError, match="opposites"):
        dl.searchsorted(dl.tensor(seq), dl.tensor([3]), side="left", right=True)


def test_take_narrow_select_tensor_split():
    g = rng.standard_normal((3, 4))
    same(lambda L, x, i: (L.take(x, i), x.take(i)), g, [[0, 11], [-1, 5]])
    with pytest.raises(IndexError, match="out of range"):
        dl.take(dl.tensor(g), dl.tensor([12]))
    for args in ((0, 1, 2), (1, -3, 2), (1, 0, 0), (-1, 2, 2)):
        same(lambda L, x: (L.narrow(x, *args), x.narrow(*args)), g)
    same(lambda L, x: x.narrow(1, L.tensor(1), 2), g)
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        dl.narrow(dl.tensor(g), 0, 2, 2)
    for args in ((0, 1), (1, -1), (-1, 0)):
        same(lambda L, x: (L.select(x, *args), x.select(*args)), g)
    with pytest.raises(IndexError, match="out of range"):
        dl.select(dl.tensor(g), 0, 3)
    v = np.arange(7.0)
    for cuts in (3, 7, 8, [1, 5], (2,), [5, 1], [0, 0, 7]):
        same(lambda L, x: L.tensor_split(x, cuts), v)
    same(lambda L, x: x.tensor_split(L.tensor([1, 3]), dim=1), g)
    same(lambda L, x: x.tensor_split(L.tensor(3), 1), g)
    same(lambda L, x: L.tensor_split(x, 2, dim=-1), g)
    with pytest.raises(RuntimeError, match="larger than 0"):
        dl.tensor_split(dl.tensor(v), 0)
    grads(lambda L, x: L.take(x, L.tensor([0, 5, 5, -1])), g)
    grads(lambda L, x: x.narrow(1, 1, 2) * x.select(0, 1)[:2], g)
    grads(lambda L, x: L.cat([p * (i + 1) for i, p in enumerate(x.tensor_split([1, 3], 1))], 1), g)


def test_broadcast_fill_diagonal_small_names():
    same(lambda L, a, b, c: L.broadcast_tensors(a, b, c), np.ones((2, 1)), np.arange(3.0), 5.0)
    assert dl.broadcast_shapes((2, 1), (3,), 1) == torch.broadcast_shapes((2, 1), (3,), 1)
    assert isinstance(dl.broadcast_shapes((2, 1)), dl.Size)
    with pytest.raises(RuntimeError, match="Shape mismatch"):
        dl.broadcast_shapes((2, 1), (3, 2))
    with pytest.raises(RuntimeError):
        dl.broadcast_tensors(dl.ones(2, 1), dl.ones(3, 2))
    grads(lambda L, a, b: (lambda x, y: x * y)(*L.broadcast_tensors(a, b)), np.ones((2, 1)), np.arange(3.0))
    for shape, wrap in (((5, 2), True), ((5, 2), False), ((2, 3), False), ((3, 3, 3), False), ((7, 3), True)):
        same(lambda L, x: x.fill_diagonal_(2.5, wrap=wrap), np.zeros(shape))
    same(lambda L, x: x.fill_diagonal_(7), np.zeros((3, 3), int))
    for bad in ((3,), (2, 3, 2)):
        with pytest.raises(RuntimeError):
            dl.zeros(bad).fill_diagonal_(1)
    same(lambda L, a: (L.true_divide(a, 2), a.true_divide(a + 1)), [1, 2, 3])
    same(lambda L, a: (L.sgn(a), a.sgn()), [-2.0, 0.0, 3.0])
    same(lambda L, a: L.sgn(a), [-2, 0, 3])
    for v in ([0.0], [3], [True], 2.5):
        assert dl.is_nonzero(dl.tensor(v)) == torch.is_nonzero(torch.tensor(v))
    for bad in ([1, 2], []):
        with pytest.raises(RuntimeError, match="ambiguous"):
            dl.tensor(bad).is_nonzero()


# ------------------------------------------------------------------ group 3: fixes in 01b

NANS = np.array([[1.0, np.nan, 3.0, np.nan, 0.0], [3.0, 2.0, 1.0, 5.0, 6.0], [np.nan, 1.0, 2.0, 3.0, 4.0]])


def test_median_with_nan_as_torch():
    same(lambda L, x: x.median(), NANS)
    same(lambda L, x: L.median(x), [1.0, np.nan, 3.0])
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            same(lambda L, x: x.median(dim, keepdim), NANS)
    same(lambda L, x: L.median(x, 0), np.float64(np.nan))
    same(lambda L, x: x.median(), [[3, 1], [2, 2]])                     # integers unchanged
    same(lambda L, x: x.median(1), [[3, 1, 2], [2, 2, 5]])


def test_median_gradients_as_torch():
    grads(lambda L, x: x.median(), [1.0, 2.0, 2.0, 3.0], second=False)  # ties share it
    grads(lambda L, x: x.median(), [2.0, 2.0, 2.0])                        # 2nd order too
    grads(lambda L, x: x.median(), [[np.inf, np.inf], [1.0, -1.0]], second=False)
    grads(lambda L, x: x.median(), [[1.0, np.inf], [5.0, -1.0]], second=False)
    grads(lambda L, x: x.median(1).values, NANS[1:], second=False)
    for L in (dl, torch):                                               # NaN: to the NaNs
        x = L.tensor(NANS, requires_grad=True)
        x.median().backward()
        g = _np(x.grad)
        assert np.allclose(g, np.isnan(NANS) / np.isnan(NANS).sum())
        x = L.tensor(NANS, requires_grad=True)
        x.median(1).values.sum().backward()
        assert _np(x.grad).tolist() == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]


def test_nonzero_of_a_0d_tensor():
    for v in (5, 0, 2.5, True, False):
        same(lambda L, x: (L.nonzero(x), x.nonzero(), L.argwhere(x)), v)
        same(lambda L, x: L.nonzero(x, as_tuple=True), v)


def test_integer_dtype_of_prod_and_cumsum_is_the_results():
    m = np.arange(1, 13).reshape(3, 4)
    for dt in ("int32", "int16", "int8", "uint8", "float64"):
        same(lambda L, x: (x.prod(dtype=getattr(L, dt)), L.prod(x, 1, dtype=getattr(L, dt)),
                           x.cumsum(1, dtype=getattr(L, dt)), L.cumsum(x, 0, dtype=getattr(L, dt))), m)
    same(lambda L, x: (x * 10000000).cumsum(0, dtype=L.int32), [100, 100, 100])   # wraps around
    same(lambda L, x: x.prod(dtype=L.int32), [1000, 1000, 1000])
    same(lambda L, x: (x.prod(), x.cumsum(0)), [1, 2, 3], dtypes=["int32"])      # no dtype: int64


def test_sign_of_nan_is_zero():
    same(lambda L, x: (L.sign(x), x.sign(), L.sgn(x)), [np.nan, -2.0, 0.0, 3.0])
    same(lambda L, x: L.sign(x), [np.nan, -np.inf], dtypes=["float32"])


# ------------------------------------------------------------------ more of torch.linalg

def test_solve_triangular():
    b = rng.standard_normal((3, 2))
    for upper in (True, False):
        for left in (True, False):
            for unit in (False, True):
                bb = b if left else b.T
                same(lambda L, a, y: L.linalg.solve_triangular(a, y, upper=upper, left=left,
                                                               unitriangular=unit), A, bb)
                grads(lambda L, a, y: L.linalg.solve_triangular(a, y, upper=upper, left=left,
                                                                unitriangular=unit), A, bb)
    same(lambda L, a, y: L.linalg.solve_triangular(a, y, upper=False), AB, b)
    with pytest.raises(TypeError):
        dl.linalg.solve_triangular(dl.tensor(A), dl.tensor(b))                 # upper= is required


def test_matrix_power_multi_dot_vecdot_cond_vander_diagonal_matmul():
    for n in (0, 1, 2, 5, -1, -3):
        same(lambda L, x: (L.linalg.matrix_power(x, n), L.matrix_power(x, n), x.matrix_power(n)), A)
        same(lambda L, x: L.linalg.matrix_power(x, n), AB)
    same(lambda L, x: L.linalg.matrix_power(x, 3), [[1, 2], [3, 4]])          # integers
    same(lambda L, x: L.linalg.matrix_power(x, 0), [[1, 2], [3, 4]])
    grads(lambda L, x: L.linalg.matrix_power(x, 3), A)
    grads(lambda L, x: L.linalg.matrix_power(x, -2), A)
    with pytest.raises(RuntimeError, match="square"):
        dl.linalg.matrix_power(dl.ones(2, 3), 2)
    with pytest.raises(RuntimeError, match="floating point"):
        dl.linalg.matrix_power(dl.tensor([[1, 2], [3, 4]]), -1)
    chain = [BV, A, TALL.T, rng.standard_normal(5)]
    same(lambda L, *xs: L.linalg.multi_dot(xs), *chain)
    same(lambda L, *xs: L.linalg.multi_dot(xs), A, TALL.T, TALL)
    grads(lambda L, a, b, c: L.linalg.multi_dot([a, b, c]), BV, A, TALL.T)
    with pytest.raises(RuntimeError, match="at least 2"):
        dl.linalg.multi_dot([dl.ones(3)])
    same(lambda L, x, y: (L.linalg.vecdot(x, y), L.linalg.vecdot(x, y, dim=0)), AB, A)
    grads(lambda L, x, y: L.linalg.vecdot(x, y), TALL, BV)
    with pytest.raises(RuntimeError, match="floating point"):
        dl.linalg.vecdot(dl.tensor([1, 2]), dl.tensor([3, 4]))
    for p in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        same(lambda L, x: L.linalg.cond(x, p), AB)
    same(lambda L, x: L.linalg.cond(x), TALL)
    grads(lambda L, x: L.linalg.cond(x), A)
    # torch's own cond(p='fro') cannot be differentiated (an in-place error): its formula
    grads(lambda L, x: L.linalg.cond(x, "fro") if L is dl else
          L.linalg.norm(x) * L.linalg.norm(L.linalg.inv(x)), A)
    with pytest.raises(RuntimeError, match="greater than 1"):
        dl.linalg.vander(dl.tensor(BV), N=1)
    for N in (None, 2, 5):
        same(lambda L, x: L.linalg.vander(x, N=N), BV)
        same(lambda L, x: L.linalg.vander(x, N=N), [[1, 2, 3], [0, -1, 4]])
    grads(lambda L, x: L.linalg.vander(x, N=4), BV)
    same(lambda L, x: (L.linalg.diagonal(x), L.linalg.diagonal(x, offset=1, dim1=0, dim2=2)), AB)
    same(lambda L, x, y: L.linalg.matmul(x, y), AB, BV)
