"""Image decoding, colour-mode normalisation, geometric transforms and the parallel conversion loop
used by `dataset_tool.py` (no TensorFlow here: worker processes start fast).

Worker functions return one of
  ('ok', shape, records, notices)   the image's per-level serialised records,
  ('bad', message)                  an undecodable / truncated input (skippable with --skip_bad),
  ('error', message)                an input that does not fit the dataset (always fatal),
  ('skip', None)                    an input the command skips by design (create_lsun_wide).
"""

import io
import os
import signal
import sys
import warnings

import numpy as np

import dnnlib
from stylegan_tf.data.levels import encode_levels, image_levels
from stylegan_tf.data.tfrecord import DatasetError
from stylegan_tf.data.writer import write_direct

TRANSFORMS = ("center-crop", "pad", "resize")


def _pil():
    import PIL.Image
    PIL.Image.MAX_IMAGE_PIXELS = None  # photos can be large; we never decompress untrusted archives
    return PIL.Image


def open_image(src, name: str):
    """Opens and fully decodes an image from a path or bytes; raises ValueError('...') when bad."""
    Image = _pil()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src)
            img.load()
    except Exception as e:  # pylint: disable=broad-except
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError("cannot decode image: %s" % msg)
    return img


def normalize_mode(img, notices: list):
    """Converts any Pillow mode to 'L' or 'RGB', appending a notice for every lossy conversion."""
    Image = _pil()
    mode = img.mode
    if mode in ("L", "RGB"):
        return img
    if mode == "1":
        return img.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        if mode == "I" and arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError("32-bit integer image with values outside 0..65535")
        notices.append("16-bit grayscale image reduced to 8 bits")
        return Image.fromarray(np.rint(arr / 257.0).clip(0, 255).astype(np.uint8), "L")
    if mode == "F":
        raise ValueError("floating-point image (mode F) is not supported")
    if mode == "P":
        if "transparency" in img.info:
            notices.append("palette image with transparency converted to RGB (alpha dropped)")
            return img.convert("RGBA").convert("RGB")
        notices.append("palette image converted to RGB")
        return img.convert("RGB")
    if mode in ("LA", "La"):
        notices.append("grayscale+alpha image converted to grayscale (alpha dropped)")
        return img.convert("L")
    if mode in ("RGBA", "RGBa", "PA"):
        notices.append("%s image converted to RGB (alpha dropped)" % mode)
        return img.convert("RGB")
    if mode == "RGBX":
        return img.convert("RGB")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notices.append("%s image converted to RGB" % mode)
        return img.convert("RGB")
    notices.append("%s image converted to RGB" % mode)
    return img.convert("RGB")


def largest_pow2(n: int) -> int:
    return 1 << (int(n).bit_length() - 1) if n >= 1 else 0


def apply_transform(img, spec: dict):
    """Geometric transform of a Pillow image per spec['transform'] (None = unchanged)."""
    Image = _pil()
    transform = spec.get("transform")
    if transform is None:
        return img
    w, h = img.size
    if transform == "center-crop":  # the official LSUN crop, then resize
        res = spec["resolution"]
        crop = min(w, h)
        img = img.crop(((w - crop) // 2, (h - crop) // 2, (w + crop) // 2, (h + crop) // 2))
        return img.resize((res, res), Image.LANCZOS)
    if transform == "pad":
        res = spec["resolution"]
        side = max(w, h)
        if side != w or side != h:
            canvas = Image.new(img.mode, (side, side), 0)
            canvas.paste(img, ((side - w) // 2, (side - h) // 2))
            img = canvas
        return img.resize((res, res), Image.LANCZOS)
    if transform == "resize":
        res = spec["resolution"]
        return img.resize((res, res), Image.LANCZOS)
    if transform == "celeba":  # official CelebA crop: 128x128 around (cx, cy)
        if (w, h) != (178, 218):
            raise _FitError("is %dx%d; CelebA aligned images are 178x218" % (w, h))
        cx, cy = spec["cx"], spec["cy"]
        return img.crop((cx - 64, cy - 64, cx + 64, cy + 64))
    if transform == "lsun-wide":  # official wide crop: keep the centre rows, resize, letterbox
        width, height = spec["width"], spec["height"]
        ch = int(np.round(width * h / w))
        if w < width or ch < height:
            return None
        img = img.crop((0, (h - ch) // 2, w, (h + ch) // 2))
        img = img.resize((width, height), Image.LANCZOS)
        canvas = Image.new(img.mode, (width, width), 0)
        canvas.paste(img, (0, (width - height) // 2))
        return canvas
    raise DatasetError("unknown transform %r (choose from %s)" % (transform, ", ".join(TRANSFORMS)))


class _FitError(Exception):
    """An image that decodes but does not fit the dataset."""


def pil_to_chw(img) -> np.ndarray:
    arr = np.asarray(img)
    return arr[np.newaxis] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def process_image(src, name: str, spec: dict):
    """Worker: decode `src` (path, bytes or HWC/HW uint8 array) into per-level records."""
    res = load_chw(src, name, spec)
    if res[0] != "ok":
        return res
    _, chw, notices = res
    return ("ok", chw.shape, encode_levels(chw, spec.get("encoding", "raw")), notices)


def process_item_direct(item, spec: dict):
    """Worker entry point in positional mode: item is (slot, (name, source)); the records are
    written straight into the dataset files at the slot's offset (DatasetWriter.open_direct)."""
    slot, (name, src) = item
    res = load_chw(src, name, spec)
    if res[0] != "ok":
        return res
    _, chw, notices = res
    if tuple(chw.shape) != tuple(spec["shape"]):
        return ("error", "%s has shape %s, the dataset %s" % (name, tuple(chw.shape), tuple(spec["shape"])))
    try:
        write_direct(spec["direct"], slot, image_levels(chw))
    except OSError as e:
        return ("error", "writing %s: %s" % (spec["direct"]["paths"][0], e))
    return ("ok", chw.shape, None, notices)


def load_chw(src, name: str, spec: dict):
    """('ok', uint8 CHW array, notices) or an ('bad'|'error'|'skip', message) tuple."""
    notices = []
    try:
        if isinstance(src, np.ndarray):
            arr = src
            if arr.ndim == 3 and arr.shape[2] == 1:
                arr = arr[:, :, 0]
            if arr.dtype != np.uint8:
                raise _FitError("has dtype %s; expected uint8" % arr.dtype)
            img = _pil().fromarray(arr)
        else:
            img = open_image(src, name)
        img = normalize_mode(img, notices)
        channels = spec.get("channels")
        if channels == 3 and img.mode == "L":
            notices.append("grayscale image converted to RGB to match the dataset")
            img = img.convert("RGB")
        elif channels == 1 and img.mode == "RGB":
            raise _FitError("is RGB but the dataset is grayscale (as its first image %s)" % spec.get("first", "?"))
        img = apply_transform(img, spec)
        if img is None:
            return ("skip", None)
        expected = spec.get("size")
        if expected is not None and tuple(img.size) != tuple(expected):
            raise _FitError("is %dx%d but the first image %s is %dx%d; pass --resolution N --transform "
                            "center-crop|pad|resize to resize them all" % (img.size + (spec.get("first", "?"),) + tuple(expected)))
        chw = pil_to_chw(img)
    except _FitError as e:
        return ("error", "%s %s" % (name, e))
    except ValueError as e:
        return ("bad", "%s: %s" % (name, e))
    except OSError as e:
        return ("bad", "%s: %s" % (name, e))
    return ("ok", chw, notices)


def process_item(item, spec: dict):
    """Worker entry point: item is (name, source)."""
    name, src = item
    return process_image(src, name, spec)


def process_chw(item, spec: dict):
    """Worker entry point for ready uint8 CHW arrays (MNIST, CIFAR, HDF5): item is (name, array)."""
    _name, chw = item
    return ("ok", chw.shape, encode_levels(np.asarray(chw, np.uint8), spec.get("encoding", "raw")), [])


def probe_image(src, name: str):
    """(width, height, mode after normalisation) of an image, or raises DatasetError."""
    try:
        img = open_image(src, name)
        img = normalize_mode(img, [])
    except ValueError as e:
        raise DatasetError("%s: %s" % (name, e))
    except OSError as e:
        raise DatasetError("%s: %s" % (name, e))
    return img.size[0], img.size[1], img.mode


def chunk_size_for(bytes_per_image: int) -> int:
    return int(max(1, min(256, (512 << 10) // max(1, bytes_per_image))))


def convert(writer, items, func, spec: dict, total: int = None, workers: int = None, skip_bad: bool = False,
            progress: bool = True, chunk_size: int = None, bad_limit_report: int = 10, max_images: int = None,
            positional: bool = True):
    """Runs func(item, spec) over items in worker processes and adds the results to `writer` in order.

    Returns the positions (in `items`) of the inputs that were skipped. Raises DatasetError on the first bad input unless
    skip_bad, and on any input that does not fit the dataset. Stops once `max_images` are written.

    When every record has a known fixed size (raw, uncompressed, a known image size, a known
    count) the workers write their records directly at their final file offsets (positional
    mode): no image data passes through this process. Skipped inputs are compacted away at the end.
    """
    if chunk_size is None:
        size = spec.get("resolution") or 256
        chunk_size = chunk_size_for(size * size * 4)
    direct = None
    if (positional and total and func is process_item and spec.get("size")
            and spec.get("encoding", "raw") == "raw" and getattr(writer, "compression", None) == "none"
            and max_images is None and workers != 0):
        shape = (spec["channels"], spec["size"][1], spec["size"][0])
        direct = writer.open_direct(shape, total)
        spec = dict(spec, direct=direct, shape=shape)
        func = process_item_direct
        items = enumerate(items)
    good_slots = []
    slot = 0
    bar = dnnlib.util.Progress(total, stream=sys.stdout, enabled=progress)
    bad = []
    skipped = []
    notice_counts = {}
    done = 0
    ok = False
    try:
        for result in parallel_map(func, items, (spec,), workers=workers, chunk_size=chunk_size):
            kind = result[0]
            if kind == "ok":
                _, shape, records, notices = result
                if direct is not None:
                    good_slots.append(slot)
                else:
                    writer.add_records(shape, records)
                for n in notices:
                    if n not in notice_counts:
                        print("Notice: image %d: %s (counted, not repeated)" % (slot, n), flush=True)
                    notice_counts[n] = notice_counts.get(n, 0) + 1
                if max_images is not None and writer.cur_images >= max_images:
                    done += 1
                    break
            elif kind == "bad":
                if not skip_bad:
                    raise DatasetError(result[1] + " (pass --skip_bad 1 to skip such files)")
                bad.append(result[1])
                skipped.append(slot)
                if len(bad) <= bad_limit_report:
                    print("Skipping bad input: %s" % result[1], flush=True)
            elif kind == "error":
                raise DatasetError(result[1])
            else:  # 'skip': left out by design
                skipped.append(slot)
            done += 1
            slot += 1
            bar.update(done)
        if direct is not None:
            writer.finish_direct(good_slots)
        ok = True
    finally:
        bar.update(done)
        bar.close()
    for n, c in sorted(notice_counts.items()):
        print("Notice: %d image(s): %s" % (c, n))
    if bad:
        print("Skipped %d bad input(s)%s" % (len(bad), "" if len(bad) <= bad_limit_report else
                                               " (first %d listed above)" % bad_limit_report))
    return skipped


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------
# Ordered parallel map over worker processes with a bounded number of items in flight.

def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the parent only
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is not for workers


def _run_chunk(func, chunk, args):
    return [func(item, *args) for item in chunk]


def parallel_map(func, items, args=(), workers: int = None, chunk_size: int = 8, max_chunks_in_flight: int = None):
    """Yields func(item, *args) for each item, in order, computed in worker processes.

    At most `max_chunks_in_flight` chunks of `chunk_size` items are submitted and not yet
    consumed, so memory stays bounded however long `items` is. workers=0 runs in-process.
    """
    if workers is None:
        workers = os.cpu_count() or 1
    if workers <= 0:
        for item in items:
            yield func(item, *args)
        return
    import multiprocessing as mp
    # fork: cheapest, and robust where spawn is not (spawn re-imports __main__, which fails for
    # scripts read from stdin, and a Pool whose workers cannot start retries forever). The workers
    # only run NumPy/Pillow code, never TensorFlow, so forking a process that has TensorFlow's
    # threads running is safe for them. $STYLEGAN_DATASET_START_METHOD overrides the choice.
    method = os.environ.get("STYLEGAN_DATASET_START_METHOD") or (
        "fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ctx = mp.get_context(method)
    if max_chunks_in_flight is None:
        max_chunks_in_flight = 2 * workers + 1
    pool = ctx.Pool(workers, initializer=_worker_init)
    try:
        pending = []
        it = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < max_chunks_in_flight:
                chunk = []
                for item in it:
                    chunk.append(item)
                    if len(chunk) >= chunk_size:
                        break
                if not chunk:
                    exhausted = True
                    break
                pending.append(pool.apply_async(_run_chunk, (func, chunk, args)))
                if len(chunk) < chunk_size:
                    exhausted = True
            if not pending:
                break
            for result in pending.pop(0).get():
                yield result
        pool.close()
        pool.join()
    finally:
        _terminate(pool)


def _terminate(pool, timeout=10.0):
    """`pool.terminate()`, given at most `timeout` seconds. Interrupted mid-run (SIGINT/SIGTERM), CPython's
    terminate can hang for good: it kills the workers, then joins its task-handler thread, which may be
    blocked writing a chunk larger than the pipe buffer that no worker will read (seen here about once in
    15 SIGTERMs). The workers are gone by then; the handler threads are daemons and do not keep the
    process alive, so giving up on the join loses nothing."""
    import threading
    stopper = threading.Thread(target=pool.terminate, name="pool-terminate", daemon=True)
    stopper.start()
    stopper.join(timeout)


