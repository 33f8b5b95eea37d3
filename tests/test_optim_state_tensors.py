"""Parity with PyTorch for the optimizers' state (chapter 04): `optimizer.state[p]` holds tensors
(`step` a 0-d tensor of the default float dtype where torch keeps one, the buffers with their
parameter's dtype), `state_dict()` refers to the live tensors (an earlier state dict sees later
steps), the printed state, `load_state_dict`'s casts (floating state to the parameter's dtype,
`step` kept) and older state dicts of this package (ints and arrays), and a checkpoint through
`dl.save`/`dl.load`. Skipped when torch is not installed."""
import copy
import os

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

OPTIMIZERS = [
    ('SGD', dict(lr=0.1, momentum=0.9)),
    ('SGD', dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ('Adam', dict(lr=0.01)),
    ('Adam', dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ('AdamW', dict(lr=0.01)),
    ('Adagrad', dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2)),
    ('RMSprop', dict(lr=0.01)),
    ('RMSprop', dict(lr=0.01, centered=True, momentum=0.5)),
    ('Adadelta', dict()),
    ('Adamax', dict(lr=0.01)),
    ('NAdam', dict(lr=0.01)),
    ('RAdam', dict(lr=0.01)),
    ('Rprop', dict(lr=0.01)),
    ('ASGD', dict(lr=0.01, t0=1)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in OPTIMIZERS]
SHAPES = [(2, 3), (3,)]


def _name(dtype): return str(dtype).split('.')[-1]


def _pair(name, kw, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    w = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [dl.tensor(a.copy(), requires_grad=True) for a in w]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in w]
    return ours, theirs, getattr(dl.optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)


def _grads(ours, n, seed):
    "n steps' gradients for the parameters `ours`, in their dtypes."
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(a.shape).astype(a.detach().numpy().dtype) for a in ours] for _ in range(n)]


def _steps(ours, theirs, opt_d, opt_t, n, seed=1):
    "n steps of both optimizers with the same gradients (theirs=None: ours only)."
    for gs in _grads(ours, n, seed):
        for i, g in enumerate(gs):
            ours[i].grad = dl.tensor(g.copy())
            if theirs is not None: theirs[i].grad = torch.tensor(g.copy())
        opt_d.step()
        if theirs is not None: opt_t.step()


def _same_state(sd, st, tol):
    "Keys, types (tensor or not), dtypes, shapes and values of two per-parameter states."
    assert list(sd) == list(st), (list(sd), list(st))
    for k, v in sd.items():
        u = st[k]
        assert isinstance(v, dl.Tensor) == isinstance(u, torch.Tensor), (k, type(v), type(u))
        assert _name(v.dtype) == _name(u.dtype), (k, v.dtype, u.dtype)
        assert tuple(v.shape) == tuple(u.shape), k
        assert v.device == 'cpu' and not v.requires_grad
        np.testing.assert_allclose(v.numpy(), u.numpy(), rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_state_after_three_steps_matches_torch(name, kw, dtype):
    ours, theirs, opt_d, opt_t = _pair(name, kw, dtype)
    _steps(ours, theirs, opt_d, opt_t, 3)
    for a, b in zip(ours, theirs):
        _same_state(opt_d.state[a], opt_t.state[b], 1e-5 if dtype == np.float32 else 1e-10)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    if name != 'SGD':
        step = opt_d.state[ours[0]]['step']
        assert step.dtype == dl.float32 and step.shape == () and repr(step) == 'tensor(3.)'


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_scalar_state_follows_the_default_dtype(name, kw):
    "With float64 as the default dtype, `step` (NAdam's mu_product, ASGD's eta and mu) are float64."
    old_d, old_t = dl.get_default_dtype(), torch.get_default_dtype()
    dl.set_default_dtype(dl.float64); torch.set_default_dtype(torch.float64)
    try:
        ours, theirs, opt_d, opt_t = _pair(name, kw, np.float64)
        _steps(ours, theirs, opt_d, opt_t, 5)
        for a, b in zip(ours, theirs):
            _same_state(opt_d.state[a], opt_t.state[b], 1e-12)
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    finally:
        dl.set_default_dtype(old_d); torch.set_default_dtype(old_t)


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_an_earlier_state_dict_sees_later_steps(name, kw):
    ours, theirs, opt_d, opt_t = _pair(name, kw)
    _steps(ours, theirs, opt_d, opt_t, 2)
    sd, st = opt_d.state_dict(), opt_t.state_dict()
    assert (sd['state'][0] is opt_d.state[ours[0]]) == (st['state'][0] is opt_t.state[theirs[0]])
    for k in sd['state'][0]:
        assert (sd['state'][0][k] is opt_d.state[ours[0]][k]) == (st['state'][0][k] is opt_t.state[theirs[0]][k])
    _steps(ours, theirs, opt_d, opt_t, 3, seed=2)
    for i in (0, 1):
        _same_state(sd['state'][i], st['state'][i], 1e-5)
    if name != 'SGD':
        assert repr(sd['state'][0]['step']) == repr(st['state'][0]['step']) == 'tensor(5.)'
    snapshot = copy.deepcopy(opt_d.state_dict())          # a copy does not follow
    _steps(ours, theirs, opt_d, opt_t, 1, seed=3)
    if name != 'SGD':
        assert repr(snapshot['state'][0]['step']) == 'tensor(5.)'
        assert repr(opt_d.state_dict()['state'][0]['step']) == 'tensor(6.)'


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_printed_state_dict_is_torchs(name, kw):
    "print(optimizer.state_dict()) (state and groups, in torch's key order) and print(state[p]) give torch's text."
    a, b = dl.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    opt_d, opt_t = getattr(dl.optim, name)([a], **kw), getattr(torch.optim, name)([b], **kw)
    for _ in range(5):
        a.grad, b.grad = dl.ones(2, 3), torch.ones(2, 3)
        opt_d.step(); opt_t.step()
    ours = str(opt_d.state_dict()).replace('dl.', 'torch.')
    assert ours == str(opt_t.state_dict()), (ours, str(opt_t.state_dict()))
    assert str(opt_d.state[a]) == str(opt_t.state[b])


def test_momentum_buffer_is_a_tensor():
    "p17: `state_dict()['state'][0]['momentum_buffer'].numpy()` works, with torch's values."
    a, b = dl.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    opt_d, opt_t = dl.optim.SGD([a], lr=0.1, momentum=0.9), torch.optim.SGD([b], lr=0.1, momentum=0.9)
    for g in ([1., 2., 3.], [0.5, -1., 2.]):
        a.grad, b.grad = dl.tensor(g), torch.tensor(g)
        opt_d.step(); opt_t.step()
    buf = opt_d.state_dict()['state'][0]['momentum_buffer']
    np.testing.assert_allclose(buf.numpy(), opt_t.state_dict()['state'][0]['momentum_buffer'].numpy(), rtol=1e-6)
    assert buf is opt_d.state[a]['momentum_buffer'] and buf.dtype == dl.float32


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_load_state_dict_casts_as_torch(name, kw):
    "A float32 state dict loaded for float64 parameters: floating state cast (a copy), `step` kept (the same)."
    ours, theirs, opt_d, opt_t = _pair(name, kw)
    _steps(ours, theirs, opt_d, opt_t, 3)
    sd, st = opt_d.state_dict(), opt_t.state_dict()
    o64 = [dl.tensor(a.detach().numpy().astype(np.float64), requires_grad=True) for a in ours]
    t64 = [torch.tensor(a.detach().numpy().astype(np.float64), requires_grad=True) for a in ours]
    opt_d2, opt_t2 = getattr(dl.optim, name)(o64, **kw), getattr(torch.optim, name)(t64, **kw)
    opt_d2.load_state_dict(sd); opt_t2.load_state_dict(st)
    for i, (a, b) in enumerate(zip(o64, t64)):
        _same_state(opt_d2.state[a], opt_t2.state[b], 1e-6)
        for k, v in opt_d2.state[a].items():
            assert (v is sd['state'][i][k]) == (opt_t2.state[b][k] is st['state'][i][k]), k
    # the same dtype: torch's `.to()` keeps the very tensors, so does ours
    opt_d3, opt_t3 = getattr(dl.optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    opt_d3.load_state_dict(sd); opt_t3.load_state_dict(st)
    for k, v in opt_d3.state[ours[0]].items():
        assert (v is sd['state'][0][k]) == (opt_t3.state[theirs[0]][k] is st['state'][0][k]), k
    _steps(o64, t64, opt_d2, opt_t2, 3, seed=4)        # float64 from here on (the states
    for a, b in zip(o64, t64):                          # loaded differ by float32 rounding)
        _same_state(opt_d2.state[a], opt_t2.state[b], 1e-5)
        assert all(v.dtype == dl.float64 for k, v in opt_d2.state[a].items() if k != 'step')


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_older_state_dicts_of_this_package_load(name, kw):
    "An int step, float scalars and arrays (as this package saved them before) load as torch would make them."
    ours, theirs, opt_d, opt_t = _pair(name, kw)
    _steps(ours, theirs, opt_d, opt_t, 3)
    sd = opt_d.state_dict()
    old = {'param_groups': sd['param_groups'],
           'state': {i: {k: (int(v.item()) if k == 'step' else v.item()) if v.ndim == 0 else v.numpy().copy()
                         for k, v in s.items()} for i, s in sd['state'].items()}}
    a2 = [dl.tensor(a.detach().numpy().copy(), requires_grad=True) for a in ours]
    opt_d2 = getattr(dl.optim, name)(a2, **kw)
    opt_d2.load_state_dict(old)
    # torch, given the same numbers and arrays (as tensors), makes the same state
    b2 = [torch.tensor(a.detach().numpy().copy(), requires_grad=True) for a in ours]
    opt_t2 = getattr(torch.optim, name)(b2, **kw)
    opt_t2.load_state_dict({'param_groups': old['param_groups'],
                            'state': {i: {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                                          for k, v in s.items()} for i, s in old['state'].items()}})
    for a, b in zip(a2, b2):
        _same_state(opt_d2.state[a], opt_t2.state[b], 1e-6)
    _steps(a2, b2, opt_d2, opt_t2, 2, seed=5)
    _steps(ours, theirs, opt_d, opt_t, 2, seed=5)
    for a, b in zip(a2, ours):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_torch_state_dict_loads_as_tensors(name, kw):
    ours, theirs, opt_d, opt_t = _pair(name, kw)
    _steps(ours, theirs, opt_d, opt_t, 3)
    a2 = [dl.tensor(b.detach().numpy().copy(), requires_grad=True) for b in theirs]
    opt_d2 = getattr(dl.optim, name)(a2, **kw)
    opt_d2.load_state_dict(opt_t.state_dict())
    for a, b in zip(a2, theirs):
        _same_state(opt_d2.state[a], opt_t.state[b], 0)
    _steps(a2, theirs, opt_d2, opt_t, 3, seed=6)
    for a, b in zip(a2, theirs):
        _same_state(opt_d2.state[a], opt_t.state[b], 1e-5)


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=IDS)
def test_checkpoint_through_save_and_load(name, kw, tmp_path):
    "dl.save / dl.load of a training checkpoint: the state comes back as tensors, and training resumes exactly."
    ours, theirs, opt_d, opt_t = _pair(name, kw)
    _steps(ours, theirs, opt_d, opt_t, 3)
    path = os.fspath(tmp_path / 'ckpt.pt')
    dl.save({'optimizer': opt_d.state_dict(), 'params': [a.detach() for a in ours]}, path)
    ckpt = dl.load(path)
    for i, s in ckpt['optimizer']['state'].items():
        _same_state(s, opt_t.state_dict()['state'][i], 1e-6)
    a2 = [dl.tensor(p.numpy().copy(), requires_grad=True) for p in ckpt['params']]
    opt_d2 = getattr(dl.optim, name)(a2, lr=0.5)
    opt_d2.load_state_dict(ckpt['optimizer'])
    for k, v in opt_d2.state[a2[0]].items():
        assert v is ckpt['optimizer']['state'][0][k]       # loaded tensors of the right dtype: kept
    _steps(a2, theirs, opt_d2, opt_t, 3, seed=7)
    _steps(ours, None, opt_d, None, 3, seed=7)                 # the run that never stopped
    for a, b in zip(a2, ours):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_errors_name_the_entry_and_the_shapes():
    a = dl.ones(2, 3, requires_grad=True)
    opt = dl.optim.Adam([a])
    a.grad = dl.ones(2, 3); opt.step()
    sd = opt.state_dict()
    bad = {'param_groups': sd['param_groups'],
           'state': {0: {**sd['state'][0], 'exp_avg': dl.zeros(3, 2)}}}
    with pytest.raises(ValueError, match=r"exp_avg.*shape \[3, 2\].*shape \[2, 3\]"):
        dl.optim.Adam([dl.ones(2, 3, requires_grad=True)]).load_state_dict(bad)


def test_adagrad_makes_its_state_at_construction():
    "As torch's: `step` 0 and the sums at initial_accumulator_value for every parameter, before any step."
    a, b = dl.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    opt_d = dl.optim.Adagrad([a], initial_accumulator_value=0.5)
    opt_t = torch.optim.Adagrad([b], initial_accumulator_value=0.5)
    _same_state(opt_d.state[a], opt_t.state[b], 0)
    assert str(opt_d.state_dict()['state']) == str(opt_t.state_dict()['state'])
    c, d = dl.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)   # a group added later
    opt_d.add_param_group({'params': [c]}); opt_t.add_param_group({'params': [d]})
    a.grad, b.grad, c.grad, d.grad = dl.ones(2, 3), torch.ones(2, 3), dl.ones(3), torch.ones(3)
    opt_d.step(); opt_t.step()
    _same_state(opt_d.state[c], opt_t.state[d], 1e-6)
