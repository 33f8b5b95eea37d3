"""Parity with PyTorch: values, gradients and second derivatives of the same expressions.

Every expression is written once against a small "backend" namespace and evaluated with
`deeplearning101` and with `torch` (float64 both), then compared with a 1e-5 tolerance.
Includes the edge cases where the rules are conventions rather than calculus (ties of
`maximum`/`max`/`min`, `clamp` at its bounds, `relu`/`abs` at 0), the dtype rules, and a
fuzzer that builds random expressions from many ops.
"""
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-5, 1e-8


# --------------------------------------------------------------------------- backends

def _t_axes(x, ax):
    return tuple(range(x.ndim)) if ax is None else ax


def _t_index(idx):
    conv = lambda i: torch.as_tensor(i) if isinstance(i, (np.ndarray, list)) else i
    return tuple(conv(i) for i in idx) if isinstance(idx, tuple) else conv(idx)


DL = SimpleNamespace(
    name="dl",
    exp=dl.exp, log=dl.log, sqrt=dl.sqrt, abs=abs, relu=dl.relu, sigmoid=dl.sigmoid, tanh=dl.tanh,
    maximum=dl.maximum, where=dl.where,
    clip=lambda x, lo, hi: x.clip(lo, hi),
    softmax=lambda x, ax: dl.softmax(x, ax), log_softmax=lambda x, ax: dl.log_softmax(x, ax),
    logsumexp=lambda x, ax, kd=False: dl.logsumexp(x, axis=ax, keepdims=kd),
    sum=lambda x, ax=None, kd=False: x.sum(axis=ax, keepdims=kd),
    mean=lambda x, ax=None, kd=False: x.mean(dim=ax, keepdim=kd),
    amax=lambda x, ax=None, kd=False: x.amax(axis=ax, keepdims=kd),
    amin=lambda x, ax=None, kd=False: x.amin(dim=ax, keepdim=kd),
    cat=lambda xs, ax: dl.concatenate(xs, axis=ax), stack=lambda xs, ax: dl.stack(xs, axis=ax),
    swap=lambda x, a, b: x.transpose(a, b),          # only on >= 3-D tensors (2-D: see the transpose bug in test_properties.py)
    mT=lambda x: x.T,                                # 2-D only
    permute=lambda x, *p: x.permute(*p),
    reshape=lambda x, *s: x.reshape(*s),
    flip0=lambda x: x.flip(0),
    index=lambda x, idx: x[idx],
    tensor=lambda a: dl.tensor(a),
)

T = SimpleNamespace(
    name="torch",
    exp=torch.exp, log=torch.log, sqrt=torch.sqrt, abs=abs, relu=torch.relu, sigmoid=torch.sigmoid, tanh=torch.tanh,
    maximum=torch.maximum, where=torch.where,
    clip=lambda x, lo, hi: x.clamp(lo, hi),
    softmax=lambda x, ax: torch.softmax(x, ax), log_softmax=lambda x, ax: torch.log_softmax(x, ax),
    logsumexp=lambda x, ax, kd=False: torch.logsumexp(x, dim=_t_axes(x, ax), keepdim=kd),
    sum=lambda x, ax=None, kd=False: x.sum(dim=_t_axes(x, ax), keepdim=kd),
    mean=lambda x, ax=None, kd=False: x.mean(dim=_t_axes(x, ax), keepdim=kd),
    amax=lambda x, ax=None, kd=False: torch.amax(x, dim=_t_axes(x, ax), keepdim=kd),
    amin=lambda x, ax=None, kd=False: torch.amin(x, dim=_t_axes(x, ax), keepdim=kd),
    cat=lambda xs, ax: torch.cat(xs, dim=ax), stack=lambda xs, ax: torch.stack(xs, dim=ax),
    swap=lambda x, a, b: x.transpose(a, b),
    mT=lambda x: x.T,
    permute=lambda x, *p: x.permute(*p),
    reshape=lambda x, *s: x.reshape(*s),
    flip0=lambda x: x.flip(0),
    index=lambda x, idx: x[_t_index(idx)],
    tensor=lambda a: torch.tensor(a),
)


# --------------------------------------------------------------------------- comparison

def _np(t):
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def _grads(B, out, xs, ws, vs):
    "First derivatives of sum(out*w) with a graph, then the Hessian-vector product with vs."
    if B is DL:
        loss = (out * dl.tensor(ws)).sum()
        g = dl.grad(loss, xs, create_graph=True, allow_unused=True)
        terms = [(gi * dl.tensor(v)).sum() for gi, v in zip(g, vs) if gi is not None and gi.requires_grad]
        h = dl.grad(sum(terms[1:], terms[0]), xs, allow_unused=True) if terms else [None] * len(xs)
    else:
        loss = (out * torch.tensor(ws)).sum()
        g = torch.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
        terms = [(gi * torch.tensor(v)).sum() for gi, v in zip(g, vs) if gi is not None and gi.requires_grad]
        h = torch.autograd.grad(sum(terms[1:], terms[0]), xs, allow_unused=True) if terms else [None] * len(xs)
    z = lambda t, x: np.zeros(x.shape) if t is None else _np(t)
    return [z(a, x) for a, x in zip(g, xs)], [z(a, x) for a, x in zip(h, xs)]


def compare(expr, *arrays, seed=0, second_order=True):
    "Evaluate expr(B, *inputs) with both backends; compare value, first and second derivatives."
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    xs = [dl.tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out_dl, out_t = expr(DL, *xs), expr(T, *ts)
    assert tuple(out_dl.shape) == tuple(out_t.shape)
    assert out_dl.dtype == np.float64 and out_t.dtype == torch.float64
    np.testing.assert_allclose(_np(out_dl), _np(out_t), rtol=RTOL, atol=ATOL, err_msg="value")

    rs = np.random.default_rng(seed)
    ws = rs.standard_normal(tuple(out_t.shape))
    vs = [rs.standard_normal(a.shape) for a in arrays]
    g_dl, h_dl = _grads(DL, out_dl, xs, ws, vs)
    g_t, h_t = _grads(T, out_t, ts, ws, vs)
    for i, (a, b) in enumerate(zip(g_dl, g_t)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"gradient of input {i}")
    if second_order:
        for i, (a, b) in enumerate(zip(h_dl, h_t)):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"Hessian-vector product, input {i}")
    return out_dl, out_t


def compare_backward(expr, *arrays, rtol=RTOL, atol=ATOL):
    "The .backward() path: accumulated .grad of the leaves agrees with torch, dtype included."
    xs = [dl.tensor(np.array(a), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    expr(DL, *xs).sum().backward()
    expr(T, *ts).sum().backward()
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None
            continue
        assert x.grad.shape == tuple(t.grad.shape) and str(x.grad.dtype).split(".")[-1] == str(t.grad.dtype).split(".")[-1]
        np.testing.assert_allclose(x.grad.detach().numpy(), t.grad.detach().numpy(), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- composite expressions

LABELS = np.array([0, 2, 2, 1, 0, 2])                # repeated class indices


def mlp_nll(B, x, W1, b1, W2, b2):
    h = B.relu(x @ W1 + b1)
    logp = B.log_softmax(B.tanh(h @ W2 + b2) * 3.0, 1)
    return -B.mean(B.index(logp, (np.arange(6), LABELS)))


def attention(B, q, k, v):
    s = q @ B.swap(k, -1, -2) / np.sqrt(3.0)
    a = B.softmax(s, -1)
    return a @ v + B.logsumexp(s, -1, True) * B.tanh(a @ v) - B.log_softmax(s, 1).mean() * 0.1


def elementwise(B, x, y):
    return (B.where(x > 0, B.exp(-x), x ** 2.0) + B.maximum(x, y) * B.sqrt(abs(y) + 1.0)
            - B.clip(x, -0.5, 0.5) / (1.0 + B.sigmoid(y)) + B.tanh(x * y) + B.log(x * x + 1.0)
            + (abs(x) + 0.5) ** y + 2.0 ** y - 1.0 / (y * y + 1.0))


def reductions(B, x):
    return (B.amax(x, 1).sum(-1) + B.amin(x, (0, 2), True).sum() + B.mean(x, 0, True).sum(-1)[..., 0]
            + B.logsumexp(x, (0, 1)).sum() * B.amax(x) - B.amin(x).sum() + B.sum(x, (-1,)).mean(1))


def shape_ops(B, x, y):
    z = B.cat([x, B.flip0(x) * y], 0)                              # (8, 3)
    s = B.stack([x, x * 2.0, y + x], -1)                           # (4, 3, 3)
    r = B.reshape(z, 3, -1)                                        # (3, 8)
    p = B.permute(s, 2, 0, 1)                                      # (3, 4, 3)
    i1 = B.index(x, [0, 0, 3, 1])                                  # repeated rows
    i2 = B.index(x, (slice(None), np.array([2, 2, 0])))           # repeated columns
    i3 = B.index(x, (None, Ellipsis, slice(1, None)))
    m = B.index(x, B.tensor(np.array([[True, False, True]] * 4)))
    return (B.mT(r).sum() + p.sum(1).sum() + (i1 ** 2.0).sum() + (i2 * i2).sum() + i3.sum() * 0.5
            + (m ** 3.0).sum() + B.swap(s, 0, 2).sum(0).sum(0)[1])


def batched_matmul(B, a, b, c, d):
    return (a @ b).sum(0) + ((c @ d) * 0.5).sum() + (c[0, 0] @ d[0]).sum()


def vector_matmul(B, v, m3, m):
    return v @ m3 + (m3 @ v[:3]).sum() + (v @ m.T @ v[:3])


EXPRESSIONS = {
    "mlp_nll": (mlp_nll, [(6, 5), (5, 7), (7,), (7, 3), (3,)]),
    "attention": (attention, [(2, 4, 3), (2, 5, 3), (2, 5, 3)]),
    "elementwise": (elementwise, [(3, 4), (4,)]),
    "reductions": (reductions, [(3, 4, 5)]),
    "shape_ops": (shape_ops, [(4, 3), (3,)]),
    "batched_matmul": (batched_matmul, [(2, 3, 4), (4, 5), (2, 1, 3, 4), (5, 4, 2)]),
    "vector_matmul": (vector_matmul, [(4,), (2, 4, 3), (3, 4)]),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_composite_expression_matches_torch(name, seed):
    expr, shapes = EXPRESSIONS[name]
    rs = np.random.default_rng(seed)
    compare(expr, *[rs.standard_normal(s) for s in shapes], seed=seed)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_backward_grads_match_torch(name, rng):
    expr, shapes = EXPRESSIONS[name]
    compare_backward(expr, *[rng.standard_normal(s) for s in shapes])


def test_float32_leaves_get_float32_grads_like_torch(rng):
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    compare_backward(elementwise, a, b, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- conventions at kinks and ties

def test_maximum_splits_the_gradient_at_ties_like_torch():
    a = np.array([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]])
    b = np.array([1.0, 5.0, 3.0])                      # ties at (0,0), (0,2) and, after broadcasting, (1,?) none
    _, _ = compare(lambda B, x, y: B.maximum(x, y), a, b)
    compare(lambda B, x, y: B.maximum(x, y) * B.maximum(y, x), a, np.array(3.0))
    x = dl.tensor(np.array([2.0, 2.0]), requires_grad=True)
    y = dl.tensor(np.array([2.0, 1.0]), requires_grad=True)
    dl.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [0.5, 1.0])
    np.testing.assert_array_equal(y.grad.detach().numpy(), [0.5, 0.0])


def test_maximum_with_itself_gives_the_full_gradient():
    compare(lambda B, x: B.maximum(x, x), np.array([-1.0, 0.0, 2.0]))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_min_reductions_distribute_ties_like_amax_amin(axis, keepdims):
    x = np.array([[[1.0, 3.0, 3.0], [3.0, 0.0, 0.0]], [[2.0, 2.0, 2.0], [-1.0, 0.0, -1.0]]])
    compare(lambda B, t: B.amax(t, axis, keepdims), x)
    compare(lambda B, t: B.amin(t, axis, keepdims), x, seed=1)
    compare(lambda B, t: B.amax(B.relu(t - 1.0), axis, keepdims) * B.amin(abs(t), axis, keepdims), x, seed=2)


def test_full_max_reduction_matches_torch_max():
    x = np.array([[4.0, 1.0, 4.0], [0.0, 4.0, 2.0]])
    d = dl.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    d.max().backward()
    t.max().backward()
    np.testing.assert_allclose(d.grad.detach().numpy(), t.grad.detach().numpy())
    np.testing.assert_allclose(d.grad.detach().numpy(), [[1 / 3, 0, 1 / 3], [0, 1 / 3, 0]])


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (0.0, 1.0), (-1.0, None), (None, 0.25)])
def test_clip_at_and_beyond_its_bounds_matches_clamp(lo, hi):
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0])
    compare(lambda B, t: B.clip(t, lo, hi) * t, x)
    d = dl.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    dl.clip(d, min=lo, max=hi).sum().backward()
    t.clamp(lo, hi).sum().backward()
    np.testing.assert_array_equal(d.grad.detach().numpy(), t.grad.detach().numpy())


def test_relu_abs_sqrt_at_zero_match_torch():
    x = np.array([-1.0, 0.0, 0.0, 2.0])
    compare(lambda B, t: B.relu(t) + abs(t) * 2.0 + B.relu(-t) * t, x)
    d = dl.tensor(np.array([0.0, 4.0]), requires_grad=True)
    t = torch.tensor([0.0, 4.0], dtype=torch.float64, requires_grad=True)
    with np.errstate(divide="ignore"):
        dl.sqrt(d).sum().backward()
    t.sqrt().sum().backward()
    np.testing.assert_array_equal(d.grad.detach().numpy(), t.grad.detach().numpy())          # [inf, 0.25]


def test_indexing_with_repeated_integer_indices_matches_torch(rng):
    x = rng.standard_normal((5, 3))
    rows = np.array([0, 4, 4, 4, 1, -1])
    compare(lambda B, t: B.index(t, rows) ** 2.0, x)
    compare(lambda B, t: B.index(t, (rows, np.array([0, 2, 2, 2, 1, 2]))) * 3.0, x)
    compare(lambda B, t: B.index(B.index(t, rows), (slice(None), [1, 1])) ** 3.0, x)


def test_where_with_broadcasting_matches_torch(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    compare(lambda B, a, b: B.where(a > b, a * b, b ** 2.0), x, y)
    compare(lambda B, a, b: B.where(B.tensor(np.array([True, False, True, False])), a, b), x, y)


def test_logsumexp_of_an_all_minus_inf_row_matches_torch():
    x = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    d = dl.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        yd = dl.logsumexp(d, axis=1)
        yd.sum().backward()
    yt = torch.logsumexp(t, dim=1)
    yt.sum().backward()
    np.testing.assert_array_equal(yd.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(d.grad.detach().numpy(), t.grad.detach().numpy(), equal_nan=True)


# --------------------------------------------------------------------------- second derivatives

@pytest.mark.parametrize("fn", ["tanh", "sigmoid", "softmax", "log_softmax", "logsumexp", "exp_log"])
def test_second_derivatives_match_torch(fn, rng):
    x = rng.standard_normal((3, 4))
    f = {"tanh": lambda B, t: B.tanh(t),
         "sigmoid": lambda B, t: B.sigmoid(t) * t,
         "softmax": lambda B, t: B.softmax(t, 0),
         "log_softmax": lambda B, t: B.log_softmax(t, -1),
         "logsumexp": lambda B, t: B.logsumexp(t, 1) ** 2.0,
         "exp_log": lambda B, t: B.log(B.exp(t) + 1.0) / B.sqrt(t * t + 2.0)}[fn]
    compare(f, x)
    # and the full Hessian of the weighted sum, entry by entry, through create_graph=True
    d, t = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    w = rng.standard_normal(tuple(f(T, t).shape))
    (gd,) = dl.grad((f(DL, d) * dl.tensor(w)).sum(), d, create_graph=True)
    (gt,) = torch.autograd.grad((f(T, t) * torch.tensor(w)).sum(), t, create_graph=True)
    for idx in [(0, 0), (1, 2), (2, 3)]:
        (hd,) = dl.grad(gd[idx], d, retain_graph=True)
        (ht,) = torch.autograd.grad(gt[idx], t, retain_graph=True)
        np.testing.assert_allclose(hd.detach().numpy(), ht.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_third_derivative_of_tanh_matches_torch():
    x = np.array([-1.3, 0.2, 0.9])
    d, t = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gd, gt = dl.tanh(d).sum(), torch.tanh(t).sum()
    for _ in range(3):
        (gd,) = dl.grad(gd, d, create_graph=True)
        (gt,) = torch.autograd.grad(gt, t, create_graph=True)
        np.testing.assert_allclose(gd.detach().numpy(), gt.detach().numpy(), rtol=1e-10)
        gd, gt = gd.sum(), gt.sum()


# --------------------------------------------------------------------------- random expression fuzzer

UNARY_OPS = [
    lambda B, a: B.exp(B.tanh(a)),
    lambda B, a: B.log(abs(a) + 1.0),
    lambda B, a: B.sqrt(a * a + 1.0),
    lambda B, a: B.sigmoid(a),
    lambda B, a: B.tanh(a),
    lambda B, a: B.relu(a),
    lambda B, a: abs(a),
    lambda B, a: -a,
    lambda B, a: B.clip(a, -1.0, 1.0),
    lambda B, a: a ** 2.0,
    lambda B, a: B.softmax(a, -1),
    lambda B, a: B.log_softmax(a, -1),
    lambda B, a: B.logsumexp(a, -1, True),
    lambda B, a: B.amax(a, -1, True),
    lambda B, a: B.amin(a, 0, True),
    lambda B, a: B.mean(a, -1, True),
    lambda B, a: B.sum(a, 0, True),
    lambda B, a: a * 0.5 + 1.0,
]
BINARY_OPS = [
    lambda B, a, b: a + b,
    lambda B, a, b: a - b,
    lambda B, a, b: a * b,
    lambda B, a, b: a / (abs(b) + 1.0),
    lambda B, a, b: B.maximum(a, b),
    lambda B, a, b: B.where(a > b, a, b * 2.0),
    lambda B, a, b: (B.tanh(a) + 2.0) ** B.tanh(b),
    lambda B, a, b: B.sum(B.reshape(a, -1)) * b if a.ndim else a * b,
]


@given(program=st.lists(st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
                        min_size=1, max_size=12),
       seed=st.integers(0, 2 ** 32 - 1))
def test_random_expressions_match_torch(program, seed):
    """A random program over inputs of shapes (3, 4), (4,), (3, 1): each step applies a random op to
    random earlier results (all shapes stay broadcastable to (3, 4)); the output sums them all."""
    def run(B, *inputs):
        pool = list(inputs)
        for binary, op, i, j in program:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if binary:
                pool.append(BINARY_OPS[op % len(BINARY_OPS)](B, a, b))
            else:
                pool.append(UNARY_OPS[op % len(UNARY_OPS)](B, a))
        out = pool[0] * 0.0
        for p in pool:
            out = out + p
        return out

    rs = np.random.default_rng(seed)
    compare(run, rs.standard_normal((3, 4)), rs.standard_normal(4), rs.standard_normal((3, 1)), seed=seed)


# --------------------------------------------------------------------------- dtype rules

@pytest.mark.parametrize("make", [
    lambda m: m.tensor(1.5),
    lambda m: m.tensor([1, 2]),
    lambda m: m.tensor([1.0, 2]),
    lambda m: m.tensor([[1, 2], [3, 4.5]]),
    lambda m: m.tensor(3),
    lambda m: m.tensor(True),
    lambda m: m.tensor(np.array([1.0, 2.0])),                  # NumPy arrays keep their dtype
    lambda m: m.tensor(np.array([1, 2], dtype=np.int32)),
    lambda m: m.tensor(np.float64(2.5)),
    lambda m: m.tensor(1.5) * 2.0,                              # float32 stays float32 with Python numbers
    lambda m: m.tensor(1.5) + 2,
    lambda m: m.tensor([1, 2]) * 3,
    lambda m: m.tensor([1, 2]).sum(),
    lambda m: m.tensor(1.5) + m.tensor(np.array(2.0)),         # float32 + float64 -> float64
    lambda m: m.tensor([1.0, 2.0]).double(),
    lambda m: m.tensor(np.array([1.0, 2.0])).float(),
    lambda m: m.tensor([1.0, 2.0]).mean(),
    lambda m: m.zeros(2, 3),
    lambda m: m.ones(2),
    lambda m: m.arange(5),
    lambda m: m.tensor([1.0, 2.0]) > 1.0,
], ids=lambda f: None)
def test_dtype_rules_match_torch(make):
    d, t = make(dl), make(torch)
    assert str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(d.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.asarray(d.detach().numpy()), t.detach().numpy())


def test_int_tensor_with_python_float_is_float32_like_torch():
    assert (dl.tensor([1, 2]) + 1.5).dtype == np.float32
    assert (dl.tensor([1, 2]) * 0.5).dtype == np.float32


def test_int_division_is_float32_like_torch():
    assert (dl.tensor([1, 2]) / dl.tensor([2, 2])).dtype == np.float32


def test_arange_with_floats_is_float32_like_torch():
    assert dl.arange(0.0, 1.0, 0.25).dtype == np.float32


@pytest.mark.parametrize("value", [[0.0], 0.0, 2.0])
def test_truth_value_of_a_one_element_tensor_matches_torch(value):
    assert bool(dl.tensor(value)) == bool(torch.tensor(value))


def test_pow_gradient_for_the_exponent_at_a_zero_base_matches_torch():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([2.0, 2.0, 2.0])
    d = [dl.tensor(x, requires_grad=True), dl.tensor(y, requires_grad=True)]
    t = [torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)]
    with np.errstate(divide="ignore", invalid="ignore"):
        (d[0] ** d[1]).sum().backward()
    (t[0] ** t[1]).sum().backward()
    np.testing.assert_array_equal(d[0].grad.detach().numpy(), t[0].grad.detach().numpy())
    np.testing.assert_array_equal(d[1].grad.detach().numpy(), t[1].grad.detach().numpy())
