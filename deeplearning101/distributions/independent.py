"""`torch.distributions.independent`: `Independent`, as `from torch.distributions.independent import Independent` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Independent as Independent

__all__ = ['Independent']
