"""The demo's learning curve: SWD and the digit-classifier metric per kimg for several seeds, and the
wall time of `python train.py` (the demo) per kimg.

Usage (run under the shared lock; about 10-15 minutes per seed on a quiet 2-core CPU):
  flock /tmp/heavy.lock python bench/ours/demo_learning.py --seeds 1000,1001,1002 [--total_kimg K]
      [--snapshot_ticks 2] [--swd_images 1024] [--digit_images 1000] [--set group.key=value ...] [--json FILE]

For each seed: the untrained generator (built as the training loop builds it: same preset, same
seed) is the kimg-0 point; then `train.py` runs the demo preset with a network snapshot every
--snapshot_ticks ticks, and every snapshot is evaluated (metric seed 123, so runs are comparable) with
the metrics tests/test_demo_learns.py uses: SWD (swd16k's procedure on --swd_images images, reported
as `swd_<res>`, `swd_avg`) and the digit classifier (digits10k's on --digit_images, `digits_fd`,
`digits_conf`, `digits_entropy`).
Wall time: the whole `train.py` process (dataset, network construction, tracing, training,
snapshots) and the training loop's own `sec/kimg` per tick. Prints a table and a JSON object.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

TICK_RE = re.compile(r"^tick\s+(\d+)\s+kimg\s+([\d.]+)\s+lod\s+([\d.]+).*?sec/kimg\s+([\d.]+)")


def untrained_generator_pkl(run_dir, seed, overrides):
    """network-untrained.pkl: Gs as the loop constructs it before the first step (kimg 0)."""
    import keras
    import numpy as np
    import dnnlib.tflib as tflib
    import train
    from stylegan_tf import legacy
    from stylegan_tf.data.demo import get_demo_dataset
    from stylegan_tf.data.info import inspect_dataset
    c = train.build_config("demo", 1, overrides)
    demo = c.dataset.get("demo", {})
    info = inspect_dataset(get_demo_dataset(**(demo if isinstance(demo, dict) else {})))
    # The demo is class-conditional (dataset.max_label_size): G embeds the dataset's one-hot labels.
    label_size = np.load(info.label_file).shape[1] if c.dataset.get("max_label_size") and info.label_file else 0
    keras.utils.set_random_seed(seed)
    G = tflib.Network("G", num_channels=info.shape[0], resolution=info.resolution, label_size=label_size, **c.G)
    pkl = os.path.join(run_dir, "network-untrained.pkl")
    legacy.save_pkl(G.clone("Gs"), pkl)
    return pkl


def evaluate(run_dir, pkls, swd_images, digit_images, cache_dir):
    from metrics import metric_base
    metrics = [dict(metric_base.swd2k, name="swd", num_images=swd_images),
               dict(metric_base.digits1k, name="digits", num_images=digit_images)]
    group = metric_base.MetricGroup(metrics, cache_dir=cache_dir, seed=123, progress=False)
    out = {}
    for pkl in pkls:
        m = re.search(r"(\d{6})\.pkl$", pkl)
        kimg = int(m.group(1)) if m else 0  # network-untrained.pkl
        group.run(pkl, run_dir=run_dir, num_gpus=1)
        res = group.get_results()
        out[pkl] = dict(kimg=kimg, **res)
    return out


def run_seed(seed, args, cache_dir):
    result_dir = tempfile.mkdtemp(prefix="demo-learning-%d-" % seed)
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--result_dir=%s" % result_dir, "--seed=%d" % seed,
           "--set=train.network_snapshot_ticks=%d" % args.snapshot_ticks]
    cmd += ["--set=%s" % s for s in args.set]
    if args.total_kimg:
        cmd.append("--total_kimg=%g" % args.total_kimg)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit("train.py failed (seed %d):\n%s" % (seed, proc.stdout[-3000:]))
    run_dir = glob.glob(os.path.join(result_dir, "0*"))[0]
    ticks = [dict(tick=int(m.group(1)), kimg=float(m.group(2)), lod=float(m.group(3)), sec_per_kimg=float(m.group(4)))
             for m in map(TICK_RE.match, open(os.path.join(run_dir, "log.txt")).read().splitlines()) if m]
    pkls = [untrained_generator_pkl(run_dir, seed, args.set)]
    pkls += sorted(glob.glob(os.path.join(run_dir, "network-snapshot-*.pkl")))
    t1 = time.time()
    values = evaluate(run_dir, pkls, args.swd_images, args.digit_images, cache_dir)
    return dict(seed=seed, run_dir=run_dir, wall_sec=wall, eval_sec=time.time() - t1, ticks=ticks,
                snapshots=[values[p] for p in pkls])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="1000,1001,1002")
    p.add_argument("--total_kimg", type=float, default=None, help="default: the demo preset's")
    p.add_argument("--snapshot_ticks", type=int, default=2)
    p.add_argument("--swd_images", type=int, default=1024)
    p.add_argument("--digit_images", type=int, default=1000)
    p.add_argument("--set", action="append", default=[], help="extra train.py --set override")
    p.add_argument("--cache_dir", default=None, help="metric cache (digit classifier, real statistics)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="demo-learning-cache-")
    runs = [run_seed(int(s), args, cache_dir) for s in args.seeds.split(",")]
    for r in runs:
        total_kimg = r["ticks"][-1]["kimg"]
        print("seed %d: train.py wall %.0f s for %.1f kimg (%.1f s/kimg overall); metrics took %.0f s"
              % (r["seed"], r["wall_sec"], total_kimg, r["wall_sec"] / total_kimg, r["eval_sec"]))
        print("  sec/kimg per tick: " + " ".join("%.1f@%.0f" % (t["sec_per_kimg"], t["kimg"]) for t in r["ticks"]))
        keys = [k for k in r["snapshots"][0] if k != "kimg"]
        print("  %6s " % "kimg" + " ".join("%16s" % k for k in keys))
        for s in r["snapshots"]:
            print("  %6d " % s["kimg"] + " ".join("%16.4f" % s[k] for k in keys))
    out = dict(command=" ".join(sys.argv), runs=runs)
    print(json.dumps(out))
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
