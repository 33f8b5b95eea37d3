"""`dl.optim.lr_scheduler`, as `torch.optim.lr_scheduler`: the learning-rate schedules.

This file only gathers names. The code lives in deeplearning101/optim/__init__.py, which
nbdev writes from nbs/04_optim.ipynb; there they are also `dl.optim.StepLR`, ... ."""
from . import (LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
               LinearLR, LambdaLR, SequentialLR, OneCycleLR, ReduceLROnPlateau,
               CosineAnnealingWarmRestarts, ConstantLR, PolynomialLR, MultiplicativeLR,
               ChainedScheduler, CyclicLR, _LRScheduler)

__all__ = ['LRScheduler', 'StepLR', 'MultiStepLR', 'ExponentialLR', 'CosineAnnealingLR',
           'LinearLR', 'LambdaLR', 'SequentialLR', 'OneCycleLR', 'ReduceLROnPlateau',
           'CosineAnnealingWarmRestarts', 'ConstantLR', 'PolynomialLR', 'MultiplicativeLR',
           'ChainedScheduler', 'CyclicLR']
