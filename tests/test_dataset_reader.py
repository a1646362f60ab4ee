"""training/dataset.py: the official TFRecordDataset API on tf.data, per-lod datasets, tf.distribute."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest


import tensorflow as tf  # noqa: E402

from training import dataset as ds_mod  # noqa: E402
from training.dataset import SyntheticDataset, TFRecordDataset, load_dataset  # noqa: E402
from stylegan_tf.data.tfrecord import DatasetError
from stylegan_tf.data.writer import DatasetWriter  # noqa: E402
from conftest import ROOT as REPO

N = 40


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """40 constant 16x16 RGB images whose pixel value is 6*i, label row [i, 2i, 3i]: every level of
    image i is 6*i, so image/label alignment can be checked after shuffling."""
    d = str(tmp_path_factory.mktemp("indexed") / "indexed")
    with DatasetWriter(d, N, verbose=False) as w:
        for i in range(N):
            w.add_image(np.full((3, 16, 16), 6 * i, np.uint8))
        w.add_labels(np.arange(N, dtype=np.float32)[:, None] * [1, 2, 3])
    return d


def check_aligned(images, labels):
    images, labels = np.asarray(images), np.asarray(labels)
    assert np.all(images == images[:, :1, :1, :1])
    np.testing.assert_array_equal(images[:, 0, 0, 0], 6 * labels[:, 0])


def test_attributes_and_minibatches(indexed):
    d = TFRecordDataset(indexed, max_label_size="full", shuffle_mb=1, prefetch_mb=1)
    assert d.name == "indexed" and d.tfrecord_dir == indexed
    assert d.resolution == 16 and d.resolution_log2 == 4 and d.shape == [3, 16, 16]
    assert d.dtype == "uint8" and d.dynamic_range == [0, 255]
    assert d.label_size == 3 and d.label_dtype == "float32" and d.num_images == N and d.lods == [0, 1, 2]
    seen = set()
    for lod in (0, 1, 2, 2.7):
        for _ in range(3):
            images, labels = d.get_minibatch_np(16, lod)
            res = 16 >> int(lod)
            assert images.shape == (16, 3, res, res) and images.dtype == np.uint8 and labels.shape == (16, 3)
            check_aligned(images, labels)
            seen.update(labels[:, 0].astype(int).tolist())
    assert len(seen) > 16  # shuffled and repeating
    d.configure(8, 1)
    images, labels = d.get_minibatch_tf()
    assert isinstance(images, tf.Tensor) and images.shape == (8, 3, 8, 8)
    check_aligned(images, labels)


def test_no_repeat_and_order(indexed):
    d = TFRecordDataset(indexed, max_label_size=2, repeat=False, shuffle_mb=0)
    assert d.label_size == 2
    images, labels = d.get_minibatch_np(32)
    np.testing.assert_array_equal(labels[:, 0], np.arange(32))
    images, labels = d.get_minibatch_np(32)
    assert images.shape[0] == 8  # the remainder
    with pytest.raises(tf.errors.OutOfRangeError):
        d.get_minibatch_np(32)
    d0 = TFRecordDataset(indexed, repeat=False, shuffle_mb=0)  # max_label_size=0: no labels
    images, labels = d0.get_minibatch_np(5)
    assert labels.shape == (5, 0) and d0.label_size == 0
    np.testing.assert_array_equal(images[:, 0, 0, 0], 6 * np.arange(5))


def test_random_labels(indexed):
    d = TFRecordDataset(indexed, max_label_size="full")
    lab = d.get_random_labels_np(50)
    assert lab.shape == (50, 3) and set(lab[:, 0].astype(int)) <= set(range(N))
    lab_tf = d.get_random_labels_tf(7)
    assert lab_tf.shape == (7, 3) and lab_tf.dtype == tf.float32
    np.testing.assert_array_equal(lab_tf.numpy()[:, 1], 2 * lab_tf.numpy()[:, 0])
    d0 = TFRecordDataset(indexed)
    assert d0.get_random_labels_np(4).shape == (4, 0) and d0.get_random_labels_tf(4).shape == (4, 0)


def test_resolution_override_and_bad_lod(indexed):
    d = TFRecordDataset(indexed, resolution=8, repeat=False, shuffle_mb=0)
    assert d.shape == [3, 8, 8] and d.lods == [0, 1]
    assert d.get_minibatch_np(2, 1)[0].shape == (2, 3, 4, 4)
    with pytest.raises(DatasetError, match="level of detail 2"):
        d.configure(2, 2)
    with pytest.raises(DatasetError, match="configure"):
        TFRecordDataset(indexed).get_minibatch_tf()


def test_get_dataset_in_tf_function(indexed):
    d = TFRecordDataset(indexed, max_label_size="full", shuffle_seed=1)
    dset = d.get_dataset(lod=1, minibatch_size=4, drop_remainder=True)
    assert dset.element_spec[0].shape == (4, 3, 8, 8) and dset.element_spec[0].dtype == tf.uint8
    it = iter(dset)

    @tf.function
    def step(iterator):
        images, labels = next(iterator)
        return tf.reduce_sum(tf.cast(images[:, 0, 0, 0], tf.float32) - 6.0 * labels[:, 0])
    for _ in range(3):
        assert float(step(it)) == 0.0
    single = d.get_dataset(lod=2)  # unbatched elements
    img, lab = next(iter(single))
    assert img.shape == (3, 4, 4) and lab.shape == (3,)


def test_synthetic_and_load_dataset(indexed):
    s = SyntheticDataset(resolution=32, num_channels=1, label_size=4)
    images, labels = s.get_minibatch_np(3, lod=2)
    assert images.shape == (3, 1, 8, 8) and labels.shape == (3, 4) and images.dtype == np.uint8
    assert s.get_random_labels_np(2).shape == (2, 4)
    d = load_dataset(tfrecord_dir=os.path.basename(indexed), data_dir=os.path.dirname(indexed), verbose=True,
                     max_label_size="full")
    assert isinstance(d, TFRecordDataset) and d.label_size == 3
    s2 = load_dataset(class_name="training.dataset.SyntheticDataset", resolution=8)
    assert s2.shape == [3, 8, 8]


def test_parse_helpers(indexed):
    from stylegan_tf.data.info import first_record
    rec = first_record(os.path.join(indexed, "indexed-r03.tfrecords"))
    assert np.array_equal(ds_mod.parse_tfrecord_np(rec), np.zeros((3, 8, 8), np.uint8))
    assert ds_mod.parse_tfrecord_tf(tf.constant(rec)).shape == (3, 8, 8)


@pytest.mark.slow
def test_distributed_per_replica(indexed):
    """MirroredStrategy over two logical CPUs gets per-replica halves of the global batch."""
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from training.dataset import TFRecordDataset
        strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
        d = TFRecordDataset(%r, max_label_size='full')
        dist = d.get_distributed_dataset(strategy, 8, lod=1)
        images, labels = next(iter(dist))
        locals_i = strategy.experimental_local_results(images)
        locals_l = strategy.experimental_local_results(labels)
        assert len(locals_i) == 2
        for x, y in zip(locals_i, locals_l):
            assert x.shape == (4, 3, 8, 8), x.shape
            assert np.array_equal(x.numpy()[:, 0, 0, 0], 6 * y.numpy()[:, 0])
        print('OK', strategy.num_replicas_in_sync)
    """) % (REPO, indexed)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and "OK 2" in p.stdout, p.stderr[-3000:]
