"""`dl.nn`, as `torch.nn`: the layers (chapter 03 and later), `nn.functional`, `nn.init` and `nn.utils`.
This file only gathers names: the code lives in the chapters' modules (written by nbdev from the notebooks)."""
from ..layers import (Parameter, Module, Linear, ReLU, Sigmoid, Tanh, Softmax, Sequential, MSELoss, BCEWithLogitsLoss,
                      CrossEntropyLoss, Dropout, BatchNorm1d)
from . import functional, init, utils
