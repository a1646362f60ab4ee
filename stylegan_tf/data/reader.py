"""Multi-resolution input pipeline on tf.data (TensorFlow 2, eager-friendly), with the official API.

`TFRecordDataset` reads a directory written by `dataset_tool.py` -- ours or NVIDIA's -- and serves
minibatches of uint8 NCHW images (plus float32 labels) at the level of detail the progressive-growing
schedule asks for:

    dset = load_dataset(tfrecord_dir='ffhq', data_dir='datasets')   # as in the official train.py
    dset.configure(minibatch_size=32, lod=3)                         # 128x128 when resolution is 1024
    images, labels = dset.get_minibatch_tf()                         # eager tensors
    images, labels = dset.get_minibatch_np(32, lod=3)                # NumPy arrays

For tf.function / tf.distribute, take the tf.data pipeline itself: `dset.get_dataset(lod, minibatch)`
(a `tf.data.Dataset` of `(images, labels)`) or `dset.get_distributed_dataset(strategy, global_batch,
lod)` (per-replica batches). Opt-in PNG-encoded records and GZIP-compressed files (see
dataset_tool.py --encoding / --compression) are detected and read transparently.
"""

import os

import numpy as np
import tensorflow as tf

import dnnlib
from stylegan_tf.data.info import inspect_dataset, load_labels
from stylegan_tf.data.tfrecord import DatasetError

__all__ = ["TFRecordDataset", "SyntheticDataset", "load_dataset", "DatasetError",
           "parse_tfrecord_tf", "parse_tfrecord_np"]


# ------------------------------------------------------------------------------------------
# Parse individual records.

def parse_tfrecord_tf(record):
    """One serialised raw record -> uint8 CHW image tensor (the official parser)."""
    features = tf.io.parse_single_example(record, features={
        "shape": tf.io.FixedLenFeature([3], tf.int64),
        "data": tf.io.FixedLenFeature([], tf.string)})
    data = tf.io.decode_raw(features["data"], tf.uint8)
    return tf.reshape(data, features["shape"])


def parse_tfrecord_np(record):
    """One serialised record (raw or PNG) -> uint8 CHW NumPy array."""
    from stylegan_tf.data.tfrecord import decode_image_record
    return decode_image_record(record)


def _record_parser(shape, encoding):
    """Parses one serialised record into a uint8 [C, H, W] image with a static shape."""
    c, h, w = (int(s) for s in shape)
    features = {"data": tf.io.FixedLenFeature([], tf.string)}

    def parse(record, label):
        data = tf.io.parse_single_example(record, features)["data"]
        if encoding == "png":
            img = tf.transpose(tf.ensure_shape(tf.io.decode_png(data, channels=c), [h, w, c]), [2, 0, 1])
        else:
            img = tf.reshape(tf.io.decode_raw(data, tf.uint8), [c, h, w])
        return img, label
    return parse


def _batch_parser(shape):
    """Parses a batch of serialised raw records into uint8 [N, C, H, W] (vectorised)."""
    c, h, w = (int(s) for s in shape)
    features = {"data": tf.io.FixedLenFeature([], tf.string)}

    def parse(records, labels):
        data = tf.io.parse_example(records, features)["data"]
        images = tf.reshape(tf.io.decode_raw(data, tf.uint8), [-1, c, h, w])
        images.set_shape([records.shape[0], c, h, w])
        return images, labels
    return parse


# ------------------------------------------------------------------------------------------
# Dataset class that loads data from tfrecords files.

class TFRecordDataset:
    def __init__(self,
                 tfrecord_dir,            # Directory containing a collection of tfrecords files.
                 resolution=None,         # Dataset resolution, None = autodetect.
                 label_file=None,         # Relative path of the labels file, None = autodetect.
                 max_label_size=0,        # 0 = no labels, 'full' = full labels, <int> = N first label components.
                 repeat=True,             # Repeat dataset indefinitely.
                 shuffle_mb=4096,         # Shuffle data within specified window (megabytes), 0 = disable shuffling.
                 prefetch_mb=2048,        # Amount of data to prefetch (megabytes), 0 = disable prefetching.
                 buffer_mb=256,           # Read buffer size (megabytes).
                 num_threads=2,           # Number of concurrent threads.
                 shuffle_seed=None,       # (not official) Seed of the shuffle window, None = random.
                 verify=True):            # (not official) Check per-level record counts and label rows.
        if not (max_label_size == "full" or (isinstance(max_label_size, (int, np.integer)) and max_label_size >= 0)):
            raise DatasetError("max_label_size must be 'full' or an int >= 0, got %r" % (max_label_size,))
        info = inspect_dataset(tfrecord_dir, resolution=resolution, label_file=label_file, count_records_=verify)
        self._info = info
        self.name = os.path.basename(os.path.normpath(tfrecord_dir))
        self.tfrecord_dir = tfrecord_dir
        self.resolution = info.resolution
        self.resolution_log2 = info.resolution_log2
        self.shape = list(info.shape)       # [channel, height, width]
        self.dtype = "uint8"
        self.dynamic_range = [0, 255]
        self.label_file = info.label_file
        self.num_images = info.num_images   # None when verify=False
        self.repeat = repeat
        self.shuffle_mb = shuffle_mb
        self.prefetch_mb = prefetch_mb
        self.buffer_mb = buffer_mb
        self.num_threads = num_threads
        self.shuffle_seed = shuffle_seed

        # Load labels.
        labels = None
        if info.label_file is not None and max_label_size != 0:
            labels = load_labels(info)
        if labels is None:
            labels = np.zeros([info.num_images or 0, 0], dtype=np.float32)
            self._has_label_rows = info.num_images is not None
        else:
            self._has_label_rows = True
        if max_label_size != "full" and labels.shape[1] > max_label_size:
            labels = labels[:, :max_label_size]
        self._np_labels = labels
        self.label_size = labels.shape[1]
        self.label_dtype = labels.dtype.name
        with tf.device("/cpu:0"):
            self._tf_labels = tf.constant(labels)

        self._cur_minibatch = -1
        self._cur_lod = -1
        self._iterator = None

    # --- tf.data pipelines ---------------------------------------------------------------

    @property
    def lods(self):
        """Available levels of detail (0 = full resolution)."""
        return sorted(self._info.files)

    def _check_lod(self, lod):
        lod = int(np.floor(lod))
        if lod not in self._info.files:
            raise DatasetError("%s: no level of detail %d (have %s)" % (self.tfrecord_dir, lod, self.lods))
        return lod

    def get_dataset(self, lod=0, minibatch_size=None, repeat=None, shuffle_mb=None, drop_remainder=False,
                    num_shards=1, shard_index=0):
        """The tf.data.Dataset of (uint8 images [N, C, H, W], labels [N, label_size]) for one lod.

        minibatch_size None gives unbatched (image [C, H, W], label) elements. Sharding (for
        multi-worker input pipelines) happens before shuffling, so each shard sees distinct images.
        """
        lod = self._check_lod(lod)
        repeat = self.repeat if repeat is None else repeat
        shuffle_mb = self.shuffle_mb if shuffle_mb is None else shuffle_mb
        path = self._info.files[lod]
        shape = self._info.shapes[lod]
        compression = "GZIP" if self._info.compression[lod] == "gzip" else ""
        bytes_per_item = int(np.prod(shape)) * np.dtype(self.dtype).itemsize
        with tf.device("/cpu:0"):
            dset = tf.data.TFRecordDataset(path, compression_type=compression, buffer_size=self.buffer_mb << 20)
            if self._has_label_rows:
                dset = tf.data.Dataset.zip((dset, tf.data.Dataset.from_tensor_slices(self._tf_labels)))
            else:
                dtype = tf.as_dtype(self.label_dtype)
                dset = dset.map(lambda r: (r, tf.zeros([0], dtype)))
            if num_shards > 1:
                dset = dset.shard(num_shards, shard_index)
            if shuffle_mb > 0:
                buf = ((shuffle_mb << 20) - 1) // bytes_per_item + 1
                if self.num_images:
                    buf = min(buf, self.num_images)
                dset = dset.shuffle(max(1, buf), seed=self.shuffle_seed)
            if repeat:
                dset = dset.repeat()
            # Raw records: batch, then parse the whole batch at once (fast). PNG records: decode
            # each image in parallel, then batch.
            per_record = minibatch_size is None or self._info.encoding[lod] != "raw"
            if per_record:
                dset = dset.map(_record_parser(shape, self._info.encoding[lod]), num_parallel_calls=self.num_threads)
            if minibatch_size is None:
                prefetch = ((self.prefetch_mb << 20) - 1) // bytes_per_item + 1 if self.prefetch_mb > 0 else 0
            else:
                dset = dset.batch(int(minibatch_size), drop_remainder=drop_remainder)
                if not per_record:
                    dset = dset.map(_batch_parser(shape), num_parallel_calls=self.num_threads)
                items = ((self.prefetch_mb << 20) - 1) // bytes_per_item + 1 if self.prefetch_mb > 0 else 0
                prefetch = max(1, min(items // int(minibatch_size), 64)) if items else 0
            if prefetch:
                dset = dset.prefetch(min(prefetch, 1024))
        return dset

    def get_distributed_dataset(self, strategy, minibatch_size, lod=0, repeat=None):
        """Per-replica minibatches for a tf.distribute strategy; minibatch_size is the global batch."""
        lod = self._check_lod(lod)

        def dataset_fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(minibatch_size)
            return self.get_dataset(lod, per_replica, repeat=repeat, drop_remainder=True,
                                    num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id)
        return strategy.distribute_datasets_from_function(dataset_fn)

    # --- the official API ------------------------------------------------------------------

    def configure(self, minibatch_size, lod=0):
        """Use the given minibatch size and level-of-detail for the data returned by get_minibatch_tf()."""
        lod = self._check_lod(lod)
        if minibatch_size < 1:
            raise DatasetError("minibatch_size must be >= 1, got %r" % (minibatch_size,))
        if self._cur_minibatch != minibatch_size or self._cur_lod != lod:
            self._iterator = iter(self.get_dataset(lod, minibatch_size))
            self._cur_minibatch = minibatch_size
            self._cur_lod = lod

    def get_minibatch_tf(self):
        """Next minibatch (images, labels) as tensors. Raises tf.errors.OutOfRangeError at the end
        when repeat=False. Call configure() first. Inside a tf.function, the iterator of the current
        configuration is captured: re-trace after configure() changes it."""
        if self._iterator is None:
            raise DatasetError("call configure(minibatch_size, lod) before get_minibatch_tf()")
        return self._iterator.get_next()

    def get_minibatch_np(self, minibatch_size, lod=0):
        """Next minibatch as NumPy arrays."""
        self.configure(minibatch_size, lod)
        images, labels = self.get_minibatch_tf()
        return images.numpy(), labels.numpy()

    def get_random_labels_tf(self, minibatch_size):
        """Labels of random dataset images (zeros of width 0 without labels)."""
        if self.label_size > 0:
            with tf.device("/cpu:0"):
                idx = tf.random.uniform([minibatch_size], 0, self._np_labels.shape[0], dtype=tf.int32)
                return tf.gather(self._tf_labels, idx)
        return tf.zeros([minibatch_size, 0], self.label_dtype)

    def get_random_labels_np(self, minibatch_size):
        if self.label_size > 0:
            return self._np_labels[np.random.randint(self._np_labels.shape[0], size=[minibatch_size])]
        return np.zeros([minibatch_size, 0], self.label_dtype)

    def close(self):
        self._iterator = None


# ------------------------------------------------------------------------------------------
# Base class for datasets that are generated on the fly.

class SyntheticDataset:
    def __init__(self, resolution=1024, num_channels=3, dtype="uint8", dynamic_range=(0, 255), label_size=0,
                 label_dtype="float32"):
        self.name = "synthetic"
        self.resolution = resolution
        self.resolution_log2 = int(np.log2(resolution))
        self.shape = [num_channels, resolution, resolution]
        self.dtype = dtype
        self.dynamic_range = list(dynamic_range)
        self.label_size = label_size
        self.label_dtype = label_dtype
        self._minibatch = 1
        self._lod = 0
        if self.resolution != 2 ** self.resolution_log2:
            raise DatasetError("SyntheticDataset resolution %r is not a power of two" % (resolution,))

    def configure(self, minibatch_size, lod=0):
        lod = int(np.floor(lod))
        if minibatch_size < 1 or not 0 <= lod <= self.resolution_log2:
            raise DatasetError("bad minibatch_size %r or lod %r" % (minibatch_size, lod))
        self._minibatch, self._lod = int(minibatch_size), lod

    def get_minibatch_tf(self):
        shrink = 2 ** self._lod
        shape = [self.shape[0], self.shape[1] // shrink, self.shape[2] // shrink]
        return self._generate_images(self._minibatch, self._lod, shape), self._generate_labels(self._minibatch)

    def get_minibatch_np(self, minibatch_size, lod=0):
        self.configure(minibatch_size, lod)
        images, labels = self.get_minibatch_tf()
        return np.asarray(images), np.asarray(labels)

    def get_dataset(self, lod=0, minibatch_size=1, **_kwargs):
        self.configure(minibatch_size, lod)
        return tf.data.Dataset.from_tensors(self.get_minibatch_tf()).repeat()

    def get_random_labels_tf(self, minibatch_size):
        return self._generate_labels(minibatch_size)

    def get_random_labels_np(self, minibatch_size):
        return np.asarray(self.get_random_labels_tf(minibatch_size))

    def _generate_images(self, minibatch, lod, shape):  # to be overridden by subclasses # pylint: disable=unused-argument
        return tf.zeros([minibatch] + shape, self.dtype)

    def _generate_labels(self, minibatch):  # to be overridden by subclasses
        return tf.zeros([minibatch, self.label_size], self.label_dtype)


# ------------------------------------------------------------------------------------------
# Helper func for constructing a dataset object using the given options.

# The official class names (the default, and what run configs hold) resolve here without importing
# `training` (whose `training.dataset` re-exports this module for the official path).
_OFFICIAL_CLASSES = {"training.dataset.TFRecordDataset": TFRecordDataset,
                     "training.dataset.SyntheticDataset": SyntheticDataset}


def load_dataset(class_name="training.dataset.TFRecordDataset", data_dir=None, verbose=False, **kwargs):
    adjusted_kwargs = dict(kwargs)
    if "tfrecord_dir" in adjusted_kwargs and data_dir is not None:
        adjusted_kwargs["tfrecord_dir"] = os.path.join(data_dir, adjusted_kwargs["tfrecord_dir"])
    if verbose:
        print("Streaming data using %s..." % class_name)
    cls = _OFFICIAL_CLASSES.get(class_name) or dnnlib.util.get_obj_by_name(class_name)
    dataset = cls(**adjusted_kwargs)
    if verbose:
        print("Dataset shape =", np.int32(dataset.shape).tolist())
        print("Dynamic range =", dataset.dynamic_range)
        print("Label size    =", dataset.label_size)
    return dataset
