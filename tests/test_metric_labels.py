"""Labels for a class-conditional generator in the metrics (`labels='zero'`, the official all-zero labels,
or 'uniform', one-hot classes) and in projector.w_stats: the labels themselves, SWD end to end, PPL's
one label per pair, run_metrics.py --labels, and the projector's mean w."""

import numpy as np
import pytest

from metrics import metric_base


def _tiny_g(label_size, seed=0, resolution=16, num_channels=1):
    """A tiny G_style, by default 16x16 grayscale like the demo's (conditional when label_size > 0), freshly
    initialised."""
    import keras
    import dnnlib.tflib as tflib
    keras.utils.set_random_seed(seed)
    return tflib.Network("G", func_name="training.networks_stylegan.G_style", num_channels=num_channels,
                         resolution=resolution, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16,
                         mapping_layers=2, mapping_fmaps=16, label_size=label_size)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    from stylegan_tf import legacy
    from stylegan_tf.data.demo import make_demo_dataset
    d = tmp_path_factory.mktemp("labels")
    cond, uncond = _tiny_g(10), _tiny_g(0)
    legacy.save_pkl(cond, str(d / "cond.pkl"))
    legacy.save_pkl(uncond, str(d / "uncond.pkl"))
    make_demo_dataset(str(d / "datasets" / "digits"), resolution=16, channels=1)
    return dict(dir=d, cond=cond, uncond=uncond)


def _metric(labels=None, seed=1):
    kwargs = dict(name="dummy", seed=seed)
    if labels is not None:
        kwargs["labels"] = labels
    return metric_base.DummyMetric(**kwargs)


def _started(m, Gs):
    m.run("net.pkl", Gs=Gs, log_results=False)  # (re)seeds the metric's random streams
    return m


# --- _random_labels ----------------------------------------------------------------------------

def test_uniform_labels_are_one_hot_and_cover_the_classes(nets):
    labels = _started(_metric("uniform"), nets["cond"])._random_labels(5000, nets["cond"])
    assert labels.shape == (5000, 10) and labels.dtype == np.float32
    assert set(np.unique(labels)) == {0.0, 1.0} and np.all(labels.sum(axis=1) == 1)
    counts = labels.sum(axis=0)
    assert counts.min() > 400 and counts.max() < 600, counts  # 500 each expected, binomial std 21
    # Seeded: the same classes again; another seed, other classes.
    np.testing.assert_array_equal(_started(_metric("uniform"), nets["cond"])._random_labels(5000, nets["cond"]), labels)
    assert not np.array_equal(_started(_metric("uniform", seed=2), nets["cond"])._random_labels(5000, nets["cond"]),
                              labels)


def test_zero_labels_and_unconditional_generators(nets):
    for m in [_metric(), _metric("zero")]:
        labels = _started(m, nets["cond"])._random_labels(7, nets["cond"])
        assert labels.shape == (7, 10) and labels.dtype == np.float32 and not labels.any()
    for mode in ["zero", "uniform"]:
        labels = _started(_metric(mode), nets["uncond"])._random_labels(7, nets["uncond"])
        assert labels.shape == (7, 0) and labels.dtype == np.float32
    with pytest.raises(metric_base.MetricError, match="labels must be one of zero, uniform"):
        _metric("random")


def test_latents_do_not_depend_on_the_label_mode(nets):
    Gs = nets["cond"]
    streams = []
    for mode in ["zero", "uniform"]:
        m = _started(_metric(mode), Gs)
        draws = []
        for _ in range(3):  # interleaved as the metrics draw them
            draws.append(m._random_latents(8, Gs))
            m._random_labels(8, Gs)
        streams.append(np.concatenate(draws))
    np.testing.assert_array_equal(streams[0], streams[1])


# --- A metric end to end (SWD) -------------------------------------------------------------------

def _swd(nets, net, labels=None):
    args = dict(metric_base.get_metric_args("swd16k"), name="swd16k_n64", num_images=64, seed=1, progress=False)
    group = metric_base.MetricGroup([args]) if labels is None else metric_base.MetricGroup([args], labels=labels)
    group.run(str(nets["dir"] / ("%s.pkl" % net)), log_results=False, dataset_args=dict(tfrecord_dir="digits"),
              data_dir=str(nets["dir"] / "datasets"))
    return group.get_results()


def test_swd_of_a_conditional_generator_depends_on_the_labels(nets):
    omitted, zero, uniform = _swd(nets, "cond"), _swd(nets, "cond", "zero"), _swd(nets, "cond", "uniform")
    assert omitted == zero  # the default is the official zero labels, to the last bit
    assert uniform["swd16k_n64_avg"] != zero["swd16k_n64_avg"]
    # An unconditional generator: the same numbers in either mode.
    assert _swd(nets, "uncond", "uniform") == _swd(nets, "uncond", "zero")
    nets["swd_uniform"] = uniform


def test_run_metrics_labels_option(nets, capsys):
    import run_metrics
    base = ["run_metrics.py", "--network=%s" % (nets["dir"] / "cond.pkl"), "--metrics=swd16k", "--num_samples=64",
            "--dataset=digits", "--data_dir=%s" % (nets["dir"] / "datasets"), "--result_dir=%s" % nets["dir"],
            "--seed=1", "--noprogress"]
    assert run_metrics.main(base + ["--labels=bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("run_metrics.py: error: ") and "--labels" in err
    choices = [p for p in run_metrics.command.params if p.name == "labels"][0].type.choices
    assert tuple(choices) == metric_base.LABEL_MODES
    # --labels uniform reaches the metric: the value of MetricGroup(..., labels='uniform').
    expected = nets.get("swd_uniform") or _swd(nets, "cond", "uniform")
    assert run_metrics.main(base + ["--labels=uniform"]) == 0
    line = (nets["dir"] / "metric-swd16k_n64.txt").read_text().splitlines()[-1]
    assert line.endswith(" [labels uniform]")  # the line says which labels the values come from
    fields = line.split(" [")[0].split()
    values = {k: float(v) for k, v in zip(fields[3::2], fields[4::2])}
    assert values["swd16k_n64_avg"] == pytest.approx(expected["swd16k_n64_avg"], abs=1e-4)


# --- PPL: one label per pair ----------------------------------------------------------------------

def test_labels_for_pairs_interleaves_like_the_latents():
    from metrics.perceptual_path_length import labels_for_pairs
    labels = np.eye(3, dtype=np.float32)[[2, 0, 1]]
    pairs = labels_for_pairs(labels).numpy()
    assert pairs.shape == (6, 3)
    np.testing.assert_array_equal(pairs[0::2], labels)
    np.testing.assert_array_equal(pairs[1::2], labels)
    assert labels_for_pairs(None) is None


@pytest.mark.parametrize("space", ["z", "w"])
def test_ppl_gives_both_ends_of_a_pair_the_same_label(nets, space, monkeypatch):
    import tensorflow as tf
    from metrics.perceptual_path_length import path_length_distances
    Gs = nets["cond"]
    mapping = Gs.components.mapping
    seen = []
    original = mapping.get_output_for

    def recording(latents, labels, **kwargs):
        seen.append(None if labels is None else np.asarray(labels))
        return original(latents, labels, **kwargs)
    monkeypatch.setattr(mapping, "get_output_for", recording)
    rnd = np.random.RandomState(0)
    lat = tf.constant(rnd.randn(8, 16).astype(np.float32))
    labels = np.eye(10, dtype=np.float32)[[3, 7, 7, 1]]
    sq = lambda x, y: tf.reduce_sum(tf.square(x - y), axis=[1, 2, 3])  # noqa: E731
    for t in [rnd.uniform(0, 1, 4), np.zeros(4)]:  # 'full' and 'end' sampling
        seen.clear()
        d = path_length_distances(Gs, sq, lat, tf.constant(t.astype(np.float32)), 1e-4, space,
                                  labels=tf.constant(labels)).numpy()
        assert len(seen) == 1 and seen[0].shape == (8, 10)
        np.testing.assert_array_equal(seen[0][0::2], labels)  # the t end of pair i ...
        np.testing.assert_array_equal(seen[0][1::2], labels)  # ... and its t + epsilon end
        assert np.all(np.isfinite(d))
        zero = path_length_distances(Gs, sq, lat, tf.constant(t.astype(np.float32)), 1e-4, space).numpy()
        assert not np.allclose(d, zero)  # the labels reach the network (None: all-zero labels)
        assert len(seen) == 2 and seen[-1] is None  # as officially: None, all-zero labels in the network


def test_ppl_metric_zero_mode_unchanged_and_uniform_differs(tmp_path):
    from metrics import standins
    from stylegan_tf import legacy
    standins.make_lpips_weights(str(tmp_path / "lpips.npz"))
    legacy.save_pkl(_tiny_g(10, resolution=32, num_channels=3), str(tmp_path / "cond32.pkl"))  # LPIPS needs 32x32
    values = {}
    for mode in [None, "zero", "uniform"]:
        args = dict(metric_base.get_metric_args("ppl_wend"), num_samples=8, minibatch_per_gpu=4,
                    lpips=str(tmp_path / "lpips.npz"), seed=3, progress=False)
        if mode is not None:
            args["labels"] = mode
        group = metric_base.MetricGroup([args])
        group.run(str(tmp_path / "cond32.pkl"), log_results=False)
        values[mode] = group.get_results()["ppl_wend"]
    assert values[None] == values["zero"]
    assert values["uniform"] != values["zero"] and np.isfinite(values["uniform"])


# --- projector.w_stats ------------------------------------------------------------------------------

def test_w_stats_of_a_conditional_generator_use_uniform_classes(nets):
    import projector
    from stylegan_tf import api
    Gs = nets["cond"]
    avg, std = projector.w_stats(Gs, num_samples=2000, seed=5)
    avg2, std2 = projector.w_stats(Gs, num_samples=2000, seed=5)
    np.testing.assert_array_equal(avg, avg2)
    assert std == std2
    # Not the statistics of the same z with all-zero labels.
    z = np.random.RandomState(5).randn(2000, 16).astype(np.float32)
    w0 = api.map_latents(Gs, z)[:, 0].astype(np.float64)
    assert np.abs(avg - w0.mean(axis=0)).max() > 10 * np.abs(avg - avg2).max() + 1e-3
    # One uniformly drawn class per z, from the same seeded generator (after the z).
    rnd = np.random.RandomState(5)
    z = rnd.randn(2000, 16).astype(np.float32)
    classes = rnd.randint(10, size=2000)
    w = api.map_latents(Gs, z, np.eye(10, dtype=np.float32)[classes])[:, 0].astype(np.float64)
    np.testing.assert_allclose(avg, w.mean(axis=0), rtol=1e-6, atol=1e-6)
    assert 300 > np.bincount(classes, minlength=10).min() > 100
    assert not np.array_equal(projector.w_stats(Gs, num_samples=2000, seed=6)[0], avg)


def test_w_stats_of_an_unconditional_generator_unchanged(nets):
    import projector
    from stylegan_tf import api
    Gs = nets["uncond"]
    avg, std = projector.w_stats(Gs, num_samples=1000, seed=123)
    z = np.random.RandomState(123).randn(1000, 16).astype(np.float32)
    w = api.map_latents(Gs, z, minibatch_size=1000)[:, 0].astype(np.float64)  # the previous formula
    np.testing.assert_array_equal(avg, w.mean(axis=0).astype(np.float32))
    assert std == float(np.sqrt(np.sum((w - w.mean(axis=0)) ** 2) / 1000))
