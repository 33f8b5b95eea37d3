"""One training step -- forward, backward, Adam step -- of a 784-1024-1024-10 ReLU MLP with softmax cross-entropy,
float32, at batch sizes 256, 1024, 4096 and 16384: deeplearning101 on the GPU (CuPy), the same with the fused Adam
kernel switched off, the same through `dl.compile` (dl-compiled), PyTorch on the GPU, and deeplearning101 on the CPU (NumPy; only up to batch 4096, where one step
already takes a good fraction of a second). All start from the same weights and data.

  deeplearning101: opt.zero_grad(); loss = dl.cross_entropy(model(x), y); loss.backward(); opt.step()
  PyTorch:         opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()   (torch.optim.Adam, foreach)

Method: `dl.benchmark` with a dict of contenders -- warm-up calls, then repetitions in which every contender takes one
sample (round-robin, order rotated each repetition); the GPU is synchronized (cudaDeviceSynchronize) before and after
every sample; medians. TF32 is off in both libraries (PyTorch's default for matmul; CuPy's unless CUPY_TF32=1), so the
GPU does the same float32 arithmetic as the CPU.

Targets: dl-cuda / torch-cuda <= 1.3 at batch 4096 and above; dl-cpu / dl-cuda >= 20 at batch 4096;
dl-compiled / torch-cuda <= 1.0 at batch 4096.

--sweep adds the data behind chapter 05's figures, written as CSV lines (prefix 'csv,'): float32 matrix products
n x n x n and element-wise additions of n numbers (NumPy vs CuPy), the same MLP step at batch sizes 16 to 16384, and
the time of the softmax cross-entropy (forward and backward) with and without its fused kernels.
Chapter 05 reads these lines, without the prefix, from deeplearning101/_data/gpu_sweep_h100.csv, whose
comment header records the device, date, versions and command.

Run (on a machine with a GPU):  python bench/gpu_mlp.py [--quick] [--sweep]
"""
import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deeplearning101 as dl  # noqa: E402
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
from _mlp import mlp_batch, mlp_params  # noqa: E402

SIZES = [784, 1024, 1024, 10]
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BATCHES = [256, 1024, 4096, 16384]
CPU_MAX_BATCH = 4096
TARGET_TORCH, TARGET_CPU = 1.3, 20.0


def init_params(seed=0): return mlp_params(SIZES, seed, layout='out_in')
def make_batch(B, seed=1): return mlp_batch(SIZES, B, seed)


class DLStep:
    """deeplearning101's step on `device`; `fused`: the fused kernels (GPU) on or off; `compiled`: the step
    through `dl.compile` (chapter 06b: one traced program, its element-wise runs fused into generated kernels)."""
    def __init__(self, params, X, y, device, fused=True, compiled=False):
        layers = []
        for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [dl.Linear(n_in, n_out)] + ([dl.ReLU()] if i < len(SIZES) - 2 else [])
        self.model = dl.Sequential(*layers)
        with dl.no_grad():
            for p, a in zip(self.model.parameters(), params): p.copy_(dl.from_numpy(a))
        self.model.to(device)
        self.opt = dl.Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.x, self.y, self.fused = dl.tensor(X, device=device), dl.tensor(y, device=device), fused
        self.run = dl.compile(self.step) if compiled else self.step

    def step(self, x, y):
        self.opt.zero_grad()
        loss = dl.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def __call__(self):
        prev = dl.use_fused_kernels(self.fused)
        try: return self.run(self.x, self.y)
        finally: dl.use_fused_kernels(prev)

    def arrays(self): return [p.detach().cpu().numpy() for p in self.model.parameters()]


class TorchStep:
    def __init__(self, torch, params, X, y):
        import torch.nn.functional as F
        self.F, nn = F, torch.nn
        layers = []
        for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
        self.model = nn.Sequential(*layers).cuda()
        with torch.no_grad():
            for p, a in zip(self.model.parameters(), params): p.copy_(torch.from_numpy(a))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.x, self.y = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()

    def __call__(self):
        self.opt.zero_grad()
        loss = self.F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def arrays(self): return [p.detach().cpu().numpy() for p in self.model.parameters()]


def _loss(v): return float(v.item())


def contenders(B, torch, params, cpu=True):
    X, y = make_batch(B)
    c = {'dl-cuda': DLStep(params, X, y, 'cuda'), 'dl-cuda-unfused': DLStep(params, X, y, 'cuda', fused=False),
         'dl-compiled': DLStep(params, X, y, 'cuda', compiled=True)}
    if torch is not None: c['torch-cuda'] = TorchStep(torch, params, X, y)
    if cpu: c['dl-cpu'] = DLStep(params, X, y, 'cpu')
    return c


def sync_all(torch):
    def sync():
        dl.synchronize()                            # cudaDeviceSynchronize: waits for PyTorch's work too
        if torch is not None: torch.cuda.synchronize()
    return sync


def check_same_computation(torch, params, B=256):
    "Three steps of every contender from the same weights and data: the losses must agree (float32 rounding aside)."
    c = contenders(B, torch, params)
    losses = [{k: _loss(f()) for k, f in c.items()} for _ in range(3)]
    ref = c['dl-cpu'].arrays()
    ok = True
    for k, f in c.items():
        d = np.concatenate([np.abs(a - b).ravel() for a, b in zip(f.arrays(), ref)])
        l = max(abs(s[k] - s['dl-cpu']) / abs(s['dl-cpu']) for s in losses)
        ok &= l < 1e-4
        print(f"  {k:<16} losses {', '.join(f'{s[k]:.6f}' for s in losses)}; vs dl-cpu: max rel loss diff {l:.1e}, "
              f"params: median |diff| {np.median(d):.1e}, max {d.max():.1e}, {np.mean(d > 1e-4) * 100:.3f}% > 1e-4")
    print("  (Adam's first steps move every weight by about lr = 1e-3 whatever the size of its gradient, so a weight whose "
          "tiny gradient has a different sign after float32 rounding on the two devices differs by up to 2e-3)")
    return ok


def mlp_table(torch, params, batches, reps, sweep_rows):
    sync = sync_all(torch)
    cols = ('dl-cuda', 'dl-cuda-unfused', 'dl-compiled', 'torch-cuda', 'dl-cpu')
    print(f"\n{'batch':>6} " + " ".join(f"{k + ' ms':>19}" for k in cols)
          + f" {'dl/torch':>9} {'comp/torch':>10} {'cpu/dl-cuda':>12}  targets")
    for B in batches:
        c = contenders(B, torch, params, cpu=B <= CPU_MAX_BATCH)
        t = dl.benchmark(c, warmup=2, repeat=reps, min_sample_s=0.05 if B >= 1024 else 0.02, sync=sync)
        ms = {k: v.median * 1e3 for k, v in t.items()}
        r_torch = ms['dl-cuda'] / ms['torch-cuda'] if 'torch-cuda' in ms else float('nan')
        r_comp = ms['dl-compiled'] / ms['torch-cuda'] if 'torch-cuda' in ms else float('nan')
        r_cpu = ms['dl-cpu'] / ms['dl-cuda'] if 'dl-cpu' in ms else float('nan')
        verdicts = []
        if B >= 4096: verdicts.append(f"dl/torch <= {TARGET_TORCH}: {'met' if r_torch <= TARGET_TORCH else 'NOT met'}")
        if B == 4096: verdicts.append(f"cpu/dl-cuda >= {TARGET_CPU:g}: {'met' if r_cpu >= TARGET_CPU else 'NOT met'}")
        if B == 4096: verdicts.append(f"compiled/torch <= 1: {'met' if r_comp <= 1 else 'NOT met'}")
        cell = lambda k: f"{ms[k]:>12.3f} ({100 * t[k].iqr():>3.0f}%)" if k in ms else f"{'(skipped)':>19}"
        print(f"{B:>6} " + " ".join(cell(k) for k in cols)
              + f" {r_torch:>9.2f} {r_comp:>10.2f} {r_cpu:>12.1f}  {'; '.join(verdicts)}")
        for k, v in ms.items(): sweep_rows.append(('mlp', k, B, v))
    print("(ms per training step, median; in brackets the interquartile range of the samples as % of the median; "
          f"dl-cpu is skipped above batch {CPU_MAX_BATCH})")


def matmul_sweep(sizes, reps, rows):
    import cupy
    print(f"\nfloat32 matrix product n x n x n: {'n':>6} {'numpy ms':>10} {'cupy ms':>10} {'numpy GFLOP/s':>14} {'cupy GFLOP/s':>13}")
    for n in sizes:
        rng = np.random.default_rng(n)
        a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        ga, gb = cupy.asarray(a), cupy.asarray(b)
        t = dl.benchmark({'numpy': lambda: a @ b, 'cupy': lambda: ga @ gb}, warmup=2, repeat=reps, min_sample_s=0.02)
        f = 2 * n ** 3
        print(f"{'':>34} {n:>6} {t['numpy'].median * 1e3:>10.4f} {t['cupy'].median * 1e3:>10.4f} "
              f"{f / t['numpy'].median / 1e9:>14.1f} {f / t['cupy'].median / 1e9:>13.1f}")
        rows += [('matmul', 'numpy-cpu', n, t['numpy'].median * 1e3), ('matmul', 'cupy-cuda', n, t['cupy'].median * 1e3)]


def add_sweep(sizes, reps, rows):
    "c = a + b on n float32 numbers (in place into c): launch overhead for small n, memory bandwidth for large n."
    import cupy
    print(f"\nfloat32 element-wise add, n numbers:  {'n':>10} {'numpy ms':>10} {'cupy ms':>10} {'numpy GB/s':>11} {'cupy GB/s':>10}")
    for n in sizes:
        a, b, c = (np.full(n, v, np.float32) for v in (1, 2, 0))
        ga, gb, gc = (cupy.asarray(x) for x in (a, b, c))
        t = dl.benchmark({'numpy': lambda: np.add(a, b, out=c), 'cupy': lambda: cupy.add(ga, gb, out=gc)},
                         warmup=2, repeat=reps, min_sample_s=0.02)
        print(f"{'':>36} {n:>10} {t['numpy'].median * 1e3:>10.4f} {t['cupy'].median * 1e3:>10.4f} "
              f"{12 * n / t['numpy'].median / 1e9:>11.1f} {12 * n / t['cupy'].median / 1e9:>10.1f}")
        rows += [('add', 'numpy-cpu', n, t['numpy'].median * 1e3), ('add', 'cupy-cuda', n, t['cupy'].median * 1e3)]
        del ga, gb, gc


def cross_entropy_share(params, reps, rows, B=4096):
    "Time of the softmax cross-entropy alone (forward + backward on [B, 10] logits) against the whole GPU step."
    X, y = make_batch(B)
    z = dl.tensor(np.random.default_rng(2).standard_normal((B, 10)).astype(np.float32), requires_grad=True, device='cuda')
    yt = dl.tensor(y, device='cuda')
    def ce(fused):
        def f():
            prev = dl.use_fused_kernels(fused)
            z.grad = None; dl.cross_entropy(z, yt).backward()
            dl.use_fused_kernels(prev)
        return f
    t = dl.benchmark({'fused': ce(True), 'unfused': ce(False), 'step': DLStep(params, X, y, 'cuda')}, warmup=2, repeat=reps)
    ms = {k: v.median * 1e3 for k, v in t.items()}
    print(f"\nsoftmax cross-entropy, forward + backward at batch {B}: fused kernels {ms['fused']:.3f} ms, NumPy-style ops "
          f"{ms['unfused']:.3f} ms; the whole GPU step (fused) takes {ms['step']:.3f} ms")
    rows += [('cross_entropy', 'dl-cuda', B, ms['fused']), ('cross_entropy', 'dl-cuda-unfused', B, ms['unfused']),
             ('step', 'dl-cuda', B, ms['step'])]


def versions(torch):
    import cupy
    dev = cupy.cuda.runtime.getDeviceProperties(0)
    name = dev['name'].decode() if isinstance(dev['name'], bytes) else dev['name']
    print(f"date {datetime.date.today()}; python {platform.python_version()}, numpy {np.__version__}, cupy "
          f"{cupy.__version__} (CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}), "
          f"torch {torch.__version__ if torch else 'not installed'}; GPU: {name}; CPU cores: {os.cpu_count()}")
    return name


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='fewer repetitions')
    p.add_argument('--sweep', action='store_true', help='also the matmul and batch-size sweeps for chapter 05 (CSV)')
    args = p.parse_args()
    if not dl.cuda_available():
        print(f"gpu_mlp: no usable CUDA device ({dl.gpu._why_no_cuda()}): nothing to measure"); return
    try: import torch
    except ImportError: torch = None
    if torch is not None and not torch.cuda.is_available(): torch = None
    reps = 5 if args.quick else 9
    print("== gpu_mlp: 784-1024-1024-10 ReLU MLP, softmax cross-entropy, Adam step, float32 ==")
    gpu = versions(torch)
    print(f"method: dl.benchmark, contenders interleaved round-robin, {reps} repetitions, GPU synchronized around "
          f"every sample, medians; TF32 off")
    params = init_params()
    print("same computation check (batch 256, 3 steps from the same weights and data):")
    if not check_same_computation(torch, params):
        print("the contenders disagree: the timings below would not compare the same computation"); sys.exit(1)
    rows = []
    mlp_table(torch, params, ([16, 64] if args.sweep else []) + BATCHES, reps, rows)
    if args.sweep:
        matmul_sweep([64, 128, 256, 512, 1024, 2048, 4096], reps, rows)
        add_sweep([1, 1000, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7, 10 ** 8], reps, rows)
        cross_entropy_share(params, reps, rows)
    if args.sweep:
        print(f"\ncsv,kind,contender,size,ms   (device: {gpu})")
        for kind, who, n, ms in rows: print(f"csv,{kind},{who},{n},{ms:.5g}")


if __name__ == '__main__':
    t0 = time.perf_counter()
    main()
    print(f"(total {time.perf_counter() - t0:.0f} s)")
