"""A custom autograd.Function's node is of a class named as PyTorch names it (one output and several)."""
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


def functions(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x): return x * 2, x * 3

        @staticmethod
        def backward(ctx, a, b): return a * 2 + b * 3

    class Sub(Square):                          # a subclass names its own nodes
        pass
    return Square, Two, Sub


@pytest.mark.parametrize("which", [0, 1, 2])
def test_node_class_name_and_printed_grad_fn(which):
    names = []
    for lib in (dl, torch):
        fn = functions(lib)[which]
        out = fn.apply(lib.ones(2, requires_grad=True))
        outs = out if isinstance(out, tuple) else (out,)
        names.append((type(outs[0].grad_fn).__name__,
                      [repr(o).split('grad_fn=')[1] for o in outs],
                      repr(outs[0].grad_fn).split(' object')[0].rsplit('.', 1)[1],
                      outs[0].grad_fn._forward_cls.__name__))
        sum(o.sum() for o in outs).backward()
    assert names[0] == names[1]
