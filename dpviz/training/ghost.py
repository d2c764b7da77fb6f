"""Per-example gradient norms without per-example gradients ("ghost clipping"), and clipped sums.

For a layer z = f(a; W), the per-example weight gradient is a function of the layer input a_i and
the gradient g_i = dL_i/dz_i. Its squared norm needs only inner products:
- Dense, a_i in R^d:          ||a_i||^2 ||g_i||^2
- Dense on sequences, Conv2D: sum_{t,s} <p_it, p_is> <g_it, g_is>  (p: input rows or unfolded patches),
  or, when cheaper, the per-example gradient p_i^T g_i itself (Bu et al.'s "mixed" ghost clipping)
- Embedding:                  sum_{t,s} [id_it == id_is] <g_it, g_is>
The clipped sum of gradients then costs one contraction per layer: sum_i c_i p_i^T g_i.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def supports(layer) -> bool:
    """Whether ghost clipping handles this layer; the engine falls back to vectorized_map for a model
    with any layer that is not."""
    if not layer.trainable_weights:
        return True
    if isinstance(layer, keras.layers.Dense):
        return layer.activation in (None, keras.activations.linear)
    if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
        return (
            layer.activation in (None, keras.activations.linear)
            and tuple(layer.dilation_rate) == (1, 1)
            and layer.groups == 1
            and layer.data_format == "channels_last"
        )
    return isinstance(layer, keras.layers.Embedding)


def _rows(a: tf.Tensor) -> tf.Tensor:
    """[B, ..., d] -> [B, T, d], keeping T static so the cheaper norm formula can be chosen at trace time."""
    inner = a.shape[1:-1]
    if inner.is_fully_defined() and a.shape[-1] is not None:
        return tf.reshape(a, [-1, int(math.prod(inner)), a.shape[-1]])
    shape = tf.shape(a)
    return tf.reshape(a, [shape[0], -1, shape[-1]])


def conv_patches(layer, a: tf.Tensor) -> tf.Tensor:
    """Unfolded input patches [B, T, cin*kh*kw], in (cin, kh, kw) order (`as_kernel` puts sums back in the
    kernel's (kh, kw, cin) order), unfolded in float32 whatever the layer computes in.

    A depthwise convolution with one-hot kernels unfolds fastest on CPU: for the tutorial CNN's second
    layer 1.4x, for a CIFAR-shaped first layer (32x32x3, 8x8) 1.4x faster than tf.image.extract_patches,
    and as fast as an identity-kernel convolution where that was fastest (one input channel).
    """
    a = tf.cast(a, tf.float32)
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    padding = layer.padding.upper()
    cin = a.shape[-1]
    if sh == sw:
        one_hot = tf.reshape(tf.eye(kh * kw), [kh, kw, 1, kh * kw])
        patches = tf.nn.depthwise_conv2d(a, tf.tile(one_hot, [1, 1, cin, 1]), [1, sh, sw, 1], padding)
    else:  # depthwise convolutions take equal strides only
        patches = tf.image.extract_patches(
            a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1], padding=padding
        )
        shape = tf.shape(patches)
        patches = tf.reshape(patches, [shape[0], shape[1], shape[2], kh * kw, cin])
        patches = tf.reshape(tf.transpose(patches, [0, 1, 2, 4, 3]), [shape[0], shape[1], shape[2], kh * kw * cin])
    return _rows(patches)


def as_kernel(layer, summed: tf.Tensor) -> tf.Tensor:
    """A weight gradient [d, c] with d in the layer inputs' order, in the kernel's shape."""
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        return tf.transpose(tf.reshape(summed, [-1, kh, kw, layer.filters]), [1, 2, 0, 3])
    return tf.reshape(summed, layer.kernel.shape)


NORM_RULES = ("mixed", "ghost", "materialise")
# "mixed" (the default): per layer, whichever costs less, T^2 (ghost) against d*c (per-example gradients);
# the others force one choice everywhere (benchmarks/training.py --clipping compares them).
NORM_RULE = "mixed"


def materialise(t, d, c) -> bool:
    """Whether a layer with T positions, d inputs and c outputs computes its norms from per-example gradients."""
    if NORM_RULE != "mixed":
        return NORM_RULE == "materialise"
    return t is not None and d is not None and c is not None and t * t > d * c


def _gram_sq_norms(p: tf.Tensor, g: tf.Tensor):
    """(sum_{t,s} <p_t, p_s> <g_t, g_s> per example, None), or, when cheaper, (the same from the explicit
    per-example gradients, those gradients transposed [B, c, d]), which the clipped sum then reuses.
    (g^T p: the batched matmul that ran fastest on CPU, 25 % faster than einsum's p^T g for the tutorial CNN.)"""
    if materialise(p.shape[1], p.shape[-1], g.shape[-1]):
        per_example = tf.matmul(g, p, transpose_a=True)
        return tf.reduce_sum(tf.square(per_example), axis=[1, 2]), per_example
    pp = tf.matmul(p, p, transpose_b=True)
    gg = tf.matmul(g, g, transpose_b=True)
    return tf.reduce_sum(pp * gg, axis=[1, 2]), None


def layer_inputs(layer, a: tf.Tensor):
    """What the norm and the gradient of `layer` are computed from (computed once per step)."""
    if isinstance(layer, keras.layers.Conv2D):
        return conv_patches(layer, a)
    return a


def squared_norms(layer, inputs: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
    """Per-example squared norm of the gradient of all of `layer`'s trainable weights."""
    return norms_and_per_example(layer, inputs, g)[0]


def norms_and_per_example(layer, inputs: tf.Tensor, g: tf.Tensor):
    """(per-example squared norms, per-example kernel gradients [B, c, d] if they were computed, else None)."""
    if isinstance(layer, keras.layers.Embedding):
        ids = tf.reshape(inputs, [tf.shape(inputs)[0], -1])
        g = _rows(g)
        same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
        return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2]), None
    if isinstance(layer, keras.layers.Dense) and inputs.shape.rank == 2:
        sq = tf.reduce_sum(tf.square(inputs), axis=1) * tf.reduce_sum(tf.square(g), axis=1)
        if layer.use_bias:
            sq += tf.reduce_sum(tf.square(g), axis=1)
        return sq, None
    p, g = _rows(inputs), _rows(g)
    sq, per_example = _gram_sq_norms(p, g)
    if layer.use_bias:
        sq += tf.reduce_sum(tf.square(tf.reduce_sum(g, axis=1)), axis=1)
    return sq, per_example


def gradients_from_per_example(layer, per_example: tf.Tensor, g: tf.Tensor, factors: tf.Tensor) -> dict:
    """The clipped sum from per-example kernel gradients (transposed, [B, c, d]) already computed for the
    norms: sum_i c_i G_i."""
    grads = {id(layer.kernel): as_kernel(layer, tf.transpose(tf.tensordot(factors, per_example, axes=1)))}
    if layer.use_bias:
        grads[id(layer.bias)] = tf.tensordot(factors, tf.reduce_sum(_rows(g), axis=1), axes=1)
    return grads


def weighted_gradients(layer, inputs: tf.Tensor, g: tf.Tensor) -> dict:
    """sum_i of each example's weight gradient, where `g` already carries the per-example factors."""
    if isinstance(layer, keras.layers.Embedding):
        dim = g.shape[-1]
        flat_ids = tf.reshape(tf.cast(inputs, tf.int32), [-1])
        grad = tf.math.unsorted_segment_sum(tf.reshape(g, [-1, dim]), flat_ids, layer.input_dim)
        return {id(layer.embeddings): grad}
    p = tf.reshape(inputs, [-1, inputs.shape[-1]])
    gg = tf.reshape(g, [-1, g.shape[-1]])
    grads = {id(layer.kernel): as_kernel(layer, tf.matmul(p, gg, transpose_a=True))}
    if layer.use_bias:
        grads[id(layer.bias)] = tf.reduce_sum(gg, axis=0)
    return grads
