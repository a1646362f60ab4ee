"""Peak memory of one training step per resolution and --batch_gpu: what fits on which card.

Runs bench/ours/bench_train.py (and, with --official, bench/official/bench_train.py) once per setting, each in
a process of its own, at full resolution (lod 0) of the official FFHQ configuration (G_style + D_basic,
fmap_base 8192, fmap_max 512, latent 512, R1 gamma 10, minibatch stddev group 4) and reads its peak memory:
process peak RSS on a CPU, `tf.config.experimental.get_memory_info('GPU:0')['peak']` when a GPU is present.
Each process runs two steps (the first traces); memory does not depend on the machine's load, time does.
Processes run with TF_ENABLE_ONEDNN_OPTS=1 unless set (the official graph needs oneDNN's NCHW kernels on CPUs
where TensorFlow leaves oneDNN off, e.g. AVX2-only ones). Small resolutions measure the traced graph more
than the activations (more rounds = a larger graph), so read the table from 256 up.

Then it fits peak = fixed + per_image x batch_gpu per resolution and dtype (least squares over the measured
batch_gpu values) and prints which --batch_gpu fits 8, 12, 16, 24, 40 and 80 GB at each resolution (rows
that use the fit beyond the measured batch_gpu values are marked 'extrapolated').

Usage:
  python bench/ours/bench_memory.py --res 64,128,256,512,1024 --batch_gpu 1,2,4 --minibatch 4
      [--dtype float32,bfloat16] [--official] [--json FILE] [--skip RES:DTYPE:N,...]
  python bench/ours/bench_memory.py --table FILE      # only the fit and the table, from a --json file
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CARDS_GB = (8, 12, 16, 24, 40, 80)


def run_one(script, res, minibatch, batch_gpu, dtype, json_path):
    cmd = [sys.executable, script, "--res", str(res), "--fmap_base", "8192", "--minibatch", str(minibatch),
           "--lod", "0", "--warmup", "1", "--steps", "1"]
    if batch_gpu is not None:
        cmd += ["--batch_gpu", str(batch_gpu)]
    if dtype != "float32":
        cmd += ["--dtype", dtype]
    # oneDNN on: the official code's NCHW kernels exist on CPUs where TF leaves it off (AVX2-only); both alike.
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"))
    res_ = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    lines = [line for line in res_.stdout.splitlines() if line.startswith("{")]
    if res_.returncode != 0 or not lines:
        print("FAILED (%d): %s\n%s" % (res_.returncode, " ".join(cmd), res_.stderr[-1500:]), flush=True)
        return None
    rec = json.loads(lines[-1])
    rec["command"] = " ".join(["python", os.path.relpath(script, ROOT)] + cmd[2:])
    with open(json_path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print("%-8s %-8s res %-5d minibatch %-3d batch_gpu %-4s peak %s MB  (%.0f s/step)" % (
        rec["impl"], rec.get("dtype", "float32"), res, minibatch, batch_gpu, _peak_mb(rec), rec["sec_per_step"]),
        flush=True)
    return rec


def _peak_mb(rec):
    return rec.get("gpu_peak_mb") or rec["peak_rss_mb"]


def table(records):
    """Per (impl, dtype, res): the measured peaks, the fit and the largest batch_gpu per card size."""
    groups = {}
    for rec in records:
        n = rec.get("batch_gpu") or rec["minibatch"]
        groups.setdefault((rec["impl"], rec.get("dtype", "float32"), rec["res"]), {})[n] = _peak_mb(rec)
    print("\n| impl | dtype | res | peak MB by batch_gpu (measured) | fixed MB + MB/image (fit) | "
          + " | ".join("%d GB" % g for g in CARDS_GB) + " |")
    print("|---|---|---:|---|---|" + "---:|" * len(CARDS_GB))
    for (impl, dtype, res), peaks in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        ns = sorted(peaks)
        measured = ", ".join("%d: %.0f" % (n, peaks[n]) for n in ns)
        if len(ns) >= 2:
            per_image, fixed = np.polyfit(ns, [peaks[n] for n in ns], 1)
        else:
            per_image, fixed = peaks[ns[0]] / ns[0], 0.0
        cells = []
        for gb in CARDS_GB:
            fit_n = int((gb * 1024 - fixed) // per_image) if per_image > 0 else 0
            fits = [n for n in (1, 2, 4, 8, 16, 32) if n <= fit_n]
            best = max(fits) if fits else 0
            mark = "" if best in ns or best == 0 else "*"
            cells.append(("%d%s" % (best, mark)) if best else "-")
        print("| %s | %s | %d | %s | %.0f + %.0f | %s |" % (impl, dtype, res, measured, fixed, per_image,
                                                           " | ".join(cells)))
    print("\n(* extrapolated from the fit: that batch_gpu was not measured; - : not even 1 fits)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", default="64,128,256,512,1024")
    p.add_argument("--batch_gpu", default="1,2,4")
    p.add_argument("--minibatch", type=int, default=4, help="the per-GPU minibatch (official 1-GPU value at 512-1024)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--official", action="store_true", help="also the official step (unsplit minibatch)")
    p.add_argument("--skip", default="", help="RES:DTYPE:N settings not to run (e.g. too large for this machine)")
    p.add_argument("--json", default=os.path.join(HERE, "results_memory.jsonl"))
    p.add_argument("--table", default=None, metavar="FILE", help="only print the table of a --json file")
    args = p.parse_args()
    if args.table:
        table([json.loads(line) for line in open(args.table) if line.strip()])
        return
    skip = {s for s in args.skip.split(",") if s}
    records = []
    for res in [int(r) for r in args.res.split(",")]:
        for dtype in args.dtype.split(","):
            for n in [int(b) for b in args.batch_gpu.split(",")]:
                if "%d:%s:%d" % (res, dtype, n) in skip or n > args.minibatch:
                    continue
                rec = run_one(os.path.join(HERE, "bench_train.py"), res, args.minibatch, n, dtype, args.json)
                records += [rec] if rec else []
        if args.official:
            rec = run_one(os.path.join(ROOT, "bench", "official", "bench_train.py"), res, args.minibatch, None,
                          "float32", args.json)
            records += [rec] if rec else []
    table(records)


if __name__ == "__main__":
    main()
