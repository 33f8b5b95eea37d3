"""Probe S against PyTorch: the lazy convolution and batch-norm layers (d2l 1.0 builds
chapters 7-8 with them), exact adaptive average pooling over windows smaller than the
map, and the recurrent layers' `_flat_weights_names` / `_flat_weights` (d2l's
`xavier_init_weights`)."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")
dnn, tnn = dl.nn, torch.nn
DF, TF = dl.nn.functional, torch.nn.functional


def both(make):
    "The same construction with deeplearning101 and with torch."
    return make(dnn), make(tnn)


def copy_into(dm, tm):
    "Torch's parameters and buffers into the deeplearning101 model (same names)."
    state = tm.state_dict()
    assert list(dm.state_dict()) == list(state)
    dm.load_state_dict({k: v.detach().numpy() for k, v in state.items()})


def close(a, b, tol=1e-5):
    a = a.detach().numpy() if isinstance(a, dl.Tensor) else np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ----------------------------------------------------------------- lazy layers

LAZY = [
    (lambda nn: nn.LazyConv2d(6, 5, padding=2), (2, 3, 8, 8)),
    (lambda nn: nn.LazyConv2d(4, (3, 2), stride=(2, 1), dilation=2, groups=2,
                              bias=False), (1, 4, 9, 7)),
    (lambda nn: nn.LazyConv2d(4, 3, padding='same', padding_mode='reflect'), (3, 6, 6)),
    (lambda nn: nn.LazyConv1d(4, 3, padding=1), (2, 5, 7)),
    (lambda nn: nn.LazyConv1d(6, 2, stride=2, groups=3), (6, 9)),
    (lambda nn: nn.LazyConvTranspose2d(4, 3, stride=2, padding=1, output_padding=1),
     (2, 3, 4, 5)),
    (lambda nn: nn.LazyConvTranspose1d(6, 3, stride=2, groups=2), (2, 4, 5)),
    (lambda nn: nn.LazyBatchNorm2d(), (4, 3, 5, 5)),
    (lambda nn: nn.LazyBatchNorm2d(momentum=None, affine=False), (4, 3, 2, 2)),
    (lambda nn: nn.LazyBatchNorm1d(eps=1e-3), (8, 5)),
    (lambda nn: nn.LazyBatchNorm1d(track_running_stats=False, bias=False), (4, 3, 6)),
]


@pytest.mark.parametrize("make, shape", LAZY)
def test_lazy_layer_as_torch(make, shape):
    dm, tm = both(make)
    assert repr(dm) == repr(tm)                      # e.g. LazyConv2d(0, 6, ...)
    assert dm.has_uninitialized_params() and tm.has_uninitialized_params()
    assert [n for n, _ in dm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in dm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    plain = tm.cls_to_become.__name__
    assert dm.cls_to_become.__name__ == plain
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    dy, ty = dm(dl.tensor(x)), tm(torch.tensor(x))
    assert type(dm).__name__ == type(tm).__name__ == plain
    assert repr(dm) == repr(tm) and tuple(dy.shape) == tuple(ty.shape)
    for (n, p), (_, q) in zip(dm.named_parameters(), tm.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape), n
    for (n, p), (_, q) in zip(dm.named_buffers(), tm.named_buffers()):
        assert tuple(p.shape) == tuple(q.shape) and p.dtype.is_floating_point == \
            q.dtype.is_floating_point, n
    assert not hasattr(dm, 'has_uninitialized_params')     # a plain layer now
    if 'BatchNorm' in type(tm).__name__ and tm.affine:      # the plain start
        assert dm.weight.tolist() == tm.weight.tolist()
        assert dm.bias is None or dm.bias.tolist() == tm.bias.tolist()
    if tm.state_dict():
        copy_into(dm, tm)
        close(dm(dl.tensor(x)), tm(torch.tensor(x)))


@pytest.mark.parametrize("name, args, shape", [
    ('LazyConv2d', (8, 3), (2, 3, 10, 10)), ('LazyConv1d', (8, 5), (2, 4, 30)),
    ('LazyConvTranspose2d', (8, 3), (2, 4, 3, 3))])
def test_lazy_conv_start_is_the_plain_init(name, args, shape):
    "Default init as the plain class: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."
    dl.manual_seed(0)
    m = getattr(dnn, name)(*args)
    m(dl.randn(*shape))
    fan_in = int(np.prod(m.weight.shape[1:]))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound and w.std() > 0.4 * bound
    assert np.unique(w).size == w.size                      # really drawn


def test_lazy_parameters_filled_in_place_optimizer_made_before():
    for nn, lib in ((dnn, dl), (tnn, torch)):
        m = nn.LazyConv2d(4, 3)
        w, b = m.weight, m.bias
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        m(lib.ones(1, 2, 5, 5)).sum().backward()
        assert m.weight is w and m.bias is b and tuple(w.shape) == (4, 2, 3, 3)
        before = w.detach().clone()
        opt.step()
        assert not lib.equal(before, w.detach())


def test_lazy_initialize_parameters_directly_and_dtype():
    for nn, lib in ((dnn, dl), (tnn, torch)):
        m = nn.LazyConv2d(4, 3, dtype=lib.float64)
        m.initialize_parameters(lib.ones(1, 2, 5, 5, dtype=lib.float64))
        assert type(m).__name__ == 'LazyConv2d' and not m.has_uninitialized_params()
        assert repr(m) == "LazyConv2d(2, 4, kernel_size=(3, 3), stride=(1, 1))"
        assert m.weight.dtype == lib.float64 and tuple(m.weight.shape) == (4, 2, 3, 3)
        m(lib.ones(1, 2, 5, 5, dtype=lib.float64))
        assert type(m).__name__ == 'Conv2d'
        bn = nn.LazyBatchNorm1d(dtype=lib.float64)
        bn(lib.ones(4, 3, dtype=lib.float64))
        assert bn.running_mean.dtype == lib.float64 and bn.num_features == 3


def test_lazy_errors_as_torch():
    for nn, lib in ((dnn, dl), (tnn, torch)):
        with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D "
                                               r"\(batched\) input to LazyConv2d"):
            nn.LazyConv2d(4, 3)(lib.ones(5, 5))
        with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
            nn.LazyConv2d(4, 3, groups=2)(lib.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="LazyBatchNorm1d"):
        dnn.LazyBatchNorm1d()(dl.ones(5))


# d2l 1.0's networks, chapters 7-8, with narrower layers (the same structure)
def lenet(nn):
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(),
        nn.LazyLinear(10))


def bn_lenet(nn):
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(),
        nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(10))


def alexnet(nn):                                     # on 112 x 112 (d2l: 224, wider)
    return nn.Sequential(
        nn.LazyConv2d(12, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(16, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(24, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(24, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(16, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.LazyLinear(32), nn.ReLU(), nn.LazyLinear(32), nn.ReLU(), nn.LazyLinear(10))


def vgg(nn, arch=((1, 8), (1, 16), (2, 16))):
    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
            layers.append(nn.ReLU())
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        return nn.Sequential(*layers)
    return nn.Sequential(*[vgg_block(*a) for a in arch], nn.Flatten(),
                         nn.LazyLinear(32), nn.ReLU(), nn.LazyLinear(10))


def nin(nn):
    def nin_block(out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())
    return nn.Sequential(
        nin_block(8, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(12, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nin_block(10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


def resnet(nn):
    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1,
                                       stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            self.conv3 = (nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
                          if use_1x1conv else None)
            self.bn1, self.bn2 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = TF_or_DF(nn).relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3: X = self.conv3(X)
            Y += X
            return TF_or_DF(nn).relu(Y)
    return nn.Sequential(
        nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
        nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        Residual(8), Residual(16, use_1x1conv=True, strides=2), Residual(16),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10))


def TF_or_DF(nn):
    return TF if nn is tnn else DF


@pytest.mark.parametrize("make, size", [(lenet, 28), (bn_lenet, 28), (alexnet, 112),
                                        (vgg, 28), (nin, 28), (resnet, 28)])
def test_d2l_networks_with_lazy_layers(make, size):
    dm, tm = both(make)
    rng = np.random.default_rng(1)
    dummy = rng.standard_normal((2, 1, size, size)).astype(np.float32)
    X = dl.tensor(dummy)
    shapes = []                                      # d2l's layer_summary
    for layer in dm:
        X = layer(X)
        shapes.append((type(layer).__name__, tuple(X.shape)))
    X = torch.tensor(dummy)
    tshapes = []
    for layer in tm:
        X = layer(X)
        tshapes.append((type(layer).__name__, tuple(X.shape)))
    assert shapes == tshapes
    copy_into(dm, tm)
    x = rng.standard_normal((4, 1, size, size)).astype(np.float32)
    for train in (True, False):
        dm.train(train); tm.train(train)
        xd = dl.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yd, yt = dm(xd), tm(xt)
        close(yd, yt, 2e-4)
        (yd * yd).sum().backward(); (yt * yt).sum().backward()
        close(xd.grad, xt.grad, 2e-4)
        for (n, p), (_, q) in zip(dm.named_parameters(), tm.named_parameters()):
            close(p.grad, q.grad, 3e-4)
        for p in dm.parameters(): p.grad = None
        tm.zero_grad()
    for (n, b), (_, c) in zip(dm.named_buffers(), tm.named_buffers()):
        close(b, c, 1e-5)                            # running statistics


# ------------------------------------------------------ adaptive average pooling

@pytest.mark.parametrize("shape, size", [((1, 2, 7, 7), 3), ((1, 1, 6, 6), 2),
                                         ((2, 3, 7, 5), (3, 2)), ((1, 2, 9, 10), (4, 7)),
                                         ((1, 1, 5, 8), (1, 3)), ((2, 2, 6, 9), (5, None)),
                                         ((2, 5, 5), 2)])
def test_adaptive_avg_pool2d_exact_on_whole_numbers(shape, size):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    d, t = DF.adaptive_avg_pool2d(dl.tensor(x), size), TF.adaptive_avg_pool2d(
        torch.tensor(x), size)
    assert d.tolist() == t.tolist()                  # exactly, e.g. 12.0 stays 12.0
    assert str(dnn.AdaptiveAvgPool2d(size)(dl.tensor(x))) == str(
        tnn.AdaptiveAvgPool2d(size)(torch.tensor(x)))   # printed the same


def test_adaptive_avg_pool1d_exact():
    x = np.arange(2 * 3 * 11, dtype=np.float32).reshape(2, 3, 11)
    for size in (2, 3, 4, 7):
        d = DF.adaptive_avg_pool1d(dl.tensor(x), size)
        t = TF.adaptive_avg_pool1d(torch.tensor(x), size)
        assert d.tolist() == t.tolist()
        assert dnn.AdaptiveAvgPool1d(size)(dl.tensor(x)).tolist() == t.tolist()


@pytest.mark.parametrize("size", [(3, 3), (4, 2), (1, 3), (1, 1), (5, None)])
def test_adaptive_avg_pool2d_values_and_gradients_as_torch(size):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    xd, xt = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = DF.adaptive_avg_pool2d(xd, size), TF.adaptive_avg_pool2d(xt, size)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    close(yd, yt, 1e-6)
    yd.backward(dl.tensor(g)); yt.backward(torch.tensor(g))
    close(xd.grad, xt.grad, 1e-6)
    x64 = dl.tensor(x.astype(np.float64), requires_grad=True)
    assert dl.gradcheck(lambda x: DF.adaptive_avg_pool2d(x, size), x64)
    assert dl.gradgradcheck(lambda x: DF.adaptive_avg_pool2d(x, size) ** 2, x64)


def test_adaptive_avg_pool_gradient_of_whole_numbers_exact():
    x = np.arange(98, dtype=np.float32).reshape(1, 2, 7, 7)
    xd, xt = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    DF.adaptive_avg_pool2d(xd, 3).sum().backward()
    TF.adaptive_avg_pool2d(xt, 3).sum().backward()
    assert xd.grad.tolist() == xt.grad.tolist()


# ------------------------------------------------------------ RNN flat weights

RNNS = [
    lambda nn: nn.GRU(3, 4),
    lambda nn: nn.RNN(3, 4, num_layers=2, nonlinearity='relu'),
    lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
    lambda nn: nn.GRU(3, 4, num_layers=3, bias=False, bidirectional=True),
    lambda nn: nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True),
    lambda nn: nn.RNN(3, 4, bias=False),
]


@pytest.mark.parametrize("make", RNNS)
def test_flat_weights_names_as_torch(make):
    dm, tm = both(make)
    assert dm._flat_weights_names == tm._flat_weights_names
    assert dm._all_weights == tm._all_weights
    assert len(dm._flat_weights) == len(tm._flat_weights)
    for name, p, q in zip(dm._flat_weights_names, dm._flat_weights, tm._flat_weights):
        assert p is getattr(dm, name) and tuple(p.shape) == tuple(q.shape), name
    flat = [w for ws in dm.all_weights for w in ws]
    assert len(flat) == len(dm._flat_weights)
    assert all(a is b for a, b in zip(flat, dm._flat_weights))


def test_flat_weights_are_live():
    for nn in (dnn, tnn):
        gru = nn.GRU(3, 4)
        new = nn.Parameter(gru.weight_hh_l0.detach().clone() * 0)
        gru.weight_hh_l0 = new
        assert gru._flat_weights[1] is new


def params_of(m, name):
    "`m._parameters[name]` (PyTorch's dict) where the package has it."
    return m._parameters[name] if hasattr(m, '_parameters') else getattr(m, name)


def test_d2l_xavier_init_weights():
    def xavier_init_weights(nn, m):                  # d2l's, word for word
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
        if type(m) == nn.GRU:
            for param in m._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(params_of(m, param))
    for nn in (dnn, tnn):
        net = nn.Sequential(nn.GRU(8, 16, num_layers=2), nn.Linear(16, 4))
        gru = net[0]
        b_before = gru.bias_ih_l1.detach().clone()
        net.apply(lambda m: xavier_init_weights(nn, m))
        w = gru.weight_ih_l1.detach().numpy()
        bound = np.sqrt(6 / (16 + 48))               # fan_in 16, fan_out 48
        assert np.abs(w).max() <= bound and np.abs(w).max() > 1 / np.sqrt(16)
        assert gru.bias_ih_l1.detach().tolist() == b_before.tolist()   # biases kept
