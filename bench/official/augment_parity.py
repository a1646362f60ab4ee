"""Parity of OUR ADA pipeline (stylegan_tf.augment.augment_pipeline) with NVlabs/stylegan2-ada's (TF1).

Two processes, as for every official comparison (the official top-level `dnnlib` / `training` clash with ours):
  official: reads training/augment.py from a stylegan2-ada checkout (never copied), executes it under
            tf.compat.v1 graph mode with the few names it imports stubbed (dnnlib.util.get_obj_by_name,
            tflib.erfinv, training.loss) and `tf.contrib.image.transform` mapped to TF2's
            ImageProjectiveTransformV2 (BILINEAR, zero fill: what contrib's op did), runs every pipeline
            group at several `debug_percentile` values and writes the outputs to an .npz;
  ours:     runs ours on the same inputs and prints max |ours - official| / max |official| per setting.
The 'noise' group adds fresh Gaussian noise even with debug_percentile (in the official code too), so only
its noise scale is compared (through E|out - in|). `--write_fixture` stores the official outputs as
tests/data/augment_official.npz, which tests/test_augment.py checks without the official code.

Usage:
  python bench/official/augment_parity.py --ada_dir /path/to/stylegan2-ada [--write_fixture]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "data", "augment_official.npz")
GROUPS = ["blit", "geom", "color", "filter", "cutout", "bgcfc"]
PERCENTILES = [0.1, 0.35, 0.6, 0.85]
PIPES = {  # stylegan2-ada's train.py --augpipe groups (probability multipliers)
    "blit": dict(xflip=1, rotate90=1, xint=1), "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1), "filter": dict(imgfilter=1),
    "noise": dict(noise=1), "cutout": dict(cutout=1)}
PIPES["bgcfc"] = dict(  # bgcfnc without its noise (random even in debug mode)
    PIPES["blit"], **PIPES["geom"], **PIPES["color"], **PIPES["filter"], **PIPES["cutout"])


def inputs():
    rnd = np.random.RandomState(123)
    rgb = np.tanh(rnd.randn(2, 3, 32, 32)).astype(np.float32)  # values in (-1, 1); 32x32: the band filter's
    gray = np.tanh(rnd.randn(2, 1, 32, 32)).astype(np.float32)  # reflect padding needs more than 21 pixels
    return dict(rgb=rgb, gray=gray)


def settings():
    for group in GROUPS + ["noise"]:
        for kind in ("rgb", "gray") if group in ("color", "noise") else ("rgb",):
            for pct in PERCENTILES:
                yield "%s/%s/%g" % (group, kind, pct), group, kind, pct


OFFICIAL = r'''
import sys, types, json, numpy as np
ada_dir, out = sys.argv[1], sys.argv[2]
import tensorflow as real_tf
v1 = real_tf.compat.v1
v1.disable_v2_behavior()
tf = types.ModuleType("tensorflow")
tf.__dict__.update({k: getattr(v1, k) for k in dir(v1) if not k.startswith("__")})
def transform(images, transforms, output_shape, interpolation="BILINEAR"):
    return real_tf.raw_ops.ImageProjectiveTransformV2(images=images, transforms=transforms,
        output_shape=output_shape, interpolation=interpolation, fill_mode="CONSTANT")
tf.contrib = types.SimpleNamespace(image=types.SimpleNamespace(transform=transform))
sys.modules["tensorflow"] = tf
dnnlib = types.ModuleType("dnnlib"); dnnlib.util = types.SimpleNamespace(get_obj_by_name=None, is_top_level_function=None)
tflib = types.ModuleType("dnnlib.tflib")
from tensorflow.python.ops.distributions import special_math
tflib.erfinv = special_math.erfinv
dnnlib.tflib = tflib
training = types.ModuleType("training"); training.loss = types.ModuleType("training.loss")
sys.modules.update({"dnnlib": dnnlib, "dnnlib.tflib": tflib, "training": training, "training.loss": training.loss})
src = open(ada_dir + "/training/augment.py", encoding="utf-8-sig").read()
mod = types.ModuleType("official_augment"); exec(compile(src, "augment.py", "exec"), mod.__dict__)
data = dict(np.load(sys.argv[3]))
settings = json.loads(sys.argv[4])
results = {}
with v1.Session() as sess:
    for name, pipe, kind, pct in settings:
        x = v1.constant(data[kind])
        y, _ = mod.augment_pipeline(x, None, strength=1, debug_percentile=pct, **pipe)
        results[name] = sess.run(y)
np.savez(out, **results)
'''


def run_official(ada_dir, data):
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(inp, **data)
        todo = [[name, PIPES[group], kind, pct] for name, group, kind, pct in settings()]
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="2")  # NCHW depthwise on CPU
        res = subprocess.run([sys.executable, "-c", OFFICIAL, ada_dir, out, inp, json.dumps(todo)],
                             capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
        if res.returncode != 0:
            raise SystemExit("official side failed:\n" + res.stderr[-3000:])
        return dict(np.load(out))


def run_ours(data):
    sys.path.insert(0, ROOT)
    import tensorflow as tf  # noqa: F401
    from stylegan_tf.augment import augment_pipeline
    results = {}
    for name, group, kind, pct in settings():
        y, _ = augment_pipeline(data[kind], None, strength=1, debug_percentile=pct, **PIPES[group])
        results[name] = y.numpy()
    return results


def compare(ours, official, data, tol=1e-4):
    """Rows (name, relative error, ok); noise: relative error of the mean absolute change."""
    rows = []
    for name, group, kind, pct in settings():
        a, b = ours[name].astype(np.float64), official[name].astype(np.float64)
        if group == "noise":
            da, db = np.abs(a - data[kind]).mean(), np.abs(b - data[kind]).mean()
            err = abs(da - db) / max(db, 1e-12)
            rows.append((name, err, err < 0.1))  # a statistic of independent noise draws: 10%
            continue
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
        rows.append((name, err, err <= tol))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ada_dir", default=os.environ.get("STYLEGAN2_ADA_DIR"), help="NVlabs/stylegan2-ada checkout")
    p.add_argument("--write_fixture", action="store_true", help="store the official outputs for tests/test_augment.py")
    args = p.parse_args()
    if not args.ada_dir:
        p.error("give --ada_dir or set $STYLEGAN2_ADA_DIR")
    data = inputs()
    official = run_official(args.ada_dir, data)
    ours = run_ours(data)
    rows = compare(ours, official, data)
    for name, err, ok in rows:
        print("%-22s %.3g %s" % (name, err, "ok" if ok else "FAIL"))
    print("max relative error (deterministic groups): %.3g" % max(e for n, e, _ in rows if not n.startswith("noise")))
    if args.write_fixture:
        os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
        keep = {k: v for k, v in official.items() if not k.startswith("noise")}
        np.savez_compressed(FIXTURE, **{"input/" + k: v for k, v in data.items()}, **keep)
        print("wrote %s" % FIXTURE)
    sys.exit(0 if all(ok for _, _, ok in rows) else 1)


if __name__ == "__main__":
    main()
