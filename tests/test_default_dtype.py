"""`set_default_dtype` against PyTorch: what Python floats, the creation functions, integer-to-float
ops and new layers give under a float64 (and float16) default, and that everything returns to
float32 afterwards."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip('torch')

# each: (name, f(lib) -> tensor or module parameter); compared by dtype name
MADE = [
    ('tensor of floats', lambda L: L.tensor([1.5, 2.0])),
    ('0-d float', lambda L: L.tensor(2.5)),
    ('mixed list', lambda L: L.tensor([1, 2.5])),
    ('float32 ndarray keeps', lambda L: L.tensor(np.ones(2, np.float32))),
    ('float64 ndarray keeps', lambda L: L.tensor(np.ones(2))),
    ('numpy float32 scalar', lambda L: L.tensor(np.float32(1))),
    ('int list', lambda L: L.tensor([1, 2])),
    ('as_tensor', lambda L: L.as_tensor([0.5])),
    ('legacy Tensor', lambda L: L.Tensor([1, 2])),
    ('zeros', lambda L: L.zeros(2, 3)), ('ones', lambda L: L.ones(2)),
    ('empty', lambda L: L.empty(2)), ('eye', lambda L: L.eye(2)),
    ('full float', lambda L: L.full((2,), 1.5)), ('full int', lambda L: L.full((2,), 3)),
    ('arange float', lambda L: L.arange(0.0, 2.0, 0.5)), ('arange int', lambda L: L.arange(3)),
    ('linspace', lambda L: L.linspace(0, 1, 5)), ('logspace', lambda L: L.logspace(0, 1, 3)),
    ('rand', lambda L: L.rand(3)), ('randn', lambda L: L.randn(2, 2)),
    ('randn dtype', lambda L: L.randn(2, dtype=L.float32)),
    ('normal', lambda L: L.normal(0.0, 1.0, (3,))),
    ('zeros_like keeps', lambda L: L.zeros_like(L.ones(2, dtype=L.float32))),
    ('int * float', lambda L: L.tensor([1, 2]) * 1.5),
    ('float * int tensor', lambda L: 0.5 + L.tensor([1, 2])),
    ('int / int', lambda L: L.tensor([1, 2]) / L.tensor([2, 2])),
    ('float32 * python float', lambda L: L.ones(2, dtype=L.float32) * 0.5),
    ('float32 + float64 tensor', lambda L: L.ones(2, dtype=L.float32) + L.ones(2)),
    ('sqrt int', lambda L: L.sqrt(L.tensor([1, 4]))), ('exp int', lambda L: L.exp(L.tensor([1]))),
    ('sigmoid int', lambda L: L.sigmoid(L.tensor([1]))),
    ('logsumexp int', lambda L: L.logsumexp(L.tensor([1, 2]), 0)),
    ('clamp int by float', lambda L: L.clamp(L.tensor([1, 5]), 0.5)),
    ('.float() is float32', lambda L: L.tensor([1]).float()),
    ('Linear', lambda L: L.nn.Linear(3, 2).weight), ('Linear bias', lambda L: L.nn.Linear(3, 2).bias),
    ('Conv2d', lambda L: L.nn.Conv2d(1, 2, 3).weight), ('Conv1d', lambda L: L.nn.Conv1d(1, 2, 3).weight),
    ('BatchNorm1d', lambda L: L.nn.BatchNorm1d(3).running_mean),
    ('LayerNorm', lambda L: L.nn.LayerNorm(3).weight), ('Embedding', lambda L: L.nn.Embedding(4, 2).weight),
    ('LSTM', lambda L: L.nn.LSTM(2, 3).weight_hh_l0), ('GRU', lambda L: L.nn.GRU(2, 3).bias_ih_l0),
    ('MultiheadAttention', lambda L: L.nn.MultiheadAttention(4, 2).in_proj_weight),
    ('Parameter of a list', lambda L: L.nn.Parameter(L.tensor([0.5]))),
    ('module.float()', lambda L: L.nn.Linear(2, 2).float().weight),
]


def _name(d): return str(d).replace('torch.', '').replace('dl.', '')


def _made(L, default):
    L.set_default_dtype(default(L))
    try:
        return [_name(f(L).dtype) for _, f in MADE]
    finally:
        L.set_default_dtype(L.float32)


@pytest.mark.parametrize('default', [lambda L: L.float64, lambda L: L.float16], ids=['float64', 'float16'])
def test_made_under_a_default_like_torch(default):
    got, want = _made(dl, default), _made(torch, default)
    diffs = [(n, g, w) for (n, _), g, w in zip(MADE, got, want) if g != w]
    assert not diffs, diffs
    assert dl.get_default_dtype() == dl.float32 and dl.tensor([0.5]).dtype == dl.float32


def test_get_default_dtype_and_finfo():
    for L in (dl, torch):
        L.set_default_dtype(L.float64)
        try:
            assert _name(L.get_default_dtype()) == 'float64' and L.finfo().bits == 64
        finally:
            L.set_default_dtype(L.float32)
        assert L.finfo().bits == 32


def test_printing_follows_the_default():
    out = {}
    for L in (dl, torch):
        L.set_default_dtype(L.float64)
        try:
            out[L] = [repr(L.tensor([1.5])), repr(L.tensor([1.5], dtype=L.float32)),
                      repr(L.zeros(0, dtype=L.float32))]
        finally:
            L.set_default_dtype(L.float32)
    assert [s.replace('dl.', 'torch.') for s in out[dl]] == out[torch]


@pytest.mark.parametrize('bad', ['int64', 'bool', 'int32'])
def test_refuses_non_float(bad):
    with pytest.raises(TypeError, match='only floating-point types'):
        dl.set_default_dtype(getattr(dl, bad))
    with pytest.raises(TypeError):
        torch.set_default_dtype(getattr(torch, bad))
    assert dl.get_default_dtype() == dl.float32


def test_a_float64_program_trains_like_torch():
    "The scientific idiom: set_default_dtype(float64) first, then a model fitted by plain code."
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    W = [rng.standard_normal((8, 3)) * 0.3, rng.standard_normal(8) * 0.1,
         rng.standard_normal((1, 8)) * 0.3, rng.standard_normal(1) * 0.1]
    res = {}
    for L in (dl, torch):
        L.set_default_dtype(L.float64)
        try:
            net = L.nn.Sequential(L.nn.Linear(3, 8), L.nn.Tanh(), L.nn.Linear(8, 1))
            with L.no_grad():
                for p, w in zip(net.parameters(), W): p.copy_(L.tensor(w.tolist()))
            opt = L.optim.Adam(net.parameters(), lr=0.05)
            x, y = L.tensor(X.tolist()), L.tensor(Y.tolist())
            for _ in range(20):
                opt.zero_grad()
                loss = ((net(x) - y) ** 2).mean()
                loss.backward()
                opt.step()
            res[L] = (str(loss.dtype), loss.item(), [p.detach().numpy().copy() for p in net.parameters()])
        finally:
            L.set_default_dtype(L.float32)
    assert res[dl][0].replace('dl.', 'torch.') == res[torch][0] == 'torch.float64'
    assert abs(res[dl][1] - res[torch][1]) < 1e-10
    for a, b in zip(res[dl][2], res[torch][2]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
