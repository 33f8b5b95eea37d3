"""Two ways to ask NumPy's BLAS for the same product x @ w.T (x: [N, in], w: [out, in], the `Linear` layout):
directly, and as (w @ x.T).T, for the layer shapes of the MLP benchmarks and batches 16 to 1024, float32.
Also prints which form `deeplearning101.autodiff._mm` picks (the second form when N < out and in >= 4 N) and
whether that was the faster one here.  The shapes 10->128 and 128->256 are input gradients of the backward pass
(grad [N, 10] @ W3.T, grad [N, 128] @ W2.T).  They are timed together with what follows them (the ReLU rule, the
bias gradient, the weight gradient of the layer below), because the second form's result is column-ordered and
makes those slower.  Both forms give the same matrix up to the order of the additions (checked).

Why: OpenBLAS (the library NumPy's wheels ship) is slow on a short matrix times a transposed one; chapter 01's
array rule for matmul and chapter 03's `Linear` avoid that case.

Run:  .venv/bin/python bench/matmul_layout.py [--quick] [--threads N]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deeplearning101.autodiff import _mm
from _timing import header, interleaved, iqr_pct, median, OtherLoad, paired_ratio, parse_quick

LAYERS = [(784, 256), (256, 128), (128, 10), (10, 128), (128, 256)]     # (in, out)
# Backward products grad [N, in] @ W.T of the [in, out]-layout MLP, timed with what follows them in the backward
# pass: the ReLU rule (grad * (h > 0)), the bias gradient (a column sum) and the weight gradient below (h0.T @ r,
# h0 the input of the layer below, of width BACKWARD[shape]).  Their result's memory order matters there.
BACKWARD = {(10, 128): 256, (128, 256): 784}
BATCHES = [16, 32, 64, 128, 256, 1024]


def main():
    args = parse_quick(__doc__.split('\n')[0]).parse_args()
    reps, sample_s = (3, 0.005) if args.quick else (15, 0.02)
    header("matmul_layout: x @ w.T against (w @ x.T).T, float32", args)
    load = OtherLoad()
    rng = np.random.default_rng(0)
    print(f"{reps} interleaved repetitions of ~{sample_s * 1e3:.0f} ms samples; ratio = (w @ x.T).T / x @ w.T "
          f"(below 1: the transposed form is faster)\n")
    print(f"{'batch':>6} {'in->out':>10} {'x@w.T us':>9} {'iqr%':>5} {'(w@x.T).T us':>13} {'iqr%':>5} {'ratio':>6}  "
          f"{'_mm picks':>10}  {'right?':>6}")
    right = total = 0
    for B in BATCHES:
        for n_in, n_out in LAYERS:
            x = rng.standard_normal((B, n_in)).astype(np.float32)
            w = rng.standard_normal((n_out, n_in)).astype(np.float32)
            assert np.allclose(x @ w.T, (w @ x.T).T, rtol=1e-4, atol=1e-4) and _mm(x, w.T).shape == (B, n_out)
            if (n_in, n_out) in BACKWARD:
                o = rng.standard_normal((B, n_out)).astype(np.float32)
                h0 = rng.standard_normal((B, BACKWARD[n_in, n_out])).astype(np.float32)
                def rest(g2):
                    r = g2 * (o > 0)
                    return r.sum(axis=0), h0.T @ r
                fns = {'direct': lambda: rest(x @ w.T), 'transposed': lambda: rest((w @ x.T).T)}
            else: fns = {'direct': lambda: x @ w.T, 'transposed': lambda: (w @ x.T).T}
            t = interleaved(fns, reps, sample_s)
            r = paired_ratio(t, 'transposed', 'direct')
            got = _mm(x, w.T)
            picks = 'transposed' if got.flags.f_contiguous and not got.flags.c_contiguous else 'direct'
            ok = (picks == 'transposed') == (r < 1) or abs(r - 1) < 0.05       # within 5 %: either is fine
            right, total = right + ok, total + 1
            print(f"{B:>6} {f'{n_in}->{n_out}':>10} {median(t['direct']) * 1e6:>9.1f} {iqr_pct(t['direct']):>5.0f} "
                  f"{median(t['transposed']) * 1e6:>13.1f} {iqr_pct(t['transposed']):>5.0f} {r:>6.2f}  {picks:>10}  "
                  f"{'yes' if ok else 'NO':>6}")
    print(f"\n{', '.join(f'{a}->{b}' for a, b in BACKWARD)}: input gradients in the backward pass, timed with the "
          f"ReLU rule, bias gradient and weight gradient that follow them")
    print(f"_mm picked the faster form (or one within 5 %) in {right} of {total} cases")
    print(load.report())


if __name__ == '__main__':
    main()
