"""Reproducible randomness for training: every random op of a training step derives from one seed.

Outside `seed_scope` these functions are plain `tf.random` ops. Inside it (the training loop
opens one per step with a seed tensor [2]), each op gets its own stateless seed: the step seed
folded with a per-trace counter. A step is then a pure function of (weights, data, seed), so a
resumed run continues exactly where it stopped. Under tf.distribute, `batched` draws are made for
the global batch and sliced by replica, so N replicas see the same numbers as one.
"""

import contextlib
import threading

import tensorflow as tf

_state = threading.local()


@contextlib.contextmanager
def seed_scope(seed):
    """Make random ops created inside deterministic functions of `seed` (int32/int64 tensor [2])."""
    prev = getattr(_state, "scope", None)
    _state.scope = [tf.cast(seed, tf.int64), 0]
    try:
        yield
    finally:
        _state.scope = prev


def _next_seed():
    scope = getattr(_state, "scope", None)
    if scope is None:
        return None
    scope[1] += 1
    return tf.random.experimental.stateless_fold_in(scope[0], scope[1])


def _replicas():
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def _draw(stateless_fn, stateful_fn, shape, batched, **kwargs):
    seed = _next_seed()
    if seed is None:
        return stateful_fn(shape, **kwargs)
    ctx = _replicas() if batched else None
    if ctx is None:
        return stateless_fn(shape, seed=seed, **kwargs)
    shape = tf.unstack(tf.convert_to_tensor(shape, tf.int32)) if not isinstance(shape, (list, tuple)) else list(shape)
    n = shape[0]
    full = stateless_fn([n * ctx.num_replicas_in_sync] + list(shape[1:]), seed=seed, **kwargs)
    start = ctx.replica_id_in_sync_group * n
    return full[start:start + n]


def normal(shape, dtype=tf.float32, batched=False):
    """Standard normal samples; `batched` marks the first dimension as the (per-replica) batch."""
    return _draw(tf.random.stateless_normal, tf.random.normal, shape, batched, dtype=dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=tf.float32, batched=False):
    """Uniform samples in [minval, maxval) (integers: maxval exclusive)."""
    return _draw(tf.random.stateless_uniform, tf.random.uniform, shape, batched, minval=minval, maxval=maxval,
                 dtype=dtype)
