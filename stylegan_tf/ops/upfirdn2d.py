"""upfirdn2d: upsample, pad, FIR-filter and downsample a batch of NCHW images.

Same semantics as `upfirdn2d` of StyleGAN2: insert `up - 1` zeros after every input sample,
pad (negative pads crop), convolve with the kernel (a true convolution, i.e. the kernel is
flipped), then keep every `down`-th sample. Per axis the output size is
`(in * up + pad0 + pad1 - kernel_size) // down + 1`.

The 'ref' implementation uses only TensorFlow ops, so it runs eagerly, in `tf.function` and under
XLA, and plain autodiff gives first- and second-order gradients. The 'custom' implementation is a
compiled TensorFlow op (`stylegan_tf/ops/custom/`, built on first use and cached) with a
registered gradient; `_resolve_impl` is the single place that chooses between the two, and
'auto' follows the measured decision table `AUTO_TABLE` (see BENCHMARKS.md).
"""

import os
import warnings

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.ops import control_flow_util

from dnnlib.tflib.tfutil import avg_pool_nchw

IMPL_ENV_VAR = "STYLEGAN_TF_UPFIRDN2D_IMPL"
_IMPLS = ("auto", "ref", "custom")


# 'auto': (device type, case) -> smallest output plane (H * W pixels) from which 'custom' was
# measured faster than 'ref' for this use (bench/ours/bench_upfirdn2d.py; BENCHMARKS.md, "upfirdn2d:
# ref vs custom"). Cases: 'nearest' / 'box' (the kernels for which 'ref' has its tile /
# average-pool fast paths: upscale2d, downscale2d and their gradients), 'filter' (up = down = 1,
# e.g. blur2d), 'up', 'down' (any other kernel). Anything not listed ('updown', GPUs: not
# measured), anything under XLA and dtypes other than float16/float32 run 'ref'.
AUTO_TABLE = {
    ("CPU", "filter"): 16 * 16,    # blur2d: 0.85x at 8x8, 1.2-4x from 16x16 up
    ("CPU", "nearest"): 32 * 32,   # upscale2d: 0.6-0.9x up to 16x16 output, 1.5-2.2x from 32x32 up
    ("CPU", "box"): 128 * 128,     # downscale2d: 0.6-1.5x up to 64x64 output, 2.4-5.7x from 128x128 up
    ("CPU", "up"): 0,              # other kernels: 1.3-12x at every size
    ("CPU", "down"): 0,            # 2.6-19x at every size
}
CUSTOM_DTYPES = (tf.float16, tf.float32)
CUSTOM_MAX_TAPS = 256  # the CUDA kernel's limit; larger kernels run 'ref'
_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _case(k, up, down, pads):
    """The AUTO_TABLE case of a call (see there)."""
    if k is not None and (up != (1, 1) or down != (1, 1)):
        const = _constant_square_kernel(k)
        if const is not None and pads == (const[0] - 1, 0, const[0] - 1, 0) and up == (const[0],) * 2 \
                and down == (1, 1):
            return "nearest"
        if const is not None and pads == (0, 0, 0, 0) and down == (const[0],) * 2 and up == (1, 1):
            return "box"
    if up == (1, 1):
        return "filter" if down == (1, 1) else "down"
    return "up" if down == (1, 1) else "updown"


def _device_type(x):
    """'GPU' or 'CPU': where `x`'s op will run (GPU when one is visible and x is not pinned)."""
    if not tf.config.list_logical_devices("GPU"):
        return "CPU"
    device = getattr(x, "device", "") or ""
    return "CPU" if "CPU" in device.upper() else "GPU"


@tf.autograph.experimental.do_not_convert  # plain Python (build/load), also while tracing
def _custom_module():
    from .custom import load_upfirdn2d
    return load_upfirdn2d()


def _impl_name(impl):
    """'auto', 'ref' or 'custom' for `impl`; None reads $STYLEGAN_TF_UPFIRDN2D_IMPL (default 'auto')."""
    if impl is None:
        impl = os.environ.get(IMPL_ENV_VAR) or "auto"
    impl = str(impl).strip().lower()
    if impl not in _IMPLS:
        raise ValueError(f"upfirdn2d: impl must be one of {_IMPLS} (or None), got {impl!r}")
    return impl


def _out_pixels(x, k, up, down, pads):
    """Output H * W of one plane (0 if unknown)."""
    if k is None or x.shape.rank != 4 or x.shape[2] is None or x.shape[3] is None:
        return 0
    kh, kw = (k.shape[0],) * 2 if k.ndim == 1 else k.shape
    h = (x.shape[2] * up[1] + pads[2] + pads[3] - kh) // down[1] + 1
    w = (x.shape[3] * up[0] + pads[0] + pads[1] - kw) // down[0] + 1
    return max(h, 0) * max(w, 0)


def _resolve_impl(impl, x=None, k=None, up=(1, 1), down=(1, 1), pads=(0, 0, 0, 0)):
    """Return 'ref' or 'custom' for `impl` (None means the env var, default 'auto').

    'custom' falls back to 'ref' (with one warning per cause) under XLA, for dtypes other than
    float16/float32 and when the op cannot be built; 'auto' picks 'custom' only where
    `AUTO_TABLE` says it is faster for this device, case and output size and the op is
    available (a failed build warns once).
    """
    impl = _impl_name(impl)
    if impl == "ref" or x is None:
        return "ref"
    forced = impl == "custom"
    if _in_xla_context():
        if forced:
            _warn_once("xla", "upfirdn2d: impl='custom' cannot be compiled by XLA "
                              "(jit_compile=True); using impl='ref' inside XLA clusters")
        return "ref"
    dtype = tf.as_dtype(x.dtype) if hasattr(x, "dtype") else tf.float32
    if dtype not in CUSTOM_DTYPES or (k is not None and k.size > CUSTOM_MAX_TAPS):
        if forced:
            _warn_once(("dtype", dtype.name), f"upfirdn2d: impl='custom' supports float16/float32 "
                       f"and kernels up to {CUSTOM_MAX_TAPS} taps; using impl='ref' for {dtype.name}")
        return "ref"
    if not forced:
        threshold = AUTO_TABLE.get((_device_type(x), _case(k, up, down, pads)))
        if threshold is None or _out_pixels(x, k, up, down, pads) < threshold:
            return "ref"
    return "custom" if _custom_module() is not None else "ref"


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
    k, up, down, pads = _parse_kernel(k), _parse_scaling(up, "up"), _parse_scaling(down, "down"), _parse_padding(pad)
    impl = _impl_name(impl)
    if impl != "ref":
        x = tf.convert_to_tensor(x)
        impl = _resolve_impl(impl, x, k, up, down, pads)
    run = {"ref": _upfirdn2d_ref, "custom": _upfirdn2d_custom}[impl]
    return run(x, k, up, down, pads)


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
        y = avg_pool_nchw(x, f)
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


# ---------------------------------------------------------------------------------------------
# impl='custom': the compiled op (stylegan_tf/ops/custom/upfirdn2d_op.cc).

CUSTOM_OP_TYPE = "StyleganTfUpfirdn2d"


def _rank1_factors(k):
    """(column, row) with k == outer(column, row) to float32 rounding, or None."""
    if k.ndim != 2:
        return None
    i, j = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    col, row = k[:, j], k[i, :] / k[i, j]
    if np.max(np.abs(np.outer(col, row) - k)) > 1e-7 * np.abs(k[i, j]):
        return None
    return col, row


def _kernel_attrs(k):
    """The op's kernel attributes for the convolution kernel `k` (1-D means separable)."""
    if k.ndim == 1:
        return dict(kernel=[float(v) for v in np.concatenate([k, k])], kernel_h=k.size, kernel_w=k.size,
                    separable=True)
    factors = _rank1_factors(k) if min(k.shape) > 1 else None
    if factors is not None:
        return dict(kernel=[float(v) for v in np.concatenate(factors)], kernel_h=k.shape[0],
                    kernel_w=k.shape[1], separable=True)
    return dict(kernel=[float(v) for v in k.ravel()], kernel_h=k.shape[0], kernel_w=k.shape[1], separable=False)


def _call_op(x, kernel_attrs, up, down, pads):
    lib = _custom_module()
    (ux, uy), (dx, dy), (px0, px1, py0, py1) = up, down, pads
    return lib.stylegan_tf_upfirdn2d(x, up_x=ux, up_y=uy, down_x=dx, down_y=dy, pad_x0=px0, pad_x1=px1,
                                     pad_y0=py0, pad_y1=py1, **kernel_attrs)


def _upfirdn2d_custom(x, k, up, down, pads):
    """The compiled op; float16/float32 NCHW with static C, H, W (checked like 'ref')."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4 or any(d is None for d in x.shape[1:]):
        raise ValueError(f"upfirdn2d: x must be [N, C, H, W] with static C, H, W, got {x.shape}")
    kh, kw = (k.shape[0],) * 2 if k.ndim == 1 else k.shape
    (ux, uy), (px0, px1, py0, py1) = up, pads
    h, w = x.shape[2] * uy + py0 + py1, x.shape[3] * ux + px0 + px1
    if h < kh or w < kw:
        raise ValueError(f"upfirdn2d: padded input {h}x{w} is smaller than the kernel {kh}x{kw}")
    return _call_op(x, _kernel_attrs(k), up, down, pads)


def _custom_op_grad(op, dy):
    """dx = upfirdn2d(dy) with the flipped kernel, up and down swapped and the matching pads; the
    gradient of that is again this op, so every order of gradient works."""
    get = op.get_attr
    kh, kw, separable = get("kernel_h"), get("kernel_w"), get("separable")
    kernel = np.asarray(get("kernel"), np.float64)
    if separable:
        flipped = np.concatenate([kernel[:kh][::-1], kernel[kh:][::-1]])
    else:
        flipped = kernel.reshape(kh, kw)[::-1, ::-1].ravel()
    ux, uy, dx, dy_ = get("up_x"), get("up_y"), get("down_x"), get("down_y")
    px0, py0 = get("pad_x0"), get("pad_y0")
    in_h, in_w = op.inputs[0].shape[2], op.inputs[0].shape[3]
    out_h, out_w = op.outputs[0].shape[2], op.outputs[0].shape[3]
    if None in (in_h, in_w, out_h, out_w):
        raise ValueError("upfirdn2d: the custom op's gradient needs static H and W")
    pads = (kw - px0 - 1, in_w * ux - out_w * dx + px0 - ux + 1,
            kh - py0 - 1, in_h * uy - out_h * dy_ + py0 - uy + 1)
    attrs = dict(kernel=[float(v) for v in flipped], kernel_h=kh, kernel_w=kw, separable=separable)
    return _call_op(dy, attrs, (dx, dy_), (ux, uy), pads)


try:
    tf.RegisterGradient(CUSTOM_OP_TYPE)(_custom_op_grad)
except KeyError:  # module reloaded: the first registration stays in place
    pass
