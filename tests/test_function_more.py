"""Parity with PyTorch for the rest of `autograd.Function` (chapter 01) and two tensor hooks.

Each check is written once against a library (`dl` or `torch`), run with both, and compared:
several outputs (a tuple; one gradient per output, zeros or None for an output that got none),
`ctx.mark_non_differentiable`, `ctx.set_materialize_grads`, `ctx.mark_dirty`, non-tensor outputs,
the new-style `forward` + `setup_context`, the checks on what `backward` returns, `Tensor.retains_grad`
and `Tensor.register_post_accumulate_grad_hook`.
"""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

LIBS = [dl, torch]


def _grad_list(g):
    return None if g is None else g.detach().numpy().tolist()


def _sort_fn(lib):
    "PyTorch's docs example: sorted values and their indices, the indices not differentiable."
    seen = {}

    class Sort(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return s, idx

        @staticmethod
        def backward(ctx, g1, g2):
            seen['g2'], seen['g2 dtype'] = g2.tolist(), str(g2.dtype).split('.')[-1]
            x, idx = ctx.saved_tensors
            return lib.zeros_like(x).index_add_(0, idx, g1)
    return Sort, seen


def _sort_run(lib):
    Sort, seen = _sort_fn(lib)
    x = lib.tensor([3., 1., 2., 0.5], requires_grad=True)
    s, idx = Sort.apply(x)
    (s * lib.arange(4.)).sum().backward()
    return dict(s=s.tolist(), idx=idx.tolist(), idx_rg=idx.requires_grad, s_rg=s.requires_grad,
                leaf=idx.is_leaf, grad=x.grad.tolist(), same_node=s.grad_fn is idx.grad_fn, **seen)


def test_sort_docs_example():
    ours, theirs = _sort_run(dl), _sort_run(torch)
    assert ours == theirs
    assert ours['grad'] == [3., 1., 2., 0.] and ours['g2'] == [0, 0, 0, 0] and not ours['idx_rg']


def _two_fn(lib, materialize=True, new_style=False):
    "(x * 1, x ** 2), recording the gradients its backward gets."
    got = []

    def _backward(ctx, g1, g2):
        got.append((_grad_list(g1), _grad_list(g2)))
        x, = ctx.saved_tensors
        return (0 if g1 is None else g1) + (0 if g2 is None else 2 * x * g2)

    if new_style:
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(x): return x * 1, x ** 2

            @staticmethod
            def setup_context(ctx, inputs, output):
                assert isinstance(output, tuple) and len(output) == 2
                ctx.save_for_backward(inputs[0]); ctx.set_materialize_grads(materialize)
            backward = staticmethod(_backward)
    else:
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x); ctx.set_materialize_grads(materialize)
                return x * 1, x ** 2
            backward = staticmethod(_backward)
    return Two, got


LOSSES = {'both': lambda a, b: (a * 3 + b).sum(), 'first': lambda a, b: (a * 3).sum(),
          'second': lambda a, b: b.sum()}


@pytest.mark.parametrize("new_style", [False, True])
@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("used", sorted(LOSSES))
def test_two_outputs_used_by_both_or_one(used, materialize, new_style):
    def run(lib):
        Two, got = _two_fn(lib, materialize, new_style)
        x = lib.tensor(np.array([1., -2., 3.]), requires_grad=True)
        a, b = Two.apply(x)
        LOSSES[used](a, b).backward()
        return got, x.grad.tolist(), a.requires_grad, b.requires_grad, a.grad_fn is b.grad_fn
    ours, theirs = run(dl), run(torch)
    assert ours == theirs
    if used != 'both': assert (None in ours[0][0]) != materialize   # zeros, or None


def test_gradcheck_several_outputs_float64():
    x = np.array([0.5, -1.5, 2.0])
    for lib in LIBS:
        Two, _ = _two_fn(lib)
        t = lib.tensor(x, requires_grad=True)
        assert lib.autograd.gradcheck(Two.apply, (t,))
        assert lib.autograd.gradcheck(lambda u: Two.apply(u)[1], (t,))

    class Wrong(dl.autograd.Function):          # the second output's rule forgets the 2
        @staticmethod
        def forward(ctx, x): ctx.save_for_backward(x); return x * 1, x ** 2

        @staticmethod
        def backward(ctx, g1, g2): return g1 + ctx.saved_tensors[0] * g2
    with pytest.raises(dl.GradcheckError):
        dl.autograd.gradcheck(Wrong.apply, dl.tensor(x, requires_grad=True))


def test_second_derivatives_through_several_outputs():
    def run(lib):
        Two, _ = _two_fn(lib)
        x = lib.tensor(np.array([1., -2., 3.]), requires_grad=True)
        a, b = Two.apply(x)
        g, = lib.autograd.grad((a * b + b).sum(), x, create_graph=True)
        h, = lib.autograd.grad((g * g).sum(), x)
        return g.tolist(), h.tolist()
    ours, theirs = run(dl), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_adjoints_come_in_the_outputs_dtype():
    "float32 outputs times an int64 tensor: backward still gets float32 adjoints."
    def run(lib):
        dtypes = []

        class Copy2(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x): return x.clone(), x.clone()

            @staticmethod
            def backward(ctx, g1, g2):
                dtypes.append(str(g1.dtype).split('.')[-1]); return g1 + g2
        x = lib.tensor([1., 2., 3.], requires_grad=True)
        a, b = Copy2.apply(x)
        (a * lib.arange(3)).sum().backward()
        return dtypes, x.grad.tolist(), str(x.grad.dtype).split('.')[-1]
    assert run(dl) == run(torch)


def test_non_tensor_outputs_pass_through():
    def run(lib):
        got = []

        class NT(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x): return x * 2, 3, None

            @staticmethod
            def backward(ctx, g, g2, g3):                   # nothing saved: ()
                got.append((g.tolist(), g2, g3, ctx.saved_tensors)); return g * 2
        x = lib.tensor([1., 2.], requires_grad=True)
        y, three, none = NT.apply(x)
        y.sum().backward()
        return three, none, got, x.grad.tolist()
    assert run(dl) == run(torch)


def test_same_tensor_twice_and_an_input_returned():
    def run(lib):
        got = []

        class Same(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x): y = x * 2; return y, y, x

            @staticmethod
            def backward(ctx, g1, g2, g3):
                got.append([g.tolist() for g in (g1, g2, g3)]); return 2 * (g1 + g2) + g3
        x = lib.tensor([1., 2.], requires_grad=True)
        p, q, r = Same.apply(x)
        (p + 3 * q + r).sum().backward()
        return p is q, r is x, r.requires_grad, got, x.grad.tolist()
    assert run(dl) == run(torch)


def test_an_output_marked_non_differentiable_and_integer_outputs():
    def run(lib):
        got = []

        class ND(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y, z = x * 2, x * 3
                ctx.mark_non_differentiable(z)
                return y, z, x.argmax()

            @staticmethod
            def backward(ctx, g1, g2, g3):
                got.append((g2.tolist(), g3.tolist())); return g1 * 2
        x = lib.tensor([1., 2.], requires_grad=True)
        y, z, i = ND.apply(x)
        flags = (y.requires_grad, z.requires_grad, z.is_leaf, i.requires_grad)
        y.sum().backward()
        return flags, got, x.grad.tolist()
    assert run(dl) == run(torch)


def _add_one_(lib):
    class AddOne_(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g): return g * 3
    return AddOne_


def test_mark_dirty():
    def run(lib):
        w = lib.tensor([1., 2.], requires_grad=True)
        h = w * 2
        out = _add_one_(lib).apply(h)
        res = [out is h, h.tolist(), h._version, h.requires_grad, h.is_leaf]
        (h * h).sum().backward()
        res.append(w.grad.tolist())
        plain = lib.tensor([1., 2.])                    # no input requires grad: itself
        res += [_add_one_(lib).apply(plain) is plain, plain.tolist(), plain._version]
        leaf = lib.tensor([1.], requires_grad=True)     # under no_grad: an alias
        with lib.no_grad(): y = _add_one_(lib).apply(leaf)
        res += [y is leaf, y.requires_grad, leaf.tolist()]
        return res
    assert run(dl) == run(torch)


def test_mark_dirty_rebases_a_leaf_that_does_not_require_grad():
    def run(lib):
        class Mul_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x.clone(), w)
                x.mul_(w); ctx.mark_dirty(x); return x

            @staticmethod
            def backward(ctx, g):
                x0, w = ctx.saved_tensors
                return g * w, (g * x0).sum().reshape(w.shape)
        x, w = lib.tensor([1., 2.]), lib.tensor([3.], requires_grad=True)
        y = Mul_.apply(x, w)
        res = [y is x, x.requires_grad, x.is_leaf, x.tolist()]
        x.sum().backward()
        return res + [w.grad.tolist()]
    assert run(dl) == run(torch)


def test_mark_dirty_errors():
    x = dl.tensor([1.], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        _add_one_(dl).apply(x)

    class NotReturned(dl.autograd.Function):
        @staticmethod
        def forward(ctx, x): x.add_(1); ctx.mark_dirty(x); return x * 2

        @staticmethod
        def backward(ctx, g): return g
    with pytest.raises(RuntimeError, match="NotReturned.apply: .*marked as dirty.*not returned"):
        NotReturned.apply(dl.tensor([1.], requires_grad=True) * 1)
    with pytest.raises(RuntimeError):                   # PyTorch raises both as well
        _add_one_(torch).apply(torch.tensor([1.], requires_grad=True))


def test_setup_context_mul_constant():
    "PyTorch's docs example of the new style."
    def run(lib):
        seen = []

        class MulConstant(lib.autograd.Function):
            @staticmethod
            def forward(tensor, constant): return tensor * constant

            @staticmethod
            def setup_context(ctx, inputs, output):
                tensor, constant = inputs
                ctx.constant = constant
                seen.append((tuple(ctx.needs_input_grad), type(output) is lib.Tensor))

            @staticmethod
            def backward(ctx, grad_output): return grad_output * ctx.constant, None
        t = lib.tensor([1.0, -2.0], requires_grad=True)
        MulConstant.apply(t, 2.5).sum().backward()
        return t.grad.tolist(), seen
    assert run(dl) == run(torch) == ([2.5, 2.5], [((True, False), True)])


def test_setup_context_not_overridden_means_old_style():
    class Old(dl.autograd.Function):
        @staticmethod
        def forward(x): return x * 2                     # no ctx, no setup_context

        @staticmethod
        def backward(ctx, g): return g
    with pytest.raises(TypeError):
        Old.apply(dl.tensor([1.], requires_grad=True))
    with pytest.raises(NotImplementedError, match="setup_context is not implemented"):
        dl.autograd.Function.setup_context(None, (), None)


def _returns(lib, grads):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k): return x * k

        @staticmethod
        def backward(ctx, g): return grads(g)
    return F


def test_what_backward_returns():
    def run(lib, grads):
        x = lib.tensor([1., 2., 3.], requires_grad=True)
        _returns(lib, grads).apply(x, 2.).sum().backward()
        return x.grad.tolist()
    for grads in (lambda g: (g * 2, None, None),                            # extra Nones: fine
                  lambda g: (lib_ones(g, (4, 3)), None)):                   # expandable: summed
        assert run(dl, grads) == run(torch, grads)
    bad = {'incorrect number|returned 1 gradients': lambda g: g * 2,
           'different than None at position 2': lambda g: (g, g),
           'invalid gradient at index 0': lambda g: (g[:2], None)}
    for message, grads in bad.items():
        for lib in LIBS:
            with pytest.raises(RuntimeError, match=message):
                run(lib, grads)


def lib_ones(like, shape):
    return (dl if isinstance(like, dl.Tensor) else torch).ones(*shape)


def test_retains_grad():
    def run(lib):
        x = lib.tensor([1., 2.], requires_grad=True)
        y = x * 2
        res = [x.retains_grad, y.retains_grad]
        x.retain_grad(); y.retain_grad()
        res += [x.retains_grad, y.retains_grad, lib.tensor([1.]).retains_grad]
        (y * y).sum().backward()
        res.append(y.grad.tolist())
        try: y.retains_grad = False
        except AttributeError: res.append('read-only')
        return res
    assert run(dl) == run(torch) == [False, False, False, True, False, [4., 8.], 'read-only']


def test_post_accumulate_grad_hook():
    def run(lib):
        x = lib.tensor([1., 2.], requires_grad=True)
        calls = []
        h1 = x.register_post_accumulate_grad_hook(
            lambda t: calls.append(('h1', t is x, t.grad.tolist())))
        x.register_post_accumulate_grad_hook(lambda t: calls.append(('h2', t.grad.tolist())))
        x.register_hook(lambda g: g * 10)               # runs before, changes what lands
        (x * x).sum().backward()
        (x * 3).sum().backward()                        # accumulates: the hook sees the sum
        lib.autograd.grad((x * x).sum(), x)             # no .grad: no call
        w = lib.tensor([1.], requires_grad=True)
        (x * w).sum().backward(inputs=[w])              # x left out: no call
        h1.remove()
        (x * 1).sum().backward()
        return calls, x.grad.tolist()
    assert run(dl) == run(torch)


def test_post_accumulate_grad_hook_optimizer_in_backward():
    "The PyTorch tutorial's idiom: each parameter steps as soon as its gradient is ready."
    def run(lib):
        rng = np.random.default_rng(0)
        w1, w2 = (lib.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 4), (4,)))
        def step(p):
            p.data -= 0.1 * p.grad
            p.grad = None
        for p in (w1, w2): p.register_post_accumulate_grad_hook(step)
        x = lib.tensor(rng.standard_normal((5, 3)))
        for _ in range(3): (lib.tanh(x @ w1) @ w2).square().mean().backward()
        return [w1.tolist(), w2.tolist(), w1.grad, w2.grad]
    ours, theirs = run(dl), run(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    assert ours[2:] == theirs[2:] == [None, None]


def test_post_accumulate_grad_hook_errors():
    for lib in LIBS:
        x = lib.tensor([1., 2.], requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.tensor([1.]).register_post_accumulate_grad_hook(lambda t: None)
        x.register_post_accumulate_grad_hook(lambda t: t * 2)
        with pytest.raises(RuntimeError, match="should return None"):
            (x * 2).sum().backward()


def test_mark_dirty_keeps_the_old_value_for_the_op_before():
    """exp's rule reads its output, which forward then changes in place: dl keeps the old
    value (as its own in-place ops do) and gets the right gradient; PyTorch refuses."""
    w = dl.tensor([0., 1.], dtype=dl.float64, requires_grad=True)
    h = w.exp()
    _add_one_(dl).apply(h)
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.exp([0., 1.]))
    wt = torch.tensor([0., 1.], dtype=torch.float64, requires_grad=True)
    ht = wt.exp()
    _add_one_(torch).apply(ht)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ht.sum().backward()
