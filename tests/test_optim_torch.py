"""Parity with `torch.optim`: every optimizer and option over 20 steps on random problems (float64, 1e-6), every
learning-rate schedule's sequence of rates, and `clip_grad_norm_`. Skipped when torch is not installed."""
import math
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

STEPS, TOL = 20, 1e-6
SHAPES = [(5, 3), (3,), (2, 2, 2), ()]

OPTIMIZERS = [
    ('SGD', dict(lr=0.1)),
    ('SGD', dict(lr=0.05, momentum=0.9)),
    ('SGD', dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ('SGD', dict(lr=0.05, momentum=0.9, nesterov=True)),
    ('SGD', dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ('SGD', dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.01)),
    ('Adagrad', dict(lr=0.1)),
    ('Adagrad', dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ('RMSprop', dict(lr=0.01)),
    ('RMSprop', dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ('RMSprop', dict(lr=0.01, momentum=0.9)),
    ('RMSprop', dict(lr=0.01, centered=True)),
    ('RMSprop', dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.05, alpha=0.95)),
    ('Adam', dict(lr=0.01)),
    ('Adam', dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ('Adam', dict(lr=0.01, weight_decay=0.1)),
    ('Adam', dict(lr=0.01, amsgrad=True)),
    ('Adam', dict(lr=0.01, amsgrad=True, weight_decay=0.1, betas=(0.5, 0.9))),
    ('Adam', dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ('AdamW', dict(lr=0.01)),
    ('AdamW', dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ('AdamW', dict(lr=0.02, weight_decay=0.0, betas=(0.0, 0.5))),
]


def _ids(cases): return [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in cases]


def _step_both(ours, theirs, opt_d, opt_t, grads, tol=TOL):
    "Feed the same gradients to both optimizers, step both, and compare the parameters after every step."
    for step in grads:
        for a, b, g in zip(ours, theirs, step):
            a.grad = None if g is None else dl.tensor(g.copy())
            b.grad = None if g is None else torch.tensor(g.copy())
        opt_d.step(); opt_t.step()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(),
                                       rtol=tol, atol=tol)


def _problem(seed):
    "Random initial parameters and, per step, random gradients of very different scales (some None)."
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[None if (k == 3 and t % 4 == 1) else rng.standard_normal(s) * 10.0 ** rng.uniform(-3, 2)
              for k, s in enumerate(SHAPES)] for t in range(STEPS)]
    return params, grads


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=_ids(OPTIMIZERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_optimizer_matches_torch(name, kw, seed):
    params, grads = _problem(seed)
    ours = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt_d = getattr(dl, name)(ours, **kw)
    opt_t = getattr(torch.optim, name)(theirs, **kw)
    _step_both(ours, theirs, opt_d, opt_t, grads)
    # the state matches too, entry by entry (torch keeps 'step' as a tensor)
    for a, b in zip(ours, theirs):
        sd, st = opt_d.state.get(a, {}), opt_t.state[b]
        assert set(sd) == {k for k, v in st.items() if v is not None}
        for k, v in sd.items():
            np.testing.assert_allclose(np.asarray(v, float), np.asarray(st[k], float), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name,kw", [OPTIMIZERS[3], OPTIMIZERS[7], OPTIMIZERS[12], OPTIMIZERS[17], OPTIMIZERS[20]],
                         ids=_ids([OPTIMIZERS[i] for i in (3, 7, 12, 17, 20)]))
def test_param_groups_match_torch(name, kw):
    "Two groups with their own learning rates (and weight decay), one added with add_param_group."
    params, grads = _problem(7)
    ours = [dl.tensor(p.copy(), requires_grad=True) for p in params]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt_d = getattr(dl, name)([{'params': ours[:2]}], **kw)
    opt_t = getattr(torch.optim, name)([{'params': theirs[:2]}], **kw)
    extra = dict(lr=kw['lr'] / 3, weight_decay=0.05)
    opt_d.add_param_group({'params': ours[2:], **extra}); opt_t.add_param_group({'params': theirs[2:], **extra})
    _step_both(ours, theirs, opt_d, opt_t, grads)


def test_float32_training_matches_torch():
    "A small MLP trained with Adam in float32: forward, backward and optimizer together stay within float32 noise."
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    dl.manual_seed(0)
    model = dl.Sequential(dl.Linear(10, 16), dl.ReLU(), dl.Linear(16, 4))
    tmodel = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    with torch.no_grad():
        for p, q in zip(model.parameters(), tmodel.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))
    opt, topt = dl.Adam(model.parameters(), lr=0.01), torch.optim.Adam(tmodel.parameters(), lr=0.01)
    for _ in range(STEPS):
        opt.zero_grad(); dl.cross_entropy(model(X), y).backward(); opt.step()
        topt.zero_grad(); torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(X)), torch.from_numpy(y)).backward(); topt.step()
    for p, q in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------------------- schedulers

SCHEDULERS = [
    ('StepLR', dict(step_size=7), {}),
    ('StepLR', dict(step_size=3, gamma=0.5), {}),
    ('ExponentialLR', dict(gamma=0.9), {}),
    ('CosineAnnealingLR', dict(T_max=10), {}),
    ('CosineAnnealingLR', dict(T_max=7, eta_min=0.01), {}),
    ('LinearLR', dict(), {}),
    ('LinearLR', dict(start_factor=0.1, end_factor=0.9, total_iters=12), {}),
    ('OneCycleLR', dict(max_lr=0.5, total_steps=40), dict(momentum=0.9)),
    ('OneCycleLR', dict(max_lr=[0.5, 0.2], total_steps=40, anneal_strategy='linear', pct_start=0.25), dict(momentum=0.9)),
    ('OneCycleLR', dict(max_lr=0.5, epochs=4, steps_per_epoch=10, three_phase=True, div_factor=10.0), dict(momentum=0.9)),
    ('OneCycleLR', dict(max_lr=0.01, total_steps=40, base_momentum=0.8, max_momentum=0.9), dict(adam=True)),
    ('MultiStepLR', dict(milestones=[5, 12, 12, 30]), {}),
    ('MultiStepLR', dict(milestones=[30, 2, 17], gamma=0.7), {}),
    ('LambdaLR', dict(lr_lambda=lambda e: 0.95 ** e), {}),
    ('LambdaLR', dict(lr_lambda=[lambda e: 1 / (1 + e),
                                 lambda e: min(1.0, (e + 1) / 10)]), {}),
]


def _sched_run(lib, name, kw, opt_kw, steps=40):
    "The lrs (all groups) and momentum/beta1 after each step, with optimizer.step() before scheduler.step()."
    if lib is dl: ps = [dl.tensor(np.zeros(2), requires_grad=True), dl.tensor(np.zeros(3), requires_grad=True)]
    else: ps = [torch.zeros(2, requires_grad=True, dtype=torch.float64), torch.zeros(3, requires_grad=True, dtype=torch.float64)]
    groups = [{'params': [ps[0]]}, {'params': [ps[1]], 'lr': 0.03}]
    opt = lib.optim.Adam(groups, lr=0.1) if opt_kw.get('adam') else lib.optim.SGD(groups, lr=0.1, **opt_kw)
    sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)     # dl's module too
    rows = []
    for _ in range(steps if name != 'OneCycleLR' else sched.total_steps - 1):
        rows.append(list(sched.get_last_lr()) + [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups])
        opt.step(); sched.step()
    rows.append(list(sched.get_last_lr()))
    return rows, sched


@pytest.mark.parametrize("name,kw,opt_kw", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SCHEDULERS)])
def test_scheduler_matches_torch(name, kw, opt_kw):
    ours, s_d = _sched_run(dl, name, kw, opt_kw)
    theirs, s_t = _sched_run(torch, name, kw, opt_kw)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs): np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert s_d.last_epoch == s_t.last_epoch and np.allclose(s_d.base_lrs, s_t.base_lrs)


def test_sequential_warmup_cosine_matches_torch():
    def run(lib):
        p = dl.tensor(np.zeros(2), requires_grad=True) if lib is dl else torch.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.2, momentum=0.9)
        mod = lib.optim if lib is dl else torch.optim.lr_scheduler
        s = mod.SequentialLR(opt, [mod.LinearLR(opt, start_factor=0.05, total_iters=5), mod.CosineAnnealingLR(opt, T_max=15)],
                             milestones=[5])
        out = []
        for _ in range(30):
            out.append(s.get_last_lr()[0]); opt.step(); s.step()
        return out
    np.testing.assert_allclose(run(dl), run(torch), rtol=1e-12)


def test_closed_form_epoch_argument_matches_torch():
    "step(epoch) jumps with the closed form (deprecated in torch, still supported)."
    def run(lib, name, **kw):
        p = dl.tensor(np.zeros(2), requires_grad=True) if lib is dl else torch.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        s = getattr(lib.optim if lib is dl else torch.optim.lr_scheduler, name)(opt, **kw)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for e in [3, 9, 4, 20]:
                opt.step(); s.step(e); out.append(s.get_last_lr()[0])
        return out
    for name, kw in [('StepLR', dict(step_size=4)), ('ExponentialLR', dict(gamma=0.8)),
                     ('CosineAnnealingLR', dict(T_max=12)),
                     ('LinearLR', dict(total_iters=10)),
                     ('MultiStepLR', dict(milestones=[2, 5, 5, 11])),
                     ('LambdaLR', dict(lr_lambda=lambda e: 0.9 ** e))]:
        np.testing.assert_allclose(run(dl, name, **kw), run(torch, name, **kw), rtol=1e-12)


# ------------------------------------------------------------------------------------------- clip_grad_norm_

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.5, 0])
@pytest.mark.parametrize("max_norm", [0.1, 5.0, 1e6, float('inf')])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(11)
    grads = [rng.standard_normal(s) * 3 for s in [(4, 5), (5,), (3, 3)]]
    ours = [dl.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for a, b, g in zip(ours, theirs, grads): a.grad, b.grad = dl.tensor(g.copy()), torch.tensor(g.copy())
    ours[1].grad = theirs[1].grad = None
    n_d = dl.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    n_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert np.isclose(n_d.item(), n_t.item(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        if b.grad is None: assert a.grad is None
        else: np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_nonfinite_matches_torch():
    for bad in [np.inf, np.nan]:
        g = np.array([1.0, bad, 2.0])
        a, b = dl.tensor(np.zeros(3), requires_grad=True), torch.zeros(3, dtype=torch.float64, requires_grad=True)
        a.grad, b.grad = dl.tensor(g.copy()), torch.tensor(g.copy())
        n_d, n_t = dl.clip_grad_norm_([a], 1.0), torch.nn.utils.clip_grad_norm_([b], 1.0)
        assert np.array_equal(np.isnan(a.grad.numpy()), np.isnan(b.grad.numpy()))
        assert (np.isnan(n_d.item()) and np.isnan(n_t.item())) or n_d.item() == n_t.item()
        with pytest.raises(RuntimeError, match="non-?finite|nan|inf"):
            torch.nn.utils.clip_grad_norm_([b], 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match="error_if_nonfinite"):
            dl.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


# -------------------------------------------------------- ReduceLROnPlateau, LambdaLR

PLATEAU = [dict(), dict(patience=2, factor=0.5),
           dict(mode='max', patience=1, threshold=0.05),
           dict(patience=0, threshold_mode='abs', threshold=0.02, cooldown=2),
           dict(patience=1, factor=0.3, min_lr=[0.02, 0.001], eps=1e-3),
           dict(mode='max', patience=3, threshold_mode='abs', threshold=0.0, cooldown=1,
                min_lr=0.005)]


@pytest.mark.parametrize("kw", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_lr_on_plateau_matches_torch(kw):
    "A noisy metric with plateaus: the same rates and counters after every step."
    rng = np.random.default_rng(3)
    levels = [1.0, 0.8, 0.8, 0.7, 0.69, 0.69, 0.5]
    metric = np.repeat(levels, 6) + rng.normal(0, 0.01, 42)
    def run(lib):
        ps = [lib.tensor(np.zeros(2), requires_grad=True),
              lib.tensor(np.zeros(3), requires_grad=True)]
        groups = [{'params': [ps[0]]}, {'params': [ps[1]], 'lr': 0.03}]
        opt = lib.optim.SGD(groups, lr=0.1)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        rows = []
        for m in metric:
            opt.step()
            s.step(m if lib is torch else dl.tensor(m))     # a 0-d tensor: a metric
            rows.append([*s.get_last_lr(), s.num_bad_epochs, s.cooldown_counter, s.best,
                         s.last_epoch])
        return rows, s
    (ours, s_d), (theirs, s_t) = run(dl), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len({r[0] for r in ours}) > 1                    # the rate did change
    saved = s_d.state_dict()
    assert set(saved) == set(s_t.state_dict()) and 'optimizer' not in saved


def test_reduce_lr_on_plateau_bad_input_as_torch():
    opt = dl.SGD([dl.tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    Plateau, TorchPlateau = dl.optim.lr_scheduler.ReduceLROnPlateau, \
        torch.optim.lr_scheduler.ReduceLROnPlateau
    for kw in [dict(factor=1.0), dict(mode='up'), dict(threshold_mode='relative'),
               dict(min_lr=[0.1, 0.2])]:
        with pytest.raises(ValueError): TorchPlateau(topt, **kw)
        with pytest.raises(ValueError, match="ReduceLROnPlateau: "): Plateau(opt, **kw)
    with pytest.raises(TypeError, match="Optimizer"): Plateau(object())


def test_lambda_lr_state_dict_keeps_callable_objects_as_torch():
    class Decay:
        def __init__(self, rate): self.rate = rate
        def __call__(self, e): return self.rate ** e
    def run(lib):
        p = lib.tensor(np.zeros(2), requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        s = lib.optim.lr_scheduler.LambdaLR(opt, Decay(0.9))
        for _ in range(3): opt.step(); s.step()
        return opt, s
    (opt, s), (topt, ts) = run(dl), run(torch)
    saved, tsaved = s.state_dict(), ts.state_dict()
    assert saved['lr_lambdas'] == tsaved['lr_lambdas'] == [{'rate': 0.9}]
    assert saved['last_epoch'] == tsaved['last_epoch'] == 3
    s2 = dl.optim.lr_scheduler.LambdaLR(opt, Decay(0.5), last_epoch=2)
    s2.load_state_dict(saved)                       # restores the object's attributes
    assert s2.lr_lambdas[0].rate == 0.9 and s2.last_epoch == 3
    LambdaLR = dl.optim.lr_scheduler.LambdaLR
    with pytest.raises(ValueError, match="1 lr_lambdas"): LambdaLR(opt, [abs, abs])
    with pytest.raises(TypeError, match="callable"): LambdaLR(opt, 0.5)


# -------------------------------------------------------- state dicts, both directions

def _as_torch(sd):
    "Our state dict with tensors for arrays: torch's optimizers compute with tensors."
    def entry(v): return torch.from_numpy(v.numpy().copy()) if isinstance(v, dl.Tensor) else v
    state = {i: {k: entry(v) for k, v in s.items()} for i, s in sd['state'].items()}
    return {'state': state, 'param_groups': [dict(g) for g in sd['param_groups']]}


def _same_state_dicts(ours, theirs):
    "Parameter indices, hyperparameters (torch's switches included), state entries agree."
    assert len(ours['param_groups']) == len(theirs['param_groups'])
    for g, h in zip(ours['param_groups'], theirs['param_groups']):
        assert g == h
    assert set(ours['state']) == set(theirs['state'])
    for i, s in ours['state'].items():
        t = {k: v for k, v in theirs['state'][i].items() if v is not None}
        assert set(s) == set(t), (s.keys(), t.keys())
        for k, v in s.items():
            assert isinstance(v, dl.Tensor) and str(v.dtype)[-7:] == str(t[k].dtype)[-7:], k
            np.testing.assert_allclose(v.numpy(), t[k].numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=_ids(OPTIMIZERS))
def test_state_dict_moves_between_torch_and_deeplearning101(name, kw):
    "torch's state dict loads here, training goes on in step; ours loads in torch too."
    params, grads = _problem(4)
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt_t = getattr(torch.optim, name)(theirs, **kw)
    for step in grads[:7]:                                  # torch trains alone
        for b, g in zip(theirs, step):
            b.grad = None if g is None else torch.tensor(g.copy())
        opt_t.step()
    ours = [dl.tensor(b.detach().numpy(), requires_grad=True) for b in theirs]
    opt_d = getattr(dl.optim, name)(ours)       # defaults: the state dict sets the rest
    opt_d.load_state_dict(opt_t.state_dict())
    _same_state_dicts(opt_d.state_dict(), opt_t.state_dict())
    _step_both(ours, theirs, opt_d, opt_t, grads[7:14])
    theirs2 = [torch.tensor(a.detach().numpy(), requires_grad=True) for a in ours]
    opt_t2 = getattr(torch.optim, name)(theirs2)
    opt_t2.load_state_dict(_as_torch(opt_d.state_dict()))  # and back
    _same_state_dicts(opt_d.state_dict(), opt_t2.state_dict())
    _step_both(ours, theirs2, opt_d, opt_t2, grads[14:])


def test_state_dict_with_torch_switches_that_change_the_update_is_refused():
    p = torch.zeros(2, requires_grad=True)
    q = dl.tensor(np.zeros(2, np.float32), requires_grad=True)
    sd = torch.optim.Adam([p], differentiable=True).state_dict()
    with pytest.raises(ValueError, match="differentiable=True, which Adam does not implement"):
        dl.Adam([q]).load_state_dict(sd)
    opt = dl.Adam([q])                      # maximize is implemented: loaded and kept
    opt.load_state_dict(torch.optim.Adam([p], maximize=True).state_dict())
    assert opt.param_groups[0]['maximize'] is True
    sd = torch.optim.Adam([p], foreach=False, capturable=True).state_dict()  # same math
    dl.Adam([q]).load_state_dict(sd)
