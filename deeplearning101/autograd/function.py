"""`dl.autograd.function`, as `torch.autograd.function`: `Function`, `FunctionCtx` and
`once_differentiable` (chapter 01). This file
only gathers names: the code lives in the chapter's module (written by nbdev from the notebook)."""
from ..autodiff import Function, FunctionCtx, once_differentiable
