"""`dl.utils.data.sampler`, as `torch.utils.data.sampler`. This file only gathers names: the code lives in the
appendix's module (written by nbdev)."""
from ...data import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
                     BatchSampler)
