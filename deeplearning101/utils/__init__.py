"`dl.utils`, as `torch.utils`: `dl.utils.data` (datasets and loaders, appendix A1)."
from . import data
