"""Timing of one D+G training step and the JSON record, shared by bench/ours/bench_train.py (ours) and
bench/official/bench_train.py (the official graph): pure Python/NumPy, so both processes can import it."""

import json
import os
import resource
import time

import numpy as np


def add_step_args(p):
    """The flags both training-step benchmarks take (argparse)."""
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--fmap_base", type=int, default=2048)
    p.add_argument("--fmap_max", type=int, default=512)
    p.add_argument("--latent_size", type=int, default=512)
    p.add_argument("--minibatch", type=int, default=8)
    p.add_argument("--lod", type=float, default=0.0)
    p.add_argument("--xla", type=int, default=0, choices=[0, 1])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", default=None, help="also append the JSON line to this file")
    p.add_argument("--profile", default=None, metavar="DIR",
                   help="after timing, profile --profile_steps more steps into DIR (see bench/common/profile_summary.py)")
    p.add_argument("--profile_steps", type=int, default=2)


def check_step_args(p, args):
    levels = args.res.bit_length() - 1
    if args.res < 4 or 2 ** levels != args.res:
        p.error("--res must be a power of two >= 4")
    if not 0 <= args.lod <= levels - 2:
        p.error("--lod must be in [0, log2(res) - 2]")
    if args.minibatch < 1 or args.steps < 1 or args.warmup < 1:
        p.error("--minibatch and --steps must be >= 1, --warmup >= 1 (the first step traces)")
    return args


def time_train_steps(run_D, run_G, warmup, steps):
    """Wall and CPU timing of `steps` D+G steps after `warmup` ones, as record fields."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        run_D()
        run_G()
    warmup_s = time.perf_counter() - t0
    d_times, g_times, step_times = [], [], []
    cpu0 = time.process_time()  # all threads of the process: steadier than wall time on a shared machine
    for _ in range(steps):
        t0 = time.perf_counter()
        run_D()
        t1 = time.perf_counter()
        run_G()
        t2 = time.perf_counter()
        d_times.append(t1 - t0)
        g_times.append(t2 - t1)
        step_times.append(t2 - t0)
    return dict(step_times=step_times, d_times=d_times, g_times=g_times,
                cpu_per_step=(time.process_time() - cpu0) / steps, warmup_s=warmup_s)


def _gpu_peak_mb():
    """Peak memory TensorFlow allocated on GPU 0 (None without a GPU)."""
    try:
        import tensorflow as tf
        if not tf.config.list_physical_devices("GPU"):
            return None
        return round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20, 1)
    except Exception:  # noqa: BLE001 (the official process's TF1 shim may lack the API: no figure)
        return None


def train_step_record(impl, args, mb, phase_res, timing, build_s, G_params, D_params, tf_version):
    """The one-line JSON record both scripts print (and append to --json)."""
    sec = float(np.median(timing["step_times"]))
    rec = dict(impl=impl, xla=args.xla, dtype=getattr(args, "dtype", "float32"), batch_gpu=getattr(args, "batch_gpu", None),
               res=args.res,
               fmap_base=args.fmap_base, fmap_max=args.fmap_max, latent_size=args.latent_size, minibatch=mb, lod=args.lod, phase_res=phase_res,
               loss="G_logistic_nonsaturating + D_logistic_simplegp(r1_gamma=10) every step",
               warmup=args.warmup, steps=args.steps, sec_per_step=round(sec, 4), img_per_sec=round(mb / sec, 3),
               sec_per_kimg=round(1000.0 * sec / mb, 1),
               d_sec=round(float(np.median(timing["d_times"])), 4), g_sec=round(float(np.median(timing["g_times"])), 4),
               sec_per_step_mean=round(float(np.mean(timing["step_times"])), 4),
               sec_per_step_min=round(float(np.min(timing["step_times"])), 4),
               cpu_sec_per_step=round(timing["cpu_per_step"], 4),
               build_s=round(build_s, 1), warmup_s=round(timing["warmup_s"], 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
               gpu_peak_mb=_gpu_peak_mb(),
               G_params=int(G_params), D_params=int(D_params), loadavg=os.getloadavg()[0], tf=tf_version)
    line = json.dumps(rec)
    print(line, flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
    return rec


def profile_train_steps(run_D, run_G, steps, logdir):
    """Run `steps` more D+G steps under TensorFlow's profiler, trace written to `logdir`
    (summarise with bench/common/profile_summary.py)."""
    from tensorflow.python.profiler import profiler_v2 as profiler  # also importable under the TF1 shim
    profiler.start(logdir)
    try:
        for _ in range(steps):
            run_D()
            run_G()
    finally:
        profiler.stop()
