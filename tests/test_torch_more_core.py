"""PyTorch parity for what the probe of unseen beginner programs found in the core (chapters 00-01, utils.data):
indexing that mixes integers with index arrays (PyTorch's order of dimensions, reading, writing and the
gradient), cat/stack type promotion, shapes as Size, float()/int() of a many-element tensor, gradcheck's
raise_exception and RuntimeError base, gradgradcheck, and the torch.utils.data submodule import paths."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip('torch')

KEYS = [
    lambda t: (0, slice(None), [0, 1]),
    lambda t: (0, slice(1, None), [0, 1]),
    lambda t: (0, Ellipsis, [0, 1]),
    lambda t: (t.tensor(0), slice(None), [0, 1]),
    lambda t: (1, slice(None), [2]),
    lambda t: (slice(None), 0, [0, 1]),
    lambda t: (0, [0, 1], slice(None)),
    lambda t: (None, 0, slice(None), [0, 1]),
    lambda t: (Ellipsis, 0, [0, 1]),
    lambda t: (0, slice(None), t.tensor([True, False, True, False])),
    lambda t: ([0, 1], slice(None), 0),
    lambda t: ([1, 0], slice(None), [2, 3]),
    lambda t: (1, slice(None), t.tensor([[0, 1], [3, 2]])),
    lambda t: (-1, slice(None, None, 2), [3, 0, 3]),
]


@pytest.mark.parametrize('k', range(len(KEYS)))
def test_mixed_integer_and_array_index_reads_as_pytorch(k):
    a = np.random.default_rng(k).standard_normal((2, 3, 4))
    ours, theirs = dl.tensor(a)[KEYS[k](dl)], torch.tensor(a)[KEYS[k](torch)]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize('k', range(len(KEYS)))
def test_mixed_index_gradient_and_write_as_pytorch(k):
    rng = np.random.default_rng(100 + k)
    a = rng.standard_normal((2, 3, 4))
    x, y = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    w = rng.standard_normal(tuple(torch.tensor(a)[KEYS[k](torch)].shape))
    (x[KEYS[k](dl)] * dl.tensor(w)).sum().backward()
    (y[KEYS[k](torch)] * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)
    b, c = dl.tensor(a.copy()), torch.tensor(a.copy())
    v = rng.standard_normal(w.shape)
    b[KEYS[k](dl)] = dl.tensor(v)
    c[KEYS[k](torch)] = torch.tensor(v)
    np.testing.assert_array_equal(b.numpy(), c.numpy())


def test_mixed_index_write_recorded_for_autograd():
    a = np.arange(8.0).reshape(2, 2, 2)
    outs = []
    for t in (dl, torch):
        w = t.tensor(a, requires_grad=True)
        v = t.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=t.float64, requires_grad=True)
        z = w * 1.0
        z[0, :, [0, 1]] = v * 2
        (z * t.tensor(np.arange(8.0).reshape(2, 2, 2))).sum().backward()
        outs.append((z.detach().numpy(), w.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(*outs): np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize('dtypes', [('float32', 'int64'), ('float32', 'int32'), ('int32', 'int64'),
                                    ('float16', 'float32'), ('bool', 'uint8'), ('bool', 'float64'),
                                    ('int8', 'uint8'), ('float64', 'float32', 'int64')])
def test_cat_and_stack_promote_as_pytorch(dtypes):
    arrays = [np.arange(3).astype(d) for d in dtypes]
    for op in ('cat', 'stack'):
        ours = getattr(dl, op)([dl.tensor(a) for a in arrays])
        theirs = getattr(torch, op)([torch.tensor(a) for a in arrays])
        assert str(ours.dtype).split('.')[-1] == str(theirs.dtype).split('.')[-1], (op, dtypes)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_cat_promotion_keeps_the_gradient():
    for t in (dl, torch):
        w = t.tensor([1.0, 2.0], requires_grad=True)
        y = t.cat([w, t.arange(2)])
        assert y.dtype == t.float32
        (y * t.arange(4.0)).sum().backward()
        assert w.grad.tolist() == [0.0, 1.0]
    x = dl.tensor([1.0], dtype=dl.float16, requires_grad=True)
    out = dl.stack([x, dl.tensor([2.0])])
    assert out.dtype == dl.float32 and out.requires_grad


def test_shapes_are_sizes():
    x, y = dl.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    for s, r in ((x.shape, y.shape), (x.size(), y.size()), (x.shape[1:], y.shape[1:])):
        assert isinstance(s, dl.Size) and tuple(s) == tuple(r) and s.numel() == r.numel()
    assert x.shape == (2, 3, 4) and x.size(1) == 3 and x.shape[-1] == 4
    assert dl.Tensor(x.shape).shape == (2, 3, 4) == tuple(torch.Tensor(y.shape).shape)
    assert dl.zeros(x.shape[1:]).shape == (3, 4)


def test_float_and_int_of_many_values_raise_value_error():
    for t in (dl, torch):
        for f in (float, int):
            with pytest.raises(ValueError, match='only one element tensors'):
                f(t.zeros(2))
        assert float(t.tensor([2.5])) == 2.5 and int(t.tensor(3)) == 3


def test_gradcheck_options_and_gradgradcheck():
    from deeplearning101.graph import Sigmoid
    x = dl.tensor([0.3, -1.2, 2.0], dtype=dl.float64, requires_grad=True)
    xt = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    for ag, v, f in ((dl.autograd, x, lambda x: (x.tanh() * x.sigmoid()).sum()),
                     (torch.autograd, xt, lambda x: (x.tanh() * x.sigmoid()).sum())):
        assert ag.gradcheck(f, (v,)) and ag.gradgradcheck(f, (v,))
        assert ag.gradcheck(lambda x: x ** 3, (v,), raise_exception=False) is True
    right = Sigmoid.backward
    Sigmoid.backward = lambda op, grad, out, a: (grad * out,)
    try:
        assert dl.autograd.gradcheck(dl.sigmoid, (x,), raise_exception=False) is False
        assert dl.autograd.gradgradcheck(dl.sigmoid, (x,), raise_exception=False) is False
        with pytest.raises(RuntimeError):           # PyTorch's GradcheckError is a RuntimeError
            dl.autograd.gradcheck(dl.sigmoid, (x,))
    finally:
        Sigmoid.backward = right
    assert issubclass(dl.autograd.GradcheckError, RuntimeError)
    gy = dl.tensor([1.0, -2.0, 0.5], dtype=dl.float64)
    assert dl.autograd.gradgradcheck(lambda x: x.exp() * x, (x,), (gy,))


def test_utils_data_submodule_paths():
    from deeplearning101.utils.data.dataloader import default_collate, DataLoader
    from deeplearning101.utils.data.dataset import TensorDataset, random_split
    from deeplearning101.utils.data.sampler import RandomSampler, BatchSampler
    ds = TensorDataset(dl.arange(6.0).reshape(3, 2), dl.tensor([0, 1, 0]))
    assert DataLoader is dl.utils.data.DataLoader and len(list(DataLoader(ds, batch_size=2))) == 2
    batch = default_collate([ds[0], ds[1]])
    assert batch[0].shape == (2, 2) and batch[1].tolist() == [0, 1]
    assert len(list(BatchSampler(RandomSampler(ds), 2, False))) == 2 and len(random_split(ds, [2, 1])) == 2


def test_all_any_with_several_dims():
    a = np.array([[[True, False], [True, True]], [[True, True], [True, True]]])
    for dim in ((0, 1), [0], (-1, 0), (0, 1, 2)):
        for keepdim in (False, True):
            for name in ('all', 'any'):
                ours = getattr(dl.tensor(a), name)(dim=dim, keepdim=keepdim)
                theirs = getattr(torch.tensor(a), name)(dim=dim, keepdim=keepdim)
                assert ours.tolist() == theirs.tolist() and tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize('op', [lambda x: x.add_(1.5), lambda x: x.mul_(x.float() * 1.5),
                                lambda x: x.__iadd__(0.5), lambda x: x.div_(2)])
def test_inplace_cast_refusal_in_pytorchs_words(op):
    for t in (dl, torch):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            op(t.tensor([3, 4]))


def test_numpy_warnings_from_ops_are_silent_as_in_pytorch():
    "log(0), 1/0, sqrt(-1), exp overflow: PyTorch says nothing; NumPy code of the user's own still warns."
    import subprocess, sys
    code = ("import warnings; warnings.simplefilter('error')\n"
            "import deeplearning101 as dl, numpy as np\n"
            "out = [dl.sqrt(dl.tensor([-1.0])), dl.log(dl.tensor([0.0])), dl.tensor([1.0]) / 0,\n"
            "       dl.tensor([1000.0]).exp(), dl.tensor([-7.0]) ** 0.5]\n"
            "print([o.item() for o in out])\n"
            "try: np.log(np.zeros(1)); print('numpy silent')\n"
            "except RuntimeWarning: print('numpy warns')\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split('\n')[:2] == ['[nan, -inf, inf, inf, nan]', 'numpy warns']


def test_dataloader_worker_options_as_pytorch():
    from deeplearning101.utils.data import DataLoader, TensorDataset
    import torch.utils.data as TD
    x = np.arange(6.0)
    ours = [b[0].tolist() for b in DataLoader(TensorDataset(dl.tensor(x)), batch_size=4, num_workers=2,
                                              prefetch_factor=2, persistent_workers=True, pin_memory=False)]
    assert ours == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    for kw in (dict(prefetch_factor=2), dict(persistent_workers=True)):
        for DL_, TDS, t in ((DataLoader, TensorDataset, dl), (TD.DataLoader, TD.TensorDataset, torch)):
            with pytest.raises(ValueError):
                DL_(TDS(t.tensor(x)), **kw)


def test_register_hook_as_pytorch():
    results = []
    for t in (dl, torch):
        x = t.tensor([1.0, -2.0, 3.0], requires_grad=True)
        seen = []
        h1 = x.register_hook(lambda g: seen.append(g.tolist()))
        y = x * x
        hy = y.register_hook(lambda g: g * 10)
        z = (y * t.tensor([1.0, 2.0, 3.0])).sum()
        z.backward()
        first = (x.grad.tolist(), list(seen))
        h1.remove(); hy.remove(); x.grad = None
        (x * x).sum().backward()
        x.grad = None
        with x.register_hook(lambda g: g.clamp(max=1.0)): (x * 3).sum().backward()
        results.append((first, list(seen), x.grad.tolist()))
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            t.zeros(2).register_hook(print)
    assert results[0] == results[1]


CT_CASES = [dict(stride=1), dict(stride=2, padding=1), dict(stride=2, padding=1, output_padding=1),
            dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2)),
            dict(stride=2, groups=2), dict(stride=3, padding=2, dilation=2, output_padding=1)]


@pytest.mark.parametrize('k', range(len(CT_CASES)))
@pytest.mark.parametrize('bias', [True, False])
def test_conv_transpose2d_matches_pytorch(k, bias):
    case = CT_CASES[k]
    rng = np.random.default_rng(k)
    g = case.get('groups', 1)
    x, w = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 6 // g, 3, 4))
    b = rng.standard_normal(6) if bias else None
    results = []
    for t, F in ((dl, dl.nn.functional), (torch, torch.nn.functional)):
        xs = [t.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
        out = F.conv_transpose2d(xs[0], xs[1], xs[2] if bias else None, **case)
        (out * t.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
        results.append([out.detach().numpy()] + [v.grad.numpy() for v in xs])
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def test_conv_transpose2d_layer_as_pytorch():
    ours, theirs = dl.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), torch.nn.ConvTranspose2d(16, 8, 4, 2, 1)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert repr(ours).replace('dl.', '') == repr(theirs)
    ours.load_state_dict({k: dl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 16, 7, 7)).astype(np.float32)
    a, b = ours(dl.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
    c = ours(dl.tensor(x), output_size=(15, 15))
    assert tuple(c.shape) == tuple(theirs(torch.tensor(x), output_size=(15, 15)).shape) == (2, 8, 15, 15)
    # fan_in from the weight's second dimension, as PyTorch's: bias bound 1/sqrt(8*4*4)
    assert np.abs(ours.bias.detach().numpy()).max() <= 1 / np.sqrt(8 * 16) and ours.bias.shape == (8,)
    with pytest.raises(RuntimeError, match='channels'):
        ours(dl.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match='zeros'):
        dl.nn.ConvTranspose2d(1, 1, 3, padding_mode='reflect')
