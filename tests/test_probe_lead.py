"""Parity with PyTorch for what the probes of unseen programs found in chapters 00 and 01:
reductions over an empty dim list, broadcasting errors in PyTorch's words, and the
gradient a retained non-leaf accumulates over two backward passes."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("fn", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("dim", [[], ()])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_list_reduces_every_dim(fn, dim, keepdim):
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    want = getattr(torch, fn)(torch.tensor(a), dim=dim, keepdim=keepdim)
    got = getattr(dl, fn)(dl.tensor(a), dim=dim, keepdim=keepdim)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_empty_dim_list_gradient():
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    x, y = dl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.mean(dim=[]).backward(); y.mean(dim=[]).backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("sa, sb", [((5, 2, 4, 1), (3, 1, 1)), ((2,), (3,)),
                                    ((4, 3), (2, 4, 2)), ((1, 6), (5, 1, 4))])
def test_broadcast_error_in_pytorchs_words(sa, sb):
    with pytest.raises(RuntimeError) as want:
        torch.ones(sa) + torch.ones(sb)
    with pytest.raises(RuntimeError) as got:        # a ValueError too (NumPy's)
        dl.ones(sa) + dl.ones(sb)
    assert isinstance(got.value, ValueError)
    assert str(want.value) in str(got.value)
    assert str(got.value).startswith("add: ")


def test_retained_nonleaf_grad_accumulates_over_two_backwards():
    out = {}
    for lib in (dl, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        h = w * 2
        h.retain_grad()
        loss = (h ** 2).sum()
        loss.backward(retain_graph=True)
        first = h.grad.numpy().copy()
        loss.backward()
        out[lib.__name__] = (first, h.grad.numpy().copy(), w.grad.numpy().copy())
    for a, b in zip(out['deeplearning101'], out['torch']):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(out['torch'][1], [8.0, 16.0])


# ---- in-place changes of tensors that earlier ops read (PyTorch's saved-tensor rule)
X0 = np.array([[-1.0, 2.0, 0.5], [3.0, -0.5, 1.5]], np.float32)


def _mask_sigmoid(lib):
    x = lib.tensor(X0, requires_grad=True); z = x * 2; m = z > 0
    z[m] = lib.sigmoid(z[m]); z.sum().backward(); return x.grad

def _yolo_slice(lib):
    x = lib.tensor(X0, requires_grad=True); p = x * 3
    p[:, :2] = p[:, :2].sigmoid(); (p ** 2).sum().backward(); return x.grad

def _running_sum(lib):
    x = lib.tensor(X0, requires_grad=True); a = x.clone(); a[1:] = a[1:] + a[:-1]
    (a * a).sum().backward(); return x.grad

def _buffer_gets_grad(lib):
    w = lib.tensor(X0, requires_grad=True); v = lib.tensor([5.0], requires_grad=True)
    buf = lib.zeros(2, 3); y = w + buf; buf[0, 0] = v[0] * 2
    (y.sum() + (buf * buf).sum()).backward(); return w.grad, v.grad

def _iadd_on_index(lib):
    a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = a * 2; h[1] += 1; (h ** 2).sum().backward(); return a.grad

def _read_then_overwrite(lib):
    x = lib.tensor(X0, requires_grad=True); z = x + 0; s = z.sum() * 3; z.zero_()
    (s + (z + x).sum()).backward(); return x.grad


@pytest.mark.parametrize("prog", [_mask_sigmoid, _yolo_slice, _running_sum,
                                  _buffer_gets_grad, _iadd_on_index, _read_then_overwrite])
def test_inplace_after_an_op_that_does_not_save_it(prog):
    got, want = prog(dl), prog(torch)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-7)


def _saved_input(lib):
    x = lib.tensor(X0, requires_grad=True); z = x * 2; w = z * z; z[0] = 0
    w.sum().backward()

def _saved_output(lib):
    x = lib.tensor(X0, requires_grad=True); y = x.exp(); s = y.sum(); y.add_(1)
    (s + y.sum()).backward()

def _saved_output_alone(lib):
    x = lib.tensor(X0, requires_grad=True); y = lib.sigmoid(x); y += x
    y.sum().backward()

def _relu_output_via_view(lib):
    x = lib.tensor(X0, requires_grad=True); h = lib.relu(x * 1); g = h.reshape(-1)
    h[h > 1] = 1.0; (g.sum() + h.sum()).backward()


@pytest.mark.parametrize("prog", [_saved_input, _saved_output, _saved_output_alone,
                                  _relu_output_via_view])
def test_inplace_on_a_saved_tensor_raises_as_pytorch(prog):
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        prog(torch)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        prog(dl)


def test_write_through_a_view_then_use_is_refused_not_wrong():
    # PyTorch rebases the views (CopySlices); deeplearning101 refuses, never a wrong grad
    x = dl.tensor(X0, requires_grad=True); z = x + 1; t = z.t(); z[:, 0] = 0
    with pytest.raises(RuntimeError, match="through another view"):
        (t * 2).sum().backward()
    x = dl.tensor(X0, requires_grad=True); m = x[:, :2].clone(); m.diagonal().add_(1)
    with pytest.raises(RuntimeError, match="inplace operation"):     # diagonal: not
        (m ** 2).sum().backward()                                     # followed


def test_setitem_value_with_extra_leading_ones():
    for lib in (dl, torch):
        a = lib.zeros(4); a[1] = lib.tensor([[0.5]])
        b = lib.zeros(2, 3); b[0] = lib.tensor([[1.0, 2.0, 3.0]])
        c = lib.zeros(3, 2); c[lib.tensor([True, False, True])] = lib.tensor([[[1.0, 2.0]]])
        assert a.tolist() == [0.0, 0.5, 0.0, 0.0]
        assert b.tolist() == [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
        assert c.tolist() == [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]
        x = lib.tensor([2.0], requires_grad=True)
        adv = lib.zeros(3); adv[1] = (x * 3).reshape(1, 1); adv.sum().backward()
        assert x.grad.tolist() == [3.0]
        with pytest.raises(RuntimeError):          # leading dims that are not 1: refused
            b[0] = lib.ones(2, 1, 3)


def test_clone_keeps_the_layout_or_takes_memory_format():
    for lib in (dl, torch):
        x = lib.arange(24.0).reshape(2, 3, 4)
        y = lib.arange(48.0).reshape(2, 3, 2, 4)
        cl = y.to(memory_format=lib.channels_last)
        got = [x.transpose(1, 2).clone().stride(), x[:, ::2].clone().stride(),
               x.permute(2, 0, 1).clone().stride(),
               y.clone(memory_format=lib.channels_last).stride(), cl.clone().stride(),
               cl.clone(memory_format=lib.contiguous_format).stride(),
               x[0].t().clone().is_contiguous(), x[0].t().clone().stride()]
        if lib is dl: mine = got
        else: assert [tuple(g) if isinstance(g, tuple) else g for g in mine] == got
    with pytest.raises(RuntimeError, match="rank 4"):
        dl.ones(2, 3).clone(memory_format=dl.channels_last)


def test_all_any_of_uint8_stay_uint8():
    for dtype in ('uint8', 'int64', 'bool', 'float32'):
        a = np.array([[1, 0], [3, 4]]).astype(dtype)
        for f in (lambda L, t: L.all(t), lambda L, t: t.any(dim=0),
                  lambda L, t: t.all(1, keepdim=True)):
            got, want = f(dl, dl.tensor(a)), f(torch, torch.tensor(a))
            assert str(got.dtype).split('.')[-1] == str(want.dtype).split('.')[-1]
            assert got.tolist() == want.tolist()


def test_broadcast_to_method_takes_separate_sizes():
    for lib in (dl, torch):
        assert tuple(lib.ones(4).broadcast_to(2, 3, 4).shape) == (2, 3, 4)
        assert tuple(lib.ones(4).broadcast_to((2, 4)).shape) == (2, 4)


def test_distributions_submodules_as_pytorchs():
    import importlib
    for mod, name in [('distribution', 'Distribution'), ('normal', 'Normal'),
                      ('uniform', 'Uniform'), ('categorical', 'Categorical'),
                      ('bernoulli', 'Bernoulli'), ('multivariate_normal', 'MultivariateNormal'),
                      ('independent', 'Independent'),
                      ('mixture_same_family', 'MixtureSameFamily'), ('kl', 'kl_divergence'),
                      ('gamma', 'Gamma'), ('beta', 'Beta'), ('dirichlet', 'Dirichlet')]:
        for lib in (dl, torch):
            m = getattr(lib.distributions, mod)
            assert getattr(m, name) is getattr(lib.distributions, name)
            assert importlib.import_module(f"{lib.__name__}.distributions.{mod}") is m


def test_gamma_beta_dirichlet_as_pytorchs():
    a, b = np.array([0.5, 2.0, 7.0]), np.array([0.5, 3.0, 1.5])
    x = np.array([0.3, 0.6, 0.9])
    out = {}
    for lib in (dl, torch):
        D = lib.distributions
        ta = lib.tensor(a, requires_grad=True); tb = lib.tensor(b, requires_grad=True)
        dists = [D.Beta(ta, tb), D.Gamma(ta, tb), D.Dirichlet(lib.stack([ta, tb], -1))]
        vals = [lib.tensor(x), lib.tensor(x * 2),
                lib.tensor(np.stack([x, 1 - x], -1))]
        res = []
        for d, v in zip(dists, vals):
            lp = d.log_prob(v)
            res += [lp, d.entropy(), d.mean, d.variance]
        kl = (D.kl_divergence(dists[0], D.Beta(tb, ta)) +
              D.kl_divergence(dists[1], D.Gamma(tb, ta)) +
              D.kl_divergence(dists[2], D.Dirichlet(lib.stack([tb, ta], -1))))
        total = sum(r.sum() for r in res) + kl.sum()
        total.backward()
        out[lib.__name__] = [r.detach().numpy() for r in res] + [kl.detach().numpy(),
                                                                 ta.grad.numpy(), tb.grad.numpy()]
        assert tuple(D.Beta(0.4, 0.4).sample().shape) == ()
        assert tuple(dists[2].sample((5,)).shape) == (5, 3, 2)
        assert str(D.Beta(0.4, 0.4).sample().dtype).endswith('float32')
    for g, w in zip(out['deeplearning101'], out['torch']):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)
    dl.manual_seed(0)
    s = dl.distributions.Beta(2.0, 5.0).sample((40000,))
    assert abs(s.mean().item() - 2 / 7) < 0.005 and 0 < s.min().item() and s.max().item() < 1
    with pytest.raises(ValueError, match="GreaterThan"):
        dl.distributions.Gamma(dl.tensor([-1.0]), dl.tensor([1.0]))


def test_inference_tensor_read_by_a_recorded_op_is_refused():
    for lib in (dl, torch):
        x = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            yi = x * 2
        with pytest.raises(RuntimeError, match="Inference tensors cannot be saved"):
            yi * x                                  # mul keeps yi for x's gradient
        (yi + x).sum().backward()                   # add keeps nothing: allowed
        assert x.grad.tolist() == [1.0, 1.0]
        (yi.clone() * x).sum().backward()           # a clone is a normal tensor


@pytest.mark.parametrize("make", [
    lambda L: L.distributions.Normal(L.tensor([0.0]), L.tensor([1.0])).log_prob(
        L.tensor([float('nan')])),
    lambda L: L.distributions.Categorical(probs=L.tensor([-0.5, 0.7])),
    lambda L: L.distributions.Categorical(logits=L.zeros(3)).log_prob(L.tensor(5)),
    lambda L: L.distributions.Bernoulli(probs=L.tensor([1.5])),
    lambda L: L.distributions.Bernoulli(probs=L.tensor([0.5])).log_prob(L.tensor([0.3])),
    lambda L: L.distributions.Beta(2.0, 3.0).log_prob(L.tensor(1.5)),
    lambda L: L.distributions.Gamma(2.0, 3.0).log_prob(L.tensor(-1.0)),
    lambda L: L.distributions.Dirichlet(L.ones(3)).log_prob(L.tensor([0.5, 0.6, 0.1])),
])
def test_distribution_arguments_are_validated_as_pytorch(make):
    with pytest.raises(ValueError) as want:
        make(torch)
    with pytest.raises(ValueError) as got:
        make(dl)
    head = lambda e: str(e.value).split(' of distribution')[0].split(' (Tensor')[0]
    assert head(got) == head(want)
    # validate_args=False turns the checks off, as in PyTorch
    assert dl.distributions.Normal(0.0, 1.0, validate_args=False).log_prob(
        dl.tensor(float('nan'))).isnan().item()


def _view_progs():
    X = np.array([[1.0, -2.0, 4.0]], np.float32)
    def mk(lib):
        x = lib.tensor(X, requires_grad=True); return x, x * 1
    def p1(lib):
        x, y = mk(lib); y[:, 2].mul_(0.5); (y ** 2).sum().backward(); return x.grad
    def p2(lib):
        x, y = mk(lib); y[..., 1:].sigmoid_(); (y ** 2).sum().backward(); return x.grad
    def p3(lib):
        x, y = mk(lib); a = y[0]; a += 5; (y ** 2).sum().backward(); return x.grad
    def p4(lib):
        x, y = mk(lib); y.view(3)[:1].mul_(3); (y ** 2).sum().backward(); return x.grad
    def p5(lib):
        x, y = mk(lib); lib.nn.functional.relu(y[:, 1:], inplace=True)
        (y ** 2).sum().backward(); return x.grad
    def p6(lib):
        x, y = mk(lib); s = (y * 3).sum(); y.t()[1].add_(1)
        (s + (y ** 2).sum()).backward(); return x.grad
    def p7(lib):   # a view of a view
        x = lib.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
        y = x * 2; y[1][1:].mul_(-1); (y ** 2).sum().backward(); return x.grad
    return [p1, p2, p3, p4, p5, p6, p7]


@pytest.mark.parametrize("prog", _view_progs())
def test_inplace_through_a_view_changes_the_base_as_pytorch(prog):
    np.testing.assert_allclose(prog(dl).numpy(), prog(torch).numpy(), rtol=1e-6)


def test_inplace_on_a_view_of_a_leaf_that_requires_grad_is_refused():
    for lib in (dl, torch):
        a = lib.ones(2, 2, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            a[0].mul_(2)
    a = dl.ones(2, 2, requires_grad=True)
    with dl.no_grad(): a[0].mul_(2)                 # allowed under no_grad, as in PyTorch
    assert a.tolist() == [[2.0, 2.0], [1.0, 1.0]]


def test_default_collate_keeps_string_fields_as_tuples():
    from deeplearning101.utils.data import default_collate as dc
    from torch.utils.data import default_collate as tc
    for batch in ([('a', 1), ('b', 2)], [{'s': 'x', 'n': 1.0}, {'s': 'y', 'n': 2.0}],
                  ['u', 'v'], [[('p', 'q'), 1], [('r', 's'), 2]]):
        assert repr(dc(batch)).replace('dl.', 'torch.') == repr(tc(batch))


def test_apply_and_map_as_pytorch():
    for lib in (dl, torch):
        x = lib.tensor([1.0, 2.0, 3.0]); x.apply_(lambda v: v * 2)
        y = lib.tensor([1.0, 2.0, 3.0]).map_(lib.tensor([10.0, 20.0, 30.0]), lambda a, b: a + b)
        i = lib.tensor([1, 2]).apply_(lambda v: v * 1.7)
        z = lib.arange(6.0).reshape(2, 3).t(); z.apply_(lambda v: -v)
        got = [x.tolist(), y.tolist(), i.tolist(), z.tolist()]
        if lib is dl: mine = got
        else: assert mine == got
        with pytest.raises(RuntimeError, match="requires grad"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)


def test_module_parameters_dict_as_pytorch():
    for lib in (dl, torch):
        m = lib.nn.Linear(3, 2)
        assert list(m._parameters) == ['weight', 'bias']
        assert m._parameters['weight'] is m.weight
        assert list(lib.nn.Sequential(m)._parameters) == []
        m._parameters['extra'] = lib.nn.Parameter(lib.ones(2))
        assert [n for n, _ in m.named_parameters()] == ['weight', 'bias', 'extra']
        del m._parameters['extra']
        assert len(m._parameters) == 2 and 'extra' not in m._parameters
        with pytest.raises(KeyError): m._parameters['nothing']


def test_detect_anomaly_names_the_op_as_pytorch():
    import warnings
    msgs = []
    for lib in (dl, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            with lib.autograd.detect_anomaly():
                assert lib.is_anomaly_enabled()
                with pytest.raises(RuntimeError) as e:
                    (x / x).sum().backward()
        assert any("Anomaly Detection has been enabled" in str(m.message) for m in w)
        msgs.append(str(e.value))
        assert not lib.is_anomaly_enabled()
        lib.autograd.set_detect_anomaly(True); assert lib.is_anomaly_enabled()
        lib.autograd.set_detect_anomaly(False); assert not lib.is_anomaly_enabled()
    assert msgs[0] == msgs[1] == "Function 'DivBackward0' returned nan values in its 1th output."


def test_once_differentiable_as_pytorch():
    out = []
    for lib, od in ((dl, __import__('deeplearning101.autograd.function',
                                    fromlist=['x']).once_differentiable),
                    (torch, torch.autograd.function.once_differentiable)):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, t): ctx.save_for_backward(t); return t ** 3
            @staticmethod
            @od
            def backward(ctx, g):
                t, = ctx.saved_tensors
                return g * 3 * t ** 2
        y = lib.tensor([2.0], requires_grad=True)
        Cube.apply(y).sum().backward()
        (gy,) = lib.autograd.grad(Cube.apply(y * 1).sum() * y, y, create_graph=True)
        with pytest.raises(RuntimeError, match="once_differentiable"):
            gy.sum().backward()
        out.append((y.grad.tolist(), gy.tolist()))
    assert out[0] == out[1]
