"""The README's main command (until training lands): a generator demo on a fresh network."""

import os
import subprocess
import sys

import numpy as np
import pytest
import PIL.Image

from training import misc
from conftest import ROOT  # noqa: E402



@pytest.mark.slow
def test_demo_writes_grid_and_pickle(tmp_path):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "stylegan_tf.demo", "--result_dir", str(out), "--resolution", "16",
                    "--fmap_base", "256", "--num", "4"], check=True, cwd=ROOT, capture_output=True)
    img = np.asarray(PIL.Image.open(out / "fakes-init.png"))
    assert img.shape == (32, 32, 3) and img.std() > 0
    G, D, Gs = misc.load_pkl(str(out / "network-init.pkl"))
    assert Gs.output_shape == [None, 3, 16, 16]
    assert sorted(os.listdir(out)) == ["fakes-init.png", "network-init.pkl"]


@pytest.mark.slow
def test_demo_rejects_bad_resolution(tmp_path):
    res = subprocess.run([sys.executable, "-m", "stylegan_tf.demo", "--result_dir", str(tmp_path / "x"),
                          "--resolution", "33"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2
    assert "--resolution" in res.stderr and "must be a power of two" in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()
