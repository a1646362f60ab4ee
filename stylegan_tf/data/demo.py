"""A small built-in dataset that needs no download: scikit-learn's bundled handwritten digits
(1,797 images of 8x8, 10 classes) upscaled to 32x32, written in the official TFRecord format.

    from stylegan_tf.data.demo import get_demo_dataset
    tfrecord_dir = get_demo_dataset()            # built once (~1 s), then reused
    dset = stylegan_tf.data.reader.load_dataset(tfrecord_dir=tfrecord_dir, max_label_size='full')

Colour version (default, channels=3): each class gets its own ink colour on a dark background, so
a conditional model's labels are visible in the samples; channels=1 gives grayscale digits.
Labels are one-hot float32 (10 columns) in `<name>-rxx.labels`.
"""

import os

import numpy as np

from stylegan_tf.data.info import inspect_dataset
from stylegan_tf.data.tfrecord import DatasetError
from stylegan_tf.data.writer import DatasetWriter, shuffled_order

# Ink colours of the ten classes (RGB), chosen to be distinct.
_PALETTE = np.array([
    [255, 80, 80], [255, 170, 40], [240, 230, 60], [120, 230, 70], [40, 210, 200],
    [70, 140, 255], [160, 100, 255], [250, 100, 220], [230, 230, 230], [170, 120, 70]], np.float32)
_BACKGROUND = np.array([12, 16, 32], np.float32)


def demo_images(resolution=32, channels=3):
    """(images uint8 [N, C, R, R], labels int [N]) from scikit-learn's digits, in source order."""
    if resolution < 8 or resolution & (resolution - 1):
        raise DatasetError("demo resolution %r must be a power of two >= 8" % (resolution,))
    if channels not in (1, 3):
        raise DatasetError("demo channels must be 1 or 3, got %r" % (channels,))
    import PIL.Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    src = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)  # [N, 8, 8]
    inner = resolution * 3 // 4                       # a border like MNIST's
    pad = (resolution - inner) // 2
    out = np.zeros((src.shape[0], channels, resolution, resolution), np.uint8)
    for i, (img, label) in enumerate(zip(src, digits.target)):
        big = np.asarray(PIL.Image.fromarray(img, "L").resize((inner, inner), PIL.Image.BICUBIC), np.float32) / 255.0
        ink = np.zeros((resolution, resolution), np.float32)
        ink[pad:pad + inner, pad:pad + inner] = big
        if channels == 1:
            out[i, 0] = np.rint(ink * 255.0).clip(0, 255).astype(np.uint8)
        else:
            rgb = _BACKGROUND[:, None, None] * (1.0 - ink) + _PALETTE[label][:, None, None] * ink
            out[i] = np.rint(rgb).clip(0, 255).astype(np.uint8)
    return out, digits.target.astype(np.int64)


def make_demo_dataset(tfrecord_dir, resolution=32, channels=3, overwrite=False, encoding="raw",
                      compression="none", verbose=False):
    """Writes the demo dataset to tfrecord_dir (shuffled like the official tool) and returns the path."""
    images, labels = demo_images(resolution, channels)
    onehot = np.zeros((labels.size, 10), np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    order = shuffled_order(images.shape[0])
    with DatasetWriter(tfrecord_dir, images.shape[0], overwrite=overwrite, encoding=encoding,
                       compression=compression, verbose=verbose) as tfr:
        for idx in order:
            tfr.add_image(images[idx])
        tfr.add_labels(onehot[order])
    return tfrecord_dir


def default_data_dir():
    """$STYLEGAN_DATA_DIR, else ~/.cache/stylegan_tf/datasets."""
    return os.environ.get("STYLEGAN_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "stylegan_tf", "datasets")


def get_demo_dataset(data_dir=None, resolution=32, channels=3, verbose=False):
    """Path of a ready demo TFRecord dataset, built on first use under data_dir (see default_data_dir()).

    The directory is named `demo-digits<resolution>` (`...-gray` for channels=1). An existing,
    valid one is reused; building is atomic, so concurrent callers are safe.
    """
    data_dir = data_dir or default_data_dir()
    name = "demo-digits%d%s" % (resolution, "" if channels == 3 else "-gray")
    path = os.path.join(data_dir, name)

    def valid():
        try:
            info = inspect_dataset(path)
            return info.resolution == resolution and info.shape[0] == channels and info.num_images == 1797
        except DatasetError:
            return False
    if valid():
        return path
    os.makedirs(data_dir, exist_ok=True)
    try:
        make_demo_dataset(path, resolution, channels, overwrite=os.path.isdir(path), verbose=verbose)
    except DatasetError:
        if not valid():  # another process may have finished it first
            raise
    return path
