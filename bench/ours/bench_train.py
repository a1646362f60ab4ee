"""Training-step throughput of OUR training loop (training.training_loop.Trainer).

Counterpart of bench/official/bench_train.py (the official TF1 training graph); same flags, same
output. One "step" is one D step (with the Gs moving-average update) followed by one G step, as
one official minibatch. Configuration: G_style + D_basic with default mapping etc. (fmap_max 512,
latent/dlatent 512), 3 channels, no labels, G_logistic_nonsaturating + D_logistic_simplegp
(r1_gamma 10, every step), Adam beta1 0 / beta2 0.99 / eps 1e-8, learning rate 0.001, Gs beta
0.5 ** (minibatch / 10000), mirror augment on, one replica. Reals are random uint8 at the
phase's resolution (res / 2**floor(lod)), made once (no input pipeline). Warm-up steps (the first
traces and, with --xla 1, compiles) are excluded; sec_per_step is the median over --steps timed
steps, and d_sec / g_sec the medians of the D and G halves.

Usage:
  python bench/ours/bench_train.py --res 64 --fmap_base 2048 --minibatch 8 [--lod 0] [--xla 0|1]
      [--steps 10] [--warmup 2] [--fmap_max 512] [--latent_size 512] [--batch_gpu N] [--dtype bfloat16]
      [--json FILE] [--profile DIR]

cpu_sec_per_step: process CPU seconds (all threads) per timed step, steadier than wall time under load.
Prints one JSON line.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))  # bench/common
from train_step_timing import (add_step_args, check_step_args, profile_train_steps, time_train_steps,  # noqa: E402
                               train_step_record)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_args(p)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="G/D compute dtype (the fp16 / bf16 presets); float16 also turns on loss scaling")
    p.add_argument("--batch_gpu", type=int, default=None,
                   help="micro-batch (train.py --batch_gpu): the minibatch in rounds of this size, gradients accumulated")
    return check_step_args(p, p.parse_args())


def main():
    args = parse_args()
    import numpy as np
    import tensorflow as tf
    import keras
    import dnnlib.tflib as tflib
    from training.config import TrainingConfig
    from training.training_loop import Trainer, micro_batching

    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(1)
    kw = dict(num_channels=3, resolution=args.res, label_size=0, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
              dtype=args.dtype)
    opt_kw = dict(learning_rate=0.001, beta1=0.0, beta2=0.99, epsilon=1e-8, use_loss_scaling=args.dtype == "float16")
    t0 = time.perf_counter()
    with strategy.scope():
        G = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=args.latent_size,
                          dlatent_size=args.latent_size, **kw)
        D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kw)
        Gs = G.clone("Gs")
        G_opt = tflib.Optimizer(name="TrainG", **opt_kw).build(G.trainables)
        D_opt = tflib.Optimizer(name="TrainD", **opt_kw).build(D.trainables)

    class TrainingSetLike:
        label_size = 0
        dynamic_range = [0, 255]

    config = TrainingConfig(G_loss_args=dict(func_name="training.loss.G_logistic_nonsaturating"),
                            D_loss_args=dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0),
                            mirror_augment=True, xla=bool(args.xla), batch_gpu=args.batch_gpu)
    trainer = Trainer(strategy, G, D, Gs, G_opt, D_opt, config, TrainingSetLike())
    mb = args.minibatch
    rounds = micro_batching(mb, args.batch_gpu)[1]
    phase_lod = int(np.floor(args.lod))
    phase_res = args.res >> phase_lod
    reals = tf.constant(np.random.RandomState(2).randint(0, 256, size=(mb, 3, phase_res, phase_res)).astype(np.uint8))
    labels = tf.zeros([mb, 0])
    lod = tf.constant(float(args.lod))
    mb_t = tf.constant(mb, tf.int32)
    Gs_beta = tf.constant(0.5 ** (mb / 10000.0), tf.float32)
    D_step, G_step = trainer.steps(args.lod, rounds=rounds)
    build_s = time.perf_counter() - t0

    counter = [0]

    def seed():
        counter[0] += 1
        return tf.constant([1, counter[0]], tf.int64)

    def run_D():
        ok, _ = D_step(reals, labels, lod, seed(), mb_t, Gs_beta)
        ok.numpy()

    def run_G():
        ok, _ = G_step(lod, seed(), mb_t)
        ok.numpy()

    timing = time_train_steps(run_D, run_G, args.warmup, args.steps)
    if args.profile:
        profile_train_steps(run_D, run_G, args.profile_steps, args.profile)
    train_step_record("ours", args, mb, phase_res, timing, build_s,
                      sum(np.prod(v.shape) for v in G.trainables.values()),
                      sum(np.prod(v.shape) for v in D.trainables.values()), tf.__version__)


if __name__ == "__main__":
    main()
