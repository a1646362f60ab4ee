"""The dnnlib.tflib.Network API: run, get_output_for, variables, clone/convert, moving average, print_layers."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import dnnlib.tflib as tflib

from conftest import SMALL, randomize


@pytest.fixture(scope="module")
def G():
    net = tflib.Network("G", func_name="G_style", **SMALL)
    randomize(net)
    return net


def test_run_minibatches_transforms_and_none_inputs(G):
    z = np.random.RandomState(0).randn(7, 16).astype(np.float32)
    full = G.run(z, None, randomize_noise=False)
    # Other batch sizes are other convolution calls (kernels block by batch differently; without oneDNN, e.g. on
    # AVX2-only CPUs, Eigen's NHWC kernels differ by up to ~3e-6 here): equal within float32 rounding, not bits.
    np.testing.assert_allclose(G.run(z, None, randomize_noise=False, minibatch_size=3), full, rtol=1e-5, atol=1e-5)
    u8 = G.run(z, None, randomize_noise=False, output_transform=dict(func=tflib.convert_images_to_uint8,
                                                                     nchw_to_nhwc=True))
    assert u8.dtype == np.uint8 and u8.shape == (7, 32, 32, 3)
    expected = np.clip(np.round(full * 127.5 + 127.5), 0, 255).transpose(0, 2, 3, 1)
    assert np.abs(u8.astype(int) - expected).max() <= 1
    legacy = G.run(z, None, randomize_noise=False, out_mul=127.5, out_add=127.5, out_dtype=np.uint8)
    assert np.abs(legacy.astype(int) - u8.transpose(0, 3, 1, 2)).max() <= 1
    both = G.run(z, None, randomize_noise=False, return_as_list=True)
    assert isinstance(both, list) and len(both) == 1
    with pytest.raises(ValueError, match="takes 2 inputs"):
        G.run(z, randomize_noise=False)


def test_get_output_for_inside_tf_function(G):
    z = np.random.RandomState(1).randn(3, 16).astype(np.float32)

    @tf.function
    def f(z):
        return G.get_output_for(z, None, randomize_noise=False, truncation_psi=0.5)
    np.testing.assert_allclose(f(tf.constant(z)).numpy(), G.run(z, None, randomize_noise=False, truncation_psi=0.5),
                               rtol=1e-5, atol=1e-5)


def test_variable_access(G):
    assert G.find_var("G_mapping/Dense0/weight") is G.components.mapping.find_var("Dense0/weight")
    assert G.get_var_local_name(G.components.synthesis.find_var("lod")) == "G_synthesis/lod"
    G.set_var("dlatent_avg", np.full([16], 0.25, np.float32))
    assert np.all(G.get_var("dlatent_avg") == 0.25)
    with pytest.raises(ValueError, match="shape"):
        G.set_var("dlatent_avg", np.zeros([3], np.float32))
    with pytest.raises(KeyError, match="no variable"):
        G.get_var("nonexistent")
    tflib.set_vars([(G.find_var("lod"), 0.0)])
    assert G.get_var("lod") == 0.0


def test_clone_copy_convert(G):
    Gs = G.clone("Gs")
    assert Gs.name == "Gs" and list(Gs.vars) == list(G.vars)
    assert Gs.find_var("G_mapping/Dense0/weight") is not G.find_var("G_mapping/Dense0/weight")
    for name in G.vars:
        assert np.array_equal(G.get_var(name), Gs.get_var(name))
    other = tflib.Network("G2", func_name="G_style", **SMALL)
    other.copy_trainables_from(G)
    assert np.array_equal(other.get_var("G_synthesis/4x4/Conv/weight"), G.get_var("G_synthesis/4x4/Conv/weight"))
    assert not np.array_equal(other.get_var("G_synthesis/noise0"), G.get_var("G_synthesis/noise0"))
    other.copy_vars_from(G)
    assert np.array_equal(other.get_var("G_synthesis/noise0"), G.get_var("G_synthesis/noise0"))
    # convert: same weights under another configuration (here: no truncation by default).
    G1 = G.convert("training.networks_stylegan.G_style", new_name="G1", truncation_psi=None)
    z = np.random.RandomState(2).randn(2, 16).astype(np.float32)
    np.testing.assert_allclose(G1.run(z, None, randomize_noise=False),
                               G.run(z, None, randomize_noise=False, truncation_psi=1), rtol=1e-5, atol=1e-5)
    G1.reset_trainables()
    assert not np.array_equal(G1.get_var("G_synthesis/4x4/Conv/weight"), G.get_var("G_synthesis/4x4/Conv/weight"))
    assert np.array_equal(G1.get_var("G_synthesis/noise0"), G.get_var("G_synthesis/noise0"))


def test_moving_average(G):
    Gs = G.clone("Gs")
    Gs.set_var("G_mapping/Dense0/bias", np.zeros([16], np.float32))
    G.set_var("G_mapping/Dense0/bias", np.ones([16], np.float32))
    G.set_var("lod", 1.5)
    update = Gs.setup_as_moving_average_of(G, beta=0.9)
    update()
    np.testing.assert_allclose(Gs.get_var("G_mapping/Dense0/bias"), 0.1, rtol=1e-6)
    assert Gs.get_var("lod") == 1.5  # non-trainables copied (beta_nontrainable 0)
    tf.function(lambda: update(beta=tf.constant(0.5)))()
    np.testing.assert_allclose(Gs.get_var("G_mapping/Dense0/bias"), 0.55, rtol=1e-6)
    G.set_var("lod", 0.0)


def test_print_layers_total(G, capsys):
    G.components.synthesis.print_layers()
    out = capsys.readouterr().out
    total = sum(int(np.prod(v.shape)) for v in G.components.synthesis.trainables.values())
    assert "8x8/Conv0_up" in out and "ToRGB_lod0" in out and "4x4/Const" in out
    assert out.strip().splitlines()[-1].split()[:2] == ["Total", str(total)]
    assert "(?, 8, 32, 32)" in out  # 32x32/Conv1 output shape
    G.print_layers()
    out = capsys.readouterr().out
    assert "G_mapping" in out and "G_synthesis" in out
    assert out.strip().splitlines()[-1].split()[1] == str(sum(int(np.prod(v.shape)) for v in G.trainables.values()))


def test_keras_model_reachable(G, tmp_path):
    model = G.model
    assert isinstance(model, keras.Model)
    assert len(model.trainable_weights) == len(G.trainables)
    z = tf.constant(np.random.RandomState(3).randn(2, 16).astype(np.float32))
    labels = tf.zeros([2, 0])
    np.testing.assert_allclose(model(z, labels, randomize_noise=False).numpy(),
                               G.run(z.numpy(), None, randomize_noise=False), rtol=1e-5, atol=1e-5)
    path = str(tmp_path / "g.weights.h5")
    model.save_weights(path)
    other = tflib.Network("G", func_name="G_style", **SMALL)
    other.model.load_weights(path)
    assert np.array_equal(other.get_var("G_mapping/Dense1/weight"), G.get_var("G_mapping/Dense1/weight"))
