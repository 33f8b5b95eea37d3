"""Property tests of every differentiable op of `deeplearning101`.

For random shapes (broadcasting included) and random float64 values kept away from
kinks and poles, each op is checked three ways:

1. its value and its gradients against the `autograd` package (an independent oracle);
2. its gradients against central differences computed here, independently of the package;
3. with the package's own `dl.gradcheck`.

Then some algebraic properties of the engine itself: gradient of sum(x*y), accumulation
of `.grad`, `no_grad`, second derivatives (`create_graph`), numerical stability, and the
TF1 face (`placeholder`, `Session`, `GradientDescentOptimizer`).
"""
import warnings

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import deeplearning101 as dl

F64 = np.float64


# --------------------------------------------------------------------------- strategies

def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def arrays(shape, lo=-3.0, hi=3.0):
    "float64 arrays with every element drawn independently (no fill value, so few accidental ties)."
    return hnp.arrays(F64, shape, elements=_floats(lo, hi), fill=st.nothing())


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)

# Broadcasting pairs named in the spec, always in the mix, plus random mutually broadcastable pairs.
FIXED_PAIRS = [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((4,), (2, 1, 4)),
               ((2, 1, 3), (4, 1))]
shape_pairs = st.one_of(
    st.sampled_from(FIXED_PAIRS),
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4).map(
        lambda s: s.input_shapes))


@st.composite
def matmul_shapes(draw):
    "Operand shapes for `@`: vectors, matrices and broadcast batches of matrices, on either side."
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=2, max_side=3)).input_shapes
    kind_a, kind_b = draw(st.sampled_from(["vec", "mat", "batch"])), draw(st.sampled_from(["vec", "mat", "batch"]))
    a = {"vec": (k,), "mat": (n, k), "batch": batch_a + (n, k)}[kind_a]
    b = {"vec": (k,), "mat": (k, m), "batch": batch_b + (k, m)}[kind_b]
    return a, b


MATMUL_FIXED = [((2, 3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
                ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]
matmul_pairs = st.one_of(st.sampled_from(MATMUL_FIXED), matmul_shapes())


def axis_args(ndim):
    "An `axis` for a reduction over `ndim` axes: None, one axis (maybe negative) or a tuple of distinct axes."
    if ndim == 0:
        return st.none()
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))
    return st.one_of(st.none(), one, several)


# --------------------------------------------------------------------------- domains

def away(x, points, gap=0.05):
    "Move every element that lies within `gap` of one of `points` (spaced > 3*gap) out to distance `gap`."
    x = np.array(x, dtype=F64)
    for p in points:
        near = np.abs(x - p) < gap
        x = np.where(near, np.where(x >= p, p + gap, p - gap), x)
    return x


def positive(u):
    return 0.2 + np.abs(u)


def nonzero(u):
    return away(u, [0.0], 0.1)


def distinct(draw, shape, spacing=0.25):
    "Values without ties (pairwise distance >= spacing - 0.1): a random permutation plus a small jitter."
    n = int(np.prod(shape, dtype=int))
    perm = np.array(draw(st.permutations(range(n))), dtype=F64)
    jitter = draw(arrays((n,), 0.0, 0.1))
    return ((perm - n / 2) * spacing + jitter).reshape(shape)


# --------------------------------------------------------------------------- autograd oracles

def anp_logsumexp(a, axis=None, keepdims=False):
    "Written out rather than autograd.scipy's, whose result for a 0-d input with keepdims=True has shape (1,)."
    m = anp.max(a, axis=axis, keepdims=True)
    s = anp.log(anp.sum(anp.exp(a - m), axis=axis, keepdims=True)) + m
    return s if keepdims else anp.squeeze(s, axis=axis) if axis is not None else anp.reshape(s, ())


def anp_where(cond, a, b):
    "autograd's own `where` does not sum its gradient over broadcast axes: written with arithmetic instead."
    c = np.asarray(cond, dtype=F64)
    return c * a + (1.0 - c) * b


# --------------------------------------------------------------------------- checkers

def _weights(shape, seed):
    "Random weights that project a (possibly non-scalar) output on a scalar."
    return np.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=F64)


def dl_value_and_grads(f, arrays_, w):
    xs = [dl.tensor(np.array(a, dtype=F64), requires_grad=True) for a in arrays_]
    out = f(*xs)
    assert isinstance(out, dl.Tensor)
    assert out.requires_grad and not out.is_leaf
    (out * dl.tensor(w)).sum().backward()
    grads = []
    for x in xs:
        assert x.grad is not None, "an input that the output depends on got no gradient"
        grads.append(np.array(x.grad.data))
    return np.array(out.data), grads


def central_differences(f, arrays_, w, eps=1e-6):
    "d/dx_i of sum(f(x) * w), by central differences, written independently of `dl.gradcheck`."
    arrays_ = [np.array(a, dtype=F64) for a in arrays_]

    def scalar():
        with dl.no_grad():
            return float(np.sum(f(*[dl.tensor(a) for a in arrays_]).data * w))

    grads = []
    for a in arrays_:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + eps
            fp = scalar()
            a[idx] = orig - eps
            fm = scalar()
            a[idx] = orig
            g[idx] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def autograd_value_and_grads(g, arrays_, w):
    arrays_ = [np.array(a, dtype=F64) for a in arrays_]
    value = g(*arrays_)
    loss = lambda *a: anp.sum(g(*a) * w)
    return np.asarray(value), [np.asarray(autograd.grad(loss, i)(*arrays_)) for i in range(len(arrays_))]


def check_op(f, g, *arrays_, seed=0, use_gradcheck=True):
    """f: the op written with `dl`; g: the same function written with `autograd.numpy`.
    Checks the value, its shape and dtype, and the gradient of every input three ways."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # no overflow / invalid value inside the op
        ref_value = np.asarray(g(*arrays_))
        w = _weights(np.shape(ref_value), seed)
        value, grads = dl_value_and_grads(f, arrays_, w)
    assert value.shape == ref_value.shape
    assert value.dtype == F64, "float64 inputs must give a float64 result"
    np.testing.assert_allclose(value, ref_value, rtol=1e-10, atol=1e-12)

    _, ref_grads = autograd_value_and_grads(g, arrays_, w)
    numeric = central_differences(f, arrays_, w)
    for i, (gr, ref, num, a) in enumerate(zip(grads, ref_grads, numeric, arrays_)):
        assert gr.shape == np.shape(a), f"grad of input {i} has shape {gr.shape}, input has {np.shape(a)}"
        assert gr.dtype == F64
        np.testing.assert_allclose(gr, ref, rtol=1e-9, atol=1e-11, err_msg=f"input {i} vs autograd")
        np.testing.assert_allclose(gr, num, rtol=1e-5, atol=1e-6, err_msg=f"input {i} vs central differences")
    if use_gradcheck:
        assert dl.gradcheck(f, *[dl.tensor(np.array(a, dtype=F64), requires_grad=True) for a in arrays_]) is True


# --------------------------------------------------------------------------- the checkers can fail

def test_checkers_reject_a_wrong_gradient():
    "An op with a deliberately wrong backward is caught by every checker used in this file."
    class Twice(dl.Op):                 # forward 2a, backward claims 3*grad
        name = "twice"
        def forward(self, a): return 2 * a
        def backward(self, grad, out, a): return (grad * 3.0,)

    x = np.array([0.5, -1.0, 2.0])
    f = lambda t: Twice.apply(t)
    with pytest.raises(dl.GradcheckError):
        dl.gradcheck(f, dl.tensor(x, requires_grad=True))
    with pytest.raises(AssertionError):
        check_op(f, lambda a: 2 * a, x, use_gradcheck=False)


# --------------------------------------------------------------------------- unary ops

def _sigmoid(a):
    return 1 / (1 + anp.exp(-a))


UNARY = {
    "neg": (lambda x: -x, lambda a: -a, None),
    "neg_fn": (dl.neg, lambda a: -a, None),
    "exp": (dl.exp, anp.exp, None),
    "exp_method": (lambda x: x.exp(), anp.exp, None),
    "log": (dl.log, anp.log, positive),
    "log_method": (lambda x: x.log(), anp.log, positive),
    "sqrt": (dl.sqrt, anp.sqrt, positive),
    "sqrt_method": (lambda x: x.sqrt(), anp.sqrt, positive),
    "abs_builtin": (abs, anp.abs, nonzero),
    "abs_method": (lambda x: x.abs(), anp.abs, nonzero),
    "relu": (dl.relu, lambda a: anp.maximum(a, 0.0), nonzero),
    "relu_method": (lambda x: x.relu(), lambda a: anp.maximum(a, 0.0), nonzero),
    "sigmoid": (dl.sigmoid, _sigmoid, None),
    "sigmoid_method": (lambda x: x.sigmoid(), _sigmoid, None),
    "tanh": (dl.tanh, anp.tanh, None),
    "tanh_method": (lambda x: x.tanh(), anp.tanh, None),
    "clip": (lambda x: x.clip(-1.0, 0.5), lambda a: anp.clip(a, -1.0, 0.5), lambda u: away(u, [-1.0, 0.5])),
    "clip_fn_min_only": (lambda x: dl.clip(x, min=-0.5), lambda a: anp.maximum(a, -0.5), lambda u: away(u, [-0.5])),
    "clamp_max_only": (lambda x: x.clamp(max=0.5), lambda a: anp.minimum(a, 0.5), lambda u: away(u, [0.5])),
    "pow_int": (lambda x: x ** 3, lambda a: a ** 3, None),
    "pow_float": (lambda x: x ** 1.5, lambda a: a ** 1.5, positive),
    "pow_negative": (lambda x: x ** -2.0, lambda a: a ** -2.0, positive),
    "rpow": (lambda x: 2.0 ** x, lambda a: 2.0 ** a, None),
    "rsub": (lambda x: 1.0 - x, lambda a: 1.0 - a, None),
    "rdiv": (lambda x: 1.0 / x, lambda a: 1.0 / a, nonzero),
    "scalar_arith": (lambda x: (x + 2.0) * 3.0 - x / 4.0, lambda a: (a + 2.0) * 3.0 - a / 4.0, None),
    "square_by_mul": (lambda x: x * x, lambda a: a * a, None),
    "double": (lambda x: x.double() * 2.0, lambda a: a * 2.0, None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_op(name, data):
    f, g, domain = UNARY[name]
    u = data.draw(arrays(data.draw(shapes)), label="u")
    x = domain(u) if domain else u
    check_op(f, g, x)


# --------------------------------------------------------------------------- binary ops, broadcasting

BINARY = {
    "add": (lambda x, y: x + y, lambda a, b: a + b, None),
    "add_fn": (dl.add, lambda a, b: a + b, None),
    "sub": (lambda x, y: x - y, lambda a, b: a - b, None),
    "sub_fn": (dl.sub, lambda a, b: a - b, None),
    "mul": (lambda x, y: x * y, lambda a, b: a * b, None),
    "mul_fn": (dl.mul, lambda a, b: a * b, None),
    "div": (lambda x, y: x / y, lambda a, b: a / b, (None, nonzero)),
    "div_fn": (dl.div, lambda a, b: a / b, (None, nonzero)),
    "pow": (lambda x, y: x ** y, lambda a, b: a ** b, (positive, None)),
    "maximum": (dl.maximum, anp.maximum, "no_ties"),
}


def _binary_inputs(data, domain):
    sa, sb = data.draw(shape_pairs, label="shapes")
    a, b = data.draw(arrays(sa), label="a"), data.draw(arrays(sb), label="b")
    if domain == "no_ties":
        gap = np.abs(np.subtract(*np.broadcast_arrays(a, b)))
        assume(np.all(gap > 1e-3))
    elif domain is not None:
        a = domain[0](a) if domain[0] else a
        b = domain[1](b) if domain[1] else b
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_broadcasting(name, data):
    f, g, domain = BINARY[name]
    a, b = _binary_inputs(data, domain)
    check_op(f, g, a, b)


@pytest.mark.parametrize("sa,sb", FIXED_PAIRS)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum"])
def test_binary_op_fixed_broadcast_pairs(name, sa, sb, rng):
    "The broadcasting pairs of the spec, every time (hypothesis only samples them)."
    f, g, domain = BINARY[name]
    a, b = rng.uniform(-2, 2, sa), rng.uniform(-2, 2, sb)
    if domain == "no_ties":
        b = b + 0.01 * np.sign(b - a.mean())            # ties have probability zero for continuous draws
    elif domain is not None:
        a = domain[0](a) if domain[0] else a
        b = domain[1](b) if domain[1] else b
    check_op(f, g, a, b)


@given(data=st.data())
def test_ops_with_ndarray_and_python_number_on_the_left(data):
    "ndarray OP Tensor and number OP Tensor go through the reflected operators (__radd__ etc.)."
    sa, sb = data.draw(shape_pairs)
    a = data.draw(arrays(sa))
    b = nonzero(data.draw(arrays(sb)))
    f = lambda y: a + y - a * y + a / y + 3.0 * y - 2.0 / y
    g = lambda y: a + y - a * y + a / y + 3.0 * y - 2.0 / y
    check_op(f, g, b)


# --------------------------------------------------------------------------- matmul

@given(shapes_ab=matmul_pairs, data=st.data())
def test_matmul(shapes_ab, data):
    sa, sb = shapes_ab
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    check_op(lambda x, y: x @ y, anp.matmul, a, b)
    check_op(dl.matmul, anp.matmul, a, b, seed=1, use_gradcheck=False)


@given(shapes_ab=matmul_pairs, data=st.data())
def test_matmul_ndarray_on_the_left(shapes_ab, data):
    sa, sb = shapes_ab
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    check_op(lambda y: a @ y, lambda y: anp.matmul(a, y), b)


# --------------------------------------------------------------------------- reductions

REDUCTIONS = {
    "sum": (lambda x, *a, **k: x.sum(*a, **k), anp.sum, False),
    "mean": (lambda x, *a, **k: x.mean(*a, **k), anp.mean, False),
    "mean_fn": (lambda x, *a, **k: dl.mean(x, *a, **k), anp.mean, False),
    "max": (lambda x, *a, **k: x.amax(*a, **k), anp.max, True),
    "min": (lambda x, *a, **k: x.amin(*a, **k), anp.min, True),
    "logsumexp": (lambda x, *a, **k: dl.logsumexp(x, *a, **k), anp_logsumexp, False),
    "logsumexp_method": (lambda x, *a, **k: x.logsumexp(*a, **k), anp_logsumexp, False),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data())
def test_reduction(name, data):
    f, g, needs_distinct = REDUCTIONS[name]
    shape = data.draw(shapes, label="shape")
    x = distinct(data.draw, shape) if needs_distinct else data.draw(arrays(shape), label="x")
    axis = data.draw(axis_args(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    style = data.draw(st.sampled_from(["numpy", "torch", "positional"]), label="style")
    if style == "numpy":
        fdl = lambda t: f(t, axis=axis, keepdims=keepdims)
    elif style == "torch":
        fdl = lambda t: f(t, dim=axis, keepdim=keepdims)
    else:
        fdl = lambda t: f(t, axis, keepdims)
    check_op(fdl, lambda a: g(a, axis=axis, keepdims=keepdims), x)


# --------------------------------------------------------------------------- softmax family

def _anp_softmax(a, axis):
    e = anp.exp(a - anp.max(a, axis=axis, keepdims=True))
    return e / anp.sum(e, axis=axis, keepdims=True)


def _anp_log_softmax(a, axis):
    return a - anp_logsumexp(a, axis=axis, keepdims=True)


SOFTMAX = {
    "softmax": (lambda x, ax: dl.softmax(x, ax), _anp_softmax),
    "softmax_dim": (lambda x, ax: dl.softmax(x, dim=ax), _anp_softmax),
    "softmax_method": (lambda x, ax: x.softmax(ax), _anp_softmax),
    "log_softmax": (lambda x, ax: dl.log_softmax(x, ax), _anp_log_softmax),
    "log_softmax_dim": (lambda x, ax: dl.log_softmax(x, dim=ax), _anp_log_softmax),
    "log_softmax_method": (lambda x, ax: x.log_softmax(ax), _anp_log_softmax),
}


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@given(data=st.data())
def test_softmax_family(name, data):
    f, g = SOFTMAX[name]
    shape = data.draw(nonscalar_shapes)
    x = data.draw(arrays(shape, -5, 5))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check_op(lambda t: f(t, axis), lambda a: g(a, axis), x)


def test_softmax_default_axis_is_last(rng):
    x = rng.standard_normal((3, 4))
    check_op(dl.softmax, lambda a: _anp_softmax(a, -1), x)
    check_op(dl.log_softmax, lambda a: _anp_log_softmax(a, -1), x)


# --------------------------------------------------------------------------- shape ops

@given(data=st.data())
def test_reshape(data):
    shape = data.draw(shapes)
    x = data.draw(arrays(shape))
    n = x.size
    target = data.draw(st.sampled_from([(n,), (-1,), tuple(reversed(shape)), (1, n), (n, 1, 1), shape + (1,)]))
    how = data.draw(st.sampled_from(["args", "tuple", "view", "fn"]))
    fdl = {"args": lambda t: t.reshape(*target), "tuple": lambda t: t.reshape(target),
           "view": lambda t: t.view(target), "fn": lambda t: dl.reshape(t, target)}[how]
    check_op(fdl, lambda a: anp.reshape(a, target), x)


@given(data=st.data())
def test_transpose_permutations(data):
    shape = data.draw(shapes)
    x = data.draw(arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check_op(lambda t: t.T, lambda a: anp.transpose(a), x)
    check_op(lambda t: dl.transpose(t), lambda a: anp.transpose(a), x, seed=1, use_gradcheck=False)
    if len(shape) != 2:        # two dims on a 2-D tensor mean a swap (tested below), not a permutation
        check_op(lambda t: t.transpose(perm), lambda a: anp.transpose(a, perm), x, seed=2)
        check_op(lambda t: t.permute(*perm), lambda a: anp.transpose(a, perm), x, seed=3, use_gradcheck=False)


@given(data=st.data())
def test_transpose_swaps_two_dims_of_a_3d_or_4d_tensor(data):
    shape = data.draw(hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=3))
    x = data.draw(arrays(shape))
    nd = len(shape)
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    check_op(lambda t: t.transpose(d0, d1), lambda a: anp.swapaxes(a, d0, d1), x)


def test_transpose_two_dims_of_a_matrix_swaps_them(rng):
    x = rng.standard_normal((2, 3))
    assert dl.tensor(x).transpose(0, 1).shape == (3, 2)
    assert dl.tensor(x).transpose(-2, -1).shape == (3, 2)


def test_permute_with_negative_axes_backward(rng):
    x = rng.standard_normal((2, 3, 4))
    check_op(lambda t: t.permute(-1, 0, 1), lambda a: anp.transpose(a, (2, 0, 1)), x, use_gradcheck=False)


@given(data=st.data())
def test_broadcast_to(data):
    shape = data.draw(shapes)
    x = data.draw(arrays(shape))
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    how = data.draw(st.sampled_from(["fn", "method"]))
    fdl = (lambda t: dl.broadcast_to(t, target)) if how == "fn" else (lambda t: t.broadcast_to(target))
    check_op(fdl, lambda a: a + anp.zeros(target), x)


@st.composite
def indices(draw, shape):
    "An index for an array of `shape` (ndim >= 1): ints, slices, None, Ellipsis, int arrays with repeats, masks."
    n0 = shape[0]
    kind = draw(st.sampled_from(["int", "slice", "int_list", "int_array", "int_tensor", "mask",
                                 "ellipsis_none", "two_arrays", "mixed"]))
    ints = st.integers(-n0, n0 - 1)
    if kind == "int":
        return draw(ints)
    if kind == "slice":
        return slice(draw(st.none() | st.integers(-n0, n0)), draw(st.none() | st.integers(-n0, n0)),
                     draw(st.sampled_from([None, 1, 2, 3])))     # negative steps: refused, as torch
    if kind in ("int_list", "int_array", "int_tensor"):
        idx = draw(st.lists(ints, min_size=1, max_size=6))          # repeats are likely
        return {"int_list": idx, "int_array": np.array(idx), "int_tensor": dl.tensor(idx)}[kind]
    if kind == "mask":
        return draw(hnp.arrays(bool, shape))
    if kind == "ellipsis_none":
        return (Ellipsis, None, slice(None, None, 2))
    if kind == "two_arrays" and len(shape) >= 2:
        k = draw(st.integers(1, 5))
        rows = np.array(draw(st.lists(ints, min_size=k, max_size=k)))
        cols = np.array(draw(st.lists(st.integers(-shape[1], shape[1] - 1), min_size=k, max_size=k)))
        return (rows, cols)
    if kind == "mixed" and len(shape) >= 2:
        return (slice(None), np.array(draw(st.lists(st.integers(0, shape[1] - 1), min_size=1, max_size=5))))
    return draw(ints)


def _np_index(idx):
    return idx.detach().numpy() if isinstance(idx, dl.Tensor) else (np.array(idx) if isinstance(idx, list) else idx)


@given(data=st.data())
def test_indexing(data):
    shape = data.draw(nonscalar_shapes)
    x = data.draw(arrays(shape))
    idx = data.draw(indices(shape), label="index")
    np_idx = _np_index(idx)
    out_size = np.asarray(x[np_idx]).size
    assume(out_size > 0)
    check_op(lambda t: t[idx], lambda a: a[np_idx], x)


def test_indexing_with_repeated_indices_accumulates(rng):
    x = rng.standard_normal(4)
    t = dl.tensor(x, requires_grad=True)
    t[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(t.grad.detach().numpy(), [3.0, 0.0, 1.0, 0.0])


@given(data=st.data())
def test_concatenate(data):
    shape = data.draw(nonscalar_shapes)
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for s in sizes:
        sh = list(shape)
        sh[axis] = s
        parts.append(data.draw(arrays(tuple(sh))))
    how = data.draw(st.sampled_from(["concatenate", "cat_dim"]))
    fdl = (lambda *ts: dl.concatenate(list(ts), axis=axis)) if how == "concatenate" else \
          (lambda *ts: dl.cat(ts, dim=axis))
    check_op(fdl, lambda *a: anp.concatenate(a, axis=axis), *parts)


@given(data=st.data())
def test_stack(data):
    shape = data.draw(shapes)
    nd = len(shape)
    axis = data.draw(st.integers(-nd - 1, nd))
    k = data.draw(st.integers(1, 3))
    parts = [data.draw(arrays(shape)) for _ in range(k)]
    check_op(lambda *ts: dl.stack(list(ts), axis=axis), lambda *a: anp.stack(a, axis=axis), *parts)
    check_op(lambda *ts: dl.stack(ts, dim=axis), lambda *a: anp.stack(a, axis=axis), *parts, seed=1,
             use_gradcheck=False)


@given(data=st.data())
def test_where(data):
    sc, sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3,
                                                             max_side=3)).input_shapes
    cond = data.draw(hnp.arrays(bool, sc))
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    how = data.draw(st.sampled_from(["ndarray", "tensor", "comparison"]))
    if how == "comparison":     # a boolean tensor made by a comparison, as in where(x > 0, ...)
        fdl = lambda x, y: dl.where(x > 0.5, x, y)
        g = lambda x, y: anp_where(np.asarray(a) > 0.5, x, y)
        a = away(a, [0.5])
    else:
        c = cond if how == "ndarray" else dl.tensor(cond)
        fdl = lambda x, y: dl.where(c, x, y)
        g = lambda x, y: anp_where(cond, x, y)
    check_op(fdl, g, a, b)


@given(data=st.data())
def test_where_with_a_python_number(data):
    shape = data.draw(shapes)
    cond = data.draw(hnp.arrays(bool, shape))
    a = data.draw(arrays(shape))
    check_op(lambda x: dl.where(cond, x, 0.0), lambda x: anp_where(cond, x, 0.0), a)
    check_op(lambda x: dl.where(cond, 1.5, x), lambda x: anp_where(cond, 1.5, x), a, seed=1)


# --------------------------------------------------------------------------- composite expressions

@given(data=st.data())
def test_composite_expression(data):
    "A small network-like expression mixing many ops, through every checker."
    n, k, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    x, w, b = data.draw(arrays((n, k))), data.draw(arrays((k, m))), data.draw(arrays((m,)))

    def fdl(x, w, b):
        h = dl.tanh(x @ w + b)
        z = dl.log_softmax(h * 2.0, axis=1) + dl.sigmoid(h).sqrt()
        return dl.logsumexp(z, axis=0) + (h.exp() / (1.0 + h * h)).mean(axis=0)

    def g(x, w, b):
        h = anp.tanh(x @ w + b)
        z = _anp_log_softmax(h * 2.0, 1) + anp.sqrt(_sigmoid(h))
        return anp_logsumexp(z, axis=0) + anp.mean(anp.exp(h) / (1.0 + h * h), axis=0)

    check_op(fdl, g, x, w, b)


# --------------------------------------------------------------------------- engine properties

@given(data=st.data())
def test_gradient_of_sum_x_times_y_is_y(data):
    shape = data.draw(shapes)
    xa, ya = data.draw(arrays(shape)), data.draw(arrays(shape))
    x, y = dl.tensor(xa, requires_grad=True), dl.tensor(ya, requires_grad=True)
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), ya)
    np.testing.assert_array_equal(y.grad.detach().numpy(), xa)


@given(data=st.data())
def test_gradient_of_sum_x_times_broadcast_y(data):
    "y of shape (n,) is broadcast over the rows of x: d/dx = y on every row, d/dy = column sums of x."
    m, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    xa, ya = data.draw(arrays((m, n))), data.draw(arrays((n,)))
    x, y = dl.tensor(xa, requires_grad=True), dl.tensor(ya, requires_grad=True)
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.broadcast_to(ya, (m, n)))
    np.testing.assert_allclose(y.grad.detach().numpy(), xa.sum(axis=0), rtol=1e-12, atol=1e-12)
    assert y.grad.shape == (n,)


@given(data=st.data())
def test_backward_accumulates_when_called_twice(data):
    shape = data.draw(shapes)
    xa = data.draw(arrays(shape))
    x = dl.tensor(xa, requires_grad=True)
    loss = (dl.tanh(x) * x + x.exp()).sum()
    loss.backward(retain_graph=True)
    g1 = x.grad.detach().numpy().copy()
    np.testing.assert_allclose(g1, np.tanh(xa) + xa * (1 - np.tanh(xa) ** 2) + np.exp(xa), rtol=1e-12)
    loss.backward()                                 # the graph was retained: a second pass works
    np.testing.assert_allclose(x.grad.detach().numpy(), 2 * g1, rtol=1e-14, atol=0)
    # a fresh graph on the same leaf accumulates too
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 2 * g1 + 3.0, rtol=1e-14, atol=1e-14)


def test_grad_does_not_touch_dot_grad_and_does_not_alias_it(rng):
    x = dl.tensor(rng.standard_normal(3), requires_grad=True)
    (x * x).sum().backward()
    before = x.grad.detach().numpy().copy()
    (gx,) = dl.grad((x * 5.0).sum(), x)
    np.testing.assert_array_equal(x.grad.detach().numpy(), before)
    np.testing.assert_array_equal(gx.detach().numpy(), np.full(3, 5.0))
    (x * 1.0).sum().backward()                      # in-place accumulation must not change gx
    np.testing.assert_array_equal(gx.detach().numpy(), np.full(3, 5.0))


def test_shared_gradient_arrays_are_not_aliased_between_leaves(rng):
    "z = x + y hands the same gradient to x and y; accumulating into x.grad must not change y.grad."
    x = dl.tensor(rng.standard_normal(3), requires_grad=True)
    y = dl.tensor(rng.standard_normal(3), requires_grad=True)
    w = dl.tensor(np.array([1.0, 2.0, 3.0]))
    ((x + y) * w).sum().backward()                  # the gradient of x + y is a fresh, writeable array
    assert x.grad is not y.grad
    (x * 2.0).sum().backward()                      # accumulates into x.grad in place
    np.testing.assert_array_equal(x.grad.detach().numpy(), [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(y.grad.detach().numpy(), [1.0, 2.0, 3.0])


def test_retain_grad_on_an_intermediate(rng):
    x = dl.tensor(rng.standard_normal(3), requires_grad=True)
    h = (x * 2.0).retain_grad()
    k = x * 3.0
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.detach().numpy(), 2 * h.detach().numpy())
    assert k.grad is None


@given(data=st.data())
def test_no_grad_records_nothing(data):
    shape = data.draw(shapes)
    xa = data.draw(arrays(shape))
    x = dl.tensor(xa, requires_grad=True)
    f = lambda t: (dl.sigmoid(t @ t.T if t.ndim == 2 else t) * 2.0).sum() + t.max()
    expected = f(x).detach().numpy()
    with dl.no_grad():
        assert not dl.is_grad_enabled()
        y = f(x)
    assert dl.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    with pytest.raises(RuntimeError):
        y.backward()
    assert x.grad is None

    @dl.no_grad()
    def decorated(t):
        return f(t)
    z = decorated(x)
    assert not z.requires_grad and z.is_leaf and dl.is_grad_enabled()
    with dl.set_grad_enabled(False):
        assert not f(x).requires_grad
    assert f(x).requires_grad


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with dl.no_grad():
            1 / 0
    assert dl.is_grad_enabled()
    with dl.no_grad():
        with dl.no_grad():
            pass
        assert not dl.is_grad_enabled()             # nesting restores the outer mode, not "on"
    assert dl.is_grad_enabled()


@given(data=st.data())
def test_second_derivative_of_tanh(data):
    xa = data.draw(arrays(data.draw(shapes)))
    x = dl.tensor(xa, requires_grad=True)
    (g,) = dl.grad(dl.tanh(x).sum(), x, create_graph=True)
    assert g.requires_grad
    t = np.tanh(xa)
    np.testing.assert_allclose(g.detach().numpy(), 1 - t ** 2, rtol=1e-12, atol=1e-15)
    (gg,) = dl.grad(g.sum(), x)
    np.testing.assert_allclose(gg.detach().numpy(), -2 * t * (1 - t ** 2), rtol=1e-10, atol=1e-14)
    assert x.grad is None, "dl.grad must not write .grad"


SECOND_ORDER = {
    "exp": (lambda x: dl.exp(x), anp.exp, None),
    "log": (lambda x: dl.log(x), anp.log, positive),
    "sqrt": (lambda x: dl.sqrt(x), anp.sqrt, positive),
    "sigmoid": (lambda x: dl.sigmoid(x), _sigmoid, None),
    "tanh": (lambda x: dl.tanh(x), anp.tanh, None),
    "pow": (lambda x: x ** 3.0, lambda a: a ** 3.0, None),
    "rpow": (lambda x: 1.5 ** x, lambda a: 1.5 ** a, None),
    "pow_tensor": (lambda x: x ** (x * 0.5), lambda a: a ** (a * 0.5), positive),
    "div": (lambda x: 1.0 / (x * x + 1.0), lambda a: 1.0 / (a * a + 1.0), None),
    "softmax": (lambda x: dl.softmax(x, -1), lambda a: _anp_softmax(a, -1), None),
    "log_softmax": (lambda x: dl.log_softmax(x, 0), lambda a: _anp_log_softmax(a, 0), None),
    "logsumexp": (lambda x: dl.logsumexp(x, axis=-1) ** 2.0, lambda a: anp_logsumexp(a, axis=-1) ** 2.0, None),
    "mean_sq": (lambda x: x.mean(axis=0) ** 2.0, lambda a: anp.mean(a, axis=0) ** 2.0, None),
    "matmul": (lambda x: x @ x.T, lambda a: a @ a.T, None),
    "index_repeat": (lambda x: x[[0, 0, -1]] ** 2.0, lambda a: a[np.array([0, 0, -1])] ** 2.0, None),
    "concat_stack": (lambda x: dl.stack([dl.concatenate([x, x * x], axis=-1), dl.concatenate([x * x, x], axis=-1)]) ** 2.0,
                     lambda a: anp.stack([anp.concatenate([a, a * a], -1), anp.concatenate([a * a, a], -1)]) ** 2.0, None),
    "where": (lambda x: dl.where(x > 0.0, x * x * x, x * x), lambda a: anp.where(a > 0.0, a * a * a, a * a), nonzero),
    "abs_relu_clip": (lambda x: abs(x) * x + dl.relu(x) ** 2.0 + x.clip(-1.0, 0.5) * x,
                      lambda a: anp.abs(a) * a + anp.maximum(a, 0.0) ** 2.0 + anp.clip(a, -1.0, 0.5) * a,
                      lambda u: away(u, [-1.0, 0.0, 0.5], 0.1)),
    "max_min": (lambda x: x.amax(axis=-1) ** 2.0 * x.min(), lambda a: anp.max(a, axis=-1) ** 2.0 * anp.min(a), "distinct"),
    "maximum": (lambda x: dl.maximum(x, x * x), lambda a: anp.maximum(a, a * a),
                lambda u: away(u, [0.0, 1.0], 0.1)),
    "broadcast_reshape_transpose": (lambda x: (dl.broadcast_to(x, (2,) + x.shape).reshape(-1) ** 2.0).sum() * x.T,
                                    lambda a: anp.sum(anp.reshape(a + anp.zeros((2,) + a.shape), -1) ** 2.0) * a.T,
                                    None),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
@given(data=st.data())
def test_second_derivatives_match_autograd(name, data):
    "Hessian-vector products through create_graph=True agree with autograd's."
    f, g, domain = SECOND_ORDER[name]
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=3))
    if domain == "distinct":
        xa = distinct(data.draw, shape)
    else:
        u = data.draw(arrays(shape, -2.0, 2.0))
        xa = domain(u) if domain else u
    rs = np.random.default_rng(7)
    w = rs.standard_normal(np.shape(g(xa)))
    v = rs.standard_normal(shape)

    x = dl.tensor(xa, requires_grad=True)
    (gx,) = dl.grad((f(x) * dl.tensor(w)).sum(), x, create_graph=True)
    (hv,) = dl.grad((gx * dl.tensor(v)).sum(), x, allow_unused=True)
    hv = np.zeros(shape) if hv is None else hv.detach().numpy()

    loss = lambda a: anp.sum(g(a) * w)
    ref_g = autograd.grad(loss)(xa)
    ref_hv = autograd.grad(lambda a: anp.sum(autograd.grad(loss)(a) * v))(xa)
    np.testing.assert_allclose(gx.detach().numpy(), ref_g, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(hv, ref_hv, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------- the two kinds of rule

def both_kinds_of_rule(f, arrays_, dtype=F64, seed=0):
    """The input gradients of sum(f(xs) * w), twice: as `backward` computes them (each op's rule on raw arrays)
    and with create_graph=True (the same rules on tensors)."""
    xs = [dl.tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays_]
    out = f(*xs)
    loss = (out * dl.tensor(_weights(out.shape, seed).astype(dtype))).sum()
    on_arrays = dl.grad(loss, xs, retain_graph=True, allow_unused=True)
    on_tensors = dl.grad(loss, xs, create_graph=True, allow_unused=True)
    return on_arrays, on_tensors


def check_both_kinds(f, *arrays_, dtype=F64):
    "The rules on arrays and the tensor rules give the same gradients, in the inputs' dtype."
    for i, (a, t) in enumerate(zip(*both_kinds_of_rule(f, arrays_, dtype))):
        assert (a is None) == (t is None), f"input {i}"
        if a is None:
            continue
        assert a.dtype == t.dtype == dtype, f"input {i}: {a.dtype} and {t.dtype}, inputs {dtype}"
        assert a.is_leaf and not a.requires_grad
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-12 if dtype == F64 else 1e-5, atol=0,
                                   err_msg=f"input {i}")


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_both_kinds_of_rule_agree_unary(name, data):
    f, _, domain = UNARY[name]
    u = data.draw(arrays(data.draw(shapes)), label="u")
    check_both_kinds(f, domain(u) if domain else u)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_both_kinds_of_rule_agree_binary(name, data):
    f, _, domain = BINARY[name]
    check_both_kinds(f, *_binary_inputs(data, domain))


@given(shapes_ab=matmul_pairs, data=st.data())
def test_both_kinds_of_rule_agree_matmul(shapes_ab, data):
    sa, sb = shapes_ab
    check_both_kinds(lambda x, y: x @ y, data.draw(arrays(sa)), data.draw(arrays(sb)))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data())
def test_both_kinds_of_rule_agree_reductions(name, data):
    f, _, needs_distinct = REDUCTIONS[name]
    shape = data.draw(shapes, label="shape")
    x = distinct(data.draw, shape) if needs_distinct else data.draw(arrays(shape), label="x")
    axis, keepdims = data.draw(axis_args(len(shape)), label="axis"), data.draw(st.booleans(), label="keepdims")
    check_both_kinds(lambda t: f(t, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@given(data=st.data())
def test_both_kinds_of_rule_agree_softmax_family(name, data):
    f, _ = SOFTMAX[name]
    shape = data.draw(nonscalar_shapes)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check_both_kinds(lambda t: f(t, axis), data.draw(arrays(shape, -5, 5)))


@given(data=st.data())
def test_both_kinds_of_rule_agree_indexing(data):
    shape = data.draw(nonscalar_shapes)
    x = data.draw(arrays(shape))
    idx = data.draw(indices(shape), label="index")
    assume(np.asarray(x[_np_index(idx)]).size > 0)
    check_both_kinds(lambda t: t[idx], x)


SHAPE_AND_MORE = {      # name: (function, input shapes); the ops the tables above do not reach
    "reshape": (lambda x: x.reshape(4, 3) ** 2.0, [(3, 4)]),
    "transpose": (lambda x: x.transpose(0, 2) * x.transpose(0, 2), [(2, 3, 4)]),
    "T": (lambda x: x.T @ x, [(3, 4)]),
    "permute": (lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "broadcast_to": (lambda x: x.broadcast_to((2, 3, 4)), [(3, 1)]),
    "concatenate": (lambda a, b: dl.concatenate([a, b], axis=1), [(3, 4), (3, 2)]),
    "stack": (lambda a, b: dl.stack([a, b], axis=1), [(3, 4), (3, 4)]),
    "where": (lambda a, b: dl.where(a > 0, a, b), [(3, 4), (4,)]),
    "where_number": (lambda a: dl.where(a > 0, 2.0, a), [(3, 4)]),
    "cast_double": (lambda a: a.double() * a.double(), [(3,)]),
    "cast_float": (lambda a: a.float() * 3.0, [(3,)]),
    "index_grad_of_grad": (lambda a: a[[0, 0, 2]] ** 2.0, [(3, 4)]),
    "mean_of_pick": (lambda a: -dl.log_softmax(a, axis=1)[np.arange(3), np.array([1, 0, 1])].mean(), [(3, 4)]),
    "mlp": (lambda x, w, b: dl.relu(x @ w + b).sum(axis=1).mean(), [(5, 3), (3, 4), (4,)]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SHAPE_AND_MORE))
def test_both_kinds_of_rule_agree_shape_ops_and_more(name, dtype, rng):
    f, in_shapes = SHAPE_AND_MORE[name]
    check_both_kinds(f, *[rng.uniform(-2, 2, s) for s in in_shapes], dtype=dtype)


def _engine_ops():
    "The op classes of chapters 00 and 01 (later chapters add fused ops of their own)."
    from deeplearning101 import autodiff, graph
    found = {c for m in (graph, autodiff) for c in vars(m).values() if isinstance(c, type) and issubclass(c, dl.Op)}
    return sorted(found - {dl.Op, graph.Reduce, autodiff._FunctionOp}, key=lambda c: c.name)   # user Functions aside


def test_every_builtin_op_has_one_rule():
    "Every op has one gradient rule (no separate array version), used by both kinds of backward."
    ops = _engine_ops()
    assert len(ops) >= 30
    for c in ops:
        assert c.backward is not dl.Op.backward, f"{c.name} has no gradient rule"
        assert getattr(c.backward, "on_arrays", None) is None, c.name
    assert not hasattr(dl, "array_gradient_of")


def test_gradcheck_checks_both_kinds_of_backward():
    class Twice(dl.Op):
        name = "twice"
        def forward(self, a): return 2 * a
        def backward(self, grad, out, a): return (grad * 2.0,)

    f = lambda t: Twice.apply(t)
    x = dl.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    assert dl.gradcheck(f, x)                       # one rule, right on arrays and on tensors

    def wrong_on_arrays(op, grad, out, a):
        return (grad * (2.0 if isinstance(grad, dl.Tensor) else 3.0),)
    Twice.backward = wrong_on_arrays
    with pytest.raises(dl.GradcheckError, match=r": backward gives"):
        dl.gradcheck(f, x)

    def wrong_on_tensors(op, grad, out, a):
        return (grad * (3.0 if isinstance(grad, dl.Tensor) else 2.0),)
    Twice.backward = wrong_on_tensors
    with pytest.raises(dl.GradcheckError, match=r"backward with create_graph=True gives"):
        dl.gradcheck(f, x)


def test_a_subclass_rule_is_used_by_both_kinds_of_backward():
    "A subclass overriding `backward` is run with its own rule, on arrays and on tensors."
    class Doubled(dl.Exp):                          # claims exp's forward, with a (wrong) rule of its own
        name = "doubled"
        def backward(self, grad, out, a): return (grad * out * 2.0,)

    x = dl.tensor(np.array([0.5, -1.0]), requires_grad=True)
    Doubled.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 2 * np.exp(x.detach().numpy()))
    g, = dl.grad(Doubled.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * np.exp(x.detach().numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaf_gradients_are_arrays_the_leaf_owns(dtype):
    "Full reductions give NumPy scalars, reshapes and indexing give views, + passes one array to both sides."
    for f in (lambda t: t * t, lambda t: t.sum() * t, lambda t: t.reshape(2, 1), lambda t: t[0] * t[1],
              lambda t: t + t, lambda t: t * dl.tensor(np.array([1.0, 2.0])), lambda t: t.mean()):
        x = dl.tensor(np.array([1.5, -2.0], dtype=dtype), requires_grad=True)
        f(x).sum().backward()
        g = x.grad.detach().numpy()
        assert type(g) is np.ndarray and g.dtype == dtype and g.shape == (2,)
        assert g.flags.owndata and g.flags.writeable
    s = dl.tensor(np.array(3.0, dtype=dtype), requires_grad=True)
    (s * s).sum().backward()
    assert type(s.grad.detach().numpy()) is np.ndarray and s.grad.detach().numpy().shape == () and s.grad.item() == 6.0


@given(data=st.data())
def test_random_graphs_backpropagate_like_autograd(data):
    """Random DAGs, each node made from two older ones picked at random, so that creation order and depth
    disagree: the backward pass (newest node first) agrees with autograd and with central differences."""
    n = data.draw(st.integers(1, 10), label="nodes")
    plan = [(data.draw(st.sampled_from(["add", "sub", "tanh_mul", "sigmoid_add"])),
             data.draw(st.integers(0, i)), data.draw(st.integers(0, i))) for i in range(n)]
    outs = data.draw(st.lists(st.integers(1, n), min_size=1, max_size=3), label="outputs")

    def build(x, tanh, sigmoid):
        nodes = [x]
        for op, i, j in plan:
            a, b = nodes[i], nodes[j]
            nodes.append({"add": lambda: a + b, "sub": lambda: a - b, "tanh_mul": lambda: tanh(a) * b,
                          "sigmoid_add": lambda: sigmoid(a) + b}[op]())
        total = nodes[outs[0]]
        for k in outs[1:]:
            total = total + nodes[k]
        return total

    check_op(lambda t: build(t, dl.tanh, dl.sigmoid), lambda a: build(a, anp.tanh, _sigmoid), data.draw(arrays((3,))))


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_sigmoid_matches_the_two_case_formula(dtype, rtol):
    "exp(-logaddexp(0, -x)) against 1/(1+e) for x >= 0 and e/(1+e) for x < 0, e = exp(-|x|), in float64."
    x = np.linspace(-80, 80, 16001).astype(dtype)
    xd = x.astype(np.float64)
    e = np.exp(-np.abs(xd))
    ref = np.where(xd >= 0, 1, e) / (1 + e)
    got = dl.sigmoid(dl.tensor(x)).detach().numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


def test_mean_of_integers_raises_as_in_torch():
    with pytest.raises(RuntimeError, match=r"mean: .*floating point"): dl.tensor([1, 2, 3]).mean()
    assert dl.tensor([1, 2, 3]).float().mean().item() == 2.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_matches_numpy(dtype, rng):
    a = (rng.standard_normal((2, 3, 4)) * 10).astype(dtype)
    for axis in (None, 0, -1, (0, 2), (0, 1, 2)):
        for keepdims in (False, True):
            got = dl.tensor(a).mean(axis=axis, keepdims=keepdims).detach().numpy()
            want = np.mean(a, axis=axis, keepdims=keepdims)
            assert np.shape(got) == np.shape(want) and np.result_type(got) == np.result_type(want)
            np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12)


# --------------------------------------------------------------------------- numerical stability

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_is_finite_at_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for f in (lambda t: dl.softmax(t, axis=1), lambda t: dl.log_softmax(t, axis=1),
                  lambda t: dl.logsumexp(t, axis=1)):
            x = dl.tensor(logits, requires_grad=True)
            y = f(x)
            assert y.dtype == dtype
            assert np.all(np.isfinite(y.detach().numpy())), y
            (y * dl.tensor(np.arange(y.numel(), dtype=dtype).reshape(y.shape))).sum().backward()
            assert np.all(np.isfinite(x.grad.detach().numpy())), x.grad
    sm = dl.softmax(dl.tensor(logits), axis=1).detach().numpy()
    np.testing.assert_allclose(sm, [[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0]], atol=1e-7)
    lsm = dl.log_softmax(dl.tensor(logits), axis=1).detach().numpy()
    np.testing.assert_allclose(lsm, [[0, -2e4, -1e4], [-2e4, -2e4, 0], [-np.log(2), -np.log(2), -2e4 - np.log(2)]], rtol=1e-6)
    lse = dl.logsumexp(dl.tensor(logits), axis=1).detach().numpy()
    np.testing.assert_allclose(lse, [1e4, 1e4, 1e4 + np.log(2)], rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_at_plus_minus_1000(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = dl.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype), requires_grad=True)
        y = dl.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.detach().numpy()))
    np.testing.assert_allclose(y.detach().numpy(), [0.0, np.exp(-50.0) / (1 + np.exp(-50.0)), 0.5, 1.0, 1.0], rtol=1e-6,
                               atol=0)
    assert y.detach().numpy()[0] >= 0 and y.detach().numpy()[-1] <= 1
    np.testing.assert_allclose(x.grad.detach().numpy(), [0.0, np.exp(-50.0), 0.25, 0.0, 0.0], rtol=1e-5, atol=1e-30)


# --------------------------------------------------------------------------- the TF1 face

@given(data=st.data())
def test_session_run_matches_eager_evaluation(data):
    n, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    feed = data.draw(arrays((n, k)))
    wa = data.draw(arrays((k, 2)))
    x = dl.placeholder("x")
    W = dl.Variable(wa)
    y = dl.log_softmax(dl.tanh(x @ W) * 2.0, axis=1).sum(axis=0)
    with dl.Session() as sess:
        out = sess.run(y, feed_dict={x: feed})
        out2, wv = sess.run([y, W], feed_dict={x: feed * 2.0})
    eager = dl.log_softmax(dl.tanh(dl.tensor(feed) @ dl.tensor(wa)) * 2.0, axis=1).sum(axis=0)
    np.testing.assert_allclose(out, eager.detach().numpy(), rtol=1e-12)
    eager2 = dl.log_softmax(dl.tanh(dl.tensor(feed * 2.0) @ dl.tensor(wa)) * 2.0, axis=1).sum(axis=0)
    np.testing.assert_allclose(out2, eager2.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(wv, wa)
    assert x._data is None and x.data is None, "the placeholder must be emptied after run"


def test_session_run_leaves_no_stale_values():
    x = dl.placeholder("x")
    y = x * 2.0                             # nothing requires grad: no op recorded on a value
    sess = dl.Session()
    np.testing.assert_array_equal(sess.run(y, {x: np.array([1.0])}), [2.0])
    assert y._data is None and repr(y) == "tensor(<no value yet>, op='mul')"
    z = y + 1.0                             # built after the run: recorded, not computed
    np.testing.assert_array_equal(sess.run(z, {x: np.array([5.0])}), [11.0])
    assert z._data is None and x._data is None


def test_session_run_with_a_python_float_constant_matches_eager_float64():
    feed = np.array([1.0, 2.0, 3.0])
    x = dl.placeholder("x")
    out = dl.Session().run(x * 0.1, {x: feed})
    np.testing.assert_array_equal(out, (dl.tensor(feed) * 0.1).detach().numpy())       # [0.1, 0.2, 0.3] in float64


@given(data=st.data())
def test_gradient_descent_step_is_w_minus_lr_grad(data):
    n = data.draw(st.integers(1, 4))
    feed, target = data.draw(arrays((n, 3))), data.draw(arrays((n,)))
    w0, b0 = data.draw(arrays((3,))), data.draw(arrays(()))
    lr = data.draw(st.sampled_from([0.01, 0.1, 0.5]))
    x, t = dl.placeholder("x"), dl.placeholder("t")
    W, b = dl.Variable(w0.copy(), name="W"), dl.Variable(b0.copy(), name="b")
    loss = (((x @ W + b) - t) ** 2.0).mean()
    train = dl.GradientDescentOptimizer(lr).minimize(loss)
    with dl.Session() as sess:
        l0 = sess.run(loss, {x: feed, t: target})
        sess.run(train, {x: feed, t: target})
    r = feed @ w0 + b0 - target
    gw, gb = 2 * feed.T @ r / n, 2 * r.mean()
    np.testing.assert_allclose(l0, np.mean(r ** 2), rtol=1e-12)
    np.testing.assert_allclose(W.detach().numpy(), w0 - lr * gw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), b0 - lr * gb, rtol=1e-10, atol=1e-12)
