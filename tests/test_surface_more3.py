"""Probes g, h, i (2026-12-05): float ranges, dtypes of lists of NumPy numbers, the random state,
attributes of one's own on a tensor, sigmoid's float32 values, in-place error text; each against
torch 2.13."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip('torch')


def _cases(seed, n):
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10)), int(rng.integers(1, 300)))
            for _ in range(n)]


@pytest.mark.parametrize('dt', ['float32', 'float64'])
def test_linspace_bit_for_bit(dt):
    for s, e, n in _cases(1, 150) + [(-1, 1, 21), (0, 1, 11), (2, -3, 50), (-5, 5, 1), (-5, 5, 2)]:
        a = dl.linspace(s, e, n, dtype=getattr(dl, dt)).numpy()
        b = torch.linspace(s, e, n, dtype=getattr(torch, dt)).numpy()
        assert a.dtype == b.dtype and np.array_equal(a, b), (s, e, n)


def test_linspace_middle_and_other_forms():
    assert not (dl.linspace(-1, 1, 21) == 0).any()
    assert dl.linspace(-1, 1, 21)[10].item() == torch.linspace(-1, 1, 21)[10].item()
    assert dl.linspace(0, 10, 5, dtype=dl.int64).tolist() == torch.linspace(0, 10, 5, dtype=torch.int64).tolist()
    assert dl.linspace(dl.tensor(0.), dl.tensor(1.), 3).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize('dt', ['float32', 'float64'])
def test_arange_float_steps_do_not_drift(dt):
    rng = np.random.default_rng(2)
    cases = [(0, 1, 0.1), (-8.0, 8.0, 0.1), (0, 5, 0.3), (-1, 1, 0.05), (10, 0, -0.3), (0, 1e-3, 1e-5)]
    cases += [(float(a), float(b), float(np.sign(b - a) * rng.uniform(0.01, 1)))
              for a, b in rng.uniform(-5, 5, (80, 2))]
    for s, e, st in cases:
        a = dl.arange(s, e, st, dtype=getattr(dl, dt)).numpy()
        b = torch.arange(s, e, st, dtype=getattr(torch, dt)).numpy()
        assert a.shape == b.shape and a.dtype == b.dtype, (s, e, st)
        # within a few units in the last place of PyTorch's (not the float32 drift of 7.6e-06)
        assert np.max(np.abs(a - b), initial=0) <= 4 * np.finfo(a.dtype).eps * max(abs(s), abs(e), 1)
    assert dl.arange(-8.0, 8.0, 0.1)[80].item() == torch.arange(-8.0, 8.0, 0.1)[80].item()
    assert dl.arange(0, 1, 0.1)[-1].item() == torch.arange(0, 1, 0.1)[-1].item()
    x = dl.arange(-8.0, 8.0, 0.1, requires_grad=True)
    dl.relu(x).sum().backward()
    assert x.grad[80].item() == 1.0          # 4.4e-16 > 0, as PyTorch's


LISTS = [
    lambda L: L.tensor([np.float64(0.1), np.float64(0.2)]),
    lambda L: L.tensor([np.ones(2)]),
    lambda L: L.tensor([1, np.float64(2.0)]),
    lambda L: L.tensor([[0.1], [np.float64(0.2)]]),
    lambda L: L.as_tensor([np.ones(2)]),
    lambda L: L.tensor([0.1, 0.2]),
    lambda L: L.tensor([np.float32(0.1), 0.2]),
    lambda L: L.tensor([[1, 2], [3, 4]]),
    lambda L: L.tensor([L.tensor(1.0, dtype=L.float64), L.tensor(2.0, dtype=L.float64)]),
]


@pytest.mark.filterwarnings('ignore::UserWarning')
def test_lists_of_numpy_float64_keep_float64():
    for f in LISTS:
        a, b = f(dl), f(torch)
        assert str(a.dtype).replace('dl.', '') == str(b.dtype).replace('torch.', '')
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_rng_state_round_trip():
    for L in (dl, torch):
        L.manual_seed(5)
        state = L.get_rng_state()
        a = L.randn(4)
        L.set_rng_state(state)
        assert str(state.dtype).endswith('uint8') and bool((L.randn(4) == a).all())
        g = L.Generator().manual_seed(7)
        s = g.get_state()
        u = L.rand(3, generator=g)
        g.set_state(s)
        assert bool((L.rand(3, generator=g) == u).all())
    with pytest.raises(RuntimeError, match='set_state'):
        dl.set_rng_state(dl.zeros(3))


def test_attributes_of_ones_own():
    "fast.ai's hand-written backward stores gradients as x.g; its optimizers keep p.grad_avg."
    for L in (dl, torch):
        x = L.ones(2, requires_grad=True)
        x.g = L.zeros(2)
        p = L.nn.Parameter(L.ones(2))
        p.grad_avg = 0.5
        assert x.g.shape == (2,) and p.grad_avg == 0.5


def test_sigmoid_float32_as_torch():
    x = np.linspace(-100, 100, 40001).astype(np.float32)
    a = dl.sigmoid(dl.tensor(x)).numpy()
    b = torch.sigmoid(torch.tensor(x)).numpy()
    assert a.dtype == np.float32
    # equal but for the last bit of exp (NumPy's and PyTorch's exp differ there)
    assert np.max(np.abs(a - b) / np.maximum(b, np.finfo(np.float32).tiny)) < 4e-7
    assert np.array_equal(a == 0, b == 0)             # 0 from -88.7 down, as PyTorch
    assert dl.log(dl.sigmoid(dl.tensor(-100.0))).item() == -np.inf
    h = np.linspace(-20, 20, 81).astype(np.float16)
    np.testing.assert_array_equal(dl.sigmoid(dl.tensor(h)).numpy(), torch.sigmoid(torch.tensor(h)).numpy())
    assert dl.sigmoid(dl.tensor([1, 2])).dtype == dl.float32
    x64 = dl.tensor(np.linspace(-800, 800, 1601), requires_grad=True)
    y = dl.sigmoid(x64)
    y.sum().backward()
    assert np.isfinite(x64.grad.numpy()).all() and y[0].item() == 0.0


def test_inplace_div_of_ints_names_float():
    with pytest.raises(RuntimeError, match="result type dl.float32 can't be cast"):
        dl.tensor([1, 2]).div_(2)
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        torch.tensor([1, 2]).div_(2)


def test_more_random_fills_like_torch():
    "exponential_, log_normal_, cauchy_, geometric_: statistics, dtypes and PyTorch's errors."
    for L in (dl, torch):
        L.manual_seed(0)
        assert abs(L.empty(200000).exponential_(2.0).mean().item() - 0.5) < 0.01
        assert abs(L.empty(200000).geometric_(0.25).mean().item() - 4.0) < 0.05
        x = L.empty(200000, dtype=L.float64).log_normal_(0.5, 0.25).log()
        assert abs(x.mean().item() - 0.5) < 0.01 and abs(x.std().item() - 0.25) < 0.01
        assert abs(L.empty(200000).cauchy_(1.0, 2.0).median().item() - 1.0) < 0.05
        assert str(L.empty(2, dtype=L.float64).exponential_().dtype).endswith('float64')
    for name, args in [('exponential_', (-1.0,)), ('geometric_', (1.5,)), ('log_normal_', (0.0, -1.0))]:
        msgs = []
        for L in (dl, torch):
            with pytest.raises(RuntimeError) as e:
                getattr(L.empty(2), name)(*args)
            msgs.append(str(e.value))
        assert msgs[0] == msgs[1]


def test_gumbel_softmax_like_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4000, 5)).astype(np.float32)
    for L in (dl, torch):
        F = L.nn.functional
        L.manual_seed(1)
        z = L.tensor(logits, requires_grad=True)
        soft = F.gumbel_softmax(z, tau=0.7)
        assert soft.shape == (4000, 5) and np.allclose(soft.sum(-1).detach().numpy(), 1, atol=1e-5)
        hard = F.gumbel_softmax(z, tau=0.7, hard=True)
        h = hard.detach().numpy()
        assert set(np.unique(h)) <= {0.0, 1.0} and (h.sum(-1) == 1).all()
        # the samples follow softmax(logits): the frequency of the arg max of each row
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        assert abs(h.mean(0) - p.mean(0)).max() < 0.03
        (hard * L.arange(5.0)).sum().backward()
        g = z.grad.numpy()
        assert np.abs(g).max() > 0 and np.allclose(g.sum(-1), 0, atol=1e-5)   # through the soft sample


@pytest.mark.parametrize('name', ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'NAdam', 'Rprop'])
def test_optimizer_state_is_a_defaultdict(name):
    "fast.ai's and many loops' `opt.state[p]` before the first step (and for plain SGD) is {}."
    for L in (dl, torch):
        p = L.nn.Parameter(L.ones(2))
        opt = getattr(L.optim, name)([p], lr=0.1)
        before = dict(opt.state[p])
        p.grad = L.ones(2)
        opt.step()
        after = sorted(opt.state[p])
        if L is dl: got = (type(opt.state).__name__, sorted(before), after)
        else: want = (type(opt.state).__name__, sorted(before), after)
    assert got == want


def test_element_index_is_a_view():
    "x[i, j] with an integer per dimension is a 0-d view: writes through it land (probe k)."
    out = {}
    for L in (dl, torch):
        y = L.zeros(2, 3)
        y[1, 1].fill_(3)
        y[0][2].add_(4)
        x = L.zeros(3, 2)
        x[1].copy_(L.tensor([5.0, 6.0]))
        with L.no_grad():
            W = L.zeros(2, 2, requires_grad=True)
            W[0, 1].fill_(1)
        a = L.ones(3, requires_grad=True)
        c = (a * 2)[1]
        c.backward()
        out[L] = (y.tolist(), x.tolist(), W.tolist(), a.grad.tolist(), repr(c).replace('dl.', 'torch.'))
    assert out[dl] == out[torch]


def test_bool_minus_refused_like_torch():
    cases = [lambda L: 1 - L.tensor([True]), lambda L: L.ones(1) - L.tensor([True]),
             lambda L: -L.tensor([True]), lambda L: L.tensor([True]) - L.tensor([False]),
             lambda L: L.tensor([True]) - 1]
    for f in cases:
        msgs = []
        for L in (dl, torch):
            with pytest.raises(RuntimeError) as e:
                f(L)
            msgs.append(str(e.value))
        assert msgs[1] in msgs[0]            # PyTorch's words, after the op's name
    assert (dl.ones(2) + dl.tensor([True, False])).tolist() == [2.0, 1.0]   # + stays allowed
    assert (~dl.tensor([True])).tolist() == [False]


def test_storage_and_data_ptr():
    for L in (dl, torch):
        row = L.arange(6.0).reshape(2, 3)[1]
        s = row.storage()
        assert len(s) == 6 and s[4] == 4.0 and s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        s[3] = 7.0
        assert row.tolist() == [7.0, 4.0, 5.0]
        assert row.data_ptr() - s.data_ptr() == 12 and s.element_size() == 4 and s.nbytes() == 24
        u = row.untyped_storage()
        assert len(u) == u.nbytes() == 24 and u.data_ptr() == s.data_ptr()
        assert L.ones(3).data_ptr() != L.ones(3).data_ptr()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')          # PyTorch: TypedStorage is deprecated
        tr = repr(torch.tensor([1.5, 2.0]).storage())
    assert repr(dl.tensor([1.5, 2.0]).storage()) == tr


def test_size_keyword_and_other_names():
    for L in (dl, torch):
        shapes = [tuple(f(size=(2, 3)).shape) for f in (L.zeros, L.ones, L.empty, L.rand, L.randn)]
        assert shapes == [(2, 3)] * 5
        assert L.multiply(L.ones(2), 3).tolist() == [3.0, 3.0]
        assert L.subtract(L.ones(2), 1, alpha=2).tolist() == [-1.0, -1.0]
        assert L.divide(L.tensor([3.0]), 2, rounding_mode='floor').tolist() == [1.0]
        assert L.negative(L.ones(1)).tolist() == [-1.0] and L.absolute(-L.ones(1)).tolist() == [1.0]
        assert L.positive(L.ones(1)).tolist() == [1.0] and L.ones(1).absolute().tolist() == [1.0]
        with pytest.raises(TypeError):
            L.zeros(2, size=(3,))


def test_random_module_and_fork_rng():
    for L in (dl, torch):
        L.random.manual_seed(0)
        a = L.rand(2)
        L.manual_seed(0)
        with L.random.fork_rng():
            L.rand(5)
        assert bool((L.rand(2) == a).all()) and L.random.initial_seed() == 0
        s = L.random.get_rng_state()
        b = L.rand(3)
        L.random.set_rng_state(s)
        assert bool((L.rand(3) == b).all())


def test_autograd_grad_takes_a_generator():
    for L in (dl, torch):
        m = L.nn.Linear(3, 1)
        loss = m(L.ones(2, 3)).sum()
        gs = L.autograd.grad(loss, m.parameters())
        assert [tuple(g.shape) for g in gs] == [(1, 3), (1,)] and gs[1].item() == 2.0


def test_repr_wraps_where_torch_does():
    "A last line of 81-83 characters: PyTorch's longer 'torch.float64' name decides the wrap."
    for n in range(1, 12):
        t = [dl.ones(n, dtype=dl.float64, requires_grad=True) * 1.5,
             torch.ones(n, dtype=torch.float64, requires_grad=True) * 1.5]
        for w in (9, 10, 11):
            a = dl.arange(float(w * n)).reshape(n, w).double().requires_grad_() * 1.5
            b = torch.arange(float(w * n)).reshape(n, w).double().requires_grad_() * 1.5
            assert repr(a).replace('dl.', 'torch.') == repr(b)
        assert repr(t[0]).replace('dl.', 'torch.') == repr(t[1])


def test_deprecated_scalar_first_forms():
    "Older tutorials: p.data.add_(-lr, p.grad.data), torch.add(a, s, b), addcmul_(v, t1, t2) (probe l)."
    out = {}
    for L in (dl, torch):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            a, b = L.ones(2), L.ones(2) * 3
            a.add_(-0.5, b)
            r = [a.tolist()]
            a.sub_(2, b)
            r += [a.tolist(), a.add(2, b).tolist(), a.sub(2, b).tolist(), L.add(a, 2, b).tolist(),
                  L.sub(a, 2, b).tolist(), L.addcmul(a, 2, b, b).tolist(), L.addcdiv(a, 2, b, b).tolist()]
            a.addcmul_(0.5, b, b)
            a.addcdiv_(2, b, b)
            r.append(a.tolist())
        out[L] = r
        with pytest.raises(TypeError):
            L.ones(2).mul_(2, L.ones(2))
    assert out[dl] == out[torch]
    with pytest.warns(UserWarning, match='This overload of add_ is deprecated'):
        dl.ones(2).add_(2, dl.ones(2))


def test_legacy_new_and_memory_formats():
    import math
    out = {}
    for L in (dl, torch):
        w = L.ones(2, 3, dtype=L.float64)
        r = [tuple(w.new(2, 3).shape), str(w.new(2, 3).dtype), str(w.new([1, 2]).dtype),
             tuple(w.new().shape), tuple(w.new(L.Size([4])).shape), str(L.channels_last)]
        for shp in [(1, 4, 2, 3), (2, 3, 4, 5)]:
            x = L.arange(float(math.prod(shp))).view(*shp)
            c = x.contiguous(memory_format=L.channels_last)
            r += [c.stride(), c.is_contiguous(), c.is_contiguous(memory_format=L.channels_last),
                  x.is_contiguous(memory_format=L.channels_last),
                  x.to(memory_format=L.channels_last).stride(), bool((c == x).all())]
        x5 = L.arange(120.0).view(1, 2, 3, 4, 5)
        c5 = x5.contiguous(memory_format=L.channels_last_3d)
        r += [c5.stride(), c5.is_contiguous(memory_format=L.channels_last_3d), str(L.contiguous_format),
              str(L.preserve_format), isinstance(L.channels_last, L.memory_format),
              x.contiguous(memory_format=L.contiguous_format).is_contiguous()]
        out[L] = [s.replace('torch.', 'dl.') if isinstance(s, str) else s for s in r]
        with pytest.raises(RuntimeError):
            L.ones(2, 3).contiguous(memory_format=L.channels_last)
    assert out[dl] == out[torch]
    x = dl.randn(2, 3, 4, 4, requires_grad=True)
    (x.contiguous(memory_format=dl.channels_last) * dl.arange(4.0)).sum().backward()
    assert np.allclose(x.grad.numpy(), np.broadcast_to(np.arange(4.0), (2, 3, 4, 4)))


def test_deepcopy_of_tensors_like_torch():
    import copy
    for L in (dl, torch):
        x = L.ones(2, requires_grad=True)
        y = x * 2
        y.sum().backward()
        x.tag = 1
        c = copy.deepcopy(x)
        assert c.grad.tolist() == [2.0, 2.0] and c.requires_grad and c.tag == 1 and c.is_leaf
        assert c.data_ptr() != x.data_ptr()
        with pytest.raises(RuntimeError, match='graph leaves'):
            copy.deepcopy(x * 3)


def test_is_inference_like_torch():
    "ZTM's `y_preds.is_inference()` after `with torch.inference_mode():` (probe j)."
    out = {}
    for L in (dl, torch):
        x, w = L.ones(2), L.ones(2, requires_grad=True)
        with L.inference_mode():
            made = [x * 2, L.zeros(2), w * 3, L.randn(2)]
        with L.no_grad():
            plain = x * 2
        out[L] = [x.is_inference(), plain.is_inference(), (made[0] + 1).is_inference()] + [
            t.is_inference() for t in made]
    assert out[dl] == out[torch]
