"""`torch.distributions.normal`: `Normal`, as `from torch.distributions.normal import Normal` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Normal as Normal

__all__ = ['Normal']
