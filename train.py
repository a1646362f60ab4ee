"""Train StyleGAN (or Progressive GAN) with the official configurations.

    python train.py                                   # small StyleGAN on the built-in demo dataset (CPU, minutes)
    python train.py --dataset=ffhq --config=ffhq      # the paper's FFHQ 1024x1024 setup
    python train.py --dataset=ffhq --config=ffhq,mix50 --gpus=8
    python train.py --dataset=mine                    # your own dataset: datasets/mine, runs in results/NNNNN-sgan-mine-1gpu
    python train.py --resume=results/00003-sgan-ffhq-8gpu   # continue that run, in its directory, with its settings

`--config` takes a comma-separated list of presets, applied in order (listed below); `--set
group.key=value` overrides any official keyword (groups: G, D, G_opt, D_opt, G_loss, D_loss, dataset,
sched, grid, augment, train). Snapshot metric: swd2k (no download), fid50k with the paper dataset presets.
"""

import ast
import copy
import os
import sys

import click

import dnnlib
from dnnlib import EasyDict, cli
from stylegan_tf import cli as tool
from stylegan_tf.data import DEFAULT_DATA_DIR


# Snapshot metrics. On your own data: Progressive GAN's SWD on 2048 images, which needs no download and
# takes seconds to minutes on a CPU (a trend to watch, not a number to compare with papers: run
# `--metrics=fid50k` or run_metrics.py for those). The paper presets keep the official fid50k.
DEFAULT_METRICS = ["swd2k"]
PAPER_METRICS = ["fid50k"]


def base_config():
    """The official StyleGAN defaults (train.py + training_loop.py), except the snapshot metric
    (DEFAULT_METRICS instead of fid50k, which a paper dataset preset brings back)."""
    c = EasyDict()
    c.desc = "sgan"
    c.train = EasyDict(total_kimg=25000, mirror_augment=False, G_smoothing_kimg=10.0, D_repeats=1,
                       minibatch_repeats=4, reset_opt_for_new_lod=True, image_snapshot_ticks=1,
                       network_snapshot_ticks=10)
    c.G = EasyDict(func_name="training.networks_stylegan.G_style")
    c.D = EasyDict(func_name="training.networks_stylegan.D_basic")
    c.G_opt = EasyDict(beta1=0.0, beta2=0.99, epsilon=1e-8)
    c.D_opt = EasyDict(beta1=0.0, beta2=0.99, epsilon=1e-8)
    c.G_loss = EasyDict(func_name="training.loss.G_logistic_nonsaturating")
    c.D_loss = EasyDict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0)
    c.dataset = EasyDict()
    c.sched = EasyDict(lod_initial_resolution=8, G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
                       D_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003})
    c.grid = EasyDict(size="4k", layout="random")
    c.augment = EasyDict()  # the pipeline slot for what D sees (ours; empty: none, as the official loop)
    c.metrics = list(DEFAULT_METRICS)
    c.tf_config = {"rnd.np_random_seed": 1000}
    return c


def _progan(c):
    c.desc = "pgan"
    c.G = EasyDict(func_name="training.networks_progan.G_paper")
    c.D = EasyDict(func_name="training.networks_progan.D_paper")
    c.G_loss = EasyDict(func_name="training.loss.G_wgan")
    c.D_loss = EasyDict(func_name="training.loss.D_wgan_gp")
    c.sched = EasyDict(G_lrate_dict={1024: 0.0015}, D_lrate_dict={1024: 0.0015})
    c.grid = EasyDict(size="1080p", layout="random")
    c.train.total_kimg = 12000
    c.sched.max_minibatch_per_gpu = {256: 16, 512: 8, 1024: 4}


def _traditional(c, mapping_layers):
    c.G.update(use_styles=False, use_pixel_norm=True, use_instance_norm=False, mapping_layers=mapping_layers,
               truncation_psi=None, const_input_layer=False, style_mixing_prob=0.0, use_noise=False)


def _demo(c):
    """Digits that are recognisable after minutes on a 2-core CPU (see docs/training.md, "The demo")."""
    c.desc += "-demo"
    # The digits' real detail is 8x8: 16x16 grayscale holds all of it; colour would have to be learnt too.
    # Class-conditional (the official max_label_size='full'): G's mapping network embeds the one-hot label,
    # D_basic projects its output onto it, so G draws every class instead of settling on a few.
    c.dataset = EasyDict(tfrecord_dir=None, max_label_size="full", demo=dict(resolution=16, channels=1))
    c.train.update(total_kimg=30, mirror_augment=False, network_snapshot_ticks=10, image_snapshot_ticks=1,
                   G_smoothing_kimg=1.0)  # Gs averages over 1 kimg instead of 10 to keep up with a short run
    small = dict(fmap_base=512, fmap_max=128)
    c.G.update(small, latent_size=128, dlatent_size=128, mapping_fmaps=128, mapping_layers=2)  # Table 4's stylebased-2
    c.D.update(small)
    # Most of the run at 8x8, where steps are cheap and the digits' shapes are learnt; then grow to 16x16.
    c.sched = EasyDict(lod_initial_resolution=8, lod_training_kimg=12, lod_transition_kimg=4, minibatch_base=32,
                       G_lrate_base=0.002, D_lrate_base=0.002, tick_kimg_base=1, tick_kimg_dict={})
    c.grid = EasyDict(size="24x10", layout="row_per_class")  # row r: class r, 24 latents
    c.metrics = []


def _paper_dataset(name, tfrecord_dir, mirror_augment, resolution=None):
    """A preset of one of the paper's datasets (official desc, directory and mirroring; fid50k snapshots)."""
    def apply(c):
        c.desc += "-" + name
        c.dataset.update(tfrecord_dir=tfrecord_dir, **({} if resolution is None else dict(resolution=resolution)))
        c.train.update(mirror_augment=mirror_augment)
        c.metrics = list(PAPER_METRICS)
    apply.names_dataset = True
    return apply


# Official presets by their run-description names (NVlabs/stylegan train.py), plus 'demo'.
PRESETS = {
    "stylegan": lambda c: None,
    "demo": _demo,
    "ffhq": _paper_dataset("ffhq", "ffhq", mirror_augment=True),
    "ffhq512": _paper_dataset("ffhq512", "ffhq", mirror_augment=True, resolution=512),
    "ffhq256": _paper_dataset("ffhq256", "ffhq", mirror_augment=True, resolution=256),
    "celebahq": _paper_dataset("celebahq", "celebahq", mirror_augment=True),
    "bedroom": _paper_dataset("bedroom", "lsun-bedroom-full", mirror_augment=False),
    "car": _paper_dataset("car", "lsun-car-512x384", mirror_augment=False),
    "cat": _paper_dataset("cat", "lsun-cat-full", mirror_augment=False),
    "wgangp": lambda c: (c.__setitem__("desc", c.desc + "-wgangp"),
                         c.G_loss.update(func_name="training.loss.G_wgan"),
                         c.D_loss.clear(), c.D_loss.update(func_name="training.loss.D_wgan_gp"),
                         c.sched.update(G_lrate_dict={k: min(v, 0.002) for k, v in c.sched.G_lrate_dict.items()}),
                         c.sched.update(D_lrate_dict=dict(c.sched.G_lrate_dict))),
    # Table 1 (A is Progressive GAN: the 'pgan' preset).
    "tuned-baseline": lambda c: (_traditional(c, 0), c.__setitem__("desc", c.desc + "-tuned-baseline")),
    "add-mapping-and-styles": lambda c: (c.G.update(const_input_layer=False, style_mixing_prob=0.0, use_noise=False),
                                         c.__setitem__("desc", c.desc + "-add-mapping-and-styles")),
    "remove-traditional-input": lambda c: (c.G.update(style_mixing_prob=0.0, use_noise=False),
                                           c.__setitem__("desc", c.desc + "-remove-traditional-input")),
    "add-noise-inputs": lambda c: (c.G.update(style_mixing_prob=0.0),
                                   c.__setitem__("desc", c.desc + "-add-noise-inputs")),
    "mixing-regularization": lambda c: c.__setitem__("desc", c.desc + "-mixing-regularization"),
    # Table 2.
    "mix0": lambda c: (c.G.update(style_mixing_prob=0.0), c.__setitem__("desc", c.desc + "-mix0")),
    "mix50": lambda c: (c.G.update(style_mixing_prob=0.5), c.__setitem__("desc", c.desc + "-mix50")),
    "mix90": lambda c: (c.G.update(style_mixing_prob=0.9), c.__setitem__("desc", c.desc + "-mix90")),
    "mix100": lambda c: (c.G.update(style_mixing_prob=1.0), c.__setitem__("desc", c.desc + "-mix100")),
    # Table 4.
    "traditional-0": lambda c: (_traditional(c, 0), c.__setitem__("desc", c.desc + "-traditional-0")),
    "traditional-8": lambda c: (_traditional(c, 8), c.__setitem__("desc", c.desc + "-traditional-8")),
    "stylebased-0": lambda c: (c.G.update(mapping_layers=0), c.__setitem__("desc", c.desc + "-stylebased-0")),
    "stylebased-1": lambda c: (c.G.update(mapping_layers=1), c.__setitem__("desc", c.desc + "-stylebased-1")),
    "stylebased-2": lambda c: (c.G.update(mapping_layers=2), c.__setitem__("desc", c.desc + "-stylebased-2")),
    "stylebased-8": lambda c: (c.G.update(mapping_layers=8), c.__setitem__("desc", c.desc + "-stylebased-8")),
    # Progressive GAN (the official pgan branch: preset-v2, fp32).
    "pgan": _progan,
    # Mixed precision: the official fp16 option, and bfloat16 (ours; fast on CPUs with AVX512-BF16/AMX).
    "fp16": lambda c: _mixed_precision(c, "float16"),
    "bf16": lambda c: _mixed_precision(c, "bfloat16"),
}


def _mixed_precision(c, dtype):
    """Networks compute in `dtype`, variables stay float32. float16 as the official fp16 line: dynamic
    loss scaling, pixel-norm epsilon 1e-4, smaller minibatches at 512 and 1024. bfloat16 has float32's
    exponent range, so it needs neither loss scaling nor the larger epsilon."""
    c.G.dtype = dtype
    c.D.dtype = dtype
    if dtype == "float16":
        c.G.pixelnorm_epsilon = 1e-4
        c.G_opt.use_loss_scaling = True
        c.D_opt.use_loss_scaling = True
        c.sched.max_minibatch_per_gpu = {512: 16, 1024: 8}

# Official minibatch settings per GPU count.
STYLEGAN_GPU_SCHED = {
    1: dict(minibatch_base=4, minibatch_dict={4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4}),
    2: dict(minibatch_base=8, minibatch_dict={4: 256, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8}),
    4: dict(minibatch_base=16, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16}),
    8: dict(minibatch_base=32, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32}),
}
PROGAN_GPU_SCHED = {
    1: dict(minibatch_base=4, minibatch_dict={4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4},
            G_lrate_dict={1024: 0.0015}),
    2: dict(minibatch_base=8, minibatch_dict={4: 256, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8},
            G_lrate_dict={512: 0.0015, 1024: 0.002}),
    4: dict(minibatch_base=16, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16},
            G_lrate_dict={256: 0.0015, 512: 0.002, 1024: 0.003}),
    8: dict(minibatch_base=32, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32},
            G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}),
}


class UsageError(click.UsageError):
    """A bad flag value or override: reported as one line and exit code 2."""


def desc_with_dataset(desc, dataset, preset_names):
    """The run description naming the dataset as the official ones do (`sgan-ffhq-8gpu`): `--dataset=mine`
    gives `sgan-mine-1gpu` (in place of `-demo` for the demo preset); a paper dataset preset names it already."""
    if any(getattr(PRESETS[n], "names_dataset", False) for n in preset_names):
        return desc
    name = os.path.basename(os.path.normpath(dataset))
    if "-demo" in desc:
        return desc.replace("-demo", "-" + name)
    family, _, rest = desc.partition("-")
    return "-".join(p for p in (family, name, rest) if p)


def build_config(config_names, num_gpus, overrides=(), dataset=None, total_kimg=None, mirror_augment=None,
                 metrics=None):
    """The full run configuration from presets, GPU count and overrides (no side effects)."""
    c = base_config()
    names = [n.strip() for n in config_names.split(",") if n.strip()]
    for name in names:
        if name not in PRESETS:
            raise UsageError("--config: unknown preset %r (known: %s)" % (name, ", ".join(sorted(PRESETS))))
    if "pgan" in names:  # the network family comes first, the variants after
        names = ["pgan"] + [n for n in names if n != "pgan"]
    for name in names:
        PRESETS[name](c)
    if "demo" not in names:
        table = PROGAN_GPU_SCHED if c.desc.startswith("pgan") else STYLEGAN_GPU_SCHED
        key = max(k for k in table if k <= max(num_gpus, 1))
        c.sched.update(copy.deepcopy(table[key]))
        if c.desc.startswith("pgan"):
            c.sched.D_lrate_dict = dict(c.sched.G_lrate_dict)
        c.desc += "-%dgpu" % num_gpus
    c.desc += "".join("-" + n for n in names if n in ("fp16", "bf16"))  # last, as the official '-fp16'
    if dataset is not None:
        c.dataset.pop("demo", None)
        c.dataset.tfrecord_dir = dataset
        c.desc = desc_with_dataset(c.desc, dataset, names)
    if total_kimg is not None:
        c.train.total_kimg = total_kimg
    if mirror_augment is not None:
        c.train.mirror_augment = bool(int(mirror_augment))
    if metrics is not None:
        c.metrics = [m for m in metrics.split(",") if m]
    groups = dict(G=c.G, D=c.D, G_opt=c.G_opt, D_opt=c.D_opt, G_loss=c.G_loss, D_loss=c.D_loss, dataset=c.dataset,
                  sched=c.sched, grid=c.grid, augment=c.augment, train=c.train)
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise UsageError("--set: expected group.key=value, got %r" % item)
        lhs, value = item.split("=", 1)
        group, key = lhs.split(".", 1)
        if group not in groups:
            raise UsageError("--set: unknown group %r in %r (known: %s)" % (group, item, ", ".join(groups)))
        try:
            groups[group][key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            groups[group][key] = value
    return c


def make_strategy(num_gpus, multiworker):
    """MultiWorkerMirroredStrategy (TF_CONFIG), MirroredStrategy over GPUs, or CPU replicas."""
    import tensorflow as tf
    if multiworker:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        n = len(gpus) if num_gpus is None else num_gpus
        if n > len(gpus):
            raise UsageError("--gpus=%d but only %d GPU(s) are visible" % (n, len(gpus)))
        return tf.distribute.MirroredStrategy(["/gpu:%d" % i for i in range(n)])
    n = num_gpus or 1
    if n > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
        return tf.distribute.MirroredStrategy(["/cpu:%d" % i for i in range(n)])
    return tf.distribute.get_strategy()


def resolve_metrics(names):
    """Metric definitions (metrics.metric_base) for the names given to --metrics."""
    if not names:
        return []
    from metrics import metric_base
    try:
        return [metric_base.get_metric_args(name) for name in names]
    except metric_base.MetricError as e:
        raise UsageError("--metrics: %s" % e) from None


def metrics_callback(metric_arg_list, metric_kwargs, run_dir, data_dir, dataset_args, mirror_augment, num_gpus):
    """The training loop's `on_snapshot`: run the metrics on each network snapshot (as the official loop
    does) and hand their values back for TensorBoard. None when no metric is asked for."""
    if not metric_arg_list:
        return None
    from metrics import metric_base
    group = metric_base.MetricGroup(metric_arg_list, **metric_kwargs)

    def unavailable(metric, error):
        print("train.py: warning: metric %s skipped for the rest of this run (%s); evaluate the snapshots later "
              "with: run_metrics.py --network %s --metrics %s" % (metric.name, error, run_dir, metric.name),
              file=sys.stderr, flush=True)

    def on_snapshot(network_pkl):
        group.run(network_pkl, run_dir=run_dir, data_dir=data_dir, dataset_args=dataset_args,
                  mirror_augment=mirror_augment, num_gpus=num_gpus, on_unavailable=unavailable)
        return getattr(group, "latest_results", {}) or {}
    on_snapshot.group = group  # for the summary at the end
    return on_snapshot


def override_keys(c):
    """{group: keys that --set may name}: the keyword arguments (with defaults) of what each group
    configures: the network builders' models, the loss functions, the dataset reader, the schedule,
    the snapshot grid and the training loop (optimizer options are checked by tflib.Optimizer; the
    augment group's by its callable)."""
    import inspect
    from stylegan_tf import images
    from stylegan_tf.data import reader
    from training import training_loop
    from training.config import TrainingConfig

    def keywords(*funcs):
        return {name for f in funcs for name, p in inspect.signature(f).parameters.items()
                if p.default is not inspect.Parameter.empty and name != "name"}

    def network(func_name):
        func = dnnlib.util.get_obj_by_name(func_name)
        return keywords(*getattr(func, "model_classes", (func,))) | {"func_name"}

    loss = lambda func_name: keywords(dnnlib.util.get_obj_by_name(func_name)) | {"func_name"}

    def augment(func_name):
        obj = dnnlib.util.get_obj_by_name(func_name) if func_name else None
        return {"func_name"} | (keywords(obj.__init__ if isinstance(obj, type) else obj) if obj else set())
    return dict(G=network(c.G.func_name), D=network(c.D.func_name), G_loss=loss(c.G_loss.func_name),
                D_loss=loss(c.D_loss.func_name), dataset=keywords(reader.TFRecordDataset.__init__, reader.load_dataset)
                | {"tfrecord_dir", "demo"}, sched=keywords(training_loop.training_schedule),
                grid=keywords(images.setup_snapshot_image_grid) - {"seed"}, train=TrainingConfig.settable(),
                augment=augment(c.augment.get("func_name")))


# The options that define a run: recorded in its config.json ('command_line') for --resume RUN_DIR.
RUN_OPTIONS = ("dataset", "data_dir", "config", "total_kimg", "mirror_augment", "metrics", "set", "seed", "xla",
               "inception", "lpips", "ls_classifiers", "cache_dir", "batch_gpu", "freezed", "freezeg", "freeze_mapping",
               "aug", "p", "target", "augpipe", "ada_kimg")


def run_options_record(opts, config_names):
    """config.json's 'command_line': this run's defining options, the presets resolved."""
    return dict({k: opts.get(k) for k in RUN_OPTIONS}, config=config_names)


def apply_resume_settings(opts):
    """--resume RUN_DIR continues that run in its own directory (opts.resume_dir) with the options recorded
    in its config.json, except those given on this command line; its --set overrides come first and this
    command line's after them (so these win). --resume PICKLE takes the settings of the run directory
    holding the pickle, if any, and starts a new run directory."""
    opts.resume_dir = None
    if not opts.resume or not os.path.exists(opts.resume):
        return opts
    source = opts.resume if os.path.isdir(opts.resume) else os.path.dirname(os.path.abspath(opts.resume))
    if os.path.isdir(opts.resume):
        opts.resume_dir = os.path.normpath(opts.resume)
    config_json = os.path.join(source, "config.json")
    if not os.path.isfile(config_json):
        return opts
    import json
    try:
        with open(config_json) as f:
            record = json.load(f).get("command_line")
    except (OSError, ValueError, AttributeError) as e:
        raise cli.CommandError("--resume: cannot read %s (%s); give the settings on the command line and resume from "
                               "a snapshot pickle instead" % (config_json, e)) from None
    if record is None:
        print("%s holds no command-line record (an older run): the settings are this command line's" % config_json)
        return opts
    for key in RUN_OPTIONS:
        if key == "set":
            opts.set = list(record.get("set") or []) + list(opts.set)
        elif key not in opts.get("given", ()) and key in record:
            opts[key] = record[key]
    return opts


def check_run_inputs(resume_pkl, dataset_args, data_dir):
    """Before any run directory exists: the dataset opens, and a --resume pickle is a (G, D, Gs) snapshot
    whose images (channels, resolution) have the dataset's shape (one-line errors naming both; other labels
    are fine: the training loop adapts the networks to them, see fit_networks_to_dataset). Returns the
    dataset's resolution and the pickle's lod (None without --resume)."""
    import pickle
    from stylegan_tf import api
    from stylegan_tf.data import reader
    from stylegan_tf.data.tfrecord import DatasetError
    args = dict(dataset_args)
    if args.get("class_name", "training.dataset.TFRecordDataset").endswith("TFRecordDataset"):
        args["verify"] = False  # shapes only; the training loop checks record counts
    try:
        dset = reader.load_dataset(data_dir=data_dir, **args)
    except DatasetError as e:
        raise cli.CommandError("--dataset: %s" % e) from None
    if resume_pkl is None:
        return dset.shape[-1], None
    try:
        G, D, Gs = api.load_networks(resume_pkl)
    except (OSError, pickle.UnpicklingError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise cli.CommandError("--resume %s; give a network-snapshot-*.pkl that train.py wrote, or its run directory"
                               % (msg if resume_pkl in msg else "%s: %s" % (resume_pkl, msg))) from None
    if G is None or D is None:
        raise cli.CommandError("--resume %s holds only a generator; resuming needs a (G, D, Gs) network snapshot"
                               % resume_pkl)
    net_shape, net_labels = [int(v) for v in Gs.output_shape[1:]], api.label_size(Gs)
    if net_shape != list(dset.shape):
        raise cli.CommandError(
            "--resume %s makes images of shape %s (CHW) with %d labels, but dataset %s holds %s with %d labels: "
            "resume on a dataset of that shape, or train a new run without --resume"
            % (resume_pkl, net_shape, net_labels, dset.tfrecord_dir, list(dset.shape), dset.label_size))
    if net_labels != dset.label_size:
        print("--resume %s: the networks take %d labels, dataset %s has %d: they will be adapted (variables copied "
              "where name and shape match)" % (resume_pkl, net_labels, dset.tfrecord_dir, dset.label_size))
    return dset.shape[-1], float(G.get_var("lod"))


def continue_hint(prog, run_dir):
    """The command that continues a stopped run where it stopped, in its directory and with its settings."""
    import shlex
    return "%s%s --resume %s" % ("python " if prog.endswith(".py") else "", prog, shlex.quote(run_dir))


def check_override_keys(c, overrides):
    """Refuse an override key that nothing reads (a typo would otherwise be silently ignored)."""
    known = override_keys(c)
    for item in overrides:
        group, key = item.split("=", 1)[0].split(".", 1)
        if group in known and key not in known[group]:
            raise UsageError("--set %s: %s has no option %r%s" % (item, group, key, cli.suggestion(
                key, known[group]).replace("did you mean ", "did you mean %s." % group)))


def training_config(c, **flags):
    """The loop's TrainingConfig from a build_config() result and the values of train.py's own flags."""
    from training.config import TrainingConfig
    return TrainingConfig(G_args=c.G, D_args=c.D, G_opt_args=c.G_opt, D_opt_args=c.D_opt, G_loss_args=c.G_loss,
                          D_loss_args=c.D_loss, dataset_args=c.dataset, sched_args=c.sched, grid_args=c.grid,
                          augment_args=c.augment, tf_config=c.tf_config, **flags, **c.train)


def check_batch_gpu(c, overrides, num_gpus, batch_gpu):
    """Refuse a --batch_gpu that does not fit the schedule at some resolution up to 1024 (before any work)."""
    if batch_gpu is None:
        return
    from training import training_loop
    explicit_group = c.D.get("mbstd_group_size") if any(o.startswith("D.mbstd_group_size=") for o in overrides) \
        else None
    try:
        training_loop.check_batch_gpu(batch_gpu, num_gpus, c.sched, 10, explicit_group)
    except ValueError as e:
        raise UsageError("--batch_gpu: %s" % e) from None


def augment_config(aug, p, target, augpipe, ada_kimg):
    """The augment group for --aug/--p/--target/--augpipe/--ada_kimg, with stylegan2-ada's meanings and
    refusals, and the run-description suffix. --aug noaug (the default) is the official v1 loop."""
    aug = aug or "noaug"
    if aug == "noaug":
        for flag, value in (("--p", p), ("--target", target), ("--augpipe", augpipe), ("--ada_kimg", ada_kimg)):
            if value is not None:
                raise UsageError("%s needs --aug ada or --aug fixed" % flag)
        return None, ""
    if aug == "fixed":
        if p is None:
            raise UsageError("--aug fixed needs --p (the augmentation probability)")
        if target is not None:
            raise UsageError("--target is for --aug ada (--aug fixed keeps --p)")
    if aug == "ada":
        if p is not None:
            raise UsageError("--p is for --aug fixed (--aug ada starts at 0 and adapts; see --target)")
        target = 0.6 if target is None else target
    for flag, value in (("--p", p), ("--target", target)):
        if value is not None and not 0 <= value <= 1:
            raise UsageError("%s must be in [0, 1], got %g" % (flag, value))
    if ada_kimg is not None and ada_kimg <= 0:
        raise UsageError("--ada_kimg must be > 0, got %g" % ada_kimg)
    from stylegan_tf.augment import AUGPIPES
    augpipe = augpipe or "bgc"
    if augpipe not in AUGPIPES:
        raise UsageError("--augpipe: unknown pipeline %r%s (known: %s)" % (
            augpipe, cli.suggestion(augpipe, AUGPIPES), ", ".join(AUGPIPES)))
    group = EasyDict(func_name="stylegan_tf.augment.AdaptiveAugment", augpipe=augpipe, p=p or 0.0, target=target,
                     ada_kimg=500 if ada_kimg is None else ada_kimg)
    desc = "-" + aug + ("-p%g" % p if aug == "fixed" else "") + ("" if augpipe == "bgc" else "-" + augpipe)
    return group, desc


def _job_error(logger, opts, error, code):
    """A known failure of the job: one line `prog: error: ...` on the real stderr (the Logger sends what it
    captures to stdout) and in log.txt; returns the exit status."""
    line = "%s: error: %s\n" % (opts.get("prog", "train.py"), error)
    if logger.file is not None:
        logger.file.write(line)
    logger.stderr.write(line)
    logger.stderr.flush()
    return code


def run(opts):
    """Train with the command line's options (see `command`)."""
    opts = apply_resume_settings(opts)
    if opts.resume and not os.path.exists(opts.resume):
        raise UsageError("--resume: no such snapshot or run directory: %s" % opts.resume)
    if opts.gpus is not None and opts.gpus < 1:
        raise UsageError("--gpus must be >= 1, got %d" % opts.gpus)
    if opts.total_kimg is not None and opts.total_kimg <= 0:
        raise UsageError("--total_kimg must be > 0, got %g" % opts.total_kimg)
    config_names = opts.config or ("stylegan" if opts.dataset else "demo")
    augment, augment_desc = augment_config(opts.aug, opts.p, opts.target, opts.augpipe, opts.ada_kimg)
    check = build_config(config_names, opts.gpus or 1, opts.set)  # validate presets and overrides first
    if opts.dataset is None and "demo" not in config_names and not opts.resume:
        raise UsageError("--config=%s needs --dataset (or add 'demo')" % config_names)
    if opts.dataset is not None and not os.path.isdir(os.path.join(opts.data_dir, opts.dataset)):
        raise UsageError("--dataset: no such TFRecord directory: %s" % os.path.join(opts.data_dir, opts.dataset))

    tf = cli.import_tensorflow()
    check_override_keys(check, opts.set)
    from stylegan_tf import images, rundir
    from training import training_loop
    try:
        resume_pkl = rundir.locate_latest_snapshot(opts.resume) if opts.resume else None
    except FileNotFoundError as e:
        raise UsageError("--resume: %s" % e) from None
    from dnnlib import tflib
    for group in ("G_opt", "D_opt"):
        try:
            tflib.Optimizer(**check[group])
        except (TypeError, ValueError) as e:
            raise UsageError("%s: %s" % (group, e)) from None
    layout = check.grid.get("layout", "random")
    if layout != "random" and layout not in images.GRID_CLASS_LAYOUTS:
        raise UsageError("grid.layout %r: use 'random' or one of %s"
                         % (layout, ", ".join(images.GRID_CLASS_LAYOUTS)))

    if "float16" in (check.G.get("dtype"), check.D.get("dtype")):
        if not tf.config.list_physical_devices("GPU"):
            raise UsageError("G/D dtype float16 (the fp16 preset) needs a GPU: TensorFlow has no float16 "
                             "convolutions on CPU (use bf16 there)")
    strategy = make_strategy(opts.gpus, opts.multiworker)
    num_gpus = strategy.num_replicas_in_sync
    c = build_config(config_names, num_gpus, opts.set, opts.dataset, opts.total_kimg, opts.mirror_augment,
                     opts.metrics)
    check_batch_gpu(c, opts.set, num_gpus, opts.batch_gpu)
    if augment is not None:
        c.augment = EasyDict(augment, **c.augment)  # --set augment.* on top
        c.desc += augment_desc
    if opts.freezed:
        c.desc += "-freezed%d" % opts.freezed
    if opts.freezeg or opts.freeze_mapping:
        c.desc += "-freezeg%d%s" % (opts.freezeg, "m" if opts.freeze_mapping else "")
    data_dir = opts.data_dir
    demo = c.dataset.pop("demo", False)
    if demo:
        from stylegan_tf.data.demo import get_demo_dataset
        c.dataset.tfrecord_dir = get_demo_dataset(**(demo if isinstance(demo, dict) else {}))
        data_dir = None
    c.tf_config["rnd.np_random_seed"] = opts.seed
    c.dataset.setdefault("shuffle_seed", opts.seed)
    metric_arg_list = resolve_metrics(c.metrics)
    metric_kwargs = {k: v for k, v in dict(inception=opts.inception, lpips=opts.lpips,
                                           ls_classifiers=opts.ls_classifiers, cache_dir=opts.cache_dir).items()
                     if v is not None}

    resolution, pickle_lod = check_run_inputs(resume_pkl, c.dataset, data_dir)
    if (pickle_lod == 0.0 and not opts.resume_dir and not os.path.isfile(rundir.state_path_for(resume_pkl))
            and not any(o.startswith("sched.lod_initial_resolution=") for o in opts.set)):
        # A finished pickle (an official one, or a final snapshot) resumed into a new run: fine-tuning starts at
        # full resolution instead of growing again from lod_initial_resolution.
        c.sched.lod_initial_resolution = resolution
        print("--resume %s is at full resolution (lod 0): training continues there (--set "
              "sched.lod_initial_resolution=N to grow from NxN instead)" % resume_pkl)
    if tflib.is_chief(strategy):
        run_dir = opts.resume_dir or rundir.create_run_dir(opts.result_dir, c.desc)
    else:
        import tempfile
        run_dir = tempfile.mkdtemp(prefix="stylegan-worker-")
    with rundir.removed_unless_used(run_dir, fresh=run_dir != opts.resume_dir), \
            dnnlib.util.Logger(os.path.join(run_dir, "log.txt"), file_mode="a") as logger:
        print("Run directory: %s" % run_dir)
        print("  Look at fakesNNNNNN.png there (Gs's samples after each tick; reals.png holds the training images),")
        print("  network-snapshot-NNNNNN.pkl (networks, for generate.py and run_metrics.py) and log.txt;")
        print("  curves: tensorboard --logdir %s" % run_dir)
        rundir.write_config(run_dir, dict(c, num_gpus=num_gpus, data_dir=data_dir, resume=resume_pkl, seed=opts.seed,
                                          xla=opts.xla, batch_gpu=opts.batch_gpu, freezed=opts.freezed,
                                          freezeg=opts.freezeg, freeze_mapping=opts.freeze_mapping,
                                          command_line=run_options_record(opts, config_names)))
        on_snapshot = metrics_callback(metric_arg_list, metric_kwargs, run_dir, data_dir, c.dataset,
                                       c.train.get("mirror_augment", False), num_gpus)
        config = training_config(c, resume_pkl=resume_pkl, resume_kimg=opts.resume_kimg, data_dir=data_dir,
                                 xla=opts.xla, seed=opts.seed, stop_after_ticks=opts.stop_after_ticks,
                                 batch_gpu=opts.batch_gpu, freezed=opts.freezed, freezeg=opts.freezeg,
                                 freeze_mapping=opts.freeze_mapping)
        try:
            final = training_loop.training_loop(run_dir, config, on_snapshot=on_snapshot, strategy=strategy)
        except training_loop.NonFiniteLossError as e:
            return _job_error(logger, opts, e, 1)
        except (images.GridConfigError, training_loop.ConfigError) as e:
            return _job_error(logger, opts, e, 2)
        results = on_snapshot.group.get_results() if on_snapshot is not None else {}
        if results:
            print("Metrics of the last snapshot: %s" % ", ".join("%s %.4g" % kv for kv in results.items()))
        if os.path.basename(final or "") != rundir.FINAL_NAME:
            print("To continue this run in %s with its settings: %s"
                  % (run_dir, continue_hint(opts.get("prog", "train.py"), run_dir)))
        print("Done: %s" % final)
    return 0


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__) + "\n\nPresets: " + ", ".join(PRESETS) + ".")
@click.option("--dataset", default=None, help="TFRecord directory name under --data_dir (default: the built-in demo "
              "dataset).")
@click.option("--data_dir", default=DEFAULT_DATA_DIR, show_default=True, help="Root directory of the datasets.")
@click.option("--result_dir", default="results", show_default=True, help="Root directory of the run directories.")
@click.option("--gpus", type=int, default=None, help="Number of replicas (GPUs; on a machine without GPUs, logical "
              "CPU devices). Default: all visible GPUs, else 1.")
@click.option("--total_kimg", type=float, default=None, help="Length of training in thousands of real images.")
@cli.bool_option("--mirror_augment", default=None, help="Mirror augmentation (default: per dataset preset).")
@click.option("--metrics", default=None, help="Comma-separated metrics to run on each network snapshot (e.g. fid50k, "
              "swd16k).")
@click.option("--inception", default=None, help="FID feature network (path or URL of the Inception GraphDef); see "
              "docs/metrics.md.")
@click.option("--lpips", default=None, help="PPL feature network (path or URL of the LPIPS-VGG16 weights).")
@click.option("--ls_classifiers", default=None, help="LS attribute classifiers (directory, file or URL).")
@click.option("--cache_dir", default=None, help="Cache directory for downloaded feature networks.")
@click.option("--resume", default=None, help="Snapshot pickle or run directory (latest snapshot) to resume from.")
@click.option("--resume_kimg", type=float, default=None, help="Training progress of the resumed snapshot (default: "
              "from its state file or name).")
@click.option("--config", default=None, help="Comma-separated presets (default: 'demo' without --dataset, else "
              "'stylegan').")
@click.option("--set", "set", multiple=True, metavar="GROUP.KEY=VALUE", help="Override an option (value as a Python "
              "literal); repeatable. Groups: G, D, G_opt, D_opt, G_loss, D_loss, dataset, sched, grid, augment, train.")
@click.option("--batch_gpu", type=int, default=None, help="Images per replica per round: each replica runs its share of "
              "the minibatch in rounds of this size and accumulates gradients before one update (same update, less "
              "memory). Default: one round.")
@click.option("--freezed", type=click.IntRange(min=0), default=0, help="Freeze-D: keep D's N highest-resolution "
              "blocks (FromRGB included) fixed, for fine-tuning (default 0).")
@click.option("--freezeg", type=click.IntRange(min=0), default=0, help="Freeze-G: keep G's N lowest-resolution "
              "synthesis blocks fixed (default 0).")
@cli.bool_option("--freeze_mapping", help="Freeze-G: keep G's mapping network fixed.")
@click.option("--aug", type=click.Choice(["noaug", "ada", "fixed"]), default=None, help="Discriminator augmentation "
              "(ADA, stylegan2-ada): noaug (default: the official v1 loop), ada (p adapts towards --target), fixed "
              "(p = --p).")
@click.option("--p", type=float, default=None, help="Augmentation probability for --aug fixed, in [0, 1].")
@click.option("--target", type=float, default=None, help="ADA target for r_t = E[sign(D(real))], in [0, 1] "
              "(default 0.6).")
@click.option("--augpipe", default=None, help="Augmentation pipeline: blit, geom, color, filter, noise, cutout, bg, "
              "bgc (default), bgcf, bgcfn, bgcfnc.")
@click.option("--ada_kimg", type=float, default=None, help="ADA speed: kimg for p to move by 1 (default 500).")
@cli.bool_option("--xla", help="Compile the per-replica training steps with XLA.")
@cli.bool_option("--multiworker", help="Use MultiWorkerMirroredStrategy configured by TF_CONFIG.")
@click.option("--seed", type=int, default=1000, show_default=True, help="Random seed (weights, latents, data order).")
@click.option("--stop_after_ticks", type=int, default=None, help="Stop (with a snapshot) after this many ticks of "
              "this process.")
@cli.verbose_option
def command(**opts):
    ctx = click.get_current_context()
    given = {k for k in opts if ctx.get_parameter_source(k) in (click.core.ParameterSource.COMMANDLINE,
                                                                 click.core.ParameterSource.ENVIRONMENT)}
    code = run(EasyDict(opts, set=list(opts["set"]), given=given, prog=ctx.command_path))
    if code:
        click.get_current_context().exit(code)


def main(argv=None):
    """Entry point of `train.py` and `stylegan-tf train`."""
    cli.main(command, argv=argv, prog_name="train.py")


if __name__ == "__main__":
    main()
