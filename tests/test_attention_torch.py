"""Parity with PyTorch (chapter 09): F.scaled_dot_product_attention and nn.MultiheadAttention, and the layers the
transformer block reuses (nn.LayerNorm, nn.GELU with both approximations, nn.Embedding with padding_idx), in
float64 to 1e-8: values and every gradient (inputs, float masks, parameters); state dicts loaded both ways."""
import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101 import nn
from deeplearning101 import attention as A

torch = pytest.importorskip("torch")
TOL = 1e-8


def pair(a, grad=True):
    return dl.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def close(x, y, what=''):
    x = x.detach().numpy() if hasattr(x, 'detach') else x
    y = y.detach().numpy()
    assert x.shape == y.shape, (what, x.shape, y.shape)
    np.testing.assert_allclose(x, y, rtol=TOL, atol=TOL, err_msg=what)


# ------------------------------------------------------------------------------------ scaled dot-product attention
CASES = ['none', 'bool', 'bool-broadcast', 'float', 'float-per-head', 'causal', 'causal-rect', 'scale',
         'broadcast-kv', 'unbatched', 'fully-masked-row']


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('path', ['fused', 'plain'])
def test_sdpa_matches_torch(case, path, monkeypatch):
    if path == 'plain':
        monkeypatch.setattr(A, '_attend', lambda q, k, v, b=None, s=None, c=False: A._attend_plain(q, k, v, b, s, c))
    rng = np.random.default_rng(CASES.index(case))
    sq, sk, sv = (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)
    if case == 'broadcast-kv': sk, sv = (1, 3, 6, 5), (6, 7)
    if case == 'unbatched': sq, sk, sv = (4, 5), (6, 5), (6, 7)
    if case == 'causal': sk, sv = (2, 3, 4, 5), (2, 3, 4, 7)
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s)) for s in (sq, sk, sv))
    kw, tkw, mask = {}, {}, None
    if case in ('bool', 'bool-broadcast', 'fully-masked-row'):
        m = rng.random((4, 6) if case != 'bool-broadcast' else (2, 1, 4, 6)) < 0.6
        m[..., 0] = True
        if case == 'fully-masked-row': m[2] = False
        kw['attn_mask'], tkw['attn_mask'] = dl.tensor(m), torch.tensor(m)
    if case in ('float', 'float-per-head'):
        b = rng.standard_normal((4, 6) if case == 'float' else (3, 1, 6))
        if case == 'float': b[rng.random((4, 6)) < 0.3] = -np.inf; b[:, 0] = 0.0
        mask = pair(b)
        kw['attn_mask'], tkw['attn_mask'] = mask
    if case in ('causal', 'causal-rect'): kw['is_causal'] = tkw['is_causal'] = True
    if case == 'scale': kw['scale'] = tkw['scale'] = 0.37
    y = F.scaled_dot_product_attention(q, k, v, **kw)
    z = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    close(y, z, 'output')
    g = rng.standard_normal(z.shape)
    y.backward(dl.tensor(g))
    z.backward(torch.tensor(g))
    for name, a, b in (('q', q, tq), ('k', k, tk), ('v', v, tv)):
        close(a.grad, b.grad, f'grad {name}')
    if mask is not None:
        close(mask[0].grad, mask[1].grad, 'grad attn_mask')


def test_sdpa_dropout_statistics():
    "dropout_p: PyTorch's semantics (always applied, kept weights scaled by 1/(1-p)); the same mean, checked loosely."
    rng = np.random.default_rng(0)
    q, k, v = (dl.tensor(rng.standard_normal((1, 1, 64, 8))) for _ in range(3))
    dl.manual_seed(0)
    ys = np.stack([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy() for _ in range(200)])
    np.testing.assert_allclose(ys.mean(0), F.scaled_dot_product_attention(q, k, v).numpy(), atol=0.15)


# ------------------------------------------------------------------------------------ MultiheadAttention
E, H, N, L, S = 8, 2, 3, 4, 5
MHA_CASES = ['self', 'cross', 'key_padding_mask', 'attn_mask_bool', 'attn_mask_float_3d', 'both_masks',
             'no_weights', 'no_weights_masks', 'per_head_weights', 'no_bias', 'unbatched', 'unbatched_masks',
             'causal_hint', 'float_key_padding']


def _layers(batch_first, bias=True):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, bias=bias).double()
    m = nn.MultiheadAttention(E, H, batch_first=batch_first, bias=bias).double()
    m.load_state_dict({k: dl.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    return m, tm


@pytest.mark.parametrize('case', MHA_CASES)
@pytest.mark.parametrize('batch_first', [True, False])
def test_mha_matches_torch(case, batch_first):
    rng = np.random.default_rng(MHA_CASES.index(case))
    m, tm = _layers(batch_first, bias=case != 'no_bias')
    unbatched = case.startswith('unbatched')
    Sx = L if case in ('self', 'causal_hint') else S

    def shape(n):
        if unbatched: return (n, E)
        return (N, n, E) if batch_first else (n, N, E)
    if case in ('self', 'causal_hint'):
        x, tx = pair(rng.standard_normal(shape(L)))
        ins, tins, leaves = (x, x, x), (tx, tx, tx), [(x, tx)]
    else:
        ps = [pair(rng.standard_normal(shape(n))) for n in (L, S, S)]
        ins, tins, leaves = tuple(a for a, _ in ps), tuple(b for _, b in ps), ps
    kw = {}
    if case in ('key_padding_mask', 'both_masks', 'no_weights_masks', 'unbatched_masks'):
        kp = rng.random((S,) if unbatched else (N, S)) < 0.4
        kp[..., 0] = False
        kw['key_padding_mask'] = kp
    if case == 'float_key_padding':
        kw['key_padding_mask'] = np.where(rng.random((N, S)) < 0.3, -np.inf, rng.standard_normal((N, S)))
        kw['key_padding_mask'][:, 0] = 0.0
    if case in ('attn_mask_bool', 'both_masks', 'no_weights_masks', 'unbatched_masks'):
        am = rng.random((L, S)) < 0.3
        am[:, 0] = False
        kw['attn_mask'] = am
    if case == 'attn_mask_float_3d':
        kw['attn_mask'] = rng.standard_normal((N * H, L, S))
    if case == 'causal_hint':
        kw.update(attn_mask=np.triu(np.ones((L, L), bool), 1), is_causal=True, need_weights=False)
    if case.startswith('no_weights'): kw['need_weights'] = False
    if case == 'per_head_weights': kw['average_attn_weights'] = False
    dkw = {k: dl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    y, w = m(*ins, **dkw)
    z, tw = tm(*tins, **tkw)
    close(y, z, 'output')
    assert (w is None) == (tw is None)
    loss, tloss = (y * dl.tensor(g := rng.standard_normal(z.shape))).sum(), (z * torch.tensor(g)).sum()
    if w is not None:
        close(w, tw, 'weights')
        gw = rng.standard_normal(tw.shape)
        loss, tloss = loss + (w * dl.tensor(gw)).sum(), tloss + (tw * torch.tensor(gw)).sum()
    loss.backward()
    tloss.backward()
    for i, (a, b) in enumerate(leaves): close(a.grad, b.grad, f'grad of input {i}')
    tparams = dict(tm.named_parameters())
    names = [n for n, _ in m.named_parameters()]
    assert names == list(tparams)
    for n, p in m.named_parameters(): close(p.grad, tparams[n].grad, f'grad {n}')


def test_mha_training_mode_dropout_zero_equals_eval():
    m, tm = _layers(True)
    x = dl.tensor(np.random.default_rng(0).standard_normal((2, 3, E)))
    m.train()
    a = m(x, x, x)[0].detach().numpy()
    m.eval()
    np.testing.assert_allclose(m(x, x, x)[0].detach().numpy(), a, atol=1e-14)


def test_mha_state_dict_both_ways():
    torch.manual_seed(1)
    dl.manual_seed(1)
    for batch_first in (True, False):
        for bias in (True, False):
            m = nn.MultiheadAttention(12, 3, batch_first=batch_first, bias=bias)
            tm = torch.nn.MultiheadAttention(12, 3, batch_first=batch_first, bias=bias)
            assert list(m.state_dict()) == list(tm.state_dict())
            for k, v in m.state_dict().items(): assert tuple(v.shape) == tuple(tm.state_dict()[k].shape), k
            tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})   # dl -> torch
            x = np.random.default_rng(2).standard_normal((2, 4, 12) if batch_first else (4, 2, 12)).astype(np.float32)
            a = m(*(dl.tensor(x),) * 3)[0].detach().numpy()
            b = tm(*(torch.tensor(x),) * 3)[0].detach().numpy()
            np.testing.assert_allclose(a, b, atol=1e-5)
            m2 = nn.MultiheadAttention(12, 3, batch_first=batch_first, bias=bias)
            m2.load_state_dict({k: dl.tensor(v.numpy()) for k, v in tm.state_dict().items()})   # torch -> dl
            np.testing.assert_allclose(m2(*(dl.tensor(x),) * 3)[0].detach().numpy(), b, atol=1e-5)


def test_gpt_block_matches_torch_pre_norm_block():
    "The Block, rebuilt from PyTorch modules with the same state dict: values and every gradient."
    dl.manual_seed(0)
    blk = A.Block(8, 2).double()

    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = torch.nn.LayerNorm(8), torch.nn.LayerNorm(8)
            self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(approximate='tanh'),
                                           torch.nn.Linear(32, 8), torch.nn.Dropout(0.0))
            self.drop = torch.nn.Dropout(0.0)

        def forward(self, x):
            T = x.shape[1]
            h = self.ln_1(x)
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
            x = x + self.drop(self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0])
            return x + self.mlp(self.ln_2(x))
    tb = TBlock().double()
    tb.load_state_dict({k: torch.tensor(v.numpy()) for k, v in blk.state_dict().items()})
    x, tx = pair(np.random.default_rng(0).standard_normal((2, 5, 8)))
    y, z = blk(x), tb(tx)
    close(y, z, 'block output')
    (y * y).sum().backward()
    (z * z).sum().backward()
    close(x.grad, tx.grad, 'grad x')
    tp = dict(tb.named_parameters())
    for n, p in blk.named_parameters(): close(p.grad, tp[n].grad, f'grad {n}')


# ------------------------------------------------------------------------------------ the layers the block reuses
@pytest.mark.parametrize('shape', [(8,), (3, 4)])
def test_layer_norm_matches_torch(shape):
    rng = np.random.default_rng(1)
    m, tm = nn.LayerNorm(shape).double(), torch.nn.LayerNorm(shape).double()
    w, b = rng.standard_normal(shape), rng.standard_normal(shape)
    with dl.no_grad():
        m.weight.copy_(dl.tensor(w)); m.bias.copy_(dl.tensor(b))
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w)); tm.bias.copy_(torch.tensor(b))
    x, tx = pair(rng.standard_normal((2, 5) + shape))
    y, z = m(x), tm(tx)
    close(y, z)
    g = rng.standard_normal(z.shape)
    y.backward(dl.tensor(g)); z.backward(torch.tensor(g))
    close(x.grad, tx.grad); close(m.weight.grad, tm.weight.grad); close(m.bias.grad, tm.bias.grad)


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
def test_gelu_matches_torch(approximate):
    rng = np.random.default_rng(2)
    x, tx = pair(rng.standard_normal((4, 7)) * 3)
    y, z = nn.GELU(approximate=approximate)(x), torch.nn.GELU(approximate=approximate)(tx)
    close(y, z)
    g = rng.standard_normal(z.shape)
    y.backward(dl.tensor(g)); z.backward(torch.tensor(g))
    close(x.grad, tx.grad)


def test_embedding_padding_idx_matches_torch():
    rng = np.random.default_rng(3)
    m, tm = nn.Embedding(7, 4, padding_idx=2).double(), torch.nn.Embedding(7, 4, padding_idx=2).double()
    assert (m.weight.detach().numpy()[2] == 0).all()
    w = rng.standard_normal((7, 4))
    w[2] = 0
    with dl.no_grad(): m.weight.copy_(dl.tensor(w))
    with torch.no_grad(): tm.weight.copy_(torch.tensor(w))
    idx = rng.integers(0, 7, (3, 5))
    idx[0, :2] = 2
    y, z = m(dl.tensor(idx)), tm(torch.tensor(idx))
    close(y, z)
    g = rng.standard_normal(z.shape)
    y.backward(dl.tensor(g)); z.backward(torch.tensor(g))
    close(m.weight.grad, tm.weight.grad)
    assert (m.weight.grad.numpy()[2] == 0).all()
