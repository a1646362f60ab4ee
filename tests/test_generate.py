"""generate.py on a tiny generator: per-seed images, reproducibility, noise modes, style mixing, --z/--w files,
interpolation videos (MP4 and the GIF fallback) and one-line errors on bad input."""

import os
import sys

import numpy as np
import PIL.Image
import pytest

import dnnlib.tflib as tflib
from dnnlib import cli
from stylegan_tf import api
from training import misc

from test_networks import SMALL, randomize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import generate  # noqa: E402


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    G = tflib.Network("G", func_name="G_style", **SMALL)   # 32x32, 8 layers
    randomize(G, seed=4)
    Gs = G.clone("Gs")
    path = str(tmp_path_factory.mktemp("net") / "tiny.pkl")
    misc.save_pkl((G, G, Gs), path)
    return path, Gs


def run(argv, capsys=None):
    code = cli.run(generate.command, argv, prog_name="generate.py", error_types=generate.ERROR_TYPES)
    if capsys is not None:
        out, err = capsys.readouterr()
        return code, out, err
    assert code == 0
    return code


def load(path):
    return np.asarray(PIL.Image.open(path))


def test_seeds_reproducible_any_batch(net, tmp_path):
    pkl, Gs = net
    for batch in (1, 4):
        run(["--network", pkl, "--seeds", "3,0-1,42", "--trunc", "0.7", "--trunc_cutoff", "4",
             "--outdir", str(tmp_path / ("b%d" % batch)), "--batch", str(batch)])
    names = sorted(os.listdir(tmp_path / "b1"))
    assert names == ["seed0000.png", "seed0001.png", "seed0003.png", "seed0042.png"]
    ref = api.generate(Gs, api.latents_from_seeds(Gs, [3, 0, 1, 42]), 0.7, 4, noise="stored")
    for i, seed in enumerate([3, 0, 1, 42]):
        img = load(tmp_path / "b1" / ("seed%04d.png" % seed))
        assert img.shape == (32, 32, 3)
        np.testing.assert_array_equal(img, load(tmp_path / "b4" / ("seed%04d.png" % seed)))
        np.testing.assert_array_equal(img, ref[i])


def test_noise_modes(net, tmp_path):
    pkl, Gs = net
    for mode in ("const", "random", "none"):
        run(["--network", pkl, "--seeds", "5", "--noise_mode", mode, "--outdir", str(tmp_path / mode)])
    imgs = {m: load(tmp_path / m / "seed0005.png") for m in ("const", "random", "none")}
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, [5]))
    np.testing.assert_array_equal(imgs["none"], api.synthesize(Gs, w, noise="zero")[0])
    seeded = api.synthesize(Gs, w, noise=np.random.RandomState([5, 0x5eed]))[0]
    np.testing.assert_array_equal(imgs["random"], seeded)   # = pretrained_example.py --noise seeded
    assert (imgs["const"] != imgs["random"]).any() and (imgs["const"] != imgs["none"]).any()


def test_style_mixing_grid(net, tmp_path):
    pkl, Gs = net
    run(["--network", pkl, "--seeds", "1-3", "--row_seeds", "7,8", "--styles", "0-1,fine", "--outdir", str(tmp_path)])
    grid = load(tmp_path / "stylemix.png")
    assert grid.shape == (3 * 32, 4 * 32, 3)
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, [1, 2, 3, 7, 8]))
    cell = api.synthesize(Gs, api.mix_styles(w[4:5], w[2:3], range(6, 8)))[0]   # row seed 8, column seed 3, fine
    np.testing.assert_array_equal(grid[64:96, 96:128], cell)
    np.testing.assert_array_equal(grid[0:32, 32:64], api.synthesize(Gs, w[:1])[0])


def test_z_and_w_files(net, tmp_path):
    pkl, Gs = net
    z = api.latents_from_seeds(Gs, [9, 10])
    w = api.map_latents(Gs, z)
    np.savez(tmp_path / "z.npz", z=z)
    np.savez(tmp_path / "w.npz", w=w)
    np.savez(tmp_path / "w1.npz", w=w[:, 0])           # [N, dlatent_size] is broadcast to every layer
    run(["--network", pkl, "--seeds", "9,10", "--outdir", str(tmp_path / "s")])
    run(["--network", pkl, "--z", str(tmp_path / "z.npz"), "--outdir", str(tmp_path / "z")])
    run(["--network", pkl, "--w", str(tmp_path / "w.npz"), "--outdir", str(tmp_path / "w")])
    run(["--network", pkl, "--w", str(tmp_path / "w1.npz"), "--outdir", str(tmp_path / "w1")])
    for i, seed in enumerate([9, 10]):
        ref = load(tmp_path / "s" / ("seed%04d.png" % seed))
        np.testing.assert_array_equal(load(tmp_path / "z" / ("z%04d.png" % i)), ref)
        np.testing.assert_array_equal(load(tmp_path / "w" / ("w%04d.png" % i)), ref)
        np.testing.assert_array_equal(load(tmp_path / "w1" / ("w%04d.png" % i)), ref)


def test_interpolation_path():
    a, b = np.random.RandomState(0).randn(2, 1, 64)
    mid = generate.slerp(a, b, 0.5)
    assert abs(np.linalg.norm(mid) - np.linalg.norm(a + b) / np.linalg.norm(a / np.linalg.norm(a) + b / np.linalg.norm(b))) < 1e-4
    np.testing.assert_allclose(generate.slerp(a, b, 0.0), a, atol=1e-6)
    np.testing.assert_allclose(generate.slerp(a, b, 1.0), b, atol=1e-5)


def test_video_mp4_and_gif_fallback(net, tmp_path, monkeypatch):
    pkl, Gs = net
    assert generate.video_encoder_available()
    run(["--network", pkl, "--video", "--seeds", "0-2", "--frames", "6", "--outdir", str(tmp_path / "mp4")])
    import imageio.v2 as imageio
    with imageio.get_reader(str(tmp_path / "mp4" / "video.mp4"), format="FFMPEG") as reader:
        frames = [frame for frame in reader.iter_data()]
    assert len(frames) == 6 and frames[0].shape == (32, 32, 3)
    # The first frame is seed 0 itself (lerp t=0), up to H.264's loss (compared in luma: 4:2:0 chroma
    # subsampling blurs this random network's pixel-sized colour noise).
    first = api.synthesize(Gs, api.map_latents(Gs, api.latents_from_seeds(Gs, [0])))[0]
    luma = np.array([0.299, 0.587, 0.114])
    assert np.abs(frames[0].astype(float) @ luma - first @ luma).mean() < 6

    # No imageio / imageio-ffmpeg: auto falls back to GIF; mp4 asked for explicitly is a one-line error.
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    assert not generate.video_encoder_available()
    run(["--network", pkl, "--video", "--seeds", "0-2", "--frames", "6", "--interp", "z", "--noise_mode", "random",
         "--outdir", str(tmp_path / "gif")])
    assert os.listdir(tmp_path / "gif") == ["video.gif"]
    gif = PIL.Image.open(tmp_path / "gif" / "video.gif")
    assert gif.n_frames == 6 and gif.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(gif.convert("RGB"))[None].shape, (1, 32, 32, 3))
    code = cli.run(generate.command, ["--network", pkl, "--video", "--seeds", "0-2", "--video_format", "mp4",
                                      "--outdir", str(tmp_path / "none")], prog_name="generate.py")
    assert code == 2 and not os.path.exists(tmp_path / "none")


def test_video_noise_fixed_across_frames(net):
    _, Gs = net
    w = generate.interpolation_dlatents(Gs, [1, 2], 4, "w")
    w[:] = w[:1]   # the same w in every frame: any flicker would come from the noise
    for mode in ("const", "random", "none"):
        frames = np.stack(list(generate.video_frames(Gs, w, mode, noise_seed=1, minibatch_size=3)))
        assert (frames == frames[:1]).all()


@pytest.mark.parametrize("args, flag", [
    (["--seeds", "3-1"], "--seeds"),
    (["--seeds", "1,x"], "--seeds"),
    (["--seeds", "-5"], "--seeds"),
    (["--seeds", "1", "--trunc", "7"], "--trunc"),
    (["--seeds", "1", "--trunc_cutoff", "99"], "--trunc_cutoff"),
    (["--seeds", "1", "--class", "2"], "--class"),
    (["--seeds", "1", "--noise_mode", "fixed"], "--noise_mode"),
    (["--seeds", "1", "--w", "W"], "--seeds"),
    (["--w", "MISSING"], "--w"),
    (["--w", "NOTNPZ"], "--w"),
    (["--w", "WRONGKEY"], "--w"),
    (["--w", "WRONGSHAPE"], "--w"),
    (["--z", "W"], "--z"),
    (["--seeds", "1-2", "--styles", "coarse"], "--row_seeds"),
    (["--seeds", "1-2", "--styles", "0-99", "--row_seeds", "3"], "--styles"),
    (["--seeds", "1-2", "--styles", "0-1,2-3", "--row_seeds", "3-5"], "--styles"),
    (["--seeds", "1", "--video"], "--seeds"),
    (["--seeds", "1-5", "--video", "--frames", "3"], "--frames"),
    (["--seeds", "1", "--outdir", "FILE"], "--outdir"),
    (["--seeds", "1", "--network", "MISSING"], "--network"),
    (["--seeds", "1", "--network", "NOTNPZ"], "--network"),
])
def test_bad_input_one_line(net, tmp_path, capsys, args, flag):
    pkl, Gs = net
    files = dict(W=tmp_path / "w.npz", NOTNPZ=tmp_path / "bad.npz", WRONGKEY=tmp_path / "key.npz",
                 WRONGSHAPE=tmp_path / "shape.npz", FILE=tmp_path / "file", MISSING=tmp_path / "missing.npz")
    np.savez(files["W"], w=np.zeros([1, 8, 16], np.float32))
    files["NOTNPZ"].write_bytes(b"not a zip")
    np.savez(files["WRONGKEY"], dlatents=np.zeros([1, 8, 16], np.float32))
    np.savez(files["WRONGSHAPE"], w=np.zeros([1, 7, 16], np.float32))
    files["FILE"].write_text("x")
    args = [str(files.get(a, a)) for a in args]
    if "--network" not in args:
        args = ["--network", pkl] + args
    if "--outdir" not in args:
        args += ["--outdir", str(tmp_path / "out")]
    before = sorted(os.listdir(tmp_path))
    code, out, err = run(args, capsys)
    assert code in (1, 2), err
    assert err.count("\n") == 1 and err.startswith("generate.py: error: ") and flag in err, err
    after = sorted(os.listdir(tmp_path))
    assert [p for p in after if p not in before] == []
    assert not os.path.exists(tmp_path / "out")   # nothing written, not even the directory


def test_official_format_pickle(tmp_path):
    """generate.py and the projector on a pickle in the layout of NVIDIA's (stand-in built by test_legacy)."""
    from test_legacy import official_pickle_bytes
    import projector
    pkl = tmp_path / "official.pkl"
    pkl.write_bytes(official_pickle_bytes())
    run(["--network", str(pkl), "--seeds", "0-1", "--trunc", "0.7", "--trunc_cutoff", "8", "--outdir", str(tmp_path / "a")])
    run(["--network", str(pkl), "--seeds", "0-1", "--row_seeds", "2", "--styles", "coarse", "--outdir",
         str(tmp_path / "a")])
    assert sorted(os.listdir(tmp_path / "a")) == ["seed0000.png", "seed0001.png", "stylemix.png"]
    Gs = api.load_generator(str(pkl))
    target = load(tmp_path / "a" / "seed0000.png")[np.newaxis]
    import tensorflow as tf
    mse = lambda a, b: tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3])
    result = projector.project(Gs, target, mse, num_steps=3, w_avg_samples=100)
    assert result["w"].shape == (1, 8, 16) and result["images"].shape == (1, 32, 32, 3)
