"""Parity with PyTorch for chapter 04's optimizer surface: `defaults` and every group's keys (torch's switches
included), `repr(optimizer)`, `maximize=True` (parameters after steps, against torch), and the schedulers added to
`lr_scheduler` (CosineAnnealingWarmRestarts with fractional epochs, ConstantLR, PolynomialLR, MultiplicativeLR,
ChainedScheduler, CyclicLR): their learning rates over 40 steps and state dict round trips. Skipped when torch is
not installed."""
import math

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

OPTIMIZERS = ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'Adadelta', 'Adamax', 'NAdam', 'RAdam']
STEPS = 40


def _pair(name, groups=False, **kw):
    "The same optimizer in both libraries, on one or two groups of float64 parameters."
    ours = [dl.zeros(3, dtype=dl.float64, requires_grad=True), dl.zeros(2, dtype=dl.float64, requires_grad=True)]
    theirs = [torch.zeros(3, dtype=torch.float64, requires_grad=True),
              torch.zeros(2, dtype=torch.float64, requires_grad=True)]
    if groups:
        ours = [{'params': ours[:1]}, {'params': ours[1:], 'lr': 0.5}]
        theirs = [{'params': theirs[:1]}, {'params': theirs[1:], 'lr': 0.5}]
    return getattr(dl.optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)


# ------------------------------------------------------------------------- defaults, groups, repr

@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_are_torchs(name):
    "Exactly torch's keys and default values, in `defaults` and in every param group."
    ours, theirs = _pair(name, groups=True)
    assert sorted(ours.defaults.items()) == sorted(theirs.defaults.items())
    for g, h in zip(ours.param_groups, theirs.param_groups):
        assert sorted(g) == sorted(h)
        assert {k: v for k, v in g.items() if k != 'params'} == {k: v for k, v in h.items() if k != 'params'}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_switches_are_kept_as_given(name):
    "torch's switches given as arguments land in the defaults and the groups as torch keeps them."
    import inspect
    sig = inspect.signature(getattr(torch.optim, name)).parameters
    kw = {k: v for k, v in dict(foreach=False, fused=False, capturable=True, maximize=True).items() if k in sig}
    ours, theirs = _pair(name, **kw)
    assert sorted(ours.defaults.items()) == sorted(theirs.defaults.items())
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_repr_is_torchs(name):
    "print(optimizer): the same text, for two groups with their own lr."
    ours, theirs = _pair(name, groups=True)
    assert repr(ours) == repr(theirs) == str(ours)
    assert repr(ours).startswith(f"{name} (\nParameter Group 0\n") and "\n\nParameter Group 1\n" in repr(ours)


def test_repr_after_scheduler_and_with_tuples():
    "Keys a scheduler adds (initial_lr) are printed too; betas print as a tuple; a new group appears."
    ours, theirs = _pair('Adam', lr=0.01, betas=(0.8, 0.99))
    dl.optim.lr_scheduler.StepLR(ours, 3)
    torch.optim.lr_scheduler.StepLR(theirs, 3)
    ours.add_param_group({'params': [dl.zeros(1, requires_grad=True)], 'weight_decay': 0.1})
    theirs.add_param_group({'params': [torch.zeros(1, requires_grad=True)], 'weight_decay': 0.1})
    assert repr(ours) == repr(theirs)
    assert "    betas: (0.8, 0.99)\n" in repr(ours) and "    initial_lr: 0.01\n" in repr(ours)


def test_state_dict_groups_match_torchs():
    "Our state dict's groups hold torch's keys; loading torch's keeps them; an old one without switches loads."
    ours, theirs = _pair('Adam', maximize=True)
    assert ours.state_dict()['param_groups'] == theirs.state_dict()['param_groups']
    fresh, _ = _pair('Adam')
    fresh.load_state_dict(theirs.state_dict())
    assert fresh.param_groups[0]['maximize'] is True
    old = ours.state_dict()
    for g in old['param_groups']:
        for k in ('maximize', 'foreach', 'fused', 'capturable', 'differentiable'): del g[k]
    fresh.load_state_dict(old)                  # an older state dict: the defaults fill in
    assert fresh.param_groups[0]['maximize'] is False and fresh.param_groups[0]['fused'] is None
    with pytest.raises(ValueError, match="differentiable=True"):
        fresh.load_state_dict(torch.optim.Adam([torch.zeros(3, requires_grad=True),
                                                torch.zeros(2, requires_grad=True)],
                                               differentiable=True).state_dict())


def test_differentiable_refused_and_maximize_checked():
    w = dl.zeros(2, requires_grad=True)
    for name in OPTIMIZERS:
        with pytest.raises(ValueError, match=f"{name}: differentiable=True"):
            getattr(dl.optim, name)([w], differentiable=True)
        with pytest.raises(ValueError, match="maximize must be True or False"):
            getattr(dl.optim, name)([w], maximize='yes')
    opt = dl.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD \(param group 1\): maximize"):
        opt.add_param_group({'params': [dl.zeros(1, requires_grad=True)], 'maximize': 1})


# ------------------------------------------------------------------------------------- maximize

MAXIMIZE = [
    ('SGD', dict(lr=0.1)),
    ('SGD', dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ('SGD', dict(lr=0.1, momentum=0.9, nesterov=True)),
    ('SGD', dict(lr=0.1, momentum=0.5, dampening=0.3)),
    ('Adam', dict(lr=0.01)),
    ('Adam', dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ('Adam', dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ('AdamW', dict(lr=0.01)),
    ('AdamW', dict(lr=0.01, amsgrad=True)),
    ('RMSprop', dict(lr=0.01)),
    ('RMSprop', dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ('Adagrad', dict(lr=0.1)),
    ('Adagrad', dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ('Adadelta', dict(lr=1.0, weight_decay=0.1)),
    ('Adamax', dict(lr=0.01, weight_decay=0.1)),
    ('NAdam', dict(lr=0.01, weight_decay=0.1)),
    ('RAdam', dict(lr=0.01, betas=(0.5, 0.9))),
]


@pytest.fixture
def float64_scalars():
    "torch keeps NAdam's mu_product (and step counts) in the default dtype: float64 for a 1e-10 comparison."
    old, old_dl = torch.get_default_dtype(), dl.get_default_dtype()
    torch.set_default_dtype(torch.float64); dl.set_default_dtype(dl.float64)
    yield
    torch.set_default_dtype(old); dl.set_default_dtype(old_dl)


@pytest.mark.parametrize("name,kw", MAXIMIZE, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                                                   for n, kw in MAXIMIZE])
def test_maximize_follows_torch(name, kw, float64_scalars):
    "Parameters after 20 steps with maximize=True equal torch's, and they went up the loss, not down."
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3))
    ours = dl.tensor(w0.copy(), requires_grad=True)
    theirs = torch.tensor(w0.copy(), requires_grad=True)
    opt_d = getattr(dl.optim, name)([ours], maximize=True, **kw)
    opt_t = getattr(torch.optim, name)([theirs], maximize=True, **kw)
    for _ in range(20):
        g = rng.standard_normal((4, 3))
        ours.grad, theirs.grad = dl.tensor(g.copy()), torch.tensor(g.copy())
        opt_d.step(); opt_t.step()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    # a linear loss c . w is increased by maximize, decreased without
    c = np.arange(1.0, 4.0)
    for maximize in (True, False):
        w = dl.tensor(np.zeros(3), requires_grad=True)
        opt = getattr(dl.optim, name)([w], maximize=maximize, **kw)
        for _ in range(5):
            opt.zero_grad(); (w * dl.tensor(c)).sum().backward(); opt.step()
        assert (float((w * dl.tensor(c)).sum().item()) > 0) == maximize, (name, maximize)


def test_maximize_off_leaves_steps_unchanged():
    "maximize=False (the default) takes exactly the steps it took before the switch existed: no extra rounding."
    rng = np.random.default_rng(1)
    for name in ('SGD', 'Adam', 'RMSprop', 'Adagrad'):
        a = dl.tensor(rng.standard_normal(5), requires_grad=True)
        b = dl.tensor(a.detach().numpy().copy(), requires_grad=True)
        oa = getattr(dl.optim, name)([a], lr=0.01)
        ob = getattr(dl.optim, name)([b], lr=0.01, maximize=True)
        for _ in range(5):
            g = rng.standard_normal(5)
            a.grad, b.grad = dl.tensor(g), dl.tensor(-g)
            oa.step(); ob.step()
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ------------------------------------------------------------------------------------ schedulers

def _sched_pair(make, opt_name='SGD', groups=False, **opt_kw):
    ours, theirs = _pair(opt_name, groups=groups, **opt_kw)
    return make(dl.optim.lr_scheduler, ours), make(torch.optim.lr_scheduler, theirs)


def _lrs(sched, steps, opt_step=True):
    seq = []
    for _ in range(steps):
        seq.append(list(sched.get_last_lr()))
        if opt_step: sched.optimizer.step()
        sched.step()
    seq.append(list(sched.get_last_lr()))
    return np.array(seq)


def _momenta(opt):
    return [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]


SCHEDULERS = {
    'CAWR(T_0=5)': lambda m, o: m.CosineAnnealingWarmRestarts(o, 5),
    'CAWR(T_0=3, T_mult=2, eta_min=0.01)': lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.01),
    'CAWR(T_0=1, T_mult=3)': lambda m, o: m.CosineAnnealingWarmRestarts(o, 1, 3),
    'ConstantLR()': lambda m, o: m.ConstantLR(o),
    'ConstantLR(0.25, 7)': lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=7),
    'PolynomialLR()': lambda m, o: m.PolynomialLR(o),
    'PolynomialLR(30, 2.0)': lambda m, o: m.PolynomialLR(o, total_iters=30, power=2.0),
    'PolynomialLR(12, 0.5)': lambda m, o: m.PolynomialLR(o, total_iters=12, power=0.5),
    'MultiplicativeLR(0.95)': lambda m, o: m.MultiplicativeLR(o, lambda t: 0.95),
    'MultiplicativeLR(per group)': lambda m, o: m.MultiplicativeLR(
        o, [lambda t: 0.9, lambda t: 1.0 if t % 3 else 0.5]),
    'Chained(Constant, Exponential)': lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, 0.1, 4), m.ExponentialLR(o, 0.9)]),
    'Chained(Linear, CAWR)': lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, 0.2, total_iters=6), m.CosineAnnealingWarmRestarts(o, 4)], optimizer=o),
    'Sequential(Linear, CAWR)': lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.2, total_iters=5), m.CosineAnnealingWarmRestarts(o, 4, 2)], milestones=[5]),
    'Sequential(Constant, Polynomial)': lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, 0.5, 3), m.PolynomialLR(o, 20, 1.5)], milestones=[8]),
    'CyclicLR(triangular)': lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4),
    'CyclicLR(triangular2, down=6)': lambda m, o: m.CyclicLR(
        o, [0.01, 0.02], [0.1, 0.3], step_size_up=3, step_size_down=6, mode='triangular2'),
    'CyclicLR(exp_range)': lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, mode='exp_range', gamma=0.97),
    'CyclicLR(scale_fn iterations)': lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode='iterations'),
    'CyclicLR(no momentum cycle)': lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2, cycle_momentum=False),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("opt_name", ['SGD', 'Adam'])
def test_scheduler_lr_sequence_follows_torch(name, opt_name):
    "The rate of both groups (and the cycled momentum) at every one of 40 steps."
    make = SCHEDULERS[name]
    ours, theirs = _sched_pair(make, opt_name, groups=True, **({'momentum': 0.9} if opt_name == 'SGD' else {}))
    for _ in range(STEPS):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([g['lr'] for g in ours.optimizer.param_groups],
                                   [g['lr'] for g in theirs.optimizer.param_groups], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(_momenta(ours.optimizer), _momenta(theirs.optimizer), rtol=1e-12, atol=1e-15)
        ours.optimizer.step(); theirs.optimizer.step()
        ours.step(); theirs.step()
    assert isinstance(ours.get_last_lr(), list)


FRACTIONAL = [0, 0.5, 1.25, 2.999, 3, 3.5, 7.2, 9, 9.01, 20.5, 21, 44.9, 100.3, 2, 0.1]


@pytest.mark.parametrize("T_0,T_mult,eta_min", [(5, 1, 0.0), (3, 2, 0.01), (2, 3, 0.0), (1, 1, 0.05)])
def test_warm_restarts_fractional_epochs(T_0, T_mult, eta_min):
    "step(epoch) with fractional, jumping and backward epochs, then plain steps again (PyTorch's interleaving)."
    ours, theirs = _sched_pair(lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min), groups=True)
    iters = 7
    for epoch in range(3):                          # the documented per-batch pattern
        for i in range(iters):
            ours.optimizer.step(); theirs.optimizer.step()
            ours.step(epoch + i / iters); theirs.step(epoch + i / iters)
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
    for e in FRACTIONAL:
        ours.step(e); theirs.step(e)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        assert ours.last_epoch == theirs.last_epoch == math.floor(e)
        assert math.isclose(ours.T_cur, theirs.T_cur, rel_tol=1e-12, abs_tol=1e-12) and ours.T_i == theirs.T_i
        for _ in range(3):                          # then plain steps go on from there
            ours.step(); theirs.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="epoch must be >= 0"): ours.step(-0.5)


def test_warm_restarts_attributes_and_state_dict_match_torch():
    ours, theirs = _sched_pair(lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2, eta_min=0.01))
    for _ in range(7):
        ours.optimizer.step(); theirs.optimizer.step(); ours.step(); theirs.step()
    ours.step(10.3); theirs.step(10.3)
    sd, st = ours.state_dict(), theirs.state_dict()
    for k in ('T_0', 'T_i', 'T_mult', 'eta_min', 'base_lrs', 'last_epoch', '_step_count', '_last_lr'):
        assert sd[k] == pytest.approx(st[k], rel=1e-12), k
    assert sd['T_cur'] == pytest.approx(st['T_cur'], rel=1e-12)
    # a fresh scheduler loads it (ours, and torch's) and goes on in step
    for saved in (sd, st):
        again, _ = _sched_pair(lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2, eta_min=0.01))
        again.load_state_dict(saved)
        ref = _sched_pair(lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2, eta_min=0.01))[1]
        ref.load_state_dict(st)
        for _ in range(15):
            again.step(); ref.step()
            np.testing.assert_allclose(again.get_last_lr(), ref.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if not n.startswith('Sequential')])
def test_scheduler_state_dict_round_trip(name):
    "Stop after 13 steps, load the state dict into a fresh scheduler (fresh optimizer loaded too), go on equal."
    make = SCHEDULERS[name]
    ours, theirs = _sched_pair(make, 'SGD', groups=True, momentum=0.9)
    for _ in range(13):
        ours.optimizer.step(); theirs.optimizer.step(); ours.step(); theirs.step()
    opt2 = dl.optim.SGD([{'params': [dl.zeros(3, dtype=dl.float64, requires_grad=True)]},
                         {'params': [dl.zeros(2, dtype=dl.float64, requires_grad=True)], 'lr': 0.5}],
                        lr=0.001, momentum=0.9)
    again = make(dl.optim.lr_scheduler, opt2)           # PyTorch's order of a resume
    opt2.load_state_dict(ours.optimizer.state_dict())
    again.load_state_dict(ours.state_dict())
    for _ in range(STEPS - 13):
        opt2.step(); theirs.optimizer.step(); again.step(); theirs.step()
        np.testing.assert_allclose(again.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(_momenta(opt2), _momenta(theirs.optimizer), rtol=1e-12, atol=1e-15)


def test_state_dict_keys_match_torch():
    "The saved attributes have torch's names (callables: a function is not saved, an object's data is)."
    class Scale:
        def __init__(self, k): self.k = k
        def __call__(self, x): return 1 / (1 + self.k * x)
    cases = {
        'ConstantLR': lambda m, o: m.ConstantLR(o, 0.5, 3),
        'PolynomialLR': lambda m, o: m.PolynomialLR(o, 10, 2.0),
        'MultiplicativeLR': lambda m, o: m.MultiplicativeLR(o, lambda t: 0.9),
        'ChainedScheduler': lambda m, o: m.ChainedScheduler([m.ConstantLR(o, 0.5, 3), m.ExponentialLR(o, 0.9)]),
        'CyclicLR': lambda m, o: m.CyclicLR(o, 0.01, 0.1, 3, scale_fn=Scale(0.5)),
    }
    for name, make in cases.items():
        ours, theirs = _sched_pair(make, momentum=0.9)
        ours.optimizer.step(); theirs.optimizer.step(); ours.step(); theirs.step()
        sd, st = ours.state_dict(), theirs.state_dict()
        private = {'_get_lr_called_within_step', '_scale_fn_ref'}
        assert set(sd) - private == set(st) - private, name
        if name == 'CyclicLR': assert sd['_scale_fn_custom'] == st['_scale_fn_custom'] == {'k': 0.5}
        if name == 'MultiplicativeLR': assert sd['lr_lambdas'] == st['lr_lambdas'] == [None]


def test_new_schedulers_bad_input():
    S = dl.optim.lr_scheduler
    opt = dl.optim.SGD([dl.zeros(2, requires_grad=True)], lr=0.1)
    for bad, match in [
        (lambda: S.CosineAnnealingWarmRestarts(opt, 0), "T_0 must be an integer >= 1"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 2.5), "T_0 must be an integer"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 2, T_mult=0), "T_mult must be an integer >= 1"),
        (lambda: S.ConstantLR(opt, factor=1.5), "factor"),
        (lambda: S.PolynomialLR(opt, total_iters=0), "total_iters"),
        (lambda: S.CyclicLR(opt, 0.01, 0.1, mode='sawtooth'), "mode must be"),
        (lambda: S.CyclicLR(opt, [0.01, 0.02], 0.1), "base_lr has 2 values"),
        (lambda: S.CyclicLR(dl.optim.Adagrad([dl.zeros(1, requires_grad=True)]), 0.01, 0.1), "cycle_momentum"),
        (lambda: S.ChainedScheduler([]), "at least one"),
        (lambda: S.ChainedScheduler([S.StepLR(opt, 2), S.ReduceLROnPlateau(opt)]), "metric"),
        (lambda: S.ChainedScheduler([S.StepLR(opt, 2), S.StepLR(dl.optim.SGD([dl.zeros(1, requires_grad=True)]), 2)]),
         "another optimizer"),
    ]:
        with pytest.raises(ValueError, match=match): bad()
    with pytest.raises(TypeError, match="callable"): S.MultiplicativeLR(opt, 0.9)
    with pytest.raises(TypeError, match="Optimizer"): S.CyclicLR(None, 0.01, 0.1)


def test_lr_scheduler_module_has_torchs_schedulers():
    names = {n for n in dir(torch.optim.lr_scheduler)
             if isinstance(getattr(torch.optim.lr_scheduler, n), type)
             and issubclass(getattr(torch.optim.lr_scheduler, n), torch.optim.lr_scheduler.LRScheduler)}
    assert names <= set(dir(dl.optim.lr_scheduler)), names - set(dir(dl.optim.lr_scheduler))
    assert set(dl.optim.lr_scheduler.__all__) <= set(dir(dl.optim))


def test_sequential_of_a_chain_follows_torch():
    "SequentialLR undoes the initial steps of every scheduler inside a ChainedScheduler, as torch does."
    make = lambda m, o: m.SequentialLR(
        o, [m.ChainedScheduler([m.ConstantLR(o, 0.5, 2), m.ExponentialLR(o, 0.9)]), m.StepLR(o, 2)], [5])
    opt_d, opt_t = _pair('SGD')
    # creating it steps the chain's schedulers before any optimizer.step(): both warn
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        ours = make(dl.optim.lr_scheduler, opt_d)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        theirs = make(torch.optim.lr_scheduler, opt_t)
    np.testing.assert_allclose(_lrs(ours, 12), _lrs(theirs, 12), rtol=1e-12, atol=1e-15)
