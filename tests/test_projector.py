"""projector.py: recovery of a known w on a tiny generator, the CLI's outputs (loadable by generate.py --w),
progress video, and one-line errors on bad targets, files and directories."""

import os
import sys

import numpy as np
import PIL.Image
import pytest

from dnnlib import cli
from metrics import standins
from stylegan_tf import api

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import generate  # noqa: E402
import projector  # noqa: E402


def tiny_generator(path):
    """A freshly initialised 32x32 generator whose output range is that of a trained one: the default init
    gives images with a standard deviation of ~2 (mostly clipped), so ToRGB is scaled by 1/4."""
    Gs = standins.make_generator_pkl(path, resolution=32, seed=0)
    var = Gs.vars["G_synthesis/ToRGB_lod0/weight"]
    var.assign(var * 0.25)
    from training import misc
    misc.save_pkl(Gs, path)
    return Gs


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proj")
    Gs = tiny_generator(str(tmp / "g.pkl"))
    standins.make_lpips_weights(str(tmp / "lpips.npz"))
    return tmp, Gs


def test_recovers_known_w(setup):
    import tensorflow as tf
    _, Gs = setup
    w_true = api.map_latents(Gs, api.latents_from_seeds(Gs, [8]))
    target = api.synthesize(Gs, w_true, noise="stored")
    avg, _ = projector.w_stats(Gs)
    start = np.linalg.norm(avg - w_true[0, 0])
    # A pixel distance: the stand-in LPIPS (random 1/16-width VGG) is too weak a metric to pin w down; the
    # CLI test below runs the LPIPS path. A random tiny generator has local minima: seed 8's basin holds
    # the mean w (other seeds can stop at PSNR ~22 dB; see BENCHMARKS.md for LPIPS on a larger network).
    mse = lambda a, b: tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3]) / 255.0 ** 2 * 10
    result = projector.project(Gs, target, mse, num_steps=200, initial_noise_factor=0.0, w_avg_samples=2000)
    dist = np.linalg.norm(result["w"][0] - w_true[0], axis=1)
    assert result["w"].shape == (1, 8, 16) and np.ptp(result["w"], axis=1).max() == 0   # W: one w for all layers
    assert dist.max() < 0.2 * start, (dist, start)
    assert projector.psnr(result["images"], target)[0] > 30, projector.psnr(result["images"], target)
    assert result["losses"][-1] < 1e-4 * result["losses"][0]


def test_fixed_stored_noise_recovers_known_w(setup, tmp_path):
    """optimize_noise=False: only w moves, the noise is the network's stored noise. On a generator whose noise
    matters (noise strengths 0.5; a fresh network's are 0), a target drawn with the stored noise gives back
    its w, where optimising random noise maps with a pixel distance does not (BENCHMARKS.md, "Projector",
    `bench_projector.py --tiny`); and generate.py --w --noise_mode const redraws the projection exactly."""
    import tensorflow as tf
    tmp, _ = setup
    Gs = tiny_generator(str(tmp_path / "noisy.pkl"))
    for name, var in Gs.vars.items():
        if name.endswith("Noise/weight"):
            var.assign(tf.fill(var.shape, 0.5))
    from training import misc
    misc.save_pkl(Gs, str(tmp_path / "noisy.pkl"))
    w_true = api.map_latents(Gs, api.latents_from_seeds(Gs, [8]))
    target = api.synthesize(Gs, w_true, noise="stored")
    avg, _ = projector.w_stats(Gs, 2000)
    start = np.linalg.norm(avg - w_true[0, 0])
    mse = lambda a, b: tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3]) / 255.0 ** 2 * 10
    result = projector.project(Gs, target, mse, num_steps=200, initial_noise_factor=0.0, w_avg_samples=2000,
                               optimize_noise=False)
    assert all(np.array_equal(n, s) for n, s in zip(result["noise"], api.get_noise(Gs)))
    assert np.linalg.norm(result["w"][0, 0] - w_true[0, 0]) < 0.01 * start
    assert projector.psnr(result["images"], target)[0] > 50
    assert np.array_equal(api.synthesize(Gs, result["w"], noise="stored"), result["images"])
    # The CLI: --optimize_noise 0, then generate.py --w draws proj.png again.
    PIL.Image.fromarray(target[0]).save(tmp_path / "t.png")
    out = tmp_path / "out"
    code = cli.run(projector.command, ["--network", str(tmp_path / "noisy.pkl"), "--lpips", str(tmp / "lpips.npz"),
                                       "--target", str(tmp_path / "t.png"), "--num_steps", "5", "--optimize_noise",
                                       "0", "--outdir", str(out)], prog_name="projector.py")
    assert code == 0
    code = cli.run(generate.command, ["--network", str(tmp_path / "noisy.pkl"), "--w", str(out / "projected_w.npz"),
                                      "--noise_mode", "const", "--outdir", str(out)], prog_name="generate.py")
    assert code == 0
    assert np.array_equal(np.asarray(PIL.Image.open(out / "w0000.png")), np.asarray(PIL.Image.open(out / "proj.png")))


def test_noise_regularizer_and_schedule():
    import tensorflow as tf
    rnd = np.random.RandomState(0)
    white = tf.constant(rnd.randn(2, 1, 32, 32).astype(np.float32))
    smooth = tf.constant(np.repeat(np.repeat(rnd.randn(2, 1, 8, 8), 4, axis=2), 4, axis=3).astype(np.float32))
    reg_white, reg_smooth = projector.noise_regularizer([white]).numpy(), projector.noise_regularizer([smooth]).numpy()
    assert reg_white.shape == (2,) and (reg_smooth > 100 * reg_white).all()
    assert projector.learning_rate(0.0) == 0 and projector.learning_rate(0.5) == pytest.approx(0.1)
    assert projector.learning_rate(0.025) == pytest.approx(0.05) and projector.learning_rate(0.999) < 1e-3


def test_cli_outputs_and_generate_w(setup, tmp_path):
    tmp, Gs = setup
    images = api.synthesize(Gs, api.map_latents(Gs, api.latents_from_seeds(Gs, [1, 2])))
    targets = []
    for i, img in enumerate(images):
        targets += ["--target", str(tmp_path / ("t%d.png" % i))]
        PIL.Image.fromarray(img).save(tmp_path / ("t%d.png" % i))
    out = tmp_path / "out"
    code = cli.run(projector.command, ["--network", str(tmp / "g.pkl"), "--lpips", str(tmp / "lpips.npz"),
                                       "--space", "w+", "--num_steps", "6", "--save_video", "1", "--outdir",
                                       str(out)] + targets, prog_name="projector.py")
    assert code == 0
    assert sorted(os.listdir(out)) == ["proj.mp4", "proj.png", "projected_w.npz", "target.png"]
    assert np.asarray(PIL.Image.open(out / "proj.png")).shape == (32, 64, 3)
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(out / "target.png")), np.concatenate(list(images), 1))
    with np.load(out / "projected_w.npz") as data:
        assert data["w"].shape == (2, 8, 16) and np.ptp(data["w"], axis=1).max() > 0   # W+: per-layer w
        assert data["noise7"].shape == (2, 1, 32, 32)
    code = cli.run(generate.command, ["--network", str(tmp / "g.pkl"), "--w", str(out / "projected_w.npz"),
                                      "--outdir", str(tmp_path / "gen")], prog_name="generate.py")
    assert code == 0 and sorted(os.listdir(tmp_path / "gen")) == ["w0000.png", "w0001.png"]


@pytest.mark.parametrize("target, extra, flag", [
    ("SMALL", [], "--target"),
    ("RGBA", [], "--target"),
    ("GREY", [], "--target"),
    ("TEXT", [], "--target"),
    ("MISSING", [], "--target"),
    ("OK", ["--lpips", "NOTNPZ"], "--lpips"),
    ("OK", ["--lpips", "MISSING"], "--lpips"),
    ("OK", ["--outdir", "FILE"], "--outdir"),
    ("OK", ["--space", "z"], "--space"),
    ("OK", ["--num_steps", "0"], "--num_steps"),
])
def test_bad_input_one_line(setup, tmp_path, capsys, target, extra, flag):
    tmp, Gs = setup
    rnd = np.random.RandomState(0)
    files = dict(SMALL=tmp_path / "small.png", RGBA=tmp_path / "rgba.png", GREY=tmp_path / "grey.png",
                 TEXT=tmp_path / "text.png", OK=tmp_path / "ok.png", NOTNPZ=tmp_path / "bad.npz",
                 FILE=tmp_path / "file", MISSING=tmp_path / "missing")
    PIL.Image.fromarray(rnd.randint(0, 255, [16, 16, 3]).astype(np.uint8)).save(files["SMALL"])
    PIL.Image.fromarray(rnd.randint(0, 255, [32, 32, 4]).astype(np.uint8), "RGBA").save(files["RGBA"])
    PIL.Image.fromarray(rnd.randint(0, 255, [32, 32]).astype(np.uint8), "L").save(files["GREY"])
    PIL.Image.fromarray(rnd.randint(0, 255, [32, 32, 3]).astype(np.uint8)).save(files["OK"])
    files["TEXT"].write_text("not an image")
    files["NOTNPZ"].write_bytes(b"not a zip")
    files["FILE"].write_text("x")
    args = ["--network", str(tmp / "g.pkl"), "--target", str(files[target]), "--num_steps", "2"]
    args += [str(files.get(a, a)) for a in extra]
    if "--lpips" not in args:
        args += ["--lpips", str(tmp / "lpips.npz")]
    if "--outdir" not in args:
        args += ["--outdir", str(tmp_path / "out")]
    code = cli.run(projector.command, args, prog_name="projector.py", error_types=projector.ERROR_TYPES)
    _, err = capsys.readouterr()
    assert code in (1, 2) and err.count("\n") == 1 and err.startswith("projector.py: error: ") and flag in err, err
    assert not os.path.exists(tmp_path / "out")   # nothing written, not even the directory
