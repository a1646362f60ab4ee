"""The training loop's parts: TrainingConfig, the loss's phases, the pipeline slot for what D sees, and
micro-batches (--batch_gpu) with their refusals."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from training import loss as loss_lib
from training.config import TrainingConfig
from training.training_loop import (PhaseView, Trainer, build_augment, check_batch_gpu, micro_batching,
                                    training_loop)

# The official training_loop() options that `--set train.KEY` has always named (NVlabs/stylegan's
# training_loop keywords that are plain values, plus ours: native_lod_resolution).
OFFICIAL_TRAIN_KEYS = {"G_smoothing_kimg", "D_repeats", "minibatch_repeats", "reset_opt_for_new_lod", "total_kimg",
                       "mirror_augment", "drange_net", "image_snapshot_ticks", "network_snapshot_ticks", "resume_time",
                       "native_lod_resolution"}


def test_config_fields_defaults_and_settable_keys():
    c = TrainingConfig()
    assert TrainingConfig.settable() == OFFICIAL_TRAIN_KEYS
    # The official defaults.
    assert (c.G_smoothing_kimg, c.D_repeats, c.minibatch_repeats, c.reset_opt_for_new_lod, c.total_kimg) == \
        (10.0, 1, 4, True, 15000)
    assert (c.mirror_augment, c.drange_net, c.image_snapshot_ticks, c.network_snapshot_ticks) == (False, [-1, 1], 1, 10)
    assert c.batch_gpu is None and c.augment_args == {} and c.tf_config == {}
    # Mutable defaults are not shared between instances.
    c.drange_net.append(5)
    assert TrainingConfig().drange_net == [-1, 1]
    # Every field is documented.
    assert all(doc for _, _, doc in TrainingConfig.describe())
    with pytest.raises(TypeError):
        TrainingConfig(total_kimgs=3)
    with pytest.raises(TypeError):
        training_loop("unused", total_kimgs=3)  # the loop's keyword arguments are the config's fields


def test_train_py_set_keys_come_from_the_config():
    import train as train_script
    c = train_script.build_config("demo", 1)
    keys = train_script.override_keys(c)
    assert keys["train"] == TrainingConfig.settable()
    assert keys["augment"] == {"func_name"}
    c = train_script.build_config("demo", 1, ["augment.func_name=test_training_config.ScalePipe"])
    assert train_script.override_keys(c)["augment"] == {"func_name", "factor", "offset"}
    config = train_script.training_config(c, seed=3, batch_gpu=4)
    assert isinstance(config, TrainingConfig) and config.seed == 3 and config.batch_gpu == 4
    assert config.total_kimg == c.train.total_kimg and config.augment_args == c.augment


# ----------------------------------------------------------------------------
# Loss phases.


def test_loss_phases_and_lazy_interval():
    official = loss_lib.StyleGANLoss(dict(func_name="training.loss.G_logistic_nonsaturating"),
                                     dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0))
    assert [official.phases("D", i) for i in range(3)] == [("Dboth",)] * 3  # R1 every minibatch
    assert official.phases("G", 7) == ("Gmain",)
    lazy = loss_lib.StyleGANLoss(dict(func_name="training.loss.G_logistic_nonsaturating"),
                                 dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0, r1_interval=4))
    # Counted in D minibatches (not in D+G steps): the penalty on every 4th D minibatch.
    assert [lazy.phases("D", i)[0] for i in range(9)] == ["Dboth", "Dmain", "Dmain", "Dmain"] * 2 + ["Dboth"]
    with pytest.raises(ValueError, match="unknown phase"):
        lazy.phase_loss("Greg", None, None, None, None, 4)


def test_phase_loss_is_the_official_function():
    """Each phase computes exactly what the official function gives (same random stream)."""
    from test_training import LinearD, NoLabels, ReshapeG
    reals = tf.constant(np.random.RandomState(1).randn(4, 3, 4, 4).astype(np.float32))
    labels = tf.zeros([4, 0])
    kw = dict(G=ReshapeG(), D=LinearD(), opt=None, training_set=NoLabels(), minibatch_size=4)
    loss = loss_lib.StyleGANLoss(dict(func_name="training.loss.G_logistic_nonsaturating"),
                                 dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0, r1_interval=4))
    for phase, func, extra in [("Gmain", loss_lib.G_logistic_nonsaturating, {}),
                               ("Dboth", loss_lib.D_logistic_simplegp, dict(r1_gamma=10.0, r1_interval=4,
                                                                            penalty_step=True)),
                               ("Dmain", loss_lib.D_logistic_simplegp, dict(r1_gamma=10.0, r1_interval=4,
                                                                            penalty_step=False))]:
        d_kw = dict(reals=reals, labels=labels) if phase != "Gmain" else {}
        with tflib_seed():
            ours = loss.phase_loss(phase, **kw, **d_kw).numpy()
        with tflib_seed():
            ref = func(**kw, **d_kw, **extra).numpy()
        np.testing.assert_array_equal(ours, ref, err_msg=phase)


def tflib_seed():
    from stylegan_tf import rng
    return rng.seed_scope(tf.constant([3, 4]))


# ----------------------------------------------------------------------------
# The pipeline slot for what D sees.


class ScalePipe:
    """A stateful pipe by name (as an adaptive augmentation would be): images * factor + offset; counts its
    calls."""

    def __init__(self, factor=1.0, offset=0.0):
        self.factor, self.offset = factor, offset
        self.calls = 0

    def __call__(self, images, labels):
        self.calls += 1
        return images * self.factor + self.offset, labels


def scale_images(images, labels, factor=1.0):
    return images * factor


def test_build_augment():
    assert build_augment({}) is None and build_augment(None) is None
    with pytest.raises(ValueError, match="without augment.func_name"):
        build_augment(dict(factor=2.0))
    x = tf.ones([2, 1, 4, 4])
    f = build_augment(dict(func_name="test_training_config.scale_images", factor=3.0))
    np.testing.assert_array_equal(f(x, None).numpy(), 3.0 * np.ones([2, 1, 4, 4]))
    pipe = build_augment(dict(func_name="test_training_config.ScalePipe", factor=2.0))
    np.testing.assert_array_equal(pipe(x, None).numpy(), 2.0 * np.ones([2, 1, 4, 4]))  # (images, labels) -> images
    assert isinstance(pipe.pipe, ScalePipe) and pipe.pipe.calls == 1


def _tiny_trainer(augment_args, batch_gpu=None, epsilon=1e-8):
    kw = dict(num_channels=1, resolution=8, fmap_base=32, fmap_max=8, latent_size=8, dlatent_size=8, mapping_fmaps=8,
              mapping_layers=1, mbstd_group_size=0)
    G = tflib.Network("G", func_name="G_style", **kw)
    D = tflib.Network("D", func_name="D_basic", **kw)
    opt_kw = dict(learning_rate=0.01, beta1=0.0, beta2=0.99, epsilon=epsilon)
    G_opt = tflib.Optimizer(name="TrainG", **opt_kw).build(G.trainables)
    D_opt = tflib.Optimizer(name="TrainD", **opt_kw).build(D.trainables)

    class DS:
        label_size = 0
        dynamic_range = [0, 255]
    config = TrainingConfig(G_loss_args=dict(func_name="training.loss.G_logistic_nonsaturating"),
                            D_loss_args=dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0),
                            augment_args=augment_args, batch_gpu=batch_gpu)
    return Trainer(tf.distribute.get_strategy(), G, D, G.clone("Gs"), G_opt, D_opt, config, DS())


def test_augment_slot_is_what_D_sees_in_every_phase():
    """With a pipe that replaces every image by ones, D sees the same input whatever the reals and fakes are:
    R1 (through the pipe) is 0, and G receives no gradient at all, so its weights do not move; D still trains."""
    trainer = _tiny_trainer(dict(func_name="test_training_config.ScalePipe", factor=0.0, offset=1.0))
    G, D = trainer.G, trainer.D
    reals = tf.constant(np.random.RandomState(0).randint(0, 256, size=(4, 1, 8, 8)).astype(np.uint8))
    D_step, G_step = trainer.steps(0.0)
    G_before = {k: v.numpy() for k, v in G.trainables.items()}
    D_before = {k: v.numpy() for k, v in D.trainables.items()}
    lod, mb = tf.constant(0.0), tf.constant(4)
    _, d_stats = D_step(reals, tf.zeros([4, 0]), lod, tf.constant([1, 0], tf.int64), mb, tf.constant(0.9))
    _, g_stats = G_step(lod, tf.constant([1, 1], tf.int64), mb)
    assert float(d_stats["Loss/r1_penalty"][0]) == 0.0
    assert trainer.augment.pipe.calls >= 3  # traced into the D step (reals, fakes) and the G step (fakes)
    for k, v in G.trainables.items():
        np.testing.assert_array_equal(v.numpy(), G_before[k], err_msg=k)
    assert any(np.abs(v.numpy() - D_before[k]).max() > 0 for k, v in D.trainables.items())
    # The identity slot (no func_name) is the official loop: D sees the images themselves.
    view = PhaseView(D, 0)
    x = tf.random.normal([2, 1, 8, 8])
    blank = PhaseView(D, 0, augment=trainer.augment)
    np.testing.assert_array_equal(blank.get_output_for(x, tf.zeros([2, 0])).numpy(),
                                  view.get_output_for(tf.ones_like(x), tf.zeros([2, 0])).numpy())


# ----------------------------------------------------------------------------
# Micro-batches.


def test_micro_batching():
    assert micro_batching(8, None) == (8, 1)
    assert micro_batching(8, 8) == (8, 1) and micro_batching(8, 32) == (8, 1)
    assert micro_batching(8, 2) == (2, 4)
    with pytest.raises(ValueError, match="does not divide"):
        micro_batching(8, 3)


ONE_GPU = dict(lod_initial_resolution=8, minibatch_base=4,
               minibatch_dict={4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4})


def test_check_batch_gpu_over_the_schedule():
    rows = check_batch_gpu(8, 1, ONE_GPU, 10)
    assert [r[0] for r in rows] == [8, 16, 32, 64, 128, 256, 512, 1024]
    assert rows[0] == (8, 128, 128, 8, 16) and rows[-1] == (1024, 4, 4, 4, 1)  # (res, mb, per replica, micro, rounds)
    two = check_batch_gpu(4, 2, dict(ONE_GPU, minibatch_dict={8: 256, 64: 32}), 6)
    assert two[0] == (8, 256, 128, 4, 32) and two[-1] == (64, 32, 16, 4, 4)
    with pytest.raises(ValueError, match="batch_gpu 3 does not divide the per-replica minibatch 128 at 8x8"):
        check_batch_gpu(3, 1, ONE_GPU, 10)
    with pytest.raises(ValueError, match="must be >= 1"):
        check_batch_gpu(0, 1, ONE_GPU, 10)
    with pytest.raises(ValueError, match="smaller than the mbstd_group_size 4"):
        check_batch_gpu(2, 1, ONE_GPU, 10, mbstd_group_size=4)
    check_batch_gpu(2, 1, ONE_GPU, 10)  # the default group size shrinks to the micro-batch, as in stylegan2-ada
    assert check_batch_gpu(None, 1, ONE_GPU, 4)[0][4] == 1


def test_train_py_batch_gpu_refusals(tmp_path, capsys):
    from test_training import _train_in_process
    for args, needle in [(["--batch_gpu=3"], "--batch_gpu: batch_gpu 3 does not divide the per-replica minibatch"),
                         (["--batch_gpu=0"], "--batch_gpu: batch_gpu must be >= 1"),
                         (["--batch_gpu=2", "--set=D.mbstd_group_size=4"], "smaller than the mbstd_group_size 4"),
                         (["--set=augment.factor=2"], "augment has no option 'factor'"),
                         # Found once the networks exist: still one line on stderr, exit 2, no run directory.
                         (["--freezed=9"], "--freezed 9: D of a 32x32 network has 3 blocks above 4x4")]:
        code, err = _train_in_process(tmp_path, capsys, *args)
        assert code == 2 and needle in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())


def test_micro_batch_step_equals_whole_batch_with_mbstd_and_dlatent_avg():
    """In one process, 1 replica: 4 rounds of 2 vs one round of 8 after a D and a G step, with the tracked
    mean of w (dlatent_avg: each round moves it from the same start; the mean of the ends is the one move).
    Minibatch stddev is off here; with it, groups form inside each round (a different D, as documented)."""
    results = []
    for batch_gpu in (None, 2):
        keras.utils.set_random_seed(4)
        # epsilon 1: Adam ~ SGD, so a parameter with a zero true gradient (the bias before instance norm)
        # does not turn float rounding into a full +-lr step whose sign depends on the summation order.
        trainer = _tiny_trainer({}, batch_gpu=batch_gpu, epsilon=1.0)
        rounds = micro_batching(8, batch_gpu)[1]
        D_step, G_step = trainer.steps(0.0, rounds=rounds)
        reals = tf.constant(np.random.RandomState(0).randint(0, 256, size=(8, 1, 8, 8)).astype(np.uint8))
        lod, mb = tf.constant(0.0), tf.constant(8)
        _, d_stats = D_step(reals, tf.zeros([8, 0]), lod, tf.constant([1, 0], tf.int64), mb, tf.constant(0.9))
        _, g_stats = G_step(lod, tf.constant([1, 1], tf.int64), mb)
        stats = {k: float(v[0] / v[1]) for k, v in dict(d_stats, **g_stats).items() if isinstance(v, tuple)}
        results.append(({k: v.numpy() for k, v in trainer.G.vars.items()},
                        {k: v.numpy() for k, v in trainer.D.vars.items()}, stats))
    (G1, D1, s1), (G2, D2, s2) = results
    assert np.abs(G1["dlatent_avg"]).max() > 0
    for a, b in ((G1, G2), (D1, D2)):
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for k in ("Loss/D", "Loss/G", "Loss/r1_penalty", "Loss/scores/real", "Loss/scores/fake"):
        np.testing.assert_allclose(s2[k], s1[k], rtol=1e-4, err_msg=k)


# ----------------------------------------------------------------------------
# ADA through train.py (--aug, --p, --target, --augpipe, --ada_kimg).


def test_train_py_aug_flags():
    import train as train_script
    from train import UsageError
    assert train_script.augment_config(None, None, None, None, None) == (None, "")
    group, desc = train_script.augment_config("ada", None, None, None, None)
    assert group == dict(func_name="stylegan_tf.augment.AdaptiveAugment", augpipe="bgc", p=0.0, target=0.6,
                         ada_kimg=500) and desc == "-ada"
    group, desc = train_script.augment_config("fixed", 0.2, None, "bgcfnc", None)
    assert group.p == 0.2 and group.target is None and desc == "-fixed-p0.2-bgcfnc"
    for args, needle in [(("noaug", None, None, "bgc", None), "--augpipe needs --aug ada or --aug fixed"),
                         ((None, 0.3, None, None, None), "--p needs --aug"),
                         (("fixed", None, None, None, None), "--aug fixed needs --p"),
                         (("ada", 0.2, None, None, None), "--p is for --aug fixed"),
                         (("fixed", 0.2, 0.6, None, None), "--target is for --aug ada"),
                         (("fixed", 1.5, None, None, None), "--p must be in [0, 1]"),
                         (("ada", None, -0.1, None, None), "--target must be in [0, 1]"),
                         (("ada", None, None, "bgcc", None), "did you mean bgc"),
                         (("ada", None, None, None, 0), "--ada_kimg must be > 0")]:
        with pytest.raises(UsageError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            train_script.augment_config(*args)


def test_adaptive_augment_rt_heuristic_and_state():
    from stylegan_tf.augment import AdaptiveAugment
    aug = AdaptiveAugment(target=0.6, ada_kimg=1)
    assert aug.p == 0.0 and aug.pipeline_args["xflip"] == 1 and "imgfilter" not in aug.pipeline_args
    aug.update({"Loss/signs/real": (9.0, 10.0)}, 500)  # r_t 0.9 > 0.6: D overfits, more augmentation
    assert aug.p == pytest.approx(0.5) and aug.rt == pytest.approx(0.9)
    aug.update({"Loss/signs/real": (2.0, 10.0)}, 200)  # r_t 0.2 < 0.6: less
    assert aug.p == pytest.approx(0.3)
    aug.update({"Loss/signs/real": (-10.0, 10.0)}, 5000)
    assert aug.p == 0.0  # never below 0
    aug.update({}, 100)  # nothing reported: unchanged
    fixed = AdaptiveAugment(p=0.2)
    fixed.update({"Loss/signs/real": (10.0, 10.0)}, 5000)
    assert fixed.p == pytest.approx(0.2) and fixed.progress() == {"Progress/augment": pytest.approx(0.2),
                                                                  "Progress/augment_rt": 1.0}
    other = AdaptiveAugment(target=0.6)
    other.set_state(aug.get_state() | {"p": 0.7})
    assert other.p == pytest.approx(0.7)
    with pytest.raises(ValueError, match="unknown augpipe"):
        AdaptiveAugment(augpipe="bgcq")


# ----------------------------------------------------------------------------
# Freeze-D.


def test_freeze_d_keeps_the_top_blocks_bit_identical():
    """--freezed 1 on a 8x8 D: FromRGB_lod0 and the 8x8 block get no optimizer state and no update, the rest
    trains; 2 would reach the 4x4 block (with the output layer) and is refused."""
    from training.transfer import ConfigError, frozen_D_vars
    trainer = _tiny_trainer({})
    D = trainer.D
    frozen = frozen_D_vars(D, 1)
    assert frozen == {n for n in D.trainables if n.startswith(("8x8/", "FromRGB_lod0/"))} and frozen
    assert frozen_D_vars(D, 0) == set()
    with pytest.raises(ConfigError, match="--freezed 2: D of a 8x8 network has 1 blocks above 4x4"):
        frozen_D_vars(D, 2)
    config = dataclasses.replace(trainer.config, freezed=1)
    G, Gs = trainer.G, trainer.Gs
    opt_kw = dict(learning_rate=0.01, beta1=0.0, beta2=0.99, epsilon=1e-8)
    D_opt = tflib.Optimizer(name="TrainD", **opt_kw).build([v for n, v in D.trainables.items() if n not in frozen])
    frozen_trainer = Trainer(tf.distribute.get_strategy(), G, D, Gs, trainer.G_opt, D_opt, config,
                             type("DS", (), dict(label_size=0, dynamic_range=[0, 255]))())
    assert len(frozen_trainer.D_vars) == len(D.trainables) - len(frozen) == len(D_opt._targets)
    before = {k: v.numpy() for k, v in D.trainables.items()}
    D_step, _ = frozen_trainer.steps(0.0)
    reals = tf.constant(np.random.RandomState(0).randint(0, 256, size=(4, 1, 8, 8)).astype(np.uint8))
    for i in range(2):
        D_step(reals, tf.zeros([4, 0]), tf.constant(0.0), tf.constant([1, i], tf.int64), tf.constant(4),
               tf.constant(0.9))
    for name, var in D.trainables.items():
        if name in frozen:
            np.testing.assert_array_equal(var.numpy(), before[name], err_msg=name)
    assert any(np.abs(D.trainables[n].numpy() - before[n]).max() > 0 for n in D.trainables if n not in frozen)


# ----------------------------------------------------------------------------
# Resuming a pickle into a dataset with other labels (fine-tuning).


def test_fit_networks_to_dataset_copies_by_name_and_shape(capsys):
    from training.transfer import ConfigError, fit_networks_to_dataset
    kw = dict(num_channels=1, resolution=8, fmap_base=32, fmap_max=8, latent_size=8, dlatent_size=8, mapping_fmaps=8,
              mapping_layers=1)
    G = tflib.Network("G", func_name="G_style", **kw)
    D = tflib.Network("D", func_name="D_basic", **kw)
    for net in (G, D):
        for var in net.vars.values():
            var.assign(np.asarray(np.random.RandomState(1).randn(*var.shape), np.float32))
    Gs = G.clone("Gs")

    class Mine:
        shape = [1, 8, 8]
        label_size = 0
    same = fit_networks_to_dataset(G, D, Gs, Mine(), "net.pkl")
    assert same == (G, D, Gs, False)  # nothing to adapt: the pickle's own networks
    Mine.label_size = 3
    G2, D2, Gs2, adapted = fit_networks_to_dataset(G, D, Gs, Mine(), "net.pkl")
    out = capsys.readouterr().out
    assert adapted and G2.input_shapes[1] == [None, 3] and D2.input_shapes[1] == [None, 3]
    for old, new in ((G, G2), (D, D2), (Gs, Gs2)):
        copied = [n for n, v in new.vars.items() if n in old.vars and tuple(old.vars[n].shape) == tuple(v.shape)]
        assert len(copied) >= len(new.vars) - 2
        for n in copied:
            np.testing.assert_array_equal(new.vars[n].numpy(), old.vars[n].numpy(), err_msg=n)
    assert np.abs(Gs2.get_var("dlatent_avg")).max() > 0  # the pickle's tracked mean of w
    lines = [line for line in out.splitlines() if "variables copied" in line]
    assert len(lines) == 3 and lines[1].startswith("D: ")
    assert "Dense1/weight [8, 3]" in lines[1]
    Mine.shape = [3, 16, 16]
    with pytest.raises(ConfigError, match="net.pkl: the networks make 1x8x8 images .* the dataset holds 3x16x16"):
        fit_networks_to_dataset(G, D, Gs, Mine(), "net.pkl")


def test_freeze_g_keeps_mapping_and_low_blocks_bit_identical():
    from training.transfer import ConfigError, frozen_G_vars
    trainer = _tiny_trainer({})
    G = trainer.G  # 8x8: blocks 4x4 and 8x8
    low = frozen_G_vars(G, 1)
    assert low == {n for n in G.trainables if n.startswith(("G_synthesis/4x4/", "G_synthesis/ToRGB_lod1/"))}
    mapping = frozen_G_vars(G, 0, freeze_mapping=True)
    assert mapping == {n for n in G.trainables if n.startswith("G_mapping/")} and mapping
    with pytest.raises(ConfigError, match="--freezeg 2: G of a 8x8 network has 1 blocks"):
        frozen_G_vars(G, 2)
    config = dataclasses.replace(trainer.config, freezeg=1, freeze_mapping=True)
    frozen = low | mapping
    opt_kw = dict(learning_rate=0.01, beta1=0.0, beta2=0.99, epsilon=1e-8)
    G_opt = tflib.Optimizer(name="TrainG", **opt_kw).build([v for n, v in G.trainables.items() if n not in frozen])
    frozen_trainer = Trainer(tf.distribute.get_strategy(), G, trainer.D, trainer.Gs, G_opt, trainer.D_opt, config,
                             type("DS", (), dict(label_size=0, dynamic_range=[0, 255]))())
    before = {k: v.numpy() for k, v in G.trainables.items()}
    _, G_step = frozen_trainer.steps(0.0)
    for i in range(2):
        G_step(tf.constant(0.0), tf.constant([2, i], tf.int64), tf.constant(4))
    for name, var in G.trainables.items():
        if name in frozen:
            np.testing.assert_array_equal(var.numpy(), before[name], err_msg=name)
    assert any(np.abs(G.trainables[n].numpy() - before[n]).max() > 0 for n in G.trainables if n not in frozen)
