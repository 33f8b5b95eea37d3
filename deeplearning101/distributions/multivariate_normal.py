"""`torch.distributions.multivariate_normal`: `MultivariateNormal`, as `from torch.distributions.multivariate_normal import MultivariateNormal` finds it. Only gathers the
name; the code is chapter 01b's."""
from ..tensor_ops import _MultivariateNormal as MultivariateNormal

__all__ = ['MultivariateNormal']
