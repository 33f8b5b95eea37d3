"""`dl.nn`, as `torch.nn`: the layers (chapter 03 and later), `nn.functional`, `nn.init`
and `nn.utils`. This file only gathers names: the code lives in the chapters' modules
(written by nbdev from the notebooks)."""
from ..layers import (Parameter, Module, Linear, LazyLinear, Identity, Flatten,
                      Unflatten, Sequential, ModuleList, ModuleDict, ReLU, Sigmoid, Tanh,
                      Softmax, LogSoftmax, GELU, SiLU, LeakyReLU, Softplus, Dropout,
                      BatchNorm1d, LayerNorm, Embedding, MSELoss, L1Loss, NLLLoss,
                      CrossEntropyLoss,
                      BCELoss, BCEWithLogitsLoss, Dropout1d, Dropout2d, Dropout3d,
                      ELU, Hardtanh, ReLU6, LogSigmoid, CosineSimilarity,
                      PairwiseDistance, SmoothL1Loss, HuberLoss, KLDivLoss, RMSNorm,
                      GLU, EmbeddingBag, PReLU, SELU, CELU, Mish, Hardswish,
                      Hardsigmoid, Softsign, Softmin, Threshold, Tanhshrink, Softshrink,
                      Hardshrink, Softmax2d, ParameterList, ParameterDict,
                      MarginRankingLoss, HingeEmbeddingLoss, SoftMarginLoss,
                      CosineEmbeddingLoss, TripletMarginLoss, MultiLabelSoftMarginLoss,
                      MultiMarginLoss, MultiLabelMarginLoss, PoissonNLLLoss,
                      GaussianNLLLoss, Bilinear, AlphaDropout, RReLU)
from ..conv import (Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d,
                   Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, AdaptiveMaxPool2d,
                   Unfold, Fold, Conv1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d,
                   AdaptiveMaxPool1d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                   LocalResponseNorm, ZeroPad2d, ConstantPad1d, ConstantPad2d,
                   ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d,
                   ZeroPad1d, ZeroPad3d, ConstantPad3d, ReflectionPad3d, ReplicationPad3d,
                   CircularPad1d, CircularPad2d, CircularPad3d, PixelShuffle,
                   PixelUnshuffle, ChannelShuffle, MaxUnpool1d, MaxUnpool2d, LPPool1d,
                   LPPool2d, ConvTranspose1d, LazyConv1d, LazyConv2d,
                   LazyConvTranspose1d, LazyConvTranspose2d, LazyBatchNorm1d,
                   LazyBatchNorm2d)
from ..seq import RNNBase, RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell
from ..attention import (MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer,
                         TransformerEncoder, TransformerDecoder, Transformer)
from . import functional, init, utils
