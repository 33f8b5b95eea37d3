"""`dl.utils.data`, as `torch.utils.data`: datasets, splits, samplers and the DataLoader (appendix A1).
This file only gathers names: the code lives in the chapters' modules (written by nbdev from the notebooks)."""
from ...data import (Dataset, IterableDataset, TensorDataset, StackDataset, Subset, ConcatDataset,
                    ChainDataset, random_split, default_collate, default_convert, get_worker_info,
                    DataLoader, Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
                    WeightedRandomSampler, BatchSampler)
from . import dataloader, dataset, sampler
