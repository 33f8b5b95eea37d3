"""`dl.nn.functional`, as `torch.nn.functional` (import it as `F`): the layers'
operations as functions. This file only gathers names: the code lives in the chapters'
modules (written by nbdev from the notebooks)."""
from ..graph import sigmoid, tanh
from ..perceptron import binary_cross_entropy_with_logits
from ..layers import (_functional_relu as relu, _functional_softmax as softmax,
                      _functional_log_softmax as log_softmax, gelu, silu, leaky_relu,
                      softplus, linear, dropout, one_hot, pad, layer_norm,
                      _functional_embedding as embedding, cross_entropy, nll_loss,
                      mse_loss, l1_loss, binary_cross_entropy, dropout1d, dropout2d,
                      dropout3d, elu, hardtanh, relu6, logsigmoid, normalize,
                      cosine_similarity, pairwise_distance, pdist, smooth_l1_loss,
                      huber_loss, kl_div, rms_norm, glu,
                      embedding_bag, prelu, selu, celu, mish, hardswish, hardsigmoid,
                      softsign, softmin, threshold, tanhshrink, softshrink, hardshrink,
                      margin_ranking_loss, hinge_embedding_loss, soft_margin_loss,
                      cosine_embedding_loss, triplet_margin_loss,
                      multilabel_soft_margin_loss, multi_margin_loss,
                      multilabel_margin_loss, poisson_nll_loss, gaussian_nll_loss,
                      bilinear, alpha_dropout, gumbel_softmax, relu_, elu_,
                      hardtanh_, leaky_relu_, threshold_, rrelu, rrelu_)
from ..conv import (conv2d, conv_transpose2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d,
                   interpolate, _functional_upsample as upsample,
                   _functional_upsample_nearest as upsample_nearest,
                   _functional_upsample_bilinear as upsample_bilinear, adaptive_max_pool2d,
                   _functional_unfold as unfold, _functional_fold as fold, conv1d,
                   max_pool1d, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d,
                   group_norm, instance_norm, batch_norm, local_response_norm,
                   pixel_shuffle, pixel_unshuffle, channel_shuffle, affine_grid,
                   grid_sample, max_unpool1d, max_unpool2d, lp_pool1d, lp_pool2d,
                   conv_transpose1d)
from ..attention import scaled_dot_product_attention
