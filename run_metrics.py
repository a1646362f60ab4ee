"""Evaluate metrics (FID, perceptual path length, linear separability) on a StyleGAN generator.

Examples:

    # A network pickle (path or URL) against a dataset:
    python run_metrics.py --network=karras2019stylegan-ffhq-1024x1024.pkl --metrics=fid50k \
        --dataset=ffhq --data_dir=datasets --mirror_augment=true --inception=inception-2015-12-05.tgz

    # The latest (or a given) snapshot of a training run; dataset and mirroring come from the run's
    # configuration, results are appended to <run_dir>/metric-<name>.txt:
    python run_metrics.py --network=00005 --snapshot=25000 --metrics=fid50k,ppl_wend \
        --result_dir=results --lpips=lpips_vgg16.npz

Metrics: fid50k, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, ls, dummy (official StyleGAN), swd16k (Progressive
GAN's SWD, no download) and fid1k, fid10k, ppl_*_1k, ls_10k, swd2k (quick). See docs/metrics.md. Errors (missing/corrupt pickle, unknown metric,
dataset/generator resolution mismatch, wrong checksum, ...) are reported in one line with exit code 1.
"""

import os
import sys

from absl import flags

import dnnlib

# Own FlagValues (not absl's global FLAGS): both scripts can be imported into one process.
FLAGS = flags.FlagValues()
flags.DEFINE_string("network", None, "Network pickle (path or URL), or a run id / run directory (see --snapshot).", flag_values=FLAGS)
flags.DEFINE_string("snapshot", None, "Snapshot (kimg number, or a pickle path) of the run given by --network; default: latest.", flag_values=FLAGS)
flags.DEFINE_string("metrics", "fid50k", "Comma-separated metric names.", flag_values=FLAGS)
flags.DEFINE_string("dataset", None, "TFRecord dataset directory (relative to --data_dir); default: the run's configuration.", flag_values=FLAGS)
flags.DEFINE_string("data_dir", None, "Root directory of datasets.", flag_values=FLAGS)
flags.DEFINE_enum("mirror_augment", "auto", ["auto", "true", "false"], "Mirror the reals (auto: the run's setting, else false).", flag_values=FLAGS)
flags.DEFINE_integer("gpus", 1, "Number of GPUs (replicas of a MirroredStrategy).", flag_values=FLAGS)
flags.DEFINE_string("result_dir", "results", "Where run ids are looked up; results of a plain pickle go here too.", flag_values=FLAGS)
flags.DEFINE_string("cache_dir", None, "Cache for downloaded feature networks and real-image statistics "
                    "(default $STYLEGAN_CACHE_DIR or ~/.cache/stylegan_tf).", flag_values=FLAGS)
flags.DEFINE_string("inception", None, "Inception-v3 2015-12-05 GraphDef (.pb or the official .tgz), path or URL "
                    "(default: the official download URL).", flag_values=FLAGS)
flags.DEFINE_string("inception_sha256", None, "Expected SHA-256 of the --inception file.", flag_values=FLAGS)
flags.DEFINE_string("lpips", None, "LPIPS-VGG16 weights (.npz from metrics/convert_lpips.py), path or URL.", flag_values=FLAGS)
flags.DEFINE_string("lpips_sha256", None, "Expected SHA-256 of the --lpips file.", flag_values=FLAGS)
flags.DEFINE_string("ls_classifiers", None, "LS attribute classifiers: a directory or URL prefix holding "
                    "celebahq-classifier-NN-<name>.pkl, or a comma list of pickles.", flag_values=FLAGS)
flags.DEFINE_string("ls_sha256", None, "Expected SHA-256s of the classifiers (comma list, same order).", flag_values=FLAGS)
flags.DEFINE_integer("num_samples", None, "Override the number of images/samples of every metric "
                     "(for quick checks; the metric is renamed <name>_n<N>).", flag_values=FLAGS)
flags.DEFINE_integer("seed", None, "Random seed of latents, noise and interpolation points (default: random).", flag_values=FLAGS)
flags.DEFINE_bool("progress", True, "Show a progress bar per metric.", flag_values=FLAGS)


PROG_NAME = "run_metrics.py"


class UsageError(Exception):
    pass


def _metric_list(spec, num_samples):
    from metrics import metric_base
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UsageError("--metrics is empty")
    out = []
    for name in names:
        args = metric_base.get_metric_args(name)
        if num_samples is not None:
            if num_samples < 2:
                raise UsageError("--num_samples must be >= 2")
            args.name = "%s_n%d" % (args.name, num_samples)
            if "num_images" in args:
                args.num_images = num_samples
            if "num_samples" in args:
                args.num_samples = num_samples
            if "num_keep" in args:
                args.num_keep = max(1, num_samples // 2)
        out.append(args)
    return out


def _resolve_network():
    """(network_pkl, run_dir or None)."""
    import dnnlib
    from stylegan_tf import rundir
    net = FLAGS.network
    if net is None:
        raise UsageError("--network is required")
    if dnnlib.util.is_url(net, allow_file_urls=True) or os.path.isfile(net):
        if FLAGS.snapshot is not None:
            raise UsageError("--snapshot needs --network to name a run, not a pickle")
        return net, None
    if net.endswith(".pkl"):
        raise UsageError("network pickle not found: %s" % net)
    try:
        run_dir = rundir.locate_run_dir(net, FLAGS.result_dir)
        return rundir.locate_network_pkl(run_dir, FLAGS.snapshot, FLAGS.result_dir), run_dir
    except IOError as e:
        raise UsageError(str(e)) from None


def run():
    import tensorflow as tf
    from metrics import metric_base
    from metrics.feature_nets import FeatureNetworkError

    metric_args = _metric_list(FLAGS.metrics, FLAGS.num_samples)
    network_pkl, run_dir = _resolve_network()
    dataset_args = None
    if FLAGS.dataset is not None:
        dataset_args = dict(tfrecord_dir=FLAGS.dataset, shuffle_mb=0)
    mirror = {"auto": None, "true": True, "false": False}[FLAGS.mirror_augment]
    if run_dir is None and mirror is None:
        mirror = False
    log_dir = run_dir if run_dir is not None else FLAGS.result_dir
    strategy = None
    if FLAGS.gpus > 1:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < FLAGS.gpus:
            raise UsageError("--gpus=%d but %d GPUs are visible" % (FLAGS.gpus, len(gpus)))
        strategy = tf.distribute.MirroredStrategy([d.name for d in gpus[:FLAGS.gpus]])
    group = metric_base.MetricGroup(
        metric_args, cache_dir=FLAGS.cache_dir, inception=FLAGS.inception, inception_sha256=FLAGS.inception_sha256,
        lpips=FLAGS.lpips, lpips_sha256=FLAGS.lpips_sha256, ls_classifiers=FLAGS.ls_classifiers,
        ls_sha256=FLAGS.ls_sha256, strategy=strategy, seed=FLAGS.seed, progress=FLAGS.progress)
    print("Evaluating %s on %s..." % (", ".join(m.name for m in group.metrics), network_pkl), flush=True)
    try:
        group.run(network_pkl, run_dir=log_dir, data_dir=FLAGS.data_dir, dataset_args=dataset_args,
                  mirror_augment=mirror, num_gpus=FLAGS.gpus)
    except FeatureNetworkError as e:
        raise metric_base.MetricError(str(e)) from None
    return 0


def main(argv=None):
    """Parse flags from argv (default sys.argv) and run; returns the exit code (0 ok, 1 error)."""
    from metrics.metric_base import MetricError
    from metrics.feature_nets import FeatureNetworkError
    return dnnlib.util.run_absl_cli(FLAGS, PROG_NAME, __doc__, run, (UsageError, MetricError, FeatureNetworkError),
                                    argv)


if __name__ == "__main__":
    sys.exit(main())
