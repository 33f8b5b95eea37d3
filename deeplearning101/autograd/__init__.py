"""`dl.autograd`, as `torch.autograd`: `grad`, `backward`, `Function`, `gradcheck` (chapter 01), and the
legacy `Variable` of PyTorch before 0.4. This file only gathers names: the code lives in the chapters'
modules (written by nbdev from the notebooks)."""
from ..autodiff import (grad, Function, FunctionCtx, gradcheck, gradgradcheck, GradcheckError, no_grad,
                        enable_grad, set_grad_enabled)
from ..autodiff import autograd_backward as backward
from ..autodiff import _LegacyVariable as Variable
from ..autodiff import (set_detect_anomaly, detect_anomaly, is_anomaly_enabled,
                        is_anomaly_check_nan_enabled)
from . import functional, function
