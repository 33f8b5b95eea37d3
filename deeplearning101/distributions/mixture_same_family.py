"""`torch.distributions.mixture_same_family`: `MixtureSameFamily`, as `from torch.distributions.mixture_same_family import MixtureSameFamily` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _MixtureSameFamily as MixtureSameFamily

__all__ = ['MixtureSameFamily']
