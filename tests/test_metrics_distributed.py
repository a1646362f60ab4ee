"""Metrics on every replica of a tf.distribute strategy: two logical CPU devices under
MirroredStrategy (in a subprocess, since logical devices must be configured before TF starts)."""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT


SCRIPT = textwrap.dedent(r"""
    import os, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from metrics import metric_base, standins
    from training import misc
    from stylegan_tf.data.demo import make_demo_dataset
    d = sys.argv[1]
    standins.make_inception_graphdef(os.path.join(d, "inc.pb"), feature_dim=64)  # 2015 traits, narrow pool_3: fast FID
    standins.make_lpips_weights(os.path.join(d, "lpips.npz"))
    standins.make_generator_pkl(os.path.join(d, "net.pkl"), resolution=32)
    make_demo_dataset(os.path.join(d, "digits"), resolution=32)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    stats = {}
    for label, strategy in [("default", None), ("mirrored", mirrored)]:
        args = [dict(metric_base.fid1k, name="fid_test", num_images=16)]
        if strategy is not None:
            args.append(dict(metric_base.ppl_wend, num_samples=16))
        group = metric_base.MetricGroup(args, inception=os.path.join(d, "inc.pb"), lpips=os.path.join(d, "lpips.npz"),
                                        cache_dir=os.path.join(d, "cache-" + label), strategy=strategy, seed=3,
                                        progress=False)
        group.run(os.path.join(d, "net.pkl"), dataset_args=dict(tfrecord_dir=os.path.join(d, "digits")),
                  mirror_augment=False)
        res = group.get_results()
        assert np.isfinite(res["fid_test"]) and res["fid_test"] > 0 and res.get("ppl_wend", 1) > 0, res
        cache = [f for f in os.listdir(os.path.join(d, "cache-" + label)) if f.endswith(".pkl")]
        stats[label] = misc.load_pkl(os.path.join(d, "cache-" + label, cache[0]))
    # Same reals in the same order: identical statistics whether one or two replicas computed them.
    np.testing.assert_allclose(stats["default"][0], stats["mirrored"][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["default"][1], stats["mirrored"][1], rtol=1e-4, atol=1e-5)
    # A deterministic per-sample function gives the same outputs split across replicas.
    from metrics import feature_nets
    inc = feature_nets.load_inception(os.path.join(d, "inc.pb"))
    x = np.random.RandomState(0).randint(0, 256, [16, 3, 32, 32]).astype(np.uint8)
    m = metric_base.DummyMetric(name="x")
    m._active_strategy = mirrored
    np.testing.assert_allclose(m._make_runner(lambda im: inc.features(im))(x), inc.features(x).numpy(), rtol=1e-5, atol=1e-6)
    print("DISTRIBUTED-OK")
""")


@pytest.mark.slow
def test_mirrored_strategy_two_replicas(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=600)
    assert res.returncode == 0 and "DISTRIBUTED-OK" in res.stdout, res.stderr[-3000:]
