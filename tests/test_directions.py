"""Editing directions: fitting (InterFaceGAN's recipe), the .npy format, the LS metric's export
(`run_metrics.py --directions`) and `generate.py --direction`, on a generator in NVIDIA's pickle layout with
an attribute classifier in NVIDIA's classifier layout (random weights: the attribute is "what this classifier
says", and the test checks that the fitted direction moves exactly that)."""

import os

import numpy as np
import PIL.Image
import pytest

from dnnlib import cli
from metrics import standins
from stylegan_tf import directions

import generate
import run_metrics

D, L = 16, 8  # the stand-in generator's dlatent_size and layers (32x32, test_legacy.official_objects)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("directions")
    from test_legacy import official_pickle_bytes
    (d / "net.pkl").write_bytes(official_pickle_bytes())   # (G, D, Gs) in NVIDIA's pickle layout
    standins.make_official_classifier_pkl(str(d / "celebahq-classifier-19-eyeglasses.pkl"), resolution=32, seed=3)
    # The official-layout stand-in's random mapping gives nearly constant w: the LS export runs on this one.
    standins.make_generator_pkl(str(d / "varied.pkl"), resolution=32)
    return d


def _metrics(argv, capsys):
    capsys.readouterr()
    code = run_metrics.main(["run_metrics.py"] + argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _generate(argv, capsys):
    capsys.readouterr()
    code = cli.run(generate.command, argv, prog_name="generate.py", error_types=generate.ERROR_TYPES)
    out = capsys.readouterr()
    return code, out.out, out.err


# --- fitting, format, applying ------------------------------------------------------------------------


def test_fit_direction_recovers_a_linear_attribute():
    rnd = np.random.RandomState(0)
    w = rnd.randn(4000, 32).astype(np.float32)
    true = rnd.randn(32)
    true /= np.linalg.norm(true)
    scores = w @ true + 0.1 * rnd.randn(4000)
    n = directions.fit_direction(w, scores, ratio=0.1)
    assert n.dtype == np.float32 and n.shape == (32,)
    assert abs(np.linalg.norm(n) - 1) < 1e-6
    assert n @ true > 0.95                                           # towards high scores
    assert directions.fit_direction(w, -scores, ratio=0.1) @ true < -0.95
    # A rare attribute (2% of samples) still gets a direction: balanced extremes, not a threshold.
    rare = directions.fit_direction(w, (scores > np.quantile(scores, 0.98)).astype(float) + 1e-3 * scores, ratio=0.02)
    assert rare @ true > 0.8
    for bad_scores, ratio, msg in [(np.zeros(4000), 0.02, "do not vary"), (scores, 0.7, "ratio"),
                                   (scores[:3], 0.02, "dlatents")]:
        with pytest.raises(directions.DirectionError, match=msg):
            directions.fit_direction(w, bad_scores, ratio=ratio)


def test_file_format_round_trip_and_refusals(tmp_path):
    v = np.arange(1, D + 1, dtype=np.float32)
    path = str(tmp_path / "sub" / "smiling.npy")
    directions.save_direction(path, v)
    assert os.listdir(tmp_path / "sub") == ["smiling.npy"]           # no temp file left
    raw = np.load(path)
    assert raw.dtype == np.float32 and raw.shape == (D,) and abs(np.linalg.norm(raw) - 1) < 1e-6
    loaded = directions.load_direction(path, L, D)
    assert loaded.shape == (L, D) and np.array_equal(loaded[3], raw)
    np.save(str(tmp_path / "interfacegan.npy"), raw[np.newaxis].astype(np.float64))   # InterFaceGAN: [1, D]
    assert np.allclose(directions.load_direction(str(tmp_path / "interfacegan.npy"), L, D)[0], raw)
    per_layer = np.random.RandomState(1).randn(L, D).astype(np.float32)
    np.save(str(tmp_path / "layers.npy"), per_layer)
    assert np.array_equal(directions.load_direction(str(tmp_path / "layers.npy"), L, D), per_layer)
    bad = {"short.npy": np.ones(D - 1, np.float32), "nan.npy": np.full(D, np.nan, np.float32),
           "zero.npy": np.zeros(D, np.float32), "ints.npy": np.ones(D, np.int32)}
    for name, arr in bad.items():
        np.save(str(tmp_path / name), arr)
    (tmp_path / "text.npy").write_text("not numpy")
    for name, msg in [("short.npy", r"shape \[15\].*needs \[16\] or \[8, 16\]"), ("nan.npy", "NaN"),
                      ("zero.npy", "all zeros"), ("ints.npy", "float"), ("text.npy", "not a .npy file"),
                      ("missing.npy", "missing.npy")]:
        with pytest.raises(directions.DirectionError, match=msg):
            directions.load_direction(str(tmp_path / name), L, D)
    with pytest.raises(directions.DirectionError):
        directions.save_direction(str(tmp_path / "z.npy"), np.zeros(D))
    assert not (tmp_path / "z.npy").exists()


def test_strength_lists_and_ranges():
    assert generate.parse_strengths("-3..3") == [-3, -2, -1, 0, 1, 2, 3]
    assert generate.parse_strengths("-1.5..1.5, 4") == [-1.5, -0.5, 0.5, 1.5, 4]
    assert generate.parse_strengths("2") == [2.0] and generate.parse_strengths("0..0") == [0.0]
    for bad in ["", "x", "1..x", "3..-3", "inf"]:
        with pytest.raises(ValueError):
            generate.parse_strengths(bad)


def test_apply_direction_on_chosen_layers():
    w = np.random.RandomState(2).randn(3, L, D).astype(np.float32)
    n = np.eye(D, dtype=np.float32)[0]
    out = directions.apply_direction(w, n, 2.5, layers=[1, 2])
    assert np.array_equal(out[:, [0, 3, 4, 5, 6, 7]], w[:, [0, 3, 4, 5, 6, 7]])
    assert np.allclose(out[:, 1:3] - w[:, 1:3], 2.5 * n)
    assert np.array_equal(directions.apply_direction(w, n, 0.0), w)
    assert np.array_equal(w, np.random.RandomState(2).randn(3, L, D).astype(np.float32))  # input untouched


# --- export from the LS metric, use in generate.py -------------------------------------------------------


def test_exported_direction_moves_the_classifier(env, tmp_path, capsys):
    """run_metrics.py fits the direction of the classifier's attribute; w + s * n then raises the classifier's
    logit with s, on samples it never saw. (A random classifier of a random generator's images is far from
    linear in w: the direction is fitted on the top and bottom 30%, not InterFaceGAN's 2%.)"""
    out_dir = tmp_path / "dirs"
    code, out, err = _metrics(["--network=%s" % (env / "varied.pkl"), "--metrics=ls_10k", "--num_samples=600",
                               "--directions_ratio=0.3",
                               "--ls_classifiers=%s" % (env / "celebahq-classifier-19-eyeglasses.pkl"),
                               "--directions=%s" % out_dir, "--seed=5", "--noprogress",
                               "--result_dir=%s" % tmp_path], capsys)
    assert code == 0, err
    assert os.listdir(out_dir) == ["eyeglasses.npy"] and "wrote %s" % (out_dir / "eyeglasses.npy") in out
    assert "ls_10k_n600_w" in out

    import tensorflow as tf
    from metrics import feature_nets
    from stylegan_tf import api
    Gs = api.load_generator(str(env / "varied.pkl"))
    clf = feature_nets.load_classifier(str(env / "celebahq-classifier-19-eyeglasses.pkl"))
    n = directions.load_direction(str(out_dir / "eyeglasses.npy"), api.num_layers(Gs), D)
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, range(1000, 1064)))
    means = []
    for s in (-3.0, 0.0, 3.0):
        images = api.synthesize(Gs, directions.apply_direction(w, n, s), output="float")   # NCHW in [-1, 1]
        means.append(float(tf.reduce_mean(clf.get_output_for(images, None))))
    assert means[0] < means[1] < means[2], means


def test_generate_with_direction(env, tmp_path, capsys):
    n = np.random.RandomState(7).randn(D).astype(np.float32)
    path = str(tmp_path / "smile.npy")
    directions.save_direction(path, n)
    net = str(env / "net.pkl")
    code, out, err = _generate(["--network", net, "--seeds", "3,5", "--direction", path, "--strength", "-2,0,2",
                                "--noise_mode", "const", "--outdir", str(tmp_path / "out")], capsys)
    assert code == 0, err
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == sorted(["edit-smile.png"] + ["seed%04d-smile%+g.png" % (s, k) for s in (3, 5) for k in (-2, 0, 2)])
    # Strength 0 is the unedited image; the grid holds every image, a row per seed.
    code, _, err = _generate(["--network", net, "--seeds", "3,5", "--outdir", str(tmp_path / "plain")], capsys)
    assert code == 0, err
    plain = np.asarray(PIL.Image.open(tmp_path / "plain" / "seed0005.png"))
    assert np.array_equal(np.asarray(PIL.Image.open(tmp_path / "out" / "seed0005-smile+0.png")), plain)
    assert not np.array_equal(np.asarray(PIL.Image.open(tmp_path / "out" / "seed0005-smile+2.png")), plain)
    grid = np.asarray(PIL.Image.open(tmp_path / "out" / "edit-smile.png"))
    assert grid.shape[:2] == (2 * 32, 3 * 32) and np.array_equal(grid[32:, 32:64], plain)
    # The projector's output takes the same edit: --w with --edit_layers (only the coarse layers move).
    from stylegan_tf import api
    Gs = api.load_generator(net)
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, [5]))
    np.savez(str(tmp_path / "projected_w.npz"), w=w)
    code, _, err = _generate(["--network", net, "--w", str(tmp_path / "projected_w.npz"), "--direction", path,
                              "--strength", "1.5", "--edit_layers", "coarse", "--outdir", str(tmp_path / "w")], capsys)
    assert code == 0, err
    assert os.listdir(tmp_path / "w") == ["w0000-smile+1.5.png"]     # one strength: no grid
    coarse = list(api.style_ranges(Gs)["coarse"])
    unit = n / np.linalg.norm(n)   # saved at unit length
    expected = api.synthesize(Gs, directions.apply_direction(w, unit, 1.5, coarse))[0]
    # generate.py synthesises in its own call (another graph and batch than this one): the float images agree
    # to float32 rounding, so a pixel near a rounding boundary may differ by one level.
    got = np.asarray(PIL.Image.open(tmp_path / "w" / "w0000-smile+1.5.png")).astype(int)
    assert np.abs(got - expected.astype(int)).max() <= 1 and (got != expected).mean() < 0.01


@pytest.mark.parametrize("extra, flag, msg", [
    (["--direction", "{short}"], "--direction", "shape [3], but this generator needs [16]"),
    (["--direction", "{text}"], "--direction", "not a .npy file"),
    (["--direction", "{missing}"], "--direction", "no such file"),
    (["--direction", "{good}", "--strength", "1,x"], "--strength", "cannot parse"),
    (["--direction", "{good}", "--strength", "nan"], "--strength", "finite"),
    (["--direction", "{good}", "--strength", "3..-3"], "--strength", "runs backwards"),
    (["--direction", "{good}", "--edit_layers", "0-99"], "--edit_layers", "outside layers"),
    (["--strength", "2"], "--strength", "goes with --direction"),
    (["--edit_layers", "coarse"], "--edit_layers", "goes with --direction"),
    (["--direction", "{good}", "--video"], "--video", "not with --video"),
])
def test_generate_direction_refusals(env, tmp_path, capsys, extra, flag, msg):
    np.save(str(tmp_path / "short.npy"), np.ones(3, np.float32))
    (tmp_path / "text.npy").write_text("x")
    directions.save_direction(str(tmp_path / "good.npy"), np.ones(D))
    files = dict(short=tmp_path / "short.npy", text=tmp_path / "text.npy", missing=tmp_path / "missing.npy",
                 good=tmp_path / "good.npy")
    extra = [e.format(**files) for e in extra]
    code, out, err = _generate(["--network", str(env / "net.pkl"), "--seeds", "1-2", "--outdir",
                                str(tmp_path / "out")] + extra, capsys)
    assert code == 2 and flag in err and msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_run_metrics_directions_refusals(env, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for argv, msg in [(["--metrics=fid1k", "--directions=%s" % (tmp_path / "d")], "needs an LS metric"),
                      (["--metrics=ls_10k", "--directions=%s" % (tmp_path / "afile")], "not a directory"),
                      (["--metrics=ls_10k", "--directions=%s" % (tmp_path / "afile" / "sub")], "cannot create")]:
        code, _, err = _metrics(["--network=%s" % (env / "net.pkl"), "--result_dir=%s" % tmp_path] + argv, capsys)
        assert code == 2 and "--directions" in err and msg in err and err.count("\n") == 1, err
