"""Chapter 01b (deeplearning101/tensor_ops.py): the tensor toolbox against PyTorch.

* Parity: every op of the chapter is written once against a library `L` (`dl` or `torch`) and run on the same
  NumPy inputs with both; values, result dtypes and the input gradients of sum(out * w) must agree.
* Second derivatives (`create_graph=True`) of a few ops against PyTorch's.
* Errors: bad dims, shapes, dtypes and sizes give clear errors that name the op.
* Hypothesis properties: views on random memory layouts (view succeeds exactly when PyTorch's does, and then
  shares memory), shapes of squeeze/unsqueeze/flatten/expand/repeat/split/chunk against PyTorch, the
  gather/scatter_add adjoint identity, sort/topk against PyTorch, round with decimals.
* The ops also run on a simulated GPU (tests/fake_cupy.py) with the CPU's results.
"""
import math
import re
from pathlib import Path
import os
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101 import tensor_ops as TO
from deeplearning101.graph import Tensor

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float32)

RTOL, ATOL = 1e-6, 1e-9


# --------------------------------------------------------------------------- helpers

def view(L, x, *shape):
    "PyTorch's `view` with its layout rule: torch's method, the chapter's `_view` (see the chapter's note)."
    return x.view(*shape) if L is torch else TO._view(x, *shape)


def same_strides(d, t):
    "The strides agree on every axis longer than 1 (those of length 1 never move through memory)."
    return d.shape == tuple(t.shape) and all(a == b for a, b, n in zip(d.stride(), t.stride(), d.shape) if n > 1)


def make(L, a, grad):
    "A leaf of library L from the NumPy array `a` (a copy), requiring grad when asked and floating-point."
    if L is torch: return torch.tensor(a, requires_grad=grad and a.dtype.kind == 'f')
    return dl.tensor(a, requires_grad=grad and a.dtype.kind == 'f')


def L_is_torch(t): return isinstance(t, torch.Tensor)


def np_dtype(t):
    if L_is_torch(t): return torch.empty(0, dtype=t.dtype).numpy().dtype
    return np.dtype(t.dtype.dtype)


def outputs(out):
    "A result as a list of tensors (tuples of pieces, namedtuples of values and indices)."
    return list(out) if isinstance(out, (tuple, list)) else [out]


def run(L, fn, arrays, grad=True, seed=1):
    "Values and dtypes of fn(L, *inputs), and the gradients of sum_k sum(out_k * w_k) for the float inputs."
    xs = [make(L, a, grad) for a in arrays]
    outs = outputs(fn(L, *xs))
    values, dtypes = [o.detach().numpy() for o in outs], [np_dtype(o) for o in outs]
    wanted = [x for x in xs if x.requires_grad]
    rng, loss = np.random.default_rng(seed), None
    for o in outs:
        if o.requires_grad:
            w = make(L, rng.standard_normal(o.shape).astype(np_dtype(o)), False)
            loss = (o * w).sum() if loss is None else loss + (o * w).sum()
    if loss is None: return values, dtypes, [None] * len(wanted)
    gs = (torch.autograd.grad if L is torch else dl.grad)(loss, wanted, allow_unused=True)
    return values, dtypes, [None if g is None else g.detach().numpy() for g in gs]


# --------------------------------------------------------------------------- parity with PyTorch

R = np.random.default_rng(7)
F = lambda *s: R.standard_normal(s)                                  # float64
F32 = lambda *s: R.standard_normal(s).astype(np.float32)
POS = lambda *s: R.uniform(0.5, 2.0, s)
DIST = lambda *s: (R.permutation(math.prod(s)).reshape(s) / 7 + 0.1)   # distinct values: no ties
IDX = lambda hi, *s: R.integers(0, hi, s)
MASK = lambda *s: R.random(s) < 0.5
INT = lambda *s: R.integers(-5, 6, s)
NZ = lambda *s: R.choice([-3, -2, -1, 1, 2, 3], s)                  # nonzero divisors


def ifloordiv(x, y):
    "`x //= y` on a copy, as an expression."
    x = x.clone()
    x //= y
    return x


def imod(x, y):
    x = x.clone()
    x %= y
    return x

CASES = {
    # name: (fn(L, *inputs), inputs as NumPy arrays)
    'view': (lambda L, x: view(L, x, 4, -1), [F(2, 3, 4)]),
    'view of a slice': (lambda L, x: view(L, x[:, :2], 2, 8), [F(2, 3, 4)]),
    'view_as': (lambda L, x: x.view_as(L.zeros(6, 2)), [F(3, 4)]),
    'reshape': (lambda L, x: L.reshape(x.T, (2, 6)), [F(3, 4)]),
    'reshape_as': (lambda L, x: x.T.reshape_as(L.zeros(12)), [F(3, 4)]),
    'contiguous': (lambda L, x: x.T.contiguous(), [F(3, 4)]),
    'unsqueeze': (lambda L, x: L.unsqueeze(x, -2) * 2, [F(3, 4)]),
    'unsqueeze method': (lambda L, x: x.unsqueeze(0), [F(3)]),
    'squeeze all': (lambda L, x: L.squeeze(x), [F(1, 3, 1, 2)]),
    'squeeze dim': (lambda L, x: x.squeeze(2), [F(1, 3, 1, 2)]),
    'squeeze dims': (lambda L, x: x.squeeze((0, 1)), [F(1, 3, 1, 2)]),
    'flatten': (lambda L, x: L.flatten(x), [F(2, 3, 4)]),
    'flatten 1': (lambda L, x: x.flatten(1), [F(2, 3, 4)]),
    'flatten 0..1': (lambda L, x: x.flatten(0, 1), [F(2, 3, 4)]),
    'expand': (lambda L, x: x.expand(2, 3, -1) * 1, [F(3, 1)]),
    'expand_as': (lambda L, x: x.expand_as(L.zeros(2, 3, 4)) * 1, [F(3, 1)]),
    'repeat': (lambda L, x: x.repeat(2, 1, 3), [F(3, 2)]),
    'tile': (lambda L, x: L.tile(x, (2,)), [F(3, 2)]),
    'tile method': (lambda L, x: x.tile(2, 1, 2), [F(3, 2)]),
    'flip': (lambda L, x: L.flip(x, (0, 2)), [F(2, 3, 4)]),
    'flip method': (lambda L, x: x.flip(1), [F(2, 3)]),
    'gather': (lambda L, x, i: L.gather(x, 1, i), [F(3, 4), IDX(4, 3, 6)]),
    'gather dim 0': (lambda L, x, i: x.gather(0, i), [F(3, 4), IDX(3, 2, 3)]),
    'scatter_add': (lambda L, a, i, s: L.scatter_add(a, 1, i, s), [F(3, 4), IDX(4, 3, 5), F(3, 5)]),
    'scatter_add big src': (lambda L, a, i, s: a.scatter_add(0, i, s.detach()),  # PyTorch can't differentiate
                            [F(3, 4), IDX(3, 2, 4), F(4, 6)]),             # src here: see the chapter
    'scatter_add_': (lambda L, a, i, s: (a * 1).scatter_add_(1, i, s), [F(3, 4), IDX(4, 3, 5), F(3, 5)]),
    'index_select': (lambda L, x, i: L.index_select(x, 1, i), [F(3, 4), np.array([3, 0, 3])]),
    'masked_select': (lambda L, x, m: L.masked_select(x, m), [F(3, 4), MASK(4)]),
    'masked_fill': (lambda L, x, m: L.masked_fill(x, m, 2.5), [F(3, 4), MASK(3, 4)]),
    'masked_fill broadcast': (lambda L, x, m: x.masked_fill(m, -1.0), [F(4), MASK(3, 4)]),
    'masked_fill value': (lambda L, x, m, v: x.masked_fill(m, v), [F(3, 4), MASK(4), np.array(0.5)]),
    'masked_fill int': (lambda L, x, m: x.masked_fill(m, 0.7), [INT(5), MASK(5)]),
    'masked_fill_': (lambda L, x, m: (x * 1).masked_fill_(m, -2.0), [F(3, 4), MASK(3, 4)]),
    'sort': (lambda L, x: L.sort(x), [DIST(3, 4)]),
    'sort dim 0 descending': (lambda L, x: x.sort(0, descending=True), [DIST(3, 4)]),
    'sort stable ties': (lambda L, x: L.sort(x, stable=True), [R.integers(0, 3, (3, 8)) * 1.0]),
    'sort stable descending ties': (lambda L, x: x.sort(descending=True, stable=True),
                                    [R.integers(0, 3, (3, 8)) * 1.0]),
    'sort int': (lambda L, x: L.sort(x, stable=True), [INT(2, 6)]),
    'argsort': (lambda L, x: L.argsort(x, 1), [DIST(3, 4)]),
    'argsort descending': (lambda L, x: x.argsort(descending=True), [DIST(3, 4)]),
    'topk': (lambda L, x: L.topk(x, 2), [DIST(3, 4)]),
    'topk smallest dim 0': (lambda L, x: x.topk(2, 0, largest=False), [DIST(3, 4)]),
    'topk k=0': (lambda L, x: x.topk(0), [DIST(3, 4)]),
    'cumsum': (lambda L, x: L.cumsum(x, 1), [F(3, 4)]),
    'cumsum dim 0': (lambda L, x: x.cumsum(0), [F(3, 4)]),
    'cumsum dtype': (lambda L, x: L.cumsum(x, -1, dtype=L.float64), [F32(3, 4)]),
    'cumsum int': (lambda L, x: x.cumsum(0), [INT(5)]),
    'cumsum bool': (lambda L, x: x.cumsum(0), [MASK(5)]),
    'pow': (lambda L, x, y: L.pow(x, y), [POS(3, 4), F(4)]),
    'pow number exponent': (lambda L, x: x.pow(3), [F(3, 4)]),
    'pow number base': (lambda L, y: L.pow(2.0, y), [F(3)]),
    'pow int': (lambda L, x: L.pow(x, 2), [INT(5)]),
    'sin': (lambda L, x: L.sin(x), [F(3, 4)]), 'cos': (lambda L, x: x.cos(), [F(3, 4)]),
    'log2': (lambda L, x: L.log2(x), [POS(3, 4)]), 'log10': (lambda L, x: x.log10(), [POS(3, 4)]),
    'log1p': (lambda L, x: L.log1p(x), [POS(3, 4) - 0.9]), 'exp2': (lambda L, x: x.exp2(), [F(3, 4)]),
    'expm1': (lambda L, x: L.expm1(x), [F(3, 4)]), 'rsqrt': (lambda L, x: x.rsqrt(), [POS(3, 4)]),
    'reciprocal': (lambda L, x: L.reciprocal(x), [POS(3, 4)]), 'square': (lambda L, x: x.square(), [F(3, 4)]),
    'sin float32': (lambda L, x: L.sin(x), [F32(3, 4)]),
    'sin int': (lambda L, x: L.sin(x), [INT(5)]), 'log2 int': (lambda L, x: L.log2(x), [INT(5) + 6]),
    'exp2 int': (lambda L, x: x.exp2(), [INT(5)]), 'rsqrt int': (lambda L, x: x.rsqrt(), [INT(5) + 6]),
    'reciprocal int': (lambda L, x: x.reciprocal(), [INT(5) + 6]), 'log1p bool': (lambda L, x: x.log1p(), [MASK(5)]),
    'square int': (lambda L, x: L.square(x), [INT(5)]), 'square bool': (lambda L, x: L.square(x), [MASK(5)]),
    'floor': (lambda L, x: L.floor(x), [F(3, 4) * 3]), 'ceil': (lambda L, x: x.ceil(), [F(3, 4) * 3]),
    'trunc': (lambda L, x: L.trunc(x), [F(3, 4) * 3]), 'sign': (lambda L, x: x.sign(), [F(3, 4)]),
    'round': (lambda L, x: L.round(x), [np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, 1.51])]),
    'round decimals': (lambda L, x: x.round(decimals=2), [F(3, 4) * 10]),
    'round negative decimals': (lambda L, x: L.round(x, decimals=-1), [F(3, 4) * 100]),
    'floor int': (lambda L, x: x.floor(), [INT(5)]), 'round int': (lambda L, x: x.round(), [INT(5)]),
    'sign int': (lambda L, x: x.sign(), [INT(5)]), 'sign bool': (lambda L, x: x.sign(), [MASK(5)]),
    'var': (lambda L, x: L.var(x), [F(3, 4)]), 'var dim': (lambda L, x: x.var(1), [F(3, 4)]),
    'var keepdim': (lambda L, x: x.var(0, keepdim=True), [F(3, 4)]),
    'var unbiased=False': (lambda L, x: L.var(x, 1, False), [F(3, 4)]),
    'var(x, False)': (lambda L, x: L.var(x, False), [F(3, 4)]),
    'var correction': (lambda L, x: x.var((0, 2), correction=2), [F(2, 3, 4)]),
    'var float32': (lambda L, x: x.var(), [F32(3, 4)]),
    'std': (lambda L, x: L.std(x, 0), [F(3, 4)]), 'std all': (lambda L, x: x.std(), [F(3, 4)]),
    'std correction 0': (lambda L, x: x.std(1, correction=0, keepdim=True), [F(3, 4)]),
    'std constant row': (lambda L, x: x.std(1), [np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])]),
    'prod': (lambda L, x: L.prod(x), [F(3, 4)]), 'prod dim': (lambda L, x: x.prod(1), [F(3, 4)]),
    'prod keepdim': (lambda L, x: L.prod(x, 0, True), [F(3, 4)]),
    'prod zeros': (lambda L, x: x.prod(1), [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, 0.5]])]),
    'prod int': (lambda L, x: x.prod(), [INT(4).astype(np.int32)]), 'prod bool': (lambda L, x: x.prod(), [MASK(4)]),
    'prod dtype': (lambda L, x: x.prod(dtype=L.float64), [F32(3)]),
    'norm': (lambda L, x: L.norm(x), [F(3, 4)]), 'norm dim': (lambda L, x: x.norm(dim=1), [F(3, 4)]),
    'norm fro dims': (lambda L, x: L.norm(x, 'fro', (0, 1), keepdim=True), [F(2, 3, 4)]),
    'norm p=1': (lambda L, x: x.norm(1, 0), [F(3, 4)]),
    'norm inf': (lambda L, x: x.norm(float('inf'), 1), [DIST(3, 4)]),
    'norm -inf': (lambda L, x: L.norm(x, -math.inf), [DIST(3, 4)]), 'norm p=3': (lambda L, x: x.norm(3, 1), [F(3, 4)]),
    'norm p=0.5': (lambda L, x: x.norm(0.5), [F(3, 4)]),
    'norm zero vector': (lambda L, x: x.norm(dim=1), [np.array([[3.0, 4.0], [0.0, 0.0]])]),
    'norm dtype': (lambda L, x: L.norm(x, dtype=L.float64), [F32(3)]),
    'split': (lambda L, x: L.split(x, 2, 1), [F(3, 5)]), 'split sizes': (lambda L, x: x.split([1, 3, 1], 1), [F(3, 5)]),
    'split dim 0': (lambda L, x: x.split(2), [F(5, 2)]),
    'chunk': (lambda L, x: L.chunk(x, 4, 1), [F(3, 6)]), 'chunk uneven': (lambda L, x: x.chunk(2), [F(5, 2)]),
    'unbind': (lambda L, x: L.unbind(x, 1), [F(3, 4)]), 'unbind method': (lambda L, x: x.unbind(), [F(3, 4)]),
    'cat dim=': (lambda L, x, y: L.cat([x, y], dim=1), [F(3, 2), F(3, 4)]),
    'cat positional': (lambda L, x, y: L.cat([x, y], 1), [F(3, 2), F(3, 4)]),
    'concat': (lambda L, x, y: L.concat([x, y], -1), [F(3, 2), F(3, 4)]),
    'stack dim=': (lambda L, x, y: L.stack([x, y], dim=2), [F(3, 4), F(3, 4)]),
    'eq': (lambda L, x, y: L.eq(x, y), [INT(3, 4), INT(4)]), 'ne': (lambda L, x: x.ne(1), [INT(3, 4)]),
    'lt': (lambda L, x, y: L.lt(x, y), [F(3, 4), F(3, 4)]), 'le': (lambda L, x: x.le(0.5), [F(3, 4)]),
    'gt': (lambda L, x, y: x.gt(y), [F(3, 4), F(4)]), 'ge': (lambda L, x, y: L.ge(x, y), [INT(5), INT(5)]),
    'logical_and': (lambda L, x, y: L.logical_and(x, y), [INT(6), F(6)]),
    'logical_or': (lambda L, x, y: x.logical_or(y), [MASK(6), INT(6)]),
    'logical_xor': (lambda L, x, y: L.logical_xor(x, y), [MASK(2, 3), MASK(3)]),
    'logical_not': (lambda L, x: L.logical_not(x), [F(6).round()]),
    'and': (lambda L, x, y: x & y, [MASK(3, 4), MASK(4)]), 'or': (lambda L, x, y: x | y, [MASK(6), MASK(6)]),
    'xor': (lambda L, x, y: x ^ y, [MASK(6), MASK(6)]), 'invert': (lambda L, x: ~x, [MASK(6)]),
    'and int': (lambda L, x, y: x & y, [INT(6), INT(6)]), 'or bool int': (lambda L, x, y: x | y, [MASK(6), INT(6)]),
    'xor int32 int64': (lambda L, x, y: x ^ y, [INT(6).astype(np.int32), INT(6)]),
    'invert int': (lambda L, x: ~x, [INT(6)]), 'and number': (lambda L, x: x & 3, [INT(6)]),
    'rand number': (lambda L, x: True & x, [MASK(6)]), 'ror number': (lambda L, x: 4 | x, [INT(6)]),
    'bitwise_and': (lambda L, x, y: L.bitwise_and(x, y), [INT(6), INT(6)]),
    'bitwise_not': (lambda L, x: L.bitwise_not(x), [MASK(6)]),
    'bitwise_or': (lambda L, x, y: L.bitwise_or(x, y), [INT(6), MASK(6)]),
    'bitwise_xor': (lambda L, x, y: x.bitwise_xor(y), [INT(6), INT(6)]),
    'isclose': (lambda L, x, y: L.isclose(x, y), [F(6), F(6) * 1e-6]),
    'isclose tol': (lambda L, x: x.isclose(x + 1e-3, atol=1e-2), [F(6)]),
    # matrix products and t
    't': (lambda L, x: L.t(x), [F(3, 4)]), 't vector': (lambda L, x: x.t() * 1, [F(4)]),
    't 0-d': (lambda L, x: x.t() * 1, [np.array(2.5)]),
    'mm': (lambda L, a, b: L.mm(a, b), [F(3, 4), F(4, 2)]),
    'mm method float32': (lambda L, a, b: a.mm(b), [F32(3, 4), F32(4, 2)]),
    'mm int': (lambda L, a, b: L.mm(a, b), [INT(3, 4), INT(4, 2)]),
    'mm empty': (lambda L, a, b: L.mm(a, b), [F(3, 0), F(0, 2)]),
    'bmm': (lambda L, a, b: L.bmm(a, b), [F(2, 3, 4), F(2, 4, 5)]),
    'bmm method': (lambda L, a, b: a.bmm(b), [F32(2, 3, 4), F32(2, 4, 1)]),
    'mv': (lambda L, a, v: L.mv(a, v), [F(3, 4), F(4)]),
    'mv method': (lambda L, a, v: a.mv(v), [F32(3, 4), F32(4)]),
    'dot': (lambda L, u, v: L.dot(u, v), [F(5), F(5)]),
    'dot int': (lambda L, u, v: u.dot(v), [INT(5), INT(5)]),
    'outer': (lambda L, u, v: L.outer(u, v), [F(3), F(4)]),
    'outer mixed dtypes': (lambda L, u, v: u.outer(v), [INT(3), F32(4)]),
    'outer float32 float64': (lambda L, u, v: L.outer(u, v), [F32(3), F(2)]),
    'outer bool': (lambda L, u, v: L.outer(u, v), [MASK(3), MASK(2)]),
    # triangles
    'tril': (lambda L, x: L.tril(x), [F(3, 4)]),
    'tril -1': (lambda L, x: x.tril(-1), [F(4, 3)]),
    'triu': (lambda L, x: L.triu(x, 2), [F(2, 3, 4)]),
    'triu method': (lambda L, x: x.triu(-1), [F(3, 3)]),
    'tril bool': (lambda L, x: L.tril(x), [MASK(3, 3)]),
    'tril int': (lambda L, x: L.tril(x, diagonal=1), [INT(3, 3)]),
    'triu big diagonal': (lambda L, x: L.triu(x, 7), [F(3, 4)]),
    'tril_': (lambda L, x: (x * 1).tril_(1), [F(3, 4)]),
    'triu_': (lambda L, x: (x * 1).triu_(), [F(2, 3, 3)]),
    # floor division and remainders
    'floordiv': (lambda L, x, y: x // y, [INT(3, 4) * 3, NZ(4)]),
    'floordiv number': (lambda L, x: x // 2, [INT(6) * 3]),
    'floordiv float number': (lambda L, x: x // 2.5, [INT(6)]),
    'rfloordiv': (lambda L, y: 7 // y, [NZ(6)]),
    'rfloordiv float': (lambda L, y: 7.5 // y, [NZ(6)]),
    'floor_divide float': (lambda L, x, y: L.floor_divide(x.detach(), y.detach()),
                           [F(3, 4) * 5, F(4)]),
    'floor_divide method int32': (lambda L, x: x.floor_divide(2),
                                  [INT(6).astype(np.int32)]),
    'floordiv uint8 int64': (lambda L, x, y: x // y,
                             [R.integers(0, 200, 6).astype(np.uint8), NZ(6)]),
    'floordiv int8 0-d int64': (lambda L, x, y: x // y,
                                [INT(6).astype(np.int8), np.array(-2)]),
    'floordiv float by zero': (lambda L, x: x.detach() // 0, [F(6)]),
    'floordiv float specials': (lambda L, x, y: L.floor_divide(x.detach(), y.detach()),
                                [np.array([5.0, -5.0, np.inf, 1.0, -0.0, 7.0]),
                                 np.array([np.inf, np.inf, 3.0, 0.1, 3.0, -0.5])]),
    'floordiv float16': (lambda L, x: x.detach() // 3, [F(6).astype(np.float16) * 10]),
    'mod': (lambda L, x, y: x % y, [INT(3, 4) * 3, NZ(4)]),
    'mod number': (lambda L, x: x % -3, [INT(6) * 3]),
    'rmod': (lambda L, y: 5 % y, [NZ(6)]),
    'rmod float': (lambda L, y: 5.5 % y.detach(), [F(6)]),       # torch: no derivative
    'mod float specials': (lambda L, x, y: x.detach() % y.detach(),
                           [np.array([5.0, -5.0, 1.0, 7.5, np.nan]),
                            np.array([np.inf, np.inf, 0.0, -2.0, 1.0])]),
    'remainder': (lambda L, x, y: L.remainder(x, y), [F(3, 4) * 5, F(4)]),
    'remainder method': (lambda L, x: x.remainder(1.5), [F(3, 4) * 5]),
    'remainder number first': (lambda L, y: L.remainder(5, y), [NZ(6)]),
    'remainder float32 float64': (lambda L, x, y: L.remainder(x, y),
                                  [F32(5) * 5, F(5)]),
    'remainder broadcast': (lambda L, x, y: x.remainder(y), [F(4) * 5, F(3, 1)]),
    'fmod': (lambda L, x, y: L.fmod(x, y), [F(3, 4) * 5, F(4)]),
    'fmod int': (lambda L, x: x.fmod(-3), [INT(6) * 3]),
    'fmod int by float': (lambda L, x: L.fmod(x, 2.5), [INT(6) * 3]),
    'fmod method': (lambda L, x, y: x.fmod(y), [F(5) * 5, POS(5)]),
    'remainder_': (lambda L, x, y: (x * 1).remainder_(y), [F(3, 4) * 5, F(4)]),
    'fmod_': (lambda L, x: (x * 1).fmod_(1.5), [F(3, 4) * 5]),
    'floor_divide_': (lambda L, x: x.clone().floor_divide_(3), [INT(6) * 3]),
    'ifloordiv': (lambda L, x, y: ifloordiv(x, y), [INT(3, 4) * 3, NZ(4)]),
    'ifloordiv float': (lambda L, x: ifloordiv(x.detach(), 0.7), [F(6)]),
    'imod': (lambda L, x, y: imod(x * 1, y), [F(3, 4) * 5, F(4)]),
    # clamp with tensor (and number) bounds
    'clamp tensors': (lambda L, x, lo, hi: L.clamp(x, lo, hi),
                      [F(3, 4), F(4) - 0.5, F(3, 1) + 0.5]),
    'clamp crossing': (lambda L, x, lo, hi: L.clamp(x, lo, hi),
                       [F(3, 4), POS(4), -POS(4)]),                  # min > max
    'clamp ties': (lambda L, x, lo, hi: L.clamp(x, lo, hi),
                   [np.array([1.0, 2.0, 3.0, 3.0]), np.array([1.0, 3.0, 3.0, 2.0]),
                    np.array([1.0, 3.0, 4.0, 2.0])]),
    'clamp min tensor': (lambda L, x, lo: L.clamp(x, min=lo), [F(3, 4), F(3, 1)]),
    'clamp max tensor': (lambda L, x, hi: L.clamp(x, max=hi), [F(3, 4), F(4)]),
    'clamp broadcast out': (lambda L, x, lo: L.clamp(x, min=lo), [F(1, 4), F(3, 1)]),
    'clamp numbers': (lambda L, x: L.clamp(x, -0.5, 0.5), [F(3, 4)]),
    'clamp numbers crossing': (lambda L, x: L.clamp(x, 0.5, -0.5), [F(3, 4)]),
    'clamp nan': (lambda L, x: L.clamp(x, 0.0, 1.0), [np.array([np.nan, 2.0, -1.0])]),
    'clamp int float': (lambda L, x: L.clamp(x, 2.5), [INT(6)]),
    'clamp int int': (lambda L, x: L.clamp(x, max=2), [INT(6).astype(np.int32)]),
    'clamp bool': (lambda L, x: L.clamp(x, 0), [MASK(6)]),
    'clamp float16': (lambda L, x: L.clamp(x, 0.25), [F(6).astype(np.float16)]),
    'clamp int by 0-d float': (lambda L, x, lo: L.clamp(x, lo),
                               [INT(6), np.array(1.5)]),
    'clamp float32 by float64': (lambda L, x, lo: L.clamp(x, lo), [F32(6), F(6)]),
    'clamp float32 by 0-d float64': (lambda L, x, lo: L.clamp(x, lo),
                                     [F32(6), np.array(0.1)]),
    'clamp_min': (lambda L, x: L.clamp_min(x, 0.2), [F(3, 4)]),
    'clamp_max tensor': (lambda L, x, hi: x.clamp_max(hi), [F(3, 4), F(4)]),
    'clamp_min_': (lambda L, x: (x * 1).clamp_min_(-0.1), [F(3, 4)]),
    # scatter: one write per position (with repeats, which write wins is unspecified)
    'scatter': (lambda L, a, i, s: L.scatter(a, 1, i, s),
                [F(3, 4), np.array([[3, 0], [1, 2], [0, 3]]), F(3, 2)]),
    'scatter big src': (lambda L, a, i, s: a.scatter(1, i, s.detach()),    # PyTorch can't differentiate
                        [F(3, 4), np.array([[3, 0], [1, 2], [0, 3]]), F(3, 5)]),   # src here
    'scatter value': (lambda L, a, i: a.scatter(0, i, 0.5), [F(3, 4), np.array([[2, 0, 1, 1]])]),
    'scatter_': (lambda L, a, i, s: (a * 1).scatter_(0, i, s), [F(3, 4), np.array([[1, 2], [0, 1]]), F(2, 2)]),
    'scatter_ value one-hot': (lambda L, i: L.zeros(4, 3).scatter_(1, i, 1.0), [IDX(3, 4, 1)]),
    'scatter int': (lambda L, a, i, s: a.scatter(0, i, s), [INT(3, 2), np.array([[2, 0]]), INT(1, 2)]),
    # einsum
    'einsum matmul': (lambda L, a, b: L.einsum('ij,jk->ik', a, b), [F(3, 4), F(4, 2)]),
    'einsum list': (lambda L, a, b: L.einsum('ij,jk', [a, b]), [F(3, 4), F(4, 2)]),
    'einsum attention': (lambda L, q, k: L.einsum('bqd,bkd->bqk', q, k), [F(2, 3, 4), F(2, 5, 4)]),
    'einsum implicit order': (lambda L, a, b: L.einsum('kj,ij', a, b), [F(2, 4), F(3, 4)]),
    'einsum upper case': (lambda L, a, b: L.einsum('Ab,bA', a, b), [F(2, 3), F(3, 2)]),
    'einsum diagonal': (lambda L, a: L.einsum('ii->i', a), [F(3, 3)]),
    'einsum trace': (lambda L, a: L.einsum('ii', a), [F(3, 3)]),
    'einsum row sums': (lambda L, a: L.einsum('ij->i', a), [F(3, 4)]),
    'einsum three operands': (lambda L, u, a, v: L.einsum('i,ij,j->', u, a, v), [F(3), F(3, 4), F(4)]),
    'einsum ellipsis': (lambda L, a, b: L.einsum('...ij,jk->...ik', a, b), [F(2, 3, 4), F(4, 2)]),
    'einsum ellipsis implicit': (lambda L, a, b: L.einsum('...i,...i', a, b), [F(4, 2, 3), F(2, 3)]),
    'einsum broadcast 1': (lambda L, a, b: L.einsum('ij,kj->ikj', a, b), [F(3, 1), F(2, 4)]),
    'einsum repeated and summed': (lambda L, a, v: L.einsum('iij,j->i', a, v), [F(3, 3, 2), F(2)]),
    'einsum float32': (lambda L, a, b: L.einsum('ij,jk->ik', a, b), [F32(3, 4), F32(4, 2)]),
    'einsum int': (lambda L, u, v: L.einsum('i,i', u, v), [INT(5), INT(5)]),
    # checks of values
    'isnan': (lambda L, x: L.isnan(x), [np.array([1.0, np.nan, np.inf, -np.inf])]),
    'isinf': (lambda L, x: x.isinf(), [np.array([1.0, np.nan, np.inf, -np.inf])]),
    'isfinite': (lambda L, x: L.isfinite(x), [np.array([1.0, np.nan, np.inf, -np.inf])]),
    'isnan int': (lambda L, x: L.isnan(x), [INT(4)]),
    'nan_to_num': (lambda L, x: L.nan_to_num(x, nan=0.5, posinf=4.0, neginf=-4.0), [np.array([1.0, np.nan, np.inf, -np.inf, -2.0])]),
    'nan_to_num method': (lambda L, x: x.nan_to_num(posinf=1.0, neginf=-1.0), [np.array([np.nan, np.inf, -np.inf])]),
    'nan_to_num defaults': (lambda L, x: L.nan_to_num(x.detach()), [np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)]),
    'count_nonzero': (lambda L, x: L.count_nonzero(x, dim=0), [INT(3, 4)]),
    'count_nonzero all': (lambda L, x: x.count_nonzero(), [F(3, 4).round()]),
    'count_nonzero dims': (lambda L, x: L.count_nonzero(x, (0, 2)), [MASK(2, 3, 4)]),
    'kthvalue': (lambda L, x: L.kthvalue(x, 2, 1), [DIST(3, 4)]),
    'kthvalue keepdim': (lambda L, x: x.kthvalue(3, 0, True), [DIST(3, 4)]),
    'median': (lambda L, x: L.median(x), [DIST(3, 4)]),
    'median dim': (lambda L, x: x.median(1), [DIST(3, 4)]),
    'median odd keepdim': (lambda L, x: L.median(x, 0, keepdim=True), [DIST(3, 4)]),
    'bincount': (lambda L, x: L.bincount(x), [IDX(5, 12)]),
    'bincount minlength': (lambda L, x: x.bincount(minlength=8), [IDX(5, 12)]),
    'bincount weights': (lambda L, x, w: L.bincount(x, w.detach()), [IDX(5, 12), F32(12)]),
    'bincount int weights': (lambda L, x, w: L.bincount(x, weights=w), [IDX(5, 12), INT(12)]),
}

NONDIFF = {'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'argsort', 'argsort descending', 'isnan', 'isinf', 'isfinite',
           'count_nonzero', 'count_nonzero all', 'count_nonzero dims', 'bincount', 'bincount minlength'}


@pytest.mark.parametrize('name', list(CASES))
def test_parity_with_torch(name):
    fn, arrays = CASES[name]
    ours, theirs = run(dl, fn, arrays), run(torch, fn, arrays)
    (v1, d1, g1), (v2, d2, g2) = ours, theirs
    assert len(v1) == len(v2), name
    for i, (a, b, da, db) in enumerate(zip(v1, v2, d1, d2)):
        assert da == db, f"{name}: output {i} has dtype {da}, PyTorch's {db}"
        assert a.shape == b.shape, f"{name}: output {i} has shape {a.shape}, PyTorch's {b.shape}"
        rtol, atol = (1e-5, 1e-6) if da == np.float32 else (RTOL, ATOL)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{name}: output {i}")
    assert len(g1) == len(g2), name
    for i, (a, b) in enumerate(zip(g1, g2)):
        if b is None: assert a is None or not a.any(), (name, i); continue
        assert a is not None, f"{name}: no gradient for input {i}; PyTorch has one"
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8, err_msg=f"{name}: gradient of input {i}")


@pytest.mark.parametrize('a,b,kw', [([1.0, 2.0], [1.0, 2.0 + 1e-6], {}), ([1.0, 2.0], [1.0, 2.1], {}),
                                     ([1.0, 2.0], [1.0, 2.1], dict(atol=0.2)), ([1.0, 2.0], [1.0, 2.1], dict(rtol=0.1)),
                                     ([1.0, np.nan], [1.0, np.nan], {}),
                                     ([1.0, np.nan], [1.0, np.nan], dict(equal_nan=True)),
                                     ([np.inf], [np.inf], {}), ([1.0, 2.0], [[1.0, 2.0]], {})])
def test_allclose_and_equal_match_torch(a, b, kw):
    a, b = np.array(a), np.array(b)
    assert dl.allclose(dl.tensor(a), dl.tensor(b), **kw) == torch.allclose(torch.tensor(a), torch.tensor(b), **kw)
    assert dl.tensor(a).allclose(dl.tensor(b), **kw) == torch.tensor(a).allclose(torch.tensor(b), **kw)
    assert dl.equal(dl.tensor(a), dl.tensor(b)) == torch.equal(torch.tensor(a), torch.tensor(b))
    assert dl.tensor(a).equal(dl.tensor(b)) == torch.tensor(a).equal(torch.tensor(b))
    assert dl.equal(dl.tensor(a), dl.tensor(a.astype(np.float32))) == torch.equal(torch.tensor(a),
                                                                                  torch.tensor(a.astype(np.float32)))


def test_parity_table_covers_every_public_function():
    "Each public function and each new Tensor method of the chapter appears in a parity case (by its name)."
    sources = ' '.join(CASES) + ' ' + ' '.join(
        fn.__code__.co_names.__repr__() for fn, _ in CASES.values())
    ops = [n for n in TO.__all__ if n[0].islower() and n not in ('numel', 'allclose', 'equal',
                                                                 'nonzero', 'unique')]   # the last two: test_method_forms_match_torch
    # the functions of the section "More of PyTorch's surface" have their cases in test_torch_more_tensor.py
    # (and test_torch_linalg_more.py: linalg, cov, trapezoid, searchsorted, tensor_split, ...;
    # test_special_more.py: xlogy and the special functions)
    more = ''.join((Path(__file__).parent / f).read_text()
                   for f in ('test_torch_more_tensor.py', 'test_torch_linalg_more.py',
                             'test_special_more.py', 'test_numeric_more.py',
                             'test_tensor_more4.py', 'test_surface_more3.py',
                             'test_probe_op.py', 'test_probe_testing.py'))
    missing = [n for n in ops if n not in sources and not re.search(rf'\b{n}\b', more)]
    assert not missing, f"no parity case uses {missing}"


@pytest.mark.parametrize('name', ['sin', 'cos', 'log2', 'log10', 'log1p', 'exp2', 'expm1', 'rsqrt', 'reciprocal',
                                  'cumsum', 'gather', 'scatter_add', 'sort', 'topk', 'var', 'std', 'norm',
                                  'prod', 'repeat', 'flip', 'masked_fill', 'square',
                                  'pow', 'mm', 'bmm', 'mv', 'dot', 'outer', 'tril',
                                  'triu', 'remainder', 'fmod', 'clamp tensors',
                                  'clamp crossing', 'clamp numbers'])
def test_second_derivatives_match_torch(name):
    "d/dx of sum(g * g), g = d sum(f(x)^2 * w)/dx computed with create_graph=True: the rules' own gradients."
    fn, arrays = CASES[name]
    results = []
    for L in (dl, torch):
        xs = [make(L, a, True) for a in arrays]
        out = outputs(fn(L, *xs))[0]
        w = make(L, np.random.default_rng(3).standard_normal(out.shape).astype(arrays[0].dtype), False)
        wanted = [x for x in xs if x.requires_grad]
        grad = torch.autograd.grad if L is torch else dl.grad
        gs = grad((out * out * w).sum(), wanted, create_graph=True)     # nonlinear even if f is linear
        hs = grad(sum((g * g).sum() for g in gs), wanted, allow_unused=True)
        results.append([g.detach().numpy() for g in gs] + [None if h is None else h.detach().numpy() for h in hs])
    for a, b in zip(*results):
        if a is None or b is None: assert (a is None or not a.any()) and (b is None or not b.any()), name; continue
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8, err_msg=name)


def test_zero_gradients_are_zeros_not_none():
    "PyTorch's convention for piecewise-constant functions: x.grad is a tensor of zeros."
    for f in (dl.floor, dl.ceil, dl.trunc, dl.sign, dl.round):
        x = dl.tensor([0.3, -1.7, 2.5], requires_grad=True)
        y = f(x)
        assert y.requires_grad and not y.is_leaf
        y.sum().backward()
        assert x.grad is not None and x.grad.tolist() == [0.0, 0.0, 0.0], f.__name__


def test_non_differentiable_results_leave_the_graph():
    x = dl.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for r in (x > 0, dl.eq(x, 1), x.ne(1), dl.lt(x, 0), x.le(0), dl.gt(x, 0), x.ge(0), dl.logical_not(x),
              dl.logical_and(x, x), dl.isclose(x, x), x.argsort(), x.sort().indices, x.topk(1).indices):
        assert not r.requires_grad and r.is_leaf and r.dtype in (dl.bool, dl.int64)
    assert dl.allclose(x, x) is True and dl.equal(x, x) is True


# --------------------------------------------------------------------------- in-place ops

def test_inplace_ops_match_torch_and_follow_autograd_rules():
    rng = np.random.default_rng(0)
    a, s, m = rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.random((3, 4)) < 0.5
    i = rng.integers(0, 4, (3, 5))
    res = []
    for L in (dl, torch):
        x = make(L, a, True)
        y = x * 2
        src = make(L, s, True)
        y.masked_fill_(make(L, m, False), 3.0).scatter_add_(1, make(L, i, False), src)
        (y * y).sum().backward()
        res.append([y.detach().numpy(), x.grad.numpy(), src.grad.numpy()])
    for p, q in zip(*res): np.testing.assert_allclose(p, q, rtol=1e-10)
    leaf = dl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: a leaf tensor that requires grad"):
        leaf.masked_fill_(dl.tensor([True, False]), 0.0)
    with pytest.raises(RuntimeError, match="scatter_add_: a leaf tensor that requires grad"):
        leaf.scatter_add_(0, dl.tensor([0]), dl.tensor([1.0]))
    with dl.no_grad(): leaf.masked_fill_(dl.tensor([True, False]), 0.0)
    assert leaf.tolist() == [0.0, 2.0]


def test_inplace_after_use_is_detected():
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    z = y.sin()                                     # sin's rule reads y
    y.masked_fill_(dl.tensor([True, False, False]), 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"): z.sum().backward()


def test_inplace_division_and_triangles_match_torch_and_follow_autograd_rules():
    rng = np.random.default_rng(1)
    a, d = rng.standard_normal((3, 4)) * 5, rng.uniform(1, 2, 4)
    res = []
    for L in (dl, torch):
        x, div = make(L, a, True), make(L, d, True)
        y = x * 2
        y %= div
        y.fmod_(1.5).tril_(1).triu_(-1)
        (y * y).sum().backward()
        i = make(L, np.array([7, -7, 9]), False)
        j = i
        i //= 2
        i.remainder_(3).fmod_(-2).floor_divide_(1)
        assert i is j
        res.append([y.detach().numpy(), x.grad.numpy(), div.grad.numpy(), i.numpy()])
    for p, q in zip(*res): np.testing.assert_allclose(p, q, rtol=1e-10)
    leaf = dl.ones(2, 2, requires_grad=True)
    for write in (lambda: leaf.tril_(), lambda: leaf.triu_(1), lambda: leaf.fmod_(2.0),
                  lambda: leaf.remainder_(2.0), lambda: leaf.__ifloordiv__(2.0)):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
            write()
    x = dl.ones(2, 2, requires_grad=True)
    y = x * 1
    z = y.sin()                                     # sin's rule reads y
    y.tril_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_floor_divide_has_no_derivative_as_in_torch():
    for L in (dl, torch):
        for f in (lambda x: x // 2, lambda x: L.floor_divide(x, x), lambda x: 3.0 // x,
                  lambda x: x.floor_divide(2), lambda x: ifloordiv(x * 1, 2)):
            x = make(L, np.array([5.0, -3.5]), True)
            y = f(x)
            assert y.requires_grad
            with pytest.raises(RuntimeError, match="derivative for .*floor_divide"):
                y.sum().backward()
    x = dl.tensor([5.0, -3.5], requires_grad=True)      # the ways out the error names
    (dl.floor(x / 2) + (x // 2).detach()).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize('expr', [
    'x // 0', 'x % 0', 'L.fmod(x, 0)', 'x // L.tensor([1, 0, 1])', '7 // L.tensor([0])',
    'L.remainder(x, L.tensor(0))', 'x.remainder_(0)',
    'L.tensor([True]) // L.tensor([True])', 'L.tensor([True]) % L.tensor([False])',
    'L.mm(L.ones(1, 1, dtype=L.bool), L.ones(1, 1, dtype=L.bool))',
    'L.zeros(2, 3, 4).t()', 'L.tril(L.zeros(3))', 'L.mm(L.zeros(3), L.zeros(3, 2))',
    'L.bmm(L.zeros(2, 2, 3), L.zeros(3, 3, 2))', 'L.dot(L.zeros(2), L.zeros(3))',
    'L.mv(L.zeros(2, 3), L.zeros(2))',
    'L.mm(L.zeros(2, 3), L.zeros(3, 2, dtype=L.float64))',
    'L.outer(L.zeros(2), L.zeros(2, 2))', 'L.clamp(L.zeros(3))'])
def test_errors_are_raised_where_torch_raises_them(expr):
    "The same exception class as PyTorch's (its messages differ; ours name the op)."
    kinds = []
    for L in (dl, torch):
        x = L.tensor([7, -7, 5])
        with pytest.raises(Exception) as info: eval(expr)
        kinds.append(type(info.value))
    assert kinds[0] is kinds[1] or issubclass(kinds[0], kinds[1]), (expr, kinds)
    if '0' in expr and 'bool' not in expr and 'zeros' not in expr:
        assert 'ZeroDivisionError' in str(info.value)


def test_where_with_numbers_and_tensor_bounds_of_graph_methods():
    "Chapter 00's `where` (graph.py) with numbers on both sides, as torch.where."
    c = dl.tensor([True, False])
    for a, b in ((1.0, 0.0), (1, 0), (1, 0.5), (True, False)):
        got = dl.where(c, a, b)
        want = torch.where(torch.tensor([True, False]), a, b)
        assert got.tolist() == want.tolist() and np_dtype(got) == np_dtype(want)


def test_expand_is_a_read_only_view():
    b = dl.tensor([[1.0], [2.0]])
    e = b.expand(2, 3)
    assert np.shares_memory(e.numpy(), b.numpy()) and e.stride() == (1, 0)
    for write in (lambda: e.add_(1), lambda: e.masked_fill_(dl.tensor([True, False, True]), 0.0),
                  lambda: e.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="read-only"): write()


# --------------------------------------------------------------------------- errors

DIM_OPS = {
    'unsqueeze': lambda x: dl.unsqueeze(x, 4), 'squeeze': lambda x: x.squeeze(3), 'flatten': lambda x: x.flatten(0, 5),
    'gather': lambda x: x.gather(3, dl.zeros(2, 3, 4, dtype=dl.int64)),
    'scatter_add': lambda x: x.scatter_add(-4, dl.zeros(2, 3, 4, dtype=dl.int64), x),
    'index_select': lambda x: x.index_select(3, dl.tensor([0])), 'sort': lambda x: x.sort(3),
    'argsort': lambda x: x.argsort(-4), 'topk': lambda x: x.topk(1, 3), 'cumsum': lambda x: x.cumsum(3),
    'flip': lambda x: x.flip(3), 'var': lambda x: x.var(3), 'std': lambda x: x.std((0, 3)),
    'prod': lambda x: x.prod(3), 'norm': lambda x: x.norm(dim=3), 'split': lambda x: x.split(1, 3),
    'chunk': lambda x: x.chunk(2, 3), 'unbind': lambda x: x.unbind(3), 'stride': lambda x: x.stride(3),
}


@pytest.mark.parametrize('name', list(DIM_OPS))
def test_dimension_out_of_range_names_the_op(name):
    x = dl.zeros(2, 3, 4)
    with pytest.raises(IndexError, match=rf"^{name}: dimension out of range"): DIM_OPS[name](x)


ERRORS = [
    (lambda: TO._view(dl.zeros(2, 3).T, 6), RuntimeError, r"^view: size \[6\] is not compatible.*\.reshape"),
    (lambda: TO._view(dl.zeros(2, 3), 4, -1), RuntimeError, r"^view: shape \[4, -1\] is invalid for input of size 6"),
    (lambda: TO._view(dl.zeros(2, 3), -1, -1), RuntimeError, r"^view: only one dimension can be inferred"),
    (lambda: TO._view(dl.zeros(0, 3), -1, 0), RuntimeError, r"^view: .*ambiguous"),
    (lambda: TO._view(dl.zeros(2, 3), 2.0, 3), TypeError, r"^view: the shape must be ints"),
    (lambda: TO._view(dl.zeros(2, 3), dl.float64), TypeError, r"^view: expected a shape"),
    (lambda: dl.zeros(2, 3).view_as(dl.zeros(5)), RuntimeError, r"^view: shape \[5\] is invalid"),
    (lambda: dl.zeros(2, 3).flatten(1, 0), RuntimeError, r"^flatten: start_dim \(1\) cannot come after"),
    (lambda: dl.zeros(2, 3).expand(3), RuntimeError, r"^expand: the number of sizes provided \(1\)"),
    (lambda: dl.zeros(2, 3).expand(2, 4), RuntimeError, r"^expand: the expanded size of the tensor \(4\) must match "
                                                        r"the existing size \(3\) at non-singleton dimension 1"),
    (lambda: dl.zeros(3).expand(-1, 3), RuntimeError, r"^expand: -1 is not allowed in a leading"),
    (lambda: dl.zeros(3).expand(2.5, 3), TypeError, r"^expand: the sizes must be ints"),
    (lambda: dl.zeros(2, 3).repeat(2), RuntimeError, r"^repeat: the number of repeat dims \(1\) can not be smaller"),
    (lambda: dl.zeros(3).repeat(-1), RuntimeError, r"^repeat: the repeats must be non-negative"),
    (lambda: dl.zeros(2, 3).gather(1, dl.tensor([[0.0]])), TypeError, r"^gather: the index must be an integer"),
    (lambda: dl.zeros(2, 3).gather(1, dl.tensor([0])), RuntimeError, r"^gather: the index must have the same number"),
    (lambda: dl.zeros(2, 3).gather(1, dl.tensor([[3]])), IndexError,
     r"^gather: index 3 is out of bounds for dimension 1"),
    (lambda: dl.zeros(2, 3).gather(1, dl.tensor([[-1]])), IndexError, r"^gather: index -1 is out of bounds"),
    (lambda: dl.zeros(2, 3).gather(0, dl.zeros(1, 4, dtype=dl.int64)), RuntimeError,
     r"^gather: expected index \[1, 4\] to be no larger than input \[2, 3\] apart from dimension 0"),
    (lambda: dl.zeros(3).scatter_add(0, dl.tensor([0, 1]), dl.ones(1)), RuntimeError,
     r"^scatter_add: expected index \[2\] to be no larger than src \[1\]"),
    (lambda: dl.zeros(3).scatter_add(0, dl.tensor([0]), [1.0]), TypeError, r"^scatter_add: src must be a tensor"),
    (lambda: dl.zeros(3).scatter_add(0, dl.tensor([0]), dl.ones(1, dtype=dl.float64)), RuntimeError,
     r"^scatter_add: expected self.dtype to be equal to src.dtype"),
    (lambda: dl.zeros(3).index_select(0, dl.tensor([[0]])), IndexError, r"^index_select: the index must be 0-D or 1-D"),
    (lambda: dl.zeros(3).index_select(0, dl.tensor([3])), IndexError, r"^index_select: index 3 is out of bounds"),
    (lambda: dl.zeros(3).masked_fill(dl.tensor([1, 0, 1]), 0.0), TypeError, r"^masked_fill: only boolean masks"),
    (lambda: dl.zeros(3).masked_fill(dl.tensor([True, False]), 0.0), ValueError, r"^masked_fill: "),
    (lambda: dl.zeros(3).masked_fill(dl.tensor([True] * 3), dl.ones(3)), RuntimeError,
     r"^masked_fill: only supports a 0-dimensional value tensor"),
    (lambda: dl.zeros(3).masked_fill_(dl.tensor([[True] * 3] * 2), 1.0), RuntimeError,
     r"^masked_fill_: output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"),
    (lambda: dl.zeros(3).masked_select(dl.tensor([0, 1, 1])), TypeError, r"^masked_select: only boolean masks"),
    (lambda: dl.zeros(3).topk(4), RuntimeError, r"^topk: selected index k out of range"),
    (lambda: dl.zeros(3).topk(-1), RuntimeError, r"^topk: selected index k out of range"),
    (lambda: dl.tensor([1, 2]).var(), RuntimeError, r"^var: std and var only support floating-point"),
    (lambda: dl.tensor([1, 2]).std(), RuntimeError, r"^std: std and var only support floating-point"),
    (lambda: dl.zeros(3).var(0, unbiased=True, correction=1), TypeError, r"^var: give either unbiased or correction"),
    (lambda: dl.zeros(2, 3).var((0, 0)), RuntimeError, r"^var: a dim appears more than once"),
    (lambda: dl.zeros(2, 3).prod((0, 1)), TypeError, r"^prod: dim must be one int"),
    (lambda: dl.tensor([3, 4]).norm(), RuntimeError, r"^norm: expected a floating-point tensor"),
    (lambda: dl.arange(5).split(0), RuntimeError, r"^split: split_size can only be 0 if dimension size is 0"),
    (lambda: dl.arange(5).split([2, 2]), RuntimeError,
     r"^split: split_sizes must be non-negative and sum exactly to 5"),
    (lambda: dl.arange(5).split([6, -1]), RuntimeError, r"^split: split_sizes must be non-negative"),
    (lambda: dl.arange(5).chunk(0), RuntimeError, r"^chunk: expects `chunks` to be greater than 0"),
    (lambda: dl.zeros(3) & dl.zeros(3), TypeError, r"^bitwise_and: only integer and bool tensors are supported"),
    (lambda: dl.tensor([True]) | 1.5, TypeError, r"^bitwise_or: only integer and bool tensors"),
    (lambda: ~dl.zeros(3), TypeError, r"^bitwise_not: only integer and bool tensors"),
    (lambda: dl.eq(dl.zeros(3), dl.zeros(2)), RuntimeError, r"^eq: .*\(shapes \[3\], \[2\]\)"),
    (lambda: dl.logical_and(dl.zeros(3), dl.zeros(2)), RuntimeError, r"^logical_and: "),
    (lambda: dl.isclose(dl.zeros(3), dl.zeros(3, dtype=dl.float64)), RuntimeError,
     r"^isclose: dl.float32 did not match dl.float64"),
    (lambda: dl.allclose(dl.zeros(3), dl.zeros(3, dtype=dl.int64)), RuntimeError,
     r"^isclose: dl.float32 did not match"),
    (lambda: dl.sin("x"), TypeError, r"^sin: "),
    (lambda: dl.tensor([True]) & None, TypeError, r"^bitwise_and: .*got object \(not numbers\)"),
    (lambda: dl.zeros(2).gather(0, ['a']), TypeError, r"^gather: the index must be an integer tensor"),
    (lambda: dl.zeros(2).masked_fill([None, 1], 0), TypeError, r"^masked_fill: only boolean masks"),
    (lambda: dl.cumsum(dl.zeros(3), 0, dtype='complex64'), TypeError, r"^cumsum: "),
    (lambda: dl.zeros(2, 3, 4).t(), RuntimeError,
     r"^t: expects a tensor with <= 2 dimensions"),
    (lambda: dl.mm(dl.zeros(3), dl.zeros(3, 2)), RuntimeError,
     r"^mm: expected two matrices \(2-D\), got shapes \[3\] and \[3, 2\]"),
    (lambda: dl.mm(dl.zeros(2, 3), dl.zeros(4, 2)), RuntimeError,
     r"^mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x2\)"),
    (lambda: dl.zeros(2, 3).mm(dl.zeros(3, 2, dtype=dl.float64)), RuntimeError,
     r"^mm: expected both operands to have the same dtype, but got dl.float32 and "
     r"dl.float64"),
    (lambda: dl.mm(dl.ones(1, 1, dtype=dl.bool), dl.ones(1, 1, dtype=dl.bool)),
     NotImplementedError, r"^mm: not implemented for dl.bool"),
    (lambda: dl.bmm(dl.zeros(2, 3), dl.zeros(3, 2)), RuntimeError,
     r"^bmm: expected two batches of matrices \(3-D\)"),
    (lambda: dl.bmm(dl.zeros(2, 2, 3), dl.zeros(3, 3, 2)), RuntimeError,
     r"^bmm: expected size for first two dimensions of batch2 tensor to be: "
     r"\[2, 3\] but got: \[3, 3\]"),
    (lambda: dl.mv(dl.zeros(2, 3), dl.zeros(2)), RuntimeError,
     r"^mv: size mismatch, got mat \(2x3\), vec \(2\)"),
    (lambda: dl.mv(dl.zeros(2, 3), dl.zeros(1, 3)), RuntimeError,
     r"^mv: expected a matrix \(2-D\) and a vector \(1-D\)"),
    (lambda: dl.dot(dl.zeros(1, 2), dl.zeros(2)), RuntimeError,
     r"^dot: expected two vectors"),
    (lambda: dl.dot(dl.zeros(2), dl.zeros(3)), RuntimeError,
     r"^dot: inconsistent tensor size"),
    (lambda: dl.zeros(2).dot(dl.zeros(2, dtype=dl.float64)), RuntimeError,
     r"^dot: expected both operands to have the same dtype"),
    (lambda: dl.outer(dl.zeros(2), dl.zeros(1, 3)), RuntimeError,
     r"^outer: expected 1-D argument vec2"),
    (lambda: dl.zeros(2, 2).outer(dl.zeros(3)), RuntimeError,
     r"^outer: expected 1-D argument input"),
    (lambda: dl.tril(dl.zeros(3)), RuntimeError,
     r"^tril: input tensor must have at least 2"),
    (lambda: dl.zeros(3).triu_(), RuntimeError,
     r"^triu_: input tensor must have at least 2"),
    (lambda: dl.tril(dl.zeros(2, 2), 0.5), TypeError,
     r"^tril: diagonal must be an int"),
    (lambda: dl.tensor([7, -7]) // 0, RuntimeError,
     r"^floor_divide: ZeroDivisionError"),
    (lambda: 7 // dl.tensor([1, 0]), RuntimeError, r"^floor_divide: ZeroDivisionError"),
    (lambda: dl.tensor([7, -7]) % dl.tensor([1, 0]), RuntimeError,
     r"^remainder: ZeroDivisionError"),
    (lambda: dl.fmod(dl.tensor([7]), 0), RuntimeError, r"^fmod: ZeroDivisionError"),
    (lambda: dl.tensor([7]).remainder_(0), RuntimeError,
     r"^remainder_: ZeroDivisionError"),
    (lambda: dl.tensor([True]) // dl.tensor([True]), NotImplementedError,
     r"^floor_divide: not implemented for two dl.bool tensors"),
    (lambda: dl.tensor([True]) % True, NotImplementedError,
     r"^remainder: not implemented"),
    (lambda: dl.tensor([7]).__ifloordiv__(2.5), RuntimeError,
     r"^floor_divide_: result type dl.float\d+ can't be cast to the desired output"),
    (lambda: dl.tensor([7.0]) // 'a', TypeError,
     r"^floor_divide: expected a tensor or a number"),
    (lambda: dl.clamp(dl.zeros(3)), RuntimeError,
     r"^clamp: at least one of 'min' or 'max'"),
    (lambda: dl.clamp(dl.zeros(3), 0.0, dl.ones(3)), TypeError,
     r"^clamp: min and max must be both numbers or both tensors"),
    (lambda: dl.clamp(dl.zeros(3), 'a'), TypeError,
     r"^clamp: min must be a number or a tensor"),
    (lambda: dl.clamp(dl.zeros(3, dtype=dl.uint8), 300), RuntimeError,   # -1 is 255
     r"^clamp: min=300 cannot be converted to dl.uint8 without overflow"),
    (lambda: dl.clamp(dl.zeros(3), dl.zeros(2)), ValueError, r"^clamp: "),
]


@pytest.mark.parametrize('case', range(len(ERRORS)))
def test_clear_errors(case):
    fn, kind, pattern = ERRORS[case]
    with pytest.raises(kind, match=pattern): fn()


def test_view_agrees_with_torch_on_the_same_layouts():
    x = np.arange(24.0).reshape(2, 3, 4)
    layouts = (lambda t: t.transpose(0, 1), lambda t: t[:, :2], lambda t: t[:, :, ::2], lambda t: t.permute(2, 0, 1),
               lambda t: t[:, 1:2], lambda t: t[..., :1].expand(2, 3, 5))
    for layout in layouts:
        t, d = layout(torch.tensor(x)), layout(dl.tensor(x))
        assert same_strides(d, t)
        for shape in [(-1,), (2, -1), (-1, 2), (2, 2, -1), (t.shape[0], -1), (-1, t.shape[-1]), (1, -1, 1)]:
            if t.numel() % math.prod(n for n in shape if n != -1): continue
            try: expected = t.view(*shape)
            except RuntimeError: expected = None
            if expected is None:
                with pytest.raises(RuntimeError, match="view"): TO._view(d, *shape)
            else:
                got = TO._view(d, *shape)
                assert same_strides(got, expected) and np.array_equal(got.numpy(), expected.numpy())


def test_numpy_functions_still_work_on_tensors():
    "np.std(t), np.var(t, axis, ddof), np.prod(t, axis) call the methods with NumPy's argument names."
    a = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    t = dl.tensor(a)
    np.testing.assert_allclose(np.std(t), np.std(a))
    np.testing.assert_allclose(np.var(t, axis=0, ddof=1), np.var(a, axis=0, ddof=1))
    np.testing.assert_allclose(np.std(t, axis=1, keepdims=True), np.std(a, axis=1, keepdims=True))
    np.testing.assert_allclose(np.prod(t, axis=1), np.prod(a, axis=1))
    for f in (np.cumsum, np.argsort, np.round, np.sort, np.squeeze, np.sign, np.floor):
        np.testing.assert_allclose(np.asarray(f(t)), f(a), err_msg=f.__name__)
    with pytest.raises(TypeError, match="var: out= is not supported"): np.var(t, out=np.zeros(()))


# --------------------------------------------------------------------------- sizes and existing ops

def test_sizes():
    x = dl.zeros(2, 3, 4)
    assert x.numel() == x.nelement() == dl.numel(x) == torch.numel(torch.zeros(2, 3, 4)) == 24
    assert x.dim() == 3 and x.size() == (2, 3, 4) and x.size(-2) == 3 and dl.tensor(1.0).dim() == 0
    assert dl.tensor([[7]]).item() == 7 and type(dl.tensor([7]).item()) is int and type(dl.tensor(7.5).item()) is float
    assert dl.tensor([[1.5, 2]]).tolist() == [[1.5, 2.0]] and dl.tensor(True).tolist() is True


def test_methods_are_added_not_replaced():
    "The chapter adds Tensor methods; graph.py's and autodiff.py's own methods stay theirs."
    import deeplearning101.graph as G
    added = ['unsqueeze', 'squeeze', 'flatten', 'expand', 'expand_as', 'repeat', 'tile', 'contiguous', 'stride',
             'is_contiguous', 'view_as', 'reshape_as', 'gather', 'scatter_add', 'scatter_add_', 'index_select',
             'masked_select', 'masked_fill', 'masked_fill_', 'sort', 'argsort', 'topk', 'cumsum', 'flip', 'pow',
             'sin', 'cos', 'log2', 'log10', 'log1p', 'exp2', 'expm1', 'rsqrt', 'reciprocal', 'square', 'floor',
             'ceil', 'trunc', 'sign', 'round', 'var', 'std', 'prod', 'norm', 'split', 'chunk', 'unbind', 'eq', 'ne',
             'lt', 'le', 'gt', 'ge', 'logical_and', 'logical_or', 'logical_xor', 'logical_not', 'bitwise_and',
             'bitwise_or', 'bitwise_xor', 'bitwise_not', '__and__', '__or__', '__xor__', '__rand__', '__ror__',
             '__rxor__', '__invert__', 'isclose', 'allclose', 'equal', 'view',
             't', 'mm', 'bmm', 'mv', 'dot', 'outer', 'tril', 'triu', 'tril_', 'triu_',
             'floor_divide', 'remainder', 'fmod', 'floor_divide_', 'remainder_',
             'fmod_',
             '__floordiv__', '__rfloordiv__', '__ifloordiv__', '__mod__', '__rmod__',
             '__imod__']
    for name in added:
        fn = Tensor.__dict__[name]
        assert fn.__module__ == 'deeplearning101.tensor_ops', (name, fn.__module__)
    for name in ('reshape', 'transpose', 'permute', 'clone', 'sum', 'all', 'any', 'abs', 'exp'):
        assert Tensor.__dict__[name].__module__ == 'deeplearning101.graph', name
    for name in ('round', 'pow'):
        assert name not in vars(TO) and name in G._BUILTIN_NAMES and getattr(dl, name) is G._BUILTIN_NAMES[name]
    assert round(2.5) == 2 and pow(2, 3) == 8                 # Python's own are untouched here
    assert dl.round(dl.tensor([2.5])).tolist() == [2.0] and dl.pow(dl.tensor([2]), 3).tolist() == [8]


# --------------------------------------------------------------------------- hypothesis properties

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


@st.composite
def layouts(draw):
    "A tensor of a random shape, then a random permutation of its axes and a random step slice of each."
    shape = draw(shapes)
    perm = draw(st.permutations(range(len(shape))))
    steps = [draw(st.integers(1, 2)) for _ in shape]
    return shape, tuple(perm), tuple(slice(None, None, s) for s in steps)


def factorisations(n, parts):
    "A strategy for shapes of `parts` axes with product n."
    if parts == 1: return st.just((n,))
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    return st.sampled_from(divisors).flatmap(lambda d: factorisations(n // d, parts - 1).map(lambda r: (d,) + r))


@given(layout=layouts(), data=st.data())
def test_view_succeeds_exactly_when_torch_view_does(layout, data):
    shape, perm, index = layout
    a = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    t = torch.tensor(a).permute(*perm)[index]
    d = dl.tensor(a).permute(*perm)[index]
    assert same_strides(d, t) and d.is_contiguous() == t.is_contiguous()
    new = data.draw(st.integers(1, 4).flatmap(lambda k: factorisations(t.numel(), k)))
    try: expected = t.view(*new)
    except RuntimeError: expected = None
    if expected is None:
        with pytest.raises(RuntimeError, match="view"): TO._view(d, *new)
        got = d.reshape(*new)                                   # reshape copies instead
        assert np.array_equal(got.numpy(), t.reshape(*new).numpy())
    else:
        got = TO._view(d, *new)
        assert same_strides(got, expected) and np.array_equal(got.numpy(), expected.numpy())
        assert got.numel() == 0 or np.shares_memory(got.numpy(), d.numpy())   # a view, not a copy
    c = d.contiguous()
    assert c.is_contiguous() and (c is d) == d.is_contiguous() and TO._view(c, *new).shape == tuple(new)


@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple), data=st.data())
def test_squeeze_unsqueeze_flatten_shapes(shape, data):
    x, t = dl.zeros(shape), torch.zeros(shape)
    n = len(shape)
    d = data.draw(st.integers(-n - 1, n))
    assert x.unsqueeze(d).shape == tuple(t.unsqueeze(d).shape)
    if n:
        dims = tuple(data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n)))
        assert x.squeeze(dims).shape == tuple(t.squeeze(dims).shape)
        s, e = sorted(data.draw(st.lists(st.integers(-n, n - 1), min_size=2, max_size=2)), key=lambda k: k % n)
        assert x.flatten(s, e).shape == tuple(t.flatten(s, e).shape)
    assert x.squeeze().shape == tuple(t.squeeze().shape) and x.flatten().shape == tuple(t.flatten().shape)


@given(shape=shapes, data=st.data())
def test_expand_repeat_tile_match_torch(shape, data):
    a = np.random.default_rng(0).standard_normal(shape)
    x, t = dl.tensor(a), torch.tensor(a)
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
    sizes = lead + [data.draw(st.sampled_from([-1, n] + ([3] if n == 1 else []))) for n in shape]
    np.testing.assert_array_equal(x.expand(*sizes).numpy(), t.expand(*sizes).numpy())
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape) + 2))
    np.testing.assert_array_equal(x.repeat(*reps).numpy(), t.repeat(*reps).numpy())
    dims = data.draw(st.lists(st.integers(1, 3), max_size=len(shape) + 1))
    np.testing.assert_array_equal(dl.tile(x, tuple(dims)).numpy(), torch.tile(t, tuple(dims)).numpy())


@given(n=st.integers(0, 12), size=st.integers(1, 5), chunks=st.integers(1, 6), data=st.data())
def test_split_and_chunk_match_torch(n, size, chunks, data):
    x, t = dl.arange(2 * n).reshape(2, n), torch.arange(2 * n).reshape(2, n)
    for ours, theirs in ((x.split(size, 1), t.split(size, 1)), (x.chunk(chunks, 1), t.chunk(chunks, 1))):
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
        assert all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(ours, theirs))
        assert dl.cat(ours, dim=1).tolist() == x.tolist()
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    assert [p.shape for p in x.split(sizes, 1)] == [tuple(p.shape) for p in t.split(sizes, 1)]


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data())
def test_gather_and_scatter_add_are_adjoint_and_match_torch(shape, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    ishape = tuple(data.draw(st.integers(0, 5)) if i == dim % len(shape) else data.draw(st.integers(1, n))
                   for i, n in enumerate(shape))
    index = rng.integers(0, shape[dim], ishape)
    x, y = rng.standard_normal(shape), rng.standard_normal(ishape)
    g = dl.gather(dl.tensor(x), dim, dl.tensor(index))
    np.testing.assert_allclose(g.numpy(), torch.gather(torch.tensor(x), dim, torch.tensor(index)).numpy())
    s = dl.zeros(shape, dtype=dl.float64).scatter_add(dim, dl.tensor(index), dl.tensor(y))
    np.testing.assert_allclose(s.numpy(), torch.zeros(shape, dtype=torch.float64).scatter_add(
        dim, torch.tensor(index), torch.tensor(y)).numpy(), atol=1e-12)
    assert np.isclose((g.numpy() * y).sum(), (x * s.numpy()).sum())      # <gather x, y> = <x, scatter_add y>


@given(shape=shapes, data=st.data())
def test_sort_and_topk_match_torch(shape, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    ties = data.draw(st.booleans())
    a = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.permutation(math.prod(shape)).reshape(shape) * 1.0
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    desc = data.draw(st.booleans())
    ours, theirs = dl.sort(dl.tensor(a), dim, desc), torch.sort(torch.tensor(a), dim=dim, descending=desc, stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(dl.argsort(dl.tensor(a), dim, desc).numpy(), theirs.indices.numpy())
    if not ties:
        k = data.draw(st.integers(0, shape[dim]))
        largest = data.draw(st.booleans())
        o, t = dl.tensor(a).topk(k, dim, largest), torch.tensor(a).topk(k, dim, largest)
        np.testing.assert_array_equal(o.values.numpy(), t.values.numpy())
        np.testing.assert_array_equal(o.indices.numpy(), t.indices.numpy())


@given(data=st.data())
def test_cumsum_gradient_is_a_reversed_cumsum(data):
    n = data.draw(st.integers(1, 6))
    w = np.array(data.draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)))
    x = dl.tensor(np.zeros(n), requires_grad=True)
    (x.cumsum(0) * dl.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cumsum(w[::-1])[::-1], atol=1e-9)


@given(values=st.lists(st.floats(-1e4, 1e4, allow_subnormal=False), min_size=1, max_size=8),
       decimals=st.integers(-3, 3))
def test_round_matches_torch(values, decimals):
    a = np.array(values, dtype=np.float32)
    np.testing.assert_array_equal(dl.tensor(a).round(decimals=decimals).numpy(),
                                  torch.tensor(a).round(decimals=decimals).numpy())


DIV_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.float16, np.float32, np.float64]


@given(data=st.data(), shape=shapes)
def test_division_matches_torch(data, shape):
    "//, %, fmod on random values of every dtype pair (zero divisors only for floats)."
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    da, db = (np.dtype(data.draw(st.sampled_from(DIV_DTYPES))) for _ in range(2))
    def draw(dt, nonzero):
        if dt.kind == 'f' and nonzero:
            return (rng.standard_normal(shape) * 10).astype(dt)
        if dt.kind == 'f':
            return rng.choice([0.0, 0.5, -2.5, 3.0, np.inf, -np.inf], shape).astype(dt)
        lo = 0 if dt.kind == 'u' else -100
        v = rng.integers(lo, 100, shape)
        if nonzero: v[v == 0] = 1
        return v.astype(dt)
    nonzero = np.promote_types(da, db).kind != 'f' or data.draw(st.booleans())
    a, b = draw(da, False) if da.kind == 'f' else draw(da, True), draw(db, nonzero)
    if da.kind == 'u' and db.kind == 'u' and nonzero: b[b == 0] = 1
    for ours, theirs in ((lambda x, y: x // y, lambda x, y: x // y),
                         (lambda x, y: x % y, lambda x, y: x % y),
                         (dl.fmod, torch.fmod)):
        with np.errstate(all='ignore'):
            got = ours(dl.tensor(a), dl.tensor(b))
        want = theirs(torch.tensor(a), torch.tensor(b))
        assert np_dtype(got) == np_dtype(want)
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   want.numpy().astype(np.float64),
                                   rtol=1e-3, atol=1e-3)


@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=4).map(tuple),
       diagonal=st.integers(-5, 5))
def test_tril_triu_match_torch(shape, diagonal):
    a = np.random.default_rng(0).standard_normal(shape)
    for name in ('tril', 'triu'):
        got = getattr(dl, name)(dl.tensor(a), diagonal)
        want = getattr(torch, name)(torch.tensor(a), diagonal)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@given(data=st.data())
def test_clamp_matches_torch(data):
    "Random broadcasting shapes and bounds (crossing, tied or not): values, gradients."
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    shape = data.draw(shapes)
    sub = lambda: tuple(n if data.draw(st.booleans()) else 1 for n in shape)
    x = rng.integers(-3, 4, shape) * 0.5                # ties with the bounds happen
    lo, hi = rng.integers(-3, 4, sub()) * 0.5, rng.integers(-3, 4, sub()) * 0.5
    which = data.draw(st.sampled_from(['both', 'min', 'max']))
    def f(L, x, lo, hi):
        return L.clamp(x, None if which == 'max' else lo,
                       None if which == 'min' else hi)
    (v1, d1, g1), (v2, d2, g2) = run(dl, f, [x, lo, hi]), run(torch, f, [x, lo, hi])
    assert d1 == d2
    np.testing.assert_array_equal(v1[0], v2[0])
    for p, q in zip(g1, g2):
        if q is None: assert p is None or not p.any(); continue
        np.testing.assert_allclose(p, q, atol=1e-12)


# --------------------------------------------------------------------------- on a simulated GPU

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GPU_CASES = ['unsqueeze', 'flatten 1', 'expand', 'repeat', 'flip', 'gather', 'scatter_add', 'scatter_add_',
             'index_select', 'masked_select', 'masked_fill', 'masked_fill value', 'sort dim 0 descending', 'topk',
             'argsort', 'cumsum', 'pow', 'sin', 'log2', 'rsqrt', 'floor', 'round decimals', 'var dim', 'std',
             'prod zeros', 'norm dim', 'norm p=3', 'split sizes', 'chunk', 'unbind', 'eq', 'logical_and', 'and',
             'invert', 'isclose', 't', 'mm', 'bmm', 'mv', 'dot', 'outer', 'tril',
             'triu_', 'floordiv', 'mod', 'remainder', 'fmod', 'remainder_',
             'clamp tensors', 'clamp numbers', 'clamp_min', 'scatter', 'scatter value', 'scatter_',
             'einsum matmul', 'einsum attention', 'einsum diagonal', 'einsum trace',
             'einsum row sums', 'einsum three operands', 'isnan', 'nan_to_num', 'count_nonzero', 'kthvalue',
             'median dim', 'bincount weights']


@pytest.mark.parametrize('name', GPU_CASES)
def test_on_a_simulated_gpu(name, monkeypatch):
    import fake_cupy
    from deeplearning101 import gpu as G
    G._probe.cache_clear()
    fake_cupy.install(monkeypatch)
    try:
        fn, arrays = CASES[name]
        xs = [dl.tensor(a, requires_grad=a.dtype.kind == 'f', device='cuda') for a in arrays]
        outs = outputs(fn(dl, *xs))
        cuda = [o.detach().cpu().numpy() for o in outs]
        floats = [o for o in outs if o.requires_grad]
        if floats:
            try: sum((o * o).sum() for o in floats).backward()
            except RuntimeError as e:
                if 'same device' not in str(e): raise
                pytest.xfail("graph.py: the rule of `t ** number` makes a 0-d CPU array beside GPU arrays "
                             "(`b - 1` in _pow_backward); see test_gpu.py's xfail_without_scalar_mixing")
            cuda += [x.grad.cpu().numpy() for x in xs if x.requires_grad]
        assert all(o.device == 'cuda:0' for o in outs), name
    finally: G._probe.cache_clear()
    xs = [dl.tensor(a, requires_grad=a.dtype.kind == 'f') for a in arrays]
    outs = outputs(fn(dl, *xs))
    cpu = [o.detach().numpy() for o in outs]
    floats = [o for o in outs if o.requires_grad]
    if floats:
        sum((o * o).sum() for o in floats).backward()
        cpu += [x.grad.numpy() for x in xs if x.requires_grad]
    assert len(cpu) == len(cuda)
    for a, b in zip(cpu, cuda): np.testing.assert_allclose(b, a, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("call", [
    lambda m, x, y: x.add(y, alpha=2), lambda m, x, y: x.sub(y, alpha=0.5), lambda m, x, y: x.mul(y),
    lambda m, x, y: x.div(y), lambda m, x, y: x.div(y, rounding_mode='floor'),
    lambda m, x, y: x.div(y, rounding_mode='trunc'), lambda m, x, y: x.matmul(y.t()), lambda m, x, y: x.neg(),
    lambda m, x, y: x.where(x > 0, y), lambda m, x, y: x.new_zeros(2, 3), lambda m, x, y: x.new_full((2,), 4.0),
    lambda m, x, y: x.new_tensor([1, 2]), lambda m, x, y: (x > 0).type_as(y), lambda m, x, y: (x > 0).nonzero(),
    lambda m, x, y: x.round().unique(), lambda m, x, y: x.round().unique(return_counts=True)[1],
])
def test_method_forms_match_torch(call):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)).astype(np.float32) * 3, rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
    d, t = call(dl, dl.tensor(a), dl.tensor(b)), call(torch, torch.tensor(a), torch.tensor(b))
    assert tuple(d.shape) == tuple(t.shape) and np_dtype(d) == np_dtype(t)
    np.testing.assert_allclose(np.asarray(d, np.float64), t.double().numpy(), rtol=1e-6, atol=1e-6)
