"""`dl.utils.data.dataset`, as `torch.utils.data.dataset`. This file only gathers names: the code lives in the
appendix's module (written by nbdev)."""
from ...data import Dataset, TensorDataset, Subset, ConcatDataset, random_split
