"""`torch.distributions.categorical`: `Categorical`, as `from torch.distributions.categorical import Categorical` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Categorical as Categorical

__all__ = ['Categorical']
