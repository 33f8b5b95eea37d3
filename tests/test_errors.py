"""Mistakes get clear errors: the right exception type, naming the op and the shapes involved."""
import re

import numpy as np
import pytest

import deeplearning101 as dl


def _ones(*shape):
    return dl.tensor(np.ones(shape))


# --------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (5, 6)), ((4,), (3, 2))])
def test_matmul_misaligned_shapes(sa, sb):
    with pytest.raises(ValueError) as info:
        _ones(*sa) @ _ones(*sb)
    msg = str(info.value)
    assert "matmul" in msg
    assert str(sa) in msg and str(sb) in msg, msg


def test_matmul_batch_dimensions_that_do_not_broadcast():
    "The inner dimensions agree, the batch dimensions do not: NumPy's own message, with the op and the shapes."
    with pytest.raises(ValueError) as info:
        _ones(2, 3, 4) @ _ones(5, 4, 2)
    msg = str(info.value)
    assert msg.startswith("matmul:") and "[2, 3, 4]" in msg and "[5, 4, 2]" in msg, msg


def test_matmul_of_a_scalar_is_an_error():
    with pytest.raises(ValueError, match="matmul"):
        dl.matmul(_ones(), _ones(3))


@pytest.mark.parametrize("op,name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
                                     (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
                                     (dl.maximum, "maximum")])
def test_broadcasting_failure_names_the_op_and_shapes(op, name):
    with pytest.raises(ValueError) as info:
        op(_ones(2, 3), _ones(4))
    msg = str(info.value)
    assert msg.startswith(name + ":"), msg
    # PyTorch's words, then the two inputs' dtypes and shapes
    assert "tensor a (3) must match the size of tensor b (4)" in msg, msg
    assert "[2, 3]" in msg and "[4]" in msg, msg


def test_broadcasting_failure_inside_session_run_names_the_op():
    x = dl.placeholder("x")
    y = x + _ones(2, 3)
    with pytest.raises(ValueError) as info:
        dl.Session().run(y, {x: np.ones(4)})
    assert "add" in str(info.value) and "[2, 3]" in str(info.value)


def test_reshape_to_a_wrong_size():
    with pytest.raises(ValueError, match=r"reshape.*6"):
        _ones(2, 3).reshape(4, 2)


def test_index_out_of_range():
    with pytest.raises(IndexError, match=r"index.*5"):
        _ones(2, 3)[5]


def test_concatenate_mismatched_shapes_and_empty_list():
    with pytest.raises(ValueError, match="cat"):
        dl.concatenate([_ones(2, 3), _ones(2, 4)], axis=0)
    with pytest.raises(ValueError, match="cat"):
        dl.concatenate([])
    with pytest.raises(ValueError, match="stack"):
        dl.stack([])


def test_clip_needs_a_bound():
    with pytest.raises(RuntimeError, match="clamp: at least one"):              # as torch.clamp
        dl.clip(_ones(3))


# --------------------------------------------------------------------------- making tensors

@pytest.mark.parametrize("data", [[1, 2], 3, np.array([1, 2], dtype=np.int32), [True, False]])
def test_requires_grad_on_a_non_float_tensor(data):
    with pytest.raises(TypeError) as info:
        dl.tensor(data, requires_grad=True)
    assert "dtype" in str(info.value) and str(np.asarray(data).dtype) in str(info.value)
    t = dl.tensor(data)
    with pytest.raises(TypeError, match="dtype"):
        t.requires_grad_()
    with pytest.raises(TypeError, match="dtype"):
        t.requires_grad = True
    assert not t.requires_grad


@pytest.mark.parametrize("data", ["abc", None, [1, "a"], {"a": 1}, object()])
def test_non_numeric_input(data):
    with pytest.raises(TypeError) as info:
        dl.tensor(data)
    assert "tensor" in str(info.value)


@pytest.mark.parametrize("data, words", [([[1, 2], [3]], "expected sequence of length 2 at dim 1 (got 1)"),
                                         ([[1, 2], 3], "at dim 1 (got a number)"),
                                         ([[[1], [2]], [[3], [4, 5]]], "length 1 at dim 2 (got 2)")])
def test_ragged_lists_refused_in_pytorchs_words(data, words):
    with pytest.raises(ValueError) as info:         # PyTorch raises ValueError here too
        dl.tensor(data)
    assert str(info.value) == f"tensor: {words}" or words in str(info.value)


def test_non_numeric_operand():
    with pytest.raises(TypeError):
        _ones(3) + "abc"


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    y = dl.tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad = False


# --------------------------------------------------------------------------- the TF1 face

def test_feeding_a_placeholder_with_nothing():
    x = dl.placeholder("images")
    y = dl.relu(x * 2.0) + dl.Variable(np.zeros(3))
    with pytest.raises(RuntimeError) as info:
        dl.Session().run(y)
    assert "images" in str(info.value) and "feed" in str(info.value)
    with pytest.raises(RuntimeError, match="images"):
        dl.Session().run(y, feed_dict={})


def test_feeding_one_placeholder_and_forgetting_another():
    x, z = dl.placeholder("x"), dl.placeholder("labels")
    with pytest.raises(RuntimeError, match="labels"):
        dl.Session().run(x + z, {x: np.ones(2)})
    assert x.data is None, "the fed placeholder is emptied even when run fails"


def test_feed_dict_keys_must_be_placeholders():
    x = dl.placeholder("x")
    with pytest.raises(TypeError, match="placeholder"):
        dl.Session().run(x * 2.0, {"x": np.ones(2)})


def test_feeding_a_placeholder_with_non_numbers():
    x = dl.placeholder("x")
    with pytest.raises(TypeError, match="'x'"):
        dl.Session().run(x * 2.0, {x: "abc"})


def test_session_run_after_the_graph_was_freed_by_backward():
    x = dl.placeholder("x")
    w = dl.Variable(np.ones(3))
    loss = (x * w).sum()
    free = dl.Action([loss], loss.backward, name="backward")    # backward inside a run
    dl.Session().run(free, {x: np.ones(3)})
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3))
    with pytest.raises(RuntimeError, match="freed"):
        dl.Session().run(loss, {x: np.ones(3)})


# --------------------------------------------------------------------------- backward

def test_backward_twice_without_retain_graph():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert "retain_graph" in str(info.value)
    with pytest.raises(RuntimeError, match="retain_graph"):
        dl.grad(y, x)


def test_backward_on_a_non_scalar_without_a_gradient():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        (x * 2.0).backward()
    assert "scalar" in str(info.value) and "[2]" in str(info.value)
    with pytest.raises(RuntimeError, match="scalar"):
        dl.grad(x * 2.0, x)


def test_backward_on_a_one_element_non_scalar_is_allowed():
    x = dl.tensor([3.0], requires_grad=True)
    (x * 2.0).backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [2.0])


def test_gradient_of_the_wrong_shape():
    x = dl.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(ValueError) as info:
        y.backward(np.ones((3, 2)))
    msg = str(info.value)
    assert "[3, 2]" in msg and "[2, 3]" in msg
    with pytest.raises(ValueError, match=r"\[3\]"):
        dl.grad(y, x, grad_outputs=np.ones(3))
    y.backward(np.ones((2, 3)))                     # the failed calls must not have freed the graph
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.full((2, 3), 2.0))


def test_grad_of_an_unused_input():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    unused = dl.tensor([3.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError) as info:
        dl.grad(y, [x, unused], retain_graph=True)
    assert "allow_unused" in str(info.value) and "input 1" in str(info.value)
    gx, gu = dl.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.detach().numpy(), [2.0, 4.0])
    assert gu is None


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="requires_grad"):
        dl.tensor(1.0).backward()
    x = dl.tensor(1.0, requires_grad=True)
    with dl.no_grad():
        y = x * 2.0
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_grad_with_respect_to_a_tensor_that_does_not_require_grad():
    x = dl.tensor([1.0], requires_grad=True)
    c = dl.tensor([2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        dl.grad((x * c).sum(), [x, c])


# --------------------------------------------------------------------------- gradcheck

def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="nothing to check"):
        dl.gradcheck(lambda t: t * 2.0, dl.tensor([1.0]))


def test_gradcheck_error_says_where_it_disagrees():
    class Square(dl.Op):
        name = "bad_square"
        def forward(self, a): return a * a
        def backward(self, grad, out, a): return (grad * a,)     # missing factor 2

    with pytest.raises(dl.GradcheckError) as info:
        dl.gradcheck(lambda t: Square.apply(t), dl.tensor(np.array([1.0, 2.0]), requires_grad=True))
    msg = str(info.value)
    assert "input 0" in msg and "central differences" in msg
    assert issubclass(dl.GradcheckError, AssertionError)


def test_an_op_without_a_gradient_rule():
    class NoGrad(dl.Op):
        name = "mystery"
        def forward(self, a): return a + 1

    y = NoGrad.apply(dl.tensor([1.0], requires_grad=True)).sum()
    with pytest.raises(NotImplementedError, match="mystery"):
        y.backward()


def test_backward_of_a_placeholder_graph_outside_a_run_says_so():
    x = dl.placeholder('x')
    loss = (x * dl.tensor([1.0], requires_grad=True)).sum()
    with pytest.raises(RuntimeError, match="depends on a placeholder"):
        loss.backward()
