"""Chapter 03 / 03b: modules, layers, losses, SGD, checkpoints and the training loop.
Gradients are checked against central differences (`dl.gradcheck`, float64);
behaviour (train vs eval, running statistics, in-place updates, state-dict round
trips) against the definitions; bad input against the error messages promised in the
chapters."""
import io
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101.layers import gradcheck_module


def T(rng, *shape, requires_grad=True, scale=1.0):
    return dl.tensor(rng.standard_normal(shape) * scale, requires_grad=requires_grad)


def grad_of_sum(f):
    """x -> d sum(f(x)) / dx as a differentiable function (second derivatives via
    gradcheck)."""
    def g(x):
        with dl.set_grad_enabled(True): return dl.grad(f(x).sum(), x, create_graph=True)[0]
    return g


# ---------------------------------------------------------------- Module and Parameter
class Scale(dl.Module):
    def __init__(self, a=1.0): self.a = dl.Parameter(np.array(a, np.float32))
    def forward(self, x): return self.a * x


class Net(dl.Module):
    def __init__(self):
        self.body = dl.Sequential(dl.Linear(3, 4), dl.ReLU(), dl.Linear(4, 2))
        self.scale = Scale(2.0)
        self.register_buffer('count', np.zeros((), np.int64))
        self.register_buffer('scratch', np.zeros(3, np.float32), persistent=False)
    def forward(self, x): return self.scale(self.body(x))


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = dl.Parameter([1.0, 2.0])
    assert isinstance(p, dl.Tensor) and p.requires_grad
    assert p.is_leaf and p.dtype == np.float32
    assert type(p * 2) is dl.Tensor and 'Parameter containing' in repr(p)
    # integers cannot require grad
    with pytest.raises(TypeError): dl.Parameter(np.arange(3))


def test_module_walks_parameters_buffers_children():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ['body.0.weight', 'body.0.bias', 'body.2.weight', 'body.2.bias', 'scale.a']
    assert [n for n, _ in net.named_children()] == ['body', 'scale']
    assert [n for n, _ in net.named_modules()] == ['', 'body', 'body.0', 'body.1', 'body.2', 'scale']
    assert [n for n, _ in net.named_buffers()] == ['count', 'scratch']
    assert list(net.state_dict()) == ['count', 'body.0.weight', 'body.0.bias', 'body.2.weight', 'body.2.bias', 'scale.a']
    assert net.get_submodule('body.2') is net.body[2]
    with pytest.raises(AttributeError): net.get_submodule('body.7')
    assert 'Sequential' in repr(net)
    assert '(0): Linear(in_features=3, out_features=4, bias=True)' in repr(net)


def test_shared_parameters_are_listed_once_and_accumulate():
    lin = dl.Linear(2, 2)
    seq = dl.Sequential(lin, dl.Tanh(), lin)
    assert len(list(seq.parameters())) == 2
    x = dl.tensor(np.ones((1, 2), np.float32))
    seq(x).sum().backward()
    assert lin.weight.grad is not None


def test_train_eval_apply_zero_grad_double():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    net(dl.tensor(np.ones((2, 3), np.float32))).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.detach().numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == 'Net' and seen.count('Linear') == 2
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.count.dtype == np.int64


def test_module_without_super_init_and_forward_missing():
    class NoForward(dl.Module):
        def __init__(self): self.w = dl.Parameter([1.0])
    m = NoForward()
    assert len(list(m.parameters())) == 1
    with pytest.raises(NotImplementedError, match='NoForward'): m(1)


def test_to_device():
    net = Net()
    arrays = [p.detach().numpy() for p in net.parameters()]
    assert net.to('cpu') is net and net.cpu() is net
    assert all(a is p.detach().numpy() for a, p in zip(arrays, net.parameters()))
    # on a GPU machine the move works: tests/test_gpu.py covers it
    if dl.cuda_available(): return
    for dev in ('cuda', 'cuda:0'):
        with pytest.raises(RuntimeError, match='chapter 05'): net.to(dev)


def test_register_buffer_bad_name():
    with pytest.raises(KeyError): Net().register_buffer('a.b', np.zeros(1))


def test_parameter_copies_arrays_and_shares_tensors():
    a = np.zeros(3, np.float32)
    p = dl.Parameter(a)
    with dl.no_grad(): p += 1
    # never aliases the caller's array
    assert np.all(a == 0)
    t = dl.zeros(3)
    # a tensor's storage is shared, as torch's
    q = dl.Parameter(t)
    with dl.no_grad(): q += 1
    assert np.all(t.numpy() == 1) and q.requires_grad and not t.requires_grad
    assert dl.Parameter().shape == (0,)
    assert not dl.Parameter(dl.ones(2), requires_grad=False).requires_grad


def test_module_slots_keep_their_kind():
    lin = dl.Linear(2, 3)
    for bad in (dl.zeros(3, 2), np.zeros((3, 2), np.float32), 1.0):
        message = r"cannot assign '\w+' as parameter 'weight' \(nn.Parameter or None"
        with pytest.raises(TypeError, match=message):
            lin.weight = bad
    # None is allowed, and keeps the slot
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ['weight']
    assert lin(dl.zeros(1, 2)).shape == (1, 3)
    with pytest.raises(TypeError, match="as parameter 'bias'"): lin.bias = dl.zeros(3)
    lin.bias = dl.Parameter(dl.zeros(3))
    del lin.weight; lin.weight = dl.zeros(3, 2)          # a deleted slot is free
    assert [n for n, _ in lin.named_parameters()] == ['bias']
    net = Net()
    with pytest.raises(TypeError, match="as buffer 'count'"): net.count = np.ones(())
    # a tensor replaces a buffer
    net.count = dl.tensor(5)
    assert net.state_dict()['count'].item() == 5
    # a new plain attribute: no parameter
    net.other = dl.zeros(2)
    assert 'other' not in net.state_dict()
    net.register_parameter('extra', dl.Parameter(dl.ones(1)))
    assert 'extra' in dict(net.named_parameters())
    with pytest.raises(TypeError): net.register_parameter('p2', dl.zeros(1))
    with pytest.raises(KeyError, match='already exists'):
        net.register_buffer('forward', dl.zeros(1))
    net.add_module('head', dl.Linear(2, 1))
    assert net.get_submodule('head') is net.head
    assert net.get_parameter('head.bias') is net.head.bias


def test_module_to_dtype_and_requires_grad():
    net = Net()
    assert net.to(dl.float64) is net
    assert all(p.dtype == dl.float64 for p in net.parameters())
    # integer buffers are left alone
    assert net.count.dtype == dl.int64
    net.to(dtype=dl.float32)
    assert all(p.dtype == dl.float32 for p in net.parameters())
    net.to(dl.ones(1, dtype=dl.float64))
    assert net.body[0].weight.dtype == dl.float64
    with pytest.raises(TypeError, match='floating point'): net.to(dl.int64)
    assert not any(p.requires_grad for p in net.requires_grad_(False).parameters())


def test_functional_gradients_by_gradcheck(rng):
    """Every differentiable function of dl.nn.functional against central differences
    (values: tests/*_torch)."""
    F = dl.nn.functional
    x = T(rng, 4, 5)
    y = rng.integers(0, 5, 4); y[2] = -100
    w = dl.tensor(rng.uniform(0.5, 2, 5))
    probs = dl.tensor(rng.uniform(0.05, 0.95, (4, 5)), requires_grad=True)
    soft = dl.tensor(rng.dirichlet(np.ones(5), 4))
    target = dl.tensor(rng.uniform(0, 1, (4, 5)))
    weight = dl.tensor(rng.standard_normal((3, 5)))
    bias = dl.tensor(rng.standard_normal(3))
    ones = dl.ones(4, 5, dtype=dl.float64)
    checks = [lambda t: F.relu(t), F.sigmoid, F.tanh, lambda t: F.softmax(t, dim=1),
              lambda t: F.log_softmax(t, 0),
              lambda t: F.cross_entropy(t, y, weight=w, label_smoothing=0.1),
              lambda t: F.cross_entropy(t, soft),
              lambda t: F.nll_loss(t, y, weight=w), lambda t: F.mse_loss(t, ones),
              lambda t: F.l1_loss(t, ones),
              lambda t: F.binary_cross_entropy_with_logits(t, ones),
              lambda t: F.linear(t, weight, bias),
              lambda t: F.pad(t, (1, 2, 1, 0)),
              lambda t: F.pad(t, (2, 2), mode='reflect'),
              lambda t: F.pad(t, (3, 1), mode='replicate'),
              lambda t: F.pad(t, (-1, 2), mode='circular'),
              lambda t: (dl.manual_seed(0), F.dropout(t, 0.4))[1]]
    for i, f in enumerate(checks):
        assert dl.gradcheck(f, x), i
    assert dl.gradcheck(lambda p: F.binary_cross_entropy(p, target), probs)
    t = dl.tensor(rng.uniform(0, 1, (4, 5)), requires_grad=True)
    assert dl.gradcheck(lambda t: F.binary_cross_entropy(probs.detach(), t), t)
    w2 = dl.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert dl.gradcheck(lambda w: F.linear(x.detach(), w), w2)


def test_loss_modules_keep_pytorch_signatures():
    assert dl.nn.CrossEntropyLoss(None, None, 3, None, 'sum', 0.1).ignore_index == 3
    assert dl.nn.NLLLoss(reduction='none').reduction == 'none'
    assert dl.nn.L1Loss().reduction == 'mean'
    loss = dl.nn.BCEWithLogitsLoss(pos_weight=dl.ones(3))
    assert list(loss.state_dict()) == ['pos_weight']
    with pytest.warns(UserWarning):
        assert dl.nn.MSELoss(size_average=False).reduction == 'sum'
    with pytest.raises(TypeError, match="reduction='sum'"): dl.nn.MSELoss('sum')


# ---------------------------------------------------------------- init
@pytest.mark.parametrize('fill,var', [
    (lambda t: dl.kaiming_uniform_(t, nonlinearity='relu'), 2 / 400), (lambda t: dl.kaiming_normal_(t, nonlinearity='relu'), 2 / 400),
    (lambda t: dl.kaiming_normal_(t, mode='fan_out', nonlinearity='relu'), 2 / 300),
    (dl.xavier_uniform_, 2 / 700), (dl.xavier_normal_, 2 / 700), (lambda t: dl.kaiming_uniform_(t, a=math.sqrt(5)), 1 / 1200)])
def test_init_variances(fill, var):
    dl.manual_seed(0)
    w = dl.tensor(np.zeros((300, 400), np.float32))
    assert fill(w) is w and w.dtype == np.float32
    assert abs(w.detach().numpy().var() / var - 1) < 0.03


def test_init_errors_and_gain():
    assert dl.calculate_gain('relu') == math.sqrt(2)
    assert dl.calculate_gain('tanh') == 5 / 3
    with pytest.raises(ValueError, match='unsupported nonlinearity'):
        dl.calculate_gain('swish')
    with pytest.raises(ValueError, match='fewer than 2 dimensions'):
        dl.xavier_uniform_(dl.zeros(5))
    with pytest.raises(ValueError, match="mode"):
        dl.kaiming_normal_(dl.zeros(3, 3), mode='fan')


def test_linear_init_choices_and_reproducibility():
    dl.manual_seed(1); a = dl.Linear(50, 40)
    dl.manual_seed(1); b = dl.Linear(50, 40)
    assert np.array_equal(a.weight.detach(), b.weight.detach())
    # PyTorch's default: weight and bias U(-1/sqrt(in), 1/sqrt(in))
    bound = 1 / math.sqrt(50)
    for t in (a.weight, a.bias):
        m = t.abs().max().item()
        assert bound * 0.9 < m <= bound
    assert a.init == 'torch' and 'kaiming_uniform_(a=sqrt(5))' in dl.Linear.__doc__
    h = dl.Linear(50, 40, init='he')
    assert np.abs(h.weight.detach()).max() <= math.sqrt(6 / 50)
    assert np.all(h.bias.detach().numpy() == 0)
    g = dl.Linear(50, 40, init='glorot')
    assert np.abs(g.weight.detach()).max() <= math.sqrt(6 / 90)
    c = dl.Linear(3, 2, init=lambda w: dl.zeros_(w))
    assert np.all(c.weight.detach().numpy() == 0)
    with pytest.raises(ValueError, match='init'): dl.Linear(3, 2, init='lecun')
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match='in_features'): dl.Linear(bad, 2)


# ---------------------------------------------------------------- Linear
def test_linear_gradients(rng):
    dl.manual_seed(0)
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 5, 4))
    assert gradcheck_module(dl.Linear(4, 3, bias=False), T(rng, 5, 4))
    # leading batch axes
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 2, 5, 4))
    # a single vector
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 4))
    lin = dl.Linear(4, 3).double()
    # grad of grad through the fused op
    assert dl.gradcheck(grad_of_sum(lambda x: dl.tanh(lin(x))), T(rng, 5, 4))


def test_linear_matches_formula_and_skips_unneeded_grads(rng):
    lin = dl.Linear(4, 3)
    x = dl.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = lin(x)
    assert y.dtype == np.float32
    want = x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    assert np.allclose(y.detach(), want, atol=1e-6)
    y.sum().backward()
    assert x.grad is None and lin.weight.grad.shape == (3, 4)
    assert lin.bias.grad.shape == (3,)
    want = x.numpy() @ lin.weight.detach().numpy().T
    assert np.allclose(dl.linear(x, lin.weight).detach(), want)


def test_linear_input_size_error():
    with pytest.raises(RuntimeError) as e: dl.Linear(64, 10)(dl.zeros(5, 32))   # as torch
    assert isinstance(e.value, ValueError)                                     # and NumPy
    assert str(e.value) == ("Linear(in_features=64, out_features=10): input has 32 features "
                            "(shape [5, 32]) (PyTorch: mat1 and mat2 shapes cannot be "
                            "multiplied (5x32 and 64x10))")
    with pytest.raises(ValueError, match='is a scalar'): dl.Linear(1, 1)(dl.tensor(1.0))


def test_linear_function_shape_errors():
    x = dl.zeros(3, 4)
    for w in (dl.zeros(4), dl.zeros(5, 3)):
        with pytest.raises(ValueError, match=r"linear: expected weight \[out_features, in_features\] and input "
                                             r"\[\.\.\., in_features\], got weight \[.*\] and input \[3, 4\]"):
            dl.linear(x, w)


@pytest.mark.parametrize('n', [1, 7, 8, 9, 40])
def test_linear_both_blas_layouts_agree(n, rng):
    """With fewer rows than out_features (and 4x as many in_features) the product is
    requested as (w @ x.T).T."""
    w = dl.tensor(rng.standard_normal((8, 40)), requires_grad=True)
    b = dl.tensor(rng.standard_normal(8), requires_grad=True)
    x = dl.tensor(rng.standard_normal((n, 40)), requires_grad=True)
    y = dl.linear(x, w, b)
    assert y.shape == (n, 8)
    want = x.detach().numpy() @ w.detach().numpy().T + b.detach().numpy()
    assert np.allclose(y.detach(), want, rtol=1e-12, atol=1e-12)
    # either form leaves the product in rows, as PyTorch's (view() relies on it)
    assert y.detach().numpy().flags.c_contiguous and y.view(-1).shape == (8 * n,)
    g = rng.standard_normal((n, 8))
    y.backward(g)
    assert np.allclose(x.grad.detach(), g @ w.detach())
    assert np.allclose(w.grad.detach(), g.T @ x.detach())
    assert np.allclose(b.grad.detach(), g.sum(0))
    assert w.grad.detach().numpy().flags.c_contiguous


@pytest.mark.parametrize('n,k,m', [(1, 4, 2), (1, 3, 2), (8, 32, 9), (8, 31, 9), (8, 32, 8), (32, 10, 128),
                                   (32, 128, 256), (64, 128, 256), (128, 784, 256), (256, 784, 256)])
def test_mm_form(n, k, m, rng):
    """_mm(a, b.T) asks for (b @ a.T).T exactly when n < m and k >= 4 n; the values are
    those of a @ b.T either way, and so is the layout (rows, as PyTorch's)."""
    from deeplearning101.autodiff import _mm
    a, b = rng.standard_normal((n, k)), rng.standard_normal((m, k))
    out = _mm(a, b.T)
    assert np.allclose(out, a @ b.T, rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous
    # a C-ordered right factor: always direct
    assert _mm(a, np.ascontiguousarray(b.T)).base is None


@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_linear_property(n, i, o, seed):
    rng = np.random.default_rng(seed)
    lin = dl.Linear(i, o).double()
    x = rng.standard_normal((n, i))
    want = x @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    assert np.allclose(lin(x).detach(), want)


# ---------------------------------------------------------------- activations and Sequential
@pytest.mark.parametrize('act,f', [(dl.ReLU(), lambda x: np.maximum(x, 0)), (dl.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
                                   (dl.Tanh(), np.tanh),
                                   (dl.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True))])
def test_activations(act, f, rng):
    # away from relu's kink
    x = dl.tensor(rng.uniform(-3, 3, (4, 5)) + 0.01, requires_grad=True)
    assert np.allclose(act(x).detach(), f(x.detach())) and dl.gradcheck(act, x)


def test_sequential_container():
    a, b, c = dl.Linear(2, 3), dl.ReLU(), dl.Linear(3, 1)
    s = dl.Sequential(a, b)
    assert len(s) == 2 and list(s) == [a, b] and s[0] is a and s[-1] is b
    assert isinstance(s[:1], dl.Sequential) and s[:1][0] is a
    s.append(c)
    assert len(s) == 3 and s[2] is c and s(dl.zeros(4, 2)).shape == (4, 1)
    with pytest.raises(TypeError, match='argument 1'): dl.Sequential(a, lambda x: x)
    with pytest.raises(TypeError): s.append(3)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_cross_entropy_values_and_gradients(reduction, rng):
    z = T(rng, 6, 4)
    y = rng.integers(0, 4, 6)
    zn = z.detach().numpy()
    ref = -(zn - np.log(np.exp(zn).sum(1, keepdims=True)))[np.arange(6), y]
    ref = ref.mean() if reduction == 'mean' else ref.sum() if reduction == 'sum' else ref
    out = dl.CrossEntropyLoss(reduction=reduction)(z, y)
    assert np.allclose(out.detach().numpy(), ref) and out.shape == np.shape(ref)
    assert dl.gradcheck(lambda z: dl.cross_entropy(z, y, reduction=reduction), z)
    f = lambda z: dl.cross_entropy(z, dl.tensor(y), reduction=reduction)
    assert dl.gradcheck(grad_of_sum(f), z)


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    z = T(rng, 5, 3)
    y = np.array([0, 2, 1, 1, 0])
    dl.cross_entropy(z, y).backward()
    p = np.exp(z.detach().numpy()) / np.exp(z.detach().numpy()).sum(1, keepdims=True)
    assert np.allclose(z.grad.detach().numpy(), (p - np.eye(3)[y]) / 5)


def test_cross_entropy_is_one_node_and_stable():
    z = dl.tensor([[1000.0, 0.0, -1000.0], [50.0, 50.0, -3e4]], requires_grad=True)
    loss = dl.cross_entropy(z, [1, 0], reduction='none')
    assert loss._op.name == 'cross_entropy' and loss._op.inputs[0] is z
    assert np.allclose(loss.detach(), [1000.0, np.log(2)])
    assert np.all(np.isfinite(loss.detach()))
    loss.sum().backward()
    assert np.all(np.isfinite(z.grad.detach().numpy()))
    assert dl.cross_entropy(dl.tensor(np.zeros((2, 3), np.float32)), [0, 1]).dtype == np.float32
    # valid labels of other int types
    for y in (np.array([2, 0], '>i8'), np.array([2, 0], np.uint8)):
        assert np.isclose(dl.cross_entropy(dl.tensor(np.zeros((2, 3))), y).item(), np.log(3))


@pytest.mark.parametrize('target,err,match', [
    # PyTorch's check and words: int64 or uint8 labels only
    (np.array([0.0, 1.0, 2.0]), RuntimeError, 'Long or Byte, but got Double'),
    (np.array([True, False, True]), RuntimeError, 'Long or Byte, but got Bool'),
    (np.array([0, 1, 2], np.int32), RuntimeError, 'Long or Byte, but got Int'),
    (np.array([[0], [1], [2]]), ValueError, r'target has shape \[3, 1\] but input has shape \[3, 4\]'),
    (np.array([0, 1]), ValueError, r'expected one class index per row, shape \[3\]'),
    (np.array([0, 4, 1]), IndexError, r'target \[4\] out of bounds for 4 classes'),
    (np.array([0, -1, 1]), IndexError, r'target \[-1\] out of bounds'),
    (np.array([0, -1, 1], np.int8), RuntimeError, 'Long or Byte, but got Char'),
    # big-endian labels
    (np.array([0, -2, 1], '>i8'), IndexError, r'target \[-2\] out of bounds'),
    (np.array([0, 7, 1], np.uint8), IndexError, r'target \[7\] out of bounds'),
])
def test_cross_entropy_bad_labels(target, err, match):
    with pytest.raises(err, match=match): dl.cross_entropy(dl.zeros(3, 4), target)


def test_cross_entropy_bad_logits_and_reduction():
    with pytest.raises(ValueError, match=r'\[N, C\]'):
        dl.cross_entropy(dl.zeros(4), [0, 1])
    with pytest.raises(ValueError, match=r'\[N, C\]'):
        dl.cross_entropy(dl.tensor(1.0), [0])
    with pytest.raises(TypeError, match='floating-point'):
        dl.cross_entropy(dl.tensor(np.zeros((2, 3), np.int64)), [0, 1])
    with pytest.raises(ValueError, match='reduction'):
        dl.CrossEntropyLoss(reduction='avg')
    # weight, by position
    with pytest.raises(TypeError, match="reduction='sum'"): dl.CrossEntropyLoss('sum')
    with pytest.raises(TypeError, match="reduction='sum'"):
        dl.cross_entropy(dl.zeros(2, 3), [0, 1], 'sum')
    with pytest.raises(ValueError, match='reduction'):
        dl.cross_entropy(dl.zeros(2, 3), [0, 1], reduction='max')


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_mse_and_bce(reduction, rng):
    p, t = T(rng, 5, 3), dl.tensor(rng.standard_normal((5, 3)))
    d = (p.detach().numpy() - t.detach().numpy()) ** 2
    want = d.mean() if reduction == 'mean' else d.sum() if reduction == 'sum' else d
    assert np.allclose(dl.MSELoss(reduction=reduction)(p, t).detach(), want)
    assert dl.gradcheck(lambda p: dl.mse_loss(p, t, reduction=reduction), p)
    q = dl.tensor(rng.uniform(0, 1, (5, 3)))
    s = 1 / (1 + np.exp(-p.detach().numpy()))
    b = -(q.detach().numpy() * np.log(s) + (1 - q.detach().numpy()) * np.log(1 - s))
    want = b.mean() if reduction == 'mean' else b.sum() if reduction == 'sum' else b
    assert np.allclose(dl.BCEWithLogitsLoss(reduction=reduction)(p, q).detach(), want)
    assert dl.gradcheck(lambda p: dl.BCEWithLogitsLoss(reduction=reduction)(p, q), p)


def test_mse_shape_mismatch():
    # PyTorch broadcasts [5, 1] against [5] to [5, 5] and warns
    with pytest.warns(UserWarning, match=r'target size \(dl.Size\(\[5\]\)\) that is '
                      r'different to the input size \(dl.Size\(\[5, 1\]\)\)'):
        loss = dl.MSELoss()(dl.zeros(5, 1), dl.arange(5.))
    assert np.isclose(loss.item(), 6.0)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match='non-singleton'):
        dl.MSELoss()(dl.zeros(5, 2), dl.zeros(5))


# ---------------------------------------------------------------- Dropout
def test_dropout_train_eval(rng):
    dl.manual_seed(0)
    d = dl.Dropout(0.3)
    x = dl.tensor(np.ones((500, 40), np.float32))
    out = d(x).detach().numpy()
    assert abs((out == 0).mean() - 0.3) < 0.01 and abs(out.mean() - 1) < 0.02
    assert out.dtype == np.float32
    assert np.allclose(out[out != 0], 1 / 0.7)
    assert d.eval()(x) is x
    d.train()
    dl.manual_seed(5); a = d(x).detach().numpy()
    dl.manual_seed(5); b = d(x).detach().numpy()
    # masks follow dl.manual_seed
    assert np.array_equal(a, b)
    xs = T(rng, 4, 6)
    assert dl.gradcheck(lambda t: (dl.manual_seed(1), d(t))[1], xs)
    xs2 = dl.tensor(np.ones((3, 3)), requires_grad=True)
    dl.manual_seed(2); out = d(xs2); out.sum().backward()
    # dropped units get no gradient
    assert np.array_equal(xs2.grad.detach(), out.detach())
    assert np.all(dl.Dropout(1.0)(x).detach().numpy() == 0) and dl.Dropout(0)(x) is x
    for p in (-0.1, 1.5, True, 'a'):
        with pytest.raises(ValueError, match='probability'): dl.Dropout(p)


# ---------------------------------------------------------------- BatchNorm1d
def test_batchnorm_train_statistics_and_running_stats(rng):
    bn = dl.BatchNorm1d(3)
    x = dl.tensor((rng.standard_normal((32, 3)) * [1, 4, 0.5] + [1, -2, 3]).astype(np.float32))
    out = bn(x).detach().numpy()
    assert np.allclose(out.mean(0), 0, atol=1e-5)
    assert np.allclose(out.var(0), 1, atol=1e-3)
    for _ in range(2): bn(x)
    m = 1 - 0.9 ** 3
    assert np.allclose(bn.running_mean, m * x.numpy().mean(0), rtol=1e-5)
    want = 0.9 ** 3 + m * x.numpy().var(0, ddof=1)
    assert np.allclose(bn.running_var, want, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    y = bn(x[:2])
    want = (x[:2] - bn.running_mean) / (bn.running_var + 1e-5).sqrt()
    assert np.allclose(y.detach(), want, atol=1e-5)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_cumulative_average_and_no_running_stats(rng):
    bn = dl.BatchNorm1d(2, momentum=None)
    xs = [dl.tensor(rng.standard_normal((8, 2))) for _ in range(4)]
    for x in xs: bn.double()(x)
    want = np.mean([x.numpy().mean(0) for x in xs], axis=0)
    assert np.allclose(bn.running_mean, want)
    free = dl.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    out = free(xs[0]).detach().numpy()
    # batch statistics even in eval
    assert np.allclose(out.mean(0), 0, atol=1e-6)
    assert list(free.state_dict()) == [] and free.running_mean is None


@pytest.mark.parametrize('shape', [(6, 3), (4, 3, 5)])
@pytest.mark.parametrize('affine', [True, False])
def test_batchnorm_gradients(shape, affine, rng):
    bn = dl.BatchNorm1d(3, affine=affine)
    if affine: bn.weight.data[:] = [0.5, 2.0, -1.0]; bn.bias.data[:] = [0.1, 0.2, 0.3]
    x = T(rng, *shape)
    assert gradcheck_module(bn.train(), x)
    # some running statistics
    bn(x)
    assert gradcheck_module(bn.eval(), x)
    bn.train()
    # grad of grad (tensor path)
    assert dl.gradcheck(grad_of_sum(lambda t: bn(t) ** 2), x)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r'expected input of shape \[N, 3\] or \[N, 3, L\], got \[5, 4\]'):
        dl.BatchNorm1d(3)(dl.zeros(5, 4))
    with pytest.raises(ValueError, match='Expected more than 1 value per channel'):
        dl.BatchNorm1d(3)(dl.zeros(1, 3))
    assert dl.BatchNorm1d(3).eval()(dl.zeros(1, 3)).shape == (1, 3)
    with pytest.raises(ValueError, match='num_features'): dl.BatchNorm1d(0)
    with pytest.raises(ValueError, match='momentum'): dl.BatchNorm1d(3, momentum=-1)


# ---------------------------------------------------------------- SGD and Optimizer
def test_sgd_updates_in_place_and_keeps_dtype():
    w = dl.Parameter([1.0, -2.0]); arr = w.detach().numpy()
    # float64 stays float64
    b = dl.Parameter(np.array([0.5]))
    opt = dl.SGD([w, b], lr=0.5)
    ((w * w).sum() + (b * 3).sum()).backward()
    opt.step()
    assert w.detach().numpy() is arr and np.allclose(w.detach(), [0.0, 0.0])
    assert w.dtype == np.float32
    assert np.allclose(b.detach().numpy(), [-1.0]) and b.dtype == np.float64
    opt.zero_grad(set_to_none=False)
    assert np.all(w.grad.detach().numpy() == 0)
    # zero gradients: nothing moves
    opt.step()
    assert np.allclose(w.detach().numpy(), 0)
    opt.zero_grad()
    # no gradient: skipped
    assert w.grad is None and opt.step() is None


def test_sgd_closure_and_groups():
    w = dl.Parameter([3.0])
    opt = dl.SGD([{'params': [w], 'lr': 0.1}], lr=0.5)
    assert opt.param_groups[0]['lr'] == 0.1 and opt.defaults['lr'] == 0.5
    def closure():
        opt.zero_grad(); loss = (w * w).sum(); loss.backward(); return loss
    assert opt.step(closure).item() == 9.0
    assert np.isclose(w.detach().numpy()[0], 3.0 - 0.1 * 6)
    opt.add_param_group({'params': dl.Parameter([1.0])})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]['lr'] == 0.5
    assert 'SGD' in repr(opt)


@pytest.mark.parametrize('lr', [-0.1, float('nan'), float('inf'), True, '0.1', None])
def test_sgd_bad_lr(lr):
    with pytest.raises(ValueError, match=r'SGD.*invalid.*lr'):
        dl.SGD([dl.Parameter([1.0])], lr=lr)


def test_optimizer_bad_params():
    p = dl.Parameter([1.0])
    with pytest.raises(ValueError, match='empty parameter list'): dl.SGD([], lr=0.1)
    with pytest.raises(ValueError, match='empty parameter list'):
        dl.SGD(iter([]), lr=0.1)
    with pytest.raises(TypeError, match='iterable of tensors'): dl.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match='iterable of tensors'):
        dl.SGD(dl.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match='more than once'): dl.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        dl.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match='not a tensor'): dl.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(NotImplementedError): dl.Optimizer([p], {'lr': 0.1}).step()


def test_sgd_step_between_forward_and_backward_is_refused(rng):
    """The step writes the parameters in place and stamps them, so the stale backward
    raises, as in PyTorch."""
    model = dl.Sequential(dl.Linear(3, 4), dl.ReLU(), dl.Linear(4, 2))
    opt = dl.SGD(model.parameters(), lr=0.1)
    x = dl.tensor(rng.standard_normal((5, 3)), dtype=dl.float32)
    y = rng.integers(0, 2, 5)
    # gradients to step with
    dl.cross_entropy(model(x), y).backward()
    loss = dl.cross_entropy(model(x), y)
    opt.step()
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        loss.backward()


def test_sgd_refuses_a_gradient_of_another_shape():
    w = dl.Parameter(np.ones((2, 3), np.float32))
    opt = dl.SGD([w], lr=0.1)
    # would broadcast silently
    w.grad = dl.ones(3)
    with pytest.raises(RuntimeError, match=r'shape \[2, 3\].*shape \[3\]'): opt.step()
    assert np.all(w.detach().numpy() == 1)


def test_zero_grad_keeps_the_gradient_tensor_when_not_set_to_none():
    w = dl.Parameter([1.0, 2.0])
    (w * w).sum().backward()
    g = w.grad
    dl.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    # zeroed in place, as PyTorch
    assert w.grad is g and np.all(g.numpy() == 0)
    dl.SGD([w], lr=0.1).zero_grad()
    assert w.grad is None


# ---------------------------------------------------------------- state dicts and checkpoints
def make_model(seed=0):
    dl.manual_seed(seed)
    return dl.Sequential(dl.Linear(4, 6), dl.BatchNorm1d(6), dl.ReLU(), dl.Dropout(0.2), dl.Linear(6, 3))


def same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    same = lambda k: np.array_equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype
    return list(sa) == list(sb) and all(same(k) for k in sa)


def test_state_dict_round_trip_exact(rng):
    a, b = make_model(0), make_model(1)
    a(dl.tensor(rng.standard_normal((10, 4)).astype(np.float32)))
    assert not same_state(a, b)
    opt = dl.SGD(b.parameters(), lr=0.1)
    params_before = [id(p.detach().numpy()) for p in b.parameters()]
    res = b.load_state_dict(a.state_dict())
    assert same_state(a, b) and res.missing_keys == [] and res.unexpected_keys == []
    assert [id(p.detach().numpy()) for p in b.parameters()] == params_before
    assert opt.param_groups[0]['params'][0] is b[0].weight
    sd = a.state_dict()
    assert np.shares_memory(sd['0.weight'].numpy(), a[0].weight.detach().numpy())
    assert not sd['0.weight'].requires_grad
    kept = a.state_dict(keep_vars=True)
    assert kept['0.weight'] is a[0].weight
    assert list(a.state_dict(prefix='net.'))[0] == 'net.0.weight'


def test_save_load_round_trip_exact(tmp_path, rng):
    a = make_model(0)
    a(dl.tensor(rng.standard_normal((10, 4)).astype(np.float32)))
    path = tmp_path / 'ckpt.npz'
    dl.save(a.state_dict(), path)
    state = dl.load(path)
    assert all(isinstance(v, dl.Tensor) for v in state.values())
    assert state['1.num_batches_tracked'].dtype == np.int64
    b = make_model(1)
    b.load_state_dict(state)
    assert same_state(a, b)
    # exact path, no '.npz' appended
    dl.save(a.double().state_dict(), tmp_path / 'other')
    assert (tmp_path / 'other').exists()
    assert dl.load(tmp_path / 'other')['0.weight'].dtype == np.float64
    dl.save({'n': 3, 'x': np.arange(4), 'f': 1.5}, tmp_path / 'plain.npz')
    # the same types come back
    back = dl.load(tmp_path / 'plain.npz')
    assert back['n'] == 3 and type(back['n']) is int and back['f'] == 1.5
    assert isinstance(back['x'], np.ndarray) and back['x'].tolist() == [0, 1, 2, 3]
    assert not any(p.name.endswith('.tmp') for p in tmp_path.iterdir())


def test_load_state_dict_errors_list_every_problem(rng):
    a = make_model()
    sd = a.state_dict()
    del sd['4.bias'], sd['1.running_var']
    sd['extra.weight'] = np.zeros(2)
    sd['0.weight'] = np.zeros((6, 5))
    with pytest.raises(RuntimeError) as e: make_model().load_state_dict(sd)
    msg = str(e.value)
    assert msg == ('Error(s) in loading state_dict for Sequential:\n\t'
                   'Missing key(s) in state_dict: "1.running_var", "4.bias". \n\t'
                   'Unexpected key(s) in state_dict: "extra.weight". \n\t'
                   'size mismatch for 0.weight: copying a param with shape '
                   'dl.Size([6, 5]) from checkpoint, the shape in current model is '
                   'dl.Size([6, 4]).')
    sd['0.weight'] = a.state_dict()['0.weight']
    b = make_model(2)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ['1.running_var', '4.bias']
    assert res.unexpected_keys == ['extra.weight']
    assert np.array_equal(b[0].weight.detach().numpy(), a[0].weight.detach().numpy())
    with pytest.raises(TypeError, match='mapping'): b.load_state_dict([1, 2])


def test_load_bad_files(tmp_path):
    dl.save(make_model(), tmp_path / 'good.npz')
    raw = (tmp_path / 'good.npz').read_bytes()
    (tmp_path / 'flipped.npz').write_bytes(raw[:300] + bytes(b ^ 0xFF for b in raw[300:400]) + raw[400:])
    (tmp_path / 'truncated.npz').write_bytes(raw[:len(raw) // 2])
    (tmp_path / 'text.npz').write_text('not a checkpoint\n')
    (tmp_path / 'empty.npz').write_bytes(b'')
    np.save(tmp_path / 'array.npy', np.zeros(3))
    for name in ('flipped.npz', 'truncated.npz', 'text.npz', 'empty.npz', 'array.npy'):
        with pytest.raises(dl.CheckpointError, match='load:'): dl.load(tmp_path / name)
    with pytest.raises(FileNotFoundError): dl.load(tmp_path / 'missing.npz')
    assert issubclass(dl.CheckpointError, ValueError)


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match=r"\['b'\]"):
        dl.save({'b': np.array([object()])}, tmp_path / 'x.pt')
    with pytest.raises(TypeError, match=r"set at the top"):
        dl.save({1, 2}, tmp_path / 'x.pt')
    with pytest.raises(TypeError, match=r"\['m'\]"):
        dl.save({'m': dl.Linear(2, 2)}, tmp_path / 'x.pt')
    with pytest.raises(TypeError, match='keys must be'):
        dl.save({dl.zeros(1): 1}, tmp_path / 'x.pt')
    loop = {'a': 1}; loop['self'] = loop
    with pytest.raises(ValueError, match='contains itself'):
        dl.save(loop, tmp_path / 'x.pt')
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_keys_and_values_round_trip(tmp_path):
    """Keys 'a' and 'a.npy' stay apart, a NUL in a key survives, and every kind of value
    comes back as it was."""
    obj = {'a': dl.tensor([1.0]), 'a.npy': dl.tensor([2.0]), 'nul\0key': 3,
           'x.npy.npy': np.int8(4),
           7: {'nested': [None, True, 2.5, float('inf'), 'text', (1, 'two')]},
           ('t', 1): dl.zeros(2, dtype=dl.int64), 'p': dl.Parameter([1.0, 2.0]),
           'grad': dl.tensor([3.0], requires_grad=True), 'dtype': dl.float16}
    dl.save(obj, tmp_path / 'c.pt')
    back = dl.load(tmp_path / 'c.pt')
    assert list(back) == list(obj)
    assert back['a'].tolist() == [1.0] and back['a.npy'].tolist() == [2.0]
    assert back['nul\0key'] == 3
    assert type(back['x.npy.npy']) is np.int8 and back[7] == obj[7]
    assert back['dtype'] == dl.float16
    assert back[('t', 1)].dtype == dl.int64 and isinstance(back['p'], dl.Parameter)
    assert back['grad'].requires_grad
    shared = dl.tensor([1.0, 2.0])
    dl.save({'x': shared, 'y': shared}, tmp_path / 's.pt')
    again = dl.load(tmp_path / 's.pt')
    # one array, stored once
    assert np.shares_memory(again['x'].numpy(), again['y'].numpy())
    buf = io.BytesIO()
    # file objects, as torch.save
    dl.save(obj, buf); buf.seek(0)
    assert dl.load(buf)['a.npy'].tolist() == [2.0]


def test_save_optimizer_state_dict_round_trips(tmp_path, rng):
    model = dl.Sequential(dl.Linear(3, 4), dl.ReLU(), dl.Linear(4, 2))
    x = dl.tensor(rng.standard_normal((8, 3)), dtype=dl.float32)
    y = rng.integers(0, 2, 8)
    for make in (lambda ps: dl.SGD(ps, lr=0.1, momentum=0.9),
                 lambda ps: dl.optim.Adam(ps, lr=0.01)):
        opt = make(model.parameters())
        for _ in range(2):
            opt.zero_grad(); dl.cross_entropy(model(x), y).backward(); opt.step()
        ck = {'model': model.state_dict(), 'optimizer': opt.state_dict(), 'epoch': 2}
        dl.save(ck, tmp_path / 'ck.pt')
        ck = dl.load(tmp_path / 'ck.pt')
        clone = dl.Sequential(dl.Linear(3, 4), dl.ReLU(), dl.Linear(4, 2))
        clone.load_state_dict(ck['model'])
        opt2 = make(clone.parameters())
        opt2.load_state_dict(ck['optimizer'])
        assert ck['epoch'] == 2
        for m, o in ((model, opt), (clone, opt2)):
            o.zero_grad(); dl.cross_entropy(m(x), y).backward(); o.step()
        pairs = zip(model.parameters(), clone.parameters())
        assert all(np.array_equal(a.detach(), b.detach()) for a, b in pairs)


def test_concurrent_saves_to_one_path(tmp_path):
    """Every save writes its own temporary file: the result is one complete checkpoint,
    no temporary is left."""
    import threading
    path = tmp_path / 'shared.pt'
    errors = []
    def writer(k):
        try:
            for _ in range(15): dl.save({'k': k, 'x': np.full(20_000, k)}, path)
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert errors == []
    back = dl.load(path)
    assert np.all(back['x'] == back['k'])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['shared.pt']


def test_save_leaves_other_files_alone_and_cleans_up(tmp_path):
    # an unrelated file of the user's
    (tmp_path / 'model.pt.tmp').write_text('my notes')
    dl.save({'a': 1}, tmp_path / 'model.pt')
    assert (tmp_path / 'model.pt.tmp').read_text() == 'my notes'
    assert dl.load(tmp_path / 'model.pt') == {'a': 1}
    (tmp_path / 'adir').mkdir()
    # the rename fails: a folder is there
    with pytest.raises(OSError): dl.save({'a': 1}, tmp_path / 'adir')
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ['adir', 'model.pt', 'model.pt.tmp']
    with pytest.raises(FileNotFoundError, match='does not exist'):
        dl.save({'a': 1}, tmp_path / 'no' / 'x.pt')
    # not the 0600 of a temporary file
    if hasattr(os, 'umask'):
        assert (tmp_path / 'model.pt').stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    old = os.umask(0); os.umask(old); return old


def test_load_corrupt_structure_and_text_files(tmp_path):
    import zipfile
    bad = tmp_path / 'bad.pt'
    with zipfile.ZipFile(bad, 'w') as zf:
        zf.writestr('structure.json', '{"format": "deeplearning101 chec')
    message = r"load: '.*bad\.pt' is corrupted"
    with pytest.raises(dl.CheckpointError, match=message) as e:
        dl.load(bad)
    assert 'JSONDecodeError' in str(e.value)
    with zipfile.ZipFile(bad, 'w') as zf:
        zf.writestr('structure.json', '{"format": "deeplearning101 checkpoint", '
                                      '"object": {"tensor": 5}}')
    # a missing array
    with pytest.raises(dl.CheckpointError, match='bad.pt'): dl.load(bad)
    text = tmp_path / 'notes.txt'
    text.write_text('epoch,loss\n1,0.5\n')
    with pytest.raises(dl.CheckpointError, match=r"notes\.txt.*not a zip archive") as e:
        dl.load(text)
    assert 'allow_pickle' not in str(e.value)
    # a plain .npz still loads
    np.savez(tmp_path / 'old.npz', w=np.ones(2), b=np.zeros(1))
    old = dl.load(tmp_path / 'old.npz')
    assert sorted(old) == ['b', 'w'] and isinstance(old['w'], dl.Tensor)


# ---------------------------------------------------------------- the training loop
def blobs_loader(n=100, batch_size=25, seed=0):
    X, y = dl.make_blobs(n_per_class=n, seed=seed)
    return dl.DataLoader(dl.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)


def small_model(seed=0):
    dl.manual_seed(seed)
    return dl.Sequential(dl.Linear(2, 8), dl.ReLU(), dl.Linear(8, 2))


def test_fit_history_and_csv(tmp_path):
    loader = blobs_loader()
    m = small_model()
    path = tmp_path / 'log.csv'
    h = dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, loader, epochs=3, progress=False, csv_path=path)
    assert len(h) == 3 and h['epoch'] == [1, 2, 3]
    assert len(h.iterations) == 3 * len(loader)
    assert [r['epoch'] for r in h.iterations][:len(loader)] == [(i + 1) / len(loader) for i in range(len(loader))]
    assert h['valid_loss'][-1] < h['valid_loss'][0] and 0 <= h['train_accuracy'][0] <= 1
    back = dl.History.from_csv(path)
    assert back.columns == h.columns and back.epochs == h.epochs
    h.to_csv(tmp_path / 'it.csv', which='iterations')
    assert (tmp_path / 'it.csv').read_text().splitlines()[0] == 'iteration,epoch,loss'
    with pytest.raises(ValueError, match='which'):
        h.to_csv(tmp_path / 'x.csv', which='batches')
    with pytest.raises(KeyError, match='no column'): h['valid_f1']
    assert 'valid_accuracy' in repr(h)
    ev = dl.evaluate(m, loader, dl.CrossEntropyLoss())
    assert np.isclose(ev['loss'], h['valid_loss'][-1])
    assert np.isclose(ev['accuracy'], h['valid_accuracy'][-1])


def test_fit_restores_nothing_but_trains_in_train_mode():
    loader = blobs_loader()
    m = small_model()
    modes = []
    class Spy(dl.Module):
        def forward(self, x): modes.append(self.training); return x
    m.append(Spy())
    dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, loader, epochs=1, progress=False)
    assert modes[:len(loader)] == [True] * len(loader)
    assert modes[len(loader):] == [False] * len(loader)
    # evaluate restored the mode
    assert m.training


def test_fit_progress_modes(capsys):
    loader = blobs_loader()
    m = small_model()
    opt = dl.SGD(m.parameters(), lr=0.1)
    # 'lines': a header, then one plain line per epoch on stdout, nothing else
    h = dl.fit(m, dl.CrossEntropyLoss(), opt, loader, epochs=2, progress='lines')
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 3 and captured.err == ''
    assert out[0].split() == ['epoch', 'train_loss', 'train_accuracy', 'time']
    assert [line.split()[0] for line in out[1:]] == ['1', '2']
    assert float(out[2].split()[1]) == pytest.approx(h['train_loss'][1], abs=1e-4)
    # True: a tqdm bar over the epochs (on stderr), the latest numbers after it
    h = dl.fit(m, dl.CrossEntropyLoss(), opt, loader, loader, epochs=3, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ''
    err = captured.err
    assert 'fit: 100%' in err and '3/3' in err and 'epoch' in err
    assert f"valid_accuracy={h['valid_accuracy'][-1]:.4f}" in err
    assert f"train_loss={h['train_loss'][-1]:.4f}" in err
    # False: silent
    dl.fit(m, dl.CrossEntropyLoss(), opt, loader, epochs=1, progress=False)
    assert capsys.readouterr() == ('', '')
    with pytest.raises(ValueError, match='progress'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, loader, progress='tty')


def test_fit_progress_uses_tqdm(monkeypatch):
    import tqdm.auto
    made = []
    class Spy:
        def __init__(self, **kwargs):
            self.kwargs, self.n, self.closed = kwargs, 0, False
        def set_postfix(self, d, refresh=True): self.postfix = d
        def update(self, n=1): self.n += n
        def close(self): self.closed = True
    def fake_tqdm(**kwargs):
        made.append(Spy(**kwargs))
        return made[-1]
    monkeypatch.setattr(tqdm.auto, 'tqdm', fake_tqdm)
    m = small_model()
    opt = dl.SGD(m.parameters(), lr=0.1)
    h = dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), epochs=2)
    (bar,) = made
    assert bar.kwargs['total'] == 2 and bar.n == 2 and bar.closed
    assert bar.postfix == {'train_loss': f"{h['train_loss'][-1]:.4f}",
                           'train_accuracy': f"{h['train_accuracy'][-1]:.4f}"}


def test_fit_bad_input():
    m = small_model()
    opt = dl.SGD(m.parameters(), lr=0.1)
    X, y = dl.make_blobs(n_per_class=5)
    tiny = dl.DataLoader(dl.TensorDataset(X, y), batch_size=32, drop_last=True)
    with pytest.raises(ValueError, match='yielded no batches'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, tiny, progress=False)
    with pytest.raises(ValueError, match='yielded no batches'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, [], progress=False)
    with pytest.raises(ValueError, match='batch_size'):
        dl.DataLoader(dl.TensorDataset(X, y), batch_size=0)
    with pytest.raises(ValueError, match='epochs'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), epochs=-1)
    with pytest.raises(ValueError, match='pair'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, [(dl.zeros(2, 2),)], progress=False)
    with pytest.raises(TypeError, match='metrics'):
        dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), metrics=('acc',))
    with pytest.raises(ValueError, match='yielded no samples'): dl.evaluate(m, [])
    with pytest.raises(ValueError, match=r'Linear\(in_features=3'):
        dl.fit(dl.Linear(3, 2), dl.CrossEntropyLoss(), opt, blobs_loader(), progress=False)
    h = dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), epochs=0)
    assert len(h) == 0 and h.iterations == []


def test_fit_stops_on_non_finite_loss():
    m = small_model()
    X, _ = dl.make_blobs(n_per_class=50)
    loader = dl.DataLoader(dl.TensorDataset(X * 100, np.ones((100, 2), np.float32)), batch_size=20)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all='ignore'):
        warnings.simplefilter('always')
        h = dl.fit(m, dl.MSELoss(), dl.SGD(m.parameters(), lr=1e8), loader, epochs=5, metrics=(), progress=False)
    assert h.stopped is not None and len(h) < 5
    assert any('training stopped' in str(w.message) for w in caught)
    # the step on the bad loss was not taken
    assert all(np.isfinite(p.detach().numpy()).all() for p in m.parameters())


def test_accuracy_and_confusion_matrix():
    assert dl.accuracy(dl.tensor([[2.0, 1.0], [0.0, 3.0]]), dl.tensor([0, 0])) == 0.5
    assert dl.accuracy(np.array([0.3, -0.2, 1.0]), np.array([1, 0, 0])) == 2 / 3
    assert math.isnan(dl.accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match='accuracy'):
        dl.accuracy(np.zeros((3, 2)), np.zeros(4))
    cm = dl.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]]
    assert dl.confusion_matrix([0], [0], num_classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match='labels must be in'):
        dl.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(TypeError, match='integers'): dl.confusion_matrix([0.5], [0])
    with pytest.raises(ValueError, match='2 labels but 1'):
        dl.confusion_matrix([0, 1], [0])


def test_plot_history_and_confusion_matrix():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    loader = blobs_loader()
    m = small_model()
    h = dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, loader, epochs=2, progress=False)
    fig = dl.plot_history(h)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == 'epoch'
    assert fig.axes[1].get_ylabel() == 'accuracy'
    h2 = dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, epochs=1, metrics=(), progress=False)
    assert len(dl.plot_history(h2).axes) == 1
    ax = dl.plot_confusion_matrix(np.array([[3, 1], [0, 4]]))
    assert ax.get_xlabel() == 'predicted class' and ax.get_ylabel() == 'true class'
    plt.close('all')


# ---------------------------------------------------------------- review fixes
def test_batchnorm_accepts_arrays_like_linear():
    out = dl.BatchNorm1d(3)(np.ones((4, 3), np.float32))
    assert isinstance(out, dl.Tensor) and out.shape == (4, 3)
    assert np.allclose(out.detach(), 0)
    bn = dl.BatchNorm1d(2).eval()
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert np.allclose(bn(x).detach(), x / np.sqrt(1 + 1e-5))


def test_linear_reset_parameters_keeps_init_rule():
    dl.manual_seed(0)
    lin = dl.Linear(300, 200, init='glorot')
    assert lin.init == 'glorot'
    # Glorot-uniform; He's would be sqrt(6 / 300)
    bound = math.sqrt(6 / (300 + 200))
    for _ in range(2):
        w = lin.weight.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
        lin.reset_parameters()
    # an explicit rule still wins
    lin.reset_parameters('he')
    assert np.abs(lin.weight.detach().numpy()).max() > 1.2 * bound
    filled = dl.Linear(2, 2, init=lambda w: dl.nn.init.constant_(w, 0.5))
    filled.weight.data[...] = 0
    filled.reset_parameters()
    assert np.all(filled.weight.detach().numpy() == 0.5)


def test_dropout_accepts_numpy_scalars():
    assert dl.Dropout(np.float32(0.5)).p == 0.5
    assert dl.Dropout(np.float64(0.25)).p == 0.25
    assert dl.Dropout(np.int64(0)).p == 0.0 and dl.Dropout(np.int32(1)).p == 1.0
    for p in (True, np.bool_(True), np.float32(1.5), np.float32('nan'), -0.1, '0.5'):
        with pytest.raises(ValueError, match='probability'): dl.Dropout(p)


# ---------------------------------------------------------------- frozen parameters
@pytest.mark.parametrize('make', [lambda ps: dl.SGD(ps, lr=0.5),
                                  lambda ps: dl.optim.SGD(ps, lr=0.5, momentum=0.9,
                                                          weight_decay=0.1),
                                  lambda ps: dl.optim.Adam(ps, lr=0.5),
                                  lambda ps: dl.optim.AdamW(ps, lr=0.5)])
def test_optimizers_accept_and_skip_frozen_parameters(make):
    """Fine-tuning: freeze a layer, pass model.parameters() anyway; the frozen ones never
    get a gradient, so no step (not even weight decay) touches them."""
    dl.manual_seed(0)
    model = dl.Sequential(dl.Linear(3, 4), dl.ReLU(), dl.Linear(4, 2))
    model[0].requires_grad_(False)
    frozen = [p.detach().clone() for p in model[0].parameters()]
    head = model[2].weight.detach().clone()
    opt = make(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        model(dl.ones(5, 3)).pow(2).sum().backward()
        opt.step()
    assert all(p.grad is None and np.array_equal(p.detach(), f)
               for p, f in zip(model[0].parameters(), frozen))
    assert not np.allclose(model[2].weight.detach(), head)


def test_optimizer_accepts_a_tensor_that_does_not_require_grad():
    t = dl.tensor([1.0])
    opt = dl.SGD([t], lr=0.1)
    opt.step()
    assert t.item() == 1.0


# ---------------------------------------------------------------- erf and activations
def test_erf_matches_math_erf():
    xs = np.concatenate([np.linspace(-10, 10, 100001), np.geomspace(1e-300, 5, 3000),
                         -np.geomspace(1e-300, 5, 3000), [0.0, -0.0, 2.0, -2.0, 6.0]])
    exact = np.array([math.erf(v) for v in xs])
    got = dl.erf(dl.tensor(xs)).numpy()
    assert np.all(np.abs(got - exact) <= 4e-15 * np.abs(exact) + 1e-300)
    assert np.signbit(got[-4]) and got.dtype == np.float64
    # float32 in, float32 out, correctly rounded
    x32 = xs.astype(np.float32)
    exact32 = np.array([math.erf(v) for v in x32.astype(np.float64)]).astype(np.float32)
    assert np.array_equal(dl.erf(dl.tensor(x32)).numpy(), exact32)
    special = dl.erf(dl.tensor(np.array([np.inf, -np.inf, np.nan, 1e300]))).numpy()
    assert special[:2].tolist() == [1.0, -1.0] and np.isnan(special[2]) and special[3] == 1
    assert dl.erf(dl.tensor([1, 2])).dtype == dl.float32          # integers: float32
    assert dl.erf(dl.tensor(0.5)).shape == ()


@given(st.lists(st.floats(-12, 12, allow_nan=False), min_size=1, max_size=20))
def test_erf_property(values):
    got = dl.erf(dl.tensor(np.array(values))).numpy()
    assert np.allclose(got, [math.erf(v) for v in values], rtol=4e-15, atol=1e-300)
    assert np.all(np.abs(got) <= 1)


ACTIVATIONS = {
    'erf': dl.erf, 'gelu': dl.nn.functional.gelu,
    'gelu_tanh': lambda t: dl.nn.functional.gelu(t, approximate='tanh'),
    'silu': dl.nn.functional.silu,
    'leaky_relu': lambda t: dl.nn.functional.leaky_relu(t, 0.3),
    'softplus': dl.nn.functional.softplus,
    'softplus_beta': lambda t: dl.nn.functional.softplus(t, beta=0.5, threshold=2.0)}


@pytest.mark.parametrize('name', list(ACTIVATIONS))
def test_activation_gradients(name, rng):
    f = ACTIVATIONS[name]
    x = T(rng, 3, 5, scale=3.0)
    assert dl.gradcheck(f, x)
    if name != 'leaky_relu':                       # piecewise linear: no second derivative
        assert dl.gradcheck(grad_of_sum(f), x)
    # float32 in, float32 out; the module form
    assert f(dl.tensor(np.ones(2, np.float32))).dtype == dl.float32


def test_activation_modules_and_in_place():
    F = dl.nn.functional
    x = dl.tensor([-1.0, 0.5])
    assert F.silu(x, inplace=True) is x
    assert np.allclose(x.numpy(), [-1 / (1 + math.e), 0.5 / (1 + math.exp(-0.5))])
    leaf = dl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match='leaf'): F.leaky_relu(leaf, inplace=True)
    # in place inside a graph: the gradient still flows, through the old values
    x = dl.tensor([-2.0, 3.0], requires_grad=True)
    y = x * 1
    dl.nn.LeakyReLU(0.1, inplace=True)(y).sum().backward()
    assert x.grad.tolist() == pytest.approx([0.1, 1.0])
    for bad in (lambda: dl.nn.GELU('fast'), lambda: F.gelu(dl.tensor([1.0]), 'exact')):
        with pytest.raises(RuntimeError, match='either none or tanh'): bad()
    for f in (F.gelu, F.silu, F.leaky_relu, F.softplus):
        with pytest.raises(TypeError, match='floating-point'): f(dl.tensor([1, 2]))


# ---------------------------------------------------------------- Embedding
@given(st.integers(1, 7), st.integers(1, 4),
       st.lists(st.integers(0, 6), min_size=0, max_size=12), st.integers(1, 3))
def test_embedding_is_one_hot_times_the_table(n, d, raw, rows):
    idx = np.array([i % n for i in raw], np.int64)
    idx = idx.reshape(rows, -1) if len(idx) % rows == 0 and len(idx) else idx
    emb = dl.nn.Embedding(n, d).double()
    out = emb(dl.tensor(idx))
    onehot = np.eye(n)[idx]
    assert out.shape == idx.shape + (d,)
    assert np.allclose(out.detach().numpy(), onehot @ emb.weight.detach().numpy())
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(dl.tensor(g))
    # Y^T g; a table no index used gets a zero gradient (not None)
    want = onehot.reshape(-1, n).T @ g.reshape(-1, d)
    assert np.allclose(emb.weight.grad.numpy(), want)


def test_embedding_gradcheck_and_padding(rng):
    ix = dl.tensor([[0, 2, 2], [3, 1, 2]])
    assert gradcheck_module(dl.nn.Embedding(4, 3), ix)
    w = T(rng, 4, 3)
    assert dl.gradcheck(grad_of_sum(lambda t: dl.nn.functional.embedding(ix, t) ** 2), w)
    emb = dl.nn.Embedding(4, 3, padding_idx=2)
    assert np.all(emb.weight.detach().numpy()[2] == 0)
    emb(ix).sum().backward()
    assert emb.weight.grad.numpy()[:, 0].tolist() == [1, 1, 0, 1]
    # int32 indices, a 0-d index, NumPy arrays and lists
    assert emb(dl.tensor([1], dtype=dl.int32)).shape == (1, 3)
    assert emb(dl.tensor(3)).shape == (3,) and emb(np.array([[1]])).shape == (1, 1, 3)
    assert emb([0, 1]).shape == (2, 3) and emb(dl.tensor([], dtype=dl.int64)).shape == (0, 3)


def test_embedding_errors():
    emb = dl.nn.Embedding(4, 3)
    with pytest.raises(RuntimeError, match=r"Embedding\(4, 3\): indices must be an integer"):
        emb(dl.tensor([1.0]))
    with pytest.raises(RuntimeError, match='integer'): emb(dl.tensor([True]))
    for bad, shown in ((4, '4'), (-1, '-1'), (100, '100')):
        with pytest.raises(IndexError, match=rf"Embedding\(4, 3\): index {shown} is out "
                                             r"of range for num_embeddings=4"):
            emb(dl.tensor([0, bad, 1]))
    with pytest.raises(IndexError, match=r'^embedding: index 7'):
        dl.nn.functional.embedding(dl.tensor([7]), dl.zeros(4, 3))
    with pytest.raises(RuntimeError, match='2-D'):
        dl.nn.functional.embedding(dl.tensor([0]), dl.zeros(4))
    with pytest.raises(NotImplementedError, match='max_norm'):
        dl.nn.Embedding(4, 3, max_norm=1.0)
    with pytest.raises(NotImplementedError, match='max_norm'):
        dl.nn.functional.embedding(dl.tensor([0]), dl.zeros(4, 3), max_norm=1.0)
    with pytest.raises(NotImplementedError, match='sparse'):
        dl.nn.Embedding(4, 3, sparse=True)
    for p in (4, -5):
        with pytest.raises(ValueError, match='padding_idx must be within'):
            dl.nn.Embedding(4, 3, padding_idx=p)
    for n in (-1, 2.0, True):
        with pytest.raises(ValueError, match='num_embeddings'): dl.nn.Embedding(n, 3)
    with pytest.raises(ValueError, match='does not match'):
        dl.nn.Embedding(4, 3, _weight=dl.zeros(3, 3))
    with pytest.raises(ValueError, match='2-dimensional'):
        dl.nn.Embedding.from_pretrained(dl.zeros(3))


def test_embedding_module_plumbing():
    table = dl.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    pre = dl.nn.Embedding.from_pretrained(table, padding_idx=0)
    # shares the table, frozen, padding row not zeroed (as PyTorch)
    assert np.shares_memory(pre.weight.numpy(), table.numpy())
    assert not pre.weight.requires_grad
    assert pre(dl.tensor([0])).tolist() == [[1.0, 2.0]]
    assert dl.nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    emb = dl.nn.Embedding(5, 2, dtype=dl.float64)
    assert emb.weight.dtype == dl.float64 and list(emb.state_dict()) == ['weight']
    assert emb(dl.tensor([1])).dtype == dl.float64
    dl.manual_seed(3); a = dl.nn.Embedding(5, 2, padding_idx=1).weight.detach().clone()
    dl.manual_seed(3); b = dl.nn.Embedding(5, 2, padding_idx=1).weight.detach()
    assert np.array_equal(a, b)                                 # drawn from manual_seed
    e2 = dl.nn.Embedding(5, 2, padding_idx=1)
    with dl.no_grad(): e2.weight.fill_(3.0)
    e2.reset_parameters()
    w2 = e2.weight.detach().numpy()
    assert w2[1].tolist() == [0, 0] and w2[0, 0] != 3.0


# ---------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize('shape,normalized', [((5, 4), 4), ((2, 3, 4), (4,)),
                                              ((2, 3, 4), (3, 4)), ((4,), [4])])
@pytest.mark.parametrize('affine,bias', [(True, True), (True, False), (False, True)])
def test_layer_norm_gradients(shape, normalized, affine, bias, rng):
    ln = dl.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    if affine:
        with dl.no_grad(): ln.weight.copy_(dl.tensor(rng.uniform(0.5, 2, ln.weight.shape)))
    x = T(rng, *shape, scale=2.0)
    assert gradcheck_module(ln, x)
    assert dl.gradcheck(grad_of_sum(lambda t: ln(t) ** 2), x)
    # each sample standardised over the normalised dims
    k = len(ln.normalized_shape)
    y = dl.nn.functional.layer_norm(x, ln.normalized_shape).detach().numpy()
    axes = tuple(range(len(shape) - k, len(shape)))
    assert np.allclose(y.mean(axis=axes), 0) and np.allclose(y.var(axis=axes), 1, atol=1e-4)


def test_layer_norm_functional_and_plumbing(rng):
    F = dl.nn.functional
    x, w, b = T(rng, 3, 4), T(rng, 4), T(rng, 4)
    for weight, bias in ((w, None), (None, b), (w, b)):
        assert dl.gradcheck(lambda *ts: F.layer_norm(ts[0], (4,), *ts[1:]), x,
                            *([weight] if weight is not None else [None]),
                            *([bias] if bias is not None else []))
    ln = dl.nn.LayerNorm(4)
    assert ln.training and np.allclose(ln.train()(np.ones((2, 4), np.float32)).detach(), 0)
    assert list(ln.state_dict()) == ['weight', 'bias']
    assert not list(dl.nn.LayerNorm(4, elementwise_affine=False).state_dict())
    assert ln.double().weight.dtype == dl.float64
    assert dl.nn.LayerNorm(4, dtype=dl.float64)(x).dtype == dl.float64
    with dl.no_grad(): ln.weight.fill_(2.0)
    ln.reset_parameters()
    assert ln.weight.tolist() == [1.0] * 4


def test_layer_norm_errors():
    F = dl.nn.functional
    with pytest.raises(RuntimeError, match=r'normalized_shape=\[4\], expected input with '
                                           r'shape \[\*, 4\], but got input of size \[3, 5\]'):
        dl.nn.LayerNorm(4)(dl.zeros(3, 5))
    with pytest.raises(RuntimeError, match=r'shape \[\*, 2, 4\]'):
        F.layer_norm(dl.zeros(4), (2, 4))
    with pytest.raises(RuntimeError, match='Expected weight to be of same shape'):
        F.layer_norm(dl.zeros(3, 4), (4,), weight=dl.ones(3))
    with pytest.raises(RuntimeError, match='mixed dtypes'):
        dl.nn.LayerNorm(4)(dl.zeros(3, 4, dtype=dl.float64))
    with pytest.raises(RuntimeError, match='dtype'):
        F.layer_norm(dl.zeros(3, 4, dtype=dl.float64), (4,), weight=dl.ones(4))
    with pytest.raises(TypeError, match='floating-point'):
        F.layer_norm(dl.zeros(3, 4, dtype=dl.int64), (4,))
    for bad in (0, (), (2, -1), 'a'):
        with pytest.raises(ValueError, match='normalized_shape'): dl.nn.LayerNorm(bad)


def test_new_layers_free_what_backward_used(rng):
    "saved arrays are dropped by backward (without retain_graph), as BatchNorm's are."
    x = T(rng, 3, 4)
    for f in (lambda t: dl.nn.LayerNorm(4).double()(t), dl.nn.functional.gelu):
        out = f(x)
        op = out._op
        out.sum().backward()
        assert all(getattr(op, name) is None for name in type(op).saved)
