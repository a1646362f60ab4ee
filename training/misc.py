"""Miscellaneous training utilities: safe pickle I/O and image grids."""

import contextlib
import os
import pickle
import tempfile

import numpy as np
import PIL.Image

import dnnlib

# ----------------------------------------------------------------------------
# Network pickles.

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


@contextlib.contextmanager
def atomic_write(filename, mode="wb", fsync=False):
    """Open a hidden temp file beside `filename`; on success rename it over `filename` (with the
    permissions a plainly created file gets), on any error remove it: readers never see a partial file."""
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(filename) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
    with atomic_write(filename, "wb", fsync=True) as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def write_text_atomic(filename, text):
    """Write a text file atomically (temp file in the same directory, then rename)."""
    with atomic_write(filename, "w") as f:
        f.write(text)


# ----------------------------------------------------------------------------
# Images.


def adjust_dynamic_range(data, drange_in, drange_out):
    """Linearly map values from `drange_in` to `drange_out` (float32 arithmetic as the official code)."""
    if drange_in != drange_out:
        scale = (np.float32(drange_out[1]) - np.float32(drange_out[0])) / (
            np.float32(drange_in[1]) - np.float32(drange_in[0]))
        bias = np.float32(drange_out[0]) - np.float32(drange_in[0]) * scale
        data = data * scale + bias
    return data


def create_image_grid(images, grid_size=None):
    """Tile [N, C, H, W] (or [N, H, W]) images into one [C, gh*H, gw*W] grid, row-major."""
    assert images.ndim in (3, 4)
    num, img_h, img_w = images.shape[0], images.shape[-2], images.shape[-1]
    if grid_size is not None:
        grid_w, grid_h = tuple(grid_size)
    else:
        grid_w = max(int(np.ceil(np.sqrt(num))), 1)
        grid_h = max((num - 1) // grid_w + 1, 1)
    grid = np.zeros(list(images.shape[1:-2]) + [grid_h * img_h, grid_w * img_w], dtype=images.dtype)
    for idx in range(min(num, grid_w * grid_h)):
        x = (idx % grid_w) * img_w
        y = (idx // grid_w) * img_h
        grid[..., y:y + img_h, x:x + img_w] = images[idx]
    return grid


def convert_to_pil_image(image, drange=(0, 1)):
    """A CHW (or HW) float image in `drange` as a PIL image (RGB or L)."""
    assert image.ndim in (2, 3)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    image = adjust_dynamic_range(image, drange, [0, 255])
    image = np.rint(image).clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(image, "RGB" if image.ndim == 3 else "L")


def save_image(image, filename, drange=(0, 1)):
    """Save one CHW image as PNG/JPEG (by extension), atomically."""
    _save_pil_atomic(convert_to_pil_image(image, drange), filename)


def save_image_grid(images, filename, drange=(0, 1), grid_size=None):
    """Save [N, C, H, W] images as one grid image, atomically."""
    _save_pil_atomic(convert_to_pil_image(create_image_grid(images, grid_size), drange), filename)


def _save_pil_atomic(img, filename):
    with atomic_write(filename, "wb") as f:
        img.save(f, format="JPEG" if filename.lower().endswith((".jpg", ".jpeg")) else "PNG")
