"""`torch.distributions.gamma`: `Gamma`, as `from torch.distributions.gamma import Gamma` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Gamma as Gamma

__all__ = ['Gamma']
