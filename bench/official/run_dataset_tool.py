"""Runs NVIDIA's official StyleGAN `dataset_tool.py` unmodified on TensorFlow 2.x, for side-by-side
benchmarks and parity checks only (never imported by the package or the tests).

    python bench/official/run_dataset_tool.py [--official_dir DIR] <dataset_tool args...>
    e.g. python bench/official/run_dataset_tool.py create_from_images /tmp/out /tmp/pngs --shuffle 1

The official checkout is NOT part of this repository; point --official_dir at a clone of
NVlabs/stylegan. Runtime shims installed before the official code is imported:
  * `tf.compat.v1` with v2 behaviour disabled, installed as sys.modules['tensorflow'];
  * NumPy 2 stand-ins (shim.py's): `ndarray.tostring` (= tobytes) and binary `np.fromstring` (= frombuffer);
  * `PIL.Image.ANTIALIAS` = LANCZOS;
  * stub `tensorboard` modules (imported by dnnlib/tflib/autosummary.py, unused here);
  * when OpenCV is not installed, a stub `cv2` whose `imdecode` returns None: create_lsun imports
    cv2 unconditionally but treats a None decode as failure and falls back to its own PIL path.
The official directory goes first on sys.path so its `dnnlib` / `training` packages are used, not
ours (the names clash; that is why this runs in its own process).

Prints one line `OFFICIAL_TIMING {"command": ..., "seconds": ..., "images": ...}` with the wall
time and CPU time of the command function itself (TensorFlow import and start-up excluded).
"""

import json
import os
import runpy
import sys
import time
import types

import shim  # bench/official/shim.py (this script's directory is on sys.path)


def install_shims():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    shim.install_numpy_shims()

    import PIL.Image
    if not hasattr(PIL.Image, "ANTIALIAS"):
        PIL.Image.ANTIALIAS = PIL.Image.LANCZOS

    for name in ("tensorboard", "tensorboard.summary", "tensorboard.plugins",
                 "tensorboard.plugins.custom_scalar", "tensorboard.plugins.custom_scalar.layout_pb2"):
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
    sys.modules["tensorboard"].summary = sys.modules["tensorboard.summary"]

    try:
        import cv2  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        cv2 = types.ModuleType("cv2")
        cv2.imdecode = lambda buf, flags=None: None
        sys.modules["cv2"] = cv2

    import tensorflow as tf2
    v1 = tf2.compat.v1
    v1.disable_v2_behavior()
    sys.modules["tensorflow"] = v1


def main(argv):
    official_dir = None
    if len(argv) >= 2 and argv[0] == "--official_dir":
        official_dir, argv = argv[1], argv[2:]
    official_dir = shim.official_dir_from([], default=official_dir)
    official_dir = os.path.abspath(official_dir)
    script = os.path.join(official_dir, "dataset_tool.py")
    if not os.path.isfile(script):
        sys.exit("Error: %s not found; pass --official_dir <clone of NVlabs/stylegan>" % script)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # our repo root
    sys.path[:] = [official_dir] + [p for p in sys.path if os.path.abspath(p or ".") != here]
    for mod in list(sys.modules):
        if mod.split(".")[0] in ("dnnlib", "training"):
            del sys.modules[mod]
    install_shims()
    os.chdir(os.getcwd())
    ns = runpy.run_path(script, run_name="official_dataset_tool")
    module_globals = ns["execute_cmdline"].__globals__
    if argv and argv[0] in module_globals and callable(module_globals[argv[0]]):
        func = module_globals[argv[0]]
        exporter = module_globals.get("TFRecordExporter")
        counts = []
        if exporter is not None:
            orig_close = exporter.close

            def close(self):
                counts.append(self.cur_images)
                return orig_close(self)
            exporter.close = close

        def timed(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            result = func(*args, **kwargs)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            print("OFFICIAL_TIMING " + json.dumps({"command": argv[0], "seconds": dt, "cpu_seconds": dc,
                                                    "images": sum(counts)}), flush=True)
            return result
        module_globals[argv[0]] = timed
    module_globals["execute_cmdline"]([script] + list(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
