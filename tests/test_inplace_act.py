"""Activations with `inplace=True` against PyTorch: the result is written into the input
and recorded in the graph (values, gradients, the version counter), a leaf that requires
grad is refused under grad mode, and MobileNet-style `Conv -> BatchNorm -> ReLU6(inplace)`
stacks train as in PyTorch.
"""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn as dnn
import deeplearning101.nn.functional as DF

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional

# the kinks and bounds of every activation below, and points on each side of them
XS = np.array([-4.0, -3.0, -2.5, -1.0, -0.3, 0.0, 0.05, 0.1, 0.7, 1.0, 2.9, 3.0, 3.5,
               5.9, 6.0, 7.5])

# (name, dl module, torch module): every activation that takes `inplace`
MODULES = [
    ('ReLU6', lambda m: m.ReLU6(inplace=True)),
    ('Hardtanh', lambda m: m.Hardtanh(inplace=True)),
    ('Hardtanh(-2,3)', lambda m: m.Hardtanh(-2.0, 3.0, inplace=True)),
    ('ELU', lambda m: m.ELU(inplace=True)),
    ('ELU(0.5)', lambda m: m.ELU(0.5, inplace=True)),
    ('SELU', lambda m: m.SELU(inplace=True)),
    ('CELU(0.7)', lambda m: m.CELU(0.7, inplace=True)),
    ('Hardswish', lambda m: m.Hardswish(inplace=True)),
    ('Hardsigmoid', lambda m: m.Hardsigmoid(inplace=True)),
    ('Threshold', lambda m: m.Threshold(0.1, 20.0, inplace=True)),
    ('Mish', lambda m: m.Mish(inplace=True)),
    ('ReLU', lambda m: m.ReLU(inplace=True)),
    ('LeakyReLU', lambda m: m.LeakyReLU(0.1, inplace=True)),
    ('SiLU', lambda m: m.SiLU(inplace=True)),
]

# (name, f(F, x)): the functional forms
FUNCTIONS = [
    ('relu6', lambda F, x: F.relu6(x, inplace=True)),
    ('hardtanh', lambda F, x: F.hardtanh(x, -0.5, 2.0, inplace=True)),
    ('elu', lambda F, x: F.elu(x, 1.5, inplace=True)),
    ('selu', lambda F, x: F.selu(x, inplace=True)),
    ('celu', lambda F, x: F.celu(x, 2.0, inplace=True)),
    ('hardswish', lambda F, x: F.hardswish(x, inplace=True)),
    ('hardsigmoid', lambda F, x: F.hardsigmoid(x, inplace=True)),
    ('threshold', lambda F, x: F.threshold(x, 0.5, -1.0, inplace=True)),
    ('mish', lambda F, x: F.mish(x, inplace=True)),
    ('relu', lambda F, x: F.relu(x, inplace=True)),
    ('leaky_relu', lambda F, x: F.leaky_relu(x, 0.2, inplace=True)),
    ('silu', lambda F, x: F.silu(x, inplace=True)),
    ('alpha_dropout_p1', lambda F, x: F.alpha_dropout(x, 1.0, True, inplace=True)),
]

CASES = ([(n, lambda lib, x, mk=mk: mk(lib.nn)(x)) for n, mk in MODULES]
         + [(n, lambda lib, x, f=f: f(lib.nn.functional, x)) for n, f in FUNCTIONS])
IDS = [n for n, _ in CASES]


def _pair(values, dtype='float64', requires_grad=True):
    a = np.asarray(values, dtype=dtype)
    return (dl.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def _np(t):
    return t.detach().numpy() if hasattr(t, 'detach') else np.asarray(t)


@pytest.mark.parametrize('name,act', CASES, ids=IDS)
@pytest.mark.parametrize('dtype', ['float64', 'float32'])
def test_values_grads_and_version_after_an_op(name, act, dtype):
    # float64: torch's celu rounds its 1/alpha scale to about 1e-8 (dl's is exact)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == 'float32' else dict(rtol=1e-7, atol=0)
    (x, xt), w = _pair(XS / 2, dtype), np.linspace(0.5, 2.0, XS.size).astype(dtype)
    outs = []
    for lib, leaf in ((dl, x), (torch, xt)):
        h = leaf * 2.0                                  # a non-leaf, as after a conv
        v0 = h._version
        y = act(lib, h)
        assert y is h                                   # written into the input
        assert h._version == v0 + 1                     # the write counted once
        assert y.requires_grad and y.grad_fn is not None
        (y * lib.tensor(w)).sum().backward()
        outs.append((_np(y), _np(leaf.grad)))
    (yd, gd), (yt, gt) = outs
    np.testing.assert_allclose(yd, yt, **tol)
    np.testing.assert_allclose(gd, gt, **tol)


@pytest.mark.parametrize('name,act', CASES, ids=IDS)
def test_leaf_that_requires_grad_is_refused(name, act):
    x, xt = _pair(XS)
    with pytest.raises(RuntimeError, match='leaf Variable that requires grad'):
        act(torch, xt)
    with pytest.raises(RuntimeError, match='leaf tensor that requires grad .* in-place'):
        act(dl, x)
    assert np.array_equal(x.detach().numpy(), XS)       # the leaf is unchanged
    assert x._version == 0 and x.grad_fn is None


@pytest.mark.parametrize('name,act', CASES, ids=IDS)
def test_leaf_under_no_grad_and_plain_tensors(name, act):
    x, xt = _pair(XS)
    with dl.no_grad(): y = act(dl, x)
    with torch.no_grad(): yt = act(torch, xt)
    assert y is x and x._version == xt._version == 1
    assert not y.grad_fn and x.requires_grad
    np.testing.assert_allclose(x.detach().numpy(), xt.detach().numpy(), rtol=1e-12)
    p, pt = _pair(XS, requires_grad=False)              # no grad anywhere: no refusal
    assert act(dl, p) is p and act(torch, pt) is pt
    np.testing.assert_allclose(p.numpy(), pt.numpy(), rtol=1e-12)
    assert p._version == pt._version == 1 and not p.requires_grad


@pytest.mark.parametrize('name,act', CASES, ids=IDS)
def test_value_saved_by_an_earlier_op_is_guarded(name, act):
    # h * h saved h; changing h in place afterwards makes backward refuse, as in torch
    for lib in (dl, torch):
        x = lib.tensor(XS, requires_grad=True)
        h = x * 1.5
        z = (h * h).sum()
        act(lib, h)
        with pytest.raises(RuntimeError, match='modified by an inplace operation'):
            z.backward()


@pytest.mark.parametrize('name,act', CASES, ids=IDS)
def test_second_derivatives(name, act):
    x, xt = _pair(XS[XS != 0] / 3 + 0.01)
    res = []
    for lib, leaf in ((dl, x), (torch, xt)):
        if lib is torch and 'ardsigmoid' in name:   # torch: hardsigmoid_backward has
            res.append((np.where(np.abs(XS[XS != 0] / 3 + 0.01) < 3,   # no derivative
                                 (XS[XS != 0] / 3 + 0.01) / 18 + 1 / 6, 0), None))
            continue
        y = act(lib, leaf * 1.0)
        (g,) = lib.autograd.grad((y * y).sum(), leaf, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), leaf, allow_unused=True)
        res.append((_np(g), None if gg is None else _np(gg)))
    (g, gg), (gt, ggt) = res
    np.testing.assert_allclose(g, gt, rtol=1e-7, atol=1e-12)      # celu: see above
    gg = np.zeros_like(g) if gg is None else gg
    ggt = np.zeros_like(gt) if ggt is None else ggt
    if 'ardsigmoid' in name: ggt = np.where(np.abs(x.detach().numpy()) < 3, 1 / 18, 0)
    np.testing.assert_allclose(gg, ggt, rtol=1e-7, atol=1e-10)


def test_gradcheck_through_the_in_place_path():
    x = dl.tensor(XS[XS != 0] / 3 + 0.01, requires_grad=True)
    for name, act in CASES:
        if name in ('ReLU6', 'Threshold', 'Hardtanh', 'alpha_dropout_p1'):
            continue                    # piecewise constant at these points: trivial
        assert dl.gradcheck(lambda t: act(dl, t * 1.0), x), name


def test_chained_in_place_activations_and_reuse():
    # two in-place writes on the same tensor, then the result used twice. torch refuses
    # this one at backward (elu_ saves its result, which hardtanh_ changes); dl keeps
    # the values each op needs, and its gradient is torch's with a clone in between
    (x, xt) = _pair(XS / 2)
    out = []
    for lib, leaf in ((dl, x), (torch, xt)):
        h = leaf * 3.0 - 1.0
        F = lib.nn.functional
        h = F.elu(h, 0.5, inplace=True)
        if lib is torch: h = h.clone()
        F.hardtanh(h, -0.25, 4.0, inplace=True)
        assert h._version == (2 if lib is dl else 1)
        (h * h + h.exp()).sum().backward()
        out.append((_np(h), _np(leaf.grad)))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12)


def test_integer_hardtanh_and_threshold_in_place():
    a = np.array([-5, -1, 0, 3, 7, 9])
    d, t = dl.tensor(a.copy()), torch.tensor(a.copy())
    assert DF.relu6(d, inplace=True) is d and TF.relu6(t, inplace=True) is t
    assert d.dtype == dl.int64 and d.tolist() == t.tolist()
    d, t = dl.tensor(a.copy()), torch.tensor(a.copy())
    DF.threshold(d, 2, 20, inplace=True), TF.threshold(t, 2, 20, inplace=True)
    assert d.dtype == dl.int64 and d.tolist() == t.tolist()


def test_error_names_the_in_place_op():
    leaf = dl.tensor([1.0, -1.0], requires_grad=True)
    for f, where in ((lambda: DF.relu6(leaf, inplace=True), 'relu6_'),
                     (lambda: DF.hardtanh(leaf, inplace=True), 'hardtanh_'),
                     (lambda: DF.elu(leaf, inplace=True), 'elu_'),
                     (lambda: dnn.Mish(inplace=True)(leaf), 'mish_'),
                     (lambda: DF.alpha_dropout(leaf, 0.5, True, True), 'alpha_dropout_')):
        with pytest.raises(RuntimeError, match=f'^{where}: a leaf tensor'):
            f()


# -------------------------------------------------- MobileNet-like stacks, train mode

def _block(nn, act):
    """MobileNetV2's inverted residual without the skip: expand, depthwise, project."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 1, bias=False), nn.BatchNorm2d(8), act(nn),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), act(nn),
        nn.Conv2d(8, 4, 1, bias=False), nn.BatchNorm2d(4),
        nn.Conv2d(4, 4, 3, stride=2, padding=1), act(nn),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


@pytest.mark.parametrize('act', [lambda nn: nn.ReLU6(inplace=True),
                                 lambda nn: nn.Hardswish(inplace=True),
                                 lambda nn: nn.ELU(inplace=True),
                                 lambda nn: nn.Hardtanh(0.0, 6.0, inplace=True)],
                         ids=['ReLU6', 'Hardswish', 'ELU', 'Hardtanh'])
def test_mobilenet_block_trains_as_torch(act):
    torch.manual_seed(0)
    tm = _block(tnn, act).double()
    dm = _block(dnn, act).double()
    dm.load_state_dict({k: dl.tensor(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((4, 3, 6, 6)) * 3
    labels = np.array([0, 2, 1, 2])
    dopt = dl.optim.SGD(dm.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    for step in range(3):
        x, xt = _pair(xa)
        dl_loss = DF.cross_entropy(dm(x), dl.tensor(labels))
        t_loss = TF.cross_entropy(tm(xt), torch.tensor(labels))
        dopt.zero_grad(), topt.zero_grad()
        dl_loss.backward(), t_loss.backward()
        assert abs(dl_loss.item() - t_loss.item()) < 1e-10, step
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-7,
                                   atol=1e-12)
        for (n, p), (_, q) in zip(dm.named_parameters(), tm.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-7,
                                       atol=1e-12, err_msg=n)
        dopt.step(), topt.step()
    for k, v in tm.state_dict().items():                # BN running stats too
        np.testing.assert_allclose(np.asarray(dm.state_dict()[k].numpy(), float),
                                   v.numpy().astype(float), rtol=1e-9, atol=1e-12,
                                   err_msg=k)
    dm.eval(), tm.eval()                                # and in eval, without grad
    with dl.no_grad(), torch.no_grad():
        np.testing.assert_allclose(dm(dl.tensor(xa)).numpy(), tm(torch.tensor(xa)).numpy(),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('name,act', [c for c in CASES if c[0] in (
    'ReLU6', 'Hardtanh', 'Hardswish', 'Hardsigmoid', 'Mish', 'relu6', 'hardtanh',
    'hardswish', 'hardsigmoid', 'mish', 'ReLU', 'relu', 'SiLU', 'silu',
    'alpha_dropout_p1')])
def test_prints_as_torch(name, act):
    # grad_fn=<HardtanhBackward0> after relu6_, as torch prints it
    x, xt = _pair([-1.0, 2.0, 8.0], 'float32')
    assert repr(act(dl, x * 2)) == repr(act(torch, xt * 2))
