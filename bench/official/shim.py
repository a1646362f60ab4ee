"""Run NVIDIA's official StyleGAN code (TensorFlow 1) unmodified on TensorFlow 2.21.

For side-by-side benchmarks and parity dumps only; never imported by the package or by CI.
The official checkout is read and executed in place: nothing from it is copied here.

Usage, in a process of its own (the official top-level names `dnnlib` and `training` clash
with ours, so the two must never share an interpreter)::

    from bench.official import shim           # or: import shim (when run from bench/official)
    shim.activate()                           # --official_dir / $STYLEGAN_OFFICIAL_DIR / default
    import dnnlib.tflib as tflib              # the official tflib
    tflib.init_tf()

Every shim below was found necessary empirically (see `SHIMS` for the list and the reason).
"""

import argparse
import importlib
import os
import sys
import types

ENV_VAR = "STYLEGAN_OFFICIAL_DIR"  # or --official_dir: a clone of NVlabs/stylegan (no default)

# name -> why it is needed. Filled in by the _shim_* functions as they are installed.
SHIMS = {}
_ACTIVE_DIR = None


def official_dir_from(argv=None, default=None):
    """Resolve the official checkout: `--official_dir` flag, then $STYLEGAN_OFFICIAL_DIR, then default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--official_dir", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    official_dir = args.official_dir or os.environ.get(ENV_VAR) or default
    if not official_dir:
        raise SystemExit("error: give --official_dir or set $%s to a clone of NVlabs/stylegan" % ENV_VAR)
    return official_dir


def add_official_dir_arg(parser):
    parser.add_argument("--official_dir", default=os.environ.get(ENV_VAR),
                        help="official NVlabs/stylegan checkout (default: $%s)" % ENV_VAR)


# ----------------------------------------------------------------------------------------------
# Individual shims.

def _shim_tensorflow(skip=()):
    """`import tensorflow as tf` in the official code must yield the TF1 API in graph mode."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    # oneDNN stays enabled: the NCHW conv/pool kernels on CPU need it.
    import tensorflow as real_tf
    v1 = real_tf.compat.v1
    v1.disable_v2_behavior()  # graph mode, v1 TensorShape (Dimension objects with .value), v1 variables

    class Session(v1.Session):
        # Network.run() pins its ops to /gpu:0; on a CPU-only machine they must fall back to the CPU.
        def __init__(self, target="", graph=None, config=None):
            config = v1.ConfigProto() if config is None else config
            config.allow_soft_placement = True
            super().__init__(target, graph, config)

    class InteractiveSession(v1.InteractiveSession):
        def __init__(self, target="", graph=None, config=None):
            config = v1.ConfigProto() if config is None else config
            config.allow_soft_placement = True
            super().__init__(target, graph, config)

    def get_variable(name, shape=None, *args, **kwargs):
        # G_synthesis creates noise variables with shape [1, use_noise(=True), r, r]; current protobuf
        # rejects a bool in TensorShapeProto.Dim.size.
        if shape is not None and not isinstance(shape, v1.TensorShape):
            shape = [int(d) if isinstance(d, bool) else d for d in shape]
        return v1.get_variable(name, shape, *args, **kwargs)

    overrides = {}
    if "Session" not in skip:
        overrides.update(Session=Session, InteractiveSession=InteractiveSession)
    if "get_variable" not in skip:
        overrides.update(get_variable=get_variable)

    mod = types.ModuleType("tensorflow", "tf.compat.v1 (v2 behaviour disabled) for the official StyleGAN code")
    mod.__dict__.update(overrides)
    mod.__path__ = list(real_tf.__path__)  # `from tensorflow.python.ops import nccl_ops` keeps working
    mod.__version__ = real_tf.__version__
    mod.__getattr__ = lambda name: getattr(v1, name)  # PEP 562: everything else is tf.compat.v1
    mod._real_tf = real_tf
    sys.modules["tensorflow"] = mod

    # training/dataset.py: prefetch(numpy int) -> prefetch(int).
    from tensorflow.python.data.ops import dataset_ops
    base = dataset_ops.DatasetV2
    if not getattr(base.prefetch, "_stylegan_shim", False):
        orig_prefetch = base.prefetch

        def prefetch(self, buffer_size, *args, **kwargs):
            if hasattr(buffer_size, "dtype") and not hasattr(buffer_size, "op"):
                buffer_size = int(buffer_size)
            return orig_prefetch(self, buffer_size, *args, **kwargs)

        prefetch._stylegan_shim = True
        base.prefetch = prefetch

    SHIMS["tensorflow"] = "tf.compat.v1 with v2 behaviour disabled as sys.modules['tensorflow']"
    if "get_variable" in overrides:
        SHIMS["get_variable"] = "bool dims in get_variable shapes cast to int (noise%d shape [1, True, r, r])"
    if "Session" in overrides:
        SHIMS["Session"] = "sessions get allow_soft_placement (Network.run pins ops to /gpu:0)"
    SHIMS["prefetch"] = "Dataset.prefetch buffer size cast to int (dataset.py passes a NumPy int)"


def _shim_tensorboard():
    """dnnlib/tflib/autosummary.py imports tensorboard at module level (used only to save layouts)."""
    try:
        importlib.import_module("tensorboard.plugins.custom_scalar.layout_pb2")
        return
    except ImportError:
        pass

    def unavailable(*_args, **_kwargs):
        raise RuntimeError("tensorboard is not installed (stub from bench/official/shim.py)")

    names = ["tensorboard", "tensorboard.summary", "tensorboard.plugins",
             "tensorboard.plugins.custom_scalar", "tensorboard.plugins.custom_scalar.layout_pb2"]
    mods = {name: types.ModuleType(name, "stub") for name in names}
    mods["tensorboard.summary"].custom_scalar_pb = unavailable
    for name in ("Layout", "Category", "Chart", "MultilineChartContent", "MarginChartContent"):
        setattr(mods["tensorboard.plugins.custom_scalar.layout_pb2"], name, unavailable)
    for name, mod in mods.items():
        if "." in name:
            parent, child = name.rsplit(".", 1)
            setattr(mods[parent], child, mod)
        mod.__path__ = []
        sys.modules[name] = mod
    SHIMS["tensorboard"] = "stub tensorboard modules for dnnlib/tflib/autosummary.py"


def _set_type_attr(tp, name, value):
    """Add an attribute to a built-in (C) type, e.g. numpy.ndarray, which refuses setattr."""
    import ctypes
    import gc
    tp_dict = gc.get_referents(tp.__dict__)[0]  # the real dict behind the read-only mappingproxy
    tp_dict[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(tp))


def install_numpy_shims():
    """NumPy 2 stand-ins the official code needs (also used by run_dataset_tool.py: the one NumPy shim)."""
    _shim_numpy()


def _shim_numpy():
    import numpy as np
    if not hasattr(np.ndarray, "tostring"):  # removed in NumPy 2.3 (dataset_tool.py uses it)
        _set_type_attr(np.ndarray, "tostring", lambda self, order="C": self.tobytes(order))
        SHIMS["ndarray.tostring"] = "ndarray.tostring -> tobytes (NumPy 2 removed it)"
    try:
        np.fromstring(b"\0\0\0\0", dtype=np.uint8)
    except (ValueError, TypeError):
        orig_fromstring = np.fromstring

        def fromstring(string, dtype=float, count=-1, *, sep="", **kwargs):
            if sep == "":  # binary mode, removed in NumPy 2: frombuffer + copy (fromstring returned a copy)
                return np.frombuffer(string, dtype=dtype, count=count).copy()
            return orig_fromstring(string, dtype=dtype, count=count, sep=sep, **kwargs)

        np.fromstring = fromstring
        SHIMS["np.fromstring"] = "binary np.fromstring -> frombuffer().copy() (training/dataset.py)"


def _shim_pil():
    try:
        import PIL.Image
    except ImportError:
        return
    if not hasattr(PIL.Image, "ANTIALIAS"):
        PIL.Image.ANTIALIAS = PIL.Image.LANCZOS
        SHIMS["PIL.ANTIALIAS"] = "PIL.Image.ANTIALIAS = LANCZOS (removed in Pillow 10)"


def _shim_distutils():
    """dnnlib/util.py: `from distutils.util import strtobool` (distutils is gone from Python 3.12)."""
    try:
        importlib.import_module("distutils.util")
        return
    except ImportError:
        pass

    def strtobool(val):
        val = val.lower()
        if val in ("y", "yes", "t", "true", "on", "1"):
            return 1
        if val in ("n", "no", "f", "false", "off", "0"):
            return 0
        raise ValueError("invalid truth value %r" % (val,))

    pkg = types.ModuleType("distutils")
    util = types.ModuleType("distutils.util")
    util.strtobool = strtobool
    pkg.util = util
    pkg.__path__ = []
    sys.modules["distutils"] = pkg
    sys.modules["distutils.util"] = util
    SHIMS["distutils"] = "distutils.util.strtobool stand-in (Python >= 3.12)"


def _isolate_official_packages(official_dir):
    """Make `dnnlib`, `training`, `metrics` resolve to the official checkout, not to our repo."""
    official_dir = os.path.realpath(official_dir)
    for name in list(sys.modules):
        top = name.split(".")[0]
        if top in ("dnnlib", "training", "metrics"):
            f = getattr(sys.modules[name], "__file__", None) or ""
            if not os.path.realpath(f).startswith(official_dir + os.sep):
                raise RuntimeError("module %r was already imported from %s; the official code must run in "
                                   "a process of its own" % (name, f))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) != official_dir]
    sys.path.insert(0, official_dir)


def activate(official_dir=None, skip=()):
    """Install the runtime shims and put `official_dir` first on sys.path. Returns the directory used.

    `skip`: names of optional shims to leave out ('get_variable', 'Session', 'tensorboard', 'numpy',
    'PIL') -- only to check that each is still needed."""
    global _ACTIVE_DIR
    official_dir = os.path.realpath(official_dir or official_dir_from())
    if _ACTIVE_DIR is not None:
        if _ACTIVE_DIR != official_dir:
            raise RuntimeError("shim already activated for %s" % _ACTIVE_DIR)
        return official_dir
    for sub in ("dnnlib/tflib/network.py", "training/networks_stylegan.py"):
        if not os.path.isfile(os.path.join(official_dir, sub)):
            raise FileNotFoundError("%s is not an official StyleGAN checkout (no %s)" % (official_dir, sub))
    _isolate_official_packages(official_dir)
    _shim_tensorflow(skip)
    if "tensorboard" not in skip:
        _shim_tensorboard()
    if "numpy" not in skip:
        _shim_numpy()
    if "PIL" not in skip:
        _shim_pil()
    _shim_distutils()
    _ACTIVE_DIR = official_dir
    return official_dir


def real_tensorflow():
    """The real (TF2) tensorflow module, after activate()."""
    return sys.modules["tensorflow"]._real_tf


if __name__ == "__main__":
    d = activate()
    import dnnlib.tflib as tflib  # noqa: E402  (official)
    tflib.init_tf()
    print("official dir:", d)
    print("dnnlib from:", sys.modules["dnnlib"].__file__)
    for k, v in SHIMS.items():
        print("  %-18s %s" % (k, v))
