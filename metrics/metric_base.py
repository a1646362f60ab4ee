"""Common machinery of the GAN metrics: the official metric definitions, `MetricBase`, `MetricGroup`.

Usage (as the official training loop does after each network snapshot):

    from metrics import metric_base
    group = metric_base.MetricGroup([metric_base.fid50k], inception='/path/to/inception-2015-12-05.tgz')
    group.run('results/00000-run/network-snapshot-000140.pkl', run_dir='results/00000-run')
    print(group.get_result_str())

Each metric prints one line in the official format and appends it to `<run_dir>/metric-<name>.txt`.
Real-image statistics are cached in `cache_dir` per dataset, options and sample count.
"""

import hashlib
import os
import pickle
import time

import numpy as np
import tensorflow as tf

import dnnlib
from dnnlib import EasyDict

# ----------------------------------------------------------------------------
# Standard metrics (official names, sample counts, minibatch sizes per GPU).

fid50k = EasyDict(func_name="metrics.frechet_inception_distance.FID", name="fid50k", num_images=50000, minibatch_per_gpu=8)
ppl_zfull = EasyDict(func_name="metrics.perceptual_path_length.PPL", name="ppl_zfull", num_samples=100000, epsilon=1e-4, space="z", sampling="full", minibatch_per_gpu=16)
ppl_wfull = EasyDict(func_name="metrics.perceptual_path_length.PPL", name="ppl_wfull", num_samples=100000, epsilon=1e-4, space="w", sampling="full", minibatch_per_gpu=16)
ppl_zend = EasyDict(func_name="metrics.perceptual_path_length.PPL", name="ppl_zend", num_samples=100000, epsilon=1e-4, space="z", sampling="end", minibatch_per_gpu=16)
ppl_wend = EasyDict(func_name="metrics.perceptual_path_length.PPL", name="ppl_wend", num_samples=100000, epsilon=1e-4, space="w", sampling="end", minibatch_per_gpu=16)
ls = EasyDict(func_name="metrics.linear_separability.LS", name="ls", num_samples=200000, num_keep=100000, attrib_indices=range(40), minibatch_per_gpu=4)
dummy = EasyDict(func_name="metrics.metric_base.DummyMetric", name="dummy")  # for debugging
swd16k = EasyDict(func_name="metrics.sliced_wasserstein.SWD", name="swd16k", num_images=16384, minibatch_per_gpu=64)  # Progressive GAN's SWD
digits10k = EasyDict(func_name="metrics.digit_classifier.DigitClassifierMetric", name="digits10k", num_images=10000, minibatch_per_gpu=64)  # demo dataset only (ours)

# Smaller variants for quick checks (not official; same procedures, fewer samples).
fid1k = EasyDict(fid50k, name="fid1k", num_images=1000)
fid10k = EasyDict(fid50k, name="fid10k", num_images=10000)
ppl_zfull_1k = EasyDict(ppl_zfull, name="ppl_zfull_1k", num_samples=1000)
ppl_wfull_1k = EasyDict(ppl_wfull, name="ppl_wfull_1k", num_samples=1000)
ppl_zend_1k = EasyDict(ppl_zend, name="ppl_zend_1k", num_samples=1000)
ppl_wend_1k = EasyDict(ppl_wend, name="ppl_wend_1k", num_samples=1000)
ls_10k = EasyDict(ls, name="ls_10k", num_samples=10000, num_keep=5000)
swd2k = EasyDict(swd16k, name="swd2k", num_images=2048)
digits1k = EasyDict(digits10k, name="digits1k", num_images=1000)

OFFICIAL_METRICS = ["fid50k", "ppl_zfull", "ppl_wfull", "ppl_zend", "ppl_wend", "ls", "dummy", "swd16k", "digits10k"]
QUICK_METRICS = ["fid1k", "fid10k", "ppl_zfull_1k", "ppl_wfull_1k", "ppl_zend_1k", "ppl_wend_1k", "ls_10k", "swd2k", "digits1k"]


def metric_names():
    return OFFICIAL_METRICS + QUICK_METRICS


def get_metric_args(name):
    """The definition (EasyDict with func_name and kwargs) of a named metric; MetricError if unknown."""
    if name not in metric_names():
        raise MetricError("unknown metric %r (known: %s)" % (name, ", ".join(metric_names())))
    return EasyDict(globals()[name])


LABEL_MODES = ("zero", "uniform")


class MetricError(Exception):
    """A metric cannot run: bad network pickle, dataset, feature network or arguments."""


class FeatureNetworkUnavailable(MetricError):
    """A metric's feature network (Inception, LPIPS, LS classifiers) is not given, cannot be downloaded or
    read, or has the wrong checksum: the metric cannot run, but others can (see MetricGroup.run)."""


# ----------------------------------------------------------------------------
# Base class for metrics.

class MetricBase:
    """Base of all metrics. Subclasses implement `_evaluate(Gs, num_gpus)` and call `_report_result`.

    Options common to every metric (all optional): `cache_dir` (feature-network downloads and
    real-image statistics; default $STYLEGAN_CACHE_DIR or ~/.cache/stylegan_tf), `inception`,
    `lpips`, `ls_classifiers` (path or URL of each feature network) with `inception_sha256`,
    `lpips_sha256`, `ls_sha256` (expected checksums), `strategy` (a tf.distribute strategy; every
    replica evaluates `minibatch_per_gpu` samples per step), `seed` (of the latents; None = random),
    `progress` (progress bar on stderr), `labels` (what a conditional generator is given: 'zero', the
    official v1 metrics' all-zero labels, or 'uniform', a one-hot class drawn uniformly per sample).
    """

    def __init__(self, name, cache_dir=None, inception=None, inception_sha256=None, lpips=None, lpips_sha256=None,
                 ls_classifiers=None, ls_sha256=None, strategy=None, seed=None, progress=True, data_dir=None, labels="zero"):
        if labels not in LABEL_MODES:
            raise MetricError("labels must be one of %s, got %r" % (", ".join(LABEL_MODES), labels))
        self.name = name
        self.labels = labels
        self.cache_dir = cache_dir
        self.feature_args = EasyDict(inception=inception, inception_sha256=inception_sha256, lpips=lpips,
                                     lpips_sha256=lpips_sha256, ls_classifiers=ls_classifiers, ls_sha256=ls_sha256)
        self.strategy = strategy
        self.seed = seed
        self.progress = progress
        self.data_dir = data_dir
        self._network_pkl = None
        self._dataset_args = None
        self._mirror_augment = None
        self._results = []
        self._eval_time = None
        self._rnd = np.random.RandomState(seed)
        self._active_strategy = None
        self._feature_nets = []  # [(kind, file name, sha256)] used by the last run

    # --- running -------------------------------------------------------------------------

    def run(self, network_pkl, run_dir=None, data_dir=None, dataset_args=None, mirror_augment=None, num_gpus=1,
            tf_config=None, log_results=True, Gs=None):
        """Evaluate the metric on the generator `Gs` of a network pickle (official signature).

        `dataset_args` / `mirror_augment` default to the run directory's training configuration.
        `tf_config` is accepted for compatibility (TF2 has no session options to apply). `Gs`:
        an already loaded generator (skips loading `network_pkl`, which still names the result).
        """
        from stylegan_tf import rundir
        del tf_config
        self._network_pkl = network_pkl
        self._dataset_args = dict(dataset_args) if dataset_args is not None else None
        self._mirror_augment = mirror_augment
        self._data_dir = data_dir if data_dir is not None else self.data_dir
        self._results = []
        self._feature_nets = []
        self._rnd = np.random.RandomState(self.seed)              # latents, noise, interpolation points
        self._rnd_reals = np.random.RandomState(None if self.seed is None else self.seed + 1)  # mirroring
        self._rnd_labels = np.random.RandomState(None if self.seed is None else self.seed + 3)  # 'uniform' classes (+ 2 is SWD's)
        if self.seed is not None:
            tf.random.set_seed(self.seed)  # randomize_noise=True draws inside the network

        if (self._dataset_args is None or self._mirror_augment is None) and run_dir is not None:
            try:
                run_config = rundir.parse_config_for_previous_run(run_dir)
            except (IOError, ValueError) as e:
                if self.needs_reals() and self._dataset_args is None:
                    raise MetricError(str(e)) from None
                run_config = {"dataset": {}, "train": {}}
            if self._dataset_args is None and run_config.get("dataset"):
                self._dataset_args = dict(run_config["dataset"])
                self._dataset_args["shuffle_mb"] = 0
            if self._mirror_augment is None:
                self._mirror_augment = bool(run_config.get("train", {}).get("mirror_augment", False))
            if self._data_dir is None:
                self._data_dir = run_config.get("data_dir")
        if self._mirror_augment is None:
            self._mirror_augment = False

        time_begin = time.time()
        strategy = self._get_strategy(num_gpus)
        self._active_strategy = strategy
        if Gs is None:
            Gs = load_generator(network_pkl, strategy)
        from stylegan_tf import api
        self._label_mode = self.labels if api.label_size(Gs) > 0 else None  # named in the line: runs differ by it
        self._evaluate(Gs, num_gpus=strategy.num_replicas_in_sync)
        self._eval_time = time.time() - time_begin

        if log_results:
            result_str = self.get_result_str()
            print(result_str)
            if run_dir is not None:
                os.makedirs(run_dir, exist_ok=True)
                with open(os.path.join(run_dir, "metric-%s.txt" % self.name), "a") as f:
                    f.write(result_str + "\n")  # one write: the line is complete or absent
        return self._results

    def get_result_str(self):
        network_name = os.path.splitext(os.path.basename(str(self._network_pkl)))[0]
        if len(network_name) > 29:
            network_name = "..." + network_name[-26:]
        result_str = "%-30s" % network_name
        result_str += " time %-12s" % dnnlib.util.format_time(self._eval_time)
        for res in self._results:
            result_str += " " + self.name + res.suffix + " "
            result_str += res.fmt % res.value
        for kind, file_name, sha256 in self._feature_nets:
            result_str += " [%s %s sha256:%s]" % (kind, file_name, (sha256 or "unknown")[:12])
        if getattr(self, "_label_mode", None):
            result_str += " [labels %s]" % self._label_mode  # a conditional generator's --labels
        return result_str

    def _note_feature_net(self, kind, source, sha256):
        """Name a feature network in the result line (file name and short SHA-256), so that a value
        from a stand-in or another file can never pass for one from the official network."""
        name = ",".join(os.path.basename(s.rstrip("/")) or s for s in str(source).split(","))
        self._feature_nets.append((kind, name.replace(" ", "_"), sha256))

    def get_results(self):
        """{name+suffix: value} of the last run."""
        return {self.name + res.suffix: float(res.value) for res in self._results}

    def update_autosummaries(self):
        """Write the results as TensorBoard scalars (`Metrics/<name><suffix>`) to the default writer, if any."""
        for res in self._results:
            tf.summary.scalar("Metrics/" + self.name + res.suffix, float(res.value),
                              step=tf.summary.experimental.get_step() or 0)

    def _evaluate(self, Gs, num_gpus):
        raise NotImplementedError  # overridden by subclasses

    def _cached_feature_net(self, key, loader):
        """A feature network loaded once per metric object (the training loop re-runs the same
        MetricGroup after every snapshot); `key` identifies the file and expected checksum."""
        cache = self.__dict__.setdefault("_feature_net_cache", {})
        if key not in cache:
            cache.clear()
            cache[key] = loader()
        return cache[key]

    def needs_reals(self):
        return False

    def _report_result(self, value, suffix="", fmt="%-10.4f"):
        self._results += [EasyDict(value=value, suffix=suffix, fmt=fmt)]

    # --- devices ---------------------------------------------------------------------------

    def _get_strategy(self, num_gpus):
        if self.strategy is not None:
            return self.strategy
        if num_gpus > 1:
            gpus = tf.config.list_logical_devices("GPU")
            if len(gpus) < num_gpus:
                raise MetricError("%d GPUs requested, %d available" % (num_gpus, len(gpus)))
            return tf.distribute.MirroredStrategy([d.name for d in gpus[:num_gpus]])
        return tf.distribute.get_strategy()

    def _make_runner(self, replica_fn):
        """A function of host (NumPy) arrays whose leading dimension is the global minibatch: splits
        them across the replicas, runs `replica_fn` on each inside one tf.function, and returns its
        (nested) outputs as NumPy arrays concatenated over the replicas."""
        strategy = self._active_strategy or tf.distribute.get_strategy()

        @tf.function
        def step(*args):
            return strategy.run(replica_fn, args=args)

        num = strategy.num_replicas_in_sync

        def run(*arrays):
            if num == 1:
                out = step(*[tf.convert_to_tensor(a) for a in arrays])
                return tf.nest.map_structure(lambda t: t.numpy(), out)
            parts = [np.array_split(a, num) for a in arrays]
            dist = [strategy.experimental_distribute_values_from_function(
                lambda ctx, p=p: tf.convert_to_tensor(p[ctx.replica_id_in_sync_group])) for p in parts]
            out = step(*dist)
            return tf.nest.map_structure(
                lambda t: np.concatenate([x.numpy() for x in strategy.experimental_local_results(t)], axis=0), out)
        return run

    # --- reals -----------------------------------------------------------------------------

    def _get_cache_file_for_reals(self, extension="pkl", **kwargs):
        if not self._dataset_args or "tfrecord_dir" not in self._dataset_args:
            raise MetricError("%s needs a dataset: give --dataset (and --data_dir) or a run directory" % self.name)
        all_args = EasyDict(metric_name=self.name, mirror_augment=self._mirror_augment)
        all_args.update(self._dataset_args)
        all_args.update(kwargs)
        md5 = hashlib.md5(repr(sorted(all_args.items())).encode("utf-8"))
        dataset_name = str(self._dataset_args["tfrecord_dir"]).replace("\\", "/").rstrip("/").split("/")[-1]
        cache_dir = self.cache_dir or _default_cache_dir()
        return os.path.join(cache_dir, "%s-%s-%s.%s" % (md5.hexdigest(), self.name, dataset_name, extension))

    def _open_dataset(self, Gs=None):
        from stylegan_tf.data import reader as dataset
        if not self._dataset_args or "tfrecord_dir" not in self._dataset_args:
            raise MetricError("%s needs a dataset: give --dataset (and --data_dir) or a run directory" % self.name)
        args = dict(self._dataset_args)
        args.setdefault("shuffle_mb", 0)
        if args.get("class_name", "training.dataset.TFRecordDataset") == "training.dataset.TFRecordDataset":
            args.setdefault("verify", False)  # do not read a whole (possibly 100+ GB) dataset to count records
        try:
            dset = dataset.load_dataset(data_dir=self._data_dir, **args)
        except (dataset.DatasetError, OSError, ValueError) as e:
            raise MetricError("cannot open dataset %s: %s" % (args.get("tfrecord_dir"), e)) from None
        if Gs is not None:
            g_shape = [int(s) for s in Gs.output_shape[1:]]
            if list(dset.shape) != g_shape:
                raise MetricError("dataset %s has images of shape %s (CHW) but the generator produces %s"
                                  % (args.get("tfrecord_dir"), list(dset.shape), g_shape))
        return dset

    def _iterate_reals(self, minibatch_size, Gs=None, dset=None):
        dset = dset if dset is not None else self._open_dataset(Gs)
        while True:
            images, _labels = dset.get_minibatch_np(minibatch_size)
            if self._mirror_augment:
                mask = self._rnd_reals.rand(images.shape[0]) < 0.5
                images = np.array(images)
                images[mask] = images[mask, :, :, ::-1]
            yield images

    def _random_latents(self, n, Gs):
        return self._rnd.randn(n, *[int(s) for s in Gs.input_shape[1:]]).astype(np.float32)

    def _random_labels(self, n, Gs):
        """float32 [n, label_size] labels for n samples of `Gs` (see `labels`); [n, 0] for an unconditional
        generator. Drawn from their own RandomState, so the latents are the same in either mode."""
        from stylegan_tf import api
        if self.labels == "uniform":
            return api.random_labels(Gs, n, self._rnd_labels)
        return np.zeros([n, api.label_size(Gs)], np.float32)


class ImageSetMetric(MetricBase):
    """A metric comparing `num_images` generated images with as many reals (FID, SWD, digits), run with
    `minibatch_per_gpu` images per replica and step (the official FID's arguments). Statistics of the
    reals are cached as the official FID caches them: a pickle of (mu, sigma)."""

    def __init__(self, num_images, minibatch_per_gpu, **kwargs):
        super().__init__(**kwargs)
        self.num_images = num_images
        self.minibatch_per_gpu = minibatch_per_gpu

    def needs_reals(self):
        return True

    @staticmethod
    def _load_real_stats(cache_file):
        """(mu, sigma) from a cache file, or None when absent or unreadable (then it is recomputed)."""
        if not os.path.isfile(cache_file):
            return None
        from stylegan_tf import legacy
        try:
            mu, sigma = legacy.load_pkl(cache_file)
            return np.asarray(mu), np.asarray(sigma)
        except Exception:  # a corrupt cache entry is recomputed and overwritten
            return None

    @staticmethod
    def _save_real_stats(cache_file, mu, sigma):
        from stylegan_tf import legacy
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        legacy.save_pkl((mu, sigma), cache_file)  # atomic


# ----------------------------------------------------------------------------
# Group of multiple metrics.

class MetricGroup:
    """Several metrics run on the same network. `common_kwargs` (cache_dir, inception, lpips,
    ls_classifiers, strategy, seed, progress, ...) are passed to every metric."""

    def __init__(self, metric_kwarg_list, **common_kwargs):
        self.metrics = []
        for kwargs in metric_kwarg_list:
            if isinstance(kwargs, str):
                kwargs = get_metric_args(kwargs)
            args = dict(kwargs)
            args.update(common_kwargs)
            self.metrics.append(dnnlib.util.call_func_by_name(**args))

    def run(self, network_pkl, *args, Gs=None, on_unavailable=None, **kwargs):
        """Run every metric on the pickle. With `on_unavailable(metric, error)`, a metric whose feature
        network cannot be had (FeatureNetworkUnavailable: not given, offline, missing file, bad checksum) is
        reported there and dropped from the group instead of raising (training goes on without it)."""
        if Gs is None and self.metrics:
            strategy = self.metrics[0]._get_strategy(kwargs.get("num_gpus", 1))
            Gs = load_generator(network_pkl, strategy)
        for metric in list(self.metrics):
            try:
                metric.run(network_pkl, *args, Gs=Gs, **kwargs)
            except FeatureNetworkUnavailable as e:
                if on_unavailable is None:
                    raise
                self.metrics.remove(metric)
                on_unavailable(metric, e)

    def get_result_str(self):
        return " ".join(metric.get_result_str() for metric in self.metrics)

    def get_results(self):
        out = {}
        for metric in self.metrics:
            out.update(metric.get_results())
        return out

    @property
    def latest_results(self):
        """{'Metrics/<name><suffix>': value} of the last run (the official TensorBoard tag names)."""
        return {"Metrics/" + key: value for key, value in self.get_results().items()}

    def update_autosummaries(self):
        for metric in self.metrics:
            metric.update_autosummaries()


# ----------------------------------------------------------------------------
# Dummy metric for debugging purposes.

class DummyMetric(MetricBase):
    def _evaluate(self, Gs, num_gpus):
        _ = Gs, num_gpus
        self._report_result(0.0)


# ----------------------------------------------------------------------------
# Helpers.

def _default_cache_dir():
    from metrics.feature_nets import default_cache_dir
    return default_cache_dir()


def load_generator(network_pkl, strategy=None):
    """Gs of a network pickle `(G, D, Gs)` (or of a pickle holding only Gs), as MetricError on failure."""
    from stylegan_tf import legacy
    from dnnlib.tflib import Network
    strategy = strategy or tf.distribute.get_strategy()
    try:
        with strategy.scope():
            obj = legacy.load_pkl(network_pkl)
    except FileNotFoundError:
        raise MetricError("network pickle not found: %s" % network_pkl) from None
    except (pickle.UnpicklingError, ValueError, EOFError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetricError(msg if msg.startswith(str(network_pkl))
                          else "cannot load network pickle %s: %s" % (network_pkl, msg)) from None
    Gs = obj[-1] if isinstance(obj, (tuple, list)) else obj
    if not isinstance(Gs, Network):
        raise MetricError("%s does not hold a generator network (expected (G, D, Gs))" % network_pkl)
    return Gs


def require_style_components(Gs, metric_name):
    """PPL and LS need Gs.components.mapping / .synthesis (a StyleGAN G_style generator)."""
    if "synthesis" not in Gs.components or "mapping" not in Gs.components:
        raise MetricError("%s needs a style-based generator with mapping and synthesis components; %r has none"
                          % (metric_name, Gs))
