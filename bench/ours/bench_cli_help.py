"""Wall time of `--help` for `stylegan-tf` and each of its tools, in fresh processes (what a user waits
for; no TensorFlow import may happen before parsing). Rounds are interleaved across tools; prints the
median and the worst per tool.

    python bench/ours/bench_cli_help.py [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import stylegan_tf_cli
    commands = [[]] + [[tool] for tool in stylegan_tf_cli.TOOLS]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    times = {" ".join(c) or "(none)": [] for c in commands}
    for _ in range(args.rounds):
        for c in commands:
            start = time.perf_counter()
            subprocess.run([sys.executable, os.path.join(ROOT, "stylegan_tf_cli.py")] + c + ["--help"], env=env,
                           stdout=subprocess.DEVNULL, check=True)
            times[" ".join(c) or "(none)"].append(time.perf_counter() - start)
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    print("| `stylegan-tf ... --help` | median s | worst s |")
    print("|---|---|---|")
    for name, t in times.items():
        print("| %s | %.2f | %.2f |" % (name, statistics.median(t), max(t)))


if __name__ == "__main__":
    main()
