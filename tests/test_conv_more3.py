"""Chapter 07's sampling grids, unpooling, power-average pooling and ConvTranspose1d against PyTorch (skipped
when torch is not installed), in float64 to 1e-10: F.affine_grid / F.grid_sample (every mode, padding mode and
align_corners; the Spatial Transformer's gradient into theta), F.max_unpool1d/2d and nn.MaxUnpool1d/2d,
F.lp_pool1d/2d and nn.LPPool1d/2d, F.conv_transpose1d and nn.ConvTranspose1d: values, gradients, reprs,
warnings and errors."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as DF
from deeplearning101 import nn as dnn

torch = pytest.importorskip("torch")
F, tnn = torch.nn.functional, torch.nn

from test_torch_conv_more import close, same_forward_backward, second_order  # noqa: E402

MODES = ['bilinear', 'nearest', 'bicubic']
PADDINGS = ['zeros', 'border', 'reflection']


# ------------------------------------------------------------------------------------------------ grid_sample
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('padding_mode', PADDINGS)
@pytest.mark.parametrize('align_corners', [False, True])
def test_grid_sample_values_and_gradients(mode, padding_mode, align_corners):
    rng = np.random.default_rng(MODES.index(mode) * 10 + PADDINGS.index(padding_mode) * 2 + align_corners)
    for trial in range(6):
        H, W = (int(v) for v in rng.integers(1, 7, 2))
        a = rng.standard_normal((2, 3, H, W))
        g = rng.uniform(-1.8, 1.8, (2, int(rng.integers(1, 5)), int(rng.integers(1, 5)), 2))
        same_forward_backward(lambda x, gr: DF.grid_sample(x, gr, mode, padding_mode, align_corners),
                              lambda x, gr: F.grid_sample(x, gr, mode, padding_mode, align_corners),
                              [a, g], seed=trial)


def test_grid_sample_gradcheck():
    rng = np.random.default_rng(1)
    x = dl.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    g = dl.tensor(rng.uniform(-1.3, 1.3, (1, 3, 2, 2)), requires_grad=True)
    for mode in ('bilinear', 'bicubic'):
        for padding_mode in PADDINGS:
            assert dl.gradcheck(lambda x, g: DF.grid_sample(x, g, mode, padding_mode, False), x, g)


def test_second_order():
    "Gradients of gradients (create_graph=True) in the input, as PyTorch's."
    rng = np.random.default_rng(10)
    g = rng.uniform(-1.2, 1.2, (2, 3, 3, 2))
    for mode in MODES:
        for padding_mode in PADDINGS:
            second_order(lambda x: DF.grid_sample(x, dl.tensor(g), mode, padding_mode, False),
                         lambda x: F.grid_sample(x, torch.tensor(g), mode, padding_mode, False),
                         rng.standard_normal((2, 2, 4, 5)))
    a = rng.standard_normal((2, 3, 6, 6))
    out, ind = F.max_pool2d(torch.tensor(a), 2, return_indices=True)
    second_order(lambda x: DF.max_unpool2d(x, dl.tensor(ind.numpy()), 2),
                 lambda x: F.max_unpool2d(x, ind, 2), out.numpy())
    second_order(lambda x: DF.lp_pool2d(x, 2, 2), lambda x: F.lp_pool2d(x, 2, 2), a)


def test_grid_sample_on_borders_and_pixels():
    "Points exactly on pixels and borders (kinks): PyTorch's one-sided choices (a border counts as outside)."
    a = np.random.default_rng(2).standard_normal((1, 2, 3, 4))
    for align_corners in (False, True):
        for padding_mode in PADDINGS:
            for mode in MODES:
                g = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1.5, 1.5, 4)), -1)[None]
                same_forward_backward(lambda x, gr: DF.grid_sample(x, gr, mode, padding_mode, align_corners),
                                      lambda x, gr: F.grid_sample(x, gr, mode, padding_mode, align_corners),
                                      [a, g])


def test_grid_sample_float32_nearest_ties_and_dtype():
    x = dl.arange(6.).reshape(1, 1, 2, 3)
    g = np.array([[[[-1 / 3, 0.], [1 / 3, 0.5], [0., -1.]]]], np.float32)     # ties: half to even
    y = DF.grid_sample(x, dl.tensor(g), 'nearest', align_corners=False)
    want = F.grid_sample(torch.arange(6.).reshape(1, 1, 2, 3), torch.tensor(g), 'nearest', align_corners=False)
    assert y.dtype == dl.float32 and y.tolist() == want.tolist()
    grid = dl.tensor(g, requires_grad=True)                 # nearest: the grid's gradient is zero
    DF.grid_sample(x, grid, 'nearest', align_corners=False).sum().backward()
    assert grid.grad.tolist() == [[[[0., 0.], [0., 0.], [0., 0.]]]]


def test_grid_sample_warnings_and_errors():
    x, g = dl.zeros(1, 1, 2, 2), dl.zeros(1, 1, 1, 2)
    with pytest.warns(UserWarning, match='align_corners=False since 1.3.0'):
        DF.grid_sample(x, g)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        DF.grid_sample(x, g, align_corners=False)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear'"):
        DF.grid_sample(x, g, 'linear', align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode"):
        DF.grid_sample(x, g, padding_mode='reflect', align_corners=False)
    with pytest.raises(RuntimeError, match=r'grid_sample.*\[1, 2, 2, 3\]'):
        DF.grid_sample(x, dl.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(RuntimeError, match='batch size'):
        DF.grid_sample(x, dl.zeros(2, 2, 2, 2), align_corners=False)
    with pytest.raises(RuntimeError, match='4D input and grid'):
        DF.grid_sample(x, dl.zeros(1, 2, 2), align_corners=False)
    with pytest.raises(TypeError, match='float32.*float64'):
        DF.grid_sample(x, dl.zeros(1, 2, 2, 2, dtype=dl.float64), align_corners=False)
    with pytest.raises(NotImplementedError, match='5-d'):
        DF.grid_sample(dl.zeros(1, 1, 2, 2, 2), dl.zeros(1, 1, 1, 1, 3), align_corners=False)


# ------------------------------------------------------------------------------------------------ affine_grid
@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size', [[2, 3, 4, 5], [2, 1, 1, 3], [2, 1, 3, 1], [2, 2, 28, 28], [2, 1, 2, 3, 4]])
def test_affine_grid_values_and_gradients(align_corners, size):
    d = len(size) - 2
    theta = np.random.default_rng(len(size) + size[-1]).standard_normal((2, d, d + 1))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')              # unit sizes with align_corners=True warn in both
        same_forward_backward(lambda t: DF.affine_grid(t, size, align_corners),
                              lambda t: F.affine_grid(t, size, align_corners), [theta])


@pytest.mark.filterwarnings('ignore:Since version 1.3.0')      # size 1 with align_corners=True
@pytest.mark.parametrize('n', [1, 2, 7, 28, 29, 64, 100])
@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_affine_grid_identity_is_torchs_exactly(n, dtype):
    "The identity map lands on the pixels, where bilinear sampling has a kink: the grid must be PyTorch's bits."
    theta = np.array([[[1., 0., 0.], [0., 1., 0.]]], dtype)
    for align_corners in (False, True):
        ours = DF.affine_grid(dl.tensor(theta), [1, 1, n, n + 1], align_corners).numpy()
        theirs = F.affine_grid(torch.tensor(theta), [1, 1, n, n + 1], align_corners).numpy()
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_spatial_transformer_gradient_into_theta_float32():
    "The STN tutorial's start (theta = identity, float32): the gradient of a loss into theta, as PyTorch's."
    rng = np.random.default_rng(3)
    img = rng.uniform(0, 1, (3, 1, 28, 28)).astype(np.float32)
    up = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    theta = np.tile(np.array([[[1, 0, 0], [0, 1, 0]]], np.float32), (3, 1, 1))
    grads = []
    for lib, fn in ((dl, DF), (torch, F)):
        t = lib.tensor(theta, requires_grad=True)
        out = fn.grid_sample(lib.tensor(img), fn.affine_grid(t, [3, 1, 28, 28], align_corners=False),
                             align_corners=False)
        (out * lib.tensor(up)).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-4)


def test_affine_grid_warnings_and_errors():
    theta = dl.zeros(1, 2, 3)
    with pytest.warns(UserWarning, match='align_corners=False since 1.3.0'):
        DF.affine_grid(theta, [1, 1, 2, 2])
    with pytest.warns(UserWarning, match='unit-size grids'):
        DF.affine_grid(theta, [1, 1, 1, 2], align_corners=True)
    with pytest.raises(ValueError, match='floating point'):
        DF.affine_grid(dl.zeros(1, 2, 3, dtype=dl.int64), [1, 1, 2, 2], align_corners=False)
    with pytest.raises(ValueError, match=r'Nx2x3.*\[1, 3, 4\]'):
        DF.affine_grid(dl.zeros(1, 3, 4), [1, 1, 2, 2], align_corners=False)
    with pytest.raises(ValueError, match='Nx3x4'):
        DF.affine_grid(theta, [1, 1, 2, 2, 2], align_corners=False)
    with pytest.raises(NotImplementedError, match='4D and 5D'):
        DF.affine_grid(theta, [1, 2, 2], align_corners=False)
    with pytest.raises(ValueError, match='positive output size'):
        DF.affine_grid(theta, [1, 1, 0, 2], align_corners=False)
    with pytest.raises(ValueError, match='batch of 2'):
        DF.affine_grid(theta, [2, 1, 2, 2], align_corners=False)


# ------------------------------------------------------------------------------------------------ max_unpool
@pytest.mark.parametrize('k,s,p,n', [(2, None, 0, 8), (3, 2, 1, 7), ((2, 3), (1, 2), (1, 0), 7), (3, 1, 1, 5)])
def test_max_unpool2d_values_and_gradients(k, s, p, n):
    a = np.random.default_rng(n).standard_normal((2, 3, n, n))
    out, ind = F.max_pool2d(torch.tensor(a), k, s, p, return_indices=True)
    dind = dl.tensor(ind.numpy())
    for size in (None, (n, n), (2, 3, n, n)):
        same_forward_backward(lambda x: DF.max_unpool2d(x, dind, k, s, p, size),
                              lambda x: F.max_unpool2d(x, ind, k, s, p, size), [out.numpy()])
    layer, theirs = dnn.MaxUnpool2d(k, s, p), tnn.MaxUnpool2d(k, s, p)
    assert repr(layer) == repr(theirs)
    close(layer(dl.tensor(out.numpy()[0]), dind[0]), theirs(out[0], ind[0]))     # unbatched


def test_max_unpool1d_values_and_gradients():
    a = np.random.default_rng(4).standard_normal((2, 3, 9))
    for k, s, p in ((2, None, 0), (3, 2, 1)):
        out, ind = F.max_pool1d(torch.tensor(a), k, s, p, return_indices=True)
        dind = dl.tensor(ind.numpy())
        for size in (None, [9], (2, 3, 9)):
            same_forward_backward(lambda x: DF.max_unpool1d(x, dind, k, s, p, size),
                                  lambda x: F.max_unpool1d(x, ind, k, s, p, size), [out.numpy()])
        layer, theirs = dnn.MaxUnpool1d(k, s, p), tnn.MaxUnpool1d(k, s, p)
        assert repr(layer) == repr(theirs)
        close(layer(dl.tensor(out.numpy()[0]), dind[0]), theirs(out[0], ind[0]))


def test_max_unpool_gradcheck_and_errors():
    x = dl.randn(1, 2, 4, 6, dtype=dl.float64)
    out, idx = DF.max_pool2d(x, 2, return_indices=True)
    assert dl.gradcheck(lambda o: DF.max_unpool2d(o, idx, 2, output_size=(5, 7)), out.requires_grad_())
    o = dl.ones(1, 1, 2, 2)
    with pytest.raises(RuntimeError, match=r'invalid max index: 16 \(output volumes are of size 4x4\)'):
        DF.max_unpool2d(o, dl.tensor([[[[0, 1], [2, 16]]]]), 2)
    with pytest.raises(RuntimeError, match='int64.*int32'):
        DF.max_unpool2d(o, dl.tensor([[[[0, 1], [2, 3]]]], dtype=dl.int32), 2)
    with pytest.raises(RuntimeError, match=r'\[1, 1, 2, 1\]'):
        DF.max_unpool2d(o, dl.tensor([[[[0], [2]]]]), 2)
    with pytest.raises(ValueError, match=r'invalid output_size.*between 2 and 6'):
        DF.max_unpool2d(o, dl.tensor([[[[0, 1], [2, 3]]]]), 2, output_size=(6, 4))
    with pytest.raises(ValueError, match="2 or 4 elements"):
        DF.max_unpool2d(o, dl.tensor([[[[0, 1], [2, 3]]]]), 2, output_size=(1, 4, 4))
    with pytest.raises(TypeError, match='floating-point'):
        DF.max_unpool2d(dl.ones(1, 1, 2, 2, dtype=dl.int64), dl.tensor([[[[0, 1], [2, 3]]]]), 2)


# ------------------------------------------------------------------------------------------------ lp_pool
@pytest.mark.parametrize('p', [1, 2, 3, 1.5, float('inf')])
def test_lp_pool_values_and_gradients(p):
    rng = np.random.default_rng(5)
    for k, s, ceil_mode in ((2, None, False), (3, 2, True), ((2, 3), (1, 2), False)):
        a = rng.standard_normal((2, 3, 7, 8))
        a[0, 0, :3, :3] = 0                                    # zero windows: a zero gradient
        if p in (1, 1.5, 3): a = np.abs(a)
        same_forward_backward(lambda x: DF.lp_pool2d(x, p, k, s, ceil_mode),
                              lambda x: F.lp_pool2d(x, p, k, s, ceil_mode), [a])
        same_forward_backward(lambda x: dnn.LPPool2d(p, k, s, ceil_mode)(x),
                              lambda x: tnn.LPPool2d(p, k, s, ceil_mode)(x), [a[0]])
        if isinstance(k, int):
            same_forward_backward(lambda x: DF.lp_pool1d(x, p, k, s, ceil_mode),
                                  lambda x: F.lp_pool1d(x, p, k, s, ceil_mode), [a[:, :, 0]])
            same_forward_backward(lambda x: dnn.LPPool1d(p, k, s, ceil_mode)(x),
                                  lambda x: tnn.LPPool1d(p, k, s, ceil_mode)(x), [a[:, :, 0]])


def test_lp_pool_reprs_and_errors():
    for args in ((2, 3), (2, 3, 2, True), (1.5, (2, 3), (1, 2))):
        assert repr(dnn.LPPool2d(*args)) == repr(tnn.LPPool2d(*args))
    assert repr(dnn.LPPool1d(2, 3, 2)) == repr(tnn.LPPool1d(2, 3, 2))
    x = dl.zeros(1, 1, 2, 2, requires_grad=True)
    DF.lp_pool2d(x, 2, 2).sum().backward()                     # all zero: a zero gradient, not NaN
    assert x.grad.tolist() == [[[[0., 0.], [0., 0.]]]]
    with pytest.raises(TypeError, match='lp_pool2d: expected a floating-point input'):
        DF.lp_pool2d(dl.ones(1, 1, 2, 2, dtype=dl.int64), 2, 2)
    with pytest.raises(TypeError, match='lp_pool1d: expected a floating-point input'):
        DF.lp_pool1d(dl.ones(1, 1, 2, dtype=dl.int64), 2, 2)


# ------------------------------------------------------------------------------------------------ ConvTranspose1d
@pytest.mark.parametrize('kw', [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=3, groups=2, dilation=2, bias=False, output_padding=2),
                                dict(stride=2, padding=2, dilation=3, groups=2, output_padding=1)])
def test_conv_transpose1d_layer(kw):
    ours, theirs = dnn.ConvTranspose1d(4, 6, 3, **kw).double(), tnn.ConvTranspose1d(4, 6, 3, **kw).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight.shape == tuple(theirs.weight.shape) == (4, 6 // kw.get('groups', 1), 3)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    a = np.random.default_rng(6).standard_normal((2, 4, 5))
    x, xt = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    close(y, yt)
    g = np.random.default_rng(7).standard_normal(tuple(yt.shape))
    y.backward(dl.tensor(g)); yt.backward(torch.tensor(g))
    close(x.grad, xt.grad)
    for (n, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, pt.grad)
    close(ours(x[0]), theirs(xt[0]))                                              # unbatched
    size = yt.shape[-1] + (1 if kw.get('stride', 1) > 1 and not kw.get('output_padding') else 0)
    close(ours(x, output_size=[size]), theirs(xt, output_size=[size]))


def test_conv_transpose1d_functional_init_and_errors():
    rng = np.random.default_rng(8)
    for kw in (dict(), dict(stride=2, padding=1, output_padding=1, groups=3, dilation=2)):
        same_forward_backward(lambda x, w, b: DF.conv_transpose1d(x, w, b, **kw),
                              lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
                              [rng.standard_normal((2, 3, 6)), rng.standard_normal((3, 2, 3)),
                               rng.standard_normal(2 * kw.get('groups', 1))])
    dl.manual_seed(0)
    layer = dnn.ConvTranspose1d(8, 4, 5)                  # PyTorch's start: fan_in = 4 * 5 (weight dim 1)
    bound = 1 / np.sqrt(4 * 5)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        dnn.ConvTranspose1d(2, 2, 3, padding_mode='reflect')
    with pytest.raises(RuntimeError, match='conv_transpose1d.*3-d weight'):
        DF.conv_transpose1d(dl.ones(1, 2, 4), dl.ones(2, 2, 1, 3))
    assert repr(dnn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2, bias=False)) == repr(
        tnn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2, bias=False))


# ------------------------------------------------------------------------------------------------ device
def test_on_the_simulated_gpu(monkeypatch):
    "Every new function on tests/fake_cupy.py's stand-in GPU (arrays that refuse to mix with NumPy's): as on CPU."
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    try:
        fake_cupy.install(monkeypatch)
        rng = np.random.default_rng(9)
        a, th = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 2, 3)) * 0.6
        w = rng.standard_normal((3, 2, 3))

        def run(device):
            x = dl.tensor(a, device=device, requires_grad=True)
            t = dl.tensor(th, device=device, requires_grad=True)
            outs = []
            for mode in MODES:
                for padding_mode in PADDINGS:
                    g = DF.affine_grid(t, [2, 3, 3, 4], align_corners=False)
                    outs.append(DF.grid_sample(x, g, mode, padding_mode, align_corners=False))
            out, idx = DF.max_pool2d(x, 2, return_indices=True)
            outs += [DF.max_unpool2d(out, idx, 2, output_size=(4, 5)), DF.lp_pool2d(x, 2, 2),
                     DF.conv_transpose1d(x[:, :, 0], dl.tensor(w, device=device), stride=2)]
            sum(o.sum() for o in outs).backward()
            assert all(o.device.type == device for o in outs)
            return [o.detach().cpu().numpy() for o in outs] + [x.grad.cpu().numpy(), t.grad.cpu().numpy()]
        for got, want in zip(run('cuda'), run('cpu')):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    finally:
        G._probe.cache_clear()
