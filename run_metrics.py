"""Evaluate metrics (FID, perceptual path length, linear separability) on a StyleGAN generator.

Examples:

    # A network pickle (path or URL) against a dataset:
    python run_metrics.py --network=karras2019stylegan-ffhq-1024x1024.pkl --metrics=fid50k \\
        --dataset=ffhq --data_dir=datasets --mirror_augment=true --inception=inception-2015-12-05.tgz

    # The latest (or a given) snapshot of a training run; dataset and mirroring come from the run's
    # configuration, results are appended to <run_dir>/metric-<name>.txt:
    python run_metrics.py --network=00005 --snapshot=25000 --metrics=fid50k,ppl_wend \\
        --result_dir=results --lpips=lpips_vgg16.npz

Metrics: fid50k, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, ls, dummy (official StyleGAN), swd16k (Progressive
GAN's SWD, no download), digits10k (the demo's digit classifier) and fid1k, fid10k, ppl_*_1k, ls_10k, swd2k,
digits1k (quick). See docs/metrics.md. Errors (corrupt pickle, dataset/generator shape mismatch, wrong
checksum, feature network that cannot be downloaded, ...) are reported in one line with exit code 1; a bad
command line (unknown flag or metric, missing pickle, missing --network or --dataset) with exit code 2.
"""

import os
import sys

import click

from dnnlib import cli
from stylegan_tf import cli as tool
from stylegan_tf.data import DEFAULT_DATA_DIR

PROG_NAME = "run_metrics.py"


class UsageError(click.UsageError):
    """A bad flag: one line, exit code 2."""


def _metric_list(spec, num_samples):
    from metrics import metric_base
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UsageError("--metrics is empty")
    out = []
    for name in names:
        try:
            args = metric_base.get_metric_args(name)
        except metric_base.MetricError as e:
            raise UsageError("--metrics: %s%s" % (e, cli.suggestion(name, metric_base.metric_names()))) from None
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


def _resolve_network(opts):
    """(network_pkl, run_dir or None)."""
    import dnnlib
    from stylegan_tf import rundir
    net = opts.network
    if dnnlib.util.is_url(net, allow_file_urls=True) or os.path.isfile(net):
        if opts.snapshot is not None:
            raise UsageError("--snapshot needs --network to name a run, not a pickle")
        return net, None
    if net.endswith(".pkl"):
        raise UsageError("--network: network pickle not found: %s" % net)
    try:
        run_dir = rundir.locate_run_dir(net, opts.result_dir)
        return rundir.locate_network_pkl(run_dir, opts.snapshot, opts.result_dir), run_dir
    except IOError as e:
        raise UsageError(str(e)) from None


def run(opts):
    """Evaluate the metrics (see `command`)."""
    network_pkl, run_dir = _resolve_network(opts)  # a missing pickle or run is refused before TensorFlow starts
    tf = cli.import_tensorflow()
    from metrics import metric_base
    from metrics.feature_nets import FeatureNetworkError

    metric_args = _metric_list(opts.metrics, opts.num_samples)
    if opts.directions is not None:
        ls_args = [a for a in metric_args if a.func_name == "metrics.linear_separability.LS"]
        if not ls_args:
            raise UsageError("--directions needs an LS metric in --metrics (ls or ls_10k): the directions are its "
                             "W-space SVM normals")
        if os.path.exists(opts.directions) and not os.path.isdir(opts.directions):
            raise UsageError("--directions: %s exists and is not a directory" % opts.directions)
        try:
            os.makedirs(opts.directions, exist_ok=True)  # now, not after an hour of sampling
        except OSError as e:
            raise UsageError("--directions: cannot create %s (%s)" % (opts.directions, e.strerror or e)) from None
        for args in ls_args:
            args.directions_dir = opts.directions
            args.directions_ratio = opts.directions_ratio
    dataset_args = None
    if opts.dataset is not None:
        dataset_args = dict(tfrecord_dir=opts.dataset, shuffle_mb=0)
    mirror = opts.mirror_augment  # None: the run's setting
    if run_dir is None and mirror is None:
        mirror = False
    data_dir = opts.data_dir if opts.data_dir is not None or run_dir is not None else DEFAULT_DATA_DIR
    log_dir = run_dir if run_dir is not None else opts.result_dir
    strategy = None
    if opts.gpus > 1:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < opts.gpus:
            raise UsageError("--gpus=%d but %d GPUs are visible" % (opts.gpus, len(gpus)))
        strategy = tf.distribute.MirroredStrategy([d.name for d in gpus[:opts.gpus]])
    group = metric_base.MetricGroup(
        metric_args, cache_dir=opts.cache_dir, inception=opts.inception, inception_sha256=opts.inception_sha256,
        lpips=opts.lpips, lpips_sha256=opts.lpips_sha256, ls_classifiers=opts.ls_classifiers,
        ls_sha256=opts.ls_sha256, strategy=strategy, seed=opts.seed, progress=opts.progress, labels=opts.labels)
    needs_reals = [m.name for m in group.metrics if m.needs_reals()]
    if needs_reals and dataset_args is None and run_dir is None:
        raise UsageError("--dataset is required: %s compare%s %s with real images, and --network names a pickle, "
                         "not a run whose configuration names the dataset" % (
                             ", ".join(needs_reals), "s" if len(needs_reals) == 1 else "", network_pkl))
    print("Evaluating %s on %s..." % (", ".join(m.name for m in group.metrics), network_pkl), flush=True)
    try:
        group.run(network_pkl, run_dir=log_dir, data_dir=data_dir, dataset_args=dataset_args,
                  mirror_augment=mirror, num_gpus=opts.gpus)
    except FeatureNetworkError as e:
        raise metric_base.MetricError(str(e)) from None


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", required=True, help="Network pickle (path or URL), or a run id / run directory (see "
              "--snapshot).")
@click.option("--snapshot", default=None, help="Snapshot (kimg number, or a pickle path) of the run given by "
              "--network; default: latest.")
@click.option("--metrics", default="fid50k", show_default=True, help="Comma-separated metric names.")
@click.option("--dataset", default=None, help="TFRecord dataset directory (relative to --data_dir); default: the "
              "run's configuration.")
@click.option("--data_dir", default=None, help="Root directory of datasets (default: the run's, else %s)."
              % DEFAULT_DATA_DIR)
@cli.bool_option("--mirror_augment", default=None, help="Mirror the reals (default: the run's setting, else 0).")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of GPUs (replicas of a MirroredStrategy).")
@click.option("--result_dir", default="results", show_default=True, help="Where run ids are looked up; results of a "
              "plain pickle go here too.")
@click.option("--cache_dir", default=None, help="Cache for downloaded feature networks and real-image statistics "
              "(default $STYLEGAN_CACHE_DIR or ~/.cache/stylegan_tf).")
@click.option("--inception", default=None, help="Inception-v3 2015-12-05 GraphDef (.pb or the official .tgz), path "
              "or URL (default: the official download URL).")
@click.option("--inception_sha256", default=None, help="Expected SHA-256 of the --inception file.")
@click.option("--lpips", default=None, help="LPIPS-VGG16 weights: NVIDIA's vgg16_zhang_perceptual.pkl, the lpips "
              "package's vgg.pth (with torchvision's VGG16 beside it), or our .npz; path or URL.")
@click.option("--lpips_sha256", default=None, help="Expected SHA-256 of the --lpips file.")
@click.option("--ls_classifiers", default=None, help="LS attribute classifiers: a directory or URL prefix holding "
              "celebahq-classifier-NN-<name>.pkl, a single classifier pickle, a comma list of pickles, or 'digits' "
              "(the demo's digit classifier: digit0 ... digit9, each against the rest).")
@click.option("--ls_sha256", default=None, help="Expected SHA-256s of the classifiers (comma list, same order).")
@click.option("--directions", default=None, metavar="DIR", help="With an LS metric: also write each attribute's "
              "editing direction (the unit normal of its SVM in W) to DIR/<attribute>.npy, for generate.py "
              "--direction.")
@click.option("--directions_ratio", type=click.FloatRange(0, 0.5, min_open=True), default=0.02, show_default=True,
              help="With --directions: each direction's SVM separates this fraction of the samples with the highest "
              "attribute scores from as many with the lowest (InterFaceGAN's default).")
@click.option("--num_samples", type=int, default=None, help="Override the number of images/samples of every metric "
              "(for quick checks; the metric is renamed <name>_n<N>).")
@click.option("--seed", type=int, default=None, help="Random seed of latents, noise and interpolation points "
              "(default: random).")
@click.option("--labels", type=click.Choice(["zero", "uniform"]), default="zero", show_default=True,
              help="Labels of a class-conditional generator: zero (all-zero labels, the official v1 behaviour) or "
              "uniform (a one-hot class drawn uniformly per sample, for class-conditional networks).")
@cli.bool_option("--progress", default=True, help="Show a progress line per metric.")
@cli.verbose_option
def command(**opts):
    import dnnlib
    run(dnnlib.EasyDict(opts))


def main(argv=None):
    """Parse argv (argv[0] is the program name; default sys.argv) and run; returns the exit code (0 ok,
    1 a failed metric or a bad file, 2 a bad command line)."""
    argv = list(sys.argv if argv is None else argv)
    return cli.run(command, argv[1:], prog_name=PROG_NAME)


def _error_types():
    """The metrics' own errors (imported on demand: they import TensorFlow)."""
    from metrics.feature_nets import FeatureNetworkError
    from metrics.metric_base import MetricError
    return MetricError, FeatureNetworkError


cli.with_error_types(command, _error_types)  # one line under `stylegan-tf metrics` too


if __name__ == "__main__":
    sys.exit(main())
