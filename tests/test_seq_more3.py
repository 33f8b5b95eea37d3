"""Parity with PyTorch: the argument checks of the recurrent layers and cells.

RNN, LSTM, GRU and RNNCell, LSTMCell, GRUCell given an input or a state of another dtype
than their weights, an LSTM given a bare tensor for its pair (h_0, c_0), a wrong rank,
wrong state shapes, batch_first with an unbatched input: each call runs with torch and
with deeplearning101; where torch raises, deeplearning101 raises an instance of the same
exception class (its message names the layer); where torch computes, deeplearning101
computes the same values with the same weights.
"""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")

F32, F64 = "float32", "float64"


class Lib:
    "One backend: build a layer with given weights, make tensors of a dtype."
    def __init__(self, mod):
        self.mod, self.nn = mod, mod.nn

    def t(self, shape, dtype=F32, seed=0):
        a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
        return (torch.from_numpy(a) if self.mod is torch else dl.tensor(a))

    def layer(self, name, *args, dtype=None, **kw):
        dt = {} if dtype is None else {'dtype': getattr(torch, dtype)}
        torch.manual_seed(0)
        ref = getattr(torch.nn, name)(*args, **kw, **dt)      # the weights: torch's
        if self.mod is torch: return ref
        dt = {} if dtype is None else {'dtype': getattr(dl, dtype)}
        m = getattr(dl.nn, name)(*args, **kw, **dt)
        m.load_state_dict({k: dl.tensor(v.detach().numpy())
                           for k, v in ref.state_dict().items()})
        return m


TORCH, DL = Lib(torch), Lib(dl)


def _pair(L, shape, dtypes=(F32, F32)):
    return (L.t(shape, dtypes[0], 1), L.t(shape, dtypes[1], 2))


CASES = {
    # a floating input of another dtype than the weights: torch's ValueError
    'gru f64 input': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3), F64)),
    'lstm f64 input': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3), F64)),
    'rnn f64 input': lambda L: L.layer('RNN', 3, 4)(L.t((5, 2, 3), F64)),
    'gru f64 input unbatched': lambda L: L.layer('GRU', 3, 4)(L.t((5, 3), F64)),
    'lstm f16 input': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3), 'float16')),
    'rnn f64 layer f32 input': lambda L: L.layer('RNN', 3, 4, dtype=F64)(L.t((5, 2, 3))),
    'gru int input': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3)).long()),
    # hidden states of another dtype: torch's RuntimeError
    'gru f64 h0': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3)), L.t((1, 2, 4), F64)),
    'rnn f64 h0 unbatched': lambda L: L.layer('RNN', 3, 4)(L.t((5, 3)), L.t((1, 4), F64)),
    'lstm f64 h0': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                   _pair(L, (1, 2, 4), (F64, F32))),
    'lstm f64 c0': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                   _pair(L, (1, 2, 4), (F32, F64))),
    # the LSTM's state: a bare tensor, too few or too many, a list, None inside
    'lstm bare h': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)), L.t((1, 2, 4))),
    'lstm bare h unbatched': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 3)), L.t((1, 4))),
    'lstm bare h 2 layers': lambda L: L.layer('LSTM', 3, 4, num_layers=2)(
        L.t((5, 2, 3)), L.t((2, 2, 4))),
    'lstm 1-tuple': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)), (L.t((1, 2, 4)),)),
    'lstm 3-tuple': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                    _pair(L, (1, 2, 4)) * 2),
    'lstm list pair': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                      list(_pair(L, (1, 2, 4)))),
    'lstm None in pair': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                         (None, L.t((1, 2, 4)))),
    'gru tuple state': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3)), (L.t((1, 2, 4)),)),
    # ranks and shapes
    'rnn 1-d input': lambda L: L.layer('RNN', 3, 4)(L.t((3,))),
    'lstm 4-d input': lambda L: L.layer('LSTM', 3, 4)(L.t((1, 5, 2, 3))),
    'gru input_size': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 2))),
    'gru h0 batch': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3)), L.t((1, 3, 4))),
    'gru h0 2-d for batched': lambda L: L.layer('GRU', 3, 4)(L.t((5, 2, 3)), L.t((2, 4))),
    'rnn h0 3-d for unbatched': lambda L: L.layer('RNN', 3, 4)(L.t((5, 3)), L.t((1, 1, 4))),
    'lstm h0 layers': lambda L: L.layer('LSTM', 3, 4, num_layers=2)(
        L.t((5, 2, 3)), _pair(L, (1, 2, 4))),
    'lstm c0 size': lambda L: L.layer('LSTM', 3, 4)(L.t((5, 2, 3)),
                                                    (L.t((1, 2, 4)), L.t((1, 2, 5)))),
    'lstm proj h0 size': lambda L: L.layer('LSTM', 3, 4, proj_size=2)(
        L.t((5, 2, 3)), _pair(L, (1, 2, 4))),
    # batch_first with an unbatched input: [L, I], the states [D*num_layers, H]
    'gru batch_first unbatched': lambda L: L.layer('GRU', 3, 4, batch_first=True)(
        L.t((5, 3))),
    'lstm batch_first unbatched h0': lambda L: L.layer(
        'LSTM', 3, 4, batch_first=True, num_layers=2)(L.t((5, 3)), _pair(L, (2, 4))),
    'rnn batch_first unbatched bidirectional': lambda L: L.layer(
        'RNN', 3, 4, batch_first=True, bidirectional=True)(L.t((5, 3)), L.t((2, 4))),
    'lstm batch_first': lambda L: L.layer('LSTM', 3, 4, batch_first=True)(
        L.t((2, 5, 3)), _pair(L, (1, 2, 4))),
    'gru f64 layer f64 input': lambda L: L.layer('GRU', 3, 4, dtype=F64)(
        L.t((5, 2, 3), F64), L.t((1, 2, 4), F64)),
    # the cells
    'rnncell f64 input': lambda L: L.layer('RNNCell', 3, 4)(L.t((2, 3), F64)),
    'grucell f64 input unbatched': lambda L: L.layer('GRUCell', 3, 4)(L.t((3,), F64)),
    'lstmcell f64 input': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3), F64)),
    'grucell f64 cell f32 input': lambda L: L.layer('GRUCell', 3, 4, dtype=F64)(
        L.t((2, 3))),
    'rnncell f64 hx': lambda L: L.layer('RNNCell', 3, 4)(L.t((2, 3)), L.t((2, 4), F64)),
    'lstmcell f64 h': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)),
                                                          _pair(L, (2, 4), (F64, F32))),
    'lstmcell f64 c': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)),
                                                          _pair(L, (2, 4), (F32, F64))),
    'lstmcell bare h': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)), L.t((2, 4))),
    'lstmcell bare h unbatched': lambda L: L.layer('LSTMCell', 3, 4)(L.t((3,)),
                                                                     L.t((4,))),
    'lstmcell 3-tuple': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)),
                                                            _pair(L, (2, 4)) * 2),
    'lstmcell 1-tuple': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)), (L.t((2, 4)),)),
    'lstmcell None in pair': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)),
                                                                 (None, L.t((2, 4)))),
    'lstmcell list pair': lambda L: L.layer('LSTMCell', 3, 4)(L.t((2, 3)),
                                                              list(_pair(L, (2, 4)))),
    'grucell tuple hx': lambda L: L.layer('GRUCell', 3, 4)(L.t((2, 3)), (L.t((2, 4)),)),
    'rnncell 3-d input': lambda L: L.layer('RNNCell', 3, 4)(L.t((1, 2, 3))),
    'grucell hx batch': lambda L: L.layer('GRUCell', 3, 4)(L.t((2, 3)), L.t((3, 4))),
}


def _flat(r):
    return [t for x in r for t in _flat(x)] if isinstance(r, (tuple, list)) else [r]


@pytest.mark.parametrize("name", list(CASES))
def test_recurrent_argument_checks_match_torch(name):
    try:
        want = CASES[name](TORCH)
    except Exception as e:
        cls = type(e)
        with pytest.raises(cls) as info:
            CASES[name](DL)
        layer = name.split()[0].replace('cell', 'Cell').upper().replace('CELL', 'Cell')
        assert layer in str(info.value).upper().replace('CELL', 'Cell'), str(info.value)
        return
    got = CASES[name](DL)
    want, got = _flat(want), _flat(got)
    assert len(want) == len(got)
    for w, g in zip(want, got):
        assert tuple(g.shape) == tuple(w.shape)
        assert str(g.dtype).split('.')[-1] == str(w.dtype).split('.')[-1]
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_a_wrong_dtype_is_never_computed():
    "The probe's case: a float32 GRU on a float64 input is torch's ValueError, not float64."
    x = np.ones((5, 2, 3))
    with pytest.raises(ValueError, match=r"GRU\(3, 4\): input dtype \(dl\.float64\) does "
                                         r"not match weight dtype \(dl\.float32\)"):
        dl.nn.GRU(3, 4)(dl.tensor(x))
    # after model.to(float64) (torch's advice) the layer computes in float64
    out, h = dl.nn.GRU(3, 4).to(dl.float64)(dl.tensor(x))
    assert out.dtype == dl.float64 and h.dtype == dl.float64


def test_lstm_given_only_h_names_the_pair():
    "torch: IndexError (it indexes hx[1]); here IndexError that is also a RuntimeError."
    m = dl.nn.LSTM(3, 4)
    with pytest.raises(IndexError, match=r"LSTM\(3, 4\): expected hx to be a pair "
                                         r"\(h_0, c_0\), got a tensor \[1, 2, 4\]"):
        m(dl.randn(5, 2, 3), dl.zeros(1, 2, 4))
    with pytest.raises(RuntimeError):
        m(dl.randn(5, 2, 3), dl.zeros(1, 2, 4))
