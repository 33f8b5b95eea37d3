"""`dl.optim.swa_utils` (chapter 04) and `dl.amp` / `dl.cuda.amp` (chapter 05) against PyTorch 2.13.

Weight averaging is compared bit for bit on float32 (SWA, EMA, with and without buffers, the four
`get_*_avg_fn` helpers), SWALR's rates step by step over several groups, update_bn's statistics;
GradScaler on 'cpu' step by step (an inf gradient skips the step and halves the scale, growth after
`growth_interval` good steps, state_dict), and the disabled paths with their warnings. Also: an
optimizer takes a ParameterList (probes n and q).
"""
import copy
import pickle
import types
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")
from torch.optim import swa_utils as T  # noqa: E402
from deeplearning101.optim import swa_utils as D  # noqa: E402

NO_GPU = not dl.cuda.is_available()


# ------------------------------------------------------------------------------------ helpers

def _pair(seed=0, width=33):
    """The same Linear-BatchNorm-Linear network in torch and dl (identical weights)."""
    tn = torch.nn.Sequential(torch.nn.Linear(5, width), torch.nn.BatchNorm1d(width),
                             torch.nn.Linear(width, 2))
    dn = dl.nn.Sequential(dl.nn.Linear(5, width), dl.nn.BatchNorm1d(width),
                          dl.nn.Linear(width, 2))
    _set(tn, dn, np.random.default_rng(seed), 1.0)
    return tn, dn


def _set(tn, dn, rng, scale):
    """Random new weights and buffers (the integer counter too) in both networks."""
    with torch.no_grad():
        for (name, tp), dp in zip(tn.state_dict().items(), dn.state_dict().values()):
            if tp.dtype == torch.float32:
                v = (rng.standard_normal(tp.shape) * scale).astype(np.float32)
                if name.endswith('running_var'): v = np.abs(v)
                tp.copy_(torch.tensor(v)); dp.copy_(dl.tensor(v))
            else:
                k = int(rng.integers(0, 100))
                tp.fill_(k); dp.fill_(k)


def _same_state(ta, da, exact=True):
    ts, ds = ta.state_dict(), da.state_dict()
    assert list(ts) == list(ds)
    for k in ts:
        t, d = ts[k].numpy(), ds[k].numpy()
        assert t.dtype == d.dtype, k
        if exact: assert np.array_equal(t, d), (k, np.abs(t - d).max())
        else: np.testing.assert_allclose(d, t, rtol=1e-6, atol=1e-7, err_msg=k)


def _fns(M, kind):
    return {'default': {},
            'ema_multi': dict(multi_avg_fn=M.get_ema_multi_avg_fn(0.9)),
            'ema_multi_default': dict(multi_avg_fn=M.get_ema_multi_avg_fn()),
            'swa_multi': dict(multi_avg_fn=M.get_swa_multi_avg_fn()),
            'ema': dict(avg_fn=M.get_ema_avg_fn(0.7)),
            'swa': dict(avg_fn=M.get_swa_avg_fn())}[kind]


# ------------------------------------------------------------------------------- AveragedModel

@pytest.mark.parametrize('kind', ['default', 'ema_multi', 'ema_multi_default', 'swa_multi',
                                  'ema', 'swa'])
@pytest.mark.parametrize('use_buffers', [False, True])
def test_averaged_model_bit_for_bit(kind, use_buffers):
    if kind == 'swa_multi' and use_buffers:
        pytest.skip("torch refuses to average the integer counter that way (next test)")
    tn, dn = _pair()
    ta = T.AveragedModel(tn, use_buffers=use_buffers, **_fns(T, kind))
    da = D.AveragedModel(dn, use_buffers=use_buffers, **_fns(D, kind))
    rng = np.random.default_rng(1)
    for step in range(7):
        _set(tn, dn, rng, step + 1.0)
        ta.update_parameters(tn); da.update_parameters(dn)
        _same_state(ta, da)
    assert int(da.n_averaged) == 7 and da.n_averaged.dtype == dl.int64


def test_averaged_model_integer_buffers_refused_by_the_swa_multi_fn():
    for M, net in ((T, _pair()[0]), (D, _pair()[1])):
        avg = M.AveragedModel(net, multi_avg_fn=M.get_swa_multi_avg_fn(), use_buffers=True)
        avg.update_parameters(net)
        with pytest.raises(RuntimeError):
            avg.update_parameters(net)


def test_averaged_model_structure_forward_and_copy():
    tn, dn = _pair()
    ta, da = T.AveragedModel(tn), D.AveragedModel(dn)
    assert da.module is not dn and isinstance(da, dl.nn.Module)
    assert str(da) == str(ta).replace('torch.', '')
    assert [n for n, _ in da.named_buffers()] == [n for n, _ in ta.named_buffers()]
    x = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    ta.eval(); da.eval()
    np.testing.assert_allclose(da(dl.tensor(x)).detach().numpy(),
                               ta(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # the model's later changes do not reach the copy; buffers follow the model
    with dl.no_grad(): dn[0].weight.add_(1.0)
    assert not np.array_equal(da.module[0].weight.detach().numpy(),
                              dn[0].weight.detach().numpy())
    with pytest.raises(AssertionError):
        D.AveragedModel(dn, avg_fn=D.get_swa_avg_fn(), multi_avg_fn=D.get_swa_multi_avg_fn())
    # a state_dict round trip
    da.update_parameters(dn); da.update_parameters(dn)
    fresh = D.AveragedModel(dn)
    fresh.load_state_dict(da.state_dict())
    assert int(fresh.n_averaged) == 2


def test_avg_fns_directly_and_their_errors():
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    for decay in (0.9, 0.999, 0.3, 0.5, 0.0, 1.0):
        ta, da = torch.tensor(a), dl.tensor(a)
        T.get_ema_multi_avg_fn(decay)([ta], [torch.tensor(b)], None)
        D.get_ema_multi_avg_fn(decay)([da], [dl.tensor(b)], None)
        assert np.array_equal(ta.numpy(), da.numpy()), decay
        t = T.get_ema_avg_fn(decay)(torch.tensor(a), torch.tensor(b), 3)
        d = D.get_ema_avg_fn(decay)(dl.tensor(a), dl.tensor(b), 3)
        assert np.array_equal(t.numpy(), d.numpy()), decay
    for n in (0, 1, 2, 6, 99):
        ta, da = torch.tensor(a), dl.tensor(a)
        T.get_swa_multi_avg_fn()([ta], [torch.tensor(b)], torch.tensor(n))
        D.get_swa_multi_avg_fn()([da], [dl.tensor(b)], dl.tensor(n))
        assert np.array_equal(ta.numpy(), da.numpy()), n
        t = T.get_swa_avg_fn()(torch.tensor(a), torch.tensor(b), torch.tensor(n))
        d = D.get_swa_avg_fn()(dl.tensor(a), dl.tensor(b), dl.tensor(n))
        assert np.array_equal(t.numpy(), d.numpy()), n
    for bad in (-0.1, 1.5):
        for M in (T, D):
            with pytest.raises(ValueError, match='Invalid decay value'):
                M.get_ema_multi_avg_fn(bad)
            with pytest.raises(ValueError, match='Invalid decay value'):
                M.get_ema_avg_fn(bad)


def test_lerp_rounding_is_a_fused_multiply_add():
    """torch's lerp rounds once (an FMA): the plain two-rounding formula differs in many
    entries, ours in none, for weights on both sides of 0.5."""
    rng = np.random.default_rng(4)
    for w in (1 / 3, 0.1, 1 / 7, 0.001, 0.9, 0.75, 0.5, 0.499999, 0.6):
        a, b = (rng.standard_normal(20001).astype(np.float32) * 10 for _ in range(2))
        ta, da = torch.tensor(a), dl.tensor(a)
        torch._foreach_lerp_([ta], [torch.tensor(b)], w)
        D.get_ema_multi_avg_fn(1 - w)([da], [dl.tensor(b)], None)
        assert np.array_equal(ta.numpy(), da.numpy()), w
    # a constructed tie: the float64 sum lands exactly halfway between two float32s
    # (1 + 2^-23 + 2^-24), the exact one 2^-64 below it; rounding the float64 sum would
    # give 1 + 2^-22 (ties to even), torch's FMA gives 1 + 2^-23
    a = np.array([1 + 2**-23, -(1 + 2**-23)], np.float32)
    b = np.array([65 - 2**-14, -(65 - 2**-14)], np.float32)
    w = float(np.float32(2**-30 * (1 + 2**-20)))
    ta = torch.tensor(a); ta.lerp_(torch.tensor(b), w)
    da = a.copy(); dl.optim._lerp_arrays_(da, b, w)
    assert np.array_equal(ta.numpy(), da) and da[0] == np.float32(1 + 2**-23)


# --------------------------------------------------------------------------------------- SWALR

def _groups(M, lrs):
    return [{'params': [M.nn.Parameter(M.ones(2))], 'lr': lr} for lr in lrs]


@pytest.mark.parametrize('strategy', ['cos', 'linear'])
@pytest.mark.parametrize('anneal_epochs', [0, 1, 3, 10])
@pytest.mark.parametrize('swa_lr', [0.05, [0.05, 0.2]])
def test_swalr_rates(strategy, anneal_epochs, swa_lr):
    rates = []
    for M, S in ((torch, T.SWALR), (dl, D.SWALR)):
        opt = M.optim.SGD(_groups(M, [0.1, 0.5]), lr=0.3, momentum=0.9)
        sched = S(opt, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
        seq = [[g['lr'] for g in opt.param_groups]]
        for _ in range(14):
            opt.step(); sched.step()
            seq.append([g['lr'] for g in opt.param_groups])
        assert sched.get_last_lr() == seq[-1]
        rates.append(seq)
    np.testing.assert_allclose(rates[1], rates[0], rtol=1e-12, atol=1e-15)


def test_swalr_after_cosine_annealing_and_state_dict():
    rates = []
    for M, S in ((torch, T.SWALR), (dl, D.SWALR)):
        opt = M.optim.SGD(_groups(M, [0.1, 0.02]), lr=0.3)
        cos = M.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
        for _ in range(6): opt.step(); cos.step()
        swa = S(opt, swa_lr=0.01, anneal_epochs=4, anneal_strategy='linear')
        seq = []
        for _ in range(3): opt.step(); swa.step(); seq.append(opt.param_groups[1]['lr'])
        sd = swa.state_dict()
        assert 'optimizer' not in sd and 'anneal_func' not in sd
        again = S(opt, swa_lr=0.5, anneal_epochs=9, anneal_strategy='cos')
        again.load_state_dict(sd)
        for _ in range(4): opt.step(); again.step(); seq.append(opt.param_groups[1]['lr'])
        rates.append(seq)
    np.testing.assert_allclose(rates[1], rates[0], rtol=1e-12)


def test_swalr_errors():
    for M, S in ((torch, T.SWALR), (dl, D.SWALR)):
        opt = M.optim.SGD(_groups(M, [0.1, 0.5]), lr=0.3)
        with pytest.raises(ValueError, match='same length'): S(opt, swa_lr=[0.1])
        with pytest.raises(ValueError, match='anneal_strategy'):
            S(opt, swa_lr=0.1, anneal_strategy='exp')
        for bad in (-1, 2.0):
            with pytest.raises(ValueError, match='anneal_epochs'):
                S(opt, swa_lr=0.1, anneal_epochs=bad)


# ------------------------------------------------------------------------------------ update_bn

@pytest.mark.parametrize('as_pairs', [False, True])
def test_update_bn_statistics(as_pairs):
    tn, dn = _pair(width=6)
    tn.eval(); dn.eval()
    for m in (tn[1], dn[1]): m.momentum = 0.3
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((n, 5)).astype(np.float32) * 3 + 1 for n in (8, 5, 11, 7)]
    tl = [(torch.tensor(x), 0) if as_pairs else torch.tensor(x) for x in xs]
    dlo = [(dl.tensor(x), 0) if as_pairs else dl.tensor(x) for x in xs]
    T.update_bn(tl, tn); D.update_bn(dlo, dn)
    for name in ('running_mean', 'running_var'):
        np.testing.assert_allclose(getattr(dn[1], name).numpy(), getattr(tn[1], name).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert int(dn[1].num_batches_tracked) == int(tn[1].num_batches_tracked) == 4
    assert dn[1].momentum == tn[1].momentum == 0.3
    assert dn.training is tn.training is False and dn[1].training is False


def test_update_bn_without_batchnorm_and_under_no_grad():
    net = dl.nn.Sequential(dl.nn.Linear(3, 2))
    assert D.update_bn([dl.ones(2, 3)], net) is None      # nothing to do
    seen = []
    for M, mod in ((torch, T), (dl, D)):
        class Probe(M.nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = M.nn.BatchNorm1d(3)
            def forward(self, x):
                seen.append((M.__name__, M.is_grad_enabled()))
                return self.bn(x)
        mod.update_bn([M.ones(4, 3, requires_grad=True)], Probe())
    assert seen == [('torch', False), ('deeplearning101', False)]


def test_update_bn_leaves_instance_norm_alone():
    "torch's update_bn resets only _BatchNorm layers; dl's InstanceNorm derives from its own."
    got = []
    for M, ub in ((torch, T.update_bn), (dl, D.update_bn)):
        m = M.nn.Sequential(M.nn.InstanceNorm1d(3, track_running_stats=True),
                            M.nn.BatchNorm1d(3))
        x = M.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
        m(x); m(x * 2); ub([x], m)
        got.append([m[0].running_mean.numpy().copy(), int(m[0].num_batches_tracked),
                    int(m[1].num_batches_tracked)])
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-6)
    assert got[1][1:] == got[0][1:] == [0, 1]


# ---------------------------------------------------------------------- ParameterList (probe q)

def test_optimizers_take_a_parameter_list():
    pl = dl.nn.ParameterList([dl.nn.Parameter(dl.ones(2)), dl.nn.Parameter(dl.ones(3))])
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)),
                                  torch.nn.Parameter(torch.ones(3))])
    for cls in ('SGD', 'Adam', 'AdamW'):
        opt, topt = getattr(dl.optim, cls)(pl, lr=0.1), getattr(torch.optim, cls)(tpl, lr=0.1)
        assert len(opt.param_groups[0]['params']) == len(topt.param_groups[0]['params']) == 2
    with pytest.raises(TypeError, match='got a Linear'):
        dl.optim.SGD(dl.nn.Linear(2, 2), lr=0.1)
    with pytest.raises(TypeError):
        torch.optim.SGD(torch.nn.Linear(2, 2), lr=0.1)
    with pytest.raises(TypeError, match='got a Sequential'):
        dl.optim.SGD(dl.nn.Sequential(dl.nn.Linear(2, 2)), lr=0.1)
    with pytest.raises(ValueError):
        dl.optim.SGD(dl.nn.ParameterList(), lr=0.1)


# ---------------------------------------------------------------------------------- GradScaler

def _scaler_run(M, steps, **kw):
    """A small regression trained with a scaler on 'cpu'; `steps`: per step, None or the
    index of a weight whose gradient becomes inf (or 'nan')."""
    w = M.nn.Parameter(M.tensor([0.5, -1.0, 2.0]))
    opt = M.optim.SGD([w], lr=0.05, momentum=0.9)
    scaler = M.amp.GradScaler('cpu', **kw)
    x = M.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
    out = []
    for bad in steps:
        opt.zero_grad()
        loss = ((x @ w) ** 2).mean()
        scaler.scale(loss).backward()
        if bad is not None:
            with M.no_grad(): w.grad[bad if bad != 'nan' else 0] = (
                float('nan') if bad == 'nan' else float('inf'))
        ret = scaler.step(opt)
        scaler.update()
        out.append((ret, scaler.get_scale(), scaler._get_growth_tracker(),
                    w.detach().numpy().copy()))
    return out, scaler


@pytest.mark.parametrize('kw', [dict(init_scale=2.0 ** 16, growth_interval=2),
                                dict(init_scale=3.0, growth_factor=3.0, backoff_factor=0.25,
                                     growth_interval=3),
                                dict()])
def test_grad_scaler_cpu_step_by_step(kw):
    steps = [None, None, 1, None, None, None, 'nan', None, None, None]
    (t, ts), (d, ds) = _scaler_run(torch, steps, **kw), _scaler_run(dl, steps, **kw)
    for (tr, tsc, tg, tw), (dr, dsc, dg, dw) in zip(t, d):
        assert tr is dr is None
        assert dsc == tsc and isinstance(dsc, float) and dg == tg
        np.testing.assert_allclose(dw, tw, rtol=1e-6, atol=1e-7)
    assert ds.state_dict() == ts.state_dict()
    # the skipped steps: weights unchanged, scale times backoff_factor
    bo = kw.get('backoff_factor', 0.5)
    for i in (2, 6):
        assert np.array_equal(d[i][3], d[i - 1][3]) and d[i][1] == d[i - 1][1] * bo


def test_grad_scaler_scale_unscale_and_errors():
    for M in (torch, dl):
        w = M.nn.Parameter(M.tensor([1.0, 2.0]))
        opt, s = M.optim.SGD([w], lr=0.1), M.amp.GradScaler('cpu', init_scale=8.0)
        assert s.is_enabled() and s.get_scale() == 8.0
        with pytest.raises(AssertionError, match='_scale is None'): s.unscale_(opt)
        loss = (w * w).sum()
        scaled = s.scale(loss)
        assert scaled.dtype == loss.dtype and float(scaled.detach()) == 8.0 * 5
        a, b = s.scale([loss, (loss, loss)])
        assert float(a.detach()) == 40.0 and float(b[1].detach()) == 40.0 and isinstance(b, tuple)
        with pytest.raises(ValueError, match='iterable of Tensors'): s.scale([loss, 3])
        scaled.backward()
        assert np.array_equal(w.grad.numpy(), [16.0, 32.0])
        s.unscale_(opt)                          # then e.g. clip_grad_norm_
        assert np.array_equal(w.grad.numpy(), [2.0, 4.0])
        with pytest.raises(RuntimeError, match='already been called'): s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match='after step'): s.unscale_(opt)
        with pytest.raises(RuntimeError, match='already been called'): s.step(opt)
        s.update()
        with pytest.raises(RuntimeError, match='Closure'): s.step(opt, closure=lambda: 0)
        with pytest.raises(AssertionError, match='No inf checks'): s.update()
        s.update(2.0)
        assert s.get_scale() == 2.0
        for bad in (dict(growth_factor=1.0), dict(backoff_factor=1.0)):
            with pytest.raises(AssertionError): M.amp.GradScaler('cpu', **bad)
        s.set_growth_factor(4.0); s.set_backoff_factor(0.125); s.set_growth_interval(7)
        assert (s.get_growth_factor(), s.get_backoff_factor(),
                s.get_growth_interval()) == (4.0, 0.125, 7)
        sd = s.state_dict()
        fresh = M.amp.GradScaler('cpu')
        fresh.load_state_dict(sd)
        assert fresh.state_dict() == sd
        with pytest.raises(RuntimeError, match='empty'): fresh.load_state_dict({})
        again = pickle.loads(pickle.dumps(s))
        assert again.state_dict() == sd and again.get_scale() == 2.0


def test_grad_scaler_no_gradients_step_raises():
    for M in (torch, dl):
        w = M.nn.Parameter(M.ones(2))
        opt, s = M.optim.SGD([w], lr=0.1), M.amp.GradScaler('cpu')
        s.scale(w.sum())                            # no backward: no gradient to check
        with pytest.raises(AssertionError, match='No inf checks'): s.step(opt)


def _caught(make):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        out = make()
    return out, [(x.category, str(x.message)) for x in w]


@pytest.mark.skipif(not NO_GPU, reason="the disabled paths need a machine without CUDA")
def test_disabled_paths_and_their_warnings():
    for name, make in [('amp', lambda M: M.amp.GradScaler('cuda')),
                       ('amp default', lambda M: M.amp.GradScaler()),
                       ('top', lambda M: M.GradScaler()),
                       ('cuda.amp', lambda M: M.cuda.amp.GradScaler()),
                       ('autocast', lambda M: M.autocast('cuda')),
                       ('amp.autocast', lambda M: M.amp.autocast('cuda')),
                       ('cuda.amp.autocast', lambda M: M.cuda.amp.autocast()),
                       ('cuda.amp.autocast off', lambda M: M.cuda.amp.autocast(enabled=False)),
                       ('cuda.amp off', lambda M: M.cuda.amp.GradScaler(enabled=False)),
                       ('off', lambda M: M.amp.GradScaler('cuda', enabled=False)),
                       ('cpu off', lambda M: M.autocast('cpu', enabled=False)),
                       ('cpu float32', lambda M: M.autocast('cpu', dtype=M.float32))]:
        (t, tw), (d, dw) = _caught(lambda: make(torch)), _caught(lambda: make(dl))
        assert dw == tw, name
        if 'autocast' in name or name.startswith('cpu'):
            assert d._enabled is False, name
        else:
            assert not d.is_enabled() and d.get_scale() == 1.0 and d.state_dict() == {}
    # a disabled scaler is a pass-through
    w = dl.nn.Parameter(dl.tensor([1.0, 2.0]))
    opt = dl.optim.SGD([w], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        s = dl.cuda.amp.GradScaler(enabled=True)
    loss = (w * w).sum()
    assert s.scale(loss) is loss
    loss.backward(); s.unscale_(opt)
    assert np.array_equal(w.grad.numpy(), [2.0, 4.0])
    assert s.step(opt) is None and np.allclose(w.detach().numpy(), [0.8, 1.6])
    s.update(); s.load_state_dict({})
    assert s._get_growth_tracker() == 0


def test_autocast_context_decorator_and_errors():
    for M in (torch, dl):
        with M.autocast('cpu', enabled=False) as ctx:
            y = M.ones(2, 2) @ M.ones(2, 2)
            assert y.dtype == M.float32 and not M.is_autocast_enabled()
        assert ctx._enabled is False
        @M.autocast('cpu', enabled=False)
        def f(a): return a @ a
        assert f(M.ones(2, 2)).dtype == M.float32 and f.__name__ == 'f'
        with pytest.raises(TypeError, match='requires a callable'): M.autocast('cpu', enabled=False)(3)
        with pytest.raises(ValueError, match='device_type'): M.autocast(0)
        with pytest.raises(RuntimeError): M.autocast('gpu')
    assert not dl.is_autocast_enabled('cpu')
    for make in (lambda: dl.autocast('cpu'), lambda: dl.autocast('cpu', dtype=dl.float16),
                 lambda: dl.amp.autocast(device_type='cpu')):
        with pytest.raises(RuntimeError, match='lower-precision autocast'): make()


def test_names_resolve_to_the_real_modules():
    import deeplearning101.amp
    import deeplearning101.cuda.amp
    from deeplearning101.cuda.amp import GradScaler, autocast
    assert dl.amp is deeplearning101.amp and dl.cuda.amp is deeplearning101.cuda.amp
    assert dl.autocast is dl.amp.autocast and dl.GradScaler is dl.amp.GradScaler
    assert issubclass(GradScaler, dl.GradScaler) and issubclass(autocast, dl.autocast)
    assert GradScaler.__name__ == 'GradScaler' and autocast.__name__ == 'autocast'
    assert hasattr(torch, 'GradScaler') and torch.autocast is torch.amp.autocast
    assert 'AveragedModel' not in dir(dl) and not hasattr(torch.optim, 'AveragedModel')
    assert set(D.__all__) == set(T.__all__)


def test_empty_cache_and_matmul_precision():
    assert dl.cuda.empty_cache() is None and torch.cuda.empty_cache() is None
    try:
        for M in (torch, dl):
            assert M.get_float32_matmul_precision() == 'highest'
            M.set_float32_matmul_precision('medium')
            assert M.get_float32_matmul_precision() == 'medium'
            (_, tw) = _caught(lambda: M.set_float32_matmul_precision('low'))
            assert [c for c, _ in tw] == [UserWarning]
            assert M.get_float32_matmul_precision() == 'medium'
            with pytest.raises(RuntimeError, match='expects a str'):
                M.set_float32_matmul_precision(1)
            M.set_float32_matmul_precision('highest')
    finally:
        torch.set_float32_matmul_precision('highest'); dl.set_float32_matmul_precision('highest')


# ------------------------------------------------------------------------------ simulated GPU

def test_on_the_simulated_gpu(monkeypatch):
    """On tests/fake_cupy.py's stand-in GPU: GradScaler('cuda') is enabled and skips a step
    on an inf gradient; AveragedModel averages on the device with torch's foreach lerp (its
    CUDA path), equal bit for bit to torch's lerp on the CPU; autocast('cuda') is refused."""
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    try:
        cp = fake_cupy.install(monkeypatch)
        # functions real CuPy has that the stand-in lacks, and its memory pools
        cp.isfinite, cp.nextafter, freed = np.isfinite, np.nextafter, []
        pool = lambda name: (lambda: types.SimpleNamespace(
            free_all_blocks=lambda: freed.append(name)))
        cp.get_default_memory_pool = pool('device')
        cp.get_default_pinned_memory_pool = pool('pinned')
        assert dl.cuda.is_available()
        dl.cuda.empty_cache()
        assert freed == ['device', 'pinned']
        w = dl.nn.Parameter(dl.tensor([1.0, 2.0], device='cuda'))
        opt = dl.optim.SGD([w], lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            s = dl.amp.GradScaler(init_scale=4.0)
        assert s.is_enabled()
        s.scale((w * w).sum()).backward()
        assert np.array_equal(w.grad.cpu().numpy(), [8.0, 16.0])
        s.step(opt); s.update()
        assert np.allclose(w.detach().cpu().numpy(), [0.8, 1.6]) and s.get_scale() == 4.0
        opt.zero_grad()
        s.scale((w * float('inf')).sum()).backward()
        s.step(opt); s.update()
        assert np.allclose(w.detach().cpu().numpy(), [0.8, 1.6]) and s.get_scale() == 2.0
        assert s._scale.device.type == 'cuda'
        with pytest.raises(RuntimeError, match='lower-precision autocast'): dl.autocast('cuda')
        with dl.autocast('cuda', enabled=False): pass
        # averaging on the device: the lerp path
        rng = np.random.default_rng(6)
        vals = [rng.standard_normal((7, 9)).astype(np.float32) * (k + 1) for k in range(5)]
        lin = dl.nn.Linear(9, 7, bias=False).to('cuda')
        avg = D.AveragedModel(lin)
        ref = torch.tensor(vals[0])
        for k, v in enumerate(vals):
            with dl.no_grad(): lin.weight.copy_(dl.tensor(v, device='cuda'))
            avg.update_parameters(lin)
            if k: torch._foreach_lerp_([ref], [torch.tensor(v)], float(1 / torch.tensor(k + 1)))
        assert avg.module.weight.device.type == 'cuda'
        assert np.array_equal(avg.module.weight.detach().cpu().numpy(), ref.numpy())
    finally:
        G._probe.cache_clear()
