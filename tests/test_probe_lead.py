"""Parity with PyTorch for what the probes of unseen programs found in chapters 00 and 01:
reductions over an empty dim list, broadcasting errors in PyTorch's words, and the
gradient a retained non-leaf accumulates over two backward passes."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("fn", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("dim", [[], ()])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_list_reduces_every_dim(fn, dim, keepdim):
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    want = getattr(torch, fn)(torch.tensor(a), dim=dim, keepdim=keepdim)
    got = getattr(dl, fn)(dl.tensor(a), dim=dim, keepdim=keepdim)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_empty_dim_list_gradient():
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    x, y = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.mean(dim=[]).backward(); y.mean(dim=[]).backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("sa, sb", [((5, 2, 4, 1), (3, 1, 1)), ((2,), (3,)),
                                    ((4, 3), (2, 4, 2)), ((1, 6), (5, 1, 4))])
def test_broadcast_error_in_pytorchs_words(sa, sb):
    with pytest.raises(RuntimeError) as want:
        torch.ones(sa) + torch.ones(sb)
    with pytest.raises(RuntimeError) as got:        # a ValueError too (NumPy's)
        dl.ones(sa) + dl.ones(sb)
    assert isinstance(got.value, ValueError)
    assert str(want.value) in str(got.value)
    assert str(got.value).startswith("add: ")


def test_retained_nonleaf_grad_accumulates_over_two_backwards():
    out = {}
    for lib in (dl, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        h = w * 2
        h.retain_grad()
        loss = (h ** 2).sum()
        loss.backward(retain_graph=True)
        first = h.grad.numpy().copy()
        loss.backward()
        out[lib.__name__] = (first, h.grad.numpy().copy(), w.grad.numpy().copy())
    for a, b in zip(out['deeplearning101'], out['torch']):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(out['torch'][1], [8.0, 16.0])
