"""Tensors print as PyTorch's do: the same digits, widths, e-notation, summaries, line breaks and
suffixes (dtype, requires_grad, grad_fn), checked by printing the same tensors with both libraries.
The one difference by design: dtypes print as `dl.float64` where PyTorch writes `torch.float64`."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deeplearning101 as dl

torch = pytest.importorskip('torch')


def same(make, **opts):
    "repr of what make(lib) returns, with both libraries (and print options `opts` set on both)."
    outs = []
    for lib in (torch, dl):
        lib.set_printoptions(**opts)
        try:
            outs.append(repr(make(lib)).replace('torch.', 'dl.'))
        finally:
            lib.set_printoptions(profile='default')
    assert outs[1] == outs[0], f"\ndl:    {outs[1]}\ntorch: {outs[0]}"


rng = np.random.default_rng(0)
ARRAYS = {
    'fractions': np.array([1.5, 2.0, -0.25], np.float32),
    'whole floats': np.array([1.0, -20.0, 300.0], np.float32),
    'tiny': np.array([1e-5, 2e-5], np.float32),
    'mixed magnitudes': np.array([1e-3, 1.0, 5e3], np.float32),
    'huge': np.array([3e9, 1.0], np.float32),
    'whole, wide range': np.array([1.0, 1e6], np.float32),
    'zeros': np.zeros(4, np.float32),
    'nan and inf': np.array([np.nan, 0.0, np.inf, -np.inf, 1.5], np.float32),
    'negative zero': np.array([-0.0, 1.25], np.float32),
    'matrix': rng.standard_normal((3, 4)).astype(np.float32),
    'wide matrix': rng.standard_normal((2, 30)).astype(np.float32),
    '3-d': rng.standard_normal((2, 3, 4)).astype(np.float32),
    '4-d': np.arange(48, dtype=np.float32).reshape(2, 2, 3, 4) / 7,
    'long vector': np.arange(2000, dtype=np.float32) / 3,
    'large matrix': rng.standard_normal((50, 40)).astype(np.float32),
    'large 3-d': np.arange(3000, dtype=np.float32).reshape(10, 15, 20),
    'float64': rng.standard_normal(5),
    'float16': np.array([0.1, 2.5, 3.0], np.float16),
    'int64': np.array([[1, -20], [300, 4]], np.int64),
    'int32': np.array([7, 8], np.int32),
    'uint8': np.array([0, 255], np.uint8),
    'long ints': np.arange(1500, dtype=np.int64),
    'bool': np.array([True, False, True]),
    'scalar': np.array(3.25, np.float32),
    'whole scalar': np.array(3.0, np.float32),
    'int scalar': np.array(5, np.int64),
    'empty': np.zeros(0, np.float32),
    'empty matrix': np.zeros((0, 3), np.float32),
    'empty int': np.zeros(0, np.int64),
}


@pytest.mark.parametrize('name', list(ARRAYS))
def test_prints_as_torch(name):
    same(lambda lib: lib.tensor(ARRAYS[name]))


@pytest.mark.parametrize('opts', [dict(precision=2), dict(precision=6), dict(sci_mode=True),
                                  dict(sci_mode=False), dict(threshold=5), dict(edgeitems=1, threshold=5),
                                  dict(linewidth=40), dict(profile='short'), dict(profile='full')])
@pytest.mark.parametrize('name', ['fractions', 'tiny', 'wide matrix', 'long vector', 'int64', 'large 3-d'])
def test_print_options_as_torch(name, opts):
    same(lambda lib: lib.tensor(ARRAYS[name]), **opts)


GRAPH = ['leaf', 'add', 'sub', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'relu', 'sigmoid', 'tanh', 'mm', 'mv',
         'dot', 'sum', 'sum_dim', 'mean', 'mean_dim', 'softmax', 'log_softmax', 'cross_entropy', 'linear',
         'linear_nobias', 'view', 'reshape', 'select', 'slice', 'index', 'cat', 'stack', 'clamp', 'leaky',
         'cumsum', 'sin']


@pytest.mark.parametrize('what', GRAPH)
def test_requires_grad_and_grad_fn_as_torch(what):
    def graph(lib, what):
        x = lib.tensor(np.array([[1.5, -2.0, 0.5], [3.0, 1.0, -1.0]], np.float32), requires_grad=True)
        w = lib.tensor(np.ones((3, 4), np.float32), requires_grad=True)
        v = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        F = lib.nn.functional
        return dict(leaf=x, add=x + 1, sub=x - x, mul=x * 2, div=x / 2, neg=-x, pow=x ** 2, exp=x.exp(),
                    log=x.abs().log(), relu=x.relu(), sigmoid=x.sigmoid(), tanh=x.tanh(), mm=x @ w, mv=x @ v,
                    dot=v @ v, sum=x.sum(), sum_dim=x.sum(1), mean=x.mean(), mean_dim=x.mean(0),
                    softmax=x.softmax(1), log_softmax=x.log_softmax(1),
                    cross_entropy=F.cross_entropy(x, lib.tensor([0, 1])),
                    linear=F.linear(x, w.T, lib.ones(4)), linear_nobias=F.linear(x, w.T),
                    view=x.view(6), reshape=x.reshape(3, 2), select=x[0], slice=x[:, 1:],
                    index=x[lib.tensor([0, 1])], cat=lib.cat([x, x]), stack=lib.stack([x, x]),
                    clamp=x.clamp(0, 1), leaky=F.leaky_relu(x), cumsum=x.cumsum(1), sin=x.sin())[what]
    same(lambda lib: graph(lib, what))


def test_parameter_prints_as_torch():
    same(lambda lib: lib.nn.Parameter(lib.tensor(ARRAYS['matrix'])))


def test_long_suffixes_wrap_as_torch():
    same(lambda lib: lib.tensor(np.arange(11, dtype=np.float64) / 3, requires_grad=True))
    same(lambda lib: lib.tensor(np.arange(5, dtype=np.int32) * 1000000))


finite = st.floats(-1e10, 1e10, allow_nan=False, width=32)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(finite, st.sampled_from([0.0, 1.0, -3.0, np.nan, np.inf, 1e-6])), min_size=1, max_size=30),
       st.integers(1, 3))
def test_any_float_vector_prints_as_torch(values, rows):
    a = np.array(values * rows, np.float32).reshape(rows, -1)
    same(lambda lib: lib.tensor(a))


def test_grad_fn_objects_print_as_torch():
    for lib in (dl, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 2).sum()
        name = repr(y.grad_fn).split(' object at 0x')
        assert name[0] == '<SumBackward0' and name[1].endswith('>')
        (fn, _), = y.grad_fn.next_functions
        assert repr(fn).startswith('<MulBackward0 object at 0x')
        assert repr(fn.next_functions[0][0]).startswith('<AccumulateGrad object at 0x')


@pytest.mark.parametrize('what', ['max', 'min', 'topk', 'sort', 'kthvalue', 'median', 'mode', 'cummax', 'aminmax'])
def test_named_results_print_as_torch(what):
    a = np.array([[1.0, 3.0, 2.5], [2.0, 0.0, -1.5]], np.float32)
    calls = dict(max=lambda t: t.max(1), min=lambda t: t.min(0), topk=lambda t: t.topk(2), sort=lambda t: t.sort(1),
                 kthvalue=lambda t: t.kthvalue(2, 1), median=lambda t: t.median(1), mode=lambda t: t.mode(1),
                 cummax=lambda t: t.cummax(1), aminmax=lambda t: t.aminmax(dim=0))
    same(lambda lib: calls[what](lib.tensor(a)))
