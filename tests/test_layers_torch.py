"""Chapter 03 layers against PyTorch (skipped when torch is not installed), in float64: values and gradients of
Linear, the losses (every reduction), activations, BatchNorm1d in training and evaluation (running statistics
included), state-dict names, and SGD steps."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")
F = torch.nn.functional


def pair(a, requires_grad=True):
    "The same float64 values as a dl tensor and a torch tensor."
    a = np.asarray(a, np.float64)
    return dl.tensor(a.copy(), requires_grad=requires_grad), torch.tensor(a.copy(), requires_grad=requires_grad)


def close(a, b, tol=1e-10):
    a = a.data if isinstance(a, dl.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def copy_into_torch(dl_model, torch_model):
    "Load dl's state dict into torch by name: the names are the same."
    torch_model.load_state_dict({k: torch.tensor(v.data) for k, v in dl_model.state_dict().items()})


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_cross_entropy(reduction, rng):
    z, zt = pair(rng.standard_normal((7, 5)) * 3)
    y = rng.integers(0, 5, 7)
    a, b = dl.CrossEntropyLoss(reduction)(z, y), F.cross_entropy(zt, torch.tensor(y), reduction=reduction)
    close(a, b)
    g = rng.standard_normal(a.shape) if reduction == 'none' else None
    a.backward(g); b.backward(torch.tensor(g) if g is not None else None)
    close(z.grad, zt.grad)


def test_cross_entropy_extreme_logits():
    z, zt = pair([[1e4, 0.0, -1e4], [-500.0, 500.0, 499.0]])
    y = [2, 2]
    a, b = dl.cross_entropy(z, y, reduction='none'), F.cross_entropy(zt, torch.tensor(y), reduction='none')
    close(a, b)
    a.sum().backward(); b.sum().backward()
    close(z.grad, zt.grad)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_mse_and_bce_with_logits(reduction, rng):
    p, pt = pair(rng.standard_normal((4, 3)) * 4)
    t = rng.uniform(0, 1, (4, 3))
    for ours, theirs in [(dl.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction)),
                         (dl.BCEWithLogitsLoss(reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction)),
                         (dl.BCEWithLogitsLoss(reduction, pos_weight=2.5),
                          torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(2.5, dtype=torch.float64)))]:
        p.grad = None; pt.grad = None
        a, b = ours(p, dl.tensor(t)), theirs(pt, torch.tensor(t))
        close(a, b)
        a.sum().backward(); b.sum().backward()
        close(p.grad, pt.grad)


@pytest.mark.parametrize('shape', [(6, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize('bias', [True, False])
def test_linear_forward_backward(shape, bias, rng):
    lin = dl.Linear(4, 3, bias=bias).double()
    tl = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    copy_into_torch(lin, tl)
    x, xt = pair(rng.standard_normal(shape))
    g = rng.standard_normal(shape[:-1] + (3,))
    a, b = lin(x), tl(xt)
    close(a, b)
    a.backward(g); b.backward(torch.tensor(g))
    close(x.grad, xt.grad); close(lin.weight.grad, tl.weight.grad)
    if bias: close(lin.bias.grad, tl.bias.grad)


@pytest.mark.parametrize('ours,theirs', [(dl.ReLU(), torch.nn.ReLU()), (dl.Sigmoid(), torch.nn.Sigmoid()),
                                         (dl.Tanh(), torch.nn.Tanh()), (dl.Softmax(dim=1), torch.nn.Softmax(dim=1)),
                                         (dl.Softmax(dim=0), torch.nn.Softmax(dim=0))])
def test_activations(ours, theirs, rng):
    x, xt = pair(rng.standard_normal((5, 4)) * 3)
    g = rng.standard_normal((5, 4))
    a, b = ours(x), theirs(xt)
    close(a, b)
    a.backward(g); b.backward(torch.tensor(g))
    close(x.grad, xt.grad)


@pytest.mark.parametrize('shape', [(8, 3), (5, 3, 4)])
@pytest.mark.parametrize('momentum', [0.1, 0.3, None])
@pytest.mark.parametrize('affine', [True, False])
def test_batchnorm_train_eval_running_stats(shape, momentum, affine, rng):
    bn = dl.BatchNorm1d(3, momentum=momentum, affine=affine).double()
    tb = torch.nn.BatchNorm1d(3, momentum=momentum, affine=affine, dtype=torch.float64)
    if affine:
        bn.weight.data[:] = rng.uniform(0.5, 2, 3); bn.bias.data[:] = rng.standard_normal(3)
    copy_into_torch(bn, tb)
    for step in range(3):                                          # training steps: outputs, grads, running stats
        x, xt = pair(rng.standard_normal(shape) * 2 + step)
        g = rng.standard_normal(shape)
        a, b = bn(x), tb(xt)
        close(a, b, 1e-9)
        a.backward(g); b.backward(torch.tensor(g))
        close(x.grad, xt.grad, 1e-9)
        if affine: close(bn.weight.grad, tb.weight.grad, 1e-9); close(bn.bias.grad, tb.bias.grad, 1e-9)
        close(bn.running_mean, tb.running_mean); close(bn.running_var, tb.running_var)
        assert bn.num_batches_tracked.item() == tb.num_batches_tracked.item()
    bn.eval(); tb.eval()
    x, xt = pair(rng.standard_normal((2,) + shape[1:]))
    g = rng.standard_normal(x.shape)
    a, b = bn(x), tb(xt)
    close(a, b, 1e-9)
    a.backward(g); b.backward(torch.tensor(g))
    close(x.grad, xt.grad, 1e-9)
    assert list(bn.state_dict()) == list(tb.state_dict())


def test_batchnorm_without_running_stats(rng):
    bn = dl.BatchNorm1d(3, track_running_stats=False).double().eval()
    tb = torch.nn.BatchNorm1d(3, track_running_stats=False, dtype=torch.float64).eval()
    x, xt = pair(rng.standard_normal((6, 3)))
    close(bn(x), tb(xt), 1e-9)
    assert list(bn.state_dict()) == list(tb.state_dict()) == ['weight', 'bias']


def test_sequential_state_dict_names_and_outputs(rng):
    dl.manual_seed(0)
    m = dl.Sequential(dl.Linear(5, 8), dl.BatchNorm1d(8), dl.ReLU(), dl.Dropout(0.5), dl.Linear(8, 3)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                             torch.nn.Linear(8, 3)).double()
    assert list(m.state_dict()) == list(tm.state_dict())
    copy_into_torch(m, tm)
    m.eval(); tm.eval()
    x, xt = pair(rng.standard_normal((4, 5)))
    close(m(x), tm(xt))
    back = dl.Sequential(dl.Linear(5, 8), dl.BatchNorm1d(8), dl.ReLU(), dl.Dropout(0.5), dl.Linear(8, 3)).double().eval()
    back.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})     # and the other way round
    close(back(x), tm(xt))


def test_sgd_steps_match(rng):
    dl.manual_seed(0)
    m = dl.Sequential(dl.Linear(4, 6), dl.Tanh(), dl.Linear(6, 3)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    copy_into_torch(m, tm)
    opt, topt = dl.SGD(m.parameters(), lr=0.3), torch.optim.SGD(tm.parameters(), lr=0.3)
    for _ in range(5):
        X, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
        for model, o, loss in ((m, opt, lambda: dl.cross_entropy(m(dl.tensor(X)), y)),
                               (tm, topt, lambda: F.cross_entropy(tm(torch.tensor(X)), torch.tensor(y)))):
            o.zero_grad(); l = loss(); l.backward(); o.step()
    for (k, a), b in zip(m.state_dict().items(), tm.state_dict().values()): close(a, b, 1e-9)


def test_init_gain_and_bounds():
    for nl, param in [('relu', None), ('tanh', None), ('sigmoid', None), ('linear', None), ('leaky_relu', 0.2),
                      ('leaky_relu', 5 ** 0.5)]:
        assert np.isclose(dl.calculate_gain(nl, param), torch.nn.init.calculate_gain(nl, param))
    w, wt = dl.zeros(64, 32), torch.zeros(64, 32)
    for ours, theirs in [(dl.kaiming_uniform_, torch.nn.init.kaiming_uniform_), (dl.xavier_uniform_, torch.nn.init.xavier_uniform_)]:
        ours(w); theirs(wt)
        assert abs(np.abs(w.data).max() / wt.abs().max().item() - 1) < 0.05       # the same support
