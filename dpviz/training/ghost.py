"""Per-example gradient norms without per-example gradients ("ghost clipping"), and clipped sums.

For a layer z = f(a; W), the per-example weight gradient is a function of the layer input a_i and
the gradient g_i = dL_i/dz_i. Its squared norm needs only inner products:
- Dense, a_i in R^d:          ||a_i||^2 ||g_i||^2
- Dense on sequences, Conv2D: sum_{t,s} <p_it, p_is> <g_it, g_is>  (p: input rows or unfolded patches),
  or, when cheaper, the per-example gradient p_i^T g_i itself (Bu et al.'s "mixed" ghost clipping);
  for a Conv2D whose kernel is a whole number of strides, <p_it, p_is> without unfolding any patch
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


def _conv_output(size, kernel: int, stride: int, padding: str):
    """Output rows (columns) of a convolution over `size` (an int, or a scalar tensor when not static)."""
    return -(-size // stride) if padding == "SAME" else (size - kernel) // stride + 1


def in_strides(layer) -> bool:
    """Whether each kernel side is a whole number of strides: then the layer's patches are read off its
    input cut into stride-sized blocks (`stride_blocks`), and its weight gradients come in that order."""
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    return kh % sh == 0 and kw % sw == 0


def stride_blocks(layer, a: tf.Tensor) -> tf.Tensor:
    """The input padded (SAME) or cut (VALID) to the rows and columns the kernel reaches, in blocks of
    stride rows by stride columns: [B, H', W', sh*sw*cin], each block in (row, column, channel) order.
    Output position (i, j)'s patch is then the (kh/sh) x (kw/sw) blocks from block (i, j) on."""
    (kh, kw), (sh, sw), padding = layer.kernel_size, layer.strides, layer.padding.upper()
    h = a.shape[1] if a.shape[1] is not None else tf.shape(a)[1]
    w = a.shape[2] if a.shape[2] is not None else tf.shape(a)[2]
    cin = a.shape[-1]
    eh = (_conv_output(h, kh, sh, padding) - 1) * sh + kh
    ew = (_conv_output(w, kw, sw, padding) - 1) * sw + kw
    if padding == "SAME":  # TensorFlow puts the odd padding row (column) at the bottom (right)
        top, left = (eh - h) // 2, (ew - w) // 2
        a = tf.pad(a, [[0, 0], [top, eh - h - top], [left, ew - w - left], [0, 0]])
    else:
        a = a[:, :eh, :ew, :]
    if sh == sw == 1:
        return a
    blocks = tf.transpose(tf.reshape(a, [-1, eh // sh, sh, ew // sw, sw, cin]), [0, 1, 3, 2, 4, 5])
    return tf.reshape(blocks, [-1, eh // sh, ew // sw, sh * sw * cin])


def conv_patches(layer, a: tf.Tensor) -> tf.Tensor:
    """Unfolded input patches [B, T, d], unfolded in float32 whatever the layer computes in; `as_kernel`
    puts sums back in the kernel's (kh, kw, cin) order.

    A depthwise convolution with one-hot kernels unfolds fastest on CPU (1.4x tf.image.extract_patches
    for the tutorial CNN's second layer and a CIFAR-shaped first layer). Run over `stride_blocks` with
    stride 1, it has (kh/sh)(kw/sw) taps instead of kh kw: the tutorial CNN's first layer (8x8, stride
    2) unfolds in 16 taps instead of 64, 1.3x faster. Order: (row, column, channel) within a block, then
    the block (`in_strides`), else (channel, kh, kw).
    """
    a = tf.cast(a, tf.float32)
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    padding = layer.padding.upper()
    cin = a.shape[-1]
    if in_strides(layer):
        blocks = stride_blocks(layer, a)
        mh, mw = kh // sh, kw // sw
        if mh == mw == 1:  # the kernel is one block: the blocks are the patches
            return _rows(blocks)
        one_hot = tf.reshape(tf.eye(mh * mw), [mh, mw, 1, mh * mw])
        channels = blocks.shape[-1]
        return _rows(tf.nn.depthwise_conv2d(blocks, tf.tile(one_hot, [1, 1, channels, 1]), [1, 1, 1, 1], "VALID"))
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
    """A weight gradient [d, c] with d in the layer inputs' order (`conv_patches`), in the kernel's shape."""
    if isinstance(layer, keras.layers.Conv2D):
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        if in_strides(layer):  # (r, q, cin, u, v): kernel row u sh + r, column v sw + q
            blocked = tf.reshape(summed, [sh, sw, -1, kh // sh, kw // sw, layer.filters])
            return tf.reshape(tf.transpose(blocked, [3, 0, 4, 1, 2, 5]), [kh, kw, -1, layer.filters])
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


def block_layout(layer, shape):
    """(blocks high, blocks wide, output rows, output columns) when a Conv2D's ghost norm comes from the
    Gram matrix of its input cut into stride-sized blocks (`_block_gram`), else None.

    That needs each kernel side to be a multiple of its stride, static sizes, the ghost formula chosen
    for the layer (`materialise`), and a Gram matrix no larger than the patches it replaces. Then no
    patches are unfolded at all: for the tutorial CNN's second layer the Gram matrix is 1,296 numbers per
    example against 6,400 for the patches."""
    if not isinstance(layer, keras.layers.Conv2D) or len(shape) != 4 or None in tuple(shape[1:]):
        return None
    if not in_strides(layer):
        return None
    (kh, kw), (sh, sw), padding = layer.kernel_size, layer.strides, layer.padding.upper()
    h, w, cin = (int(n) for n in shape[1:])
    oh, ow = _conv_output(h, kh, sh, padding), _conv_output(w, kw, sw, padding)
    if oh < 1 or ow < 1:
        return None
    t, d = oh * ow, kh * kw * cin
    hb, wb = oh - 1 + kh // sh, ow - 1 + kw // sw
    if materialise(t, d, layer.filters) or (hb * wb) ** 2 > t * d:
        return None
    return hb, wb, oh, ow


def _block_gram(layer, a: tf.Tensor, layout) -> tf.Tensor:
    """<p_t, p_s> for every pair of output positions [B, T, T], from the Gram matrix of `stride_blocks`:
    <p_t, p_s> = sum over the kernel's blocks (u, v) of <block(t + (u, v)), block(s + (u, v))>."""
    hb, wb, oh, ow = layout
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    blocks = tf.reshape(stride_blocks(layer, a), [-1, hb * wb, sh * sw * a.shape[-1]])
    gram = tf.reshape(tf.matmul(blocks, blocks, transpose_b=True), [-1, hb, wb, hb, wb])
    pp = tf.add_n(
        [gram[:, u : u + oh, v : v + ow, u : u + oh, v : v + ow] for u in range(kh // sh) for v in range(kw // sw)]
    )
    return tf.reshape(pp, [-1, oh * ow, oh * ow])


def layer_inputs(layer, a: tf.Tensor):
    """What the norm and the gradient of `layer` are computed from (computed once per step): for a Conv2D
    its unfolded patches [B, T, d], or its input itself [B, H, W, cin] when `block_layout` applies."""
    if isinstance(layer, keras.layers.Conv2D):
        return a if block_layout(layer, a.shape) else conv_patches(layer, a)
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
    if isinstance(layer, keras.layers.Conv2D) and inputs.shape.rank == 4:  # the input itself: `layer_inputs`
        g = _rows(g)
        pp = _block_gram(layer, inputs, block_layout(layer, inputs.shape))
        sq, per_example = tf.reduce_sum(pp * tf.matmul(g, g, transpose_b=True), axis=[1, 2]), None
    else:
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
    if isinstance(layer, keras.layers.Conv2D) and inputs.shape.rank == 4:  # the input itself: `layer_inputs`
        kernel = tf.raw_ops.Conv2DBackpropFilter(
            input=inputs,
            filter_sizes=layer.kernel.shape,
            out_backprop=g,
            strides=[1, *layer.strides, 1],
            padding=layer.padding.upper(),
        )
        grads = {id(layer.kernel): kernel}
        if layer.use_bias:
            grads[id(layer.bias)] = tf.reduce_sum(g, axis=[0, 1, 2])
        return grads
    p = tf.reshape(inputs, [-1, inputs.shape[-1]])
    gg = tf.reshape(g, [-1, g.shape[-1]])
    grads = {id(layer.kernel): as_kernel(layer, tf.matmul(p, gg, transpose_a=True))}
    if layer.use_bias:
        grads[id(layer.bias)] = tf.reduce_sum(gg, axis=0)
    return grads
