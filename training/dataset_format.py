"""The multi-resolution TFRecord dataset format, without TensorFlow.

A dataset is a directory `<dir>/` holding one TFRecord file per level of detail,
`<basename(dir)>-rNN.tfrecords` for NN = log2(resolution) down to 02, plus optionally
`<basename(dir)>-rxx.labels` (a NumPy `.npy` file of float32 labels, one row per image).
Each record is a serialised `tf.train.Example` with two features:

* `shape`: int64 list, the image shape as [channels, height, width];
* `data`:  bytes, the uint8 pixels in CHW order.

Every level is the float32 2x2 box average of the (unrounded, float32) level above; what is
stored is that average rounded half-to-even (`np.rint`) and clipped to uint8.
This is the layout of NVIDIA's StyleGAN / ProGAN `dataset_tool.py`, so datasets written by
either tool load in either reader.

Two opt-in extensions that the official reader cannot read (ours reads them transparently):

* PNG-encoded records: `data` holds a PNG file and a third feature `format` = b"png" says so;
* GZIP-compressed TFRecord files (same file names; detected by the gzip magic bytes).

This module writes and reads records with NumPy, Pillow and the standard library only, so the
conversion tool never has to import TensorFlow (whose import alone takes seconds). Record
framing needs CRC-32C: the `google-crc32c` package computes it in C when installed, else a
vectorised NumPy implementation here does (about 1.5 ms per 200 KB record).
"""

import glob
import gzip
import io
import os
import re
import shutil
import signal
import struct
import sys
import time

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

_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _make_table():
    table = np.zeros(256, np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc_bytewise(crc: int, data) -> int:
    """Raw CRC-32C state update (no pre/post inversion), one byte at a time."""
    tab = _TABLE_LIST
    for b in bytes(data):
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


# GF(2) 32x32 matrices as lists of 32 column words: the operator "feed n zero bytes".
def _gf2_times(mat, vec):
    out = 0
    i = 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat):
    return [_gf2_times(mat, mat[i]) for i in range(32)]


_ZERO_BYTE_OP = [_crc_bytewise(1 << i, b"\0") for i in range(32)]
_SHIFT_OPS = {}
_SHIFT_TABLES = {}


def _shift_op(nbytes: int):
    """Matrix of 'feed nbytes zero bytes' (x^(8n) mod P), by repeated squaring; cached."""
    op = _SHIFT_OPS.get(nbytes)
    if op is None:
        result = [1 << i for i in range(32)]  # identity
        power = _ZERO_BYTE_OP
        n = nbytes
        while n:
            if n & 1:
                result = [_gf2_times(power, result[i]) for i in range(32)]
            n >>= 1
            if n:
                power = _gf2_square(power)
        op = _SHIFT_OPS[nbytes] = result
    return op


def _shift_tables(nbytes: int) -> np.ndarray:
    """[4, 256] uint32 tables: shift(c) = T0[c & 255] ^ T1[(c >> 8) & 255] ^ ... ; cached."""
    tables = _SHIFT_TABLES.get(nbytes)
    if tables is None:
        op = _shift_op(nbytes)
        tables = np.array([[_gf2_times(op, b << (8 * j)) for b in range(256)] for j in range(4)], np.uint32)
        _SHIFT_TABLES[nbytes] = tables
    return tables


_LANE_BYTES = 32  # bytes per lane and step block; lane spans are 32 * 2**j, so merge tables are shared


def _slice4_tables():
    t = np.zeros((4, 256), np.uint32)
    t[0] = _TABLE
    for k in range(1, 4):
        t[k] = (t[k - 1] >> 8) ^ _TABLE[t[k - 1] & 0xFF]
    return t


_T4 = _slice4_tables()


def crc32c_numpy(data) -> int:
    """CRC-32C in NumPy, without compiled extensions (~1 ms per 200 KB).

    The data is cut into equal 32-byte lanes processed side by side, 4 bytes per step
    (slicing-by-4 tables); zero bytes prepended to even the lanes do not change a CRC whose
    register starts at 0. Lane CRCs are merged pairwise with 'shift by n zero bytes' tables, and
    the standard initial/final inversion is applied at the end.
    """
    buf = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray)) else data, np.uint8)
    n = buf.size
    if n < 1024:
        raw = _crc_bytewise(0, buf.tobytes())
    else:
        lanes = 1 << (-(-n // _LANE_BYTES) - 1).bit_length()
        padded = np.zeros(lanes * _LANE_BYTES, np.uint8)
        padded[padded.size - n:] = buf
        words = np.ascontiguousarray(padded.view("<u4").reshape(lanes, _LANE_BYTES // 4).T)
        t0, t1, t2, t3 = _T4
        state = np.zeros(lanes, np.uint32)
        for w in words:
            state ^= w
            state = t3[state & 0xFF] ^ t2[(state >> 8) & 0xFF] ^ t1[(state >> 16) & 0xFF] ^ t0[state >> 24]
        span = _LANE_BYTES
        while state.size > 1:
            t = _shift_tables(span)
            a, b = state[0::2], state[1::2]
            state = t[0][a & 0xFF] ^ t[1][(a >> 8) & 0xFF] ^ t[2][(a >> 16) & 0xFF] ^ t[3][a >> 24] ^ b
            span *= 2
        raw = int(state[0])
    return raw ^ _gf2_times(_shift_op(n), 0xFFFFFFFF) ^ 0xFFFFFFFF


try:  # C implementation (google-crc32c) when installed; else the NumPy one above.
    import google_crc32c as _gcrc

    if getattr(_gcrc, "implementation", "c") != "c":
        raise ImportError("google_crc32c has no C extension here")

    def crc32c(data) -> int:
        return _gcrc.value(bytes(data) if not isinstance(data, (bytes, bytearray)) else data)

    HAVE_FAST_CRC = True
except ImportError:  # pragma: no cover - depends on the environment
    _gcrc = None
    HAVE_FAST_CRC = False
    crc32c = crc32c_numpy


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
    if HAVE_FAST_CRC:
        crc = 0
        for p in parts:
            crc = _gcrc.extend(crc, p)
    else:
        crc = crc32c(b"".join(parts))
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


# ------------------------------------------------------------------------------------------
# Levels of detail.

def downsample_float(img: np.ndarray) -> np.ndarray:
    """2x2 box average in float32, summed left to right then scaled by 0.25 (the official order)."""
    img = img.astype(np.float32, copy=False)
    return (img[:, 0::2, 0::2] + img[:, 0::2, 1::2] + img[:, 1::2, 0::2] + img[:, 1::2, 1::2]) * np.float32(0.25)


def quantize(img: np.ndarray) -> np.ndarray:
    """Rounded half-to-even and clipped to uint8, like the official `np.rint(img).clip(0, 255)`."""
    return np.rint(img).clip(0, 255).astype(np.uint8)


def image_levels(img: np.ndarray):
    """The image and all its box-downsampled versions down to 4x4 (CHW uint8).

    As in the official exporter, the averaging chain stays in float32 from level to level and
    only the copy written to each file is quantised (a level is NOT the rounded average of the
    rounded level above: the rounding does not accumulate).

    Implementation: n levels down, the official float32 value is exactly K / 4**n where K is the
    integer sum of the 2**n x 2**n source block (every partial sum is a multiple of 4**-n below
    2**24, so float32 represents it exactly for n <= 8). So integer sums plus an exact
    round-half-to-even give bit-identical results, faster; past n = 8 the float chain is used.
    """
    levels = [np.ascontiguousarray(img, dtype=np.uint8)]
    base = levels[0]
    if base.shape[1] <= 4:
        return levels
    k = base[:, 0::2, :].astype(np.uint16)
    k += base[:, 1::2, :]
    k = k[:, :, 0::2] + k[:, :, 1::2]
    n = 1
    while True:
        levels.append(_round_div_pow4(k, n))
        if k.shape[1] <= 4:
            return levels
        if n == 8:  # beyond exact float32 range: continue with the official float chain
            cur = k.astype(np.float32) * np.float32(0.25 ** n)
            while cur.shape[1] > 4:
                cur = downsample_float(cur)
                levels.append(quantize(cur))
            return levels
        if n == 3:
            k = k.astype(np.uint32)  # 4**4 * 255 > 65535 from level 5 on... keep headroom
        k = k[:, 0::2, 0::2] + k[:, 0::2, 1::2] + k[:, 1::2, 0::2] + k[:, 1::2, 1::2]
        n += 1


def _round_div_pow4(k: np.ndarray, n: int) -> np.ndarray:
    """rint(k / 4**n) with ties to even, for non-negative integer arrays (result <= 255)."""
    shift = 2 * n
    q = k >> shift
    r = k & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    q += (r > half) | ((r == half) & (q & 1).astype(bool))
    return q.astype(np.uint8)


def encode_png(img_chw: np.ndarray, compress_level: int = 6) -> bytes:
    import PIL.Image
    arr = img_chw[0] if img_chw.shape[0] == 1 else img_chw.transpose(1, 2, 0)
    buf = io.BytesIO()
    PIL.Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_levels(img: np.ndarray, encoding: str = "raw") -> list:
    """Serialised records, one per level, highest resolution first."""
    out = []
    for level in image_levels(img):
        if encoding == "png":
            out.append(encode_example(level.shape, encode_png(level), b"png"))
        else:
            out.append(encode_example(level.shape, level.tobytes()))
    return out


def check_image_shape(shape, what="image") -> None:
    """Raises DatasetError unless shape is CHW with C in {1, 3} and H == W a power of two >= 4."""
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DatasetError("%s has shape %s; expected 1 (grayscale) or 3 (RGB) channels" % (what, tuple(shape)))
    if shape[1] != shape[2]:
        raise DatasetError("%s is not square (%dx%d); use --resolution N --transform center-crop|pad|resize"
                           % (what, shape[2], shape[1]))
    res = shape[1]
    if res < 4 or res & (res - 1):
        raise DatasetError("%s resolution %d is not a power of two >= 4; use --resolution N --transform ..."
                           % (what, res))


def shuffled_order(n: int) -> np.ndarray:
    """The official image order: RandomState(123).shuffle of arange(n)."""
    order = np.arange(n)
    np.random.RandomState(SHUFFLE_SEED).shuffle(order)
    return order


# ------------------------------------------------------------------------------------------
# Dataset writer: everything goes into a hidden temporary directory that is renamed into
# place only when the conversion succeeded.

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


# ------------------------------------------------------------------------------------------
# Progress bar: images done / total, images/s, ETA.

class Progress:
    def __init__(self, total: int = None, stream=None, enabled: bool = True, label: str = "images"):
        self.total = total
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.label = label
        self.start = time.time()
        self.last = 0.0
        self.done = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.time()
        interval = 0.2 if self.tty else 5.0
        if not force and (now - self.last < interval or done == 0):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        if self.total:
            pct = 100.0 * done / self.total
            eta = (self.total - done) / rate if rate > 0 else float("inf")
            eta_s = _fmt_secs(eta) if eta != float("inf") else "?"
            line = "%d / %d %s  %5.1f%%  %.1f %s/s  ETA %s" % (done, self.total, self.label, pct, rate, self.label, eta_s)
        else:
            line = "%d %s  %.1f %s/s" % (done, self.label, rate, self.label)
        if self.tty:
            self.stream.write("\r%-78s" % line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        elapsed = max(time.time() - self.start, 1e-9)
        line = "%d %s in %.2f s (%.1f %s/s)" % (self.done, self.label, elapsed, self.done / elapsed, self.label)
        if self.tty:
            self.stream.write("\r%-78s\n" % line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _fmt_secs(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm %02ds" % (s // 60, s % 60)
    return "%dh %02dm" % (s // 3600, (s // 60) % 60)


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
        pool.terminate()


# ------------------------------------------------------------------------------------------
# Dataset inspection (shared by the TF reader and the tool's extract/compare/display).

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
