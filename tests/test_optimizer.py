"""dnnlib.tflib.Optimizer: TF1 Adam numerics, skipped updates, disconnected variables, loss scaling, state."""

import numpy as np
import pytest
import tensorflow as tf

from dnnlib.tflib.optimizer import Optimizer


def numpy_adam(var, grads, lr, beta1, beta2, eps):
    """TF1 tf.train.AdamOptimizer, written out."""
    m = np.zeros_like(var)
    v = np.zeros_like(var)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        var = var - lr_t * m / (np.sqrt(v) + eps)
    return var


def make(shapes, **kwargs):
    rnd = np.random.RandomState(0)
    variables = [tf.Variable(rnd.randn(*s).astype(np.float32)) for s in shapes]
    return variables, Optimizer(**kwargs).build(variables)


def step_fn(opt, skip_disconnected=True):
    @tf.function
    def step(grads):
        return opt.apply_updates(grads, skip_disconnected=skip_disconnected)
    return step


def test_adam_matches_tf1_rule():
    variables, opt = make([(3, 4), (5,)], learning_rate=0.01, beta1=0.9, beta2=0.99, epsilon=1e-8)
    start = [v.numpy() for v in variables]
    rnd = np.random.RandomState(1)
    grads = [[rnd.randn(*v.shape).astype(np.float32) for v in variables] for _ in range(4)]
    step = step_fn(opt)
    for g in grads:
        ok, stats = step([tf.constant(x) for x in g])
        assert bool(ok)
    for i, var in enumerate(variables):
        expect = numpy_adam(start[i].astype(np.float64), [g[i].astype(np.float64) for g in grads], 0.01, 0.9, 0.99, 1e-8)
        np.testing.assert_allclose(var.numpy(), expect, rtol=1e-5, atol=1e-6)
    assert float(stats["Train/learning_rate"][0]) == pytest.approx(0.01)
    assert float(stats["Train/overflow_frequency"][0]) == 0.0


def test_nonfinite_gradient_skips_the_whole_update():
    variables, opt = make([(2, 2)], learning_rate=0.1, beta1=0.0, beta2=0.99)
    before = variables[0].numpy()
    state = opt.get_state()
    ok, stats = step_fn(opt)([tf.constant([[1.0, np.nan], [0.0, 1.0]])])
    assert not bool(ok)
    assert float(stats["Train/overflow_frequency"][0]) == 1.0
    np.testing.assert_array_equal(variables[0].numpy(), before)
    for a, b in zip(opt.get_state(), state):
        np.testing.assert_array_equal(a, b)  # moments and bias-correction powers untouched


@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_disconnected_variables_skipped_exactly(beta1):
    """Skipping a None gradient equals the official zero-gradient update whenever m is zero."""
    results = []
    for skip in (True, False):
        variables, opt = make([(4,), (3,)], learning_rate=0.1, beta1=beta1, beta2=0.99)
        step = step_fn(opt, skip_disconnected=skip)
        for i in range(3):
            step([tf.constant([1.0, -2.0, 0.5, float(i)]), None])
        results.append([v.numpy() for v in variables])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_loss_scaling():
    variables, opt = make([(2,)], use_loss_scaling=True, loss_scaling_init=3.0, loss_scaling_inc=0.5,
                          loss_scaling_dec=2.0)
    assert float(opt.apply_loss_scaling(tf.constant(1.0))) == 8.0
    assert float(opt.undo_loss_scaling(tf.constant(8.0))) == 1.0
    step = step_fn(opt)
    ok, stats = step([tf.constant([8.0, 8.0])])
    assert bool(ok) and float(stats["Train/loss_scaling_log2"][0]) == 3.5
    ok, stats = step([tf.constant([np.inf, 8.0])])
    assert not bool(ok) and float(stats["Train/loss_scaling_log2"][0]) == 1.5
    plain = Optimizer().build([tf.Variable([1.0])])
    assert float(plain.apply_loss_scaling(tf.constant(2.0))) == 2.0


def test_state_roundtrip_reset_and_errors():
    variables, opt = make([(3,)], learning_rate=0.1, beta1=0.5, beta2=0.9)
    step_fn(opt)([tf.constant([1.0, 2.0, 3.0])])
    state = opt.get_state()
    assert len(state) == 5 and float(state[0]) == pytest.approx(0.25)
    _, other = make([(3,)], learning_rate=0.1, beta1=0.5, beta2=0.9)
    other.set_state(state)
    for a, b in zip(other.get_state(), state):
        np.testing.assert_array_equal(a, b)
    opt.reset_optimizer_state()
    assert float(opt.get_state()[0]) == 0.5 and not opt.get_state()[3].any()
    opt.learning_rate = 0.003
    assert opt.learning_rate == pytest.approx(0.003)
    with pytest.raises(ValueError, match="expected 5"):
        opt.set_state(state[:2])
    with pytest.raises(ValueError, match="shape"):
        opt.set_state(state[:3] + [np.zeros(4), np.zeros(3)])
    with pytest.raises(ValueError, match="only 'tf.train.AdamOptimizer'"):
        Optimizer(tf_optimizer="tf.train.MomentumOptimizer")
    with pytest.raises(ValueError, match="unknown optimizer option"):
        Optimizer(momentum=0.9)
