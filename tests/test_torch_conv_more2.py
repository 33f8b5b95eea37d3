"""Chapter 07's normalisation, padding and shuffle layers against PyTorch (skipped when torch is not installed),
in float64 to 1e-10: F.group_norm / nn.GroupNorm, F.instance_norm / nn.InstanceNorm1d / nn.InstanceNorm2d,
F.batch_norm, F.local_response_norm / nn.LocalResponseNorm, the padding layers (ZeroPad2d, ConstantPad1d/2d,
ReflectionPad1d/2d, ReplicationPad1d/2d) and F.pixel_shuffle / pixel_unshuffle / channel_shuffle and their
layers: values, gradients of inputs and parameters, running statistics, reprs, state_dict keys, errors."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as DF
from deeplearning101 import nn as dnn

torch = pytest.importorskip("torch")
F, tnn = torch.nn.functional, torch.nn
TOL = 1e-10


# the comparison helpers of tests/test_torch_conv_more.py
from test_torch_conv_more import close, same_forward_backward, second_order  # noqa: E402


def same_layer(ours, theirs, a, steps=2, train=True):
    """A layer pair (ours in float64, PyTorch's loaded with our state_dict): outputs, input and parameter
    gradients, and the buffers after `steps` forward passes."""
    ours, theirs = ours.double(), theirs.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.train(train); theirs.train(train)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x, xt = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        close(y, yt)
        g = rng.standard_normal(tuple(yt.shape))
        y.backward(dl.tensor(g)); yt.backward(torch.tensor(g))
        close(x.grad, xt.grad)
        a = a * 1.5 + 0.3
    for (n, p), (nt, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == nt
        close(p.grad, pt.grad)
    for (n, v), (nt, vt) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert n == nt
        close(v, vt)


# ------------------------------------------------------------------------------------------------ group_norm
@pytest.mark.parametrize('shape,groups', [((2, 6), 3), ((2, 6, 5), 2), ((3, 4, 3, 5), 4), ((2, 4, 3, 5), 1),
                                          ((1, 6, 2, 3, 2), 3)])
def test_group_norm_function(shape, groups):
    rng = np.random.default_rng(len(shape) * 10 + groups)
    a, w, b = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    same_forward_backward(lambda x, w, b: DF.group_norm(x, groups, w, b, eps=1e-3),
                          lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-3), [a, w, b])
    same_forward_backward(lambda x: DF.group_norm(x, groups), lambda x: F.group_norm(x, groups), [a])
    second_order(lambda x: DF.group_norm(x, groups), lambda x: F.group_norm(x, groups), a)


def test_group_norm_layer():
    for args, kw in [((2, 4), {}), ((1, 4), dict(eps=1e-3)), ((4, 4), dict(affine=False)),
                     ((2, 4), dict(bias=False))]:
        ours, theirs = dnn.GroupNorm(*args, **kw), tnn.GroupNorm(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert ours.weight is None or ours.weight.dtype == dl.float32
        if ours.weight is not None: ours.weight = dnn.Parameter(dl.randn(4))
        if ours.bias is not None: ours.bias = dnn.Parameter(dl.randn(4))
        same_layer(ours, theirs, np.random.default_rng(2).standard_normal((3, 4, 5, 2)))
    with pytest.raises(ValueError, match='divisible'): dnn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match='divisible'): tnn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match='group_norm.*divisible'): DF.group_norm(dl.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match='group_norm.*weight'):
        DF.group_norm(dl.randn(2, 4, 3), 2, dl.ones(3))
    with pytest.raises(ValueError, match='group_norm'): DF.group_norm(dl.randn(4), 2)
    with pytest.raises(TypeError, match='group_norm'): DF.group_norm(dl.tensor([[1, 2]]), 1)
    with pytest.raises(RuntimeError, match='group_norm.*dtype'):
        DF.group_norm(dl.randn(2, 4, 3), 2, dl.ones(4, dtype=dl.float64))
    with pytest.raises(RuntimeError, match='GroupNorm|group_norm'): dnn.GroupNorm(2, 4)(dl.randn(2, 4, 3).double())


# ------------------------------------------------------------------------------------------------ instance_norm
@pytest.mark.parametrize('shape', [(2, 3, 5), (3, 2, 4, 3), (2, 2, 3, 2, 2)])
def test_instance_norm_function(shape):
    rng = np.random.default_rng(len(shape))
    C = shape[1]
    a, w, b = rng.standard_normal(shape) * 2 - 1, rng.standard_normal(C), rng.standard_normal(C)
    same_forward_backward(lambda x, w, b: DF.instance_norm(x, weight=w, bias=b, eps=1e-3),
                          lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3), [a, w, b])
    second_order(DF.instance_norm, F.instance_norm, a)
    # the running statistics, updated in training, used otherwise
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    ours = [dl.tensor(rm.copy()), dl.tensor(rv.copy())]
    theirs = [torch.tensor(rm.copy()), torch.tensor(rv.copy())]
    for use in (True, True, False):
        same_forward_backward(lambda x: DF.instance_norm(x, *ours, use_input_stats=use, momentum=0.3),
                              lambda x: F.instance_norm(x, *theirs, use_input_stats=use, momentum=0.3), [a])
        close(ours[0], theirs[0]); close(ours[1], theirs[1])


@pytest.mark.parametrize('cls,shape', [('InstanceNorm1d', (3, 4, 6)), ('InstanceNorm1d', (4, 6)),
                                       ('InstanceNorm2d', (3, 4, 3, 5)), ('InstanceNorm2d', (4, 3, 5))])
def test_instance_norm_layers(cls, shape):
    a = np.random.default_rng(3).standard_normal(shape) * 2 + 0.5
    for kw in [{}, dict(affine=True), dict(track_running_stats=True), dict(affine=True, track_running_stats=True,
                                                                            momentum=0.3, eps=1e-3),
               dict(track_running_stats=True, momentum=None), dict(affine=True, bias=False)]:
        ours, theirs = getattr(dnn, cls)(4, **kw), getattr(tnn, cls)(4, **kw)
        assert repr(ours) == repr(theirs)
        if ours.affine: ours.weight = dnn.Parameter(dl.randn(4))
        if ours.bias is not None: ours.bias = dnn.Parameter(dl.randn(4))
        same_layer(ours, theirs, a)
        same_layer(ours, theirs, a, train=False, steps=1)


def test_instance_norm_errors():
    with pytest.raises(ValueError, match='InstanceNorm1d.*2D or 3D'): dnn.InstanceNorm1d(3)(dl.randn(1, 3, 4, 5))
    with pytest.raises(ValueError, match='InstanceNorm2d.*3D or 4D'): dnn.InstanceNorm2d(3)(dl.randn(3, 4))
    with pytest.raises(ValueError, match='num_features'): dnn.InstanceNorm2d(3, affine=True)(dl.randn(2, 4, 3, 3))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        assert dnn.InstanceNorm1d(3)(dl.randn(2, 4, 5)).shape == (2, 4, 5)
    assert any('num_features' in str(x.message) for x in w)
    with pytest.raises(ValueError, match='instance_norm.*spatial'): DF.instance_norm(dl.randn(2, 3, 1))
    with pytest.raises(ValueError, match='instance_norm'): DF.instance_norm(dl.randn(2, 3))


# ------------------------------------------------------------------------------------------------ batch_norm
@pytest.mark.parametrize('shape', [(5, 3), (4, 3, 6), (3, 3, 4, 2)])
def test_batch_norm_function(shape):
    rng = np.random.default_rng(sum(shape))
    C = shape[1]
    a, w, b = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    for training in (True, False):
        for wb in ((w, b), (w, None), (None, b), (None, None)):
            ours, theirs = [dl.tensor(rm.copy()), dl.tensor(rv.copy())], [torch.tensor(rm), torch.tensor(rv)]
            args = [np.array(v) for v in wb if v is not None]

            def call(lib_f, stats):
                def f(x, *p):
                    it = iter(p)
                    pw = next(it) if wb[0] is not None else None
                    pb = next(it) if wb[1] is not None else None
                    return lib_f(x, *stats, pw, pb, training, 0.2, 1e-4)
                return f
            same_forward_backward(call(DF.batch_norm, ours), call(F.batch_norm, theirs),
                                  [a] + args)
            close(ours[0], theirs[0]); close(ours[1], theirs[1])
    second_order(lambda x: DF.batch_norm(x, None, None, training=True),
                 lambda x: F.batch_norm(x, None, None, training=True), a)


def test_batch_norm_function_matches_the_layer():
    "F.batch_norm with the layer's buffers gives BatchNorm2d's outputs and buffers, bit for bit."
    dl.manual_seed(0)
    layer = dnn.BatchNorm2d(3).double()
    layer.weight, layer.bias = dnn.Parameter(dl.randn(3).double()), dnn.Parameter(dl.randn(3).double())
    rm, rv = dl.zeros(3, dtype=dl.float64), dl.ones(3, dtype=dl.float64)
    x = dl.randn(4, 3, 2, 5, dtype=dl.float64)
    for _ in range(3):
        a, b = layer(x), DF.batch_norm(x, rm, rv, layer.weight, layer.bias, True)
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
        assert np.array_equal(rm.numpy(), layer.running_mean.numpy())
        np.testing.assert_allclose(rv.numpy(), layer.running_var.numpy(), rtol=1e-15)
    layer.eval()
    assert np.allclose(layer(x).detach().numpy(), DF.batch_norm(x, rm, rv, layer.weight, layer.bias).detach().numpy())


def test_batch_norm_errors():
    with pytest.raises(ValueError, match='batch_norm.*more than 1 value'):
        DF.batch_norm(dl.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match='batch_norm.*running_mean'): DF.batch_norm(dl.randn(2, 3), None, None)
    with pytest.raises(ValueError, match='batch_norm'): DF.batch_norm(dl.randn(3), dl.zeros(3), dl.ones(3))
    with pytest.raises(TypeError, match='batch_norm.*momentum'):
        DF.batch_norm(dl.randn(2, 3), None, None, training=True, momentum=None)
    with pytest.raises(TypeError, match='instance_norm.*momentum'): DF.instance_norm(dl.randn(2, 3, 4), momentum=None)
    with pytest.raises(RuntimeError, match='batch_norm.*weight'):
        DF.batch_norm(dl.randn(2, 3), dl.zeros(3), dl.ones(3), dl.ones(4))


# ------------------------------------------------------------------------------------------------ local_response_norm
@pytest.mark.parametrize('shape', [(2, 5, 4), (2, 6, 3, 4), (1, 4, 2, 3, 2)])
@pytest.mark.parametrize('size', [1, 2, 3, 5, 8])
def test_local_response_norm(shape, size):
    a = np.random.default_rng(size).standard_normal(shape) * 3
    kw = dict(alpha=0.3, beta=0.6, k=1.5)
    same_forward_backward(lambda x: DF.local_response_norm(x, size, **kw),
                          lambda x: F.local_response_norm(x, size, **kw), [a])
    same_forward_backward(lambda x: dnn.LocalResponseNorm(size)(x), lambda x: tnn.LocalResponseNorm(size)(x), [a])
    second_order(lambda x: DF.local_response_norm(x, size, **kw), lambda x: F.local_response_norm(x, size, **kw), a)


def test_local_response_norm_repr_errors():
    for args in [(2,), (3, 1e-3, 0.5, 2.0)]:
        assert repr(dnn.LocalResponseNorm(*args)) == repr(tnn.LocalResponseNorm(*args))
        assert list(dnn.LocalResponseNorm(*args).state_dict()) == []
    with pytest.raises(ValueError, match='local_response_norm'): DF.local_response_norm(dl.randn(2, 3), 2)
    assert DF.local_response_norm(dl.randn(0, 3, 4), 2).shape == (0, 3, 4)


# ------------------------------------------------------------------------------------------------ padding layers
PADS = [('ZeroPad2d', (), [1, (1, 0, 2, 3), (0, 2, 1, 0)], [(2, 3, 4, 5), (3, 4, 5)]),
        ('ConstantPad1d', (2.5,), [2, (0, 3), (3, 1)], [(2, 3, 4), (3, 4)]),
        ('ConstantPad2d', (-1.5,), [1, (1, 2, 0, 3)], [(2, 3, 4, 5), (3, 4, 5)]),
        ('ReflectionPad1d', (), [2, (0, 3), (3, 1)], [(2, 3, 5), (3, 5)]),
        ('ReflectionPad2d', (), [1, (1, 2, 0, 3), (3, 0, 1, 2)], [(2, 3, 4, 5), (3, 4, 5)]),
        ('ReplicationPad1d', (), [2, (0, 3), (5, 1)], [(2, 3, 4), (3, 4)]),
        ('ReplicationPad2d', (), [1, (1, 2, 0, 3), (4, 0, 1, 6)], [(2, 3, 4, 5), (3, 4, 5)])]


@pytest.mark.parametrize('cls,extra,paddings,shapes', PADS)
def test_padding_layers(cls, extra, paddings, shapes):
    rng = np.random.default_rng(len(cls))
    for p in paddings:
        ours, theirs = getattr(dnn, cls)(p, *extra), getattr(tnn, cls)(p, *extra)
        assert repr(ours) == repr(theirs) and list(ours.state_dict()) == []
        assert ours.padding == theirs.padding
        for shape in shapes:
            same_forward_backward(ours, theirs, [rng.standard_normal(shape)])
        x32 = dl.randn(*shapes[0])
        assert ours(x32).dtype == dl.float32


def test_padding_layer_errors():
    with pytest.raises(TypeError, match='ReflectionPad2d'): dnn.ReflectionPad2d((1, 2))
    with pytest.raises(TypeError, match='ConstantPad1d'): dnn.ConstantPad1d(1.5, 0)
    with pytest.raises(RuntimeError, match='pad'): dnn.ReflectionPad1d(3)(dl.randn(1, 2, 3))
    with pytest.raises(NotImplementedError, match='pad'): dnn.ReflectionPad2d(1)(dl.randn(2, 3))


# ------------------------------------------------------------------------------------------------ shuffles
@pytest.mark.parametrize('shape,r', [((2, 8, 3, 5), 2), ((9, 2, 2), 3), ((2, 3, 4, 2, 1), 1), ((1, 2, 18, 1, 2), 3)])
def test_pixel_shuffle_and_unshuffle(shape, r):
    a = np.random.default_rng(r).standard_normal(shape)
    same_forward_backward(lambda x: DF.pixel_shuffle(x, r), lambda x: F.pixel_shuffle(x, r), [a])
    same_forward_backward(lambda x: dnn.PixelShuffle(r)(x), lambda x: tnn.PixelShuffle(r)(x), [a])
    b = F.pixel_shuffle(torch.tensor(a), r).numpy()
    same_forward_backward(lambda x: DF.pixel_unshuffle(x, r), lambda x: F.pixel_unshuffle(x, r), [b])
    same_forward_backward(lambda x: dnn.PixelUnshuffle(r)(x), lambda x: tnn.PixelUnshuffle(r)(x), [b])
    assert DF.pixel_shuffle(dl.tensor(a.astype(np.float32)), r).dtype == dl.float32
    ints = DF.pixel_shuffle(dl.tensor(np.arange(a.size).reshape(shape)), r)
    assert np.array_equal(ints.numpy(), F.pixel_shuffle(torch.arange(a.size).reshape(shape), r).numpy())


@pytest.mark.parametrize('shape,g', [((2, 6, 3), 2), ((2, 6, 3), 3), ((1, 8, 2, 3), 4), ((2, 4, 2, 1, 2), 2),
                                     ((3, 5, 2), 1)])
def test_channel_shuffle(shape, g):
    a = np.random.default_rng(g).standard_normal(shape)
    same_forward_backward(lambda x: DF.channel_shuffle(x, g), lambda x: F.channel_shuffle(x, g), [a])
    same_forward_backward(lambda x: dnn.ChannelShuffle(g)(x), lambda x: tnn.ChannelShuffle(g)(x), [a])


def test_shuffle_reprs_and_errors():
    for ours, theirs in [(dnn.PixelShuffle(3), tnn.PixelShuffle(3)), (dnn.PixelUnshuffle(2), tnn.PixelUnshuffle(2)),
                         (dnn.ChannelShuffle(4), tnn.ChannelShuffle(4))]:
        assert repr(ours) == repr(theirs) and list(ours.state_dict()) == []
    for f, tf in [(lambda: DF.pixel_shuffle(dl.randn(2, 5, 3, 3), 2), lambda: F.pixel_shuffle(torch.randn(2, 5, 3, 3), 2)),
                  (lambda: DF.pixel_shuffle(dl.randn(4, 3), 2), lambda: F.pixel_shuffle(torch.randn(4, 3), 2)),
                  (lambda: DF.pixel_unshuffle(dl.randn(1, 2, 3, 4), 2),
                   lambda: F.pixel_unshuffle(torch.randn(1, 2, 3, 4), 2)),
                  (lambda: DF.channel_shuffle(dl.randn(2, 5, 3), 2), lambda: F.channel_shuffle(torch.randn(2, 5, 3), 2))]:
        with pytest.raises(RuntimeError): tf()
        with pytest.raises(RuntimeError, match='shuffle'): f()
    with pytest.raises(RuntimeError, match='pixel_shuffle.*positive'): DF.pixel_shuffle(dl.randn(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match='channel_shuffle.*positive'): DF.channel_shuffle(dl.randn(1, 4, 2), 0)


# ------------------------------------------------------------------------------------------------ a small network
def test_network_with_the_new_layers_trains_as_pytorch():
    "A model mixing every new layer: the same state_dict keys, outputs and one SGD step as PyTorch's."
    def build(nn):
        return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 8, 3), nn.GroupNorm(2, 8), nn.ReLU(),
                             nn.ChannelShuffle(2), nn.PixelUnshuffle(2), nn.InstanceNorm2d(32, affine=True),
                             nn.LocalResponseNorm(3), nn.PixelShuffle(2), nn.ReplicationPad2d((1, 0, 0, 1)),
                             nn.ZeroPad2d(1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    dl.manual_seed(0)
    ours, theirs = build(dnn).double(), build(tnn).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(5)
    a, y = rng.standard_normal((4, 2, 6, 6)), rng.integers(0, 3, 4)
    for model, lib in ((ours, dl), (theirs, torch)):
        opt = (dl if lib is dl else torch).optim.SGD(model.parameters(), lr=0.1)
        loss = (DF if lib is dl else F).cross_entropy(model(lib.tensor(a)), lib.tensor(y))
        opt.zero_grad(); loss.backward(); opt.step()
    for (n, p), (nt, pt) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert n == nt
        close(p, pt)


# ------------------------------------------------------------------------------------------------ devices
def test_new_ops_on_a_simulated_gpu_equal_the_cpu(monkeypatch):
    "Every new function on a 'cuda' tensor of the stand-in CuPy computes the CPU's values and gradients."
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    fake_cupy.install(monkeypatch)
    try:
        X = np.random.default_rng(16).standard_normal((2, 4, 4, 6))

        def run(dev):
            x = dl.tensor(X, requires_grad=True, device=dev)
            rm, rv = dl.zeros(4, dtype=dl.float64, device=dev), dl.ones(4, dtype=dl.float64, device=dev)
            outs = [DF.group_norm(x, 2), DF.instance_norm(x, rm, rv), DF.batch_norm(x, rm, rv, training=True),
                    DF.batch_norm(x, rm, rv), DF.local_response_norm(x, 3), DF.local_response_norm(x, 4),
                    DF.pixel_shuffle(x, 2), DF.pixel_unshuffle(x, 2), DF.channel_shuffle(x, 2)]
            # (the padding layers are F.pad, which needs `take`, missing from the stand-in CuPy)
            sum((o * o).sum() for o in outs).backward()
            return [o.detach().cpu().numpy() for o in outs + [x.grad, rm, rv]]
        for a, b in zip(run('cpu'), run('cuda')): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)
    finally:
        G._probe.cache_clear()
