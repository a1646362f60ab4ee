"""Writing a dataset directory atomically: records go to a hidden temporary directory that is renamed
into place only when the conversion succeeded (the official TFRecordExporter's role), plus the
positional writes of the parallel conversion and the official image order."""

import glob
import os
import re
import shutil

import numpy as np

from stylegan_tf.data.levels import check_image_shape, encode_levels
from stylegan_tf.data.tfrecord import (COMPRESSIONS, ENCODINGS, LABELS_SUFFIX, SHUFFLE_SEED, TFRECORD_SUFFIX,
                                       DatasetError, RecordFileWriter, encode_example_parts, frame_parts)

def shuffled_order(n: int) -> np.ndarray:
    """The official image order: RandomState(123).shuffle of arange(n)."""
    order = np.arange(n)
    np.random.RandomState(SHUFFLE_SEED).shuffle(order)
    return order





def dataset_files(directory: str) -> list:
    """The files of a directory that make it look like a dataset (tfrecords and labels)."""
    if not os.path.isdir(directory):
        return []
    return sorted(glob.glob(os.path.join(directory, "*" + TFRECORD_SUFFIX)) +
                  glob.glob(os.path.join(directory, "*.labels")))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DatasetWriter:
    """Writes a multi-resolution dataset (the official TFRecordExporter's role).

    Records go to `.<name>.tmp-<pid>/` next to the target; `commit()` renames it into place,
    `abort()` (also on any exception inside a `with` block) deletes it. The target is refused
    if it already holds a dataset, unless `overwrite=True`.
    """

    def __init__(self, tfrecord_dir: str, expected_images: int = None, overwrite: bool = False,
                 compression: str = "none", encoding: str = "raw", verbose: bool = True):
        if encoding not in ENCODINGS:
            raise DatasetError("unknown encoding %r (choose from %s)" % (encoding, ", ".join(ENCODINGS)))
        if compression not in COMPRESSIONS:
            raise DatasetError("unknown compression %r (choose from %s)" % (compression, ", ".join(COMPRESSIONS)))
        self.tfrecord_dir = os.path.normpath(tfrecord_dir)
        self.name = os.path.basename(os.path.abspath(self.tfrecord_dir))
        self.expected_images = expected_images
        self.overwrite = overwrite
        self.compression = compression
        self.encoding = encoding
        self.verbose = verbose
        self.cur_images = 0
        self.shape = None
        self.resolution_log2 = None
        self.writers = []
        self.labels = None
        self.committed = False
        self.direct = None
        check_output_dir(self.tfrecord_dir, overwrite)
        parent = os.path.dirname(os.path.abspath(self.tfrecord_dir))
        os.makedirs(parent, exist_ok=True)
        _remove_stale_temp_dirs(parent, self.name)
        self.tmp_dir = os.path.join(parent, ".%s.tmp-%d" % (self.name, os.getpid()))
        if os.path.exists(self.tmp_dir):
            shutil.rmtree(self.tmp_dir)
        os.makedirs(self.tmp_dir)
        if verbose:
            print('Creating dataset "%s"' % tfrecord_dir)

    @property
    def prefix(self):
        return os.path.join(self.tmp_dir, self.name)

    def _open(self, shape):
        check_image_shape(shape, "first image")
        self.shape = tuple(shape)
        self.resolution_log2 = int(np.log2(shape[1]))
        for lod in range(self.resolution_log2 - 1):
            path = self.prefix + "-r%02d%s" % (self.resolution_log2 - lod, TFRECORD_SUFFIX)
            self.writers.append(RecordFileWriter(path, self.compression))

    def open_direct(self, shape, slots: int) -> dict:
        """Positional mode for raw, uncompressed records: every record of a level has the same size,
        so image `slot` goes at offset slot * size and worker processes can write their records
        straight into the files (see write_direct), with no data passing through this process.
        Returns the {paths, sizes} the workers need; call finish_direct() afterwards."""
        if self.encoding != "raw" or self.compression != "none":
            raise DatasetError("positional writing needs raw, uncompressed records")
        check_image_shape(shape, "first image")
        self.shape = tuple(shape)
        self.resolution_log2 = int(np.log2(shape[1]))
        paths, sizes = [], []
        for lod in range(self.resolution_log2 - 1):
            path = self.prefix + "-r%02d%s" % (self.resolution_log2 - lod, TFRECORD_SUFFIX)
            open(path, "wb").close()
            res = shape[1] >> lod
            sizes.append(frame_parts(encode_example_parts((shape[0], res, res), bytes(shape[0] * res * res)))[1])
            paths.append(path)
        self.direct = dict(paths=paths, sizes=sizes, slots=int(slots))
        return self.direct

    def finish_direct(self, good_slots) -> None:
        """Closes positional mode: compacts the files when some slots stayed empty (skipped inputs)."""
        good = [int(i) for i in good_slots]
        if any(b <= a for a, b in zip(good, good[1:])):
            raise DatasetError("internal error: slots out of order")
        for path, size in zip(self.direct["paths"], self.direct["sizes"]):
            with open(path, "r+b") as f:
                for new, old in enumerate(good):
                    if new != old:
                        f.seek(old * size)
                        buf = f.read(size)
                        f.seek(new * size)
                        f.write(buf)
                f.truncate(len(good) * size)
            if os.path.getsize(path) != len(good) * size:
                raise DatasetError("%s: incomplete after conversion" % path)
        self.cur_images = len(good)

    def add_records(self, shape, records) -> None:
        """Adds one image given as its per-level serialised records (highest level first)."""
        if self.shape is None:
            self._open(shape)
        elif tuple(shape) != self.shape:
            raise DatasetError("image %d has shape %s but the first image has %s"
                               % (self.cur_images, tuple(shape), self.shape))
        if len(records) != len(self.writers):
            raise DatasetError("internal error: %d levels for %d files" % (len(records), len(self.writers)))
        for writer, rec in zip(self.writers, records):
            writer.write(rec)
        self.cur_images += 1

    def add_image(self, img: np.ndarray) -> None:
        """Adds one uint8 CHW image."""
        img = np.asarray(img)
        if img.dtype != np.uint8:
            raise DatasetError("image %d has dtype %s; expected uint8" % (self.cur_images, img.dtype))
        if self.shape is None:
            check_image_shape(img.shape, "first image")
        self.add_records(img.shape, encode_levels(img, self.encoding))

    def add_labels(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels, dtype=np.float32)
        if labels.ndim != 2 or labels.shape[0] != self.cur_images:
            raise DatasetError("labels have shape %s; expected one row per image (%d)"
                               % (labels.shape, self.cur_images))
        self.labels = labels

    def commit(self) -> None:
        """Closes the files and moves the finished dataset into place."""
        for w in self.writers:
            w.close()
        self.writers = []
        if self.cur_images == 0:
            raise DatasetError("no images were converted; nothing written to %s" % self.tfrecord_dir)
        if self.labels is not None:
            with open(self.prefix + LABELS_SUFFIX, "wb") as f:
                np.save(f, self.labels)
        _fsync_dir_files(self.tmp_dir)
        check_output_dir(self.tfrecord_dir, self.overwrite)
        target = self.tfrecord_dir
        if os.path.isdir(target) and os.listdir(target):
            others = [f for f in os.listdir(target) if os.path.join(target, f) not in dataset_files(target)]
            if not others:  # only an old dataset: swap directories
                old = os.path.join(os.path.dirname(os.path.abspath(target)), ".%s.old-%d" % (self.name, os.getpid()))
                os.rename(target, old)
                os.rename(self.tmp_dir, target)
                shutil.rmtree(old, ignore_errors=True)
            else:  # unrelated files present: replace the dataset files one by one
                for f in dataset_files(target):
                    os.remove(f)
                for f in sorted(os.listdir(self.tmp_dir)):
                    os.replace(os.path.join(self.tmp_dir, f), os.path.join(target, f))
                os.rmdir(self.tmp_dir)
        else:
            os.rename(self.tmp_dir, target)  # replaces an empty directory
        self.committed = True
        if self.verbose:
            print("Added %d images." % self.cur_images)

    def abort(self) -> None:
        for w in self.writers:
            try:
                w.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self.writers = []
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and not self.committed:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        elif not self.committed:
            self.abort()
        return False


def check_output_dir(tfrecord_dir: str, overwrite: bool) -> None:
    if os.path.exists(tfrecord_dir) and not os.path.isdir(tfrecord_dir):
        raise DatasetError("%s: output path exists and is not a directory" % tfrecord_dir)
    existing = dataset_files(tfrecord_dir)
    if existing and not overwrite:
        raise DatasetError("%s: already holds a dataset (%s); pass --overwrite to replace it"
                           % (tfrecord_dir, os.path.basename(existing[0])))


def _remove_stale_temp_dirs(parent: str, name: str) -> None:
    """Deletes temporary directories left by conversions that were killed."""
    pattern = re.compile(r"^\.%s\.(tmp|old)-(\d+)$" % re.escape(name))
    for entry in os.listdir(parent):
        m = pattern.match(entry)
        if m and not _pid_alive(int(m.group(2))):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def _fsync_dir_files(directory: str) -> None:
    for f in os.listdir(directory):
        fd = os.open(os.path.join(directory, f), os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)




_DIRECT_FDS = {}


def write_direct(direct: dict, slot: int, levels) -> None:
    """Writes one image's levels at its slot (worker side of DatasetWriter.open_direct)."""
    for path, size, level in zip(direct["paths"], direct["sizes"], levels):
        fd = _DIRECT_FDS.get(path)
        if fd is None:
            if len(_DIRECT_FDS) > 64:
                for old in _DIRECT_FDS.values():
                    os.close(old)
                _DIRECT_FDS.clear()
            fd = _DIRECT_FDS[path] = os.open(path, os.O_WRONLY)
        parts, n = frame_parts(encode_example_parts(level.shape, level.tobytes()))
        if n != size:
            raise DatasetError("image %d level %s: record of %d bytes, expected %d" % (slot, level.shape, n, size))
        offset = slot * size
        if not hasattr(os, "pwritev"):  # pragma: no cover - platforms without pwritev
            data = b"".join(parts)
            while data:
                written = os.pwrite(fd, data, offset)
                data, offset = data[written:], offset + written
            continue
        while parts:
            written = os.pwritev(fd, parts, offset)
            offset += written
            # drop fully written buffers, keep the rest of a partially written one
            while parts and written >= len(memoryview(parts[0]).cast("B")):
                written -= len(memoryview(parts[0]).cast("B"))
                parts.pop(0)
            if parts and written:
                parts[0] = memoryview(parts[0]).cast("B")[written:]


