"""`dl.optim.swa_utils`, as `torch.optim.swa_utils`: weight averaging (SWA and EMA).

This file only gathers names. The code lives in deeplearning101/optim/__init__.py, which
nbdev writes from nbs/04_optim.ipynb (kept out of `dl.optim.__all__`, as in torch, where
they are not `torch.optim` names)."""
from . import (AveragedModel, SWALR, update_bn, get_ema_multi_avg_fn,
               get_swa_multi_avg_fn, get_ema_avg_fn, get_swa_avg_fn)

__all__ = ['AveragedModel', 'update_bn', 'SWALR', 'get_ema_multi_avg_fn',
           'get_swa_multi_avg_fn', 'get_ema_avg_fn', 'get_swa_avg_fn']
