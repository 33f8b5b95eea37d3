"""`dl.testing`, as `torch.testing`: `assert_close`, the deprecated `assert_allclose`
and `make_tensor` (chapter 01b). This file only gathers names: the code lives in the
chapter's module (written by nbdev from the notebook)."""
from ..tensor_ops import (_assert_close as assert_close,
                          _assert_allclose as assert_allclose,
                          _make_tensor as make_tensor)
