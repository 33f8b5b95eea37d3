"""Parity with PyTorch for the fixes of probes O and P in chapter 01b (tensor_ops).

Each case is written once against a library namespace (`dl` or `torch`) and run with
both; values, signed zeros, dtypes, shapes, strides, errors and gradients are compared.
Covered: `unique` with NaNs, the sign of a zero `remainder`, `Tensor.unfold` as a view,
the element-wise functions `hypot` ... `angle`, the in-place forms, `resize_`, the
strided and product functions (`as_strided` ... `linalg.cholesky_ex`), einsum's sublist
format, `out=` for the logical ops, `cumsum` and `sort`, `norm(p=0 / 'nuc')`, the gradient
of `div(rounding_mode='floor')` and the error of `round(decimals=)` on integers.
"""
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101.graph import range as dl_range   # dl.range once __init__ lists it

torch = pytest.importorskip("torch")

NAN, INF = math.nan, math.inf


def arr(t):
    "A tensor's values as a NumPy array (detached)."
    return np.asarray(t.detach().numpy() if hasattr(t, 'detach') else t)


def dtype_name(t):
    return str(t.dtype).split('.')[-1]


def check(a, b, tol=1e-6, signed_zero=False):
    "dl's result `a` against torch's `b`: shape, dtype, values (NaNs equal)."
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b): check(x, y, tol, signed_zero)
        return
    if isinstance(b, torch.Tensor):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        assert dtype_name(a) == dtype_name(b), (a.dtype, b.dtype)
        x, y = arr(a), b.detach().numpy()
        if x.dtype.kind == 'f' or y.dtype.kind == 'f':
            np.testing.assert_allclose(x.astype(np.float64), y.astype(np.float64),
                                       rtol=tol, atol=tol, equal_nan=True)
            if signed_zero:
                real = ~np.isnan(y)                 # a NaN's sign bit means nothing
                np.testing.assert_array_equal(np.signbit(x)[real], np.signbit(y)[real])
        else:
            np.testing.assert_array_equal(x, y)
    else:
        assert a == b, (a, b)


def run(fn, *args, **kw):
    "fn(lib) for both libraries, compared."
    check(fn(dl, *args), fn(torch, *args), **kw)


def raises_both(fn, exc, match):
    "Both libraries raise `exc` with a message containing `match`."
    for lib in (dl, torch):
        with pytest.raises(exc) as info:
            fn(lib)
        assert match in str(info.value), (lib.__name__, str(info.value))


def grads(fn, *values, dtype='float64'):
    "The gradients of fn(lib, *tensors).sum() for both libraries, compared."
    out = []
    for lib in (dl, torch):
        ts = [lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=True) for v in values]
        fn(lib, *ts).sum().backward()
        out.append([t.grad for t in ts])
    for g, h in zip(*out):
        if h is None: assert g is None
        else: check(g, h, tol=1e-6)


# --------------------------------------------------------------------------- S2 unique

@pytest.mark.parametrize('values', [[3., NAN, 3., NAN], [NAN, NAN, NAN], [1., NAN, 0., 1.],
                                    [2., 1., 2.], [NAN]])
@pytest.mark.parametrize('inv,counts', [(False, False), (True, False), (False, True),
                                        (True, True)])
def test_unique_keeps_each_nan(values, inv, counts):
    run(lambda L: L.unique(L.tensor(values), return_inverse=inv, return_counts=counts))


def test_unique_nan_method_and_2d():
    run(lambda L: L.tensor([[NAN, 1.], [1., NAN]]).unique(return_counts=True))
    run(lambda L: L.unique(L.tensor([[1., NAN], [1., NAN], [0., 1.]]), dim=0,
                           return_inverse=True, return_counts=True))


# --------------------------------------------------------------------------- S3 remainder

DIVIDENDS = [-4., -3., -2., -1., -0., 0., 1., 2., 3., 4., 2.5, -2.5, INF, -INF, NAN]


@pytest.mark.parametrize('divisor', [2., -2., 1.5, -1.5, 0.5, INF, -INF, 0.])
@pytest.mark.parametrize('dtype', ['float32', 'float64', 'float16'])
def test_remainder_sign_of_zero(divisor, dtype):
    def f(L):
        x = L.tensor(DIVIDENDS, dtype=getattr(L, dtype))
        return (L.remainder(x, divisor), x % divisor,
                L.remainder(x, L.tensor([divisor], dtype=getattr(L, dtype))))
    run(f, signed_zero=True, tol=1e-3)


def test_remainder_reciprocal_and_inplace():
    run(lambda L: 1 / L.remainder(L.tensor([-2., 2.]), 2), signed_zero=True)
    run(lambda L: L.tensor([-4., 4., 3.]).remainder_(-2.), signed_zero=True)
    run(lambda L: L.remainder(L.tensor([1, 2, 3, 4, 5]), -1.5), signed_zero=True)
    run(lambda L: L.remainder(L.tensor([-7, 7]), 3))                   # integers unchanged


def test_remainder_gradient_unchanged():
    grads(lambda L, a, b: L.remainder(a, b), [5., -3.5, -4.], [2., 1.5, 2.])


# --------------------------------------------------------------------------- unfold view

@pytest.mark.parametrize('shape,dim,size,step', [
    ((2, 4), 1, 2, 2), ((2, 4), 1, 3, 1), ((6,), 0, 2, 1), ((3, 5, 2), 1, 2, 2),
    ((3, 5, 2), 0, 2, 1), ((3, 5, 2), -1, 1, 1), ((7,), 0, 3, 3), ((4, 3), 0, 4, 5), ((4, 3), 0, 0, 1)])
def test_unfold_is_a_view(shape, dim, size, step):
    def f(L):
        n = int(np.prod(shape))
        t = L.arange(float(n)).reshape(shape)
        u = t.unfold(dim, size, step)
        return u, u.stride(), u.is_contiguous()
    run(f)


def test_unfold_shares_memory_and_sees_writes():
    for L in (dl, torch):
        t = L.zeros(2, 4)
        u = t.unfold(1, 2, 2)
        t[0, 0] = 5.0
        assert u[0, 0].tolist() == [5.0, 0.0]
        u[1, 1, 1] = 7.0                            # non-overlapping windows: writable
        assert t[1, 3].item() == 7.0


def test_unfold_of_a_slice_and_transposed():
    run(lambda L: (lambda u: (u, u.stride()))(L.arange(24.).view(4, 6)[:, 1:].unfold(1, 2, 1)))
    run(lambda L: (lambda u: (u, u.stride()))(L.arange(12.).view(3, 4).t().unfold(0, 2, 2)))


@pytest.mark.parametrize('dim,size,step', [(1, 2, 1), (1, 3, 2), (0, 2, 1), (1, 1, 3)])
def test_unfold_gradient(dim, size, step):
    w = np.random.default_rng(0).standard_normal((3, 5))
    def f(L, x):
        u = x.unfold(dim, size, step)
        return u * L.tensor(np.random.default_rng(1).standard_normal(tuple(u.shape)))
    grads(f, w)


def test_unfold_second_derivative():
    x = dl.tensor([0.5, -1.0, 2.0, 0.3], dtype=dl.float64, requires_grad=True)
    assert dl.autograd.gradcheck(lambda t: (t.unfold(0, 2, 1) ** 3).sum(), (x,))
    assert dl.autograd.gradgradcheck(lambda t: (t.unfold(0, 3, 1) ** 3).sum(), (x,))


# --------------------------------------------------------------------------- F1 functions

A, B = [4., -2., 0., -0., 1.5, 300.], [3., 5., -1., 2., -0., 0.5]
POINTWISE = {
    'float_power': lambda L: L.float_power(L.tensor([4, 6]), 2),
    'float_power_t': lambda L: L.float_power(L.tensor([2., 3.]), L.tensor([2, 3])),
    'float_power_num_base': lambda L: L.float_power(2, L.tensor([1., 0.5])),
    'float_power_method': lambda L: L.tensor([2.5]).float_power(2.0),
    'fix': lambda L: L.fix(L.tensor([-2.7, 2.7, -0.2])),
    'fix_int': lambda L: L.fix(L.tensor([-2, 3])),
    'signbit': lambda L: L.signbit(L.tensor([-0.0, 0.0, -1.0, NAN, -INF])),
    'signbit_int': lambda L: L.signbit(L.tensor([-1, 0, 2])),
    'signbit_bool': lambda L: L.signbit(L.tensor([True, False])),
    'copysign': lambda L: L.copysign(L.tensor(A), L.tensor(B)),
    'copysign_num': lambda L: L.copysign(L.tensor(A), -1),
    'copysign_int': lambda L: L.copysign(L.tensor([1, 2]), -1),
    'copysign_int_t': lambda L: L.copysign(L.tensor([1, 2]), L.tensor([-1, 1])),
    'copysign_f64': lambda L: L.copysign(L.tensor([1., 2]), L.tensor([-1.], dtype=L.float64)),
    'nextafter': lambda L: L.nextafter(L.tensor([1., 0., -1.]), L.tensor([2., -1., -INF])),
    'nextafter_f64': lambda L: L.nextafter(L.tensor([1.], dtype=L.float64),
                                           L.tensor([2.], dtype=L.float64)),
    'hypot': lambda L: L.hypot(L.tensor(A), L.tensor(B)),
    'hypot_bcast': lambda L: L.hypot(L.tensor([[3.], [6.]]), L.tensor([4., 8.])),
    'hypot_big': lambda L: L.hypot(L.tensor([3e30]), L.tensor([4e30])),
    'logaddexp2': lambda L: L.logaddexp2(L.tensor(A), L.tensor(B)),
    'logaddexp2_big': lambda L: L.logaddexp2(L.tensor([1000., -1000.]), L.tensor([999., 0.])),
    'mvlgamma': lambda L: L.mvlgamma(L.tensor([2.5, 3.0]), 2),
    'mvlgamma_method': lambda L: L.tensor([[3.5, 4.0]]).mvlgamma(p=3),
    'deg2rad': lambda L: L.deg2rad(L.tensor([180., -90., 45.])),
    'deg2rad_int': lambda L: L.deg2rad(L.tensor([180, 360])),
    'rad2deg': lambda L: L.rad2deg(L.tensor([3.142, -1.0], dtype=L.float64)),
    'heaviside': lambda L: L.heaviside(L.tensor([-1.5, 0, 2.0, NAN]), L.tensor([0.5])),
    'heaviside_int': lambda L: L.heaviside(L.tensor([-1, 0, 2]), L.tensor([7])),
    'isreal': lambda L: L.isreal(L.tensor([1, 1.5])),
    'gcd': lambda L: L.gcd(L.tensor([5, 10, 15]), L.tensor([3, 4, 5])),
    'gcd_neg_zero': lambda L: L.gcd(L.tensor([-4, 0, 0]), L.tensor([6, 0, -3])),
    'lcm': lambda L: L.lcm(L.tensor([5, 10, 15]), L.tensor([3, 4, 5])),
    'lcm_neg': lambda L: L.lcm(L.tensor([-4, 0]), L.tensor([6, 3])),
    'gcd_int32': lambda L: L.gcd(L.tensor([12], dtype=L.int32), L.tensor([18], dtype=L.int32)),
    'ldexp': lambda L: L.ldexp(L.tensor([1., -3.]), L.tensor([3, -2])),
    'ldexp_int': lambda L: L.ldexp(L.tensor([1]), L.tensor([3])),
    'frexp': lambda L: tuple(L.frexp(L.tensor([8., 0.3, -5., 0., INF, 1e-40]))),
    'frexp_f64': lambda L: tuple(L.frexp(L.tensor([1e300, -7.], dtype=L.float64))),
    'acosh': lambda L: L.acosh(L.tensor([1., 2., 10., 0.5])),
    'asinh': lambda L: L.asinh(L.tensor([-2., 0., 3.])),
    'atanh': lambda L: L.atanh(L.tensor([-0.5, 0., 0.9, 1.])),
    'acosh_int': lambda L: L.acosh(L.tensor([2])),
    'arcsinh': lambda L: L.arcsinh(L.tensor([1.])) + L.tensor([1.]).arctanh() + L.arccosh(L.tensor([2.])),
    'angle': lambda L: L.angle(L.tensor([-1., 0., 2., NAN, -0.])),
    'angle_int': lambda L: L.angle(L.tensor([-1, 2])),
    'real_conj': lambda L: (L.real(L.tensor([1., 2.])), L.conj(L.tensor([3.])),
                            L.resolve_conj(L.tensor([1.])), L.resolve_neg(L.tensor([1.]))),
    'flags': lambda L: (L.is_conj(L.tensor([1.])), L.is_neg(L.tensor([1.])),
                        L.tensor([1.]).is_conj(), L.tensor([1.]).is_neg()),
    'is_signed': lambda L: tuple(L.tensor([1], dtype=d).is_signed() for d in
                                 (L.uint8, L.bool, L.int8, L.int64, L.float32)),
    'is_same_size': lambda L: (L.ones(2, 3).is_same_size(L.zeros(2, 3)),
                               L.ones(2, 3).is_same_size(L.zeros(3, 2))),
    'maximum_method': lambda L: L.tensor([1., 2.]).maximum(L.tensor([2., 0.])),
    'minimum_method': lambda L: L.tensor([1., NAN]).minimum(L.tensor([2., 0.])),
    'shift_methods': lambda L: (L.tensor([1, 2]).bitwise_left_shift(1),
                                L.tensor([4, 8]).bitwise_right_shift(L.tensor([1, 2]))),
    'methods': lambda L: (L.tensor([-2.7]).fix(), L.tensor([-0.]).signbit(),
                          L.tensor([3.]).hypot(L.tensor([4.])),
                          L.tensor([180.]).deg2rad(), L.tensor([2.]).acosh(),
                          L.tensor([1.]).copysign(-2.), L.tensor([8.]).frexp()[1]),
}


@pytest.mark.parametrize('name', list(POINTWISE))
def test_pointwise(name):
    run(POINTWISE[name], signed_zero=name.startswith(('copysign', 'fix')), tol=1e-5)


def test_real_is_the_tensor_itself():
    x = dl.tensor([1., 2.], requires_grad=True)
    assert dl.real(x) is x and x.real is x and x.conj() is x and dl.resolve_neg(x) is x


ERRORS = [
    (lambda L: L.gcd(L.tensor([1.]), L.tensor([2.])), NotImplementedError,
     '"gcd_cpu" not implemented for \'Float\''),
    (lambda L: L.lcm(L.tensor([1.], dtype=L.float64), L.tensor([2.], dtype=L.float64)),
     NotImplementedError, '"lcm_cpu" not implemented for \'Double\''),
    (lambda L: L.gcd(L.tensor([4]), 6), TypeError, "must be Tensor, not int"),
    (lambda L: L.hypot(L.tensor([1.]), 2.), TypeError,
     "hypot(): argument 'other' (position 2) must be Tensor, not float"),
    (lambda L: L.logaddexp2(L.tensor([1.]), 2.), TypeError, "must be Tensor, not float"),
    (lambda L: L.nextafter(L.tensor([1.]), 2.), TypeError, "must be Tensor, not float"),
    (lambda L: L.heaviside(L.tensor([1.]), 0.5), TypeError,
     "argument 'values' (position 2) must be Tensor, not float"),
    (lambda L: L.ldexp(L.tensor([1.]), 3), TypeError, "must be Tensor, not int"),
    (lambda L: L.hypot(L.tensor([3]), L.tensor([4])), NotImplementedError,
     '"hypot_cpu" not implemented for \'Long\''),
    (lambda L: L.logaddexp2(L.tensor([3]), L.tensor([4])), NotImplementedError,
     '"logaddexp2_cpu" not implemented for \'Long\''),
    (lambda L: L.nextafter(L.tensor([3]), L.tensor([4])), NotImplementedError,
     '"nextafter_cpu" not implemented for \'Long\''),
    (lambda L: L.heaviside(L.tensor([1.]), L.tensor([0.5], dtype=L.float64)), RuntimeError,
     "heaviside is not yet implemented for tensors with different dtypes."),
    (lambda L: L.frexp(L.tensor([8])), RuntimeError,
     "torch.frexp() only supports floating-point dtypes"),
]


@pytest.mark.parametrize('case', range(len(ERRORS)))
def test_pointwise_errors(case):
    raises_both(*ERRORS[case])


GRADS = [
    (lambda L, a, b: L.hypot(a, b), [3., -5., 0.3], [4., 12., -2.]),
    (lambda L, a, b: L.hypot(a, b[:1]), [3., -5., 0.3], [4., 12., -2.]),
    (lambda L, a, b: L.logaddexp2(a, b), [3., -5., 0.3], [4., 12., -2.]),
    (lambda L, a, b: L.copysign(a, b), [3., -5., 0., 2.], [-4., 12., -2., 0.]),
    (lambda L, a, b: L.copysign(a, b) * b, [3., -5., 0., 2.], [-4., 12., -2., 1.]),
    (lambda L, a, b: L.float_power(a, b), [3., 5., 0.3], [2., 0.5, -2.]),
    (lambda L, a, b: L.float_power(a, 2) + L.float_power(2.5, b), [3., 5., 0.3], [2., 0.5, 1.]),
    (lambda L, a, b: L.ldexp(a, b), [3., -5., 0.3], [2., -1., 3.]),
    (lambda L, a, b: L.deg2rad(a) * L.rad2deg(b), [30., -5., 0.3], [2., 0.5, -2.]),
    (lambda L, a, b: L.acosh(a + 2) + L.asinh(b) + L.atanh(b / 20), [3., 5., 0.3],
     [2., 0.5, -2.]),
    (lambda L, a, b: L.frexp(a).mantissa * b, [3., -5., 0.3], [2., 0.5, -2.]),
    (lambda L, a, b: L.angle(a) + L.fix(b), [3., -5., 0.3], [2., 0.5, -2.]),
    (lambda L, a, b: L.mvlgamma(a + 3, 2) * b, [3., 5., 0.3], [2., 0.5, -2.]),
]


@pytest.mark.parametrize('case', range(len(GRADS)))
def test_pointwise_gradients(case):
    fn, a, b = GRADS[case]
    grads(fn, a, b)


def test_heaviside_has_no_derivative():
    for L in (dl, torch):
        x = L.tensor([1., 0., -2.], requires_grad=True)
        y = L.heaviside(x, L.tensor([2., 0.5, 1.]))
        assert y.requires_grad
        with pytest.raises(RuntimeError,
                           match="derivative for aten::heaviside is not implemented"):
            y.sum().backward()


def test_nextafter_gradient_is_the_identity_in_input():
    grads(lambda L, a, b: L.nextafter(a, b) * L.tensor([1., 2., 3.], dtype=L.float64),
          [1., 0., -2.], [2., 0.5, -3.])
    grads(lambda L, a, b: L.nextafter(a, b[:1]), [1., 0., -2.], [2., 0.5, -3.])


def test_float_power_is_float64():
    for L in (dl, torch):
        x = L.tensor([2., 3.], requires_grad=True)
        y = L.float_power(x, 2)
        assert dtype_name(y) == 'float64'
        y.sum().backward()
        assert dtype_name(x.grad) == 'float32' and x.grad.tolist() == [4., 6.]


# --------------------------------------------------------------------------- in-place forms

INPLACE = [
    ('sin_', [0.5, -1.], ()), ('cos_', [0.5, -1.], ()), ('tan_', [0.5, -1.], ()),
    ('asin_', [0.5, -0.1], ()), ('acos_', [0.5, -0.1], ()), ('atan_', [0.5, -1.], ()),
    ('arcsin_', [0.5], ()), ('sinh_', [0.5], ()), ('cosh_', [0.5], ()),
    ('true_divide_', [3., -1.], (2.,)), ('frac_', [2.5, -1.25], ()), ('trunc_', [2.5, -1.5], ()),
    ('fix_', [2.5, -1.5], ()), ('sign_', [2.5, -1.5, 0.], ()), ('sgn_', [2.5, -1.5, 0.], ()),
    ('erf_', [0.5, -1.], ()), ('erfc_', [0.5, -1.], ()), ('erfinv_', [0.5, -0.2], ()),
    ('lgamma_', [0.5, 3.], ()), ('digamma_', [0.5, 3.], ()), ('polygamma_', [0.5, 3.], (1,)),
    ('sinc_', [0.5, 0.], ()), ('exp2_', [0.5, 3.], ()), ('expm1_', [0.5, 3.], ()),
    ('log1p_', [0.5, 3.], ()), ('logit_', [0.25, 0.5], ()), ('logit_', [0.05, 0.5], (0.1,)),
    ('i0_', [0.5, 3.], ()), ('ceil_', [0.5, -1.5], ()), ('floor_', [0.5, -1.5], ()),
    ('cumsum_', [1., 2., 3.], (0,)), ('cumprod_', [1., 2., 3.], (0,)),
    ('log2_', [0.5, 8.], ()), ('log10_', [0.5, 100.], ()), ('rsqrt_', [0.25, 4.], ()),
    ('reciprocal_', [0.25, -4.], ()), ('square_', [3., -2.], ()), ('negative_', [3.], ()),
    ('absolute_', [-3.], ()), ('multiply_', [3., 2.], (2.,)), ('subtract_', [3.], (1.,)),
    ('divide_', [7., -7.], (2.,)), ('atan2_', [1., -1.], ('T[2., 2.]',)),
    ('arctan2_', [1., -1.], ('T[2., 2.]',)),
    ('logical_not_', [3., 0.], ()), ('logical_and_', [1., 0.], ('T[1., 1.]',)),
    ('logical_or_', [1., 0.], ('T[0., 0.]',)), ('logical_xor_', [1., 0.], ('T[1., 1.]',)),
    ('eq_', [1., 2.], ('T[1., 3.]',)), ('lt_', [1., 2.], ('T[1., 3.]',)),
    ('ge_', [1., 2.], (2.,)), ('ne_', [1., 2.], (2.,)), ('greater_', [1., 2.], (1.,)),
    ('copysign_', [4., 1.], (-1.,)), ('copysign_', [4., 1.], ('T[-1., 2.]',)),
    ('nextafter_', [1., 0.], ('T[2., -1.]',)), ('hypot_', [3., 6.], ('T[4., 8.]',)),
    ('mvlgamma_', [2.5], (2,)), ('deg2rad_', [180.], ()), ('rad2deg_', [3.14159], ()),
    ('heaviside_', [4., 0.], ('T[0.5, 0.5]',)), ('ldexp_', [4., 1.], ('I[2, -1]',)),
    ('acosh_', [2.], ()), ('asinh_', [2.], ()), ('atanh_', [0.5], ()), ('arccosh_', [2.], ()),
    ('float_power_', 'D[2., 3.]', (2,)),
]
INT_INPLACE = [
    ('bitwise_and_', [3, 1], ('I[1, 1]',)), ('bitwise_or_', [3, 1], ('I[4, 4]',)),
    ('bitwise_xor_', [3, 1], ('I[1, 1]',)), ('bitwise_not_', [3, 1], ()),
    ('bitwise_left_shift_', [3, 1], ('I[1, 2]',)), ('bitwise_right_shift_', [8, 4], (1,)),
    ('gcd_', [4, 9], ('I[6, 6]',)), ('lcm_', [4, 9], ('I[6, 6]',)),
    ('cumsum_', [1, 2], (0,)), ('sign_', [-3, 0, 2], ()), ('logical_not_', [0, 2], ()),
    ('trunc_', [-3, 2], ()), ('floor_', [-3], ()), ('fix_', [4], ()), ('square_', [3], ()),
]


def _arg(L, a):
    if isinstance(a, str) and a[0] in 'TID':
        dt = dict(T=L.float32, I=L.int64, D=L.float64)[a[0]]
        return L.tensor(eval(a[1:]), dtype=dt)
    return a


def _inplace_case(L, name, values, args):
    x = (_arg(L, values) if isinstance(values, str) else L.tensor(values))
    r = getattr(x, name)(*[_arg(L, a) for a in args])
    assert r is x
    return x


@pytest.mark.parametrize('case', INPLACE + INT_INPLACE, ids=lambda c: c[0])
def test_inplace_values(case):
    name, values, args = case
    run(lambda L: _inplace_case(L, name, values, args), tol=1e-5)


INPLACE_ERRORS = [
    (lambda L: L.tensor([1, 2]).sin_(), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda L: L.tensor([1, 2]).true_divide_(2), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda L: L.tensor([1, 2], dtype=L.int32).deg2rad_(), RuntimeError,
     "result type Float can't be cast to the desired output type Int"),
    (lambda L: L.tensor([1, 2], dtype=L.uint8).exp2_(), RuntimeError,
     "result type Float can't be cast to the desired output type Byte"),
    (lambda L: L.tensor([True, False]).sin_(), RuntimeError,
     "result type Float can't be cast to the desired output type Bool"),
    (lambda L: L.tensor([2.]).hypot_(L.tensor([1., 2.])), RuntimeError,
     "output with shape [1] doesn't match the broadcast shape [2]"),
    (lambda L: L.tensor([2.]).float_power_(2), RuntimeError,
     "the base given to float_power_ has dtype Float but the operation's result requires "
     "dtype Double"),
    (lambda L: L.ones(2, requires_grad=True).sin_(), RuntimeError, "leaf"),
    (lambda L: L.ones(2, requires_grad=True).resize_(3), RuntimeError,
     "cannot resize variables that require grad"),
    (lambda L: L.ones(2, requires_grad=True).resize_as_(L.ones(3)), RuntimeError,
     "cannot resize variables that require grad"),
]


@pytest.mark.parametrize('case', range(len(INPLACE_ERRORS)))
def test_inplace_errors(case):
    raises_both(*INPLACE_ERRORS[case])


@pytest.mark.parametrize('name,args', [('sin_', ()), ('exp2_', ()), ('cumsum_', (0,)),
                                       ('hypot_', ('W',)), ('copysign_', ('W',)),
                                       ('logit_', ()), ('float_power_', (2,)),
                                       ('ldexp_', ('W',)), ('atan2_', ('W',)),
                                       ('erfinv_', ()), ('polygamma_', (1,))])
def test_inplace_gradient(name, args):
    "An in-place op on a non-leaf: the gradient flows through it, as in PyTorch."
    out = []
    for L in (dl, torch):
        w = L.tensor([0.3, 0.6, 0.2], dtype=L.float64, requires_grad=True)
        v = L.tensor([0.5, -0.4, 0.7], dtype=L.float64, requires_grad=True)
        h = w * 1
        r = getattr(h, name)(*[v if a == 'W' else a for a in args])
        assert r is h and h.requires_grad
        (h * L.tensor([1., 2., 3.], dtype=L.float64)).sum().backward()
        out.append((w.grad, v.grad))
    check(out[0][0], out[1][0])
    if out[1][1] is None: assert out[0][1] is None
    else: check(out[0][1], out[1][1])


def test_inplace_bumps_version_and_under_no_grad():
    for L in (dl, torch):
        x = L.tensor([0.5, 1.0])
        v = x._version
        x.sin_()
        assert x._version > v
        w = L.tensor([0.5], requires_grad=True)
        with L.no_grad(): w.cos_()
        assert abs(w.item() - math.cos(0.5)) < 1e-6 and w.grad_fn is None


RESIZE = {
    'same_numel': lambda L: L.arange(1., 7.).resize_(2, 3),
    'tuple': lambda L: L.arange(1., 7.).resize_((3, 2)),
    'smaller': lambda L: L.arange(6.).resize_(2, 2),
    'bigger_head': lambda L: L.arange(4.).resize_(2, 3)[0],
    'same_shape_kept_strides': lambda L: (lambda t: (t, t.stride()))(
        L.arange(6.).view(2, 3).t().resize_(3, 2)),
    'int': lambda L: L.arange(6).resize_(6, 1),
    'resize_as_': lambda L: L.arange(6.).resize_as_(L.ones(2, 3)),
    'stride': lambda L: L.arange(6.).resize_(3, 2).stride(),
}


@pytest.mark.parametrize('name', list(RESIZE))
def test_resize(name):
    run(RESIZE[name])


def test_resize_smaller_shares_memory_kthvalue_example():
    for L in (dl, torch):
        x = L.arange(1., 7.)
        y = x.resize_(2, 3)
        assert y is x and L.kthvalue(x, 2, 0, True).values.tolist() == [[4., 5., 6.]]
        base = L.arange(6.)
        view = base[:]
        view.resize_(2, 2)
        view[0, 0] = 9.
        assert base[0].item() == 9.


# --------------------------------------------------------------------------- strided, products

def test_as_strided_values_strides_and_view():
    def f(L):
        x = L.arange(9.).view(3, 3)
        s = L.as_strided(x, (2, 2), (1, 2), 1)
        m = x.as_strided((2, 2), (1, 2))
        x[0, 1] = 100.
        return s, s.stride(), m, m.stride(), s.storage_offset()
    run(f)


@pytest.mark.parametrize('size,stride,off', [((2,), (1,), None), ((2,), (1,), 0),
                                             ((2, 3), (0, 1), None), ((3, 2), (1, 1), 0),
                                             ((0, 2), (1, 1), None)])
def test_as_strided_of_a_slice(size, stride, off):
    run(lambda L: (lambda s: (s, s.stride()))(
        L.arange(6.)[2:].as_strided(size, stride, off)))


def test_as_strided_errors():
    raises_both(lambda L: L.as_strided(L.arange(4.), (3,), (2,)), RuntimeError,
                "are out of bounds for storage of size 16")


def test_as_strided_gradient():
    def f(L, x):
        s = L.as_strided(x, (2, 2), (1, 2), 1) * L.tensor([[1., 2.], [3., 4.]],
                                                          dtype=L.float64)
        return s + L.as_strided(x, (3,), (2,)) .sum()
    grads(f, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    grads(lambda L, x: L.as_strided(x[1:], (2, 2), (1, 1)) ** 2, [0.1, 0.2, 0.3, 0.4])


def test_empty_strided():
    run(lambda L: (lambda t: (t.shape, t.stride()))(L.empty_strided((2, 3), (1, 2))))
    run(lambda L: (lambda t: (t.shape, t.stride(), t.dtype == L.float64))(
        L.empty_strided((3, 4), (4, 1), dtype=L.float64)))
    run(lambda L: L.empty_strided((2, 0), (1, 1)).shape)


@pytest.mark.parametrize('args,kw', [((1, 4), {}), ((1, 4, 0.5), {}), ((0, 3), dict(dtype='int64')),
                                     ((-1., 1., 0.25), {}), ((5, 1, -2), {}), ((2, 2), {})])
def test_range(args, kw):
    out = []
    for L, fn in ((dl, dl_range), (torch, torch.range)):
        kw2 = {k: getattr(L, v) for k, v in kw.items()}
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            out.append(fn(*args, **kw2))
        assert any('torch.range is deprecated' in str(m.message) for m in w)
        assert all(m.category is UserWarning for m in w)
    check(*out)


PRODUCTS = {
    'narrow_copy': lambda L: (lambda t: (t, t.stride(), t.is_contiguous()))(
        L.narrow_copy(L.arange(6).view(2, 3), 1, 1, 2)),
    'narrow_copy_method': lambda L: L.arange(9.).view(3, 3).narrow_copy(0, 1, 2),
    'adjoint': lambda L: (lambda t: (t, t.stride()))(L.arange(9.).view(3, 3).adjoint()),
    'adjoint_fn_batch': lambda L: L.adjoint(L.arange(12.).view(2, 3, 2)),
    'diagflat': lambda L: L.diagflat(L.tensor([1., 2., 3.]), 1),
    'diagflat_2d': lambda L: L.diagflat(L.tensor([[1, 2], [3, 4]]), -1),
    'diagflat_method': lambda L: L.tensor([1., 2.]).diagflat(),
    'inner': lambda L: L.inner(L.tensor([1., 2., 3.]), L.tensor([0., 2., 1.])),
    'inner_nd': lambda L: L.inner(L.arange(6.).view(2, 3), L.arange(12.).view(2, 2, 3)),
    'inner_0d': lambda L: L.inner(L.tensor(2.), L.ones(2, 2)),
    'vdot': lambda L: L.vdot(L.tensor([2., 3.]), L.tensor([2., 1.])),
    'baddbmm': lambda L: L.baddbmm(L.ones(1, 2, 2), L.ones(1, 2, 3), L.ones(1, 3, 2),
                                   beta=0.5, alpha=2),
    'baddbmm_bcast': lambda L: L.baddbmm(L.ones(2), L.arange(12.).view(2, 2, 3),
                                         L.arange(12.).view(2, 3, 2)),
    'baddbmm_beta0_nan': lambda L: L.baddbmm(L.full((2, 2, 2), NAN), L.ones(2, 2, 1),
                                             L.ones(2, 1, 2), beta=0),
    'baddbmm_method': lambda L: L.ones(1, 2, 2).baddbmm(L.ones(1, 2, 3), L.ones(1, 3, 2)),
    'baddbmm_': lambda L: L.ones(1, 2, 2).baddbmm_(L.ones(1, 2, 3), L.ones(1, 3, 2), alpha=3),
    'addr': lambda L: L.addr(L.zeros(3, 2), L.tensor([1., 2., 3.]), L.tensor([0., 2.])),
    'addr_int': lambda L: L.addr(L.ones(2, 2, dtype=L.int64), L.tensor([1, 2]),
                                 L.tensor([3, 4]), beta=2, alpha=3),
    'addr_method_inplace': lambda L: L.zeros(2, 2).addr_(L.tensor([1., 2.]),
                                                         L.tensor([3., 4.])),
    'chain_matmul': lambda L: L.chain_matmul(L.eye(2), L.arange(4.).view(2, 2),
                                             L.ones(2, 3)),
    'chain_matmul_one': lambda L: L.chain_matmul(L.arange(4.).view(2, 2)),
    'combinations': lambda L: L.combinations(L.tensor([1, 2, 3])),
    'combinations_r3': lambda L: L.combinations(L.tensor([1., 2., 3., 4.]), r=3),
    'combinations_repl': lambda L: L.combinations(L.tensor([1, 2]), with_replacement=True),
    'combinations_r1': lambda L: L.combinations(L.tensor([1, 2, 3]), r=1),
    'combinations_r0': lambda L: L.combinations(L.tensor([1, 2, 3]), r=0),
    'combinations_r4': lambda L: L.combinations(L.tensor([1, 2, 3]), r=4),
    'matrix_exp': lambda L: L.linalg.matrix_exp(L.tensor([[0., 1.], [0., 0.]])),
    'matrix_exp_fn': lambda L: L.matrix_exp(L.tensor([[1., 2.], [-3., 0.5]],
                                                     dtype=L.float64)),
    'matrix_exp_big': lambda L: L.linalg.matrix_exp(L.tensor([[10., 4.], [-3., -2.]],
                                                            dtype=L.float64)),
    'matrix_exp_batch': lambda L: L.tensor(np.random.default_rng(0).standard_normal(
        (3, 4, 4))).matrix_exp(),
    'matrix_exp_zero': lambda L: L.linalg.matrix_exp(L.zeros(3, 3)),
    'cholesky_ex': lambda L: tuple(L.linalg.cholesky_ex(L.tensor([[4., 2.], [2., 5.]]))),
    'cholesky_ex_upper': lambda L: tuple(L.linalg.cholesky_ex(
        L.tensor([[4., 2.], [2., 5.]], dtype=L.float64), upper=True)),
    'cholesky_ex_fail': lambda L: tuple(L.linalg.cholesky_ex(L.tensor([[1., 2.], [2., 1.]]))),
    'cholesky_ex_batch_info': lambda L: L.linalg.cholesky_ex(
        L.stack([L.eye(3), -L.eye(3), L.tensor([[1., 0, 0], [0, 1, 0], [0, 0, -1]])])).info,
}


@pytest.mark.parametrize('name', list(PRODUCTS))
def test_products(name):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        run(PRODUCTS[name], tol=1e-5)


PRODUCT_ERRORS = [
    (lambda L: L.ones(2).adjoint(), RuntimeError,
     "tensor.adjoint() is only supported on matrices or batches of matrices. Got 1-D"),
    (lambda L: L.vdot(L.ones(2), L.ones(2, dtype=L.float64)), RuntimeError,
     "dot : expected both vectors to have same dtype, but found Float and Double"),
    (lambda L: L.vdot(L.ones(2, 2), L.ones(2, 2)), RuntimeError,
     "1D tensors expected, but got 2D and 2D tensors"),
    (lambda L: L.inner(L.ones(2, 3), L.ones(2, 2)), RuntimeError,
     "inner() the last dimension must match on both input tensors but got shapes [2, 3] "
     "and [2, 2]"),
    (lambda L: L.combinations(L.ones(2, 2)), RuntimeError,
     "Expect a 1D vector, but got shape [2, 2]"),
    (lambda L: L.linalg.cholesky_ex(L.tensor([[1., 2.], [2., 1.]]), check_errors=True),
     RuntimeError, ""),
]


@pytest.mark.parametrize('case', range(len(PRODUCT_ERRORS)))
def test_product_errors(case):
    raises_both(*PRODUCT_ERRORS[case])


PRODUCT_GRADS = [
    (lambda L, a, b: L.inner(a.view(2, 3), b.view(2, 3)), 6, 6),
    (lambda L, a, b: L.vdot(a, b), 3, 3),
    (lambda L, a, b: L.baddbmm(a.view(1, 2, 2), b.view(1, 2, 2), b.view(1, 2, 2),
                               beta=0.5, alpha=2), 4, 4),
    (lambda L, a, b: L.addr(a.view(2, 2), b[:2], b[2:], beta=2), 4, 4),
    (lambda L, a, b: L.diagflat(a) * b.sum(), 3, 2),
    (lambda L, a, b: L.combinations(a, 2, True) * b.sum(), 3, 1),
    (lambda L, a, b: L.narrow_copy(a.view(2, 3), 1, 1, 2) * b.sum(), 6, 1),
    (lambda L, a, b: L.linalg.matrix_exp(a.view(2, 2)) * b.view(2, 2), 4, 4),
    (lambda L, a, b: L.linalg.matrix_exp(3 * a.view(3, 3)) * b.view(3, 3), 9, 9),
    (lambda L, a, b: L.linalg.cholesky_ex(a.view(2, 2) @ a.view(2, 2).mT
                                          + L.eye(2, dtype=a.dtype)).L * b.view(2, 2), 4, 4),
]


@pytest.mark.parametrize('case', range(len(PRODUCT_GRADS)))
def test_product_gradients(case):
    fn, n, m = PRODUCT_GRADS[case]
    rng = np.random.default_rng(case)
    grads(fn, list(rng.uniform(-1, 1, n)), list(rng.uniform(-1, 1, m)))


# --------------------------------------------------------------------------- einsum sublists

EINSUM = [
    lambda L, a, b: L.einsum(a, [..., 0, 1], b, [..., 1, 2], [..., 0, 2]),
    lambda L, a, b: L.einsum(a, [0, 1, 2], b, [0, 2, 3]),
    lambda L, a, b: L.einsum(a[0], [0, 0]),
    lambda L, a, b: L.einsum(a, [27, 1, 2], b, [27, 2, 0]),          # lower and upper
    lambda L, a, b: L.einsum(a, [0, 1, 2], [2, 0]),
]


@pytest.mark.parametrize('case', range(len(EINSUM)))
def test_einsum_sublist(case):
    rng = np.random.default_rng(case)
    a, b = rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 3))
    run(lambda L: EINSUM[case](L, L.tensor(a), L.tensor(b)))
    grads(EINSUM[case], a.tolist(), b.tolist())


# --------------------------------------------------------------------------- out=, norm, div, round

OUTS = {
    'logical_and_bool': lambda L: L.logical_and(L.tensor([0, 1]), L.tensor([1, 1]),
                                                out=L.empty(2, dtype=L.bool)),
    'logical_not_int16': lambda L: L.logical_not(L.tensor([0, 1]),
                                                 out=L.empty(2, dtype=L.int16)),
    'logical_or_float': lambda L: L.logical_or(L.tensor([0., 1.]), L.tensor([0., 0.]),
                                               out=L.empty(2)),
    'logical_xor': lambda L: L.logical_xor(L.tensor([True, False]), L.tensor([True, True]),
                                           out=L.empty(2, dtype=L.bool)),
    'cumsum': lambda L: L.cumsum(L.tensor([1., 5.]), 0, out=L.empty(2)),
    'cumsum_f64': lambda L: L.cumsum(L.tensor([1., 5.]), 0, out=L.empty(2, dtype=L.float64)),
    'cumsum_out_dtype': lambda L: L.cumsum(L.tensor([1.5, 2.]), 0,
                                           out=L.empty(2, dtype=L.long)),
    'cumsum_int_in': lambda L: L.cumsum(L.tensor([1, 2]), 0, out=L.empty(2)),
    'cumsum_resize': lambda L: L.cumsum(L.tensor([[1., 5.], [2., 3.]]), 1, out=L.empty(0)),
    'sort': lambda L: tuple(L.sort(L.tensor([3., 1., 2.]),
                                   out=(L.empty(3), L.empty(3, dtype=L.long)))),
    'sort_desc_dim': lambda L: tuple(L.sort(L.tensor([[3., 1.], [0., 2.]]), 0, True,
                                            out=(L.empty(2, 2), L.empty(2, 2, dtype=L.long)))),
}


@pytest.mark.parametrize('name', list(OUTS))
def test_out_argument(name):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        run(OUTS[name])


def test_out_is_returned_and_written():
    for L in (dl, torch):
        o = L.empty(2, dtype=L.int16)
        assert L.logical_not(L.tensor([0, 1]), out=o) is o and o.tolist() == [1, 0]
        v, i = L.empty(2), L.empty(2, dtype=L.long)
        r = L.sort(L.tensor([3., 1.]), out=(v, i))
        assert r.values is v and r.indices is i and type(r).__name__ == 'sort_out'
    raises_both(lambda L: L.add(L.logical_not(L.tensor([1.]), out=L.empty(1, dtype=L.long)),
                                0.5, out=L.empty(1, dtype=L.long)),
                RuntimeError, "can't be cast to the desired output type")


NORMS = {
    'p0': lambda L: L.norm(L.tensor([3., 0., 4.]), p=0),
    'p0_dim': lambda L: L.norm(L.tensor([[3., 0.], [0., 0.]]), p=0, dim=1, keepdim=True),
    'p0_method': lambda L: L.tensor([1., 0., -2., 0.]).norm(0),
    'nuc': lambda L: L.norm(L.tensor([[3., 4.], [1., 1.]]), p='nuc'),
    'nuc_dim': lambda L: L.norm(L.arange(8.).view(2, 2, 2), p='nuc', dim=(0, 2)),
    'nuc_keep': lambda L: L.norm(L.arange(8.).view(2, 2, 2), p='nuc', dim=(1, 2),
                                 keepdim=True),
    'fro_unchanged': lambda L: L.norm(L.tensor([[3., 4.], [1., 1.]])),
}


@pytest.mark.parametrize('name', list(NORMS))
def test_norm_p0_nuc(name):
    run(NORMS[name], tol=1e-5)


def test_norm_nuc_and_p0_gradients():
    grads(lambda L, a: L.norm(a.view(2, 2), p='nuc'), [3., 4., 1., 1.])
    grads(lambda L, a: L.norm(a, p=0) * a, [3., 0., 4.])
    raises_both(lambda L: L.norm(L.ones(2, 2, 2), p='nuc'), RuntimeError, "")


@pytest.mark.parametrize('other', [2., -2., 'T'])
def test_div_floor_zero_gradient(other):
    def f(L, x, y):
        o = y if other == 'T' else other
        return L.div(x, o, rounding_mode='floor') + x.div(o, rounding_mode='floor') * 2 + x
    grads(f, [3., -3., 7.5], [2., -1.5, 0.7])
    run(lambda L: L.div(L.tensor([7., -7., 7.5]), L.tensor([2., 2., -0.5]),
                        rounding_mode='floor'), signed_zero=True)
    run(lambda L: L.div(L.tensor([7, -7]), 2, rounding_mode='floor'))


def test_floor_divide_still_has_no_derivative():
    for L in (dl, torch):
        x = L.tensor([3.], requires_grad=True)
        with pytest.raises(RuntimeError, match="derivative for .*floor_divide.* is not "
                                               "implemented"):
            (x // 2).sum().backward()


@pytest.mark.parametrize('dtype,name', [('int64', 'Long'), ('int32', 'Int'),
                                        ('int16', 'Short'), ('uint8', 'Byte')])
def test_round_decimals_int_error(dtype, name):
    raises_both(lambda L: L.round(L.tensor([5, 15], dtype=getattr(L, dtype)), decimals=-1),
                NotImplementedError, f'"round_cpu" not implemented for \'{name}\'')
    run(lambda L: L.round(L.tensor([5, 15], dtype=getattr(L, dtype))))


# --------------------------------------------------------------------------- simulated GPU

def test_on_the_simulated_gpu(monkeypatch):
    "The new functions on tests/fake_cupy.py's stand-in GPU (arrays that refuse to mix with NumPy's): as on CPU."
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    try:
        fake_cupy.install(monkeypatch)
        rng = np.random.default_rng(4)
        a, b = rng.uniform(0.5, 2, (3, 3)), rng.uniform(-2, 2, (3, 3))

        def run(device):
            x = dl.tensor(a, device=device, requires_grad=True)
            y = dl.tensor(b, device=device, requires_grad=True)
            h = x * 1
            h.sin_()
            outs = [dl.hypot(x, y), dl.logaddexp2(x, y), dl.copysign(x, y), dl.nextafter(x, y),
                    dl.acosh(x + 1), dl.asinh(y), dl.atanh(y / 3), dl.angle(y), dl.deg2rad(y),
                    dl.float_power(x, 2),
                    dl.remainder(y, 0.7), dl.div(y, x, rounding_mode='floor'), h,
                    dl.inner(x, y), dl.linalg.matrix_exp(y / 4), dl.combinations(x[0]),
                    dl.ldexp(x, dl.tensor([1, 2, 3], device=device)), dl.frexp(x).mantissa,
                    dl.signbit(y), dl.isreal(x), dl.gcd(dl.tensor([4, 6], device=device),
                                                         dl.tensor([6, 9], device=device))]
            sum(o.double().sum() for o in outs if o.dtype.is_floating_point).backward()
            assert all(o.device.type == device for o in outs)
            return [o.detach().cpu().numpy() for o in outs] + [x.grad.cpu().numpy(),
                                                               y.grad.cpu().numpy()]
        for got, want in zip(run('cuda'), run('cpu')):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    finally:
        G._probe.cache_clear()
