"""Parity with PyTorch for chapter 03's PyTorch surface: `Module.apply`'s order, forward
hooks, saving a whole module, `load(map_location=...)`, channel dropout, and the extra
activations, distances and losses (values and gradients, float64 on both sides)."""
import io
import pickle
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101 import nn as dnn
from deeplearning101.nn import functional as DF

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional

RTOL, ATOL = 1e-6, 1e-9


def _pair(a, requires_grad=True):
    a = np.asarray(a, np.float64)
    return (dl.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(d, t, rtol=RTOL, atol=ATOL):
    d = np.asarray(d.detach().numpy() if isinstance(d, dl.Tensor) else d)
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert d.shape == t.shape, (d.shape, t.shape)
    np.testing.assert_allclose(d, t, rtol=rtol, atol=atol)


def _same_values_and_grads(fd, ft, *arrays, grad_seed=0):
    "fd(*dl tensors), ft(*torch tensors): values, and gradients of a random weighting."
    ds, ts = zip(*[_pair(a) for a in arrays])
    yd, yt = fd(*ds), ft(*ts)
    _close(yd, yt)
    w = np.random.default_rng(grad_seed).standard_normal(tuple(yt.shape))
    (yd * dl.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for d, t in zip(ds, ts):
        _close(d.grad, t.grad)


def _rng(seed=0): return np.random.default_rng(seed)


# -------------------------------------------------------------------------------- apply

def _net(nn):
    return nn.Sequential(nn.Sequential(nn.Linear(1, 1), nn.ReLU()), nn.Linear(1, 1),
                         nn.Sequential(nn.Tanh(),
                                       nn.Sequential(nn.Sigmoid(), nn.ReLU())))


def test_apply_visits_children_first_in_registration_order():
    orders = []
    for nn in (dnn, tnn):
        order = []
        net = _net(nn)
        assert net.apply(lambda m: order.append(type(m).__name__)) is net
        orders.append(order)
    assert orders[0] == orders[1]
    assert orders[0][:3] == ['Linear', 'ReLU', 'Sequential']


def test_apply_seeded_init_matches_torch_assignment():
    "A weights_init that draws in visiting order gives each layer the same numbers."
    def init(nn, layer_cls):
        counter = iter(range(100))
        def fn(m):
            if isinstance(m, layer_cls):
                with (dl.no_grad() if nn is dnn else torch.no_grad()):
                    m.weight.fill_(float(next(counter)))
        return fn
    nets = [_net(nn) for nn in (dnn, tnn)]
    nets[0].apply(init(dnn, dnn.Linear)); nets[1].apply(init(tnn, tnn.Linear))
    got = [[p.detach().numpy().item() for n, p in net.named_parameters()
            if n.endswith('weight')] for net in nets]
    assert got[0] == got[1] == [0.0, 1.0]


# -------------------------------------------------------------------------------- hooks

def _hooked(nn, lib):
    manual = dl if lib == 'dl' else torch
    manual.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    w = _rng(1).standard_normal((4, 3)); w2 = _rng(2).standard_normal((2, 4))
    with (dl.no_grad() if lib == 'dl' else torch.no_grad()):
        net[0].weight.copy_((dl.tensor if lib == 'dl' else torch.tensor)(w).float())
        net[2].weight.copy_((dl.tensor if lib == 'dl' else torch.tensor)(w2).float())
        net[0].bias.fill_(0.1); net[2].bias.fill_(-0.2)
    return net


@pytest.mark.parametrize("lib", ["dl", "torch"])
def test_forward_hooks_record_replace_and_remove(lib):
    nn = dnn if lib == 'dl' else tnn
    T = dl.tensor if lib == 'dl' else torch.tensor
    net = _hooked(nn, lib)
    x = T(_rng(3).standard_normal((5, 3))).float()
    plain = net(x).detach().numpy().copy()
    acts, calls = {}, []
    h1 = net[1].register_forward_hook(
        lambda m, args, out: acts.__setitem__('relu', out.detach().numpy().copy()))
    h2 = net[2].register_forward_pre_hook(lambda m, args: args[0] * 2)   # not a tuple
    h3 = net.register_forward_hook(lambda m, args, out: out - 1)
    h4 = net[2].register_forward_pre_hook(lambda m, args: calls.append('first'),
                                          prepend=True)
    out = net(x).detach().numpy()
    relu = np.maximum(x.numpy() @ net[0].weight.detach().numpy().T + 0.1, 0)
    np.testing.assert_allclose(acts['relu'], relu, rtol=1e-5)
    want = (2 * relu) @ net[2].weight.detach().numpy().T - 0.2 - 1
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert calls == ['first']
    for h in (h1, h2, h3, h4): h.remove()
    h1.remove()                                   # removing twice is harmless
    np.testing.assert_array_equal(net(x).detach().numpy(), plain)
    with net.register_forward_hook(lambda m, a, o: o * 0):
        assert not net(x).detach().numpy().any()
    np.testing.assert_array_equal(net(x).detach().numpy(), plain)


def test_forward_hooks_same_as_torch_with_kwargs_and_grads():
    results = []
    for lib, nn in (('dl', dnn), ('torch', tnn)):
        T = dl.tensor if lib == 'dl' else torch.tensor
        net = _hooked(nn, lib).double()
        log = []
        net[0].register_forward_pre_hook(
            lambda m, args, kwargs: ((args[0] + 1,), kwargs), with_kwargs=True)
        net[0].register_forward_hook(
            lambda m, args, kwargs, out: log.append(len(args)) or out * 3,
            with_kwargs=True)
        x = T(_rng(4).standard_normal((2, 3)), requires_grad=True)
        y = net(x)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(),
                        net[0].weight.grad.numpy(), log))
    for d, t in zip(*results):
        if isinstance(d, list): assert d == t
        else: np.testing.assert_allclose(d, t, rtol=1e-10)


def test_forward_hook_always_call_and_bad_pre_hook():
    class Boom(dnn.Module):
        def forward(self, x): raise ValueError("boom")
    seen = []
    m = Boom()
    m.register_forward_hook(lambda mod, a, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match='boom'): m(dl.zeros(1))
    assert seen == [None]
    lin = dnn.Linear(2, 2)
    lin.register_forward_pre_hook(lambda m, a, k: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match='new_args, new_kwargs'): lin(dl.zeros(1, 2))
    with pytest.raises(TypeError, match='callable'): lin.register_forward_hook(3)


# -------------------------------------------------------------------------- save / load

def test_save_whole_module_pickles_and_weights_only_refuses(tmp_path):
    m = dnn.Sequential(dnn.Linear(2, 3), dnn.BatchNorm1d(3), dnn.ReLU())
    m(dl.tensor(_rng().standard_normal((4, 2)), dtype=dl.float32))
    path = tmp_path / 'model.pth'
    dl.save(m, path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only=False'):
        dl.load(path)
    back = dl.load(path, weights_only=False)
    assert type(back) is dnn.Sequential and repr(back) == repr(m)
    for (k, a), (k2, b) in zip(m.state_dict().items(), back.state_dict().items()):
        assert k == k2 and np.array_equal(a.numpy(), b.numpy())
    back.eval()                                  # a real module
    assert back[1].training is False
    buf = io.BytesIO(); dl.save(m, buf); buf.seek(0)
    assert type(dl.load(buf, weights_only=False, map_location='cpu')) is dnn.Sequential
    # torch behaves the same way
    tm = tnn.Linear(2, 1); torch.save(tm, tmp_path / 't.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 't.pth')
    assert type(torch.load(tmp_path / 't.pth', weights_only=False)) is tnn.Linear


def test_save_module_that_cannot_be_pickled(tmp_path):
    m = dnn.Linear(2, 2)
    m.f = lambda x: x                            # lambdas do not pickle
    with pytest.raises(TypeError, match='state_dict'):
        dl.save(m, tmp_path / 'x.pt')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", [
    lambda storage, loc: storage, {'cuda:0': 'cpu'}, {'cpu': 'cpu'}, 'cpu',
    lambda storage, loc: None])
def test_load_map_location_forms(tmp_path, where):
    for lib in (dl, torch):
        lib.save({'w': lib.arange(3), 'n': 2}, tmp_path / f'{lib.__name__}.pt')
        back = lib.load(tmp_path / f'{lib.__name__}.pt', map_location=where)
        assert back['n'] == 2 and back['w'].tolist() == [0, 1, 2]


def test_load_map_location_errors_are_not_corrupt_files(tmp_path):
    dl.save({'w': dl.arange(3)}, tmp_path / 'ck.pt')
    with pytest.raises(TypeError, match='device') as e:
        dl.load(tmp_path / 'ck.pt', map_location=3.5)
    assert 'corrupted' not in str(e.value)
    def bad(storage, loc): raise KeyError('mine')
    with pytest.raises(KeyError, match='mine'):
        dl.load(tmp_path / 'ck.pt', map_location=bad)
    with pytest.raises(TypeError, match='map_location returned a str'):
        dl.load(tmp_path / 'ck.pt', map_location=lambda s, l: 'cpu')


# ------------------------------------------------------------------------------ dropout

@pytest.mark.parametrize("name,shape,kept", [
    ("dropout1d", (6, 20, 5), 2), ("dropout1d", (20, 5), 1),
    ("dropout2d", (6, 20, 3, 3), 2), ("dropout2d", (20, 3, 3), 2),
    ("dropout3d", (4, 10, 2, 2, 2), 2), ("dropout3d", (10, 2, 2, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(name, shape, kept):
    dl.manual_seed(0)
    x = dl.ones(*shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        y = getattr(DF, name)(x, 0.4)
        yt = getattr(TF, name)(torch.ones(*shape), 0.4)
    a, at = y.detach().numpy(), yt.numpy()
    flat = a.reshape(shape[:kept] + (-1,))
    assert (flat.min(-1) == flat.max(-1)).all()          # one value per channel
    for u in (np.unique(a), np.unique(at)):                # 0 or 1/(1-p), both seen
        np.testing.assert_allclose(u, [0.0, 1 / 0.6], rtol=1e-6)
    flat_t = at.reshape(shape[:kept] + (-1,))
    assert (flat_t.min(-1) == flat_t.max(-1)).all()      # torch: the same layout
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)     # gradient: the mask


@pytest.mark.filterwarnings("ignore:dropout")
def test_channel_dropout_rate_eval_and_modules():
    dl.manual_seed(1)
    y = DF.dropout2d(dl.ones(200, 50, 2, 2), 0.3).numpy()
    assert abs((y[:, :, 0, 0] == 0).mean() - 0.3) < 0.02
    x = dl.ones(2, 3, 4)
    for cls, tcls in ((dnn.Dropout1d, tnn.Dropout1d), (dnn.Dropout2d, tnn.Dropout2d),
                      (dnn.Dropout3d, tnn.Dropout3d)):
        assert repr(cls(0.2)) == repr(tcls(0.2)).replace('torch.', '')
        assert cls(0.5).eval()(x) is x and cls(0.0)(x) is x
        nd = {'Dropout1d': 3, 'Dropout2d': 4, 'Dropout3d': 5}[cls.__name__]
        big = dl.ones(*(2, 3, 4, 4, 4)[:nd])
        assert not cls(1.0)(big).numpy().any()
        with pytest.raises(ValueError, match='between 0 and 1'): cls(1.5)
    assert DF.dropout1d(x, 0.5, training=False) is x
    with pytest.raises(RuntimeError, match='dropout1d: Expected 2D or 3D'):
        DF.dropout1d(dl.ones(4), 0.5)
    with pytest.warns(UserWarning, match='3D input to dropout2d'):
        DF.dropout2d(dl.ones(2, 3, 4), 0.5)
    with pytest.raises(RuntimeError, match='at least 2 dimensions'), \
            pytest.warns(UserWarning):
        DF.dropout2d(dl.ones(4), 0.5)
    dl.manual_seed(3); a = DF.dropout2d(dl.ones(4, 8, 2, 2)).numpy()
    dl.manual_seed(3); b = DF.dropout2d(dl.ones(4, 8, 2, 2)).numpy()
    np.testing.assert_array_equal(a, b)                  # manual_seed repeats the mask
    z = dl.ones(3, 4, 5); z2 = DF.dropout1d(z, 0.5, inplace=True)
    assert z2 is z


def test_calculate_fan_in_and_fan_out():
    for shape in [(64, 16, 3, 3), (5, 7), (3, 2, 4)]:
        assert (dnn.init._calculate_fan_in_and_fan_out(dl.zeros(*shape)) ==
                tnn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape)))
    with pytest.raises(ValueError, match='fewer than 2 dimensions'):
        dnn.init._calculate_fan_in_and_fan_out(dl.zeros(3))


# -------------------------------------------------------------------------- activations

X = np.array([[-30.0, -3.0, -1.0, -0.5, -1e-3, 0.0],
              [1e-3, 0.5, 1.0, 3.0, 6.0, 30.0]])
XR = np.array([[-2.7, -1.3, -0.4, 0.3, 0.9, 2.2], [5.3, 6.4, -7.1, 0.05, 1.7, -0.9]])


@pytest.mark.parametrize("name,kw", [
    ("elu", {}), ("elu", {"alpha": 0.3}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}), ("relu6", {}), ("logsigmoid", {})])
@pytest.mark.parametrize("x", [X, XR])
def test_activations_values_and_grads(name, kw, x):
    _same_values_and_grads(lambda a: getattr(DF, name)(a, **kw),
                           lambda a: getattr(TF, name)(a, **kw), x)


@pytest.mark.parametrize("cls,args", [
    ("ELU", ()), ("ELU", (0.5,)), ("Hardtanh", ()), ("Hardtanh", (-3.0, 2.0)),
    ("ReLU6", ()), ("LogSigmoid", ())])
def test_activation_modules(cls, args):
    d, t = getattr(dnn, cls)(*args), getattr(tnn, cls)(*args)
    assert repr(d) == repr(t)
    _same_values_and_grads(d, t, XR)


def test_activation_reprs_inplace_and_float32():
    for d, t in [(dnn.ELU(inplace=True), tnn.ELU(inplace=True)),
                 (dnn.ReLU6(True), tnn.ReLU6(True)),
                 (dnn.Hardtanh(inplace=True), tnn.Hardtanh(inplace=True)),
                 (dnn.Hardtanh(min_value=-2.0), tnn.Hardtanh(min_val=-2.0))]:
        assert repr(d) == repr(t)
    x = dl.tensor(XR, dtype=dl.float32)
    y = DF.relu6(x, inplace=True)
    assert y is x and x.dtype == dl.float32
    _close(x, TF.relu6(torch.tensor(XR, dtype=torch.float32)))
    assert DF.logsigmoid(dl.tensor([-200.0, 200.0])).numpy().tolist() == [-200.0, 0.0]
    big = dl.tensor([1000.0, -1000.0], requires_grad=True)
    DF.elu(big).sum().backward()
    assert big.grad.numpy().tolist() == [1.0, 0.0]
    with pytest.raises(TypeError, match='elu'): DF.elu(dl.tensor([1, 2]))


# ---------------------------------------------------------------------------- distances

A = _rng(5).standard_normal((4, 3, 5))
B = _rng(6).standard_normal((4, 3, 5))


@pytest.mark.parametrize("kw", [{}, {"dim": 2}, {"p": 1.0, "dim": 0}, {"p": 3.0},
                                {"dim": -1, "eps": 0.5}])
def test_normalize(kw):
    _same_values_and_grads(lambda a: DF.normalize(a, **kw),
                           lambda a: TF.normalize(a, **kw), A)


@pytest.mark.parametrize("shapes,kw", [
    (((4, 3, 5), (4, 3, 5)), {}), (((4, 3, 5), (4, 3, 5)), {"dim": 2}),
    (((4, 5), (1, 5)), {}), (((6,), (6,)), {"dim": 0}), (((3, 5), (5,)), {"dim": -1})])
def test_cosine_similarity(shapes, kw):
    a, b = (_rng(i).standard_normal(s) for i, s in enumerate(shapes))
    _same_values_and_grads(lambda x, y: DF.cosine_similarity(x, y, **kw),
                           lambda x, y: TF.cosine_similarity(x, y, **kw), a, b)
    d, t = dnn.CosineSimilarity(**kw), tnn.CosineSimilarity(**kw)
    assert repr(d) == repr(t)
    _close(d(*_pair(a, False)[:1], *_pair(b, False)[:1]),
           t(torch.tensor(a), torch.tensor(b)))


def test_cosine_similarity_small_norms_and_errors():
    a = np.array([[1e-10, 0.0, 0.0], [1.0, 2.0, 3.0]])
    b = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    _same_values_and_grads(DF.cosine_similarity, TF.cosine_similarity, a, b)
    with pytest.raises(RuntimeError, match='cosine_similarity'):
        DF.cosine_similarity(dl.zeros(2, 3), dl.zeros(3, 2))


@pytest.mark.parametrize("shapes,kw", [
    (((4, 5), (4, 5)), {}), (((4, 5), (4, 5)), {"p": 1.0}),
    (((4, 5), (4, 5)), {"keepdim": True}), (((2, 4, 5), (4, 5)), {"p": 3.0}),
    (((5,), (5,)), {}), (((4, 5), (4, 5)), {"eps": 0.0, "p": 2.0})])
def test_pairwise_distance(shapes, kw):
    a, b = (_rng(i + 7).standard_normal(s) for i, s in enumerate(shapes))
    _same_values_and_grads(lambda x, y: DF.pairwise_distance(x, y, **kw),
                           lambda x, y: TF.pairwise_distance(x, y, **kw), a, b)
    d, t = dnn.PairwiseDistance(**kw), tnn.PairwiseDistance(**kw)
    assert repr(d) == repr(t)


# ------------------------------------------------------------------------------- losses

P = _rng(8).standard_normal((6, 4)) * 2
Q = _rng(9).standard_normal((6, 4))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0, 3.0])
def test_smooth_l1_loss(reduction, beta):
    _same_values_and_grads(
        lambda p, q: DF.smooth_l1_loss(p, q, reduction=reduction, beta=beta),
        lambda p, q: TF.smooth_l1_loss(p, q, reduction=reduction, beta=beta), P, Q)
    d = dnn.SmoothL1Loss(reduction=reduction, beta=beta)
    t = tnn.SmoothL1Loss(reduction=reduction, beta=beta)
    assert repr(d) == repr(t)
    _same_values_and_grads(d, t, P, Q)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
def test_huber_loss(reduction, delta):
    _same_values_and_grads(
        lambda p, q: DF.huber_loss(p, q, reduction=reduction, delta=delta),
        lambda p, q: TF.huber_loss(p, q, reduction=reduction, delta=delta), P, Q)
    d, t = dnn.HuberLoss(reduction, delta), tnn.HuberLoss(reduction, delta)
    assert repr(d) == repr(t)
    _same_values_and_grads(d, t, P, Q)


def test_huber_weight_and_errors():
    w = np.abs(_rng(10).standard_normal((6, 4)))
    for red in ("mean", "sum", "none"):
        _same_values_and_grads(
            lambda p, q: DF.huber_loss(p, q, red, 0.7, weight=dl.tensor(w)),
            lambda p, q: TF.huber_loss(p, q, red, 0.7, weight=torch.tensor(w)), P, Q)
    p, q = dl.zeros(2, 3), dl.zeros(2, 3)
    with pytest.raises(RuntimeError, match='negative'): DF.huber_loss(p, q, delta=-1.0)
    with pytest.raises(RuntimeError, match='negative'):
        DF.smooth_l1_loss(p, q, beta=-1.0)
    with pytest.raises(ValueError, match='reduction'): DF.huber_loss(p, q, 'avg')
    with pytest.warns(UserWarning, match='broadcasting'), \
            pytest.raises(RuntimeError, match='must match the size'):
        DF.smooth_l1_loss(p, dl.zeros(2))


def test_loss_reprs_match_torch():
    for name in ("MSELoss", "L1Loss", "BCELoss", "NLLLoss", "CrossEntropyLoss",
                 "BCEWithLogitsLoss"):
        for red in ("mean", "sum", "none"):
            assert repr(getattr(dnn, name)(reduction=red)) == \
                repr(getattr(tnn, name)(reduction=red))


# ----------------------------------------------------------------------- backward hooks

def _backward_hook_run(lib, nn, replace):
    lib.manual_seed(0)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, a, k, b): return self.lin(a) * k + b.sum(), a.sum()

    m = Two().double()
    with (dl.no_grad() if lib is dl else torch.no_grad()):
        m.lin.weight.copy_(lib.tensor(np.arange(6.).reshape(2, 3) / 7))
        m.lin.bias.fill_(0.3)
    log = []
    arr = lambda g: None if g is None else g.detach().numpy().copy()

    def hook(mod, gin, gout):
        assert mod is m
        log.append(([arr(g) for g in gin], [arr(g) for g in gout]))
        if replace: return tuple(None if g is None else g * 2 for g in gin)
    h = m.register_full_backward_hook(hook)
    a = lib.tensor(_rng(0).standard_normal((4, 3)), requires_grad=True)
    b = lib.tensor(_rng(1).standard_normal(2), requires_grad=True)
    y, _ = m(a, 3.0, b)
    (y * y).sum().backward()
    h.remove()
    m(a, 3.0, b)[0].sum().backward()                   # removed: no second call
    return log, a.grad.numpy(), b.grad.numpy(), m.lin.weight.grad.numpy()


@pytest.mark.parametrize("replace", [False, True])
def test_full_backward_hook_matches_torch(replace):
    d = _backward_hook_run(dl, dnn, replace)
    t = _backward_hook_run(torch, tnn, replace)
    assert len(d[0]) == len(t[0]) == 1
    (gi, go), (gi2, go2) = d[0][0], t[0][0]
    assert [g is None for g in gi + go] == [g is None for g in gi2 + go2]
    assert [g is None for g in gi] == [False, True, False]      # k is a number
    assert [g is None for g in go] == [False, True]             # a.sum() unused
    for x, y in zip(gi + go, gi2 + go2):
        if x is not None: np.testing.assert_allclose(x, y, rtol=1e-10)
    for x, y in zip(d[1:], t[1:]): np.testing.assert_allclose(x, y, rtol=1e-10)


def test_full_backward_hook_without_input_grads_and_errors():
    logs = []
    for lib, nn in ((dl, dnn), (torch, tnn)):
        log = []
        lin = nn.Linear(3, 2).double()
        lin.register_full_backward_hook(
            lambda mod, gi, go: log.append((gi, tuple(go[0].shape))))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            lin(lib.ones(2, 3, dtype=lib.float64)).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1] == [((None,), (2, 2))]
    lin = dnn.Linear(3, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    x = dl.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match='invalid number of grad_input'):
        lin(x).sum().backward()
    with dl.no_grad():                                  # nothing recorded, no hook
        assert not lin(x).requires_grad


def test_module_repr_layout_matches_torch():
    reprs = []
    for nn in (dnn, tnn):
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.s, self.lin = 2.0, nn.Linear(1, 1)

            def extra_repr(self): return f"s={self.s}"

        class Multi(nn.Module):
            def extra_repr(self): return "a=1\nb=2"
        reprs.append([repr(Scale()), repr(Multi()), repr(nn.Sequential()),
                      repr(nn.Sequential(nn.ReLU(), nn.Sequential(nn.Linear(2, 3)),
                                         nn.MSELoss(reduction='sum')))])
    assert reprs[0] == reprs[1]


def test_hardtanh_relu6_integers_like_torch():
    v = [-3, 0, 2, 9]
    for f in ("hardtanh", "relu6"):
        d, t = getattr(DF, f)(dl.tensor(v)), getattr(TF, f)(torch.tensor(v))
        assert d.tolist() == t.tolist() and d.dtype == dl.int64
