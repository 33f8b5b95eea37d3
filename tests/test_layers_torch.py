"""Chapter 03 layers against PyTorch (skipped when torch is not installed), in float64:
values and gradients of Linear, the losses (every reduction, class weights, ignored
labels, label smoothing, class-probability targets), the functional interface
(`dl.nn.functional` against `torch.nn.functional`), activations, containers, BatchNorm1d
in training and evaluation (with running statistics or without), initialisation,
state-dict names, SGD steps and the errors PyTorch raises."""
from collections import OrderedDict

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as DF

torch = pytest.importorskip("torch")
F = torch.nn.functional
tt = torch.tensor


def pair(a, requires_grad=True):
    "The same values (float64 unless integer) as a dl tensor and a torch tensor."
    a = np.asarray(a)
    if a.dtype.kind == 'f': a = a.astype(np.float64)
    return (dl.tensor(a.copy(), requires_grad=requires_grad),
            tt(a.copy(), requires_grad=requires_grad))


def close(a, b, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, dl.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def copy_into_torch(dl_model, torch_model):
    "Load dl's state dict into torch by name: the names are the same."
    state = dl_model.state_dict()
    torch_model.load_state_dict({k: tt(v.numpy()) for k, v in state.items()})


def same_forward_backward(ours, theirs, *arrays, grad_seed=0, tol=1e-10):
    """ours(*dl tensors) vs theirs(*torch tensors): values, then every float input's
    gradient."""
    pairs = [pair(a, requires_grad=np.asarray(a).dtype.kind == 'f') for a in arrays]
    a, b = ours(*[p[0] for p in pairs]), theirs(*[p[1] for p in pairs])
    close(a, b, tol)
    g = np.random.default_rng(grad_seed).standard_normal(tuple(b.shape))
    a.backward(dl.tensor(g)); b.backward(tt(g))
    for (x, xt) in pairs:
        if xt.requires_grad: close(x.grad, xt.grad, tol)


def weights(w, lib):
    return None if w is None else lib.tensor(w)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_cross_entropy(reduction, rng):
    y = rng.integers(0, 5, 7)
    same_forward_backward(lambda z: dl.CrossEntropyLoss(reduction=reduction)(z, y),
                          lambda z: F.cross_entropy(z, tt(y), reduction=reduction),
                          rng.standard_normal((7, 5)) * 3)


def test_cross_entropy_extreme_logits():
    y = [2, 2]
    same_forward_backward(lambda z: dl.cross_entropy(z, y, reduction='none'),
                          lambda z: F.cross_entropy(z, tt(y), reduction='none'),
                          [[1e4, 0.0, -1e4], [-500.0, 500.0, 499.0]])


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('weighted', [False, True])
@pytest.mark.parametrize('smoothing', [0.0, 0.15])
@pytest.mark.parametrize('ignore', [False, True])
def test_cross_entropy_options(reduction, weighted, smoothing, ignore, rng):
    """weight, ignore_index and label_smoothing, alone and together, as PyTorch computes
    them."""
    y = rng.integers(0, 4, 9)
    if ignore: y[[1, 5]] = -100
    w = rng.uniform(0.2, 2.0, 4) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    ours = lambda z: dl.cross_entropy(z, y, weight=weights(w, dl), **kw)
    theirs = lambda z: F.cross_entropy(z, tt(y), weight=weights(w, torch), **kw)
    same_forward_backward(ours, theirs,
                          rng.standard_normal((9, 4)) * 2)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_cross_entropy_other_ignore_index_and_the_module(reduction, rng):
    y = rng.integers(0, 3, 6); y[2] = 1
    kw = dict(ignore_index=1, reduction=reduction, label_smoothing=0.1)
    w = np.array([1.0, 2.0, 3.0])
    ours = dl.CrossEntropyLoss(weight=dl.tensor(w), **kw)
    theirs = torch.nn.CrossEntropyLoss(weight=tt(w), **kw)
    same_forward_backward(lambda z: ours(z, y), lambda z: theirs(z, tt(y)),
                          rng.standard_normal((6, 3)))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ['weight']


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('ignore_index', [0, 2])
def test_cross_entropy_ignore_index_that_is_a_class(reduction, ignore_index, rng):
    "A padding class (ignore_index=0) with no weight and no smoothing: its rows count for nothing (was counted)."
    y = rng.integers(0, 4, 9); y[[1, 4]] = ignore_index
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    z = rng.standard_normal((9, 4))
    same_forward_backward(lambda z: dl.cross_entropy(z, y, **kw), lambda z: F.cross_entropy(z, tt(y), **kw), z)
    same_forward_backward(lambda z: dl.nn.CrossEntropyLoss(**kw)(z, y),
                          lambda z: torch.nn.CrossEntropyLoss(**kw)(z, tt(y)), z)
    same_forward_backward(lambda z: dl.nll_loss(dl.log_softmax(z, 1), y, **kw),
                          lambda z: F.nll_loss(F.log_softmax(z, 1), tt(y), **kw), z)
    y3 = rng.integers(0, 4, (2, 5)); y3[0, 1] = ignore_index                     # [N, C, d]: per position
    same_forward_backward(lambda z: dl.cross_entropy(z, y3, **kw), lambda z: F.cross_entropy(z, tt(y3), **kw),
                          rng.standard_normal((2, 4, 5)))


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('smoothing', [0.0, 0.2])
def test_cross_entropy_probability_targets(reduction, smoothing, rng):
    q = rng.dirichlet(np.ones(5), 6)
    w = rng.uniform(0.5, 2, 5)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    ours = lambda z, q: dl.cross_entropy(z, q, weight=dl.tensor(w), **kw)
    same_forward_backward(ours,
                          lambda z, q: F.cross_entropy(z, q, weight=tt(w), **kw),
                          # the target's gradient too
                          rng.standard_normal((6, 5)), q)


@pytest.mark.parametrize('reduction', ['mean', 'none'])
def test_cross_entropy_spatial_and_unbatched(reduction, rng):
    y = rng.integers(0, 4, (2, 3, 5)); y[0, 1, 2] = -100
    same_forward_backward(lambda z: dl.cross_entropy(z, y, reduction=reduction),
                          lambda z: F.cross_entropy(z, tt(y), reduction=reduction),
                          rng.standard_normal((2, 4, 3, 5)))
    same_forward_backward(lambda z: dl.cross_entropy(z, dl.tensor(2),
                                                     reduction=reduction),
                          lambda z: F.cross_entropy(z, tt(2), reduction=reduction),
                          rng.standard_normal(4))


def test_cross_entropy_all_labels_ignored():
    for ours, theirs in ((dl.cross_entropy, F.cross_entropy),
                         (dl.nll_loss, F.nll_loss)):
        z, zt = pair(np.arange(6.0).reshape(2, 3))
        a, b = ours(z, [-100, -100]), theirs(zt, tt([-100, -100]))
        assert np.isnan(a.item()) and np.isnan(b.item())
        a.backward(); b.backward()
        close(z.grad, zt.grad)                                  # zeros, not NaN


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('weighted', [False, True])
def test_nll_loss(reduction, weighted, rng):
    y = rng.integers(0, 4, 8); y[3] = -100
    w = rng.uniform(0.5, 2, 4) if weighted else None
    same_forward_backward(
        lambda x: dl.nll_loss(dl.log_softmax(x, dim=1), y, weight=weights(w, dl),
                              reduction=reduction),
        lambda x: F.nll_loss(F.log_softmax(x, dim=1), tt(y), weight=weights(w, torch),
                             reduction=reduction),
        rng.standard_normal((8, 4)))
    ours = dl.NLLLoss(weight=weights(w, dl), reduction=reduction)
    theirs = torch.nn.NLLLoss(weight=weights(w, torch), reduction=reduction)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_mse_l1_and_bce_with_logits(reduction, rng):
    p, pt = pair(rng.standard_normal((4, 3)) * 4)
    t = rng.uniform(0, 1, (4, 3))
    t[0, 0] = p.detach().numpy()[0, 0]                      # l1 at a zero difference: 0
    r = dict(reduction=reduction)
    losses = [(dl.MSELoss(**r), torch.nn.MSELoss(**r)),
              (dl.L1Loss(**r), torch.nn.L1Loss(**r)),
              (dl.BCEWithLogitsLoss(**r), torch.nn.BCEWithLogitsLoss(**r)),
              (dl.BCEWithLogitsLoss(pos_weight=2.5, **r),
               torch.nn.BCEWithLogitsLoss(pos_weight=tt(2.5).double(), **r))]
    for ours, theirs in losses:
        p.grad = None; pt.grad = None
        a, b = ours(p, dl.tensor(t)), theirs(pt, tt(t))
        close(a, b)
        a.sum().backward(); b.sum().backward()
        close(p.grad, pt.grad)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_weighted_mse_and_l1(reduction, rng):
    w, r = rng.uniform(0.1, 2, (5, 2)), reduction
    for ours, theirs in ((dl.mse_loss, F.mse_loss), (dl.l1_loss, F.l1_loss)):
        same_forward_backward(lambda a, b: ours(a, b, weight=dl.tensor(w), reduction=r),
                              lambda a, b: theirs(a, b, weight=tt(w), reduction=r),
                              rng.standard_normal((5, 2)), rng.standard_normal((5, 2)))


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_binary_cross_entropy(reduction, rng):
    # clamped logarithms
    x = rng.uniform(0.01, 0.99, (6, 3)); x[0, 0], x[1, 1] = 0.0, 1.0
    w = rng.uniform(0.5, 2, 3)
    kw = dict(reduction=reduction)
    ours = lambda x, t: dl.binary_cross_entropy(x, t, weight=dl.tensor(w), **kw)
    same_forward_backward(ours,
                          lambda x, t: F.binary_cross_entropy(x, t, weight=tt(w), **kw),
                          # gradients ~1e9 at 0, 1
                          x, rng.uniform(0, 1, (6, 3)), tol=1e-8)
    ours, theirs = dl.BCELoss(weight=dl.tensor(w)), torch.nn.BCELoss(weight=tt(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ['weight']


def test_loss_errors_match_pytorch():
    with pytest.raises(RuntimeError, match='between 0 and 1'):
        dl.binary_cross_entropy(dl.tensor([1.5]), dl.tensor([1.0]))
    with pytest.raises(RuntimeError): F.binary_cross_entropy(tt([1.5]), tt([1.0]))
    with pytest.raises(ValueError, match='different to the input size'):
        dl.binary_cross_entropy(dl.tensor([[0.5]]), dl.tensor([1.0]))
    with pytest.raises(RuntimeError, match='for all 4 classes or no classes'):
        dl.cross_entropy(dl.zeros(3, 4), [0, 1, 2], weight=dl.ones(3))
    with pytest.raises(IndexError, match=r'target \[5\] out of bounds'):
        dl.cross_entropy(dl.zeros(3, 4), [0, 5, -100])
    with pytest.raises(IndexError): F.cross_entropy(torch.zeros(3, 4), tt([0, 5, -100]))
    with pytest.raises(ValueError, match='label_smoothing'):
        dl.cross_entropy(dl.zeros(3, 4), [0, 1, 2], label_smoothing=2)
    with pytest.warns(UserWarning, match='size_average'):
        loss = dl.cross_entropy(dl.zeros(2, 3), [0, 1], size_average=False)
    assert loss.item() == pytest.approx(2 * np.log(3))


# ------------------------------------------------------------ the functional interface
def test_functional_names_cover_the_brief():
    for name in ('relu', 'sigmoid', 'tanh', 'softmax', 'log_softmax', 'cross_entropy',
                 'nll_loss', 'mse_loss', 'l1_loss', 'binary_cross_entropy',
                 'binary_cross_entropy_with_logits', 'dropout', 'linear', 'one_hot',
                 'pad'):
        assert callable(getattr(DF, name)), name


@pytest.mark.parametrize('name', ['relu', 'sigmoid', 'tanh'])
def test_functional_activations(name, rng):
    x = rng.standard_normal((4, 5)); x[0, 0] = 0.3
    same_forward_backward(getattr(DF, name), getattr(F, name), x)


@pytest.mark.parametrize('dim', [0, 1, -1])
def test_functional_softmax_and_log_softmax(dim, rng):
    x = rng.standard_normal((4, 5)) * 3
    same_forward_backward(lambda t: DF.softmax(t, dim=dim),
                          lambda t: F.softmax(t, dim=dim), x)
    same_forward_backward(lambda t: DF.log_softmax(t, dim),
                          lambda t: F.log_softmax(t, dim), x)
    x32 = dl.tensor(x.astype(np.float32))
    assert DF.softmax(x32, dim=dim, dtype=dl.float64).dtype == dl.float64


def test_functional_relu_in_place():
    x, xt = pair([-1.0, 2.0], requires_grad=False)
    assert DF.relu(x, inplace=True) is x and F.relu(xt, inplace=True) is xt
    close(x, xt)
    leaf = dl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match='leaf'): DF.relu(leaf, inplace=True)


@pytest.mark.parametrize('shape', [(6, 4), (2, 3, 4), (4,)])
def test_functional_linear(shape, rng):
    x, w = rng.standard_normal(shape), rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    same_forward_backward(DF.linear, F.linear, x, w, b)
    same_forward_backward(DF.linear, F.linear, x, w)


def test_functional_dropout(rng):
    dl.manual_seed(0)
    x = dl.tensor(np.ones((300, 40)))
    out = DF.dropout(x, 0.3).numpy()
    assert abs((out == 0).mean() - 0.3) < 0.02 and np.allclose(out[out != 0], 1 / 0.7)
    assert DF.dropout(x, 0.3, training=False) is x
    assert np.all(DF.dropout(x, 1.0).numpy() == 0)
    y = dl.tensor(np.ones(50))
    assert DF.dropout(y, 0.5, inplace=True) is y
    assert set(np.unique(y.numpy())) <= {0.0, 2.0}
    with pytest.raises(ValueError, match='dropout probability has to be between 0 and'):
        DF.dropout(x, 1.5)
    with pytest.raises(ValueError): F.dropout(torch.ones(2), 1.5)


def test_functional_one_hot():
    for labels, n in (([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 3)):
        a = DF.one_hot(dl.tensor(labels, dtype=dl.int64), n)
        b = F.one_hot(tt(labels, dtype=torch.long), n)
        assert a.dtype == dl.int64 and a.tolist() == b.tolist()
    for bad, n in (([0, 3], 3), ([-1, 0], -1)):
        with pytest.raises(RuntimeError): F.one_hot(tt(bad), n)
        with pytest.raises(RuntimeError, match='Class values must be'):
            DF.one_hot(dl.tensor(bad), n)
    with pytest.raises(RuntimeError, match='LongTensor'): DF.one_hot(dl.tensor([0.5]))
    with pytest.raises(RuntimeError, match='empty tensor'):
        DF.one_hot(dl.tensor(np.zeros(0, np.int64)))


@pytest.mark.parametrize('shape,pad,mode', [
    ((2, 3, 4), (1, 2), 'constant'), ((2, 3, 4), (-1, 2, 0, 1), 'constant'),
    ((2, 3, 4), (1, 1, 1, 1, 1, 1), 'constant'), ((3, 4), (2, 3), 'constant'),
    ((2, 3, 4), (1, 1), 'reflect'), ((2, 3, 4), (3, 2), 'reflect'),
    ((2, 3, 4, 5), (2, 1, 1, 2), 'reflect'), ((3, 4), (1, 1), 'reflect'),
    ((2, 3, 4), (2, 1), 'replicate'), ((2, 3, 4, 5), (3, 0, 1, 4), 'replicate'),
    ((2, 3, 4), (1, 2), 'circular'), ((2, 3, 4, 5), (2, 1, 3, 0), 'circular')])
def test_functional_pad(shape, pad, mode, rng):
    same_forward_backward(lambda x: DF.pad(x, pad, mode=mode),
                          lambda x: F.pad(x, pad, mode=mode),
                          rng.standard_normal(shape))


def test_functional_pad_value_and_errors(rng):
    p = (1, 2, 2, 0)
    same_forward_backward(lambda x: DF.pad(x, p, value=-3.5),
                          lambda x: F.pad(x, p, value=-3.5),
                          rng.standard_normal((2, 3)))
    x = dl.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert dl.gradcheck(lambda x: DF.pad(x, (2, 1, 1, 1), mode='reflect'), x)
    x, xt = dl.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    for args, kw in [(((1,),), {}), (((1, 1) * 4,), {}),
                     (((1, 1),), dict(mode='reflect', value=2.0)),
                     (((4, 4),), dict(mode='reflect')), (((1, 1),), dict(mode='wrap'))]:
        with pytest.raises((RuntimeError, NotImplementedError)): F.pad(xt, *args, **kw)
        with pytest.raises((RuntimeError, NotImplementedError), match='^pad: '):
            DF.pad(x, *args, **kw)
    with pytest.raises(NotImplementedError):
        F.pad(torch.zeros(4), (1, 1), mode='reflect')
    with pytest.raises(NotImplementedError): DF.pad(dl.zeros(4), (1, 1), mode='reflect')


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize('shape', [(6, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize('bias', [True, False])
def test_linear_forward_backward(shape, bias, rng):
    lin = dl.Linear(4, 3, bias=bias).double()
    tl = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    copy_into_torch(lin, tl)
    x, xt = pair(rng.standard_normal(shape))
    g = rng.standard_normal(shape[:-1] + (3,))
    a, b = lin(x), tl(xt)
    close(a, b)
    a.backward(dl.tensor(g)); b.backward(tt(g))
    close(x.grad, xt.grad); close(lin.weight.grad, tl.weight.grad)
    if bias: close(lin.bias.grad, tl.bias.grad)


def test_linear_default_initialisation_is_pytorchs():
    """weight: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); the bias: the
    same."""
    dl.manual_seed(0); torch.manual_seed(0)
    ours, theirs = dl.Linear(400, 300), torch.nn.Linear(400, 300)
    for a, b in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert abs(np.abs(a).max() / np.abs(b).max() - 1) < 0.01
        assert abs(a.std() / b.std() - 1) < 0.05
    assert dl.Linear(3, 2, dtype=dl.float64).weight.dtype == dl.float64
    assert torch.nn.Linear(3, 2, dtype=torch.float64).weight.dtype == torch.float64


def test_linear_refuses_another_dtype_as_pytorch():
    with pytest.raises(RuntimeError):
        torch.nn.Linear(4, 3)(torch.zeros(2, 4, dtype=torch.float64))
    message = r'Linear\(in_features=4, out_features=3\).*float64\[2, 4\].*float32'
    with pytest.raises(RuntimeError, match=message):
        dl.Linear(4, 3)(dl.zeros(2, 4, dtype=dl.float64))
    with pytest.raises(RuntimeError, match=r'linear: .*float64.*float32'):
        dl.linear(dl.zeros(2, 4, dtype=dl.float64), dl.zeros(3, 4))
    with pytest.raises(RuntimeError): dl.Linear(4, 3)(dl.zeros(2, 4, dtype=dl.int64))


@pytest.mark.parametrize('ours,theirs', [
    (dl.ReLU(), torch.nn.ReLU()), (dl.Sigmoid(), torch.nn.Sigmoid()),
    (dl.Tanh(), torch.nn.Tanh()), (dl.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (dl.Softmax(dim=0), torch.nn.Softmax(dim=0)),
    (dl.nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
    (dl.nn.Identity(3, x=1), torch.nn.Identity(3, x=1)),
    (dl.nn.Flatten(0), torch.nn.Flatten(0))])
def test_activations(ours, theirs, rng):
    same_forward_backward(ours, theirs, rng.standard_normal((5, 4)) * 3)


@pytest.mark.parametrize('args', [(), (0,), (2, 3), (-3, -2)])
def test_flatten_and_unflatten(args, rng):
    same_forward_backward(dl.nn.Flatten(*args), torch.nn.Flatten(*args),
                          rng.standard_normal((2, 3, 4, 2)))
    same_forward_backward(dl.nn.Unflatten(1, (2, -1)), torch.nn.Unflatten(1, (2, -1)),
                          rng.standard_normal((3, 8)))
    with pytest.raises(RuntimeError, match="don't multiply up"):
        dl.nn.Unflatten(1, (2, 4))(dl.zeros(3, 7))
    with pytest.raises(IndexError): dl.nn.Flatten()(dl.zeros(3))
    with pytest.raises(IndexError): torch.nn.Flatten()(torch.zeros(3))


def test_containers_name_their_children_as_pytorch():
    def build(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)])
                self.heads = nn.ModuleDict({'cls': nn.Linear(3, 2),
                                            'reg': nn.Linear(3, 1)})
                self.seq = nn.Sequential(OrderedDict(fc=nn.Linear(3, 3), act=nn.ReLU()))
                self.bn = nn.BatchNorm1d(3)
            def forward(self, x):
                for b in self.blocks: x = b(x).relu()
                return self.heads['cls'](self.seq(self.bn(x)))
        net = Net()
        del net.blocks[1]; net.blocks.insert(0, nn.Linear(3, 3))
        net.blocks.append(nn.Tanh())
        net.heads['extra'] = nn.Linear(3, 4); del net.heads['reg']
        return net
    ours, theirs = build(dl.nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    names = lambda m: [n for n, _ in m.named_modules()]
    assert names(ours) == names(theirs)
    assert len(ours.blocks) == len(theirs.blocks) == 4
    assert list(ours.heads) == list(theirs.heads) == ['cls', 'extra']
    copy_into_torch(ours.double(), theirs.double())
    x = np.random.default_rng(0).standard_normal((5, 3))
    close(ours(dl.tensor(x)), theirs(tt(x)))
    s = dl.nn.Sequential(dl.ReLU(), dl.Tanh(), dl.Sigmoid())
    st = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid())
    del s[0]; del st[0]
    children = lambda m: [n for n, _ in m.named_children()]
    assert children(s) == children(st) == ['0', '1']
    for bad in (lambda c: c[5], lambda c: c.append(3)):
        for c in (s, dl.nn.ModuleList([dl.ReLU()])):
            with pytest.raises((IndexError, TypeError)): bad(c)
    md = dl.nn.ModuleDict()
    for key in ('keys', 'a.b', ''):
        with pytest.raises(KeyError): md[key] = dl.ReLU()
        with pytest.raises(KeyError): torch.nn.ModuleDict()[key] = torch.nn.ReLU()


def test_assigning_a_tensor_over_a_parameter_or_buffer_raises():
    for nn, t in ((torch.nn, torch.zeros(3, 2)), (dl.nn, dl.zeros(3, 2))):
        lin = nn.Linear(2, 3)
        with pytest.raises(TypeError, match="cannot assign '.*' as parameter 'weight'"):
            lin.weight = t
        lin.weight = None
        # still a parameter slot
        with pytest.raises(TypeError, match="as parameter 'weight'"):
            lin.weight = t
        lin.weight = nn.Parameter(t)
        bn = nn.BatchNorm1d(2)
        with pytest.raises(TypeError, match="as buffer 'running_mean'"):
            bn.running_mean = 3
        bn.running_mean = t[0, :2].clone()
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as parameter"):
        dl.Linear(2, 3).weight = np.zeros((3, 2), np.float32)


@pytest.mark.parametrize('shape', [(8, 3), (5, 3, 4)])
@pytest.mark.parametrize('momentum', [0.1, 0.3, None])
@pytest.mark.parametrize('affine', [True, False])
def test_batchnorm_train_eval_running_stats(shape, momentum, affine, rng):
    bn = dl.BatchNorm1d(3, momentum=momentum, affine=affine).double()
    tb = torch.nn.BatchNorm1d(3, momentum=momentum, affine=affine, dtype=torch.float64)
    if affine:
        with dl.no_grad():
            bn.weight.copy_(dl.tensor(rng.uniform(0.5, 2, 3)))
            bn.bias.copy_(dl.tensor(rng.standard_normal(3)))
    copy_into_torch(bn, tb)
    # training: outputs, grads, running stats
    for step in range(3):
        x, xt = pair(rng.standard_normal(shape) * 2 + step)
        g = rng.standard_normal(shape)
        a, b = bn(x), tb(xt)
        close(a, b, 1e-9)
        a.backward(dl.tensor(g)); b.backward(tt(g))
        close(x.grad, xt.grad, 1e-9)
        if affine:
            close(bn.weight.grad, tb.weight.grad, 1e-9)
            close(bn.bias.grad, tb.bias.grad, 1e-9)
        close(bn.running_mean, tb.running_mean); close(bn.running_var, tb.running_var)
        assert bn.num_batches_tracked.item() == tb.num_batches_tracked.item()
    bn.eval(); tb.eval()
    same_forward_backward(bn, tb, rng.standard_normal((2,) + shape[1:]), tol=1e-9)
    assert list(bn.state_dict()) == list(tb.state_dict())


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('shape', [(6, 3), (4, 3, 5)])
def test_batchnorm_without_running_stats(training, shape, rng):
    """Batch statistics in training and in evaluation; one value per channel is an error
    in both."""
    bn = dl.BatchNorm1d(3, track_running_stats=False).double().train(training)
    tb = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=torch.float64)
    tb.train(training)
    same_forward_backward(bn, tb, rng.standard_normal(shape), tol=1e-9)
    assert list(bn.state_dict()) == list(tb.state_dict()) == ['weight', 'bias']
    message = 'Expected more than 1 value per channel when training'
    for one in ((1, 3), (1, 3, 1)):
        with pytest.raises(ValueError, match=message):
            tb(torch.zeros(one, dtype=torch.float64))
        with pytest.raises(ValueError, match=message):
            bn(dl.zeros(one, dtype=dl.float64))


def test_batchnorm_refuses_another_dtype_as_pytorch():
    for mode in (True, False):
        with pytest.raises(RuntimeError):
            torch.nn.BatchNorm1d(3).train(mode)(torch.zeros(4, 3, dtype=torch.float64))
        with pytest.raises(RuntimeError, match=r'BatchNorm1d\(3\): mixed dtypes'):
            dl.BatchNorm1d(3).train(mode)(dl.zeros(4, 3, dtype=dl.float64))


def test_sequential_state_dict_names_and_outputs(rng):
    def build(nn):
        return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(),
                             nn.Dropout(0.5), nn.Linear(8, 3)).double()
    dl.manual_seed(0)
    m, tm = build(dl.nn), build(torch.nn)
    assert list(m.state_dict()) == list(tm.state_dict())
    copy_into_torch(m, tm)
    m.eval(); tm.eval()
    x, xt = pair(rng.standard_normal((4, 5)))
    close(m(x), tm(xt))
    back = build(dl.nn).eval()
    # the other way
    back.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    close(back(x), tm(xt))


def test_sgd_steps_match(rng):
    def build(nn):
        return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    dl.manual_seed(0)
    m, tm = build(dl.nn), build(torch.nn)
    copy_into_torch(m, tm)
    opt, topt = dl.SGD(m.parameters(), lr=0.3), torch.optim.SGD(tm.parameters(), lr=0.3)
    for _ in range(5):
        X, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
        for o, loss in ((opt, lambda: dl.cross_entropy(m(dl.tensor(X)), y)),
                        (topt, lambda: F.cross_entropy(tm(tt(X)), tt(y)))):
            o.zero_grad(); l = loss(); l.backward(); o.step()
    for a, b in zip(m.state_dict().values(), tm.state_dict().values()):
        close(a, b, 1e-9)


def test_sgd_step_between_forward_and_backward_raises_in_both():
    for lib in (torch, dl):
        w = lib.nn.Parameter(lib.ones(3))
        opt = lib.optim.SGD([w], lr=0.1)
        (w * w).sum().backward()
        loss = (w * w).sum()
        opt.step()
        with pytest.raises(RuntimeError, match='modified by an inplace operation'):
            loss.backward()


# ---------------------------------------------------------------- initialisation
def test_init_gain_and_bounds():
    for nl, param in [('relu', None), ('tanh', None), ('sigmoid', None),
                      ('linear', None),
                      ('leaky_relu', 0.2), ('leaky_relu', 5 ** 0.5), ('selu', None),
                      ('conv2d', None)]:
        want = torch.nn.init.calculate_gain(nl, param)
        assert np.isclose(dl.calculate_gain(nl, param), want)
    w, wt = dl.zeros(64, 32), torch.zeros(64, 32)
    for name, kw in [('kaiming_uniform_', {}), ('kaiming_uniform_', dict(a=5 ** 0.5)),
                     ('xavier_uniform_', {}), ('uniform_', dict(a=-2.0, b=3.0)),
                     ('trunc_normal_', dict(std=2.0, a=-1.0, b=1.5))]:
        getattr(dl.nn.init, name)(w, **kw); getattr(torch.nn.init, name)(wt, **kw)
        a, b = w.numpy(), wt.numpy()
        span = b.max() - b.min()
        assert abs(a.max() - b.max()) < 0.05 * span
        assert abs(a.min() - b.min()) < 0.05 * span
    for name, kw in [('kaiming_normal_', {}), ('xavier_normal_', dict(gain=2.0)),
                     ('normal_', dict(mean=1.0, std=3.0))]:
        getattr(dl.nn.init, name)(w, **kw); getattr(torch.nn.init, name)(wt, **kw)
        a, b = w.numpy(), wt.numpy()
        assert abs(a.std() / b.std() - 1) < 0.1 and abs(a.mean() - b.mean()) < 0.2
    for name, args in (('constant_', (0.7,)), ('ones_', ()), ('zeros_', ()),
                       ('eye_', ())):
        getattr(dl.nn.init, name)(w, *args); getattr(torch.nn.init, name)(wt, *args)
        close(w, wt)
    q = dl.nn.init.orthogonal_(dl.zeros(5, 8), gain=2.0).numpy()
    assert np.allclose(q @ q.T, 4 * np.eye(5), atol=1e-5)


def test_init_and_dropout_take_generators():
    init = dl.nn.init
    w1, w2 = dl.zeros(30, 20), dl.zeros(30, 20)
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_,
                 init.kaiming_normal_, init.trunc_normal_, init.orthogonal_):
        fill(w1, generator=dl.Generator().manual_seed(3))
        fill(w2, generator=dl.Generator().manual_seed(3))
        assert np.array_equal(w1, w2)
        # the default generator
        dl.manual_seed(1); fill(w1); dl.manual_seed(1); fill(w2)
        assert np.array_equal(w1, w2)
    x = dl.ones(100)
    dl.manual_seed(4); a = dl.nn.Dropout(0.5)(x)
    dl.manual_seed(4); assert np.array_equal(a, DF.dropout(x))


# ------------------------------------------- embeddings, layer norm, smooth activations
def test_functional_names_cover_the_new_layers():
    for name in ('embedding', 'layer_norm', 'gelu', 'silu', 'leaky_relu', 'softplus'):
        assert callable(getattr(DF, name)), name
    for name in ('Embedding', 'LayerNorm', 'GELU', 'SiLU', 'LeakyReLU', 'Softplus'):
        assert isinstance(getattr(dl.nn, name), type), name


@pytest.mark.parametrize('shape', [(), (4,), (2, 3), (2, 2, 3)])
@pytest.mark.parametrize('padding_idx', [None, 1, -1])
@pytest.mark.parametrize('freq', [False, True])
def test_embedding_forward_backward(shape, padding_idx, freq, rng):
    emb = dl.nn.Embedding(5, 3, padding_idx=padding_idx, scale_grad_by_freq=freq).double()
    te = torch.nn.Embedding(5, 3, padding_idx=padding_idx, scale_grad_by_freq=freq,
                            dtype=torch.float64)
    assert emb.padding_idx == te.padding_idx and repr(emb) == repr(te)
    assert list(emb.state_dict()) == list(te.state_dict())
    copy_into_torch(emb, te)
    idx = rng.integers(0, 5, shape)
    a, b = emb(dl.tensor(idx)), te(tt(idx))
    close(a, b, 0)
    g = rng.standard_normal(tuple(b.shape))
    a.backward(dl.tensor(g)); b.backward(tt(g))
    close(emb.weight.grad, te.weight.grad, 1e-12)


def test_embedding_functional_int32_and_from_pretrained(rng):
    w = rng.standard_normal((6, 2))
    idx = rng.integers(0, 6, (3, 4)).astype(np.int32)
    same_forward_backward(lambda t: DF.embedding(dl.tensor(idx), t, padding_idx=2),
                          lambda t: F.embedding(tt(idx), t, padding_idx=2), w)
    ours = dl.nn.Embedding.from_pretrained(dl.tensor(w), padding_idx=0)
    theirs = torch.nn.Embedding.from_pretrained(tt(w), padding_idx=0)
    close(ours(dl.tensor([0, 5])), theirs(tt([0, 5])))
    assert ours.weight.requires_grad == theirs.weight.requires_grad == False
    assert repr(ours) == repr(theirs)


def test_embedding_errors_match_pytorch():
    emb, te = dl.nn.Embedding(4, 3), torch.nn.Embedding(4, 3)
    for bad in ([1.0], [True]):
        with pytest.raises(RuntimeError): te(tt(bad))
        with pytest.raises(RuntimeError, match='integer'): emb(dl.tensor(bad))
    for bad in ([4], [-1]):
        with pytest.raises(IndexError): te(tt(bad))
        with pytest.raises(IndexError, match='out of range'): emb(dl.tensor(bad))


@pytest.mark.parametrize('shape,normalized', [((5, 4), (4,)), ((2, 3, 4), (4,)),
                                              ((2, 3, 4), (3, 4)), ((4,), (4,))])
@pytest.mark.parametrize('affine,bias', [(True, True), (True, False), (False, False)])
def test_layer_norm_forward_backward(shape, normalized, affine, bias, rng):
    ln = dl.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias).double()
    tl = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias,
                            dtype=torch.float64)
    assert repr(ln) == repr(tl) and list(ln.state_dict()) == list(tl.state_dict())
    if affine:
        with dl.no_grad():
            ln.weight.copy_(dl.tensor(rng.uniform(0.5, 2, normalized)))
            if bias: ln.bias.copy_(dl.tensor(rng.standard_normal(normalized)))
    copy_into_torch(ln, tl)
    x, xt = pair(rng.standard_normal(shape) * 3 + 1)
    a, b = ln(x), tl(xt)
    close(a, b, 1e-12)
    g = rng.standard_normal(shape)
    a.backward(dl.tensor(g)); b.backward(tt(g))
    close(x.grad, xt.grad, 1e-11)
    for p, q in zip(ln.parameters(), tl.parameters()): close(p.grad, q.grad, 1e-11)


def test_layer_norm_functional_and_float32(rng):
    x, w, b = (rng.standard_normal(s) for s in ((3, 5), (5,), (5,)))
    for has_w, has_b in ((False, False), (True, False), (False, True), (True, True)):
        def call(f, t, *affine):
            ps = list(affine)
            weight = ps.pop(0) if has_w else None
            bias = ps.pop(0) if has_b else None
            return f(t, (5,), weight, bias, eps=1e-3)
        arrays = [x] + [w] * has_w + [b] * has_b
        same_forward_backward(lambda *ts: call(DF.layer_norm, *ts),
                              lambda *ts: call(F.layer_norm, *ts), *arrays, tol=1e-12)
    # float32, the everyday case: agreement to float32 rounding
    x32 = (rng.standard_normal((8, 16)) * 4 + 2).astype(np.float32)
    close(dl.nn.LayerNorm(16)(dl.tensor(x32)), torch.nn.LayerNorm(16)(tt(x32)), 2e-6)


def test_layer_norm_errors_match_pytorch():
    with pytest.raises(RuntimeError, match='expected input with shape'):
        torch.nn.LayerNorm(4)(torch.zeros(3, 5))
    with pytest.raises(RuntimeError, match=r'expected input with shape \[\*, 4\], but got '
                                           r'input of size \[3, 5\]'):
        dl.nn.LayerNorm(4)(dl.zeros(3, 5))
    with pytest.raises(RuntimeError): torch.nn.LayerNorm(4)(torch.zeros(3, 4).double())
    with pytest.raises(RuntimeError): dl.nn.LayerNorm(4)(dl.zeros(3, 4).double())


ACTIVATION_PAIRS = [
    (lambda t: DF.gelu(t), lambda t: F.gelu(t)),
    (lambda t: DF.gelu(t, approximate='tanh'), lambda t: F.gelu(t, approximate='tanh')),
    (DF.silu, F.silu),
    (DF.leaky_relu, F.leaky_relu),
    (lambda t: DF.leaky_relu(t, 0.2), lambda t: F.leaky_relu(t, 0.2)),
    (DF.softplus, F.softplus),
    (lambda t: DF.softplus(t, beta=2, threshold=3), lambda t: F.softplus(t, 2, 3)),
    (dl.erf, torch.erf)]


@pytest.mark.parametrize('ours,theirs', ACTIVATION_PAIRS)
def test_smooth_activations(ours, theirs, rng):
    x = np.concatenate([rng.standard_normal(40) * 3, [-30.0, -8.0, -0.7, 0.0, 0.7, 8.0,
                                                      30.0]])
    same_forward_backward(ours, theirs, x, tol=1e-13)
    # float32: agreement to float32 rounding, values and gradients
    x32 = (rng.standard_normal(1000) * 4).astype(np.float32)
    a, at = dl.tensor(x32, requires_grad=True), tt(x32, requires_grad=True)
    ya, yb = ours(a), theirs(at)
    assert ya.dtype == dl.float32 and yb.dtype == torch.float32
    # (PyTorch's float32 1 + erf(x) loses about |x| ulp(1) to cancellation for x < 0)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=5e-7,
                               atol=2e-6)
    ya.sum().backward(); yb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy(), rtol=1e-6, atol=2e-6)


@pytest.mark.parametrize('ours,theirs', [
    (dl.nn.GELU(), torch.nn.GELU()), (dl.nn.GELU('tanh'), torch.nn.GELU('tanh')),
    (dl.nn.SiLU(), torch.nn.SiLU()), (dl.nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (dl.nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
    (dl.nn.Softplus(), torch.nn.Softplus()), (dl.nn.Softplus(2, 4), torch.nn.Softplus(2, 4))])
def test_smooth_activation_modules(ours, theirs, rng):
    assert repr(ours) == repr(theirs)
    same_forward_backward(ours, theirs, rng.standard_normal((5, 4)) * 3)


def test_activation_in_place_matches_pytorch(rng):
    for ours, theirs in ((dl.nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
                         (dl.nn.LeakyReLU(0.1, True), torch.nn.LeakyReLU(0.1, True))):
        assert repr(ours) == repr(theirs)
        x, xt = pair(rng.standard_normal(6))
        y, yt = x * 2, xt * 2
        assert ours(y) is y and theirs(yt) is yt
        close(y, yt)
        y.sum().backward(); yt.sum().backward()
        close(x.grad, xt.grad)


def test_optimizers_skip_frozen_parameters_as_pytorch(rng):
    "Fine-tuning: the first layer frozen; model.parameters() handed to the optimizer."
    def run(lib, opt):
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.GELU(), lib.nn.Linear(4, 2))
        with lib.no_grad():
            for p, v in zip(model.parameters(), start):
                p.copy_(lib.tensor(v))
        model[0].requires_grad_(False)
        o = getattr(lib.optim, opt)(model.parameters(), lr=0.1)
        for _ in range(3):
            o.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y)).backward()
            o.step()
        return [p.detach().numpy() for p in model.parameters()]
    start = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (4,), (2, 4), (2,))]
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    for opt in ('SGD', 'Adam', 'AdamW'):
        ours, theirs = run(dl, opt), run(torch, opt)
        for a, b, s in zip(ours, theirs, start):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.array_equal(ours[0], start[0]) and not np.allclose(ours[2], start[2])
