"""TFRecord files without TensorFlow: the format's names and constants, record framing (one CRC-32C:
`google-crc32c`, a required dependency), and a deterministic `tf.train.Example` encoder/decoder for
the two (three with PNG records) features of an image record."""

import gzip
import io
import os
import struct

import google_crc32c
import numpy as np

TFRECORD_SUFFIX = ".tfrecords"
LABELS_SUFFIX = "-rxx.labels"
SHUFFLE_SEED = 123          # the official tool's RandomState seed for the image order
ENCODINGS = ("raw", "png")
COMPRESSIONS = ("none", "gzip")
GZIP_MAGIC = b"\x1f\x8b"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DatasetError(Exception):
    """A bad input or a bad dataset: the message is one line naming the file and the problem."""



# ------------------------------------------------------------------------------------------
# CRC-32C and TFRecord framing.


def crc32c(data) -> int:
    """CRC-32C (Castagnoli) of a buffer, computed by google-crc32c."""
    return google_crc32c.value(bytes(data) if not isinstance(data, (bytes, bytearray)) else data)


def masked_crc32c(data) -> int:
    """The TFRecord checksum: CRC-32C rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return b"".join((header, struct.pack("<I", masked_crc32c(header)), data,
                     struct.pack("<I", masked_crc32c(data))))


def frame_parts(parts: list) -> tuple:
    """(list of buffers forming one framed TFRecord, total length) from a record given in parts."""
    length = sum(len(p) for p in parts)
    header = struct.pack("<Q", length)
    crc = 0
    for p in parts:
        crc = google_crc32c.extend(crc, p)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    out = [header, struct.pack("<I", masked_crc32c(header))] + list(parts) + [struct.pack("<I", masked)]
    return out, length + 16


class RecordFileWriter:
    """Writes TFRecords to one file; `compression` is 'none' or 'gzip'."""

    def __init__(self, path: str, compression: str = "none"):
        if compression not in COMPRESSIONS:
            raise DatasetError("unknown compression %r (choose from %s)" % (compression, ", ".join(COMPRESSIONS)))
        self.path = path
        self._raw = open(path, "wb")
        # GZIP level 6, like TensorFlow's default ZLIB options for 'GZIP'.
        self._file = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0) \
            if compression == "gzip" else self._raw

    def write(self, record) -> None:
        parts, _ = frame_parts([record])
        for p in parts:
            self._file.write(p)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            if self._file is not self._raw:
                self._raw.close()
            self._file = None




def _open_record_file(path: str):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb"), "gzip"
    return open(path, "rb"), "none"


def detect_compression(path: str) -> str:
    """'gzip' for a GZIP-compressed TFRecord file, else 'none'."""
    with open(path, "rb") as f:
        return "gzip" if f.read(2) == GZIP_MAGIC else "none"


def iter_records(path: str, verify: bool = True, limit: int = None):
    """Yields the records of a TFRecord file (plain or GZIP), checking the framing CRCs."""
    f, _ = _open_record_file(path)
    with f:
        n = 0
        while limit is None or n < limit:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DatasetError("%s: truncated record header after %d records" % (path, n))
            length, length_crc = struct.unpack("<QI", header)
            if verify and masked_crc32c(header[:8]) != length_crc:
                raise DatasetError("%s: corrupt record header at record %d" % (path, n))
            data = f.read(length)
            footer = f.read(4)
            if len(data) < length or len(footer) < 4:
                raise DatasetError("%s: truncated record %d" % (path, n))
            if verify and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise DatasetError("%s: corrupt record %d (checksum mismatch)" % (path, n))
            yield data
            n += 1


def count_records(path: str) -> int:
    """Number of records in a TFRecord file; uncompressed files are counted by seeking."""
    f, compression = _open_record_file(path)
    n = 0
    with f:
        if compression == "gzip":
            while True:
                header = f.read(12)
                if not header:
                    return n
                if len(header) < 12:
                    raise DatasetError("%s: truncated record header after %d records" % (path, n))
                length = struct.unpack("<Q", header[:8])[0]
                f.seek(length + 4, io.SEEK_CUR)
                n += 1
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(8)
            if len(header) < 8:
                raise DatasetError("%s: truncated record header after %d records" % (path, n))
            pos += 16 + struct.unpack("<Q", header)[0]
            n += 1
        if pos != size:
            raise DatasetError("%s: truncated record %d" % (path, n - 1))
        return n



# ------------------------------------------------------------------------------------------
# tf.train.Example encoding (deterministic: features in sorted key order, like
# `SerializeToString(deterministic=True)`), and a small decoder.

def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


def _bytes_feature(value: bytes) -> bytes:  # Feature{bytes_list: BytesList{value: [value]}}
    return _len_field(0x0A, _len_field(0x0A, value))


def _int64_feature(values) -> bytes:  # Feature{int64_list: Int64List{value: values (packed)}}
    return _len_field(0x1A, _len_field(0x0A, b"".join(_varint(int(v)) for v in values)))


def encode_example_parts(shape, data, fmt: bytes = None) -> list:
    """The serialised Example as a list of buffers whose concatenation is the record; `data` (any
    bytes-like object, e.g. a memoryview of a contiguous uint8 array) is one of them, uncopied."""
    data_len = len(data) if not isinstance(data, memoryview) else data.nbytes
    bl_len = 1 + len(_varint(data_len)) + data_len            # BytesList{value: data}
    feat_len = 1 + len(_varint(bl_len)) + bl_len               # Feature{bytes_list}
    key = _len_field(0x0A, b"data")
    entry_len = len(key) + 1 + len(_varint(feat_len)) + feat_len
    head = b"".join((b"\x0a", _varint(entry_len), key, b"\x12", _varint(feat_len),
                     b"\x0a", _varint(bl_len), b"\x0a", _varint(data_len)))
    tail_entries = []
    if fmt is not None:
        tail_entries.append((b"format", _bytes_feature(fmt)))
    tail_entries.append((b"shape", _int64_feature(shape)))
    tail = b""
    for k, feature in tail_entries:
        entry = _len_field(0x0A, k) + b"\x12" + _varint(len(feature)) + feature
        tail += b"\x0a" + _varint(len(entry)) + entry
    body_len = len(head) + data_len + len(tail)
    return [b"\x0a" + _varint(body_len) + head, data, tail]


def encode_example(shape, data: bytes, fmt: bytes = None) -> bytes:
    """Serialised `tf.train.Example` {shape: int64 list, data: bytes[, format: bytes]}."""
    return b"".join(encode_example_parts(shape, data, fmt))


def _read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _iter_fields(buf, start=0, end=None):
    pos = start
    end = len(buf) if end is None else end
    while pos < end:
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = _read_varint(buf, pos)
            yield field, wire, (pos, pos + n)
            pos += n
        elif wire == 0:
            v, pos = _read_varint(buf, pos)
            yield field, wire, v
        elif wire == 1:
            yield field, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 5:
            yield field, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)


def decode_example(record) -> dict:
    """Decodes a serialised Example into {name: list of bytes | list of int | list of float}."""
    buf = memoryview(record)
    out = {}
    for field, wire, span in _iter_fields(buf):
        if field != 1 or wire != 2:
            continue
        for f2, w2, (s2, e2) in _iter_fields(buf, *span):  # Features.feature map entries
            if f2 != 1 or w2 != 2:
                continue
            key, value_span = None, None
            for f3, w3, v3 in _iter_fields(buf, s2, e2):
                if f3 == 1:
                    key = bytes(buf[v3[0]:v3[1]]).decode("utf-8")
                elif f3 == 2:
                    value_span = v3
            values = []
            if value_span is not None:
                for kind, w4, v4 in _iter_fields(buf, *value_span):  # Feature oneof
                    if w4 != 2:
                        continue
                    for f5, w5, v5 in _iter_fields(buf, *v4):
                        if kind == 1:  # BytesList
                            values.append(bytes(buf[v5[0]:v5[1]]))
                        elif kind == 3:  # Int64List, packed or not
                            if w5 == 0:
                                values.append(v5 - (1 << 64) if v5 >= 1 << 63 else v5)
                            else:
                                p = v5[0]
                                while p < v5[1]:
                                    v, p = _read_varint(buf, p)
                                    values.append(v - (1 << 64) if v >= 1 << 63 else v)
                        elif kind == 2:  # FloatList
                            if w5 == 2:
                                values.extend(np.frombuffer(bytes(buf[v5[0]:v5[1]]), "<f4").tolist())
                            else:
                                values.append(struct.unpack("<f", bytes(v5))[0])
            out[key] = values
    return out


def decode_image_record(record) -> np.ndarray:
    """A record (raw or PNG-encoded) as a uint8 CHW array."""
    ex = decode_example(record)
    if "shape" not in ex or "data" not in ex or len(ex["data"]) != 1:
        raise DatasetError("record is not a StyleGAN image record (needs 'shape' and 'data' features)")
    shape = tuple(int(v) for v in ex["shape"])
    data = ex["data"][0]
    fmt = ex.get("format", [b"raw"])[0]
    if fmt == b"png":
        import PIL.Image
        img = np.asarray(PIL.Image.open(io.BytesIO(data)))
        img = img[np.newaxis] if img.ndim == 2 else img.transpose(2, 0, 1)
        if img.shape != shape:
            raise DatasetError("PNG record has shape %s but says %s" % (img.shape, shape))
        return img
    arr = np.frombuffer(data, np.uint8)
    if arr.size != int(np.prod(shape)):
        raise DatasetError("record data has %d bytes, shape %s needs %d" % (arr.size, shape, int(np.prod(shape))))
    return arr.reshape(shape)


