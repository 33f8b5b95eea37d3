"""`dl.nn.utils`, as `torch.nn.utils`: gradient clipping (chapter 04), a model's parameters as one
vector (chapter 03) and `nn.utils.rnn` (chapter 08: padding a batch of sequences). This file only gathers
names: the code lives in the chapters' modules (written by nbdev from the notebooks). Weight
normalisation and `parametrize` are chapter 03's too."""
from ...layers import (parameters_to_vector, vector_to_parameters, weight_norm,
                       remove_weight_norm)
from ...optim import (clip_grad_norm_, clip_grad_value_, clip_grad_norm, get_total_norm,
                      clip_grads_with_norm_)
from . import rnn, parametrize, parametrizations
