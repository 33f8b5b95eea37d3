"""`dl.nn.utils.parametrizations`, as `torch.nn.utils.parametrizations`: `weight_norm` as a
parametrization (`orthogonal` and `spectral_norm` are not built). This file only gathers
names: the code lives in deeplearning101/layers.py (nbs/03_mlp.ipynb)."""
from ....layers import _weight_norm_parametrization as weight_norm

__all__ = ['weight_norm']
