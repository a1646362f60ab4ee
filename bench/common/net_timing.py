"""Flags and timing loop shared by bench/ours/bench_networks.py (ours) and bench/official/bench_networks.py
(the official networks): pure Python, so both processes can import it."""

import time


def add_net_args(p):
    """The flags both network benchmarks take (argparse)."""
    p.add_argument("--res", default="64,256", help="comma-separated resolutions")
    p.add_argument("--nets", default="G,D", help="comma-separated subset of G,D")
    p.add_argument("--minibatch", type=int, default=8)
    p.add_argument("--fmap_base", type=int, default=8192)
    p.add_argument("--fmap_max", type=int, default=512)
    p.add_argument("--latent_size", type=int, default=512)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--structure", default="fixed", choices=["fixed", "linear", "recursive"])
    p.add_argument("--json", default=None, help="append one JSON line per measurement to this file")


def check_net_args(p, args):
    """Parse the comma-separated flags and check the ranges (p.error on bad values)."""
    try:
        args.res = [int(r) for r in args.res.split(",") if r]
    except ValueError:
        p.error("--res takes comma-separated integers")
    args.nets = [n for n in args.nets.split(",") if n]
    if any(n not in ("G", "D") for n in args.nets):
        p.error("--nets takes G and/or D")
    if args.minibatch < 1 or args.steps < 1 or args.warmup < 0:
        p.error("--minibatch and --steps must be >= 1, --warmup >= 0")
    return args


def time_steps(step, warmup, steps):
    """Wall seconds of each timed step, and process CPU seconds (all threads) over the timed steps:
    on a shared machine the CPU time per image is the steadier number."""
    for _ in range(warmup):
        step()
    times = []
    cpu0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times, time.process_time() - cpu0
