"""Network pickles, ours and NVIDIA's: the one loader and saver (`load_pkl`, `save_pkl`).

A pickle holds `dnnlib.tflib.network.Network` objects (usually the tuple `(G, D, Gs)`) whose state
uses the official layout and names, so official snapshots load here and ours load in the official
code. Loading goes through a restricted unpickler: only dnnlib networks and NumPy arrays may be
referenced, so a pickle cannot run code, and the source embedded in official pickles is never run.
"""

import os
import pickle

import dnnlib

# Everything a network pickle (ours or NVIDIA's) may reference. Anything else is refused.
_PICKLE_ALLOWED = {
    ("dnnlib.tflib.network", "Network"),
    ("dnnlib.util", "EasyDict"),
    ("collections", "OrderedDict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle references something outside the network-pickle allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _PICKLE_ALLOWED:
            raise UnsafePickleError("refusing to load %s.%s: network pickles may only reference dnnlib networks "
                                    "and NumPy arrays" % (module, name))
        if module.startswith("numpy.core."):
            module = "numpy._core." + module[len("numpy.core."):]  # NumPy 1.x pickles on NumPy 2
        return super().find_class(module, name)


def load_pkl_from_file(file, source="<file>"):
    """Unpickle network(s) from an open binary file with the restricted unpickler."""
    try:
        return _RestrictedUnpickler(file, encoding="latin1").load()
    except UnsafePickleError as e:
        raise UnsafePickleError("%s: %s" % (source, e)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        raise pickle.UnpicklingError("%s: not a valid network pickle (%s: %s)" % (source, type(e).__name__, e)) from e


def load_pkl(file_or_url, cache_dir=None):
    """Load a pickle of network(s) (e.g. `G, D, Gs`) from a path or URL (downloads are cached).

    Only dnnlib networks and NumPy arrays are accepted; a pickle that would import or call
    anything else raises UnsafePickleError. NVIDIA's official pickles load without TensorFlow 1
    and without running the source code embedded in them.
    """
    if not dnnlib.util.is_url(file_or_url, allow_file_urls=True) and not os.path.isfile(file_or_url):
        raise FileNotFoundError("network pickle not found: %s" % file_or_url)
    try:
        f = dnnlib.util.open_url(file_or_url, cache_dir=cache_dir)
    except dnnlib.util.DownloadError as e:
        raise pickle.UnpicklingError("%s: %s" % (file_or_url, e)) from None
    with f:
        return load_pkl_from_file(f, source=str(file_or_url))


def save_pkl(obj, filename):
    """Pickle `obj` atomically: a temp file in the same directory, fsynced, then renamed over `filename`."""
    with dnnlib.util.atomic_write(filename, "wb", fsync=True) as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
