"""Keras round trip: `.keras` files of our network models load with only `import stylegan_tf` and compute the
same outputs; export_savedmodel.py writes a normally readable directory."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import dnnlib.tflib as tflib

from test_networks import SMALL, randomize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A fresh interpreter: the only project import is `import stylegan_tf` (before Keras, so the registration
# must happen when Keras is imported later).
RELOAD = r"""
import sys, numpy as np
import stylegan_tf
assert "tensorflow" not in sys.modules
import keras
path, inputs_path, out_path = sys.argv[1:]
inputs = dict(np.load(inputs_path))
model = keras.saving.load_model(path)
args = [inputs["x"]] + ([inputs["y"]] if "y" in inputs else [None])
out = model(*args[:len(model.input_names)], **({"randomize_noise": False} if "noise" in inputs else {}))
np.save(out_path, np.asarray(out))
print(type(model).__name__)
"""


@pytest.mark.parametrize("func, kwargs, inputs", [
    ("G_style", dict(SMALL, label_size=3), dict(x=(3, 16), y=(3, 3), noise=())),
    ("D_basic", dict(SMALL, label_size=0), dict(x=(3, 3, 32, 32))),
    ("training.networks_progan.G_paper", dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16,
                                                latent_size=16), dict(x=(3, 16), y=(3, 0))),
])
def test_keras_save_load_identical(tmp_path, func, kwargs, inputs):
    import keras
    net = tflib.Network("N", func_name=func, **kwargs)
    randomize(net, seed=5)
    rnd = np.random.RandomState(0)
    arrays = {k: rnd.randn(*shape).astype(np.float32) for k, shape in inputs.items() if shape}
    if "noise" in inputs:
        arrays["noise"] = np.zeros([0], np.float32)
    args = [arrays["x"]] + ([arrays["y"]] if "y" in arrays else [None])
    extra = {"randomize_noise": False} if "noise" in arrays else {}
    ref = np.asarray(net.model(*args[:len(net.model.input_names)], **extra))
    path = str(tmp_path / "net.keras")
    keras.saving.save_model(net.model, path)
    np.savez(tmp_path / "in.npz", **arrays)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", RELOAD, path, str(tmp_path / "in.npz"), str(tmp_path / "out.npy")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == type(net.model).__name__
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), ref)


def test_savedmodel_directory_is_readable(tmp_path):
    sys.path.insert(0, ROOT)
    import export_savedmodel
    from training import misc
    G = tflib.Network("G", func_name="G_style", **SMALL)
    pkl = str(tmp_path / "g.pkl")
    misc.save_pkl((G, G, G.clone("Gs")), pkl)
    out = tmp_path / "model"
    old = os.umask(0o022)
    try:
        assert export_savedmodel.main(["--network", pkl, "--output_dir", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755
    for dirpath, dirnames, filenames in os.walk(out):
        for name in dirnames:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o755, name
        for name in filenames:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o644, name
