"""Training-step throughput of the OFFICIAL StyleGAN training graph (TF1 graph mode via the shim).

Counterpart of bench/ours/bench_train.py (ours); same flags, same output. The graph is built as the
official training/training_loop.py builds it for one GPU: G/D `tflib.Network`s (G_style, D_basic,
default structure), Gs = G.clone, `tflib.Optimizer` TrainG/TrainD (beta1 0, beta2 0.99, eps 1e-8,
learning rate fed per step = 0.001), lod/lrate/minibatch placeholders, lod assign ops,
`process_reals` (dynamic range, mirror augment, lod fade, nearest upscale to full resolution),
`training.loss.G_logistic_nonsaturating` + `training.loss.D_logistic_simplegp(r1_gamma=10)`,
`register_gradients` / `apply_updates`, and `Gs.setup_as_moving_average_of(G, beta=Gs_beta)`.
The only change: instead of the dataset's `get_minibatch_tf()`, the reals are a constant random
uint8 tensor at the lod's resolution (res / 2**floor(lod)), as the dataset would deliver them.
One "step" is `run([D_train_op, Gs_update_op])` then `run([G_train_op])`, as the official loop.
Warm-up steps are excluded; sec_per_step is the median over --steps timed steps.

Usage (a process of its own; the official checkout is only read and executed):
  python bench/official/bench_train.py --res 64 --fmap_base 2048 --minibatch 8 [--lod 0]
      [--xla 0|1] [--steps 10] [--warmup 2] [--official_dir DIR] [--json FILE] [--profile DIR]
  python bench/official/bench_train.py --res 64 --fmap_base 2048 --minibatch 8 --count_flops 1

--xla 1 turns on TF1 XLA auto-clustering (global_jit_level ON_1 + TF_XLA_FLAGS=--tf_xla_cpu_global_jit).
--count_flops 1 prints the convolution GFLOP of one D+G step instead of timing (the layers the
phase runs, counted on a 'fixed'-structure graph at the phase resolution from run-time shapes).
The official default optimizer name "tf.train.AdamOptimizer" is given as its compat.v1 path (the
same class; importlib would otherwise find TF2's tensorflow.train).
cpu_sec_per_step: process CPU seconds (all threads) per timed step, steadier than wall time under load.
Prints one JSON line.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))  # bench/common
import shim  # noqa: E402
from train_step_timing import (add_step_args, check_step_args, profile_train_steps, time_train_steps,  # noqa: E402
                               train_step_record)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_args(p)
    p.add_argument("--count_flops", type=int, default=0, choices=[0, 1],
                   help="1: only count the convolution float ops of one D+G step (run-time shapes, on the "
                        "same graph with structure 'fixed' at the phase resolution, i.e. the layers a phase "
                        "actually runs) and print them; nothing is timed")
    shim.add_official_dir_arg(p)
    return check_step_args(p, p.parse_args())


def main():
    args = parse_args()
    if args.xla:  # auto-clustering on CPU needs this flag besides the session's global_jit_level
        os.environ["TF_XLA_FLAGS"] = (os.environ.get("TF_XLA_FLAGS", "") + " --tf_xla_cpu_global_jit").strip()
    shim.activate(args.official_dir)
    import numpy as np
    import tensorflow as tf  # tf.compat.v1 (shimmed)
    import dnnlib
    import dnnlib.tflib as tflib  # official
    from training import training_loop as official_loop  # official process_reals

    tf_config = {"rnd.np_random_seed": 1, "rnd.tf_random_seed": 1}
    if args.xla:
        tf_config["graph_options.optimizer_options.global_jit_level"] = tf.OptimizerOptions.ON_1
    tflib.init_tf(tf_config)

    mb = args.minibatch
    phase_res = args.res >> int(np.floor(args.lod))
    net_res, structure = (phase_res, "fixed") if args.count_flops else (args.res, "auto")

    class TrainingSetLike:  # what the losses and process_reals use of training.dataset.TFRecordDataset
        label_size = 0
        label_dtype = "float32"
        dynamic_range = [0, 255]
        shape = [3, args.res, args.res]

        def get_random_labels_tf(self, minibatch_size):
            return tf.zeros([minibatch_size, 0], self.label_dtype)

    training_set = TrainingSetLike()
    t0 = time.perf_counter()
    kw = dict(num_channels=3, resolution=net_res, label_size=0, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
              structure=structure)
    with tf.device("/gpu:0"):
        G = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=args.latent_size,
                          dlatent_size=args.latent_size, **kw)
        D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kw)
        Gs = G.clone("Gs")
    with tf.name_scope("Inputs"), tf.device("/cpu:0"):
        lod_in = tf.placeholder(tf.float32, name="lod_in", shape=[])
        lrate_in = tf.placeholder(tf.float32, name="lrate_in", shape=[])
        minibatch_in = tf.placeholder(tf.int32, name="minibatch_in", shape=[])
        minibatch_split = mb if args.count_flops else minibatch_in // 1  # static shapes for the profiler
        Gs_beta = 0.5 ** tf.div(tf.cast(minibatch_in, tf.float32), 10.0 * 1000.0)
    # The official default tf_optimizer "tf.train.AdamOptimizer" is resolved by importlib, which finds
    # TF2's tensorflow.train (no AdamOptimizer); name the same TF1 class by its compat.v1 path.
    opt_args = dict(beta1=0.0, beta2=0.99, epsilon=1e-8, tf_optimizer="tensorflow.compat.v1.train.AdamOptimizer")
    G_opt = tflib.Optimizer(name="TrainG", learning_rate=lrate_in, **opt_args)
    D_opt = tflib.Optimizer(name="TrainD", learning_rate=lrate_in, **opt_args)
    reals_np = np.random.RandomState(2).randint(0, 256, size=(mb, 3, phase_res, phase_res)).astype(np.uint8)
    with tf.name_scope("GPU0"), tf.device("/gpu:0"):
        lod_assign_ops = [tf.assign(G.find_var("lod"), lod_in), tf.assign(D.find_var("lod"), lod_in)]
        reals, labels = tf.constant(reals_np), tf.zeros([mb, 0], tf.float32)  # instead of get_minibatch_tf()
        reals = official_loop.process_reals(reals, 0.0 if args.count_flops else lod_in, True,
                                            training_set.dynamic_range, [-1, 1])
        if args.count_flops:
            reals.set_shape([mb, 3, net_res, net_res])  # process_reals reshapes with tf.shape()
        with tf.name_scope("G_loss"), tf.control_dependencies(lod_assign_ops):
            G_loss = dnnlib.util.call_func_by_name(G=G, D=D, opt=G_opt, training_set=training_set,
                                                   minibatch_size=minibatch_split,
                                                   func_name="training.loss.G_logistic_nonsaturating")
        with tf.name_scope("D_loss"), tf.control_dependencies(lod_assign_ops):
            D_loss = dnnlib.util.call_func_by_name(G=G, D=D, opt=D_opt, training_set=training_set,
                                                   minibatch_size=minibatch_split, reals=reals, labels=labels,
                                                   func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0)
        G_opt.register_gradients(tf.reduce_mean(G_loss), G.trainables)
        D_opt.register_gradients(tf.reduce_mean(D_loss), D.trainables)
    G_train_op = G_opt.apply_updates()
    D_train_op = D_opt.apply_updates()
    Gs_update_op = Gs.setup_as_moving_average_of(G, beta=Gs_beta)
    tflib.init_uninitialized_vars()
    build_s = time.perf_counter() - t0

    feed = {lod_in: float(args.lod), lrate_in: 0.001, minibatch_in: mb}
    if args.count_flops:
        # Float ops of the convolutions (nearly all of the work) that one D step + Gs update + one G
        # step run: 2 * multiply-adds from run-time shapes, each gradient op costing what its forward
        # convolution costs (prod(forward output) * kh * kw * in_channels multiply-adds). Only ops
        # upstream of the train ops count (the networks' template graphs are never run).
        seen, stack = set(), [D_train_op, Gs_update_op, G_train_op]
        while stack:
            op = stack.pop()
            op = getattr(op, "op", op)
            if op.name in seen:
                continue
            seen.add(op.name)
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
        conv_ops = [op for op in tf.get_default_graph().get_operations() if op.name in seen
                    and op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")]
        out_of = {"Conv2D": lambda op: op.outputs[0], "Conv2DBackpropInput": lambda op: op.inputs[2],
                  "Conv2DBackpropFilter": lambda op: op.inputs[2]}
        kernel_of = {"Conv2D": lambda op: op.inputs[1], "Conv2DBackpropInput": lambda op: op.inputs[1],
                     "Conv2DBackpropFilter": lambda op: op.outputs[0]}
        shapes = tflib.run([[tf.shape(out_of[op.type](op)), tf.shape(kernel_of[op.type](op))] for op in conv_ops],
                           feed)
        by_op = {}
        for op, (out_shape, kernel_shape) in zip(conv_ops, shapes):
            by_op[op.type] = by_op.get(op.type, 0) + 2 * int(np.prod(out_shape)) * int(np.prod(kernel_shape[:3]))
        rec = dict(impl="official", res=args.res, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
                   latent_size=args.latent_size, minibatch=mb, lod=args.lod, phase_res=phase_res,
                   counted_graph="structure 'fixed' at resolution %d (the layers the phase runs), minibatch %d"
                   % (net_res, mb), conv_ops=len(conv_ops), conv_gflop_per_step=round(sum(by_op.values()) / 1e9, 2),
                   conv_gflop_by_op={k: round(v / 1e9, 2) for k, v in sorted(by_op.items())})
        print(json.dumps(rec), flush=True)
        return

    def run_D():
        tflib.run([D_train_op, Gs_update_op], feed)

    def run_G():
        tflib.run([G_train_op], feed)

    timing = time_train_steps(run_D, run_G, args.warmup, args.steps)
    if args.profile:
        profile_train_steps(run_D, run_G, args.profile_steps, args.profile)
    train_step_record("official", args, mb, phase_res, timing, build_s,
                      sum(np.prod(v.shape.as_list()) for v in G.trainables.values()),
                      sum(np.prod(v.shape.as_list()) for v in D.trainables.values()), shim.real_tensorflow().__version__)


if __name__ == "__main__":
    main()
