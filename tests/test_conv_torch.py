"""Chapter 07 against PyTorch (skipped when torch is not installed), in float64 to 1e-8: F.conv2d, F.max_pool2d,
F.avg_pool2d, F.adaptive_avg_pool2d (values, the gradients of input, weight and bias, gradients of gradients) on
random settings; nn.Conv2d with every padding mode and 'same'/'valid'; BatchNorm2d's outputs and running
statistics in training and evaluation; the layers' settings and reprs; a small CNN's state_dict loaded into the
same PyTorch model and back, and SGD steps of it that agree."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as DF
from deeplearning101 import nn as dnn

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-8
# PyTorch warns that an even kernel with padding="same" copies the input (it pads first, as we do)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def pair(a, requires_grad=True):
    a = np.asarray(a, dtype=np.float64)
    return dl.tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a.copy(), requires_grad=requires_grad)


def close(a, b, tol=TOL):
    a = a.detach().numpy() if isinstance(a, dl.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def same_forward_backward(ours, theirs, arrays, seed=0):
    "ours(*dl tensors) vs theirs(*torch tensors): the values, then the gradient of every input."
    pairs = [pair(a) for a in arrays]
    a, b = ours(*[p[0] for p in pairs]), theirs(*[p[1] for p in pairs])
    close(a, b)
    g = np.random.default_rng(seed).standard_normal(tuple(b.shape))
    a.backward(dl.tensor(g)); b.backward(torch.tensor(g))
    for x, xt in pairs: close(x.grad, xt.grad)


def random_conv(rng):
    G = int(rng.integers(1, 4))
    c_in, c_out = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s, d = (tuple(int(v) for v in rng.integers(1, 3, 2)) for _ in range(2))
    p = tuple(int(v) for v in rng.integers(0, 3, 2))
    lo = [max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(2)]
    H, W = (int(rng.integers(lo[i], lo[i] + 7)) for i in range(2))
    return c_in, c_out, k, (H, W), dict(stride=s, padding=p, dilation=d, groups=G)


# ------------------------------------------------------------------------------------------------ conv2d
@pytest.mark.parametrize('seed', range(30))
def test_conv2d_values_and_gradients(seed):
    rng = np.random.default_rng(seed)
    c_in, c_out, k, (H, W), st = random_conv(rng)
    x = rng.standard_normal((int(rng.integers(1, 4)), c_in, H, W))
    w = rng.standard_normal((c_out, c_in // st['groups']) + k)
    if seed % 4 == 0:
        same_forward_backward(lambda x, w: DF.conv2d(x, w, **st), lambda x, w: F.conv2d(x, w, **st), [x, w])
    else:
        b = rng.standard_normal(c_out)
        same_forward_backward(lambda x, w, b: DF.conv2d(x, w, b, **st), lambda x, w, b: F.conv2d(x, w, b, **st),
                              [x, w, b])


@pytest.mark.parametrize('padding', ['same', 'valid'])
@pytest.mark.parametrize('kernel,dilation', [(3, 1), (4, 1), ((2, 5), (2, 1)), ((1, 4), 3)])
def test_conv2d_padding_strings(padding, kernel, dilation):
    rng = np.random.default_rng(1)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = rng.standard_normal((2, 3, 9, 10)), rng.standard_normal((4, 3) + k), rng.standard_normal(4)
    same_forward_backward(lambda x, w, b: DF.conv2d(x, w, b, padding=padding, dilation=dilation),
                          lambda x, w, b: F.conv2d(x, w, b, padding=padding, dilation=dilation), [x, w, b])


def test_conv2d_unbatched():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 7, 6)), rng.standard_normal((5, 3, 3, 2))
    same_forward_backward(lambda x, w: DF.conv2d(x, w, padding=1, stride=2),
                          lambda x, w: F.conv2d(x, w, padding=1, stride=2), [x, w])


def copy_module(ours, theirs):
    "torch's parameters and buffers into ours, by name (the names are the same)."
    ours.load_state_dict({k: dl.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize('padding_mode', ['zeros', 'reflect', 'replicate', 'circular'])
@pytest.mark.parametrize('args', [dict(kernel_size=3, padding=1), dict(kernel_size=(2, 3), padding=(1, 2), stride=2),
                                  dict(kernel_size=3, padding='same', dilation=2, groups=2),
                                  dict(kernel_size=(4, 2), padding='same', bias=False),
                                  dict(kernel_size=3, padding='valid')])
def test_conv2d_module(padding_mode, args):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(4, 6, padding_mode=padding_mode, **args).double()
    ours = dnn.Conv2d(4, 6, padding_mode=padding_mode, **args).double()
    copy_module(ours, theirs)
    assert repr(ours) == repr(theirs)
    for name in ('in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups',
                 'padding_mode'):
        assert getattr(ours, name) == getattr(theirs, name), name
    x = np.random.default_rng(3).standard_normal((2, 4, 7, 8))
    xs, xt = pair(x)
    a, b = ours(xs), theirs(xt)
    close(a, b)
    g = np.random.default_rng(4).standard_normal(tuple(b.shape))
    a.backward(dl.tensor(g)); b.backward(torch.tensor(g))
    close(xs.grad, xt.grad)
    for (n, p), (nt, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == nt
        close(p.grad, pt.grad)


def test_conv2d_initialisation_has_pytorchs_bounds():
    for args in [(3, 64, 5), (8, 32, (3, 2), 1, 0, 1, 4)]:
        ours, theirs = dnn.Conv2d(*args), torch.nn.Conv2d(*args)
        for p, pt in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
            a, b = np.abs(p.detach().numpy()).max(), np.abs(pt.detach().numpy()).max()
            bound = 1 / np.sqrt(np.prod(theirs.weight.shape[1:]))
            assert a <= bound and b <= bound and a > 0.9 * bound and p.shape == tuple(pt.shape)


def test_conv2d_gradients_of_gradients():
    rng = np.random.default_rng(5)
    (x, xt), (w, wt) = pair(rng.standard_normal((2, 4, 6, 5))), pair(rng.standard_normal((4, 2, 3, 2)))
    results = []
    for lib, xx, ww, f in ((dl, x, w, DF.conv2d), (torch, xt, wt, F.conv2d)):
        y = f(xx, ww, stride=(1, 2), padding=1, groups=2)
        gx, gw = (dl.grad if lib is dl else torch.autograd.grad)((y * y * y).sum(), [xx, ww], create_graph=True)
        second = (dl.grad if lib is dl else torch.autograd.grad)((gx * gx).sum() + (gw * gw * gw).sum(), [xx, ww])
        results.append([gx, gw, *second])
    for a, b in zip(*results): close(a, b, 1e-7)


# ------------------------------------------------------------------------------------------------ pooling
def random_pool(rng):
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    return k, s, p, d, bool(rng.integers(0, 2))


@pytest.mark.parametrize('seed', range(25))
def test_max_pool2d(seed):
    rng = np.random.default_rng(100 + seed)
    k, s, p, d, ceil = random_pool(rng)
    x = rng.standard_normal((2, 3, int(rng.integers(7, 11)), int(rng.integers(7, 11))))
    same_forward_backward(lambda x: DF.max_pool2d(x, k, s, p, d, ceil_mode=ceil),
                          lambda x: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil), [x])
    (a, ia), (b, ib) = (DF.max_pool2d(dl.tensor(x), k, s, p, d, ceil, return_indices=True),
                        F.max_pool2d(torch.tensor(x), k, s, p, d, ceil, return_indices=True))
    close(a, b); np.testing.assert_array_equal(ia.numpy(), ib.numpy())
    m, mt = dnn.MaxPool2d(k, s, p, d, ceil_mode=ceil), torch.nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    assert repr(m) == repr(mt)
    close(m(dl.tensor(x)), mt(torch.tensor(x)))


@pytest.mark.parametrize('seed', range(25))
def test_avg_pool2d(seed):
    rng = np.random.default_rng(200 + seed)
    k, s, p, _, ceil = random_pool(rng)
    cip, div = bool(seed % 2), [None, None, 3][seed % 3]
    x = rng.standard_normal((2, 3, int(rng.integers(5, 10)), int(rng.integers(5, 10))))
    same_forward_backward(lambda x: DF.avg_pool2d(x, k, s, p, ceil, cip, div),
                          lambda x: F.avg_pool2d(x, k, s, p, ceil, cip, div), [x])
    m, mt = dnn.AvgPool2d(k, s, p, ceil, cip, div), torch.nn.AvgPool2d(k, s, p, ceil, cip, div)
    assert repr(m) == repr(mt)
    close(m(dl.tensor(x)), mt(torch.tensor(x)))


def test_max_pool2d_ties_and_defaults():
    x = np.ones((1, 2, 6, 6)); x[0, 1, 2:4, 2:4] = 5
    same_forward_backward(lambda x: DF.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2), [x])
    same_forward_backward(lambda x: DF.max_pool2d(x, 3, 1, 1), lambda x: F.max_pool2d(x, 3, 1, 1), [x])
    assert repr(dnn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert repr(dnn.MaxPool2d((2, 3), (1, 2))) == repr(torch.nn.MaxPool2d((2, 3), (1, 2)))


@pytest.mark.parametrize('size', [1, (1, 1), 2, (3, 2), (None, 2), (4, None), (5, 7), (9, 11), 3])
def test_adaptive_avg_pool2d(size):
    x = np.random.default_rng(6).standard_normal((2, 3, 7, 9))
    same_forward_backward(lambda x: DF.adaptive_avg_pool2d(x, size), lambda x: F.adaptive_avg_pool2d(x, size), [x])
    assert repr(dnn.AdaptiveAvgPool2d(size)) == repr(torch.nn.AdaptiveAvgPool2d(size))
    same_forward_backward(lambda x: DF.adaptive_avg_pool2d(x, size), lambda x: F.adaptive_avg_pool2d(x, size),
                          [x[0]])                                        # unbatched


def test_pooling_gradients_of_gradients():
    x0 = np.random.default_rng(7).standard_normal((2, 2, 6, 7))
    for ours, theirs in ((lambda x: DF.max_pool2d(x, 3, 2, 1, ceil_mode=True),
                          lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
                         (lambda x: DF.avg_pool2d(x, 2, 1, 1, count_include_pad=False),
                          lambda x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False)),
                         (lambda x: DF.adaptive_avg_pool2d(x, (4, 3)), lambda x: F.adaptive_avg_pool2d(x, (4, 3)))):
        (x, xt) = pair(x0)
        results = []
        for lib, xx, f in ((dl, x, ours), (torch, xt, theirs)):
            grad = dl.grad if lib is dl else torch.autograd.grad
            y = f(xx)
            gx, = grad((y * y * y).sum(), [xx], create_graph=True)
            results.append([gx, *grad((gx * gx).sum(), [xx])])
        for a, b in zip(*results): close(a, b, 1e-7)


def test_pad_modes_on_images():
    x = np.random.default_rng(8).standard_normal((2, 3, 5, 4))
    for mode in ('constant', 'reflect', 'replicate', 'circular'):
        same_forward_backward(lambda x: DF.pad(x, (1, 2, 2, 1), mode=mode),
                              lambda x: F.pad(x, (1, 2, 2, 1), mode=mode), [x])


# ------------------------------------------------------------------------------------------------ BatchNorm2d
@pytest.mark.parametrize('momentum', [0.1, 0.5, None])
@pytest.mark.parametrize('affine', [True, False])
def test_batchnorm2d_training_running_statistics_and_eval(momentum, affine):
    torch.manual_seed(0)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine).double()
    ours = dnn.BatchNorm2d(3, momentum=momentum, affine=affine).double()
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2); theirs.bias.uniform_(-1, 1)
    copy_module(ours, theirs)
    rng = np.random.default_rng(9)
    for step in range(4):
        x = rng.standard_normal((4, 3, 5, 6)) * [[[[0.5]], [[2.0]], [[3.0]]]] + step
        same_forward_backward(ours, theirs, [x], seed=step)
        for name in ('running_mean', 'running_var'):
            close(getattr(ours, name), getattr(theirs, name))
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked.item()) == step + 1
    ours.eval(); theirs.eval()
    same_forward_backward(ours, theirs, [rng.standard_normal((2, 3, 4, 4))])
    if affine:
        ours.weight.grad = None; theirs.weight.grad = None
        xs, xt = pair(rng.standard_normal((2, 3, 4, 4)))
        (ours(xs) ** 2).sum().backward(); (theirs(xt) ** 2).sum().backward()
        close(ours.weight.grad, theirs.weight.grad); close(ours.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize('training', [True, False])
def test_batchnorm2d_without_running_statistics(training):
    theirs = torch.nn.BatchNorm2d(2, track_running_stats=False).double()
    ours = dnn.BatchNorm2d(2, track_running_stats=False).double()
    theirs.train(training); ours.train(training)
    assert ours.running_mean is None and theirs.running_mean is None
    same_forward_backward(ours, theirs, [np.random.default_rng(10).standard_normal((3, 2, 4, 5))])


def test_batchnorm2d_settings_and_errors_as_pytorch():
    ours, theirs = dnn.BatchNorm2d(16, eps=1e-3, momentum=0.2), torch.nn.BatchNorm2d(16, eps=1e-3, momentum=0.2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)               # with PyTorch 2.13's bias=True
    for bad in (lambda m: m(torch.zeros(16, 4, 4) if isinstance(m, torch.nn.Module) else dl.zeros(16, 4, 4)),):
        for m in (ours, theirs):
            with pytest.raises(ValueError): bad(m)


# ------------------------------------------------------------------------------------------------ models
def small_cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding='same', groups=2), nn.ReLU(), nn.AvgPool2d(2, ceil_mode=True),
                         nn.Conv2d(6, 8, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def test_state_dict_loads_into_pytorch_and_back():
    dl.manual_seed(0); torch.manual_seed(0)
    ours, theirs = small_cnn(dl).double(), small_cnn(torch).double()
    x = np.random.default_rng(11).standard_normal((4, 1, 10, 10))
    # ours -> PyTorch
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
    for mode in ('train', 'eval'):
        getattr(ours, mode)(); getattr(theirs, mode)()
        close(ours(dl.tensor(x)), theirs(torch.tensor(x)))
    # PyTorch -> ours, after PyTorch's model has moved on
    theirs.train()
    with torch.no_grad():
        for p in theirs.parameters(): p.add_(0.1 * torch.randn_like(p))
    theirs(torch.tensor(x))                               # new running statistics
    ours.load_state_dict({k: dl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    for mode in ('eval', 'train'):
        getattr(ours, mode)(); getattr(theirs, mode)()
        close(ours(dl.tensor(x)), theirs(torch.tensor(x)))


def test_sgd_steps_of_a_cnn_agree():
    dl.manual_seed(0)
    ours = small_cnn(dl).double()
    theirs = small_cnn(torch).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    opt, opt_t = (dl.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9),
                  torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9))
    rng = np.random.default_rng(12)
    for step in range(4):
        x, y = rng.standard_normal((8, 1, 10, 10)), rng.integers(0, 5, 8)
        losses = []
        for m, o, lib in ((ours, opt, dl), (theirs, opt_t, torch)):
            o.zero_grad()
            loss = lib.nn.functional.cross_entropy(m(lib.tensor(x)), lib.tensor(y))
            loss.backward(); o.step()
            losses.append(loss.item())
        assert abs(losses[0] - losses[1]) < TOL
    for (n, p), (nt, pt) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert n == nt
        close(p, pt)


def test_errors_are_pytorchs_kinds():
    "The same kind of exception as PyTorch's for the same mistake."
    cases = [
        (lambda lib: lib.nn.functional.conv2d(lib.randn(2, 3, 5, 5), lib.randn(4, 2, 3, 3)), RuntimeError),
        (lambda lib: lib.nn.functional.conv2d(lib.randn(1, 1, 4, 4), lib.randn(2, 1, 5, 5)), RuntimeError),
        (lambda lib: lib.nn.functional.conv2d(lib.randn(1, 2, 5, 5), lib.randn(3, 1, 3, 3), groups=2), RuntimeError),
        (lambda lib: lib.nn.functional.conv2d(lib.randn(5, 5), lib.randn(2, 1, 3, 3)), RuntimeError),
        (lambda lib: lib.nn.functional.conv2d(lib.randn(1, 1, 5, 5), lib.randn(2, 1, 3, 3), stride=2,
                                              padding='same'), RuntimeError),
        (lambda lib: lib.nn.Conv2d(6, 16, 3, groups=4), ValueError),
        (lambda lib: lib.nn.Conv2d(1, 2, 3, stride=2, padding='same'), ValueError),
        (lambda lib: lib.nn.Conv2d(1, 2, 3, padding_mode='mirror'), ValueError),
        (lambda lib: lib.nn.BatchNorm2d(16)(lib.randn(16, 8, 8)), ValueError),
        (lambda lib: lib.nn.BatchNorm2d(2)(lib.randn(1, 2, 1, 1)), ValueError),
        (lambda lib: lib.nn.functional.max_pool2d(lib.randn(1, 1, 5, 5), 3, padding=2), RuntimeError),
        (lambda lib: lib.nn.functional.avg_pool2d(lib.randn(1, 1, 2, 2), 3), RuntimeError),
        (lambda lib: lib.nn.functional.avg_pool2d(lib.randn(1, 1, 4, 4), 2, divisor_override=0), RuntimeError),
        (lambda lib: lib.nn.functional.max_pool2d(lib.randn(1, 1, 1, 4, 4), 2), RuntimeError),
    ]
    for make, kind in cases:
        for lib in (dl, torch):
            with pytest.raises(kind): make(lib)


@pytest.mark.parametrize('seed', range(12))
def test_conv2d_wide_inputs_match_pytorch(seed):
    "Rows of 16+ output columns at stride 1: the per-image patch layout."
    rng = np.random.default_rng(1000 + seed)
    c_in, c_out, k, (H, W), st = random_conv(rng)
    st['stride'] = (st['stride'][0], 1)
    x = rng.standard_normal((2, c_in, H, W + 24))
    w = rng.standard_normal((c_out, c_in // st['groups']) + k)
    b = rng.standard_normal(c_out)
    same_forward_backward(lambda x, w, b: DF.conv2d(x, w, b, **st),
                          lambda x, w, b: F.conv2d(x, w, b, **st), [x, w, b])


def test_conv2d_kept_patches_are_not_overwritten():
    "Two forwards of one shape before one backward, and retain_graph: the kept buffers."
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 2, 9, 20)), rng.standard_normal((4, 2, 3, 3))
    (X, Xt), (Wd, Wt) = pair(x), pair(w)
    loss = lambda f, X, W: f(X, W, padding=1).sum() + (f(X * 2, W, padding=1) ** 2).sum()
    loss(DF.conv2d, X, Wd).backward(retain_graph=True); first = Wd.grad.numpy().copy()
    loss(F.conv2d, Xt, Wt).backward()
    close(Wd.grad, Wt.grad)
    Wd.grad = None
    loss(DF.conv2d, X, Wd).backward()
    np.testing.assert_array_equal(Wd.grad.numpy(), first)
