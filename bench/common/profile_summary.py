"""Where a profiled training step spends its time: TF op time by op type from a TF profiler trace.

bench/ours/bench_train.py and bench/official/bench_train.py write a trace with `--profile DIR`
(TensorFlow's own profiler, no TensorBoard needed); this sums the executed ops' durations on the
host threads by op type and prints a table (per profiled step, so divide nothing).

Usage:
  python bench/common/profile_summary.py DIR [--top 25] [--steps N]
"""

import argparse
import collections
import glob
import os
import sys


def load_op_times(logdir):
    """{op type: [total seconds, count]} over all TF-op events of the newest trace under `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    files = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True), key=os.path.getmtime)
    if not files:
        raise FileNotFoundError("no *.xplane.pb under %s" % logdir)
    space = xplane_pb2.XSpace()
    with open(files[-1], "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.defaultdict(lambda: [0.0, 0])
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        meta = plane.event_metadata
        for line in plane.lines:
            # TF op executions: metadata name "<node name>:<OpType>" (oneDNN kernels as _Mkl...).
            for event in line.events:
                name = meta[event.metadata_id].name
                if ":" not in name or "::" in name:  # "ExecutorState::Process" etc. are not ops
                    continue
                op_type = name.rsplit(":", 1)[1]
                if not op_type or not (op_type[0].isupper() or op_type.startswith("_Mkl")) or " " in op_type:
                    continue
                totals[op_type][0] += event.duration_ps * 1e-12
                totals[op_type][1] += 1
    return totals


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logdir")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--steps", type=int, default=1, help="number of profiled steps (times are divided by it)")
    args = p.parse_args()
    try:
        totals = load_op_times(args.logdir)
    except (OSError, ValueError) as e:
        sys.exit("profile_summary: %s" % e)
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])
    grand = sum(t for t, _ in totals.values())
    print("%-36s %10s %8s %7s" % ("op type", "s/step", "count", "share"))
    for op, (t, n) in rows[:args.top]:
        print("%-36s %10.4f %8d %6.1f%%" % (op, t / args.steps, n // args.steps, 100.0 * t / max(grand, 1e-12)))
    print("%-36s %10.4f" % ("all ops (summed over threads)", grand / args.steps))


if __name__ == "__main__":
    main()
