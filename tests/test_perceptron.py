"""Tests for deeplearning101.perceptron: the Rosenblatt perceptron (convergence, Novikoff bound, errors) and
binary_cross_entropy_with_logits (stability, exact gradient, parity with torch when it is installed)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101.perceptron import Perceptron, binary_cross_entropy_with_logits as bce

seeds = st.integers(0, 2**32 - 1)


# ---- Perceptron ----------------------------------------------------------------------------------------
def separable(seed, n=40, d=3, margin=0.3):
    "Points with |u.x + c| >= margin for a random unit u: separable with a known margin."
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
    ua = np.r_[u, c] / np.linalg.norm(np.r_[u, c])                 # a separating unit vector, augmented
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
    assert not p.converged and min(p.updates_per_epoch) > 0 and np.mean(p.predict(X) == y) <= 0.75


@pytest.mark.parametrize("call, err, match", [
    (lambda p, X, y: p.fit(X, y[:-1]), ValueError, r"X has 10 samples .* y has shape \(9,\)"),
    (lambda p, X, y: p.fit(X, 2 * y - 1), ValueError, r"labels must be 0 or 1.*\[-1\]"),
    (lambda p, X, y: p.fit(X, y + 1), ValueError, r"labels must be 0 or 1.*\[2\]"),
    (lambda p, X, y: p.fit(X[0], y), ValueError, "must be a matrix"),
    (lambda p, X, y: (p.fit(X, y), p.predict(np.zeros((2, 3)))), ValueError, "has 3 features .* fit on 2"),
    (lambda p, X, y: p.predict(X), RuntimeError, "call fit before predict"),
    (lambda p, X, y: Perceptron(lr=0), ValueError, "lr must be a positive finite number, got 0"),
    (lambda p, X, y: Perceptron(lr=-1.0), ValueError, "lr must be a positive finite number"),
    (lambda p, X, y: Perceptron(lr=float('nan')), ValueError, "lr must be a positive finite number"),
])
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


# ---- binary_cross_entropy_with_logits ------------------------------------------------------------------
logits = st.lists(st.floats(-200, 200, allow_nan=False), min_size=1, max_size=12)


@given(z=logits, seed=seeds)
def test_bce_is_finite_and_its_gradient_is_sigmoid_minus_target(z, seed):
    z = dl.tensor(np.array(z), requires_grad=True)                  # float64
    y = dl.tensor(np.random.default_rng(seed).uniform(size=z.shape))  # soft targets too
    loss = bce(z, y, reduction='none')
    assert np.all(np.isfinite(loss.data)) and np.all(loss.data >= -1e-12)   # softplus(z) >= max(0, z) >= y z
    g, = dl.grad(loss.sum(), z)
    assert np.allclose(g.data, dl.sigmoid(z).data - y.data, atol=1e-12)


def test_bce_exact_at_zero_and_float32():
    z = dl.tensor(np.zeros(2, np.float32), requires_grad=True)
    loss = bce(z, dl.tensor([1.0, 0.0]))
    assert loss.dtype == np.float32 and np.isclose(loss.item(), np.log(2))
    loss.backward()
    assert np.allclose(z.grad.data, [-0.25, 0.25])                  # (sigmoid(0) - y) / n


def test_bce_gradcheck_with_weights():
    rng = np.random.default_rng(0)
    z = dl.tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)
    y, w = dl.tensor(rng.uniform(size=(3, 4))), rng.uniform(size=(3, 4))
    assert dl.gradcheck(lambda z: bce(z, y, weight=w, pos_weight=2.5), z)


def test_bce_errors():
    z = dl.tensor([0.5, -1.0])
    with pytest.raises(ValueError, match=r"target shape \(3,\) must be the same as input shape \(2,\)"):
        bce(z, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="reduction"):
        bce(z, [1.0, 0.0], reduction='max')
    with pytest.raises(TypeError, match="floating-point tensor"):
        bce(dl.tensor([1, 2]), [1.0, 0.0])


@pytest.mark.parametrize("reduction", ['mean', 'sum', 'none'])
@pytest.mark.parametrize("extras", [{}, {'weight': True}, {'pos_weight': True}, {'weight': True, 'pos_weight': True}])
def test_bce_matches_torch(reduction, extras):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((5, 3)) * 20, rng.uniform(size=(5, 3))
    w, pw = rng.uniform(size=(5, 3)), rng.uniform(0.5, 3, size=3)
    kw_dl = {k: (w if k == 'weight' else pw) for k in extras}
    kw_t = {k: torch.tensor(v) for k, v in kw_dl.items()}
    zd = dl.tensor(z, requires_grad=True)
    ours = bce(zd, dl.tensor(y), reduction=reduction, **kw_dl)
    zt = torch.tensor(z, requires_grad=True)
    theirs = F.binary_cross_entropy_with_logits(zt, torch.tensor(y), reduction=reduction, **kw_t)
    assert np.allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours.sum().backward(); theirs.sum().backward()
    assert np.allclose(zd.grad.data, zt.grad.numpy(), rtol=1e-10, atol=1e-12)
