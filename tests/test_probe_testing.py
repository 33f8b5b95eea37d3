"""Parity with PyTorch for probe T's F2 and F3: the module-level in-place functions
(`torch.sigmoid_(x)`, `torch.clamp_(x, ...)`, ...) and `torch.testing` (`assert_close`,
`assert_allclose`, `make_tensor`).

`assert_close` is run on the same inputs in both libraries: both must pass, or both
raise the same exception type with the same message (up to the library's name in it:
`torch.float32` / `dl.float32`, `torch.Size` / `dl.Size`)."""
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.testing  # noqa: F401  (dl.testing)
import deeplearning101.tensor_ops as tensor_ops

torch = pytest.importorskip("torch")


# --------------------------------------------------------------- in-place functions

def test_the_list_is_torchs():
    "Every public torch.<name>_ function whose method dl has, and only those, is in dl."
    names = [n for n in dir(torch) if n.endswith('_') and not n.startswith('_')
             and callable(getattr(torch, n))]
    want = {n for n in names if hasattr(dl.Tensor, n)} - {'relu_'}   # chapter 03's
    assert set(tensor_ops._all_) == want
    assert want <= set(tensor_ops.__all__)
    for n in ['sigmoid_', 'exp_', 'clamp_', 'zero_', 'nan_to_num_', 'fill_', *want]:
        assert callable(getattr(dl, n)) and getattr(dl, n).__doc__
    # the names chapter 03 defines stay its own
    assert dl.relu_.__module__ == dl.rrelu_.__module__ == dl.threshold_.__module__ \
        == 'deeplearning101.layers'


def _call(lib, name, *args, **kwargs):
    "lib.<name>(x, ...) on a fresh tensor: (the result is x, its values)."
    conv = lambda a: (lib.tensor(a) if isinstance(a, np.ndarray) else
                      tuple(map(conv, a)) if isinstance(a, tuple) else a)
    x, *rest = map(conv, args)
    r = getattr(lib, name)(x, *rest, **kwargs)
    return r is x, x.tolist(), str(x.dtype).split('.')[-1]


U = np.array([0.2, 0.5, 0.9])                    # in every function's domain
UNARY = ['abs_', 'acos_', 'arccos_', 'arcsin_', 'arctan_', 'arctanh_', 'asin_',
         'asinh_', 'arcsinh_', 'atan_', 'atanh_', 'ceil_', 'cos_', 'cosh_', 'deg2rad_',
         'detach_', 'erf_', 'erfc_', 'exp2_', 'exp_', 'expm1_', 'fix_', 'floor_',
         'frac_', 'i0_', 'log10_', 'log1p_', 'log2_', 'log_', 'logit_', 'neg_',
         'negative_', 'rad2deg_', 'reciprocal_', 'round_', 'rsqrt_', 'sigmoid_',
         'sin_', 'sinc_', 'sinh_', 'sqrt_', 'square_', 'tan_', 'tanh_', 'trunc_',
         'zero_']
CASES = [(n, (U,), {}) for n in UNARY] + [
    ('acosh_', (U + 1,), {}), ('arccosh_', (U + 1,), {}),
    ('clamp_', (U, 0.3, 0.6), {}), ('clamp_', (U,), dict(max=0.4)),
    ('clip_', (U,), dict(min=0.4)), ('clamp_min_', (U, 0.5), {}),
    ('clamp_max_', (U, 0.5), {}), ('fill_', (U, 2.5), {}),
    ('round_', (U * 10 + 0.04,), dict(decimals=1)), ('logit_', (U,), dict(eps=0.25)),
    ('nan_to_num_', (np.array([math.nan, math.inf, 1.0]),), dict(nan=7.0, posinf=9.0)),
    ('gcd_', (np.array([12, 18]), np.array([8, 27])), {}),
    ('lcm_', (np.array([4, 6]), np.array([6, 4])), {}),
    ('ldexp_', (U, np.array([1, 2, 3])), {}), ('xlogy_', (U, U + 1), {}),
    ('addmv_', (U, np.eye(3), U), dict(beta=2, alpha=0.5)),
    ('index_put_', (U, (np.array([0, 2]),), np.array(5.0)), dict(accumulate=True)),
    ('resize_as_', (np.arange(6.0), np.zeros((2, 2))), {}),
]


@pytest.mark.parametrize('name, args, kwargs', CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_inplace_function_values(name, args, kwargs):
    got, want = _call(dl, name, *args, **kwargs), _call(torch, name, *args, **kwargs)
    assert got[0] and want[0]                              # returns its input
    assert got[2] == want[2]
    np.testing.assert_allclose(np.array(got[1], float), np.array(want[1], float),
                               rtol=1e-12, atol=1e-12)


def test_inplace_function_gradients():
    "Through autograd as the method: the same gradients as torch.sigmoid_ & co."
    def grads(lib):
        w = lib.tensor([0.3, -0.6, 1.2], dtype=lib.float64, requires_grad=True)
        h = w * 2
        lib.sigmoid_(h)
        g = h * 3
        lib.clamp_(g, min=1.5)
        k = g + 0
        lib.exp_(k)
        (k ** 2).sum().backward()
        return w.grad.tolist()
    np.testing.assert_allclose(grads(dl), grads(torch), rtol=1e-12)


@pytest.mark.parametrize('lib', [dl, torch], ids=['dl', 'torch'])
def test_inplace_function_errors(lib):
    with pytest.raises(TypeError, match=r"sigmoid_\(\): argument 'input' \(position 1\) "
                                        r"must be Tensor, not float"):
        lib.sigmoid_(0.5)
    w = lib.tensor([0.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        lib.sin_(w)
    with pytest.raises(RuntimeError):
        lib.sqrt_(lib.tensor([4, 9]))             # a float result into an int tensor


def test_yolo_decoder_idiom():
    "ultralytics yolov3: torch.sigmoid_(io[..., 4:]) on a view of a plain tensor."
    def run(lib):
        io = lib.tensor(np.linspace(-2, 2, 12).reshape(2, 6))
        lib.sigmoid_(io[..., 4:])
        return io.tolist()
    np.testing.assert_allclose(run(dl), run(torch), rtol=1e-6)


# --------------------------------------------------------------- assert_close

def _outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return 'pass', ''


def _same_words(t):
    "torch's message with dl's names in it."
    return (t.replace("<class 'torch.Tensor'>", "<class 'deeplearning101.graph.Tensor'>")
            .replace("<class 'torch.nn.parameter.Parameter'>", "<class 'PARAM'>")
            .replace('torch.', 'dl.'))


def _dl_words(d):
    return d.replace("<class 'deeplearning101.nn.Parameter'>", "<class 'PARAM'>") \
            .replace("<class 'deeplearning101.layers.Parameter'>", "<class 'PARAM'>")


def _compare(make, full=True, **kwargs):
    t = _outcome(lambda: torch.testing.assert_close(*make(torch), **kwargs))
    d = _outcome(lambda: dl.testing.assert_close(*make(dl), **kwargs))
    assert d[0] == t[0], (t, d)
    tw, dw = _same_words(t[1]), _dl_words(d[1])
    assert dw.split('\n')[0] == tw.split('\n')[0], (t, d)
    if full: assert dw == tw, (t, d)
    return t


def f32(lib, v): return lib.tensor(v, dtype=lib.float32)
def f64(lib, v): return lib.tensor(v, dtype=lib.float64)
def f16(lib, v): return lib.tensor(v, dtype=lib.float16)


ASSERT_CASES = {
    'equal': lambda L: (f32(L, [1.0, 2.0]), f32(L, [1.0, 2.0])),
    'within float32': lambda L: (f32(L, [1.0, 2.0]), f32(L, [1.0, 2.0 + 2e-6])),
    'beyond float32': lambda L: (f32(L, [1.0, 2.0, 3.0]), f32(L, [1.0, 2.0, 3.1])),
    'float64 tight': lambda L: (f64(L, [1.0, 2.0]), f64(L, [1.0, 2.0 + 1e-6])),
    'float64 within': lambda L: (f64(L, [1.0, 2.0]), f64(L, [1.0, 2.0 + 1e-8])),
    'float16 within': lambda L: (f16(L, [1.0, 2.0]), f16(L, [1.0, 2.001])),
    'float16 beyond': lambda L: (f16(L, [1.0, 2.0]), f16(L, [1.0, 2.01])),
    'all differ': lambda L: (f32(L, [2.0, 2.0, 2.0]), f32(L, [1.0, 1.0, 1.0])),
    '2-d index': lambda L: (L.arange(12.0).view(3, 4), L.arange(12.0).view(3, 4) * 1.01),
    'nan': lambda L: (f32(L, [1.0, math.nan]), f32(L, [1.0, math.nan])),
    'nan vs number': lambda L: (f32(L, [1.0, math.nan, 3.0]), f32(L, [1.0, 2.0, 3.1])),
    'inf': lambda L: (f32(L, [math.inf]), f32(L, [math.inf])),
    'inf vs -inf': lambda L: (f32(L, [1.0, math.inf]), f32(L, [1.0, -math.inf])),
    'int': lambda L: (L.tensor([1, 2, 3]), L.tensor([1, 5, 0])),
    'int equal': lambda L: (L.tensor([[1, 2], [3, 4]]), L.tensor([[1, 2], [3, 4]])),
    'bool': lambda L: (L.tensor([True, False]), L.tensor([False, False])),
    'uint8': lambda L: (L.tensor([200, 3], dtype=L.uint8), L.tensor([100, 3],
                                                                     dtype=L.uint8)),
    '0-d': lambda L: (L.tensor(1.0), L.tensor(2.0)),
    '0-d nan': lambda L: (L.tensor(math.nan), L.tensor(math.nan)),
    '0-d int': lambda L: (L.tensor(3), L.tensor(4)),
    'expected zero': lambda L: (f32(L, [1.0, 1e-3]), f32(L, [1.0, 0.0])),
    'shape': lambda L: (f32(L, [1.0, 2.0]).view(2, 1), f32(L, [1.0, 2.0])),
    'dtype': lambda L: (L.ones(2), L.ones(2, dtype=L.float64)),
    'int vs float tensor': lambda L: (L.tensor([1, 2]), f32(L, [1.0, 2.0])),
    'python int': lambda L: (1, 1),
    'python float close': lambda L: (1.0, 1.0 + 1e-9),
    'python float far': lambda L: (1.0, 1.1),
    'python int vs float': lambda L: (1, 1.0),
    'python nan': lambda L: (math.nan, math.nan),
    'python ints differ': lambda L: (3, 4),
    'python zero': lambda L: (1e-3, 0.0),
    'bools': lambda L: (True, True),
    'bools differ': lambda L: (True, False),
    'numpy bool': lambda L: (np.True_, True),
    'bool vs int': lambda L: (True, 1),
    'numpy scalars': lambda L: (np.float32(1.0), np.float64(1.0)),
    'none': lambda L: (None, None),
    'none vs tensor': lambda L: (None, L.ones(1)),
    'tensor vs none': lambda L: (L.ones(1), None),
    'tensor vs array': lambda L: (L.ones(2), np.ones(2)),
    'array vs tensor': lambda L: (np.ones(2), L.ones(2)),
    'arrays': lambda L: (np.array([1.0, 2.0]), np.array([1.0, 2.0])),
    'arrays differ': lambda L: (np.array([1.0, 2.0]), np.array([1.0, 2.5])),
    'float32 arrays': lambda L: (np.float32([1.0, 2.0]), np.float32([1.0, 2.0 + 1e-6])),
    'tensor vs float': lambda L: (L.ones(()), 1.0),
    'tensor vs list': lambda L: (L.ones(2), [1.0, 1.0]),
    'lists': lambda L: ([1, 2.0], [1, 2.0]),
    'list vs tuple': lambda L: ([1, 2], (1, 2)),
    'lengths': lambda L: ([1, 2], [1]),
    'nested': lambda L: ([L.ones(2), {'a': 2}], [L.ones(2), {'a': 2.0}]),
    'nested tensor': lambda L: ({'w': [L.ones(2), L.zeros(2)]},
                                {'w': [L.ones(2), L.ones(2)]}),
    'keys': lambda L: ({'x': L.ones(2), 'z': 1}, {'y': L.ones(2), 'z': 1}),
    'strings': lambda L: ('a', 'a'),
    'string vs list': lambda L: ('ab', ['a', 'b']),
}


@pytest.mark.parametrize('name', list(ASSERT_CASES))
def test_assert_close_parity(name):
    _compare(ASSERT_CASES[name], full=name != 'bool vs int')


@pytest.mark.parametrize('kwargs', [
    dict(rtol=0.1, atol=0.0), dict(rtol=0.0, atol=0.05), dict(rtol=0, atol=0),
    dict(rtol=0.1), dict(atol=0.1), dict(equal_nan=True), dict(check_dtype=False),
    dict(check_stride=True), dict(check_device=False), dict(allow_subclasses=False),
    dict(msg="Argh, the tensors are not close!"),
    dict(msg=lambda m: f"Header\n\n{m}\n\nFooter"), dict(check_layout=False),
], ids=repr)
@pytest.mark.parametrize('name', ['beyond float32', 'nan', 'dtype', 'int', '0-d',
                                  'nested tensor', 'python float far', 'equal',
                                  'int vs float tensor', 'keys', 'lengths'])
def test_assert_close_options(name, kwargs):
    _compare(ASSERT_CASES[name], **kwargs)


def test_assert_close_integer_tolerances():
    "Integers and bools with tolerances: computed as PyTorch (a float32 relative diff)."
    _compare(lambda L: (L.tensor([1, 2]), L.tensor([1, 3])), rtol=0.1, atol=0.5)
    _compare(lambda L: (L.tensor([1, 2]), L.tensor([1, 3])), rtol=0.5, atol=0.5)
    _compare(lambda L: (L.tensor([True, False]), L.tensor([False, False])),
             rtol=0.1, atol=0.1)


def test_assert_close_stride_and_subclass():
    _compare(lambda L: (L.ones(2, 3).t(), L.ones(3, 2)), check_stride=True)
    _compare(lambda L: (L.ones(2, 3).t(), L.ones(3, 2)))
    _compare(lambda L: (L.nn.Parameter(L.ones(2)), L.ones(2)))
    _compare(lambda L: (L.nn.Parameter(L.ones(2)), L.ones(2)), allow_subclasses=False)


def test_assert_close_random_mismatches():
    "Where the greatest differences are, and their values, on random tensors."
    rng = np.random.default_rng(0)
    for dtype in ('float16', 'float32', 'float64', 'int64', 'int32'):
        for shape in [(7,), (3, 4), (2, 3, 2)]:
            a = rng.uniform(-5, 5, shape).astype(dtype)
            b = (a + rng.choice([0, 0, 1e-2, 1], shape)
                 * rng.uniform(0.5, 2, shape)).astype(dtype)
            _compare(lambda L: (L.tensor(a), L.tensor(b)))


def test_assert_close_with_grad():
    "Tensors that require grad compare by value, as in torch."
    _compare(lambda L: (L.ones(2, requires_grad=True) * 2, L.full((2,), 2.0)))
    _compare(lambda L: (L.ones(2, requires_grad=True), L.zeros(2)))


# --------------------------------------------------------------- assert_allclose

@pytest.mark.parametrize('make, kwargs', [
    (lambda L: (f32(L, [1.0, 2.0]), [1.0, 2.0001]), {}),
    (lambda L: (f32(L, [1.0, 2.0]), [1.0, 2.01]), {}),
    (lambda L: (f32(L, [1.0, math.nan]), [1.0, math.nan]), {}),
    (lambda L: (f32(L, [1.0, math.nan]), [1.0, math.nan]), dict(equal_nan=False)),
    (lambda L: (L.tensor([1, 2]), f32(L, [1.0, 2.0])), {}),
    (lambda L: ([1.0, 2.0], [1.0, 2.5]), dict(rtol=0.1, atol=0.0)),
    (lambda L: (f64(L, [1.0]), [1.0 + 1e-6]), {}),
    (lambda L: (f64(L, [1.0]), [1.0 + 1e-4]), dict(msg='custom')),
    (lambda L: (f64(L, [1.0]), [1.0]), dict(rtol=0.1)),
])
def test_assert_allclose(make, kwargs):
    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            r = _outcome(lambda: lib.testing.assert_allclose(*make(lib), **kwargs))
        assert [w.category for w in caught] == [FutureWarning]
        return r
    t, d = run(torch), run(dl)
    assert d[0] == t[0]
    assert _dl_words(d[1]) == _same_words(t[1])


# --------------------------------------------------------------- make_tensor

@pytest.mark.parametrize('dtype', ['float32', 'float64', 'float16', 'int64', 'int32',
                                   'int16', 'int8', 'uint8', 'bool'])
def test_make_tensor_ranges(dtype):
    def make(lib, *shape, **kw):
        return lib.testing.make_tensor(*shape, dtype=getattr(lib, dtype), device='cpu',
                                       **kw)
    for lib in (dl, torch):
        x = make(lib, 200, 3)
        assert tuple(x.shape) == (200, 3) and str(x.dtype).endswith(dtype)
        v = x.numpy().astype(float)
        lo, hi = {'bool': (0, 1), 'uint8': (0, 9)}.get(dtype, (-9, 9))
        assert lo <= v.min() and v.max() <= hi and len(np.unique(v)) > 1
        low, high = (0, 2) if dtype == 'bool' else (2, 4)
        y = make(lib, (4, 5), low=low, high=high, exclude_zero=True)
        assert tuple(y.shape) == (4, 5) and 1 <= y.numpy().astype(float).min()
        assert y.numpy().astype(float).max() <= high
        z = make(lib, 3, 4, noncontiguous=True)
        assert not z.is_contiguous() and tuple(z.shape) == (3, 4)


@pytest.mark.parametrize('kwargs', [dict(dtype='int64', requires_grad=True),
                                    dict(dtype='float32', low=3, high=1),
                                    dict(dtype='float32', low=math.nan),
                                    dict(dtype='uint8', low=300, high=400),
                                    dict(dtype='float32', noncontiguous=True,
                                         memory_format='contiguous_format')])
def test_make_tensor_errors(kwargs):
    def run(lib):
        kw = dict(kwargs, dtype=getattr(lib, kwargs['dtype']))
        if 'memory_format' in kw: kw['memory_format'] = getattr(lib, kw['memory_format'])
        return _outcome(lambda: lib.testing.make_tensor(2, 2, device='cpu', **kw))
    t, d = run(torch), run(dl)
    assert t[0] == d[0] == 'ValueError'
    assert d[1].split(',')[0] == t[1].split(',')[0]


def test_make_tensor_requires_grad():
    x = dl.testing.make_tensor(3, dtype=dl.float64, device='cpu', requires_grad=True)
    assert x.requires_grad and x.is_leaf
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
