"""TensorFlow helpers of the official tflib API that still make sense on TF2."""

import numpy as np
import tensorflow as tf


def is_tf_expression(x) -> bool:
    """True for tensors and variables."""
    return tf.is_tensor(x) or isinstance(x, tf.Variable)


def shape_to_list(shape) -> list:
    """A TensorShape (or tuple) as a list of ints / None."""
    return [None if d is None else int(d) for d in tf.TensorShape(shape).as_list()]


def lerp(a, b, t):
    """Linear interpolation."""
    return a + (b - a) * t


def lerp_clip(a, b, t):
    """Linear interpolation with t clipped to [0, 1]."""
    return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


_cpu_nchw = None


@tf.autograph.experimental.do_not_convert
def nchw_native(dtype=tf.float32) -> bool:
    """Whether NCHW convolutions and pooling of `dtype` run as such here: float32 on a GPU, or on a CPU
    whose TensorFlow uses oneDNN. TensorFlow turns oneDNN on by default only on CPUs with AVX512-VNNI,
    AVX512-BF16 or AMX (Intel Xeon, AMD Zen 4); elsewhere (e.g. AVX2-only Zen 3) its CPU kernels take NHWC
    only and an NCHW call fails, so callers transpose around an NHWC kernel (`nchw_to_nhwc_call`).
    Other dtypes: False (CPU kernels are NHWC-only for them). Probed once per process."""
    global _cpu_nchw
    if tf.as_dtype(dtype) != tf.float32:
        return False
    if _cpu_nchw is None:
        try:
            from tensorflow.python.util import _pywrap_util_port  # the switch TF's own kernels read
            onednn = _pywrap_util_port.IsMklEnabled()
        except (ImportError, AttributeError):
            onednn = None
        if tf.config.list_physical_devices("GPU") or onednn is not None:
            _cpu_nchw = bool(onednn) or bool(tf.config.list_physical_devices("GPU"))
        else:  # no way to ask: try the kernels
            with tf.init_scope(), tf.device("/cpu:0"):
                try:
                    tf.nn.avg_pool2d(tf.zeros([1, 1, 2, 2]), 2, 2, "VALID", data_format="NCHW").numpy()
                    tf.nn.conv2d(tf.zeros([1, 1, 2, 2]), tf.zeros([1, 1, 1, 1]), 1, "SAME", data_format="NCHW").numpy()
                    _cpu_nchw = True
                except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError):
                    _cpu_nchw = False
    return _cpu_nchw


@tf.autograph.experimental.do_not_convert
def nchw_to_nhwc_call(func, x):
    """func(x NHWC) for an NCHW `x`, returning NCHW: the layout bridge around NHWC-only kernels."""
    return tf.transpose(func(tf.transpose(x, [0, 2, 3, 1])), [0, 3, 1, 2])


@tf.autograph.experimental.do_not_convert
def avg_pool_nchw(x, factor):
    """factor x factor box average of NCHW `x` (VALID), with TF's avg_pool kernel in either layout."""
    if nchw_native(x.dtype):
        return tf.nn.avg_pool2d(x, factor, factor, "VALID", data_format="NCHW")
    return nchw_to_nhwc_call(lambda y: tf.nn.avg_pool2d(y, factor, factor, "VALID"), x)


def init_tf(config_dict: dict = None) -> None:
    """Seed NumPy and TensorFlow like the official init_tf ('rnd.np_random_seed', 'rnd.tf_random_seed')."""
    cfg = {"rnd.np_random_seed": None, "rnd.tf_random_seed": "auto"}
    cfg.update(config_dict or {})
    if cfg["rnd.np_random_seed"] is not None:
        np.random.seed(cfg["rnd.np_random_seed"])
    seed = cfg["rnd.tf_random_seed"]
    if seed == "auto":
        seed = np.random.randint(1 << 31)
    if seed is not None:
        tf.random.set_seed(seed)


def set_vars(var_to_value) -> None:
    """Assign values to several variables: a dict {var: value} or (TF2 variables being unhashable)
    an iterable of (var, value) pairs."""
    items = var_to_value.items() if isinstance(var_to_value, dict) else var_to_value
    for var, value in items:
        var.assign(value)


def convert_images_to_uint8(images, drange=(-1, 1), nchw_to_nhwc=False, shrink=1):
    """Float images in `drange` -> uint8 [0, 255], optionally box-shrunk and transposed to NHWC.
    Usable as `output_transform=dict(func=convert_images_to_uint8)` in Network.run()."""
    images = tf.cast(images, tf.float32)
    if shrink > 1:
        images = avg_pool_nchw(images, shrink)
    if nchw_to_nhwc:
        images = tf.transpose(images, [0, 2, 3, 1])
    scale = 255 / (drange[1] - drange[0])
    images = images * scale + (0.5 - drange[0] * scale)
    return tf.saturate_cast(images, tf.uint8)


def is_chief(strategy) -> bool:
    """Whether this process writes the run directory: the chief of a multi-worker cluster (or worker 0
    when there is no chief), and always for single-process strategies."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None) or not resolver.cluster_spec().jobs:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                    "chief" not in resolver.cluster_spec().jobs)
