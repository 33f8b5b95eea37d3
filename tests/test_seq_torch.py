"""Chapter 08's recurrent layers against PyTorch itself (float64, 1e-8): outputs, final states and every parameter's
gradient (and the input's) of nn.RNN (tanh and relu), nn.LSTM and nn.GRU with 1 and 2 layers, batch_first True and
False, bidirectional, unbatched, with and without initial states and biases; the cells; dropout=0 in training mode;
state_dict loaded into PyTorch's module and back."""
import numpy as np
import pytest

import deeplearning101 as dl
from deeplearning101 import nn

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-8, atol=1e-8)
KINDS = {'rnn_tanh': ('RNN', {}), 'rnn_relu': ('RNN', {'nonlinearity': 'relu'}), 'lstm': ('LSTM', {}),
         'gru': ('GRU', {})}


def to_torch(m, tm):
    "Copy deeplearning101's parameters into the torch module (state_dict, by name)."
    tm.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in m.state_dict().items()})


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL)


@pytest.mark.parametrize('kind', list(KINDS))
@pytest.mark.parametrize('num_layers', [1, 2])
@pytest.mark.parametrize('batch_first', [False, True])
@pytest.mark.parametrize('layout', ['batched', 'unbatched', 'bidirectional', 'no bias'])
@pytest.mark.parametrize('with_state', [False, True])
def test_layer_outputs_states_and_gradients_match_pytorch(kind, num_layers, batch_first, layout, with_state):
    name, kw = KINDS[kind]
    bidir, bias, unbatched = layout == 'bidirectional', layout != 'no bias', layout == 'unbatched'
    args = dict(num_layers=num_layers, batch_first=batch_first, bidirectional=bidir, bias=bias, **kw)
    dl.manual_seed(0)
    m = getattr(nn, name)(5, 4, dtype=dl.float64, **args)
    tm = getattr(torch.nn, name)(5, 4, dtype=torch.float64, **args)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    to_torch(m, tm)
    rng = np.random.default_rng(hash((kind, num_layers, batch_first, layout, with_state)) % 2**32)
    T, N, D = 6, 3, 2 if bidir else 1
    shape = (T, 5) if unbatched else ((N, T, 5) if batch_first else (T, N, 5))
    X = rng.standard_normal(shape)
    sshape = (num_layers * D, 4) if unbatched else (num_layers * D, N, 4)
    S = [rng.standard_normal(sshape) for _ in range(2 if name == 'LSTM' else 1)]
    x, tx = dl.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    s = [dl.tensor(a, requires_grad=True) for a in S]
    ts = [torch.tensor(a, requires_grad=True) for a in S]
    if not with_state: out, hn = m(x); tout, thn = tm(tx)
    elif name == 'LSTM': out, hn = m(x, tuple(s)); tout, thn = tm(tx, tuple(ts))
    else: out, hn = m(x, s[0]); tout, thn = tm(tx, ts[0])
    hs, ths = (list(hn), list(thn)) if name == 'LSTM' else ([hn], [thn])
    assert out.shape == tuple(tout.shape) and [h.shape for h in hs] == [tuple(h.shape) for h in ths]
    close(out, tout)
    for a, b in zip(hs, ths): close(a, b)
    G = rng.standard_normal(tuple(tout.shape))
    loss = (out * dl.tensor(G)).sum() + sum((h * h).sum() * (k + 1) for k, h in enumerate(hs))
    tloss = (tout * torch.tensor(G)).sum() + sum((h * h).sum() * (k + 1) for k, h in enumerate(ths))
    loss.backward(); tloss.backward()
    close(x.grad, tx.grad)
    for p, tp in zip(m.parameters(), tm.parameters()): close(p.grad, tp.grad)
    if with_state:
        for a, b in zip(s, ts): close(a.grad, b.grad)


@pytest.mark.parametrize('name,kw', [('RNNCell', {}), ('RNNCell', {'nonlinearity': 'relu'}), ('LSTMCell', {}),
                                     ('GRUCell', {}), ('LSTMCell', {'bias': False})])
@pytest.mark.parametrize('unbatched', [False, True])
@pytest.mark.parametrize('with_state', [False, True])
def test_cells_match_pytorch(name, kw, unbatched, with_state):
    dl.manual_seed(1)
    m = getattr(nn, name)(5, 3, dtype=dl.float64, **kw)
    tm = getattr(torch.nn, name)(5, 3, dtype=torch.float64, **kw)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    to_torch(m, tm)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5,) if unbatched else (4, 5))
    S = [rng.standard_normal((3,) if unbatched else (4, 3)) for _ in range(2)]
    x, tx = dl.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    s, ts = [dl.tensor(a) for a in S], [torch.tensor(a) for a in S]
    lstm = name == 'LSTMCell'
    hx, thx = ((tuple(s), tuple(ts)) if lstm else (s[0], ts[0])) if with_state else (None, None)
    y, ty = m(x, hx), tm(tx, thx)
    ys, tys = (list(y), list(ty)) if lstm else ([y], [ty])
    for a, b in zip(ys, tys): close(a, b)
    sum((a * a).sum() * (k + 1) for k, a in enumerate(ys)).backward()
    sum((a * a).sum() * (k + 1) for k, a in enumerate(tys)).backward()
    close(x.grad, tx.grad)
    for p, tp in zip(m.parameters(), tm.parameters()): close(p.grad, tp.grad)


def test_state_dict_round_trip_and_pytorch_init_bounds():
    dl.manual_seed(0)
    m = nn.LSTM(6, 5, num_layers=2, bidirectional=True)
    tm = torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(tm.state_dict())
    tm.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in m.state_dict().items()})
    torch.manual_seed(3)
    tm2 = torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True)
    m.load_state_dict({k: dl.tensor(v.numpy()) for k, v in tm2.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 6)).astype(np.float32)
    with torch.no_grad(): want = tm2(torch.from_numpy(x))[0].numpy()
    with dl.no_grad(): got = m(dl.tensor(x))[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for (n, p), (tn, tp) in zip(m.named_parameters(), tm2.named_parameters()):
        assert n == tn and p.dtype == dl.float32
    # both draw every parameter from U(-1/sqrt(H), 1/sqrt(H))
    for mod in (m, tm):
        vals = np.concatenate([np.ravel(v.numpy()) for v in mod.state_dict().values()])
        assert np.abs(vals).max() <= 1 / np.sqrt(5)


def test_dropout_zero_in_training_mode_and_eval_with_dropout_match_pytorch():
    dl.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=3, dropout=0.3, dtype=dl.float64)
    tm = torch.nn.GRU(3, 4, num_layers=3, dropout=0.3, dtype=torch.float64)
    to_torch(m, tm)
    m.eval(); tm.eval()
    X = np.random.default_rng(0).standard_normal((5, 2, 3))
    close(m(dl.tensor(X))[0], tm(torch.tensor(X))[0])


@pytest.mark.parametrize('name', ['RNN', 'LSTM', 'GRU'])
def test_gradient_of_the_gradient_matches_pytorch(name):
    "create_graph=True through a 2-layer layer, then a second backward: the parameters' second-order gradients."
    dl.manual_seed(0)
    m = getattr(nn, name)(3, 4, num_layers=2, dtype=dl.float64)
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, dtype=torch.float64)
    to_torch(m, tm)
    X = np.random.default_rng(0).standard_normal((5, 2, 3))
    x, tx = dl.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    out, tout = m(x)[0], tm(tx)[0]
    g = dl.autograd.grad([(out * out).sum()], [x] + list(m.parameters()), create_graph=True)
    tg = torch.autograd.grad((tout * tout).sum(), [tx] + list(tm.parameters()), create_graph=True)
    for a, b in zip(g, tg): close(a, b)
    sum((a * a).sum() for a in g).backward()
    sum((a * a).sum() for a in tg).backward()
    close(x.grad, tx.grad)
    for p, tp in zip(m.parameters(), tm.parameters()): close(p.grad, tp.grad)


def test_cell_functions_match_pytorchs_cell_functions():
    "dl.rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell against torch's functions of the same names."
    rng = np.random.default_rng(0)
    x, h, c = (rng.standard_normal(s) for s in ((3, 5), (3, 4), (3, 4)))
    for name, G in (('rnn_tanh_cell', 1), ('rnn_relu_cell', 1), ('lstm_cell', 4), ('gru_cell', 3)):
        ws = [rng.standard_normal(s) for s in ((G * 4, 5), (G * 4, 4), (G * 4,), (G * 4,))]
        hx = (h, c) if name == 'lstm_cell' else h
        dhx = tuple(dl.tensor(a) for a in hx) if name == 'lstm_cell' else dl.tensor(hx)
        thx = tuple(torch.tensor(a) for a in hx) if name == 'lstm_cell' else torch.tensor(hx)
        got = getattr(dl, name)(dl.tensor(x), dhx, *[dl.tensor(w) for w in ws])
        want = getattr(torch, name)(torch.tensor(x), thx, *[torch.tensor(w) for w in ws])
        for a, b in zip(got if name == 'lstm_cell' else [got], want if name == 'lstm_cell' else [want]):
            close(a, b)
