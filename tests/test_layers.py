"""Chapter 03 / 03b: modules, layers, losses, SGD, checkpoints and the training loop.

Gradients are checked against central differences (`dl.gradcheck`, float64); behaviour (train vs eval, running
statistics, in-place updates, state-dict round trips) against the definitions; bad input against the error
messages promised in the chapters.
"""
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
    "x -> d sum(f(x)) / dx as a differentiable function (second derivatives via gradcheck)."
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
    assert isinstance(p, dl.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    assert type(p * 2) is dl.Tensor and 'Parameter containing' in repr(p)
    with pytest.raises(TypeError): dl.Parameter(np.arange(3))            # integers cannot require grad


def test_module_walks_parameters_buffers_children():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ['body.0.weight', 'body.0.bias', 'body.2.weight', 'body.2.bias', 'scale.a']
    assert [n for n, _ in net.named_children()] == ['body', 'scale']
    assert [n for n, _ in net.named_modules()] == ['', 'body', 'body.0', 'body.1', 'body.2', 'scale']
    assert [n for n, _ in net.named_buffers()] == ['count', 'scratch']
    assert list(net.state_dict()) == ['count', 'body.0.weight', 'body.0.bias', 'body.2.weight', 'body.2.bias', 'scale.a']
    assert net.get_submodule('body.2') is net.body[2]
    with pytest.raises(AttributeError): net.get_submodule('body.7')
    assert 'Sequential' in repr(net) and '(0): Linear(in_features=3, out_features=4, bias=True)' in repr(net)


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
    assert all(np.all(p.grad.data == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == 'Net' and seen.count('Linear') == 2
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters()) and net.count.dtype == np.int64


def test_module_without_super_init_and_forward_missing():
    class NoForward(dl.Module):
        def __init__(self): self.w = dl.Parameter([1.0])
    m = NoForward()
    assert len(list(m.parameters())) == 1
    with pytest.raises(NotImplementedError, match='NoForward'): m(1)


def test_to_device():
    net = Net()
    arrays = [p.data for p in net.parameters()]
    assert net.to('cpu') is net and net.cpu() is net
    assert all(a is p.data for a, p in zip(arrays, net.parameters()))
    if dl.cuda_available(): return                  # on a GPU machine the move works: tests/test_gpu.py covers it
    for dev in ('cuda', 'cuda:0'):
        with pytest.raises(RuntimeError, match='chapter 05'): net.to(dev)


def test_register_buffer_bad_name():
    with pytest.raises(KeyError): Net().register_buffer('a.b', np.zeros(1))


# ---------------------------------------------------------------- init
@pytest.mark.parametrize('fill,var', [
    (lambda t: dl.kaiming_uniform_(t, nonlinearity='relu'), 2 / 400), (lambda t: dl.kaiming_normal_(t, nonlinearity='relu'), 2 / 400),
    (lambda t: dl.kaiming_normal_(t, mode='fan_out', nonlinearity='relu'), 2 / 300),
    (dl.xavier_uniform_, 2 / 700), (dl.xavier_normal_, 2 / 700), (lambda t: dl.kaiming_uniform_(t, a=math.sqrt(5)), 1 / 1200)])
def test_init_variances(fill, var):
    dl.manual_seed(0)
    w = dl.tensor(np.zeros((300, 400), np.float32))
    assert fill(w) is w and w.dtype == np.float32
    assert abs(w.data.var() / var - 1) < 0.03


def test_init_errors_and_gain():
    assert dl.calculate_gain('relu') == math.sqrt(2) and dl.calculate_gain('tanh') == 5 / 3
    with pytest.raises(ValueError, match='unknown nonlinearity'): dl.calculate_gain('swish')
    with pytest.raises(ValueError, match='at least 2 dimensions'): dl.xavier_uniform_(dl.zeros(5))
    with pytest.raises(ValueError, match="mode"): dl.kaiming_normal_(dl.zeros(3, 3), mode='fan')


def test_linear_init_choices_and_reproducibility():
    dl.manual_seed(1); a = dl.Linear(50, 40)
    dl.manual_seed(1); b = dl.Linear(50, 40)
    assert np.array_equal(a.weight.data, b.weight.data) and np.all(a.bias.data == 0)
    assert np.abs(a.weight.data).max() <= math.sqrt(6 / 50)
    g = dl.Linear(50, 40, init='glorot')
    assert np.abs(g.weight.data).max() <= math.sqrt(6 / 90)
    t = dl.Linear(50, 40, init='torch')
    assert np.abs(t.weight.data).max() <= 1 / math.sqrt(50) and np.abs(t.bias.data).max() <= 1 / math.sqrt(50)
    assert np.any(t.bias.data != 0)
    c = dl.Linear(3, 2, init=lambda w: dl.zeros_(w))
    assert np.all(c.weight.data == 0)
    with pytest.raises(ValueError, match='init'): dl.Linear(3, 2, init='lecun')
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match='in_features'): dl.Linear(bad, 2)


# ---------------------------------------------------------------- Linear
def test_linear_gradients(rng):
    dl.manual_seed(0)
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 5, 4))
    assert gradcheck_module(dl.Linear(4, 3, bias=False), T(rng, 5, 4))
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 2, 5, 4))              # leading batch axes
    assert gradcheck_module(dl.Linear(4, 3), T(rng, 4))                    # a single vector
    lin = dl.Linear(4, 3).double()
    assert dl.gradcheck(grad_of_sum(lambda x: dl.tanh(lin(x))), T(rng, 5, 4))   # grad of grad through the fused op


def test_linear_matches_formula_and_skips_unneeded_grads(rng):
    lin = dl.Linear(4, 3)
    x = dl.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = lin(x)
    assert y.dtype == np.float32 and np.allclose(y.data, x.data @ lin.weight.data.T + lin.bias.data, atol=1e-6)
    y.sum().backward()
    assert x.grad is None and lin.weight.grad.shape == (3, 4) and lin.bias.grad.shape == (3,)
    assert np.allclose(dl.linear(x, lin.weight).data, x.data @ lin.weight.data.T)


def test_linear_input_size_error():
    with pytest.raises(ValueError) as e: dl.Linear(64, 10)(dl.zeros(5, 32))
    assert str(e.value) == "Linear(in_features=64, out_features=10): input has 32 features (shape [5, 32])"
    with pytest.raises(ValueError, match='is a scalar'): dl.Linear(1, 1)(dl.tensor(1.0))


def test_linear_function_shape_errors():
    x = dl.zeros(3, 4)
    for w in (dl.zeros(4), dl.zeros(5, 3)):
        with pytest.raises(ValueError, match=r"linear: expected weight \[out_features, in_features\] and input "
                                             r"\[\.\.\., in_features\], got weight \[.*\] and input \[3, 4\]"):
            dl.linear(x, w)


@pytest.mark.parametrize('n', [1, 7, 8, 9, 40])
def test_linear_both_blas_layouts_agree(n, rng):
    "With fewer rows than out_features (and 4x as many in_features) the product is requested as (w @ x.T).T."
    w = dl.tensor(rng.standard_normal((8, 40)), requires_grad=True)
    b = dl.tensor(rng.standard_normal(8), requires_grad=True)
    x = dl.tensor(rng.standard_normal((n, 40)), requires_grad=True)
    y = dl.linear(x, w, b)
    assert y.shape == (n, 8) and np.allclose(y.data, x.data @ w.data.T + b.data, rtol=1e-12, atol=1e-12)
    assert (y.data.base is not None) == (n < 8)      # the transposed form leaves a transposed view of its product
    g = rng.standard_normal((n, 8))
    y.backward(g)
    assert np.allclose(x.grad.data, g @ w.data) and np.allclose(w.grad.data, g.T @ x.data)
    assert np.allclose(b.grad.data, g.sum(0)) and w.grad.data.flags.c_contiguous


@pytest.mark.parametrize('n,k,m', [(1, 4, 2), (1, 3, 2), (8, 32, 9), (8, 31, 9), (8, 32, 8), (32, 10, 128),
                                   (32, 128, 256), (64, 128, 256), (128, 784, 256), (256, 784, 256)])
def test_mm_form(n, k, m, rng):
    "_mm(a, b.T) asks for (b @ a.T).T exactly when n < m and k >= 4 n; the values are those of a @ b.T either way."
    from deeplearning101.autodiff import _mm
    a, b = rng.standard_normal((n, k)), rng.standard_normal((m, k))
    out = _mm(a, b.T)
    assert np.allclose(out, a @ b.T, rtol=1e-12, atol=1e-12)
    assert (out.base is not None) == (n < m and k >= 4 * n)          # the transposed form returns a view
    assert _mm(a, np.ascontiguousarray(b.T)).base is None            # a C-ordered right factor: always direct


@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_linear_property(n, i, o, seed):
    rng = np.random.default_rng(seed)
    lin = dl.Linear(i, o).double()
    x = rng.standard_normal((n, i))
    assert np.allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data)


# ---------------------------------------------------------------- activations and Sequential
@pytest.mark.parametrize('act,f', [(dl.ReLU(), lambda x: np.maximum(x, 0)), (dl.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
                                   (dl.Tanh(), np.tanh),
                                   (dl.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True))])
def test_activations(act, f, rng):
    x = dl.tensor(rng.uniform(-3, 3, (4, 5)) + 0.01, requires_grad=True)     # away from relu's kink
    assert np.allclose(act(x).data, f(x.data)) and dl.gradcheck(act, x)


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
    ref = -(z.data - np.log(np.exp(z.data).sum(1, keepdims=True)))[np.arange(6), y]
    ref = ref.mean() if reduction == 'mean' else ref.sum() if reduction == 'sum' else ref
    out = dl.CrossEntropyLoss(reduction)(z, y)
    assert np.allclose(out.data, ref) and out.shape == np.shape(ref)
    assert dl.gradcheck(lambda z: dl.cross_entropy(z, y, reduction), z)
    assert dl.gradcheck(grad_of_sum(lambda z: dl.cross_entropy(z, dl.tensor(y), reduction)), z)


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    z = T(rng, 5, 3)
    y = np.array([0, 2, 1, 1, 0])
    dl.cross_entropy(z, y).backward()
    p = np.exp(z.data) / np.exp(z.data).sum(1, keepdims=True)
    assert np.allclose(z.grad.data, (p - np.eye(3)[y]) / 5)


def test_cross_entropy_is_one_node_and_stable():
    z = dl.tensor([[1000.0, 0.0, -1000.0], [50.0, 50.0, -3e4]], requires_grad=True)
    loss = dl.cross_entropy(z, [1, 0], reduction='none')
    assert loss._op.name == 'cross_entropy' and loss._op.inputs[0] is z
    assert np.allclose(loss.data, [1000.0, np.log(2)]) and np.all(np.isfinite(loss.data))
    loss.sum().backward()
    assert np.all(np.isfinite(z.grad.data))
    assert dl.cross_entropy(dl.tensor(np.zeros((2, 3), np.float32)), [0, 1]).dtype == np.float32
    for y in (np.array([2, 0], '>i8'), np.array([2, 0], np.uint8)):                   # valid labels of other int types
        assert np.isclose(dl.cross_entropy(dl.tensor(np.zeros((2, 3))), y).item(), np.log(3))


@pytest.mark.parametrize('target,err,match', [
    (np.array([0.0, 1.0, 2.0]), TypeError, 'integer class indices, got dtype float64'),
    (np.array([True, False, True]), TypeError, 'integer class indices'),
    (np.array([[0], [1], [2]]), ValueError, r'target has shape \[3, 1\] but input has shape \[3, 4\]'),
    (np.array([0, 1]), ValueError, r'expected one class index per row, shape \[3\]'),
    (np.array([0, 4, 1]), IndexError, r'target \[4\] out of bounds for 4 classes'),
    (np.array([0, -1, 1]), IndexError, r'target \[-1\] out of bounds'),
    (np.array([0, -1, 1], np.int8), IndexError, r'target \[-1\] out of bounds'),          # one byte: -1 reads as 255
    (np.array([0, -2, 1], '>i4'), IndexError, r'target \[-2\] out of bounds'),           # big-endian labels
    (np.array([0, 7, 1], '>u2'), IndexError, r'target \[7\] out of bounds'),
])
def test_cross_entropy_bad_labels(target, err, match):
    with pytest.raises(err, match=match): dl.cross_entropy(dl.zeros(3, 4), target)


def test_cross_entropy_bad_logits_and_reduction():
    with pytest.raises(ValueError, match=r'\[N, C\]'): dl.cross_entropy(dl.zeros(4), [0])
    with pytest.raises(TypeError, match='floating-point'): dl.cross_entropy(dl.tensor(np.zeros((2, 3), np.int64)), [0, 1])
    with pytest.raises(ValueError, match='reduction'): dl.CrossEntropyLoss('avg')
    with pytest.raises(ValueError, match='reduction'): dl.cross_entropy(dl.zeros(2, 3), [0, 1], reduction='max')


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_mse_and_bce(reduction, rng):
    p, t = T(rng, 5, 3), dl.tensor(rng.standard_normal((5, 3)))
    d = (p.data - t.data) ** 2
    assert np.allclose(dl.MSELoss(reduction)(p, t).data, d.mean() if reduction == 'mean' else d.sum() if reduction == 'sum' else d)
    assert dl.gradcheck(lambda p: dl.mse_loss(p, t, reduction), p)
    q = dl.tensor(rng.uniform(0, 1, (5, 3)))
    s = 1 / (1 + np.exp(-p.data))
    b = -(q.data * np.log(s) + (1 - q.data) * np.log(1 - s))
    assert np.allclose(dl.BCEWithLogitsLoss(reduction)(p, q).data, b.mean() if reduction == 'mean' else b.sum() if reduction == 'sum' else b)
    assert dl.gradcheck(lambda p: dl.BCEWithLogitsLoss(reduction)(p, q), p)


def test_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r'input shape \[5, 1\] and target shape \[5\] differ'):
        dl.MSELoss()(dl.zeros(5, 1), dl.zeros(5))


# ---------------------------------------------------------------- Dropout
def test_dropout_train_eval(rng):
    dl.manual_seed(0)
    d = dl.Dropout(0.3)
    x = dl.tensor(np.ones((500, 40), np.float32))
    out = d(x).data
    assert abs((out == 0).mean() - 0.3) < 0.01 and abs(out.mean() - 1) < 0.02 and out.dtype == np.float32
    assert np.allclose(out[out != 0], 1 / 0.7)
    assert d.eval()(x) is x
    d.train()
    dl.manual_seed(5); a = d(x).data
    dl.manual_seed(5); b = d(x).data
    assert np.array_equal(a, b)                                          # masks follow dl.manual_seed
    xs = T(rng, 4, 6)
    assert dl.gradcheck(lambda t: (dl.manual_seed(1), d(t))[1], xs)
    xs2 = dl.tensor(np.ones((3, 3)), requires_grad=True)
    dl.manual_seed(2); out = d(xs2); out.sum().backward()
    assert np.array_equal(xs2.grad.data, out.data)                       # dropped units get no gradient
    assert np.all(dl.Dropout(1.0)(x).data == 0) and dl.Dropout(0)(x) is x
    for p in (-0.1, 1.5, True, 'a'):
        with pytest.raises(ValueError, match='probability'): dl.Dropout(p)


# ---------------------------------------------------------------- BatchNorm1d
def test_batchnorm_train_statistics_and_running_stats(rng):
    bn = dl.BatchNorm1d(3)
    x = dl.tensor((rng.standard_normal((32, 3)) * [1, 4, 0.5] + [1, -2, 3]).astype(np.float32))
    out = bn(x).data
    assert np.allclose(out.mean(0), 0, atol=1e-5) and np.allclose(out.var(0), 1, atol=1e-3)
    for _ in range(2): bn(x)
    m = 1 - 0.9 ** 3
    assert np.allclose(bn.running_mean.data, m * x.data.mean(0), rtol=1e-5)
    assert np.allclose(bn.running_var.data, 0.9 ** 3 + m * x.data.var(0, ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    y = bn(x[:2])
    assert np.allclose(y.data, (x.data[:2] - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5), atol=1e-5)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_cumulative_average_and_no_running_stats(rng):
    bn = dl.BatchNorm1d(2, momentum=None)
    xs = [dl.tensor(rng.standard_normal((8, 2))) for _ in range(4)]
    for x in xs: bn.double()(x)
    assert np.allclose(bn.running_mean.data, np.mean([x.data.mean(0) for x in xs], axis=0))
    free = dl.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    out = free(xs[0]).data
    assert np.allclose(out.mean(0), 0, atol=1e-6)                         # batch statistics even in eval
    assert list(free.state_dict()) == [] and free.running_mean is None


@pytest.mark.parametrize('shape', [(6, 3), (4, 3, 5)])
@pytest.mark.parametrize('affine', [True, False])
def test_batchnorm_gradients(shape, affine, rng):
    bn = dl.BatchNorm1d(3, affine=affine)
    if affine: bn.weight.data[:] = [0.5, 2.0, -1.0]; bn.bias.data[:] = [0.1, 0.2, 0.3]
    x = T(rng, *shape)
    assert gradcheck_module(bn.train(), x)
    bn(x)                                                                # some running statistics
    assert gradcheck_module(bn.eval(), x)
    bn.train()
    assert dl.gradcheck(grad_of_sum(lambda t: bn(t) ** 2), x)            # grad of grad (tensor path)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r'expected input of shape \[N, 3\] or \[N, 3, L\], got \[5, 4\]'):
        dl.BatchNorm1d(3)(dl.zeros(5, 4))
    with pytest.raises(ValueError, match='more than 1 value per feature'): dl.BatchNorm1d(3)(dl.zeros(1, 3))
    assert dl.BatchNorm1d(3).eval()(dl.zeros(1, 3)).shape == (1, 3)
    with pytest.raises(ValueError, match='num_features'): dl.BatchNorm1d(0)
    with pytest.raises(ValueError, match='momentum'): dl.BatchNorm1d(3, momentum=-1)


# ---------------------------------------------------------------- SGD and Optimizer
def test_sgd_updates_in_place_and_keeps_dtype():
    w = dl.Parameter([1.0, -2.0]); arr = w.data
    b = dl.Parameter(np.array([0.5]))                                  # float64 stays float64
    opt = dl.SGD([w, b], lr=0.5)
    ((w * w).sum() + (b * 3).sum()).backward()
    opt.step()
    assert w.data is arr and np.allclose(w.data, [0.0, 0.0]) and w.dtype == np.float32
    assert np.allclose(b.data, [-1.0]) and b.dtype == np.float64
    opt.zero_grad(set_to_none=False)
    assert np.all(w.grad.data == 0)
    opt.step()                                                         # zero gradients: nothing moves
    assert np.allclose(w.data, 0)
    opt.zero_grad()
    assert w.grad is None and opt.step() is None                       # no gradient: skipped


def test_sgd_closure_and_groups():
    w = dl.Parameter([3.0])
    opt = dl.SGD([{'params': [w], 'lr': 0.1}], lr=0.5)
    assert opt.param_groups[0]['lr'] == 0.1 and opt.defaults['lr'] == 0.5
    def closure():
        opt.zero_grad(); loss = (w * w).sum(); loss.backward(); return loss
    assert opt.step(closure).item() == 9.0 and np.isclose(w.data[0], 3.0 - 0.1 * 6)
    opt.add_param_group({'params': dl.Parameter([1.0])})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]['lr'] == 0.5
    assert 'SGD' in repr(opt)


@pytest.mark.parametrize('lr', [-0.1, float('nan'), float('inf'), True, '0.1', None])
def test_sgd_bad_lr(lr):
    with pytest.raises(ValueError, match=r'SGD.*invalid.*lr'): dl.SGD([dl.Parameter([1.0])], lr=lr)


def test_optimizer_bad_params():
    p = dl.Parameter([1.0])
    with pytest.raises(ValueError, match='empty parameter list'): dl.SGD([], lr=0.1)
    with pytest.raises(ValueError, match='empty parameter list'): dl.SGD(iter([]), lr=0.1)
    with pytest.raises(TypeError, match='iterable of tensors'): dl.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match='iterable of tensors'): dl.SGD(dl.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match='more than once'): dl.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match='leaf tensor that requires grad'): dl.SGD([dl.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match='leaf tensor'): dl.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match='not a tensor'): dl.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(NotImplementedError): dl.Optimizer([p], {'lr': 0.1}).step()


# ---------------------------------------------------------------- state dicts and checkpoints
def make_model(seed=0):
    dl.manual_seed(seed)
    return dl.Sequential(dl.Linear(4, 6), dl.BatchNorm1d(6), dl.ReLU(), dl.Dropout(0.2), dl.Linear(6, 3))


def same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(np.array_equal(sa[k].data, sb[k].data) and sa[k].dtype == sb[k].dtype for k in sa)


def test_state_dict_round_trip_exact(rng):
    a, b = make_model(0), make_model(1)
    a(dl.tensor(rng.standard_normal((10, 4)).astype(np.float32)))
    assert not same_state(a, b)
    opt = dl.SGD(b.parameters(), lr=0.1)
    params_before = [id(p.data) for p in b.parameters()]
    res = b.load_state_dict(a.state_dict())
    assert same_state(a, b) and res.missing_keys == [] and res.unexpected_keys == []
    assert [id(p.data) for p in b.parameters()] == params_before and opt.param_groups[0]['params'][0] is b[0].weight
    sd = a.state_dict()
    assert np.shares_memory(sd['0.weight'].data, a[0].weight.data) and not sd['0.weight'].requires_grad


def test_save_load_round_trip_exact(tmp_path, rng):
    a = make_model(0)
    a(dl.tensor(rng.standard_normal((10, 4)).astype(np.float32)))
    path = tmp_path / 'ckpt.npz'
    dl.save(a, path)
    state = dl.load(path)
    assert all(isinstance(v, dl.Tensor) for v in state.values()) and state['1.num_batches_tracked'].dtype == np.int64
    b = make_model(1)
    b.load_state_dict(state)
    assert same_state(a, b)
    dl.save(a.double().state_dict(), tmp_path / 'other')                # exact path, no '.npz' appended
    assert (tmp_path / 'other').exists() and dl.load(tmp_path / 'other')['0.weight'].dtype == np.float64
    dl.save({'n': 3, 'x': np.arange(4), 'f': 1.5}, tmp_path / 'plain.npz')
    back = dl.load(tmp_path / 'plain.npz')
    assert back['n'].item() == 3 and back['x'].tolist() == [0, 1, 2, 3]
    assert not any(p.name.endswith('.tmp') for p in tmp_path.iterdir())


def test_load_state_dict_errors_list_every_problem(rng):
    a = make_model()
    sd = a.state_dict()
    del sd['4.bias'], sd['1.running_var']
    sd['extra.weight'] = np.zeros(2)
    sd['0.weight'] = np.zeros((6, 5))
    with pytest.raises(RuntimeError) as e: make_model().load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys ['1.running_var', '4.bias']" in msg and "unexpected keys ['extra.weight']" in msg
    assert "0.weight: checkpoint [6, 5], model [6, 4]" in msg
    sd['0.weight'] = a.state_dict()['0.weight']
    b = make_model(2)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ['1.running_var', '4.bias'] and res.unexpected_keys == ['extra.weight']
    assert np.array_equal(b[0].weight.data, a[0].weight.data)
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
    with pytest.raises(TypeError, match="'a'"): dl.save({'a': 'text'}, tmp_path / 'x.npz')
    with pytest.raises(TypeError, match="'b'"): dl.save({'b': np.array([object()])}, tmp_path / 'x.npz')
    with pytest.raises(TypeError, match='module or a state dict'): dl.save([1, 2], tmp_path / 'x.npz')
    with pytest.raises(TypeError, match='keys must be strings'): dl.save({1: np.zeros(1)}, tmp_path / 'x.npz')
    assert list(tmp_path.iterdir()) == []


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
    assert len(h) == 3 and h['epoch'] == [1, 2, 3] and len(h.iterations) == 3 * len(loader)
    assert [r['epoch'] for r in h.iterations][:len(loader)] == [(i + 1) / len(loader) for i in range(len(loader))]
    assert h['valid_loss'][-1] < h['valid_loss'][0] and 0 <= h['train_accuracy'][0] <= 1
    back = dl.History.from_csv(path)
    assert back.columns == h.columns and back.epochs == h.epochs
    h.to_csv(tmp_path / 'it.csv', which='iterations')
    assert (tmp_path / 'it.csv').read_text().splitlines()[0] == 'iteration,epoch,loss'
    with pytest.raises(ValueError, match='which'): h.to_csv(tmp_path / 'x.csv', which='batches')
    with pytest.raises(KeyError, match='no column'): h['valid_f1']
    assert 'valid_accuracy' in repr(h)
    ev = dl.evaluate(m, loader, dl.CrossEntropyLoss())
    assert np.isclose(ev['loss'], h['valid_loss'][-1]) and np.isclose(ev['accuracy'], h['valid_accuracy'][-1])


def test_fit_restores_nothing_but_trains_in_train_mode():
    loader = blobs_loader()
    m = small_model()
    modes = []
    class Spy(dl.Module):
        def forward(self, x): modes.append(self.training); return x
    m.append(Spy())
    dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, loader, epochs=1, progress=False)
    assert modes[:len(loader)] == [True] * len(loader) and modes[len(loader):] == [False] * len(loader)
    assert m.training                                                  # evaluate restored the mode


def test_fit_progress_modes(capsys):
    loader = blobs_loader()
    m = small_model()
    dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, epochs=2, progress=True)
    out = capsys.readouterr().out.splitlines()                           # not a tty, not Jupyter: one line per epoch
    assert len(out) == 3 and out[0].split() == ['epoch', 'train_loss', 'train_accuracy', 'time']
    buf = io.StringIO()
    bar = dl.ProgressBar(1, ['epoch', 'train_loss', 'time'], mode='tty', file=buf, min_interval=0)
    bar.update(1, 1, 2, 0.5); bar.update(1, 2, 2, 0.25)
    bar.end_epoch({'epoch': 1, 'train_loss': 0.3, 'time': 0.1})
    assert buf.getvalue().count('\r') == 3 and buf.getvalue().endswith('\n') and buf.getvalue().rstrip().endswith('0.10s')
    with pytest.raises(ValueError, match='mode'): dl.ProgressBar(1, ['epoch'], mode='html')


def test_fit_bad_input():
    m = small_model()
    opt = dl.SGD(m.parameters(), lr=0.1)
    X, y = dl.make_blobs(n_per_class=5)
    tiny = dl.DataLoader(dl.TensorDataset(X, y), batch_size=32, drop_last=True)
    with pytest.raises(ValueError, match='yielded no batches'): dl.fit(m, dl.CrossEntropyLoss(), opt, tiny, progress=False)
    with pytest.raises(ValueError, match='yielded no batches'): dl.fit(m, dl.CrossEntropyLoss(), opt, [], progress=False)
    with pytest.raises(ValueError, match='batch_size'): dl.DataLoader(dl.TensorDataset(X, y), batch_size=0)
    with pytest.raises(ValueError, match='empty'): dl.DataLoader(dl.TensorDataset(X[:0], y[:0]))
    with pytest.raises(ValueError, match='epochs'): dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), epochs=-1)
    with pytest.raises(ValueError, match='pair'): dl.fit(m, dl.CrossEntropyLoss(), opt, [(dl.zeros(2, 2),)], progress=False)
    with pytest.raises(TypeError, match='metrics'): dl.fit(m, dl.CrossEntropyLoss(), opt, blobs_loader(), metrics=('acc',))
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
    assert all(np.isfinite(p.data).all() for p in m.parameters())    # the step on the bad loss was not taken


def test_accuracy_and_confusion_matrix():
    assert dl.accuracy(dl.tensor([[2.0, 1.0], [0.0, 3.0]]), dl.tensor([0, 0])) == 0.5
    assert dl.accuracy(np.array([0.3, -0.2, 1.0]), np.array([1, 0, 0])) == 2 / 3
    assert math.isnan(dl.accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match='accuracy'): dl.accuracy(np.zeros((3, 2)), np.zeros(4))
    cm = dl.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]]
    assert dl.confusion_matrix([0], [0], num_classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match='labels must be in'): dl.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(TypeError, match='integers'): dl.confusion_matrix([0.5], [0])
    with pytest.raises(ValueError, match='2 labels but 1'): dl.confusion_matrix([0, 1], [0])


def test_plot_history_and_confusion_matrix():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    loader = blobs_loader()
    m = small_model()
    h = dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, loader, epochs=2, progress=False)
    fig = dl.plot_history(h)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == 'epoch' and fig.axes[1].get_ylabel() == 'accuracy'
    h2 = dl.fit(m, dl.CrossEntropyLoss(), dl.SGD(m.parameters(), lr=0.1), loader, epochs=1, metrics=(), progress=False)
    assert len(dl.plot_history(h2).axes) == 1
    ax = dl.plot_confusion_matrix(np.array([[3, 1], [0, 4]]))
    assert ax.get_xlabel() == 'predicted class' and ax.get_ylabel() == 'true class'
    plt.close('all')


# ---------------------------------------------------------------- review fixes
def test_batchnorm_accepts_arrays_like_linear():
    out = dl.BatchNorm1d(3)(np.ones((4, 3), np.float32))
    assert isinstance(out, dl.Tensor) and out.shape == (4, 3) and np.allclose(out.data, 0)
    bn = dl.BatchNorm1d(2).eval()
    assert np.allclose(bn(np.arange(6, dtype=np.float32).reshape(3, 2)).data, np.arange(6).reshape(3, 2) / np.sqrt(1 + 1e-5))


def test_linear_reset_parameters_keeps_init_rule():
    dl.manual_seed(0)
    lin = dl.Linear(300, 200, init='glorot')
    assert lin.init == 'glorot'
    bound = math.sqrt(6 / (300 + 200))                       # Glorot-uniform; He's would be sqrt(6 / 300)
    for _ in range(2):
        w = lin.weight.data
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
        lin.reset_parameters()
    lin.reset_parameters('he')                               # an explicit rule still wins
    assert np.abs(lin.weight.data).max() > 1.2 * bound
    filled = dl.Linear(2, 2, init=lambda w: w.data.fill(0.5))
    filled.weight.data[...] = 0
    filled.reset_parameters()
    assert np.all(filled.weight.data == 0.5)


def test_dropout_accepts_numpy_scalars():
    assert dl.Dropout(np.float32(0.5)).p == 0.5 and dl.Dropout(np.float64(0.25)).p == 0.25
    assert dl.Dropout(np.int64(0)).p == 0.0 and dl.Dropout(np.int32(1)).p == 1.0
    for p in (True, np.bool_(True), np.float32(1.5), np.float32('nan'), -0.1, '0.5'):
        with pytest.raises(ValueError, match='probability'): dl.Dropout(p)
