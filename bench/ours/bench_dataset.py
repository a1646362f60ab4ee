"""Dataset benchmarks: our dataset_tool.py vs NVIDIA's official one, parity of their outputs, storage
options, and reader throughput.

    python bench/ours/bench_dataset.py convert [--official_dir DIR] [--count 1000] [--rounds 3]
    python bench/ours/bench_dataset.py parity [--official_dir DIR]
    python bench/ours/bench_dataset.py read [--dataset DIR]

`convert` makes COUNT photo-like 256x256 PNGs (bench/common/dataset_make_pngs.py), converts them with
`create_from_images --shuffle 1` by both tools in separate processes (the official one through
bench/official/run_dataset_tool.py, in the same TensorFlow via tf.compat.v1), alternating, ROUNDS times,
and reports for each tool the best and median images/s of the conversion itself (the
create_from_images call, start-up excluded), the process wall time, the CPU seconds of the process
tree, and the peak RSS. Then it checks parity (same files, record counts and order, every record
parsing to the same shape and data) and measures our opt-in PNG / GZIP storage.

`parity` runs create_from_images (RGB shuffled, grayscale unshuffled), create_from_hdf5 (with a
labels file) and create_lsun (JPEG/WebP values, one corrupt) through both tools on small generated
sources and compares the outputs record by record and the labels exactly.

`read` measures TFRecordDataset throughput (images/s) from local disk per level of detail.
"""

import argparse
import glob
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMON = os.path.join(BENCH, "common")
OFFICIAL_TOOL = os.path.join(BENCH, "official", "run_dataset_tool.py")
WORK_DIR = os.path.join(tempfile.gettempdir(), "stylegan_dataset_bench")

OURS_SNIPPET = r"""
import sys, time, json, resource
sys.path.insert(0, %(repo)r)
import dataset_tool
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
t0, c0 = time.perf_counter(), cpu()
dataset_tool.create_from_images(%(out)r, %(src)r, shuffle=1, quiet=1, **%(extra)r)
print("OURS_TIMING " + json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": cpu() - c0}), flush=True)
"""


def run_timed(cmd, env=None):
    """Runs cmd; returns (stdout, wall seconds, cpu seconds of the process tree, peak RSS MB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), err[-3000:]))
    return out, wall


def _children_usage():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def timing_line(out, tag):
    for line in out.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise RuntimeError("no %s line in output:\n%s" % (tag, out[-2000:]))


def convert_once(tool, src, out_dir, official_dir, extra=None):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    subprocess.run(["sync"], check=False)
    cpu0, _ = _children_usage()
    if tool == "official":
        cmd = [sys.executable, OFFICIAL_TOOL, "--official_dir", official_dir,
               "create_from_images", out_dir, src, "--shuffle", "1"]
        out, wall = run_timed(cmd)
        timing = timing_line(out, "OFFICIAL_TIMING")
    else:
        code = OURS_SNIPPET % dict(repo=REPO, out=out_dir, src=src, extra=extra or {})
        out, wall = run_timed([sys.executable, "-c", code])
        timing = timing_line(out, "OURS_TIMING")
    cpu1, _ = _children_usage()
    return dict(seconds=timing["seconds"], conv_cpu=timing["cpu_seconds"], wall=wall, cpu=cpu1 - cpu0)


def peak_rss_mb(tool, src, out_dir, official_dir):
    """Peak RSS of the largest process of one run (measured in a fresh helper process)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    if tool == "official":
        cmd = [sys.executable, OFFICIAL_TOOL, "--official_dir", official_dir,
               "create_from_images", out_dir, src, "--shuffle", "1"]
    else:
        cmd = [sys.executable, os.path.join(REPO, "dataset_tool.py"), "create_from_images", out_dir, src,
               "--shuffle", "1", "--quiet", "1"]
    p = subprocess.run([sys.executable, "-c", code] + cmd, capture_output=True, text=True, check=True)
    return int(p.stdout.strip().splitlines()[-1]) / 1024.0


def parity(dir_a, dir_b):
    """Same files (modulo the directory basename), record counts and order, equal parsed records."""
    from stylegan_tf.data.tfrecord import decode_example, iter_records
    name_a, name_b = os.path.basename(dir_a), os.path.basename(dir_b)
    files_a = sorted(os.listdir(dir_a))
    files_b = sorted(os.listdir(dir_b))
    result = dict(files_match=[f.replace(name_a, "X", 1) for f in files_a] == [f.replace(name_b, "X", 1) for f in files_b],
                  files=len(files_a), records=0, records_equal=0, records_byte_identical=0, per_file={})
    for fa in files_a:
        fb = fa.replace(name_a, name_b, 1)
        if not fa.endswith(".tfrecords"):
            continue
        ra = list(iter_records(os.path.join(dir_a, fa)))
        rb = list(iter_records(os.path.join(dir_b, fb)))
        eq = sum(decode_example(x) == decode_example(y) for x, y in zip(ra, rb))
        result["per_file"][fa.replace(name_a, "X", 1)] = [len(ra), len(rb), eq]
        result["records"] += max(len(ra), len(rb))
        result["records_equal"] += eq if len(ra) == len(rb) else 0
        result["records_byte_identical"] += sum(x == y for x, y in zip(ra, rb))
    result["ok"] = result["files_match"] and result["records"] == result["records_equal"] and result["records"] > 0
    return result


def dir_bytes(d):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "*")))


def cmd_convert(a):
    src = os.path.join(a.work_dir, "pngs%d" % a.count)
    if len(glob.glob(os.path.join(src, "*.png"))) != a.count:
        subprocess.run([sys.executable, os.path.join(COMMON, "dataset_make_pngs.py"), src, "--count", str(a.count)], check=True)
    png_bytes = dir_bytes(src)
    runs = {"official": [], "ours": []}
    for r in range(a.rounds):
        for tool in (("official", "ours") if r % 2 == 0 else ("ours", "official")):
            res = convert_once(tool, src, os.path.join(a.work_dir, tool), a.official_dir)
            runs[tool].append(res)
            print("round %d %-8s %.2f s conversion (%.1f images/s, %.2f CPU s), %.2f s wall (%.2f CPU s), load %.1f"
                  % (r, tool, res["seconds"], a.count / res["seconds"], res["conv_cpu"], res["wall"], res["cpu"],
                     os.getloadavg()[0]), flush=True)
    summary = {}
    for tool, rs in runs.items():
        secs = [x["seconds"] for x in rs]
        summary[tool] = dict(best_images_per_s=a.count / min(secs), median_images_per_s=a.count / statistics.median(secs),
                             best_wall_s=min(x["wall"] for x in rs), median_cpu_s=statistics.median(x["cpu"] for x in rs),
                             median_conv_cpu_s=statistics.median(x["conv_cpu"] for x in rs),
                             runs=rs)
    for tool in ("official", "ours"):
        summary[tool]["peak_rss_mb"] = peak_rss_mb(tool, src, os.path.join(a.work_dir, tool + "_rss"), a.official_dir)
    summary["speedup_best"] = summary["ours"]["best_images_per_s"] / summary["official"]["best_images_per_s"]
    summary["speedup_median"] = summary["ours"]["median_images_per_s"] / summary["official"]["median_images_per_s"]
    # parity of the last outputs
    convert_once("official", src, os.path.join(a.work_dir, "official"), a.official_dir)
    convert_once("ours", src, os.path.join(a.work_dir, "ours"), a.official_dir)
    summary["parity"] = parity(os.path.join(a.work_dir, "ours"), os.path.join(a.work_dir, "official"))
    summary["png_bytes"] = png_bytes
    summary["raw_bytes"] = dir_bytes(os.path.join(a.work_dir, "ours"))
    # opt-in storage
    storage = {}
    for name, extra in (("png", {"encoding": "png"}), ("gzip", {"compression": "gzip"})):
        res = convert_once("ours", src, os.path.join(a.work_dir, "ours_" + name), a.official_dir, extra)
        storage[name] = dict(bytes=dir_bytes(os.path.join(a.work_dir, "ours_" + name)),
                             images_per_s=a.count / res["seconds"])
    summary["storage"] = storage
    summary["load"] = os.getloadavg()
    print(json.dumps({k: v for k, v in summary.items() if k not in ("official", "ours")}, indent=1))
    for tool in ("official", "ours"):
        s = summary[tool]
        print("%-8s best %.1f images/s, median %.1f images/s, conversion CPU %.2f s (%.0f images per CPU-s); "
              "process: best wall %.2f s, median CPU %.2f s, peak RSS %.0f MB"
              % (tool, s["best_images_per_s"], s["median_images_per_s"], s["median_conv_cpu_s"],
                 a.count / s["median_conv_cpu_s"], s["best_wall_s"], s["median_cpu_s"], s["peak_rss_mb"]))
    print("speedup: best %.2fx, median %.2fx" % (summary["speedup_best"], summary["speedup_median"]))
    print("records / PNG bytes: raw %.2fx, png %.2fx, gzip %.2fx" % (
        summary["raw_bytes"] / png_bytes, storage["png"]["bytes"] / png_bytes, storage["gzip"]["bytes"] / png_bytes))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


def _make_parity_sources(root):
    """Small sources for several commands: RGB and grayscale PNG folders, HDF5 + labels, LSUN LMDB."""
    import io
    import numpy as np
    import PIL.Image
    from dataset_make_pngs import make_image
    rng = np.random.RandomState(0)
    srcs = {}
    d = os.path.join(root, "rgb")
    os.makedirs(d, exist_ok=True)
    for i in range(50):
        PIL.Image.fromarray(make_image(rng, 64)).save(os.path.join(d, "%03d.png" % i))
    srcs["rgb"] = d
    d = os.path.join(root, "gray")
    os.makedirs(d, exist_ok=True)
    for i in range(20):
        PIL.Image.fromarray(make_image(rng, 32)[:, :, 1]).save(os.path.join(d, "%03d.png" % i))
    srcs["gray"] = d
    import h5py
    h5 = os.path.join(root, "celebahq.h5")
    imgs = np.stack([make_image(rng, 32).transpose(2, 0, 1) for _ in range(12)])
    with h5py.File(h5, "w") as f:
        f["data16x16"] = imgs[:, :, ::2, ::2]
        f["data32x32"] = imgs
    np.save(os.path.join(root, "celebahq-labels.npy"), rng.rand(12, 5).astype(np.float32))
    srcs["h5"] = h5
    import lmdb
    d = os.path.join(root, "lmdb")
    env = lmdb.open(d, map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i in range(10):
            img = make_image(rng, 64)[:48 + 2 * i]
            buf = io.BytesIO()
            PIL.Image.fromarray(img).save(buf, format="WEBP" if i % 2 else "JPEG", quality=90)
            txn.put(b"%03d" % i, buf.getvalue())
        txn.put(b"999", b"corrupt value")
    env.close()
    srcs["lmdb"] = d
    return srcs


def cmd_parity(a):
    """Runs several commands through both tools on the same small sources and compares outputs."""
    import numpy as np
    root = os.path.join(a.work_dir, "parity")
    if os.path.exists(root):
        shutil.rmtree(root)
    sys.path.insert(0, COMMON)
    srcs = _make_parity_sources(os.path.join(root, "src"))
    cases = [("create_from_images", [srcs["rgb"], "--shuffle", "1"]),
             ("create_from_images", [srcs["gray"], "--shuffle", "0"]),
             ("create_from_hdf5", [srcs["h5"]]),
             ("create_lsun", [srcs["lmdb"], "--resolution", "32", "--max_images", "8"])]
    all_ok = True
    for i, (cmd, args) in enumerate(cases):
        outs = {}
        for tool in ("official", "ours"):
            out = os.path.join(root, "%s%d" % (tool, i))
            if tool == "official":
                c = [sys.executable, OFFICIAL_TOOL, "--official_dir", a.official_dir, cmd, out] + args
            else:
                c = [sys.executable, os.path.join(REPO, "dataset_tool.py"), cmd, out] + args + ["--quiet", "1"]
            subprocess.run(c, check=True, capture_output=True, text=True)
            outs[tool] = out
        res = parity(outs["ours"], outs["official"])
        labels_ok = True
        la = sorted(glob.glob(os.path.join(outs["ours"], "*.labels")))
        lb = sorted(glob.glob(os.path.join(outs["official"], "*.labels")))
        if la or lb:
            labels_ok = len(la) == len(lb) == 1 and np.array_equal(np.load(la[0]), np.load(lb[0])) \
                and np.load(la[0]).dtype == np.load(lb[0]).dtype
        ok = res["ok"] and labels_ok
        all_ok &= ok
        print("%-20s %-28s files %s, %d records, %d equal after parsing, %d byte-identical, labels %s -> %s" % (
            cmd, " ".join(os.path.basename(x) if os.sep in x else x for x in args), "match" if res["files_match"] else "DIFFER",
            res["records"], res["records_equal"], res["records_byte_identical"],
            ("equal" if labels_ok else "DIFFER") if (la or lb) else "none", "OK" if ok else "MISMATCH"), flush=True)
    print("parity: %s" % ("all OK" if all_ok else "MISMATCH"))
    if not all_ok:
        sys.exit(1)


def cmd_read(a):
    import numpy as np
    import tensorflow as tf  # noqa: F401
    from stylegan_tf.data.reader import TFRecordDataset
    d = TFRecordDataset(a.dataset)
    print("dataset %s: %d images, shape %s" % (a.dataset, d.num_images, d.shape))
    for lod in d.lods:
        res = d.resolution >> lod
        mb = max(8, min(256, 2 ** 20 // (res * res * d.shape[0]) * 4))
        dset = iter(d.get_dataset(lod, mb))
        for _ in range(3):
            next(dset)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < a.seconds:
            images, _ = next(dset)
            n += int(images.shape[0])
        dt = time.perf_counter() - t0
        print("lod %d (%dx%d), minibatch %d: %.0f images/s (%.0f MB/s)" % (
            lod, res, res, mb, n / dt, n / dt * np.prod(images.shape[1:]) / 1e6), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--official_dir", default=os.environ.get("STYLEGAN_OFFICIAL_DIR"), help="clone of NVlabs/stylegan")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--rounds", type=int, default=3)
    c.add_argument("--work_dir", default=WORK_DIR)
    c.add_argument("--json", default=None)
    q = sub.add_parser("parity")
    q.add_argument("--official_dir", default=os.environ.get("STYLEGAN_OFFICIAL_DIR"))
    q.add_argument("--work_dir", default=WORK_DIR)
    r = sub.add_parser("read")
    r.add_argument("--dataset", default=os.path.join(WORK_DIR, "ours"))
    r.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()
    if a.cmd in ("convert", "parity") and not a.official_dir:
        p.error("%s needs --official_dir or $STYLEGAN_OFFICIAL_DIR (a clone of NVlabs/stylegan)" % a.cmd)
    os.makedirs(getattr(a, "work_dir", WORK_DIR), exist_ok=True)
    {"convert": cmd_convert, "parity": cmd_parity, "read": cmd_read}[a.cmd](a)


if __name__ == "__main__":
    main()
