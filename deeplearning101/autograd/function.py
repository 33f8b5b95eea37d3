"""`dl.autograd.function`, as `torch.autograd.function`: `Function` and `FunctionCtx` (chapter 01). This file
only gathers names: the code lives in the chapter's module (written by nbdev from the notebook)."""
from ..autodiff import Function, FunctionCtx
