"""`torch.distributions.distribution`: `Distribution`, as `from torch.distributions.distribution import Distribution` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Distribution as Distribution

__all__ = ['Distribution']
