"""upfirdn2d: 'ref' (TensorFlow ops) vs 'custom' (the compiled op), op by op and in G/D steps.

Ops, each at the StyleGAN v1 shapes (NCHW float32, minibatch 8, channels of the default config
nf(res) = min(8192 / res * 2, 512), i.e. 512 up to 32x32, then 256, 128, ... 16 at 1024x1024):
  blur       ops.blur2d (3x3 [1,2,1] filter; the named resolution is input = output)
  upscale    ops.upscale2d (2x nearest; the named resolution is the output)
  downscale  ops.downscale2d (2x box; the named resolution is the input)
  upfir      upfirdn2d(x, [1,3,3,1], up=2, pad=(2,1))   (general path, StyleGAN2-style; output res)
  downfir    upfirdn2d(x, [1,3,3,1], down=2, pad=(1,1)) (general path; input res)
'fwd' times y = op(x); 'fwdbwd' times y and dx = dL/dx for L = sum(y * dy) (the official custom
gradients of blur/upscale/downscale call upfirdn2d again). Each is a tf.function traced with
$STYLEGAN_TF_UPFIRDN2D_IMPL set to the impl; median wall time of repeated calls after a warm-up.

--nets G,D: forward+backward of dnnlib.tflib.Network('G', func_name='G_style', num_channels=3,
resolution=64, fmap_base=2048) (grads of mean(G(z)) w.r.t. its trainables) and of D_basic with
the same arguments (grads of mean(D(x))), minibatch 8, per impl.

Usage:
  python bench/bench_upfirdn2d.py [--ops blur,upscale,downscale] [--res 8,16,...,1024]
      [--modes fwd,fwdbwd] [--impls ref,custom] [--minibatch 8] [--max_elems 0]
      [--nets G,D] [--net_steps 5] [--min_time 1.0] [--json out.jsonl]
--max_elems N > 0 lowers the channel count where minibatch*C*H*W would exceed N (reported).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

ALL_RES = [8, 16, 32, 64, 128, 256, 512, 1024]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", default="blur,upscale,downscale")
    p.add_argument("--res", default=",".join(map(str, ALL_RES)))
    p.add_argument("--modes", default="fwd,fwdbwd")
    p.add_argument("--impls", default="ref,custom")
    p.add_argument("--minibatch", type=int, default=8)
    p.add_argument("--max_elems", type=int, default=0)
    p.add_argument("--nets", default="", help="comma-separated subset of G,D ('' = none)")
    p.add_argument("--net_steps", type=int, default=5)
    p.add_argument("--min_time", type=float, default=1.0, help="seconds of timed calls per measurement")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    args.ops = [o for o in args.ops.split(",") if o]
    args.res = [int(r) for r in args.res.split(",") if r]
    args.modes = [m for m in args.modes.split(",") if m]
    args.impls = [i for i in args.impls.split(",") if i]
    args.nets = [n for n in args.nets.split(",") if n]
    return args


def nf(res):
    return min(int(8192 / (res // 2)), 512)  # official nf(stage) with stage = log2(res) - 1


def timed(fn, min_time):
    """Median seconds per call of fn() after one warm-up call (the trace is before that)."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], len(times)


def with_impl(impl, fn):
    """Call fn (which traces) with $STYLEGAN_TF_UPFIRDN2D_IMPL = impl."""
    from stylegan_tf.ops.upfirdn2d import IMPL_ENV_VAR
    old = os.environ.get(IMPL_ENV_VAR)
    os.environ[IMPL_ENV_VAR] = impl
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[IMPL_ENV_VAR]
        else:
            os.environ[IMPL_ENV_VAR] = old


def op_fn(name):
    from stylegan_tf import ops
    return {
        "blur": lambda x: ops.blur2d(x),
        "upscale": lambda x: ops.upscale2d(x),
        "downscale": lambda x: ops.downscale2d(x),
        "upfir": lambda x: ops.upfirdn2d(x, [1.0, 3.0, 3.0, 1.0], up=2, pad=(2, 1)),
        "downfir": lambda x: ops.upfirdn2d(x, [1.0, 3.0, 3.0, 1.0], down=2, pad=(1, 1)),
    }[name]


def bench_ops(args, emit):
    import tensorflow as tf
    for name in args.ops:
        fn = op_fn(name)
        for res in args.res:
            in_res = res // 2 if name in ("upscale", "upfir") else res
            c = nf(res)
            if args.max_elems and args.minibatch * c * res * res > args.max_elems:
                c = max(1, args.max_elems // (args.minibatch * res * res))
            x = tf.random.normal([args.minibatch, c, in_res, in_res])
            dy = tf.random.normal(fn(x).shape)
            for mode in args.modes:
                row = {}
                for impl in args.impls:
                    if mode == "fwd":
                        f = tf.function(fn)
                    else:
                        @tf.function
                        def f(x, fn=fn):
                            with tf.GradientTape() as tape:
                                tape.watch(x)
                                y = fn(x)
                            return y, tape.gradient(y, x, output_gradients=dy)
                    with_impl(impl, lambda: f(x))  # trace with this impl
                    sec, n = timed(lambda: [t.numpy() for t in tf.nest.flatten(f(x))], args.min_time)
                    row[impl] = sec
                    emit(dict(kind="op", op=name, res=res, shape=[args.minibatch, c, in_res, in_res], mode=mode,
                              impl=impl, ms=round(sec * 1e3, 3), calls=n))
                if len(row) == 2 and "ref" in row and "custom" in row:
                    print(f"  -> {name} {res} {mode}: custom is {row['ref'] / row['custom']:.2f}x ref", flush=True)


def bench_nets(args, emit):
    import numpy as np
    import tensorflow as tf
    import dnnlib.tflib as tflib
    mb = args.minibatch
    for net_name in args.nets:
        for impl in args.impls:
            tf.random.set_seed(1)
            kw = dict(num_channels=3, resolution=64, fmap_base=2048)
            if net_name == "G":
                net = tflib.Network("G", func_name="G_style", **kw)
                shape = [mb, *net.input_shape[1:]]
            else:
                net = tflib.Network("D", func_name="D_basic", **kw)
                shape = [mb, 3, 64, 64]
            params = list(net.trainables.values())
            labels = tf.zeros([mb, 0])

            @tf.function
            def step():
                x = tf.random.normal(shape)
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(net.get_output_for(x, labels, is_training=True))
                return tape.gradient(loss, params)

            t0 = time.perf_counter()
            with_impl(impl, lambda: step()[0].numpy())
            first = time.perf_counter() - t0
            for _ in range(1):
                step()[0].numpy()
            times = []
            for _ in range(args.net_steps):
                t0 = time.perf_counter()
                step()[0].numpy()
                times.append(time.perf_counter() - t0)
            sec = float(np.median(times))
            emit(dict(kind="net", net=net_name, res=64, fmap_base=2048, minibatch=mb, impl=impl,
                      step_ms=round(sec * 1e3, 2), img_per_s=round(mb / sec, 1), steps=args.net_steps,
                      first_step_s=round(first, 1)))


def main():
    args = parse_args()
    import tensorflow as tf
    from stylegan_tf.ops import upfirdn2d as _  # noqa: F401
    from stylegan_tf.ops.custom import load_upfirdn2d
    if "custom" in args.impls and load_upfirdn2d() is None:
        sys.exit("the custom op is unavailable (see the warning above)")
    print(f"TensorFlow {tf.__version__}, intra-op threads {tf.config.threading.get_intra_op_parallelism_threads()}, "
          f"cpus {os.cpu_count()}", flush=True)

    def emit(rec):
        print(json.dumps(rec), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(rec) + "\n")

    bench_ops(args, emit)
    bench_nets(args, emit)


if __name__ == "__main__":
    main()
