__version__ = "0.1.0"
from .graph import *
from .autodiff import *
from .data import *
from .perceptron import *
from .layers import *
from .train import *
from .optim import *
from .gpu import *
# PyTorch names that are also Python builtins (`dl.float`, `dl.long`, `dl.sum`, `dl.max`, ...) live only here: as
# globals of a chapter's module they would hide Python's own float, sum and max from its code.
from .graph import float, double, half, long, int, short, bool, sum, max, min, abs
# PyTorch's module layout: dl.nn (with nn.functional, nn.init, nn.utils), dl.utils.data; dl.optim is chapter 04's
from . import nn, utils
