"""stylegan_tf.api: mapping, truncation, style mixing, noise control and synthesis on a tiny generator."""

import pickle

import numpy as np
import pytest

import dnnlib.tflib as tflib
from stylegan_tf import api
from training import misc

from conftest import SMALL, randomize

U8 = dict(output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))


@pytest.fixture(scope="module")
def Gs():
    G = tflib.Network("G", func_name="G_style", **SMALL)
    randomize(G, seed=3)
    return G.clone("Gs")


@pytest.fixture(scope="module")
def w(Gs):
    return api.map_latents(Gs, api.latents_from_seeds(Gs, [1, 2, 3, 4]))


def test_shapes_and_latents(Gs, w):
    assert api.num_layers(Gs) == 8 and api.resolution(Gs) == 32
    assert w.shape == (4, 8, 16) and w.dtype == np.float32
    z = api.latents_from_seeds(Gs, [7, 8])
    np.testing.assert_array_equal(z[1], np.random.RandomState(8).randn(16).astype(np.float32))
    assert api.latents_from_seeds(16, []).shape == (0, 16)
    assert api.noise_shapes(Gs) == [(1, 1, 4, 4)] * 2 + [(1, 1, 8, 8)] * 2 + [(1, 1, 16, 16)] * 2 + [(1, 1, 32, 32)] * 2


def test_map_synthesize_equals_gs_run(Gs, w):
    # api.generate maps, truncates in NumPy and synthesises in a second graph; Gs.run does all three in one
    # graph. The formulas are the same but the graphs are not (oneDNN picks kernels and fusions per graph,
    # and on CPUs with AMX it picks differently than on AMD Zen 4), so float outputs agree to float32
    # rounding only, and a uint8 pixel whose float lies near a rounding boundary may move by one level
    # (1 of 12,288 on an Intel Xeon with AMX). Bit-equality is asserted only between identical graphs.
    z = api.latents_from_seeds(Gs, [1, 2, 3, 4])
    ref = Gs.run(z, None, truncation_psi=0.5, truncation_cutoff=4, randomize_noise=False)
    ours = api.generate(Gs, z, 0.5, 4, noise="stored", output="float")
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    ref_u8 = Gs.run(z, None, truncation_psi=0.5, truncation_cutoff=4, randomize_noise=False, **U8)
    diff = np.abs(api.generate(Gs, z, 0.5, 4, noise="stored").astype(int) - ref_u8.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    np.testing.assert_array_equal(api.generate(Gs, z, 0.5, 4, noise="stored"),
                                  api.generate(Gs, z, 0.5, 4, noise="stored"))
    flt = api.synthesize(Gs, w, noise="stored", output="float")
    assert flt.shape == (4, 3, 32, 32) and flt.dtype == np.float32
    assert np.abs(api.to_uint8(flt).astype(int) - api.synthesize(Gs, w).astype(int)).max() <= 1


def test_truncation_semantics(Gs, w):
    avg = api.dlatent_avg(Gs)
    assert np.abs(avg).max() > 0
    np.testing.assert_array_equal(api.truncate(w, avg, 1.0), w)
    np.testing.assert_array_equal(api.truncate(w, avg, 1.0, cutoff=3), w)
    t0 = api.truncate(w, avg, 0.0, cutoff=3)
    np.testing.assert_array_equal(t0[:, :3], np.broadcast_to(avg, t0[:, :3].shape))
    np.testing.assert_array_equal(t0[:, 3:], w[:, 3:])
    np.testing.assert_array_equal(api.truncate(w, avg, 0.0), np.broadcast_to(avg, w.shape))
    neg = api.truncate(w, avg, -1.0)
    np.testing.assert_allclose(neg - avg, -(w - avg), rtol=1e-5, atol=1e-5)
    half = api.truncate(w, avg, 0.5, cutoff=0)
    np.testing.assert_array_equal(half, w)


def test_style_mixing_changes_only_what_it_should(Gs, w):
    A, B = w[:1], w[1:2]
    coarse = api.style_ranges(Gs)["coarse"]
    mixed = api.mix_styles(A, B, coarse)
    np.testing.assert_array_equal(mixed[:, list(coarse)], B[:, list(coarse)])
    np.testing.assert_array_equal(mixed[:, coarse.stop:], A[:, coarse.stop:])
    np.testing.assert_array_equal(A, w[:1])  # inputs untouched
    img_a, img_b, img_m = (api.synthesize(Gs, x, noise="stored") for x in (A, B, mixed))
    assert (img_m != img_a).any() and (img_m != img_b).any()
    np.testing.assert_array_equal(api.synthesize(Gs, api.mix_styles(A, B, [])), img_a)
    np.testing.assert_array_equal(api.synthesize(Gs, api.mix_styles(A, B, range(8))), img_b)
    # Fine styles only (last layer pair) change less of the image than coarse ones.
    img_f = api.synthesize(Gs, api.mix_styles(A, B, api.style_ranges(Gs)["fine"]))
    assert (img_f != img_a).any()
    # Broadcasting one source row over a batch, and boolean masks.
    many = api.mix_styles(w, w[0], np.arange(8) >= 6)
    np.testing.assert_array_equal(many[:, 6:], np.broadcast_to(w[0, 6:], many[:, 6:].shape))
    np.testing.assert_array_equal(many[:, :6], w[:, :6])


def test_style_ranges_at_every_resolution():
    assert api.style_ranges(18) == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 18)}
    assert api.style_ranges(10) == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 10)}
    assert api.style_ranges(8) == {"coarse": range(0, 2), "middle": range(2, 6), "fine": range(6, 8)}
    assert api.style_ranges(4) == {"coarse": range(0, 2), "middle": range(2, 2), "fine": range(2, 4)}
    assert api.style_ranges(2) == {"coarse": range(0, 2), "middle": range(2, 2), "fine": range(2, 2)}


def test_noise_modes(Gs, w):
    stored = api.get_noise(Gs)
    a1, a2 = api.synthesize(Gs, w, noise="stored"), api.synthesize(Gs, w, noise="stored")
    np.testing.assert_array_equal(a1, a2)                                   # noise off: deterministic
    z1, z2 = api.synthesize(Gs, w, noise="zero"), api.synthesize(Gs, w, noise="zero")
    np.testing.assert_array_equal(z1, z2)
    assert (z1 != a1).any()
    r1, r2 = api.synthesize(Gs, w, noise="random"), api.synthesize(Gs, w, noise="random")
    assert (r1 != r2).any()
    s1, s2 = api.synthesize(Gs, w, noise=11), api.synthesize(Gs, w, noise=11)
    np.testing.assert_array_equal(s1, s2)                                   # seeded: reproducible
    assert (s1 != api.synthesize(Gs, w, noise=12)).any()
    assert (s1[0] != s1[1]).any()
    # Explicit noise equals assigning the variables; the network is restored afterwards.
    explicit = api.random_noise(Gs, 5)
    e = api.synthesize(Gs, w, noise=explicit)
    with api.override_noise(Gs, explicit):
        np.testing.assert_array_equal(Gs.components.synthesis.run(w, randomize_noise=False, **U8), e)
    for before, after in zip(stored, api.get_noise(Gs)):
        np.testing.assert_array_equal(before, after)
    # Zeroing every layer equals 'zero'; keeping every layer equals 'stored'.
    np.testing.assert_array_equal(api.synthesize(Gs, w, noise="stored", noise_layers=[]), z1)
    np.testing.assert_array_equal(api.synthesize(Gs, w, noise="stored", noise_layers=range(8)), a1)
    with pytest.raises(ValueError, match="layers"):
        api.synthesize(Gs, w, noise=explicit[:3])
    with pytest.raises(ValueError, match="noise must be"):
        api.synthesize(Gs, w, noise="bogus")


def test_noise_on_chosen_layers(Gs, w):
    zero = api.synthesize(Gs, w, noise="zero", output="float")
    fine_only = api.synthesize(Gs, w, noise="stored", noise_layers=[7], output="float")
    # Noise on the last layer only: the change is confined to that layer's per-pixel perturbation, which is
    # smaller than with noise everywhere.
    everywhere = api.synthesize(Gs, w, noise="stored", output="float")
    assert 0 < np.abs(fine_only - zero).mean() < np.abs(everywhere - zero).mean()
    # Seeded per-image noise restricted to layers: reproducible and different from the stored noise.
    s1 = api.synthesize(Gs, w, noise=3, noise_layers=range(4))
    np.testing.assert_array_equal(s1, api.synthesize(Gs, w, noise=3, noise_layers=range(4)))


def test_progress_callback(Gs, w):
    seen = []
    api.synthesize(Gs, w, noise="stored", minibatch_size=3, progress=seen.append)
    assert seen == [3, 4]
    seen.clear()
    api.synthesize(Gs, w, noise=1, progress=seen.append)
    assert seen == [1, 2, 3, 4]


def test_load_generator(tmp_path, Gs):
    path = str(tmp_path / "net.pkl")
    misc.save_pkl((Gs, Gs, Gs), path)
    loaded = api.load_generator(path)
    np.testing.assert_array_equal(loaded.get_var("dlatent_avg"), Gs.get_var("dlatent_avg"))
    misc.save_pkl(Gs, str(tmp_path / "gs.pkl"))
    assert api.load_networks(str(tmp_path / "gs.pkl"))[:2] == (None, None)
    with pytest.raises(FileNotFoundError):
        api.load_generator(str(tmp_path / "missing.pkl"))
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(pickle.UnpicklingError):
        api.load_generator(str(tmp_path / "junk.pkl"))
    misc.save_pkl([1, 2], str(tmp_path / "list.pkl"))
    with pytest.raises(ValueError, match="not a network"):
        api.load_generator(str(tmp_path / "list.pkl"))
    D = tflib.Network("D", func_name="D_basic", **SMALL)
    misc.save_pkl(D, str(tmp_path / "d.pkl"))
    with pytest.raises(ValueError, match="not a style-based generator"):
        api.load_generator(str(tmp_path / "d.pkl"))


def test_package_import_is_light():
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, stylegan_tf; assert callable(stylegan_tf.truncate); "
            "heavy = [m for m in ('tensorflow', 'keras', 'dnnlib') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
