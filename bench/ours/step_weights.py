"""Weights after a few training steps, to show that a change to the loop keeps the numbers.

Builds a tiny G_style + D_basic (16x16 RGB, minibatch stddev on, noise strengths non-zero), runs
training.training_loop.Trainer for two D+G steps in the 8x8 -> 16x16 transition (lod 1.5) and two at lod 1
(R1 gamma 10, mirror augment, Adam, Gs), and saves every variable of G, D and Gs. `--compare FILE` loads the
weights a previous checkout saved and reports how many variables differ (0 = bit-identical).

Usage:
  git stash; python bench/ours/step_weights.py --out before.npz; git stash pop
  python bench/ours/step_weights.py --out after.npz --compare before.npz [--batch_gpu 2]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--compare", default=None)
    p.add_argument("--batch_gpu", type=int, default=None)
    args = p.parse_args()
    import numpy as np
    import tensorflow as tf
    import keras
    import dnnlib.tflib as tflib
    from training.config import TrainingConfig
    from training.training_loop import Trainer, micro_batching

    keras.utils.set_random_seed(5)
    kw = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16,
              mapping_fmaps=16, mapping_layers=2)
    G = tflib.Network("G", func_name="G_style", **kw)
    D = tflib.Network("D", func_name="D_basic", **kw)
    Gs = G.clone("Gs")
    opt_kw = dict(learning_rate=0.01, beta1=0.0, beta2=0.99, epsilon=1e-8)
    G_opt = tflib.Optimizer(name="TrainG", **opt_kw).build(G.trainables)
    D_opt = tflib.Optimizer(name="TrainD", **opt_kw).build(D.trainables)
    rnd = np.random.RandomState(0)
    for name, var in G.vars.items():
        if "Noise/weight" in name:
            var.assign(rnd.randn(*var.shape).astype(np.float32) * 0.1)

    class TrainingSetLike:
        label_size = 0
        dynamic_range = [0, 255]
    config = TrainingConfig(G_loss_args=dict(func_name="training.loss.G_logistic_nonsaturating"),
                            D_loss_args=dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0),
                            mirror_augment=True, batch_gpu=args.batch_gpu)
    trainer = Trainer(tf.distribute.get_strategy(), G, D, Gs, G_opt, D_opt, config, TrainingSetLike())
    reals = np.random.RandomState(6).randint(0, 256, size=(8, 3, 8, 8)).astype(np.uint8)
    rounds = micro_batching(8, args.batch_gpu)[1]
    for lod in (1.5, 1.0):
        D_step, G_step = trainer.steps(lod, rounds=rounds)
        for i in range(2):
            D_step(tf.constant(reals), tf.zeros([8, 0]), tf.constant(lod), tf.constant([7, 2 * i], tf.int64),
                   tf.constant(8), tf.constant(0.9))
            G_step(tf.constant(lod), tf.constant([7, 2 * i + 1], tf.int64), tf.constant(8))
    after = {k: v.numpy() for k, v in list(G.vars.items()) + [("D/" + k, v) for k, v in D.vars.items()]
             + [("Gs/" + k, v) for k, v in Gs.vars.items()]}
    np.savez(args.out, **after)
    print("saved %d variables to %s" % (len(after), args.out))
    if args.compare:
        ref = np.load(args.compare)
        differ = [k for k in ref.files if k not in after or not np.array_equal(ref[k], after[k])]
        worst = max((float(np.abs(ref[k] - after[k]).max() / max(np.abs(ref[k]).max(), 1e-30)) for k in ref.files
                     if k in after), default=0.0)
        print("%d of %d variables differ from %s (max relative difference %.3g)" % (
            len(differ), len(ref.files), args.compare, worst))


if __name__ == "__main__":
    main()
