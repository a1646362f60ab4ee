"""upfirdn2d: upsample, pad, FIR-filter and downsample a batch of NCHW images.

Same semantics as `upfirdn2d` of StyleGAN2: insert `up - 1` zeros after every input sample,
pad (negative pads crop), convolve with the kernel (a true convolution, i.e. the kernel is
flipped), then keep every `down`-th sample. Per axis the output size is
`(in * up + pad0 + pad1 - kernel_size) // down + 1`.

The 'ref' implementation uses only TensorFlow ops, so it runs eagerly, in `tf.function` and under
XLA, and plain autodiff gives first- and second-order gradients. A compiled 'custom' op is
planned; `_resolve_impl` is the single place that chooses between the two.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.ops import control_flow_util

IMPL_ENV_VAR = "STYLEGAN_TF_UPFIRDN2D_IMPL"
_IMPLS = ("auto", "ref", "custom")


def _resolve_impl(impl):
    """Return the implementation to run for `impl` (None means the env var, default 'auto')."""
    if impl is None:
        impl = os.environ.get(IMPL_ENV_VAR) or "auto"
    impl = str(impl).strip().lower()
    if impl not in _IMPLS:
        raise ValueError(f"upfirdn2d: impl must be one of {_IMPLS} (or None), got {impl!r}")
    if impl == "custom":
        raise NotImplementedError(
            "upfirdn2d: the compiled 'custom' implementation is not available yet; "
            f"use impl='ref' or 'auto' (or unset {IMPL_ENV_VAR})")
    return "ref"


def _parse_scaling(value, name):
    """int or (x, y) pair -> (x, y) of positive ints."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or any(int(v) != v or int(v) < 1 for v in pair):
        raise ValueError(f"upfirdn2d: {name} must be a positive int or an (x, y) pair, got {value!r}")
    return int(pair[0]), int(pair[1])


def _parse_padding(pad):
    """int, (p0, p1) for both axes, or (px0, px1, py0, py1) -> (px0, px1, py0, py1)."""
    pads = (pad,) * 4 if np.ndim(pad) == 0 else tuple(pad)
    if len(pads) == 2:
        pads = pads * 2
    if len(pads) != 4 or any(int(p) != p for p in pads):
        raise ValueError(f"upfirdn2d: pad must be an int, (p0, p1) or (px0, px1, py0, py1), got {pad!r}")
    return tuple(int(p) for p in pads)


def _parse_kernel(k):
    """Constant 1-D (separable) or 2-D [height, width] kernel as a float64 array."""
    k = np.asarray(k, dtype=np.float64)
    if k.ndim not in (1, 2) or k.size == 0 or not np.all(np.isfinite(k)):
        raise ValueError(f"upfirdn2d: kernel must be a finite, non-empty 1-D or 2-D array, got shape {k.shape}")
    return k


def upfirdn2d(x, k, up=1, down=1, pad=(0, 0), impl=None):
    """Upsample, pad, convolve with `k` and downsample the NCHW tensor `x`.

    Args:
        x: [N, C, H, W] floating tensor; C, H and W must be static, N may be dynamic.
        k: constant FIR kernel (NumPy array or list), 2-D [kh, kw] or 1-D (applied separably,
           equivalent to the outer product with itself).
        up, down: integer factors, the same for both axes or an (x, y) pair.
        pad: int, (p0, p1) for both axes or (px0, px1, py0, py1); negative values crop.
        impl: 'auto', 'ref' or 'custom'; None reads $STYLEGAN_TF_UPFIRDN2D_IMPL (default 'auto').

    Returns:
        Tensor of x's dtype; float16/bfloat16 inputs are computed in float32.
    """
    run = {"ref": _upfirdn2d_ref}[_resolve_impl(impl)]
    return run(x, _parse_kernel(k), _parse_scaling(up, "up"), _parse_scaling(down, "down"),
               _parse_padding(pad))


def _in_xla_context():
    """True while tracing inside `tf.function(jit_compile=True)`.

    On CPU, XLA compiles depthwise convolutions to very slow code while shifted slices fuse
    well; outside XLA it is the other way round, so the FIR step picks its formulation here.
    """
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()))


def _upfirdn2d_ref(x, k, up, down, pads, fast_paths=True):
    """TensorFlow-ops implementation; `fast_paths=False` forces the general path (for tests)."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4 or any(d is None for d in x.shape[1:]):
        raise ValueError(f"upfirdn2d: x must be [N, C, H, W] with static C, H, W, got {x.shape}")
    if not x.dtype.is_floating:
        raise TypeError(f"upfirdn2d: x must be a floating tensor, got {x.dtype.name}")
    dtype = x.dtype
    compute_dtype = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
    x = tf.cast(x, compute_dtype)
    y = None
    if fast_paths:
        y = _nearest_upsample(x, k, up, down, pads)
        if y is None:
            y = _box_downsample(x, k, up, down, pads)
    if y is None:
        y = _general(x, k, up, down, pads)
    return tf.cast(y, dtype)


def _constant_square_kernel(k):
    """(size, gain of the equivalent 2-D kernel) if k is a constant square kernel, else None."""
    if len(set(k.shape)) != 1 or np.any(k != k.flat[0]) or k.flat[0] == 0:
        return None
    return k.shape[0], float(k.flat[0]) ** (2 if k.ndim == 1 else 1)


def _nearest_upsample(x, k, up, down, pads):
    """Fast path: a constant f x f kernel with up=f, pad=(f-1, 0) is nearest-neighbour tiling."""
    const = _constant_square_kernel(k)
    if const is None or down != (1, 1) or up[0] != up[1] or const[0] != up[0] or up[0] == 1:
        return None
    f, gain = const
    if pads != (f - 1, 0, f - 1, 0):
        return None
    if gain != 1:
        x = x * tf.constant(gain, x.dtype)
    _, c, h, w = x.shape
    x = tf.reshape(x, [-1, c, h, 1, w, 1])
    x = tf.tile(x, [1, 1, 1, f, 1, f])
    return tf.reshape(x, [-1, c, h * f, w * f])


def _box_downsample(x, k, up, down, pads):
    """Fast path: a constant f x f kernel with down=f and no padding is a (scaled) box average."""
    const = _constant_square_kernel(k)
    if const is None or up != (1, 1) or down[0] != down[1] or const[0] != down[0] or down[0] == 1:
        return None
    f, gain = const
    _, c, h, w = x.shape
    if pads != (0, 0, 0, 0) or h < f or w < f:
        return None
    if x.dtype == tf.float32 and not _in_xla_context():
        y = tf.nn.avg_pool2d(x, f, f, "VALID", data_format="NCHW")
    else:
        x = x[:, :, :h // f * f, :w // f * f]
        y = tf.reduce_mean(tf.reshape(x, [-1, c, h // f, f, w // f, f]), axis=[3, 5])
    scale = gain * f * f
    return y if scale == 1 else y * tf.constant(scale, y.dtype)


def _general(x, k, up, down, pads):
    """Zero-insertion upsampling, pad/crop, then correlation with the flipped kernel."""
    (ux, uy), (px0, px1, py0, py1) = up, pads
    _, c, h, w = x.shape
    if ux > 1 or uy > 1:
        x = tf.reshape(x, [-1, c, h, 1, w, 1])
        x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, uy - 1], [0, 0], [0, ux - 1]])
        h, w = h * uy, w * ux
        x = tf.reshape(x, [-1, c, h, w])
    if max(pads) > 0:
        x = tf.pad(x, [[0, 0], [0, 0], [max(py0, 0), max(py1, 0)], [max(px0, 0), max(px1, 0)]])
        h, w = h + max(py0, 0) + max(py1, 0), w + max(px0, 0) + max(px1, 0)
    if min(pads) < 0:
        x = x[:, :, max(-py0, 0):h - max(-py1, 0), max(-px0, 0):w - max(-px1, 0)]
        h, w = h - max(-py0, 0) - max(-py1, 0), w - max(-px0, 0) - max(-px1, 0)
    kh, kw = (k.shape[0],) * 2 if k.ndim == 1 else k.shape
    if h < kh or w < kw:
        raise ValueError(f"upfirdn2d: padded input {h}x{w} is smaller than the kernel {kh}x{kw}")
    correlate = _correlate_taps if _in_xla_context() else _correlate_depthwise
    flipped = k[::-1] if k.ndim == 1 else k[::-1, ::-1]
    if k.ndim == 1:
        x = correlate(x, flipped[np.newaxis, :], (down[0], 1))
        return correlate(x, flipped[:, np.newaxis], (1, down[1]))
    return correlate(x, flipped, down)


def _correlate_depthwise(x, kernel, down):
    """Per-channel VALID correlation with stride `down` (x, y) as one depthwise convolution."""
    c = x.shape[1]
    kernel = np.tile(kernel[:, :, np.newaxis, np.newaxis], [1, 1, c, 1])
    equal = down[0] == down[1]  # the op needs equal strides; otherwise decimate afterwards
    stride = down[0] if equal else 1
    x = tf.transpose(x, [0, 2, 3, 1])  # CPU depthwise kernels only take NHWC for every dtype.
    x = tf.nn.depthwise_conv2d(x, tf.constant(kernel, x.dtype), [1, stride, stride, 1], "VALID")
    x = tf.transpose(x, [0, 3, 1, 2])
    return x if equal else x[:, :, ::down[1], ::down[0]]


def _correlate_taps(x, kernel, down):
    """The same correlation as a weighted sum of strided slices (one per non-zero tap)."""
    _, _, h, w = x.shape
    kh, kw = kernel.shape
    oh, ow = (h - kh) // down[1] + 1, (w - kw) // down[0] + 1
    terms = []
    for i in range(kh):
        for j in range(kw):
            if kernel[i, j] != 0:
                tap = x[:, :, i:i + (oh - 1) * down[1] + 1:down[1], j:j + (ow - 1) * down[0] + 1:down[0]]
                terms.append(tap if kernel[i, j] == 1 else tap * tf.constant(kernel[i, j], x.dtype))
    if not terms:
        return tf.zeros_like(x[:, :, :oh, :ow])
    return tf.add_n(terms)
