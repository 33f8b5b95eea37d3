"""Chapter 07's PyTorch surface against PyTorch (skipped when torch is not installed), in float64 to 1e-10:
F.interpolate / nn.Upsample (every mode, align_corners, size or scale_factor, recompute_scale_factor),
F.adaptive_max_pool2d / nn.AdaptiveMaxPool2d (values, indices, ties, NaN), F.unfold / F.fold and their layers,
and the 1-d layers (conv1d, max_pool1d, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d): values, gradients
of inputs and parameters, gradients of gradients, dtypes, shapes, reprs, state_dict keys, default init, errors."""
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as DF
from deeplearning101 import nn as dnn

torch = pytest.importorskip("torch")
F, tnn = torch.nn.functional, torch.nn
TOL = 1e-10


def close(a, b, tol=TOL):
    a = a.detach().numpy() if isinstance(a, dl.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def same_forward_backward(ours, theirs, arrays, seed=0, tol=TOL):
    """ours(*dl tensors) vs theirs(*torch tensors): the values (and indices, when a pair comes back), then the
    gradient of every input."""
    xs = [dl.tensor(np.array(a), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    a, b = ours(*xs), theirs(*ts)
    if isinstance(b, tuple):
        assert a[1].dtype == dl.int64 and np.array_equal(a[1].numpy(), b[1].numpy()), (a[1], b[1])
        a, b = a[0], b[0]
    assert a.dtype == dl.float64
    close(a, b, tol)
    g = np.random.default_rng(seed).standard_normal(tuple(b.shape))
    a.backward(dl.tensor(g)); b.backward(torch.tensor(g))
    for x, xt in zip(xs, ts): close(x.grad, xt.grad, tol)


def second_order(ours, theirs, a):
    "The gradient of a function of the gradient (create_graph=True), against PyTorch's."
    out = []
    for lib, f in ((dl, ours), (torch, theirs)):
        x = lib.tensor(np.array(a), requires_grad=True)
        grad = dl.grad if lib is dl else torch.autograd.grad
        y = f(x)
        gx, = grad((y * y * y).sum(), [x], create_graph=True)
        out += [gx, grad((gx * gx).sum(), [x])[0]]
    close(out[0], out[2], 1e-8); close(out[1], out[3], 1e-8)


# ------------------------------------------------------------------------------------------------ interpolate
MODES = [(3, 'nearest', None), (3, 'nearest-exact', None), (3, 'linear', False), (3, 'linear', True),
         (3, 'area', None), (4, 'nearest', None), (4, 'nearest-exact', None), (4, 'bilinear', False),
         (4, 'bilinear', True), (4, 'bicubic', False), (4, 'bicubic', True), (4, 'area', None)]
FACTORS = [0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 1 / 3, 1.7]


def random_resize(rng, ndim, trial):
    shape = (2, 3) + tuple(int(v) for v in rng.integers(1, 9, ndim - 2))
    if trial % 2:
        size = tuple(int(v) for v in rng.integers(1, 13, ndim - 2))
        return shape, dict(size=size[0] if trial % 4 == 1 else size)
    factors = tuple(float(v) for v in rng.choice(FACTORS, ndim - 2))
    return shape, dict(scale_factor=factors if trial % 4 else factors[0],
                       recompute_scale_factor=[None, True, False][trial % 3])


@pytest.mark.parametrize('ndim,mode,align_corners', MODES)
def test_interpolate_values_and_gradients(ndim, mode, align_corners):
    rng, n = np.random.default_rng(ndim * 100 + len(mode) + bool(align_corners)), 0
    for trial in range(24):
        shape, kw = random_resize(rng, ndim, trial)
        a = rng.standard_normal(shape)
        try: want = F.interpolate(torch.tensor(a), mode=mode, align_corners=align_corners, **kw)
        except (RuntimeError, ValueError):        # an output size of 0
            with pytest.raises(ValueError, match='interpolate'):
                DF.interpolate(dl.tensor(a), mode=mode, align_corners=align_corners, **kw)
            continue
        if 0 in want.shape: continue              # 'area' to size 0: PyTorch returns an empty tensor
        n += 1
        same_forward_backward(lambda x: DF.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                              lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                              [a], seed=trial)
        a32 = a.astype(np.float32)                # float32 stays float32, with PyTorch's float32 indices
        ours = DF.interpolate(dl.tensor(a32), mode=mode, align_corners=align_corners, **kw)
        assert ours.dtype == dl.float32
        close(ours, F.interpolate(torch.tensor(a32), mode=mode, align_corners=align_corners, **kw), 2e-5)
    assert n >= 18


@pytest.mark.parametrize('n_in,n_out', [(3, 7), (5, 5), (4, 8), (7, 3), (10, 6), (6, 13), (1, 4)])
def test_interpolate_nearest_indices_exactly(n_in, n_out):
    "Each output copies exactly PyTorch's input position (float32 index arithmetic, the 2x and 1x shortcuts)."
    a = np.arange(n_in * 2, dtype=np.float64).reshape(1, 2, n_in) * 10
    for mode in ('nearest', 'nearest-exact'):
        for kw in (dict(size=n_out), dict(scale_factor=n_out / n_in)):
            assert np.array_equal(DF.interpolate(dl.tensor(a), mode=mode, **kw).numpy(),
                                  F.interpolate(torch.tensor(a), mode=mode, **kw).numpy()), (mode, kw)


def test_interpolate_examples_and_integer_nearest():
    x = np.arange(4.).reshape(1, 1, 2, 2)
    close(DF.interpolate(dl.tensor(x), scale_factor=2, mode='bilinear', align_corners=False)[0, 0, 0],
          [0.0, 0.25, 0.75, 1.0])
    xi = np.arange(6).reshape(1, 1, 2, 3)
    ours = DF.interpolate(dl.tensor(xi), scale_factor=2)      # nearest copies: any dtype
    assert ours.dtype == dl.int64
    assert np.array_equal(ours.numpy(), F.interpolate(torch.tensor(xi, dtype=torch.float64),
                                                      scale_factor=2).numpy())


@pytest.mark.parametrize('mode', ['nearest', 'bilinear', 'bicubic', 'area'])
def test_interpolate_gradients_of_gradients(mode):
    a = np.random.default_rng(3).standard_normal((2, 2, 4, 5))
    second_order(lambda x: DF.interpolate(x, size=(7, 3), mode=mode),
                 lambda x: F.interpolate(x, size=(7, 3), mode=mode), a)


def test_upsample_layers_reprs_and_outputs():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 3, 4, 5))
    for args, kw in [((), dict(scale_factor=2)), ((), dict(size=(3, 4), mode='bilinear')),
                     ((), dict(scale_factor=(2, 3))), ((), dict(scale_factor=1.5, mode='bicubic',
                                                                   align_corners=True)),
                     ((), dict(scale_factor=0.5, mode='area')), ((7,), dict(mode='nearest-exact')),
                     ((), dict(scale_factor=1.7, mode='bilinear', recompute_scale_factor=True))]:
        ours, theirs = dnn.Upsample(*args, **kw), tnn.Upsample(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert ours.scale_factor == theirs.scale_factor and ours.name == theirs.name == 'Upsample'
        close(ours(dl.tensor(a)), theirs(torch.tensor(a)))
    for cls in ('UpsamplingNearest2d', 'UpsamplingBilinear2d'):
        for kw in (dict(scale_factor=2), dict(size=5), dict(size=(3, 7))):
            ours, theirs = getattr(dnn, cls)(**kw), getattr(tnn, cls)(**kw)
            assert repr(ours) == repr(theirs)
            close(ours(dl.tensor(a)), theirs(torch.tensor(a)))
    assert list(dnn.Upsample(scale_factor=2).state_dict()) == []


def test_deprecated_upsample_functions():
    a = np.random.default_rng(5).standard_normal((1, 2, 3, 4))
    for name, kw in (('upsample', dict(scale_factor=2, mode='bilinear')), ('upsample_nearest', dict(size=5)),
                     ('upsample_bilinear', dict(scale_factor=2))):
        with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
            ours = getattr(DF, name)(dl.tensor(a), **kw)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            close(ours, getattr(F, name)(torch.tensor(a), **kw))


def test_interpolate_errors():
    x3, x4 = dl.randn(1, 2, 4), dl.randn(1, 2, 3, 4)
    cases = [(ValueError, 'only one of size or scale_factor', lambda: DF.interpolate(x4, 3, 2.0)),
             (ValueError, 'either size or scale_factor', lambda: DF.interpolate(x4)),
             (ValueError, 'align_corners', lambda: DF.interpolate(x4, 5, align_corners=True)),
             (ValueError, 'recompute_scale_factor', lambda: DF.interpolate(x4, 5, recompute_scale_factor=True)),
             (ValueError, r'\[1, 2, 3, 4\]', lambda: DF.interpolate(x4, size=(5,))),
             (TypeError, 'size', lambda: DF.interpolate(x4, size=(5, 2.5))),
             (NotImplementedError, 'needs a 3-d', lambda: DF.interpolate(x4, 5, mode='linear')),
             (NotImplementedError, 'needs a 4-d', lambda: DF.interpolate(x3, 5, mode='bilinear')),
             (NotImplementedError, 'trilinear', lambda: DF.interpolate(x4, 5, mode='trilinear')),
             (NotImplementedError, 'unknown mode', lambda: DF.interpolate(x4, 5, mode='lanczos')),
             (NotImplementedError, 'antialias', lambda: DF.interpolate(x4, 2, mode='bilinear', antialias=True)),
             (ValueError, 'antialias', lambda: DF.interpolate(x4, 2, antialias=True)),
             (ValueError, 'greater than 0', lambda: DF.interpolate(x4, scale_factor=0.2)),
             (NotImplementedError, '2-d input', lambda: DF.interpolate(dl.randn(3, 4), 5)),
             (TypeError, 'floating-point', lambda: DF.interpolate(dl.tensor([[[1, 2]]]), 5, mode='linear'))]
    for kind, match, f in cases:
        with pytest.raises(kind, match=match): f()
    # the same exception types as PyTorch where PyTorch raises
    t4 = torch.randn(1, 2, 3, 4)
    for kind, f in [(ValueError, lambda: F.interpolate(t4, 3, 2.0)), (ValueError, lambda: F.interpolate(t4)),
                    (ValueError, lambda: F.interpolate(t4, 5, align_corners=True)),
                    (NotImplementedError, lambda: F.interpolate(t4, 5, mode='linear')),
                    (NotImplementedError, lambda: F.interpolate(t4, 5, mode='trilinear'))]:
        with pytest.raises(kind): f()


# ------------------------------------------------------------------------------------------------ adaptive max
@pytest.mark.parametrize('seed', range(12))
def test_adaptive_max_pool2d_values_indices_gradients(seed):
    rng = np.random.default_rng(seed)
    for trial in range(5):
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        size = [(int(rng.integers(1, 12)), int(rng.integers(1, 12))), int(rng.integers(1, 12)),
                (None, int(rng.integers(1, 12)))][trial % 3]
        a = rng.standard_normal((2, 3, H, W))
        if seed % 3 == 0: a = np.round(a)          # ties: the first maximum in row order wins
        if trial == 4: a = a[0]                    # unbatched [C, H, W]
        ri = bool(trial % 2)
        same_forward_backward(lambda x: DF.adaptive_max_pool2d(x, size, ri),
                              lambda x: F.adaptive_max_pool2d(x, size, ri), [a], seed=trial)
        m, mt = dnn.AdaptiveMaxPool2d(size, return_indices=ri), tnn.AdaptiveMaxPool2d(size, return_indices=ri)
        assert repr(m) == repr(mt)
        close(m(dl.tensor(a))[0] if ri else m(dl.tensor(a)), mt(torch.tensor(a))[0] if ri else mt(torch.tensor(a)))


def test_adaptive_max_pool2d_nan_float32_and_second_order():
    a = np.random.default_rng(6).standard_normal((1, 2, 5, 5))
    a[0, 0, 0, 1] = a[0, 0, 1, 0] = a[0, 1, 3, 3] = np.nan
    o, i = DF.adaptive_max_pool2d(dl.tensor(a), 2, return_indices=True)
    ot, it = F.adaptive_max_pool2d(torch.tensor(a), 2, return_indices=True)
    assert np.array_equal(i.numpy(), it.numpy())            # the last NaN of a window, as PyTorch
    np.testing.assert_array_equal(o.numpy(), ot.numpy())
    a32 = np.random.default_rng(7).standard_normal((2, 3, 7, 6)).astype(np.float32)
    o = DF.adaptive_max_pool2d(dl.tensor(a32), (3, 4))
    assert o.dtype == dl.float32
    np.testing.assert_array_equal(o.numpy(), F.adaptive_max_pool2d(torch.tensor(a32), (3, 4)).numpy())
    second_order(lambda x: DF.adaptive_max_pool2d(x, (3, 2)), lambda x: F.adaptive_max_pool2d(x, (3, 2)),
                 np.random.default_rng(8).standard_normal((2, 2, 5, 4)))
    for bad in (lambda: DF.adaptive_max_pool2d(dl.randn(2, 3), 2),
                lambda: DF.adaptive_max_pool2d(dl.randn(1, 2, 3, 3), (0, 2)),
                lambda: DF.adaptive_max_pool2d(dl.randn(1, 2, 3, 3), (1, 2, 3))):
        with pytest.raises(RuntimeError, match='adaptive_max_pool2d'): bad()


# ------------------------------------------------------------------------------------------------ unfold, fold
def random_blocks(rng):
    k, s, d = (tuple(int(v) for v in rng.integers(1, m, 2)) for m in (4, 3, 3))
    p = tuple(int(v) for v in rng.integers(0, 3, 2))
    H, W = (int(rng.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), 9)) for i in range(2))
    return (H, W), dict(kernel_size=k, stride=s, dilation=d, padding=p)


@pytest.mark.parametrize('seed', range(20))
def test_unfold_fold_values_and_gradients(seed):
    rng = np.random.default_rng(seed)
    (H, W), st = random_blocks(rng)
    a = rng.standard_normal((2, 3, H, W))
    if seed % 5 == 0: a = a[0]
    same_forward_backward(lambda x: DF.unfold(x, **st), lambda x: F.unfold(x, **st), [a])
    cols = rng.standard_normal(tuple(F.unfold(torch.tensor(a), **st).shape))
    same_forward_backward(lambda c: DF.fold(c, (H, W), **st), lambda c: F.fold(c, (H, W), **st), [cols])
    ours, theirs = dnn.Unfold(**st), tnn.Unfold(**st)
    assert repr(ours) == repr(theirs)
    close(ours(dl.tensor(a)), theirs(torch.tensor(a)))
    ours, theirs = dnn.Fold((H, W), **st), tnn.Fold((H, W), **st)
    assert repr(ours) == repr(theirs)
    close(ours(dl.tensor(cols)), theirs(torch.tensor(cols)))


def test_unfold_fold_reprs_dtypes_second_order_errors():
    assert repr(dnn.Unfold(2, stride=2)) == repr(tnn.Unfold(2, stride=2))
    assert repr(dnn.Fold((4, 4), 2)) == repr(tnn.Fold((4, 4), 2))
    x32 = np.random.default_rng(9).standard_normal((2, 3, 5, 6)).astype(np.float32)
    cols = DF.unfold(dl.tensor(x32), (2, 3), padding=1)
    assert cols.dtype == dl.float32
    close(cols, F.unfold(torch.tensor(x32), (2, 3), padding=1), 0)
    second_order(lambda x: DF.unfold(x, 2, stride=(1, 2)), lambda x: F.unfold(x, 2, stride=(1, 2)),
                 np.random.default_rng(10).standard_normal((2, 2, 4, 5)))
    second_order(lambda c: DF.fold(c, (4, 5), 2), lambda c: F.fold(c, (4, 5), 2),
                 np.random.default_rng(11).standard_normal((2, 8, 12)))
    for bad in (lambda: DF.fold(dl.randn(1, 8, 11), (4, 5), 2),        # 12 blocks expected
                lambda: DF.fold(dl.randn(1, 7, 12), (4, 5), 2),        # 7 is no multiple of 2*2
                lambda: DF.unfold(dl.randn(1, 1, 2, 2), 3),            # the kernel does not fit
                lambda: DF.unfold(dl.randn(4, 4), 2),
                lambda: DF.unfold(dl.randn(1, 1, 4, 4), 2, stride=0)):
        with pytest.raises(RuntimeError, match='fold'): bad()
    for bad in (lambda: F.fold(torch.randn(1, 8, 11), (4, 5), 2), lambda: F.unfold(torch.randn(1, 1, 2, 2), 3)):
        with pytest.raises(RuntimeError): bad()


# ------------------------------------------------------------------------------------------------ 1-d layers
def random_conv1d(rng):
    G = int(rng.integers(1, 3))
    c_in, c_out = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
    k, s, d, p = (int(rng.integers(lo, hi)) for lo, hi in ((1, 4), (1, 3), (1, 3), (0, 3)))
    L = int(rng.integers(max(1, d * (k - 1) + 1 - 2 * p), 10))
    return c_in, c_out, k, L, dict(stride=s, padding=p, dilation=d, groups=G)


@pytest.mark.parametrize('seed', range(20))
def test_conv1d_values_and_gradients(seed):
    rng = np.random.default_rng(seed)
    c_in, c_out, k, L, st = random_conv1d(rng)
    if seed % 4 == 3:
        st.update(padding=['same', 'valid'][seed % 8 // 4], stride=1)
        L = st['dilation'] * (k - 1) + 1 + int(rng.integers(0, 4))
    x = rng.standard_normal((int(rng.integers(1, 4)), c_in, L))
    if seed % 5 == 0: x = x[0]                          # unbatched [C, L]
    w = rng.standard_normal((c_out, c_in // st['groups'], k))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                 # PyTorch on 'same' with an even kernel
        if seed % 2:
            same_forward_backward(lambda x, w: DF.conv1d(x, w, **st), lambda x, w: F.conv1d(x, w, **st), [x, w])
        else:
            same_forward_backward(lambda x, w, b: DF.conv1d(x, w, b, **st),
                                  lambda x, w, b: F.conv1d(x, w, b, **st), [x, w, rng.standard_normal(c_out)])


@pytest.mark.parametrize('padding_mode', ['zeros', 'reflect', 'replicate', 'circular'])
@pytest.mark.parametrize('padding', [0, 2, 'same', 'valid'])
def test_conv1d_layer_against_pytorch(padding_mode, padding):
    kw = dict(stride=1 if isinstance(padding, str) else 2, padding=padding, dilation=2, groups=2,
              padding_mode=padding_mode)
    ours, theirs = dnn.Conv1d(4, 6, 4, **kw, dtype=dl.float64), tnn.Conv1d(4, 6, 4, **kw, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ['weight', 'bias']
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    a = np.random.default_rng(12).standard_normal((3, 4, 11))
    x, xt = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        y, yt = ours(x), theirs(xt)
    close(y, yt)
    g = np.random.default_rng(13).standard_normal(tuple(yt.shape))
    y.backward(dl.tensor(g)); yt.backward(torch.tensor(g))
    close(x.grad, xt.grad)
    close(ours.weight.grad, theirs.weight.grad); close(ours.bias.grad, theirs.bias.grad)


def test_conv1d_layer_init_reprs_dtypes():
    for args, kw in [((3, 8, 3), {}), ((4, 8, 3), dict(stride=2, padding=1, dilation=2, groups=2, bias=False,
                                                     padding_mode='reflect')),
                     ((3, 3, 4), dict(padding='same')), ((2, 5, (5,)), dict(stride=(2,), padding=(1,)))]:
        ours, theirs = dnn.Conv1d(*args, **kw), tnn.Conv1d(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert ours.kernel_size == theirs.kernel_size and ours.stride == theirs.stride
        assert ours.padding == theirs.padding and ours.dilation == theirs.dilation
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
               [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert ours.weight.dtype == dl.float32
    big = dnn.Conv1d(16, 64, 5)                          # PyTorch's start: U(+-1/sqrt(fan_in)), fan_in = 16 * 5
    bound = 1 / math.sqrt(16 * 5)
    for p in (big.weight, big.bias):
        m = np.abs(p.detach().numpy()).max()
        assert 0.9 * bound < m <= bound
    assert dnn.Conv1d(2, 2, 3, dtype=dl.float64).weight.dtype == dl.float64
    x32 = dl.randn(2, 3, 9)
    assert dnn.Conv1d(3, 8, 3)(x32).dtype == dl.float32
    for kind, f in [(RuntimeError, lambda: DF.conv1d(dl.randn(2, 3, 9), dl.randn(4, 3, 3, 1))),
                    (RuntimeError, lambda: DF.conv1d(dl.randn(2, 3, 9, 1), dl.randn(4, 3, 3))),
                    (RuntimeError, lambda: DF.conv1d(dl.randn(2, 3, 9), dl.randn(4, 2, 3))),
                    (RuntimeError, lambda: DF.conv1d(dl.randn(2, 3, 9), dl.randn(4, 3, 3), stride=2, padding='same')),
                    (ValueError, lambda: dnn.Conv1d(3, 4, 3, groups=2)),
                    (ValueError, lambda: dnn.Conv1d(3, 3, 3, stride=2, padding='same')),
                    (ValueError, lambda: dnn.Conv1d(3, 3, 3, padding_mode='mirror'))]:
        with pytest.raises(kind, match='onv1d'): f()


@pytest.mark.parametrize('seed', range(16))
def test_pool1d_values_indices_gradients(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 4)); p = int(rng.integers(0, k // 2 + 1))
    s, d, cm = int(rng.integers(1, 3)), int(rng.integers(1, 3)), bool(seed % 2)
    # (no window wholly in the padding: its index is arbitrary, PyTorch's points outside the input)
    L = int(rng.integers(d * (k - 1) + 1, 10))
    a = rng.standard_normal((2, 3, L))
    if seed % 3 == 0: a = np.round(a)                   # ties
    if seed % 5 == 0: a = a[0]
    same_forward_backward(lambda x: DF.max_pool1d(x, k, s, p, d, cm, True),
                          lambda x: F.max_pool1d(x, k, s, p, d, cm, True), [a])
    same_forward_backward(lambda x: DF.max_pool1d(x, k, padding=p), lambda x: F.max_pool1d(x, k, padding=p), [a])
    L = int(rng.integers(max(1, k - 2 * p), 10))
    a = rng.standard_normal((2, 3, L))
    cip = bool(seed % 3)
    same_forward_backward(lambda x: DF.avg_pool1d(x, k, s, p, cm, cip), lambda x: F.avg_pool1d(x, k, s, p, cm, cip),
                          [a])
    o = int(rng.integers(1, 8))
    same_forward_backward(lambda x: DF.adaptive_avg_pool1d(x, o), lambda x: F.adaptive_avg_pool1d(x, o), [a])
    same_forward_backward(lambda x: DF.adaptive_max_pool1d(x, o, True),
                          lambda x: F.adaptive_max_pool1d(x, o, True), [a])
    for ours, theirs in [(dnn.MaxPool1d(k, s, p, d, True, cm), tnn.MaxPool1d(k, s, p, d, True, cm)),
                         (dnn.AvgPool1d(k, s, p, cm, cip), tnn.AvgPool1d(k, s, p, cm, cip)),
                         (dnn.AdaptiveAvgPool1d(o), tnn.AdaptiveAvgPool1d(o)),
                         (dnn.AdaptiveMaxPool1d((o,), True), tnn.AdaptiveMaxPool1d((o,), True))]:
        assert repr(ours) == repr(theirs)
        y, yt = ours(dl.tensor(a)), theirs(torch.tensor(a))
        if isinstance(yt, tuple):
            assert np.array_equal(y[1].numpy(), yt[1].numpy())
            y, yt = y[0], yt[0]
        close(y, yt)


def test_max_pool_unbatched_indices_with_gradient():
    "max_pool2d/max_pool1d on an unbatched input that requires grad, with return_indices (a fixed bug)."
    a = np.random.default_rng(15).standard_normal((3, 5, 6))
    same_forward_backward(lambda x: DF.max_pool2d(x, 2, return_indices=True),
                          lambda x: F.max_pool2d(x, 2, return_indices=True), [a])
    same_forward_backward(lambda x: DF.max_pool1d(x, 3, 2, 1, return_indices=True),
                          lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True), [a[0]])


def test_pool1d_reprs_dtypes_errors():
    for ours, theirs in [(dnn.MaxPool1d(3), tnn.MaxPool1d(3)), (dnn.MaxPool1d((3,)), tnn.MaxPool1d((3,))),
                         (dnn.MaxPool1d(3, 2, 1, return_indices=True, ceil_mode=True),
                          tnn.MaxPool1d(3, 2, 1, return_indices=True, ceil_mode=True)),
                         (dnn.AvgPool1d(3), tnn.AvgPool1d(3)), (dnn.AvgPool1d(3, 2, 1, True, False),
                                                               tnn.AvgPool1d(3, 2, 1, True, False)),
                         (dnn.AdaptiveAvgPool1d(4), tnn.AdaptiveAvgPool1d(4)),
                         (dnn.AdaptiveMaxPool1d(3), tnn.AdaptiveMaxPool1d(3))]:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == []
    x32 = dl.randn(2, 3, 8)
    for f in (lambda x: DF.max_pool1d(x, 2), lambda x: DF.avg_pool1d(x, 3), lambda x: DF.adaptive_avg_pool1d(x, 3),
              lambda x: DF.adaptive_max_pool1d(x, 3)):
        assert f(x32).dtype == dl.float32
    for where, f in [('max_pool1d', lambda: DF.max_pool1d(dl.randn(2, 3, 4, 5), 2)),
                     ('avg_pool1d', lambda: DF.avg_pool1d(dl.randn(3), 2)),
                     ('adaptive_avg_pool1d', lambda: DF.adaptive_avg_pool1d(dl.randn(1, 2, 3, 4), 2)),
                     ('adaptive_max_pool1d', lambda: DF.adaptive_max_pool1d(dl.randn(5), 2))]:
        with pytest.raises(RuntimeError, match=where): f()
    with pytest.raises(TypeError, match='max_pool1d'): DF.max_pool1d(dl.tensor([[[1, 2, 3]]]), 2)
    with pytest.raises(TypeError, match='max_pool1d'): DF.max_pool1d(dl.randn(1, 2, 6), (2, 2))


def test_1d_cnn_state_dict_round_trip_and_training_step():
    "A small 1-d CNN: its state_dict loads into PyTorch's same model, and one SGD step agrees."
    def build(nn):
        return nn.Sequential(nn.Conv1d(2, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                             nn.Conv1d(8, 8, 3, padding='same', groups=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                             nn.Flatten(), nn.Linear(8, 3))
    dl.manual_seed(0)
    ours, theirs = build(dnn).double(), build(tnn).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(14)
    a, y = rng.standard_normal((4, 2, 16)), rng.integers(0, 3, 4)
    for model, lib in ((ours, dl), (theirs, torch)):
        opt = (dl if lib is dl else torch).optim.SGD(model.parameters(), lr=0.1)
        loss = (DF if lib is dl else F).cross_entropy(model(lib.tensor(a)), lib.tensor(y))
        opt.zero_grad(); loss.backward(); opt.step()
    for (n, p), (nt, pt) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert n == nt
        close(p, pt)


# ------------------------------------------------------------------------------------------------ devices
def test_new_ops_on_a_simulated_gpu_equal_the_cpu(monkeypatch):
    """Every new function on a 'cuda' tensor of the stand-in CuPy (tests/fake_cupy.py: arrays that refuse to mix
    with NumPy's, as CuPy's do) computes the CPU's values and gradients (float64)."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    fake_cupy.install(monkeypatch)
    try:
        rng = np.random.default_rng(16)
        X, X1, W1 = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3))

        def run(dev):
            x = dl.tensor(X, requires_grad=True, device=dev)
            x1 = dl.tensor(X1, requires_grad=True, device=dev)
            w1 = dl.tensor(W1, requires_grad=True, device=dev)
            m, idx = DF.adaptive_max_pool2d(x, (3, 4), return_indices=True)
            m1, idx1 = DF.adaptive_max_pool1d(x1, 4, return_indices=True)
            p1, pidx = DF.max_pool1d(x1, 3, 2, 1, return_indices=True)
            outs = [DF.interpolate(x, scale_factor=1.5), DF.interpolate(x, size=(7, 4), mode='nearest-exact'),
                    DF.interpolate(x, size=(7, 4), mode='bilinear'),
                    DF.interpolate(x, size=(3, 8), mode='bicubic', align_corners=True),
                    DF.interpolate(x1, size=13, mode='linear'), m, DF.unfold(x, 2, padding=1),
                    DF.fold(DF.unfold(x, 3, dilation=(1, 2)), (5, 6), 3, dilation=(1, 2)),
                    DF.conv1d(x1, w1, stride=2, padding=1, groups=2), m1, p1, DF.avg_pool1d(x1, 3),
                    DF.adaptive_avg_pool1d(x1, 4)]
            sum((o * o).sum() for o in outs).backward()
            return [o.detach().cpu().numpy() for o in outs + [idx, idx1, pidx, x.grad, x1.grad, w1.grad]]
        for a, b in zip(run('cpu'), run('cuda')): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)
    finally:
        G._probe.cache_clear()
