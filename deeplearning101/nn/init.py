"""`dl.nn.init`, as `torch.nn.init`: initialisation rules that fill a tensor in place
(chapter 03). This file only gathers names: the code lives in the chapters' modules
(written by nbdev from the notebooks)."""
from ..layers import (calculate_gain, uniform_, normal_, trunc_normal_, constant_,
                      ones_, zeros_, eye_, xavier_uniform_, xavier_normal_,
                      kaiming_uniform_, kaiming_normal_, orthogonal_, dirac_, sparse_,
                      _calculate_fan_in_and_fan_out)
