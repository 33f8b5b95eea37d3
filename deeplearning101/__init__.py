"""A from-scratch deep-learning textbook that is also a Python package: graph, autodiff, layers, optimizers, GPU.

Modules:

- `deeplearning101.nn.utils.rnn`: `dl.nn.utils.rnn`, as `torch.nn.utils.rnn`: `pad_sequence`, `unpad_sequence` and the packed sequences (`PackedSequence`, `pack_padded_sequence`, `pad_packed_sequence`, `pack_sequence`, `unpack_sequence`) of chapter 08. This file only gathers names: the code lives in deeplearning101/seq.py, which nbdev writes from nbs/08_seq.ipynb.
- `deeplearning101.optim.lr_scheduler`: `dl.optim.lr_scheduler`, as `torch.optim.lr_scheduler`: the learning-rate schedules.
- `deeplearning101.optim.swa_utils`: `dl.optim.swa_utils`, as `torch.optim.swa_utils`: weight averaging (SWA and EMA)."""

__version__ = "0.1.0"
from .graph import *
from .autodiff import *
from .tensor_ops import *
from .graph import round, pow, range    # put in graph._BUILTIN_NAMES by tensor_ops: Python builtins' names
from .data import *
from .perceptron import *
from .layers import *
from .train import *
from .optim import *
from .gpu import *
from .conv import *
from .seq import *
from .attention import *
# PyTorch names that are also Python builtins (`dl.float`, `dl.long`, `dl.sum`, `dl.max`, ...) live only here: as
# globals of a chapter's module they would hide Python's own float, sum and max from its code.
from .graph import float, double, half, long, int, short, bool, sum, max, min, abs, all, any
# PyTorch's module layout: dl.nn (with nn.functional, nn.init, nn.utils), dl.utils.data; dl.optim is chapter 04's
from . import nn, utils, autograd, distributions, special, random, testing
from .compiler import _compile as compile   # dl.compile, as torch.compile (chapter 06b)
from .optim import lr_scheduler, swa_utils   # dl.optim.lr_scheduler, .swa_utils: as in torch

def __getattr__(name):
    "A PyTorch name the book leaves out (sparse, complex, ...) says so, instead of a bare AttributeError."
    from .graph import _missing
    raise _missing(f"module {__name__!r}", name)
