"""The image pyramid of a dataset: each level the float32 2x2 box average of the unrounded level
above, stored rounded half to even and clipped to uint8 (the official formula), and its records."""

import io

import numpy as np

from stylegan_tf.data.tfrecord import DatasetError, encode_example

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


