"""Parity with PyTorch: float step counts in the schedulers (`StepLR(opt, 1.0)`, as in
PyTorch's Transformer tutorial) and the whole gradient-clipping surface of `nn.utils`
(`get_total_norm`, `clip_grads_with_norm_`, `foreach=`, the deprecated `clip_grad_norm`)."""
import warnings

import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- schedulers

def _lrs(lib, make, steps=9, lr=5.0):
    p = lib.nn.Parameter(lib.ones(2))
    opt = lib.optim.SGD([p], lr=lr)
    s = make(lib.optim.lr_scheduler, opt)
    out = [s.get_last_lr()[0]]
    for _ in range(steps):
        opt.step(); s.step(); out.append(s.get_last_lr()[0])
    return out, s


FLOAT_STEPS = {
    'StepLR 1.0': lambda m, o: m.StepLR(o, 1.0, gamma=0.95),
    'StepLR 2.0': lambda m, o: m.StepLR(o, 2.0, gamma=0.5),
    'StepLR np.float64': lambda m, o: m.StepLR(o, np.float64(3.0), gamma=0.5),
    'MultiStepLR floats': lambda m, o: m.MultiStepLR(o, [2.0, 5.0, 5.0], gamma=0.5),
    'MultiStepLR mixed': lambda m, o: m.MultiStepLR(o, [6, 3.0], gamma=0.5),
    'CosineAnnealingLR 4.0': lambda m, o: m.CosineAnnealingLR(o, 4.0, eta_min=0.1),
    'CosineAnnealingLR 2.5': lambda m, o: m.CosineAnnealingLR(o, 2.5),
    'LinearLR 4.0': lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=4.0),
    'LinearLR 2.5': lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=2.5),
    'ConstantLR 3.0': lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=3.0),
    'PolynomialLR 4.0': lambda m, o: m.PolynomialLR(o, total_iters=4.0, power=2.0),
    'PolynomialLR 3.5': lambda m, o: m.PolynomialLR(o, total_iters=3.5),
}


@pytest.mark.parametrize("name", list(FLOAT_STEPS))
def test_float_step_counts_match_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        want, ts = _lrs(torch, FLOAT_STEPS[name])
        got, ds = _lrs(dl, FLOAT_STEPS[name])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ['StepLR 1.0', 'StepLR 2.0', 'MultiStepLR floats',
                                  'CosineAnnealingLR 2.5', 'LinearLR 2.5',
                                  'PolynomialLR 3.5'])
def test_float_step_counts_closed_form_matches_torch(name):
    "step(epoch) jumps with the closed form, which must take the float too."
    res = {}
    for lib in (torch, dl):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            _, s = _lrs(lib, FLOAT_STEPS[name], steps=0)
            res[lib.__name__] = []
            for t in [1, 3, 4, 6, 7]:
                s.step(t); res[lib.__name__].append(s.get_last_lr()[0])
    np.testing.assert_allclose(res['deeplearning101'], res['torch'], rtol=1e-12)


def test_steplr_keeps_the_float_as_torch():
    for lib in (torch, dl):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=1.0)
        s = lib.optim.lr_scheduler.StepLR(opt, 1.0, gamma=0.95)
        assert s.step_size == 1.0 and isinstance(s.step_size, float)
        assert s.state_dict()['step_size'] == 1.0


@pytest.mark.parametrize("make", [
    lambda m, o: m.StepLR(o, 0), lambda m, o: m.StepLR(o, 0.0),
    lambda m, o: m.StepLR(o, -2), lambda m, o: m.StepLR(o, float('nan')),
    lambda m, o: m.StepLR(o, '2'), lambda m, o: m.CosineAnnealingLR(o, 0.0),
    lambda m, o: m.LinearLR(o, total_iters=-1.0),
])
def test_nonpositive_step_counts_raise_clearly(make):
    "PyTorch fails later (ZeroDivisionError at step 1) or runs a meaningless schedule."
    opt = dl.optim.SGD([dl.nn.Parameter(dl.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="must be a (whole )?number > 0"):
        make(dl.optim.lr_scheduler, opt)


def test_fractional_milestone_raises_clearly():
    "In PyTorch 2.5 never equals an (integer) epoch: a milestone that never fires."
    opt = dl.optim.SGD([dl.nn.Parameter(dl.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="MultiStepLR: each milestone must be a whole"):
        dl.optim.lr_scheduler.MultiStepLR(opt, [2.0, 2.5])


@pytest.mark.parametrize("step_size", [2.5, 0.5, np.float32(1.5)])
def test_fractional_step_size_raises_clearly(step_size):
    """A documented difference: PyTorch decays whenever last_epoch % step_size == 0
    (for 1.5 at 3, 6, ...; for 0.1 almost never, by rounding); dl asks for a whole
    number, as for the milestones."""
    opt = dl.optim.SGD([dl.nn.Parameter(dl.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="StepLR: step_size must be a whole number > 0"):
        dl.optim.lr_scheduler.StepLR(opt, step_size)


# --------------------------------------------------------------------------- clipping

def _params(lib, grads):
    ps = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(np.shape(g) or (2,), dtype=lib.float64))
        if g is not None:
            p.grad = lib.tensor(np.array(g, dtype=np.float64))
        ps.append(p)
    return ps


GRADS = [np.arange(-6.0, 6.0).reshape(3, 4) * 0.7, np.array([3.0, -4.0, 0.5])]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, float('inf'), 0.5])
@pytest.mark.parametrize("foreach", [None, True, False])
def test_get_total_norm_and_clip_grads_with_norm(norm_type, foreach):
    out = {}
    for lib in (torch, dl):
        ps = _params(lib, GRADS)
        total = lib.nn.utils.get_total_norm([p.grad for p in ps], norm_type,
                                            foreach=foreach)
        r = lib.nn.utils.clip_grads_with_norm_(ps, 2.0, total, foreach=foreach)
        out[lib.__name__] = (total.item(), r, [p.grad.numpy().copy() for p in ps])
    (tn, tr, tg), (dn, dr, dg) = out['torch'], out['deeplearning101']
    assert tr is None and dr is None
    np.testing.assert_allclose(dn, tn, rtol=1e-12)
    for a, b in zip(dg, tg):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_get_total_norm_of_tensors_not_grads():
    "It measures the tensors themselves (a single tensor or a list), with no graph."
    for x in [np.array([3.0, 4.0]), np.ones((2, 2))]:
        t = torch.nn.utils.get_total_norm(torch.tensor(x, requires_grad=True))
        d = dl.nn.utils.get_total_norm(dl.tensor(x, requires_grad=True))
        assert np.isclose(d.item(), t.item()) and not d.requires_grad
        assert d.dtype == dl.float64 and t.dtype == torch.float64
    assert dl.nn.utils.get_total_norm([]).item() == torch.nn.utils.get_total_norm([]).item()


@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_grad_norm_and_value_accept_foreach(foreach):
    out = {}
    for lib in (torch, dl):
        ps = _params(lib, GRADS + [None])
        n = lib.nn.utils.clip_grad_norm_(ps, 1.0, foreach=foreach)
        a = [p.grad.numpy().copy() for p in ps[:2]]
        ps = _params(lib, GRADS)
        lib.nn.utils.clip_grad_value_(ps, 0.9, foreach=foreach)
        out[lib.__name__] = (n.item(), a, [p.grad.numpy().copy() for p in ps])
    t, d = out['torch'], out['deeplearning101']
    np.testing.assert_allclose(d[0], t[0], rtol=1e-12)
    for a, b in zip(d[1] + d[2], t[1] + t[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 2, float('inf'), 1])
def test_error_if_nonfinite_message_is_torchs(norm_type):
    msgs = []
    for lib in (torch, dl):
        ps = _params(lib, [[1.0, float('inf')], [2.0]])
        with pytest.raises(RuntimeError) as e:
            lib.nn.utils.clip_grad_norm_(ps, 1.0, norm_type, error_if_nonfinite=True)
        msgs.append(str(e.value))
        with pytest.raises(RuntimeError) as e:
            lib.nn.utils.get_total_norm([p.grad for p in ps], norm_type, True)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[2] and msgs[1] == msgs[3]
    assert f"of order {float(norm_type)} for gradients" in msgs[2]


def test_clip_grad_norm_deprecated_name_warns_as_torch():
    res = []
    for lib in (torch, dl):
        ps = _params(lib, GRADS)
        with pytest.warns(FutureWarning) as w:
            n = lib.nn.utils.clip_grad_norm(ps, 1.0, 2.0, False, None)
        res.append((n.item(), str(w[0].message), ps[1].grad.numpy().copy()))
    assert res[0][1] == res[1][1]
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-12)
    np.testing.assert_allclose(res[1][2], res[0][2], rtol=1e-12)


def test_clip_grad_norm_empty_generator_warns_as_torch():
    for lib in (torch, dl):
        with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
            n = lib.nn.utils.clip_grad_norm_((p for p in []), 1.0)
        assert n.item() == 0.0


def test_clip_grad_norm_generator_not_exhausted():
    "A generator of parameters is read once: the norm and the clipping both see it."
    out = []
    for lib in (torch, dl):
        ps = _params(lib, GRADS)
        n = lib.nn.utils.clip_grad_norm_((p for p in ps), 1.0)
        out.append((n.item(), np.linalg.norm(np.concatenate(
            [p.grad.numpy().ravel() for p in ps]))))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-6)
    assert out[1][1] < 1.0
