"""`dl.distributions`, as `torch.distributions`: `Normal`, `Uniform`, `Categorical`, `Bernoulli`,
`MultivariateNormal`, `Independent`, `MixtureSameFamily`, `Gamma`, `Beta`, `Dirichlet` and
`kl_divergence` (chapter 01b). This file only gathers names: the
code lives in the chapter's module (written by nbdev from the notebook)."""
from ..tensor_ops import (_Distribution as Distribution, _Normal as Normal, _Uniform as Uniform,
                         _Categorical as Categorical, _Bernoulli as Bernoulli,
                         _kl_divergence as kl_divergence,
                         _MultivariateNormal as MultivariateNormal, _Independent as Independent,
                         _MixtureSameFamily as MixtureSameFamily,
                         _Gamma as Gamma, _Beta as Beta, _Dirichlet as Dirichlet)

# PyTorch's submodules (`torch.distributions.categorical.Categorical`, `from
# torch.distributions.kl import kl_divergence`): each file gathers one name
from . import (distribution, normal, uniform, categorical, bernoulli, multivariate_normal,
               independent, mixture_same_family, kl, gamma, beta, dirichlet)
