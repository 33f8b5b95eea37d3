"""Two ways to ask NumPy's BLAS for the same product x @ w.T (x: [N, in], w: [out, in], the `Linear` layout):
directly, and as (w @ x.T).T, for the layer shapes of the MLP benchmarks and batches 16 to 1024, float32.
Also prints which form `deeplearning101.autodiff._mm` picks (it uses the second form when N < out and in >= 64)
and whether that was the faster one here.  The shape 10->128 is the input gradient of the last layer in the
backward pass (grad [N, 10] @ W3.T): a small shared dimension.  It is timed together with the ReLU rule that
follows it, grad * (out > 0), because a transposed (column-ordered) result makes that rule slower, and `_mm`
keeps the direct form there.  Both forms give the same matrix up to the order of the additions (checked).

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

LAYERS = [(784, 256), (256, 128), (128, 10), (10, 128)]     # (in, out)
BACKWARD = [(10, 128)]     # grad [N, 10] @ W3.T, timed with the ReLU rule that follows: grad * (out > 0)
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
            if (n_in, n_out) in BACKWARD:      # the ReLU rule that follows mixes the result with a row-ordered activation
                o = rng.standard_normal((B, n_out)).astype(np.float32)
                fns = {'direct': lambda: (x @ w.T) * (o > 0), 'transposed': lambda: (w @ x.T).T * (o > 0)}
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
    print(f"\n{', '.join(f'{a}->{b}' for a, b in BACKWARD)}: the input gradient of the last layer in the backward pass, "
          f"timed with the ReLU rule that follows it")
    print(f"_mm picked the faster form (or one within 5 %) in {right} of {total} cases")
    print(load.report())


if __name__ == '__main__':
    main()
