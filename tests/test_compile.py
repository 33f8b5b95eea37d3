"""dl.compile (chapter 06b): compiled and eager steps compute the same thing; guards trace again when they must;
what cannot be traced is refused with a clear error instead of a silently stale program."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101 import nn
from deeplearning101.compiler import TraceError

rng = np.random.default_rng(0)
X = rng.standard_normal((8 * 16, 12))
Y = rng.integers(0, 5, 8 * 16)


def batches(dtype, n=8, b=16):
    return [(dl.tensor(X[i:i + b], dtype=dtype), dl.tensor(Y[i:i + b])) for i in range(0, n * b, b)]


def model_for(kind, dtype):
    layers = [nn.Linear(12, 16)]
    if kind == 'batchnorm': layers.append(nn.BatchNorm1d(16))
    layers.append(nn.Tanh() if kind == 'tanh' else nn.ReLU())
    if kind == 'dropout': layers.append(nn.Dropout(0.25))
    return nn.Sequential(*layers, nn.Linear(16, 5)).to(dtype)


OPTS = {'sgd': lambda ps: dl.optim.SGD(ps, lr=0.1),
        'sgd_maximize': lambda ps: dl.optim.SGD(ps, lr=0.01, maximize=True),
        'adam_maximize': lambda ps: dl.optim.Adam(ps, lr=1e-3, maximize=True),
        'momentum': lambda ps: dl.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        'adagrad': lambda ps: dl.optim.Adagrad(ps, lr=0.05),
        'rmsprop': lambda ps: dl.optim.RMSprop(ps, lr=1e-3),
        'adam': lambda ps: dl.optim.Adam(ps, lr=1e-3),
        'adamw': lambda ps: dl.optim.AdamW(ps, lr=1e-3)}


def run(kind, opt_name, dtype, compiled):
    dl.manual_seed(0)
    m = model_for(kind, dtype)
    o = OPTS[opt_name](m.parameters())

    def step(x, y):
        o.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        o.step()
        return loss
    f = dl.compile(step) if compiled else step
    losses = [f(x, y).item() for x, y in batches(dtype)]
    return losses, [v.numpy().copy() for v in m.state_dict().values()], f


@pytest.mark.parametrize('dtype,tol', [(dl.float64, 1e-12), (dl.float32, 1e-5)])
@pytest.mark.parametrize('kind,opt_name', [('mlp', o) for o in OPTS] +
                         [('tanh', 'sgd'), ('batchnorm', 'adam'), ('batchnorm', 'sgd'), ('dropout', 'sgd')])
def test_compiled_step_equals_eager(kind, opt_name, dtype, tol):
    l1, s1, _ = run(kind, opt_name, dtype, False)
    l2, s2, f = run(kind, opt_name, dtype, True)
    assert f.traces == 1
    assert max(abs(a - b) for a, b in zip(l1, l2)) <= tol
    assert max(float(np.abs(a - b).max()) for a, b in zip(s1, s2)) <= tol


def test_manual_update_loop_and_returned_item():
    def make():
        dl.manual_seed(1)
        m = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))

        def step(x, y):
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            with dl.no_grad():
                for p in m.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
            return loss.item()
        return m, step
    (m1, s1), (m2, s2) = make(), make()
    c = dl.compile(s2)
    l1 = [s1(x, y) for x, y in batches(dl.float32)]
    l2 = [c(x, y) for x, y in batches(dl.float32)]
    assert all(isinstance(v, float) for v in l2) and np.allclose(l1, l2, atol=1e-6)
    assert all(p.grad is None for p in m2.parameters())      # the step's p.grad = None, replayed
    assert np.allclose(m1[0].weight.detach().numpy(), m2[0].weight.detach().numpy(), atol=1e-6)


def test_guards_trace_again_on_shape_dtype_and_mode():
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(12, 16), nn.Dropout(0.5), nn.Linear(16, 5))
    o = dl.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        o.zero_grad(); loss = F.cross_entropy(m(x), y); loss.backward(); o.step(); return loss
    c = dl.compile(step)
    x, y = batches(dl.float32)[0]
    c(x, y); c(x, y)
    assert c.traces == 1
    c(x[:7], y[:7])                                   # a new batch size
    assert c.traces == 2
    m.eval(); c(x, y); m.train()                      # another mode: dropout is off
    assert c.traces == 3
    c(x, y)
    assert c.traces == 3 and len(c.programs) == 3


def test_number_arguments_are_guarded_and_globals_are_frozen():
    dl.manual_seed(0)
    lin = nn.Linear(12, 5)
    x, y = batches(dl.float32)[0]

    def step(x, y, lr):
        loss = F.cross_entropy(lin(x), y)
        loss.backward()
        with dl.no_grad():
            for p in lin.parameters():
                p -= lr * p.grad
                p.grad = None
        return loss
    c = dl.compile(step)
    c(x, y, 0.1)
    w0 = lin.weight.detach().numpy().copy()
    c(x, y, 0.0)
    assert c.traces == 2 and np.array_equal(w0, lin.weight.detach().numpy())


def test_refuses_untraceable_steps():
    dl.manual_seed(0)
    m = nn.Linear(12, 5)
    x, y = batches(dl.float32)[0]

    def data_dependent(x, y):
        loss = F.cross_entropy(m(x), y)
        if loss.item() > 0: loss = loss * 2
        return loss.detach()
    with pytest.raises(TraceError, match="reads a value into Python"):
        dl.compile(data_dependent)(x, y)

    def numpy_inside(x, y):
        noise = dl.tensor(np.random.default_rng().normal(size=(16, 12)), dtype=dl.float32)
        return F.cross_entropy(m(x + noise), y).detach()
    with pytest.raises(TraceError, match="not an op"):
        dl.compile(numpy_inside)(x, y)

    def returns_graph(x): return m(x)
    with pytest.raises(TraceError, match="requires grad"):
        dl.compile(returns_graph)(x)

    def second_order(x, y):
        loss = F.cross_entropy(m(x), y)
        loss.backward(create_graph=True)
        return loss.detach()
    with pytest.raises(TraceError, match="create_graph"):
        dl.compile(second_order)(x, y)

    with pytest.raises(TypeError, match="step function"):
        dl.compile(m)
    with pytest.raises(ValueError, match="dynamic"):
        dl.compile(lambda x: x, dynamic=True)


def test_a_view_is_never_overwritten_in_place():
    "A reshape returns a view: an element-wise op after it must not write into the viewed value's buffer."
    a = dl.tensor(rng.standard_normal((4, 3)), dtype=dl.float64)

    def f(a):
        s = a.sum(axis=0, keepdim=True)                  # a value ...
        v = s.reshape(-1)                                # ... a view of it ...
        w = v * 2.0                                      # ... consumed once: not into s's buffer
        return (s + 0).sum() + w.sum()
    with dl.no_grad():
        c = dl.compile(f)
        for _ in range(3):
            assert np.isclose(c(a).item(), f(a).item())


def test_inference_under_no_grad_and_decorator_forms():
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))
    x, _ = batches(dl.float32)[0]

    @dl.compile
    def infer(x): return m(x)

    @dl.compile(fullgraph=True)
    def infer2(x): return m(x).softmax(dim=1)
    with dl.no_grad():
        for _ in range(3):
            out, p = infer(x), infer2(x)
            assert np.allclose(out.numpy(), m(x).numpy()) and np.allclose(p.numpy().sum(1), 1)
    assert dl.compile(infer.fn, disable=True) is infer.fn


def test_program_prints_and_reuses_buffers():
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))
    o = dl.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        o.zero_grad(); loss = F.cross_entropy(m(x), y); loss.backward(); o.step(); return loss
    c = dl.compile(step)
    x, y = batches(dl.float32)[0]
    c(x, y)
    text = str(c.program)
    assert 'linear' in text and 'relu' in text and "into" in text and 'SGD.step()' in text
    assert 'def program(' in c.program.source and 'np.maximum' in c.program.source


def test_engine_reports_nothing_when_not_tracing():
    assert dl.graph._tracers == []
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert dl.graph._tracers == []


def test_compiled_cnn_training_step_equals_eager():
    """A training step of a small CNN (chapter 07's ops have no NumPy template: the program calls their own forward
    and gradient rules) computes what the eager step computes, step after step, float64 and float32."""
    rng = np.random.default_rng(0)
    Xi, Yi = rng.standard_normal((48, 1, 8, 8)), rng.integers(0, 5, 48)

    def run(compiled, dtype):
        dl.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, padding='same', groups=2), nn.ReLU(), nn.AvgPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5)).to(dtype)
        opt = dl.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        f = dl.compile(step) if compiled else step
        losses = [f(dl.tensor(Xi[i:i + 16], dtype=dtype), dl.tensor(Yi[i:i + 16])).item()
                  for i in range(0, 48, 16) for _ in range(2)]
        return losses, [p.detach().numpy().copy() for p in m.parameters()], m, f
    for dtype, tol in ((dl.float64, 1e-12), (dl.float32, 1e-5)):
        l1, w1, m1, _ = run(False, dtype)
        l2, w2, m2, f = run(True, dtype)
        assert f.traces == 1
        np.testing.assert_allclose(l2, l1, rtol=tol, atol=tol)
        for a, b in zip(w1, w2): np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
        np.testing.assert_allclose(m2[1].running_var.numpy(), m1[1].running_var.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_on_3d_inputs_is_one_2d_product_and_equals_eager(bias):
    "A Linear layer on [N, T, K] (a transformer's, an RNN's head) becomes one 2-D product per pass."
    def make():
        dl.manual_seed(3)
        m = nn.Sequential(nn.Linear(6, 8, bias=bias), nn.Tanh(), nn.Linear(8, 5, bias=bias))
        opt = dl.optim.Adam(m.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x).reshape(-1, 5), y.reshape(-1))
            loss.backward()
            opt.step()
            return loss
        return m, step
    rng = np.random.default_rng(0)
    data = [(dl.tensor(rng.standard_normal((4, 7, 6)).astype(np.float32)),
             dl.tensor(rng.integers(0, 5, (4, 7)))) for _ in range(4)]
    (m1, s1), (m2, s2) = make(), make()
    c = dl.compile(s2)
    l1 = [float(s1(x, y)) for x, y in data]
    l2 = [float(c(x, y)) for x, y in data]
    assert c.traces == 1
    src = c.program.source
    assert '_linear_nd(' in src and '_matmul_nd(' in src and '.reshape(-1, 8).T' in src
    np.testing.assert_allclose(l2, l1, atol=1e-6)
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-6)
