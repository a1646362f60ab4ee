"""Forward+backward throughput of OUR StyleGAN networks (TF2 eager code compiled with tf.function).

Counterpart of bench/official/bench_networks.py (the official code in TF1 graph mode); same
definitions and defaults:
  G: grads of mean(G(z, labels, is_training=True)) w.r.t. G's trainables (z ~ N(0, 1) drawn in the step)
  D: grads of mean(D(x, labels)) w.r.t. D's trainables (x ~ N(0, 1) drawn in the step)
G_style + D_basic, default architecture (fmap_base 8192, fmap_max 512, latent/dlatent 512, 8 mapping
layers), 3 channels, no labels, structure 'fixed' (--structure recursive: the progressive graph at
lod 0). Reports images/s over the timed steps after the warm-up steps (the first one traces).
--jit 0,1 measures both plain tf.function and tf.function(jit_compile=True).

Usage:
  python bench/ours/bench_networks.py [--res 64,256] [--nets G,D] [--minibatch 8] [--fmap_base 8192]
      [--warmup 2] [--steps 5] [--structure fixed] [--jit 0,1]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))  # bench/common
from net_timing import add_net_args, check_net_args, time_steps  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_net_args(p)
    p.add_argument("--jit", default="0,1", help="comma-separated: 0 = tf.function, 1 = tf.function(jit_compile=True)")
    args = check_net_args(p, p.parse_args())
    try:
        args.jit = [bool(int(j)) for j in args.jit.split(",") if j]
    except ValueError:
        p.error("--jit takes comma-separated 0 / 1")
    return args


def main():
    args = parse_args()
    import numpy as np
    import tensorflow as tf
    import dnnlib.tflib as tflib  # ours

    tf.random.set_seed(1)
    for res in args.res:
        kw = dict(num_channels=3, resolution=res, label_size=0, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
                  structure=args.structure)
        for net_name in args.nets:
            mb = args.minibatch
            if net_name == "G":
                net = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=args.latent_size,
                                    dlatent_size=args.latent_size, **kw)
                in_shape = [mb, args.latent_size]
            else:
                net = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kw)
                in_shape = [mb, 3, res, res]
            params = list(net.trainables.values())
            n_params = int(sum(np.prod(p.shape) for p in params))
            labels = tf.zeros([mb, 0])
            for jit in args.jit:
                @tf.function(jit_compile=jit)
                def step():
                    x = tf.random.normal(in_shape)
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(net.get_output_for(x, labels, is_training=True))
                    return tape.gradient(loss, params)

                def run_step():
                    grads = step()
                    grads[0].numpy()  # make sure the step has finished

                t0 = time.perf_counter()
                try:
                    run_step()  # trace (+ XLA compile)
                except Exception as e:  # e.g. an op without an XLA kernel: report, go on
                    print("ours %s %dx%d jit=%s: FAILED %s: %s" % (net_name, res, res, jit, type(e).__name__,
                                                                 str(e).splitlines()[0][:300]), flush=True)
                    continue
                first_s = time.perf_counter() - t0
                times, cpu_s = time_steps(run_step, max(args.warmup - 1, 0), args.steps)
                rec = dict(impl="ours", mode="tf.function" + ("(jit_compile=True)" if jit else ""), net=net_name,
                           res=res, minibatch=mb, fmap_base=args.fmap_base, fmap_max=args.fmap_max,
                           structure=args.structure, params=n_params, warmup=args.warmup, steps=args.steps,
                           first_step_s=round(first_s, 2), step_s_median=float(np.median(times)),
                           step_s_mean=float(np.mean(times)), img_per_s=mb / float(np.median(times)),
                           cpu_s_per_img=cpu_s / (args.steps * mb), loadavg_1min=os.getloadavg()[0])
                print("ours %s %dx%d mb=%d fmap_base=%d structure=%s jit=%s params=%d: %.2f img/s "
                      "(median step %.3f s, mean %.3f s, %.3f CPU-s/img, load %.1f, %d steps after %d warm-up; first step %.1f s)"
                      % (net_name, res, res, mb, args.fmap_base, args.structure, jit, n_params, rec["img_per_s"],
                         rec["step_s_median"], rec["step_s_mean"], rec["cpu_s_per_img"], rec["loadavg_1min"],
                         args.steps, args.warmup, first_s), flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
