"""PyTorch's transformer layers (chapter 09's 'Under the hood: PyTorch's transformer layers') against torch:
the same weights through the state dict, the same outputs and gradients, post-norm and pre-norm, relu and gelu,
masks and key padding masks, batch-first and sequence-first, encoder, decoder and the whole Transformer."""
import numpy as np
import pytest

import deeplearning101 as dl

torch = pytest.importorskip('torch')


def copy_weights(ours, theirs):
    ours.load_state_dict({k: dl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())


def run_both(make, inputs, call):
    t_model, d_model = make(torch), make(dl)
    copy_weights(d_model, t_model)
    t_model.train(); d_model.train()                  # dropout 0: PyTorch's plain path
    outs = []
    for lib, model in ((torch, t_model), (dl, d_model)):
        xs = [lib.tensor(a, requires_grad=a.dtype.kind == 'f') if isinstance(a, np.ndarray) else a
              for a in inputs]
        out = call(lib, model, *xs)
        (out * lib.tensor(np.sin(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32))
         ).sum().backward()
        grads = [x.grad.numpy() for x in xs if hasattr(x, 'grad') and x.grad is not None]
        pgrads = [p.grad.numpy() for p in model.parameters()]
        outs.append((out.detach().numpy(), grads, pgrads))
    (o1, g1, p1), (o2, g2, p2) = outs
    np.testing.assert_allclose(o2, o1, rtol=2e-4, atol=2e-5)
    for a, b in zip(g2 + p2, g1 + p1): np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)


@pytest.mark.parametrize('norm_first', [False, True])
@pytest.mark.parametrize('activation', ['relu', 'gelu'])
@pytest.mark.parametrize('batch_first', [True, False])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 16) if batch_first else (5, 3, 16)).astype(np.float32)
    kpm = np.zeros((3, 5), bool); kpm[1, 3:] = True
    make = lambda L: L.nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, activation=activation,
                                                  batch_first=batch_first, norm_first=norm_first)
    run_both(make, [x, kpm], lambda L, m, x, k: m(x, src_key_padding_mask=k))
    mask = np.triu(np.full((5, 5), -np.inf, np.float32), 1)
    run_both(make, [x], lambda L, m, x: m(x, src_mask=L.tensor(mask)))


@pytest.mark.parametrize('norm_first', [False, True])
def test_encoder_stack_with_norm_and_causal_mask(norm_first):
    x = np.random.default_rng(1).standard_normal((2, 6, 8)).astype(np.float32)
    def make(L):
        layer = L.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
        return L.nn.TransformerEncoder(layer, 3, norm=L.nn.LayerNorm(8), enable_nested_tensor=False)
    run_both(make, [x], lambda L, m, x: m(x, mask=L.nn.Transformer.generate_square_subsequent_mask(6),
                                          is_causal=True))


@pytest.mark.parametrize('norm_first', [False, True])
def test_decoder_layer_and_stack_match_torch(norm_first):
    rng = np.random.default_rng(2)
    tgt, mem = rng.standard_normal((2, 4, 8)).astype(np.float32), rng.standard_normal((2, 7, 8)).astype(np.float32)
    mkpm = np.zeros((2, 7), bool); mkpm[0, 5:] = True
    def make(L):
        layer = L.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
        return L.nn.TransformerDecoder(layer, 2, norm=L.nn.LayerNorm(8))
    run_both(make, [tgt, mem, mkpm],
             lambda L, m, t, s, k: m(t, s, tgt_mask=L.nn.Transformer.generate_square_subsequent_mask(4),
                                     memory_key_padding_mask=k))


def test_whole_transformer_matches_torch():
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((6, 2, 8)).astype(np.float32), rng.standard_normal((4, 2, 8)).astype(np.float32)
    make = lambda L: L.nn.Transformer(8, 2, 2, 1, 16, dropout=0.0)
    run_both(make, [src, tgt], lambda L, m, s, t: m(s, t, tgt_mask=L.nn.Transformer.generate_square_subsequent_mask(4)))


def test_mask_helper_and_errors():
    ours, theirs = dl.nn.Transformer.generate_square_subsequent_mask(4), torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == dl.float32
    with pytest.raises(RuntimeError, match='activation'):
        dl.nn.TransformerEncoderLayer(8, 2, activation='tanh')
    layer = dl.nn.TransformerEncoderLayer(8, 2, activation=dl.nn.GELU())
    assert layer(dl.zeros(3, 1, 8)).shape == (3, 1, 8)
    # the encoder's layers are copies: changing one leaves the others alone
    enc = dl.nn.TransformerEncoder(dl.nn.TransformerEncoderLayer(8, 2, 16), 2)
    with dl.no_grad(): enc.layers[0].linear1.weight.zero_()
    assert enc.layers[1].linear1.weight.abs().sum().item() > 0
