"""`torch.distributions.kl`: `kl_divergence`, as `from torch.distributions.kl import kl_divergence` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _kl_divergence as kl_divergence

__all__ = ['kl_divergence']
