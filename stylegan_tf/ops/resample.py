"""StyleGAN v1 resampling and (fused) scaled convolutions on NCHW tensors.

Blur, nearest upscale and box downscale are expressed with `upfirdn2d`; their values and their
custom first- and second-order gradients follow the official `networks_stylegan.py`, so
training dynamics (R1 differentiates D's gradient) match it.
"""

import contextlib

import numpy as np
import tensorflow as tf

from dnnlib.tflib.tfutil import nchw_native, nchw_to_nhwc_call

from .upfirdn2d import upfirdn2d


_FORWARD_ONLY = [False]


@contextlib.contextmanager
def forward_only():
    """Trace the ops without their custom (official) gradients, same values: for graphs nobody
    differentiates, such as a SavedModel export (which cannot save nested custom gradients, and whose
    loading would warn once per op: 'Importing a function ... with unsaved custom gradients')."""
    saved = _FORWARD_ONLY[0]
    _FORWARD_ONLY[0] = True
    try:
        yield
    finally:
        _FORWARD_ONLY[0] = saved


def is_forward_only():
    return _FORWARD_ONLY[0]


def _with_official_grads(forward, backward):
    """Linear op `forward` whose gradient is `backward` and whose second-order gradient is
    `forward` again, as in the official code (not necessarily the exact adjoint)."""
    if _FORWARD_ONLY[0]:
        return forward

    @tf.custom_gradient
    def func(x):
        y = forward(x)

        @tf.custom_gradient
        def grad(dy):
            # Gradients that came through ops without static shapes (e.g. an image transform in front of D,
            # differentiated twice for R1) get the shapes back that the resampling kernels need.
            return backward(tf.ensure_shape(dy, y.shape)), lambda ddx: forward(tf.ensure_shape(ddx, x.shape))
        return y, grad
    return func


def _blur_filter(f, normalize):
    """2-D correlation filter in float32, built like the official `_blur2d`."""
    f = np.array(f, dtype=np.float32)
    if f.ndim == 1:
        f = f[:, np.newaxis] * f[np.newaxis, :]
    if f.ndim != 2:
        raise ValueError(f"blur2d: filter must be 1-D or 2-D, got shape {f.shape}")
    if normalize:
        f /= np.sum(f)
    return f


def _blur(x, f):
    """Per-channel correlation with `f` and TF 'SAME' padding (stride 1), i.e. the official
    depthwise_conv2d; upfirdn2d convolves, hence the flipped kernel."""
    kh, kw = f.shape
    pad = ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)
    return upfirdn2d(x, f[::-1, ::-1], pad=pad)


def _upscale(x, factor, gain=1):
    """Nearest-neighbour upscale times `gain` (official `_upscale2d`)."""
    if factor == 1:
        return x if gain == 1 else x * tf.constant(gain, x.dtype)
    return upfirdn2d(x, np.full([factor, factor], gain, np.float64), up=factor, pad=(factor - 1, 0))


def _downscale(x, factor, gain=1):
    """Box-average downscale times `gain` (official `_downscale2d`)."""
    if factor == 1:
        return x if gain == 1 else x * tf.constant(gain, x.dtype)
    return upfirdn2d(x, np.full([factor, factor], gain / factor ** 2, np.float64), down=factor)


def blur2d(x, f=(1, 2, 1), normalize=True):
    """Blur every channel with the outer product of `f` (normalised to sum 1 by default).
    Gradient: blur with the flipped filter; second order: blur again."""
    f = _blur_filter(f, normalize)
    flipped = f[::-1, ::-1]
    return _with_official_grads(lambda t: _blur(t, f), lambda t: _blur(t, flipped))(x)


def upscale2d(x, factor=2):
    """Nearest-neighbour upscale by an integer factor. Gradient: sum over each factor x factor
    block (downscale with gain factor**2); second order: upscale again."""
    factor = int(factor)
    if factor == 1:
        return tf.convert_to_tensor(x)
    return _with_official_grads(lambda t: _upscale(t, factor),
                                lambda t: _downscale(t, factor, gain=factor ** 2))(x)


def downscale2d(x, factor=2):
    """Box-average downscale by an integer factor. Gradient: upscale times 1/factor**2;
    second order: downscale again."""
    factor = int(factor)
    if factor == 1:
        return tf.convert_to_tensor(x)
    return _with_official_grads(lambda t: _downscale(t, factor),
                                lambda t: _upscale(t, factor, gain=1 / factor ** 2))(x)


def _conv(x, w, stride):
    """NCHW convolution with 'SAME' padding."""
    if nchw_native(x.dtype):
        return tf.nn.conv2d(x, w, [1, 1, stride, stride], "SAME", data_format="NCHW")
    return nchw_to_nhwc_call(lambda y: tf.nn.conv2d(y, w, [1, stride, stride, 1], "SAME"), x)


def conv2d(x, w):
    """Stride-1 'SAME' convolution of NCHW `x` with w [k, k, in, out] (runtime-scaled)."""
    x = tf.convert_to_tensor(x)
    return _conv(x, tf.cast(w, x.dtype), 1)


def _summed_kernel(w):
    """Pad w spatially by 1 and add its four shifted copies: a (k+1) x (k+1) kernel that
    applies w on each of the 2x2 positions of a nearest/box resampling."""
    w = tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]])
    return tf.add_n([w[1:, 1:], w[:-1, 1:], w[1:, :-1], w[:-1, :-1]])


def upscale2d_conv2d(x, w, fused):
    """2x nearest upscale followed by conv2d with w [k, k, in, out].

    fused=True is the official conv2d_transpose formulation. Because the transposed
    convolution flips the kernel, it equals upscale-then-conv with w rotated by 180 degrees,
    not with w itself; this is reproduced on purpose.
    """
    x = tf.convert_to_tensor(x)
    if not fused:
        return conv2d(upscale2d(x), w)
    w = tf.convert_to_tensor(w)
    w = tf.cast(_summed_kernel(tf.transpose(w, [0, 1, 3, 2])), x.dtype)  # [k+1, k+1, out, in]
    n, (_, _, h, wd), fmaps = tf.shape(x)[0], x.shape, w.shape[2]
    if nchw_native(x.dtype):
        return tf.nn.conv2d_transpose(x, w, [n, fmaps, h * 2, wd * 2], [1, 1, 2, 2], "SAME",
                                      data_format="NCHW")
    return nchw_to_nhwc_call(lambda y: tf.nn.conv2d_transpose(y, w, [n, h * 2, wd * 2, fmaps], [1, 2, 2, 1], "SAME"),
                             x)


def conv2d_downscale2d(x, w, fused):
    """conv2d with w [k, k, in, out] followed by 2x box downscale; fused=True is the official
    single stride-2 convolution with the summed kernel (equal up to rounding)."""
    x = tf.convert_to_tensor(x)
    if not fused:
        return downscale2d(conv2d(x, w))
    w = tf.convert_to_tensor(w)
    w = tf.cast(_summed_kernel(w) * tf.constant(0.25, w.dtype), x.dtype)
    return _conv(x, w, 2)
