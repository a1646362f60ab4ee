"""StyleGAN / Progressive GAN networks: names, parameter counts, shapes and the official semantics."""

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from stylegan_tf import ops
from stylegan_tf.layers import weight_init

from conftest import SMALL, randomize  # noqa: F401  (re-exported for the other network tests)


def count(net):
    return sum(int(np.prod(v.shape)) for v in net.trainables.values())


def nf(stage, fmap_base=8192, fmap_max=512):
    return min(int(fmap_base / 2.0 ** stage), fmap_max)


def expected_g_params(res, channels=3, latent=512, fmap_base=8192, fmap_max=512, mapping_layers=8):
    """Trainable parameters of G_style, counted from the paper's architecture (independent of our code)."""
    f = lambda s: nf(s, fmap_base, fmap_max)
    total = mapping_layers * (latent * latent + latent)
    style = lambda c: latent * 2 * c + 2 * c            # StyleMod weight + bias
    epilogue = lambda c: c + c + style(c)                # Noise/weight + bias + StyleMod
    total += f(1) * 16 + epilogue(f(1))                  # 4x4/Const
    total += 9 * f(1) * f(1) + epilogue(f(1))            # 4x4/Conv
    for r in range(3, int(np.log2(res)) + 1):
        total += 9 * f(r - 2) * f(r - 1) + epilogue(f(r - 1))
        total += 9 * f(r - 1) * f(r - 1) + epilogue(f(r - 1))
    for r in range(2, int(np.log2(res)) + 1):
        total += f(r - 1) * channels + channels          # ToRGB
    return total


def expected_d_params(res, channels=3, fmap_base=8192, fmap_max=512):
    f = lambda s: nf(s, fmap_base, fmap_max)
    total = 0
    for r in range(2, int(np.log2(res)) + 1):
        total += channels * f(r - 1) + f(r - 1)          # FromRGB
    for r in range(3, int(np.log2(res)) + 1):
        total += 9 * f(r - 1) * f(r - 1) + f(r - 1)      # Conv0
        total += 9 * f(r - 1) * f(r - 2) + f(r - 2)      # Conv1_down
    total += 9 * (f(1) + 1) * f(1) + f(1)                # 4x4/Conv (+ minibatch stddev channel)
    total += 16 * f(1) * f(0) + f(0)                     # Dense0
    total += f(0) + 1                                    # Dense1
    return total


def test_official_parameter_totals():
    """The official totals (print_layers of NVlabs/stylegan) at 1024, 512 and 256."""
    official = {1024: (26219627, 23087249), 512: (26179768, 23080225), 256: (26086229, 23052353)}
    for res, (g_total, d_total) in official.items():
        G = tflib.Network("G", func_name="training.networks_stylegan.G_style", num_channels=3, resolution=res)
        D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", num_channels=3, resolution=res)
        assert count(G) == g_total == expected_g_params(res)
        assert count(D) == d_total == expected_d_params(res)
        assert G.output_shape == [None, 3, res, res] and D.input_shape == [None, 3, res, res]


@pytest.mark.parametrize("res", [4, 8, 16, 32, 64, 128])
def test_every_resolution_counts(res):
    G = tflib.Network("G", func_name="G_style", num_channels=3, resolution=res)
    D = tflib.Network("D", func_name="D_basic", num_channels=3, resolution=res)
    assert count(G) == expected_g_params(res)
    assert count(D) == expected_d_params(res)
    num_layers = 2 * int(np.log2(res)) - 2
    assert G.components.synthesis.input_shape == [None, num_layers, 512]
    assert len([n for n in G.vars if n.startswith("G_synthesis/noise")]) == num_layers


@pytest.mark.parametrize("res", [4, 8, 16, 32, 64])
def test_every_resolution_runs(res):
    kw = dict(SMALL, resolution=res)
    G = tflib.Network("G", func_name="G_style", **kw)
    D = tflib.Network("D", func_name="D_basic", **kw)
    z = np.random.RandomState(0).randn(4, 16).astype(np.float32)
    for structure in ("fixed", "linear", "recursive"):
        img = G.run(z, None, structure=structure, randomize_noise=False)
        assert img.shape == (4, 3, res, res) and np.all(np.isfinite(img))
        scores = D.run(img, None, structure=structure)
        assert scores.shape == (4, 1) and np.all(np.isfinite(scores))


def official_synthesis_vars(res, fmap_base, fmap_max, dlatent, channels, structure="linear"):
    """(name, shape) of the official G_synthesis variables in the official template's creation order."""
    f = lambda s: nf(s, fmap_base, fmap_max)
    log2 = int(np.log2(res))
    out = [("lod", [])]
    out += [("noise%d" % i, [1, 1, 2 ** (i // 2 + 2), 2 ** (i // 2 + 2)]) for i in range(2 * log2 - 2)]

    def layer(scope, first, c):
        return [first, (scope + "/Noise/weight", [c]), (scope + "/bias", [c]),
                (scope + "/StyleMod/weight", [dlatent, 2 * c]), (scope + "/StyleMod/bias", [2 * c])]

    def torgb(r):
        if structure == "fixed" and r != log2:
            return []
        return [("ToRGB_lod%d/weight" % (log2 - r), [1, 1, f(r - 1), channels]),
                ("ToRGB_lod%d/bias" % (log2 - r), [channels])]
    out += layer("4x4/Const", ("4x4/Const/const", [1, f(1), 4, 4]), f(1))
    out += layer("4x4/Conv", ("4x4/Conv/weight", [3, 3, f(1), f(1)]), f(1)) + torgb(2)
    for r in range(3, log2 + 1):
        s = "%dx%d" % (2 ** r, 2 ** r)
        out += layer(s + "/Conv0_up", (s + "/Conv0_up/weight", [3, 3, f(r - 2), f(r - 1)]), f(r - 1))
        out += layer(s + "/Conv1", (s + "/Conv1/weight", [3, 3, f(r - 1), f(r - 1)]), f(r - 1)) + torgb(r)
    return out


def official_mapping_vars(layers, latent, fmaps, dlatent, label_size=0):
    out = [("LabelConcat/weight", [label_size, latent])] if label_size else []
    fan_in = latent * 2 if label_size else latent
    for i in range(layers):
        o = dlatent if i == layers - 1 else fmaps
        out += [("Dense%d/weight" % i, [fan_in, o]), ("Dense%d/bias" % i, [o])]
        fan_in = o
    return out


def official_d_vars(res, fmap_base, fmap_max, channels, label_size=0, structure="linear"):
    f = lambda s: nf(s, fmap_base, fmap_max)
    log2 = int(np.log2(res))
    out = [("lod", [])]
    for r in range(log2, 2, -1):
        lod = log2 - r
        if structure != "fixed" or lod == 0:
            out += [("FromRGB_lod%d/weight" % lod, [1, 1, channels, f(r - 1)]),
                    ("FromRGB_lod%d/bias" % lod, [f(r - 1)])]
        s = "%dx%d" % (2 ** r, 2 ** r)
        out += [(s + "/Conv0/weight", [3, 3, f(r - 1), f(r - 1)]), (s + "/Conv0/bias", [f(r - 1)]),
                (s + "/Conv1_down/weight", [3, 3, f(r - 1), f(r - 2)]), (s + "/Conv1_down/bias", [f(r - 2)])]
    if structure != "fixed":
        out += [("FromRGB_lod%d/weight" % (log2 - 2), [1, 1, channels, f(1)]),
                ("FromRGB_lod%d/bias" % (log2 - 2), [f(1)])]
    out += [("4x4/Conv/weight", [3, 3, f(1) + 1, f(1)]), ("4x4/Conv/bias", [f(1)]),
            ("4x4/Dense0/weight", [16 * f(1), f(0)]), ("4x4/Dense0/bias", [f(0)]),
            ("4x4/Dense1/weight", [f(0), max(label_size, 1)]), ("4x4/Dense1/bias", [max(label_size, 1)])]
    return out


def test_official_variable_names_and_shapes():
    G = tflib.Network("G", func_name="G_style", label_size=5, **SMALL)
    D = tflib.Network("D", func_name="D_basic", label_size=5, **SMALL)
    shapes = lambda vs: [(n, list(v.shape)) for n, v in vs.items()]  # names, shapes and creation order
    assert shapes(G.components.synthesis.vars) == official_synthesis_vars(32, 128, 32, 16, 3)
    assert shapes(G.components.mapping.vars) == official_mapping_vars(2, 16, 16, 16, label_size=5)
    assert shapes(G.own_vars) == [("lod", []), ("dlatent_avg", [16])]
    assert "G_synthesis/4x4/Const/const" in G.vars and "G_mapping/Dense0/weight" in G.trainables
    assert "G_synthesis/noise0" not in G.trainables and "lod" not in G.trainables
    assert shapes(D.vars) == official_d_vars(32, 128, 32, 3, label_size=5)
    # A static structure='fixed' builds only the full-resolution ToRGB / FromRGB, as the official template.
    Gf = tflib.Network("G", func_name="G_style", structure="fixed", **SMALL)
    Df = tflib.Network("D", func_name="D_basic", structure="fixed", **SMALL)
    assert shapes(Gf.components.synthesis.vars) == official_synthesis_vars(32, 128, 32, 16, 3, structure="fixed")
    assert shapes(Df.vars) == official_d_vars(32, 128, 32, 3, structure="fixed")
    z = np.random.RandomState(0).randn(2, 16).astype(np.float32)
    assert Df.run(Gf.run(z, None), None).shape == (2, 1)


def test_equalized_learning_rate():
    std, coef = weight_init([3, 3, 64, 32], gain=np.sqrt(2), use_wscale=True, lrmul=1)
    assert std == 1.0 and np.isclose(coef, np.sqrt(2) / np.sqrt(3 * 3 * 64))
    std, coef = weight_init([512, 512], gain=np.sqrt(2), use_wscale=True, lrmul=0.01)
    assert np.isclose(std, 100.0) and np.isclose(coef, np.sqrt(2) / np.sqrt(512) * 0.01)
    std, coef = weight_init([512, 512], gain=np.sqrt(2), use_wscale=False, lrmul=0.5)
    assert np.isclose(std, np.sqrt(2) / np.sqrt(512) / 0.5) and coef == 0.5
    # The mapping network's stored weights are N(0, 1/lrmul) and its output uses weight*coef + bias*lrmul.
    M = tflib.Network("M", func_name="G_mapping", latent_size=64, dlatent_size=64, mapping_fmaps=64,
                      mapping_layers=1, mapping_nonlinearity="relu", normalize_latents=False)
    w = M.get_var("Dense0/weight")
    assert 80 < w.std() < 120
    M.set_var("Dense0/bias", np.arange(64, dtype=np.float32))
    x = np.random.RandomState(1).randn(3, 64).astype(np.float32)
    expected = np.maximum(x @ (w * np.sqrt(2) / 8 * 0.01) + np.arange(64) * 0.01, 0)
    np.testing.assert_allclose(M.run(x, None), expected, rtol=1e-5, atol=1e-5)


def test_truncation():
    G = tflib.Network("G", func_name="G_style", **SMALL)
    randomize(G)
    z = np.random.RandomState(2).randn(3, 16).astype(np.float32)
    mapping, synthesis = G.components.mapping, G.components.synthesis
    w = mapping.run(z, None)
    avg = G.get_var("dlatent_avg")
    for psi, cutoff in [(0.7, 8), (0.5, 2), (-0.5, 4)]:
        coefs = np.where(np.arange(w.shape[1]) < cutoff, psi, 1.0)[None, :, None]
        expected = synthesis.run(avg + (w - avg) * coefs, randomize_noise=False)
        out = G.run(z, None, truncation_psi=psi, truncation_cutoff=cutoff, randomize_noise=False)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    plain = synthesis.run(w, randomize_noise=False)
    np.testing.assert_allclose(G.run(z, None, truncation_psi=1, randomize_noise=False), plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(G.run(z, None, is_validation=True, randomize_noise=False), plain, rtol=1e-5, atol=1e-5)
    # Default run() truncates with psi 0.7, cutoff 8, as the official G_style.
    coefs = np.where(np.arange(w.shape[1]) < 8, 0.7, 1.0)[None, :, None]
    np.testing.assert_allclose(G.run(z, None, randomize_noise=False),
                               synthesis.run(avg + (w - avg) * coefs, randomize_noise=False), rtol=1e-5, atol=1e-5)


def test_dlatent_avg_tracking_and_style_mixing():
    G = tflib.Network("G", func_name="G_style", **SMALL)
    z = tf.constant(np.random.RandomState(3).randn(4, 16).astype(np.float32))
    w = G.components.mapping.run(z.numpy(), None)
    G.get_output_for(z, None, is_training=True, style_mixing_prob=None)
    np.testing.assert_allclose(G.get_var("dlatent_avg"), 0.005 * w[:, 0].mean(axis=0), rtol=1e-4, atol=1e-7)
    # Without mixing, training output = plain synthesis of mapped latents (same fixed noise).
    out = G.get_output_for(z, None, is_training=True, style_mixing_prob=None, randomize_noise=False).numpy()
    np.testing.assert_allclose(out, G.components.synthesis.run(w, randomize_noise=False), rtol=1e-5, atol=1e-5)
    # With mixing probability 1, some layers take styles from other latents: the output changes.
    mixed = G.get_output_for(z, None, is_training=True, style_mixing_prob=1.0, randomize_noise=False).numpy()
    assert np.abs(mixed - out).max() > 1e-3
    # Training mode ignores truncation.
    no_trunc = G.get_output_for(z, None, is_training=True, style_mixing_prob=None, randomize_noise=False,
                                truncation_psi=0.0).numpy()
    np.testing.assert_allclose(no_trunc, out, rtol=1e-5, atol=1e-5)


def test_noise_determinism():
    G = tflib.Network("G", func_name="G_style", **SMALL)
    randomize(G)
    z = np.random.RandomState(4).randn(2, 16).astype(np.float32)
    a = G.run(z, None, randomize_noise=False)
    b = G.run(z, None, randomize_noise=False)
    c = G.run(z, None, randomize_noise=True)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4
    G.set_var("G_synthesis/noise5", np.zeros([1, 1, 16, 16], np.float32))
    assert np.abs(G.run(z, None, randomize_noise=False) - a).max() > 1e-4


@pytest.mark.parametrize("func", ["G_style", "G_paper"])
def test_generator_lod_blending(func):
    kw = dict(SMALL) if func == "G_style" else dict(SMALL, latent_size=None)
    G = tflib.Network("G", func_name=func, **kw)
    randomize(G)
    z = np.random.RandomState(5).randn(2, G.input_shape[1]).astype(np.float32)
    run = lambda **k: G.run(z, None, randomize_noise=False, truncation_psi=1, **k) if func == "G_style" \
        else G.run(z, None, **k)
    G.set_var("lod", 0.0)
    np.testing.assert_allclose(run(structure="fixed"), run(structure="recursive"), rtol=1e-5, atol=1e-5)
    for lod in [0.5, 1.0, 1.3, 2.0, 2.7]:
        G.set_var("lod", lod)
        lin, rec = run(structure="linear"), run(structure="recursive")
        np.testing.assert_allclose(lin, rec, rtol=1e-5, atol=2e-5)
        if lod == int(lod):  # whole lod: nearest-neighbour upsampled low-resolution image
            f = 2 ** int(lod)
            blocks = rec.reshape(2, 3, 32 // f, f, 32 // f, f)
            assert np.abs(blocks - blocks[:, :, :, :1, :, :1]).max() < 1e-6
    # Fractional lod lies between the two neighbouring levels.
    G.set_var("lod", 1.0)
    lo = run(structure="recursive")
    G.set_var("lod", 0.0)
    hi = run(structure="recursive")
    G.set_var("lod", 0.25)
    mid = run(structure="recursive")
    np.testing.assert_allclose(mid, hi + (lo - hi) * 0.25, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("func", ["D_basic", "D_paper"])
def test_discriminator_lod(func):
    D = tflib.Network("D", func_name=func, **SMALL)
    randomize(D)
    x = np.random.RandomState(6).randn(4, 3, 32, 32).astype(np.float32)
    for lod in [0.0, 0.5, 1.0, 1.7, 3.0]:
        D.set_var("lod", lod)
        np.testing.assert_allclose(D.run(x, None, structure="linear"), D.run(x, None, structure="recursive"),
                                   rtol=1e-5, atol=1e-5)
    # At lod 1, D sees only the 2x box-downsampled image.
    D.set_var("lod", 1.0)
    blurred = ops.upscale2d(ops.downscale2d(tf.constant(x))).numpy()
    np.testing.assert_allclose(D.run(x, None), D.run(blurred, None), rtol=1e-5, atol=1e-5)


def test_fused_scale():
    """G's fused up-conv (transposed conv) differs from upscale+conv; D's fused down-conv does not."""
    kw = dict(SMALL, resolution=16)
    G = tflib.Network("G", func_name="G_style", **kw)
    randomize(G)
    z = np.random.RandomState(7).randn(2, 16).astype(np.float32)
    fused = G.run(z, None, randomize_noise=False, fused_scale=True)
    unfused = G.run(z, None, randomize_noise=False, fused_scale=False)
    assert np.abs(fused - unfused).max() > 1e-2
    np.testing.assert_array_equal(G.run(z, None, randomize_noise=False, fused_scale="auto"), unfused)
    D = tflib.Network("D", func_name="D_basic", **kw)
    randomize(D)
    x = np.random.RandomState(8).randn(4, 3, 16, 16).astype(np.float32)
    np.testing.assert_allclose(D.run(x, None, fused_scale=True), D.run(x, None, fused_scale=False),
                               rtol=1e-4, atol=1e-4)


def test_labels():
    G = tflib.Network("G", func_name="G_style", label_size=4, **SMALL)
    D = tflib.Network("D", func_name="D_basic", label_size=4, **SMALL)
    randomize(D)
    z = np.random.RandomState(9).randn(4, 16).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)
    img = G.run(z, labels, randomize_noise=False)
    assert np.abs(img - G.run(z, labels[::-1], randomize_noise=False)).max() > 1e-4
    scores = D.run(img, labels)
    per_label = D.run(img, np.ones_like(labels), structure="linear")
    assert scores.shape == (4, 1)
    assert np.all(np.isfinite(per_label))


def test_progan_networks():
    G = tflib.Network("G", func_name="training.networks_progan.G_paper", num_channels=3, resolution=1024)
    D = tflib.Network("D", func_name="training.networks_progan.D_paper", num_channels=3, resolution=1024)
    f = nf
    g_total = 512 * f(1) * 16 + f(1) + 9 * f(1) * f(1) + f(1)
    d_total = expected_d_params(1024)
    for r in range(3, 11):
        g_total += 9 * f(r - 2) * f(r - 1) + f(r - 1) + 9 * f(r - 1) * f(r - 1) + f(r - 1)
    for r in range(2, 11):
        g_total += f(r - 1) * 3 + 3
    assert count(G) == g_total and count(D) == d_total
    assert "8x8/Conv0_up/weight" in G.vars and "4x4/Dense/weight" in G.vars and "4x4/Dense/bias" in G.vars
    assert G.vars["4x4/Dense/bias"].shape == (f(1),)
    Gu = tflib.Network("G", func_name="G_paper", fused_scale=False, **SMALL)
    assert "8x8/Conv0/weight" in Gu.vars and "8x8/Conv0_up/weight" not in Gu.vars
    Du = tflib.Network("D", func_name="D_paper", fused_scale=False, **SMALL)
    assert "8x8/Conv1/weight" in Du.vars


def test_mixed_precision_and_xla():
    G = tflib.Network("G", func_name="G_style", **SMALL)
    D = tflib.Network("D", func_name="D_basic", **SMALL)
    z = tf.constant(np.random.RandomState(10).randn(4, 16).astype(np.float32))
    ref = G.get_output_for(z, None, randomize_noise=False)
    half = G.get_output_for(z, None, randomize_noise=False, dtype="float16")
    assert half.dtype == tf.float16
    np.testing.assert_allclose(half.numpy().astype(np.float32), ref.numpy(), atol=0.05 * np.abs(ref).max())
    assert D.get_output_for(half, None, dtype="float16").dtype == tf.float16
    xla = tf.function(lambda z: D.get_output_for(G.get_output_for(z, None, randomize_noise=False), None,
                                                 structure="fixed"), jit_compile=True)
    np.testing.assert_allclose(xla(z).numpy(), D.run(ref.numpy(), None), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("structure,res", [("linear", 32), ("recursive", 8)])
def test_r1_second_order_gradients(structure, res):
    """R1 differentiates D's input gradient w.r.t. D's weights: second order through every op."""
    D = tflib.Network("D", func_name="D_basic", **dict(SMALL, resolution=res))
    D.set_var("lod", 0.5)
    x = tf.constant(np.random.RandomState(11).randn(4, 3, res, res).astype(np.float32))
    variables = list(D.trainables.values())

    @tf.function
    def r1(x):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                scores = tf.reduce_sum(D.get_output_for(x, None, structure=structure))
            g = inner.gradient(scores, x)
            penalty = tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=[1, 2, 3]))
        return penalty, outer.gradient(penalty, variables)

    penalty, grads = r1(x)
    assert np.isfinite(penalty.numpy()) and penalty.numpy() > 0
    names = list(D.trainables)
    # Biases after the last smooth op (minibatch stddev's sqrt) only move leaky-ReLU masks: no gradient.
    assert [n for n, g in zip(names, grads) if g is None] == ["4x4/Conv/bias", "4x4/Dense0/bias", "4x4/Dense1/bias"]
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)
    assert float(tf.reduce_sum(tf.abs(grads[names.index("FromRGB_lod0/weight")]))) > 0


@pytest.mark.parametrize("gfunc,dfunc", [("G_style", "D_basic"), ("G_paper", "D_paper")])
def test_phase_structure_equals_recursive(gfunc, dfunc):
    """'phase' (ours, for training) builds only the levels of one lod range and gives the same numbers."""
    kw = dict(SMALL) if gfunc == "G_style" else dict(SMALL, latent_size=None)
    G = tflib.Network("G", func_name=gfunc, **kw)
    D = tflib.Network("D", func_name=dfunc, **kw)
    randomize(G)
    randomize(D)
    z = np.random.RandomState(12).randn(4, G.input_shape[1]).astype(np.float32)
    x = np.random.RandomState(13).randn(4, 3, 32, 32).astype(np.float32)
    gk = dict(randomize_noise=False, truncation_psi=1) if gfunc == "G_style" else {}
    for lod in [0.0, 0.4, 1.0, 2.5]:
        G.set_var("lod", lod)
        D.set_var("lod", lod)
        lo = int(np.floor(lod))
        rec = G.run(z, None, structure="recursive", **gk)
        np.testing.assert_allclose(G.run(z, None, structure="phase", phase_lod=lo, **gk), rec, rtol=1e-5, atol=1e-5)
        native = G.run(z, None, structure="phase", phase_lod=lo, phase_native=True, **gk)
        assert native.shape == (4, 3, 32 >> lo, 32 >> lo)
        np.testing.assert_allclose(ops.upscale2d(tf.constant(native), 2 ** lo).numpy(), rec, rtol=1e-5, atol=1e-5)
        d_rec = D.run(x, None, structure="recursive")
        np.testing.assert_allclose(D.run(x, None, structure="phase", phase_lod=lo), d_rec, rtol=1e-5, atol=1e-5)
        small = ops.downscale2d(tf.constant(x), 2 ** lo).numpy()
        native_scores = D.get_output_for(tf.constant(small), None, structure="phase", phase_lod=lo, phase_native=True)
        np.testing.assert_allclose(native_scores.numpy(), d_rec, rtol=1e-5, atol=1e-5)
        if lod == lo:  # 'phase_stable' leaves out the zero-weight cross-fade: bit-identical results
            np.testing.assert_array_equal(
                G.run(z, None, structure="phase", phase_lod=lo, phase_stable=True, **gk),
                G.run(z, None, structure="phase", phase_lod=lo, **gk))
            np.testing.assert_array_equal(D.run(x, None, structure="phase", phase_lod=lo, phase_stable=True),
                                          D.run(x, None, structure="phase", phase_lod=lo))
