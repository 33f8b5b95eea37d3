"""`dl.special`, as `torch.special`: `erfc`, `erfcx`, `erfinv`, `sinc`, `ndtr`, `log_ndtr`, `ndtri`, `entr`,
`xlogy`, `xlog1py`, `gammaln`, `multigammaln`, `digamma` (`psi`), `polygamma`, `i0`, `i0e`, `i1` and `i1e`
(chapter 01b) with the functions of other chapters under their `torch.special` names (`expit` is `sigmoid`,
`erf` is chapter 03's). This file only gathers names: the code lives in the chapters' modules (written by
nbdev from the notebooks)."""
from ..graph import sigmoid as expit, softmax, log_softmax, logsumexp, round
from ..tensor_ops import exp2, expm1, log1p, erfc, erfinv, sinc, xlogy, digamma, polygamma, i0
from ..tensor_ops import lgamma as gammaln, digamma as psi
from ..tensor_ops import (_xlog1py as xlog1py, _entr as entr, _ndtr as ndtr,
                          _log_ndtr as log_ndtr, _ndtri as ndtri, _i0e as i0e, _i1 as i1,
                          _i1e as i1e, _erfcx as erfcx, _multigammaln as multigammaln)
from ..layers import erf, logit
