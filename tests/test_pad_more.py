"""Parity with PyTorch for the padding layers and `F.pad` (probe K, 2.3).

The 1-d and 3-d layers added to chapter 07 (`ZeroPad1d`, `ZeroPad3d`, `ConstantPad3d`,
`ReflectionPad3d`, `ReplicationPad3d`, `CircularPad1d/2d/3d`), next to the older ones:
values, gradients, reprs and errors against torch; and `F.pad` with 6-number (3-d)
padding in every mode, 'circular' in 1-d, 2-d and 3-d, and its errors.
"""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-6, 1e-9


def _pair(shape, seed=0):
    "The same float64 input for dl and torch (leaves that require grad)."
    a = np.random.default_rng(seed).standard_normal(shape)
    return (dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def _check_same(dl_fn, t_fn, shape, seed=0):
    "Forward values, then the gradient of a random weighted sum, dl against torch."
    xd, xt = _pair(shape, seed)
    yd, yt = dl_fn(xd), t_fn(xt)
    assert tuple(yd.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), RTOL, ATOL)
    w = np.random.default_rng(seed + 1).standard_normal(tuple(yt.shape))
    (yd * dl.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), RTOL, ATOL)


def _error(fn):
    try:
        fn()
    except Exception as e:          # noqa: BLE001 - the class is what is compared
        return type(e)
    return None


# ------------------------------------------------------------------ the layers

LAYERS = [
    # (name, constructor args, input shape)
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad1d", ((1, -2),), (3, 5)),
    ("ZeroPad3d", (1,), (2, 2, 3, 4, 2)),
    ("ZeroPad3d", ((1, 0, 2, -1, 0, 3),), (2, 3, 4, 2)),
    ("ConstantPad3d", (1, 2.5), (1, 2, 2, 3, 4)),
    ("ConstantPad3d", ((0, 1, 2, 0, 1, 1), -1.0), (2, 3, 2, 2)),
    ("ReflectionPad3d", (1,), (2, 2, 3, 4, 2)),
    ("ReflectionPad3d", ((2, 0, 1, 2, 0, 1),), (1, 3, 3, 3, 3)),
    ("ReflectionPad3d", ((1, 1, 1, 1, 1, 1),), (2, 2, 3, 4)),      # no batch
    ("ReplicationPad3d", (2,), (2, 1, 2, 3, 2)),
    ("ReplicationPad3d", ((0, 3, 1, 0, 2, 1),), (2, 3, 2, 2)),
    ("CircularPad1d", (2,), (2, 3, 4)),
    ("CircularPad1d", ((3, 1),), (3, 4)),
    ("CircularPad2d", (1,), (2, 2, 3, 4)),
    ("CircularPad2d", ((2, 0, 1, 3),), (2, 3, 4)),
    ("CircularPad3d", (1,), (1, 2, 2, 3, 4)),
    ("CircularPad3d", ((2, 1, 0, 3, 1, 2),), (2, 3, 3, 4)),
    # the older layers, for the same checks
    ("ZeroPad2d", ((1, 2, 0, 1),), (2, 3, 4)),
    ("ConstantPad1d", (2, 3.0), (2, 3)),
    ("ConstantPad2d", (1, -2.0), (1, 2, 3, 3)),
    ("ReflectionPad1d", ((2, 1),), (2, 2, 4)),
    ("ReflectionPad2d", (2,), (1, 2, 3, 4)),
    ("ReplicationPad1d", (3,), (2, 3)),
    ("ReplicationPad2d", ((1, 0, 2, 3),), (1, 2, 3, 4)),
]


@pytest.mark.parametrize("name,args,shape", LAYERS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_pad_layer_values_grads(name, args, shape):
    dl_layer, t_layer = getattr(dl.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert dl_layer.padding == t_layer.padding
    _check_same(dl_layer, t_layer, shape)


@pytest.mark.parametrize("name,args", [
    ("ZeroPad1d", (2,)), ("ZeroPad1d", ((1, 0),)), ("ZeroPad3d", (1,)),
    ("ZeroPad3d", ((1, 2, 3, 4, 5, 6),)), ("ConstantPad3d", (1, 2.5)),
    ("ConstantPad3d", ((0, 1, 2, 0, 1, 1), 0.0)), ("ReflectionPad3d", (2,)),
    ("ReplicationPad3d", ((1, 0, 1, 0, 1, 0),)), ("CircularPad1d", (3,)),
    ("CircularPad2d", ((1, 2, 3, 4),)), ("CircularPad3d", (1,)), ("ZeroPad2d", (1,)),
    ("ConstantPad1d", (2, -1.5)),
])
def test_pad_layer_repr(name, args):
    assert repr(getattr(dl.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    seq = lambda nn: nn.Sequential(getattr(nn, name)(*args), nn.ReLU())
    assert repr(seq(dl.nn)) == repr(seq(torch.nn))


def test_pad_layer_classes():
    "ZeroPadNd is a ConstantPadNd in both; the layers are Modules without parameters."
    for n in ("1d", "2d", "3d"):
        assert issubclass(getattr(dl.nn, "ZeroPad" + n),
                          getattr(dl.nn, "ConstantPad" + n))
        assert issubclass(getattr(torch.nn, "ZeroPad" + n),
                          getattr(torch.nn, "ConstantPad" + n))
    for name in ("ZeroPad1d", "ZeroPad3d", "ReflectionPad3d", "ReplicationPad3d",
                 "CircularPad1d", "CircularPad2d", "CircularPad3d"):
        layer = getattr(dl.nn, name)(1)
        assert isinstance(layer, dl.nn.Module)
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
    assert dl.nn.ConstantPad3d(1, 3.0).value == torch.nn.ConstantPad3d(1, 3.0).value


@pytest.mark.parametrize("name,shape", [
    ("CircularPad1d", (4,)), ("CircularPad1d", (1, 2, 3, 4)),
    ("CircularPad2d", (3, 4)), ("CircularPad2d", (1, 1, 2, 3, 4)),
    ("CircularPad3d", (2, 3, 4)), ("CircularPad3d", (1, 1, 1, 2, 3, 4)),
])
def test_circular_layer_wrong_ndim(name, shape):
    "CircularPadNd checks the input's number of dimensions: ValueError in both."
    xd, xt = _pair(shape)
    with pytest.raises(ValueError, match=r"expected \d+D or \d+D input \(got \d+D"):
        getattr(dl.nn, name)(1)(xd)
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(1)(xt)


@pytest.mark.parametrize("name,padding,shape", [
    ("ReflectionPad3d", 2, (1, 1, 2, 3, 3)),            # depth 2: padding 2 too large
    ("ReflectionPad3d", (0, 0, 0, 0, 0, 3), (1, 1, 3, 4, 4)),
    ("ReflectionPad1d", 3, (1, 2, 3)),
    ("ReflectionPad2d", (0, 0, 3, 0), (1, 2, 3, 4)),
    ("CircularPad1d", (4, 0), (1, 2, 3)),              # wraps around more than once
    ("CircularPad2d", (0, 0, 0, 4), (1, 2, 3, 4)),
    ("CircularPad3d", (0, 0, 0, 0, 3, 0), (1, 1, 2, 3, 4)),
    ("ZeroPad3d", 1, (3, 4)),                            # 6 numbers for a 2-d tensor
])
def test_pad_layer_errors(name, padding, shape):
    xd, xt = _pair(shape)
    with pytest.raises(RuntimeError):
        getattr(torch.nn, name)(padding)(xt)
    with pytest.raises(RuntimeError, match="pad"):
        getattr(dl.nn, name)(padding)(xd)


@pytest.mark.parametrize("name", ["ZeroPad1d", "ZeroPad3d", "ReflectionPad3d",
                                  "CircularPad2d", "ConstantPad3d"])
def test_pad_layer_bad_padding_argument(name):
    "A padding that is not an int or a tuple of ints is refused when the layer is made."
    args = ("1",) if name != "ConstantPad3d" else ("1", 0.0)
    with pytest.raises(TypeError, match=name):
        getattr(dl.nn, name)(*args)


# ------------------------------------------------------------------ F.pad

MODES = ("constant", "reflect", "replicate", "circular")
PADS_3D = [(1, 1, 1, 1, 1, 1), (2, 0, 0, 1, 1, 2), (0, 0, 0, 0, 2, 1),
           (1, 2, 0, 0, 0, 0)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pad", PADS_3D)
@pytest.mark.parametrize("shape", [(2, 2, 3, 3, 4), (2, 3, 3, 4)])
def test_F_pad_3d_every_mode(mode, pad, shape):
    _check_same(lambda x: dl.nn.functional.pad(x, pad, mode=mode),
                lambda x: torch.nn.functional.pad(x, pad, mode=mode), shape)


@pytest.mark.parametrize("pad,shape", [
    ((1, 1), (2, 3, 4)), ((3, 0), (3, 3)), ((0, 4), (1, 1, 4)), ((2, 3), (2, 2, 3)),
    ((1, 1, 1, 1), (2, 2, 3, 4)), ((3, 0, 0, 2), (2, 3, 4)),
    ((4, 4, 3, 3), (1, 1, 3, 4)),
    ((1, 2, 3, 0, 2, 1), (1, 2, 3, 3, 4)), ((4, 0, 0, 3, 3, 0), (2, 3, 3, 4)),
])
def test_F_pad_circular(pad, shape):
    "Circular padding up to the full size of the dimension (it wraps around once)."
    _check_same(lambda x: dl.nn.functional.pad(x, pad, mode="circular"),
                lambda x: torch.nn.functional.pad(x, pad, mode="circular"), shape)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize("pad", [(-1, 2, 1, -1, 0, 1), (1, -2, 0, 0, -1, 1)])
def test_F_pad_3d_negative_crops(mode, pad):
    "A negative amount crops (as in torch) in the modes where dl agrees with it."
    _check_same(lambda x: dl.nn.functional.pad(x, pad, mode=mode),
                lambda x: torch.nn.functional.pad(x, pad, mode=mode), (1, 2, 3, 3, 4))


def test_F_pad_gradcheck_3d():
    x = dl.randn(1, 2, 2, 3, 2, dtype=dl.float64, requires_grad=True)
    for mode in MODES:
        f = lambda x: dl.nn.functional.pad(x, (1, 0, 0, 2, 1, 1), mode)
        assert dl.gradcheck(f, x)


@pytest.mark.parametrize("pad,shape,mode,value", [
    ((3, 0), (1, 2, 3), "reflect", None),                      # equal to the size
    ((0, 3), (1, 2, 3), "reflect", None),
    ((4, 4), (2, 3), "reflect", None),                         # larger than the size
    ((0, 0, 2, 0), (1, 2, 2, 5), "reflect", None),
    ((1, 1, 1, 1, 2, 0), (1, 1, 2, 3, 3), "reflect", None),    # the depth
    ((3, 1, 1, 1, 1, 1), (1, 1, 3, 3, 3), "reflect", None),    # the width, in 3-d
    ((4, 0), (1, 2, 3), "circular", None),                     # wraps twice
    ((0, 4, 0, 0), (1, 2, 3, 3), "circular", None),
    ((0, 0, 0, 0, 0, 3), (1, 1, 2, 3, 3), "circular", None),
    ((1, 1, 1), (1, 2, 3), "reflect", None),                   # odd length
    ((1, 1, 1, 1, 1, 1, 1, 1), (1, 2, 3), "constant", None),   # longer than 2 * ndim
    ((1, 1), (1, 2, 3), "reflect", 1.0),                       # a value, not constant
    ((1, 1, 1, 1), (1, 2, 3, 3), "replicate", 2.0),
])
def test_F_pad_runtime_errors(pad, shape, mode, value):
    kw = {} if value is None else {"value": value}
    xd, xt = _pair(shape)
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(xt, pad, mode=mode, **kw)
    with pytest.raises(RuntimeError, match="pad"):
        dl.nn.functional.pad(xd, pad, mode=mode, **kw)


@pytest.mark.parametrize("pad,shape,mode", [
    ((1, 1), (3,), "circular"),                          # no channel dimension
    ((1, 1, 1, 1), (3, 4), "reflect"),
    ((1, 1, 1, 1, 1, 1), (2, 3, 4), "replicate"),
    ((1, 1), (1, 1, 1, 2, 3), "reflect"),                # too many leading dimensions
    ((1, 1, 1, 1, 1, 1, 1, 1), (1, 1, 1, 2, 3), "circular"),   # 4-d padding
    ((1, 1), (1, 2, 3), "wrap"),                         # unknown mode
])
def test_F_pad_not_implemented(pad, shape, mode):
    xd, xt = _pair(shape)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.pad(xt, pad, mode=mode)
    with pytest.raises(NotImplementedError, match="pad"):
        dl.nn.functional.pad(xd, pad, mode=mode)


def test_F_pad_reflect_one_less_than_size_is_fine():
    "The largest reflect padding torch allows (size - 1) on every side, in 3-d."
    p = (3, 3, 2, 2, 1, 1)
    _check_same(lambda x: dl.nn.functional.pad(x, p, mode="reflect"),
                lambda x: torch.nn.functional.pad(x, p, mode="reflect"),
                (1, 2, 2, 3, 4))


# ------------------------------------ formerly known differences (chapter 03's pad)
# Fixed in `pad` (nbs/03_mlp.ipynb): circular padding crops first, then wraps, and the
# sizes torch refuses are refused.


@pytest.mark.parametrize("pad,shape", [
    ((-1, 1), (2, 3)), ((1, -1), (1, 2, 3)), ((-1, 1, 1, -1), (1, 3, 3)),
    ((1, -1, -1, 1, 1, -1), (1, 1, 3, 3, 3)),
])
def test_F_pad_circular_negative(pad, shape):
    _check_same(lambda x: dl.nn.functional.pad(x, pad, mode="circular"),
                lambda x: torch.nn.functional.pad(x, pad, mode="circular"), shape)


@pytest.mark.parametrize("pad,shape,mode", [
    ((-3, 0), (1, 2, 3), "reflect"),                     # output width 0
    ((-3, 0), (1, 2, 3), "replicate"),
    ((-3, 0, -3, 0), (1, 3, 3), "replicate"),
    ((-3, 0, -3, 0, -3, 0), (1, 1, 3, 3, 3), "replicate"),
    ((1, 1), (1, 0, 3), "reflect"),                      # a zero-size channel dimension
    ((1, 1), (1, 0, 3), "replicate"),
    ((3, -2), (1, 1, 3), "circular"),                    # wraps the cropped row twice
])
def test_F_pad_errors_to_fix(pad, shape, mode):
    xd, xt = _pair(shape)
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(xt, pad, mode=mode)
    with pytest.raises(RuntimeError, match="pad"):
        dl.nn.functional.pad(xd, pad, mode=mode)
