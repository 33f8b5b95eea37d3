"""`torch.distributions.mixture_same_family`: `MixtureSameFamily`, as `from torch.distributions.mixture_same_family import MixtureSameFamily` finds it. Only gathers the
name; the code is chapter 01b's."""
from . import MixtureSameFamily

__all__ = ['MixtureSameFamily']
