"""Build, cache and load the compiled upfirdn2d TensorFlow op (`impl='custom'`).

The op is compiled from the sources next to this file on first use, with the compile and link
flags of the running TensorFlow (`tf.sysconfig`), and cached in

    $STYLEGAN_TF_CACHE_DIR, else $XDG_CACHE_HOME/stylegan_tf, else ~/.cache/stylegan_tf

under a key made of the TensorFlow version, the flags, the compiler and the hash of the sources,
so a TensorFlow upgrade or an edited source gives a fresh build and anything else reuses it.
The compiler is $STYLEGAN_TF_CXX, else $CXX, else g++. The CUDA kernel is added only when nvcc
($STYLEGAN_TF_NVCC, else nvcc on PATH or in $CUDA_HOME/bin) exists, TensorFlow is a CUDA build and
a GPU is visible; STYLEGAN_TF_CUDA=0 turns it off.

Nothing here is needed to install or run the project: `load_upfirdn2d()` returns None after one
warning that names the cause (no compiler, no TensorFlow headers, compile error, ABI mismatch
when loading), and callers then use the TensorFlow-ops implementation.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings

try:
    import fcntl
except ImportError:  # not POSIX: no inter-process build lock
    fcntl = None

CACHE_ENV = "STYLEGAN_TF_CACHE_DIR"
CXX_ENV = "STYLEGAN_TF_CXX"
NVCC_ENV = "STYLEGAN_TF_NVCC"
CUDA_ENV = "STYLEGAN_TF_CUDA"
SRC_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("upfirdn2d_plan.h", "upfirdn2d_op.cc", "upfirdn2d_kernel.cu")
LIB_NAME = "stylegan_tf_upfirdn2d.so"
CXX_FLAGS = ("-O3", "-shared", "-fPIC", "-w", "-fno-math-errno")
NVCC_FLAGS = ("-O3", "-std=c++17", "-Xcompiler", "-fPIC", "--expt-relaxed-constexpr")


class BuildError(RuntimeError):
    """The op could not be built or loaded; the message says why."""


def cache_dir():
    """Root of the build cache (see the module docstring)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                            "stylegan_tf")
    return root


def source_hash():
    """SHA-256 over the op's source files (names and contents)."""
    h = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(SRC_DIR, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def _find_nvcc():
    path = os.environ.get(NVCC_ENV)
    if path:
        return shutil.which(path)
    found = shutil.which("nvcc")
    if found:
        return found
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    return shutil.which(os.path.join(cuda_home, "bin", "nvcc"))


def _cuda_home(nvcc):
    """$CUDA_HOME, else the toolkit nvcc belongs to, else /usr/local/cuda."""
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home:
        return home
    home = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    return home if os.path.exists(os.path.join(home, "include", "cuda_runtime.h")) else "/usr/local/cuda"


def _want_cuda(tf):
    if os.environ.get(CUDA_ENV, "").strip() == "0":
        return None
    if not tf.test.is_built_with_cuda() or not tf.config.list_physical_devices("GPU"):
        return None
    return _find_nvcc()


def build_config():
    """Everything the built library depends on, besides the sources."""
    import tensorflow as tf
    cxx = os.environ.get(CXX_ENV) or os.environ.get("CXX") or "g++"
    return {
        "tf_version": tf.__version__,
        "compile_flags": tuple(tf.sysconfig.get_compile_flags()),
        "link_flags": tuple(tf.sysconfig.get_link_flags()),
        "include": tf.sysconfig.get_include(),
        "cxx": cxx,
        "cxx_path": shutil.which(cxx),
        "cxx_flags": CXX_FLAGS,
        "nvcc": _want_cuda(tf),
        "nvcc_flags": NVCC_FLAGS,
        "python_platform": sys.platform,
    }


def build_key(config, src_hash):
    """Cache key: TensorFlow version plus a digest of the configuration and the sources."""
    h = hashlib.sha256(repr(sorted(config.items())).encode() + src_hash.encode()).hexdigest()[:16]
    cuda = "-cuda" if config["nvcc"] else ""
    return f"tf{config['tf_version']}-{h}{cuda}"


def _run(cmd, what):
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        raise BuildError(f"{what} could not be started: {e}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise BuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:2])} ...\n{tail}")


def build(root=None, config=None):
    """Build the library unless the cache already holds it. Returns (path, built)."""
    config = config or build_config()
    if not config["cxx_path"]:
        raise BuildError(f"no C++ compiler: {config['cxx']!r} was not found "
                         f"(install g++ or point ${CXX_ENV} at one)")
    if not os.path.exists(os.path.join(config["include"], "tensorflow", "core", "framework", "op_kernel.h")):
        raise BuildError(f"TensorFlow C++ headers not found under {config['include']!r}")
    out_dir = os.path.join(root or cache_dir(), "upfirdn2d", build_key(config, source_hash()))
    lib = os.path.join(out_dir, LIB_NAME)
    if os.path.exists(lib):
        return lib, False
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, ".lock"), "w") as lock:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent first uses: one builds, the others wait
        try:
            if os.path.exists(lib):
                return lib, False
            print("stylegan_tf: compiling upfirdn2d for this TensorFlow, once, ~10 s (cached in %s)" % out_dir,
                  file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
                _compile(config, tmp)
                os.replace(os.path.join(tmp, LIB_NAME), lib)  # atomic
        finally:
            if fcntl:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return lib, True


def _compile(config, tmp):
    cc = os.path.join(SRC_DIR, "upfirdn2d_op.cc")
    cmd = [config["cxx_path"], *config["cxx_flags"], *config["compile_flags"], f"-I{SRC_DIR}", cc]
    if config["nvcc"]:
        cuda_home = _cuda_home(config["nvcc"])
        obj = os.path.join(tmp, "upfirdn2d_kernel.o")
        _run([config["nvcc"], *config["nvcc_flags"], f"-I{SRC_DIR}", "-c",
              os.path.join(SRC_DIR, "upfirdn2d_kernel.cu"), "-o", obj], "nvcc (CUDA kernel)")
        cmd += ["-DSTYLEGAN_TF_WITH_CUDA", f"-I{cuda_home}/include",
                f"-I{config['include']}/third_party/gpus/cuda/include", obj,
                f"-L{cuda_home}/lib64", f"-L{cuda_home}/lib", "-lcudart"]
    cmd += ["-o", os.path.join(tmp, LIB_NAME), *config["link_flags"]]
    _run(cmd, f"C++ compiler {config['cxx']!r}")


_lock = threading.Lock()
_state = {"done": False, "module": None, "error": None, "path": None}


def load_upfirdn2d():
    """The loaded op module (once per process), or None after a single warning saying why."""
    with _lock:
        if not _state["done"]:
            try:
                _state["module"], _state["path"] = _load()
            except Exception as e:  # BuildError, or e.g. an unwritable cache directory
                if not isinstance(e, BuildError):
                    e = f"{type(e).__name__}: {e}"
                _state["error"] = str(e)
                warnings.warn(f"stylegan_tf: the compiled upfirdn2d op is unavailable, using impl='ref' "
                              f"instead. Cause: {e}", RuntimeWarning, stacklevel=3)
            _state["done"] = True
        return _state["module"]


def _load():
    import tensorflow as tf
    path, _ = build()
    try:
        return tf.load_op_library(path), path
    except Exception as e:  # NotFoundError for undefined symbols, AlreadyExistsError, ...
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        hint = " (ABI mismatch between the compiler and TensorFlow?)" if "undefined symbol" in str(e) else ""
        raise BuildError(f"loading {path} failed{hint}: {msg}") from None
