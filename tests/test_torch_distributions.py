"""`dl.distributions` against `torch.distributions`: log_prob, entropy, mean/variance, KL divergence (values and
gradients with respect to the parameters), sample shapes, sample statistics, reprs and errors."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.distributions as DD

torch = pytest.importorskip('torch')
import torch.distributions as TD  # noqa: E402

rng = np.random.default_rng(0)
LOC, SCALE = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))
LOGITS = rng.standard_normal((4, 5))
PROBS = rng.dirichlet(np.ones(5), 4)
BLOGITS = rng.standard_normal(6) * 3


def grads_same(make):
    "make(L, D, *params) -> tensor; values and gradients of sum(out * w) agree."
    res = []
    for L, D in ((dl, DD), (torch, TD)):
        ps = [L.tensor(a, requires_grad=True) for a in (LOC, SCALE, LOGITS, PROBS, BLOGITS)]
        out = make(L, D, *ps)
        w = L.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        res.append((out.detach().numpy(), [np.zeros(p.shape) if p.grad is None else p.grad.numpy() for p in ps]))
    (od, gd), (ot, gt) = res
    np.testing.assert_allclose(od, ot, rtol=1e-10, atol=1e-12)
    for a, b in zip(gd, gt):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


X = rng.standard_normal((2, 3))


@pytest.mark.parametrize('case', [
    lambda L, D, m, s, z, p, b: D.Normal(m, s).log_prob(L.tensor(X)),
    lambda L, D, m, s, z, p, b: D.Normal(m, s).entropy(),
    lambda L, D, m, s, z, p, b: D.Normal(m, s).stddev * D.Normal(m, s).mean,
    lambda L, D, m, s, z, p, b: D.kl_divergence(D.Normal(m, s), D.Normal(m * 0.5, s * s)),
    lambda L, D, m, s, z, p, b: D.Categorical(logits=z).log_prob(L.tensor([0, 4, 2, 1])),
    lambda L, D, m, s, z, p, b: D.Categorical(logits=z).entropy(),
    lambda L, D, m, s, z, p, b: D.Categorical(probs=p).log_prob(L.tensor([[1], [3]])),
    lambda L, D, m, s, z, p, b: D.Categorical(probs=p).entropy() + D.Categorical(probs=p).probs.sum(),
    lambda L, D, m, s, z, p, b: D.kl_divergence(D.Categorical(logits=z), D.Categorical(probs=p)),
    lambda L, D, m, s, z, p, b: D.Bernoulli(logits=b).log_prob(L.tensor(np.array([1.0, 0, 1, 1, 0, 0]))),
    lambda L, D, m, s, z, p, b: D.Bernoulli(logits=b).entropy() * D.Bernoulli(logits=b).variance,
    lambda L, D, m, s, z, p, b: D.Bernoulli(probs=b.sigmoid()).log_prob(L.tensor(np.ones(6))),
    lambda L, D, m, s, z, p, b: D.kl_divergence(D.Bernoulli(logits=b), D.Bernoulli(logits=b * 0.3)),
    lambda L, D, m, s, z, p, b: D.Uniform(m - s, m + s).log_prob(m) + D.Uniform(m - s, m + s).entropy(),
    lambda L, D, m, s, z, p, b: D.Uniform(m - s, m + s).mean + D.Uniform(m - s, m + s).variance,
])
def test_formulas_and_gradients_as_torch(case):
    grads_same(case)


def test_samples_shapes_and_statistics():
    dl.manual_seed(0)
    for L, D in ((dl, DD), (torch, TD)):
        n = D.Normal(L.tensor([0.0, 5.0]), L.tensor([1.0, 0.1]))
        assert tuple(n.sample((4000,)).shape) == (4000, 2) and tuple(n.sample().shape) == (2,)
        c = D.Categorical(probs=L.tensor([[0.2, 0.8], [1.0, 0.0]]))
        s = c.sample((3000,))
        assert tuple(s.shape) == (3000, 2) and s.dtype == L.int64
        b = D.Bernoulli(probs=L.tensor([0.25]))
        assert tuple(b.sample((5,)).shape) == (5, 1)
        assert tuple(D.Uniform(0.0, 2.0).rsample((2, 3)).shape) == (2, 3)
    s = DD.Normal(dl.tensor([0.0, 5.0]), dl.tensor([1.0, 0.1])).sample((20000,)).numpy()
    assert np.allclose(s.mean(0), [0, 5], atol=0.03) and np.allclose(s.std(0), [1, 0.1], rtol=0.03)
    c = DD.Categorical(probs=dl.tensor([[0.2, 0.8], [1.0, 0.0]])).sample((20000,)).numpy()
    assert abs(c[:, 0].mean() - 0.8) < 0.02 and (c[:, 1] == 0).all()
    u = DD.Uniform(1.0, 3.0).sample((20000,)).numpy()
    assert u.min() >= 1 and u.max() < 3 and abs(u.mean() - 2) < 0.02
    m = dl.tensor([0.5], requires_grad=True)
    DD.Normal(m, dl.tensor([2.0])).rsample((10,)).sum().backward()
    assert m.grad.tolist() == [10.0]                  # d(loc + scale * eps)/d loc = 1 per sample


def test_reprs_shapes_and_errors_as_torch():
    for make in (lambda L, D: D.Normal(L.tensor([0.0, 1.0]), L.tensor([1.0, 2.0])),
                 lambda L, D: D.Categorical(logits=L.tensor([[1.0, 2.0, 3.0]])),
                 lambda L, D: D.Bernoulli(probs=L.tensor([0.3])),
                 lambda L, D: D.Uniform(0.0, 2.0)):
        d, t = make(dl, DD), make(torch, TD)
        assert repr(d).replace('dl.', 'torch.') == repr(t)
        assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    for L, D in ((dl, DD), (torch, TD)):
        with pytest.raises(ValueError):
            D.Categorical(probs=L.tensor([0.5, 0.5]), logits=L.tensor([0.0, 0.0]))
        with pytest.raises(ValueError):
            D.Normal(L.tensor([0.0]), L.tensor([-1.0]))
