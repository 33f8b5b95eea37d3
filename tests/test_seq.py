"""Chapter 08, sequences (deeplearning101/seq.py), on its own: the bigram baseline, the cells, the fused RecurrentOp
against the plain cell loop (values and gradients), gradcheck of the op and of nn.RNN / nn.LSTM / nn.GRU on random
small configurations (1-2 layers, batch_first, bidirectional, with and without initial states, bias on and off),
dropout between layers, the errors, CharRNN and sample, the simulated GPU and dl.compile. Parity with PyTorch itself:
tests/test_seq_torch.py."""
import os
import sys

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101 import nn
from deeplearning101 import seq as S
from deeplearning101.autodiff import gradcheck
from deeplearning101.layers import gradcheck_module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODES = {'RNN_TANH': 1, 'RNN_RELU': 1, 'LSTM': 4, 'GRU': 3}
LAYERS = {'RNN_TANH': lambda *a, **k: nn.RNN(*a, **k), 'RNN_RELU': lambda *a, **k: nn.RNN(*a, nonlinearity='relu', **k),
          'LSTM': nn.LSTM, 'GRU': nn.GRU}


def t(a, requires_grad=True):
    return dl.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- bigrams
def test_bigram_counts_probs_and_nll_against_a_loop():
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 5, 200), rng.integers(0, 5, 50)
    C = S.bigram_counts(train, 5)
    loop = np.zeros((5, 5), int)
    for a, b in zip(train[:-1], train[1:]): loop[a, b] += 1
    assert np.array_equal(C, loop) and C.sum() == 199
    for alpha in (0.5, 1, 3):
        P = S.bigram_probs(C, alpha)
        assert np.allclose(P.sum(axis=1), 1)
        want = -np.mean([np.log((C[a, b] + alpha) / (C[a].sum() + 5 * alpha)) for a, b in zip(val[:-1], val[1:])])
        assert np.isclose(S.bigram_nll(train, val, 5, alpha), want)


def test_bigram_baseline_of_the_chapter():
    text = dl.load_shakespeare()
    ids = dl.CharVocab(text).encode(text)
    n = int(0.9 * len(ids))
    assert abs(S.bigram_nll(ids[:n], ids[n:], 65) - 2.4819) < 1e-3


# ---------------------------------------------------------------- the fused op against the plain loop
def op_inputs(rng, mode, T=5, N=3, I=4, H=3, bias=True):
    G = MODES[mode]
    arrays = [rng.standard_normal((T, N, I))] + [rng.standard_normal((N, H)) for _ in range(2 if mode == 'LSTM' else 1)]
    arrays += [rng.standard_normal(s) * 0.6 for s in ((G * H, I), (G * H, H))]
    if bias: arrays += [rng.standard_normal(G * H) * 0.6 for _ in range(2)]
    return arrays


@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('bias', [True, False])
def test_fused_op_equals_the_plain_cell_loop(mode, bias):
    rng = np.random.default_rng(1)
    arrays = op_inputs(rng, mode, bias=bias)
    g = rng.standard_normal((2, 5, 3, 3) if mode == 'LSTM' else (5, 3, 3))
    results = []
    for fused in (False, True):
        ins = [t(a) for a in arrays]
        k = 2 if mode == 'LSTM' else 1
        out = (dl.seq.RecurrentOp.apply(*ins, mode=mode, bias=bias) if fused
               else S._layer_plain(mode, ins[0], ins[1:1 + k], ins[1 + k:]))
        out.backward(dl.tensor(g))
        results.append([out.detach().numpy()] + [x.grad.numpy() for x in ins])
    for a, b in zip(*results): np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('bias', [True, False])
def test_gradcheck_fused_op(mode, bias):
    rng = np.random.default_rng(2)
    ins = [t(a) for a in op_inputs(rng, mode, T=4, N=2, I=3, H=2, bias=bias)]
    assert gradcheck(lambda *a: dl.seq.RecurrentOp.apply(*a, mode=mode, bias=bias), *ins)


def test_plain_lstm_layer_records_1027_nodes_and_the_fused_one_one():
    "The count that chapter 08's prose gives: 16 nodes per step for 64 steps, and 3 stacks."
    m = nn.LSTM(65, 128)
    x = dl.randn(64, 32, 65)
    def count(out):
        seen, stack = set(), [out]
        while stack:
            t = stack.pop()
            if t._op is None or id(t._op) in seen: continue
            seen.add(id(t._op)); stack.extend(t._op.inputs)
        return len(seen)
    assert count(S._layer_plain('LSTM', x, [], m._weights(0, ''))) == 1027
    assert count(dl.seq.RecurrentOp.apply(x, *m._weights(0, ''), given=False)) == 1


def test_fused_op_skips_the_input_gradient_when_not_needed():
    rng = np.random.default_rng(3)
    ins = [t(a) for a in op_inputs(rng, 'LSTM')]
    ins[0] = t(ins[0].detach().numpy(), requires_grad=False)
    dl.seq.RecurrentOp.apply(*ins, mode='LSTM').sum().backward()
    assert ins[0].grad is None and all(x.grad is not None for x in ins[1:])


@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('given,bias', [(True, True), (False, False)])
def test_gradient_of_the_gradient_equals_the_plain_loops(mode, given, bias):
    "create_graph=True through the fused op: first and second derivatives equal those of the plain cell loop."
    rng = np.random.default_rng(4)
    arrays = op_inputs(rng, mode, T=4, N=2, I=3, H=2, bias=bias)
    k = 2 if mode == 'LSTM' else 1
    if not given: arrays = arrays[:1] + arrays[1 + k:]
    results = []
    for fused in (True, False):
        ins = [t(a) for a in arrays]
        states, weights = (ins[1:1 + k], ins[1 + k:]) if given else ([], ins[1:])
        out = (dl.seq.RecurrentOp.apply(*ins, mode=mode, bias=bias, given=given) if fused
               else S._layer_plain(mode, ins[0], states, weights))
        g = dl.autograd.grad([(out * out).sum()], ins, create_graph=True)
        sum((a * a * (j + 1)).sum() for j, a in enumerate(g)).backward()
        results.append([a.detach().numpy() for a in g] + [x.grad.numpy() for x in ins])
    for a, b in zip(*results): np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- layers: gradcheck on random configurations
class Flat(nn.Module):
    "A recurrent layer whose output and final states are concatenated into one vector (for gradcheck)."
    def __init__(self, m, with_state):
        self.m, self.with_state = m, with_state

    def forward(self, x, *state):
        hx = None
        if self.with_state: hx = tuple(state) if len(state) == 2 else state[0]
        out, hn = self.m(x, hx)
        parts = [out.reshape(-1)] + ([h.reshape(-1) for h in hn] if isinstance(hn, tuple) else [hn.reshape(-1)])
        return dl.cat(parts)


@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('seed', range(4))
def test_gradcheck_layers_on_random_configurations(mode, seed):
    rng = np.random.default_rng(100 + seed)
    L, bf, bias = int(rng.integers(1, 3)), bool(rng.integers(2)), bool(rng.integers(2))
    bidir, with_state, unbatched = bool(rng.integers(2)), bool(rng.integers(2)), seed == 3
    I, H, T, N = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
    dl.manual_seed(seed)
    m = LAYERS[mode](I, H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bidir)
    D = 2 if bidir else 1
    shape = (T, I) if unbatched else ((N, T, I) if bf else (T, N, I))
    x = t(rng.standard_normal(shape))
    states = []
    if with_state:
        sshape = (L * D, H) if unbatched else (L * D, N, H)
        states = [t(rng.standard_normal(sshape)) for _ in range(2 if mode == 'LSTM' else 1)]
    assert gradcheck_module(Flat(m, with_state), x, *states)


@pytest.mark.parametrize('cls', [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
@pytest.mark.parametrize('bias', [True, False])
def test_gradcheck_cells(cls, bias):
    rng = np.random.default_rng(5)
    m = cls(3, 2, bias=bias)
    x, h = t(rng.standard_normal((2, 3))), t(rng.standard_normal((2, 2)))
    if cls is nn.LSTMCell:
        c = t(rng.standard_normal((2, 2)))

        class Both(nn.Module):
            def __init__(self, cell): self.cell = cell
            def forward(self, x, h, c): return dl.cat([a.reshape(-1) for a in self.cell(x, (h, c))])
        assert gradcheck_module(Both(m), x, h, c)
    else:
        assert gradcheck_module(m, x, h)


def test_layer_equals_its_cell_unrolled():
    dl.manual_seed(0)
    for layer, cell in ((nn.LSTM(3, 4), nn.LSTMCell(3, 4)), (nn.GRU(3, 4), nn.GRUCell(3, 4)),
                        (nn.RNN(3, 4, nonlinearity='relu'), nn.RNNCell(3, 4, nonlinearity='relu'))):
        cell.load_state_dict({k: getattr(layer, f"{k}_l0") for k in cell.state_dict()})
        x = dl.randn(6, 2, 3)
        out, hn = layer(x)
        hx = None
        for s in range(6):
            hx = cell(x[s], hx)
            h = hx[0] if isinstance(hx, tuple) else hx
            np.testing.assert_allclose(h.detach().numpy(), out[s].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_parameters_names_shapes_and_init():
    dl.manual_seed(0)
    m = nn.LSTM(5, 7, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse']
    assert m.weight_ih_l0.shape == (28, 5) and m.weight_ih_l1.shape == (28, 14) and m.bias_hh_l1_reverse.shape == (28,)
    bound = 1 / np.sqrt(7)
    for p in m.parameters():
        a = p.detach().numpy()
        assert a.dtype == np.float32 and np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound
    assert [n for n, _ in nn.GRU(2, 3, bias=False).named_parameters()] == ['weight_ih_l0', 'weight_hh_l0']
    assert nn.GRUCell(2, 3).weight_hh.shape == (9, 3) and nn.RNNCell(2, 3).bias_ih.shape == (3,)
    assert nn.RNN(2, 3, dtype=dl.float64).weight_ih_l0.dtype == dl.float64


def test_dropout_between_layers_only_in_training():
    dl.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = dl.randn(5, 2, 3)
    with dl.no_grad():
        a, b = m(x)[0].numpy(), m(x)[0].numpy()
        m.eval()
        c, d = m(x)[0].numpy(), m(x)[0].numpy()
        m.dropout = 0.0
        e = m(x)[0].numpy()
        m.train()
        f = m(x)[0].numpy()
    assert not np.allclose(a, b) and np.array_equal(c, d) and np.array_equal(c, e) and np.array_equal(e, f)
    one = nn.LSTM(3, 4, num_layers=1, dropout=0.5)       # one layer: nothing between layers
    with dl.no_grad(): assert np.array_equal(one(x)[0].numpy(), one(x)[0].numpy())


# ---------------------------------------------------------------- errors
def test_errors_name_the_layer_and_the_shapes():
    "PyTorch's exception types: RuntimeError for wrong sizes, ValueError for a wrong rank or dtype." 
    m = nn.LSTM(8, 16, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM\(8, 16, num_layers=2\): input\.size\(-1\) must be equal to "
                                         r"input_size = 8, got the input \[5, 3, 7\]"):
        m(dl.randn(5, 3, 7))
    with pytest.raises(RuntimeError, match=r"LSTM\(8, 16, num_layers=2\): expected the initial hidden state h_0 of "
                                         r"shape \[2, 3, 16\] for the input \[5, 3, 8\], got \[1, 3, 16\]"):
        m(dl.randn(5, 3, 8), (dl.zeros(1, 3, 16), dl.zeros(2, 3, 16)))
    with pytest.raises(RuntimeError, match=r"initial cell state c_0 of shape \[2, 3, 16\].*got \[2, 3, 15\]"):
        m(dl.randn(5, 3, 8), (dl.zeros(2, 3, 16), dl.zeros(2, 3, 15)))
    with pytest.raises(ValueError, match=r"LSTM\(8, 16, num_layers=2\): expected a 2-d \(unbatched\).*"
                                         r"got a 4-d input \[2, 5, 3, 8\]"):
        m(dl.randn(2, 5, 3, 8))
    with pytest.raises(RuntimeError, match=r"expected hx to be a pair \(h_0, c_0\)"):
        m(dl.randn(5, 3, 8), dl.zeros(2, 3, 16))
    with pytest.raises(RuntimeError, match=r"GRU\(8, 4, batch_first=True\): expected the initial hidden state of "
                                         r"shape \[1, 2, 4\] for the input \[2, 5, 8\], got \[1, 5, 4\]"):
        nn.GRU(8, 4, batch_first=True)(dl.randn(2, 5, 8), dl.zeros(1, 5, 4))
    with pytest.raises(ValueError, match=r"RNN\(2, 3\): expected a floating-point input"):
        nn.RNN(2, 3)(dl.tensor(np.zeros((4, 2), np.int64)))
    with pytest.raises(ValueError, match=r"proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity='sigmoid')
    with pytest.raises(ValueError, match=r"GRU: dropout should be a number in \[0, 1\]"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match=r"LSTM: hidden_size and num_layers must be positive"):
        nn.LSTM(3, 0)
    with pytest.raises(RuntimeError, match=r"LSTMCell\(3, 4\): input\.size\(-1\) must be equal to input_size = 3, "
                                         r"got the input \[2, 5\]"):
        nn.LSTMCell(3, 4)(dl.randn(2, 5))
    with pytest.raises(RuntimeError, match=r"GRUCell\(3, 4\): expected a hidden state of shape \[2, 4\] for the "
                                         r"input \[2, 3\], got \[4\]"):
        nn.GRUCell(3, 4)(dl.randn(2, 3), dl.zeros(4))
    with pytest.raises(ValueError, match=r"RNNCell\(3, 4\): expected a 1-d \(unbatched\) or 2-d"):
        nn.RNNCell(3, 4)(dl.randn(1, 2, 3))


def test_reprs():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4, nonlinearity='relu', bias=False)) == "RNN(3, 4, bias=False)"   # as torch
    assert repr(nn.GRUCell(3, 4)) == "GRUCell(3, 4)"


# ---------------------------------------------------------------- CharRNN and sample
def test_char_rnn_and_sample_are_seeded_and_greedy_at_temperature_zero():
    text = "to be or not to be, that is the question"
    vocab = dl.CharVocab(text)
    dl.manual_seed(0)
    model = dl.CharRNN(len(vocab), 8, 'gru')
    logits, state = model(dl.tensor(vocab.encode("to be")[None]))
    assert logits.shape == (1, 5, len(vocab)) and state.shape == (1, 1, 8)
    a = dl.sample(model, vocab, "to", 30, generator=dl.Generator().manual_seed(1))
    b = dl.sample(model, vocab, "to", 30, generator=dl.Generator().manual_seed(1))
    assert a == b and len(a) == 32 and a.startswith("to") and model.training
    greedy = dl.sample(model, vocab, "to", 10, temperature=0)
    ids = list(vocab.encode("to"))
    with dl.no_grad():
        for _ in range(10):
            ids.append(int(model(dl.tensor(np.array([ids])))[0][0, -1].numpy().argmax()))
    assert greedy == vocab.decode(ids)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        dl.sample(model, vocab, "to", 3, temperature=-1)
    with pytest.raises(ValueError, match="CharRNN: kind must be"):
        dl.CharRNN(5, 4, 'transformer')


# ---------------------------------------------------------------- devices and dl.compile
from test_gpu import clean, gpu, host  # noqa: E402,F401  (the simulated / real GPU fixtures)


def test_recurrent_layers_on_the_gpu_equal_the_cpu(gpu):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3, 4))

    def run(dev):
        dl.manual_seed(0)
        outs = []
        for make in (lambda: nn.LSTM(4, 3, num_layers=2), lambda: nn.GRU(4, 3, bidirectional=True),
                     lambda: nn.RNN(4, 3, nonlinearity='relu')):
            m = make().double().to(dev)
            x = dl.tensor(X, requires_grad=True, device=dev)
            out, hn = m(x)
            hn = hn[0] if isinstance(hn, tuple) else hn
            ((out * out).sum() + (hn * hn).sum()).backward()
            outs += [host(out), host(x.grad)] + [host(p.grad) for p in m.parameters()]
        return outs
    for a, b in zip(run('cpu'), run('cuda')): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


def test_compiled_lstm_training_step_equals_eager():
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, 11, (24, 7)), rng.integers(0, 11, (24, 7))

    def run(compiled, dtype):
        dl.manual_seed(0)
        m = dl.CharRNN(11, 6, 'lstm', embedding_dim=5, num_layers=2).to(dtype)
        opt = dl.optim.Adam(m.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            logits, _ = m(x)
            loss = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            return loss
        f = dl.compile(step) if compiled else step
        losses = [f(dl.tensor(X[i:i + 8]), dl.tensor(Y[i:i + 8])).item() for i in range(0, 24, 8) for _ in range(2)]
        return losses, [p.detach().numpy().copy() for p in m.parameters()], f
    for dtype, tol in ((dl.float64, 1e-12), (dl.float32, 1e-5)):
        l1, w1, _ = run(False, dtype)
        l2, w2, f = run(True, dtype)
        assert f.traces == 1
        np.testing.assert_allclose(l2, l1, rtol=tol, atol=tol)
        for a, b in zip(w1, w2): np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
