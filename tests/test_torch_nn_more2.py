"""Parity with PyTorch for chapter 03's second batch of PyTorch names: PReLU, SELU,
CELU, Mish, Hardswish, Hardsigmoid, Softsign, Softmin, Threshold, Tanhshrink,
Softshrink, Hardshrink, Softmax2d, logit, ParameterList/Dict, ten more losses, Bilinear
and AlphaDropout (values and gradients in float64, reprs, state_dict keys, errors)."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101 import nn as dnn
from deeplearning101.nn import functional as DF

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional

TOL = 1e-10


def _pair(a, requires_grad=True):
    a = np.asarray(a, np.float64)
    return (dl.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(d, t, tol=TOL):
    d = np.asarray(d.detach().numpy() if isinstance(d, dl.Tensor) else d)
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert d.shape == t.shape, (d.shape, t.shape)
    np.testing.assert_allclose(d, t, rtol=tol, atol=tol)


def _same(fd, ft, *arrays, seed=0, grad_tol=TOL):
    "fd(*dl tensors), ft(*torch tensors): values, and gradients of a random weighting."
    ds, ts = zip(*[_pair(a) for a in arrays])
    yd, yt = fd(*ds), ft(*ts)
    _close(yd, yt)
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    (yd * dl.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for d, t in zip(ds, ts):
        _close(d.grad, t.grad, grad_tol)


def _x(shape=(4, 5), seed=0, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# ---------------------------------------------------------------------- activations

ACTIVATIONS = [
    ('selu', {}), ('celu', {}), ('celu', {'alpha': 0.7}), ('mish', {}),
    ('hardswish', {}), ('hardsigmoid', {}), ('softsign', {}), ('tanhshrink', {}),
    ('softshrink', {}), ('softshrink', {'lambd': 1.2}), ('hardshrink', {}),
    ('hardshrink', {'lambd': 1.5}), ('softmin', {'dim': 1}), ('softmin', {'dim': 0}),
    ('threshold', {'threshold': 0.3, 'value': -2.0}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_functional_activation_values_and_grads(name, kw):
    x = _x()
    x[0, :3] = [-3.0, 3.0, 0.5]                      # hardswish/hardsigmoid edges
    # PyTorch's celu backward rounds 1/alpha through float32 (alpha != 1: ~1e-8 off)
    # and hardsigmoid's backward multiplies by 1/6 in float32
    tol = 1e-7 if kw.get('alpha', 1.0) != 1.0 or name == 'hardsigmoid' else TOL
    _same(lambda a: getattr(DF, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw),
          x, grad_tol=tol)


MODULES = [
    ('SELU', (), 'SELU()'), ('SELU', (True,), 'SELU(inplace=True)'),
    ('CELU', (), 'CELU(alpha=1.0)'),
    ('CELU', (0.5, True), 'CELU(alpha=0.5, inplace=True)'),
    ('Mish', (), 'Mish()'), ('Hardswish', (), 'Hardswish()'),
    ('Hardsigmoid', (), 'Hardsigmoid()'), ('Softsign', (), 'Softsign()'),
    ('Tanhshrink', (), 'Tanhshrink()'), ('Softshrink', (), 'Softshrink(0.5)'),
    ('Hardshrink', (0.8,), 'Hardshrink(0.8)'), ('Softmin', (1,), 'Softmin(dim=1)'),
    ('Threshold', (0.1, 20.0), 'Threshold(threshold=0.1, value=20.0)'),
    ('Softmax2d', (), 'Softmax2d()'),
]


@pytest.mark.parametrize("name,args,text", MODULES)
def test_activation_modules_match_torch(name, args, text):
    md, mt = getattr(dnn, name)(*args), getattr(tnn, name)(*args)
    assert repr(md) == repr(mt).replace('torch', 'dl') == text
    x = _x((2, 3, 4, 2))
    if 'inplace' in text:
        _close(md(dl.tensor(x)), mt(torch.tensor(x)))
    else:
        _same(md, mt, x, grad_tol=1e-7 if name == 'Hardsigmoid' else TOL)


def test_inplace_activation_writes_input():
    a = dl.tensor(_x((3,)))
    out = DF.selu(a, inplace=True)
    assert out is a and np.allclose(a.numpy(), TF.selu(torch.tensor(_x((3,)))).numpy())


def test_prelu_module_and_functional():
    for n in (1, 3):
        md, mt = dnn.PReLU(n), tnn.PReLU(n)
        assert repr(md) == repr(mt) == f"PReLU(num_parameters={n})"
        assert list(md.state_dict()) == list(mt.state_dict()) == ['weight']
        assert md.weight.shape == tuple(mt.weight.shape)
        _close(md.weight, mt.weight, 1e-7)
    for x in [_x((2, 3, 4)), _x((3,)), _x((5, 3))]:
        if x.ndim > 1: _same(DF.prelu, TF.prelu, x, np.array([0.1, -0.3, 0.7]))
        _same(DF.prelu, TF.prelu, x, np.array([0.2]))
    assert dnn.PReLU(2, init=0.5).weight.detach().numpy().tolist() == [0.5, 0.5]
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        DF.prelu(dl.ones(2, 4), dl.ones(3))


def test_logit():
    x = np.random.default_rng(1).uniform(0.01, 0.99, (3, 4))
    _same(dl.logit, torch.logit, x)
    _same(lambda a: dl.logit(a, 0.2), lambda a: torch.logit(a, 0.2), x)
    _same(lambda a: a.logit(), lambda a: a.logit(), x)


def test_softmax2d_error():
    with pytest.raises(ValueError, match="3D or 4D, got 2D"):
        dnn.Softmax2d()(dl.ones(2, 3))


def test_shrink_errors():
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        DF.softshrink(dl.ones(2), -1.0)
    with pytest.raises(RuntimeError):
        TF.softshrink(torch.ones(2), -1.0)


def _plist(nn, T):
    return nn.ParameterList([nn.Parameter(T(np.ones((2, 3)))),
                             nn.Parameter(T(np.zeros(4)))])


def test_parameter_list():
    ld, lt = _plist(dnn, dl.tensor), _plist(tnn, torch.tensor)
    assert list(ld.state_dict()) == list(lt.state_dict()) == ['0', '1']
    assert [n for n, _ in ld.named_parameters()] == ['0', '1']
    assert repr(ld) == repr(lt).replace('torch', 'dl')
    ld.append(dl.ones(2)); lt.append(torch.ones(2))
    assert isinstance(ld[2], dnn.Parameter) and len(ld) == 3
    assert repr(ld) == repr(lt).replace('torch', 'dl')
    owner = dnn.Module(); owner.ps = ld
    assert list(owner.state_dict()) == ['ps.0', 'ps.1', 'ps.2']
    assert len(list(owner.parameters())) == 3 and ld[-1] is ld[2]
    assert len(ld[1:]) == 2
    with pytest.raises(IndexError): ld[3]


def test_parameter_dict():
    pd = dnn.ParameterDict({'b': dnn.Parameter(dl.ones(2)), 'a': dl.zeros(3, 1)})
    pt = tnn.ParameterDict({'b': tnn.Parameter(torch.ones(2)), 'a': torch.zeros(3, 1)})
    # a plain dict is taken in key order (PyTorch's rule), an OrderedDict as it is
    assert list(pd.state_dict()) == list(pt.state_dict()) == ['a', 'b']
    assert list(pd) == list(pt) and list(pd.keys()) == ['a', 'b']
    od = dnn.ParameterDict(OrderedDict([('z', dl.ones(1)), ('y', dl.ones(1))]))
    assert list(od) == ['z', 'y']
    assert repr(pd) == repr(pt)
    assert isinstance(pd['a'], dnn.Parameter) and 'a' in pd and 'c' not in pd
    del pd['b']; del pt['b']
    assert list(pd.state_dict()) == list(pt.state_dict()) == ['a'] and len(pd) == 1
    with pytest.raises(KeyError): pd['b']
    owner = dnn.Module(); owner.d = pd
    assert [n for n, _ in owner.named_parameters()] == ['d.a']


# --------------------------------------------------------------------------- losses

REDUCTIONS = ['mean', 'sum', 'none']


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_hinge_soft_margin(reduction):
    r = np.random.default_rng(3)
    y = np.where(r.random(6) > 0.5, 1.0, -1.0)
    x1, x2 = _x((6,), 4), _x((6,), 5)
    _same(lambda a, b: DF.margin_ranking_loss(a, b, dl.tensor(y), 0.5,
                                              reduction=reduction),
          lambda a, b: TF.margin_ranking_loss(a, b, torch.tensor(y), 0.5,
                                              reduction=reduction), x1, x2)
    _same(lambda a: DF.hinge_embedding_loss(a, dl.tensor(y), 2.0, reduction=reduction),
          lambda a: TF.hinge_embedding_loss(a, torch.tensor(y), 2.0,
                                            reduction=reduction), x1)
    _same(lambda a: DF.soft_margin_loss(a, dl.tensor(y), reduction=reduction),
          lambda a: TF.soft_margin_loss(a, torch.tensor(y), reduction=reduction), x1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_and_triplet(reduction):
    y = np.array([1.0, -1.0, 1.0, -1.0])
    a, b, c = _x((4, 5), 1), _x((4, 5), 2), _x((4, 5), 3)
    for margin in (0.0, 0.3):
        _same(lambda u, v: DF.cosine_embedding_loss(u, v, dl.tensor(y), margin,
                                                    reduction=reduction),
              lambda u, v: TF.cosine_embedding_loss(u, v, torch.tensor(y), margin,
                                                    reduction=reduction), a, b)
    for p, swap in ((2, False), (1, True), (3, True)):
        _same(lambda u, v, w: DF.triplet_margin_loss(u, v, w, 2.0, p, swap=swap,
                                                     reduction=reduction),
              lambda u, v, w: TF.triplet_margin_loss(u, v, w, 2.0, p, swap=swap,
                                                     reduction=reduction), a, b, c)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_and_multi_margin(reduction):
    r = np.random.default_rng(4)
    x = _x((5, 4), 5)
    t = (r.random((5, 4)) > 0.5).astype(np.float64)
    w = r.random(4) + 0.5
    for weight in (None, w):
        _same(lambda a: DF.multilabel_soft_margin_loss(
                  a, dl.tensor(t), None if weight is None else dl.tensor(weight),
                  reduction=reduction),
              lambda a: TF.multilabel_soft_margin_loss(
                  a, torch.tensor(t), None if weight is None else torch.tensor(weight),
                  reduction=reduction), x)
    y = np.array([0, 3, 1, 1, 2])
    for p, margin, weight in ((1, 1.0, None), (2, 0.5, None), (1, 2.0, w), (2, 1., w)):
        _same(lambda a: DF.multi_margin_loss(
                  a, dl.tensor(y), p, margin,
                  None if weight is None else dl.tensor(weight), reduction=reduction),
              lambda a: TF.multi_margin_loss(
                  a, torch.tensor(y), p, margin,
                  None if weight is None else torch.tensor(weight),
                  reduction=reduction), x)
    _same(lambda a: DF.multi_margin_loss(a, dl.tensor(2), reduction=reduction),
          lambda a: TF.multi_margin_loss(a, torch.tensor(2), reduction=reduction),
          x[0])
    labels = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, 0],
                       [1, -1, 3, 3]])
    _same(lambda a: DF.multilabel_margin_loss(a, dl.tensor(labels),
                                              reduction=reduction),
          lambda a: TF.multilabel_margin_loss(a, torch.tensor(labels),
                                              reduction=reduction), x)
    _same(lambda a: DF.multilabel_margin_loss(a, dl.tensor(labels[0]),
                                              reduction=reduction),
          lambda a: TF.multilabel_margin_loss(a, torch.tensor(labels[0]),
                                              reduction=reduction), x[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_and_gaussian_nll(reduction):
    r = np.random.default_rng(5)
    t = r.poisson(2.0, (4, 3)).astype(np.float64)
    for log_input, full in ((True, False), (True, True), (False, True)):
        x = _x((4, 3), 6, 1.0) if log_input else r.uniform(0.1, 4, (4, 3))
        _same(lambda a: DF.poisson_nll_loss(a, dl.tensor(t), log_input, full,
                                            reduction=reduction),
              lambda a: TF.poisson_nll_loss(a, torch.tensor(t), log_input, full,
                                            reduction=reduction), x)
    x, y = _x((4, 3), 7), _x((4, 3), 8)
    for vshape in ((4, 3), (4,), (4, 1), (1, 3)):
        v = r.uniform(0.0, 2.0, vshape)
        v.flat[0] = 1e-9                                   # below eps: clamped
        for full in (False, True):
            _same(lambda a, s: DF.gaussian_nll_loss(a, dl.tensor(y), s, full,
                                                    reduction=reduction),
                  lambda a, s: TF.gaussian_nll_loss(a, torch.tensor(y), s, full,
                                                    reduction=reduction), x, v)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        DF.gaussian_nll_loss(dl.ones(4, 3), dl.ones(4, 3), dl.ones(2, 2))
    with pytest.raises(ValueError, match="negative"):
        DF.gaussian_nll_loss(dl.ones(4, 3), dl.ones(4, 3), -dl.ones(4, 3))


LOSSES = ['MarginRankingLoss', 'HingeEmbeddingLoss', 'SoftMarginLoss',
          'CosineEmbeddingLoss', 'TripletMarginLoss', 'MultiLabelSoftMarginLoss',
          'MultiMarginLoss', 'MultiLabelMarginLoss', 'PoissonNLLLoss',
          'GaussianNLLLoss']


@pytest.mark.parametrize("name", LOSSES)
def test_loss_modules_repr_state_and_reduction(name):
    md, mt = getattr(dnn, name)(reduction='sum'), getattr(tnn, name)(reduction='sum')
    assert repr(md) == repr(mt) and md.reduction == mt.reduction == 'sum'
    assert list(md.state_dict()) == list(mt.state_dict())
    if name != 'GaussianNLLLoss':
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            assert getattr(dnn, name)(size_average=False).reduction == 'sum'
            assert getattr(dnn, name)(reduce=False).reduction == 'none'


def test_loss_module_forward_matches_torch():
    y = np.array([1.0, -1.0, 1.0])
    a, b, c = _x((3, 4), 1), _x((3, 4), 2), _x((3, 4), 3)
    _same(dnn.TripletMarginLoss(0.5, swap=True),
          tnn.TripletMarginLoss(0.5, swap=True), a, b, c)
    _same(lambda u, v: dnn.CosineEmbeddingLoss(0.2)(u, v, dl.tensor(y)),
          lambda u, v: tnn.CosineEmbeddingLoss(0.2)(u, v, torch.tensor(y)), a, b)
    _same(lambda u, v: dnn.MarginRankingLoss(0.2)(u, v, dl.tensor(y)),
          lambda u, v: tnn.MarginRankingLoss(0.2)(u, v, torch.tensor(y)),
          a[:, 0], b[:, 0])
    yl = np.array([0, 2, 3])
    _same(lambda u: dnn.MultiMarginLoss(p=2)(u, dl.tensor(yl)),
          lambda u: tnn.MultiMarginLoss(p=2)(u, torch.tensor(yl)), a)
    _same(lambda u, v: dnn.GaussianNLLLoss(full=True)(u, dl.tensor(b), v),
          lambda u, v: tnn.GaussianNLLLoss(full=True)(u, torch.tensor(b), v),
          a, np.abs(c) + 0.1)
    _same(lambda u: dnn.PoissonNLLLoss(full=True)(u, dl.tensor(np.abs(b).round())),
          lambda u: tnn.PoissonNLLLoss(full=True)(u, torch.tensor(np.abs(b).round())),
          a)


def test_loss_errors():
    with pytest.raises(RuntimeError, match="same dimension"):
        DF.margin_ranking_loss(dl.ones(3), dl.ones(3, 1), dl.ones(3))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        DF.triplet_margin_loss(dl.ones(3, 2), dl.ones(2), dl.ones(3, 2))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        DF.multi_margin_loss(dl.ones(3, 2), dl.tensor([0, 1, 1]), p=3)
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        dnn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        tnn.TripletMarginLoss(margin=0.0)


# ------------------------------------------------------------- Bilinear, AlphaDropout

def test_bilinear():
    md, mt = dnn.Bilinear(3, 4, 2), tnn.Bilinear(3, 4, 2)
    assert repr(md) == repr(mt)
    assert list(md.state_dict()) == list(mt.state_dict()) == ['weight', 'bias']
    assert md.weight.shape == tuple(mt.weight.shape) == (2, 3, 4)
    assert np.abs(md.weight.detach().numpy()).max() <= 1 / np.sqrt(3)
    assert repr(dnn.Bilinear(1, 2, 3, bias=False)) == repr(tnn.Bilinear(1, 2, 3,
                                                                        bias=False))
    assert dnn.Bilinear(1, 2, 3, bias=False).bias is None
    x1, x2, w, b = _x((5, 3), 1), _x((5, 4), 2), _x((2, 3, 4), 3), _x((2,), 4)
    _same(DF.bilinear, TF.bilinear, x1, x2, w, b)
    _same(DF.bilinear, TF.bilinear, x1, x2, w)
    _same(DF.bilinear, TF.bilinear, _x((2, 5, 3), 5), _x((2, 5, 4), 6), w, b)
    with pytest.raises(RuntimeError, match="bilinear"):
        DF.bilinear(dl.ones(5, 3), dl.ones(5, 3), dl.ones(2, 3, 4))


def test_alpha_dropout():
    md, mt = dnn.AlphaDropout(0.2), tnn.AlphaDropout(0.2)
    assert repr(md) == repr(mt) == 'AlphaDropout(p=0.2, inplace=False)'
    dl.manual_seed(0)
    x = dl.tensor(np.random.default_rng(0).standard_normal(200_000))
    y = md(x).numpy()
    yt = mt(torch.tensor(x.numpy())).numpy()
    assert abs(y.mean() - yt.mean()) < 0.02 and abs(y.std() - yt.std()) < 0.02
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02     # self-normalising
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    dropped = -1.7580993408473766 * a * 0.8           # SELU's saturation, mapped
    assert abs(np.mean(np.isclose(y, dropped)) - 0.2) < 0.01
    assert abs(np.mean(np.isclose(yt, dropped)) - 0.2) < 0.01
    assert md.eval()(x) is x
    assert DF.alpha_dropout(x, 0.5) is x                  # training=False by default
    xg = dl.tensor(np.ones(50), requires_grad=True)
    DF.alpha_dropout(xg, 0.5, True).sum().backward()
    assert set(np.unique(xg.grad.numpy().round(6))) <= {0.0, round(
        1 / np.sqrt((1.7580993408473766 ** 2 * 0.5 + 1) * 0.5), 6)}


def test_module_parameter_grads_match_torch():
    "PReLU's and Bilinear's parameter gradients, same weights on both sides."
    for md, mt, xs in ((dnn.PReLU(3, dtype=dl.float64), tnn.PReLU(3).double(),
                        [_x((2, 3, 4))]),
                       (dnn.Bilinear(3, 4, 2, dtype=dl.float64),
                        tnn.Bilinear(3, 4, 2).double(), [_x((5, 3)), _x((5, 4), 1)])):
        with torch.no_grad():
            for (_, pd), (_, pt) in zip(md.named_parameters(), mt.named_parameters()):
                pt.copy_(torch.tensor(_x(tuple(pt.shape), 9)))
                pd.data = dl.tensor(_x(tuple(pt.shape), 9))
        yd = md(*[dl.tensor(x) for x in xs]); yt = mt(*[torch.tensor(x) for x in xs])
        _close(yd, yt)
        w = _x(tuple(yt.shape), 7)
        (yd * dl.tensor(w)).sum().backward(); (yt * torch.tensor(w)).sum().backward()
        for (nd, pd), (nt, pt) in zip(md.named_parameters(), mt.named_parameters()):
            assert nd == nt
            _close(pd.grad, pt.grad)


def test_more_errors():
    with pytest.raises(RuntimeError, match="Expected `weight` to be a scalar or 1D"):
        DF.prelu(dl.ones(2, 3), dl.ones(3, 1))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        DF.multilabel_margin_loss(dl.ones(2, 3), dl.tensor([0, 1]))
    with pytest.raises(ValueError, match="dropout probability"):
        dnn.AlphaDropout(1.5)
    with pytest.raises(TypeError, match="selu: input must be a floating-point"):
        DF.selu(dl.tensor([1, 2]))
