"""A stand-in for CuPy that runs on the CPU, so that CPU-only CI can test the engine's device plumbing.

`make_module()` returns a module object named `cupy` whose arrays (class `cupy.ndarray`) wrap NumPy arrays and
behave like CuPy's in the ways the engine depends on:

* NumPy ufuncs and functions called on them dispatch here (`__array_ufunc__`, `__array_function__`) and return
  wrapped arrays; so do the array methods (`.sum()`, `.reshape()`, indexing, ...);
* mixing one with a NumPy array -- a 0-d one included -- raises TypeError, as CuPy does; NumPy scalars and Python
  numbers mix freely;
* implicit conversion to NumPy (`np.asarray(a)`) raises TypeError; `.get()` copies to a NumPy array;
* reductions and scalar indexing return 0-d arrays, never NumPy scalars; `flags` has no
  `writeable`;
* a view's `.base` is the array object that owns the memory (the same object each time,
  as CuPy's), so the engine's version stamps (`graph._record_write`) see writes through
  views.

By default it has no `ElementwiseKernel`, so code paths that need real CuPy (chapter 05's fused kernels) are
skipped. `make_module(kernels=True)` adds one that runs the small part of CUDA C that `dl.compile`'s fused
element-wise kernels are written in (statements `T name = expression;` and `out = name;` over `+ - * /`, unary
minus, parentheses and the functions `tanh`, `exp` and the preamble's `dl_relu`), on NumPy arrays, and raises
NotImplementedError for anything else (loops, `raw` parameters, ternaries: chapter 05's kernels).
`cupy.random.seed` only records its calls (in `seeds`).
`make_module(broken=True)` imitates CuPy installed on a machine without a driver: it imports, and the first use of
the device raises a `CUDARuntimeError`.
"""
import re
import sys
import types
import weakref

import numpy as np

_CREATION = {np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.zeros, np.ones, np.empty, np.full,
             np.arange}


def _unwrap(x, allow_numpy=False):
    if isinstance(x, ndarray): return x._a
    if isinstance(x, np.ndarray):
        if allow_numpy: return x
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)): return type(x)(_unwrap(v, allow_numpy) for v in x)
    if isinstance(x, dict): return {k: _unwrap(v, allow_numpy) for k, v in x.items()}
    return x


def _wrap(r):
    if isinstance(r, np.ndarray): return ndarray(r)
    if isinstance(r, np.generic): return ndarray(np.asarray(r))        # CuPy returns 0-d arrays, not scalars
    if isinstance(r, tuple): return tuple(_wrap(v) for v in r)
    if isinstance(r, list): return [_wrap(v) for v in r]
    return r


class _Flags:
    "CuPy's flags: no `writeable` (GPU arrays are always writeable)."
    def __init__(self, f): self.c_contiguous, self.f_contiguous, self.owndata = f.c_contiguous, f.f_contiguous, f.owndata


class Device:
    def __init__(self, device=None): self.id = 0 if device is None else int(device)
    def __enter__(self): return self
    def __exit__(self, *exc): pass
    def synchronize(self): Device.synchronized += 1
    def __repr__(self): return f"<CUDA Device {self.id}>"
Device.synchronized = 0


_owners = weakref.WeakValueDictionary()     # id(NumPy array) -> the wrapper standing in


def _base(self):
    "The wrapper of the array owning this view's memory: one per owner, kept by views."
    b = self._a.base
    if not isinstance(b, np.ndarray): return None
    w = _owners.get(id(b))
    if w is None or w._a is not b: w = ndarray(b)
    self._base_ref = w
    return w


class ndarray(np.lib.mixins.NDArrayOperatorsMixin):
    "A NumPy array in disguise that refuses to mix with NumPy arrays, as a CuPy array does."
    __hash__ = None

    def __init__(self, a):
        assert isinstance(a, np.ndarray) and not isinstance(a, ndarray)
        self._a = a
        if _owners.get(id(a)) is None: _owners[id(a)] = self

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T))
    base = property(_base)
    flags = property(lambda self: _Flags(self._a.flags))
    device = property(lambda self: Device(0))
    __cuda_array_interface__ = property(lambda self: {'shape': self.shape, 'typestr': self.dtype.str,
                                                      'data': (0, False), 'version': 3})

    def get(self): return self._a.copy()
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get('out')
        args = [_unwrap(x) for x in inputs]
        if out is not None:
            if not all(isinstance(o, ndarray) for o in out): raise TypeError("out must be a cupy.ndarray")
            kwargs['out'] = tuple(o._a for o in out)
        r = getattr(ufunc, method)(*args, **kwargs)
        if out is not None: return out[0] if len(out) == 1 else out
        return None if method == 'at' else _wrap(r)

    def __array_function__(self, func, types, args, kwargs):
        allow = func in _CREATION
        r = func(*_unwrap(args, allow), **_unwrap(kwargs, allow))
        return _wrap(r)

    def __getattr__(self, name):
        if name.startswith('__'): raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr): return _wrap(attr)
        def method(*args, **kwargs): return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))
        return method

    def __getitem__(self, index): return _wrap(self._a[_unwrap(index)])
    def __setitem__(self, index, value): self._a[_unwrap(index)] = _unwrap(value)
    def __len__(self): return len(self._a)
    def __iter__(self): return (ndarray(np.asarray(r)) for r in self._a)
    def __bool__(self): return bool(self._a)
    def __float__(self): return float(self._a)
    def __int__(self): return int(self._a)
    def __repr__(self): return repr(self._a)


class CUDARuntimeError(RuntimeError):
    pass


class ElementwiseKernel:
    """CuPy's `ElementwiseKernel(in_params, out_params, operation, name, preamble=...)` for the subset of
    CUDA C described in the module's docstring: every parameter is `T name` (one dtype, the arrays'); called
    with the inputs (arrays, broadcast, or numbers) and then the output arrays, it writes and returns them."""
    FUNCTIONS = {'tanh': np.tanh, 'exp': np.exp, 'dl_relu': lambda a: np.maximum(a, 0)}   # maximum keeps NaN
    compiled, launches = [], [0]

    def __init__(self, in_params, out_params, operation, name='kernel', preamble='', **kwargs):
        def names(params):
            parts = [p.split() for p in params.split(',')]
            if any(len(p) != 2 or p[0] != 'T' for p in parts):
                raise NotImplementedError(f"fake ElementwiseKernel {name}: parameters {params!r}")
            return [p[1] for p in parts]
        self.name, self.ins, self.outs, self.stmts = name, names(in_params), names(out_params), []
        for stmt in filter(None, (s.strip() for s in operation.split(';'))):
            m = re.fullmatch(r'(?:T\s+)?(\w+)\s*=\s*([\w\s.+\-*/()]+)', stmt)
            if not m: raise NotImplementedError(f"fake ElementwiseKernel {name}: {stmt!r}")
            self.stmts.append((m.group(1), compile(m.group(2), name, 'eval')))
        ElementwiseKernel.compiled.append(name)

    def __call__(self, *args):
        if len(args) != len(self.ins) + len(self.outs):
            raise TypeError(f"{self.name}: {len(args)} arguments, expected {len(self.ins) + len(self.outs)}")
        outs = args[len(self.ins):]
        if not all(isinstance(o, ndarray) for o in outs): raise TypeError("output arrays must be cupy arrays")
        dtype = outs[0]._a.dtype
        env = {n: (_unwrap(a) if isinstance(a, ndarray) else dtype.type(a)) for n, a in zip(self.ins, args)}
        if any(isinstance(v, np.ndarray) and v.dtype != dtype for v in env.values()):
            raise TypeError(f"{self.name}: arrays of different dtypes for T")
        for n, code in self.stmts:
            env[n] = eval(code, {'__builtins__': {}, **self.FUNCTIONS}, env)
        for n, o in zip(self.outs, outs): o._a[...] = env[n]
        ElementwiseKernel.launches[0] += 1
        return outs[0] if len(outs) == 1 else outs


def make_module(broken=False, kernels=False):
    """A fresh fake `cupy` module (and its `cuda` namespace); `broken`: imports, but the device is unusable;
    `kernels`: with the `ElementwiseKernel` above."""
    m = types.ModuleType('cupy')
    if kernels: m.ElementwiseKernel = ElementwiseKernel
    m.__fake__ = True
    m.ndarray = ndarray
    ndarray.__module__ = 'cupy'

    def fail(*args, **kwargs):
        raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version")

    def asarray(a, dtype=None):
        if isinstance(a, ndarray): return a if dtype is None else ndarray(a._a.astype(dtype, copy=False))
        return ndarray(np.array(a, dtype=dtype))

    def array(a, dtype=None, copy=True):
        return ndarray(np.array(a._a if isinstance(a, ndarray) else a, dtype=dtype, copy=copy))

    m.asarray, m.array = (fail, fail) if broken else (asarray, array)
    m.asnumpy = lambda a: a.get() if isinstance(a, ndarray) else np.asarray(a)
    m.get_array_module = lambda *args: m if any(isinstance(a, ndarray) for a in args) else np
    for name in ('zeros', 'ones', 'empty', 'full', 'arange', 'zeros_like', 'ones_like', 'empty_like', 'full_like',
                 'eye', 'einsum', 'bincount'):
        f = getattr(np, name)
        setattr(m, name, fail if broken else (lambda f: lambda *a, **k: _wrap(f(*_unwrap(a), **_unwrap(k))))(f))
    for name in ('float16', 'float32', 'float64', 'int32', 'int64', 'bool_', 'dtype', 'add', 'multiply', 'subtract',
                 'maximum', 'sqrt', 'exp', 'log', 'tanh', 'negative', 'reciprocal', 'where', 'concatenate', 'stack',
                 'matmul', 'result_type'):
        setattr(m, name, getattr(np, name))
    runtime = types.SimpleNamespace(getDeviceCount=fail if broken else (lambda: 1), CUDARuntimeError=CUDARuntimeError)
    stream = types.SimpleNamespace(synchronize=lambda: Device(0).synchronize())
    m.cuda = types.SimpleNamespace(Device=Device, runtime=runtime, is_available=lambda: not broken,
                                   get_current_stream=lambda: stream)
    m.seeds = []
    m.random = types.SimpleNamespace(seed=m.seeds.append)
    return m


def install(monkeypatch, broken=False, kernels=False):
    "Put a fake `cupy` in sys.modules for the rest of the test (undone by pytest's monkeypatch); returns it."
    m = make_module(broken, kernels)
    monkeypatch.setitem(sys.modules, 'cupy', m)
    return m
