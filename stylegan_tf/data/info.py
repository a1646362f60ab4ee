"""Inspecting a dataset directory without TensorFlow: its levels, shapes, encodings, record counts
and labels, checked the way the official reader does (shared by the reader and dataset_tool)."""

import glob
import itertools
import os
import struct

import numpy as np

from stylegan_tf.data.tfrecord import (ENCODINGS, TFRECORD_SUFFIX, DatasetError, count_records, decode_example,
                                       decode_image_record, detect_compression, iter_records)

class DatasetInfo:
    """What a dataset directory holds. `files[lod]` is the TFRecord file of level `lod`
    (0 = full resolution), `shapes[lod]` its CHW shape."""

    def __init__(self):
        self.tfrecord_dir = None
        self.resolution = None
        self.resolution_log2 = None
        self.shape = None
        self.files = {}
        self.shapes = {}
        self.compression = {}
        self.encoding = {}
        self.num_images = None
        self.label_file = None


def first_record(path: str) -> bytes:
    for rec in iter_records(path, limit=1):
        return rec
    raise DatasetError("%s: holds no records" % path)


def record_format(record) -> tuple:
    """(shape, encoding) of a serialised image record."""
    ex = decode_example(record)
    if "shape" not in ex or "data" not in ex:
        raise DatasetError("record has no 'shape'/'data' features")
    shape = tuple(int(v) for v in ex["shape"])
    fmt = ex.get("format", [b"raw"])[0].decode("ascii", "replace")
    if fmt not in ENCODINGS:
        raise DatasetError("unknown record format %r" % fmt)
    if len(shape) != 3:
        raise DatasetError("record shape %s is not [C, H, W]" % (shape,))
    return shape, fmt


def inspect_dataset(tfrecord_dir: str, resolution: int = None, label_file: str = None,
                    count_records_: bool = True) -> DatasetInfo:
    """Lists and validates a dataset directory the way the official reader does, with clear errors:
    a missing directory, no tfrecords, inconsistent shapes, a missing level or mismatched
    per-level record counts raise DatasetError naming the file."""
    if not os.path.isdir(tfrecord_dir):
        raise DatasetError("%s: dataset directory does not exist" % tfrecord_dir)
    tfr_files = sorted(glob.glob(os.path.join(tfrecord_dir, "*" + TFRECORD_SUFFIX)))
    if not tfr_files:
        raise DatasetError("%s: no *.tfrecords files in the dataset directory" % tfrecord_dir)
    shapes, fmts = [], []
    for path in tfr_files:
        try:
            shape, fmt = record_format(first_record(path))
        except DatasetError as e:
            msg = str(e)
            raise DatasetError(msg if msg.startswith(path) else "%s: %s" % (path, msg))
        except (ValueError, IndexError, struct.error) as e:
            raise DatasetError("%s: not a TFRecord file of image records (%s)" % (path, e))
        shapes.append(shape)
        fmts.append(fmt)
    info = DatasetInfo()
    info.tfrecord_dir = tfrecord_dir
    max_shape = max(shapes, key=lambda s: int(np.prod(s)))
    info.resolution = int(resolution) if resolution is not None else max_shape[1]
    res = info.resolution
    if res < 4 or res & (res - 1):
        raise DatasetError("%s: resolution %d is not a power of two >= 4" % (tfrecord_dir, res))
    info.resolution_log2 = int(np.log2(res))
    info.shape = [max_shape[0], res, res]
    for path, shape, fmt in zip(tfr_files, shapes, fmts):
        if shape[0] != max_shape[0]:
            raise DatasetError("%s: has %d channels, other files have %d" % (path, shape[0], max_shape[0]))
        if shape[1] != shape[2] or shape[1] < 1 or shape[1] & (shape[1] - 1):
            raise DatasetError("%s: image shape %s is not square with a power-of-two size" % (path, shape))
        lod = info.resolution_log2 - int(np.log2(shape[1]))
        if lod < 0:
            continue  # above the requested resolution
        if lod in info.files:
            raise DatasetError("%s: same resolution %d as %s" % (path, shape[1], info.files[lod]))
        info.files[lod] = path
        info.shapes[lod] = shape
        info.encoding[lod] = fmt
        info.compression[lod] = detect_compression(path)
    for lod in range(info.resolution_log2 - 1):
        if lod not in info.files:
            raise DatasetError("%s: no tfrecords file for resolution %d (level r%02d)"
                               % (tfrecord_dir, res >> lod, info.resolution_log2 - lod))
    if count_records_:
        counts = {lod: count_records(path) for lod, path in info.files.items()}
        ref = counts[0]
        for lod in sorted(counts):
            if counts[lod] != ref:
                raise DatasetError("%s: holds %d records but %s holds %d; the dataset is incomplete"
                                   % (info.files[lod], counts[lod], info.files[0], ref))
        info.num_images = ref
    if label_file is None:
        guess = sorted(glob.glob(os.path.join(tfrecord_dir, "*.labels")))
        if guess:
            info.label_file = guess[0]
    elif os.path.isfile(label_file):
        info.label_file = label_file
    elif os.path.isfile(os.path.join(tfrecord_dir, label_file)):
        info.label_file = os.path.join(tfrecord_dir, label_file)
    else:
        raise DatasetError("%s: label file not found" % label_file)
    return info


def load_labels(info: DatasetInfo) -> np.ndarray:
    """The labels array of a dataset (checked against the record count), or None."""
    if info.label_file is None:
        return None
    try:
        labels = np.load(info.label_file)
    except Exception as e:  # pylint: disable=broad-except
        raise DatasetError("%s: cannot read labels (%s)" % (info.label_file, e))
    if labels.ndim != 2:
        raise DatasetError("%s: labels must be a 2-D array, got shape %s" % (info.label_file, labels.shape))
    if info.num_images is not None and labels.shape[0] != info.num_images:
        raise DatasetError("%s: has %d label rows but the dataset has %d images"
                           % (info.label_file, labels.shape[0], info.num_images))
    return labels


def iter_images(info: DatasetInfo, lod: int = 0):
    """Yields the uint8 CHW images of one level, in file order, without TensorFlow."""
    for rec in iter_records(info.files[lod]):
        yield decode_image_record(rec)


def compare_datasets(tfrecord_dir_a: str, tfrecord_dir_b: str, ignore_labels: bool = False, show: int = 5):
    """Compares two datasets image by image (and label by label). Returns (identical, summary lines):
    how many images and labels differ with the first `show` indices, differing image shapes, a
    different image count, never one line per difference."""
    info_a, info_b = inspect_dataset(tfrecord_dir_a), inspect_dataset(tfrecord_dir_b)
    lab_a = None if ignore_labels else load_labels(info_a)
    lab_b = None if ignore_labels else load_labels(info_b)
    lines, diff_images, diff_labels, shapes = [], [], [], set()
    idx, sentinel = 0, object()
    for img_a, img_b in itertools.zip_longest(iter_images(info_a), iter_images(info_b), fillvalue=sentinel):
        if img_a is sentinel or img_b is sentinel:
            lines.append("Datasets contain different number of images (%s has more than %d)"
                         % (tfrecord_dir_a if img_b is sentinel else tfrecord_dir_b, idx))
            break
        if img_a.shape != img_b.shape:
            shapes.add((img_a.shape, img_b.shape))
        if not (img_a.shape == img_b.shape and np.array_equal(img_a, img_b)):
            diff_images.append(idx)
        la = lab_a[idx] if lab_a is not None else np.zeros(0, np.float32)
        lb = lab_b[idx] if lab_b is not None else np.zeros(0, np.float32)
        if not (la.shape == lb.shape and np.all(la == lb)):
            diff_labels.append(idx)
        idx += 1
    lines += ["Image shapes differ: %s and %s" % (list(a), list(b)) for a, b in sorted(shapes)]
    for what, diffs in (("Image", diff_images), ("Label", diff_labels)):
        if diffs:
            more = " (and %d more)" % (len(diffs) - show) if len(diffs) > show else ""
            lines.append("%ss different: %d, first at index %s%s" % (what, len(diffs), ", ".join(map(str, diffs[:show])), more))
    lines.append("Identical images: %d / %d" % (idx - len(diff_images), idx))
    if not ignore_labels:
        lines.append("Identical labels: %d / %d" % (idx - len(diff_labels), idx))
    identical = not diff_images and not diff_labels and len(lines) == (1 if ignore_labels else 2)
    return identical, lines
