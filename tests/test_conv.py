"""Chapter 07, convolutional networks (deeplearning101/conv.py), on its own: the fast im2col convolution against the
plain loop, im2col and col2im as adjoints, gradcheck of every op and layer on random settings (stride, padding,
dilation, groups, non-square kernels and inputs, bias on and off), gradients of gradients, pooling against loops
written from PyTorch's rules, BatchNorm2d, and the errors. Parity with PyTorch itself: tests/test_conv_torch.py."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101 import conv as C
from deeplearning101 import nn
from deeplearning101.layers import gradcheck_module


def random_setting(rng, max_size=9, groups=True):
    """A random convolution: channels (a multiple of the groups), kernel, stride, padding, dilation, and an input
    size the dilated kernel fits in (padding included)."""
    G = int(rng.integers(1, 4)) if groups else 1
    c_in, c_out = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
    (kh, kw), (sh, sw), (dh, dw) = (tuple(int(v) for v in rng.integers(1, 4, 2)) for _ in range(3))
    ph, pw = (int(v) for v in rng.integers(0, 3, 2))
    lo_h, lo_w = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    H, W = int(rng.integers(lo_h, max(lo_h + 2, max_size))), int(rng.integers(lo_w, max(lo_w + 2, max_size)))
    return dict(c_in=c_in, c_out=c_out, kernel=(kh, kw), H=H, W=W,
                settings=dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=G))


def t(a, requires_grad=True):
    return dl.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------------------------------------- forward and im2col
def test_output_size_formula_and_fast_forward_match_the_plain_loop():
    rng = np.random.default_rng(0)
    for trial in range(150):
        s = random_setting(rng)
        x = rng.standard_normal((2, s['c_in'], s['H'], s['W']))
        w = rng.standard_normal((s['c_out'], s['c_in'] // s['settings']['groups']) + s['kernel'])
        b = rng.standard_normal(s['c_out']) if trial % 2 else None
        plain = C.conv2d_plain(x, w, b, **s['settings'])
        st = s['settings']
        assert plain.shape == (2, s['c_out'],
                               C.conv_output_size(s['H'], s['kernel'][0], st['stride'][0], st['padding'][0],
                                                  st['dilation'][0]),
                               C.conv_output_size(s['W'], s['kernel'][1], st['stride'][1], st['padding'][1],
                                                  st['dilation'][1]))
        fast = F.conv2d(t(x, False), t(w, False), None if b is None else t(b, False), **st)
        np.testing.assert_allclose(fast.numpy(), plain, rtol=1e-12, atol=1e-12)


def test_im2col_and_col2im_are_adjoint():
    rng = np.random.default_rng(1)
    for trial in range(100):
        s = random_setting(rng, groups=False)
        st = dict(s['settings']); st.pop('groups')
        x = rng.standard_normal((3, 2, s['H'], s['W']))
        X = C.im2col(x, s['kernel'], **st)
        Cm = rng.standard_normal(X.shape)
        assert np.isclose((X * Cm).sum(), (x * C.col2im(Cm, x.shape, s['kernel'], **st)).sum())


def test_im2col_layout():
    "Row (c, u, v), column (i, j, n): the patch of output (i, j) of sample n."
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    X = C.im2col(x, (2, 3), stride=(2, 1), padding=(1, 0), dilation=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    Ho, Wo = C.conv_output_size(4, 2, 2, 1), C.conv_output_size(5, 3, 1, 0)
    cols = X.reshape(3, 2, 3, Ho, Wo, 2)
    for c, u, v, i, j, n in [(0, 0, 0, 0, 0, 0), (2, 1, 2, Ho - 1, Wo - 1, 1), (1, 1, 0, 1, 2, 0)]:
        assert cols[c, u, v, i, j, n] == xp[n, c, 2 * i + u, j + v]


@pytest.mark.parametrize('shape', [(64, 3, 7, 5), (1, 4, 4, 1), (7, 2, 300, 3), (3, 2, 1, 64)])
def test_batch_first_transposes_in_blocks(shape):
    a = np.random.default_rng(0).standard_normal(shape)
    for view in (a, a[:, :, ::2]):                       # contiguous, and a strided view
        out = C._batch_first(view)
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, np.moveaxis(view, -1, 0))


# ----------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize('seed', range(24))
def test_conv2d_gradcheck_on_random_settings(seed):
    rng = np.random.default_rng(100 + seed)
    s = random_setting(rng, max_size=7)
    x = t(rng.standard_normal((2, s['c_in'], s['H'], s['W'])))
    w = t(rng.standard_normal((s['c_out'], s['c_in'] // s['settings']['groups']) + s['kernel']))
    if seed % 3 == 0:                                   # no bias
        assert dl.gradcheck(lambda x, w: F.conv2d(x, w, **s['settings']), x, w)
    else:
        b = t(rng.standard_normal(s['c_out']))
        assert dl.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **s['settings']), x, w, b)


@pytest.mark.parametrize('kernel,dilation', [(3, 1), ((2, 3), 1), (4, (1, 2)), ((1, 2), 2)])
@pytest.mark.parametrize('padding_mode', ['zeros', 'reflect', 'replicate', 'circular'])
def test_conv2d_module_gradcheck_same_padding_and_modes(kernel, dilation, padding_mode):
    dl.manual_seed(0)
    m = nn.Conv2d(2, 4, kernel, padding='same', dilation=dilation, groups=2, padding_mode=padding_mode)
    x = t(np.random.default_rng(0).standard_normal((2, 2, 6, 7)))
    assert m.double()(x).shape == (2, 4, 6, 7)
    assert gradcheck_module(m, x)


def test_only_the_gradients_asked_for_are_computed():
    rng = np.random.default_rng(2)
    x = t(rng.standard_normal((2, 3, 5, 5)), requires_grad=False)
    w = t(rng.standard_normal((4, 3, 3, 3)))
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)
    x2, w2 = t(x.numpy()), t(w.detach().numpy(), requires_grad=False)
    F.conv2d(x2, w2).sum().backward()
    assert x2.grad.shape == x2.shape and w2.grad is None


def test_retain_graph_and_accumulation():
    rng = np.random.default_rng(3)
    x, w = t(rng.standard_normal((2, 2, 5, 5))), t(rng.standard_normal((3, 2, 3, 3)))
    y = F.conv2d(x, w).sum()
    y.backward(retain_graph=True)
    g1 = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match='second time'):
        y.backward()


def test_gradients_of_gradients():
    """gradcheck of a gradient: the rules' tensor paths (Im2Col/Col2Im, PoolScatter and its adjoint) have correct
    gradients themselves."""
    rng = np.random.default_rng(4)
    x, w = t(rng.standard_normal((2, 2, 5, 6))), t(rng.standard_normal((4, 1, 2, 3)))
    @dl.enable_grad()                   # gradcheck's finite differences run under no_grad
    def conv_input_grad(x, w):
        y = F.conv2d(x, w, stride=(2, 1), padding=1, groups=2)
        return dl.grad((y * y).sum(), x, create_graph=True)[0]
    @dl.enable_grad()
    def conv_weight_grad(x, w):
        y = F.conv2d(x, w, dilation=(1, 2), groups=2)
        return dl.grad((y * y * y).sum(), w, create_graph=True)[0]
    assert dl.gradcheck(conv_input_grad, x, w)
    assert dl.gradcheck(conv_weight_grad, x, w)
    for pool in (lambda x: F.max_pool2d(x, 2, 1, ceil_mode=True),
                 lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                 lambda x: F.adaptive_avg_pool2d(x, (2, 3))):
        @dl.enable_grad()
        def pool_grad(x):
            y = pool(x)
            return dl.grad((y * y).sum(), x, create_graph=True)[0]
        assert dl.gradcheck(pool_grad, x)


# ----------------------------------------------------------------------------------- pooling
def pool_reference(x, k, s, p, d, ceil_mode, kind, count_include_pad=True, divisor_override=None):
    "Pooling by a loop over the windows, from PyTorch's definition (max: first maximum; avg: its divisor rule)."
    N, Cc, H, W = x.shape
    Ho, Wo = (C._pool_size(n, k_, s_, p_, d_, ceil_mode) for n, k_, s_, p_, d_ in zip((H, W), k, s, p, d))
    out, idx = np.zeros((N, Cc, Ho, Wo)), np.zeros((N, Cc, Ho, Wo), int)
    for i in range(Ho):
        for j in range(Wo):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            rows = [hs + u * d[0] for u in range(k[0]) if 0 <= hs + u * d[0] < H]
            cols = [ws + v * d[1] for v in range(k[1]) if 0 <= ws + v * d[1] < W]
            win = x[:, :, rows][:, :, :, cols].reshape(N, Cc, -1)
            if kind == 'max':
                a = np.argmax(win, axis=2)
                out[:, :, i, j] = np.take_along_axis(win, a[..., None], 2)[..., 0]
                idx[:, :, i, j] = np.array(rows)[a // len(cols)] * W + np.array(cols)[a % len(cols)]
            else:
                he, we = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
                div = (divisor_override if divisor_override else
                       (he - hs) * (we - ws) if count_include_pad else len(rows) * len(cols))
                out[:, :, i, j] = win.sum(axis=2) / div
    return out, idx


def random_pool(rng):
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    p = tuple(int(rng.integers(0, k_ // 2 + 1)) for k_ in k)
    return k, s, p, d, bool(rng.integers(0, 2))


def test_max_pool_matches_the_loop_with_indices():
    rng = np.random.default_rng(5)
    for trial in range(80):
        k, s, p, d, ceil = random_pool(rng)
        x = rng.standard_normal((2, 3, int(rng.integers(5, 10)), int(rng.integers(5, 10))))
        try: out, idx = F.max_pool2d(t(x, False), k, s, p, d, ceil_mode=ceil, return_indices=True)
        except RuntimeError as e:                       # a dilated window larger than the input
            assert 'too small' in str(e); continue
        ref, ref_idx = pool_reference(x, k, s, p, d, ceil, 'max')
        np.testing.assert_array_equal(out.numpy(), ref)
        np.testing.assert_array_equal(idx.numpy(), ref_idx)
        assert idx.dtype == dl.int64


def test_avg_pool_matches_the_loop():
    rng = np.random.default_rng(6)
    for trial in range(80):
        k, s, p, _, ceil = random_pool(rng)
        cip, div = bool(rng.integers(0, 2)), [None, 5][int(rng.integers(0, 2))]
        x = rng.standard_normal((2, 3, int(rng.integers(4, 10)), int(rng.integers(4, 10))))
        out = F.avg_pool2d(t(x, False), k, s, p, ceil, cip, div)
        ref, _ = pool_reference(x, k, s, p, (1, 1), ceil, 'avg', cip, div)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('seed', range(12))
def test_pool_gradcheck_on_random_settings(seed):
    rng = np.random.default_rng(200 + seed)
    k, s, p, d, ceil = random_pool(rng)
    x = t(rng.standard_normal((2, 2, 7, 6)))
    assert dl.gradcheck(lambda x: F.avg_pool2d(x, k, s, p, ceil, bool(seed % 2)), x)
    if (7 + 2 * p[0] - d[0] * (k[0] - 1)) > 0 and (6 + 2 * p[1] - d[1] * (k[1] - 1)) > 0:
        assert dl.gradcheck(lambda x: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil), x)


def test_max_pool_ties_go_to_the_first_maximum_and_nan_wins():
    x = t(np.ones((1, 1, 4, 4)))
    F.max_pool2d(x, 2).sum().backward()
    expect = np.zeros((4, 4)); expect[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expect)
    a = np.arange(16.).reshape(1, 1, 4, 4); a[0, 0, 1, 0] = np.nan
    y = F.max_pool2d(t(a, False), 2).numpy()
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 7 and y[0, 0, 1, 1] == 15


def test_adaptive_avg_pool_windows_and_gradients():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 5))
    for size in [1, (2, 3), (3, None), (7, 5), (9, 8), (4, 2)]:
        out = F.adaptive_avg_pool2d(t(x, False), size).numpy()
        P, Q = ((size, size) if isinstance(size, int) else
                tuple(n if s is None else s for s, n in zip(size, (7, 5))))
        assert out.shape == (2, 3, P, Q)
        for i in range(P):
            for j in range(Q):
                h0, h1 = (i * 7) // P, -(-(i + 1) * 7 // P)
                w0, w1 = (j * 5) // Q, -(-(j + 1) * 5 // Q)
                np.testing.assert_allclose(out[:, :, i, j], x[:, :, h0:h1, w0:w1].mean(axis=(2, 3)))
        assert dl.gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), t(x[:1, :2]))


def test_unbatched_inputs_are_a_batch_of_one():
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    for f in (lambda x: F.conv2d(x, t(w, False), t(b, False), padding=1, stride=(2, 1)),
              lambda x: F.max_pool2d(x, 2, ceil_mode=True), lambda x: F.avg_pool2d(x, 3, 1, 1),
              lambda x: F.adaptive_avg_pool2d(x, (2, 3))):
        np.testing.assert_allclose(f(t(x, False)).numpy(), f(t(x[None], False)).numpy()[0])
    out, idx = F.max_pool2d(t(x, False), 2, return_indices=True)
    assert out.shape == idx.shape == (3, 3, 2)


def test_float32_stays_float32():
    rng = np.random.default_rng(9)
    x = dl.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    y = m(x)
    assert y.dtype == dl.float32 and y.shape == (2, 4)
    y.sum().backward()
    assert x.grad.dtype == dl.float32 and all(p.grad.dtype == dl.float32 for p in m.parameters())


def test_no_grad_records_nothing():
    x = dl.randn(2, 1, 5, 5, requires_grad=True)
    with dl.no_grad():
        y = nn.Conv2d(1, 2, 3)(x)
    assert not y.requires_grad and y.grad_fn is None


# ----------------------------------------------------------------------------------- BatchNorm2d
@pytest.mark.parametrize('affine', [True, False])
@pytest.mark.parametrize('track', [True, False])
def test_batchnorm2d_gradcheck_train_and_eval(affine, track):
    rng = np.random.default_rng(10)
    x = t(rng.standard_normal((3, 2, 3, 4)) * 2 + 1)
    bn = nn.BatchNorm2d(2, affine=affine, track_running_stats=track)
    if affine:
        with dl.no_grad():
            bn.weight.copy_(dl.tensor([0.5, 2.0])); bn.bias.copy_(dl.tensor([0.1, -0.3]))
    if affine: assert gradcheck_module(bn, x)
    else: assert dl.gradcheck(lambda x: bn.double()(x), x)
    bn.eval()
    if affine: assert gradcheck_module(bn, x)
    else: assert dl.gradcheck(lambda x: bn(x), x)


@pytest.mark.parametrize('momentum', [0.1, 0.3, None])
def test_batchnorm2d_running_statistics(momentum):
    rng = np.random.default_rng(11)
    bn = nn.BatchNorm2d(3, momentum=momentum).double()
    mean, var = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = rng.standard_normal((4, 3, 5, 2)) * [[[[1.]], [[2.]], [[3.]]]] + step
        bn(t(x, False))
        m = x.size // 3
        batch_mean, batch_var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) * m / (m - 1)
        mom = momentum if momentum is not None else 1 / step
        mean, var = (1 - mom) * mean + mom * batch_mean, (1 - mom) * var + mom * batch_var
        np.testing.assert_allclose(bn.running_mean.numpy(), mean)
        np.testing.assert_allclose(bn.running_var.numpy(), var)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)


def test_batchnorm2d_state_dict_names_and_repr():
    bn = nn.BatchNorm2d(8)
    assert list(bn.state_dict()) == ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    assert repr(bn) == ('BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, '
                        'track_running_stats=True)')
    assert not isinstance(bn, nn.BatchNorm1d)


# ----------------------------------------------------------------------------------- the layers
def test_conv2d_layer_attributes_and_initialisation():
    dl.manual_seed(0)
    m = nn.Conv2d(4, 64, (3, 5), stride=2, padding=1, groups=2)
    assert (m.kernel_size, m.stride, m.padding, m.dilation, m.groups) == ((3, 5), (2, 2), (1, 1), (1, 1), 2)
    assert m.weight.shape == (64, 2, 3, 5) and m.bias.shape == (64,)
    bound = 1 / np.sqrt(2 * 3 * 5)                      # fan_in = in_channels / groups * kh * kw
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and m.weight.dtype == dl.float32
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert nn.Conv2d(1, 2, 3, dtype=dl.float64).weight.dtype == dl.float64
    assert list(m.state_dict()) == ['weight', 'bias']


def test_names_are_gathered_as_in_pytorch():
    for name in ('Conv2d', 'MaxPool2d', 'AvgPool2d', 'AdaptiveAvgPool2d', 'BatchNorm2d', 'Flatten'):
        assert hasattr(nn, name)
    for name in ('conv2d', 'max_pool2d', 'avg_pool2d', 'adaptive_avg_pool2d', 'pad'):
        assert callable(getattr(F, name))
    assert dl.Conv2d is nn.Conv2d and dl.conv2d is F.conv2d


# ----------------------------------------------------------------------------------- errors
def raises(kind, *fragments):
    "pytest.raises that also checks that the message names what it should."
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(kind); self.info = self.ctx.__enter__(); return self.info
        def __exit__(self, *exc):
            done = self.ctx.__exit__(*exc)
            for f in fragments: assert f in str(self.info.value), (f, str(self.info.value))
            return done
    return Check()


def test_errors_name_the_layer_and_the_shapes():
    conv = nn.Conv2d(1, 16, 3, padding=1)
    with raises(RuntimeError, 'Conv2d(1, 16', '[64, 3, 8, 8]', '[16, 1, 3, 3]'):
        conv(dl.randn(64, 3, 8, 8))                                  # the wrong channel count
    with raises(RuntimeError, 'conv2d:', '[2, 3, 5, 5]', 'groups=1'):
        F.conv2d(dl.randn(2, 3, 5, 5), dl.randn(4, 2, 3, 3))
    with raises(RuntimeError, 'Conv2d(1, 16', 'larger than the padded input', '[4, 4]'):
        nn.Conv2d(1, 16, 5)(dl.randn(64, 1, 4, 4))                   # a kernel larger than the input
    with raises(RuntimeError, 'larger than the padded input', 'dilated: [5, 5]'):
        F.conv2d(dl.randn(1, 1, 4, 4), dl.randn(1, 1, 3, 3), dilation=2)
    with raises(ValueError, 'in_channels must be divisible by groups'):
        nn.Conv2d(6, 16, 3, groups=4)                                # groups that do not divide
    with raises(ValueError, 'out_channels must be divisible by groups'):
        nn.Conv2d(4, 6, 3, groups=4)
    with raises(RuntimeError, 'groups=2', 'output channels', '[3, 1, 3, 3]'):
        F.conv2d(dl.randn(1, 2, 5, 5), dl.randn(3, 1, 3, 3), groups=2)
    with raises(ValueError, 'BatchNorm2d(16)', '[16, 8, 8]', 'unbatched'):
        nn.BatchNorm2d(16)(dl.randn(16, 8, 8))                       # a 3-d input to BatchNorm2d
    with raises(ValueError, 'BatchNorm2d(16)', '[2, 8, 4, 4]'):
        nn.BatchNorm2d(16)(dl.randn(2, 8, 4, 4))
    with raises(ValueError, 'more than 1 value per channel'):
        nn.BatchNorm2d(2)(dl.randn(1, 2, 1, 1))
    with raises(RuntimeError, 'mixed dtypes'):
        nn.BatchNorm2d(2)(dl.randn(3, 2, 2, 2).double())
    with raises(RuntimeError, 'conv2d:', '[5, 5]'):
        F.conv2d(dl.randn(5, 5), dl.randn(2, 1, 3, 3))               # a 2-d input to conv2d
    with raises(RuntimeError, 'conv2d:', '4-d weight'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 3, 3))
    with raises(RuntimeError, 'bias of shape [2]'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 1, 3, 3), dl.randn(3))
    with raises(RuntimeError, 'same dtype'):
        F.conv2d(dl.randn(1, 1, 5, 5).double(), dl.randn(2, 1, 3, 3))
    with raises(TypeError, 'floating-point'):
        F.conv2d(dl.ones(1, 1, 5, 5, dtype=dl.int64), dl.ones(2, 1, 3, 3, dtype=dl.int64))
    with raises(RuntimeError, "padding='same'", 'strided'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 1, 3, 3), stride=2, padding='same')
    with raises(ValueError, "padding='same'"):
        nn.Conv2d(1, 2, 3, stride=2, padding='same')
    with raises(RuntimeError, 'invalid padding string'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 1, 3, 3), padding='full')
    with raises(RuntimeError, 'negative padding'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 1, 3, 3), padding=-1)
    with raises(RuntimeError, 'stride and dilation must be positive'):
        F.conv2d(dl.randn(1, 1, 5, 5), dl.randn(2, 1, 3, 3), stride=0)
    with raises(TypeError, 'kernel_size must be an int or a pair'):
        nn.Conv2d(1, 2, (3, 3, 3))
    with raises(ValueError, 'padding_mode'):
        nn.Conv2d(1, 2, 3, padding_mode='mirror')
    with raises(RuntimeError, 'max_pool2d', 'at most half of the kernel size'):
        F.max_pool2d(dl.randn(1, 1, 5, 5), 3, padding=2)
    with raises(RuntimeError, 'avg_pool2d', 'too small', '[1, 1, 2, 2]'):
        F.avg_pool2d(dl.randn(1, 1, 2, 2), 3)
    with raises(RuntimeError, 'max_pool2d', '[1, 1, 1, 4, 4]'):
        F.max_pool2d(dl.randn(1, 1, 1, 4, 4), 2)
    with raises(RuntimeError, 'divisor must be not zero'):
        F.avg_pool2d(dl.randn(1, 1, 4, 4), 2, divisor_override=0)
    with raises(RuntimeError, 'adaptive_avg_pool2d', 'output_size'):
        F.adaptive_avg_pool2d(dl.randn(1, 1, 4, 4), (1, 2, 3))
    with raises(TypeError, 'floating-point'):
        F.max_pool2d(dl.ones(1, 1, 4, 4, dtype=dl.int64), 2)


def test_the_conv_module_is_a_later_chapter_than_layers():
    "conv.py builds on chapters 00-03 only; nothing earlier imports it (tests/test_imports.py checks the rule)."
    import inspect
    src = inspect.getsource(C)
    assert 'from .layers import' in src and 'from .compiler' not in src and 'from .gpu' not in src
