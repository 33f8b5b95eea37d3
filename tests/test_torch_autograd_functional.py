"""`dl.autograd.functional` against `torch.autograd.functional`: jacobian, hessian, vjp, jvp, hvp, vhp on single
and tuple inputs/outputs, with create_graph (differentiating the result again) and strict."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.autograd.functional as DF

torch = pytest.importorskip('torch')
import torch.autograd.functional as TF  # noqa: E402

rng = np.random.default_rng(0)
A, B = rng.standard_normal((3, 2)), rng.standard_normal(4)


def f1(L): return lambda x: (x.sin() * x).sum(1) if x.ndim == 2 else x.sin() * x
def f2(L): return lambda x, y: (x.exp().sum() * y, (x * x).sum(0))
def scalar(L): return lambda x: (x.sin() * x ** 2).sum()
def scalar2(L): return lambda x, y: (x.tanh() ** 2).sum() * y.exp().sum() + (x.sum() * y[0])


def arrays(out):
    if isinstance(out, (tuple, list)): return [a for o in out for a in arrays(o)]
    return [out.detach().numpy()]


def same(call):
    d, t = arrays(call(dl, DF)), arrays(call(torch, TF))
    assert len(d) == len(t)
    for a, b in zip(d, t):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('create_graph', [False, True])
def test_jacobian_and_hessian_as_torch(create_graph):
    same(lambda L, F: F.jacobian(f1(L), L.tensor(A), create_graph=create_graph))
    same(lambda L, F: F.jacobian(f2(L), (L.tensor(A), L.tensor(B)), create_graph=create_graph))
    same(lambda L, F: F.jacobian(f1(L), (L.tensor(B),), create_graph=create_graph))
    same(lambda L, F: F.hessian(scalar(L), L.tensor(A), create_graph=create_graph))
    same(lambda L, F: F.hessian(scalar2(L), (L.tensor(A), L.tensor(B)), create_graph=create_graph))


def test_products_with_vectors_as_torch():
    v2 = rng.standard_normal(3)
    same(lambda L, F: F.vjp(f1(L), L.tensor(A), L.tensor(v2)))
    same(lambda L, F: F.vjp(scalar(L), L.tensor(A)))
    same(lambda L, F: F.vjp(f2(L), (L.tensor(A), L.tensor(B)), (L.tensor(np.ones(4)), L.tensor(np.ones(2)))))
    same(lambda L, F: F.jvp(f1(L), L.tensor(A), L.tensor(np.ones((3, 2)))))
    same(lambda L, F: F.jvp(f2(L), (L.tensor(A), L.tensor(B)), (L.tensor(A), L.tensor(B))))
    same(lambda L, F: F.vhp(scalar(L), L.tensor(A), L.tensor(A)))
    same(lambda L, F: F.hvp(scalar(L), L.tensor(A), L.tensor(A)))
    same(lambda L, F: F.vhp(scalar2(L), (L.tensor(A), L.tensor(B)), (L.tensor(A), L.tensor(B))))


def test_create_graph_lets_the_result_be_differentiated_as_torch():
    def call(L, F):
        x = L.tensor(B, requires_grad=True)
        J = F.jacobian(lambda t: t ** 3, x, create_graph=True)
        (J * J).sum().backward()
        return x.grad
    same(call)


def test_strict_and_independent_outputs_as_torch():
    same(lambda L, F: F.jacobian(lambda x, y: x * 2, (L.tensor(B), L.tensor(B))))
    for L, F in ((dl, DF), (torch, TF)):
        with pytest.raises(RuntimeError):
            F.jacobian(lambda x, y: x * 2, (L.tensor(B), L.tensor(B)), strict=True)
        with pytest.raises(RuntimeError):
            F.vjp(lambda x: x * 2, L.tensor(B))          # v needed for a non-scalar output
        with pytest.raises(RuntimeError):
            F.hessian(lambda x: x * 2, L.tensor(B))      # not a scalar
