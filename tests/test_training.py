"""Training: schedule, losses, R1, process_reals, replicas, and train.py runs (resume, signals, faults)."""

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from stylegan_tf import rng
from training import loss as loss_lib
from training import misc
from training.training_loop import PhaseView, process_reals, setup_snapshot_image_grid, training_schedule
from conftest import ROOT  # noqa: E402


# ----------------------------------------------------------------------------
# Schedule.


class _Set:
    def __init__(self, resolution):
        self.resolution_log2 = int(np.log2(resolution))


ONE_GPU = dict(lod_initial_resolution=8, minibatch_base=4,
               minibatch_dict={4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4},
               G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
               D_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003})


@pytest.mark.parametrize("kimg,lod,res,minibatch,lrate,tick", [
    # Worked by hand from the official formula (FFHQ 1024, 1 GPU, lod_initial_resolution 8, 600/600 kimg).
    (0, 7.0, 8, 128, 0.001, 140),
    (599.9, 7.0, 8, 128, 0.001, 140),
    (900, 6.5, 16, 128, 0.001, 120),
    (1200, 6.0, 16, 128, 0.001, 120),
    (2100, 5.5, 32, 64, 0.001, 100),
    (6000, 2.0, 256, 8, 0.002, 40),
    (7500, 1.0, 512, 4, 0.003, 30),
    (7900, 1.0 - 100 / 600.0, 1024, 4, 0.003, 20),
    (8000, 1.0 - 200 / 600.0, 1024, 4, 0.003, 20),
    (25000, 0.0, 1024, 4, 0.003, 20),
])
def test_schedule_table(kimg, lod, res, minibatch, lrate, tick):
    s = training_schedule(kimg * 1000, _Set(1024), num_gpus=1, **ONE_GPU)
    assert np.isclose(s.lod, lod) and s.resolution == res and s.minibatch == minibatch
    assert s.G_lrate == lrate and s.D_lrate == lrate and s.tick_kimg == tick


def test_schedule_options():
    s = training_schedule(0, _Set(256), num_gpus=8, minibatch_base=32, minibatch_dict={8: 256},
                          max_minibatch_per_gpu={8: 16}, lod_initial_resolution=8)
    assert s.minibatch == 128  # 256 capped at 16 per GPU
    s = training_schedule(3000, _Set(256), num_gpus=3, minibatch_base=32, lod_initial_resolution=8,
                          lrate_rampup_kimg=6)
    assert s.minibatch == 30 and np.isclose(s.G_lrate, 0.0005)  # divisible by GPUs; half-way up the ramp
    s = training_schedule(123456, _Set(64), num_gpus=1, lod_initial_resolution=64, lod_training_kimg=0,
                          lod_transition_kimg=0)
    assert s.lod == 0.0 and s.resolution == 64

# ----------------------------------------------------------------------------
# process_reals.


def test_process_reals_fade_and_upscale():
    x = np.random.RandomState(0).randint(0, 256, size=(2, 3, 8, 8)).astype(np.uint8)
    y = process_reals(tf.constant(x), tf.constant(1.25), False, [0, 255], [-1, 1]).numpy()
    assert y.shape == (2, 3, 16, 16)  # level 1 data, upscaled by 2**floor(lod)
    f = x.astype(np.float32) * (2 / 255.0) - 1
    box = f.reshape(2, 3, 4, 2, 4, 2).mean(axis=(3, 5)).repeat(2, axis=2).repeat(2, axis=3)
    expected = (f + (box - f) * 0.25).repeat(2, axis=2).repeat(2, axis=3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    native = process_reals(tf.constant(x), tf.constant(1.25), False, [0, 255], [-1, 1], upscale=False).numpy()
    np.testing.assert_allclose(native, f + (box - f) * 0.25, rtol=1e-5, atol=1e-5)
    with rng.seed_scope(tf.constant([1, 2])):
        mirrored = process_reals(tf.constant(np.repeat(x[:1], 64, axis=0)), tf.constant(0.0), True, [0, 255],
                                 [-1, 1]).numpy()
    flipped = np.array([np.array_equal(m, f[0, :, :, ::-1]) for m in mirrored])
    kept = np.array([np.array_equal(m, f[0]) for m in mirrored])
    assert np.all(flipped | kept) and 10 < flipped.sum() < 54

# ----------------------------------------------------------------------------
# Losses against direct computations.


class LinearD:
    """D(x) = <w, x> + b per sample: its input gradient is w, so R1 is |w|^2 in closed form."""
    input_shapes = [[None, 3, 4, 4], [None, 0]]

    def __init__(self, seed=0):
        self.w = tf.constant(np.random.RandomState(seed).randn(1, 3, 4, 4).astype(np.float32))

    def get_output_for(self, x, labels, **_):
        return tf.reduce_sum(x * self.w, axis=[1, 2, 3])[:, None] + 0.5


class ReshapeG:
    """G(z) = z reshaped to an image."""
    input_shapes = [[None, 48], [None, 0]]

    def get_output_for(self, z, labels, **_):
        return tf.reshape(z, [-1, 3, 4, 4])


class NoLabels:
    label_size = 0

    def get_random_labels_tf(self, n):
        return tf.zeros([n, 0])


def run_loss(func, seed=(3, 4), **kwargs):
    with rng.seed_scope(tf.constant(seed)):
        return func(G=ReshapeG(), D=LinearD(), opt=None, training_set=NoLabels(), minibatch_size=4, **kwargs).numpy()


def latents_of(seed=(3, 4)):
    with rng.seed_scope(tf.constant(seed)):
        return rng.normal([4, 48], batched=True).numpy()


class _LabelledSet:
    """Images whose pixels hold their class id; labels one-hot; random class order."""
    label_size = 3
    shape = [1, 4, 4]

    def __init__(self, classes=3):
        self.rnd = np.random.RandomState(0)
        self.classes = classes

    def get_minibatch_np(self, n):
        cls = self.rnd.randint(0, self.classes, size=n)
        return (np.repeat(cls, 16).reshape(n, 1, 4, 4).astype(np.uint8),
                np.eye(self.label_size, dtype=np.float32)[cls])


class _GLike:
    output_shape = [None, 1, 4, 4]
    input_shape = [None, 8]


@pytest.mark.parametrize("layout,size,expect", [
    ("row_per_class", "5x3", np.repeat([0, 1, 2], 5).reshape(3, 5)),
    ("col_per_class", "3x2", np.tile([0, 1, 2], 2).reshape(2, 3)),
    ("class4x4", "8x4", np.repeat(np.repeat([[0, 1]], 4, axis=0), 4, axis=1)),
    ("row_per_class", "2x4", np.array([[0, 0], [1, 1], [2, 2], [0, 0]]))])  # class 0 again: its second block
def test_snapshot_grid_class_layouts(layout, size, expect):
    (gw, gh), reals, labels, latents = setup_snapshot_image_grid(_GLike(), _LabelledSet(), size=size, layout=layout)
    assert (gw, gh) == expect.shape[::-1] and latents.shape == (gw * gh, 8)
    np.testing.assert_array_equal(reals[:, 0, 0, 0].reshape(gh, gw), expect)
    np.testing.assert_array_equal(labels.argmax(axis=1).reshape(gh, gw), expect)


def test_snapshot_grid_layout_errors(capsys):
    with pytest.raises(ValueError, match="grid layout 'diagonal'"):
        setup_snapshot_image_grid(_GLike(), _LabelledSet(), size="2x2", layout="diagonal")
    unlabelled = _LabelledSet()
    unlabelled.label_size = 0
    with pytest.raises(ValueError, match="needs a dataset with labels"):
        setup_snapshot_image_grid(_GLike(), unlabelled, size="2x2", layout="row_per_class")
    # A class that never occurs leaves its cells empty, with a message, after max_draws images.
    (_, _), reals, _, _ = setup_snapshot_image_grid(_GLike(), _LabelledSet(classes=2), size="2x3",
                                                    layout="row_per_class", max_draws=1000)
    assert "not enough images" in capsys.readouterr().out
    assert reals[4:].max() == 0 and reals[2:4].min() == 1


def test_losses_against_direct_computation():
    D = LinearD()
    w = D.w.numpy()
    reals = np.random.RandomState(1).randn(4, 3, 4, 4).astype(np.float32)
    labels = np.zeros([4, 0], np.float32)
    fakes = latents_of().reshape(4, 3, 4, 4)
    real_s = (reals * w).sum(axis=(1, 2, 3))[:, None] + 0.5
    fake_s = (fakes * w).sum(axis=(1, 2, 3))[:, None] + 0.5
    softplus = lambda v: np.log1p(np.exp(v))
    kw = dict(reals=tf.constant(reals), labels=tf.constant(labels))
    np.testing.assert_allclose(run_loss(loss_lib.G_logistic_nonsaturating), softplus(-fake_s), rtol=1e-5)
    np.testing.assert_allclose(run_loss(loss_lib.G_logistic_saturating), -softplus(fake_s), rtol=1e-5)
    np.testing.assert_allclose(run_loss(loss_lib.G_wgan), -fake_s, rtol=1e-5)
    np.testing.assert_allclose(run_loss(loss_lib.D_logistic, **kw), softplus(fake_s) + softplus(-real_s), rtol=1e-5)
    r1 = (w ** 2).sum()
    simplegp = run_loss(loss_lib.D_logistic_simplegp, **kw)
    assert simplegp.shape == (4, 4)  # the official [N, 1] + [N] broadcast
    np.testing.assert_allclose(simplegp.mean(), (softplus(fake_s) + softplus(-real_s)).mean() + 5.0 * r1, rtol=1e-5)
    r2 = run_loss(loss_lib.D_logistic_simplegp, r1_gamma=0.0, r2_gamma=2.0, **kw)
    np.testing.assert_allclose(r2.mean(), (softplus(fake_s) + softplus(-real_s)).mean() + 1.0 * r1, rtol=1e-5)
    lazy_on = run_loss(loss_lib.D_logistic_simplegp, r1_interval=4, penalty_step=True, **kw)
    lazy_off = run_loss(loss_lib.D_logistic_simplegp, r1_interval=4, penalty_step=False, **kw)
    np.testing.assert_allclose(lazy_on.mean(), (softplus(fake_s) + softplus(-real_s)).mean() + 4 * 5.0 * r1,
                               rtol=1e-5)
    np.testing.assert_allclose(lazy_off, softplus(fake_s) + softplus(-real_s), rtol=1e-5)
    np.testing.assert_allclose(run_loss(loss_lib.D_wgan, **kw), fake_s - real_s + 0.001 * real_s ** 2, rtol=1e-5)
    np.testing.assert_allclose(run_loss(loss_lib.D_hinge, **kw),
                               np.maximum(0, 1 + fake_s) + np.maximum(0, 1 - real_s), rtol=1e-5)
    norm = np.sqrt(r1)
    gp = 10.0 * (norm - 1.0) ** 2  # linear D: the gradient at any mixed image is w
    # The official [N, 1] + [N] broadcast again: [N, N], every column the same here.
    wgan_gp = run_loss(loss_lib.D_wgan_gp, **kw)
    assert wgan_gp.shape == (4, 4)
    np.testing.assert_allclose(wgan_gp, np.broadcast_to(fake_s - real_s + gp + 0.001 * real_s ** 2, (4, 4)),
                               rtol=1e-4)
    np.testing.assert_allclose(run_loss(loss_lib.D_hinge_gp, **kw),
                               np.broadcast_to(np.maximum(0, 1 + fake_s) + np.maximum(0, 1 - real_s) + gp, (4, 4)),
                               rtol=1e-4)


def test_r1_matches_finite_differences():
    """R1 of a real (tiny) D: |d sum(D(x)) / dx|^2 per sample, checked by central differences (float64)."""
    D = tflib.Network("D", func_name="D_basic", num_channels=1, resolution=8, fmap_base=32, fmap_max=8,
                      mbstd_group_size=0, dtype="float64")
    x = np.random.RandomState(2).randn(2, 1, 8, 8)
    labels = tf.zeros([2, 0], tf.float64)
    f = lambda v: float(tf.reduce_sum(D.get_output_for(tf.constant(v), labels)))
    eps = 1e-5
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        numeric[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    expected = (numeric ** 2).sum(axis=(1, 2, 3))
    _, grads = loss_lib._input_gradients(D, tf.constant(x), labels, None)
    np.testing.assert_allclose(loss_lib._sqnorm(D, grads).numpy(), expected, rtol=1e-3)  # float32 result
    # At native phase resolution each pixel stands for 4**lod full-resolution pixels.
    view = PhaseView(D, 1, native=True)
    assert view.input_area_scale == 4.0
    np.testing.assert_allclose(loss_lib._sqnorm(view, grads).numpy(), expected / 4.0, rtol=1e-3)


# ----------------------------------------------------------------------------
# Multi-replica equivalence (logical CPU devices must be set before TF starts: subprocess).

REPLICA_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import dnnlib.tflib as tflib
    from training.config import TrainingConfig
    from training.training_loop import Trainer, micro_batching

    def run(n, batch_gpu, out):
        strategy = tf.distribute.MirroredStrategy(["/cpu:%d" % i for i in range(n)]) if n > 1 else tf.distribute.get_strategy()
        keras.utils.set_random_seed(5)
        kw = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16,
                  mapping_fmaps=16, mapping_layers=2, style_mixing_prob=None, mbstd_group_size=0)
        with strategy.scope():
            G = tflib.Network("G", func_name="G_style", **kw)
            D = tflib.Network("D", func_name="D_basic", **kw)
            Gs = G.clone("Gs")
            # epsilon 1: Adam ~ SGD here, so parameters with a zero true gradient (e.g. the bias before
            # instance norm) do not turn float noise into +-lr steps that differ with the summation order.
            opt_kw = dict(learning_rate=0.1, beta1=0.0, beta2=0.99, epsilon=1.0)
            G_opt = tflib.Optimizer(name="TrainG", **opt_kw).build(G.trainables)
            D_opt = tflib.Optimizer(name="TrainD", **opt_kw).build(D.trainables)
        # Non-zero noise strengths, so that the replicas' noise draws matter.
        rnd = np.random.RandomState(0)
        for name, var in G.vars.items():
            if "Noise/weight" in name:
                var.assign(rnd.randn(*var.shape).astype(np.float32) * 0.1)
        class DS:
            label_size = 0; dynamic_range = [0, 255]
        config = TrainingConfig(G_loss_args=dict(func_name="training.loss.G_logistic_nonsaturating"),
                                D_loss_args=dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0),
                                mirror_augment=True, batch_gpu=batch_gpu)
        trainer = Trainer(strategy, G, D, Gs, G_opt, D_opt, config, DS())
        reals = np.random.RandomState(6).randint(0, 256, size=(8, 3, 8, 8)).astype(np.uint8)
        per = 8 // n
        rounds = micro_batching(per, batch_gpu)[1]
        dist = strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(reals[ctx.replica_id_in_sync_group * per:(ctx.replica_id_in_sync_group + 1) * per]))
        labels = strategy.experimental_distribute_values_from_function(lambda ctx: tf.zeros([per, 0]))
        D_step, G_step = trainer.steps(1.5, rounds=rounds)
        lod = tf.constant(1.5)
        before = {k: v.numpy() for k, v in D.vars.items()}
        for i in range(2):
            D_step(dist, labels, lod, tf.constant([7, 2 * i], tf.int64), tf.constant(per), tf.constant(0.9))
            G_step(lod, tf.constant([7, 2 * i + 1], tf.int64), tf.constant(per))
        after = {k: v.numpy() for k, v in list(G.vars.items()) + [("D/" + k, v) for k, v in D.vars.items()]
                 + [("Gs/" + k, v) for k, v in Gs.vars.items()]}
        assert sum(np.abs(after["D/" + k] - v).max() > 1e-4 for k, v in before.items()) > 5, "D did not train"
        np.savez(out, **after)

    for n, batch_gpu, out in json.loads(sys.argv[1]):
        run(n, batch_gpu, out)
""")


@pytest.mark.slow
def test_replicas_and_micro_batches_equal_one_step(tmp_path):
    """Two full steps (D with R1, G, both Adam updates, Gs) give the same weights on 1 replica, on 2, and
    with the replica's share in micro-batches (--batch_gpu: 4 rounds of 2 on 1 replica, 2 rounds of 2 on
    2 replicas), minibatch stddev off (with it, groups form inside a micro-batch: a different D)."""
    runs = [(1, None), (2, None), (1, 2), (2, 2)]
    outs = [str(tmp_path / ("r%d_%s.npz" % run)) for run in runs]
    res = subprocess.run([sys.executable, "-c", REPLICA_SCRIPT, json.dumps([list(r) + [o] for r, o in zip(runs, outs)])],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    one = np.load(outs[0])
    assert len(one.files) > 10
    for run, out in zip(runs[1:], outs[1:]):
        other = np.load(out)
        assert set(other.files) == set(one.files)
        for name in one.files:
            np.testing.assert_allclose(other[name], one[name], rtol=1e-5, atol=1e-5, err_msg="%s %s" % (run, name))


# ----------------------------------------------------------------------------
# train.py end to end.

TINY = ["--set=G.fmap_base=64", "--set=G.fmap_max=16", "--set=G.latent_size=16", "--set=G.dlatent_size=16",
        "--set=G.mapping_fmaps=16", "--set=G.mapping_layers=2", "--set=D.fmap_base=64", "--set=D.fmap_max=16",
        "--set=sched.minibatch_base=8", "--set=sched.lod_initial_resolution=16",
        "--set=sched.lod_training_kimg=0.1", "--set=sched.lod_transition_kimg=0.1",
        "--set=sched.tick_kimg_base=0.1", "--set=grid.size='4x2'", "--set=train.network_snapshot_ticks=2",
        "--set=dataset.demo={'resolution': 32, 'channels': 3}"]  # growth 16 -> 32 and RGB (the demo is 16x16 gray)


def train(tmp_path, *args, check=True, **kwargs):
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--result_dir", str(tmp_path / "results")] + TINY + list(args)
    return subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, check=check, **kwargs)


def run_dirs(tmp_path):
    root = tmp_path / "results"
    return sorted(str(root / d) for d in os.listdir(root))


@pytest.mark.slow
def test_short_training_run(tmp_path):
    res = train(tmp_path, "--total_kimg=0.3", "--metrics=dummy")
    run_dir = run_dirs(tmp_path)[-1]
    metric_lines = open(os.path.join(run_dir, "metric-dummy.txt")).read().splitlines()
    assert len(metric_lines) >= 2 and "network-snapshot-000000" in metric_lines[0]  # run on every snapshot
    files = set(os.listdir(run_dir))
    assert {"log.txt", "config.txt", "config.json", "reals.png", "fakes000000.png", "network-final.pkl",
            "network-snapshot-000000.pkl"} <= files, files
    assert any(f.startswith("events.out.tfevents") for f in files)
    ticks = [line for line in res.stdout.splitlines() if line.startswith("tick ")]
    assert len(ticks) >= 3 and "sec/kimg" in ticks[0] and "lod" in ticks[0] and " eta " in ticks[0]
    assert "Latest image grid: %s" % os.path.join(run_dir, "fakes000000.png") in res.stdout
    assert "Metrics of the last snapshot: dummy" in res.stdout
    assert "tensorboard --logdir %s" % run_dir in res.stdout
    tf_log = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages)|oneDNN|cuInit|cuda|tensorflow/", re.M)
    assert not tf_log.search(res.stderr + res.stdout), res.stderr  # TensorFlow's own log stays quiet
    G, D, Gs = misc.load_pkl(os.path.join(run_dir, "network-final.pkl"))
    img = Gs.run(np.random.randn(2, 16).astype(np.float32), None, truncation_psi=0.7)
    assert img.shape == (2, 3, 32, 32) and np.all(np.isfinite(img))
    assert G.get_var("lod") == 0.0  # grew from 16x16 (lod 1) to 32x32
    assert abs(G.get_var("dlatent_avg")).sum() > 0
    losses = read_scalars(run_dir, "Loss/D")
    assert len(losses) >= 3 and np.all(np.isfinite(losses)) and np.ptp(losses) > 1e-4
    assert read_scalars(run_dir, "Loss/r1_penalty")
    assert read_scalars(run_dir, "Progress/kimg")[-1] >= 0.3
    from stylegan_tf.rundir import parse_config_for_previous_run
    cfg = parse_config_for_previous_run(run_dir)
    assert cfg["dataset"]["tfrecord_dir"].endswith("demo-digits32") and cfg["train"]["total_kimg"] == 0.3


@pytest.mark.slow
def test_ada_training_run(tmp_path):
    """--aug ada: the pipe sits in the slot, p adapts every minibatch_repeats minibatches from sign(D(real)),
    is printed per tick, written to TensorBoard and kept in the training state (restored on --resume)."""
    res = train(tmp_path, "--total_kimg=0.2", "--aug=ada", "--target=0", "--ada_kimg=0.05", "--augpipe=bgcfnc")
    run_dir = run_dirs(tmp_path)[-1]
    assert run_dir.endswith("-ada-bgcfnc")
    ticks = [line for line in res.stdout.splitlines() if line.startswith("tick ")]
    assert ticks and all(" augment " in t and " augment_rt " in t for t in ticks), ticks
    p_values, rt_values = read_scalars(run_dir, "Progress/augment"), read_scalars(run_dir, "Progress/augment_rt")
    assert len(p_values) == len(ticks) and all(p >= 0 for p in p_values) and len(rt_values) == len(ticks)
    assert max(p_values) > 0  # target 0: any D with r_t > 0 gets augmented
    final_state = misc.load_pkl(os.path.join(run_dir, "training-state-final.pkl")) if os.path.exists(
        os.path.join(run_dir, "training-state-final.pkl")) else None
    states = sorted(f for f in os.listdir(run_dir) if f.startswith("training-state"))
    state = final_state or misc.load_pkl(os.path.join(run_dir, states[-1]))
    assert state["augment"]["p"] == pytest.approx(p_values[-1], abs=1e-6)
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    assert cfg["augment"]["func_name"] == "stylegan_tf.augment.AdaptiveAugment" and cfg["augment"]["target"] == 0


@pytest.mark.slow
def test_bf16_training_run(tmp_path):
    """The mixed-precision path (networks in bfloat16, float32 variables and losses) trains on CPU, here with
    micro-batches (--batch_gpu 4: the minibatch of 8 in 2 rounds), which train.py announces."""
    res = train(tmp_path, "--total_kimg=0.2", "--config=demo,bf16", "--batch_gpu=4")
    assert "Micro-batches (--batch_gpu 4): 16x16: 8 per replica = 2 x 4, 32x32: 8 per replica = 2 x 4" in res.stdout
    run_dir = run_dirs(tmp_path)[-1]
    assert run_dir.endswith("-demo-bf16")
    G, D, Gs = misc.load_pkl(os.path.join(run_dir, "network-final.pkl"))
    assert G.static_kwargs.dtype == "bfloat16" and D.static_kwargs.dtype == "bfloat16"
    img = Gs.run(np.random.randn(2, 16).astype(np.float32), None, truncation_psi=0.7)
    assert img.shape == (2, 3, 32, 32) and np.all(np.isfinite(np.asarray(img, np.float32)))
    losses = read_scalars(run_dir, "Loss/D")
    assert len(losses) >= 2 and np.all(np.isfinite(losses))
    assert read_scalars(run_dir, "TrainD/overflow_frequency") == [0.0] * len(losses)


def read_scalars(run_dir, tag):
    from tensorflow.core.util import event_pb2
    values = []
    for f in sorted(os.listdir(run_dir)):
        if f.startswith("events.out.tfevents"):
            for raw in tf.data.TFRecordDataset(os.path.join(run_dir, f)):
                ev = event_pb2.Event.FromString(raw.numpy())
                for v in ev.summary.value:
                    if v.tag == tag:
                        values.append(float(tf.make_ndarray(v.tensor)))
    return values


def final_vars(run_dir):
    G, D, Gs = misc.load_pkl(os.path.join(run_dir, "network-final.pkl"))
    return {k: v.numpy() for net, p in ((G, "G/"), (D, "D/"), (Gs, "Gs/")) for k, v in
            [(p + n, var) for n, var in net.vars.items()]}


@pytest.mark.slow
def test_resume_equivalence(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    train(a, "--total_kimg=0.3")
    train(b, "--total_kimg=0.3", "--stop_after_ticks=1")
    first = run_dirs(b)[-1]
    assert not os.path.exists(os.path.join(first, "network-final.pkl"))
    res = train(b, "--total_kimg=0.3", "--resume=" + first)
    assert "Loading networks from" in res.stdout
    va, vb = final_vars(run_dirs(a)[-1]), final_vars(run_dirs(b)[-1])
    assert set(va) == set(vb)
    for name in va:
        np.testing.assert_allclose(vb[name], va[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_sigterm_writes_snapshot_and_exits(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--result_dir", str(tmp_path / "results"),
           "--total_kimg=1000"] + TINY
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("tick 1 "):
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=600)
    lines.append(out)
    assert proc.returncode == 0, "".join(lines)[-3000:]
    run_dir = run_dirs(tmp_path)[-1]
    snaps = sorted(f for f in os.listdir(run_dir) if f.startswith("network-snapshot-"))
    assert len(snaps) >= 2 or "Stopped at tick" in "".join(lines)
    assert "Stopped at tick" in "".join(lines)
    misc.load_pkl(os.path.join(run_dir, snaps[-1]))
    # A training-state file whose optimizer state does not fit (e.g. from an older version): the run
    # resumes anyway, with a fresh optimizer and a message.
    state_file = os.path.join(run_dir, snaps[-1].replace("network-snapshot-", "training-state-"))
    state = misc.load_pkl(state_file)
    state["G_opt"] = state["G_opt"][:3]
    misc.save_pkl(state, state_file)
    res = train(tmp_path, "--total_kimg=0.4", "--resume=" + os.path.join(run_dir, snaps[-1]))
    assert "does not fit" in res.stdout and "Done:" in res.stdout


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from training import misc
    class Slow:
        def __reduce__(self):
            print("writing", flush=True)
            time.sleep(60)
            return (dict, ())
    misc.save_pkl(({"big": b"x" * (1 << 20)}, Slow()), sys.argv[1])
""")


@pytest.mark.slow
def test_kill_during_snapshot_keeps_previous(tmp_path):
    path = tmp_path / "network-snapshot-000010.pkl"
    misc.save_pkl({"good": np.arange(5)}, str(path))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with open(path, "rb") as f:
        assert np.array_equal(pickle.load(f)["good"], np.arange(5))
    # The interrupted temp file is hidden and never taken for a snapshot.
    from stylegan_tf.rundir import locate_latest_snapshot
    assert locate_latest_snapshot(str(tmp_path)) == str(path)


def test_presets():
    import train as train_py
    c = train_py.build_config("ffhq", 1)
    assert c.desc == "sgan-ffhq-1gpu" and c.train.mirror_augment and c.sched.minibatch_dict[8] == 128
    assert c.G_opt == dict(beta1=0.0, beta2=0.99, epsilon=1e-8) and c.D_loss.r1_gamma == 10.0
    c = train_py.build_config("ffhq,fp16", 8)  # the official commented-out fp16 line
    assert c.desc == "sgan-ffhq-8gpu-fp16" and c.G.dtype == c.D.dtype == "float16"
    assert c.G_opt.use_loss_scaling and c.D_opt.use_loss_scaling and c.G.pixelnorm_epsilon == 1e-4
    assert c.sched.max_minibatch_per_gpu == {512: 16, 1024: 8} and c.sched.minibatch_base == 32
    c = train_py.build_config("bf16,celebahq", 2)
    assert c.desc == "sgan-celebahq-2gpu-bf16" and c.G.dtype == "bfloat16" and "use_loss_scaling" not in c.G_opt
    c = train_py.build_config("pgan,celebahq", 4, ["G_opt.beta2=0.9"])
    assert c.desc.startswith("pgan-celebahq-4gpu") and c.G_opt.beta2 == 0.9


@pytest.mark.slow
def _train_in_process(tmp_path, capsys, *args):
    """train.py's command line run in this process (no TensorFlow start-up per call): (exit code, stderr)."""
    import train as train_script
    from dnnlib import cli
    capsys.readouterr()
    code = cli.run(train_script.command, ["--result_dir", str(tmp_path / "results")] + TINY + list(args),
                   prog_name="train.py")
    return code, capsys.readouterr().err


def test_train_py_bad_flags(tmp_path, capsys):
    """Refusals before any training: one line, exit 2, nothing written. Checked in this process, and as a real
    process for a typo (one stderr line, no TensorFlow log), --help and fp16 (which touches global state)."""
    for args, needle in [(["--config=nonexistent"], "unknown preset 'nonexistent'"),
                         (["--dataset=missing"], "no such TFRecord directory"),
                         (["--resume=" + str(tmp_path / "nowhere")], "nowhere"),
                         (["--set=G.fmap_base"], "group.key=value"),
                         (["--set=G_opt.momentum=0.9"], "G_opt: unknown optimizer option(s): momentum"),
                         (["--set=grid.layout=diagonal"], "grid.layout 'diagonal'"),
                         (["--set=sched.lod_training_kmg=3"], "did you mean sched.lod_training_kimg?"),
                         (["--total_kmg=3"], "--total_kimg"),
                         (["--xla=maybe"], "--xla")]:
        code, err = _train_in_process(tmp_path, capsys, *args)
        assert code == 2 and needle in err and err.count("\n") == 1, (args, err)
    res = train(tmp_path, "--set=G.fmap_bse=256", check=False)  # a typo is refused, not ignored
    assert res.returncode == 2 and "'fmap_bse'" in res.stderr and "did you mean G.fmap_base?" in res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    res = train(tmp_path, "--help", check=False)
    assert res.returncode == 0 and "--set GROUP.KEY=VALUE" in res.stdout and res.stderr == ""
    if not tf.config.list_physical_devices("GPU"):
        res = train(tmp_path, "--config=demo,fp16", check=False)
        assert res.returncode == 2 and "needs a GPU" in res.stderr
    assert not os.path.exists(tmp_path / "results") or not os.listdir(tmp_path / "results")


def _free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_two_local_processes(tmp_path):
    """MultiWorkerMirroredStrategy from TF_CONFIG: two processes on 127.0.0.1 train together; the chief writes."""
    import json
    ports = _free_ports(2)
    cluster = {"worker": ["127.0.0.1:%d" % p for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--multiworker", "--total_kimg=0.1",
               "--result_dir", str(tmp_path / "results")] + TINY
        procs.append(subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 1  # only the chief (worker 0) makes a run directory
    assert "minibatch 8" in outs[0] and os.path.isfile(os.path.join(dirs[0], "network-final.pkl"))
    cfg = json.load(open(os.path.join(dirs[0], "config.json")))
    assert cfg["num_gpus"] == 2


@pytest.mark.slow
def test_fine_tune_a_finished_pickle_on_unlabelled_data(tmp_path):
    """A finished conditional pickle (lod 0, no training state beside it, like NVIDIA's) resumed into a new run
    on the same images without labels: the networks are adapted (label-dependent variables listed, the rest
    copied), training starts at full resolution, with Freeze-D on the top block, and the frozen block is the
    pickle's, bit for bit."""
    train(tmp_path, "--total_kimg=0.4")
    src = os.path.join(run_dirs(tmp_path)[-1], "network-final.pkl")
    pkl = str(tmp_path / "finished.pkl")
    import shutil
    shutil.copy(src, pkl)  # without its training-state file
    tiny = [a for a in TINY if not a.startswith("--set=sched.lod_initial_resolution=")]  # (that would grow again)
    res = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--result_dir", str(tmp_path / "results")]
                         + tiny + ["--resume=" + pkl, "--total_kimg=0.1", "--set=dataset.max_label_size=0",
                                   "--set=grid.layout=random", "--freezed=1"], cwd=str(tmp_path), capture_output=True, text=True, check=True)
    out = res.stdout
    assert "is at full resolution (lod 0): training continues there" in out, out
    assert "the networks take 10 labels" in out and "has 0: they will be adapted" in out
    assert re.search(r"^D: \d+ of \d+ variables copied; initial values for 4x4/Dense1/weight", out, re.M), out
    # G's first mapping layer took latent + label embedding: with no labels it is another shape.
    assert re.search(r"^G: \d+ of \d+ variables copied; initial values for G_mapping/Dense0/weight", out, re.M), out
    ticks = [line for line in out.splitlines() if line.startswith("tick ")]
    assert ticks and all(" lod 0.00 " in t for t in ticks), ticks
    run_dir = run_dirs(tmp_path)[-1]
    assert run_dir.endswith("-freezed1")
    (G0, D0, _), (G1, D1, _) = misc.load_pkl(pkl), misc.load_pkl(os.path.join(run_dir, "network-final.pkl"))
    assert G1.input_shapes[1] == [None, 0]
    top = [n for n in D1.trainables if n.startswith(("32x32/", "FromRGB_lod0/"))]
    assert top
    for name in top:
        np.testing.assert_array_equal(D1.get_var(name), D0.get_var(name), err_msg=name)
    assert any(np.abs(D1.get_var(n) - D0.get_var(n)).max() > 0 for n in D1.trainables
               if n not in top and n in D0.trainables and D0.get_var(n).shape == D1.get_var(n).shape)
