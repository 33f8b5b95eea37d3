"""`xlogy`, `Tensor.nan_to_num_`, `dl.special` and the distributions `MultivariateNormal` and `Independent`
against PyTorch: values, dtypes, gradients and second derivatives (float64), edge cases and errors."""
import math

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.distributions as DD
from deeplearning101 import special

torch = pytest.importorskip('torch')
import torch.distributions as TD  # noqa: E402

rng = np.random.default_rng(0)


def close(a, b, rtol=1e-10, atol=1e-12):
    a = a.detach().numpy() if hasattr(a, 'detach') else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, 'detach') else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def grads(L, f, arrays, order=2):
    """Values, first and second derivatives of sum(f(*xs) * w) with respect to xs (float64), with the
    backend L (dl or torch)."""
    xs = [L.tensor(a, dtype=L.float64, requires_grad=True) for a in arrays]
    out = f(L, *xs)
    w = L.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)), dtype=L.float64)
    g = L.autograd.grad((out * w).sum(), xs, create_graph=order > 1)
    res = [out.detach().numpy()] + [gi.detach().numpy() for gi in g]
    if order > 1:
        v = [L.tensor(np.random.default_rng(2 + i).standard_normal(x.shape), dtype=L.float64)
             for i, x in enumerate(xs)]
        s = sum((gi * vi).sum() for gi, vi in zip(g, v))
        h = L.autograd.grad(s, xs, allow_unused=True)
        res += [np.zeros(x.shape) if hi is None else hi.detach().numpy() for x, hi in zip(xs, h)]
    return res


def same(f, *arrays, order=2, rtol=1e-9, atol=1e-12):
    for a, b in zip(grads(dl, f, arrays, order), grads(torch, f, arrays, order)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


# --------------------------------------------------------------------------- xlogy

XS = np.array([0.0, 0.0, 0.5, 2.0, -1.5, 0.0, 3.0])
YS = np.array([0.0, np.nan, 3.0, 0.25, 2.0, -1.0, np.inf])


def test_xlogy_values_edge_cases():
    for x, y in ((XS, YS), (XS[:, None], YS[None, :])):
        close(dl.xlogy(dl.tensor(x), dl.tensor(y)), torch.xlogy(torch.tensor(x), torch.tensor(y)))
    p = dl.tensor([0.0, 0.25, 0.75])
    assert abs(-dl.xlogy(p, p).sum().item() - 0.5623351) < 1e-6
    assert p.xlogy(p).tolist() == dl.xlogy(p, p).tolist()


def test_xlogy_numbers_and_dtypes():
    t = torch.tensor(YS[2:5])
    d = dl.tensor(YS[2:5])
    close(dl.xlogy(2.0, d), torch.xlogy(2.0, t))
    close(dl.xlogy(d, 3), torch.xlogy(t, 3))
    close(dl.xlogy(0, d), torch.xlogy(0, t))
    cases = [(np.array([1, 2]), np.array([3, 4])), (np.array([1, 2]), 2.5), (2, np.array([3, 4])),
             (np.array([True, False]), np.array([2.0, 3.0])), (np.array([1, 0]), np.array([2.0], np.float64))]
    for a, b in cases:
        wrap = lambda L, v: L.tensor(v) if isinstance(v, np.ndarray) else v
        r, e = dl.xlogy(wrap(dl, a), wrap(dl, b)), torch.xlogy(wrap(torch, a), wrap(torch, b))
        assert str(r.dtype).split('.')[-1] == str(e.dtype).split('.')[-1], (a, b, r.dtype, e.dtype)
        close(r, e.double() if e.dtype == torch.float64 else e, rtol=1e-6)
    f32 = dl.xlogy(dl.tensor([1.0, 2.0]), dl.tensor([2.0], dtype=dl.float64))
    assert f32.dtype == dl.float64


def test_xlogy_gradients():
    x, y = np.array([0.0, 0.5, 2.0, 0.0, 1.0]), np.array([0.0, 3.0, 0.25, 2.0, 0.5])
    same(lambda L, a, b: L.xlogy(a, b), x, y)
    same(lambda L, a, b: L.xlogy(a, b), x[:, None], y[None, :3])      # broadcasting: unbroadcast
    same(lambda L, a: L.xlogy(a, 2.5), x, order=1)     # linear in a
    same(lambda L, b: L.xlogy(1.5, b), y[1:])


def test_xlogy_inplace():
    x, y = np.array([0.0, 0.5, 2.0, 0.0]), np.array([0.0, 3.0, 0.25, -1.0])
    res = []
    for L in (dl, torch):
        a = L.tensor(x, requires_grad=True)
        b = L.tensor(y, requires_grad=True)
        c = a * 1
        assert c.xlogy_(b) is c
        (c * L.tensor([1.0, 2.0, 3.0, 4.0], dtype=L.float64)).sum().backward()
        res.append([c.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
    for u, v in zip(*res):
        close(u, v)
    d = dl.tensor([1.0, 2.0])
    assert d.xlogy_(2) is d and np.allclose(d.tolist(), [math.log(2), 2 * math.log(2)])
    with pytest.raises(RuntimeError, match='xlogy_'):
        dl.tensor([1, 2]).xlogy_(dl.tensor([2.0, 3.0]))       # float result, int tensor (as torch)
    with pytest.raises(RuntimeError, match='xlogy_.*leaf'):
        dl.tensor([1.0], requires_grad=True).xlogy_(2.0)


def test_xlogy_errors():
    with pytest.raises(TypeError, match='xlogy'):
        dl.xlogy(1.0, 2.0)
    with pytest.raises(Exception, match='xlogy|shape'):
        dl.xlogy(dl.ones(2), dl.ones(3))


# --------------------------------------------------------------------------- nan_to_num_

@pytest.mark.parametrize('dtype', ['float16', 'float32', 'float64'])
def test_nan_to_num__values(dtype):
    vals = [math.nan, math.inf, -math.inf, 1.5, -0.0]
    for kw in ({}, {'nan': 2.0}, {'nan': 1.0, 'posinf': 9.0, 'neginf': -9.0}, {'nan': math.inf}):
        d, t = dl.tensor(vals, dtype=getattr(dl, dtype)), torch.tensor(vals, dtype=getattr(torch, dtype))
        assert d.nan_to_num_(**kw) is d
        t.nan_to_num_(**kw)
        close(d, t.numpy(), rtol=0, atol=0)
        assert d.dtype == getattr(dl, dtype)
    d = dl.tensor([1, 2, 3])
    assert d.nan_to_num_() is d and d.tolist() == [1, 2, 3]


def test_nan_to_num__autograd():
    vals = [math.nan, 2.0, math.inf, -math.inf, -1.0]
    res = []
    for L in (dl, torch):
        a = L.tensor(vals, dtype=L.float64, requires_grad=True)
        b = a * 3
        b.nan_to_num_(1.0, 5.0)
        (b * L.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=L.float64)).sum().backward()
        res.append((b.detach().numpy(), a.grad.numpy()))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])
    leaf = dl.tensor([math.nan, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match='nan_to_num_.*leaf'):
        leaf.nan_to_num_()
    with dl.no_grad():
        leaf.nan_to_num_()
    assert leaf.tolist() == [0.0, 1.0]
    # a value saved for backward, changed in place afterwards: an error, never a wrong gradient
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    y.nan_to_num_()
    with pytest.raises(RuntimeError):
        z.backward()


# --------------------------------------------------------------------------- torch.special

GRID = np.array([-40.0, -25.0, -20.5, -8.0, -3.0, -1.0, -0.3, 0.0, 1e-8, 0.2, 1.0, 2.5, 6.0, 9.0, 30.0])
UNIT = np.array([0.0, 1e-300, 1e-20, 1e-6, 0.01, 0.2, 0.5 - 1e-12, 0.5, 0.5 + 1e-9, 0.7, 0.9, 0.999999, 1.0])
SIGNED = np.concatenate([-UNIT[::-1], UNIT[1:]])

ONE_ARG = {                 # name -> the inputs it is checked on (inside and outside the domain)
    'expit': GRID, 'logit': UNIT, 'erf': GRID, 'erfc': GRID, 'erfinv': np.append(SIGNED, [1.5, -2.0]),
    'exp2': GRID / 4, 'expm1': GRID / 4, 'log1p': np.append(UNIT, [2.0, 30.0, -1.0, -2.0]),
    'entr': np.append(UNIT, [-1.0, 3.0, 0.25]), 'sinc': GRID, 'round': GRID * 1.37,
    'ndtr': GRID, 'ndtri': np.append(UNIT, [-0.5, 1.5]), 'log_ndtr': GRID,
    'gammaln': np.array([1e-300, 1e-8, 0.3, 1.0, 2.0, 2.5, 11.7, 171.5, 1e5, 1e300, 0.0, -1.0, -2.5, -7.2,
                         np.inf, -np.inf, np.nan]),
    'digamma': np.array([1e-300, 1e-8, 0.3, 1.0, 2.0, 9.99, 11.7, 1e5, 1e300, 0.0, -0.0, -1.0, -2.5, -7.2,
                         -100.3, np.inf, -np.inf, np.nan]),
    'psi': np.array([0.5, -0.5, 3.0]),
    'erfcx': np.array([-30.0, -27.0, -26.0, -5.0, -1.0, 0.0, 0.5, 3.0, 25.9, 26.1, 50.0, 1e10, 1e300, np.inf,
                       -np.inf, np.nan]),
    'i0': np.array([0.0, 1e-6, 0.5, -3.0, 24.9, 25.1, -60.0, 700.0, 800.0, np.nan]),
    'i0e': np.array([0.0, 1e-6, 0.5, -3.0, 24.9, 25.1, -60.0, 700.0, 1e6, np.inf, np.nan]),
    'i1': np.array([0.0, 1e-6, 0.5, -3.0, 24.9, 25.1, -60.0, 700.0, -800.0, np.nan]),
    'i1e': np.array([0.0, 1e-6, 0.5, -3.0, 24.9, 25.1, -60.0, 700.0, -1e6, np.nan]),
}


@pytest.mark.parametrize('name', sorted(ONE_ARG))
def test_special_values(name):
    x = ONE_ARG[name]
    # erfinv: two Newton steps from the same start as PyTorch's; near +-1 both are within 1e-11
    # erfcx below 26: exp(x^2) erfc(x), whose exp(x^2) carries x^2's rounding (1e-13 at 26)
    close(getattr(special, name)(dl.tensor(x)), getattr(torch.special, name)(torch.tensor(x)),
          rtol={'erfinv': 1e-10, 'erfcx': 1e-12}.get(name, 1e-13))
    # float32 in, float32 out (computed in float64 and rounded, or in float32: a few ulp)
    r = getattr(special, name)(dl.tensor(x, dtype=dl.float32))
    e = getattr(torch.special, name)(torch.tensor(x, dtype=torch.float32))
    assert r.dtype == dl.float32
    close(r, e, rtol=2e-6, atol=1e-6 if name != 'erfinv' else 2e-6)


@pytest.mark.parametrize('name', ['expit', 'erf', 'erfc', 'erfinv', 'exp2', 'expm1', 'log1p', 'sinc', 'ndtr',
                                  'ndtri', 'log_ndtr', 'entr', 'gammaln', 'digamma', 'i0', 'i0e', 'i1', 'i1e',
                                  'erfcx'])
def test_special_int_inputs_float(name):
    d, t = getattr(special, name)(dl.tensor([0, 1])), getattr(torch.special, name)(torch.tensor([0, 1]))
    assert d.dtype == dl.float32 and t.dtype == torch.float32
    close(d, t, rtol=1e-6)


DIFF = {                    # name -> inputs where the function is smooth (gradients and second derivatives)
    'expit': GRID[3:-1], 'logit': UNIT[4:-1], 'erf': GRID[4:-2], 'erfc': GRID[4:], 'erfinv': SIGNED[5:-5],
    'exp2': GRID / 4, 'expm1': GRID / 4, 'log1p': UNIT, 'entr': UNIT[1:-1],
    'sinc': np.delete(GRID[3:-1], [4, 5]),          # not next to 0: both second derivatives lose digits there
    'ndtr': GRID[3:], 'ndtri': UNIT[2:-2], 'log_ndtr': GRID,
    'gammaln': np.array([0.3, 1.0, 2.5, 11.7, 50.0, -2.5, -7.2]), 'digamma': np.array([0.3, 1.0, 2.5, 11.7, -2.5]),
    'i0': np.array([0.0, 0.5, -3.0, 24.9, 25.1, -60.0]), 'i1': np.array([0.0, 0.5, -3.0, 24.9, 25.1, -60.0]),
    'i0e': np.array([0.0, 0.5, -3.0, 24.9, 25.1, -60.0]), 'i1e': np.array([0.0, 0.5, -3.0, 24.9, 25.1, -60.0]),
    'erfcx': np.array([-5.0, -1.0, 0.0, 0.5, 3.0, 25.9, 26.1, 50.0]),
}


@pytest.mark.parametrize('name', sorted(DIFF))
def test_special_gradients(name):
    same(lambda L, a: getattr(L.special, name)(a), DIFF[name], rtol=1e-8)


@pytest.mark.parametrize('n', [1, 2, 3, 5])
def test_polygamma(n):
    x = np.array([1e-3, 0.3, 1.0, 2.5, 11.7, 25.0, 1e4, -0.5, -2.5, -7.2, -30.6, np.nan])
    for f in (lambda m, L, a: L.polygamma(m, a), lambda m, L, a: L.special.polygamma(m, a),
              lambda m, L, a: a.polygamma(m)):
        # PyTorch's trigamma (n = 1) has its own series, good to about 5e-10: ours gives pi^2/6 exactly
        close(f(n, dl, dl.tensor(x)), f(n, torch, torch.tensor(x)), rtol=1e-9 if n == 1 else 1e-11)
    assert dl.polygamma(1, dl.tensor(1.0, dtype=dl.float64)).item() == math.pi ** 2 / 6
    same(lambda L, a: L.polygamma(n, a), x[[1, 2, 3, 4, 8, 9]], rtol=1e-8)
    poles = [0.0] if n == 1 else [0.0, -3.0]        # PyTorch's trigamma: finite rubbish at -3 (1.7e16)
    close(dl.polygamma(n, dl.tensor(poles)), torch.polygamma(n, torch.tensor(poles)))
    assert dl.polygamma(n, dl.tensor([1, 2])).dtype == dl.float32
    assert dl.polygamma(0, dl.tensor([0.5])).tolist() == dl.digamma(dl.tensor([0.5])).tolist()
    with pytest.raises(RuntimeError, match='polygamma'):
        dl.polygamma(-1, dl.tensor([1.0]))


def test_multigammaln():
    a = np.array([[2.5, 3.0], [1.7, 40.0]])
    for p in (1, 2, 5):
        same(lambda L, x: L.special.multigammaln(x, p), a, rtol=1e-9)     # PyTorch's trigamma: 5e-10
    close(special.multigammaln(dl.tensor([2, 3]), 2), torch.special.multigammaln(torch.tensor([2, 3]), 2), rtol=1e-6)
    assert special.multigammaln(dl.tensor([2, 3]), 2).dtype == dl.float32
    for bad in (0, -1):
        with pytest.raises(RuntimeError, match='multigammaln.*p'):
            special.multigammaln(dl.tensor([2.0]), bad)
    with pytest.raises(RuntimeError, match='boolean'):
        special.multigammaln(dl.tensor([True]), 1)


def test_gamma_and_bessel_methods_and_names():
    v = dl.tensor([0.5, 2.0], dtype=dl.float64)
    t = torch.tensor([0.5, 2.0], dtype=torch.float64)
    for name in ('lgamma', 'digamma', 'i0'):
        close(getattr(v, name)(), getattr(t, name)(), rtol=1e-13)
        close(getattr(dl, name)(v), getattr(torch, name)(t), rtol=1e-13)
    close(special.gammaln(v), dl.lgamma(v))
    # lgamma's gradient is digamma, digamma's is polygamma(1, .), ...: third derivatives agree too
    x = dl.tensor([0.7, 3.2], dtype=dl.float64, requires_grad=True)
    y = torch.tensor([0.7, 3.2], dtype=torch.float64, requires_grad=True)
    gs = []
    for L, a in ((dl, x), (torch, y)):
        g1, = L.autograd.grad(L.lgamma(a).sum(), a, create_graph=True)
        g2, = L.autograd.grad(g1.sum(), a, create_graph=True)
        g3, = L.autograd.grad(g2.sum(), a)
        gs.append([g.detach().numpy() for g in (g1, g2, g3)])
    for a, b in zip(*gs):
        close(a, b, rtol=1e-9)          # PyTorch's trigamma: about 5e-10


def test_special_sinc_entr_at_their_special_points():
    same(lambda L, a: L.special.sinc(a), np.array([0.0, 1.0, -2.0]), order=1)
    same(lambda L, a: L.special.entr(a), np.array([0.0, -1.0, 0.5]), order=1)


def test_special_xlog1py():
    x, y = np.array([0.0, 0.0, 0.5, 2.0, -1.5]), np.array([-1.0, np.nan, 3.0, 0.25, -0.5])
    close(special.xlog1py(dl.tensor(x), dl.tensor(y)), torch.special.xlog1py(torch.tensor(x), torch.tensor(y)))
    close(special.xlog1py(2, dl.tensor(y)), torch.special.xlog1py(2, torch.tensor(y)))
    same(lambda L, a, b: L.special.xlog1py(a, b), np.array([0.0, 0.5, 2.0]), np.array([-0.5, 3.0, 0.25]))
    same(lambda L, a, b: L.special.xlogy(a, b), np.array([0.0, 0.5, 2.0]), np.array([1.5, 3.0, 0.25]))


def test_special_reductions_and_namespace():
    x = rng.standard_normal((3, 4))
    same(lambda L, a: L.special.logsumexp(a, 1), x)
    same(lambda L, a: L.special.softmax(a, 0), x)
    same(lambda L, a: L.special.log_softmax(a, -1), x)
    close(special.logsumexp(dl.tensor(x), 1, keepdim=True), torch.special.logsumexp(torch.tensor(x), 1, True))
    close(special.round(dl.tensor([0.5, 1.5, 2.345]), decimals=2),
          torch.special.round(torch.tensor([0.5, 1.5, 2.345]), decimals=2), rtol=1e-6)
    assert dl.special is special and dl.special.expit(dl.tensor([0.0])).tolist() == [0.5]
    for name in ('erfc', 'erfinv', 'sinc', 'i0', 'lgamma', 'digamma'):    # also torch.erfc, Tensor.erfc, ...
        v = dl.tensor([0.25])
        assert getattr(dl, name)(v).tolist() == getattr(v, name)().tolist()
    for name in ('expit', 'logit', 'erf', 'erfc', 'erfinv', 'exp2', 'expm1', 'log1p', 'log_softmax', 'softmax',
                 'logsumexp', 'xlogy', 'xlog1py', 'entr', 'sinc', 'round', 'gammaln', 'digamma', 'psi',
                 'polygamma', 'i0', 'i0e', 'i1', 'i1e', 'ndtr', 'ndtri', 'log_ndtr', 'erfcx', 'multigammaln'):
        assert callable(getattr(special, name)) and hasattr(torch.special, name), name


def test_special_ndtri_inverts_ndtr_in_the_tails():
    p = np.array([1e-300, 1e-100, 1e-10, 0.3, 0.5 + 1e-15, 1 - 1e-10])
    close(special.ndtri(dl.tensor(p)), torch.special.ndtri(torch.tensor(p)), rtol=1e-13)
    x = np.array([-37.0, -10.0, -1.0, 1e-12, 3.0])
    close(special.ndtri(special.ndtr(dl.tensor(x))), x, rtol=1e-10)


# --------------------------------------------------------------------------- MultivariateNormal

def spd(*batch, n=3, seed=0):
    r = np.random.default_rng(seed)
    a = r.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


LOC3, COV3 = rng.standard_normal(3), spd()
VALUE = rng.standard_normal((5, 3))


@pytest.mark.parametrize('kind', ['covariance_matrix', 'precision_matrix', 'scale_tril'])
def test_mvn_values_and_gradients(kind):
    param = {'covariance_matrix': COV3, 'precision_matrix': np.linalg.inv(COV3),
             'scale_tril': np.linalg.cholesky(COV3)}[kind]

    def outs(L, D, loc, m):
        d = D.MultivariateNormal(loc, **{kind: m})
        return L.cat([d.log_prob(L.tensor(VALUE, dtype=L.float64)), d.entropy().reshape(1),
                      d.mean, d.variance, d.covariance_matrix.reshape(-1), d.scale_tril.reshape(-1),
                      d.precision_matrix.reshape(-1)])
    for a, b in zip(grads(dl, lambda L, *p: outs(L, DD if L is dl else TD, *p), (LOC3, param), order=1),
                    grads(torch, lambda L, *p: outs(L, DD if L is dl else TD, *p), (LOC3, param), order=1)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_mvn_batch_shapes():
    cases = [((4, 3), (3, 3)), ((3,), (2, 3, 3)), ((2, 1, 3), (5, 3, 3)), ((3,), (3, 3))]
    for loc_shape, cov_shape in cases:
        loc = rng.standard_normal(loc_shape)
        cov = spd(*cov_shape[:-2], seed=1)
        d = DD.MultivariateNormal(dl.tensor(loc), dl.tensor(cov))
        t = TD.MultivariateNormal(torch.tensor(loc), torch.tensor(cov))
        assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
        for attr in ('mean', 'variance', 'covariance_matrix', 'scale_tril', 'precision_matrix'):
            close(getattr(d, attr), getattr(t, attr), rtol=1e-10)
        v = rng.standard_normal((2, 1) + tuple(t.batch_shape) + (3,))
        close(d.log_prob(dl.tensor(v)), t.log_prob(torch.tensor(v)), rtol=1e-10)
        close(d.entropy(), t.entropy(), rtol=1e-10)
        assert tuple(d.sample((6,)).shape) == tuple(t.sample((6,)).shape)
        assert tuple(d.rsample().shape) == tuple(t.rsample().shape)
    q = DD.MultivariateNormal(dl.zeros(2), scale_tril=dl.eye(2))
    assert q.log_prob(dl.zeros(2)).dtype == dl.float32 and q.sample().dtype == dl.float32


def test_mvn_sampling():
    dl.manual_seed(0)
    loc = dl.tensor(LOC3, requires_grad=True)
    cov = dl.tensor(COV3, requires_grad=True)
    d = DD.MultivariateNormal(loc, cov)
    s = d.rsample((20000,))
    assert s.requires_grad and not d.sample((2,)).requires_grad
    np.testing.assert_allclose(s.detach().numpy().mean(0), LOC3, atol=0.1)
    np.testing.assert_allclose(np.cov(s.detach().numpy().T), COV3, rtol=0.06, atol=0.1)
    s.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), np.full(3, 20000.0))
    assert cov.grad is not None and np.allclose(cov.grad.numpy(), cov.grad.numpy().T)


def test_mvn_kl():
    cov_q = spd(2, seed=3)
    loc_q = rng.standard_normal((2, 3))

    def kl(L, D, lp, cp, lq, cq):
        return D.kl_divergence(D.MultivariateNormal(lp, cp), D.MultivariateNormal(lq, scale_tril=L.linalg.cholesky(cq)))
    f = lambda L, *p: kl(L, DD if L is dl else TD, *p)
    for a, b in zip(grads(dl, f, (LOC3, COV3, loc_q, cov_q), order=1),
                    grads(torch, f, (LOC3, COV3, loc_q, cov_q), order=1)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    p2 = DD.MultivariateNormal(dl.zeros(2), dl.eye(2))
    with pytest.raises(ValueError, match='different event shapes'):
        DD.kl_divergence(p2, DD.MultivariateNormal(dl.zeros(3), dl.eye(3)))


def test_mvn_errors_and_repr():
    z, eye = dl.zeros(2), dl.eye(2)
    with pytest.raises(ValueError, match='Exactly one|exactly one'):
        DD.MultivariateNormal(z, eye, scale_tril=eye)
    with pytest.raises(ValueError, match='exactly one'):
        DD.MultivariateNormal(z)
    with pytest.raises(ValueError, match='one-dimensional'):
        DD.MultivariateNormal(dl.tensor(0.0), eye)
    with pytest.raises(ValueError, match='positive-definite'):
        DD.MultivariateNormal(z, dl.tensor([[1.0, 2.0], [2.0, 1.0]]))
    for bad in ([[1.0, 0.5], [0.0, 1.0]], [[2.0, 0.0], [0.0, -1.0]]):      # as PyTorch's constraints
        with pytest.raises(ValueError, match='symmetric positive-definite'):
            DD.MultivariateNormal(z, precision_matrix=dl.tensor(bad))
        with pytest.raises(ValueError):
            TD.MultivariateNormal(torch.zeros(2), precision_matrix=torch.tensor(bad))
    for bad in ([[1.0, 0.5], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]):
        with pytest.raises(ValueError, match='lower triangular'):
            DD.MultivariateNormal(z, scale_tril=dl.tensor(bad))
        with pytest.raises(ValueError):
            TD.MultivariateNormal(torch.zeros(2), scale_tril=torch.tensor(bad))
    q = DD.MultivariateNormal(z, scale_tril=dl.tensor([[1.0, 0.5], [0.0, 1.0]]), validate_args=False)
    assert q.log_prob(z).shape == ()
    with pytest.raises(ValueError, match='covariance_matrix.*shape'):
        DD.MultivariateNormal(dl.zeros(3), eye)
    for kw in ({'covariance_matrix': 1}, {'scale_tril': 1}, {'precision_matrix': 1}):
        (k, _), = kw.items()
        r = repr(DD.MultivariateNormal(z, **{k: eye})).replace('dl.', 'torch.')
        assert r == repr(TD.MultivariateNormal(torch.zeros(2), **{k: torch.eye(2)}))
    assert DD.MultivariateNormal.__name__ == 'MultivariateNormal' and DD.MultivariateNormal(z, eye).has_rsample


# --------------------------------------------------------------------------- Independent

LOC23, SCALE23 = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))


@pytest.mark.parametrize('k', [0, 1, 2])
def test_independent_normal(k):
    def outs(L, D, loc, scale):
        d = D.Independent(D.Normal(loc, scale), k)
        v = L.tensor(rng_v, dtype=L.float64)
        return L.cat([d.log_prob(v).reshape(-1), d.entropy().reshape(-1), d.mean.reshape(-1),
                      d.variance.reshape(-1), d.stddev.reshape(-1)])
    rng_v = np.random.default_rng(5).standard_normal((4, 2, 3))
    f = lambda L, *p: outs(L, DD if L is dl else TD, *p)
    for a, b in zip(grads(dl, f, (LOC23, SCALE23), order=1), grads(torch, f, (LOC23, SCALE23), order=1)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    d = DD.Independent(DD.Normal(dl.tensor(LOC23), dl.tensor(SCALE23)), k)
    t = TD.Independent(TD.Normal(torch.tensor(LOC23), torch.tensor(SCALE23)), k)
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    assert tuple(d.sample((5,)).shape) == tuple(t.sample((5,)).shape) and d.has_rsample
    assert d.rsample().requires_grad is False


def test_independent_of_other_kinds_and_kl():
    probs = rng.uniform(0.1, 0.9, (4, 3))
    d = DD.Independent(DD.Bernoulli(dl.tensor(probs)), 1)
    t = TD.Independent(TD.Bernoulli(torch.tensor(probs)), 1)
    v = (rng.uniform(size=(4, 3)) < 0.5).astype(float)
    close(d.log_prob(dl.tensor(v)), t.log_prob(torch.tensor(v)))
    close(d.entropy(), t.entropy())
    assert not d.has_rsample
    with pytest.raises(NotImplementedError):
        d.rsample()
    mvn = DD.Independent(DD.MultivariateNormal(dl.tensor(rng.standard_normal((2, 3))), dl.tensor(COV3)), 1)
    assert tuple(mvn.event_shape) == (2, 3) and tuple(mvn.batch_shape) == ()

    def kl(L, D, a, b, c, e):
        return D.kl_divergence(D.Independent(D.Normal(a, b), 1), D.Independent(D.Normal(c, e), 1))
    f = lambda L, *p: kl(L, DD if L is dl else TD, *p)
    args = (LOC23, SCALE23, LOC23[::-1].copy(), SCALE23[::-1].copy())
    for a, b in zip(grads(dl, f, args, order=1), grads(torch, f, args, order=1)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match='reinterpreted_batch_ndims'):
        DD.Independent(DD.Normal(dl.zeros(3), dl.ones(3)), 2)
    r = repr(DD.Independent(DD.Normal(dl.zeros(3), dl.ones(3)), 1)).replace('dl.', 'torch.')
    assert r == repr(TD.Independent(TD.Normal(torch.zeros(3), torch.ones(3)), 1))


# --------------------------------------------------------------------------- dl.compile

def test_special_functions_compile():
    "dl.compile replays the new ops and their gradient rules (written on raw arrays, as chapter 01's)."
    fs = [lambda x: special.xlog1py(x, x + 1), lambda x: dl.xlogy(x, x + 1), special.log_ndtr, special.i1e,
          special.i1, special.i0, special.i0e, special.sinc, special.entr, lambda x: special.erfinv(x / 2),
          special.erfc, special.gammaln, lambda x: special.ndtri(x / 4), special.digamma,
          lambda x: special.polygamma(2, x), special.ndtr, special.erfcx,
          lambda x: special.multigammaln(x + 1, 3)]
    for f in fs:
        p = dl.nn.Parameter(dl.tensor([0.5, 1.0]))

        def step(scale):
            loss = (f(p) * scale).sum()
            loss.backward()
            return loss.detach()
        compiled, scale = dl.compile(step), dl.tensor([2.0, 3.0])
        compiled(scale)
        p.grad = None
        value = compiled(scale)
        got = p.grad.clone()
        p.grad = None
        want = step(scale)
        assert value.item() == want.item() and got.tolist() == p.grad.tolist()
        assert got.dtype == dl.float32
