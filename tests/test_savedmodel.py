"""export_savedmodel.py: the SavedModel reloads in a fresh process (plain TensorFlow, no stylegan-tf imports)
and matches Gs.run with fixed noise."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dnnlib.tflib as tflib
from stylegan_tf import api
from training import misc

from conftest import ROOT, SMALL, randomize

import export_savedmodel  # noqa: E402

U8 = dict(output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))

# Runs in a fresh interpreter that never imports stylegan-tf: only TensorFlow and NumPy.
RELOAD = r"""
import sys, numpy as np, tensorflow as tf
export_dir, z_path, out_path = sys.argv[1:]
m = tf.saved_model.load(export_dir)
z = tf.constant(np.load(z_path))
assert "stylegan_tf" not in sys.modules and "dnnlib" not in sys.modules
out = dict(
    default=m.signatures["serving_default"](latents=z)["images"].numpy(),
    psi05=m.signatures["truncated"](latents=z, truncation_psi=tf.constant(0.5))["images"].numpy(),
    psi1=m.signatures["truncated"](latents=z, truncation_psi=tf.constant(1.0))["images"].numpy(),
    dlatents=m.signatures["mapping"](latents=z)["dlatents"].numpy(),
)
out["synth"] = m.signatures["synthesis"](dlatents=tf.constant(out["dlatents"]))["images"].numpy()
np.savez(out_path, **out)
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    G = tflib.Network("G", func_name="G_style", **SMALL)
    randomize(G, seed=2)
    Gs = G.clone("Gs")
    pkl = str(tmp / "tiny.pkl")
    misc.save_pkl((G, G, Gs), pkl)
    return tmp, pkl, Gs


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
def test_export_reload_parity(setup):
    tmp, pkl, Gs = setup
    out_dir = tmp / "model"
    assert export_savedmodel.main(["--network", pkl, "--output_dir", str(out_dir), "--psi", "0.7"]) == 0
    assert sorted(p for p in os.listdir(tmp) if p.startswith(".")) == []        # no temp dirs left
    info = json.loads((out_dir / "stylegan_export.json").read_text())
    assert info["resolution"] == 32 and info["latent_size"] == 16 and info["truncation_psi"] == 0.7
    assert info["structure"] == "fixed"
    z = np.random.RandomState(0).randn(5, 16).astype(np.float32)
    np.save(tmp / "z.npy", z)
    subprocess.run([sys.executable, "-c", RELOAD, str(out_dir), str(tmp / "z.npy"), str(tmp / "out.npz")],
                   check=True, cwd=str(tmp), env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    out = np.load(tmp / "out.npz")
    # Gs.run for the default; the API (equal to Gs.run, see test_api) for the other psi, saving G traces.
    ref = {"default": Gs.run(z, None, truncation_psi=0.7, randomize_noise=False, **U8),
           "psi05": api.generate(Gs, z, truncation_psi=0.5, truncation_cutoff=8, noise="stored"),
           "psi1": api.generate(Gs, z, truncation_psi=1, noise="stored")}
    for key, expected in ref.items():
        got = out[key]
        assert got.dtype == np.uint8 and got.shape == (5, 32, 32, 3), key
        # Same graph, reloaded: equal up to float rounding in the last uint8 step (grappler may fuse differently).
        diff = np.abs(got.astype(int) - expected.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99, (key, diff.max(), (diff == 0).mean())
    np.testing.assert_allclose(out["dlatents"], api.map_latents(Gs, z), rtol=1e-5, atol=1e-5)
    assert np.abs(out["synth"].astype(int) - ref["psi1"].astype(int)).max() <= 1

    # The same export converts to TFLite with built-in ops only (the fully grown network is traced with
    # the 'fixed' structure: no tf.cond, no stateful ops besides variable reads).
    import tensorflow as tf
    m = tf.saved_model.load(str(out_dir))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([m.signatures["serving_default"]], m)
    runner = tf.lite.Interpreter(model_content=converter.convert()).get_signature_runner()
    got = runner(latents=z[:1])["images"]
    assert got.shape == (1, 32, 32, 3) and np.abs(got.astype(int) - ref["default"][:1].astype(int)).max() <= 1


def test_export_errors(setup, capsys):
    tmp, pkl, Gs = setup
    with pytest.raises(SystemExit) as e:
        export_savedmodel.main(["--network", str(tmp / "missing.pkl"), "--output_dir", str(tmp / "m2")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--network" in err and "missing.pkl" in err
    assert not (tmp / "m2").exists()
    (tmp / "exists").mkdir()
    with pytest.raises(SystemExit):
        export_savedmodel.main(["--network", pkl, "--output_dir", str(tmp / "exists")])
    assert "--output_dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export_savedmodel.main(["--network", pkl, "--output_dir", str(tmp / "m3"), "--psi", "9"])
    assert "--psi" in capsys.readouterr().err and not (tmp / "m3").exists()
