"""`dl.autograd.functional`, as `torch.autograd.functional`: whole Jacobians, Hessians and their products
with vectors (chapter 01). This file only gathers names: the code lives in the chapter's module (written by
nbdev from the notebook)."""
from ..autodiff import (_jacobian as jacobian, _hessian as hessian, _vjp as vjp, _jvp as jvp,
                        _vhp as vhp, _vhp as hvp)
