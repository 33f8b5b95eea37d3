"""`torch.distributions.dirichlet`: `Dirichlet`, as `from torch.distributions.dirichlet import Dirichlet` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Dirichlet as Dirichlet

__all__ = ['Dirichlet']
