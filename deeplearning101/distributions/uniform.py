"""`torch.distributions.uniform`: `Uniform`, as `from torch.distributions.uniform import Uniform` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Uniform as Uniform

__all__ = ['Uniform']
