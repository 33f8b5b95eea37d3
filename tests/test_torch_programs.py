"""PyTorch programs, as people write them, run unchanged on deeplearning101.

Every `prog_*` function below is ordinary beginner PyTorch code in the style of the official tutorials (Quickstart,
the autograd tutorial, "Learning PyTorch with Examples", "What is torch.nn really?"), d2l.ai, Karpathy's makemore
and micrograd. Each is written once, against a module handle `torch`, and run twice: with the real `torch` and with
`deeplearning101` passed in its place. The results (losses, parameters, gradients, flags) must agree to float32
precision, and have the same Python types and NumPy dtypes.

Initial weights and data come from a NumPy generator, so both runs start identically; where a program uses the
library's own random numbers (shuffling, `randperm`, dropout) only quantities that do not depend on the draws are
compared. Skipped when torch is not installed."""
import copy
import io
import math
import os
import string
import tempfile
from collections import OrderedDict

import numpy as np
import pytest

import deeplearning101 as dl

torch_lib = pytest.importorskip("torch")

RTOL, ATOL = 2e-4, 2e-5


# ------------------------------------------------------------------------------------------------------------------
# Helpers shared by the programs (plain NumPy: they build the data and starting weights, nothing else)
# ------------------------------------------------------------------------------------------------------------------

def _blobs(seed=0, n=120, d=6, k=3):
    "A small classification problem: float32 features (n, d), int64 labels (n,)."
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)).astype(np.float32) * 2
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.standard_normal((n, d))).astype(np.float32)
    return x, y


def _set_params(torch, model, seed=0, scale=0.3):
    "Overwrite every parameter of `model`, in `model.parameters()` order, with seeded NumPy draws."
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor((rng.standard_normal(tuple(p.shape)) * scale).astype(np.float32)))


# ------------------------------------------------------------------------------------------------------------------
# Official tutorials
# ------------------------------------------------------------------------------------------------------------------

def prog_quickstart(torch):
    "Quickstart: a NeuralNetwork with Flatten + Sequential, train/test loops over DataLoaders."
    nn = torch.nn
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    rng = np.random.default_rng(1)
    images = rng.random((96, 1, 6, 6), dtype=np.float32)
    labels = (images.reshape(96, -1)[:, :4].argmax(1)).astype(np.int64)
    training_data = TensorDataset(torch.tensor(images[:64]), torch.tensor(labels[:64]))
    test_data = TensorDataset(torch.tensor(images[64:]), torch.tensor(labels[64:]))
    train_dataloader = DataLoader(training_data, batch_size=16)
    test_dataloader = DataLoader(test_data, batch_size=16)

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(6 * 6, 32),
                nn.ReLU(),
                nn.Linear(32, 32),
                nn.ReLU(),
                nn.Linear(32, 4),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork()
    _set_params(torch, model, seed=2)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        losses = []
        for batch, (X, y) in enumerate(dataloader):
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 2 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                losses.append((loss, current, size))
        return losses

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        return test_loss, correct

    history = []
    for t in range(3):
        history.append(train(train_dataloader, model, loss_fn, optimizer))
        history.append(test(test_dataloader, model, loss_fn))
    return dict(history=history, w=model.linear_relu_stack[0].weight.detach().numpy())


def prog_autograd_tutorial(torch):
    "Automatic differentiation with torch.autograd (basics tutorial), incl. the Jacobian-product section."
    rng = np.random.default_rng(3)
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = torch.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    has_grad_fn = z.grad_fn is not None and loss.grad_fn is not None
    loss.backward()
    out = dict(loss=loss.item(), w_grad=w.grad.numpy(), b_grad=b.grad.numpy(), has_grad_fn=has_grad_fn)

    z = torch.matmul(x, w) + b
    out['requires_grad'] = z.requires_grad
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    out['no_grad_requires_grad'] = z.requires_grad
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    out['detached_requires_grad'] = z_det.requires_grad

    inp = torch.eye(4, 5, requires_grad=True)
    out_ = (inp + 1).pow(2).t()
    out_.backward(torch.ones_like(out_), retain_graph=True)
    out['first_call'] = inp.grad.clone().numpy()
    out_.backward(torch.ones_like(out_), retain_graph=True)
    out['second_call'] = inp.grad.clone().numpy()
    inp.grad.zero_()
    out_.backward(torch.ones_like(out_), retain_graph=True)
    out['call_after_zeroing'] = inp.grad.clone().numpy()
    return out


def prog_autograd_blitz(torch):
    "60-minute blitz, 'A gentle introduction to torch.autograd': external_grad, exclusion from the DAG, freezing."
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)
    out = dict(a_ok=(9 * a**2 == a.grad).tolist(), b_ok=(-2 * b == b.grad).tolist(),
               a_grad=a.grad.tolist(), b_grad=b.grad.tolist())

    rng = np.random.default_rng(4)
    x = torch.tensor(rng.random((5, 5), dtype=np.float32))
    y = torch.tensor(rng.random((5, 5), dtype=np.float32))
    z = torch.tensor(rng.random((5, 5), dtype=np.float32), requires_grad=True)
    a = x + y
    out['a_requires_grad'] = a.requires_grad
    b = x + z
    out['b_requires_grad'] = b.requires_grad

    nn, optim = torch.nn, torch.optim
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    _set_params(torch, model, seed=5)
    for param in model.parameters():
        param.requires_grad = False
    model[2] = nn.Linear(8, 2)  # replace the head: only it is trained
    _set_params(torch, model[2], seed=6)
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    target = torch.tensor(rng.standard_normal((5, 2)).astype(np.float32))
    for _ in range(3):
        optimizer.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
    out['frozen_grad_is_none'] = model[0].weight.grad is None
    out['head_w'] = model[2].weight.detach().numpy()
    out['loss'] = loss.item()
    return out


def prog_polyfit_autograd(torch):
    "Learning PyTorch with Examples: fit a cubic to sin(x) with autograd and a manual update under no_grad."
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    rng = np.random.default_rng(7)
    a, b, c, d = (torch.tensor(float(v), dtype=dtype, requires_grad=True) for v in rng.standard_normal(4))
    learning_rate = 1e-6
    losses = []
    for t in range(100):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 10 == 9:
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    result = f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3'
    return dict(losses=losses, coeffs=[a.item(), b.item(), c.item(), d.item()], has_result=len(result) > 0)


def prog_polyfit_nn(torch):
    "Learning PyTorch with Examples, nn module: Sequential(Linear(3, 1), Flatten(0, 1)), MSELoss(reduction='sum')."
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )
    _set_params(torch, model, seed=8)
    loss_fn = torch.nn.MSELoss(reduction='sum')
    learning_rate = 1e-6
    losses = []
    for t in range(100):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    linear_layer = model[0]
    return dict(losses=losses[::10], bias=linear_layer.bias.item(),
                w=[linear_layer.weight[:, 0].item(), linear_layer.weight[:, 1].item(),
                   linear_layer.weight[:, 2].item()])


def prog_polyfit_optim(torch):
    "Learning PyTorch with Examples, optim: RMSprop on the same model."
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    _set_params(torch, model, seed=9)
    loss_fn = torch.nn.MSELoss(reduction='sum')
    learning_rate = 1e-3
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    losses = []
    for t in range(100):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return dict(losses=losses[::10], w=model[0].weight.detach().numpy(), b=model[0].bias.detach().numpy())


def prog_polyfit_custom_module(torch):
    "Learning PyTorch with Examples, custom nn Modules: Polynomial3 with four nn.Parameter scalars and SGD."
    rng = np.random.default_rng(10)
    init = rng.standard_normal(4).astype(np.float32)

    class Polynomial3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(init[0]))
            self.b = torch.nn.Parameter(torch.tensor(init[1]))
            self.c = torch.nn.Parameter(torch.tensor(init[2]))
            self.d = torch.nn.Parameter(torch.tensor(init[3]))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3'

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = Polynomial3()
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    losses = []
    for t in range(100):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    names = [name for name, _ in model.named_parameters()]
    return dict(losses=losses[::10], names=names, n_params=len(list(model.parameters())),
                coeffs=[model.a.item(), model.b.item(), model.c.item(), model.d.item()],
                has_string=model.string().startswith('y = '))


def prog_custom_autograd_function(torch):
    "Learning PyTorch with Examples, defining new autograd functions: LegendrePolynomial3(torch.autograd.Function)."

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    losses = []
    for t in range(100):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return dict(losses=losses[::10], coeffs=[a.item(), b.item(), c.item(), d.item()])


def prog_higher_order_grad(torch):
    "torch.autograd.grad with create_graph=True for a second derivative, and grad of a non-scalar with grad_outputs."
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    (dy_dx,) = torch.autograd.grad(y, x, create_graph=True)
    (d2y_dx2,) = torch.autograd.grad(dy_dx, x)
    v = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = v * v
    (g,) = torch.autograd.grad(w, v, grad_outputs=torch.ones_like(w))
    return dict(dy=dy_dx.item(), d2y=d2y_dx2.item(), g=g.tolist(), x_grad_is_none=x.grad is None)


# ------------------------------------------------------------------------------------------------------------------
# "What is torch.nn really?"
# ------------------------------------------------------------------------------------------------------------------

def _nn_really_data():
    x, y = _blobs(seed=11, n=200, d=20, k=5)
    return x[:150], y[:150], x[150:], y[150:]


def prog_nn_really_from_scratch(torch):
    "Neural net from scratch: manual weights, @, hand-written log_softmax and nll, range() indexing, manual SGD."
    x_train, y_train, x_valid, y_valid = _nn_really_data()
    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    n, c = x_train.shape
    rng = np.random.default_rng(12)
    weights = torch.tensor(rng.standard_normal((20, 5)).astype(np.float32)) / math.sqrt(20)
    weights.requires_grad_()
    bias = torch.zeros(5, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    bs = 64
    xb = x_train[0:bs]
    yb = y_train[0:bs]
    preds = model(xb)
    first = dict(loss=loss_func(preds, yb).item(), acc=accuracy(preds, yb).item(), shape=list(preds.shape))

    lr = 0.5
    epochs = 2
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    return dict(first=first, loss=loss_func(model(xb), yb).item(), acc=accuracy(model(xb), yb).item(),
                weights=weights.detach().numpy(), bias=bias.detach().numpy())


def prog_nn_really_functional_module(torch):
    "Refactoring with F.cross_entropy, then nn.Module with nn.Parameter weights and a fit() over parameters()."
    F, nn = torch.nn.functional, torch.nn
    x_train, y_train, x_valid, y_valid = map(torch.tensor, _nn_really_data())
    n, c = x_train.shape
    rng = np.random.default_rng(13)
    w0 = rng.standard_normal((20, 5)).astype(np.float32)
    loss_func = F.cross_entropy

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.tensor(w0) / math.sqrt(20))
            self.bias = nn.Parameter(torch.zeros(5))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    model = Mnist_Logistic()
    bs, lr, epochs = 64, 0.5, 2
    before = loss_func(model(x_train[0:bs]), y_train[0:bs]).item()

    def fit():
        for epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                end_i = start_i + bs
                xb = x_train[start_i:end_i]
                yb = y_train[start_i:end_i]
                pred = model(xb)
                loss = loss_func(pred, yb)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()

    fit()
    after = loss_func(model(x_train[0:bs]), y_train[0:bs]).item()
    grads_cleared = all(p.grad is None or bool((p.grad == 0).all()) for p in model.parameters())
    return dict(before=before, after=after, weights=model.weights.detach().numpy(), grads_cleared=grads_cleared)


def prog_nn_really_dataloader(torch):
    "nn.Linear + optim + TensorDataset + DataLoader, validation with model.eval() and the sum()/zip(*) idioms."
    F, nn, optim = torch.nn.functional, torch.nn, torch.optim
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    x_train, y_train, x_valid, y_valid = map(torch.tensor, _nn_really_data())
    bs, lr, epochs = 32, 0.1, 3
    loss_func = F.cross_entropy

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(20, 5)

        def forward(self, xb):
            return self.lin(xb)

    def get_model():
        model = Mnist_Logistic()
        _set_params(torch, model, seed=14)
        return model, optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def get_data(train_ds, valid_ds, bs):
        return (DataLoader(train_ds, batch_size=bs), DataLoader(valid_ds, batch_size=bs * 2))

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    history = []

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)
            model.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
                valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            history.append((epoch, float(val_loss), (valid_loss / len(valid_dl)).item()))

    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    model, opt = get_model()
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    xb, yb = train_ds[0:bs]
    return dict(history=history, n_batches=len(train_dl), first_item_shape=list(train_ds[0][0].shape),
                w=model.lin.weight.detach().numpy(), loss=loss_func(model(xb), yb).item())


def prog_nn_really_sequential_lambda(torch):
    "A Lambda layer inside nn.Sequential with x.view, and a WrappedDataLoader that preprocesses batches."
    F, nn, optim = torch.nn.functional, torch.nn, torch.optim
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    x_train, y_train, _, _ = map(torch.tensor, _nn_really_data())

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    def preprocess(x, y):
        return x.view(-1, 4, 5), y

    class WrappedDataLoader:
        def __init__(self, dl, func):
            self.dl = dl
            self.func = func

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for b in self.dl:
                yield (self.func(*b))

    model = nn.Sequential(
        Lambda(lambda x: x.view(x.size(0), -1)),
        nn.Linear(20, 16),
        nn.ReLU(),
        nn.Linear(16, 5),
    )
    _set_params(torch, model, seed=15)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_dl = WrappedDataLoader(DataLoader(TensorDataset(x_train, y_train), batch_size=50), preprocess)
    losses = []
    for epoch in range(3):
        for xb, yb in train_dl:
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
    return dict(losses=losses, w=model[3].weight.detach().numpy(), n_children=len(list(model.children())))


# ------------------------------------------------------------------------------------------------------------------
# d2l.ai
# ------------------------------------------------------------------------------------------------------------------

def _d2l_synthetic(seed=16, num_examples=200):
    rng = np.random.default_rng(seed)
    true_w, true_b = np.array([2, -3.4], np.float32), 4.2
    X = rng.standard_normal((num_examples, 2)).astype(np.float32)
    y = (X @ true_w + true_b + rng.normal(0, 0.01, num_examples)).astype(np.float32).reshape(-1, 1)
    return X, y, true_w, true_b


def prog_d2l_linreg_scratch(torch):
    "d2l 3.2: linear regression from scratch, param -= lr * param.grad / batch_size; param.grad.zero_()."
    X, y, tw, true_b = _d2l_synthetic()
    true_w = torch.tensor(tw)
    features, labels = torch.tensor(X), torch.tensor(y)
    rng = np.random.default_rng(17)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(rng.permutation(num_examples))
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    w = torch.tensor(rng.normal(0, 0.01, (2, 1)).astype(np.float32), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr, num_epochs, batch_size = 0.03, 3, 10
    net, loss = linreg, squared_loss
    train_losses = []
    for epoch in range(num_epochs):
        for X_, y_ in data_iter(batch_size, features, labels):
            l = loss(net(X_, w, b), y_)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            train_losses.append(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')
    return dict(train_losses=[float(s.split()[-1]) for s in train_losses],
                w_error=(true_w - w.reshape(true_w.shape)).detach().numpy(),
                b_error=true_b - b.item())


def prog_d2l_linreg_concise(torch):
    "d2l 3.3: data.TensorDataset(*arrays), nn.Sequential(nn.Linear(2, 1)), .data.normal_-style init, SGD."
    data, nn = torch.utils.data, torch.nn
    X, y, tw, true_b = _d2l_synthetic(seed=18)
    features, labels, true_w = torch.tensor(X), torch.tensor(y), torch.tensor(tw)

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    batch_size = 10
    data_iter = load_array((features, labels), batch_size, is_train=False)
    first_batch = next(iter(data_iter))
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.copy_(torch.tensor(np.array([[0.01, -0.02]], np.float32)))
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    epoch_losses = []
    for epoch in range(3):
        for X_, y_ in data_iter:
            l = loss(net(X_), y_)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        epoch_losses.append(f'epoch {epoch + 1}, loss {l:f}')
    w = net[0].weight.data
    b = net[0].bias.data
    return dict(first_batch_shapes=[list(t.shape) for t in first_batch],
                epoch_losses=[float(s.split()[-1]) for s in epoch_losses],
                w_error=(true_w - w.reshape(true_w.shape)).numpy(), b_error=(true_b - b).tolist())


def prog_d2l_parameter_management(torch):
    "d2l 6.2/6.3: parameter access, net.apply(init_fn) with nn.init, named_parameters, state_dict, tied layers."
    nn = torch.nn
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

    def init_constant(m):
        if type(m) == nn.Linear:
            nn.init.constant_(m.weight, 1)
            nn.init.zeros_(m.bias)

    net.apply(init_constant)
    X = torch.tensor(np.random.default_rng(19).random((2, 4), dtype=np.float32))
    out = dict(y=net(X).detach().numpy(),
               state_keys=list(net[2].state_dict().keys()),
               bias_type=type(net[2].bias).__name__,
               bias=net[2].bias.data.tolist(),
               grad_is_none=net[2].weight.grad is None,
               named=[(name, list(param.shape)) for name, param in net.named_parameters()],
               sd_bias=net.state_dict()['2.bias'].data.tolist())

    def init_xavier(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)

    def init_42(m):
        if type(m) == nn.Linear:
            nn.init.constant_(m.weight, 42)

    net[0].apply(init_xavier)
    net[2].apply(init_42)
    bound = math.sqrt(6 / (4 + 8))
    out['xavier_in_bounds'] = bool((net[0].weight.data.abs() <= bound).all())
    out['w42'] = net[2].weight.data[0].tolist()

    shared = nn.Linear(8, 8)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))
    _set_params(torch, net, seed=20)
    net(X)
    same_before = (net[2].weight.data[0] == net[4].weight.data[0]).tolist()
    net[2].weight.data[0, 0] = 100
    out['tied'] = [same_before, (net[2].weight.data[0] == net[4].weight.data[0]).tolist()]
    out['n_unique_params'] = len(list(net.parameters()))
    return out


# ------------------------------------------------------------------------------------------------------------------
# Karpathy: micrograd and makemore
# ------------------------------------------------------------------------------------------------------------------

def prog_micrograd_tests(torch):
    "micrograd's test_engine.py: the PyTorch side of test_sanity_check and test_more_ops, verbatim."
    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y
    sanity = (ypt.data.item(), xpt.grad.item())

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g
    more = (gpt.data.item(), apt.grad.item(), bpt.grad.item())
    return dict(sanity=sanity, more=more)


def prog_micrograd_neuron(torch):
    "micrograd lecture: the neuron tanh(x1*w1 + x2*w2 + b) with scalar tensors, .double(), .grad.item()."
    x1 = torch.Tensor([2.0]).double(); x1.requires_grad = True
    x2 = torch.Tensor([0.0]).double(); x2.requires_grad = True
    w1 = torch.Tensor([-3.0]).double(); w1.requires_grad = True
    w2 = torch.Tensor([1.0]).double(); w2.requires_grad = True
    b = torch.Tensor([6.8813735870195432]).double(); b.requires_grad = True
    n = x1 * w1 + x2 * w2 + b
    o = torch.tanh(n)
    out = dict(o=o.data.item())
    o.backward()
    out['grads'] = [x2.grad.item(), w2.grad.item(), x1.grad.item(), w1.grad.item()]
    out['dtype_is_double'] = o.dtype == torch.float64
    return out


def _makemore_data(seed=21, n=300, block_size=3, vocab=27):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, vocab, (n, block_size))
    Y = (X.sum(1) * 7 + X[:, -1]) % vocab  # a learnable rule
    return X, Y, rng


def prog_makemore_bigram(torch):
    "makemore part 1: count matrix N[ix1, ix2] += 1, P /= P.sum(1, keepdims=True), the NLL, then the one-hot net."
    F = torch.nn.functional
    rng = np.random.default_rng(22)
    chars = rng.integers(0, 27, 400)
    pairs = list(zip(chars[:-1].tolist(), chars[1:].tolist()))
    N = torch.zeros((27, 27), dtype=torch.int32)
    for ix1, ix2 in pairs:
        N[ix1, ix2] += 1
    P = (N + 1).float()
    P /= P.sum(1, keepdims=True)
    log_likelihood = 0.0
    n = 0
    for ix1, ix2 in pairs:
        prob = P[ix1, ix2]
        logprob = torch.log(prob)
        log_likelihood += logprob
        n += 1
    nll = -log_likelihood
    out = dict(N_total=N.sum().item(), N_dtype_int32=N.dtype == torch.int32, row_sum=P[0].sum().item(),
               nll=f'{nll/n}' != '', avg_nll=(nll / n).item())

    xs, ys = [], []
    for ix1, ix2 in pairs:
        xs.append(ix1)
        ys.append(ix2)
    xs = torch.tensor(xs)
    ys = torch.tensor(ys)
    num = xs.nelement()
    W = torch.tensor(rng.standard_normal((27, 27)).astype(np.float32), requires_grad=True)
    losses = []
    for k in range(20):
        xenc = F.one_hot(xs, num_classes=27).float()
        logits = xenc @ W
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
        losses.append(loss.item())
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad
    out.update(losses=losses, W=W.detach().numpy())
    return out


def prog_makemore_mlp(torch):
    "makemore part 2: embedding C[X], emb.view(-1, 6), tanh, F.cross_entropy, lr sweep 10**lre, p.data += -lr*grad."
    F = torch.nn.functional
    Xn, Yn, rng = _makemore_data()
    X, Y = torch.tensor(Xn), torch.tensor(Yn)
    C = torch.tensor(rng.standard_normal((27, 2)).astype(np.float32))
    W1 = torch.tensor(rng.standard_normal((6, 50)).astype(np.float32))
    b1 = torch.tensor(rng.standard_normal(50).astype(np.float32))
    W2 = torch.tensor(rng.standard_normal((50, 27)).astype(np.float32))
    b2 = torch.tensor(rng.standard_normal(27).astype(np.float32))
    parameters = [C, W1, b1, W2, b2]
    n_params = sum(p.nelement() for p in parameters)
    for p in parameters:
        p.requires_grad = True

    lre = torch.linspace(-3, 0, 60)
    lrs = 10**lre
    lri, lossi = [], []
    batches = rng.integers(0, X.shape[0], (120, 32))
    for i in range(120):
        ix = torch.tensor(batches[i])  # torch.randint(0, X.shape[0], (32,)) in the lecture
        emb = C[X[ix]]  # (32, 3, 2)
        h = torch.tanh(emb.view(-1, 6) @ W1 + b1)  # (32, 50)
        logits = h @ W2 + b2  # (32, 27)
        loss = F.cross_entropy(logits, Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = lrs[i] if i < 60 else (0.1 if i < 90 else 0.01)
        for p in parameters:
            p.data += -lr * p.grad
        if i < 60:
            lri.append(lre[i].item())
        lossi.append(loss.item())

    emb = C[X]
    h = torch.tanh(emb.view(-1, 6) @ W1 + b1)
    logits = h @ W2 + b2
    full_loss = F.cross_entropy(logits, Y)
    return dict(n_params=n_params, lri=lri[::10], lossi=lossi[::5], full_loss=full_loss.item(),
                C=C.detach().numpy(), emb_shape=list(emb.shape))


def prog_makemore_batchnorm(torch):
    "makemore part 3: kaiming-scaled init, manual batch norm (mean/std(0, keepdim=True)), running stats, retain_grad."
    F = torch.nn.functional
    Xn, Yn, rng = _makemore_data(seed=23)
    X, Y = torch.tensor(Xn), torch.tensor(Yn)
    n_embd, n_hidden, block_size, vocab_size = 4, 40, 3, 27
    C = torch.tensor(rng.standard_normal((vocab_size, n_embd)).astype(np.float32))
    W1 = torch.tensor(rng.standard_normal((n_embd * block_size, n_hidden)).astype(np.float32)) * (5 / 3) / (
        (n_embd * block_size) ** 0.5)
    W2 = torch.tensor(rng.standard_normal((n_hidden, vocab_size)).astype(np.float32)) * 0.01
    b2 = torch.tensor(rng.standard_normal(vocab_size).astype(np.float32)) * 0
    bngain = torch.ones((1, n_hidden))
    bnbias = torch.zeros((1, n_hidden))
    bnmean_running = torch.zeros((1, n_hidden))
    bnstd_running = torch.ones((1, n_hidden))
    parameters = [C, W1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True

    batches = rng.integers(0, X.shape[0], (40, 32))
    lossi = []
    for i in range(40):
        ix = torch.tensor(batches[i])
        Xb, Yb = X[ix], Y[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with torch.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = torch.tanh(hpreact)
        h.retain_grad()
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 30 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
    saturated = (h.abs() > 0.97).float().mean().item()
    return dict(lossi=lossi[::4], h_grad=h.grad.numpy(), saturated=saturated,
                bnmean_running=bnmean_running.numpy(), bnstd_running=bnstd_running.numpy(),
                bngain=bngain.detach().numpy())


def prog_makemore_backprop_ninja(torch):
    "makemore part 4: a manual backward pass through the cross-entropy, compared with autograd via cmp()."
    F = torch.nn.functional
    Xn, Yn, rng = _makemore_data(seed=24, n=32)
    n = 32
    Yb = torch.tensor(Yn)
    logits = torch.tensor(rng.standard_normal((n, 27)).astype(np.float32), requires_grad=True)
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    for t in [logprobs, probs, counts, counts_sum, counts_sum_inv, norm_logits, logit_maxes]:
        t.retain_grad()
    loss.backward()

    def cmp(s, dt, t):
        ex = torch.all(dt == t.grad).item()
        app = torch.allclose(dt, t.grad)
        maxdiff = (dt - t.grad).abs().max().item()
        return s, app, maxdiff < 1e-6, ex if s == 'logprobs' else None

    dlogprobs = torch.zeros_like(logprobs)
    dlogprobs[range(n), Yb] = -1.0 / n
    dprobs = (1.0 / probs) * dlogprobs
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)
    dcounts = counts_sum_inv * dprobs
    dcounts_sum = (-counts_sum**-2) * dcounts_sum_inv
    dcounts += torch.ones_like(counts) * dcounts_sum
    dnorm_logits = counts * dcounts
    dlogits = dnorm_logits.clone()
    dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)
    dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes
    checks = [cmp('logprobs', dlogprobs, logprobs), cmp('probs', dprobs, probs),
              cmp('counts_sum_inv', dcounts_sum_inv, counts_sum_inv), cmp('counts_sum', dcounts_sum, counts_sum),
              cmp('counts', dcounts, counts), cmp('norm_logits', dnorm_logits, norm_logits),
              cmp('logit_maxes', dlogit_maxes, logit_maxes), cmp('logits', dlogits, logits)]

    # the fused version of the same gradient
    dlogits2 = F.softmax(logits, 1)
    dlogits2[range(n), Yb] -= 1
    dlogits2 /= n
    checks.append(cmp('logits (fast)', dlogits2, logits))
    return dict(loss=loss.item(), checks=checks, dlogits=dlogits.detach().numpy())


def prog_gpt_attention_head(torch):
    "'Let's build GPT': tril mask, masked_fill(-inf), softmax, batched @, a self-attention Head module."
    F, nn = torch.nn.functional, torch.nn
    rng = np.random.default_rng(25)
    B, T, C = 2, 4, 8
    x = torch.tensor(rng.standard_normal((B, T, C)).astype(np.float32))
    tril = torch.tril(torch.ones(T, T))
    wei = torch.zeros((T, T))
    wei = wei.masked_fill(tril == 0, float('-inf'))
    wei = F.softmax(wei, dim=-1)
    xbow3 = wei @ x
    xbow = torch.zeros((B, T, C))
    for b in range(B):
        for t in range(T):
            xprev = x[b, :t + 1]
            xbow[b, t] = torch.mean(xprev, 0)
    out = dict(wei=wei.numpy(), xbow_close=torch.allclose(xbow, xbow3, atol=1e-6), xbow3=xbow3.numpy())

    class Head(nn.Module):
        def __init__(self, head_size):
            super().__init__()
            self.key = nn.Linear(C, head_size, bias=False)
            self.query = nn.Linear(C, head_size, bias=False)
            self.value = nn.Linear(C, head_size, bias=False)
            self.register_buffer('tril', torch.tril(torch.ones(T, T)))

        def forward(self, x):
            B, T, C = x.shape
            k = self.key(x)
            q = self.query(x)
            wei = q @ k.transpose(-2, -1) * k.shape[-1]**-0.5
            wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))
            wei = F.softmax(wei, dim=-1)
            v = self.value(x)
            return wei @ v

    head = Head(16)
    _set_params(torch, head, seed=26)
    y = head(x)
    y.sum().backward()
    out.update(y=y.detach().numpy(), key_grad=head.key.weight.grad.numpy(),
               state_keys=sorted(head.state_dict().keys()))
    return out


def prog_gpt_bigram_lm(torch):
    "'Let's build GPT': BigramLanguageModel with nn.Embedding, logits.view(B*T, C), AdamW, generate() via multinomial."
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(54)
    vocab_size, block_size, batch_size = 12, 8, 4
    data = torch.tensor(rng.integers(0, vocab_size, 200), dtype=torch.long)

    def get_batch(step):
        ix = np.random.default_rng(step).integers(0, len(data) - block_size, batch_size)
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
        return x, y

    class BigramLanguageModel(nn.Module):
        def __init__(self, vocab_size):
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

        def forward(self, idx, targets=None):
            logits = self.token_embedding_table(idx)  # (B,T,C)
            if targets is None:
                loss = None
            else:
                B, T, C = logits.shape
                logits = logits.view(B * T, C)
                targets = targets.view(B * T)
                loss = F.cross_entropy(logits, targets)
            return logits, loss

        def generate(self, idx, max_new_tokens):
            for _ in range(max_new_tokens):
                logits, loss = self(idx)
                logits = logits[:, -1, :]  # becomes (B, C)
                probs = F.softmax(logits, dim=-1)  # (B, C)
                idx_next = torch.multinomial(probs, num_samples=1)  # (B, 1)
                idx = torch.cat((idx, idx_next), dim=1)  # (B, T+1)
            return idx

    m = BigramLanguageModel(vocab_size)
    _set_params(torch, m, seed=55)
    n_params = sum(p.numel() for p in m.parameters())
    optimizer = torch.optim.AdamW(m.parameters(), lr=1e-2)
    losses = []
    for steps in range(30):
        xb, yb = get_batch(steps)
        logits, loss = m(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    @torch.no_grad()
    def estimate_loss():
        m.eval()
        losses = torch.zeros(5)
        for k in range(5):
            X, Y = get_batch(100 + k)
            logits, loss = m(X, Y)
            losses[k] = loss.item()
        m.train()
        return losses.mean()

    out = m.generate(idx=torch.zeros((1, 1), dtype=torch.long), max_new_tokens=10)
    tokens = out[0].tolist()
    return dict(n_params=n_params, losses=losses[::3], eval_loss=estimate_loss().item(),
                gen_shape=list(out.shape), gen_in_range=all(0 <= t < vocab_size for t in tokens),
                emb=m.token_embedding_table.weight.detach().numpy())


def prog_modulelist_layernorm(torch):
    "A residual MLP with nn.ModuleList, nn.LayerNorm and nn.GELU; parameter count; zero_grad(set_to_none=True)."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=56, n=64, d=8, k=4)
    X, Y = torch.tensor(x), torch.tensor(y)

    class Block(nn.Module):
        def __init__(self, n_embd):
            super().__init__()
            self.ln = nn.LayerNorm(n_embd)
            self.fc = nn.Linear(n_embd, 4 * n_embd)
            self.proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return x + self.proj(F.gelu(self.fc(self.ln(x))))

    class Net(nn.Module):
        def __init__(self, n_embd, n_layer, n_classes):
            super().__init__()
            self.blocks = nn.ModuleList([Block(n_embd) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.head = nn.Linear(n_embd, n_classes)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    model = Net(8, 2, 4)
    _set_params(torch, model, seed=57)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(15):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return dict(n_params=n_params, losses=losses[::3], names=[n for n, _ in model.named_parameters()][:6],
                head=model.head.weight.detach().numpy(), n_blocks=len(model.blocks))


# ------------------------------------------------------------------------------------------------------------------
# nn.Module, losses, optimizers, schedulers, data
# ------------------------------------------------------------------------------------------------------------------

def prog_custom_mlp_momentum(torch):
    "A custom nn.Module MLP (fc1/act/fc2), loaded with load_state_dict, trained with SGD(momentum=0.9)."
    F, nn = torch.nn.functional, torch.nn
    x, y = _blobs(seed=27)
    X, Y = torch.tensor(x), torch.tensor(y)

    class MLP(nn.Module):
        def __init__(self, in_features, hidden, out_features):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden)
            self.act = nn.ReLU()
            self.fc2 = nn.Linear(hidden, out_features)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    model = MLP(6, 16, 3)
    rng = np.random.default_rng(28)
    state = {k: torch.tensor((rng.standard_normal(tuple(v.shape)) * 0.3).astype(np.float32))
             for k, v in model.state_dict().items()}
    result = model.load_state_dict(state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    acc = (model(X).argmax(1) == Y).float().mean().item()
    return dict(losses=losses[::3], acc=acc, missing=list(result.missing_keys),
                keys=list(model.state_dict().keys()),
                params={name: p.detach().numpy() for name, p in model.named_parameters()})


def prog_state_dict_roundtrip(torch):
    "Train with Adam, torch.save(state_dict) / torch.load into a fresh model and optimizer, then continue both."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=29, d=4, k=2)
    X, Y = torch.tensor(x), torch.tensor(y)

    def make_model():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    model = make_model()
    _set_params(torch, model, seed=30)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        optimizer.step()
    with tempfile.TemporaryDirectory() as d:
        PATH = os.path.join(d, 'model.pth')
        torch.save(model.state_dict(), PATH)
        model2 = make_model()
        model2.load_state_dict(torch.load(PATH, weights_only=True))
        # "Saving and loading a general checkpoint in PyTorch"
        CKPT = os.path.join(d, 'checkpoint.tar')
        torch.save({
            'epoch': 5,
            'model_state_dict': model.state_dict(),
            'optimizer_state_dict': optimizer.state_dict(),
            'loss': 0.4,
        }, CKPT)
        optimizer2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
        checkpoint = torch.load(CKPT, weights_only=True)
        optimizer2.load_state_dict(checkpoint['optimizer_state_dict'])
        epoch = checkpoint['epoch']
        loss = checkpoint['loss']
    model2.eval()
    with torch.no_grad():
        same = torch.equal(model(X), model2(X))
    for m, opt in [(model, optimizer), (model2, optimizer2)]:
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(m(X), Y).backward()
            opt.step()
    sd = model.state_dict()
    return dict(keys=list(sd.keys()), same=same,
                continued_equal=all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters())),
                w=sd['2.weight'].numpy(), epoch=epoch, loss=loss)


def prog_cross_entropy_family(torch):
    "F.cross_entropy with every reduction, F.nll_loss(F.log_softmax(...)), nn.CrossEntropyLoss, and the gradients."
    F, nn = torch.nn.functional, torch.nn
    rng = np.random.default_rng(31)
    logits = torch.tensor(rng.standard_normal((8, 5)).astype(np.float32), requires_grad=True)
    target = torch.tensor(rng.integers(0, 5, 8))
    mean = F.cross_entropy(logits, target)
    total = F.cross_entropy(logits, target, reduction='sum')
    per = F.cross_entropy(logits, target, reduction='none')
    nll = F.nll_loss(F.log_softmax(logits, dim=1), target)
    module = nn.CrossEntropyLoss()(logits, target)
    (mean + total + per[3] + nll + module).backward()
    probs = F.softmax(logits, dim=1)
    return dict(mean=mean.item(), total=total.item(), per=per.detach().numpy(), nll=nll.item(),
                module=module.item(), grad=logits.grad.numpy(), prob_sums=probs.sum(dim=1).tolist(),
                per_shape=list(per.shape))


def prog_regression_losses(torch):
    "F.mse_loss / nn.MSELoss reductions, F.l1_loss, F.binary_cross_entropy on sigmoid outputs, BCEWithLogitsLoss."
    F, nn = torch.nn.functional, torch.nn
    rng = np.random.default_rng(32)
    pred = torch.tensor(rng.standard_normal((6, 2)).astype(np.float32), requires_grad=True)
    target = torch.tensor(rng.standard_normal((6, 2)).astype(np.float32))
    labels = torch.tensor(rng.integers(0, 2, (6, 2))).float()
    losses = dict(mse=F.mse_loss(pred, target), mse_sum=F.mse_loss(pred, target, reduction='sum'),
                  mse_module=nn.MSELoss()(pred, target), l1=F.l1_loss(pred, target),
                  bce=F.binary_cross_entropy(torch.sigmoid(pred), labels),
                  bce_logits=F.binary_cross_entropy_with_logits(pred, labels),
                  bce_module=nn.BCEWithLogitsLoss()(pred, labels))
    none = F.mse_loss(pred, target, reduction='none')
    sum(losses.values()).backward()
    out = {k: v.item() for k, v in losses.items()}
    out.update(none=none.detach().numpy(), grad=pred.grad.numpy())
    return out


def prog_steplr_sgd_momentum(torch):
    "optim.SGD(momentum=0.9) with lr_scheduler.StepLR, stepping the scheduler once per epoch over a DataLoader."
    nn, optim = torch.nn, torch.optim
    X, y, _, _ = _d2l_synthetic(seed=33, num_examples=60)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y)),
                                         batch_size=20)
    model = nn.Linear(2, 1)
    _set_params(torch, model, seed=34)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    lrs, losses = [], []
    for epoch in range(8):
        running_loss = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * inputs.size(0)
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        losses.append(running_loss / len(loader.dataset))
    return dict(lrs=lrs, group_lr=optimizer.param_groups[0]['lr'], losses=losses,
                w=model.weight.detach().numpy(), b=model.bias.detach().numpy())


def prog_cosine_adamw(torch):
    "AdamW(weight_decay=1e-2) with CosineAnnealingLR(T_max, eta_min), reading param_groups[0]['lr'] each step."
    nn, optim, F = torch.nn, torch.optim, torch.nn.functional
    x, y = _blobs(seed=35)
    X, Y = torch.tensor(x), torch.tensor(y)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3))
    _set_params(torch, model, seed=36)
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=1e-4)
    lrs, losses = [], []
    for epoch in range(12):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        losses.append(loss.item())
    return dict(lrs=lrs, losses=losses, w=model[2].weight.detach().numpy())


def prog_adam_shuffled_loader(torch):
    "DataLoader(shuffle=True, generator=torch.Generator().manual_seed(0)): order-independent checks, full-batch Adam."
    nn, F = torch.nn, torch.nn.functional
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    x, y = _blobs(seed=37, n=50)
    idx = torch.arange(50)
    ds = TensorDataset(torch.tensor(x), torch.tensor(y), idx)
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    out = dict(len_loader=len(loader), len_ds=len(ds))
    seen, sizes = [], []
    for xb, yb, ib in loader:
        seen += ib.tolist()
        sizes.append(len(xb))
    out.update(seen_sorted=sorted(seen), sizes=sizes)
    a = [ib.tolist() for _, _, ib in DataLoader(ds, batch_size=16, shuffle=True,
                                                 generator=torch.Generator().manual_seed(1))]
    b = [ib.tolist() for _, _, ib in DataLoader(ds, batch_size=16, shuffle=True,
                                                 generator=torch.Generator().manual_seed(1))]
    out['reproducible'] = a == b
    out['drop_last_sizes'] = [len(xb) for xb, _, _ in DataLoader(ds, batch_size=16, drop_last=True)]

    # the whole set in one shuffled batch: the mean loss does not depend on the order
    full = DataLoader(ds, batch_size=len(ds), shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Linear(6, 3)
    _set_params(torch, model, seed=38)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for epoch in range(10):
        for xb, yb, _ in full:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    out.update(losses=losses, w=model.weight.detach().numpy())
    return out


def prog_numpy_minibatches(torch):
    "Minibatch SGD with indices drawn in NumPy (torch.from_numpy / indexing), plus seeded randperm/randint checks."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=39, n=96)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 3))
    _set_params(torch, model, seed=40)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(41)
    bs, losses = 32, []
    for epoch in range(3):
        perm = rng.permutation(len(X))
        for i in range(0, len(X), bs):
            idx = torch.from_numpy(perm[i:i + bs])
            xb, yb = X[idx], Y[idx]
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(round(loss.item(), 4))
    g = torch.Generator().manual_seed(0)
    p = torch.randperm(10, generator=g)
    r = torch.randint(0, 5, (100,), generator=g)
    same = torch.randperm(10, generator=torch.Generator().manual_seed(42)).tolist() == \
        torch.randperm(10, generator=torch.Generator().manual_seed(42)).tolist()
    torch.manual_seed(0)
    a = torch.rand(3)
    torch.manual_seed(0)
    b = torch.rand(3)
    return dict(losses=losses, perm_sorted=sorted(p.tolist()), perm_dtype=p.dtype == torch.int64,
                randint_range=[r.min().item() >= 0, r.max().item() < 5], randint_dtype=r.dtype == torch.int64,
                same=same, seeded=torch.equal(a, b), w=model[2].weight.detach().numpy())


def prog_clip_grad_norm(torch):
    "A big learning rate tamed by nn.utils.clip_grad_norm_ (total norm returned), and clip_grad_value_."
    nn = torch.nn
    X, y, _, _ = _d2l_synthetic(seed=42, num_examples=64)
    X, y = torch.tensor(X) * 10, torch.tensor(y) * 10
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    _set_params(torch, model, seed=43)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.MSELoss()
    norms, losses = [], []
    for step in range(15):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        norms.append(total_norm.item())
        clipped = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item()
        optimizer.step()
        losses.append(loss.item())
    optimizer.zero_grad()
    criterion(model(X), y).backward()
    nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    max_abs = max(p.grad.abs().max().item() for p in model.parameters())
    return dict(norms=norms, clipped=clipped, losses=losses, max_abs=max_abs,
                w=model[0].weight.detach().numpy())


def prog_binary_logistic(torch):
    "Logistic regression: nn.Linear(2, 1), BCEWithLogitsLoss, torch.sigmoid, (p > 0.5).float() accuracy, squeeze."
    nn = torch.nn
    rng = np.random.default_rng(44)
    x = rng.standard_normal((100, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    X, Y = torch.tensor(x), torch.tensor(y).unsqueeze(1)
    model = nn.Linear(2, 1)
    _set_params(torch, model, seed=45)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    history = []
    for epoch in range(20):
        logits = model(X)
        loss = loss_fn(logits, Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            preds = (torch.sigmoid(model(X)) > 0.5).float()
            acc = (preds == Y).float().mean().item()
        history.append((loss.item(), acc))
    probs = torch.sigmoid(model(X)).squeeze()
    return dict(history=history[::4], probs_shape=list(probs.shape), probs=probs.detach().numpy()[:5],
                w=model.weight.detach().numpy(), b=model.bias.item())


def prog_batchnorm_dropout_modes(torch):
    "BatchNorm1d training/eval with running stats in the state_dict; Dropout identity in eval, scaled in train."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=46, n=64)
    X, Y = torch.tensor(x), torch.tensor(y)
    model = nn.Sequential(nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    _set_params(torch, model, seed=47)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        out_eval = model(X[:4])
    bn = model[1]
    drop = nn.Dropout(p=0.5)
    xs = torch.ones(4, 10)
    drop.eval()
    identity = torch.equal(drop(xs), xs)
    drop.train()
    d = drop(xs)
    return dict(out_eval=out_eval.numpy(), running_mean=bn.running_mean.numpy(), running_var=bn.running_var.numpy(),
                tracked=bn.num_batches_tracked.item(), keys=list(model.state_dict().keys()),
                training=[model.training, bn.training, drop.training], identity=identity,
                dropout_values=bool(((d == 0) | (d == 2)).all()), dropout_requires_grad=d.requires_grad)


# ------------------------------------------------------------------------------------------------------------------
# Tensor basics: dtypes, in-place ops, grad modes, shape ops
# ------------------------------------------------------------------------------------------------------------------

def prog_dtype_casts(torch):
    "Casting: .float() .long() .int() .double() .to(torch.float64) .type(); promotion of ints with floats."
    x = torch.tensor([1.5, -2.7, 3.2])
    out = dict(is_f32=x.dtype == torch.float32, long=x.long().tolist(), int_is_i32=x.int().dtype == torch.int32,
               to64=x.to(torch.float64).dtype == torch.float64, double=x.double().dtype == torch.float64,
               type64=x.type(torch.float64).dtype == torch.float64, arange_i64=torch.arange(4).dtype == torch.int64)
    mask = x > 0
    out.update(mask_bool=mask.dtype == torch.bool, mask_float=mask.float().tolist(), count=mask.sum().item(),
               count_is_long=mask.sum().dtype == torch.int64)
    i = torch.tensor([1, 2, 3])
    out.update(i_plus_half=(i + 0.5).tolist(), i_div=(i / 2).tolist(), i_div_f32=(i / 2).dtype == torch.float32,
               i_floordiv=(i // 2).tolist(), i_times_f=(i * x).dtype == torch.float32,
               i32_times_2=(torch.tensor([1, 2], dtype=torch.int32) * 2).dtype == torch.int32,
               zeros_long=torch.zeros(3, dtype=torch.long).tolist(), i_float_mean=i.float().mean().item())
    try:
        i.mean()
        out['long_mean_raises'] = False
    except RuntimeError:
        out['long_mean_raises'] = True
    w = torch.tensor([0.5, 1.5], requires_grad=True)
    (w.double() ** 2).sum().backward()
    out.update(grad=w.grad.tolist(), grad_is_f32=w.grad.dtype == torch.float32)
    h = torch.ones(2, dtype=torch.float16)
    out['half'] = (h + h).dtype == torch.float16
    out['item_types'] = [type(x[0].item()).__name__, type(i[0].item()).__name__, type(mask[0].item()).__name__]
    return out


def prog_inplace_ops(torch):
    "In-place ops add_/mul_/clamp_/zero_/masked_fill_, boolean-mask assignment, and the two autograd errors."
    rng = np.random.default_rng(48)
    x = torch.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    x.add_(1).mul_(2)
    x.clamp_(min=-1.0, max=3.0)
    y = x.clone()
    y.zero_()
    m = x > 1
    z = x.masked_fill(m, 0.0)
    x.masked_fill_(~m, -1.0)
    t = torch.ones(3)
    t.add_(torch.tensor([1., 2., 3.]), alpha=2)
    u = torch.tensor(rng.standard_normal(6).astype(np.float32))
    u[u < 0] = 0
    u[0] = 10
    out = dict(x=x.numpy(), y=y.tolist(), z=z.numpy(), t=t.tolist(), u=u.numpy())

    w = torch.ones(3, requires_grad=True)
    try:
        w.add_(1)
        out['leaf_raises'] = False
    except RuntimeError:
        out['leaf_raises'] = True
    with torch.no_grad():
        w.add_(1)
    out['w'] = w.tolist()

    a = torch.tensor([1., 2., 3.], requires_grad=True)
    b = a * 2
    c = b * b  # saves b for the backward pass
    b.add_(1)
    try:
        c.sum().backward()
        out['version_raises'] = False
    except RuntimeError as e:
        out['version_raises'] = 'inplace' in str(e)
    d = a * 2
    d.add_(1)  # fine: nothing saved d
    d.sum().backward()
    out['a_grad'] = a.grad.tolist()
    return out


def prog_grad_modes(torch):
    "@torch.no_grad() as a decorator (with and without parentheses), set_grad_enabled, enable_grad, inference_mode."
    nn = torch.nn
    model = nn.Linear(3, 2)
    _set_params(torch, model, seed=49)
    x = torch.tensor(np.random.default_rng(50).standard_normal((4, 3)).astype(np.float32))

    @torch.no_grad()
    def evaluate(model, x):
        return model(x)

    @torch.no_grad
    def evaluate2(model, x):
        return model(x)

    out = dict(dec=evaluate(model, x).requires_grad, dec_bare=evaluate2(model, x).requires_grad,
               values=evaluate(model, x).numpy())
    with torch.set_grad_enabled(False):
        out['set_false'] = model(x).requires_grad
        out['enabled_inside'] = torch.is_grad_enabled()
        with torch.enable_grad():
            out['enable_inside'] = model(x).requires_grad
    is_train = True
    with torch.set_grad_enabled(is_train):
        out['set_true'] = model(x).requires_grad
    with torch.inference_mode():
        out['inference'] = model(x).requires_grad
    out['enabled_after'] = torch.is_grad_enabled()
    return out


def prog_tensor_ops(torch):
    "cat/stack/where/argmax/max(dim)/sum(dim, keepdim)/view/reshape/unsqueeze/squeeze/permute/T, shapes and sizes."
    rng = np.random.default_rng(51)
    a = torch.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    b = torch.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    out = dict(cat0=torch.cat((a, b)).shape == (4, 3), cat1=torch.cat([a, b], dim=1).numpy(),
               stack=torch.stack([a, b]).shape == (2, 2, 3), stack1=list(torch.stack([a, b], dim=1).shape),
               where=torch.where(a > 0, a, torch.zeros_like(a)).numpy(), where_scalar=torch.where(a > 0, a, 0.).numpy(),
               argmax=a.argmax(dim=1).tolist(), argmax_all=a.argmax().item(), argmax_fn=torch.argmax(b, 1).tolist())
    values, indices = a.max(dim=1)
    out.update(max_values=values.numpy(), max_indices=indices.tolist(), max_all=a.max().item(),
               max_named=a.max(1).values.tolist(), sum_keep=a.sum(1, keepdim=True).numpy(),
               sum_dim0=a.sum(dim=0).numpy(), mean=a.mean().item(), mean_dim=a.mean(-1).numpy())
    c = torch.arange(12)
    out.update(view=c.view(3, 4).tolist(), view_inferred=list(c.view(-1, 6).shape),
               reshape=c.reshape(2, 2, 3)[1, 0].tolist(), unsqueeze=list(a.unsqueeze(0).shape),
               unsqueeze1=list(a.unsqueeze(1).shape), squeeze=list(torch.zeros(1, 3, 1).squeeze().shape),
               squeeze_dim=list(torch.zeros(1, 3, 1).squeeze(-1).shape),
               permute=list(torch.zeros(2, 3, 4).permute(2, 0, 1).shape), T=a.T.numpy(), t=a.t().shape == (3, 2),
               transpose=list(torch.zeros(2, 3, 4).transpose(1, 2).shape),
               flatten=list(torch.zeros(2, 3, 4).flatten(1).shape),
               size=[a.size(0), a.size(1), list(a.size())], numel=a.numel(), ndim=a.ndim, dim=a.dim(),
               shape0=a.shape[0], len=len(a), tolist=c[:3].tolist(), item=c[5].item(),
               equal=torch.equal(a, a.clone()), allclose=torch.allclose(a, a + 1e-9),
               softmax=torch.softmax(a, dim=1).numpy(), exp_log=torch.exp(torch.log(a.abs() + 1)).numpy(),
               matmul=(a @ b.T).numpy(), mm=torch.mm(a, b.t()).numpy(), zeros_like=torch.zeros_like(a).shape == a.shape,
               full=torch.full((2, 2), 7.0).tolist(), ones=torch.ones(2, 3).sum().item(),
               linspace=torch.linspace(0, 1, steps=5).tolist(), arange_step=torch.arange(0, 10, 3).tolist(),
               eye=torch.eye(3).numpy(), neg_index=a[:, -1].numpy(), fancy=a[[0, 1], [2, 0]].tolist(),
               bool_index=a[a > 0].numpy(), contiguous=a.T.contiguous().view(-1).numpy())
    return out


def prog_device_idiom(torch):
    "The device idiom: device = 'cuda' if torch.cuda.is_available() else 'cpu'; .to(device); .cpu().numpy()."
    nn = torch.nn
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to(device)
    _set_params(torch, model, seed=52)
    x = torch.tensor(np.random.default_rng(53).standard_normal((5, 3)).astype(np.float32)).to(device)
    t = torch.zeros(5, 1, device=device)
    loss = nn.functional.mse_loss(model(x), t)
    loss.backward()
    return dict(device=device, param_device=next(model.parameters()).device.type, x_device=str(x.device),
                loss=loss.cpu().item(), out=model(x).detach().cpu().numpy(),
                grad=model[0].weight.grad.cpu().numpy())


# ------------------------------------------------------------------------------------------------------------------
# More beginner idioms: data splits and samplers, initialisation, freezing, checkpoints in memory, indexing ops,
# einsum, legacy constructors (torch.Tensor, FloatTensor, autograd.Variable), padded sequences, RNN tutorial code
# ------------------------------------------------------------------------------------------------------------------

def prog_random_split_accuracy(torch):
    "random_split(dataset, [n1, n2], generator=...), shuffled DataLoader, no_grad eval with (pred == y).float().mean()."
    nn, F = torch.nn, torch.nn.functional
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    random_split = torch.utils.data.random_split
    x, y = _blobs(seed=60, n=100)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y), torch.arange(100))
    train_set, val_set = random_split(dataset, [80, 20], generator=torch.Generator().manual_seed(42))
    a, b, c = random_split(dataset, [0.5, 0.3, 0.2])
    train_idx = [int(i) for _, _, i in train_set]
    val_idx = [int(train_set.dataset[j][2]) for j in val_set.indices]
    out = dict(lens=[len(train_set), len(val_set)], fractions=[len(a), len(b), len(c)],
               disjoint=sorted(train_idx + val_idx) == list(range(100)),
               subset_type=type(train_set).__name__)
    # train on the whole set, in one shuffled batch: the loss does not depend on the order
    loader = DataLoader(dataset, batch_size=100, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    _set_params(torch, model, seed=61)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    accs = []
    for epoch in range(5):
        model.train()
        for xb, yb, _ in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for xb, yb, _ in DataLoader(dataset, batch_size=32):
                pred = model(xb).argmax(dim=1)
                correct += (pred == yb).sum().item()
                total += yb.size(0)
        accs.append(correct / total)
    acc = (model(torch.tensor(x)).argmax(1) == torch.tensor(y)).float().mean().item()
    out.update(accs=accs, acc=acc, loss=loss.item())
    return out


def prog_init_apply(torch):
    "model.apply(init_weights) with isinstance(m, nn.Linear): xavier_uniform_, kaiming_normal_, zeros_, constant_."
    nn = torch.nn

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain('relu'))
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5, bias=False))
    returned = model.apply(init_weights)
    bound = math.sqrt(2.0) * math.sqrt(6.0 / (10 + 20))
    w0 = model[0].weight
    out = dict(returns_model=returned is model, bias=model[0].bias.tolist(), no_bias=model[2].bias is None,
               in_bounds=bool((w0.abs() <= bound).all()), requires_grad=w0.requires_grad,
               is_leaf=w0.is_leaf, grad_fn_none=w0.grad_fn is None,
               gains=[nn.init.calculate_gain(n) for n in ['linear', 'relu', 'tanh', 'sigmoid']],
               leaky=nn.init.calculate_gain('leaky_relu', 0.2))
    big = torch.empty(400, 300)
    nn.init.kaiming_normal_(big, mode='fan_out', nonlinearity='relu')
    out['kaiming_std_ok'] = abs(big.std().item() - math.sqrt(2 / 400)) < 0.002
    nn.init.kaiming_uniform_(big, a=math.sqrt(5))
    out['kaiming_uniform_ok'] = big.abs().max().item() <= 1 / math.sqrt(300) + 1e-6
    nn.init.normal_(big, mean=1.0, std=0.02)
    out['normal_ok'] = abs(big.mean().item() - 1.0) < 0.001
    nn.init.constant_(big, 0.5)
    nn.init.uniform_(w0, -0.1, 0.1)
    out.update(constant=big.sum().item(), uniform_ok=bool((w0.abs() <= 0.1).all()))
    with torch.no_grad():
        w0.fill_(0.01)
    nn.init.ones_(model[2].weight)
    out['y'] = model(torch.ones(2, 10)).detach().numpy()
    return out


def prog_freeze_layers(torch):
    "Freezing with requires_grad_(False), an optimizer over filter(lambda p: p.requires_grad, ...), trainable count."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=62, n=40)
    X, Y = torch.tensor(x), torch.tensor(y)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU())
            self.classifier = nn.Linear(12, 3)

        def forward(self, x):
            return self.classifier(self.backbone(x))

    model = Net()
    _set_params(torch, model, seed=63)
    model.backbone.requires_grad_(False)
    frozen_before = model.backbone[0].weight.detach().clone()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()
    out = dict(trainable=trainable, total=total, loss=loss.item(),
               grads_none=[p.grad is None for p in model.backbone.parameters()],
               head_grad=model.classifier.weight.grad.numpy(),
               unchanged=torch.equal(frozen_before, model.backbone[0].weight),
               names=[n for n, p in model.named_parameters() if p.requires_grad])
    for name, param in model.named_parameters():
        if name.startswith('backbone.2'):
            param.requires_grad = True
    out['unfrozen'] = [n for n, p in model.named_parameters() if p.requires_grad]
    return out


def prog_param_groups_lr(torch):
    "Per-layer learning rates with param-group dicts, manual decay via for g in optimizer.param_groups: g['lr'] *= ..."
    nn = torch.nn
    X, y, _, _ = _d2l_synthetic(seed=64, num_examples=40)
    X, y = torch.tensor(X), torch.tensor(y)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    _set_params(torch, model, seed=65)
    optimizer = torch.optim.SGD([
        {'params': model[0].parameters()},
        {'params': model[2].parameters(), 'lr': 1e-2},
    ], lr=1e-1, momentum=0.9)
    criterion = nn.MSELoss()
    lrs, losses = [], []
    for epoch in range(6):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if epoch % 2 == 1:
            for param_group in optimizer.param_groups:
                param_group['lr'] *= 0.5
        lrs.append([g['lr'] for g in optimizer.param_groups])
    optimizer.param_groups[0]['lr'] = 0.2
    optimizer.zero_grad()
    criterion(model(X), y).backward()
    optimizer.step()
    return dict(lrs=lrs, losses=losses, n_groups=len(optimizer.param_groups),
                momentum=optimizer.param_groups[1]['momentum'], w0=model[0].weight.detach().numpy(),
                w2=model[2].weight.detach().numpy(), defaults_lr=optimizer.defaults['lr'])


def prog_save_to_buffer(torch):
    "torch.save / torch.load through io.BytesIO (buffer.seek(0)), copy.deepcopy of a model and of its state_dict."
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    _set_params(torch, model, seed=66)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model2.load_state_dict(state)
    x = torch.tensor(np.random.default_rng(67).standard_normal((5, 3)).astype(np.float32))
    best_state = copy.deepcopy(model.state_dict())
    clone = copy.deepcopy(model)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    same_after_edit = torch.equal(best_state['0.weight'], model[0].weight)
    model.load_state_dict(best_state)
    buf2 = io.BytesIO()
    torch.save({'epoch': 3, 'tensor': torch.arange(4), 'list': [1, 2]}, buf2)
    buf2.seek(0)
    obj = torch.load(buf2)
    return dict(same=torch.equal(model2(x), model(x)), clone_same=torch.equal(clone(x), model(x)),
                clone_is_new=clone[0].weight is not model[0].weight, same_after_edit=same_after_edit,
                keys=list(state.keys()), epoch=obj['epoch'], tensor=obj['tensor'].tolist(), lst=obj['list'],
                y=model2(x).detach().numpy())


def prog_gather_scatter_topk(torch):
    "topk, sort(descending=True), argsort, gather along dim 1, scatter_ into one-hot rows, scatter_add_, index_select."
    rng = np.random.default_rng(68)
    logits = torch.tensor(rng.standard_normal((4, 6)).astype(np.float32))
    target = torch.tensor([1, 0, 5, 2])
    values, indices = torch.topk(logits, k=3, dim=1)
    top1 = logits.topk(1).indices.squeeze(1)
    top3_correct = (indices == target.unsqueeze(1)).any(dim=1).float().mean().item()
    sorted_vals, order = torch.sort(logits, dim=1, descending=True)
    picked = logits.gather(1, target.view(-1, 1)).squeeze(1)
    one_hot = torch.zeros(4, 6).scatter_(1, target.unsqueeze(1), 1.0)
    counts = torch.zeros(3).scatter_add_(0, torch.tensor([0, 2, 2, 1, 2]), torch.ones(5))
    rows = torch.index_select(logits, 0, torch.tensor([3, 0]))
    small = logits.topk(2, largest=False).values
    return dict(values=values.numpy(), indices=indices.tolist(), top1=top1.tolist(), top3=top3_correct,
                sorted=sorted_vals.numpy(), order=order.tolist(), argsort=torch.argsort(logits[0]).tolist(),
                picked=picked.numpy(), one_hot=one_hot.tolist(), counts=counts.tolist(), rows=rows.numpy(),
                small=small.numpy(), idx_dtype=indices.dtype == torch.int64)


def prog_einsum_batched(torch):
    "torch.einsum for matmul, batched matmul, outer product, trace and a bilinear form; bmm and broadcasting @."
    rng = np.random.default_rng(69)
    A = torch.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    B = torch.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    Q = torch.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))
    K = torch.tensor(rng.standard_normal((2, 5, 4)).astype(np.float32))
    u, v = torch.arange(3.0), torch.arange(4.0)
    mm = torch.einsum('ij,jk->ik', A, B)
    scores = torch.einsum('bqd,bkd->bqk', Q, K)
    outer = torch.einsum('i,j->ij', u, v)
    trace = torch.einsum('ii', torch.eye(3) * 2)
    bil = torch.einsum('i,ij,j->', u, A, v)
    (mm.sum() + bil).backward()
    return dict(mm=mm.detach().numpy(), mm_same=torch.allclose(mm, A @ B), scores=scores.numpy(),
                bmm_same=torch.allclose(scores, torch.bmm(Q, K.transpose(1, 2))),
                bcast=(Q @ B).shape == (2, 3, 5), outer=outer.tolist(), trace=trace.item(), bil=bil.item(),
                grad=A.grad.numpy(), col_sum=torch.einsum('ij->j', B).numpy())


def prog_split_chunk_expand(torch):
    "chunk / split (sizes and lists) / unbind / expand / repeat / expand_as / flatten / view_as on a batch."
    x = torch.arange(24, dtype=torch.float32).view(4, 6)
    a, b, c = x.chunk(3, dim=1)
    parts = torch.split(x, [1, 3], dim=0)
    halves = x.split(2)
    rows = x.unbind(0)
    col = torch.tensor([[1.0], [2.0], [3.0]])
    e = col.expand(3, 4)
    e2 = col.expand(-1, 2)
    r = torch.tensor([1, 2]).repeat(3)
    r2 = torch.tensor([[1, 2]]).repeat(2, 2)
    q, k, v = torch.randn(2, 5, 12).chunk(3, dim=-1)
    w = torch.ones(2, 3, requires_grad=True)
    (w.repeat(2, 1) * torch.arange(12.0).view(4, 3)).sum().backward()
    return dict(chunk=[a.tolist(), b.shape == (4, 2), c[:, -1].tolist()], split=[list(p.shape) for p in parts],
                halves=len(halves), rows=[r_.tolist() for r_ in rows[:2]], e=e.tolist(), e2=list(e2.shape),
                r=r.tolist(), r2=r2.tolist(), qkv=[list(q.shape), list(k.shape), list(v.shape)],
                expand_as=col.expand_as(torch.zeros(3, 2)).tolist(), view_as=x.view_as(torch.zeros(2, 12)).shape[1],
                flat=x.flatten().shape == (24,), grad=w.grad.tolist())


def prog_mnist_test_loop(torch):
    "pytorch/examples mnist test(): log_softmax output, F.nll_loss(reduction='sum'), argmax(keepdim), eq(view_as)."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=70, n=90, d=8, k=4)
    test_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=32)

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.fc1 = nn.Linear(8, 16)
            self.dropout = nn.Dropout(0.25)
            self.fc2 = nn.Linear(16, 4)

        def forward(self, x):
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    model = Net()
    _set_params(torch, model, seed=71)
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    msg = 'Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)'.format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset))
    return dict(test_loss=test_loss, correct=correct, msg=msg, pred_shape=list(pred.shape),
                out=output.numpy())


def prog_embedding_mean_classifier(torch):
    "Text classification: nn.Embedding(padding_idx=0), mean over the sequence, masks for padding, Adam."
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(72)
    tokens = rng.integers(1, 20, (30, 7))
    tokens[:, 5:] = 0  # padding
    labels = (tokens[:, 0] % 2).astype(np.int64)
    X, Y = torch.tensor(tokens, dtype=torch.long), torch.tensor(labels)

    class TextClassifier(nn.Module):
        def __init__(self, vocab_size, embed_dim, num_class):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.fc = nn.Linear(embed_dim, num_class)

        def forward(self, text):
            embedded = self.embedding(text)  # (B, T, E)
            mask = (text != 0).unsqueeze(-1).float()
            pooled = (embedded * mask).sum(dim=1) / mask.sum(dim=1)
            return self.fc(pooled), embedded.mean(dim=1)

    model = TextClassifier(20, 8, 2)
    _set_params(torch, model, seed=73)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        logits, _ = model(X)
        loss = F.cross_entropy(logits, Y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    fresh = nn.Embedding(10, 3, padding_idx=0)
    return dict(losses=losses, emb=model.embedding.weight.detach().numpy(),
                pad_grad=model.embedding.weight.grad[0].tolist(), mean_shape=list(model(X)[1].shape),
                fresh_pad=fresh.weight[0].tolist(), num_embeddings=fresh.num_embeddings,
                embedding_dim=fresh.embedding_dim)


def prog_moduledict_activations(torch):
    "nn.ModuleDict of activations chosen by name, nn.Sequential(OrderedDict(...)), add_module, named_modules."
    nn = torch.nn

    class MyModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.choices = nn.ModuleDict({'lin': nn.Linear(4, 4), 'big': nn.Linear(4, 4, bias=False)})
            self.activations = nn.ModuleDict([['lrelu', nn.LeakyReLU()], ['prelu', nn.Tanh()]])

        def forward(self, x, choice, act):
            x = self.choices[choice](x)
            x = self.activations[act](x)
            return x

    m = MyModule()
    _set_params(torch, m, seed=74)
    x = torch.tensor(np.random.default_rng(75).standard_normal((3, 4)).astype(np.float32))
    y = m(x, 'lin', 'lrelu')
    seq = nn.Sequential(OrderedDict([
        ('fc1', nn.Linear(4, 8)),
        ('relu1', nn.ReLU()),
        ('fc2', nn.Linear(8, 2)),
    ]))
    seq.add_module('out', nn.Softmax(dim=1))
    _set_params(torch, seq, seed=76)
    p = seq(x)
    return dict(y=y.detach().numpy(), y2=m(x, 'big', 'prelu').detach().numpy(), keys=list(m.choices.keys()),
                has=['lin' in m.choices, 'nope' in m.choices], n_dict=len(m.activations),
                state=list(m.state_dict().keys()), seq_keys=list(seq.state_dict().keys()), p=p.detach().numpy(),
                fc1=seq.fc1.weight.shape == (8, 4), len_seq=len(seq),
                modules=[name for name, _ in seq.named_modules()],
                types=[type(mod).__name__ for mod in seq.children()], last=type(seq[-1]).__name__)


def prog_factories_like(torch):
    "torch.full / full_like / zeros_like / ones_like / rand_like / randn_like / empty / new_* : shapes and dtypes."
    x = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.long)
    f = torch.tensor([[0.5, 1.5]])
    out = dict(full=torch.full((2, 3), 3.0).tolist(), full_int=torch.full((2,), 7).dtype == torch.int64,
               full_like=torch.full_like(f, -1.0).tolist(), zl=torch.zeros_like(x).dtype == torch.long,
               ol=torch.ones_like(f).tolist(), zl_float=torch.zeros_like(x, dtype=torch.float).dtype == torch.float32,
               rl=[list(torch.rand_like(f).shape), torch.rand_like(f).dtype == torch.float32],
               rnl=list(torch.randn_like(torch.zeros(4, 2)).shape), empty=list(torch.empty(3, 2).shape),
               new_zeros=f.new_zeros(2, 2).tolist(), new_ones=x.new_ones(3).dtype == torch.int64,
               new_full=f.new_full((2,), 4.0).tolist(), new_tensor=f.new_tensor([1, 2]).dtype == torch.float32,
               T=x.T.tolist(), numel=x.numel(), nelement=x.nelement(), elem=x.element_size(),
               tolist=x.tolist(), long_item=type(x[0, 0].item()).__name__, arange=torch.arange(0.0, 1.0, 0.25).tolist(),
               randint=torch.randint(3, 10, (2, 2)).shape == (2, 2), randn=torch.randn(2, 3).dtype == torch.float32,
               rand_range=bool(((torch.rand(100) >= 0) & (torch.rand(100) < 1)).all()),
               empty_like=list(torch.empty_like(f).shape), eye=torch.eye(2, 3).tolist())
    r = torch.randn(5, requires_grad=True)
    out['rl_grad'] = torch.rand_like(r).requires_grad
    out['from_list_float'] = torch.tensor([1, 2.5]).dtype == torch.float32
    out['from_bool'] = torch.tensor([True, False]).dtype == torch.bool
    out['as_tensor'] = torch.as_tensor([1, 2]).tolist()
    return out


def prog_grad_accumulation(torch):
    "Gradient accumulation: loss / accum_steps over micro-batches equals the full-batch gradient; autograd.grad."
    nn = torch.nn
    X, y, _, _ = _d2l_synthetic(seed=77, num_examples=32)
    X, y = torch.tensor(X), torch.tensor(y)
    model = nn.Linear(2, 1)
    _set_params(torch, model, seed=78)
    criterion = nn.MSELoss()
    accum_steps = 4
    model.zero_grad()
    for i, (xb, yb) in enumerate(zip(X.split(8), y.split(8))):
        loss = criterion(model(xb), yb) / accum_steps
        loss.backward()
    accumulated = model.weight.grad.detach().clone()
    model.zero_grad()
    criterion(model(X), y).backward()
    full = model.weight.grad.detach().clone()
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    out_ = (w * w).sum() * b
    gw, gb = torch.autograd.grad(out_, [w, b], retain_graph=True)
    out_.backward(retain_graph=True)
    out_.backward()
    z = w.detach().clone()
    z.requires_grad_()
    (z ** 3).sum().backward()
    return dict(close=torch.allclose(accumulated, full, atol=1e-6), full=full.numpy(), gw=gw.tolist(),
                gb=gb.item(), w_grad=w.grad.tolist(), z_grad=z.grad.tolist(), z_leaf=z.is_leaf,
                detached=w.detach().requires_grad, clone_grad=w.clone().requires_grad)


def prog_softmax_logsumexp(torch):
    "nn.Softmax(dim=1), nn.LogSoftmax, torch.logsumexp, clamp / clamp_min, F.mse_loss(reduction='sum'), sum over dims."
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(79)
    logits = torch.tensor(rng.standard_normal((3, 5)).astype(np.float32) * 3, requires_grad=True)
    softmax = nn.Softmax(dim=1)
    probs = softmax(logits)
    logp = nn.LogSoftmax(dim=1)(logits)
    lse = torch.logsumexp(logits, dim=1)
    lse_keep = logits.logsumexp(dim=-1, keepdim=True)
    clamped = probs.clamp(min=1e-3, max=0.5)
    entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim=1)
    target = torch.full((3, 5), 0.2)
    sse = F.mse_loss(probs, target, reduction='sum')
    (sse + lse.sum() + entropy.mean()).backward()
    return dict(probs=probs.detach().numpy(), logp_close=torch.allclose(logp, logits - lse_keep, atol=1e-6),
                lse=lse.detach().numpy(), clamped=clamped.detach().numpy(), entropy=entropy.detach().numpy(),
                sse=sse.item(), grad=logits.grad.numpy(), sum_dims=logits.sum(dim=(0, 1)).item(),
                prod=torch.tensor([1., 2., 3.]).prod().item(), softmax_dim=softmax.dim)


def prog_parameters_to_vector(torch):
    "nn.utils.parameters_to_vector / vector_to_parameters, and a manual L2 penalty over named parameters."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=80, n=30, d=4, k=2)
    X, Y = torch.tensor(x), torch.tensor(y)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    _set_params(torch, model, seed=81)
    vec = nn.utils.parameters_to_vector(model.parameters())
    l2_lambda = 1e-3
    l2_norm = sum(p.pow(2.0).sum() for name, p in model.named_parameters() if 'weight' in name)
    loss = F.cross_entropy(model(X), Y) + l2_lambda * l2_norm
    loss.backward()
    grad_vec = torch.cat([p.grad.view(-1) for p in model.parameters()])
    nn.utils.vector_to_parameters(vec * 0.5, model.parameters())
    return dict(n=vec.numel(), vec=vec.detach().numpy(), loss=loss.item(), grad_vec=grad_vec.numpy(),
                halved=model[2].bias.detach().numpy(), norm=vec.norm().item(),
                norm_p1=torch.norm(vec, p=1).item())


def prog_reduce_lr_on_plateau(torch):
    "lr_scheduler.ReduceLROnPlateau(mode='min', factor, patience) stepped with a validation loss."
    nn = torch.nn
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5, patience=2)
    val_losses = [1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.95, 0.96, 0.5, 0.6, 0.6, 0.6, 0.6]
    lrs = []
    for val_loss in val_losses:
        optimizer.step()
        scheduler.step(val_loss)
        lrs.append(optimizer.param_groups[0]['lr'])
    opt2 = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched2 = torch.optim.lr_scheduler.ReduceLROnPlateau(opt2, 'max', factor=0.1, patience=0, min_lr=1e-5)
    for acc in [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7]:
        sched2.step(acc)
    return dict(lrs=lrs, best=scheduler.best, lr2=opt2.param_groups[0]['lr'],
                last=scheduler.get_last_lr())


def prog_custom_dataset(torch):
    "A Dataset subclass (__len__/__getitem__ returning a tensor and an int), default collation, last partial batch."
    Dataset, DataLoader = torch.utils.data.Dataset, torch.utils.data.DataLoader

    class SquaresDataset(Dataset):
        def __init__(self, n):
            self.x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, idx):
            return self.x[idx], int(idx) % 3

    class DictDataset(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {'feat': np.full(2, i, np.float32), 'label': i * 1.5, 'name': f'item{i}'}

    loader = DataLoader(SquaresDataset(10), batch_size=4)
    batches = [(xb.shape, yb.tolist(), yb.dtype == torch.int64) for xb, yb in loader]
    xb, yb = next(iter(loader))
    d = next(iter(DataLoader(DictDataset(), batch_size=3)))
    return dict(n_batches=len(loader), shapes=[list(s) for s, _, _ in batches], labels=[l for _, l, _ in batches],
                dtypes=[t for _, _, t in batches], x=xb.numpy(), feat=d['feat'].numpy(),
                label=d['label'].tolist(), label_f64=d['label'].dtype == torch.float64, names=d['name'],
                feat_type=type(d['feat']).__name__ == 'Tensor')


def prog_one_hot_targets(torch):
    "F.one_hot(...).float() targets with MSELoss, torch.eye(k)[y], sigmoid outputs and BCELoss on one-hot."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=82, n=48, d=5, k=4)
    X, Y = torch.tensor(x), torch.tensor(y)
    targets = F.one_hot(Y, num_classes=4).float()
    same = torch.equal(targets, torch.eye(4)[Y])
    inferred = F.one_hot(torch.tensor([0, 2, 1])).shape
    model = nn.Sequential(nn.Linear(5, 8), nn.Sigmoid(), nn.Linear(8, 4), nn.Sigmoid())
    _set_params(torch, model, seed=83)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    mse, bce = nn.MSELoss(), nn.BCELoss()
    losses = []
    for _ in range(10):
        out = model(X)
        loss = mse(out, targets) + bce(out, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return dict(same=same, inferred=list(inferred), oh_dtype=F.one_hot(Y).dtype == torch.int64,
                losses=losses, w=model[2].weight.detach().numpy())


def prog_masks_and_where(torch):
    "Boolean masks: torch.where(cond), nonzero, any/all, & | ~, masked_select, count_nonzero, isnan, nan_to_num."
    rng = np.random.default_rng(84)
    x = torch.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    m = (x > 0) & (x < 1)
    rows, cols = torch.where(m)
    nz = torch.nonzero(x > 1)
    y = torch.tensor([1.0, float('nan'), 3.0, float('inf')])
    out = dict(rows=rows.tolist(), cols=cols.tolist(), nz=nz.tolist(), any=(x > 2).any().item(),
               all=(x > -5).all().item(), any_dim=(x > 1).any(dim=1).tolist(), not_=(~m).sum().item(),
               or_=(m | (x < -1)).float().mean().item(), sel=torch.masked_select(x, m).numpy(),
               cnt=torch.count_nonzero(m).item(), isnan=torch.isnan(y).tolist(), isinf=torch.isinf(y).tolist(),
               isfinite=torch.isfinite(y).tolist(), n2n=torch.nan_to_num(y, nan=0.0, posinf=9.0).tolist(),
               relu_where=torch.where(x > 0, x, 0.1 * x).numpy(), sign=torch.sign(x[0]).tolist(),
               eq_scalar=(torch.arange(5) == 3).tolist(), ne=torch.arange(3).ne(1).tolist(),
               mask_idx_assign=None)
    z = x.clone()
    z[~m] = 0.0
    out['mask_idx_assign'] = z.numpy()
    return out


def prog_early_stopping(torch):
    "Early stopping: track the best validation loss, keep copy.deepcopy(model.state_dict()), reload the best."
    nn, F = torch.nn, torch.nn.functional
    x, y = _blobs(seed=85, n=80, d=4, k=3)
    Xtr, Ytr = torch.tensor(x[:60]), torch.tensor(y[:60])
    Xva, Yva = torch.tensor(x[60:]), torch.tensor(y[60:])
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    _set_params(torch, model, seed=86, scale=1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    best_val, best_state, best_epoch, patience, bad = float('inf'), None, -1, 3, 0
    history = []
    for epoch in range(30):
        model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(Xtr), Ytr).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val = F.cross_entropy(model(Xva), Yva).item()
        history.append(round(val, 5))
        if val < best_val:
            best_val, best_epoch, bad = val, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= patience:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        reloaded = F.cross_entropy(model(Xva), Yva).item()
    return dict(history=history, best_epoch=best_epoch, stopped=epoch, reloaded=reloaded, best_val=best_val)


def prog_tensor_reshaping(torch):
    "Image-style batches: permute(0, 2, 3, 1), contiguous().view(-1, C), unsqueeze(0), squeeze(dim), transpose."
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)  # N, C, H, W
    nhwc = x.permute(0, 2, 3, 1)
    pixels = nhwc.contiguous().view(-1, 3)
    mean = pixels.mean(dim=0)
    std = pixels.std(dim=0)
    normed = (x - mean.view(1, 3, 1, 1)) / std[None, :, None, None]
    single = x[0].unsqueeze(0)
    back = single.squeeze(0)
    flat = x.view(x.size(0), -1)
    flat2 = torch.flatten(x, start_dim=1)
    t = x.transpose(2, 3)
    try:
        nhwc.view(-1, 3)
        view_raises = False
    except RuntimeError:
        view_raises = True
    return dict(nhwc=list(nhwc.shape), contig=[x.is_contiguous(), nhwc.is_contiguous()], mean=mean.tolist(),
                std=std.numpy(), normed=normed[1, 2].numpy(), single=list(single.shape), back=list(back.shape),
                flat=flat.shape == flat2.shape, t=t[0, 0].tolist(), view_raises=view_raises,
                reshape=nhwc.reshape(-1, 3)[:2].tolist(), none_idx=list(x[:, None].shape),
                ellipsis=x[..., 0].shape == (2, 3, 4), neg=x[:, -1, -2:].tolist())


def prog_legacy_constructors(torch):
    "Old-tutorial tensors: torch.Tensor(data) / Tensor(rows, cols), FloatTensor / LongTensor, torch.Size."
    x = torch.Tensor([[1, 2], [3, 4]])
    x[0, 0] = 0.5
    w = torch.Tensor(3, 2).uniform_(-1, 1)
    v = torch.Tensor(5).zero_()
    X = torch.FloatTensor(np.arange(6).reshape(3, 2))
    y = torch.LongTensor([0, 1, 1])
    z = torch.Tensor(np.array([1.5, 2.5], np.float64))
    h = torch.Tensor([-4.0]).double()
    h.requires_grad = True
    (h * h).sum().backward()
    return dict(x=x.tolist(), x_f32=x.dtype == torch.float32, w=[list(w.shape), bool((w.abs() <= 1).all())],
                v=v.tolist(), X=X.numpy(), y=y.tolist(), y_long=y.dtype == torch.int64, z_f32=z.dtype == torch.float32,
                h_grad=h.grad.item(), size=x.shape == torch.Size([2, 2]), size_list=list(torch.Size([2, 3])),
                numel=torch.Size([2, 3]).numel(), empty=list(torch.Tensor().shape), is_tensor=torch.is_tensor(x),
                is_float=isinstance(X, torch.FloatTensor), is_long=isinstance(X, torch.LongTensor),
                cast=X.type(torch.LongTensor).dtype == torch.int64, mean=torch.Tensor([1, 2, 4]).mean().item())


def prog_char_rnn_names(torch):
    "'Classifying Names with a Character-Level RNN': one-hot letters, cat((input, hidden), 1), manual p.data.add_."
    nn = torch.nn
    all_letters = string.ascii_letters + " .,;'"
    n_letters = len(all_letters)
    all_categories = ['A', 'B', 'C']
    data = [('Abe', 0), ('Bob', 1), ('Cid', 2), ('Ann', 0), ('Bea', 1), ('Cy', 2)]

    def letterToIndex(letter):
        return all_letters.find(letter)

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(input_size + hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = torch.cat((input, hidden), 1)
            hidden = self.i2h(combined)
            output = self.i2o(combined)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    n_hidden = 16
    rnn = RNN(n_letters, n_hidden, len(all_categories))
    _set_params(torch, rnn, seed=90, scale=0.1)
    criterion = nn.NLLLoss()
    learning_rate = 0.05

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    losses = []
    for epoch in range(5):
        for line, c in data:
            output, loss = train(torch.tensor([c], dtype=torch.long), lineToTensor(line))
            losses.append(loss)
    with torch.no_grad():
        hidden = rnn.initHidden()
        line_tensor = lineToTensor('Bob')
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
    return dict(losses=losses[::3], guess=categoryFromOutput(output), shape=list(lineToTensor('Jones').size()),
                out=output.numpy(), w=rnn.i2o.weight.detach().numpy()[:, -5:])


def prog_cifar_style_loop(torch):
    "The CIFAR-10 tutorial's loops: enumerate(loader, 0), running_loss, torch.max(outputs.data, 1), per-class accuracy."
    nn, optim, F = torch.nn, torch.optim, torch.nn.functional
    x, y = _blobs(seed=91, n=80, d=12, k=4)
    trainset = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=8, shuffle=False, num_workers=2)
    classes = ('plane', 'car', 'bird', 'cat')

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(12, 20)
            self.fc2 = nn.Linear(20, 10)
            self.fc3 = nn.Linear(10, 4)

        def forward(self, x):
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()
    _set_params(torch, net, seed=92)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    printed = []
    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 5 == 4:
                printed.append(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 5:.3f}')
                running_loss = 0.0
    correct, total = 0, 0
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in trainloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    return dict(printed=printed, acc=100 * correct // total, correct_pred=correct_pred, total_pred=total_pred)


def prog_padding_ignore_index(torch):
    "A padded token classifier: CrossEntropyLoss(ignore_index=PAD) with PAD = 0, and F.cross_entropy(..., ignore_index)."
    nn, F = torch.nn, torch.nn.functional
    PAD = 0
    rng = np.random.default_rng(93)
    tokens = rng.integers(1, 10, (6, 5))
    tokens[0, 3:] = PAD
    tokens[2, 1:] = PAD
    targets = np.where(tokens == PAD, PAD, (tokens * 3) % 4)
    X, Y = torch.tensor(tokens), torch.tensor(targets)
    emb = nn.Embedding(10, 8, padding_idx=PAD)
    head = nn.Linear(8, 4)
    _set_params(torch, emb, seed=94)
    _set_params(torch, head, seed=95)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    params = list(emb.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=0.05)
    losses = []
    for _ in range(8):
        logits = head(emb(X))  # (B, T, C)
        loss = criterion(logits.view(-1, 4), Y.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    logits = head(emb(X))
    per_tok = F.cross_entropy(logits.transpose(1, 2), Y, ignore_index=PAD, reduction='none')
    mask = Y != PAD
    manual = (per_tok * mask).sum() / mask.sum()
    return dict(losses=losses, per_tok=per_tok.detach().numpy(), manual=manual.item(),
                summed=F.cross_entropy(logits.reshape(-1, 4), Y.flatten(), ignore_index=0, reduction='sum').item(),
                nll=F.nll_loss(F.log_softmax(logits.view(-1, 4), -1), Y.view(-1), ignore_index=0).item())


def prog_gradient_penalty(torch):
    "WGAN-GP style: torch.autograd.grad(outputs, inputs, grad_outputs=ones, create_graph=True), norm(2, dim=1)."
    nn = torch.nn
    rng = np.random.default_rng(96)
    critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    _set_params(torch, critic, seed=97)
    real = torch.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    fake = torch.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    alpha = torch.tensor(rng.random((5, 1)).astype(np.float32))
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    d_interpolates = critic(interpolates)
    gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates,
                                    grad_outputs=torch.ones_like(d_interpolates),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    d_loss = critic(fake).mean() - critic(real).mean() + 10 * gradient_penalty
    d_loss.backward()
    return dict(gp=gradient_penalty.item(), d_loss=d_loss.item(), grads=gradients.detach().numpy(),
                w_grad=critic[0].weight.grad.numpy(), interp_grad_none=interpolates.grad is None)


def prog_numpy_interop(torch):
    "NumPy round trips: from_numpy(...).float(), np.array(t), t.numpy() shares memory, torch.as_tensor, .item()."
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = torch.from_numpy(a)
    t_f = torch.from_numpy(a).float()
    a[0, 0] = 100.0
    n = np.array(t_f)
    m = t_f.numpy()
    m[1, 1] = -1.0
    b = torch.as_tensor([1, 2, 3])
    c = torch.as_tensor(np.ones(2, np.float32))
    mean_np = np.mean(t_f.numpy(), axis=0)
    out = dict(shared=t[0, 0].item(), t_dtype=t.dtype == torch.float64, copied=t_f[0, 0].item(),
               n=n.tolist(), n_dtype=str(n.dtype), m_shared=t_f[1, 1].item(), b=b.tolist(),
               b_dtype=b.dtype == torch.int64, c_dtype=c.dtype == torch.float32, mean=mean_np,
               np_sum=float(np.sum(t_f.numpy())), item=type(t_f.sum().item()).__name__,
               stacked=torch.stack([torch.from_numpy(np.ones(2)), torch.zeros(2, dtype=torch.float64)]).numpy(),
               from_list=torch.tensor([np.float32(1.5), np.float32(2.5)]).dtype == torch.float32,
               detach_numpy=torch.ones(2, requires_grad=True).detach().numpy().tolist())
    return out


def prog_xor_classic(torch):
    "The classic XOR demo: nn.Sequential(Linear, Sigmoid, Linear, Sigmoid), BCELoss, SGD, round() predictions."
    nn = torch.nn
    X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
    Y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    _set_params(torch, model, seed=98, scale=1.0)
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    history = []
    for epoch in range(300):
        optimizer.zero_grad()
        out = model(X)
        loss = loss_fn(out, Y)
        loss.backward()
        optimizer.step()
        if epoch % 50 == 0:
            history.append(round(loss.item(), 5))
    with torch.no_grad():
        preds = model(X).round()
    return dict(history=history, preds=preds.squeeze().tolist(), out=model(X).detach().numpy(),
                acc=(preds == Y).float().mean().item())


def prog_schedulers_more(torch):
    "LambdaLR, MultiStepLR, ExponentialLR and OneCycleLR traces via get_last_lr(), stepping per batch or epoch."
    nn, sched = torch.nn, torch.optim.lr_scheduler
    out = {}

    def make(lr=0.1):
        model = nn.Linear(2, 1)
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    opt = make()
    s = sched.LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
    out['lambda'] = [(opt.step(), s.step(), s.get_last_lr()[0])[2] for _ in range(5)]
    opt = make()
    s = sched.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    out['multistep'] = [(opt.step(), s.step(), s.get_last_lr()[0])[2] for _ in range(6)]
    opt = make()
    s = sched.ExponentialLR(opt, gamma=0.9)
    out['exp'] = [(opt.step(), s.step(), opt.param_groups[0]['lr'])[2] for _ in range(4)]
    opt = make()
    s = sched.OneCycleLR(opt, max_lr=0.5, total_steps=10)
    lrs = []
    for _ in range(10):
        opt.step()
        lrs.append(s.get_last_lr()[0])
        s.step() if len(lrs) < 10 else None
    out['onecycle'] = lrs
    out['momentum'] = opt.param_groups[0]['momentum']
    return out


def prog_custom_loss_and_metrics(torch):
    "A custom loss nn.Module (torch.mean/pow/abs/sqrt), torch.max of two tensors, r2 score, torch.std(unbiased=False)."
    nn = torch.nn
    X, y, _, _ = _d2l_synthetic(seed=99, num_examples=50)
    X, y = torch.tensor(X), torch.tensor(y)

    class RMSELoss(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.mse = nn.MSELoss()
            self.eps = eps

        def forward(self, yhat, y):
            return torch.sqrt(self.mse(yhat, y) + self.eps)

    def huber(pred, target, delta=1.0):
        err = torch.abs(pred - target)
        quad = torch.min(err, torch.full_like(err, delta))
        return torch.mean(0.5 * quad ** 2 + delta * (err - quad))

    def r2_score(pred, target):
        ss_res = torch.sum(torch.pow(target - pred, 2))
        ss_tot = torch.sum((target - torch.mean(target)) ** 2)
        return 1 - ss_res / ss_tot

    model = nn.Linear(2, 1)
    _set_params(torch, model, seed=100)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    criterion = RMSELoss()
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = criterion(model(X), y) + 0.1 * huber(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    pred = model(X).detach()
    return dict(losses=losses[::4], r2=r2_score(pred, y).item(), maxed=torch.max(pred, y).numpy()[:3],
                std=torch.std(pred, unbiased=False).item(), var=pred.var(dim=0).tolist(),
                abs_err=torch.abs(pred - y).max().item())


def prog_autoencoder(torch):
    "A small autoencoder: encoder/decoder Sequentials, nn.Sigmoid output, MSELoss against the input, Adam, latent codes."
    nn = torch.nn
    rng = np.random.default_rng(101)
    data = torch.tensor(rng.random((64, 10), dtype=np.float32))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=16)

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 2))
            self.decoder = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 10), nn.Sigmoid())

        def forward(self, x):
            z = self.encoder(x)
            return self.decoder(z)

    model = Autoencoder()
    _set_params(torch, model, seed=102)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)
    epoch_losses = []
    for epoch in range(4):
        total = 0.0
        for (batch,) in loader:
            recon = model(batch)
            loss = criterion(recon, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.size(0)
        epoch_losses.append(total / len(loader.dataset))
    with torch.no_grad():
        codes = model.encoder(data)
    return dict(epoch_losses=epoch_losses, codes=codes.numpy()[:4], code_shape=list(codes.shape),
                n_params=sum(p.numel() for p in model.parameters()),
                modules=[type(m).__name__ for m in model.modules()][:4])


def prog_numeric_constants(torch):
    "torch.finfo(dtype).eps inside a log, -torch.inf masks, torch.pi, torch.iinfo, isnan/isfinite guards on a loss."
    F = torch.nn.functional
    rng = np.random.default_rng(110)
    p = torch.tensor(rng.random((4, 3)).astype(np.float32))
    p[0, 0] = 0.0
    eps = torch.finfo(p.dtype).eps
    entropy = -(p * torch.log(p + eps)).sum(dim=1)
    scores = torch.tensor(rng.standard_normal((3, 3)).astype(np.float32))
    mask = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
    attn = F.softmax(scores.masked_fill(mask, -torch.inf), dim=-1)
    angle = torch.linspace(0, 2 * torch.pi, 5)
    loss = torch.tensor(float('nan'))
    skipped = bool(torch.isnan(loss)) or not torch.isfinite(loss).item()
    big = torch.full((2,), torch.finfo(torch.float16).max, dtype=torch.float16)
    return dict(eps=eps, entropy=entropy.numpy(), attn=attn.numpy(), sin=torch.sin(angle).numpy(),
                skipped=skipped, big=big.tolist(), imax=torch.iinfo(torch.int32).max,
                inf=torch.inf, e=round(torch.e, 6), default=torch.get_default_dtype() == torch.float32,
                tiny=torch.finfo(torch.float64).tiny)


def prog_samplers_split(torch):
    "Train/valid split with SubsetRandomSampler indices, a WeightedRandomSampler for a rare class, BatchSampler."
    nn, F = torch.nn, torch.nn.functional
    data = torch.utils.data
    x, y = _blobs(seed=111, n=60, d=4, k=2)
    dataset = data.TensorDataset(torch.tensor(x), torch.tensor(y), torch.arange(60))
    indices = list(range(len(dataset)))
    split = int(np.floor(0.2 * len(dataset)))
    np.random.default_rng(112).shuffle(indices)
    train_idx, valid_idx = indices[split:], indices[:split]
    train_loader = data.DataLoader(dataset, batch_size=len(train_idx),
                                   sampler=data.SubsetRandomSampler(train_idx))
    valid_loader = data.DataLoader(dataset, batch_size=8, sampler=data.SubsetRandomSampler(valid_idx))
    seen_valid = sorted(int(i) for _, _, ib in valid_loader for i in ib)
    model = nn.Linear(4, 2)
    _set_params(torch, model, seed=113)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for epoch in range(5):
        for xb, yb, _ in train_loader:  # one batch holding the whole training split
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    labels = torch.tensor(y)
    class_count = torch.bincount(labels)
    weights = 1.0 / class_count.float()
    sample_weights = weights[labels]
    sampler = data.WeightedRandomSampler(sample_weights, num_samples=200, replacement=True)
    drawn = torch.tensor(list(sampler))
    frac = (labels[drawn] == 1).float().mean().item()
    batches = list(data.BatchSampler(data.SequentialSampler(range(7)), batch_size=3, drop_last=True))
    return dict(n_train=len(train_loader.sampler), n_batches=len(valid_loader), seen_valid=seen_valid == sorted(valid_idx),
                class_count=class_count.tolist(),
                losses=losses, balanced=0.3 < frac < 0.7, batches=batches, n_drawn=len(drawn),
                w=model.weight.detach().numpy())


def prog_legacy_variable(torch):
    "Pre-0.4 code: Variable(x), Variable(w, requires_grad=True), loss.data, w.grad.data.zero_(), w.data -= lr * grad."
    from_legacy = torch.autograd.Variable
    X, y, _, _ = _d2l_synthetic(seed=114, num_examples=30)
    x = from_legacy(torch.from_numpy(X))
    t = from_legacy(torch.from_numpy(y), requires_grad=False)
    w = from_legacy(torch.zeros(2, 1), requires_grad=True)
    b = from_legacy(torch.zeros(1), requires_grad=True)
    lr, losses = 0.1, []
    for epoch in range(10):
        y_pred = x.mm(w) + b
        loss = (y_pred - t).pow(2).mean()
        losses.append(loss.data.item())
        loss.backward()
        w.data -= lr * w.grad.data
        b.data -= lr * b.grad.data
        w.grad.data.zero_()
        b.grad.data.zero_()
    return dict(losses=losses, w=w.data.numpy(), b=b.data.numpy(), leaf=w.is_leaf,
                is_var=isinstance(w, from_legacy), x_grad=x.requires_grad)


def prog_sort_rank_metrics(torch):
    "Ranking metrics: argsort(descending), top-k accuracy with topk + eq + any, cumsum precision, torch.unique counts."
    rng = np.random.default_rng(115)
    scores = torch.tensor(rng.permutation(40).reshape(8, 5).astype(np.float32))
    target = torch.tensor(rng.integers(0, 5, 8))
    _, top3 = scores.topk(3, dim=1)
    top3_acc = top3.eq(target.view(-1, 1).expand_as(top3)).any(dim=1).float().mean().item()
    order = torch.argsort(scores[:, 0], descending=True)
    relevant = (target[order] == 0).float()
    precision_at_k = torch.cumsum(relevant, dim=0) / torch.arange(1, 9)
    values, counts = torch.unique(target, return_counts=True)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    best, best_idx = scores.max(dim=0)
    s, i = torch.sort(scores.flatten(), descending=True)
    return dict(top3=top3.tolist(), acc=top3_acc, order=order.tolist(), prec=precision_at_k.numpy(),
                values=values.tolist(), counts=counts.tolist(), ranks=ranks.tolist(),
                best=best.tolist(), best_idx=best_idx.tolist(), s=s[:5].tolist(), i=i[:5].tolist(),
                kth=scores.kthvalue(2, dim=1).values.tolist(), median=scores.median(dim=0).values.tolist())


def prog_seed_and_device_boilerplate(torch):
    "set_seed() boilerplate (cudnn flags, cuda.manual_seed_all, deterministic algorithms), the Quickstart's device line."
    import random

    def set_seed(seed):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    set_seed(42)
    torch.use_deterministic_algorithms(True)
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")
    a = torch.rand(3)
    set_seed(42)
    b = torch.rand(3)
    model = torch.nn.Linear(3, 2).to(device)
    _set_params(torch, model, seed=120)
    x = torch.tensor(np.random.default_rng(121).standard_normal((4, 3)).astype(np.float32)).to(device)
    out = model(x).detach().cpu().numpy()
    enabled = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    mps = torch.backends.mps.is_available()
    torch.set_printoptions(precision=3)
    printed = str(torch.tensor([[1.23456, -2.71828]]))
    torch.set_printoptions(profile='default')
    return dict(device=device, same=torch.equal(a, b), out=out, enabled=enabled, mps=mps, printed=printed,
                flags=[torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark])


PROGRAMS = [v for k, v in list(globals().items()) if k.startswith('prog_')]


# ------------------------------------------------------------------------------------------------------------------
# The comparison
# ------------------------------------------------------------------------------------------------------------------

def _compare(got, expected, path='result'):
    "Recursively: same structure, same Python scalar types and array dtypes, values equal up to float32 precision."
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{path}: got {type(got).__name__}, expected dict"
        assert list(got) == list(expected), f"{path}: keys {list(got)} != {list(expected)}"
        for k in expected:
            _compare(got[k], expected[k], f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)), f"{path}: got {type(got).__name__}, expected {type(expected).__name__}"
        assert len(got) == len(expected), f"{path}: length {len(got)} != {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            _compare(g, e, f"{path}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), f"{path}: got {type(got).__name__}, expected a NumPy array"
        assert got.dtype == expected.dtype, f"{path}: dtype {got.dtype} != {expected.dtype}"
        assert got.shape == expected.shape, f"{path}: shape {got.shape} != {expected.shape}"
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=path)
    elif isinstance(expected, (bool, int, float, str, type(None))):
        assert type(got) is type(expected), \
            f"{path}: got {type(got).__name__} {got!r}, expected {type(expected).__name__} {expected!r}"
        if isinstance(expected, float):
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=path)
        else:
            assert got == expected, f"{path}: {got!r} != {expected!r}"
    elif isinstance(expected, np.generic):  # e.g. a NumPy scalar from np.sum in a program's own arithmetic
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=path)
    else:
        raise TypeError(f"{path}: the torch run returned a {type(expected).__name__}; return plain values")


@pytest.mark.parametrize('program', PROGRAMS, ids=[p.__name__[5:] for p in PROGRAMS])
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")  # torch's np.array(t)
def test_program(program):
    expected = program(torch_lib)
    got = program(dl)
    _compare(got, expected)


def test_enough_programs():
    assert len(PROGRAMS) >= 77
