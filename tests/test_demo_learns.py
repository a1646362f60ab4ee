"""Training learns: the first TEST_KIMG kimg of the demo preset (`python train.py`, seed 1000) make a
generator that the offline metrics (swd, digit classifier) rate far better than the untrained one.

Slow (a few minutes on 2 cores): deselect with `-m "not slow"`. The run is the demo's own start: the
schedule depends only on the number of images shown, so these TEST_KIMG kimg are the first TEST_KIMG
of `python train.py`, whose per-kimg metric values for three seeds are in BENCHMARKS.md
("Demo: learning curve", bench/ours/demo_learning.py). Thresholds are set against those numbers below.
"""

import glob
import os
import subprocess
import sys

import pytest

from conftest import ROOT  # noqa: E402

TEST_KIMG = 6
SEED = 1000
SWD_IMAGES = 1024
DIGIT_IMAGES = 1000
# The demo is class-conditional; the metrics feed a conditional G all-zero labels (as the official
# metrics do), an input it never trains on, so the trained values are worse than the grid looks, and the
# ratios are closer to 1 than for the unconditional demo of earlier versions.
# Measured with bench/ours/demo_learning.py (BENCHMARKS.md), metric seed 123:
#   conditional demo (this preset), seeds 1000 / 1001 / 1002:
#     untrained   swd_avg 174.0 / 244.1 / 261.7    digits_fd 730.1 / 550.9 / 717.8
#     at 6 kimg   swd_avg 102.5 /  81.9 /  87.8    digits_fd 299.8 / 284.7 / 295.4
#     ratio       swd 0.59 / 0.34 / 0.34           fd 0.41 / 0.52 / 0.41
#   unconditional demo (dataset.max_label_size=0), seeds 1000 / 1001 / 1002: ratio swd 0.37 / 0.26 / 0.26,
#     fd 0.29 / 0.29 / 0.37
# A generator that stopped learning stays near ratio 1; 0.8 and 0.65 leave 1.36x and 1.26x margins over the
# worst of the three seeds (1.36x and 1.59x over seed 1000, the run the test repeats: the seeded CPU run is
# reproducible) and stay 0.2 / 0.35 below a stalled generator.
MAX_SWD_RATIO = 0.8
MAX_FD_RATIO = 0.65


def _untrained_generator(run_dir, pkl):
    import keras
    import numpy as np
    import dnnlib.tflib as tflib
    import train
    from stylegan_tf import legacy
    from stylegan_tf.data.demo import get_demo_dataset
    from stylegan_tf.data.info import inspect_dataset
    c = train.build_config("demo", 1)
    demo = c.dataset.get("demo", {})
    info = inspect_dataset(get_demo_dataset(**(demo if isinstance(demo, dict) else {})))
    # The demo is class-conditional (dataset.max_label_size): G embeds the dataset's one-hot labels.
    label_size = np.load(info.label_file).shape[1] if c.dataset.get("max_label_size") and info.label_file else 0
    keras.utils.set_random_seed(SEED)
    G = tflib.Network("G", num_channels=info.shape[0], resolution=info.resolution, label_size=label_size, **c.G)
    legacy.save_pkl(G.clone("Gs"), pkl)


@pytest.mark.slow
def test_demo_training_learns(tmp_path):
    from metrics import metric_base
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--result_dir=%s" % tmp_path,
                           "--seed=%d" % SEED, "--total_kimg=%g" % TEST_KIMG, "--set=train.network_snapshot_ticks=1000"],
                          env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    run_dir = glob.glob(str(tmp_path / "0*"))[0]
    final = os.path.join(run_dir, "network-final.pkl")
    assert os.path.isfile(final)
    untrained = os.path.join(run_dir, "network-untrained.pkl")
    _untrained_generator(run_dir, untrained)

    metrics = [dict(metric_base.swd2k, name="swd", num_images=SWD_IMAGES),
               dict(metric_base.digits1k, name="digits", num_images=DIGIT_IMAGES)]
    group = metric_base.MetricGroup(metrics, cache_dir=str(tmp_path / "cache"), seed=123, progress=False)
    results = {}
    for name, pkl in [("untrained", untrained), ("trained", final)]:
        group.run(pkl, run_dir=run_dir, num_gpus=1)
        results[name] = group.get_results()
    u, t = results["untrained"], results["trained"]
    assert t["swd_avg"] < MAX_SWD_RATIO * u["swd_avg"], results
    assert t["digits_fd"] < MAX_FD_RATIO * u["digits_fd"], results
