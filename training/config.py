"""The one configuration object of a training run: `TrainingConfig`, whose fields are the official
`training_loop()` keyword arguments (same names, same defaults, one comment each) and ours after them.

train.py fills it from presets and the command line; `--set train.KEY=VALUE` may name exactly the
fields marked `settable` (the others are groups, named `--set G.KEY=...` etc., or owned by a flag).
"""

import dataclasses
from dataclasses import field


def _group(doc):
    """An official `*_args` group: {func_name: ..., keyword arguments} (or plain keyword arguments)."""
    return field(default_factory=dict, metadata=dict(doc=doc, group=True))


def _flag(default, doc, flag):
    """A field train.py sets from its own command-line flag `flag` (not through --set train.*)."""
    return field(default=default, metadata=dict(doc=doc, flag=flag))


def _opt(default, doc):
    """A `--set train.KEY=VALUE` option."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=dict(doc=doc))
    return field(default=default, metadata=dict(doc=doc))


@dataclasses.dataclass
class TrainingConfig:
    """Everything `training_loop()` reads. Groups are dicts; the loop never mutates them."""

    # Groups (official names; train.py's --set groups G, D, G_opt, D_opt, G_loss, D_loss, dataset, sched, grid).
    G_args: dict = _group("generator: func_name and the builder's keyword arguments")
    D_args: dict = _group("discriminator: func_name and the builder's keyword arguments")
    G_opt_args: dict = _group("generator optimizer: dnnlib.tflib.Optimizer keyword arguments")
    D_opt_args: dict = _group("discriminator optimizer: dnnlib.tflib.Optimizer keyword arguments")
    G_loss_args: dict = _group("generator loss: func_name (training.loss) and its keyword arguments")
    D_loss_args: dict = _group("discriminator loss: func_name and its keyword arguments (r1_gamma, r1_interval, ...)")
    dataset_args: dict = _group("dataset: tfrecord_dir and reader options (stylegan_tf.data.reader)")
    sched_args: dict = _group("schedule: training_schedule() keyword arguments")
    grid_args: dict = _group("snapshot image grid: setup_snapshot_image_grid() keyword arguments")
    augment_args: dict = _group("what D sees (ours, --set augment.*): func_name of a differentiable callable "
                                "(images, labels) -> images applied to reals and fakes before D in every phase, "
                                "and its keyword arguments; empty: identity (the official loop)")
    tf_config: dict = field(default_factory=dict, metadata=dict(doc="options for tflib.init_tf() (rnd.np_random_seed "
                                                                "from --seed)", flag="--seed"))

    # Official training options (--set train.KEY=VALUE).
    G_smoothing_kimg: float = _opt(10.0, "half-life of the running average of generator weights (Gs), kimg")
    D_repeats: int = _opt(1, "how many times the discriminator is trained per G iteration")
    minibatch_repeats: int = _opt(4, "number of minibatches to run before adjusting training parameters")
    reset_opt_for_new_lod: bool = _opt(True, "reset optimizer internal state (Adam moments) when new layers "
                                       "are introduced")
    total_kimg: float = _opt(15000, "total length of the training, thousands of real images")
    mirror_augment: bool = _opt(False, "enable mirror augment (random x-flips of the reals)")
    drange_net: list = _opt([-1, 1], "dynamic range used when feeding image data to the networks")
    image_snapshot_ticks: int = _opt(1, "how often to export image snapshots (ticks)")
    network_snapshot_ticks: int = _opt(10, "how often to export network snapshots (ticks)")
    resume_time: float = _opt(0.0, "assumed wallclock time at the beginning (seconds); affects reporting")
    native_lod_resolution: bool = _opt(True, "ours: G's output and D's input at the phase's resolution (same "
                                       "numbers as the official upsample-then-downsample, cheaper)")

    # Set by train.py's own flags.
    resume_pkl: str = _flag(None, "network pickle to resume from (None: new networks)", "--resume")
    resume_kimg: float = _flag(None, "training progress of the resumed pickle (None: its state file or name)",
                               "--resume_kimg")
    data_dir: str = _flag(None, "root directory of the datasets", "--data_dir")
    xla: bool = _flag(False, "compile the per-replica steps with XLA", "--xla")
    seed: int = _flag(1000, "seed of weights, latents and data order", "--seed")
    stop_after_ticks: int = _flag(None, "stop (with a snapshot) after this many ticks of this process",
                                  "--stop_after_ticks")
    freezed: int = _flag(0, "Freeze-D: the number of D's highest-resolution blocks (FromRGB included) that "
                         "stay fixed (no optimizer state, no update)", "--freezed")
    freezeg: int = _flag(0, "Freeze-G: the number of G's lowest-resolution synthesis blocks (4x4 first, ToRGB "
                         "included) that stay fixed", "--freezeg")
    freeze_mapping: bool = _flag(False, "Freeze-G: keep G's mapping network fixed", "--freeze_mapping")
    batch_gpu: int = _flag(None, "per-replica micro-batch: each replica runs its share of the minibatch in rounds of "
                           "this many images and accumulates the gradients before one update (None: one round)",
                           "--batch_gpu")

    @classmethod
    def settable(cls):
        """Names that `--set train.KEY=VALUE` may set."""
        return {f.name for f in dataclasses.fields(cls) if not f.metadata.get("group") and "flag" not in f.metadata}

    @classmethod
    def describe(cls):
        """[(name, default, doc)] of every field, for --help texts and the docs."""
        return [(f.name, f.default if f.default is not dataclasses.MISSING else f.default_factory(), f.metadata["doc"])
                for f in dataclasses.fields(cls)]
