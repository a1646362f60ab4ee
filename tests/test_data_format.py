"""stylegan_tf.data.tfrecord and .levels: the TFRecord / tf.train.Example format and the image pyramid
written without TensorFlow, checked against TensorFlow."""

import os

import numpy as np
import pytest
import tensorflow as tf

from stylegan_tf.data import levels as L
from stylegan_tf.data import tfrecord as F
from stylegan_tf.data.info import record_format


def official_levels(img):
    """Reference: the official exporter's loop, written out independently."""
    out = []
    cur = img
    for lod in range(int(np.log2(img.shape[1])) - 1):
        if lod:
            cur = cur.astype(np.float32)
            cur = (cur[:, 0::2, 0::2] + cur[:, 0::2, 1::2] + cur[:, 1::2, 0::2] + cur[:, 1::2, 1::2]) * 0.25
        out.append(np.rint(cur).clip(0, 255).astype(np.uint8))
    return out


def tf_example(shape, data, fmt=None):
    feature = {"shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(shape))),
               "data": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))}
    if fmt is not None:
        feature["format"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[fmt]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


@pytest.mark.parametrize("shape", [(3, 4, 4), (1, 32, 32), (3, 256, 256)])
def test_encode_example_matches_protobuf_deterministic(shape):
    rng = np.random.RandomState(0)
    data = rng.randint(0, 256, size=shape).astype(np.uint8).tobytes()
    ours = F.encode_example(shape, data)
    assert ours == tf_example(shape, data).SerializeToString(deterministic=True)
    png = F.encode_example(shape, b"\x89PNG fake", b"png")
    assert png == tf_example(shape, b"\x89PNG fake", b"png").SerializeToString(deterministic=True)
    parsed = tf.train.Example.FromString(ours)
    assert list(parsed.features.feature["shape"].int64_list.value) == list(shape)
    assert parsed.features.feature["data"].bytes_list.value[0] == data


def test_decode_example_any_field_order():
    shape, data = (3, 8, 8), bytes(range(192))
    ex = tf_example(shape, data)
    for record in (ex.SerializeToString(), ex.SerializeToString(deterministic=True), F.encode_example(shape, data)):
        d = F.decode_example(record)
        assert d["shape"] == list(shape) and d["data"] == [data]
    # unrelated feature kinds decode too
    ex.features.feature["f"].float_list.value.extend([1.5, -2.0])
    assert F.decode_example(ex.SerializeToString())["f"] == [1.5, -2.0]


def test_levels_match_official_formula():
    rng = np.random.RandomState(1)
    for shape in [(3, 4, 4), (1, 16, 16), (3, 64, 64)]:
        img = rng.randint(0, 256, size=shape).astype(np.uint8)
        ours = L.image_levels(img)
        ref = official_levels(img)
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert a.dtype == np.uint8 and np.array_equal(a, b)
    # rounding ties go to even and the float chain is not re-quantised per level
    # large images: the integer path for 8 levels down, then the float chain (2048 -> 4 is 9 levels)
    for img in (rng.randint(0, 256, size=(1, 2048, 2048)).astype(np.uint8),
                np.full((1, 1024, 1024), 255, np.uint8), (np.indices((1, 512, 512)).sum(0) % 256).astype(np.uint8)):
        for a, b in zip(L.image_levels(img), official_levels(img)):
            assert np.array_equal(a, b), a.shape
    # Ties round to even, and the float chain is not re-quantised per level: level 1 holds 0.5
    # (stored as 0) and 1.5 (stored as 2); level 2 averages the floats (0.75 -> 1), not 0,0,0,2 (-> 0).
    lo, hi = np.array([[1, 1], [0, 0]]), np.array([[2, 2], [1, 1]])
    block = np.block([[lo, lo], [lo, hi]])  # 4x4 pixels -> level-1 2x2 [[.5, .5], [.5, 1.5]]
    img = np.tile(block, (4, 4))[np.newaxis].astype(np.uint8)  # 16x16
    levels = L.image_levels(img)
    assert np.array_equal(levels[1][0, :2, :2], [[0, 0], [0, 2]])
    assert np.all(levels[2] == 1)
    for a, b in zip(levels, official_levels(img)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_record_writer_readable_by_tensorflow(tmp_path, compression):
    path = str(tmp_path / "x.tfrecords")
    records = [os.urandom(n) for n in (0, 1, 100, 70000)]
    w = F.RecordFileWriter(path, compression)
    for r in records:
        w.write(r)
    w.close()
    got = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP" if compression == "gzip" else "")]
    assert got == records
    assert list(F.iter_records(path)) == records
    assert F.count_records(path) == len(records)
    assert F.detect_compression(path) == compression


def test_reads_tensorflow_written_files(tmp_path):
    path = str(tmp_path / "tf.tfrecords")
    records = [b"a" * 10, b"b" * 5000]
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    assert list(F.iter_records(path)) == records
    assert F.count_records(path) == 2
    # a corrupted payload is detected
    raw = bytearray(open(path, "rb").read())
    raw[20] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    with pytest.raises(F.DatasetError, match="checksum|corrupt"):
        list(F.iter_records(path))


def test_frame_parts_equals_frame_record():
    rec = F.encode_example_parts((3, 8, 8), bytes(range(192)))
    parts, n = F.frame_parts(rec)
    assert b"".join(parts) == F.frame_record(b"".join(rec)) and n == len(b"".join(parts))


def test_crc32c_known_value():
    assert F.crc32c(b"123456789") == 0xE3069283
    assert F.masked_crc32c(b"") == (((0 >> 15) | (0 << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_crc32c_long_buffers_and_parts():
    """Whole-buffer and incremental (frame_parts) CRCs agree, and TensorFlow accepts the framing of
    records up to ~200 KB (a 256x256 RGB level)."""
    data = np.random.RandomState(5).randint(0, 256, 196627).astype(np.uint8).tobytes()
    parts, _ = F.frame_parts([data[:1000], data[1000:]])
    assert b"".join(parts) == F.frame_record(data)


def test_png_record_roundtrip():
    rng = np.random.RandomState(2)
    for c in (1, 3):
        img = rng.randint(0, 256, size=(c, 16, 16)).astype(np.uint8)
        recs = L.encode_levels(img, "png")
        assert len(recs) == 3
        for rec, ref in zip(recs, L.image_levels(img)):
            assert np.array_equal(F.decode_image_record(rec), ref)
            assert record_format(rec) == (ref.shape, "png")
