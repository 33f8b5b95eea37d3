"""Older custom schedulers subclass `torch.optim.lr_scheduler._LRScheduler` and define `get_lr`: the same program on
deeplearning101 and on PyTorch gives the same learning rates."""
import warnings

import pytest

import deeplearning101 as dl

torch = pytest.importorskip("torch")


def lrs(lib):
    class Halving(lib.optim.lr_scheduler._LRScheduler):
        def get_lr(self): return [base / 2 ** self.last_epoch for base in self.base_lrs]
    opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.8)
    sched = Halving(opt)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for _ in range(4):
            opt.step(); sched.step()
            seen.append(opt.param_groups[0]['lr'])
    return seen, isinstance(sched, lib.optim.lr_scheduler.LRScheduler)


def test_legacy_scheduler_base_class_matches_torch():
    assert lrs(dl) == lrs(torch)
