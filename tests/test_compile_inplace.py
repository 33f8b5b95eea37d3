"""dl.compile and in-place ops: a replayed program must give exactly what the eager
step gives (a traced in-place write once wrote into the trace's stale array, so every
replay after the first call was wrong); what it can't replay is refused with a
TraceError that names the op."""
import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101 import nn
import deeplearning101.nn.functional as F
from deeplearning101.compiler import TraceError

torch = pytest.importorskip("torch")


def _batches(n=4, shape=(5, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _mlp(act, seed=0):
    dl.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), act, nn.Linear(8, 3))


def _replays_equal(step, n=4):
    "Eager and compiled results of `step` (under no_grad) equal on n different inputs."
    f = dl.compile(step)
    for xb in _batches(n):
        want = step(dl.tensor(xb)).numpy().copy()
        got = f(dl.tensor(xb)).numpy()
        np.testing.assert_array_equal(got, want)
    assert f.traces == 1


ACTS = [lambda: nn.ReLU(inplace=True), lambda: nn.LeakyReLU(0.1, inplace=True),
        lambda: nn.SiLU(inplace=True), lambda: nn.ReLU()]


@pytest.mark.parametrize("act", ACTS)
def test_inplace_activation_no_grad_replays(act):
    m = _mlp(act())
    def step(x):
        with dl.no_grad(): return m(x)
    _replays_equal(step)


def test_inplace_relu_matches_torch():
    m = _mlp(nn.ReLU(inplace=True))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True),
                             torch.nn.Linear(8, 3))
    with torch.no_grad():
        for i in (0, 2):
            tm[i].weight.copy_(torch.tensor(m[i].weight.detach().numpy()))
            tm[i].bias.copy_(torch.tensor(m[i].bias.detach().numpy()))
    def step(x):
        with dl.no_grad(): return m(x)
    f = dl.compile(step)
    for xb in _batches():
        with torch.no_grad(): want = tm(torch.tensor(xb)).numpy()
        np.testing.assert_allclose(f(dl.tensor(xb)).numpy(), want, rtol=1e-5,
                                   atol=1e-6)


def test_inplace_methods_on_intermediates_no_grad():
    m = _mlp(nn.Tanh())
    c = dl.tensor(np.linspace(-1, 1, 8, dtype=np.float32))
    def step(x):
        with dl.no_grad():
            h = m[0](x)
            h.relu_()
            h.add_(c)            # a tensor
            h.mul_(2.0)          # a number
            h.sub_(h * 0.5)      # a value the step computes
            h.clamp_(max=1.5)
            h.sigmoid_()
            F.relu(h, inplace=True)
            return m[2](h), h
    f = dl.compile(step)
    for xb in _batches():
        want = [t.numpy().copy() for t in step(dl.tensor(xb))]
        got = [t.numpy() for t in f(dl.tensor(xb))]
        for g, w in zip(got, want): np.testing.assert_array_equal(g, w)


def test_inplace_on_detached_view_no_grad():
    m = _mlp(nn.Tanh())
    def step(x):
        with dl.no_grad():
            h = m[0](x)
            h.detach().relu_()          # the same memory: h changes too
            return m[2](h)
    _replays_equal(step)


def test_inplace_on_argument_changes_callers_tensor():
    def step(x):
        with dl.no_grad():
            x.mul_(2.0)
            return x + 1
    f = dl.compile(step)
    for xb in _batches():
        a, b = dl.tensor(xb), dl.tensor(xb)
        want, got = step(a).numpy(), f(b).numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(b.numpy(), a.numpy())     # both doubled
        np.testing.assert_array_equal(b.numpy(), 2 * xb)


def _train(compiled, prep):
    "Losses and final weights of 4 SGD steps, with `prep(x)` in-place on the input."
    m = _mlp(nn.ReLU(), seed=1)
    opt = dl.optim.SGD(m.parameters(), lr=0.1)
    def step(x, y):
        x = prep(x)
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.detach()
    f = dl.compile(step) if compiled else step
    ys = np.random.default_rng(3).integers(0, 3, (4, 5))
    losses = [f(dl.tensor(xb), dl.tensor(y)).item() for xb, y in zip(_batches(), ys)]
    return losses, [p.detach().numpy().copy() for p in m.parameters()]


def _prep(x):
    x = x * 1.0                # an intermediate that needs no grad
    x.add_(0.5); x.relu_(); x.mul_(3.0)
    return x


def test_inplace_on_inputs_in_training_step():
    l1, p1 = _train(False, _prep)
    l2, p2 = _train(True, _prep)
    assert l1 == l2
    for a, b in zip(p1, p2): np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("inplace", [
    lambda h: h.relu_(), lambda h: h.add_(1.0), lambda h: F.relu(h, inplace=True),
    lambda h: nn.ReLU(inplace=True)(h)])
def test_inplace_on_grad_values_in_training_step_refused(inplace):
    m = _mlp(nn.Tanh())
    def step(x):
        h = m[0](x)
        h = inplace(h)
        loss = m[2](h).sum()
        loss.backward()
        return loss.detach()
    with pytest.raises(TraceError, match=r"in-place '(relu_|add_)'"):
        dl.compile(step)(dl.tensor(_batches(1)[0]))


@pytest.mark.parametrize("act", [nn.ReLU6, nn.ELU, nn.Hardtanh])
def test_where_activations_refused_clearly(act):
    m = _mlp(act())
    def step(x):
        with dl.no_grad(): return m(x)
    with pytest.raises(TraceError, match="bool mask.*comparison"):
        dl.compile(step)(dl.tensor(_batches(1)[0]))


def test_masked_fill_inplace_mask_argument_replays():
    def step(x, m):
        with dl.no_grad():
            h = x * 2
            h.masked_fill_(m, -1.0)
            return h
    f = dl.compile(step)
    rng = np.random.default_rng(1)
    for xb in _batches():
        m = rng.standard_normal(xb.shape) > 0
        want = step(dl.tensor(xb), dl.tensor(m)).numpy()
        np.testing.assert_array_equal(f(dl.tensor(xb), dl.tensor(m)).numpy(), want)


@pytest.mark.parametrize("fill", [lambda h: h.masked_fill_(h > 0, 0.0),
                                  lambda h: h.masked_fill(h > 0, 0.0)])
def test_mask_from_comparison_refused(fill):
    def step(x):
        with dl.no_grad(): return fill(x * 2)
    with pytest.raises(TraceError, match="masked_fill.*mask"):
        dl.compile(step)(dl.tensor(_batches(1)[0]))


def test_returned_detached_loss_replays():
    "`return loss.detach()` once handed back the traced loss on every replay."
    m = _mlp(nn.ReLU(), seed=2)
    opt = dl.optim.SGD(m.parameters(), lr=0.1)
    def step(x, y):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.detach(), loss.item()
    f = dl.compile(step)
    ys = np.random.default_rng(3).integers(0, 3, (4, 5))
    out = [f(dl.tensor(xb), dl.tensor(y)) for xb, y in zip(_batches(), ys)]
    for t, v in out: assert t.item() == v
    assert len({v for _, v in out}) == 4


def test_no_grad_inplace_inside_training_step():
    "In-place writes under no_grad on the gradients (clipping, scaling) of a step."
    def run(compiled):
        m = _mlp(nn.Tanh(), seed=4)
        opt = dl.optim.SGD(m.parameters(), lr=0.5)
        def step(x, y):
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad(); loss.backward()
            with dl.no_grad():
                for p in m.parameters():
                    p.grad.clamp_(-0.05, 0.05)
                    p.grad.relu_()
                    p.grad.mul_(2.0)
            opt.step()
            return loss.detach()
        f = dl.compile(step) if compiled else step
        ys = np.random.default_rng(5).integers(0, 3, (4, 5))
        losses = [f(dl.tensor(xb), dl.tensor(y)).item() for xb, y in zip(_batches(), ys)]
        return losses, [p.detach().numpy().copy() for p in m.parameters()]
    (l1, p1), (l2, p2) = run(False), run(True)
    assert l1 == l2 and len(set(l1)) == 4
    for a, b in zip(p1, p2): np.testing.assert_array_equal(a, b)
