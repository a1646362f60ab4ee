"""Shared test setup: the repository root on sys.path (the CLI scripts live there), the `slow` marker
for the subprocess runs (deselect with `-m "not slow"`), and the tiny network config most tests use."""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# A StyleGAN small enough to build and run in well under a second on a CPU.
SMALL = dict(num_channels=3, resolution=32, fmap_base=128, fmap_max=32, latent_size=16, dlatent_size=16,
             mapping_fmaps=16, mapping_layers=2)


def randomize(net, seed=0):
    """Random values for every variable (biases, noise strengths, dlatent_avg included)."""
    rnd = np.random.RandomState(seed)
    for name, var in net.vars.items():
        if not name.endswith("lod"):
            net.set_var(name, rnd.randn(*var.shape).astype(np.float32) * (0.1 if "bias" in name else 1.0))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a CLI or training in a subprocess (seconds to minutes)")
