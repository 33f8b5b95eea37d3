"""`dl.nn.utils`, as `torch.nn.utils`: gradient clipping (chapter 04).
This file only gathers names: the code lives in the chapters' modules (written by nbdev from the notebooks)."""
from ..optim import clip_grad_norm_, clip_grad_value_
