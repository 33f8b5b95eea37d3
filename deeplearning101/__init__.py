__version__ = "0.1.0"
from .graph import *
from .autodiff import *
from .data import *
from .perceptron import *
from .layers import *
from .train import *
from .optim import *
from .gpu import *
