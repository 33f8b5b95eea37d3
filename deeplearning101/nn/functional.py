"""`dl.nn.functional`, as `torch.nn.functional` (import it as `F`): the layers' operations as functions.
This file only gathers names: the code lives in the chapters' modules (written by nbdev from the notebooks)."""
from ..graph import relu, sigmoid, tanh, softmax, log_softmax
from ..perceptron import binary_cross_entropy_with_logits
from ..layers import linear, cross_entropy, mse_loss
