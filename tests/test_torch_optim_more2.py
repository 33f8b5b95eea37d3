"""Parity with PyTorch for chapter 04's Rprop and ASGD: parameters and state after 20 steps (float64, 1e-10),
several settings, maximize, weight decay, parameter groups, state dicts both ways, `defaults`, `print(optimizer)`
and the errors for bad hyperparameters. Skipped when torch is not installed."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

# random parameters and, per step, random gradients of very different scales (some None)
from test_optim_torch import _problem  # noqa: E402

TOL = 1e-10

OPTIMIZERS = [
    ('Rprop', dict()),
    ('Rprop', dict(lr=0.05)),
    ('Rprop', dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ('Rprop', dict(lr=0.01, etas=(0.9, 1.01), step_sizes=(0.005, 0.02))),
    ('Rprop', dict(lr=0.02, maximize=True)),
    ('ASGD', dict()),
    ('ASGD', dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5)),
    ('ASGD', dict(lr=0.02, weight_decay=0.1, t0=3)),
    ('ASGD', dict(lr=0.01, lambd=0.1, alpha=1.0, t0=0, weight_decay=0.05)),
    ('ASGD', dict(lr=0.03, t0=8, maximize=True)),
    ('ASGD', dict(lr=0.03, weight_decay=0.2, maximize=True, t0=2)),
]


# the helpers of tests/test_torch_more_optim_seq.py: ids, torch's float64 scalars, the lockstep
# comparison and the optimizer pair
from test_torch_more_optim_seq import _ids, float64_scalars, _step_both, _pair  # noqa: E402,F401


def _same_state(ours, theirs, opt_d, opt_t):
    for a, b in zip(ours, theirs):
        sd, st = opt_d.state.get(a, {}), opt_t.state[b]
        assert set(sd) == set(st)
        for k, v in sd.items():
            np.testing.assert_allclose(np.asarray(v, float), np.asarray(st[k], float), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=_ids(OPTIMIZERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_optimizer_matches_torch(name, kw, seed, float64_scalars):
    params, grads = _problem(seed)
    ours, theirs, opt_d, opt_t = _pair(name, kw, params)
    before = [p.copy() for p in params]
    _step_both(ours, theirs, opt_d, opt_t, grads)
    _same_state(ours, theirs, opt_d, opt_t)
    assert not np.allclose(ours[0].detach().numpy(), before[0])      # it moved


@pytest.mark.parametrize("name,kw", [OPTIMIZERS[2], OPTIMIZERS[7]], ids=_ids([OPTIMIZERS[2], OPTIMIZERS[7]]))
def test_param_groups_match_torch(name, kw, float64_scalars):
    "Two groups with their own learning rates, and a third added with add_param_group."
    params, grads = _problem(5)
    ours, theirs, opt_d, opt_t = _pair(name, kw, params[:3], groups=True)
    extra = dict(lr=0.07)
    x, y = dl.tensor(params[3].copy(), requires_grad=True), torch.tensor(params[3].copy(), requires_grad=True)
    opt_d.add_param_group({'params': [x], **extra}); opt_t.add_param_group({'params': [y], **extra})
    _step_both(ours + [x], theirs + [y], opt_d, opt_t, grads)


def test_asgd_averages_the_iterates(float64_scalars):
    "With t0 small the state's ax is the running mean of the iterates (torch's, and by hand with lambd=0)."
    g = np.array([1.0, -2.0])
    ours, theirs, opt_d, opt_t = _pair('ASGD', dict(lr=0.1, lambd=0.0, t0=2), [np.zeros(2)])
    ws = []
    for _ in range(10):
        _step_both(ours, theirs, opt_d, opt_t, [[g]])
        ws.append(ours[0].detach().numpy().copy())
    np.testing.assert_allclose(opt_d.state[ours[0]]['ax'], np.mean(ws[3:], axis=0), rtol=1e-12)
    _same_state(ours, theirs, opt_d, opt_t)


@pytest.mark.parametrize("name,kw", [OPTIMIZERS[2], OPTIMIZERS[4], OPTIMIZERS[6], OPTIMIZERS[10]],
                         ids=_ids([OPTIMIZERS[i] for i in (2, 4, 6, 10)]))
def test_state_dict_crosses_to_torch_and_back(name, kw, float64_scalars):
    "Train 8 steps in one library, move the state (two groups) to the other, and go on together for 12 steps."
    params, grads = _problem(3)
    ours, theirs, opt_d, opt_t = _pair(name, kw, params, groups=True)
    _step_both(ours, theirs, opt_d, opt_t, grads[:8])
    # torch -> dl: a fresh dl optimizer (other lr) gets torch's state dict
    ours2 = [dl.tensor(b.detach().numpy().copy(), requires_grad=True) for b in theirs]
    opt_d2 = getattr(dl.optim, name)([{'params': ours2[:2]}, {'params': ours2[2:]}], lr=0.5)
    opt_d2.load_state_dict(opt_t.state_dict())
    assert [g['lr'] for g in opt_d2.param_groups] == [g['lr'] for g in opt_t.param_groups]
    assert opt_d2.state_dict()['param_groups'] == opt_t.state_dict()['param_groups']
    # dl -> torch: arrays as tensors
    sd = opt_d.state_dict()
    assert sd['param_groups'] == opt_t.state_dict()['param_groups']
    sd = {'param_groups': sd['param_groups'],
          'state': {k: {n: torch.from_numpy(v.numpy().copy()) if isinstance(v, dl.Tensor) else v
                        for n, v in s.items()}
                    for k, s in sd['state'].items()}}
    theirs2 = [torch.tensor(a.detach().numpy().copy(), requires_grad=True) for a in ours]
    opt_t2 = getattr(torch.optim, name)([{'params': theirs2[:2]}, {'params': theirs2[2:]}], lr=0.5)
    opt_t2.load_state_dict(sd)
    _step_both(ours2, theirs2, opt_d2, opt_t2, grads[8:])
    _step_both(ours, theirs, opt_d, opt_t, grads[8:])
    _same_state(ours2, theirs2, opt_d2, opt_t2)


@pytest.mark.parametrize("name", ['Rprop', 'ASGD'])
def test_state_dict_round_trip_through_a_file(name, tmp_path, float64_scalars):
    "Our own state dict, flattened to arrays, saved without pickle, loaded into a fresh optimizer: the same steps."
    params, grads = _problem(4)
    kw = dict(t0=2, weight_decay=0.1) if name == 'ASGD' else dict(etas=(0.4, 1.3))
    a = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    opt = getattr(dl.optim, name)(a, **kw)
    for step in grads[:6]:
        for p, g in zip(a, step): p.grad = None if g is None else dl.tensor(g.copy())
        opt.step()
    np.savez(tmp_path / 'opt.npz', **dl.optim.flatten_state_dict(opt.state_dict()))
    with np.load(tmp_path / 'opt.npz', allow_pickle=False) as f: flat = dict(f)
    b = [dl.tensor(p.detach().numpy().copy(), requires_grad=True) for p in a]
    opt2 = getattr(dl.optim, name)(b)
    opt2.load_state_dict(dl.optim.unflatten_state_dict(flat))
    assert opt2.param_groups[0]['etas' if name == 'Rprop' else 't0'] == opt.param_groups[0]['etas' if name == 'Rprop' else 't0']
    for step in grads[6:]:
        for p, q, g in zip(a, b, step):
            p.grad = q.grad = None if g is None else dl.tensor(g.copy())
        opt.step(); opt2.step()
        for p, q in zip(a, b): np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize("name", ['Rprop', 'ASGD'])
def test_defaults_and_repr_match_torch(name):
    "torch's keys and default values in `defaults` and every group; print(optimizer) gives torch's text."
    ours = getattr(dl.optim, name)([{'params': [dl.zeros(2, requires_grad=True)]},
                                    {'params': [dl.zeros(3, requires_grad=True)], 'lr': 0.5}])
    theirs = getattr(torch.optim, name)([{'params': [torch.zeros(2, requires_grad=True)]},
                                         {'params': [torch.zeros(3, requires_grad=True)], 'lr': 0.5}])
    assert ours.defaults == theirs.defaults
    for g, h in zip(ours.param_groups, theirs.param_groups):
        assert {k: v for k, v in g.items() if k != 'params'} == {k: v for k, v in h.items() if k != 'params'}
    assert repr(ours) == repr(theirs) == str(ours)
    kw = dict(foreach=False, capturable=True, maximize=True)
    o, t = getattr(dl.optim, name)([dl.zeros(2, requires_grad=True)], **kw), \
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    assert o.defaults == t.defaults and repr(o) == repr(t)


def test_signatures_match_torch():
    import inspect
    for name in ('Rprop', 'ASGD'):
        ours, theirs = (inspect.signature(getattr(m, name)).parameters for m in (dl.optim, torch.optim))
        assert list(ours) == list(theirs)
        for k in ours:
            assert ours[k].default == theirs[k].default and ours[k].kind == theirs[k].kind, (name, k)


BAD = [
    ('Rprop', dict(lr=-0.1)),
    ('Rprop', dict(etas=(0.5, 0.9))),
    ('Rprop', dict(etas=(1.0, 1.2))),
    ('Rprop', dict(etas=(0.0, 1.2))),
    ('Rprop', dict(etas=(-0.5, 1.2))),
    ('ASGD', dict(lr=-0.1)),
    ('ASGD', dict(weight_decay=-1e-3)),
]


@pytest.mark.parametrize("name,kw", BAD, ids=_ids(BAD))
def test_bad_hyperparameters_raise_as_torch(name, kw):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError, match=name):
        getattr(dl.optim, name)([dl.zeros(2, requires_grad=True)], **kw)


def test_more_errors():
    w = dl.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="etas"): dl.optim.Rprop([w], etas=0.5)
    with pytest.raises(ValueError, match="step_sizes"): dl.optim.Rprop([w], step_sizes=(1e-6,))
    with pytest.raises(ValueError, match="t0"): dl.optim.ASGD([w], t0=float('nan'))
    with pytest.raises(ValueError, match="lambd"): dl.optim.ASGD([w], lambd='0.1')
    with pytest.raises(ValueError, match="differentiable"): dl.optim.Rprop([w], differentiable=True)
    with pytest.raises(ValueError, match="maximize"): dl.optim.ASGD([w], maximize=1)
    opt = dl.optim.Rprop([w])
    with pytest.raises(ValueError, match=r"Rprop \(param group 1\): invalid etas"):
        opt.add_param_group({'params': [dl.zeros(1, requires_grad=True)], 'etas': (0.5, 1.0)})
    # an ASGD state dict is not an Rprop one, and the other way round
    w.grad = dl.ones(2); opt.step()
    asgd = dl.optim.ASGD([w]); asgd.step()
    with pytest.raises(ValueError, match="Rprop"): dl.optim.Rprop([w]).load_state_dict(asgd.state_dict())
    with pytest.raises(ValueError, match="ASGD"): dl.optim.ASGD([w]).load_state_dict(opt.state_dict())


def test_float32_matches_torch():
    "float32 parameters: the same arithmetic in float32 (torch's default scalar dtype: eta rounded to float32)."
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    for name, kw in (('Rprop', dict(lr=0.05)), ('ASGD', dict(lr=0.05, t0=3, weight_decay=0.1))):
        a, b = dl.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
        o, t = getattr(dl.optim, name)([a], **kw), getattr(torch.optim, name)([b], **kw)
        for _ in range(20):
            g = rng.standard_normal((4, 3)).astype(np.float32)
            a.grad, b.grad = dl.tensor(g.copy()), torch.tensor(g.copy())
            o.step(); t.step()
        assert a.dtype == dl.float32
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_on_a_simulated_gpu(monkeypatch):
    "On CuPy arrays (tests/fake_cupy.py's stand-in) the state stays on the device and the steps equal the CPU's."
    import fake_cupy
    from deeplearning101 import gpu as G
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'): monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    try:
        cupy = fake_cupy.install(monkeypatch)
        params, grads = _problem(6)
        for name, kw in (('Rprop', dict(maximize=True)), ('ASGD', dict(t0=3, weight_decay=0.1))):
            cpu = [dl.tensor(p.copy(), requires_grad=True) for p in params]
            dev = [dl.tensor(p.copy(), device='cuda', requires_grad=True) for p in params]
            o, d = getattr(dl.optim, name)(cpu, **kw), getattr(dl.optim, name)(dev, **kw)
            for step in grads[:8]:
                for a, b, g in zip(cpu, dev, step):
                    a.grad = None if g is None else dl.tensor(g.copy())
                    b.grad = None if g is None else dl.tensor(g.copy(), device='cuda')
                o.step(); d.step()
            assert all(isinstance(v._data, cupy.ndarray) for s in d.state.values() for k, v in s.items()
                       if k != 'step' or name == 'ASGD')      # torch keeps Rprop's step on the CPU
            for a, b in zip(cpu, dev):
                np.testing.assert_array_equal(a.detach().numpy(), b.detach().cpu().numpy())
    finally:
        G._probe.cache_clear()
