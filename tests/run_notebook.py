"""Run a notebook's code cells in order, in one namespace, without Jupyter, nbdev or IPython.

For machines that have a GPU but not the notebook tool chain: unlike `nbdev-test`, it runs the cells marked
`#| gpu`. It skips `#| eval: false` (exercise stubs) and `#| slow` cells (unless --slow), and cells that use IPython
syntax (lines starting with % or !). Matplotlib draws off-screen (MPLBACKEND=Agg). The working directory is the
notebook's folder, as in Jupyter. Stops at the first failing cell and exits with status 1.

Usage:  python tests/run_notebook.py nbs/05_gpu.ipynb [--slow] [--no-gpu]
"""
import json
import os
import sys
import time
import traceback


def directives(source):
    "The nbdev directives at the top of a cell, e.g. {'gpu', 'eval: false'}."
    out = set()
    for line in source.splitlines():
        line = line.strip()
        if not line.startswith('#|'): break
        out.add(' '.join(line[2:].split()))
    return out


def run(path, slow=False, gpu=True):
    os.environ.setdefault('MPLBACKEND', 'Agg')
    path = os.path.abspath(path)
    with open(path) as f: nb = json.load(f)
    here = os.getcwd()
    os.chdir(os.path.dirname(path))
    ns = {'__name__': '__main__'}
    ran = skipped = 0
    try:
        for i, cell in enumerate(nb['cells']):
            if cell['cell_type'] != 'code': continue
            src = ''.join(cell['source'])
            d = directives(src)
            why = ('eval: false' if 'eval: false' in d else 'slow' if 'slow' in d and not slow else
                   'gpu' if 'gpu' in d and not gpu else
                   'IPython syntax' if any(l.lstrip().startswith(('%', '!')) for l in src.splitlines()) else None)
            if why:
                skipped += 1
                print(f"--- cell {i}: skipped ({why})", flush=True)
                continue
            t0 = time.perf_counter()
            print(f"--- cell {i}{' [gpu]' if 'gpu' in d else ''}", flush=True)
            try: exec(compile(src, f"{os.path.basename(path)}[cell {i}]", 'exec'), ns)
            except Exception:
                traceback.print_exc()
                print(f"FAILED: {path} cell {i}", flush=True)
                return 1
            ran += 1
            print(f"    ({time.perf_counter() - t0:.2f} s)", flush=True)
            try:
                import matplotlib.pyplot as plt
                plt.close('all')
            except ImportError: pass
    finally: os.chdir(here)
    print(f"OK: {path}: {ran} cells ran, {skipped} skipped", flush=True)
    return 0


if __name__ == '__main__':
    args = sys.argv[1:]
    paths = [a for a in args if not a.startswith('--')]
    status = 0
    for p in paths: status |= run(p, slow='--slow' in args, gpu='--no-gpu' not in args)
    sys.exit(status)
