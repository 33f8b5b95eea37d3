"""Tests for deeplearning101.perceptron: the Rosenblatt perceptron (convergence,
Novikoff bound, errors) and binary_cross_entropy_with_logits (stability, exact
gradient, parity with torch when it is installed)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101.perceptron import (
    Perceptron,
    binary_cross_entropy_with_logits as bce,
)

seeds = st.integers(0, 2**32 - 1)


# ---- Perceptron ----------------------------------------------------------------------
def separable(seed, n=40, d=3, margin=0.3):
    "Points with |u.x + c| >= margin for a random unit u: separable, known margin."
    rng = np.random.default_rng(seed)
    u, c = rng.standard_normal(d), rng.uniform(-0.5, 0.5)
    u /= np.linalg.norm(u)
    X = rng.uniform(-2, 2, (4 * n, d))
    X = X[np.abs(X @ u + c) >= margin][:n]
    return X, (X @ u + c > 0).astype(np.int64), u, c


@given(seed=seeds)
def test_converges_within_novikoff_bound(seed):
    X, y, u, c = separable(seed)
    p = Perceptron()
    updates = p.fit(X, y, max_epochs=10_000)
    assert p.converged and np.array_equal(p.predict(X), y)
    Xa, t = np.c_[X, np.ones(len(X))], 2 * y - 1
    ua = np.r_[u, c] / np.linalg.norm(
        np.r_[u, c]
    )  # a separating unit vector, augmented
    gamma, R = np.min(t * (Xa @ ua)), np.linalg.norm(Xa, axis=1).max()
    assert gamma > 0 and updates <= (R / gamma) ** 2
    assert len(p.history) == updates + 1


@given(seed=seeds, lr=st.floats(0.01, 100))
def test_learning_rate_only_scales_the_weights(seed, lr):
    X, y, _, _ = separable(seed, n=20)
    a, b = Perceptron(), Perceptron(lr=lr)
    assert a.fit(X, y) == b.fit(X, y)
    assert np.allclose(b.w, lr * a.w) and np.isclose(b.b, lr * a.b)


def test_never_converges_on_xor():
    X, y = dl.make_xor()
    p = Perceptron()
    p.fit(X, y, max_epochs=30)
    assert (
        not p.converged
        and min(p.updates_per_epoch) > 0
        and np.mean(p.predict(X) == y) <= 0.75
    )


@pytest.mark.parametrize(
    "call, err, match",
    [
        (
            lambda p, X, y: p.fit(X, y[:-1]),
            ValueError,
            r"X has 10 samples .* y has shape \(9,\)",
        ),
        (
            lambda p, X, y: p.fit(X, 2 * y - 1),
            ValueError,
            r"labels must be 0 or 1.*\[-1\]",
        ),
        (lambda p, X, y: p.fit(X, y + 1), ValueError, r"labels must be 0 or 1.*\[2\]"),
        (lambda p, X, y: p.fit(X[0], y), ValueError, "must be a matrix"),
        (
            lambda p, X, y: (p.fit(X, y), p.predict(np.zeros((2, 3)))),
            ValueError,
            "has 3 features .* fit on 2",
        ),
        (lambda p, X, y: p.predict(X), RuntimeError, "call fit before predict"),
        (
            lambda p, X, y: Perceptron(lr=0),
            ValueError,
            "lr must be a positive finite number, got 0",
        ),
        (
            lambda p, X, y: Perceptron(lr=-1.0),
            ValueError,
            "lr must be a positive finite number",
        ),
        (
            lambda p, X, y: Perceptron(lr=float('nan')),
            ValueError,
            "lr must be a positive finite number",
        ),
    ],
)
def test_perceptron_errors(call, err, match):
    X = np.random.default_rng(0).standard_normal((10, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    with pytest.raises(err, match=match):
        call(Perceptron(), X, y)


def test_accepts_tensors_and_bool_labels():
    X, y = dl.make_blobs(20, centers=((-3, 0), (3, 0)), std=0.5)
    p = Perceptron()
    p.fit(dl.tensor(X), y.astype(bool))
    assert p.converged and np.array_equal(p.predict(dl.tensor(X)), y)


# ---- binary_cross_entropy_with_logits ------------------------------------------------
logits = st.lists(st.floats(-200, 200, allow_nan=False), min_size=1, max_size=12)


@given(z=logits, seed=seeds)
def test_bce_is_finite_and_its_gradient_is_sigmoid_minus_target(z, seed):
    z = dl.tensor(np.array(z), requires_grad=True)  # float64
    y = dl.tensor(np.random.default_rng(seed).uniform(size=z.shape))  # soft targets too
    loss = bce(z, y, reduction='none')
    values = loss.detach().numpy()
    assert np.all(np.isfinite(values)) and np.all(
        values >= -1e-12
    )  # softplus(z) >= max(0, z) >= y z
    (g,) = dl.grad(loss.sum(), z)
    assert np.allclose(g, (dl.sigmoid(z) - y).detach(), atol=1e-12)


def test_bce_exact_at_zero_and_float32():
    z = dl.zeros(2, requires_grad=True)
    loss = bce(z, dl.tensor([1.0, 0.0]))
    assert loss.dtype == dl.float32 and np.isclose(loss.item(), np.log(2))
    loss.backward()
    assert np.allclose(z.grad, [-0.25, 0.25])  # (sigmoid(0) - y) / n


def test_bce_gradcheck_with_weights():
    rng = np.random.default_rng(0)
    z = dl.tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)
    y, w = dl.tensor(rng.uniform(size=(3, 4))), dl.tensor(rng.uniform(size=(3, 4)))
    assert dl.gradcheck(lambda z: bce(z, y, weight=w, pos_weight=dl.tensor(2.5)), z)
    pw = dl.tensor(
        rng.uniform(0.5, 3, size=4), requires_grad=True
    )  # gradients reach every argument
    # (PyTorch refuses weights that require grad; the graph simply differentiates them)
    y.requires_grad_()
    w.requires_grad_()
    assert dl.gradcheck(
        lambda z, y, w, pw: bce(z, y, weight=w, pos_weight=pw, reduction='sum'),
        z,
        y,
        w,
        pw,
    )


def test_bce_accepts_numbers_and_arrays_as_weights():
    z, y = dl.tensor([0.5, -1.0, 2.0]), dl.tensor([1.0, 0.0, 1.0])
    ref = bce(z, y, weight=dl.tensor([2.0, 2.0, 2.0]), pos_weight=dl.tensor(3.0))
    assert np.isclose(bce(z, y, weight=2.0, pos_weight=3.0).item(), ref.item())
    assert np.isclose(
        bce(z, y, weight=np.full(3, 2.0), pos_weight=[3.0]).item(), ref.item()
    )


def test_bce_errors():
    z = dl.tensor([0.5, -1.0])
    with pytest.raises(
        ValueError, match=r"target size \(3,\) must be the same as input size \(2,\)"
    ):
        bce(z, dl.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="'max' is not a valid value for reduction"):
        bce(z, dl.tensor([1.0, 0.0]), reduction='max')
    with pytest.raises(TypeError, match="floating-point tensor"):
        bce(dl.tensor([1, 2]), dl.tensor([1.0, 0.0]))
    with pytest.raises(TypeError, match="target must be a tensor, got list"):
        bce(z, [1.0, 0.0])
    with pytest.raises(TypeError, match="input must be a tensor, got ndarray"):
        bce(np.zeros(2), dl.tensor([1.0, 0.0]))
    with pytest.raises(
        RuntimeError, match=r"floating-point tensor .* target.float\(\)"
    ):
        bce(z, dl.tensor([1, 0]))  # PyTorch refuses integer targets too
    with pytest.raises(
        RuntimeError, match=r"weight of shape \(3,\) does not broadcast"
    ):
        bce(z, dl.tensor([1.0, 0.0]), weight=dl.ones(3))
    with pytest.raises(
        RuntimeError, match=r"pos_weight of shape \(2, 2\) does not broadcast"
    ):
        bce(
            z, dl.tensor([1.0, 0.0]), pos_weight=dl.ones(2, 2)
        )  # would enlarge the loss
    with pytest.raises(TypeError, match="weight must be a tensor or a number"):
        bce(z, dl.tensor([1.0, 0.0]), weight='heavy')


def test_bce_signature_is_pytorchs():
    torch = pytest.importorskip("torch")
    import inspect

    ours = [
        (p.name, p.default, p.kind) for p in inspect.signature(bce).parameters.values()
    ]
    theirs = inspect.signature(
        torch.nn.functional.binary_cross_entropy_with_logits
    ).parameters.values()
    assert ours == [(p.name, p.default, p.kind) for p in theirs]


@pytest.mark.parametrize(
    "size_average, reduce", [(None, False), (False, None), (True, True), (False, True)]
)
def test_bce_legacy_reduction_flags_match_torch(size_average, reduce):
    torch = pytest.importorskip("torch")
    z, y = np.linspace(-3, 3, 6), np.linspace(0, 1, 6)
    with pytest.warns(UserWarning):
        ours = bce(dl.tensor(z), dl.tensor(y), None, size_average, reduce)
    with pytest.warns(UserWarning):
        theirs = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.tensor(z), torch.tensor(y), None, size_average, reduce
        )
    assert ours.shape == tuple(theirs.shape) and np.allclose(
        ours.numpy(), theirs.numpy()
    )


@pytest.mark.parametrize("reduction", ['mean', 'sum', 'none'])
@pytest.mark.parametrize(
    "extras",
    [{}, {'weight': True}, {'pos_weight': True}, {'weight': True, 'pos_weight': True}],
)
def test_bce_matches_torch(reduction, extras):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((5, 3)) * 20, rng.uniform(size=(5, 3))
    w, pw = rng.uniform(size=(5, 3)), rng.uniform(0.5, 3, size=3)
    kw_dl = {k: dl.tensor(w if k == 'weight' else pw) for k in extras}
    kw_t = {k: torch.tensor(v.numpy()) for k, v in kw_dl.items()}
    zd = dl.tensor(z, requires_grad=True)
    ours = bce(zd, dl.tensor(y), reduction=reduction, **kw_dl)
    zt = torch.tensor(z, requires_grad=True)
    theirs = F.binary_cross_entropy_with_logits(
        zt, torch.tensor(y), reduction=reduction, **kw_t
    )
    assert np.allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12
    )
    ours.sum().backward()
    theirs.sum().backward()
    assert np.allclose(zd.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "wshape, pwshape", [((3,), (3,)), ((5, 1), ()), ((), (1, 3)), ((5, 3), None)]
)
@pytest.mark.parametrize(
    "zdt, ydt",
    [
        (np.float32, np.float32),
        (np.float64, np.float32),
        (np.float32, np.float64),
        (np.float64, np.float64),
    ],
)
def test_bce_matches_torch_dtypes_broadcasting_and_all_gradients(
    wshape, pwshape, zdt, ydt
):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    arrays = {
        'input': (rng.standard_normal((5, 3)) * 4).astype(zdt),
        'target': rng.uniform(size=(5, 3)).astype(ydt),
        'weight': rng.uniform(0.1, 2, size=wshape),
    }
    if pwshape is not None:
        arrays['pos_weight'] = rng.uniform(0.5, 3, size=pwshape)
    grads = ('input', 'target')  # torch differentiates neither weight nor pos_weight
    ours = {k: dl.tensor(a, requires_grad=k in grads) for k, a in arrays.items()}
    theirs = {k: torch.tensor(a, requires_grad=k in grads) for k, a in arrays.items()}
    a, b = bce(**ours, reduction='none'), F.binary_cross_entropy_with_logits(
        **theirs, reduction='none'
    )
    assert a.dtype == getattr(
        np, str(b.dtype).removeprefix('torch.')
    ) and a.shape == tuple(b.shape)
    tol = 1e-5 if np.float32 in (zdt, ydt) else 1e-10
    assert np.allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal((5, 3))
    (a * dl.tensor(g, dtype=a.dtype)).sum().backward()
    (b * torch.tensor(g, dtype=b.dtype)).sum().backward()
    for k in grads:
        assert ours[k].grad.dtype == theirs[k].grad.numpy().dtype, k
        assert np.allclose(
            ours[k].grad.numpy(), theirs[k].grad.numpy(), rtol=tol, atol=tol
        ), k
