"""Parity with PyTorch: deepcopy of parameters and modules, model surgery (`_modules`,
`set_submodule`, `Sequential` + and *), name clashes of `register_buffer`, a child set to
None in the printout, `nn.init.dirac_` / `sparse_`, and the loss functions' target
checks (broadcast targets with PyTorch's warning, int64/uint8 class indices, one_hot).
Each program runs on deeplearning101 and on torch and the results are compared."""
import copy
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

LIBS = [dl, torch]


def _err(fn):
    "(exception class name, message) of what `fn()` raises; None when it returns."
    try: fn()
    except Exception as e: return type(e).__name__, str(e).strip("'\"")
    return None


def _same_err(fn):
    "`fn(L)` raises the same exception class with the same message on both libraries."
    got = [_err(lambda: fn(L)) for L in LIBS]
    assert got[0] is not None, "dl raised nothing"
    assert got[0] == got[1], got


def _np(t): return t.detach().numpy() if hasattr(t, 'detach') else np.asarray(t)


def _linear(L, n_in=2, n_out=2, seed=0):
    "A Linear with the same weights on both libraries."
    rng = np.random.default_rng(seed)
    lin = L.nn.Linear(n_in, n_out)
    with L.no_grad():
        lin.weight.copy_(L.tensor(rng.standard_normal((n_out, n_in)).astype(np.float32)))
        lin.bias.copy_(L.tensor(rng.standard_normal(n_out).astype(np.float32)))
    return lin


# ------------------------------------------------------------------ deepcopy
def _deepcopy_program(L):
    lin = _linear(L)
    lin(L.ones(1, 2)).sum().backward()
    lin.weight.tag = 'mine'                       # an attribute of the parameter's own
    frozen = L.nn.Parameter(L.ones(3), requires_grad=False)
    c, cf = copy.deepcopy(lin), copy.deepcopy(frozen)
    L.optim.SGD(c.parameters(), lr=1.0).step()    # no gradients: nothing moves
    with L.no_grad(): c.bias.add_(1.0)            # the copy owns its memory
    return dict(
        grad=c.weight.grad is None, orig_grad=lin.weight.grad is not None,
        type=type(c.weight).__name__, rg=(c.weight.requires_grad, cf.requires_grad),
        tag=hasattr(c.weight, 'tag'), moved=(c.weight - lin.weight).abs().sum().item(),
        bias_diff=(c.bias - lin.bias).tolist(), new=c.weight is not lin.weight,
        leaf=c.weight.is_leaf, frozen_type=type(cf).__name__)


def test_deepcopy_parameter_as_torch():
    d, t = _deepcopy_program(dl), _deepcopy_program(torch)
    assert d == t
    assert d['grad'] and not d['tag'] and d['moved'] == 0.0


def _deepcopy_shared_program(L):
    a, b = _linear(L, 2, 2, 1), _linear(L, 2, 2, 2)
    b.weight = a.weight                            # tied weights
    net = L.nn.Sequential(a, b, a)                 # a shared layer
    net(L.ones(3, 2)).sum().backward()
    c = copy.deepcopy(net)
    x = L.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2))
    return dict(tied=c[1].weight is c[0].weight, shared=c[0] is c[2],
                n=len(list(c.parameters())), grads=[p.grad is None for p in c.parameters()],
                out=_np(c(x)).round(5).tolist(), same=np.allclose(_np(c(x)), _np(net(x))))


def test_deepcopy_keeps_sharing_drops_grads():
    d, t = _deepcopy_shared_program(dl), _deepcopy_shared_program(torch)
    assert d == t and d['tied'] and all(d['grads'])


def test_deepcopy_plain_leaf_keeps_grad():
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        x.note = 7
        c = copy.deepcopy(x)
        assert c.grad.tolist() == [3.0, 3.0] and c.requires_grad and c.note == 7
        assert type(c).__name__ == 'Tensor' and c.grad is not x.grad


# ------------------------------------------------------------------ _modules
def _modules_program(L):
    m = L.nn.Sequential(_linear(L, 2, 3), L.nn.ReLU())
    out = {'keys': list(m._modules.keys()), 'len': len(m._modules),
           'types': [type(v).__name__ for v in m._modules.values()]}
    m._modules['2'] = _linear(L, 3, 1)             # registers: its parameters count
    out['n_params'] = len(list(m.parameters()))
    out['shape'] = list(m(L.ones(4, 2)).shape)
    for name, child in m._modules.items():          # replace while iterating
        if isinstance(child, L.nn.ReLU): m._modules[name] = L.nn.Tanh()
    out['tanh'] = type(m[1]).__name__
    del m._modules['2']
    out['after_del'] = (list(m._modules), len(list(m.parameters())), '2' in m._modules)
    m._modules['head'] = None
    out['none'] = (list(m._modules), m._modules['head'], len(list(m.children())))
    out['get'] = m._modules.get('nope', 'missing')
    return out


def test_modules_view_as_torch():
    assert _modules_program(dl) == _modules_program(torch)


def _print_none_program(L):
    m = L.nn.Sequential()
    m.add_module('fc', L.nn.Linear(1, 1))
    m.add_module('head', L.nn.Linear(1, 2))
    m.head = None
    m.add_module('extra', None)
    return str(m), [n for n, _ in m.named_children()], str(L.nn.Module())


def test_none_child_printed_as_torch():
    assert _print_none_program(dl) == _print_none_program(torch)
    assert '(head): None' in _print_none_program(dl)[0]


def test_child_slot_refuses_non_modules():
    for L in LIBS:
        m = L.nn.Sequential()
        m.fc = L.nn.Linear(1, 1)
        with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc'"):
            m.fc = 3
        m.fc = None                                # None is fine
        m.fc = L.nn.Linear(2, 2)
        assert [n for n, _ in m.named_children()] == ['fc']


# ------------------------------------------------------------------ set_submodule
def _set_submodule_program(L):
    m = L.nn.Sequential(_linear(L, 2, 3), L.nn.Sequential(L.nn.ReLU(), _linear(L, 3, 1)))
    m.set_submodule('1.0', L.nn.Tanh())
    m.set_submodule('1.new', L.nn.Identity())                 # added to the parent
    m.set_submodule('0', _linear(L, 2, 3, seed=5), strict=True)
    return (type(m[1][0]).__name__, list(m[1]._modules), _np(m[0].weight).tolist(),
            list(m(L.ones(2, 2)).shape))


def test_set_submodule_as_torch():
    assert _set_submodule_program(dl) == _set_submodule_program(torch)


@pytest.mark.parametrize('call', [
    lambda L, m: m.set_submodule('', L.nn.ReLU()),
    lambda L, m: m.set_submodule('1.zz', L.nn.ReLU(), strict=True),
    lambda L, m: m.set_submodule('0.weight', L.nn.ReLU()),
])
def test_set_submodule_errors_as_torch(call):
    _same_err(lambda L: call(L, L.nn.Sequential(L.nn.Linear(1, 1), L.nn.Sequential())))


def test_set_submodule_errors_types():
    for L in LIBS:
        m = L.nn.Sequential(L.nn.Linear(1, 1))
        with pytest.raises(ValueError, match='is not an nn.Module'): m.set_submodule('0', 3)
        with pytest.raises(AttributeError): m.set_submodule('9.x', L.nn.ReLU())


# ------------------------------------------------------------------ Sequential + and *
def _sequential_ops_program(L):
    a, b = _linear(L, 2, 2, 1), L.nn.Tanh()
    s = L.nn.Sequential(a, b)
    named = L.nn.Sequential(__import__('collections').OrderedDict(fc=_linear(L, 2, 2, 3)))
    out = {}
    plus = s + named
    out['plus'] = (list(plus._modules), plus[0] is a, plus[2] is named.fc)
    times, rtimes = s * 3, 2 * s
    out['times'] = (list(times._modules), times[2] is a, len(rtimes), rtimes[3] is b)
    x = L.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2))
    out['times_fwd'] = _np(times(x)).round(5).tolist()
    s2 = L.nn.Sequential(a, b)
    s2 += named
    out['iadd'] = (list(s2._modules), s2[2] is named.fc)
    s3 = L.nn.Sequential(a, b)
    s3 *= 3
    out['imul'] = (list(s3._modules), s3[4] is a, len(list(s3.parameters())))
    named += L.nn.Sequential(L.nn.ReLU())
    out['named_iadd'] = list(named._modules)
    out['plus_type'] = type(plus).__name__
    return out


def test_sequential_add_mul_as_torch():
    d, t = _sequential_ops_program(dl), _sequential_ops_program(torch)
    assert d == t and len(d['times'][0]) == 6


def _torch_words(s):
    "torch's class paths and names as dl's, for messages that print `type(x)`."
    return (s.replace('torch.nn.modules.container.', 'deeplearning101.layers.')
            .replace('torch.nn.modules.linear.', 'deeplearning101.layers.'))


@pytest.mark.parametrize('call', [
    lambda L, s: s + L.nn.ModuleList([L.nn.ReLU()]),
    lambda L, s: s.__iadd__(L.nn.Linear(1, 1)),
    lambda L, s: s * 0,
    lambda L, s: s * 1.5,
    lambda L, s: s.__imul__(-1),
])
def test_sequential_add_mul_errors_as_torch(call):
    got = [_err(lambda: call(L, L.nn.Sequential(L.nn.ReLU()))) for L in LIBS]
    assert got[0] is not None and got[0][0] == got[1][0]
    assert got[0][1] == _torch_words(got[1][1])


# ------------------------------------------------------------------ register_* clashes
@pytest.mark.parametrize('call', [
    lambda L, m: m.register_buffer('weight', L.zeros(1)),      # a parameter's name
    lambda L, m: m.register_buffer('foo', L.zeros(1)),         # a plain attribute's
    lambda L, m: m.register_buffer('forward', L.zeros(1)),     # a method's
    lambda L, m: m.register_parameter('buf', L.nn.Parameter(L.zeros(1))),   # a buffer's
    lambda L, m: m.register_parameter('foo', None),
    lambda L, m: m.add_module('weight', L.nn.ReLU()),
    lambda L, m: m.add_module('buf', L.nn.ReLU()),
])
def test_register_name_clash_as_torch(call):
    def prog(L):
        m = L.nn.Linear(2, 2)
        m.register_buffer('buf', L.ones(1))
        m.foo = 3
        call(L, m)
    _same_err(prog)
    assert _err(lambda: prog(dl))[0] == 'KeyError'


def test_register_same_kind_again_is_fine():
    for L in LIBS:
        m = L.nn.Linear(2, 2)
        m.register_buffer('buf', L.ones(1))
        m.register_buffer('buf', L.zeros(2))                   # a buffer again
        m.register_parameter('bias', None)                     # a parameter again
        m.add_module('sub', L.nn.ReLU())
        m.add_module('sub', L.nn.Tanh())                       # a module again
        assert m.buf.tolist() == [0.0, 0.0] and m.bias is None
        assert type(m.sub).__name__ == 'Tanh'
        assert [n for n, _ in m.named_parameters()] == ['weight']


# ------------------------------------------------------------------ nn.init
@pytest.mark.parametrize('shape,groups', [((2, 2, 3), 1), ((4, 2, 3), 2), ((3, 5, 4), 1),
                                           ((2, 4, 3, 3), 1), ((6, 2, 3, 3), 3),
                                           ((4, 3, 3, 2, 3), 2), ((5, 2, 1), 1)])
def test_dirac_as_torch(shape, groups):
    d = dl.nn.init.dirac_(dl.full(shape, 7.0), groups=groups)
    t = torch.nn.init.dirac_(torch.full(shape, 7.0), groups=groups)
    assert np.array_equal(d.numpy(), t.numpy())


def test_dirac_makes_an_identity_conv_and_keeps_the_tensor():
    w = dl.nn.Parameter(dl.empty(3, 3, 3, 3))
    out = dl.nn.init.dirac_(w)
    assert out is w and w.requires_grad and w.grad is None
    x = dl.tensor(np.random.default_rng(0).standard_normal((1, 3, 5, 5)).astype(np.float32))
    assert np.allclose(dl.nn.functional.conv2d(x, w, padding=1).detach().numpy(), x.numpy())


@pytest.mark.parametrize('call', [
    lambda L: L.nn.init.dirac_(L.empty(2, 2)),
    lambda L: L.nn.init.dirac_(L.empty(3, 2, 3), groups=2),
    lambda L: L.nn.init.sparse_(L.empty(2, 2, 2), 0.5),
    lambda L: L.nn.init.sparse_(L.empty(3), 0.5),
    lambda L: L.nn.init.xavier_uniform_(L.empty(5)),
    lambda L: L.nn.init.xavier_normal_(L.empty(5)),
    lambda L: L.nn.init.kaiming_uniform_(L.empty(5)),
    lambda L: L.nn.init.kaiming_normal_(L.empty(5)),
])
def test_init_errors_as_torch(call):
    _same_err(call)


@pytest.mark.parametrize('shape,sparsity', [((10, 4), 0.3), ((7, 3), 0.5), ((5, 6), 0.0),
                                             ((4, 2), 1.0)])
def test_sparse_zeros_per_column(shape, sparsity):
    dl.manual_seed(0)
    w = dl.nn.init.sparse_(dl.empty(*shape), sparsity=sparsity, std=0.5).numpy()
    t = torch.nn.init.sparse_(torch.empty(*shape), sparsity=sparsity, std=0.5).numpy()
    zeros = math.ceil(sparsity * shape[0])
    assert ((w == 0).sum(axis=0) == zeros).all() and ((t == 0).sum(axis=0) == zeros).all()
    assert w.dtype == t.dtype == np.float32


def test_sparse_std_and_generator():
    w = dl.nn.init.sparse_(dl.empty(400, 50), sparsity=0.1, std=0.02)
    nz = w.numpy()[w.numpy() != 0]
    assert nz.size == 360 * 50 and abs(nz.std() / 0.02 - 1) < 0.03
    g1, g2 = dl.Generator().manual_seed(3), dl.Generator().manual_seed(3)
    a = dl.nn.init.sparse_(dl.empty(6, 4), 0.5, generator=g1).numpy()
    b = dl.nn.init.sparse_(dl.empty(6, 4), 0.5, generator=g2).numpy()
    assert np.array_equal(a, b)


# ------------------------------------------------------------------ losses: broadcast targets
LOSSES = [
    lambda L, x, y: L.nn.functional.mse_loss(x, y),
    lambda L, x, y: L.nn.functional.l1_loss(x, y, reduction='sum'),
    lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, beta=0.5),
    lambda L, x, y: L.nn.functional.huber_loss(x, y, delta=0.7),
    lambda L, x, y: L.nn.MSELoss(reduction='none')(x, y).sum(),
    lambda L, x, y: L.nn.functional.mse_loss(x, y, weight=L.ones(*x.shape) * 2),
    lambda L, x, y: L.nn.functional.huber_loss(x, y, weight=L.ones(*x.shape) * 2),
]


def _broadcast_program(L, loss, xs, ys):
    rng = np.random.default_rng(0)
    x = L.tensor(rng.standard_normal(xs), requires_grad=True)
    y = L.tensor(rng.standard_normal(ys), requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = loss(L, x, y)
    out.backward()
    msgs = [str(w.message).replace('torch.Size', 'dl.Size') for w in caught
            if issubclass(w.category, UserWarning)]
    return out.item(), _np(x.grad), _np(y.grad), msgs


@pytest.mark.parametrize('loss', LOSSES)
@pytest.mark.parametrize('xs,ys', [((4, 1), (4,)), ((4,), (4, 1)), ((3,), ()),
                                   ((2, 1, 3), (4, 1)), ((4, 3), (4, 3))])
def test_broadcast_target_as_torch(loss, xs, ys):
    d, t = (_broadcast_program(L, loss, xs, ys) for L in LIBS)
    assert np.isclose(d[0], t[0], rtol=1e-6)
    assert np.allclose(d[1], t[1], rtol=1e-6) and np.allclose(d[2], t[2], rtol=1e-6)
    assert d[3] == t[3]                                    # the same warning, or none
    assert bool(d[3]) == (xs != ys)


@pytest.mark.parametrize('loss', LOSSES[:4])
@pytest.mark.parametrize('xs,ys', [((4, 3), (4,)), ((2, 3, 4), (3, 2))])
def test_unbroadcastable_target_as_torch(loss, xs, ys):
    def prog(L):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            loss(L, L.ones(*xs), L.zeros(*ys))
    _same_err(prog)


def test_broadcast_warning_text_and_weight_shape():
    with pytest.warns(UserWarning) as rec:
        dl.nn.functional.mse_loss(dl.ones(4, 1), dl.zeros(4))
    assert str(rec[0].message) == (
        "Using a target size (dl.Size([4])) that is different to the input size "
        "(dl.Size([4, 1])). This will likely lead to incorrect results due to "
        "broadcasting. Please ensure they have the same size.")
    assert rec[0].filename == __file__                     # points at the caller
    for L in LIBS:      # the weights must have the input's shape, not the broadcast one
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with pytest.raises(ValueError, match='Weights and input must have the same'):
                L.nn.functional.mse_loss(L.ones(4, 1), L.zeros(4), weight=L.ones(4, 4))


# ------------------------------------------------------------------ class-index targets
BAD_TARGET_DTYPES = ['int32', 'int16', 'int8', 'float32', 'float64', 'bool']


@pytest.mark.parametrize('dtype', BAD_TARGET_DTYPES)
@pytest.mark.parametrize('fn', [
    lambda L, z, y: L.nn.functional.cross_entropy(z, y),
    lambda L, z, y: L.nn.functional.cross_entropy(z, y, label_smoothing=0.1),
    lambda L, z, y: L.nn.functional.cross_entropy(z, y, weight=L.ones(3)),
    lambda L, z, y: L.nn.functional.nll_loss(z, y),
    lambda L, z, y: L.nn.CrossEntropyLoss()(z, y),
])
def test_class_target_dtype_as_torch(fn, dtype):
    def prog(L):
        z = L.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        fn(L, z, L.tensor(np.array([1, 0]).astype(dtype)))
    _same_err(prog)


@pytest.mark.parametrize('dtype', ['int32', 'float32'])
def test_class_target_dtype_other_layouts(dtype):
    def prog_4d(L):
        z = L.tensor(np.zeros((2, 3, 2), np.float32))
        L.nn.functional.cross_entropy(z, L.tensor(np.zeros((2, 2), dtype)))
    def prog_1d(L):
        L.nn.functional.nll_loss(L.zeros(3), L.tensor(np.array(1, dtype)))
    _same_err(prog_4d)
    _same_err(prog_1d)


@pytest.mark.parametrize('dtype', ['int64', 'uint8'])
def test_class_target_long_and_byte_as_torch(dtype):
    rng = np.random.default_rng(1)
    z0 = rng.standard_normal((5, 4))
    y0 = np.array([0, 3, 1, 2, 3]).astype(dtype)
    res = []
    for L in LIBS:
        z = L.tensor(z0, requires_grad=True)
        y = L.tensor(y0)
        loss = (L.nn.functional.cross_entropy(z, y)
                + L.nn.functional.nll_loss(L.log_softmax(z, 1), y, reduction='sum'))
        loss.backward()
        res.append((loss.item(), _np(z.grad)))
    assert np.isclose(res[0][0], res[1][0]) and np.allclose(res[0][1], res[1][1])


@pytest.mark.parametrize('dtype', ['int32', 'int16', 'uint8', 'bool', 'float32'])
def test_one_hot_needs_int64_as_torch(dtype):
    _same_err(lambda L: L.nn.functional.one_hot(L.tensor(np.array([1, 0]).astype(dtype)), 3))


def test_one_hot_int64_as_torch():
    d = dl.nn.functional.one_hot(dl.tensor([2, 0, 1]), 4)
    t = torch.nn.functional.one_hot(torch.tensor([2, 0, 1]), 4)
    assert np.array_equal(d.numpy(), t.numpy()) and str(d.dtype) == 'dl.int64'
