"""Parity with PyTorch for chapter 04's `optim.LBFGS`: the parameters after 1, 2 and 5 `step(closure)`
calls (float64, 1e-10) on a quadratic, the Rosenbrock function and a small MLP regression, with fixed steps
and the strong-Wolfe line search, for several lr / max_iter / max_eval / history_size; the returned losses,
the counters and the state; state dicts both ways in the middle of a run; defaults, print and errors.
Skipped when torch is not installed."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

TOL = 1e-10
CHECKED = (1, 2, 5)           # compared after these many step(closure) calls


def quadratic(lib, ps):
    "A convex quadratic plus a quartic term (so that it is not minimised in 3 iterations)."
    x, = ps
    A = lib.tensor(np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]]))
    z = x - lib.tensor(np.array([1.0, -2.0, 3.0]))
    return 0.5 * (z * (A @ z)).sum() + 0.1 * (z ** 4).sum()


def rosenbrock(lib, ps):
    x, = ps
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


_rng = np.random.default_rng(0)
_X = _rng.standard_normal((16, 3))
_Y = np.sin(_X.sum(1, keepdims=True))
_W = [_rng.standard_normal((6, 3)) * 0.5, _rng.standard_normal((1, 6)) * 0.5]


def mlp(lib, ps):
    "A 3-6-1 tanh network without biases (two parameter tensors), mean squared error."
    W1, W2 = ps
    h = (lib.tensor(_X) @ W1.T).tanh()
    return ((h @ W2.T - lib.tensor(_Y)) ** 2).mean()


PROBLEMS = {'quadratic': (quadratic, [np.array([0.5, 0.5, 0.5])]),
            'rosenbrock': (rosenbrock, [np.array([-1.5, 2.0])]),
            'mlp': (mlp, _W)}

# Settings whose runs stay where float64 rounding differences (the forward passes of the two libraries differ
# in the last bit) do not grow past 1e-10 in 5 steps: 20 fixed unit steps on Rosenbrock, or 100 iterations on
# the MLP, are chaotic enough to amplify them (to 1e-4 after 5 steps), whichever library rounds "right".
SETTINGS = {
    'quadratic': [dict(), dict(lr=0.8), dict(lr=0.5, max_iter=5, history_size=3),
                  dict(lr=0.1, max_iter=7, max_eval=9, history_size=2), dict(history_size=1)],
    'rosenbrock': [dict(lr=0.8), dict(lr=0.5, max_iter=5, history_size=3),
                   dict(lr=0.1, max_iter=7, max_eval=9, history_size=2)],
    'mlp': [dict(lr=0.5, max_iter=5, history_size=3), dict(lr=0.1, max_iter=7, max_eval=9, history_size=2),
            dict(lr=0.8, max_iter=4)],
}
CASES = [(name, ls, kw) for name, settings in SETTINGS.items() for kw in settings
         for ls in (None, 'strong_wolfe')] + [('rosenbrock', 'strong_wolfe', dict())]


def _ids(cases):
    return [f"{n}-{ls}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, ls, kw in cases]


def _pair(name, ls, kw):
    f, init = PROBLEMS[name]
    ours = [dl.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt_d = dl.optim.LBFGS(ours, line_search_fn=ls, **kw)
    opt_t = torch.optim.LBFGS(theirs, line_search_fn=ls, **kw)
    return f, ours, theirs, opt_d, opt_t


def _closures(f, ours, theirs, opt_d, opt_t, calls):
    def closure_d():
        opt_d.zero_grad(); loss = f(dl, ours); loss.backward(); calls[0] += 1; return loss
    def closure_t():
        opt_t.zero_grad(); loss = f(torch, theirs); loss.backward(); calls[1] += 1; return loss
    return closure_d, closure_t


def _same_params(ours, theirs, what):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=TOL, atol=TOL, err_msg=what)


def _same_state(opt_d, opt_t):
    sd, st = opt_d.state[opt_d.param_groups[0]['params'][0]], opt_t.state[opt_t.param_groups[0]['params'][0]]
    assert set(sd) == set(st)
    for k in ('func_evals', 'n_iter'): assert sd[k] == st[k], k
    for k, v in sd.items():
        w = st[k]
        if isinstance(v, list):
            assert len(v) == len(w), k
            pairs = [(a, b) for a, b in zip(v, w) if not (a is None and b is None)]
        else: pairs = [(v, w)]
        for a, b in pairs:
            b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-8, atol=TOL, err_msg=k)


def _run(f, ours, theirs, opt_d, opt_t, steps, start=0):
    calls = [0, 0]
    cd, ct = _closures(f, ours, theirs, opt_d, opt_t, calls)
    for i in range(start + 1, start + steps + 1):
        loss_d, loss_t = opt_d.step(cd), opt_t.step(ct)
        assert isinstance(loss_d, dl.Tensor)
        assert float(loss_d) == pytest.approx(float(loss_t.detach()), rel=TOL, abs=TOL)
        assert calls[0] == calls[1]                     # the same number of evaluations
        if i in CHECKED: _same_params(ours, theirs, f"after {i} step(closure) calls")
    assert np.isfinite(float(loss_d))


@pytest.mark.parametrize("name,ls,kw", CASES, ids=_ids(CASES))
def test_lbfgs_matches_torch(name, ls, kw):
    f, ours, theirs, opt_d, opt_t = _pair(name, ls, kw)
    _run(f, ours, theirs, opt_d, opt_t, 5)
    _same_state(opt_d, opt_t)


def test_lbfgs_moves_and_converges():
    "The tests above could pass with an optimizer that never moves: the defaults converge on Rosenbrock."
    f, ours, theirs, opt_d, opt_t = _pair('rosenbrock', 'strong_wolfe', {})
    _run(f, ours, theirs, opt_d, opt_t, 5)
    np.testing.assert_allclose(ours[0].detach().numpy(), [1.0, 1.0], atol=1e-4)


def _advance(lib, f, ps, opt, steps):
    def closure():
        opt.zero_grad(); loss = f(lib, ps); loss.backward(); return loss
    for _ in range(steps): opt.step(closure)
    return [p.detach().numpy() for p in ps]


@pytest.mark.parametrize("ls", [None, 'strong_wolfe'])
def test_state_dict_round_trip_and_across(ls):
    """Two steps in lockstep; then the state moves (dl -> dl through flatten_state_dict, torch -> dl, dl ->
    torch) into fresh optimizers built with other hyperparameters, and three more steps from each copy end
    where the original torch run ends."""
    kw = dict(lr=0.5, max_iter=5, history_size=3)
    f, ours, theirs, opt_d, opt_t = _pair('mlp', ls, kw)
    _run(f, ours, theirs, opt_d, opt_t, 2)
    sd = opt_d.state_dict()
    assert set(sd['state']) == {0} and sd['param_groups'] == opt_t.state_dict()['param_groups']
    now = [a.detach().numpy().copy() for a in ours]
    new_d = lambda: [dl.tensor(a.copy(), requires_grad=True) for a in now]
    new_t = lambda: [torch.tensor(a.copy(), requires_grad=True) for a in now]
    ours2, ours3, theirs2 = new_d(), new_d(), new_t()
    opt_d2 = dl.optim.LBFGS(ours2, lr=0.1)
    opt_d2.load_state_dict(dl.optim.unflatten_state_dict(dl.optim.flatten_state_dict(sd)))
    assert opt_d2.param_groups[0]['lr'] == 0.5 and opt_d2.param_groups[0]['line_search_fn'] == ls
    opt_d3 = dl.optim.LBFGS(ours3)
    opt_d3.load_state_dict(opt_t.state_dict())
    def to_torch(v):
        if isinstance(v, list): return [to_torch(x) for x in v]
        return torch.tensor(v) if isinstance(v, (np.ndarray, np.generic)) else v
    sd['state'] = {k: {n: to_torch(v) for n, v in s.items()} for k, s in sd['state'].items()}
    opt_t2 = torch.optim.LBFGS(theirs2)
    opt_t2.load_state_dict(sd)
    _run(f, ours, theirs, opt_d, opt_t, 3, start=2)
    want = [b.detach().numpy() for b in theirs]
    for lib, ps, opt in [(dl, ours2, opt_d2), (dl, ours3, opt_d3), (torch, theirs2, opt_t2)]:
        got = _advance(lib, f, ps, opt, 3)
        for a, b in zip(got, want): np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)
    # the saved state is a copy: stepping on did not change it
    assert sd['state'][0]['n_iter'] == 10


def test_defaults_repr_and_errors():
    p_d, p_t = dl.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    o_d, o_t = dl.optim.LBFGS([p_d]), torch.optim.LBFGS([p_t])
    assert o_d.defaults == o_t.defaults
    assert repr(o_d) == repr(o_t)
    kw = dict(lr=0.3, max_iter=7, max_eval=11, tolerance_grad=1e-5, tolerance_change=1e-8,
              history_size=4, line_search_fn='strong_wolfe')
    assert repr(dl.optim.LBFGS([p_d], **kw)) == repr(torch.optim.LBFGS([p_t], **kw))
    assert dl.optim.LBFGS([p_d], max_iter=9).defaults['max_eval'] == 11       # max_iter * 5 // 4
    # the errors torch raises, with the same types
    q_d, q_t = dl.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    for lib, (p, q) in [(dl, (p_d, q_d)), (torch, (p_t, q_t))]:
        with pytest.raises(ValueError, match="learning rate"): lib.optim.LBFGS([p], lr=-1)
        with pytest.raises(ValueError, match="per-parameter options"):
            lib.optim.LBFGS([{'params': [p]}, {'params': [q]}])
        with pytest.raises(ValueError, match="1-element"): lib.optim.LBFGS([p], lr=lib.ones(2))
        with pytest.raises(TypeError, match="closure"): lib.optim.LBFGS([p]).step()
    with pytest.raises(TypeError): torch.optim.LBFGS([p_t]).step(None)
    with pytest.raises(TypeError, match="closure"): dl.optim.LBFGS([p_d]).step(None)
    # a one-element tensor lr works as torch's does
    assert float(dl.optim.LBFGS([p_d], lr=dl.tensor(0.5)).param_groups[0]['lr']) == 0.5
    # torch accepts these and fails later (RuntimeError at step, IndexError in the 2nd iteration); we refuse
    # them at once, naming the value
    with pytest.raises(ValueError, match="line_search_fn"): dl.optim.LBFGS([p_d], line_search_fn='armijo')
    with pytest.raises(ValueError, match="history_size"): dl.optim.LBFGS([p_d], history_size=0)
    with pytest.raises(ValueError, match="max_iter"): dl.optim.LBFGS([p_d], max_iter=0)
    # a second group later is refused too (torch: an AssertionError at the next step)
    with pytest.raises(ValueError, match="per-parameter options"): o_d.add_param_group({'params': [q_d]})
    # a gradient of the wrong shape is refused by name; state dicts of other optimizers are refused
    w = dl.zeros(3, requires_grad=True)
    o = dl.optim.LBFGS([w])
    def bad_closure():
        w.grad = dl.zeros(4); return (w * 0).sum()
    with pytest.raises(RuntimeError, match="LBFGS.step.*shape"): o.step(bad_closure)
    adam = dl.optim.Adam([w]); w.grad = dl.ones(3); adam.step()
    with pytest.raises(ValueError, match="LBFGS"): o.load_state_dict(adam.state_dict())
    theirs = torch.optim.LBFGS([torch.zeros(5, requires_grad=True)])
    t5 = theirs.param_groups[0]['params'][0]
    def c5():
        theirs.zero_grad(); loss = ((t5 - 1) ** 2).sum(); loss.backward(); return loss
    theirs.step(c5)
    with pytest.raises(ValueError, match="shape"): o.load_state_dict(theirs.state_dict())


def test_float32_and_a_parameter_without_gradient():
    """float32 parameters keep their dtype (state too) and follow torch to float32 rounding; a parameter the
    loss does not use (its .grad stays None) counts as a zero gradient, as torch's _gather_flat_grad does."""
    init = [w.astype(np.float32) for w in _W] + [np.ones(4, np.float32)]
    X, Y = _X.astype(np.float32), _Y.astype(np.float32)
    def f(lib, ps):
        W1, W2, _unused = ps
        return ((((lib.tensor(X) @ W1.T).tanh()) @ W2.T - lib.tensor(Y)) ** 2).mean()
    for ls in (None, 'strong_wolfe'):
        ours = [dl.tensor(a.copy(), requires_grad=True) for a in init]
        theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        opt_d = dl.optim.LBFGS(ours, lr=0.5, max_iter=3, line_search_fn=ls)
        opt_t = torch.optim.LBFGS(theirs, lr=0.5, max_iter=3, line_search_fn=ls)
        calls = [0, 0]
        cd, ct = _closures(f, ours, theirs, opt_d, opt_t, calls)
        assert float(opt_d.step(cd)) == pytest.approx(float(opt_t.step(ct).detach()), rel=1e-6)
        assert calls[0] == calls[1] and ours[2].grad is None
        for a, b in zip(ours, theirs):
            assert a.dtype == dl.float32
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert opt_d.state[ours[0]]['d'].dtype == np.float32 and opt_d.state[ours[0]]['d'].shape == (18 + 6 + 4,)
        np.testing.assert_array_equal(ours[2].detach().numpy(), np.ones(4))
