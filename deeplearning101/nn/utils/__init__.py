"""`dl.nn.utils`, as `torch.nn.utils`: gradient clipping (chapter 04), a model's parameters as one
vector (chapter 03) and `nn.utils.rnn` (chapter 08: padding a batch of sequences). This file only gathers
names: the code lives in the chapters' modules (written by nbdev from the notebooks)."""
from ...layers import parameters_to_vector, vector_to_parameters
from ...optim import (clip_grad_norm_, clip_grad_value_, clip_grad_norm, get_total_norm,
                      clip_grads_with_norm_)
from . import rnn
