"""Chapter 04: optimizers, schedules, clipping and state dicts -- properties, bad input, in-place updates.

Torch parity lives in test_optim_torch.py; these tests need only NumPy (and hypothesis)."""
import math
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deeplearning101 as dl
from deeplearning101.optim import (SGD, Adagrad, RMSprop, Adam, AdamW, clip_grad_norm_,
                                   clip_grad_value_, flatten_state_dict,
                                   unflatten_state_dict)
from deeplearning101.optim.lr_scheduler import (
    StepLR, ExponentialLR, CosineAnnealingLR, LinearLR, SequentialLR, OneCycleLR,
    MultiStepLR, LambdaLR, ReduceLROnPlateau)

ALL = [(SGD, dict(lr=0.1)), (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
       (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5)), (Adagrad, dict(lr=0.1, weight_decay=0.1, lr_decay=0.01)),
       (RMSprop, dict(lr=0.01)), (RMSprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
       (Adam, dict(lr=0.01)), (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)), (AdamW, dict(lr=0.01)),
       (AdamW, dict(lr=0.01, amsgrad=True))]
IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(ALL)]
CLASSES = [SGD, Adagrad, RMSprop, Adam, AdamW]


def _params(rng, shapes=((4, 3), (3,)), dtype=np.float64):
    return [dl.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def _np(t):
    "The values of a tensor that may require grad, as a NumPy array (PyTorch's idiom)."
    return t.detach().numpy()


def _set_grads(ps, rng):
    for p in ps: p.grad = dl.tensor(rng.standard_normal(p.shape).astype(p.dtype))


# ------------------------------------------------------------------------------------------------ one SGD class

def test_one_sgd_class_in_optim():
    assert dl.SGD is dl.optim.SGD and not hasattr(dl.layers, "SGD")
    assert dl.Optimizer is dl.optim.Optimizer
    assert issubclass(dl.Adam, dl.optim.Optimizer) and dl.AdamW.__mro__[1] is dl.Adam
    p = dl.Parameter(np.ones(2))
    opt = dl.SGD([p], 0.5)                                # positional lr, as in torch
    p.grad = dl.tensor(np.ones(2)); opt.step()
    assert np.allclose(_np(p), 0.5)


# ----------------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("lr", [-0.1, float('nan'), float('inf'), '0.1', None, True])
def test_bad_learning_rate(cls, lr):
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*invalid learning rate"):
        cls([dl.tensor(np.ones(2), requires_grad=True)], lr=lr)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("betas", [(-0.1, 0.999), (0.9, 1.0), (1.0, 0.9), (float('nan'), 0.9), (0.9, float('nan'))])
def test_betas_outside_unit_interval(cls, betas):
    with pytest.raises(ValueError, match=r"invalid betas\[[01]\]"):
        cls([dl.tensor(np.ones(2), requires_grad=True)], betas=betas)


@pytest.mark.parametrize("betas", [(0.9,), (0.9, 0.99, 0.9), 0.9])
def test_betas_not_a_pair(betas):
    with pytest.raises(ValueError, match="pair"): Adam([dl.tensor(np.ones(2), requires_grad=True)], betas=betas)


@pytest.mark.parametrize("cls", CLASSES)
def test_empty_parameter_list(cls):
    with pytest.raises(ValueError, match="empty parameter list"): cls([])
    with pytest.raises(ValueError, match="empty parameter list"): cls(iter([]))
    # an empty group is allowed, as in PyTorch (per-layer groups of a layer without bias)
    opt = cls([{'params': []}, {'params': [dl.Parameter([1.0])]}])
    opt.step(); opt.zero_grad()
    assert [len(g['params']) for g in opt.state_dict()['param_groups']] == [0, 1]


@pytest.mark.parametrize("cls", CLASSES)
def test_parameter_in_two_groups(cls):
    a, b = dl.tensor(np.ones(2), requires_grad=True), dl.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="already in parameter group 0"):
        cls([{'params': [a, b]}, {'params': [b], 'lr': 0.01}])
    opt = cls([a])
    with pytest.raises(ValueError, match="already in parameter group 0"): opt.add_param_group({'params': [b, a]})
    assert len(opt.param_groups) == 1


def test_add_param_group_checks_hyperparameters_and_rolls_back():
    a, b = dl.tensor(np.ones(2), requires_grad=True), dl.tensor(np.ones(3), requires_grad=True)
    opt = Adam([a])
    with pytest.raises(ValueError, match=r"Adam \(param group 1\): invalid learning rate"):
        opt.add_param_group({'params': [b], 'lr': -1.0})
    with pytest.raises(ValueError, match=r"invalid betas\[1\]"): opt.add_param_group({'params': [b], 'betas': (0.9, 1.5)})
    assert len(opt.param_groups) == 1
    opt.add_param_group({'params': b, 'lr': 0.5})          # a single tensor is accepted, as in torch
    assert opt.param_groups[1]['lr'] == 0.5 and opt.param_groups[1]['betas'] == (0.9, 0.999)
    with pytest.raises(TypeError, match="dict"): opt.add_param_group([b])
    with pytest.raises(TypeError, match="not a set"): opt.add_param_group({'params': {dl.tensor([1.0], requires_grad=True)}})


@pytest.mark.parametrize("make,match", [
    (lambda p: SGD([p], lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: SGD([p], lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: SGD([p], lr=0.1, dampening=2.0), "dampening"),
    (lambda p: SGD([p], lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda p: SGD([p], lr=0.1, nesterov='yes'), "nesterov"),
    (lambda p: Adagrad([p], eps=-1.0), "eps"),
    (lambda p: Adagrad([p], lr_decay=float('nan')), "lr_decay"),
    (lambda p: Adagrad([p], initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda p: RMSprop([p], alpha=1.5), "alpha"),
    (lambda p: RMSprop([p], alpha=-0.1), "alpha"),
    (lambda p: RMSprop([p], momentum=-0.1), "momentum"),
    (lambda p: RMSprop([p], centered=1), "centered"),
    (lambda p: Adam([p], eps=-1e-8), "eps"),
    (lambda p: Adam([p], weight_decay=-0.1), "weight_decay"),
    (lambda p: Adam([p], amsgrad='no'), "amsgrad"),
    (lambda p: AdamW([p], weight_decay=float('inf')), "weight_decay"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match): make(dl.tensor(np.ones(2), requires_grad=True))


def test_params_must_be_a_sequence_of_leaf_tensors():
    p = dl.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="not a set"): Adam({p})
    with pytest.raises(TypeError, match="not a tensor"): Adam([np.ones(2)])
    with pytest.raises(ValueError, match="leaf"): Adam([p * 2])
    with pytest.raises(TypeError): Adam(p)


# ---------------------------------------------------------------------------------------------- state_dict checks

def _trained(cls, kw, ps, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    opt = cls(ps, **kw)
    for _ in range(steps): _set_grads(ps, rng); opt.step()
    return opt


@pytest.mark.parametrize("src,dst", [(lambda ps: SGD(ps, lr=0.1, momentum=0.9), Adam), (lambda ps: Adam(ps), RMSprop),
                                     (lambda ps: Adagrad(ps), Adam), (lambda ps: RMSprop(ps), SGD),
                                     (lambda ps: Adam(ps), SGD)])
def test_state_dict_from_another_optimizer(src, dst):
    rng = np.random.default_rng(0)
    ps = _params(rng)
    other = src(ps)
    _set_grads(ps, rng); other.step()
    opt = dst(ps, lr=0.1)
    with pytest.raises(ValueError, match=f"not saved by {dst.__name__}"): opt.load_state_dict(other.state_dict())


def test_state_dict_from_adam_into_adamw_is_refused():
    rng = np.random.default_rng(0)
    ps = _params(rng)
    sd = _trained(Adam, dict(lr=0.01), ps).state_dict()
    with pytest.raises(ValueError, match="AdamW always decouples"): AdamW(ps).load_state_dict(sd)


def test_state_dict_with_foreign_state_entries():
    rng = np.random.default_rng(0)
    ps = _params(rng)
    sd = _trained(Adam, dict(lr=0.01), ps).state_dict()
    sd['state'][0]['momentum_buffer'] = np.zeros((4, 3))
    with pytest.raises(ValueError, match="momentum_buffer.*another optimizer"): Adam(ps).load_state_dict(sd)


def test_state_dict_with_mismatched_shapes_or_sizes():
    rng = np.random.default_rng(0)
    sd = _trained(Adam, dict(lr=0.01), _params(rng)).state_dict()
    with pytest.raises(ValueError, match=r"shape \[4, 3\] in the state_dict.*shape \[3, 4\]"):
        Adam(_params(rng, shapes=((3, 4), (3,)))).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameters in the state_dict, 2 in this optimizer|2 parameters in the state_dict, 3"):
        Adam(_params(rng, shapes=((4, 3), (3,), (2,)))).load_state_dict(sd)
    ps = _params(rng)
    with pytest.raises(ValueError, match="has 1 parameter groups, this optimizer has 2"):
        Adam([{'params': ps[:1]}, {'params': ps[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="'param_groups' and 'state'"): Adam(ps).load_state_dict({'state': {}})
    with pytest.raises(ValueError, match="'param_groups' and 'state'"): Adam(ps).load_state_dict([1, 2])
    bad = {**sd, 'state': {7: sd['state'][0]}}
    with pytest.raises(ValueError, match="state for parameter 7"): Adam(ps).load_state_dict(bad)


def test_failed_load_leaves_the_optimizer_unchanged():
    rng = np.random.default_rng(0)
    ps = _params(rng)
    opt = _trained(Adam, dict(lr=0.01), ps)
    before = opt.state_dict()
    sd = opt.state_dict()
    sd['param_groups'][0]['lr'] = -5.0
    with pytest.raises(ValueError, match="invalid learning rate"): opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after['param_groups'] == before['param_groups']
    assert all(np.array_equal(after['state'][i][k], v) for i, s in before['state'].items() for k, v in s.items() if k != 'step')


def _plain(x):
    "True if x is made of dicts, lists, tuples, numbers, strings, None, tensors and NumPy arrays only."
    if isinstance(x, dict): return all(isinstance(k, (int, str)) and _plain(v) for k, v in x.items())
    if isinstance(x, (list, tuple)): return all(_plain(v) for v in x)
    return x is None or isinstance(x, (bool, int, float, str, np.ndarray, dl.Tensor))


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_state_dict_round_trip_through_npz_without_pickle(cls, kw, tmp_path):
    rng = np.random.default_rng(1)
    ps = _params(rng)
    opt = _trained(cls, kw, ps, steps=4)
    sd = opt.state_dict()
    assert _plain(sd)
    path = os.fspath(tmp_path / 'opt.npz')
    np.savez(path, allow_pickle=False, **flatten_state_dict(sd))
    with np.load(path, allow_pickle=False) as f: loaded = unflatten_state_dict({k: f[k] for k in f.files})
    assert loaded['param_groups'] == sd['param_groups']
    clone = [dl.tensor(_np(p), requires_grad=True) for p in ps]   # a copy
    opt2 = cls(clone, **kw)
    opt2.load_state_dict(loaded)
    for _ in range(3):
        g = [rng.standard_normal(p.shape) for p in ps]
        for p, q, gi in zip(ps, clone, g): p.grad, q.grad = dl.tensor(gi.copy()), dl.tensor(gi.copy())
        opt.step(); opt2.step()
    for p, q in zip(ps, clone): np.testing.assert_array_equal(_np(p), _np(q))


def test_state_dict_round_trip_through_dl_save(tmp_path):
    rng = np.random.default_rng(2)
    ps = _params(rng)
    opt = _trained(RMSprop, dict(lr=0.01, centered=True, momentum=0.5), ps)
    path = os.fspath(tmp_path / 'opt.npz')
    dl.save(flatten_state_dict(opt.state_dict()), path)
    sd = unflatten_state_dict(dl.load(path))                # dl.load returns tensors: accepted
    opt2 = RMSprop(ps, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]['lr'] == 0.01 and opt2.param_groups[0]['centered'] is True
    for p in ps:
        for k, v in opt.state[p].items():
            assert type(v) is type(opt2.state[p][k]) and np.array_equal(v, opt2.state[p][k])


def test_state_dict_refers_to_the_live_state_and_parameters_are_indices():
    "As in PyTorch: the state dict holds the optimizer's own tensors (tests/test_optim_state_tensors.py)."
    rng = np.random.default_rng(3)
    ps = _params(rng)
    opt = _trained(SGD, dict(lr=0.1, momentum=0.9), ps)
    sd = opt.state_dict()
    assert [g['params'] for g in sd['param_groups']] == [[0, 1]]
    assert sd['state'][0]['momentum_buffer'] is opt.state[ps[0]]['momentum_buffer']


@given(st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=3) | st.tuples(kids, kids)
                    | st.dictionaries(st.integers(0, 5) | st.text('abc', min_size=1, max_size=3), kids, max_size=3),
                    max_leaves=12))
def test_flatten_unflatten_is_exact_for_plain_data(x):
    assert unflatten_state_dict(flatten_state_dict({'x': x})) == {'x': x}


def test_flatten_unflatten_arrays_and_errors():
    sd = {'state': {0: {'step': 3, 'exp_avg': np.arange(6.0).reshape(2, 3)}, 1: {'m': np.float32(2.5)}},
          'param_groups': [{'lr': 0.1, 'betas': (0.9, 0.99), 'params': [0, 1], 'name': None}]}
    flat = flatten_state_dict(sd)
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in flat.values())
    assert set(flat) == {'state.0.exp_avg', '__structure__'}
    back = unflatten_state_dict(flat)
    assert back['param_groups'] == sd['param_groups'] and isinstance(back['param_groups'][0]['betas'], tuple)
    np.testing.assert_array_equal(back['state'][0]['exp_avg'], sd['state'][0]['exp_avg'])
    with pytest.raises(TypeError, match="cannot store a object"): flatten_state_dict({'x': object()})
    with pytest.raises(TypeError, match="only numbers"): flatten_state_dict({'x': np.array(['a', 'b'])})
    with pytest.raises(ValueError, match="two entries"): flatten_state_dict({'a.b': np.zeros(1), 'a': {'b': np.zeros(1)}})
    with pytest.raises(ValueError, match="__structure__"): unflatten_state_dict({'x': np.zeros(1)})
    del flat['state.0.exp_avg']
    with pytest.raises(ValueError, match="missing"): unflatten_state_dict(flat)


# ------------------------------------------------------------------------------------------------ step semantics

@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_parameters_without_grad_are_skipped(cls, kw):
    rng = np.random.default_rng(4)
    used, unused = _params(rng)
    before = _np(unused).copy()
    opt = cls([used, unused], **kw)
    for _ in range(3):
        used.grad = dl.tensor(rng.standard_normal(used.shape)); opt.step()
    np.testing.assert_array_equal(_np(unused), before)
    assert (unused in opt.state) == (cls is Adagrad)           # torch makes Adagrad's state at once
    assert (used in opt.state) == (cls is not SGD or kw.get('momentum', 0) > 0)   # plain SGD keeps no state


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_steps_allocate_nothing(cls, kw):
    "After the first step (state and scratch buffers), a step allocates no parameter-sized temporaries."
    rng = np.random.default_rng(5)
    ps = _params(rng, shapes=((256, 256), (256,)), dtype=np.float32)
    _set_grads(ps, rng)
    opt = cls(ps, **kw)
    opt.step()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        opt.step(); opt.step()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 4096, (f"{cls.__name__} allocated {peak} bytes in a step "
                         f"(the weight has {_np(ps[0]).nbytes})")
    assert all(p.dtype == np.float32 for p in ps)


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_updates_are_in_place_and_keep_dtype(cls, kw):
    rng = np.random.default_rng(6)
    ps = _params(rng, shapes=((3, 2), (5,)), dtype=np.float32) + _params(rng, shapes=((4,),), dtype=np.float64)
    ps[0].data = dl.from_numpy(np.asfortranarray(_np(ps[0])))     # not contiguous
    arrays = [_np(p) for p in ps]
    opt = cls(ps, **kw)
    for _ in range(3): _set_grads(ps, rng); opt.step()
    assert all(_np(p) is a for p, a in zip(ps, arrays))
    assert [p.dtype for p in ps] == [np.float32, np.float32, np.float64]


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_zero_learning_rate_changes_nothing(cls, kw):
    rng = np.random.default_rng(7)
    ps = _params(rng)
    before = [_np(p).copy() for p in ps]
    opt = cls(ps, **{**kw, 'lr': 0.0})
    for _ in range(3): _set_grads(ps, rng); opt.step()
    for p, b in zip(ps, before): np.testing.assert_array_equal(_np(p), b)


@given(st.floats(1e-4, 1.0), st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1))
def test_adam_without_eps_is_invariant_to_gradient_scale(lr, scale, seed):
    rng = np.random.default_rng(seed)
    w0, grads = rng.standard_normal(5), rng.standard_normal((5, 5))
    a, b = dl.tensor(w0.copy(), requires_grad=True), dl.tensor(w0.copy(), requires_grad=True)
    oa, ob = Adam([a], lr=lr, eps=0.0), Adam([b], lr=lr, eps=0.0)
    for g in grads:
        a.grad, b.grad = dl.tensor(g), dl.tensor(g * scale)
        oa.step(); ob.step()
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12)


@given(st.floats(1e-4, 1.0), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_sgd_step_formula(lr, wd, seed):
    rng = np.random.default_rng(seed)
    w0, g = rng.standard_normal(4), rng.standard_normal(4)
    p = dl.tensor(w0.copy(), requires_grad=True); p.grad = dl.tensor(g)
    SGD([p], lr=lr, weight_decay=wd).step()
    expected = w0 - lr * (g + wd * w0)
    np.testing.assert_allclose(_np(p), expected, rtol=1e-12, atol=1e-14)


@given(st.floats(1e-4, 1.0), st.integers(0, 2**31 - 1))
def test_first_adam_step_moves_each_coordinate_by_lr(lr, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(6) * 10.0 ** rng.uniform(-3, 3, 6)
    p = dl.tensor(np.zeros(6), requires_grad=True); p.grad = dl.tensor(g)
    Adam([p], lr=lr).step()
    np.testing.assert_allclose(_np(p), -lr * g / (np.abs(g) + 1e-8), rtol=1e-10)


def test_closure_is_evaluated_with_grad_enabled():
    w = dl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = Adam([w], lr=0.1)
    def closure():
        opt.zero_grad(); loss = (w * w).sum(); loss.backward(); return loss
    with dl.no_grad(): loss = opt.step(closure)
    assert loss.item() == 5.0 and np.all(np.abs(_np(w)) < [1.0, 2.0])


def test_zero_grad_to_zeros_then_step():
    w = dl.tensor(np.ones(3), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    w.grad = dl.tensor(np.ones(3)); opt.step()
    opt.zero_grad(set_to_none=False)
    assert np.all(w.grad.numpy() == 0)
    opt.step()                                             # the buffer keeps moving the weights
    np.testing.assert_allclose(_np(w), 1 - 0.1 - 0.1 * 0.9)


def test_training_a_network_with_every_optimizer_lowers_the_loss():
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    for cls, kw in ALL:
        dl.manual_seed(0)
        model = dl.Sequential(dl.Linear(5, 16), dl.ReLU(), dl.Linear(16, 3))
        opt = cls(model.parameters(), **kw)
        first = None
        for _ in range(30):
            opt.zero_grad(); loss = dl.cross_entropy(model(X), y); loss.backward(); opt.step()
            first = loss.item() if first is None else first
        assert loss.item() < first, cls.__name__


# -------------------------------------------- in-place writes, gradients that don't fit

@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_step_between_forward_and_backward_makes_backward_raise(cls, kw):
    "A step writes into the parameters: a graph recorded before it is stale (PyTorch)."
    rng = np.random.default_rng(12)
    ps = _params(rng)
    opt = cls(ps, **kw)
    x = dl.tensor(rng.standard_normal((2, 4)))
    loss = ((x @ ps[0]) * ps[1]).sum()      # mul keeps ps[1] for the other side's grad
    versions = [p._version for p in ps]
    _set_grads(ps, rng); opt.step()
    assert all(p._version > v for p, v in zip(ps, versions))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    # as in PyTorch, an op that keeps no parameter is not affected: x @ W keeps x only
    # (x needs no gradient), + b keeps nothing
    opt.zero_grad()
    loss = (x @ ps[0] + ps[1]).sum()
    _set_grads(ps, rng); opt.step(); opt.zero_grad()
    loss.backward()
    np.testing.assert_allclose(ps[1].grad.numpy(), np.full(ps[1].shape, 2.0))
    opt.zero_grad()
    loss = (x @ ps[0] + ps[1]).sum(); loss.backward(); opt.step()   # the right order


def test_a_parameter_without_grad_keeps_its_version():
    a = dl.tensor(np.ones(2), requires_grad=True)
    b = dl.tensor(np.ones(2), requires_grad=True)
    opt = Adam([a, b])
    loss = (b * b).sum()
    a.grad = dl.tensor(np.ones(2)); opt.step()      # b is not touched: its graph holds
    loss.backward()
    assert a._version == 1 and b._version == 0


BAD_GRADS = [(np.ones(1), r"shape \[3\] has a gradient of shape \[1\]"),  # broadcast
             (np.ones(()), r"shape \[3\] has a gradient of shape \[\]"),
             (np.ones((2, 3)), r"shape \[3\] has a gradient of shape \[2, 3\]"),
             (np.ones(3, np.float32),
              r"shape \[3\] and dtype dl.float64 has a gradient of dtype dl.float32"),
             (np.ones(3, np.int64),
              r"shape \[3\] and dtype dl.float64 has a gradient of dtype dl.int64")]


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
@pytest.mark.parametrize("bad,match", BAD_GRADS, ids=["1", "0-d", "2x3", "f32", "i64"])
def test_a_gradient_that_does_not_fit_is_refused_and_nothing_moves(cls, kw, bad, match):
    rng = np.random.default_rng(13)
    ps = _params(rng)                                       # shapes (4, 3) and (3,)
    opt = _trained(cls, kw, ps, steps=2)
    before, sd = [_np(p).copy() for p in ps], opt.state_dict()
    _set_grads(ps, rng)
    ps[1].grad = dl.tensor(bad)             # the second: the first must not move
    match = rf"{cls.__name__}\.step: a parameter of {match}"
    with pytest.raises(RuntimeError, match=match): opt.step()
    for p, b in zip(ps, before): np.testing.assert_array_equal(_np(p), b)
    after = opt.state_dict()
    assert after['param_groups'] == sd['param_groups']
    for i, s in sd['state'].items():
        for k, v in s.items(): np.testing.assert_array_equal(after['state'][i][k], v)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_gradient_that_is_not_a_tensor_is_refused(cls):
    p = dl.tensor(np.ones(3), requires_grad=True)
    opt = cls([p], lr=0.1)
    p.grad = np.ones(3)
    match = rf"{cls.__name__}\.step: .*shape \[3\] must be a tensor.*ndarray"
    with pytest.raises(TypeError, match=match): opt.step()


@pytest.mark.parametrize("cls", CLASSES)
def test_a_gradient_on_another_device_is_refused(cls, monkeypatch):
    "With tests/fake_cupy.py's stand-in CuPy: CPU parameter and GPU gradient, and back."
    from deeplearning101 import gpu as G
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fake_cupy
    for v in ('DL_DEVICE', 'DEEPLEARNING101_FORCE_CPU'):
        monkeypatch.delenv(v, raising=False)
    G._probe.cache_clear()
    try:
        fake_cupy.install(monkeypatch)
        p = dl.tensor(np.ones(3), requires_grad=True)
        q = dl.tensor(np.ones(3), device='cuda', requires_grad=True)
        p.grad, q.grad = dl.tensor(np.ones(3), device='cuda'), dl.tensor(np.ones(3))
        for param, where in [(p, "on cpu but its gradient is on cuda:0"),
                             (q, "on cuda:0 but its gradient is on cpu")]:
            match = rf"{cls.__name__}\.step: .*shape \[3\] is {where}"
            with pytest.raises(RuntimeError, match=match):
                cls([param], lr=0.1).step()
    finally:
        G._probe.cache_clear()


# ------------------------------------------------------------------------------------------------------ schedules

def _opt(lr=0.1, **kw):
    return SGD([dl.tensor(np.zeros(2), requires_grad=True)], lr=lr, **kw)


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: StepLR(o, 0), ValueError, "step_size"),
    (lambda o: StepLR(o, 2.5), ValueError, "step_size"),
    (lambda o: StepLR(o, 3, gamma=-1), ValueError, "gamma"),
    (lambda o: ExponentialLR(o, float('nan')), ValueError, "gamma"),
    (lambda o: CosineAnnealingLR(o, 0), ValueError, "T_max"),
    (lambda o: CosineAnnealingLR(o, 10, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: LinearLR(o, start_factor=0), ValueError, "start_factor"),
    (lambda o: LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: OneCycleLR(o, 0.1), ValueError, "total_steps"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=10, anneal_strategy='exp'), ValueError, "anneal_strategy"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]), ValueError, "milestones"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(_opt(), 3)], milestones=[4]), ValueError, "same optimizer"),
    (lambda o: StepLR(o, 3, last_epoch=5), KeyError, "initial_lr"),
    (lambda o: StepLR(object(), 3), TypeError, "Optimizer"),
    (lambda o: MultiStepLR(o, [3, 2.5]), ValueError, "milestone"),
    (lambda o: MultiStepLR(o, [3, -1]), ValueError, "milestone"),
    (lambda o: MultiStepLR(o, [3], gamma=float('nan')), ValueError, "gamma"),
    (lambda o: LambdaLR(o, [abs, abs]), ValueError, "expected 1 lr_lambdas"),
    (lambda o: LambdaLR(o, 0.9), TypeError, "callable"),
    (lambda o: LambdaLR(object(), abs), TypeError, "Optimizer"),
    (lambda o: ReduceLROnPlateau(o, factor=1.5), ValueError, "factor"),
    (lambda o: ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: ReduceLROnPlateau(o, cooldown=0.5), ValueError, "cooldown"),
    (lambda o: ReduceLROnPlateau(o, mode='minimum'), ValueError, "mode"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode='r'), ValueError, "threshold_mode"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), ValueError, "1 min_lrs"),
    (lambda o: ReduceLROnPlateau(o, min_lr=-1.0), ValueError, "min_lr"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), ReduceLROnPlateau(o)], [3]), ValueError,
     "metric"),
])
def test_scheduler_bad_input(make, exc, match):
    with pytest.raises(exc, match=match): make(_opt())


def test_lr_scheduler_is_a_module_as_in_torch():
    from deeplearning101.optim import lr_scheduler
    assert lr_scheduler.__name__ == 'deeplearning101.optim.lr_scheduler'
    assert dl.optim.lr_scheduler is lr_scheduler
    for name in lr_scheduler.__all__:
        assert getattr(lr_scheduler, name) is getattr(dl.optim, name), name
        assert getattr(dl, name) is getattr(dl.optim, name), name
    assert dl.nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert dl.nn.utils.clip_grad_value_ is clip_grad_value_
    code = ("from deeplearning101.optim.lr_scheduler import StepLR\n"   # that first
            "import deeplearning101 as dl, deeplearning101.gpu as gpu\n"
            "assert dl.optim.lr_scheduler.StepLR is StepLR is dl.StepLR\n"
            "assert 'adam' in gpu._fused_updates")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt = _opt()
    s = ReduceLROnPlateau(opt, mode='max', patience=1, factor=0.5)
    for m in [1.0, 1.0, 1.0, 2.0, 2.0]: opt.step(); s.step(m)
    saved = s.state_dict()
    assert _plain(saved) and 'optimizer' not in saved and saved['best'] == 2.0
    s2 = ReduceLROnPlateau(_opt(), patience=5)
    s2.load_state_dict(unflatten_state_dict(flatten_state_dict(saved)))   # via JSON
    assert (s2.mode, s2.patience, s2.num_bad_epochs) == ('max', 1, 1)
    assert s2.mode_worse == -math.inf
    assert not s2._is_better(2.0, s2.best) and s2._is_better(2.1, s2.best)


def test_scheduler_protocol():
    opt = SGD([{'params': [dl.tensor(np.zeros(2), requires_grad=True)]},
               {'params': [dl.tensor(np.zeros(2), requires_grad=True)], 'lr': 0.01}], lr=0.1)
    s = StepLR(opt, step_size=2, gamma=0.5)
    assert s.base_lrs == [0.1, 0.01] and s.last_epoch == 0 and s.get_last_lr() == [0.1, 0.01]
    assert [g['initial_lr'] for g in opt.param_groups] == [0.1, 0.01]
    for _ in range(4): opt.step(); s.step()
    assert s.last_epoch == 4 and np.allclose(s.get_last_lr(), [0.025, 0.0025])
    assert [g['lr'] for g in opt.param_groups] == s.get_last_lr()
    saved = s.state_dict()
    assert 'optimizer' not in saved and _plain(saved)
    opt2 = SGD([{'params': [dl.tensor(np.zeros(2), requires_grad=True)]},
                {'params': [dl.tensor(np.zeros(2), requires_grad=True)], 'lr': 0.01}], lr=0.1)
    opt2.load_state_dict(opt.state_dict())                  # keeps initial_lr in the groups
    s2 = StepLR(opt2, step_size=2, gamma=0.5, last_epoch=saved['last_epoch'])
    s2.load_state_dict(saved)
    for _ in range(3): opt.step(); s.step(); opt2.step(); s2.step()
    assert s.get_last_lr() == s2.get_last_lr()


def test_scheduler_before_optimizer_warns_and_correct_order_does_not():
    opt = _opt(); s = ExponentialLR(opt, 0.9)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"): s.step()
    opt = _opt(); s = ExponentialLR(opt, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for _ in range(3): opt.step(); s.step()


def test_one_cycle_cannot_step_past_its_end_and_cycles_betas():
    p = dl.tensor(np.zeros(2), requires_grad=True)
    opt = Adam([p], lr=0.1)
    s = OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]['betas'] == (0.95, 0.999)
    for _ in range(9): opt.step(); s.step()
    with pytest.raises(ValueError, match="total_steps=10"):
        for _ in range(2): opt.step(); s.step()
    with pytest.raises(ValueError, match="momentum or betas"): OneCycleLR(Adagrad([p]), max_lr=0.1, total_steps=5)


def test_cosine_annealing_restarts_upward_after_t_max():
    opt = _opt(); s = CosineAnnealingLR(opt, T_max=4)
    lrs = []
    for _ in range(9): lrs.append(s.get_last_lr()[0]); opt.step(); s.step()
    np.testing.assert_allclose(lrs, [0.05 * (1 + math.cos(math.pi * t / 4)) for t in range(9)], atol=1e-15)


# ------------------------------------------------------------------------------------------------------- clipping

def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm_([], 1.0).item() == 0.0
    p = dl.tensor(np.zeros(3), requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0             # no gradients at all
    p.grad = dl.tensor(np.array([3.0, 4.0, 0.0]))
    n = clip_grad_norm_(p, 1.0)                                 # a single tensor is accepted
    assert isinstance(n, dl.Tensor) and n.item() == 5.0
    assert np.isclose(np.linalg.norm(p.grad.numpy()), 1.0)
    with pytest.raises(TypeError, match="not a tensor"): clip_grad_norm_([np.zeros(3)], 1.0)
    with pytest.raises(ValueError, match="max_norm"): clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="max_norm"): clip_grad_norm_([p], float('nan'))
    q = dl.tensor(np.zeros(3, np.float32), requires_grad=True)
    q.grad = dl.tensor(np.broadcast_to(np.float32(10.0), (3,)))  # a read-only gradient is replaced, not written
    clip_grad_norm_([q], 1.0)
    assert q.grad.dtype == np.float32
    assert np.isclose(np.linalg.norm(q.grad.numpy()), 1.0, rtol=1e-5)
    q.grad = dl.tensor(np.array([-3.0, 0.5, 2.0], np.float32)); clip_grad_value_([q], 1.0)
    np.testing.assert_array_equal(q.grad.numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value"): clip_grad_value_([q], -1)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8), st.floats(1e-3, 1e3))
def test_clipped_norm_never_exceeds_max_norm(values, max_norm):
    p = dl.tensor(np.zeros(len(values)), requires_grad=True)
    p.grad = dl.tensor(np.array(values))
    total = clip_grad_norm_([p], max_norm).item()
    after = np.linalg.norm(p.grad.numpy())
    assert after <= max_norm * (1 + 1e-9) + 1e-12
    if total + 1e-6 <= max_norm:            # the clip factor: max_norm / (total + 1e-6)
        np.testing.assert_array_equal(p.grad.numpy(), values)


# ------------------------------------------------------------------------------------------- CuPy (chapter 05)

def _cupy():
    cupy = pytest.importorskip("cupy")
    try:
        if not cupy.cuda.is_available(): pytest.skip("no CUDA device")
        cupy.zeros(1)
    except Exception as e:                                  # installed without a driver: the first allocation fails
        pytest.skip(f"CuPy cannot allocate: {e}")
    return cupy


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_optimizers_run_unchanged_on_cupy_arrays(cls, kw):
    "The same step code on GPU arrays (NumPy functions dispatch to CuPy): same result as on the CPU, state on the GPU."
    cupy = _cupy()
    rng = np.random.default_rng(9)
    w0 = [rng.standard_normal(s) for s in [(6, 5), (5,), ()]]
    grads = [[rng.standard_normal(w.shape) * 10.0 ** rng.uniform(-3, 2) for w in w0] for _ in range(20)]
    cpu = [dl.tensor(w.copy(), requires_grad=True) for w in w0]
    gpu = [dl.tensor(cupy.asarray(w), requires_grad=True) for w in w0]
    oc, og = cls(cpu, **kw), cls(gpu, **kw)
    for step in grads:
        for a, b, g in zip(cpu, gpu, step): a.grad, b.grad = dl.tensor(g.copy()), dl.tensor(cupy.asarray(g))
        oc.step(); og.step()
    for a, b in zip(cpu, gpu):
        assert b.device == 'cuda:0'
        np.testing.assert_allclose(b.cpu().numpy(), _np(a), rtol=1e-10, atol=1e-12)
        assert all(isinstance(v._data, cupy.ndarray) for k, v in og.state.get(b, {}).items() if k != 'step')
    assert all(isinstance(buf, cupy.ndarray) for buf in og.__dict__['_scratch_buffers'].values())
    flat = flatten_state_dict(og.state_dict())                 # GPU state saves as NumPy arrays
    assert all(isinstance(v, np.ndarray) for v in flat.values())
    og2 = cls([dl.tensor(cupy.asarray(w), requires_grad=True) for w in w0], **kw)
    og2.load_state_dict(unflatten_state_dict(flat))            # and loads back onto the GPU
    for s in og2.state.values():
        assert all(isinstance(v._data, cupy.ndarray) for k, v in s.items() if k != 'step')


def test_clip_grad_norm_on_cupy_arrays():
    cupy = _cupy()
    rng = np.random.default_rng(10)
    gs = [rng.standard_normal(s) * 5 for s in [(4, 3), (7,)]]
    for norm_type in (2.0, 1.0, math.inf, 0):
        cpu = [dl.tensor(np.zeros(g.shape), requires_grad=True) for g in gs]
        gpu = [dl.tensor(cupy.zeros(g.shape), requires_grad=True) for g in gs]
        for a, b, g in zip(cpu, gpu, gs): a.grad, b.grad = dl.tensor(g.copy()), dl.tensor(cupy.asarray(g))
        na, nb = clip_grad_norm_(cpu, 1.0, norm_type), clip_grad_norm_(gpu, 1.0, norm_type)
        assert nb.device == 'cuda:0' and np.isclose(float(nb.item()), na.item())
        for a, b in zip(cpu, gpu):
            np.testing.assert_allclose(b.grad.cpu().numpy(), a.grad.numpy(), rtol=1e-12)
