"""The official StyleGAN training loop on TF2: progressive growing schedule, G/D steps with
tf.distribute, Gs moving average, snapshots, TensorBoard summaries, resume and fault handling."""

import glob
import os
import re
import resource
import signal
import time

import numpy as np
import tensorflow as tf
import keras

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import autosummary as autosummary_lib
from stylegan_tf import rng
from training import dataset as dataset_lib
from stylegan_tf import images, legacy

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


class GridConfigError(ValueError):
    """A snapshot-grid size or layout that cannot be used (reported by train.py in one line)."""


GRID_CLASS_LAYOUTS = dict(row_per_class=(None, 1), col_per_class=(1, None), class4x4=(4, 4))


def setup_snapshot_image_grid(G, training_set, size="1080p", layout="random", seed=1000, max_draws=1000000):
    """Grid size, reals, labels and latents for the image snapshots: official sizes '1080p' / '4k'
    (or 'WxH') and layouts 'random', 'row_per_class', 'col_per_class', 'class4x4' (a block of the
    grid per class, blocks filled in class order, as many as fit, from up to `max_draws` images)."""
    gw, gh = 1, 1
    if re.match(r"^\d+x\d+$", str(size)):
        gw, gh = (int(v) for v in size.split("x"))
    elif size not in ("1080p", "4k"):
        raise GridConfigError("grid size %r: use '1080p', '4k' or 'WxH'" % (size,))
    if size == "1080p":
        gw = int(np.clip(1920 // G.output_shape[3], 3, 32))
        gh = int(np.clip(1080 // G.output_shape[2], 2, 32))
    if size == "4k":
        gw = int(np.clip(3840 // G.output_shape[3], 7, 32))
        gh = int(np.clip(2160 // G.output_shape[2], 4, 32))
    latents = np.random.RandomState(seed).randn(gw * gh, *G.input_shape[1:]).astype(np.float32)
    if layout == "random":
        reals, labels = training_set.get_minibatch_np(gw * gh)
        return (gw, gh), reals, labels, latents
    if layout not in GRID_CLASS_LAYOUTS:
        raise GridConfigError("grid layout %r: use 'random' or one of %s" % (layout, ", ".join(GRID_CLASS_LAYOUTS)))
    if not training_set.label_size:
        raise GridConfigError("grid layout %r needs a dataset with labels" % layout)
    bw, bh = GRID_CLASS_LAYOUTS[layout]
    bw, bh = bw or gw, bh or gh
    nw, nh = (gw - 1) // bw + 1, (gh - 1) // bh + 1
    blocks = [[] for _ in range(nw * nh)]  # block i: class i % label_size, its (i // label_size)-th block
    drawn, chunk = 0, int(np.clip((64 << 20) // max(int(np.prod(training_set.shape)), 1), 1, 256))  # <= 64 MB
    while drawn < max_draws and not all(len(block) >= bw * bh for block in blocks):
        images, labels = training_set.get_minibatch_np(chunk)
        drawn += chunk
        for image, label in zip(images, labels):
            idx = int(np.argmax(label))
            while idx < len(blocks) and len(blocks[idx]) >= bw * bh:
                idx += training_set.label_size
            if idx < len(blocks):
                blocks[idx].append((image, label))
    if not all(len(block) >= bw * bh for block in blocks):
        print("Snapshot grid: not enough images of every class after %d draws; some cells stay empty." % drawn)
    reals = np.zeros([gw * gh] + list(training_set.shape), dtype=images.dtype)
    grid_labels = np.zeros([gw * gh, training_set.label_size], dtype=labels.dtype)
    for i, block in enumerate(blocks):
        for j, (image, label) in enumerate(block[:bw * bh]):
            x = (i % nw) * bw + j % bw
            y = (i // nw) * bh + j // bw
            if x < gw and y < gh:
                reals[x + y * gw] = image
                grid_labels[x + y * gw] = label
    return (gw, gh), reals, grid_labels, latents

# ----------------------------------------------------------------------------
# Networks as seen by one training phase.


class PhaseView:
    """A network evaluated with the 'phase' structure for lod in [phase_lod, phase_lod + 1]
    (`stable`: lod == phase_lod exactly, no cross-fade with the level below).

    G's output and D's input stay at the phase's resolution (exactly what the official code
    computes after upsampling and box-downsampling back); `input_area_scale` tells the losses
    how to express input-gradient norms at full resolution (each pixel stands for 4**phase_lod).
    """

    def __init__(self, net, phase_lod, native=True, stable=False):
        self.net = net
        self.phase_lod = int(phase_lod)
        self.native = native
        self.stable = bool(stable)
        self.input_shapes = net.input_shapes
        self.input_area_scale = float(4 ** self.phase_lod) if native else 1.0

    def get_output_for(self, *inputs, **kwargs):
        return self.net.get_output_for(*inputs, structure="phase", phase_lod=self.phase_lod,
                                       phase_native=self.native, phase_stable=self.stable, **kwargs)


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
# Training steps.


class Trainer:
    """Builds and runs the D and G steps of one training phase (retraced when the phase changes)."""

    def __init__(self, strategy, G, D, Gs, G_opt, D_opt, G_loss_args, D_loss_args, training_set, mirror_augment,
                 drange_net, G_smoothing_kimg, native=True, xla=False, skip_disconnected=True):
        self.strategy = strategy
        self.G, self.D, self.Gs = G, D, Gs
        self.G_opt, self.D_opt = G_opt, D_opt
        self.G_loss_args = dict(G_loss_args)
        self.D_loss_args = dict(D_loss_args)
        self.G_loss = dnnlib.util.get_obj_by_name(self.G_loss_args.pop("func_name"))
        self.D_loss = dnnlib.util.get_obj_by_name(self.D_loss_args.pop("func_name"))
        self.labels = _LabelSource(training_set)
        self.drange_data = training_set.dynamic_range
        self.mirror_augment = mirror_augment
        self.drange_net = drange_net
        self.G_smoothing_kimg = G_smoothing_kimg
        self.native = native
        self.xla = xla
        self.skip_disconnected = skip_disconnected
        self.G_vars = list(G.trainables.values())
        self.D_vars = list(D.trainables.values())
        self.Gs_update = Gs.setup_as_moving_average_of(G)
        self._steps = {}

    def _replica_grads(self, loss_fn, opt, variables):
        """Per-replica mean loss, and the gradients of (loss scaling x mean / replicas), so the summed
        gradients are the global mean's; None for variables the phase's graph does not reach."""
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.cast(loss_fn(), tf.float32))
            scaled = opt.apply_loss_scaling(loss) / self.strategy.num_replicas_in_sync
        return loss, tape.gradient(scaled, variables)

    def _apply(self, opt, per_replica_grads):
        """Sum over replicas and update (skipped when a gradient is not finite; the loop then stops
        at the end of the tick)."""
        return opt.apply_updates(per_replica_grads, self.strategy, skip_disconnected=self.skip_disconnected)

    def _reduce(self, per_replica):
        return tf.nest.map_structure(
            lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None), per_replica)

    def steps(self, lod, penalty_step=True):
        """The (D_step, G_step) functions for `lod`: one pair per phase, and per phase one for an
        integer lod (the stable half, cheaper) and one for a fractional lod (the transition)."""
        phase_lod = int(np.floor(lod))
        key = (phase_lod, float(lod) == phase_lod, bool(penalty_step))
        if key not in self._steps:
            self._steps[key] = self._build_steps(*key)
        return self._steps[key]

    def _build_steps(self, phase_lod, stable, penalty_step):
        G = PhaseView(self.G, phase_lod, self.native, stable)
        D = PhaseView(self.D, phase_lod, self.native, stable)
        D_loss_args = dict(self.D_loss_args)
        if D_loss_args.get("r1_interval", 1) > 1:
            D_loss_args["penalty_step"] = penalty_step
        jit = self.xla

        def D_replica(reals, labels, lod, seed, minibatch):
            with rng.seed_scope(seed), autosummary_lib.collector() as stats:
                reals = process_reals(reals, lod, self.mirror_augment, self.drange_data, self.drange_net,
                                      upscale=not self.native, crossfade=not stable)
                loss, grads = self._replica_grads(lambda: self.D_loss(
                    G=G, D=D, opt=self.D_opt, training_set=self.labels, minibatch_size=minibatch, reals=reals,
                    labels=tf.cast(labels, tf.float32), **D_loss_args), self.D_opt, self.D_vars)
                autosummary_lib.autosummary("Loss/D", loss)
            return grads, dict(stats)

        def G_replica(lod, seed, minibatch):
            with rng.seed_scope(seed), autosummary_lib.collector() as stats:
                loss, grads = self._replica_grads(lambda: self.G_loss(
                    G=G, D=D, opt=self.G_opt, training_set=self.labels, minibatch_size=minibatch,
                    **self.G_loss_args), self.G_opt, self.G_vars)
                autosummary_lib.autosummary("Loss/G", loss)
            return grads, dict(stats)

        D_replica_fn = tf.function(D_replica, jit_compile=True) if jit else D_replica
        G_replica_fn = tf.function(G_replica, jit_compile=True) if jit else G_replica

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

# ----------------------------------------------------------------------------
# Run directories and snapshots.


def create_run_dir(result_dir, desc):
    """A new `<result_dir>/<NNNNN>-<desc>` with the next free run id (the official naming)."""
    os.makedirs(result_dir, exist_ok=True)
    while True:
        ids = [int(m.group(1)) for m in (re.match(r"^(\d+)-", d) for d in os.listdir(result_dir)) if m]
        run_dir = os.path.join(result_dir, "%05d-%s" % (max(ids, default=-1) + 1, desc))
        try:
            os.makedirs(run_dir)
            return run_dir
        except FileExistsError:
            continue


def locate_latest_snapshot(path):
    """The newest `network-snapshot-*.pkl` (or `network-final.pkl`) of a run dir, or `path` if it is a file."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError("--resume: no such snapshot or run directory: %s" % path)
    pkls = sorted(glob.glob(os.path.join(path, "network-snapshot-*.pkl")))
    final = os.path.join(path, "network-final.pkl")
    if os.path.isfile(final):
        return final
    if not pkls:
        raise FileNotFoundError("--resume: run directory %s holds no network-snapshot-*.pkl" % path)
    return pkls[-1]


def state_path_for(pkl_path):
    """Training-state file saved beside a snapshot (optimizer, position, random stream)."""
    name = os.path.basename(pkl_path)
    m = re.match(r"network-snapshot-(\d+)\.pkl$", name)
    tag = m.group(1) if m else os.path.splitext(name)[0].replace("network-", "")
    return os.path.join(os.path.dirname(pkl_path), "training-state-%s.pkl" % tag)


def kimg_from_snapshot_name(pkl_path):
    m = re.match(r"network-snapshot-(\d+)\.pkl$", os.path.basename(pkl_path))
    return float(m.group(1)) if m else 0.0


# ----------------------------------------------------------------------------
# The loop.


class _StopRequest:
    """SIGINT / SIGTERM set a flag; the loop snapshots and exits at the next step boundary."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def _handler(self, signum, _frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print("\nReceived signal %d: finishing the current step, writing a snapshot and stopping..." % signum,
              flush=True)

    def __exit__(self, *_):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/Inf; the run stops and keeps its last good snapshot."""


_SCALAR_METADATA = None


def write_scalars(writer, items, step):
    """TensorBoard scalar summaries written with core TF ops (the tensorboard package is not needed)."""
    global _SCALAR_METADATA
    if _SCALAR_METADATA is None:
        from tensorflow.core.framework import summary_pb2
        _SCALAR_METADATA = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    with writer.as_default():
        for name, value in items:
            tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_SCALAR_METADATA)
    writer.flush()


def peak_memory_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def training_loop(
        run_dir,
        G_args={},
        D_args={},
        G_opt_args={},
        D_opt_args={},
        G_loss_args={},
        D_loss_args={},
        dataset_args={},
        sched_args={},
        grid_args={},
        metric_arg_list=[],
        metric_kwargs={},
        tf_config={},
        G_smoothing_kimg=10.0,
        D_repeats=1,
        minibatch_repeats=4,
        reset_opt_for_new_lod=True,
        total_kimg=15000,
        mirror_augment=False,
        drange_net=[-1, 1],
        image_snapshot_ticks=1,
        network_snapshot_ticks=10,
        resume_pkl=None,
        resume_kimg=None,
        resume_time=0.0,
        data_dir=None,
        strategy=None,
        xla=False,
        native_lod_resolution=True,
        seed=1000,
        stop_after_ticks=None):
    """Train G and D as the official training_loop does; outputs go to `run_dir` (created by the caller)."""
    strategy = strategy or tf.distribute.get_strategy()
    num_gpus = strategy.num_replicas_in_sync
    is_chief = _is_chief(strategy)
    tflib.init_tf(tf_config)
    keras.utils.set_random_seed(int(tf_config.get("rnd.np_random_seed") or seed))

    training_set = dataset_lib.load_dataset(data_dir=data_dir, verbose=True, **dataset_args)

    with strategy.scope():
        resume_state = None
        if resume_pkl is not None:
            print('Loading networks from "%s"...' % resume_pkl)
            G, D, Gs = legacy.load_pkl(resume_pkl)
            state_path = state_path_for(resume_pkl)
            if os.path.isfile(state_path):
                resume_state = legacy.load_pkl(state_path)
            else:
                print("No training state beside the snapshot (%s): optimizer state and data position start fresh."
                      % os.path.basename(state_path))
        else:
            print("Constructing networks...")
            shape = training_set.shape
            G = tflib.Network("G", num_channels=shape[0], resolution=shape[1], label_size=training_set.label_size,
                              **G_args)
            D = tflib.Network("D", num_channels=shape[0], resolution=shape[1], label_size=training_set.label_size,
                              **D_args)
            Gs = G.clone("Gs")
        G_opt = tflib.Optimizer(name="TrainG", **G_opt_args).build(G.trainables)
        D_opt = tflib.Optimizer(name="TrainD", **D_opt_args).build(D.trainables)
    G.print_layers()
    D.print_layers()

    trainer = Trainer(strategy, G, D, Gs, G_opt, D_opt, G_loss_args, D_loss_args, training_set, mirror_augment,
                      drange_net, G_smoothing_kimg, native=native_lod_resolution, xla=xla,
                      skip_disconnected=reset_opt_for_new_lod or (G_opt.beta1 == 0.0 and D_opt.beta1 == 0.0))

    cur_nimg = int(round((resume_kimg if resume_kimg is not None else
                          (kimg_from_snapshot_name(resume_pkl) if resume_pkl else 0.0)) * 1000))
    cur_tick = 0
    step_index = 0
    data_consumed = 0
    data_key = None
    prev_lod = -1.0
    if resume_state is not None:
        cur_nimg = resume_state["cur_nimg"]
        cur_tick = resume_state["cur_tick"]
        step_index = resume_state["step_index"]
        data_key = tuple(resume_state["data_key"]) if resume_state["data_key"] else None
        data_consumed = resume_state["data_consumed"]
        prev_lod = resume_state["prev_lod"]
        resume_time = resume_state["total_time"]
        try:
            G_opt.set_state(resume_state["G_opt"])
            D_opt.set_state(resume_state["D_opt"])
        except ValueError as e:  # e.g. a state file written by an older version of this code
            G_opt.reset_optimizer_state()
            D_opt.reset_optimizer_state()
            print("Optimizer state in %s does not fit (%s): it starts fresh." % (state_path, e))
        np.random.set_state(resume_state["np_random_state"])
        seed = resume_state["seed"]

    print("Setting up snapshot image grid...")
    grid_size, grid_reals, grid_labels, grid_latents = setup_snapshot_image_grid(G, training_set, seed=seed,
                                                                                 **grid_args)
    sched = training_schedule(cur_nimg=total_kimg * 1000, training_set=training_set, num_gpus=num_gpus, **sched_args)
    grid_mb = max(sched.minibatch // num_gpus, 1)
    if is_chief:
        images.save_image_grid(grid_reals, os.path.join(run_dir, "reals.png"), drange=training_set.dynamic_range,
                             grid_size=grid_size)
        grid_fakes = Gs.run(grid_latents, grid_labels, is_validation=True, minibatch_size=grid_mb)
        images.save_image_grid(grid_fakes, os.path.join(run_dir, "fakes%06d.png" % (cur_nimg // 1000)), drange=drange_net,
                             grid_size=grid_size)
    summary_writer = tf.summary.create_file_writer(run_dir) if is_chief else tf.summary.create_noop_writer()
    metrics = None
    if metric_arg_list:
        from metrics import metric_base
        metrics = metric_base.MetricGroup(metric_arg_list, **metric_kwargs)

    def make_iterator(lod, minibatch, skip):
        lod_level = int(np.floor(lod))

        def dataset_fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(minibatch)
            dset = training_set.get_dataset(lod_level, per_replica, repeat=True, drop_remainder=True,
                                            num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id)
            return dset.skip(skip) if skip else dset
        return iter(strategy.distribute_datasets_from_function(dataset_fn))

    def save_snapshot(pkl_name):
        """Training state first, then (G, D, Gs): a kill in between leaves the previous pair usable."""
        if not is_chief:
            return None
        pkl = os.path.join(run_dir, pkl_name)
        legacy.save_pkl(dict(
            cur_nimg=cur_nimg, cur_tick=cur_tick, step_index=step_index, data_key=data_key,
            data_consumed=data_consumed, prev_lod=prev_lod, total_time=time.time() - start_time + resume_time,
            G_opt=G_opt.get_state(), D_opt=D_opt.get_state(), np_random_state=np.random.get_state(),
            seed=seed), state_path_for(pkl))
        legacy.save_pkl((G, D, Gs), pkl)
        return pkl

    print("Training...\n")
    stats = autosummary_lib.Accumulator()
    start_time = time.time()
    tick_start_time = start_time
    tick_start_nimg = cur_nimg
    maintenance_time = 0.0
    iterator = None
    last_snapshot = resume_pkl
    ticks_done = 0
    base_seed = np.int64(seed)
    with _StopRequest() as stop:
        while cur_nimg < total_kimg * 1000:
            sched = training_schedule(cur_nimg=cur_nimg, training_set=training_set, num_gpus=num_gpus, **sched_args)
            key = (int(np.floor(sched.lod)), sched.minibatch)
            if iterator is None or key != data_key:
                if key != data_key:
                    data_consumed = 0
                iterator = make_iterator(sched.lod, sched.minibatch, data_consumed)
                data_key = key
            if reset_opt_for_new_lod and (np.floor(sched.lod) != np.floor(prev_lod) or
                                          np.ceil(sched.lod) != np.ceil(prev_lod)):
                G_opt.reset_optimizer_state()
                D_opt.reset_optimizer_state()
            prev_lod = sched.lod
            G_opt.learning_rate = sched.G_lrate
            D_opt.learning_rate = sched.D_lrate
            lod = tf.constant(sched.lod, tf.float32)
            per_replica = tf.constant(sched.minibatch // num_gpus, tf.int32)
            Gs_beta = tf.constant(0.5 ** (sched.minibatch / (G_smoothing_kimg * 1000.0))
                                  if G_smoothing_kimg > 0.0 else 0.0, tf.float32)
            r1_interval = int(D_loss_args.get("r1_interval", 1))

            for _ in range(minibatch_repeats):
                for _ in range(D_repeats):
                    D_step, _ = trainer.steps(sched.lod, penalty_step=(step_index % r1_interval == 0))
                    reals, labels = next(iterator)
                    data_consumed += 1
                    seed_t = tf.constant([base_seed, step_index], tf.int64)
                    _, step_stats = D_step(reals, labels, lod, seed_t, per_replica, Gs_beta)
                    stats.add(step_stats)
                    step_index += 1
                    cur_nimg += sched.minibatch
                _, G_step = trainer.steps(sched.lod)
                seed_t = tf.constant([base_seed, step_index], tf.int64)
                _, step_stats = G_step(lod, seed_t, per_replica)
                stats.add(step_stats)
                step_index += 1

            done = cur_nimg >= total_kimg * 1000
            if cur_nimg >= tick_start_nimg + sched.tick_kimg * 1000 or done or stop.signum is not None:
                cur_tick += 1
                ticks_done += 1
                tick_kimg = (cur_nimg - tick_start_nimg) / 1000.0
                tick_start_nimg = cur_nimg
                now = time.time()
                tick_time = now - tick_start_time
                total_time = now - start_time + resume_time
                means = stats.collect()
                bad = [name for name in ("Loss/D", "Loss/G") if name in means and not np.isfinite(means[name])]
                if bad:
                    raise NonFiniteLossError(
                        "non-finite %s at tick %d (kimg %.1f): stopping; last good snapshot: %s"
                        % (" and ".join(bad), cur_tick, cur_nimg / 1000.0, last_snapshot or "none"))
                mem = peak_memory_gb()
                progress = dnnlib.EasyDict({
                    "Progress/tick": cur_tick, "Progress/kimg": cur_nimg / 1000.0, "Progress/lod": sched.lod,
                    "Progress/minibatch": sched.minibatch, "Timing/total_sec": total_time,
                    "Timing/sec_per_tick": tick_time, "Timing/sec_per_kimg": tick_time / max(tick_kimg, 1e-8),
                    "Timing/maintenance_sec": maintenance_time, "Resources/peak_host_mem_gb": mem,
                    "Timing/total_hours": total_time / 3600.0, "Timing/total_days": total_time / 86400.0})
                print("tick %-5d kimg %-8.1f lod %-5.2f minibatch %-4d time %-12s sec/tick %-7.1f sec/kimg %-7.2f "
                      "maintenance %-6.1f cpumem %-4.1f" % (
                          cur_tick, cur_nimg / 1000.0, sched.lod, sched.minibatch, dnnlib.util.format_time(total_time),
                          tick_time, tick_time / max(tick_kimg, 1e-8), maintenance_time, mem), flush=True)

                if is_chief and (cur_tick % image_snapshot_ticks == 0 or done):
                    grid_fakes = Gs.run(grid_latents, grid_labels, is_validation=True, minibatch_size=grid_mb)
                    images.save_image_grid(grid_fakes, os.path.join(run_dir, "fakes%06d.png" % (cur_nimg // 1000)),
                                         drange=drange_net, grid_size=grid_size)
                stopping = stop.signum is not None or (stop_after_ticks is not None and ticks_done >= stop_after_ticks)
                if cur_tick % network_snapshot_ticks == 0 or done or cur_tick == 1 or stopping:
                    pkl = save_snapshot("network-snapshot-%06d.pkl" % (cur_nimg // 1000))
                    last_snapshot = pkl or last_snapshot
                    if metrics is not None and pkl is not None:
                        metrics.run(pkl, run_dir=run_dir, data_dir=data_dir, dataset_args=dataset_args,
                                    mirror_augment=mirror_augment, num_gpus=num_gpus)
                        means.update(getattr(metrics, "latest_results", {}) or {})
                write_scalars(summary_writer, list(progress.items()) + list(means.items()), cur_nimg)
                maintenance_time = time.time() - now
                tick_start_time = time.time()
                if stopping:
                    print("Stopped at tick %d (kimg %.1f); resume with --resume %s" % (
                        cur_tick, cur_nimg / 1000.0, run_dir), flush=True)
                    summary_writer.close()
                    return last_snapshot

    final = save_snapshot("network-final.pkl")
    summary_writer.close()
    return final


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None) or not resolver.cluster_spec().jobs:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                    "chief" not in resolver.cluster_spec().jobs)
