"""The convolutions of a training step, timed alone: what the step's speed is bounded by.

Times Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter (3x3, stride 1, SAME) at the shapes of
G_style / D_basic at 64x64 with fmap_base 2048 (channels 64..512, 64x64..4x4), for each layout and
dtype asked for, and prints one JSON line per (layout, dtype) with the per-shape medians and the
GFLOP/s over all shapes. The training step runs each of these shapes several times per step; if
its convolution GFLOP/s (bench_train.py / official/bench_train.py with --count_flops) is already at
this number, only faster convolutions (layout, dtype) can make the step faster.

Usage:
  python bench/ours/bench_convs.py [--minibatch 8] [--layouts NCHW,NHWC] [--dtypes float32,bfloat16] [--reps 8]
"""

import argparse
import json
import os
import time

SHAPES = [(64, 64, 64), (64, 128, 32), (128, 128, 32), (128, 256, 16), (256, 256, 16), (256, 512, 8),
          (512, 512, 8), (512, 512, 4)]  # (in channels, out channels, resolution)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minibatch", type=int, default=8)
    p.add_argument("--layouts", default="NCHW,NHWC")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--reps", type=int, default=8)
    args = p.parse_args()
    import numpy as np
    import tensorflow as tf

    def median_time(fn, *inputs):
        for _ in range(2):
            fn(*inputs).numpy()
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            fn(*inputs).numpy()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    n = args.minibatch
    for layout in args.layouts.split(","):
        for dtype in args.dtypes.split(","):
            per_shape, total_s, total_flop = [], 0.0, 0.0
            for cin, cout, res in SHAPES:
                x_shape = [n, cin, res, res] if layout == "NCHW" else [n, res, res, cin]
                y_shape = [n, cout, res, res] if layout == "NCHW" else [n, res, res, cout]
                x = tf.cast(tf.random.normal(x_shape), dtype)
                dy = tf.cast(tf.random.normal(y_shape), dtype)
                w = tf.cast(tf.random.normal([3, 3, cin, cout]), dtype)
                strides = [1, 1, 1, 1]
                fwd = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME", data_format=layout))
                bpi = tf.function(lambda dy, w, xs=x_shape: tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=xs, filter=w, out_backprop=dy, strides=strides, padding="SAME", data_format=layout))
                bpf = tf.function(lambda x, dy, ci=cin, co=cout: tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=[3, 3, ci, co], out_backprop=dy, strides=strides, padding="SAME",
                    data_format=layout))
                t = [median_time(fwd, x, w), median_time(bpi, dy, w), median_time(bpf, x, dy)]
                flop = 2.0 * n * res * res * cin * cout * 9
                per_shape.append(dict(cin=cin, cout=cout, res=res, fwd_ms=round(t[0] * 1e3, 2),
                                      bwd_input_ms=round(t[1] * 1e3, 2), bwd_filter_ms=round(t[2] * 1e3, 2)))
                total_s += sum(t)
                total_flop += 3 * flop
            print(json.dumps(dict(layout=layout, dtype=dtype, minibatch=n, total_ms=round(total_s * 1e3, 1),
                                  gflop_per_sec=round(total_flop / total_s / 1e9, 1), loadavg=os.getloadavg()[0],
                                  shapes=per_shape)), flush=True)


if __name__ == "__main__":
    main()
