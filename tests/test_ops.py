"""Tests for stylegan_tf.ops: upfirdn2d against a NumPy reference, its fast paths and gradients,
and the StyleGAN v1 resampling ops against an independent formulation of the official numerics."""

from importlib import import_module

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from stylegan_tf import ops

ufd = import_module("stylegan_tf.ops.upfirdn2d")


def fresh_rng():
    """New random inputs on every run; the seed goes into failure messages for reproduction."""
    seed = int(np.random.SeedSequence().entropy % 2 ** 32)
    return np.random.default_rng(seed), seed


def upfirdn2d_numpy(x, k, up=1, down=1, pad=(0, 0)):
    """Direct NumPy transcription of the definition: zero insertion, pad/crop, true 2-D
    convolution y[n] = sum_t k[t] v[n - t] over the fully overlapping positions, decimation."""
    ux, uy = (up, up) if np.ndim(up) == 0 else up
    dx, dy = (down, down) if np.ndim(down) == 0 else down
    px0, px1, py0, py1 = tuple(pad) * 2 if len(pad) == 2 else pad
    k = np.asarray(k, np.float64)
    k = np.outer(k, k) if k.ndim == 1 else k
    n, c, h, w = x.shape
    u = np.zeros([n, c, h * uy, w * ux], np.float64)
    u[:, :, ::uy, ::ux] = x
    v = np.pad(u, [(0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))])
    v = v[:, :, max(-py0, 0):v.shape[2] - max(-py1, 0), max(-px0, 0):v.shape[3] - max(-px1, 0)]
    kh, kw = k.shape
    oh, ow = (v.shape[2] - kh) // dy + 1, (v.shape[3] - kw) // dx + 1
    out = np.zeros([n, c, oh, ow], np.float64)
    for oy in range(oh):
        for ox in range(ow):
            ny, nx = oy * dy + kh - 1, ox * dx + kw - 1
            for ty in range(kh):
                for tx in range(kw):
                    out[:, :, oy, ox] += k[ty, tx] * v[:, :, ny - ty, nx - tx]
    return out


def random_config(rng):
    """A random (x shape, kernel, up, down, pad) with a non-empty output."""
    while True:
        up = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.3 else int(rng.integers(1, 4))
        down = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.3 else int(rng.integers(1, 4))
        if rng.random() < 0.4:
            k = rng.normal(size=[int(rng.integers(1, 5))])
        else:
            k = rng.normal(size=[int(rng.integers(1, 5)), int(rng.integers(1, 5))])
        pad = [int(p) for p in rng.integers(-2, 4, size=2 if rng.random() < 0.5 else 4)]
        shape = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 7))]
        ux, uy = (up, up) if np.ndim(up) == 0 else up
        px0, px1, py0, py1 = pad * 2 if len(pad) == 2 else pad
        kh, kw = (k.shape[0],) * 2 if k.ndim == 1 else k.shape
        if shape[2] * uy + py0 + py1 >= kh and shape[3] * ux + px0 + px1 >= kw:
            return shape, k, up, down, pad


@pytest.mark.parametrize("taps", [False, True], ids=["depthwise", "taps"])
def test_upfirdn2d_matches_numpy(monkeypatch, taps):
    monkeypatch.setattr(ufd, "_in_xla_context", lambda: taps)
    rng, seed = fresh_rng()
    for _ in range(40):
        shape, k, up, down, pad = random_config(rng)
        x = rng.normal(size=shape)
        want = upfirdn2d_numpy(x, k, up, down, pad)
        msg = f"seed={seed} shape={shape} k={k.shape} up={up} down={down} pad={pad}"
        got64 = ops.upfirdn2d(tf.constant(x), k, up, down, pad).numpy()
        assert got64.shape == want.shape, msg
        np.testing.assert_allclose(got64, want, rtol=1e-10, atol=1e-10, err_msg=msg)
        got32 = ops.upfirdn2d(tf.constant(x, tf.float32), k.astype(np.float32), up, down, pad)
        assert got32.dtype == tf.float32
        np.testing.assert_allclose(got32.numpy(), want, rtol=1e-4, atol=1e-4, err_msg=msg)


def test_upfirdn2d_output_size_and_known_values():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = ops.upfirdn2d(x, [1.0, 2.0, 3.0], up=2, down=3, pad=(2, -1))
    assert y.shape == (1, 1, (4 * 2 + 2 - 1 - 3) // 3 + 1, (4 * 2 + 2 - 1 - 3) // 3 + 1)
    # A 1x1 kernel only scales; an identity kernel with cropping is a slice.
    np.testing.assert_array_equal(ops.upfirdn2d(x, [[3.0]]).numpy(), 3 * x)
    np.testing.assert_array_equal(ops.upfirdn2d(x, [[1.0]], pad=(-1, 0, 0, -2)).numpy(), x[:, :, :2, 1:])
    # Convolution (not correlation): a shifted delta kernel moves the image the other way.
    y = ops.upfirdn2d(x, [[0.0, 1.0]], pad=(1, 0, 0, 0)).numpy()
    np.testing.assert_array_equal(y[..., 1:], x[..., :-1])
    np.testing.assert_array_equal(y[..., 0], 0)


def test_impl_switch(monkeypatch):
    x = tf.ones([1, 1, 2, 2])
    monkeypatch.delenv(ufd.IMPL_ENV_VAR, raising=False)
    for impl in [None, "auto", "ref", "custom"]:  # 'custom' falls back to 'ref' where it cannot build
        np.testing.assert_array_equal(ops.upfirdn2d(x, [[2.0]], impl=impl).numpy(), 2 * np.ones([1, 1, 2, 2]))
    with pytest.raises(ValueError):
        ops.upfirdn2d(x, [[1.0]], impl="cuda")
    monkeypatch.setenv(ufd.IMPL_ENV_VAR, "custom")
    ops.upfirdn2d(x, [[1.0]])
    ops.upfirdn2d(x, [[1.0]], impl="ref")
    monkeypatch.setenv(ufd.IMPL_ENV_VAR, "ref")
    ops.upfirdn2d(x, [[1.0]])


FAST_CASES = [  # (kernel, up, down, pad, fast path expected to be taken)
    (np.ones([2, 2]), 2, 1, (1, 0), "nearest"),
    (np.ones([3]), 3, 1, (2, 0), "nearest"),
    (np.full([2, 2], 0.25), 2, 1, (1, 0, 1, 0), "nearest"),
    (np.full([4, 4], 3.0), 4, 1, (3, 0), "nearest"),
    (np.full([2, 2], 0.25), 1, 2, (0, 0), "box"),
    (np.full([2], 0.5), 1, 2, (0, 0), "box"),
    (np.ones([3, 3]), 1, 3, (0, 0), "box"),
    (np.full([4, 4], 1 / 16), 1, 4, (0, 0), "box"),
]


@pytest.mark.parametrize("xla", [False, True], ids=["graph", "xla-formulation"])
def test_fast_paths_equal_general_path(monkeypatch, xla):
    monkeypatch.setattr(ufd, "_in_xla_context", lambda: xla)
    rng, seed = fresh_rng()
    general = ufd._general

    def no_general(*args):
        raise AssertionError("fast path not taken")

    for k, up, down, pad, _ in FAST_CASES:
        for dtype in [tf.float32, tf.float64]:
            h, w = (6, 7) if down > 1 else (3, 4)  # also sizes not divisible by the factor
            x = tf.constant(rng.normal(size=[2, 3, h, w]), dtype)
            monkeypatch.setattr(ufd, "_general", no_general)
            fast = ops.upfirdn2d(x, k, up, down, pad)
            monkeypatch.setattr(ufd, "_general", general)
            slow = ufd._upfirdn2d_ref(x, k, ufd._parse_scaling(up, "up"), ufd._parse_scaling(down, "down"),
                                      ufd._parse_padding(pad), fast_paths=False)
            tol = 1e-6 if dtype == tf.float32 else 1e-13
            msg = f"seed={seed} k={k.shape} up={up} down={down} {dtype.name}"
            assert fast.shape == slow.shape, msg
            np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=tol, atol=tol, err_msg=msg)
            np.testing.assert_allclose(fast.numpy(), upfirdn2d_numpy(x.numpy(), k, up, down, pad),
                                       rtol=tol, atol=tol, err_msg=msg)


def test_nearest_fast_path_is_tile():
    x = tf.random.normal([2, 3, 4, 5])
    y = ops.upfirdn2d(x, np.ones([2, 2]), up=2, pad=(1, 0))
    np.testing.assert_array_equal(y.numpy(), np.repeat(np.repeat(x.numpy(), 2, axis=2), 2, axis=3))


def max_jacobian_error(fn, x):
    """Largest difference between the autodiff and the finite-difference Jacobian, relative to
    the Jacobian's magnitude (float64, small step)."""
    theoretical, numerical = tf.test.compute_gradient(fn, [x], delta=1e-5)
    scale = max(1.0, max(np.abs(t).max() for t in theoretical))
    return max(np.abs(t - n).max() for t, n in zip(theoretical, numerical)) / scale


GRAD_CASES = [  # (kernel, up, down, pad)
    (np.array([1.0, 3.0, -2.0]), 2, 1, (1, 2)),
    (np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]]), 1, 2, (2, 1, 0, 1)),
    (np.array([0.5, 1.5, 1.0, -1.0]), (2, 1), (1, 3), (-1, 2, 3, 0)),
    (np.ones([2, 2]), 2, 1, (1, 0)),          # nearest fast path
    (np.full([2, 2], 0.25), 1, 2, (0, 0)),    # box fast path
]


@pytest.mark.parametrize("taps", [False, True], ids=["depthwise", "taps"])
def test_upfirdn2d_first_and_second_order_gradients(monkeypatch, taps):
    monkeypatch.setattr(ufd, "_in_xla_context", lambda: taps)
    rng, seed = fresh_rng()
    for k, up, down, pad in GRAD_CASES:
        x = tf.constant(rng.normal(size=[1, 1, 3, 4]))

        def first(x):
            return tf.sin(ops.upfirdn2d(x, k, up, down, pad))

        weight = tf.constant(rng.normal(size=first(x).shape))

        def second(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(weight * first(x))
            return tape.gradient(loss, x)

        assert max_jacobian_error(first, x) < 1e-7, f"seed={seed} k={k.shape} up={up} down={down}"
        assert max_jacobian_error(second, x) < 1e-7, f"seed={seed} k={k.shape} up={up} down={down}"
        assert np.abs(second(x).numpy()).max() > 1e-3  # the tests above are not vacuous


# ---------------------------------------------------------------------------------------------
# StyleGAN v1 resampling: an independent TensorFlow formulation of the official numerics.

def official_blur(x, f, normalize=True, flip=False):
    f = np.array(f, np.float32)
    f = np.outer(f, f) if f.ndim == 1 else f
    f = f / f.sum() if normalize else f
    f = f[::-1, ::-1] if flip else f
    f = np.tile(f[:, :, None, None], [1, 1, x.shape[1], 1])
    if tflib.tfutil.nchw_native(x.dtype):  # exactly the official call
        return tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME", data_format="NCHW")
    y = tf.nn.depthwise_conv2d(tf.transpose(x, [0, 2, 3, 1]), tf.constant(f, x.dtype), [1, 1, 1, 1], "SAME")
    return tf.transpose(y, [0, 3, 1, 2])


def official_upscale(x, factor=2, gain=1):
    s = x.shape
    x = tf.tile(tf.reshape(x * gain, [-1, s[1], s[2], 1, s[3], 1]), [1, 1, 1, factor, 1, factor])
    return tf.reshape(x, [-1, s[1], s[2] * factor, s[3] * factor])


def official_downscale(x, factor=2, gain=1):
    if tflib.tfutil.nchw_native(x.dtype):
        return tf.nn.avg_pool2d(x * gain, factor, factor, "VALID", data_format="NCHW")
    y = tf.nn.avg_pool2d(tf.transpose(x * gain, [0, 2, 3, 1]), factor, factor, "VALID")
    return tf.transpose(y, [0, 3, 1, 2])


def grads_1_and_2(fn, x, rng):
    """Value, first-order gradient of sum(u * sin(fn(x))) and the gradient of sum(v * that)."""
    y = fn(x)
    u = tf.constant(rng.normal(size=y.shape), x.dtype)
    v = tf.constant(rng.normal(size=x.shape), x.dtype)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            loss = tf.reduce_sum(u * tf.sin(fn(x)))
        g1 = inner.gradient(loss, x)
        loss2 = tf.reduce_sum(v * g1)
    return y, g1, outer.gradient(loss2, x)


RESAMPLE_CASES = [
    ("blur121", lambda x: ops.blur2d(x), lambda x: official_blur(x, [1, 2, 1]), [2, 3, 6, 6]),
    ("blur_2d_asymmetric", lambda x: ops.blur2d(x, F2D, normalize=False),
     lambda x: official_blur(x, F2D, normalize=False), [2, 2, 5, 7]),
    ("blur_5tap", lambda x: ops.blur2d(x, [1, 4, 6, 4, 1]), lambda x: official_blur(x, [1, 4, 6, 4, 1]), [1, 2, 6, 6]),
    ("upscale2", lambda x: ops.upscale2d(x), official_upscale, [2, 3, 4, 5]),
    ("upscale3", lambda x: ops.upscale2d(x, 3), lambda x: official_upscale(x, 3), [1, 2, 3, 3]),
    ("downscale2", lambda x: ops.downscale2d(x), official_downscale, [2, 3, 6, 8]),
    ("downscale4", lambda x: ops.downscale2d(x, 4), lambda x: official_downscale(x, 4), [1, 2, 8, 8]),
]
F2D = np.array([[0.1, 0.7, -0.3], [0.5, 1.0, 0.2], [-0.4, 0.3, 0.9]], np.float32)


@pytest.mark.parametrize("name,ours,official,shape", RESAMPLE_CASES, ids=[c[0] for c in RESAMPLE_CASES])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=["f32", "f64"])
def test_resample_matches_official_formulation(name, ours, official, shape, dtype):
    """Values equal the official op; the custom gradients (first and second order) equal autodiff
    of the official op here because, for odd kernels, blur-with-flipped-filter, sum-pool and
    tile/f^2 are the exact adjoints."""
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=shape), dtype)
    tol = 2e-6 if dtype == tf.float32 else 1e-12
    got = grads_1_and_2(ours, x, np.random.default_rng(seed))
    want = grads_1_and_2(official, x, np.random.default_rng(seed))
    for what, a, b in zip(["value", "grad", "grad2"], got, want):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol, err_msg=f"{what} seed={seed}")


def test_blur_even_filter_keeps_official_custom_gradient():
    """With an even-sized filter SAME padding is asymmetric, so the official gradient (blur with
    the flipped filter) is not the exact adjoint; it is reproduced as is."""
    rng, seed = fresh_rng()
    f = [1, 3, 3, 1]
    x = tf.constant(rng.normal(size=[1, 2, 6, 6]), tf.float32)
    dy = tf.constant(rng.normal(size=[1, 2, 6, 6]), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y, y_official = ops.blur2d(x, f), official_blur(x, f)
    np.testing.assert_allclose(y.numpy(), y_official.numpy(), atol=1e-6)
    dx = tape.gradient(y, x, output_gradients=dy)
    np.testing.assert_allclose(dx.numpy(), official_blur(dy, f, flip=True).numpy(), atol=1e-6,
                               err_msg=f"seed={seed}")
    assert np.abs(dx.numpy() - tape.gradient(y_official, x, output_gradients=dy).numpy()).max() > 1e-2


def test_second_order_custom_gradient_is_forward_op():
    """d(dx)/d(dy) contracted with ddx is the forward op applied to ddx (official lambdas)."""
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=[1, 2, 4, 4]), tf.float32)
    for op, official in [(ops.blur2d, official_blur_default), (ops.upscale2d, official_upscale),
                         (ops.downscale2d, official_downscale)]:
        dy = tf.constant(rng.normal(size=op(x).shape), tf.float32)
        ddx = tf.constant(rng.normal(size=x.shape), tf.float32)
        with tf.GradientTape() as outer:
            outer.watch(dy)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = op(x)
            dx = inner.gradient(y, x, output_gradients=dy)
        ddy = outer.gradient(dx, dy, output_gradients=ddx)
        np.testing.assert_allclose(ddy.numpy(), official(ddx).numpy(), atol=1e-6, err_msg=f"seed={seed}")


def official_blur_default(x):
    return official_blur(x, [1, 2, 1])


def test_factor_one_is_identity():
    x = tf.random.normal([1, 2, 3, 3])
    assert ops.upscale2d(x, 1) is x and ops.downscale2d(x, 1) is x


def nhwc_conv(x, w, stride=1):
    y = tf.nn.conv2d(tf.transpose(x, [0, 2, 3, 1]), w, stride, "SAME")
    return tf.transpose(y, [0, 3, 1, 2])


def test_conv2d():
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=[2, 3, 5, 6]), tf.float32)
    w = tf.constant(rng.normal(size=[3, 3, 3, 4]), tf.float32)
    np.testing.assert_allclose(ops.conv2d(x, w).numpy(), nhwc_conv(x, w).numpy(), atol=1e-5, err_msg=f"seed={seed}")
    x64, w64 = tf.cast(x, tf.float64), tf.cast(w, tf.float64)
    np.testing.assert_allclose(ops.conv2d(x64, w64).numpy(), nhwc_conv(x64, w64).numpy(), atol=1e-12)


def summed_kernel_numpy(w):
    p = np.pad(w, [(1, 1), (1, 1), (0, 0), (0, 0)])
    return p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]


def test_fused_upscale_conv():
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=[2, 3, 4, 5]), tf.float32)
    w = rng.normal(size=[3, 3, 3, 6]).astype(np.float32)
    fused = ops.upscale2d_conv2d(x, w, fused=True)
    assert fused.shape == (2, 6, 8, 10)
    kernel = summed_kernel_numpy(w.transpose(0, 1, 3, 2))
    want = tf.nn.conv2d_transpose(tf.transpose(x, [0, 2, 3, 1]), kernel, [2, 8, 10, 6], 2, "SAME")
    np.testing.assert_allclose(fused.numpy(), tf.transpose(want, [0, 3, 1, 2]).numpy(), atol=1e-5,
                               err_msg=f"seed={seed}")
    unfused = ops.upscale2d_conv2d(x, w, fused=False)
    np.testing.assert_allclose(unfused.numpy(), nhwc_conv(official_upscale(x), w).numpy(), atol=1e-5)
    assert np.abs(fused.numpy() - unfused.numpy()).max() > 1e-1  # official quirk: not the same op
    rotated = ops.upscale2d_conv2d(x, w[::-1, ::-1], fused=False)  # ... but the 180-degree rotated one
    np.testing.assert_allclose(fused.numpy(), rotated.numpy(), atol=1e-5)


def test_fused_conv_downscale():
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=[2, 3, 8, 6]), tf.float32)
    w = rng.normal(size=[3, 3, 3, 4]).astype(np.float32)
    fused = ops.conv2d_downscale2d(x, w, fused=True)
    unfused = ops.conv2d_downscale2d(x, w, fused=False)
    assert fused.shape == unfused.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(fused.numpy(), unfused.numpy(), atol=1e-5, err_msg=f"seed={seed}")
    np.testing.assert_allclose(unfused.numpy(), official_downscale(nhwc_conv(x, w)).numpy(), atol=1e-5)
    kernel = summed_kernel_numpy(w) * 0.25
    np.testing.assert_allclose(fused.numpy(), nhwc_conv(x, kernel, 2).numpy(), atol=1e-5)


def test_float16():
    rng, seed = fresh_rng()
    x32 = tf.constant(rng.normal(size=[2, 4, 8, 8]), tf.float32)
    w32 = tf.constant(rng.normal(size=[3, 3, 4, 4]) * 0.2, tf.float32)
    x16, w16 = tf.cast(x32, tf.float16), tf.cast(w32, tf.float16)
    cases = [
        (lambda x, w: ops.blur2d(x)),
        (lambda x, w: ops.upscale2d(x)),
        (lambda x, w: ops.downscale2d(x)),
        (lambda x, w: ops.upfirdn2d(x, [1, 3, 3, 1], up=2, pad=(2, 1))),
        (lambda x, w: ops.conv2d(x, w)),
        (lambda x, w: ops.upscale2d_conv2d(x, w, True)),
        (lambda x, w: ops.upscale2d_conv2d(x, w, False)),
        (lambda x, w: ops.conv2d_downscale2d(x, w, True)),
        (lambda x, w: ops.conv2d_downscale2d(x, w, False)),
    ]
    for i, fn in enumerate(cases):
        with tf.GradientTape() as tape:
            tape.watch(x16)
            y16 = fn(x16, w16)
            loss16 = tf.reduce_sum(tf.cast(y16, tf.float32) ** 2)
        g16 = tape.gradient(loss16, x16)
        with tf.GradientTape() as tape:
            tape.watch(x32)
            y32 = fn(x32, w32)
            loss32 = tf.reduce_sum(y32 ** 2)
        g32 = tape.gradient(loss32, x32)
        assert y16.dtype == tf.float16 and g16.dtype == tf.float16, i
        for a, b in [(y16, y32), (g16, g32)]:  # float16 has ~3 significant digits
            scale = np.abs(b.numpy()).max()
            np.testing.assert_allclose(a.numpy().astype(np.float32) / scale, b.numpy() / scale, atol=3e-3,
                                       err_msg=f"case {i} seed={seed}")


def test_in_xla_context_detection():
    seen = []

    def probe(x):
        seen.append(ufd._in_xla_context())
        return x

    probe(tf.ones([1]))
    tf.function(probe)(tf.ones([1]))
    tf.function(probe, jit_compile=True)(tf.ones([1]))
    assert seen == [False, False, True]


def all_ops(x, w_up, w_down):
    """Every op, with a first- and second-order gradient, for the tf.function / XLA tests."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            outs = [
                ops.upfirdn2d(x, [1.0, 3.0, 3.0, 1.0], up=2, down=1, pad=(2, 1)),
                ops.upfirdn2d(x, np.ones([2, 2]), up=2, pad=(1, 0)),
                ops.upfirdn2d(x, np.full([2, 2], 0.25), down=2),
                ops.upfirdn2d(x, np.arange(6.0).reshape(2, 3), up=(1, 2), down=(2, 1), pad=(0, 1, -1, 2)),
                ops.blur2d(x),
                ops.upscale2d(x),
                ops.downscale2d(x),
                ops.conv2d(x, w_up[:, :, :, :3]),
                ops.upscale2d_conv2d(x, w_up, True),
                ops.upscale2d_conv2d(x, w_up, False),
                ops.conv2d_downscale2d(x, w_down, True),
                ops.conv2d_downscale2d(x, w_down, False),
            ]
            loss = tf.add_n([tf.reduce_sum(tf.sin(o)) for o in outs])
        g = inner.gradient(loss, x)
        r1 = tf.reduce_sum(tf.square(g))
    return outs + [g, outer.gradient(r1, x)]


@pytest.mark.parametrize("jit", [False, True], ids=["tf.function", "xla"])
def test_tf_function_dynamic_batch(jit):
    rng, seed = fresh_rng()
    w_up = tf.constant(rng.normal(size=[3, 3, 3, 4]) * 0.3, tf.float32)
    w_down = tf.constant(rng.normal(size=[3, 3, 3, 5]) * 0.3, tf.float32)
    fn = tf.function(lambda x: all_ops(x, w_up, w_down), jit_compile=jit,
                     input_signature=[tf.TensorSpec([None, 3, 8, 8], tf.float32)])
    for batch in [1, 3]:
        x = tf.constant(rng.normal(size=[batch, 3, 8, 8]), tf.float32)
        eager = all_ops(x, w_up, w_down)
        traced = fn(x)
        assert len(traced) == len(eager)
        for i, (a, b) in enumerate(zip(traced, eager)):
            assert a.shape == b.shape and a.shape[0] == batch, i
            scale = max(1.0, np.abs(b.numpy()).max())
            np.testing.assert_allclose(a.numpy() / scale, b.numpy() / scale, atol=1e-5,
                                       err_msg=f"output {i} seed={seed}")
    out_shapes = [t.shape for t in fn.get_concrete_function().structured_outputs]
    assert all(s[0] is None for s in out_shapes) and all(None not in s[1:] for s in out_shapes)
