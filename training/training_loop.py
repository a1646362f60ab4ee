"""The official StyleGAN training loop on TF2: progressive growing schedule, G/D steps with
tf.distribute, Gs moving average, snapshots, TensorBoard summaries, resume and fault handling.

Owners of what the loop uses: the run directory's names and layout `stylegan_tf.rundir`, the
snapshot grid `stylegan_tf.images`, pickles `stylegan_tf.legacy`, stop signals
`dnnlib.util.StopRequest`, TensorBoard scalars `dnnlib.tflib.autosummary`. Metrics are not run
here: the caller passes `on_snapshot(network_pkl) -> {name: value}` (train.py runs the metrics in it).
"""

import contextlib
import dataclasses
import os
import resource
import time

import numpy as np
import tensorflow as tf
import keras

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import autosummary as autosummary_lib
from stylegan_tf import images, legacy, rng, rundir
from stylegan_tf.data import reader as dataset_lib
from stylegan_tf.images import GRID_CLASS_LAYOUTS, GridConfigError, setup_snapshot_image_grid  # noqa: F401
from training.config import TrainingConfig
from training.loss import StyleGANLoss
from training.transfer import ConfigError, fit_networks_to_dataset, frozen_D_vars, frozen_G_vars  # noqa: F401

# ----------------------------------------------------------------------------
# Real images and the schedule, as the official code computes them.


def process_reals(x, lod, mirror_augment, drange_data, drange_net, upscale=True, crossfade=True):
    """Dynamic range, mirror augment and the lod cross-fade of a minibatch of reals.

    With upscale=False the images stay at the resolution of their level of detail (the
    networks' 'phase_native' mode); the official code nearest-upsamples them to full resolution.
    crossfade=False leaves out the cross-fade, for a lod known to be an integer (weight zero).
    """
    x = tf.cast(x, tf.float32)
    x = images.adjust_dynamic_range(x, drange_data, drange_net)
    if mirror_augment:
        mask = rng.uniform([tf.shape(x)[0], 1, 1, 1], 0.0, 1.0, batched=True)
        x = tf.where(mask < 0.5, x, tf.reverse(x, axis=[3]))
    s = tf.shape(x)
    if crossfade:
        y = tf.reshape(x, [-1, s[1], s[2] // 2, 2, s[3] // 2, 2])
        y = tf.reduce_mean(y, axis=[3, 5], keepdims=True)
        y = tf.tile(y, [1, 1, 1, 2, 1, 2])
        y = tf.reshape(y, [-1, s[1], s[2], s[3]])
        x = tflib.lerp(x, y, lod - tf.floor(lod))
    if upscale:
        factor = tf.cast(2 ** tf.floor(lod), tf.int32)
        x = tf.reshape(x, [-1, s[1], s[2], 1, s[3], 1])
        x = tf.tile(x, [1, 1, 1, factor, 1, factor])
        x = tf.reshape(x, [-1, s[1], s[2] * factor, s[3] * factor])
    return x


def training_schedule(cur_nimg, training_set, num_gpus, lod_initial_resolution=4, lod_training_kimg=600,
                      lod_transition_kimg=600, minibatch_base=16, minibatch_dict={}, max_minibatch_per_gpu={},
                      G_lrate_base=0.001, G_lrate_dict={}, D_lrate_base=0.001, D_lrate_dict={}, lrate_rampup_kimg=0,
                      tick_kimg_base=160, tick_kimg_dict={4: 160, 8: 140, 16: 120, 32: 100, 64: 80, 128: 60, 256: 40,
                                                          512: 30, 1024: 20}):
    """lod, resolution, minibatch, learning rates and tick length at `cur_nimg` (the official formula)."""
    s = dnnlib.EasyDict()
    s.kimg = cur_nimg / 1000.0
    phase_dur = lod_training_kimg + lod_transition_kimg
    phase_idx = int(np.floor(s.kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = s.kimg - phase_idx * phase_dur
    s.lod = training_set.resolution_log2
    s.lod -= np.floor(np.log2(lod_initial_resolution))
    s.lod -= phase_idx
    if lod_transition_kimg > 0:
        s.lod -= max(phase_kimg - lod_training_kimg, 0.0) / lod_transition_kimg
    s.lod = max(s.lod, 0.0)
    s.resolution = 2 ** (training_set.resolution_log2 - int(np.floor(s.lod)))
    s.minibatch = minibatch_dict.get(s.resolution, minibatch_base)
    s.minibatch -= s.minibatch % num_gpus
    if s.resolution in max_minibatch_per_gpu:
        s.minibatch = min(s.minibatch, max_minibatch_per_gpu[s.resolution] * num_gpus)
    s.G_lrate = G_lrate_dict.get(s.resolution, G_lrate_base)
    s.D_lrate = D_lrate_dict.get(s.resolution, D_lrate_base)
    if lrate_rampup_kimg > 0:
        rampup = min(s.kimg / lrate_rampup_kimg, 1.0)
        s.G_lrate *= rampup
        s.D_lrate *= rampup
    s.tick_kimg = tick_kimg_dict.get(s.resolution, tick_kimg_base)
    return s


# ----------------------------------------------------------------------------
# Networks as seen by one training phase.


class PhaseView:
    """A network evaluated with the 'phase' structure for lod in [phase_lod, phase_lod + 1]
    (`stable`: lod == phase_lod exactly, no cross-fade with the level below).

    G's output and D's input stay at the phase's resolution (exactly what the official code
    computes after upsampling and box-downsampling back); `input_area_scale` tells the losses
    how to express input-gradient norms at full resolution (each pixel stands for 4**phase_lod).
    `augment` (D only): the pipeline slot, applied to every image D sees, reals and fakes alike.
    """

    def __init__(self, net, phase_lod, native=True, stable=False, augment=None):
        self.net = net
        self.phase_lod = int(phase_lod)
        self.native = native
        self.stable = bool(stable)
        self.augment = augment
        self.input_shapes = net.input_shapes
        self.input_area_scale = float(4 ** self.phase_lod) if native else 1.0

    def get_output_for(self, *inputs, **kwargs):
        if self.augment is not None:
            inputs = (self.augment(inputs[0], inputs[1] if len(inputs) > 1 else None),) + tuple(inputs[1:])
        return self.net.get_output_for(*inputs, structure="phase", phase_lod=self.phase_lod,
                                       phase_native=self.native, phase_stable=self.stable, **kwargs)


def build_augment(augment_args):
    """The pipeline slot for what D sees, from an official-style group {func_name, keyword arguments}:
    a class is instantiated with the keywords (it may keep state, e.g. an adaptive strength), a function
    is called with them. The result maps (images NCHW in drange_net, labels) to images, or to
    (images, labels); None (no func_name) is the identity of the official loop."""
    args = dict(augment_args or {})
    func_name = args.pop("func_name", None)
    if not func_name:
        if args:
            raise ValueError("augment options %s given without augment.func_name" % sorted(args))
        return None
    obj = dnnlib.util.get_obj_by_name(func_name)
    func = obj(**args) if isinstance(obj, type) else (lambda images, labels: obj(images, labels, **args))

    def augment(images, labels):
        out = func(images, labels)
        return out[0] if isinstance(out, (tuple, list)) else out
    augment.pipe = func
    return augment


class _LabelSource:
    """`training_set.get_random_labels_tf` for the losses, drawn from the step's random stream."""

    def __init__(self, training_set):
        self.label_size = training_set.label_size
        labels = getattr(training_set, "_np_labels", None)
        self._labels = tf.constant(np.asarray(labels, np.float32)) if self.label_size and labels is not None else None
        self._fallback = training_set

    def get_random_labels_tf(self, minibatch_size):
        if not self.label_size:
            return tf.zeros([minibatch_size, 0], tf.float32)
        if self._labels is not None:
            idx = rng.uniform([minibatch_size], 0, tf.shape(self._labels)[0], dtype=tf.int32, batched=True)
            return tf.gather(self._labels, idx)
        return tf.cast(self._fallback.get_random_labels_tf(minibatch_size), tf.float32)

# ----------------------------------------------------------------------------
# Micro-batches (--batch_gpu).


def micro_batching(per_replica, batch_gpu):
    """(images per round, rounds) for a replica's share `per_replica` of the minibatch: one round when
    batch_gpu is None or >= per_replica. Raises ValueError when batch_gpu does not divide it."""
    if batch_gpu is None or batch_gpu >= per_replica:
        return per_replica, 1
    if batch_gpu < 1 or per_replica % batch_gpu:
        raise ValueError("batch_gpu %d does not divide the per-replica minibatch %d" % (batch_gpu, per_replica))
    return batch_gpu, per_replica // batch_gpu


def check_batch_gpu(batch_gpu, num_gpus, sched_args, resolution_log2, mbstd_group_size=None):
    """Refuse a batch_gpu that does not fit every phase the schedule will run (resolutions from
    lod_initial_resolution up to 2**resolution_log2); `mbstd_group_size` when the user chose one
    (groups are formed inside a micro-batch: its size must be a multiple of the group). Returns
    [(resolution, minibatch, per replica, images per round, rounds)] for the start-up summary."""
    if batch_gpu is not None and batch_gpu < 1:
        raise ValueError("batch_gpu must be >= 1, got %d" % batch_gpu)

    class _Res:
        pass
    rows = []
    first = int(np.floor(np.log2(sched_args.get("lod_initial_resolution", 4))))
    for res_log2 in range(max(first, 2), resolution_log2 + 1):
        ds = _Res()
        ds.resolution_log2 = res_log2
        s = training_schedule(cur_nimg=0, training_set=ds, num_gpus=num_gpus, **dict(sched_args, lod_initial_resolution=2 ** res_log2))
        per_replica = s.minibatch // num_gpus
        try:
            micro, rounds = micro_batching(per_replica, batch_gpu)
        except ValueError as e:
            raise ValueError("%s at %dx%d (minibatch %d on %d replica(s))" % (e, s.resolution, s.resolution,
                                                                           s.minibatch, num_gpus)) from None
        if mbstd_group_size and batch_gpu is not None and rounds > 1 and micro % min(mbstd_group_size, micro):
            raise ValueError("batch_gpu %d is not a multiple of D's mbstd_group_size %d" % (micro, mbstd_group_size))
        if mbstd_group_size and batch_gpu is not None and micro < mbstd_group_size <= per_replica:
            raise ValueError("batch_gpu %d is smaller than the mbstd_group_size %d you chose (groups are formed "
                             "inside a micro-batch)" % (micro, mbstd_group_size))
        rows.append((s.resolution, s.minibatch, per_replica, micro, rounds))
    return rows

# ----------------------------------------------------------------------------
# Training steps.


class Trainer:
    """Builds and runs the D and G steps of one training phase (retraced when the phase, the loss's
    phases or the number of micro-batch rounds change). `config`: a TrainingConfig (losses, augment
    slot, mirror augment, drange_net, XLA, native lod resolution)."""

    def __init__(self, strategy, G, D, Gs, G_opt, D_opt, config, training_set, skip_disconnected=True):
        self.strategy = strategy
        self.G, self.D, self.Gs = G, D, Gs
        self.G_opt, self.D_opt = G_opt, D_opt
        self.config = config
        self.loss = StyleGANLoss(config.G_loss_args, config.D_loss_args)
        self.augment = build_augment(config.augment_args)
        self.labels = _LabelSource(training_set)
        self.drange_data = training_set.dynamic_range
        self.skip_disconnected = skip_disconnected
        frozen_G = frozen_G_vars(G, config.freezeg, config.freeze_mapping)
        self.G_vars = [var for name, var in G.trainables.items() if name not in frozen_G]
        self.D_vars = [var for name, var in D.trainables.items() if name not in frozen_D_vars(D, config.freezed)]
        self.Gs_update = Gs.setup_as_moving_average_of(G)
        self.dlatent_avg = G.vars.get("dlatent_avg")  # G_style's tracked mean of w (None for G_paper)
        self._steps = {}

    def _replica_grads(self, loss_fn, opt, variables, rounds=1):
        """Per-replica mean loss, and the gradients of (loss scaling x mean / replicas / rounds), so the
        gradients summed over replicas and rounds are the global mean's; None for variables the phase's
        graph does not reach."""
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.cast(loss_fn(), tf.float32))
            scaled = opt.apply_loss_scaling(loss) / (self.strategy.num_replicas_in_sync * rounds)
        return loss, tape.gradient(scaled, variables)

    def _accumulate(self, round_fn, seed, rounds, batched, opt, variables, loss_name):
        """Run `round_fn(*batched_slices)` -> per-sample loss once per micro-batch round and sum the
        gradients. `batched`: this replica's per-image tensors (reals, labels), sliced per round.
        Each round starts after the previous one's gradients exist (control dependency), so only one
        round's activations are alive at a time; its random draws are the unsplit batch's rows."""
        grads_sum = None
        avg = self.dlatent_avg if rounds > 1 else None
        if avg is not None:  # G's forward pass moves it once per call: see the end of the loop
            avg_start, avg_rounds = tf.identity(avg.value), []
        with autosummary_lib.collector() as stats:
            for r in range(rounds):
                deps = [g for g in grads_sum if g is not None] if grads_sum is not None else []
                if avg is not None:
                    avg.assign(avg_start)
                with tf.control_dependencies(deps), rng.seed_scope(seed):
                    with rng.micro_batch(r, rounds) if rounds > 1 else contextlib.nullcontext():
                        parts = [_round_slice(x, r, rounds) for x in batched]
                        loss, grads = self._replica_grads(lambda: round_fn(*parts), opt, variables, rounds)
                autosummary_lib.autosummary(loss_name, loss)
                if rounds > 1:  # dense, so that rounds add up (and can be waited for)
                    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
                grads_sum = grads if grads_sum is None else [
                    None if a is None else a + b for a, b in zip(grads_sum, grads)]
                if avg is not None:
                    avg_rounds.append(tf.identity(avg.value))
        if avg is not None:
            # Each round moved dlatent_avg from the same start towards its micro-batch's mean of w; the
            # lerp is linear, so the mean of those ends is the one move towards the whole batch's mean.
            avg.assign(tf.add_n(avg_rounds) / float(rounds))
        return grads_sum, dict(stats)

    def _apply(self, opt, per_replica_grads):
        """Sum over replicas and update (skipped when a gradient is not finite; the loop then stops
        at the end of the tick)."""
        return opt.apply_updates(per_replica_grads, self.strategy, skip_disconnected=self.skip_disconnected)

    def _reduce(self, per_replica):
        return tf.nest.map_structure(
            lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None), per_replica)

    def steps(self, lod, D_phases=("Dboth",), rounds=1):
        """The (D_step, G_step) functions for `lod`: one pair per phase, and per phase one for an
        integer lod (the stable half, cheaper) and one for a fractional lod (the transition); D_phases
        from the loss (`loss.phases('D', index)`), `rounds` micro-batches per replica."""
        phase_lod = int(np.floor(lod))
        key = (phase_lod, float(lod) == phase_lod, tuple(D_phases), int(rounds))
        if key not in self._steps:
            self._steps[key] = self._build_steps(*key)
        return self._steps[key]

    def _build_steps(self, phase_lod, stable, D_phases, rounds):
        config = self.config
        G = PhaseView(self.G, phase_lod, config.native_lod_resolution, stable)
        D = PhaseView(self.D, phase_lod, config.native_lod_resolution, stable, augment=self.augment)
        (D_phase,) = D_phases

        def D_replica(reals, labels, lod, seed, minibatch):
            def round_fn(reals, labels):
                reals = process_reals(reals, lod, config.mirror_augment, self.drange_data, config.drange_net,
                                      upscale=not config.native_lod_resolution, crossfade=not stable)
                return self.loss.phase_loss(D_phase, G, D, self.D_opt, self.labels, minibatch // rounds,
                                            reals=reals, labels=tf.cast(labels, tf.float32))
            return self._accumulate(round_fn, seed, rounds, [reals, labels], self.D_opt, self.D_vars, "Loss/D")

        def G_replica(lod, seed, minibatch):
            def round_fn():
                return self.loss.phase_loss("Gmain", G, D, self.G_opt, self.labels, minibatch // rounds)
            return self._accumulate(round_fn, seed, rounds, [], self.G_opt, self.G_vars, "Loss/G")

        D_replica_fn = tf.function(D_replica, jit_compile=True) if config.xla else D_replica
        G_replica_fn = tf.function(G_replica, jit_compile=True) if config.xla else G_replica

        @tf.function
        def D_step(reals, labels, lod, seed, minibatch_per_replica, Gs_beta):
            self.G.find_var("lod").assign(lod)
            self.D.find_var("lod").assign(lod)
            grads, stats = self.strategy.run(D_replica_fn, args=(reals, labels, lod, seed, minibatch_per_replica))
            ok, opt_stats = self._apply(self.D_opt, grads)
            self.Gs_update(beta=Gs_beta)
            return ok, dict(self._reduce(stats), **opt_stats)

        @tf.function
        def G_step(lod, seed, minibatch_per_replica):
            self.G.find_var("lod").assign(lod)
            self.D.find_var("lod").assign(lod)
            grads, stats = self.strategy.run(G_replica_fn, args=(lod, seed, minibatch_per_replica))
            ok, opt_stats = self._apply(self.G_opt, grads)
            return ok, dict(self._reduce(stats), **opt_stats)

        return D_step, G_step


def _round_slice(x, index, rounds):
    """Micro-batch `index` of `rounds` of a per-replica batch tensor."""
    if rounds == 1:
        return x
    n = tf.shape(x)[0] // rounds
    return x[index * n:(index + 1) * n]

# ----------------------------------------------------------------------------
# The loop.


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/Inf; the run stops and keeps its last good snapshot."""


def peak_memory_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20

# ----------------------------------------------------------------------------
# The loop.


class _Position:
    """Where training is (what a training-state file saves beside each snapshot): images shown,
    ticks, step counter (the random stream's position), D minibatches (the loss's phase intervals),
    data pipeline position, last lod."""

    KEYS = ("cur_nimg", "cur_tick", "step_index", "D_steps", "data_key", "data_consumed", "prev_lod")

    def __init__(self, cur_nimg=0, cur_tick=0, step_index=0, D_steps=0, data_key=None, data_consumed=0,
                 prev_lod=-1.0):
        self.cur_nimg, self.cur_tick, self.step_index, self.D_steps = cur_nimg, cur_tick, step_index, D_steps
        self.data_key, self.data_consumed, self.prev_lod = data_key, data_consumed, prev_lod

    @classmethod
    def from_state(cls, state):
        state = dict(state)
        state.setdefault("D_steps", state["step_index"] // 2)  # state files before D_steps: D_repeats 1
        pos = cls(**{k: state[k] for k in cls.KEYS})
        pos.data_key = tuple(pos.data_key) if pos.data_key else None
        return pos

    def state(self):
        return {k: getattr(self, k) for k in self.KEYS}


def _load_or_construct_networks(resume_pkl, training_set, G_args, D_args):
    """(G, D, Gs, training state or None, its path): from a snapshot or freshly built."""
    if resume_pkl is not None:
        print('Loading networks from "%s"...' % resume_pkl)
        G, D, Gs = legacy.load_pkl(resume_pkl)
        G, D, Gs, adapted = fit_networks_to_dataset(G, D, Gs, training_set, resume_pkl)
        state_path = rundir.state_path_for(resume_pkl)
        if adapted:
            print("Networks adapted to the dataset's labels: optimizer state and data position start fresh.")
            return G, D, Gs, None, state_path
        if os.path.isfile(state_path):
            return G, D, Gs, legacy.load_pkl(state_path), state_path
        print("No training state beside the snapshot (%s): optimizer state and data position start fresh."
              % os.path.basename(state_path))
        return G, D, Gs, None, state_path
    print("Constructing networks...")
    shape = training_set.shape
    G = tflib.Network("G", num_channels=shape[0], resolution=shape[1], label_size=training_set.label_size, **G_args)
    D = tflib.Network("D", num_channels=shape[0], resolution=shape[1], label_size=training_set.label_size, **D_args)
    return G, D, G.clone("Gs"), None, None


class _DataFeed:
    """The distributed minibatch iterator of the current (level of detail, minibatch) pair; rebuilt when
    the schedule changes it, and positioned after the batches already consumed when resuming."""

    def __init__(self, strategy, training_set, pos):
        self.strategy, self.training_set, self.pos = strategy, training_set, pos
        self.iterator = None

    def configure(self, sched):
        key = (int(np.floor(sched.lod)), sched.minibatch)
        if self.iterator is None or key != self.pos.data_key:
            if key != self.pos.data_key:
                self.pos.data_consumed = 0
            self.iterator = self._make_iterator(sched.lod, sched.minibatch, self.pos.data_consumed)
            self.pos.data_key = key

    def _make_iterator(self, lod, minibatch, skip):
        lod_level = int(np.floor(lod))

        def dataset_fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(minibatch)
            dset = self.training_set.get_dataset(lod_level, per_replica, repeat=True, drop_remainder=True,
                                                 num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id)
            return dset.skip(skip) if skip else dset
        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def next(self):
        self.pos.data_consumed += 1
        return next(self.iterator)


def training_loop(run_dir, config=None, on_snapshot=None, strategy=None, **kwargs):
    """Train G and D as the official training_loop does; outputs go to `run_dir` (created by the caller).
    `config`: a TrainingConfig; keyword arguments (the official training_loop() names) build one or
    replace its fields. `on_snapshot(network_pkl)` runs after each network snapshot (the official loop's
    metrics) and may return {name: value} to add to TensorBoard. Returns the last snapshot written."""
    config = dataclasses.replace(config, **kwargs) if config is not None else TrainingConfig(**kwargs)
    strategy = strategy or tf.distribute.get_strategy()
    tflib.init_tf(config.tf_config)
    keras.utils.set_random_seed(int(config.tf_config.get("rnd.np_random_seed") or config.seed))
    training_set = dataset_lib.load_dataset(data_dir=config.data_dir, verbose=True, **config.dataset_args)
    num_gpus = strategy.num_replicas_in_sync
    batch_rows = check_batch_gpu(config.batch_gpu, num_gpus, config.sched_args, training_set.resolution_log2,
                                 config.D_args.get("mbstd_group_size"))
    with strategy.scope():
        G, D, Gs, resume_state, state_path = _load_or_construct_networks(config.resume_pkl, training_set,
                                                                         config.G_args, config.D_args)
        frozen_G = frozen_G_vars(G, config.freezeg, config.freeze_mapping)
        G_opt = tflib.Optimizer(name="TrainG", **config.G_opt_args).build(
            [var for name, var in G.trainables.items() if name not in frozen_G])
        frozen = frozen_D_vars(D, config.freezed)
        D_opt = tflib.Optimizer(name="TrainD", **config.D_opt_args).build(
            [var for name, var in D.trainables.items() if name not in frozen])
    for what, net, names in (("Freeze-D", D, frozen), ("Freeze-G", G, frozen_G)):
        if names:
            groups = sorted({"/".join(n.split("/")[:-2 if n.startswith("G_synthesis/") else 1]) for n in names})
            print("%s: %d of %s's %d trainable variables stay fixed (%s)" % (
                what, len(names), net.name, len(net.trainables), ", ".join(groups)))
    G.print_layers()
    D.print_layers()
    print_minibatch_summary(batch_rows, config.batch_gpu)
    trainer = Trainer(strategy, G, D, Gs, G_opt, D_opt, config, training_set,
                      skip_disconnected=config.reset_opt_for_new_lod or (G_opt.beta1 == 0.0 and D_opt.beta1 == 0.0))
    run = _TrainingRun(run_dir, strategy, training_set, trainer, config, on_snapshot)
    run.start(resume_state, state_path)

    print("Training...\n")
    try:
        with dnnlib.util.StopRequest() as stop:
            while run.pos.cur_nimg < config.total_kimg * 1000:
                # Choose training parameters and configure training ops.
                sched = training_schedule(cur_nimg=run.pos.cur_nimg, training_set=training_set,
                                          num_gpus=run.num_gpus, **config.sched_args)
                run.configure(sched)
                # Run training ops.
                for _mb_repeat in range(config.minibatch_repeats):
                    for _D_repeat in range(config.D_repeats):
                        run.D_step(sched)
                    run.G_step(sched)
                run.update_augment(sched.minibatch * config.minibatch_repeats)
                # Perform maintenance tasks once per tick.
                done = run.pos.cur_nimg >= config.total_kimg * 1000
                if run.pos.cur_nimg >= run.tick_start_nimg + sched.tick_kimg * 1000 or done or stop.signum is not None:
                    if run.maintenance(sched, done, stop):
                        print("Stopped at tick %d (kimg %.1f)." % (run.pos.cur_tick, run.pos.cur_nimg / 1000.0),
                              flush=True)  # (train.py prints the command that continues the run)
                        return run.last_snapshot
        final = run.save_snapshot(rundir.FINAL_NAME)
        if run.is_chief:
            print("Latest image grid: %s" % run.last_fakes)
        return final
    finally:
        run.summary_writer.close()


def print_minibatch_summary(rows, batch_gpu):
    """The start-up line(s) on minibatches: per resolution, the minibatch, each replica's share and, with
    --batch_gpu, the micro-batch and the number of accumulation rounds."""
    if batch_gpu is None:
        print("Minibatch per replica: %s" % ", ".join("%d at %dx%d" % (per, res, res) for res, _, per, _, _ in rows))
        return
    print("Micro-batches (--batch_gpu %d): %s" % (batch_gpu, ", ".join(
        "%dx%d: %d per replica = %d x %d" % (res, res, per, rounds, micro) for res, _, per, micro, rounds in rows)))


class _TrainingRun:
    """The state and the per-step and per-tick work of one training_loop() call."""

    def __init__(self, run_dir, strategy, training_set, trainer, config, on_snapshot):
        self.run_dir, self.strategy, self.training_set, self.trainer = run_dir, strategy, training_set, trainer
        self.config, self.on_snapshot = config, on_snapshot
        self.num_gpus = strategy.num_replicas_in_sync
        self.is_chief = tflib.is_chief(strategy)
        self.summary_writer = tf.summary.create_file_writer(run_dir) if self.is_chief else \
            tf.summary.create_noop_writer()
        self.stats = autosummary_lib.Accumulator()
        self.augment_pipe = trainer.augment.pipe if trainer.augment is not None else None
        self.augment_stats = autosummary_lib.Accumulator()

    def start(self, resume_state, state_path):
        """Position (fresh, from --resume_kimg / the snapshot name, or a training-state file) and the grid."""
        config = self.config
        G_opt, D_opt = self.trainer.G_opt, self.trainer.D_opt
        seed, resume_pkl = config.seed, config.resume_pkl
        kimg = config.resume_kimg if config.resume_kimg is not None else (
            rundir.kimg_from_snapshot_name(resume_pkl) if resume_pkl else 0.0)
        self.pos = _Position(cur_nimg=int(round(kimg * 1000)))
        self.resume_time = config.resume_time
        if resume_state is not None:
            self.pos = _Position.from_state(resume_state)
            self.resume_time = resume_state["total_time"]
            try:
                G_opt.set_state(resume_state["G_opt"])
                D_opt.set_state(resume_state["D_opt"])
            except ValueError as e:  # e.g. a state file written by an older version of this code
                G_opt.reset_optimizer_state()
                D_opt.reset_optimizer_state()
                print("Optimizer state in %s does not fit (%s): it starts fresh." % (state_path, e))
            np.random.set_state(resume_state["np_random_state"])
            seed = resume_state["seed"]
            if resume_state.get("augment") is not None and hasattr(self.augment_pipe, "set_state"):
                self.augment_pipe.set_state(resume_state["augment"])
        self.seed = seed
        self.total_nimg = config.total_kimg * 1000
        self.base_seed = np.int64(seed)
        self.feed = _DataFeed(self.strategy, self.training_set, self.pos)
        self.last_snapshot = resume_pkl
        self.ticks_done = 0

        print("Setting up snapshot image grid...")
        Gs = self.trainer.Gs
        self.grid_size, grid_reals, self.grid_labels, self.grid_latents = setup_snapshot_image_grid(
            self.trainer.G, self.training_set, seed=seed, **config.grid_args)
        sched = training_schedule(cur_nimg=self.total_nimg, training_set=self.training_set, num_gpus=self.num_gpus,
                                  **config.sched_args)
        self.grid_mb = max(micro_batching(sched.minibatch // self.num_gpus, config.batch_gpu)[0], 1)
        if self.is_chief:
            images.save_image_grid(grid_reals, os.path.join(self.run_dir, rundir.REALS_NAME),
                                   drange=self.training_set.dynamic_range, grid_size=self.grid_size)
            self.save_fakes(Gs)
        self.start_time = time.time()
        self.tick_start_time = self.start_time
        self.tick_start_nimg = self.pos.cur_nimg
        self.maintenance_time = 0.0

    def save_fakes(self, Gs):
        fakes = Gs.run(self.grid_latents, self.grid_labels, is_validation=True, minibatch_size=self.grid_mb)
        self.last_fakes = os.path.join(self.run_dir, rundir.fakes_name(self.pos.cur_nimg // 1000))
        images.save_image_grid(fakes, self.last_fakes, drange=self.config.drange_net, grid_size=self.grid_size)

    def configure(self, sched):
        """Data pipeline, optimizer reset at a new lod, learning rates and the step's constants."""
        G_opt, D_opt = self.trainer.G_opt, self.trainer.D_opt
        self.feed.configure(sched)
        prev_lod = self.pos.prev_lod
        if self.config.reset_opt_for_new_lod and (np.floor(sched.lod) != np.floor(prev_lod) or
                                      np.ceil(sched.lod) != np.ceil(prev_lod)):
            G_opt.reset_optimizer_state()
            D_opt.reset_optimizer_state()
        self.pos.prev_lod = sched.lod
        G_opt.learning_rate = sched.G_lrate
        D_opt.learning_rate = sched.D_lrate
        self.lod = tf.constant(sched.lod, tf.float32)
        per_replica = sched.minibatch // self.num_gpus
        self.per_replica = tf.constant(per_replica, tf.int32)
        self.rounds = micro_batching(per_replica, self.config.batch_gpu)[1]
        smoothing = self.config.G_smoothing_kimg
        self.Gs_beta = tf.constant(0.5 ** (sched.minibatch / (smoothing * 1000.0)) if smoothing > 0.0 else 0.0,
                                   tf.float32)

    def _seed(self):
        return tf.constant([self.base_seed, self.pos.step_index], tf.int64)

    def D_step(self, sched):
        phases = self.trainer.loss.phases("D", self.pos.D_steps)
        step, _ = self.trainer.steps(sched.lod, phases, self.rounds)
        reals, labels = self.feed.next()
        _, step_stats = step(reals, labels, self.lod, self._seed(), self.per_replica, self.Gs_beta)
        self.stats.add(step_stats)
        if self.augment_pipe is not None:
            self.augment_stats.add({k: v for k, v in step_stats.items() if k == "Loss/signs/real"})
        self.pos.step_index += 1
        self.pos.D_steps += 1
        self.pos.cur_nimg += sched.minibatch

    def update_augment(self, nimg):
        """The augment slot's pipe, if it adapts (`update(stats, nimg)`), sees what D said of the reals since
        its last update (every minibatch_repeats minibatches, as stylegan2-ada tunes its p)."""
        if self.augment_pipe is not None and hasattr(self.augment_pipe, "update"):
            self.augment_pipe.update(self.augment_stats.sums(), nimg)

    def G_step(self, sched):
        _, step = self.trainer.steps(sched.lod, rounds=self.rounds)
        _, step_stats = step(self.lod, self._seed(), self.per_replica)
        self.stats.add(step_stats)
        self.pos.step_index += 1

    def maintenance(self, sched, done, stop):
        """End of a tick: report, image grid, network snapshot (+ on_snapshot), summaries. True: stop now."""
        pos = self.pos
        pos.cur_tick += 1
        self.ticks_done += 1
        tick_kimg = (pos.cur_nimg - self.tick_start_nimg) / 1000.0
        self.tick_start_nimg = pos.cur_nimg
        now = time.time()
        tick_time = now - self.tick_start_time
        total_time = now - self.start_time + self.resume_time
        means = self.stats.collect()
        bad = [name for name in ("Loss/D", "Loss/G") if name in means and not np.isfinite(means[name])]
        if bad:
            raise NonFiniteLossError("non-finite %s at tick %d (kimg %.1f): stopping; last good snapshot: %s"
                                     % (" and ".join(bad), pos.cur_tick, pos.cur_nimg / 1000.0,
                                        self.last_snapshot or "none"))
        mem = peak_memory_gb()
        progress = dnnlib.EasyDict({
            "Progress/tick": pos.cur_tick, "Progress/kimg": pos.cur_nimg / 1000.0, "Progress/lod": sched.lod,
            "Progress/minibatch": sched.minibatch, "Timing/total_sec": total_time,
            "Timing/sec_per_tick": tick_time, "Timing/sec_per_kimg": tick_time / max(tick_kimg, 1e-8),
            "Timing/maintenance_sec": self.maintenance_time, "Resources/peak_host_mem_gb": mem,
            "Timing/total_hours": total_time / 3600.0, "Timing/total_days": total_time / 86400.0})
        augment = self.augment_pipe.progress() if hasattr(self.augment_pipe, "progress") else {}
        progress.update(augment)
        # ETA (not in the official line): the rest of the run at this tick's speed, maintenance included.
        eta = max(self.total_nimg - pos.cur_nimg, 0) / 1000.0 * (tick_time + self.maintenance_time) / max(tick_kimg, 1e-8)
        print("tick %-5d kimg %-8.1f lod %-5.2f minibatch %-4d time %-12s sec/tick %-7.1f sec/kimg %-7.2f "
              "maintenance %-6.1f cpumem %-4.1f eta %s%s" % (
                  pos.cur_tick, pos.cur_nimg / 1000.0, sched.lod, sched.minibatch, dnnlib.util.format_time(total_time),
                  tick_time, tick_time / max(tick_kimg, 1e-8), self.maintenance_time, mem,
                  dnnlib.util.format_time(eta), "".join(" %s %.3f" % (k.split("/")[-1], v) for k, v in augment.items())),
              flush=True)

        config = self.config
        if self.is_chief and (pos.cur_tick % config.image_snapshot_ticks == 0 or done):
            self.save_fakes(self.trainer.Gs)
        stopping = stop.signum is not None or (config.stop_after_ticks is not None and
                                               self.ticks_done >= config.stop_after_ticks)
        if pos.cur_tick % config.network_snapshot_ticks == 0 or done or pos.cur_tick == 1 or stopping:
            pkl = self.save_snapshot(rundir.snapshot_name(pos.cur_nimg // 1000))
            self.last_snapshot = pkl or self.last_snapshot
            if self.on_snapshot is not None and pkl is not None:
                means.update(self.on_snapshot(pkl) or {})
        autosummary_lib.write_scalars(self.summary_writer, list(progress.items()) + list(means.items()), pos.cur_nimg)
        self.maintenance_time = time.time() - now
        self.tick_start_time = time.time()
        return stopping

    def save_snapshot(self, pkl_name):
        """Training state first, then (G, D, Gs): a kill in between leaves the previous pair usable."""
        if not self.is_chief:
            return None
        trainer = self.trainer
        pkl = os.path.join(self.run_dir, pkl_name)
        legacy.save_pkl(dict(
            self.pos.state(), total_time=time.time() - self.start_time + self.resume_time,
            G_opt=trainer.G_opt.get_state(), D_opt=trainer.D_opt.get_state(), np_random_state=np.random.get_state(),
            seed=self.seed, augment=self.augment_pipe.get_state() if hasattr(self.augment_pipe, "get_state") else None),
            rundir.state_path_for(pkl))
        legacy.save_pkl((trainer.G, trainer.D, trainer.Gs), pkl)
        return pkl
