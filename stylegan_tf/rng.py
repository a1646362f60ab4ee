"""Reproducible randomness for training: every random op of a training step derives from one seed.

Outside `seed_scope` these functions are plain `tf.random` ops. Inside it (the training loop
opens one per step with a seed tensor [2]), each op gets its own stateless seed: the step seed
folded with a per-trace counter. A step is then a pure function of (weights, data, seed), so a
resumed run continues exactly where it stopped. Under tf.distribute, `batched` draws are made for
the global batch and sliced by replica (and by micro-batch, `micro_batch`), so N replicas see the same
numbers as one, and a batch processed in rounds the same numbers as in one go.
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


@contextlib.contextmanager
def micro_batch(index, count):
    """Inside (and inside a `seed_scope` opened anew for each micro-batch), `batched` draws are made for
    `count` micro-batches per replica and micro-batch `index` (a Python int) gets its slice: a batch
    processed in rounds sees the numbers the whole batch would (gradient accumulation, --batch_gpu)."""
    prev = getattr(_state, "micro", None)
    _state.micro = (int(index), int(count))
    try:
        yield
    finally:
        _state.micro = prev


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
    micro = getattr(_state, "micro", None) if batched else None
    if ctx is None and micro is None:
        return stateless_fn(shape, seed=seed, **kwargs)
    replicas, replica = (ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group) if ctx is not None else (1, 0)
    index, count = micro or (0, 1)
    shape = tf.unstack(tf.convert_to_tensor(shape, tf.int32)) if not isinstance(shape, (list, tuple)) else list(shape)
    n = shape[0]
    full = stateless_fn([n * replicas * count] + list(shape[1:]), seed=seed, **kwargs)
    start = (replica * count + index) * n  # replica-major: replica k's rounds are its unsplit rows in order
    return full[start:start + n]


def normal(shape, dtype=tf.float32, batched=False):
    """Standard normal samples; `batched` marks the first dimension as the (per-replica) batch."""
    return _draw(tf.random.stateless_normal, tf.random.normal, shape, batched, dtype=dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=tf.float32, batched=False):
    """Uniform samples in [minval, maxval) (integers: maxval exclusive)."""
    return _draw(tf.random.stateless_uniform, tf.random.uniform, shape, batched, minval=minval, maxval=maxval,
                 dtype=dtype)
