"""PyTorch's data model on deeplearning101: `.data`, `numpy()`, copies and shares, in-place ops and their autograd
rules (version counters), per-thread grad mode, dtypes and type promotion, and the errors that replaced silent
wrong answers. Parity with torch where it is installed (the oracle, never a dependency)."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

import deeplearning101 as dl

try:
    import torch
except ImportError:                                 # the parity tests below skip themselves
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

floats = st.floats(-10, 10, allow_nan=False, width=32)
small = st.lists(floats, min_size=1, max_size=6).map(lambda v: np.array(v, np.float32))


# --------------------------------------------------------------------------- .data, numpy(), copies and shares

def test_data_is_a_detached_tensor_sharing_storage():
    w = dl.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, dl.Tensor) and not d.requires_grad and d.is_leaf
    d[0] = 5.0                                      # writes through to w, as in PyTorch
    assert w.tolist() == [5.0, 2.0]
    w.data = dl.tensor([7.0, 8.0, 9.0])             # replaces the storage, shape included
    assert w.shape == (3,) and w.requires_grad
    with pytest.raises(TypeError, match="data: expected a Tensor"): w.data = np.ones(3)


def test_numpy_shares_memory_and_refuses_grad():
    t = dl.tensor([1.0, 2.0])
    a = t.numpy()
    a[0] = 9.0
    assert t[0].item() == 9.0
    w = dl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"): w.numpy()
    assert w.detach().numpy().tolist() == [1.0]


def test_tensor_copies_from_numpy_shares():
    a = np.zeros(3, np.float32)
    t, f, s = dl.tensor(a), dl.from_numpy(a), dl.as_tensor(a)
    a[0] = 1.0
    assert t[0].item() == 0.0 and f[0].item() == 1.0 and s[0].item() == 1.0
    p = dl.nn.Parameter(a)
    a[1] = 2.0
    assert p[1].item() == 0.0, "Parameter(ndarray) must copy"


def test_reductions_give_zero_dim_arrays_and_zero_dim_tensors_do_not_iterate():
    m = dl.tensor([1.0, 2.0]).mean()
    assert np.asarray(m).shape == () and isinstance(m.numpy(), np.ndarray)
    assert f"{m:.2f}" == "1.50"
    with pytest.raises(TypeError, match="0-d"): list(dl.tensor(3.0))
    with pytest.raises(TypeError, match="0-d"): sum(dl.tensor(3.0))
    with pytest.raises(TypeError, match="0-d"): len(dl.tensor(3.0))
    assert [x.item() for x in dl.tensor([1.0, 2.0])] == [1.0, 2.0]


# --------------------------------------------------------------------------- in-place ops

def test_manual_update_changes_the_same_leaf():
    "`with no_grad(): p -= lr * p.grad` (the most common PyTorch update) trains; it used to rebind silently."
    w = dl.tensor([1.0, -2.0], requires_grad=True)
    w0 = w
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with dl.no_grad(): w -= 0.25 * w.grad
        w.grad = None
    assert w is w0 and w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), np.array([1.0, -2.0]) * 0.5 ** 3)


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "zero_", "fill_", "clamp_", "__iadd__", "setitem"])
def test_in_place_on_a_leaf_that_requires_grad_raises(op):
    w = dl.tensor([1.0, 2.0], requires_grad=True)
    call = {"zero_": lambda: w.zero_(), "fill_": lambda: w.fill_(1.0), "clamp_": lambda: w.clamp_(0, 1),
            "__iadd__": lambda: w.__iadd__(1.0), "setitem": lambda: w.__setitem__(0, 3.0)}.get(op, lambda: getattr(w, op)(2.0))
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"): call()
    with dl.no_grad(): call()                       # allowed outside grad mode


def test_a_value_changed_in_place_before_backward_raises():
    w = dl.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with dl.no_grad(): w -= 1.0                     # an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"): y.backward()


def test_a_view_shares_the_version_of_its_base():
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x.exp()                                     # exp keeps its output for the rule
    v = h.detach()[1:]
    v.mul_(2.0)                                     # writes h's memory through a view
    assert h._version == 1 and v._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"): h.sum().backward()


def test_in_place_on_a_non_leaf_is_recorded():
    x = dl.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2.0
    h += 1.0
    h.relu_()
    h2 = h * x
    h2.mul_(3.0)
    h2.sum().backward()
    xs = np.array([1.0, -2.0, 3.0])
    want = 3 * np.where(2 * xs + 1 > 0, (2 * xs + 1) + 2 * xs, 0.0)  # d/dx [3 relu(2x + 1) x]
    np.testing.assert_allclose(x.grad.numpy(), want)
    # relu_ keeps its output for backward: changing it again in place is refused (PyTorch)
    x.grad = None
    h = x * 2.0
    h.relu_()
    h.mul_(x)
    with pytest.raises(RuntimeError, match="the output of 'relu'"):
        h.sum().backward()


def test_setitem_and_copy_are_differentiable():
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = dl.tensor(5.0, requires_grad=True)
    h = x * 1.0
    h[1] = v * 2.0
    (h * dl.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 100.0] and v.grad.item() == 20.0
    a, s = dl.zeros(2, 3), dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a.copy_(s)
    a.sum().backward()
    assert s.grad.tolist() == [2.0, 2.0, 2.0]


def test_in_place_dtype_and_shape_rules():
    i = dl.tensor([1, 2])
    with pytest.raises(RuntimeError, match="add_"): i += 1.5          # float result into an integer tensor
    with pytest.raises(RuntimeError, match="add_"): dl.zeros(3).add_(dl.ones(2, 3))
    with pytest.raises(RuntimeError, match="in-place"): dl.ones(2, 2).__imatmul__(dl.ones(2, 2))


@given(a=small, b=st.floats(-3, 3, allow_nan=False, width=32), n=st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_in_place_ops_agree_with_their_out_of_place_forms_and_count_versions(a, b, n):
    t = dl.tensor(a)
    v0 = t._version
    want = a.copy()
    for _ in range(n):
        t.add_(b); want = want + np.float32(b)
        t.mul_(0.5); want = want * np.float32(0.5)
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-5, atol=1e-5)
    assert t._version == v0 + 2 * n


@given(a=small)
@settings(max_examples=40, deadline=None)
def test_in_place_backward_matches_the_out_of_place_graph(a):
    x1, x2 = dl.tensor(a, requires_grad=True), dl.tensor(a, requires_grad=True)
    h = x1 * 3.0
    h.sub_(x1 * x1).tanh_()
    h.sum().backward()
    ((x2 * 3.0 - x2 * x2).tanh()).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- grad mode

def test_no_grad_enable_grad_set_grad_enabled_as_decorators():
    @dl.no_grad()
    def f(): return dl.is_grad_enabled()

    @dl.no_grad()
    def g():
        yield dl.is_grad_enabled()
        yield dl.is_grad_enabled()

    @dl.set_grad_enabled(False)
    def h(): return dl.is_grad_enabled()

    assert f() is False and list(g()) == [False, False] and h() is False and dl.is_grad_enabled()
    with dl.no_grad():
        with dl.enable_grad(): assert dl.is_grad_enabled()
        assert not dl.is_grad_enabled()
    dl.set_grad_enabled(False)                      # a plain call: takes effect at once
    try: assert not dl.is_grad_enabled()
    finally: dl.set_grad_enabled(True)
    assert dl.is_grad_enabled()


def test_a_generator_under_no_grad_restores_the_callers_mode_between_yields():
    @dl.no_grad()
    def gen():
        for i in range(3): yield dl.is_grad_enabled()
    it = gen()
    assert next(it) is False and dl.is_grad_enabled()
    assert next(it) is False and dl.is_grad_enabled()


def test_grad_mode_is_per_thread():
    w = dl.tensor([1.0], requires_grad=True)
    inside, seen = threading.Event(), {}
    release = threading.Event()

    def other():
        with dl.no_grad():
            inside.set(); release.wait(5)
            seen["other"] = (w * 2).requires_grad

    t = threading.Thread(target=other); t.start()
    inside.wait(5)
    seen["main"] = (w * 2).requires_grad             # the other thread's no_grad doesn't reach us
    release.set(); t.join()
    assert seen == {"main": True, "other": False}


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    barrier = threading.Barrier(2)
    def work():
        with dl.no_grad():
            barrier.wait(5)
        barrier.wait(5)
    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert dl.is_grad_enabled()
    results = []
    def check(): results.append(dl.is_grad_enabled())
    t = threading.Thread(target=check); t.start(); t.join()
    assert results == [True]


# --------------------------------------------------------------------------- dtypes

def test_dtypes_are_objects_with_pytorch_names():
    assert dl.float is dl.float32 and dl.double is dl.float64 and dl.long is dl.int64 and dl.half is dl.float16
    assert dl.int is dl.int32 and dl.bool == np.bool_
    t = dl.tensor([1.5, 2.5])
    assert t.dtype == dl.float32 == np.float32 and repr(t.dtype) == "dl.float32"
    assert t.double().dtype == dl.float64 and t.long().dtype == dl.int64 and t.int().dtype == dl.int32
    assert t.bool().dtype == dl.bool and t.half().dtype == dl.float16 and t.to(dl.float64).dtype == dl.float64
    assert t.type(dl.int64).dtype == dl.int64 and t.float() is t
    assert dl.zeros(2, dtype=dl.int64).dtype == dl.int64 and np.zeros(2, dl.float16).dtype == np.float16
    with pytest.raises(TypeError, match="not a dtype"): dl.tensor([1.0], dtype="foo")


def test_a_cast_to_integers_leaves_the_graph():
    x = dl.tensor([1.4, 2.6], requires_grad=True)
    for y in (x.long(), x.type(np.int32), x.to(dl.int64), x.bool()):
        assert not y.requires_grad and y.is_leaf
    y = x.double()
    assert y.requires_grad and not y.is_leaf


def test_complex_tensors_are_refused():
    with pytest.raises(TypeError, match="complex"): dl.tensor(np.ones(2, complex))
    with pytest.raises(TypeError, match="complex"): dl.from_numpy(np.ones(2, np.complex64))


PROMOTION_CASES = [
    ("float32 ** int64", lambda m: m.tensor([1.5, 2.0]) ** m.tensor([2, 3])),
    ("float32 + int64", lambda m: m.tensor([1.5]) + m.tensor([2])),
    ("int64 + python float", lambda m: m.tensor([1, 2]) + 1.5),
    ("float16 * python float", lambda m: m.tensor([1.0], dtype=m.float16) * 2.5),
    ("int32 + python int", lambda m: m.tensor([1], dtype=m.int32) + 7),
    ("bool + python int", lambda m: m.tensor([True, False]) + 3),
    ("float32 + 0-d float64", lambda m: m.tensor([1.0]) + m.tensor(2.0, dtype=m.float64)),
    ("int64 + 0-d float64", lambda m: m.tensor([1]) + m.tensor(2.0, dtype=m.float64)),
    ("float32 + float64", lambda m: m.tensor([1.0]) + m.tensor([2.0], dtype=m.float64)),
    ("uint8 + int8", lambda m: m.tensor([1], dtype=m.uint8) + m.tensor([2], dtype=m.int8)),
    ("int32 / int32", lambda m: m.tensor([1], dtype=m.int32) / m.tensor([2], dtype=m.int32)),
    ("int64 * bool", lambda m: m.tensor([3]) * m.tensor([True])),
]


@needs_torch
@pytest.mark.parametrize("name,f", PROMOTION_CASES, ids=[c[0] for c in PROMOTION_CASES])
def test_type_promotion_matches_torch(name, f):
    d, t = f(dl), f(torch)
    assert str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], name
    np.testing.assert_allclose(np.asarray(d, np.float64), t.double().numpy())


@needs_torch
def test_matmul_of_two_dtypes_raises_as_in_torch():
    with pytest.raises(TypeError, match="matmul: expected both operands to have the same dtype"):
        dl.ones(2, 3) @ dl.ones(3, 2, dtype=dl.float64)
    with pytest.raises(RuntimeError): torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)


# --------------------------------------------------------------------------- former silent failures

def test_gradcheck_fails_on_a_wrong_rule_even_with_a_nan_entry():
    class Bad(dl.Op):
        name = "bad"
        def forward(self, a): return np.sqrt(a)
        def backward(self, grad, out, a): return (grad * 7.0 / (out * 2),)
    x = dl.tensor([-1.0, 4.0, 9.0], dtype=dl.float64, requires_grad=True)   # sqrt(-1) is NaN
    with pytest.raises(dl.GradcheckError):
        dl.gradcheck(lambda t: Bad.apply(t), x)


def test_max_backward_sends_the_gradient_to_the_nan():
    x = dl.tensor([1.0, float("nan"), 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_float16_mean_accumulates_in_float32():
    x = dl.full((10_000,), 10.0, dtype=dl.float16)
    assert x.mean().item() == 10.0 and x.mean().dtype == dl.float16      # NumPy's float16 sum gives inf
    assert np.isinf(x.sum().item()) and x.sum().dtype == dl.float16       # 100,000 > 65,504, as in torch
    assert dl.mse_loss(x, dl.zeros(10_000, dtype=dl.float16)).item() == 100.0


def test_a_retained_gradient_does_not_share_memory_with_a_leaf_gradient():
    a = dl.tensor([1.0, 2.0], requires_grad=True)
    h = a * 1.0
    h.retain_grad()
    (h + 0.0).sum().backward()
    assert not np.shares_memory(h.grad.numpy(), a.grad.numpy())
    a.grad.zero_()
    assert h.grad.tolist() == [1.0, 1.0]


def test_mean_of_an_empty_tensor_is_nan_with_an_empty_gradient():
    e = dl.zeros(0, requires_grad=True)
    m = e.mean()
    assert np.isnan(m.item())
    m.backward()
    assert e.grad.shape == (0,)


def test_compute_gradients_after_a_session_run_says_what_to_do():
    x = dl.placeholder("x")
    w = dl.Variable(np.ones((3, 1)), name="w")
    J = ((x @ w) ** 2).mean()
    dl.Session().run(J, {x: np.ones((2, 3))})
    with pytest.raises(RuntimeError, match="placeholder 'x'.*inside a run"): dl.compute_gradients(J)


@pytest.mark.parametrize("call,kind,match", [
    (lambda: dl.transpose(dl.ones(2, 2), 0, 5), IndexError, "transpose: dimension out of range"),
    (lambda: dl.tensor(3.0).permute(0), ValueError, "permute"),
    (lambda: dl.ones(2) + None, TypeError, "add: "),
    (lambda: dl.ones(2) * "abc", TypeError, "mul: "),
    (lambda: dl.tensor([1.0], dtype="foo"), TypeError, "tensor: 'foo' is not a dtype"),
    (lambda: dl.zeros(-1), RuntimeError, "zeros: .*negative dimension"),
    (lambda: dl.randn(2.5), TypeError, "randn: the size must be integers"),
    (lambda: dl.ones("a"), TypeError, "ones: the size must be integers"),
    (lambda: dl.ones(2).item(), RuntimeError, "item: a tensor with 2 elements"),
    (lambda: dl.exp("x"), TypeError, "exp: expected a tensor"),
])
def test_bad_input_gets_an_error_that_names_the_op(call, kind, match):
    with pytest.raises(kind, match=match): call()


def test_functions_accept_array_likes():
    assert dl.exp([0.0]).tolist() == [1.0]
    assert dl.relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]


# --------------------------------------------------------------------------- creation and randomness

def test_generators_make_random_draws_reproducible():
    g1, g2 = dl.Generator().manual_seed(3), dl.Generator().manual_seed(3)
    assert dl.randn(4, generator=g1).tolist() == dl.randn(4, generator=g2).tolist()
    dl.manual_seed(5); a = dl.rand(3)
    dl.manual_seed(5); b = dl.rand(3)
    assert a.tolist() == b.tolist()
    r = dl.randint(0, 10, (100,), generator=g1)
    assert r.dtype == dl.int64 and 0 <= r.min().item() and r.max().item() < 10
    assert sorted(dl.randperm(6, generator=g1).tolist()) == list(range(6))
    m = dl.multinomial(dl.tensor([0.0, 1.0, 0.0]), 4, replacement=True, generator=g1)
    assert m.tolist() == [1, 1, 1, 1]
    assert set(dl.bernoulli(dl.full((50,), 0.5), generator=g1).tolist()) <= {0.0, 1.0}


@needs_torch
def test_creation_functions_match_torch_shapes_and_dtypes():
    cases = [lambda m: m.zeros(2, 3), lambda m: m.ones((2,), dtype=m.int64), lambda m: m.full((2, 2), 7),
             lambda m: m.full((2,), 1.5), lambda m: m.eye(3), lambda m: m.arange(5),
             lambda m: m.arange(0, 1, 0.25), lambda m: m.linspace(0, 1, 5), lambda m: m.logspace(0, 2, 3),
             lambda m: m.zeros_like(m.ones(2, dtype=m.int32)), lambda m: m.full_like(m.ones(2), 3)]
    for f in cases + [lambda m: m.empty(3, 1)]:                  # empty: shape and dtype only
        d, t = f(dl), f(torch)
        assert tuple(d.shape) == tuple(t.shape) and str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        if f in cases: np.testing.assert_allclose(np.asarray(d, np.float64), t.double().numpy(), rtol=1e-6)


def test_pytorch_features_out_of_scope_say_so():
    for get in (lambda: dl.sparse_coo_tensor, lambda: dl.complex64, lambda: dl.ones(2).to_sparse, lambda: dl.bfloat16):
        with pytest.raises(AttributeError, match="not part of deeplearning101"): get()
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"): dl.nonexistent
    assert dl.ones(2).is_sparse is False and not dl.ones(2).is_complex()


@needs_torch
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, False), (1, True), (-1, True)])
def test_max_and_min_along_a_dim_route_the_gradient_to_the_index_like_torch(dim, keepdim):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)   # ties: torch picks one index
    w = np.array([1.0, 2.0, 3.0], np.float32)[: a.shape[1 - (dim % 2)]]
    for name in ("max", "min"):
        x, t = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (dv, di), (tv, ti) = getattr(x, name)(dim, keepdim), getattr(t, name)(dim, keepdim)
        assert di.tolist() == ti.tolist() and dv.tolist() == tv.tolist()
        (dv * dl.tensor(w).reshape(dv.shape)).sum().backward()
        (tv * torch.tensor(w).reshape(tv.shape)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_comparisons_with_none_and_strings_and_gradcheck_takes_a_tuple():
    assert (dl.ones(1) != "a") is True and (dl.ones(1) == None) is False
    x = dl.tensor([1.0, 2.0], dtype=dl.float64, requires_grad=True)
    assert dl.gradcheck(lambda a: (a * a).sum(), (x,))
