"""`dl.utils.data.dataloader`, as `torch.utils.data.dataloader` (older code imports `default_collate` from
here). This file only gathers names: the code lives in the appendix's module (written by nbdev)."""
from ...data import DataLoader, default_collate, default_convert, get_worker_info
