"""`torch.distributions.kl`: `kl_divergence`, as `from torch.distributions.kl import kl_divergence` finds it. Only gathers the
name; the code is chapter 01b's."""
from . import kl_divergence

__all__ = ['kl_divergence']
