"""Shared helpers for the benchmarks in this folder: thread setup, interleaved median timing, formatting.

Timing model: every contender is a zero-argument callable doing one unit of work (one chain, one training
step).  `interleaved` first warms each one up and picks how many calls make one sample (about `sample_s`
seconds), then runs `reps` repetitions; inside each repetition every contender takes one sample, in
round-robin order (rotated by one each repetition, so no contender is always first after another one).
Results are seconds per call, one per repetition; report medians, and ratios as medians of per-repetition
(paired) ratios.  An optional pause before each sample lets worker threads that one contender's runtime left
spinning (OpenBLAS, OpenMP) fall asleep before the next contender runs.  Nothing here asserts on timings.
"""
import gc
import math
import os
import statistics
import sys
import time

__all__ = ['blas_threads', 'setup_torch', 'header', 'interleaved', 'median', 'iqr_pct', 'geomean', 'ratio', 'paired_ratio',
           'fmt_ratio', 'rss_bytes', 'parse_quick', 'OtherLoad',
           'limit_blas_threads']


def blas_threads():
    "The thread count NumPy's BLAS uses (threadpoolctl when installed, else OPENBLAS/OMP env vars or the core count)."
    import numpy as np
    np.ones((2, 2)) @ np.ones((2, 2))               # make sure the BLAS library is loaded
    try:
        from threadpoolctl import threadpool_info
        counts = [i['num_threads'] for i in threadpool_info() if i.get('user_api') == 'blas']
        if counts: return counts[0], 'threadpoolctl'
    except ImportError:
        pass
    for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        if os.environ.get(var, '').isdigit(): return int(os.environ[var]), var
    return os.cpu_count() or 1, 'os.cpu_count()'


def setup_torch(threads):
    "Import torch if it is installed and give it `threads` intra-op threads; None when torch is missing."
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


_limits = []       # keeps a threadpoolctl limit alive for the life of the process


def limit_blas_threads(n):
    "Make NumPy's BLAS use `n` threads (needs threadpoolctl); returns a note for the header."
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return (f"--threads {n} ignored for NumPy: threadpoolctl is not installed "
                f"(set OPENBLAS_NUM_THREADS={n} in the environment instead)")
    _limits.append(threadpool_limits(limits=n, user_api='blas'))
    return f"limited to {n} by --threads via threadpoolctl"


def header(title, args):
    """Print the benchmark's title and environment; returns (threads, torch-or-None).  torch gets as many
    intra-op threads as NumPy's BLAS uses (after `--threads`, when given)."""
    import numpy as np
    note = limit_blas_threads(args.threads) if args.threads else None
    threads, source = blas_threads()
    torch = setup_torch(threads)
    print(f"== {title}{' (--quick)' if args.quick else ''} ==")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cores {os.cpu_count()}; "
          f"NumPy BLAS threads: {threads} (from {source})" + (f"; {note}" if note else ""))
    if torch is None:
        print("torch: not installed -> only NumPy-anchored ratios")
    else:
        print(f"torch {torch.__version__} CPU: torch.set_num_threads({threads}) -> get_num_threads() = "
              f"{torch.get_num_threads()} (same as NumPy)")
    probe = OtherLoad(); time.sleep(0.5); busy = probe.other_cores()
    print(f"machine check: {busy:.2f} of {os.cpu_count()} cores busy with other processes just before the start")
    if threads > 1 and busy == busy and busy > 0.3:
        print(f"WARNING: another process is using the CPU.  With {threads} threads, each BLAS / OpenMP call waits "
              f"for a worker thread\n         that must share a core with it, and multi-threaded timings can be "
              f"10-100x slower and meaningless.\n         Run again on a quiet machine, or compare with --threads 1.")
    print("method: contenders sampled round-robin inside each repetition (order rotated each repetition); "
          "times are medians over repetitions;\n        ratios are medians of the per-repetition ratios "
          "(paired samples); Python gc left enabled")
    return threads, torch


def _per_sample(fn, sample_s):
    "How many calls of `fn` take about `sample_s` seconds (at least 1)."
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n): fn()
        dt = time.perf_counter() - t0
        if dt >= sample_s / 2 or n >= 1 << 20:
            return max(1, int(round(n * sample_s / max(dt, 1e-9))))
        n *= 2


def _pause(seconds, mode):
    "Wait: 'sleep' idles the core; 'spin' keeps this thread busy (the core stays awake, other threads are untouched)."
    if mode == 'sleep': time.sleep(seconds); return
    end = time.perf_counter() + seconds
    while time.perf_counter() < end: pass


def interleaved(contenders, reps, sample_s=0.01, warmup=3, gap_s=0.0, gap_mode='spin', gap_names=None):
    """Time `contenders` ({name: fn}) interleaved: `reps` repetitions, each taking one sample of every contender.
    `gap_s`: a pause before each sample, so that worker threads another contender left spinning (OpenBLAS,
    OpenMP) have gone to sleep and do not compete for the cores; `gap_mode` 'spin' busy-waits on this thread
    (the core does not go idle), 'sleep' sleeps.  `gap_names`: pause only before a sample of these contenders and
    before the sample that follows one of theirs (e.g. torch, whose OpenMP threads spin); default: before every
    sample.  Returns {name: [seconds per call, one per repetition]}."""
    names = list(contenders)
    def gap_before(name, prev):
        return gap_s and (gap_names is None or name in gap_names or prev in gap_names)
    for name in names:
        for _ in range(warmup): contenders[name]()
    number = {}
    for name in names:
        if gap_s: _pause(gap_s, gap_mode)
        number[name] = _per_sample(contenders[name], sample_s)
    times = {name: [] for name in names}
    gc.collect()
    prev = None
    for r in range(reps):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn, n = contenders[name], number[name]
            if gap_before(name, prev): _pause(gap_s, gap_mode)
            t0 = time.perf_counter()
            for _ in range(n): fn()
            times[name].append((time.perf_counter() - t0) / n)
            prev = name
    return times


def median(xs): return statistics.median(xs)


def paired_ratio(times, a, b):
    """Median over repetitions of times[a][r] / times[b][r]: a and b were sampled back to back in each repetition,
    so slow phases of a noisy machine mostly cancel.  nan when b is missing."""
    if a not in times or b not in times: return float('nan')
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def iqr_pct(xs):
    "Interquartile range as a percentage of the median (a noise indicator)."
    if len(xs) < 4: return float('nan')
    q = statistics.quantiles(xs, n=4)
    return 100 * (q[2] - q[0]) / statistics.median(xs)


def geomean(xs):
    xs = [x for x in xs if x == x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float('nan')


def ratio(a, b): return a / b if (a == a and b == b and b > 0) else float('nan')


def fmt_ratio(x, width=7): return f"{'n/a':>{width}}" if x != x else f"{x:>{width - 1}.2f}x"


def rss_bytes():
    "Current resident set size of this process (Linux /proc; falls back to the peak from getrusage)."
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_quick(description):
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--quick', action='store_true', help='short run for smoke testing (numbers are noisier)')
    p.add_argument('--threads', type=int, default=None,
                   help="thread count for NumPy's BLAS and torch (default: what NumPy uses already; torch is set "
                        "to match). 1 is steadier on a busy machine")
    return p


class OtherLoad:
    """How busy the machine was with other processes while the benchmark ran: CPU time of the whole machine
    (/proc/stat, Linux only) minus this process's own, as an average number of busy cores.  A noise indicator:
    with 2 cores, anything near 1 means a contender's second thread (BLAS, OpenMP) had to share a core."""
    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy():
        try:
            with open('/proc/stat') as f: v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK')     # all but idle and iowait

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    def other_cores(self):
        "Average number of cores other processes kept busy since construction (nan without /proc/stat)."
        busy = self._busy()
        if busy is None or self.busy0 is None: return float('nan')
        return max(0.0, (busy - self.busy0) - (self._own() - self.own0)) / (time.perf_counter() - self.t0)

    def report(self):
        other, wall = self.other_cores(), time.perf_counter() - self.t0
        if other != other: return "other load: unknown (no /proc/stat)"
        load1 = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
        return (f"other load while running: {other:.2f} of {os.cpu_count()} cores busy with other processes on "
                f"average over {wall:.0f} s (1-min loadavg now {load1:.2f}); high values make the numbers noisier")
