"""`dl.nn.utils.parametrize`, as `torch.nn.utils.parametrize`: a tensor of a module computed
from unconstrained ones at every access. PyTorch's `cached()` is not built. This file only
gathers names: the code lives in deeplearning101/layers.py (nbs/03_mlp.ipynb)."""
from ....layers import (register_parametrization, remove_parametrizations,
                        is_parametrized, ParametrizationList)

__all__ = ['register_parametrization', 'remove_parametrizations', 'is_parametrized',
           'ParametrizationList']
