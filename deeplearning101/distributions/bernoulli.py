"""`torch.distributions.bernoulli`: `Bernoulli`, as `from torch.distributions.bernoulli import Bernoulli` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Bernoulli as Bernoulli

__all__ = ['Bernoulli']
