"""Tests for upfirdn2d impl='custom' (the compiled op in stylegan_tf/ops/custom/) and for the
impl selection. Tests that need the op skip cleanly when it cannot be built here (no compiler);
the op is built at most once per machine (user cache, see stylegan_tf/ops/custom/__init__.py)."""

import os
import shutil
import subprocess
import warnings
from importlib import import_module

import numpy as np
import pytest
import tensorflow as tf

from stylegan_tf import ops
from test_ops import fresh_rng, random_config, upfirdn2d_numpy

ufd = import_module("stylegan_tf.ops.upfirdn2d")
custom = import_module("stylegan_tf.ops.custom")


@pytest.fixture(scope="module")
def lib():
    cfg = custom.build_config()
    if not cfg["cxx_path"]:
        pytest.skip(f"no C++ compiler ({cfg['cxx']!r}) to build the custom op")
    module = custom.load_upfirdn2d()
    assert module is not None, custom._state["error"]  # a compiler is present: the build must work
    return module


def run_custom(x, k, up, down, pad):
    return ops.upfirdn2d(x, k, up, down, pad, impl="custom")


def test_parity_with_ref_and_numpy(lib):
    rng, seed = fresh_rng()
    for _ in range(60):
        shape, k, up, down, pad = random_config(rng)
        if rng.random() < 0.3:  # rank-1 2-D kernels take the separable path
            k = np.outer(rng.normal(size=[int(rng.integers(1, 5))]), rng.normal(size=[int(rng.integers(1, 5))]))
            shape[2:] = [6, 6]
        x = rng.normal(size=shape).astype(np.float32)
        msg = f"seed={seed} shape={shape} k={k.shape} up={up} down={down} pad={pad}"
        want = upfirdn2d_numpy(x, k, up, down, pad)
        got = run_custom(tf.constant(x), k, up, down, pad).numpy()
        ref = ops.upfirdn2d(tf.constant(x), k, up, down, pad, impl="ref").numpy()
        assert got.shape == want.shape == ref.shape, msg
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(got / scale, want / scale, atol=2e-6, err_msg=msg)
        np.testing.assert_allclose(got / scale, ref / scale, atol=2e-6, err_msg=msg)


def test_larger_planes_and_stylegan_cases(lib):
    """Rows long enough for the fused/vectorised loops, the StyleGAN kernels, float16."""
    rng, seed = fresh_rng()
    cases = [  # (kernel, up, down, pad, H, W)
        (np.outer([1, 2, 1], [1, 2, 1]) / 16, 1, 1, (1, 1), 37, 45),
        (np.array([1.0, 3.0, 3.0, 1.0]), 2, 1, (2, 1), 19, 33),
        (np.array([1.0, 3.0, 3.0, 1.0]), 1, 2, (1, 1), 40, 35),
        (np.ones([2, 2]), 2, 1, (1, 0), 20, 40),
        (np.full([2, 2], 0.25), 1, 2, (0, 0), 41, 64),
        (rng.normal(size=[3, 5]), (2, 1), (1, 3), (0, 2, -1, 3), 24, 50),
        (rng.normal(size=[7]), 1, 1, (3, 3), 20, 70),
    ]
    for k, up, down, pad, h, w in cases:
        x = rng.normal(size=[2, 3, h, w]).astype(np.float32)
        want = upfirdn2d_numpy(x, k, up, down, pad)
        msg = f"seed={seed} k={np.shape(k)} up={up} down={down} pad={pad}"
        scale = max(1.0, np.abs(want).max())
        got = run_custom(tf.constant(x), k, up, down, pad).numpy()
        np.testing.assert_allclose(got / scale, want / scale, atol=2e-6, err_msg=msg)
        got16 = run_custom(tf.constant(x, tf.float16), k, up, down, pad)
        assert got16.dtype == tf.float16, msg
        np.testing.assert_allclose(got16.numpy().astype(np.float32) / scale, want / scale, atol=4e-3, err_msg=msg)


GRAD_CASES = [  # (kernel, up, down, pad)
    (np.array([1.0, 3.0, -2.0]), 2, 1, (1, 2)),
    (np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]]), 1, 2, (2, 1, 0, 1)),
    (np.array([0.5, 1.5, 1.0, -1.0]), (2, 1), (1, 3), (-1, 2, 3, 0)),
    (np.outer([1, 2, 1], [1, 2, 1]) / 16, 1, 1, (1, 1)),
    (np.ones([2, 2]), 2, 1, (1, 0)),
    (np.full([2, 2], 0.25), 1, 2, (0, 0)),
]


def grads(impl, x, k, up, down, pad, u, v):
    """y, dL/dx for L = sum(u * sin(y)), and the gradient of sum(v * dL/dx) (R1-style)."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = ops.upfirdn2d(x, k, up, down, pad, impl=impl)
            loss = tf.reduce_sum(u * tf.sin(y))
        g1 = inner.gradient(loss, x)
        loss2 = tf.reduce_sum(v * g1)
    return y, g1, outer.gradient(loss2, x)


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "tf.function"])
def test_first_and_second_order_gradients_match_ref(lib, traced):
    rng, seed = fresh_rng()
    for k, up, down, pad in GRAD_CASES:
        x = tf.constant(rng.normal(size=[2, 3, 7, 9]), tf.float32)
        y_shape = ops.upfirdn2d(x, k, up, down, pad, impl="ref").shape
        u = tf.constant(rng.normal(size=y_shape), tf.float32)
        v = tf.constant(rng.normal(size=x.shape), tf.float32)
        fn = (lambda impl: tf.function(lambda x: grads(impl, x, k, up, down, pad, u, v))) if traced else \
            (lambda impl: lambda x: grads(impl, x, k, up, down, pad, u, v))
        got, want = fn("custom")(x), fn("ref")(x)
        for what, a, b in zip(["y", "grad", "grad2"], got, want):
            scale = max(1.0, np.abs(b.numpy()).max())
            np.testing.assert_allclose(a.numpy() / scale, b.numpy() / scale, atol=1e-5,
                                       err_msg=f"{what} seed={seed} k={np.shape(k)} up={up} down={down}")
        assert np.abs(got[2].numpy()).max() > 1e-3  # not vacuous


def test_custom_op_is_used_and_dynamic_batch(lib):
    fn = tf.function(lambda x: ops.upfirdn2d(x, [1.0, 2.0, 1.0], up=2, pad=(1, 1), impl="custom"),
                     input_signature=[tf.TensorSpec([None, 2, 5, 6], tf.float32)])
    graph = fn.get_concrete_function().graph
    assert ufd.CUSTOM_OP_TYPE in {op.type for op in graph.get_operations()}
    out = fn.get_concrete_function().structured_outputs
    assert out.shape.as_list() == [None, 2, 10, 12]
    for n in [1, 3]:
        x = np.random.default_rng().normal(size=[n, 2, 5, 6]).astype(np.float32)
        np.testing.assert_allclose(fn(x).numpy(), upfirdn2d_numpy(x, [1.0, 2.0, 1.0], 2, 1, (1, 1)), atol=1e-5)


def test_resample_ops_with_custom(lib, monkeypatch):
    """blur2d / upscale2d / downscale2d (official custom gradients) agree across impls."""
    rng, seed = fresh_rng()
    x = tf.constant(rng.normal(size=[2, 3, 8, 8]), tf.float32)
    for op in [ops.blur2d, ops.upscale2d, ops.downscale2d]:
        results = {}
        for impl in ["ref", "custom"]:
            monkeypatch.setenv(ufd.IMPL_ENV_VAR, impl)
            with tf.GradientTape() as outer:
                outer.watch(x)
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    y = op(x)
                    loss = tf.reduce_sum(tf.sin(y))
                g = inner.gradient(loss, x)
                r1 = tf.reduce_sum(g * g)
            results[impl] = (y, g, outer.gradient(r1, x))
        for a, b in zip(results["custom"], results["ref"]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=f"{op.__name__} seed={seed}")


def test_auto_and_xla_selection(lib, monkeypatch):
    monkeypatch.delenv(ufd.IMPL_ENV_VAR, raising=False)
    x = tf.zeros([1, 2, 64, 64])
    k, one = np.ones([3]), (1, 1)
    assert ufd._resolve_impl("ref", x, k, one, one) == "ref"
    assert ufd._resolve_impl("custom", x, k, one, one) == "custom"
    assert ufd._resolve_impl(None, x, k, one, one) == ufd._resolve_impl("auto", x, k, one, one)
    monkeypatch.setenv(ufd.IMPL_ENV_VAR, "ref")
    assert ufd._resolve_impl(None, x, k, one, one) == "ref"
    monkeypatch.setenv(ufd.IMPL_ENV_VAR, "custom")
    assert ufd._resolve_impl(None, x, k, one, one) == "custom"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the once-per-cause fallback warning
        assert ufd._resolve_impl("custom", tf.zeros([1, 2, 64, 64], tf.float64), k, one, one) == "ref"
    with pytest.raises(ValueError):
        ufd._resolve_impl("cuda", x, k, one, one)
    # Under XLA: 'auto' and even a forced 'custom' run 'ref' (custom ops are not XLA-compilable).
    seen = []

    def probe(x):
        seen.append(ufd._resolve_impl("custom", x, k, one, one))
        seen.append(ufd._resolve_impl("auto", x, k, one, one))
        return ops.upfirdn2d(x, k, pad=(1, 1), impl="custom")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = tf.function(probe, jit_compile=True)(x)
    assert seen == ["ref", "ref"]
    np.testing.assert_array_equal(y.numpy(), 0)


def test_cache_reuse_does_not_rebuild(lib, monkeypatch):
    path = custom._state["path"]
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: calls.append(a) or pytest.fail("rebuilt"))
    again, built = custom.build()
    assert again == path and not built and not calls


def test_cache_key_tracks_tf_version_and_sources():
    cfg = custom.build_config()
    key = custom.build_key(cfg, custom.source_hash())
    assert key.startswith(f"tf{cfg['tf_version']}-")
    assert custom.build_key(dict(cfg, tf_version="0.0.0"), custom.source_hash()) != key
    assert custom.build_key(cfg, "0" * 64) != key
    assert custom.build_key(dict(cfg), custom.source_hash()) == key


def test_missing_compiler_falls_back_with_one_warning(monkeypatch, tmp_path):
    """Simulated: the compiler env var points at nothing and the cache is empty."""
    monkeypatch.setenv(custom.CXX_ENV, str(tmp_path / "no-such-g++"))
    monkeypatch.setenv(custom.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(custom, "_state", {"done": False, "module": None, "error": None, "path": None})
    monkeypatch.delenv(ufd.IMPL_ENV_VAR, raising=False)
    x = tf.constant(np.random.default_rng().normal(size=[1, 2, 5, 5]), tf.float32)
    want = ops.upfirdn2d(x, [1.0, 2.0, 1.0], pad=(1, 1), impl="ref").numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for impl in ["custom", "custom", "auto", None]:
            got = ops.upfirdn2d(x, [1.0, 2.0, 1.0], pad=(1, 1), impl=impl)
            np.testing.assert_array_equal(got.numpy(), want)
    messages = [str(w.message) for w in caught if "compiled upfirdn2d" in str(w.message)]
    assert len(messages) == 1, messages
    assert "no C++ compiler" in messages[0] and "no-such-g++" in messages[0]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.so"))


def test_compile_error_is_reported(monkeypatch, tmp_path):
    """A compiler that fails: BuildError naming the compiler and its output, no library cached."""
    fake = tmp_path / "bad-cxx"
    fake.write_text("#!/bin/sh\necho 'fatal error: simulated failure' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(custom.CXX_ENV, str(fake))
    with pytest.raises(custom.BuildError, match="simulated failure"):
        custom.build(root=str(tmp_path / "cache"))
    assert not any((tmp_path / "cache").rglob("*.so"))


def test_cuda_kernel_only_with_nvcc_cuda_tf_and_gpu(monkeypatch):
    """The CUDA kernel is compiled in only when nvcc, a CUDA build of TF and a GPU are all present."""
    monkeypatch.setenv(custom.CUDA_ENV, "0")
    assert custom.build_config()["nvcc"] is None
    monkeypatch.delenv(custom.CUDA_ENV)
    monkeypatch.setenv(custom.NVCC_ENV, "/nonexistent/nvcc")
    assert custom.build_config()["nvcc"] is None
    monkeypatch.delenv(custom.NVCC_ENV)
    if not tf.config.list_physical_devices("GPU"):
        assert custom.build_config()["nvcc"] is None  # CPU-only machine: CUDA skipped cleanly


def test_auto_table_cases_and_thresholds(lib, monkeypatch):
    monkeypatch.delenv(ufd.IMPL_ENV_VAR, raising=False)
    pads = ufd._parse_padding
    assert ufd._case(np.ones([2, 2]), (2, 2), (1, 1), pads((1, 0))) == "nearest"  # upscale2d
    assert ufd._case(np.full([2, 2], 0.25), (1, 1), (2, 2), pads(0)) == "box"  # downscale2d
    assert ufd._case(np.ones([3, 3]), (1, 1), (1, 1), pads(1)) == "filter"  # blur2d
    assert ufd._case(np.array([1.0, 3.0, 3.0, 1.0]), (2, 2), (1, 1), pads((2, 1))) == "up"
    assert ufd._case(np.array([1.0, 3.0, 3.0, 1.0]), (1, 1), (2, 2), pads(1)) == "down"
    assert ufd._case(np.ones([2]), (2, 2), (2, 2), pads(0)) == "updown"
    monkeypatch.setattr(ufd, "AUTO_TABLE", {("CPU", "filter"): 32 * 32})
    k, one, p = np.ones([3]), (1, 1), pads(1)
    assert ufd._resolve_impl("auto", tf.zeros([1, 1, 32, 32]), k, one, one, p) == "custom"
    assert ufd._resolve_impl("auto", tf.zeros([1, 1, 16, 16]), k, one, one, p) == "ref"
    assert ufd._resolve_impl("auto", tf.zeros([1, 1, 32, 32]), k, (2, 2), one, p) == "ref"  # 'up': not listed
    assert ufd._resolve_impl("custom", tf.zeros([1, 1, 8, 8]), k, (2, 2), one, p) == "custom"


def test_unwritable_cache_falls_back(monkeypatch, tmp_path):
    """Any failure while building (here: the cache path is a file) is one warning, not an error."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(custom.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(custom, "_state", {"done": False, "module": None, "error": None, "path": None})
    with pytest.warns(RuntimeWarning, match="compiled upfirdn2d op is unavailable"):
        assert custom.load_upfirdn2d() is None
    assert custom.load_upfirdn2d() is None  # no second warning, no retry


def test_first_build_is_announced_in_one_line(monkeypatch, tmp_path, capsys):
    """The first use compiles for ~10 s: say so once, on stderr; a cached build says nothing."""
    cfg = custom.build_config()
    if not cfg["cxx_path"]:
        pytest.skip("no C++ compiler")

    def fake_compile(config, tmp):
        open(os.path.join(tmp, custom.LIB_NAME), "wb").close()

    monkeypatch.setattr(custom, "_compile", fake_compile)
    path, built = custom.build(root=str(tmp_path))
    err = capsys.readouterr().err
    assert built and os.path.exists(path)
    assert err.count("\n") == 1 and "compiling upfirdn2d for this TensorFlow, once" in err
    assert custom.build(root=str(tmp_path)) == (path, False)
    assert capsys.readouterr().err == ""
