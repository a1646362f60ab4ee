"""generate_figures.py and pretrained_example.py on a tiny generator: files, sizes, determinism, errors."""

import os
import sys

import numpy as np
import PIL.Image
import pytest

import dnnlib.tflib as tflib
from training import misc

from conftest import ROOT, SMALL, randomize

import generate_figures  # noqa: E402
import pretrained_example  # noqa: E402


@pytest.fixture(scope="module")
def pkl(tmp_path_factory):
    G = tflib.Network("G", func_name="G_style", **SMALL)   # 32x32, 8 layers
    randomize(G, seed=1)
    D = tflib.Network("D", func_name="D_basic", **SMALL)
    path = str(tmp_path_factory.mktemp("net") / "tiny.pkl")
    misc.save_pkl((G, D, G.clone("Gs")), path)
    return path


def run(argv, module=generate_figures):
    assert module.main(argv) == 0


def load(path):
    return np.asarray(PIL.Image.open(path))


def fails(capsys, argv, module=generate_figures, code=2):
    """A refused run: SystemExit with `code` (2 a bad command line, 1 a bad file) and one line on stderr."""
    with pytest.raises(SystemExit) as e:
        module.main(argv)
    assert e.value.code == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_uncurated_grid_sizes_and_determinism(pkl, tmp_path, capsys):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    run(["fig2", "--network", pkl, "--result_dir", a, "--rows", "1"])
    assert "27/27 images" in capsys.readouterr().err          # progress: done/total, img/s, ETA
    run(["fig2", "--network", pkl, "--result_dir", b, "--rows", "1"])
    img = load(os.path.join(a, "figure02-uncurated-ffhq.png"))
    assert img.shape == (32, 32 + 16 + 8 + 8 + 4 + 4, 3) and img.std() > 0
    np.testing.assert_array_equal(img, load(os.path.join(b, "figure02-uncurated-ffhq.png")))
    assert os.listdir(a) == ["figure02-uncurated-ffhq.png"]   # no temp files left
    run(["fig2", "--network", pkl, "--result_dir", b, "--rows", "1", "--seed", "6", "--psi", "0.5"])
    assert (load(os.path.join(b, "figure02-uncurated-ffhq.png")) != img).any()
    # Cars layout: the 512x384 crop scales to 32x24.
    run(["fig11", "--network", pkl, "--result_dir", a, "--rows", "1", "--lods", "0,1"])
    assert load(os.path.join(a, "figure11-uncurated-cars.png")).shape == (24, 32 + 16, 3)


def test_style_mixing(pkl, tmp_path):
    out = str(tmp_path)
    run(["fig3", "--network", pkl, "--result_dir", out, "--src_seeds", "1,2", "--dst_seeds", "3-5"])
    img = load(os.path.join(out, "figure03-style-mixing.png"))
    assert img.shape == (4 * 32, 3 * 32, 3)
    assert (img[:32, :32] == 255).all()                                       # empty corner
    src, dst, cell = img[:32, 32:64], img[32:64, :32], img[32:64, 32:64]      # row 0 = coarse styles from src
    assert (cell != src).any() and (cell != dst).any()
    run(["fig3", "--network", pkl, "--result_dir", out, "--src_seeds", "1", "--dst_seeds", "3",
         "--style_ranges", "0-7"])
    img = load(os.path.join(out, "figure03-style-mixing.png"))
    np.testing.assert_array_equal(img[32:, 32:], img[:32, 32:])               # every style from src = src


def test_noise_figures(pkl, tmp_path):
    out = str(tmp_path)
    run(["fig4", "--network", pkl, "--result_dir", out, "--seeds", "1,2", "--num_samples", "6"])
    img = load(os.path.join(out, "figure04-noise-detail.png"))
    assert img.shape == (64, 96, 3)
    std_map = img[:, 64:, 0]
    assert std_map.max() > 0 and (img[:, 64:, 0] == img[:, 64:, 1]).all()    # grey standard deviation
    run(["fig4", "--network", pkl, "--result_dir", str(tmp_path / "again"), "--seeds", "1,2", "--num_samples", "6"])
    np.testing.assert_array_equal(img, load(str(tmp_path / "again" / "figure04-noise-detail.png")))

    run(["fig5", "--network", pkl, "--result_dir", out, "--seeds", "1,2,3", "--flips", "1"])
    img = load(os.path.join(out, "figure05-noise-components.png"))
    assert img.shape == (64, 96, 3)
    quads = [img[:32, :16], img[:32, 16:32], img[32:, :16], img[32:, 16:32]]
    assert all(q.std() > 0 for q in quads)


def test_truncation_sweep(pkl, tmp_path):
    out = str(tmp_path)
    run(["fig8", "--network", pkl, "--result_dir", out, "--seeds", "1,2", "--psis", "1,0,-1"])
    img = load(os.path.join(out, "figure08-truncation-trick.png"))
    assert img.shape == (64, 96, 3)
    np.testing.assert_array_equal(img[:32, 32:64], img[32:, 32:64])          # psi 0: both rows = average
    assert (img[:32, :32] != img[32:, :32]).any()                             # psi 1: the seeds differ
    assert (img[:32, :32] != img[:32, 64:]).any()


def test_all_figures(pkl, tmp_path, capsys):
    out = str(tmp_path)
    run(["all", "--network", pkl, "--result_dir", out, "--num_samples", "5", "--rows", "1"])
    expected = {"figure02-uncurated-ffhq.png": (32, 72), "figure03-style-mixing.png": (7 * 32, 6 * 32),
                "figure04-noise-detail.png": (64, 96), "figure05-noise-components.png": (64, 64),
                "figure08-truncation-trick.png": (64, 6 * 32), "figure10-uncurated-bedrooms.png": (32, 120),
                "figure11-uncurated-cars.png": (24, 72), "figure12-uncurated-cats.png": (32, 120)}
    assert sorted(os.listdir(out)) == sorted(expected)
    for name, shape in expected.items():
        assert load(os.path.join(out, name)).shape[:2] == shape, name


def test_bad_input(pkl, tmp_path, capsys):
    out = tmp_path / "out"
    err = fails(capsys, ["fig2", "--network", str(tmp_path / "missing.pkl"), "--result_dir", str(out)])
    assert "--network" in err and "missing.pkl" in err
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04garbage")
    err = fails(capsys, ["fig8", "--network", str(junk), "--result_dir", str(out)], code=1)
    assert "--network" in err and "junk.pkl" in err
    assert "--seeds" in fails(capsys, ["fig8", "--network", pkl, "--seeds", "1,x", "--result_dir", str(out)])
    assert "--seeds" in fails(capsys, ["fig4", "--network", pkl, "--seeds", "5-2", "--result_dir", str(out)])
    assert "--psi" in fails(capsys, ["fig2", "--network", pkl, "--psi", "5", "--result_dir", str(out)])
    assert "--psis" in fails(capsys, ["fig8", "--network", pkl, "--psis", "1,-3", "--result_dir", str(out)])
    assert "--num_samples" in fails(capsys, ["fig4", "--network", pkl, "--num_samples", "3",
                                             "--result_dir", str(out)])
    assert "--style_ranges" in fails(capsys, ["fig3", "--network", pkl, "--dst_seeds", "1,2",
                                              "--style_ranges", "coarse", "--result_dir", str(out)])
    assert "--lods" in fails(capsys, ["fig2", "--network", pkl, "--lods", "0,6", "--result_dir", str(out)])
    assert "--lods" in fails(capsys, ["fig2", "--network", pkl, "--lods=-1,0", "--result_dir", str(out)])
    assert "--flips" in fails(capsys, ["fig5", "--network", pkl, "--flips", "4", "--result_dir", str(out)])
    assert not out.exists()                                                   # nothing written


def test_pretrained_example(pkl, tmp_path, capsys):
    out = str(tmp_path)
    run(["--network", pkl, "--result_dir", out, "--seed", "3"], pretrained_example)
    assert "Total" in capsys.readouterr().out                                 # the layer table
    img = load(os.path.join(out, "example.png"))
    assert img.shape == (32, 32, 3) and img.std() > 0
    run(["--network", pkl, "--result_dir", out, "--seed", "3", "--output", "again.png", "--quiet"],
        pretrained_example)
    np.testing.assert_array_equal(img, load(os.path.join(out, "again.png")))
    run(["--network", pkl, "--result_dir", out, "--seed", "4", "--output", "other.png", "--quiet"],
        pretrained_example)
    assert (img != load(os.path.join(out, "other.png"))).any()
    err = fails(capsys, ["--network", str(tmp_path / "nope.pkl"), "--result_dir", str(tmp_path / "x")],
                pretrained_example)
    assert "--network" in err and "nope.pkl" in err and not (tmp_path / "x").exists()
    assert "--psi" in fails(capsys, ["--network", pkl, "--psi", "nan?"], pretrained_example)
