"""Device support (chapter 05, deeplearning101/gpu.py).

* CPU-only tests of the device API: parsing `dl.device`, `cuda_available()` when CuPy is missing, installed without a
  usable GPU, or present but switched off by the environment; `.to()` round trips on the CPU; clear errors.
* Parity tests: every op's forward and backward on a 'cuda' tensor equal the CPU result (float64 to 1e-10, float32
  to 1e-5), and a digits MLP trained on 'cuda' reaches the CPU accuracy. They run twice, through the fixture `gpu`:
  on a *simulated* GPU (tests/fake_cupy.py: NumPy arrays that refuse to mix with NumPy arrays, as CuPy's do), which
  checks the plumbing on any machine, and on the real GPU, skipped unless `dl.cuda_available()`.
"""
import os
import sys

import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101 import gpu as G

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_cupy  # noqa: E402

FORCE = ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU')


@pytest.fixture
def clean(monkeypatch):
    "No forcing variables, and a fresh CUDA probe before and after the test."
    for v in FORCE: monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    yield monkeypatch
    G._probe.cache_clear()


@pytest.fixture(params=['simulated', 'cuda'])
def gpu(request, clean):
    "A usable 'cuda' device: the stand-in CuPy ('simulated'), or the real GPU (skipped when there is none)."
    if request.param == 'simulated': fake_cupy.install(clean)
    elif not dl.cuda_available(): pytest.skip(f"no usable CUDA device: {G._why_no_cuda()}")
    return request.param


def cupy_module(): return sys.modules['cupy']


# ------------------------------------------------------------------------------------------------ devices
def test_device_parsing():
    d = dl.device('cuda:1')
    assert (d.type, d.index, str(d), repr(d)) == ('cuda', 1, 'cuda:1', "device(type='cuda', index=1)")
    assert dl.device('cpu') == 'cpu' and dl.device('cuda', 0) == 'cuda:0' and dl.device(dl.device('cuda:0')) == 'cuda:0'
    assert dl.device('cuda') != 'cuda:0' and dl.device('cuda') == 'cuda'     # as in PyTorch: no index is not index 0
    assert str(dl.device('cuda')) == 'cuda' and repr(dl.device('cpu')) == "device(type='cpu')"
    assert dl.device(' cuda:0 ') == dl.device('cuda', 0) and dl.device('cpu') != 'nonsense' and dl.device('cpu') != 3
    assert len({dl.device('cuda:0'), dl.device('cuda', 0), dl.device('cpu')}) == 2
    for bad, err in [('gpu', ValueError), ('cuda:x', ValueError), ('cuda:-1', ValueError), ('cuda:', ValueError),
                     (0.5, TypeError), (None, TypeError)]:
        with pytest.raises(err, match='device'): dl.device(bad)
    with pytest.raises(ValueError, match='already has an index'): dl.device('cuda:0', 1)
    with pytest.raises(ValueError, match='index'): dl.device('cuda', -2)
    with pytest.raises(ValueError, match="tensor: .*'tpu'"): dl.tensor([1.0], device='tpu')


def test_cuda_unavailable_without_cupy(clean):
    clean.setitem(sys.modules, 'cupy', None)                      # `import cupy` raises ImportError
    assert not dl.cuda_available() and dl.device_count() == 0
    assert 'CuPy is not installed' in G._why_no_cuda()
    x = dl.tensor([1.0, 2.0])
    for move in (lambda: x.to('cuda'), lambda: x.cuda(), lambda: dl.tensor([1.0], device='cuda:0'),
                 lambda: dl.zeros(2, device='cuda')):
        with pytest.raises(RuntimeError, match='CUDA is not available, because CuPy is not installed.*chapter 05'): move()


def test_cuda_unavailable_with_broken_cupy(clean):
    "CuPy imports on a machine without a driver and fails at the first use of the device: not available."
    fake_cupy.install(clean, broken=True)
    assert not dl.cuda_available() and dl.device_count() == 0
    assert 'cannot run on a GPU' in G._why_no_cuda() and 'cudaErrorInsufficientDriver' in G._why_no_cuda()
    net = dl.Sequential(dl.Linear(3, 2))
    before = [p.data for p in net.parameters()]
    with pytest.raises(RuntimeError, match=r'Sequential.to: cannot use device .cuda.*cudaErrorInsufficientDriver'):
        net.to('cuda')
    assert all(a is p.data for a, p in zip(before, net.parameters()))      # nothing moved


def test_probe_runs_once(clean):
    fake_cupy.install(clean)
    calls = []
    count = cupy_module().cuda.runtime.getDeviceCount
    cupy_module().cuda.runtime.getDeviceCount = lambda: calls.append(1) or count()
    assert dl.cuda_available() and dl.cuda_available() and dl.device_count() == 1 and len(calls) == 1


@pytest.mark.parametrize('var,value,forced', [('DL_DEVICE', 'cpu', True), ('DL_DEVICE', 'CPU', True),
                                              ('DL_DEVICE', 'cuda', False), ('DEEPLEARNING101_FORCE_CPU', '1', True),
                                              ('DEEPLEARNING101_FORCE_CPU', '0', False)])
def test_environment_forces_cpu(clean, var, value, forced):
    fake_cupy.install(clean)
    assert dl.cuda_available()
    clean.setenv(var, value)
    assert dl.cuda_available() is not forced
    if forced:
        with pytest.raises(RuntimeError, match=f'CUDA is not available, because the environment sets {var}'):
            dl.tensor([1.0]).cuda()


def test_to_cpu_round_trips():
    x = dl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.device == 'cpu' and x.device == dl.device('cpu') and not x.is_cuda
    assert x.to('cpu') is x and x.cpu() is x and x.to(dl.device('cpu')) is x and x.to('cpu:0') is x
    assert x.numpy() is x.data                                  # shares memory on the CPU, as in PyTorch
    assert isinstance(x.sum().numpy(), np.ndarray)              # even for a NumPy scalar result
    y = x.to(np.float32)
    assert y.dtype == np.float32 and y.to(dtype=np.float32) is y and x.to('cpu', np.float64) is x
    y.sum().backward()
    assert x.grad.dtype == np.float64 and np.all(x.grad.numpy() == 1)
    net = dl.Sequential(dl.Linear(3, 4), dl.BatchNorm1d(4))
    arrays = [t.data for t in list(net.parameters()) + list(net.buffers())]
    assert net.to('cpu') is net and net.cpu() is net
    assert all(a is t.data for a, t in zip(arrays, list(net.parameters()) + list(net.buffers())))
    assert dl.zeros(2, device='cpu').device == 'cpu' and dl.randn(2, 2, device=dl.device('cpu')).shape == (2, 2)


def test_synchronize_and_benchmark_on_cpu():
    dl.synchronize()                                            # nothing to wait for: a no-op
    t = dl.benchmark(lambda: sum(range(100)), warmup=1, repeat=5, number=10)
    assert len(t.times) == 5 and t.number == 10 and 0 < t.best <= t.median and 'per call' in repr(t)
    both = dl.benchmark({'a': lambda: None, 'b': lambda: sum(range(50))}, warmup=0, repeat=4, min_sample_s=0.001)
    assert set(both) == {'a', 'b'} and all(len(v.times) == 4 for v in both.values())
    assert [dl.format_time(s) for s in (2.5, 0.0123, 4.5e-6, 3e-9)] == ['2.5 s', '12.3 ms', '4.5 µs', '3 ns']


# ------------------------------------------------------------------------------------------------ simulated or real GPU
def test_tensor_on_gpu(gpu):
    cupy = cupy_module()
    x = dl.tensor([[1.0, 2.0], [3.0, 4.0]], device='cuda')
    assert isinstance(x.data, cupy.ndarray) and x.device == 'cuda:0' and x.is_cuda and x.dtype == np.float32
    assert x.cuda() is x and x.to('cuda') is x and x.to('cuda:0') is x and x.to(0) is x
    assert isinstance(x.numpy(), np.ndarray) and np.array_equal(x.numpy(), [[1, 2], [3, 4]])
    assert x.cpu().device == 'cpu' and x.cpu().to('cuda').device == 'cuda:0'
    assert "device='cuda:0'" in repr(x) and repr(x).startswith('tensor([[1., 2.]')
    assert (x * 2).device == 'cuda:0' and (2.0 - x).device == 'cuda:0' and (x ** 2).device == 'cuda:0'
    assert x.sum().item() == 10.0 and float(x.max()) == 4.0 and x.shape == (2, 2) and len(x) == 2
    with pytest.raises(TypeError, match=r"cuda:0 to a NumPy array implicitly.*\.numpy\(\)"): np.asarray(x)
    with pytest.raises(RuntimeError, match="does not exist"): dl.tensor([1.0], device='cuda:7')
    for make in (dl.zeros, dl.ones, dl.randn, dl.rand):
        assert make(2, 3, device='cuda').device == 'cuda:0'
    assert dl.arange(4, device='cuda').device == 'cuda:0' and dl.zeros_like(x).device == 'cuda:0'
    dl.manual_seed(3); a = dl.randn(5, device='cuda')
    dl.manual_seed(3); b = dl.randn(5)
    assert np.array_equal(a.numpy(), b.numpy())                 # one generator: the same numbers on every device


def test_mixing_devices_is_an_error(gpu):
    g, c = dl.tensor([1.0, 2.0], device='cuda'), dl.tensor([1.0, 2.0])
    for f, name in [(lambda: g + c, 'add'), (lambda: c * g, 'mul'), (lambda: dl.matmul(g, c), 'matmul'),
                    (lambda: dl.cat([g, c]), 'concatenate'), (lambda: dl.where(g > 1, g, c), 'where'),
                    (lambda: dl.linear(g.reshape(1, 2), dl.tensor(np.ones((3, 2), np.float32))), 'linear')]:
        with pytest.raises(RuntimeError, match=f"^{name}: expected all tensors on the same device, but found cpu "
                                               f"and cuda:0 .*on cuda:0.*move them with .to.device."):
            f()
    with pytest.raises(RuntimeError, match='cross_entropy: input is on cuda:0 but target is on cpu'):
        dl.cross_entropy(dl.tensor(np.zeros((2, 3), np.float32), device='cuda'), np.array([0, 1]))


def test_cpu_scalars_mix_like_pytorch(gpu):
    "A CPU value that is a NumPy scalar (a reduction's result) combines with GPU tensors; its gradient comes back."
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = x.sum()                                                 # on the CPU: a NumPy scalar
    g = dl.tensor([1.0, -1.0], requires_grad=True, device='cuda')
    (g * s).sum().backward()
    assert x.grad.device == 'cpu' and np.allclose(x.grad.numpy(), 0.0) and np.allclose(g.grad.numpy(), 6.0)


def test_module_and_optimizer_on_gpu(gpu):
    cupy = cupy_module()
    dl.manual_seed(0)
    net = dl.Sequential(dl.Linear(4, 8), dl.BatchNorm1d(8), dl.ReLU(), dl.Linear(8, 3))
    ref = {k: v.data.copy() for k, v in net.state_dict().items()}
    params = list(net.parameters())
    assert net.to('cuda') is net and all(p is q for p, q in zip(params, net.parameters()))
    assert all(isinstance(t.data, cupy.ndarray) for t in list(net.parameters()) + list(net.buffers()))
    opt = dl.Adam(net.parameters(), lr=1e-2)
    x, y = dl.randn(16, 4, device='cuda'), dl.tensor(np.arange(16) % 3, device='cuda')
    for _ in range(3):
        opt.zero_grad(); dl.cross_entropy(net(x), y).backward(); opt.step()
    assert all(isinstance(p.grad.data, cupy.ndarray) for p in net.parameters())
    assert all(isinstance(v, cupy.ndarray) for s in opt.state.values() for v in s.values() if hasattr(v, 'shape'))
    net.load_state_dict({k: dl.tensor(v) for k, v in ref.items()})   # CPU values into a GPU model
    assert all(isinstance(t.data, cupy.ndarray) for t in net.parameters())
    assert all(np.array_equal(v.numpy(), ref[k]) for k, v in net.state_dict().items())
    net.cpu()                                                   # moved after the optimizer made its state
    assert all(isinstance(p.data, np.ndarray) and isinstance(p.grad.data, np.ndarray) for p in net.parameters())
    net.cuda()
    opt2 = dl.Adam(net.parameters(), lr=1e-2); opt2.zero_grad()
    dl.cross_entropy(net(x), y).backward(); opt2.step()
    net.cpu()
    opt2.load_state_dict(opt2.state_dict())                    # the documented fix: state follows the parameters
    assert all(isinstance(v, np.ndarray) for s in opt2.state.values() for v in s.values() if hasattr(v, 'shape'))
    opt2.zero_grad(); dl.cross_entropy(net(x.cpu()), y.cpu()).backward(); opt2.step()


def test_stale_optimizer_state_gives_a_clear_error(gpu):
    net = dl.Linear(3, 2)
    opt = dl.Adam(net.parameters())
    net(dl.randn(4, 3)).sum().backward(); opt.step()            # state made on the CPU
    net.cuda()
    net(dl.randn(4, 3, device='cuda')).sum().backward()
    with pytest.raises(RuntimeError, match=r'Adam.step: a parameter is on cuda:0 but its optimizer state is on cpu'):
        opt.step()


def test_device_loader_and_to_gradient(gpu):
    X, y = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32), np.arange(10) % 2
    loader = G.DeviceLoader(dl.DataLoader(dl.TensorDataset(X, y), batch_size=4), 'cuda')
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3 and all(b.device == 'cuda:0' for bs in batches for b in bs)
    w = dl.tensor(np.ones(3, np.float32), requires_grad=True)   # a CPU parameter used on the GPU through .to()
    (batches[0][0] @ w.to('cuda')).sum().backward()
    assert w.grad.device == 'cpu' and np.allclose(w.grad.numpy(), X[:4].sum(0), rtol=1e-6)


def test_benchmark_synchronizes(gpu):
    if gpu != 'simulated': pytest.skip("counts calls of the stand-in's synchronize")
    before = fake_cupy.Device.synchronized
    dl.benchmark(lambda: None, warmup=2, repeat=3, number=5)
    assert fake_cupy.Device.synchronized - before == 2 * 3          # before and after every sample


# ------------------------------------------------------------------------------------------------ op parity
def _ce(reduction):
    def f(z, d): return dl.cross_entropy(z, dl.tensor(np.array([0, 2, 1, 2]), device=d), reduction=reduction)
    return f


def _bn(z, d):
    bn = dl.BatchNorm1d(3).to(d)
    if z.dtype == np.float64: bn.double()
    return bn(z)


RNG_IDX = np.array([[0, 1], [1, 1]])
CASES = {   # name: (input shapes, function of (inputs..., device))
    'add': ([(3, 4), (4,)], lambda a, b, d: a + b), 'sub': ([(3, 1), (3, 4)], lambda a, b, d: a - b),
    'mul': ([(3, 4), (3, 4)], lambda a, b, d: a * b), 'div': ([(3, 4), 'pos(4,)'], lambda a, b, d: a / b),
    'pow': (['pos(3,4)', (3, 4)], lambda a, b, d: a ** b), 'maximum': ([(3, 4), (3, 4)], lambda a, b, d: dl.maximum(a, b)),
    'constants': ([(3, 4)], lambda a, d: (2.0 - a * 3) / 4.0 + a ** 2 - 1),
    'matmul': ([(3, 4), (4, 5)], lambda a, b, d: a @ b), 'matvec': ([(3, 4), (4,)], lambda a, b, d: a @ b),
    'vecvec': ([(4,), (4,)], lambda a, b, d: a @ b), 'bmm': ([(2, 3, 4), (4, 2)], lambda a, b, d: a @ b),
    'neg': ([(3, 4)], lambda a, d: -a), 'exp': ([(3, 4)], lambda a, d: a.exp()),
    'log': (['pos(3,4)'], lambda a, d: a.log()), 'sqrt': (['pos(3,4)'], lambda a, d: a.sqrt()),
    'abs': ([(3, 4)], lambda a, d: abs(a)), 'relu': ([(3, 4)], lambda a, d: a.relu()),
    'sigmoid': ([(3, 4)], lambda a, d: a.sigmoid()), 'tanh': ([(3, 4)], lambda a, d: a.tanh()),
    'clip': ([(3, 4)], lambda a, d: a.clip(-0.5, 0.5)), 'clip_min': ([(3, 4)], lambda a, d: dl.clip(a, min=0.1)),
    'cast': ([(3, 4)], lambda a, d: a.float().double() * a),
    'sum': ([(3, 4)], lambda a, d: a.sum()), 'sum_axis': ([(3, 4, 2)], lambda a, d: a.sum(axis=(0, 2))),
    'mean': ([(3, 4)], lambda a, d: a.mean(dim=1, keepdim=True)), 'max': ([(3, 4)], lambda a, d: a.max(axis=0)),
    'min': ([(3, 4)], lambda a, d: a.min()), 'logsumexp': ([(3, 4)], lambda a, d: dl.logsumexp(a, axis=1)),
    'softmax': ([(3, 4)], lambda a, d: dl.softmax(a)), 'log_softmax': ([(3, 4)], lambda a, d: dl.log_softmax(a, dim=0)),
    'reshape': ([(3, 4)], lambda a, d: a.reshape(2, 6) * 1), 'transpose': ([(3, 4)], lambda a, d: a.T * 1),
    'permute': ([(2, 3, 4)], lambda a, d: a.permute(2, 0, 1) * 1),
    'broadcast_to': ([(3, 1)], lambda a, d: a.broadcast_to((3, 4)) * 1),
    'index_basic': ([(3, 4)], lambda a, d: a[1:, ::2] * 1), 'index_int': ([(3, 4)], lambda a, d: a[1, 2] * 1),
    'index_repeats': ([(3, 4)], lambda a, d: a[[0, 0, 2]] * 1),
    'index_array': ([(3, 4)], lambda a, d: a[RNG_IDX, 1] * 1),
    'index_mask': ([(3, 4)], lambda a, d: a[a > 0] * 1),
    'index_tensor': ([(3, 4)], lambda a, d: a[dl.tensor(np.array([2, 0, 2]), device=d)] * 1),
    'concatenate': ([(2, 3), (1, 3)], lambda a, b, d: dl.cat([a, b])), 'stack': ([(2, 3), (2, 3)], lambda a, b, d: dl.stack([a, b], 1)),
    'where': ([(3, 4), (3, 4)], lambda a, b, d: dl.where(a > b, a, b)), 'where_const': ([(3, 4)], lambda a, d: dl.where(a > 0, a, 0.0)),
    'linear': ([(5, 4), (3, 4), (3,)], lambda x, w, b, d: dl.linear(x, w, b)),
    'cross_entropy': ([(4, 3)], _ce('mean')), 'cross_entropy_sum': ([(4, 3)], _ce('sum')),
    'cross_entropy_none': ([(4, 3)], _ce('none')),
    'mse_loss': ([(3, 4), (3, 4)], lambda a, b, d: dl.mse_loss(a, b)),
    'bce_with_logits': ([(6,)], lambda a, d: dl.binary_cross_entropy_with_logits(
        a, dl.tensor(np.array([0, 1, 1, 0, 1, 0.0]), device=d, dtype=a.dtype))),
    'batch_norm': ([(6, 3)], _bn),
}


def _inputs(shapes, dtype, seed=0):
    rng, out = np.random.default_rng(seed), []
    for s in shapes:
        pos = isinstance(s, str)
        shape = eval(s[3:]) if pos else s
        a = rng.standard_normal(shape)
        out.append((np.abs(a) + 0.5 if pos else a).astype(dtype))
    return out


def _run(name, dtype, dev, create_graph=False):
    "Forward and the input gradients of sum(out * w), as NumPy arrays."
    shapes, fn = CASES[name]
    xs = [dl.tensor(a, requires_grad=True, device=dev) for a in _inputs(shapes, dtype)]
    out = fn(*xs, dev)
    w = dl.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype), device=dev)
    loss = (out * w).sum()
    if not create_graph:
        loss.backward()
        return [out.numpy()] + [x.grad.numpy() for x in xs]
    gs = dl.grad(loss, xs, create_graph=True)                  # second order: d/dx of sum(grad^2)
    hs = dl.grad(sum((g * g).sum() for g in gs), xs, allow_unused=True)
    return [out.numpy()] + [g.numpy() for g in gs] + [np.zeros(x.shape) if h is None else h.numpy() for x, h in zip(xs, hs)]


@pytest.mark.parametrize('dtype,tol', [(np.float64, 1e-10), (np.float32, 1e-5)], ids=['float64', 'float32'])
@pytest.mark.parametrize('name', list(CASES))
def test_op_parity(gpu, name, dtype, tol):
    cpu, cuda = _run(name, dtype, 'cpu'), _run(name, dtype, 'cuda')
    for i, (a, b) in enumerate(zip(cpu, cuda)):
        assert type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape, (name, i)
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol, err_msg=f"{name}: {'forward' if i == 0 else f'grad {i}'}")


@pytest.mark.parametrize('name', ['mul', 'div', 'exp', 'tanh', 'softmax', 'log_softmax', 'matmul', 'linear',
                                  'cross_entropy', 'batch_norm', 'logsumexp', 'pow', 'sigmoid'])
def test_grad_of_grad_parity(gpu, name):
    cpu, cuda = _run(name, np.float64, 'cpu', True), _run(name, np.float64, 'cuda', True)
    for a, b in zip(cpu, cuda): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize('cls,kw', [(dl.Adam, {}), (dl.Adam, dict(weight_decay=0.1)), (dl.AdamW, {}),
                                    (dl.Adam, dict(amsgrad=True)), (dl.SGD, dict(momentum=0.9, nesterov=True)),
                                    (dl.RMSprop, dict(centered=True, momentum=0.5))])
@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'ufuncs'])
def test_optimizer_parity_float32(gpu, cls, kw, fused):
    rng = np.random.default_rng(2)
    w0 = [rng.standard_normal(s).astype(np.float32) for s in [(6, 5), (5,), ()]]
    grads = [[(rng.standard_normal(w.shape) * 10.0 ** rng.uniform(-3, 1)).astype(np.float32) for w in w0]
             for _ in range(20)]
    cpu = [dl.tensor(w.copy(), requires_grad=True) for w in w0]
    gpu_ = [dl.tensor(w, requires_grad=True, device='cuda') for w in w0]
    oc, og = cls(cpu, lr=1e-2, **kw), cls(gpu_, lr=1e-2, **kw)
    prev = dl.use_fused_kernels(fused)
    try:
        for step in grads:
            for a, b, g in zip(cpu, gpu_, step): a.grad, b.grad = dl.tensor(g.copy()), dl.tensor(g, device='cuda')
            oc.step(); og.step()
    finally: dl.use_fused_kernels(prev)
    for a, b in zip(cpu, gpu_): np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_digits_training_matches_cpu(gpu):
    "The same seed trains the same network to nearly the same accuracy on both devices."
    Xtr, ytr, Xva, yva = dl.load_digits()
    acc = {}
    for dev in ('cpu', 'cuda'):
        dl.manual_seed(0)
        model = dl.Sequential(dl.Linear(64, 64), dl.ReLU(), dl.Linear(64, 10)).to(dev)
        opt = dl.Adam(model.parameters(), lr=3e-3)
        loader = G.DeviceLoader(dl.DataLoader(dl.TensorDataset(Xtr, ytr), batch_size=64, shuffle=True, seed=0), dev)
        valid = G.DeviceLoader(dl.DataLoader(dl.TensorDataset(Xva, yva), batch_size=512), dev)
        h = dl.fit(model, dl.CrossEntropyLoss(), opt, loader, valid, epochs=5, progress=False)
        acc[dev] = h['valid_accuracy'][-1]
        assert all(p.device.type == ('cpu' if dev == 'cpu' else 'cuda') for p in model.parameters())
    assert acc['cpu'] > 0.9 and abs(acc['cuda'] - acc['cpu']) <= 0.01, acc


def test_labels_out_of_range_on_gpu(gpu):
    "Without the fused kernel the labels are checked (a synchronization); the fused kernel gives NaN instead."
    z = dl.tensor(np.zeros((3, 4), np.float32), device='cuda')
    bad = dl.tensor(np.array([0, 4, 1]), device='cuda')
    message = r'cross_entropy: target \[4\] out of bounds for 4 classes'
    prev = dl.use_fused_kernels(False)
    try:
        with pytest.raises(IndexError, match=message): dl.cross_entropy(z, bad)
    finally: dl.use_fused_kernels(prev)
    if gpu == 'simulated':                                      # the stand-in has no kernel compiler: checked
        with pytest.raises(IndexError, match=message): dl.cross_entropy(z, bad)
    else: assert np.isnan(dl.cross_entropy(z, bad).item())


@pytest.mark.parametrize('name', ['cross_entropy', 'cross_entropy_sum', 'cross_entropy_none', 'relu', 'linear', 'mul'])
def test_unfused_gpu_paths_match(gpu, name):
    "With the fused kernels switched off, the NumPy-style code runs on the GPU arrays: the same results."
    prev = dl.use_fused_kernels(False)
    try: cpu, cuda = _run(name, np.float32, 'cpu'), _run(name, np.float32, 'cuda')
    finally: dl.use_fused_kernels(prev)
    for a, b in zip(cpu, cuda): np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)
