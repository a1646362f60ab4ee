"""Forward+backward throughput of the OFFICIAL StyleGAN networks (TF1 graph mode via the shim).

Counterpart of bench/ours/bench_networks.py (ours); same definitions, same defaults:
  G: grads of mean(G(z, labels, is_training=True)) w.r.t. G's trainables (z ~ N(0, 1) drawn in the graph)
  D: grads of mean(D(x, labels)) w.r.t. D's trainables (x ~ N(0, 1) drawn in the graph)
G_style + D_basic, default architecture (fmap_base 8192, fmap_max 512, latent/dlatent 512, 8 mapping
layers), 3 channels, no labels, structure 'fixed' (use --structure recursive for the progressive
graph at lod 0). Reports images/s over the timed steps (after warm-up steps).

Usage:
  python bench/official/bench_networks.py [--res 64,256] [--nets G,D] [--minibatch 8]
      [--fmap_base 8192] [--warmup 2] [--steps 5] [--structure fixed] [--official_dir DIR]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))  # bench/common
import shim  # noqa: E402
from net_timing import add_net_args, check_net_args, time_steps  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_net_args(p)
    shim.add_official_dir_arg(p)
    return check_net_args(p, p.parse_args())


def main():
    args = parse_args()
    shim.activate(args.official_dir)
    import numpy as np
    import tensorflow as tf  # tf.compat.v1 (shimmed)
    import dnnlib.tflib as tflib  # official

    tflib.init_tf({"rnd.np_random_seed": 1, "rnd.tf_random_seed": 1})
    for res in args.res:
        kw = dict(num_channels=3, resolution=res, label_size=0, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
                  structure=args.structure)
        for net_name in args.nets:
            with tf.Graph().as_default(), tflib.create_session(None).as_default():
                mb = args.minibatch
                labels = tf.zeros([mb, 0])
                t0 = time.perf_counter()
                if net_name == "G":
                    net = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=args.latent_size,
                                        dlatent_size=args.latent_size, **kw)
                    out = net.get_output_for(tf.random_normal([mb, args.latent_size]), labels, is_training=True)
                else:
                    net = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kw)
                    out = net.get_output_for(tf.random_normal([mb, 3, res, res]), labels, is_training=True)
                params = list(net.trainables.values())
                grads = tf.gradients(tf.reduce_mean(out), params)
                grad_op = tf.group(*grads)
                build_s = time.perf_counter() - t0
                times, cpu_s = time_steps(lambda: tflib.run(grad_op), args.warmup, args.steps)
                n_params = int(sum(np.prod(p.shape.as_list()) for p in params))
                rec = dict(impl="official", mode="tf1-graph", net=net_name, res=res, minibatch=mb,
                           fmap_base=args.fmap_base, fmap_max=args.fmap_max, structure=args.structure,
                           params=n_params, warmup=args.warmup, steps=args.steps, build_s=round(build_s, 2),
                           step_s_median=float(np.median(times)), step_s_mean=float(np.mean(times)),
                           img_per_s=mb / float(np.median(times)), cpu_s_per_img=cpu_s / (args.steps * mb),
                           loadavg_1min=os.getloadavg()[0])
                print("official %s %dx%d mb=%d fmap_base=%d structure=%s params=%d: %.2f img/s "
                      "(median step %.3f s, mean %.3f s, %.3f CPU-s/img, load %.1f, %d steps after %d warm-up; graph build %.1f s)"
                      % (net_name, res, res, mb, args.fmap_base, args.structure, n_params, rec["img_per_s"],
                         rec["step_s_median"], rec["step_s_mean"], rec["cpu_s_per_img"], rec["loadavg_1min"],
                         args.steps, args.warmup, build_s), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
