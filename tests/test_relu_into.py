"""ReLU's in-place gradient rule (`backward_into`, chapter 01) runs only when the engine alone holds the adjoint.

Hypothesis builds small graphs in which ReLU's adjoint is shared in each way it can be (a leaf added to the ReLU's
output, the ReLU's output used twice, a hook that keeps its gradient, a retained grad, a second backward through a
kept graph), runs the same program on deeplearning101 and on PyTorch, and compares every gradient and every kept
gradient. Skipped when torch is not installed."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deeplearning101 as dl
from deeplearning101 import autodiff
from deeplearning101.graph import ReLU

torch = pytest.importorskip("torch")


def program(lib, x0, b0, c, share, twice):
    x = lib.tensor(x0, requires_grad=True)
    b = lib.tensor(b0, requires_grad=True)
    kept = []
    h = x * c
    r = lib.relu(h)
    if share == 'hook': r.register_hook(lambda g: kept.append(g))
    if share == 'retain': r.retain_grad()
    if share == 'leaf': y = r + b               # `+` hands one array to r and to b
    elif share == 'twice': y = r * r + r        # r's adjoint is the sum of two
    else: y = r * b
    loss = (y * lib.tensor(np.linspace(-1, 2, x0.size, dtype=np.float32).reshape(x0.shape))).sum()
    loss.backward(retain_graph=twice)
    if twice: loss.backward()
    out = [x.grad, b.grad] + kept + ([r.grad] if share == 'retain' else [])
    return [None if t is None else t.detach().numpy().copy() for t in out]


@pytest.fixture(autouse=True)
def every_size():
    "The engine writes in place only into adjoints of 64 KiB or more: here, into any (small graphs, same rules)."
    saved, autodiff._INPLACE_BYTES = autodiff._INPLACE_BYTES, 0
    yield
    autodiff._INPLACE_BYTES = saved


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from([(3,), (2, 3), (4, 1, 2)]), seed=st.integers(0, 2**16),
       c=st.sampled_from([1.0, -0.5, 2.0]), share=st.sampled_from(['none', 'leaf', 'twice', 'hook', 'retain']),
       twice=st.booleans())
def test_relu_adjoint_shared_or_not_matches_torch(shape, seed, c, share, twice):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape).astype(np.float32)
    b0 = rng.standard_normal(shape).astype(np.float32)
    ours = program(dl, x0, b0, c, share, twice)
    theirs = program(torch, x0, b0, c, share, twice)
    assert len(ours) == len(theirs)
    for a, e in zip(ours, theirs):
        assert (a is None) == (e is None)
        if a is not None: np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_in_place_rule_is_used_on_a_training_step():
    "The common case (relu of a product, its adjoint a fresh array from matmul's rule) takes the in-place rule."
    calls, into = [], ReLU.backward_into
    ReLU.backward_into = lambda *args: calls.append(1) or into(*args)
    try:
        rng = np.random.default_rng(0)
        x = dl.tensor(rng.standard_normal((8, 5)).astype(np.float32))
        w1 = dl.tensor(rng.standard_normal((5, 6)).astype(np.float32), requires_grad=True)
        w2 = dl.tensor(rng.standard_normal((6, 3)).astype(np.float32), requires_grad=True)
        dl.cross_entropy(dl.relu(x @ w1) @ w2, np.arange(8) % 3).backward()
    finally:
        ReLU.backward_into = into
    assert calls == [1]
    tx, t1, t2 = (torch.tensor(a._data, requires_grad=a.requires_grad) for a in (x, w1, w2))
    torch.nn.functional.cross_entropy(torch.relu(tx @ t1) @ t2, torch.arange(8) % 3).backward()
    np.testing.assert_allclose(w1.grad.numpy(), t1.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2.grad.numpy(), t2.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_threshold_large_adjoints_only(monkeypatch):
    "With the engine's own threshold, a 1 MiB adjoint is masked in place and a 4 KiB one is not; both are right."
    monkeypatch.setattr(autodiff, '_INPLACE_BYTES', 64 * 1024)
    calls, into = [], ReLU.backward_into
    monkeypatch.setattr(ReLU, 'backward_into', lambda *args: calls.append(1) or into(*args))
    for rows, inplace in ((1024, True), (4, False)):
        calls.clear()
        x = dl.tensor(np.random.default_rng(rows).standard_normal((rows, 256)).astype(np.float32), requires_grad=True)
        (dl.relu(x * 1.0) * 3.0).sum().backward()
        assert bool(calls) == inplace
        np.testing.assert_array_equal(x.grad.numpy(), 3 * (x.detach().numpy() > 0))
