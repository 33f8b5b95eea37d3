"""The tiny GPT of chapter 09 against PyTorch CPU, float32: one training step (forward, cross-entropy, backward,
AdamW) of the chapter's sorting GPT, in deeplearning101 eager, under dl.compile, and in PyTorch eager; and the
attention op alone.

  model (nbs/09_attention.ipynb): GPT(vocab_size=10, block_size=11, n_layer=2, n_head=4, n_embd=48), the sorting
    task's shapes: batch 64 of 11 tokens; token + position embeddings, 2 pre-norm blocks (LayerNorm, causal
    nn.MultiheadAttention with need_weights=False and the is_causal hint, LayerNorm, Linear 48->192, GELU
    (tanh), Linear 192->48), final LayerNorm, Linear head without bias.  The PyTorch model is built from
    torch.nn modules with the same structure and gets the same weights through the state dict (the parameter
    names are the same).
    step: opt.zero_grad(); loss = F.cross_entropy(model(x).reshape(-1, 10), y.reshape(-1)); loss.backward();
          opt.step()   with AdamW(lr=1e-3, weight_decay=0.01) on both sides.
  'shakespeare' (reported, no target): the chapter's character model, GPT(65, 64, 3, 4, 64), batch 32 of 64.
  attention alone: F.scaled_dot_product_attention(q, k, v, is_causal=True) forward + backward on [64, 4, 11, 12].

Targets (issue 16): GPT step eager / PyTorch <= 1.5, compiled / PyTorch <= 1.0, on wall-clock paired ratios
(each sample's CPU time is recorded too and its paired ratio printed beside, 'cpu').  Threads as in
bench/conv.py: 1 by default (NumPy's BLAS and torch alike); --threads 2 on a quiet machine.

Run:  .venv/bin/python bench/gpt.py [--quick] [--threads N]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl
import deeplearning101.nn.functional as F
from deeplearning101.attention import GPT
from _timing import fmt_ratio, header, iqr_pct, median, OtherLoad, paired_ratio, parse_quick
from conv import interleaved_wall_cpu, report_steps, GAP_S
from _mlp import check_contenders

TARGET_EAGER, TARGET_COMPILED = 1.5, 1.0
LR, WD = 1e-3, 0.01
CONFIGS = {'sort': dict(vocab_size=10, block_size=11, n_layer=2, n_head=4, n_embd=48, batch=64),
           'shakespeare': dict(vocab_size=65, block_size=64, n_layer=3, n_head=4, n_embd=64, batch=32)}


def batch(cfg, seed=1):
    rng = np.random.default_rng(seed)
    shape = (cfg['batch'], cfg['block_size'])
    return rng.integers(0, cfg['vocab_size'], shape), rng.integers(0, cfg['vocab_size'], shape)


def dl_model(cfg):
    dl.manual_seed(0)
    return GPT(cfg['vocab_size'], cfg['block_size'], cfg['n_layer'], cfg['n_head'], cfg['n_embd'])


def torch_model(torch, cfg, state):
    "The same GPT from torch.nn modules, loaded with deeplearning101's state dict."
    nn = torch.nn
    E, V, T = cfg['n_embd'], cfg['vocab_size'], cfg['block_size']

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(E)
            self.attn = nn.MultiheadAttention(E, cfg['n_head'], batch_first=True)
            self.ln_2 = nn.LayerNorm(E)
            self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(approximate='tanh'), nn.Linear(4 * E, E),
                                     nn.Dropout(0.0))
            self.drop = nn.Dropout(0.0)

        def forward(self, x, mask):
            h = self.ln_1(x)
            x = x + self.drop(self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0])
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe, self.drop = nn.Embedding(V, E), nn.Embedding(T, E), nn.Dropout(0.0)
            self.blocks = nn.ModuleList([Block() for _ in range(cfg['n_layer'])])
            self.ln_f, self.head = nn.LayerNorm(E), nn.Linear(E, V, bias=False)

        def forward(self, idx):
            t = idx.shape[1]
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
            x = self.drop(self.wte(idx) + self.wpe(torch.arange(t)))
            for b in self.blocks: x = b(x, mask)
            return self.head(self.ln_f(x))
    m = TorchGPT()
    m.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()})
    return m


def dl_runner(cfg, compiled):
    model = dl_model(cfg)
    opt = dl.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    X, Y = batch(cfg)
    x, y, V = dl.tensor(X), dl.tensor(Y), cfg['vocab_size']

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    f = dl.compile(step) if compiled else step
    run = lambda: f(x, y)
    run.arrays = lambda: [p.detach().numpy() for p in model.parameters()]
    run.traces = (lambda: f.traces) if compiled else (lambda: 0)
    return run


def torch_runner(torch, cfg):
    model = torch_model(torch, cfg, dl_model(cfg).state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    X, Y = batch(cfg)
    x, y, V = torch.from_numpy(X), torch.from_numpy(Y), cfg['vocab_size']
    Fn = torch.nn.functional

    def run():
        opt.zero_grad()
        loss = Fn.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    run.arrays = lambda: [p.detach().numpy() for p in model.parameters()]
    return run


def contenders(torch, cfg):
    c = {'eager': dl_runner(cfg, False)}
    try:
        f = dl_runner(cfg, True)
        f()                                              # traces here: a failure drops the contender
        c['compiled'] = dl_runner(cfg, True)
    except Exception as e:
        print(f"  dl.compile of the GPT step failed ({type(e).__name__}: {e}); not timed")
    if torch is not None: c['torch'] = torch_runner(torch, cfg)
    return c



def check(torch, name, cfg):
    "Three AdamW steps of each contender from the same weights and data: the losses and weights must agree."
    # Adam divides each gradient by its own running size, so a parameter whose gradient is float32 rounding noise
    # (a rarely used position row) still moves by ~lr: weights agree to a tenth of one step's size (lr), not 1e-5
    return check_contenders(contenders(torch, cfg), f"{name}: 3 AdamW steps", weight_tol=0.1 * LR, digits=5)


def attention_runners(torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((64, 4, 11, 12)).astype(np.float32) for _ in range(3)]
    g = rng.standard_normal((64, 4, 11, 12)).astype(np.float32)
    q, k, v = (dl.tensor(a, requires_grad=True) for a in arrays)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    G, tG = dl.tensor(g), torch.tensor(g)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def run_dl():
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(G)
        q.grad = k.grad = v.grad = None

    def run_torch():
        sdpa(tq, tk, tv, is_causal=True).backward(tG)
        tq.grad = tk.grad = tv.grad = None
    return {'dl': run_dl, 'torch': run_torch}


def main():
    p = parse_quick(__doc__.split('\n')[0])
    p.set_defaults(threads=1)
    args = p.parse_args()
    reps, sample_s = (7, 0.02) if args.quick else (15, 0.1)
    threads, torch = header("gpt: a training step of chapter 09's tiny GPT, float32", args)
    if torch is None:
        print("torch is not installed: nothing to compare with")
        sys.exit(1)
    gap = GAP_S if threads > 1 else 0.0
    print(f"{reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples"
          + (f"; {gap} s pause around each torch sample" if gap else ""))
    load = OtherLoad()

    print("same computation check (float32, against PyTorch):")
    ok = all([check(torch, name, cfg) for name, cfg in CONFIGS.items()])
    if not ok:
        print("the contenders disagree: timings below would not compare the same computation")
        sys.exit(1)

    for name, cfg in CONFIGS.items():
        print()
        target = name == 'sort'
        print(f"GPT step '{name}' (batch {cfg['batch']} x {cfg['block_size']} tokens, {cfg['n_layer']} layers, "
              f"n_embd {cfg['n_embd']})" + (f": targets eager/torch <= {TARGET_EAGER}x, compiled/torch <= "
                                            f"{TARGET_COMPILED}x" if target else ": reported"))
        cs = contenders(torch, cfg)
        t, c = interleaved_wall_cpu(cs, reps, sample_s, gap_s=gap, gap_names=('torch',))
        report_steps(cs, t, c, {'eager': TARGET_EAGER, 'compiled': TARGET_COMPILED} if target else {})

    print()
    print("attention alone, causal, [64, 4, 11, 12], forward + backward (reported):")
    t, c = interleaved_wall_cpu(attention_runners(torch), reps, sample_s, gap_s=gap, gap_names=('torch',))
    print(f"  dl {median(t['dl']) * 1e3:.3f} ms, torch {median(t['torch']) * 1e3:.3f} ms: "
          f"dl/torch {fmt_ratio(paired_ratio(t, 'dl', 'torch'), 6).strip()} "
          f"(cpu {fmt_ratio(paired_ratio(c, 'dl', 'torch'), 6).strip()})")
    print(load.report())


if __name__ == '__main__':
    main()
