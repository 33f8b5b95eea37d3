"""`dl.utils.data.dataset`, as `torch.utils.data.dataset`. This file only gathers names: the code lives in the
appendix's module (written by nbdev)."""
from ...data import (Dataset, IterableDataset, TensorDataset, StackDataset, Subset, ConcatDataset,
                     ChainDataset, random_split)
