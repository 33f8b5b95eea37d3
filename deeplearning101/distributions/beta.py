"""`torch.distributions.beta`: `Beta`, as `from torch.distributions.beta import Beta` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _Beta as Beta

__all__ = ['Beta']
