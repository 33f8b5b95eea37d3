"""Parity with PyTorch for the names and rules found missing by the probes of unseen beginner programs
(/work/probe/c, /work/probe/d): `out=`, Python ints wrapped to the dtype, integer sums, dtype promotion queries,
`type()` strings, error classes, `axis=` aliases, LazyLinear, `grad_fn.next_functions`. Each expression is
written once and run with both libraries."""
import itertools
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip('torch')

DTYPES = ['float32', 'float64', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']


def both(expr):
    "expr(L) for L = dl and torch, as numpy arrays (or plain values)."
    outs = []
    for L in (dl, torch):
        r = expr(L)
        outs.append(r.detach().numpy() if hasattr(r, 'detach') else r)
    return outs


def same(expr):
    d, t = both(expr)
    if isinstance(t, np.ndarray):
        assert d.dtype == t.dtype and d.shape == t.shape, (d.dtype, t.dtype, d.shape, t.shape)
        np.testing.assert_allclose(d, t, rtol=1e-6)
    else:
        assert d == t, (d, t)


@pytest.mark.parametrize('fn, args', [
    ('add', 2), ('sub', 2), ('mul', 2), ('div', 2), ('matmul', 2), ('maximum', 2),
    ('exp', 1), ('log', 1), ('sqrt', 1), ('sigmoid', 1), ('tanh', 1), ('neg', 1)])
def test_out_argument_writes_into_the_given_tensor(fn, args):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    for L in (dl, torch):
        x = L.tensor(a)
        out = L.zeros(2, 2)
        alias = out[0]                                  # a view: it sees the write
        res = getattr(L, fn)(*([x] * args), out=out)
        assert res is out
        expected = getattr(L, fn)(*([x] * args))
        assert np.allclose(out.numpy(), expected.numpy()) and np.allclose(alias.numpy(), expected.numpy()[0])
    if fn not in ('matmul', 'neg'):                     # torch casts into a wider out for these
        same(lambda L: getattr(L, fn)(*([L.tensor(a)] * args), out=L.zeros(2, 2, dtype=L.float64)))


def test_out_argument_rules_as_torch():
    for L in (dl, torch):
        a = L.ones(2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            o = L.zeros(3)
            L.add(a, a, out=o)                         # resized, with a warning
        assert o.shape == (2,) and o.tolist() == [2.0, 2.0] and any('resized' in str(x.message) for x in w)
        with pytest.raises(RuntimeError, match="can't be cast"):
            L.add(a, a, out=L.zeros(2, dtype=L.long))
        w = L.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
            L.add(w, a, out=L.zeros(2))
        with pytest.raises(RuntimeError, match="out=... arguments"):
            L.mul(a, a, out=w)
        with L.no_grad():
            L.mul(w, 3, out=L.zeros(2))                # allowed without grad mode
        assert L.sum(L.ones(2, 3), 0, out=L.zeros(3)).tolist() == [2.0, 2.0, 2.0]
        assert L.clamp(L.tensor([-1.0, 2.0]), 0, 1, out=L.zeros(2)).tolist() == [0.0, 1.0]


def test_python_ints_wrap_around_the_dtype_as_torch():
    same(lambda L: L.tensor([250], dtype=L.uint8) + 10)
    same(lambda L: L.tensor([250], dtype=L.uint8) + 300)
    same(lambda L: L.tensor([5], dtype=L.uint8) + (-1))
    same(lambda L: L.tensor([5], dtype=L.uint8) * -1)
    same(lambda L: L.tensor([1], dtype=L.int32) + 2 ** 40)
    same(lambda L: L.tensor([100], dtype=L.int8) * 3)
    same(lambda L: L.tensor([5, 6], dtype=L.uint8).fill_(-1))
    same(lambda L: L.tensor([True, False]).fill_(2))
    same(lambda L: L.clamp(L.tensor([5, 200], dtype=L.uint8), -1))
    for L in (dl, torch):
        with pytest.raises(RuntimeError):
            L.clamp(L.tensor([5, 200], dtype=L.uint8), 300)
    for L in (dl, torch):
        with pytest.raises(OverflowError):
            L.tensor([1], dtype=L.int32) + 2 ** 70


@pytest.mark.parametrize('dt', DTYPES)
def test_sums_of_every_dtype_as_torch(dt):
    a = np.array([[200, 100, 3], [1, 0, 255]])
    same(lambda L: L.tensor(a).to(getattr(L, dt)).sum())
    same(lambda L: L.tensor(a).to(getattr(L, dt)).sum(1))
    if dt not in ('bool', 'float16'):
        same(lambda L: L.tensor(a).to(getattr(L, dt)).sum(dtype=L.int32))
        same(lambda L: L.tensor(a).to(getattr(L, dt)).sum(0, dtype=L.float64))


def test_dtype_queries_as_torch():
    for a, b in itertools.product(DTYPES, repeat=2):
        ta, tb, da, db = getattr(torch, a), getattr(torch, b), getattr(dl, a), getattr(dl, b)
        assert dl.promote_types(da, db).name == str(torch.promote_types(ta, tb))[6:], (a, b)
        assert dl.can_cast(da, db) == torch.can_cast(ta, tb), (a, b)
        for sa, sb in (((2,), (2,)), ((), (2,)), ((2,), ())):
            r = torch.result_type(torch.zeros(sa, dtype=ta), torch.zeros(sb, dtype=tb))
            assert dl.result_type(dl.zeros(sa, dtype=da), dl.zeros(sb, dtype=db)).name == str(r)[6:]
        for s in (1, 1.5, True):
            r = torch.result_type(torch.zeros(2, dtype=ta), s)
            assert dl.result_type(dl.zeros(2, dtype=da), s).name == str(r)[6:], (a, s)


@pytest.mark.parametrize('dt', DTYPES)
def test_type_strings_as_torch(dt):
    d, t = both(lambda L: L.zeros(2, dtype=getattr(L, dt)).type())
    assert d == t
    assert dl.zeros(2).type(d).dtype == getattr(dl, dt)        # and back


def test_creation_from_0d_tensors_and_axis_aliases_as_torch():
    same(lambda L: L.arange(L.tensor(3)))
    same(lambda L: L.arange(L.tensor(1), L.tensor(7), L.tensor(2)))
    same(lambda L: L.arange(L.tensor(2.5)))
    same(lambda L: L.full((2,), L.tensor(2)))
    same(lambda L: L.full((2,), L.tensor(1.5)))
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)
    same(lambda L: L.tensor(x).argmax(axis=1))
    same(lambda L: L.argmax(L.tensor(x), axis=0))
    same(lambda L: L.tensor(x).argmin(axis=1))
    same(lambda L: L.softmax(L.tensor(x), 1, dtype=L.float64))
    same(lambda L: L.tensor(x).log_softmax(1, dtype=L.float64))
    same(lambda L: L.tensor(x).softmax(dim=0))
    for L in (dl, torch):
        w = L.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
        assert w.multinomial(1).tolist() == [[1], [2]]


@pytest.mark.parametrize('expr', [
    lambda L: L.ones(2) + L.ones(3),
    lambda L: L.ones(2) == L.ones(3),
    lambda L: L.ones(2, 3).reshape(4),
    lambda L: L.ones(2, 3).permute(0, 0),
    lambda L: L.ones(2, 3) @ L.ones(2, 3),
    lambda L: L.tensor([1, 2]) ** -1,
    lambda L: L.ones(0).max(),
    lambda L: L.ones(2, 2).gather(1, L.tensor([[0, 5], [0, 1]])),
    lambda L: -L.tensor([True, False]),
    lambda L: L.tensor([True]) - L.tensor([False]),
])
def test_errors_are_runtime_errors_as_torch(expr):
    for L in (dl, torch):
        with pytest.raises(RuntimeError):
            expr(L)


def test_lazy_linear_as_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    for L in (dl, torch):
        net = L.nn.Sequential(L.nn.LazyLinear(4), L.nn.ReLU(), L.nn.LazyLinear(2))
        assert repr(net[0]) == 'LazyLinear(in_features=0, out_features=4, bias=True)'
        w = net[0].weight
        opt = L.optim.SGD(net.parameters(), lr=0.1)
        net(L.tensor(x)).sum().backward()
        opt.step()
        assert net[0].weight is w and tuple(w.shape) == (4, 5) and type(net[0]).__name__ == 'Linear'
        assert repr(net[2]) == 'Linear(in_features=4, out_features=2, bias=True)'
        assert w.grad is not None and tuple(w.grad.shape) == (4, 5)


def test_next_functions_walk_the_graph_as_torch():
    def walk(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        w = L.tensor([3.0, 4.0], requires_grad=True)
        y = ((x * w).exp() + 1).sum()
        seen, shape = [y.grad_fn], []
        while seen:
            f = seen.pop(0)
            nxt = f.next_functions
            shape.append(tuple('acc' if type(g).__name__ == 'AccumulateGrad' else None if g is None else 'op'
                               for g, _ in nxt))
            assert all(i == 0 for _, i in nxt)
            seen += [g for g, _ in nxt if g is not None and type(g).__name__ != 'AccumulateGrad']
        leaves = [g.variable for g, _ in y.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
                  .next_functions]
        assert leaves[0] is x and leaves[1] is w
        return shape
    d, t = walk(dl), walk(torch)
    assert d == t


def _grads_both(make, arrays):
    "make(L, *tensors) -> tensor; values and gradients of sum(out * w) with both libraries."
    outs = []
    for L in (dl, torch):
        xs = [L.tensor(a, requires_grad=True) for a in arrays]
        out = make(L, *xs)
        w = L.tensor(np.random.default_rng(5).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        outs.append((out.detach().numpy(), [x.grad.numpy() for x in xs]))
    (od, gd), (ot, gt) = outs
    np.testing.assert_allclose(od, ot, rtol=1e-6, atol=1e-9)
    for a, b in zip(gd, gt):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('reduction', ['batchmean', 'sum', 'none', 'mean'])
@pytest.mark.parametrize('log_target', [False, True])
def test_kl_div_as_torch(reduction, log_target):
    rng = np.random.default_rng(3)
    logp = np.log(rng.dirichlet(np.ones(5), 4))
    q = rng.dirichlet(np.ones(5), 4)
    tgt = np.log(q) if log_target else q
    q0 = q.copy()
    q0[0, 1] = 0.0                                      # x log x is 0 at 0 (the gradient there: NaN in torch)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _grads_both(lambda L, x, t: L.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target),
                    [logp, tgt])
        same(lambda L: L.nn.KLDivLoss(reduction=reduction, log_target=log_target)(
            L.tensor(logp), L.tensor(np.log(q) if log_target else q0)))
    assert repr(dl.nn.KLDivLoss(reduction='batchmean')) == 'KLDivLoss()'


def test_rms_norm_glu_and_reprs_as_torch():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 4, 6)), rng.standard_normal(6)
    _grads_both(lambda L, a, b: L.nn.functional.rms_norm(a, (6,), b, eps=1e-5), [x, w])
    _grads_both(lambda L, a: L.nn.functional.rms_norm(a, [4, 6]), [x])
    _grads_both(lambda L, a: L.nn.functional.glu(a, 1), [x])
    _grads_both(lambda L, a: L.nn.GLU()(a), [x])
    for L in (dl, torch):
        m = L.nn.RMSNorm(6)
        assert repr(m) == 'RMSNorm((6,), eps=None, elementwise_affine=True)' and list(m.state_dict()) == ['weight']
    same(lambda L: L.nn.RMSNorm([4, 6], eps=1e-6)(L.tensor(x.astype(np.float32))))
    d, t = both(lambda L: repr(L.nn.ModuleList([L.nn.Linear(2, 2), L.nn.Linear(2, 2), L.nn.ReLU(),
                                                L.nn.Sequential(L.nn.Linear(2, 3), L.nn.Tanh()),
                                                L.nn.Sequential(L.nn.Linear(2, 3), L.nn.Tanh())])))
    assert d == t
    assert both(lambda L: repr(L.nn.ModuleList()))[0] == 'ModuleList()'
    d, t = both(lambda L: repr(L.nn.Linear(2, 2).load_state_dict(L.nn.Linear(2, 2).state_dict())))
    assert d == t == '<All keys matched successfully>'
    d, t = both(lambda L: repr(L.nn.Linear(2, 2).load_state_dict({'weight': L.ones(2, 2)}, strict=False)))
    assert d == t


@pytest.mark.parametrize('shape', [(3, 12, 9), (1, 64, 5), (8, 32, 2), (2, 4, 3)])
def test_products_are_row_major_as_torch(shape):
    n, i, o = shape
    for L in (dl, torch):
        x = L.ones(n, i, requires_grad=True)
        lin = L.nn.Linear(i, o)
        y = lin(x)
        assert y.is_contiguous() and y.view(-1).shape == (n * o,)
        z = x @ L.ones(o, i).T
        assert z.is_contiguous()
        y.sum().backward()
        assert x.grad.is_contiguous() and lin.weight.grad.is_contiguous()


def test_tensor_unfold_as_torch():
    a = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
    for args in [(1, 3, 2), (1, 7, 1), (0, 1, 1), (2, 2, 1), (-2, 2, 3), (1, 0, 1)]:
        same(lambda L: L.tensor(a).unfold(*args))
    _grads_both(lambda L, x: x.unfold(1, 3, 2), [a.astype(np.float64)])
    for L in (dl, torch):
        with pytest.raises(RuntimeError):
            L.tensor(a).unfold(1, 8, 1)


def test_scatter_reduce_add_and_integer_logsumexp_as_torch():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        same(lambda L: L.zeros(3).scatter_(0, L.tensor([0, 0, 2]), L.tensor([1.0, 2.0, 3.0]), reduce='add'))
        same(lambda L: L.zeros(2, 3).scatter(1, L.tensor([[0, 0], [1, 2]]), 2.0, reduce='add'))
        same(lambda L: L.ones(2, 3).scatter(1, L.tensor([[0, 0], [1, 2]]), L.ones(2, 2), reduce='add'))
    with pytest.warns(UserWarning, match='deprecated'):         # (torch warns once per process)
        dl.zeros(3).scatter_(0, dl.tensor([0]), dl.tensor([1.0]), reduce='add')
    same(lambda L: L.logsumexp(L.tensor([1, 2, 3]), 0))
    same(lambda L: L.tensor([[True, False]]).logsumexp(1))


@pytest.mark.parametrize('mode', ['sum', 'mean', 'max'])
@pytest.mark.parametrize('case', ['2d', 'offsets', 'last_offset', 'padding', 'weights'])
def test_embedding_bag_as_torch(mode, case):
    if case == 'weights' and mode != 'sum':
        return
    rng = np.random.default_rng(8)
    table = rng.standard_normal((10, 4))
    ids2 = np.array([[1, 2, 4], [4, 3, 0]])
    ids1 = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offs = np.array([0, 2, 2, 5])                     # one empty bag
    psw = rng.standard_normal(8)
    res = []
    for L in (dl, torch):
        w = L.tensor(table, requires_grad=True)
        kw = dict(mode=mode)
        if case == '2d':
            out = L.nn.functional.embedding_bag(L.tensor(ids2), w, **kw)
        elif case == 'offsets':
            out = L.nn.functional.embedding_bag(L.tensor(ids1), w, L.tensor(offs), **kw)
        elif case == 'last_offset':
            out = L.nn.functional.embedding_bag(L.tensor(ids1), w, L.tensor(np.append(offs, 8)),
                                                include_last_offset=True, **kw)
        elif case == 'padding':
            out = L.nn.functional.embedding_bag(L.tensor(ids1), w, L.tensor(offs), padding_idx=4, **kw)
        else:
            p = L.tensor(psw, requires_grad=True)
            out = L.nn.functional.embedding_bag(L.tensor(ids1), w, L.tensor(offs), per_sample_weights=p, **kw)
        (out * L.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))).sum().backward()
        res.append((out.detach().numpy(), w.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10)


def test_embedding_bag_module_as_torch():
    for L in (dl, torch):
        m = L.nn.EmbeddingBag(10, 3, mode='sum', padding_idx=0)
        assert repr(m) == "EmbeddingBag(10, 3, mode='sum', padding_idx=0)"
        assert list(m.state_dict()) == ['weight'] and m.weight[0].abs().sum().item() == 0
        assert tuple(m(L.tensor([[1, 2], [0, 3]])).shape) == (2, 3)


def test_embedding_bag_from_pretrained_as_torch():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    for freeze in (True, False):
        same(lambda L: L.nn.EmbeddingBag.from_pretrained(L.tensor(table), freeze=freeze, mode='sum')(
            L.tensor([[0, 3], [1, 1]])))
        d, t = both(lambda L: L.nn.EmbeddingBag.from_pretrained(L.tensor(table), freeze=freeze).weight.requires_grad)
        assert d == t == (not freeze)


def test_inference_mode_is_reported_as_torch():
    def probe(L):
        r = [L.is_inference_mode_enabled()]
        with L.inference_mode():
            r += [L.is_inference_mode_enabled(), L.is_grad_enabled()]
            with L.inference_mode(False):
                r += [L.is_inference_mode_enabled(), L.is_grad_enabled()]

        @L.inference_mode()
        def f(): return L.is_inference_mode_enabled()

        @L.inference_mode
        def g(): return L.is_inference_mode_enabled(), L.is_grad_enabled()
        return r + [f(), g(), L.is_inference_mode_enabled()]
    assert probe(dl) == probe(torch)


def test_negative_slice_steps_are_refused_as_torch():
    for L in (dl, torch):
        x = L.arange(5)
        for bad in (lambda: x[::-1], lambda: x[4:0:-2], lambda: x.__setitem__(slice(None, None, -1), 1)):
            with pytest.raises(ValueError, match='step must be greater than zero'):
                bad()
        with pytest.raises(ValueError, match='slice step cannot be zero'):
            x[::0]
        assert x[::2].tolist() == [0, 2, 4] and x.flip(0).tolist() == [4, 3, 2, 1, 0]


@pytest.mark.parametrize('kw', [dict(proj_size=2), dict(proj_size=2, num_layers=2, bidirectional=True),
                                dict(proj_size=3, batch_first=True, num_layers=2)])
@pytest.mark.parametrize('given_state', [False, True])
def test_lstm_with_projections_as_torch(kw, given_state):
    res = []
    for L in (dl, torch):
        m = L.nn.LSTM(3, 4, **kw).double()
        rng = np.random.default_rng(0)
        with L.no_grad():
            for _, p in m.named_parameters():
                p.copy_(L.tensor(rng.standard_normal(tuple(p.shape))))
        x = L.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
        LD = (2 if kw.get('bidirectional') else 1) * kw.get('num_layers', 1)
        N = 5 if kw.get('batch_first') else 2
        hx = ((L.tensor(rng.standard_normal((LD, N, kw['proj_size']))), L.tensor(rng.standard_normal((LD, N, 4))))
              if given_state else None)
        o, (h, c) = m(x, hx)
        (o.sum() + 2 * h.sum() + 3 * c.sum()).backward()
        res.append((repr(m), list(m.state_dict()), [t.detach().numpy() for t in (o, h, c, x.grad)],
                    [p.grad.numpy() for p in m.parameters()]))
    (rd, kd, vd, gd), (rt, kt, vt, gt) = res
    assert rd == rt and kd == kt
    for a, b in zip(vd + gd, vt + gt):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_lstm_projection_errors_and_unbatched_as_torch():
    for L in (dl, torch):
        with pytest.raises(ValueError, match='smaller than hidden_size'):
            L.nn.LSTM(3, 4, proj_size=4)
        o, (h, c) = L.nn.LSTM(3, 4, proj_size=2)(L.ones(5, 3))
        assert (tuple(o.shape), tuple(h.shape), tuple(c.shape)) == ((5, 2), (1, 2), (1, 4))
