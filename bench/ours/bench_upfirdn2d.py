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
$STYLEGAN_TF_UPFIRDN2D_IMPL set to the impl; best and median wall time of repeated calls (at least
3, for at least --min_time seconds) after a warm-up call, including fetching the result.

--nets G,D: forward+backward of dnnlib.tflib.Network('G', func_name='G_style', num_channels=3,
resolution=64, fmap_base=2048) (grads of mean(G(z)) w.r.t. its trainables) and of D_basic with
the same arguments (grads of mean(D(x))), minibatch 8, per impl.

Usage:
  python bench/ours/bench_upfirdn2d.py [--ops blur,upscale,downscale] [--res 8,16,...,1024]
      [--modes fwd,fwdbwd] [--impls ref,custom] [--minibatch 8] [--max_elems 0]
      [--nets G,D] [--net_steps 5] [--min_time 1.0] [--json out.jsonl]
  python bench/ours/bench_upfirdn2d.py --report out.jsonl     (markdown tables for BENCHMARKS.md)
--max_elems N > 0 lowers the channel count where minibatch*C*H*W would exceed N (reported).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

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
    """(best, median) seconds per call of fn() and the number of calls, after one warm-up call (the
    trace is before that). The best of several calls is the figure least disturbed by other load."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[0], times[len(times) // 2], len(times)


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
    import numpy as np
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
                    # autograph=False: nothing here needs it, and autograph's lambda conversion can
                    # pick the wrong lambda from a dict literal.
                    if mode == "fwd":
                        f = tf.function(fn, autograph=False)
                    else:
                        @tf.function(autograph=False)
                        def f(x, fn=fn):
                            with tf.GradientTape() as tape:
                                tape.watch(x)
                                y = fn(x)
                            return y, tape.gradient(y, x, output_gradients=dy)
                    try:
                        with_impl(impl, lambda: f(x))  # trace with this impl
                        best, median, n = timed(lambda: [t.numpy() for t in tf.nest.flatten(f(x))],
                                                args.min_time)
                    except Exception as e:  # e.g. a TF kernel refusing a shape: record it, go on
                        emit(dict(kind="op", op=name, res=res, shape=[args.minibatch, c, in_res, in_res], mode=mode,
                                  impl=impl, error=f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"))
                        continue
                    row[impl] = best
                    outs = [t.numpy() for t in tf.nest.flatten(f(x))]
                    if "ref_out" not in row:
                        row["ref_out"], diff = outs, 0.0
                    else:  # the impls must compute the same thing (float32 rounding)
                        diff = max(float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
                                   for a, b in zip(outs, row["ref_out"]))
                    emit(dict(kind="op", op=name, res=res, shape=[args.minibatch, c, in_res, in_res], mode=mode,
                              impl=impl, best_ms=round(best * 1e3, 3), median_ms=round(median * 1e3, 3), calls=n,
                              rel_diff_vs_first=diff))
                row.pop("ref_out", None)
                if len(row) == 2 and "ref" in row and "custom" in row:
                    print(f"  -> {name} {res} {mode}: custom is {row['ref'] / row['custom']:.2f}x as fast as ref (best)",
                          flush=True)


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
            step()[0].numpy()  # warm-up
            times = []
            for _ in range(args.net_steps):
                t0 = time.perf_counter()
                step()[0].numpy()
                times.append(time.perf_counter() - t0)
            best, median = float(np.min(times)), float(np.median(times))
            emit(dict(kind="net", net=net_name, res=64, fmap_base=2048, minibatch=mb, impl=impl,
                      best_step_ms=round(best * 1e3, 2), median_step_ms=round(median * 1e3, 2),
                      img_per_s_best=round(mb / best, 1), steps=args.net_steps, first_step_s=round(first, 1)))


def report(path):
    """Markdown tables (best ms, ref / custom speed-up) from a --json file."""
    recs = [json.loads(line) for line in open(path) if line.strip()]
    ops = {}
    for r in recs:
        if r["kind"] == "op":
            ops.setdefault((r["op"], r["res"], tuple(r["shape"])), {})[(r["mode"], r["impl"])] = \
                r.get("best_ms", "failed")
    print("| op | res | input [N, C, H, W] | fwd ref ms | fwd custom ms | fwd speed-up | fwd+bwd ref ms "
          "| fwd+bwd custom ms | fwd+bwd speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (op, res, shape), m in ops.items():
        cells = []
        for mode in ("fwd", "fwdbwd"):
            ref, cus = m.get((mode, "ref")), m.get((mode, "custom"))
            num = [v if isinstance(v, float) else None for v in (ref, cus)]
            cells += [f"{v:.2f}" if isinstance(v, float) else (v or "-") for v in (ref, cus)]
            cells.append(f"{num[0] / num[1]:.2f}x" if None not in num else "-")
        print(f"| {op} | {res} | {list(shape)} | " + " | ".join(cells) + " |")
    nets = [r for r in recs if r["kind"] == "net"]
    if nets:
        print()
        print("| network step (fwd+bwd, mb 8) | impl | best step ms | median step ms | img/s (best) |")
        print("|---|---|---|---|---|")
        for r in nets:
            print(f"| {r['net']} 64x64 fmap_base 2048 | {r['impl']} | {r['best_step_ms']} | {r['median_step_ms']} "
                  f"| {r['img_per_s_best']} |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        return report(sys.argv[2])
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
