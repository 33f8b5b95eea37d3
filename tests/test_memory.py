"""Deep graphs, freeing the graph after backward, and no memory growth over a training loop."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import deeplearning101 as dl


# --------------------------------------------------------------------------- deep graphs

def test_a_100000_node_chain_forward_and_backward():
    "Neither building, differentiating nor deleting a very deep graph may recurse."
    n = 100_000
    limit = sys.getrecursionlimit()
    x = dl.tensor(np.array(0.5), requires_grad=True)
    y = x
    for i in range(n // 2):                 # two ops per step, plus a side branch with zero weight
        y = y * 1.00001
        y = dl.tanh(y) * 0.0 + y if i % 10 == 0 else y + 0.0
    y.backward(retain_graph=True)
    assert sys.getrecursionlimit() == limit, "the package must not raise the recursion limit"
    np.testing.assert_allclose(x.grad.numpy(), 1.00001 ** (n // 2), rtol=1e-9)
    np.testing.assert_allclose(y.detach().numpy(), 0.5 * 1.00001 ** (n // 2), rtol=1e-9)
    (g,) = dl.grad(y, x)                    # the retained graph can be walked again (and is then freed)
    np.testing.assert_allclose(g.numpy(), 1.00001 ** (n // 2), rtol=1e-9)
    del y, g                                # deallocating the chain must not overflow the C stack


def test_a_deep_graph_that_was_never_differentiated_can_be_deleted():
    x = dl.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    ref = weakref.ref(y)
    del y
    assert ref() is None


def test_a_deep_placeholder_graph_runs_in_a_session():
    c = 1.0 + 2.0 ** -14                    # exact in float32 too (see the placeholder-constant bug)
    x = dl.placeholder("x")
    y = x
    for _ in range(20_000):
        y = y * c
    out = dl.Session().run(y, {x: np.array([1.0, 2.0])})
    np.testing.assert_allclose(out, np.array([1.0, 2.0]) * c ** 20_000, rtol=1e-9)


# --------------------------------------------------------------------------- the graph is freed

def _graph(x):
    h = x.exp()                             # an intermediate the user drops
    return h, (h * 2.0).tanh().sum()


def test_backward_frees_the_graph():
    x = dl.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    h, loss = _graph(x)
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is not None, "before backward the graph keeps the intermediate alive"
    loss.backward()
    assert ref() is None, "after backward the intermediate must be gone, although `loss` is still referenced"
    assert x.grad is not None and x.grad.is_leaf and not x.grad.requires_grad


def test_retain_graph_keeps_it_until_the_user_drops_the_output():
    x = dl.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    h, loss = _graph(x)
    ref = weakref.ref(h)
    del h
    loss.backward(retain_graph=True)
    assert ref() is not None
    del loss
    assert ref() is None, "the graph must not be kept alive by anything but its output (no reference cycles)"


def test_dropping_the_output_frees_the_graph_without_backward():
    x = dl.tensor(np.array([0.1, 0.2]), requires_grad=True)
    h, loss = _graph(x)
    ref = weakref.ref(h)
    del h, loss
    assert ref() is None


def test_grad_frees_the_graph_and_create_graph_keeps_it():
    x = dl.tensor(np.array([0.1, 0.2]), requires_grad=True)
    h, loss = _graph(x)
    ref = weakref.ref(h)
    del h
    (g,) = dl.grad(loss, x, create_graph=True)
    assert ref() is not None, "with create_graph the gradient's own graph needs the intermediates"
    del loss
    (gg,) = dl.grad(g.sum(), x)
    del g
    assert ref() is None
    assert gg.shape == (2,)


def test_leaf_gradients_hold_no_graph():
    x = dl.tensor(np.array([0.1, 0.2]), requires_grad=True)
    _, loss = _graph(x)
    loss.backward()
    assert x.grad.is_leaf and not x.grad.requires_grad
    assert x.grad.numpy().flags.writeable and x.grad.numpy().flags.owndata


# --------------------------------------------------------------------------- a training loop does not leak

class MLP:
    "20-32-10 with relu and a log_softmax loss; plain SGD written as in PyTorch."
    def __init__(self, seed=0):
        rs = np.random.default_rng(seed)
        self.X = dl.tensor(rs.standard_normal((16, 20)))
        self.labels = rs.integers(0, 10, 16)
        self.rows = np.arange(16)
        self.params = [dl.tensor(rs.standard_normal((20, 32)) * 0.2, requires_grad=True),
                       dl.tensor(np.zeros(32), requires_grad=True),
                       dl.tensor(rs.standard_normal((32, 10)) * 0.2, requires_grad=True),
                       dl.tensor(np.zeros(10), requires_grad=True)]

    def loss(self):
        W1, b1, W2, b2 = self.params
        h = dl.relu(self.X @ W1 + b1)
        return -dl.log_softmax(h @ W2 + b2, axis=1)[self.rows, self.labels].mean()

    def step(self, lr=0.1, keep=None, retain_graph=False):
        loss = self.loss()
        loss.backward(retain_graph=retain_graph)
        with dl.no_grad():
            for p in self.params:
                p -= lr * p.grad                # in place: the same leaf, new values
                p.grad = None
        if keep is not None:
            keep.append(loss)
        return loss.item()


def _traced_growth(model, steps, measure_at, **step_kw):
    gc.collect()
    tracemalloc.start()
    try:
        losses = []
        for i in range(1, steps + 1):
            losses.append(model.step(**step_kw))
            if i == measure_at:
                gc.collect()
                base = tracemalloc.get_traced_memory()[0]
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return end - base, losses


def test_training_loop_memory_does_not_grow():
    model = MLP()
    growth, losses = _traced_growth(model, 1000, 100)
    assert growth < 256 * 1024, f"traced memory grew by {growth / 1024:.0f} KiB between step 100 and step 1000"
    assert losses[-1] < 0.25 * losses[0], "the loop must actually train"
    for p in model.params:
        assert p.is_leaf and p.requires_grad and p.grad is None


def test_the_memory_check_detects_a_leak():
    "Control: keeping every step's graph alive (retain_graph + a list of losses) is seen as growth."
    kept = []
    growth, _ = _traced_growth(MLP(), 300, 100, keep=kept, retain_graph=True)
    assert growth > 1024 * 1024, f"only {growth / 1024:.0f} KiB: the measurement would miss a leak"


# ------------------------------------------------------------ kept losses hold no batch

def _digits_mlp():
    "Chapter 03b's model (64-128-64-10, batch norm, dropout) and a digits-sized batch."
    dl.manual_seed(0)
    model = dl.Sequential(dl.Linear(64, 128), dl.BatchNorm1d(128), dl.ReLU(),
                          dl.Dropout(0.2), dl.Linear(128, 64), dl.ReLU(),
                          dl.Linear(64, 10))
    rng = np.random.default_rng(0)
    x = dl.tensor(rng.random((256, 64), dtype=np.float32))
    y = dl.tensor(rng.integers(0, 10, 256))
    return model, x, y


def _kept_losses_memory(retain_graph, steps=50):
    "Traced bytes held by `steps` losses kept after their backward (not model or data)."
    model, x, y = _digits_mlp()
    opt = dl.SGD(model.parameters(), lr=0.05)
    opt.zero_grad(); dl.cross_entropy(model(x), y).backward(); opt.step()   # warm up
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = []
        for _ in range(steps):
            loss = dl.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward(retain_graph=retain_graph)
            opt.step()
            kept.append(loss)
        del loss
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(kept) == steps and all(np.isfinite(k.item()) for k in kept)
    return held


def test_kept_losses_do_not_keep_their_batches():
    "Backward frees the graph and what its ops saved: 50 kept losses hold < 2 MB."
    held = _kept_losses_memory(retain_graph=False)
    assert held < 2 * 1024 * 1024, f"50 kept losses hold {held / 2**20:.1f} MiB"


def test_kept_losses_with_retained_graphs_are_seen():
    "Control: with retain_graph every loss keeps its activations, and this sees it."
    held = _kept_losses_memory(retain_graph=True)
    assert held > 20 * 1024 * 1024, f"only {held / 2**20:.1f} MiB: it misses leaks"


def test_ops_list_what_backward_frees():
    "Chapter 03's fused ops declare the arrays their rules keep; backward drops them."
    from deeplearning101.layers import (BatchNormOp, CrossEntropyOp,
                                        WeightedCrossEntropyOp)
    assert {'probs', 'target'} <= set(CrossEntropyOp.saved)
    assert {'xhat', 'inv'} <= set(BatchNormOp.saved)
    assert {'probs', 'q'} <= set(WeightedCrossEntropyOp.saved)
    model, x, y = _digits_mlp()
    loss = dl.cross_entropy(model(x), y, label_smoothing=0.1)
    loss.backward()
    op = loss._op
    assert op.inputs is None and op.probs is None and op.q is None
