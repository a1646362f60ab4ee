"""autosummary(): report a scalar statistic by name from anywhere in a training step.

As the official autosummary, values are averaged over everything reported under a name until
the next `collect()` (once per tick) and written to TensorBoard under that name. On TF2 a step
function reports into the `Collector` active while it is traced and returns the collected means
as outputs; the host accumulates them with `Accumulator` and writes them with `write_scalars`.
"""

import contextlib
import threading
from collections import OrderedDict

import numpy as np
import tensorflow as tf

_state = threading.local()


@contextlib.contextmanager
def collector():
    """Collect autosummary() calls made inside (while tracing a step) into an OrderedDict of tensors."""
    prev = getattr(_state, "stats", None)
    stats = OrderedDict()
    _state.stats = stats
    try:
        yield stats
    finally:
        _state.stats = prev


def autosummary(name, value):
    """Report `value` (mean over all its elements) under `name`; returns `value` unchanged."""
    stats = getattr(_state, "stats", None)
    if stats is not None and tf.is_tensor(value):
        v = tf.cast(value, tf.float32)
        total, count = tf.reduce_sum(v), tf.cast(tf.size(v), tf.float32)
        if name in stats:
            total, count = stats[name][0] + total, stats[name][1] + count
        stats[name] = (total, count)
    return value


class Accumulator:
    """Host-side running sums of reported statistics, read and reset once per tick."""

    def __init__(self):
        self._sums = OrderedDict()

    def add(self, stats):
        """Add a dict name -> (sum, count) (NumPy or tensors, e.g. a step function's output)."""
        for name, (total, count) in stats.items():
            s = self._sums.setdefault(name, [0.0, 0.0])
            s[0] += float(np.sum(total))
            s[1] += float(np.sum(count))

    def add_value(self, name, value):
        """Report a host-side scalar."""
        self.add({name: (float(value), 1.0)})

    def sums(self):
        """{name: (sum, count)} since the last call, then reset (for consumers that weigh by count)."""
        sums = OrderedDict((name, (s[0], s[1])) for name, s in self._sums.items())
        self._sums.clear()
        return sums

    def collect(self):
        """Means since the last collect(), then reset."""
        means = OrderedDict((name, s[0] / s[1]) for name, s in self._sums.items() if s[1] > 0)
        self._sums.clear()
        return means


_SCALAR_METADATA = None


def write_scalars(writer, items, step):
    """TensorBoard scalar summaries written with core TF ops (the tensorboard package is not needed)."""
    global _SCALAR_METADATA
    if _SCALAR_METADATA is None:
        from tensorflow.core.framework import summary_pb2
        _SCALAR_METADATA = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    with writer.as_default():
        for name, value in items:
            tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_SCALAR_METADATA)
    writer.flush()
