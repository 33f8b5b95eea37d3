"""Parity with PyTorch: the in-place activation forms (`F.relu_`, `elu_`, `hardtanh_`,
`leaky_relu_`, `threshold_`), `F.rrelu` / `rrelu_` / `nn.RReLU`, and weight normalisation
(`nn.utils.weight_norm`, `remove_weight_norm`, `nn.utils.parametrizations.weight_norm`,
`nn.utils.parametrize`)."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5)).astype(np.float32)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)
XIN = RNG.standard_normal((5, 3)).astype(np.float32)
CONVW = RNG.standard_normal((2, 3, 2, 2)).astype(np.float32)
XCONV = RNG.standard_normal((1, 3, 3, 3)).astype(np.float32)


def _np(t): return t.detach().numpy()


INPLACE = [('relu_', (), {}), ('elu_', (0.7,), {}), ('hardtanh_', (-0.5, 0.8), {}),
           ('leaky_relu_', (0.2,), {}), ('threshold_', (0.1, -3.0), {}),
           ('rrelu_', (0.1, 0.3), {})]


@pytest.mark.parametrize("name,args,kw", INPLACE)
def test_inplace_activation_values_and_grads(name, args, kw):
    res = {}
    for lib in (dl, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2.0
        out = getattr(lib.nn.functional, name)(y, *args, **kw)
        assert out is y
        (y * lib.tensor(X)).sum().backward()
        res[lib.__name__] = _np(y), x.grad.numpy()
    np.testing.assert_allclose(res['deeplearning101'][0], res['torch'][0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(res['deeplearning101'][1], res['torch'][1], rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name,args,kw", INPLACE)
def test_inplace_activation_refuses_leaf(name, args, kw):
    for lib in (dl, torch):
        x = lib.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError):
            getattr(lib.nn.functional, name)(x, *args, **kw)


def test_inplace_activation_no_grad_writes():
    for name, args, kw in INPLACE:
        a, b = dl.tensor(X), torch.tensor(X)
        getattr(dl.nn.functional, name)(a, *args, **kw)
        getattr(torch.nn.functional, name)(b, *args, **kw)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, err_msg=name)


def test_rrelu_eval_is_mean_slope():
    for lo, hi in [(1 / 8, 1 / 3), (0.1, 0.5), (0.2, 0.2)]:
        a = dl.nn.functional.rrelu(dl.tensor(X), lo, hi, training=False)
        b = torch.nn.functional.rrelu(torch.tensor(X), lo, hi, training=False)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6)
        m, mt = dl.nn.RReLU(lo, hi).eval(), torch.nn.RReLU(lo, hi).eval()
        np.testing.assert_allclose(_np(m(dl.tensor(X))), _np(mt(torch.tensor(X))),
                                   rtol=1e-6)


def test_rrelu_training_slopes_and_grad():
    dl.manual_seed(0)
    lo, hi = 0.1, 0.3
    xs = np.linspace(-3, 3, 4001).astype(np.float32)
    x = dl.tensor(xs, requires_grad=True)
    y = dl.nn.RReLU(lo, hi)(x)                          # a new module trains
    y.sum().backward()
    neg, slope = xs <= 0, x.grad.numpy()
    np.testing.assert_array_equal(_np(y)[~neg], xs[~neg])
    assert np.all(slope[~neg] == 1)
    assert lo <= slope[neg].min() and slope[neg].max() <= hi
    assert len(np.unique(slope[neg])) > 1000            # one slope per entry
    np.testing.assert_allclose(_np(y)[neg], xs[neg] * slope[neg], rtol=1e-6)
    assert abs(slope[neg].mean() - (lo + hi) / 2) < 0.01
    # the same rule in torch
    xt = torch.tensor(xs, requires_grad=True)
    yt = torch.nn.RReLU(lo, hi)(xt)
    yt.sum().backward()
    assert lo <= xt.grad[torch.tensor(neg)].min() <= xt.grad[torch.tensor(neg)].max() <= hi


def test_rrelu_seeded_and_repr():
    dl.manual_seed(3); a = _np(dl.nn.functional.rrelu(-dl.ones(50), training=True))
    dl.manual_seed(3); b = _np(dl.nn.functional.rrelu(-dl.ones(50), training=True))
    np.testing.assert_array_equal(a, b)
    for args in [(), (0.1, 0.4), (0.1, 0.4, True)]:
        assert repr(dl.nn.RReLU(*args)) == repr(torch.nn.RReLU(*args))
    with pytest.raises(ValueError, match='rrelu'):
        dl.nn.functional.rrelu(dl.ones(3), 0.5, 0.1, training=True)


def _linear(lib):
    lin = lib.nn.Linear(3, 4)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(W))
        lin.bias.copy_(lib.tensor(B))
    return lin


def _conv_w(lib):
    conv = lib.nn.Conv2d(3, 2, 2)
    with lib.no_grad():
        conv.weight.copy_(lib.tensor(CONVW))
        conv.bias.copy_(lib.tensor(B[:2]))
    return conv


def _old(lib):
    def f(m, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            return lib.nn.utils.weight_norm(m, **kw)
    return f


def _new(lib): return lib.nn.utils.parametrizations.weight_norm


def _compare(make, style, dim):
    out = {}
    for lib in (dl, torch):
        m = style(lib)(make(lib), dim=dim)
        sd = m.state_dict()
        w = m.weight
        x = lib.tensor(XIN if make is _linear else XCONV)
        y = m(x)
        (y * y).sum().backward()
        out[lib.__name__] = (list(sd), [tuple(v.shape) for v in sd.values()],
                             [_np(v) for v in sd.values()], _np(w), _np(y),
                             [(n, p.grad.numpy()) for n, p in m.named_parameters()],
                             repr(m))
    a, b = out['deeplearning101'], out['torch']
    assert a[0] == b[0] and a[1] == b[1]
    for u, v in zip(a[2], b[2]): np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[3], b[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[4], b[4], rtol=1e-5, atol=1e-5)
    assert [n for n, _ in a[5]] == [n for n, _ in b[5]]
    for (_, u), (_, v) in zip(a[5], b[5]):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    assert a[6] == b[6]


@pytest.mark.parametrize("dim", [0, 1, None, -1])
@pytest.mark.parametrize("style", [_old, _new])
def test_weight_norm_linear(style, dim):
    _compare(_linear, style, dim)


@pytest.mark.parametrize("dim", [0, 2, None])
@pytest.mark.parametrize("style", [_old, _new])
def test_weight_norm_conv(style, dim):
    _compare(_conv_w, style, dim)


def test_weight_norm_recomputed_after_step():
    res = {}
    for lib in (dl, torch):
        m = _new(lib)(_linear(lib))
        m2 = _old(lib)(_linear(lib))
        for mod in (m, m2):
            opt = lib.optim.SGD(mod.parameters(), lr=0.1)
            mod(lib.tensor(XIN)).pow(2).sum().backward()
            opt.step()
        res[lib.__name__] = _np(m(lib.tensor(XIN))), _np(m2(lib.tensor(XIN)))
    for u, v in zip(res['deeplearning101'], res['torch']):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def test_weight_norm_warns_and_remove():
    with pytest.warns(FutureWarning):
        m = dl.nn.utils.weight_norm(_linear(dl))
    with pytest.raises(RuntimeError, match='weight_norm'):
        _old(dl)(m)
    dl.nn.utils.remove_weight_norm(m)
    mt = _old(torch)(_linear(torch))
    torch.nn.utils.remove_weight_norm(mt)
    assert list(m.state_dict()) == list(mt.state_dict())
    assert isinstance(m.weight, dl.nn.Parameter) and repr(m) == repr(mt)
    np.testing.assert_allclose(_np(m.weight), _np(mt.weight), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='weight_norm'):
        dl.nn.utils.remove_weight_norm(m)
    # a state_dict saved by torch loads into dl's weight-normed module
    mt2 = _old(torch)(_linear(torch))
    m2 = _old(dl)(dl.nn.Linear(3, 4))
    m2.load_state_dict({k: dl.tensor(v.numpy()) for k, v in mt2.state_dict().items()})
    np.testing.assert_allclose(_np(m2(dl.tensor(XIN))), _np(mt2(torch.tensor(XIN))),
                               rtol=1e-5, atol=1e-5)


class _Symmetric:
    def __init__(self, lib):
        class Symmetric(lib.nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).transpose(-1, -2)
        self.cls = Symmetric


class _Split:
    def __init__(self, lib):
        class Split(lib.nn.Module):      # two originals: right_inverse gives a pair
            def forward(self, a, b): return a + b
            def right_inverse(self, w): return w * 0.25, w * 0.75
        self.cls = Split


@pytest.mark.parametrize("kind", [_Symmetric, _Split])
@pytest.mark.parametrize("leave", [True, False])
def test_register_parametrization(kind, leave):
    if kind is _Split and not leave:
        for lib in (dl, torch):
            layer = lib.nn.Linear(3, 3)
            lib.nn.utils.parametrize.register_parametrization(layer, 'weight',
                                                              kind(lib).cls())
            with pytest.raises(ValueError):
                lib.nn.utils.parametrize.remove_parametrizations(layer, 'weight', False)
        return
    out = {}
    for lib in (dl, torch):
        P = lib.nn.utils.parametrize
        layer = lib.nn.Linear(3, 3)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(W[:3]))
            layer.bias.copy_(lib.tensor(B[:3]))
        w0 = layer.weight
        assert not P.is_parametrized(layer)
        P.register_parametrization(layer, 'weight', kind(lib).cls())
        same = kind is _Symmetric and layer.parametrizations.weight.original is w0
        r = [P.is_parametrized(layer), P.is_parametrized(layer, 'weight'),
             P.is_parametrized(layer, 'bias'), type(layer).__name__, repr(layer),
             list(layer.state_dict()), same, _np(layer.weight)]
        y = layer(lib.tensor(XIN))
        y.sum().backward()
        r.append([(n, p.grad.numpy()) for n, p in layer.named_parameters()])
        P.remove_parametrizations(layer, 'weight', leave_parametrized=leave)
        r += [P.is_parametrized(layer), type(layer).__name__, repr(layer),
              list(layer.state_dict()), _np(layer.weight),
              kind is _Symmetric and layer.weight is w0]
        out[lib.__name__] = r
    a, b = out['deeplearning101'], out['torch']
    for i, (u, v) in enumerate(zip(a, b)):
        if isinstance(u, np.ndarray): np.testing.assert_allclose(u, v, rtol=1e-5)
        elif i == 8:
            assert [n for n, _ in u] == [n for n, _ in v]
            for (_, g), (_, h) in zip(u, v): np.testing.assert_allclose(g, h, rtol=1e-5)
        else: assert u == v, (i, u, v)


def test_parametrization_assignment_and_chain():
    for lib in (dl, torch):
        P = lib.nn.utils.parametrize
        layer = lib.nn.Linear(3, 3)
        P.register_parametrization(layer, 'weight', _Split(lib).cls())
        layer.weight = lib.tensor(W[:3])               # goes through right_inverse
        np.testing.assert_allclose(_np(layer.parametrizations.weight.original1),
                                   W[:3] * 0.75, rtol=1e-6)
        np.testing.assert_allclose(_np(layer.weight), W[:3], rtol=1e-6)
    for lib in (dl, torch):
        P = lib.nn.utils.parametrize
        layer = lib.nn.Linear(3, 3)
        with lib.no_grad(): layer.weight.copy_(lib.tensor(W[:3]))
        P.register_parametrization(layer, 'weight', _Symmetric(lib).cls())
        P.register_parametrization(layer, 'weight', lib.nn.Tanh())
        assert len(layer.parametrizations.weight) == 2
        sym = np.triu(W[:3]) + np.triu(W[:3], 1).T
        np.testing.assert_allclose(_np(layer.weight), np.tanh(sym), rtol=1e-5)


def test_register_parametrization_bad_name():
    with pytest.raises(ValueError, match='register_parametrization'):
        dl.nn.utils.parametrize.register_parametrization(dl.nn.Linear(2, 2), 'nope',
                                                         dl.nn.Tanh())
    with pytest.raises(ValueError, match='remove_parametrizations'):
        dl.nn.utils.parametrize.remove_parametrizations(dl.nn.Linear(2, 2), 'weight')


def test_weight_norm_deepcopy_and_double():
    import copy
    out = {}
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):     # the old form's weight is not a leaf
            copy.deepcopy(_old(lib)(_linear(lib)))
        m = _new(lib)(_linear(lib))
        c = copy.deepcopy(m)
        assert type(c).__name__ == 'ParametrizedLinear'
        with lib.no_grad():
            for p in c.parameters(): p.mul_(2.0)
        ym, yc = _np(m(lib.tensor(XIN))), _np(c(lib.tensor(XIN)))
        d = _old(lib)(_linear(lib)).double()
        yd = _np(d(lib.tensor(XIN.astype(np.float64))))
        assert yd.dtype == np.float64
        out[lib.__name__] = ym, yc, yd
    for u, v in zip(out['deeplearning101'], out['torch']):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
