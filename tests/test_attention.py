"""Attention and the tiny GPT (chapter 09, deeplearning101/attention.py).

* `F.scaled_dot_product_attention`: gradcheck (float64, both paths of the rule: arrays and create_graph) with
  boolean, float and causal masks and broadcast leading dimensions; the fused `AttentionOp` against the plain
  composition; rows with every key masked; PyTorch's errors.
* `nn.MultiheadAttention`: gradcheck of the input(s) and every parameter, batch_first on and off, unbatched,
  padding and attention masks, the causal hint; clear errors for wrong sizes and masks.
* The pre-norm `Block` (gradcheck) and the `GPT`: KV-cache generation equals full recomputation; a compiled
  training step (dl.compile, chapter 06b) equals the eager one.
* The device: on the simulated GPU of tests/fake_cupy.py (and on a real one when present), forward and
  backward of attention, the layer and a GPT step equal the CPU's.
"""
import os
import sys

import numpy as np
import pytest

import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101 import nn
from deeplearning101 import attention as A
from deeplearning101.layers import gradcheck_module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def t64(rng, *shape, grad=True):
    return dl.tensor(rng.standard_normal(shape), requires_grad=grad)


class Output(nn.Module):
    "The layer's output alone (for gradcheck_module); q only: self-attention."
    def __init__(self, layer, **kw): self.layer, self.kw = layer, kw

    def forward(self, q, k=None, v=None):
        return self.layer(q, q if k is None else k, q if v is None else v, **self.kw)[0]


# ------------------------------------------------------------------------------------ scaled dot-product attention
@pytest.mark.parametrize('case', ['plain', 'bool', 'float', 'causal', 'scale', 'broadcast', 'causal-rect'])
def test_sdpa_gradcheck(rng, case):
    q, k, v = t64(rng, 2, 3, 4, 5), t64(rng, 2, 3, 6, 5), t64(rng, 2, 3, 6, 3)
    kw, extra = {}, ()
    if case == 'bool':
        m = rng.random((4, 6)) < 0.6
        m[:, 0] = True
        kw['attn_mask'] = dl.tensor(m)
    if case == 'causal': q, k, v, kw = q, k[:, :, :4], v[:, :, :4], dict(is_causal=True)
    if case == 'causal-rect': kw = dict(is_causal=True)
    if case == 'scale': kw = dict(scale=0.25)
    if case == 'broadcast': k, v = t64(rng, 1, 3, 6, 5), t64(rng, 6, 3)
    if case == 'float':
        extra = (t64(rng, 3, 1, 6),)
        assert dl.gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b),
                            q, k, v, *extra)
        return
    assert dl.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), q, k, v)


def test_fused_equals_plain(rng):
    worst = 0.0
    for trial in range(30):
        L, S, d, dv = (int(n) for n in rng.integers(1, 6, 4))
        causal = trial % 3 == 0
        q, k, v = t64(rng, 2, 2, L, d), t64(rng, 1, 2, S, d), t64(rng, 2, 1, S, dv)
        b = None
        if trial % 3 == 1:
            b = dl.tensor(np.where(rng.random((L, S)) < 0.3, -np.inf, rng.standard_normal((L, S))),
                          requires_grad=True)
        g = dl.tensor(rng.standard_normal((2, 2, L, dv)))
        res = []
        for attend in (A._attend_plain, A._attend):
            y = attend(q, k, v, b, 0.6, causal)
            ins = [t for t in (q, k, v, b) if t is not None]
            res.append([y] + list(dl.autograd.grad((y * g).sum(), ins)))
        for a, c in zip(*res):
            worst = max(worst, float(np.abs(np.nan_to_num(a.detach().numpy())
                                            - np.nan_to_num(c.detach().numpy())).max()))
    assert worst < 1e-12


def test_fused_is_one_node(rng):
    q, k, v = t64(rng, 2, 3, 4), t64(rng, 2, 5, 4), t64(rng, 2, 5, 4)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=False)
    assert type(y._op).__name__ == 'AttentionOp'
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)      # dropout: the composition
    assert type(y._op).__name__ != 'AttentionOp'


def test_fully_masked_rows_are_zero(rng):
    q, k, v = t64(rng, 3, 4), t64(rng, 5, 4), t64(rng, 5, 2)
    m = np.ones((3, 5), bool)
    m[1] = False
    for attend in ('fused', 'plain'):
        fn = F.scaled_dot_product_attention if attend == 'fused' else \
            (lambda q, k, v, attn_mask: A._attend_plain(q, k, v, A._as_bias(attn_mask, np.float64, 'x')))
        y = fn(q, k, v, attn_mask=dl.tensor(m))
        y.sum().backward()
        assert (y[1].detach().numpy() == 0).all() and np.isfinite(q.grad.numpy()).all()
        assert (q.grad.numpy()[1] == 0).all()
        q.grad = k.grad = v.grad = None
    assert dl.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(m)),
                        q, k, v)


def test_sdpa_masks_agree(rng):
    q, k, v = t64(rng, 2, 4, 3, grad=False), t64(rng, 2, 6, 3, grad=False), t64(rng, 2, 6, 2, grad=False)
    m = rng.random((4, 6)) < 0.6
    m[:, 0] = True
    as_float = np.where(m, 0.0, -np.inf)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(m)).numpy()
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(as_float)).numpy()
    np.testing.assert_allclose(a, b, atol=1e-14)
    c = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    d = F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tril(dl.ones(4, 6)).bool()).numpy()
    np.testing.assert_allclose(c, d, atol=1e-14)
    assert F.scaled_dot_product_attention(q[0], k[0], v[0]).shape == (4, 2)        # 2-D inputs


def test_sdpa_errors(rng):
    q, k, v = t64(rng, 2, 4, 3), t64(rng, 2, 6, 3), t64(rng, 2, 6, 2)
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(RuntimeError, match=r'scaled_dot_product_attention: .*key \[2, 6, 2\]'):
        sdpa(q, v, v)
    with pytest.raises(RuntimeError, match=r'attn_mask of shape \[3, 6\] does not broadcast.*\[2, 4, 6\]'):
        sdpa(q, k, v, attn_mask=dl.ones(3, 6).bool())
    with pytest.raises(RuntimeError, match='Explicit attn_mask should not be set when is_causal=True'):
        sdpa(q, k, v, attn_mask=dl.ones(4, 6).bool(), is_causal=True)
    with pytest.raises(RuntimeError, match='do not broadcast'):
        sdpa(q, t64(rng, 3, 6, 3), t64(rng, 3, 6, 2))
    with pytest.raises(RuntimeError, match='same dtype'):
        sdpa(q, k.float(), v)
    with pytest.raises(RuntimeError, match='bool or floating point'):
        sdpa(q, k, v, attn_mask=dl.ones(4, 6).long())
    with pytest.raises(NotImplementedError, match='enable_gqa'):
        sdpa(q, k, v, enable_gqa=True)


# ------------------------------------------------------------------------------------ MultiheadAttention
@pytest.mark.parametrize('batch_first', [True, False])
def test_mha_gradcheck(rng, batch_first):
    dl.manual_seed(0)
    mha = nn.MultiheadAttention(6, 3, batch_first=batch_first)
    shape = (2, 4, 6) if batch_first else (4, 2, 6)
    x, y = t64(rng, *shape), t64(rng, *((2, 5, 6) if batch_first else (5, 2, 6)))
    pad = dl.tensor([[False] * 5, [False, False, False, True, True]])
    assert gradcheck_module(Output(mha, key_padding_mask=pad), x, y, y)
    assert gradcheck_module(Output(mha, attn_mask=dl.triu(dl.ones(4, 4), 1).bool(), need_weights=False,
                                   is_causal=True), x)
    assert gradcheck_module(Output(mha, attn_mask=t64(rng, 6, 4, 5, grad=False)), x, y, y)   # per head


def test_mha_unbatched_and_weights(rng):
    dl.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2)
    x = dl.randn(5, 8)
    o, w = mha(x, x, x)
    assert o.shape == (5, 8) and w.shape == (5, 5)
    o2, w2 = mha(x, x, x, average_attn_weights=False)
    assert w2.shape == (2, 5, 5)
    np.testing.assert_allclose(w2.detach().numpy().mean(0), w.detach().numpy(), atol=1e-6)
    o3, w3 = mha(x, x, x, need_weights=False)
    assert w3 is None
    np.testing.assert_allclose(o3.detach().numpy(), o.detach().numpy(), atol=1e-6)
    assert gradcheck_module(Output(mha), t64(rng, 3, 8))


def test_mha_parameters_and_init():
    dl.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    assert [n for n, _ in mha.named_parameters()] == ['in_proj_weight', 'in_proj_bias', 'out_proj.weight',
                                                      'out_proj.bias']
    assert list(mha.state_dict()) == ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    w = mha.in_proj_weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 48))                      # xavier_uniform_ on [3E, E]
    assert w.shape == (48, 16) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert (mha.in_proj_bias.detach().numpy() == 0).all() and (mha.out_proj.bias.detach().numpy() == 0).all()
    no_bias = nn.MultiheadAttention(16, 4, bias=False)
    assert no_bias.in_proj_bias is None and no_bias.out_proj.bias is None
    assert [n for n, _ in no_bias.named_parameters()] == ['in_proj_weight', 'out_proj.weight']
    assert nn.MultiheadAttention(8, 2, dtype=dl.float64).in_proj_weight.dtype == dl.float64


def test_mha_errors():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = dl.randn(3, 5, 8)
    with pytest.raises(ValueError, match=r'MultiheadAttention\(10, num_heads=3\): embed_dim must be divisible'):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match=r'embed_dim=8 .*key \[3, 5, 6\]'):
        mha(x, x[..., :6], x)
    with pytest.raises(RuntimeError, match=r'key shape \[3, 4, 8\] does not match value shape \[3, 5, 8\]'):
        mha(x, x[:, :4], x)
    with pytest.raises(RuntimeError, match=r'attn_mask of shape \[5, 5\] or \[6, 5, 5\], got \[4, 5\]'):
        mha(x, x, x, attn_mask=dl.ones(4, 5).bool())
    with pytest.raises(RuntimeError, match=r'key_padding_mask of shape \[3, 5\].*got \[3, 4\]'):
        mha(x, x, x, key_padding_mask=dl.ones(3, 4).bool())
    with pytest.raises(RuntimeError, match='Need attn_mask if specifying the is_causal hint'):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match='batched .3-D. or all unbatched'):
        mha(x, x[0], x[0])
    with pytest.raises(RuntimeError, match='different batch sizes'):
        mha(x, x[:2], x[:2])
    for kw in (dict(kdim=4), dict(vdim=4), dict(add_bias_kv=True), dict(add_zero_attn=True)):
        with pytest.raises(NotImplementedError, match=list(kw)[0]):
            nn.MultiheadAttention(8, 2, **kw)


# ------------------------------------------------------------------------------------ the block and the GPT
def test_block_gradcheck(rng):
    dl.manual_seed(0)
    block = A.Block(8, 2)
    assert gradcheck_module(block, t64(rng, 2, 4, 8))


def test_block_is_causal(rng):
    dl.manual_seed(0)
    block = A.Block(8, 2)
    x = dl.randn(1, 6, 8)
    y = block(x).detach().numpy()
    x2 = x.clone()
    x2[:, 4:] = dl.randn(1, 2, 8)                            # change the future only
    np.testing.assert_allclose(block(x2).detach().numpy()[:, :4], y[:, :4], atol=1e-6)


def test_gpt_shapes_and_errors():
    dl.manual_seed(0)
    gpt = A.GPT(11, 8, 2, 2, 16)
    idx = dl.tensor(np.random.default_rng(0).integers(0, 11, (3, 8)))
    assert gpt(idx).shape == (3, 8, 11)
    with pytest.raises(ValueError, match='block_size=8'):
        gpt(dl.zeros(1, 9).long())
    with pytest.raises(IndexError, match=r'Embedding\(11, 16\): index 11 is out of range'):
        gpt(dl.full((1, 3), 11).long())
    names = [n for n, _ in gpt.named_parameters()]
    assert names[:2] == ['wte.weight', 'wpe.weight'] and 'blocks.1.attn.in_proj_weight' in names


def test_kv_cache_equals_recomputation():
    dl.manual_seed(0)
    gpt = A.GPT(10, 12, 2, 4, 16)
    gpt.eval()
    prompt = dl.tensor(np.random.default_rng(1).integers(0, 10, (3, 4)))
    seq = gpt.generate(prompt, 8)
    assert seq.shape == (3, 12)
    np.testing.assert_array_equal(seq.numpy(), gpt.generate(prompt, 8, use_cache=False).numpy())
    cache = dict(kv=[None] * 2, length=0)
    with dl.no_grad():
        full = gpt(seq).numpy()
        parts = [gpt._forward_cached(seq[:, :4], cache)]
        parts += [gpt._forward_cached(seq[:, t:t + 1], cache) for t in range(4, 12)]
    np.testing.assert_allclose(np.concatenate([p.numpy() for p in parts], 1), full, atol=1e-5)
    longer = gpt.generate(prompt, 12)                    # past block_size: recomputed, cut to the window
    assert longer.shape == (3, 16)
    dl.manual_seed(3)
    a = gpt.generate(prompt, 5, do_sample=True, top_k=3, temperature=0.7)
    dl.manual_seed(3)
    b = gpt.generate(prompt, 5, do_sample=True, top_k=3, temperature=0.7, use_cache=False)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _gpt_step(compiled):
    dl.manual_seed(0)
    model = A.GPT(10, 8, 2, 2, 16)
    opt = dl.optim.AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x, y = dl.tensor(rng.integers(0, 10, (4, 8))), dl.tensor(rng.integers(0, 10, (4, 8)))

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, 10), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    f = dl.compile(step) if compiled else step
    return [f(x, y).item() for _ in range(4)], model, f


def test_compiled_gpt_step_equals_eager():
    (le, me, _), (lc, mc, f) = _gpt_step(False), _gpt_step(True)
    np.testing.assert_allclose(lc, le, rtol=1e-6, atol=1e-7)
    for p, r in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(r.detach().numpy(), p.detach().numpy(), atol=1e-6)
    assert f.traces == 1


# ------------------------------------------------------------------------------------ the device
from test_gpu import clean, gpu, host  # noqa: E402,F401  (the simulated / real GPU fixtures)


def test_attention_on_the_gpu_equals_the_cpu(gpu):
    rng = np.random.default_rng(0)
    Q, K, V = rng.standard_normal((2, 2, 4, 3)), rng.standard_normal((2, 2, 5, 3)), rng.standard_normal((2, 2, 5, 2))
    M = rng.random((4, 5)) < 0.7
    M[:, 0] = True
    X = rng.standard_normal((2, 5, 8))
    PAD = np.array([[False] * 5, [False] * 3 + [True] * 2])

    def run(dev):
        q, k, v = (dl.tensor(a, requires_grad=True, device=dev) for a in (Q, K, V))
        out = [F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(M, device=dev)),
               F.scaled_dot_product_attention(q, k, v, is_causal=True)]
        sum(((o * o).sum() for o in out), dl.tensor(0.0, device=dev).double()).backward()
        dl.manual_seed(0)
        mha = nn.MultiheadAttention(8, 2, batch_first=True).double().to(dev)
        x = dl.tensor(X, requires_grad=True, device=dev)
        y, w = mha(x, x, x, key_padding_mask=dl.tensor(PAD, device=dev))
        y2, _ = mha(x, x, x, attn_mask=A.causal_mask(5).to(dev), need_weights=False, is_causal=True)
        ((y * y).sum() + (w * w).sum() + (y2 * y2).sum()).backward()
        return ([host(o) for o in out] + [host(t.grad) for t in (q, k, v, x)]
                + [host(y), host(w), host(y2)] + [host(p.grad) for p in mha.parameters()])
    for a, b in zip(run('cpu'), run('cuda')): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


def test_gpt_step_on_the_gpu_equals_the_cpu(gpu):
    idx = np.random.default_rng(0).integers(0, 10, (3, 6))

    def run(dev):
        dl.manual_seed(0)
        gpt = A.GPT(10, 6, 2, 2, 8).double().to(dev)
        x = dl.tensor(idx, device=dev)
        loss = F.cross_entropy(gpt(x[:, :-1]).reshape(-1, 10), x[:, 1:].reshape(-1))
        loss.backward()
        gpt.eval()
        gen = gpt.generate(x[:, :2], 3)
        return [host(loss), host(gen)] + [host(p.grad) for p in gpt.parameters()]
    for a, b in zip(run('cpu'), run('cuda')): np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


def test_compiled_mha_with_masks_equals_eager():
    "Boolean masks become scores through an op, so a compiled step with a padding mask replays it."
    def run(compiled):
        dl.manual_seed(0)
        m = nn.MultiheadAttention(8, 2, batch_first=True)
        opt = dl.optim.SGD(m.parameters(), lr=0.1)
        x = dl.tensor(np.random.default_rng(0).standard_normal((3, 5, 8)).astype(np.float32))
        pad = dl.tensor(np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]]))
        causal = A.causal_mask(5)                # made outside the step: an input of the program

        def step(x, pad):
            opt.zero_grad()
            y, w = m(x, x, x, key_padding_mask=pad, attn_mask=causal)
            loss = (y * y).mean() + (w * w).mean()
            loss.backward()
            opt.step()
            return loss
        f = dl.compile(step) if compiled else step
        return [f(x, pad).item() for _ in range(3)], [p.detach().numpy() for p in m.parameters()]
    (le, pe), (lc, pc) = run(False), run(True)
    np.testing.assert_allclose(lc, le, rtol=1e-6)
    for a, b in zip(pc, pe): np.testing.assert_allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------- self-attention's packed q, k, v
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_packed_attention_equals_three_slices_bit_for_bit(causal, with_bias):
    "PackedAttentionOp (one gradient array for qkv) computes what AttentionOp on its slices does."
    import deeplearning101.attention as A
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 4, 5, 6)).astype(np.float32)
    b = dl.tensor(rng.standard_normal((5, 5)).astype(np.float32)) if with_bias else None
    t1, t2 = dl.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    o1 = A._attend_packed(t1, b, causal)
    o2 = A._attend(t2[0], t2[1], t2[2], b, None, causal)
    g = dl.tensor(rng.standard_normal(o1.shape).astype(np.float32))
    o1.backward(g)
    o2.backward(g)
    assert np.array_equal(o1.detach().numpy(), o2.detach().numpy())
    assert np.array_equal(t1.grad.numpy(), t2.grad.numpy())


def test_packed_attention_gradients_and_second_order():
    import deeplearning101.attention as A
    rng = np.random.default_rng(4)
    x = dl.tensor(rng.standard_normal((3, 2, 2, 4, 3)), requires_grad=True)
    b = dl.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    assert dl.gradcheck(lambda q, bb: A._attend_packed(q, bb, False), (x, b))
    X, W = rng.standard_normal((3, 2, 2, 4, 3)), dl.tensor(rng.standard_normal((2, 2, 4, 3)))
    res = []
    for fn in (lambda q: A._attend_packed(q, None, True),
               lambda q: A._attend_plain(q[0], q[1], q[2], None, None, True)):
        x = dl.tensor(X, requires_grad=True)
        (g,) = dl.autograd.grad((fn(x) * W).sum(), (x,), create_graph=True)
        (g * g).sum().backward()
        res.append((g.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], atol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], atol=1e-12)


def test_self_attention_layer_uses_the_packed_op():
    "nn.MultiheadAttention on one tensor, without weights: one PackedAttentionOp node, no slices of qkv."
    dl.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = dl.randn(2, 5, 8)
    out, w = mha(x, x, x, need_weights=False)
    assert w is None
    ops = [type(t._op).__name__ for t in dl.topological_order([out]) if t._op is not None]
    assert ops.count('PackedAttentionOp') == 1 and 'AttentionOp' not in ops
    assert 'Index' not in ops                      # q, k and v are not sliced out of qkv
    ref, _ = mha(x, x, x, need_weights=True)       # the composed path, with weights
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-6)
