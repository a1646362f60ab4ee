"""Creates multi-resolution TFRecord datasets for StyleGAN (and ProGAN), and inspects them.

Commands, arguments and defaults are those of NVIDIA's `dataset_tool.py`, and the files it
writes are record for record the official ones (see stylegan_tf/data/), e.g.

    python dataset_tool.py create_from_images datasets/mydataset myimagedir --shuffle 1

Additions: `create_from_tfds`, `create_demo`; `--resolution/--transform` for folders of
non-square or odd-sized photos; opt-in `--encoding png` and `--compression gzip`; worker
processes (`--workers`) with a progress bar; `--skip_bad`; `--overwrite`. Conversion writes
into a hidden temporary directory that is renamed into place only on success, so a failed,
interrupted or killed run never leaves a directory that looks like a dataset.
Errors are printed as one line `Error: <file>: <problem>` with exit code 1.
"""

import glob
import gzip
import itertools
import os
import pickle
import signal
import sys

import click
import numpy as np

from dnnlib import cli
from stylegan_tf.data.convert import (TRANSFORMS, convert, default_workers, largest_pow2, process_chw,
                                      process_item, probe_image)
from stylegan_tf.data.info import compare_datasets, inspect_dataset, iter_images, load_labels
from stylegan_tf.data.tfrecord import COMPRESSIONS, ENCODINGS, DatasetError
from stylegan_tf.data.writer import DatasetWriter, shuffled_order


def error(msg):
    """A one-line error, exit status 1 (the official tool's helper), printed by dnnlib.cli under the name
    the tool was started with (`dataset_tool.py` or `stylegan-tf`)."""
    raise cli.CommandError(msg)


def _warn(msg):
    print("Warning: " + msg, flush=True)


def _onehot(labels, num_classes, source):
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError("%s: labels must lie in 0..%d, found %d..%d"
                           % (source, num_classes - 1, labels.min(), labels.max()))
    onehot = np.zeros((labels.size, num_classes), dtype=np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot


def _writer(tfrecord_dir, expected, opts):
    return DatasetWriter(tfrecord_dir, expected, overwrite=bool(opts.get("overwrite", 0)),
                         compression=opts.get("compression", "none"), encoding=opts.get("encoding", "raw"))


def _workers(opts):
    w = opts.get("workers")
    return default_workers() if w is None else int(w)


def _spec(opts, **kw):
    spec = dict(encoding=opts.get("encoding", "raw"))
    spec.update(kw)
    return spec


def _write_arrays(tfrecord_dir, images, order, onehot, opts, source):
    """Writes in-memory CHW uint8 images (MNIST, CIFAR, SVHN) in `order`, with labels."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DatasetError("%s: expected uint8 images of shape [N, C, H, W], got %s %s"
                           % (source, images.dtype, images.shape))
    items = ((int(i), images[i]) for i in order)
    with _writer(tfrecord_dir, len(order), opts) as tfr:
        convert(tfr, items, process_chw, _spec(opts), total=len(order), workers=_workers(opts),
                progress=not opts.get("quiet"), chunk_size=256)
        if onehot is not None:
            tfr.add_labels(onehot[order])


def _check_count(found, expected, what):
    if found != expected:
        _warn("%s: found %d images, the official dataset has %d" % (what, found, expected))


def _need_file(path, what):
    if not os.path.isfile(path):
        raise DatasetError("%s: %s not found" % (path, what))
    return path


def _need_dir(path, what="source directory"):
    if not os.path.isdir(path):
        raise DatasetError("%s: %s does not exist" % (path, what))
    return path


# ------------------------------------------------------------------------------------------
# Inspection commands.

def _load(tfrecord_dir, labels=True):
    info = inspect_dataset(tfrecord_dir)
    lab = load_labels(info) if labels else None
    return info, lab


def display(tfrecord_dir, grid=None, max_images=64):
    """Shows a grid of the first images; headless (no $DISPLAY) or with --grid it writes a PNG."""
    import PIL.Image
    print('Loading dataset "%s"' % tfrecord_dir)
    info, labels = _load(tfrecord_dir)
    images = list(itertools.islice(iter_images(info), max_images))
    n = len(images)
    c, h, w = images[0].shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((c, rows * h, cols * w), np.uint8)
    for i, img in enumerate(images):
        canvas[:, (i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = img
    pil = PIL.Image.fromarray(canvas[0] if c == 1 else canvas.transpose(1, 2, 0))
    for i in range(min(n, 16)):
        print("idx = %-8d label = %s" % (i, labels[i].tolist() if labels is not None else []))
    if grid is None and os.environ.get("DISPLAY"):
        print("Displaying %d images" % n)
        pil.show(title="dataset_tool")
    else:
        grid = grid or os.path.basename(os.path.normpath(tfrecord_dir)) + "-grid.png"
        pil.save(grid)
        print("Wrote a grid of %d images to %s" % (n, grid))


def extract(tfrecord_dir, output_dir):
    import PIL.Image
    print('Loading dataset "%s"' % tfrecord_dir)
    info = inspect_dataset(tfrecord_dir)
    print('Extracting images to "%s"' % output_dir)
    os.makedirs(output_dir, exist_ok=True)
    idx = 0
    for img in iter_images(info):
        pil = PIL.Image.fromarray(img[0], "L") if img.shape[0] == 1 else PIL.Image.fromarray(img.transpose(1, 2, 0), "RGB")
        pil.save(os.path.join(output_dir, "img%08d.png" % idx))
        idx += 1
    print("Extracted %d images." % idx)


def compare(tfrecord_dir_a, tfrecord_dir_b, ignore_labels=0):
    """Prints a summary of the differences (stylegan_tf.data.info.compare_datasets); True if identical."""
    for d in (tfrecord_dir_a, tfrecord_dir_b):
        print('Loading dataset "%s"' % d)
    print("Comparing datasets")
    identical, lines = compare_datasets(tfrecord_dir_a, tfrecord_dir_b, ignore_labels=bool(ignore_labels))
    print("\n".join(lines))
    return identical


# ------------------------------------------------------------------------------------------
# Classic datasets.

def _load_mnist_images(mnist_dir):
    path = _need_file(os.path.join(_need_dir(mnist_dir), "train-images-idx3-ubyte.gz"), "MNIST images file")
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError("%s: cannot read (%s)" % (path, e))
    if len(data) < 16 or int.from_bytes(data[:4], "big") != 2051 or (len(data) - 16) % 784:
        raise DatasetError("%s: not an MNIST idx3 image file" % path)
    images = np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)
    return np.pad(images, [(0, 0), (2, 2), (2, 2)], "constant", constant_values=0)


def create_mnist(tfrecord_dir, mnist_dir, **opts):
    print('Loading MNIST from "%s"' % mnist_dir)
    images = _load_mnist_images(mnist_dir)[:, np.newaxis]
    path = _need_file(os.path.join(mnist_dir, "train-labels-idx1-ubyte.gz"), "MNIST labels file")
    with gzip.open(path, "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    if labels.shape[0] != images.shape[0]:
        raise DatasetError("%s: %d labels for %d images" % (path, labels.shape[0], images.shape[0]))
    _check_count(images.shape[0], 60000, "MNIST")
    onehot = _onehot(labels, 10, path)
    _write_arrays(tfrecord_dir, images, shuffled_order(images.shape[0]), onehot, opts, mnist_dir)


def create_mnistrgb(tfrecord_dir, mnist_dir, num_images=1000000, random_seed=123, **opts):
    print('Loading MNIST from "%s"' % mnist_dir)
    images = _load_mnist_images(mnist_dir)
    rnd = np.random.RandomState(random_seed)
    items = ((i, images[rnd.randint(images.shape[0], size=3)]) for i in range(num_images))
    with _writer(tfrecord_dir, num_images, opts) as tfr:
        convert(tfr, items, process_chw, _spec(opts), total=num_images, workers=_workers(opts),
                progress=not opts.get("quiet"), chunk_size=256)


def _unpickle(path):
    _need_file(path, "batch file")
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as e:  # pylint: disable=broad-except
        raise DatasetError("%s: cannot unpickle (%s)" % (path, e))


def create_cifar10(tfrecord_dir, cifar10_dir, **opts):
    print('Loading CIFAR-10 from "%s"' % cifar10_dir)
    _need_dir(cifar10_dir)
    images, labels = [], []
    for batch in range(1, 6):
        data = _unpickle(os.path.join(cifar10_dir, "data_batch_%d" % batch))
        images.append(np.asarray(data["data"], np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(data["labels"]))
    images = np.concatenate(images)
    labels = np.concatenate(labels)
    _check_count(images.shape[0], 50000, "CIFAR-10")
    _write_arrays(tfrecord_dir, images, shuffled_order(images.shape[0]), _onehot(labels, 10, cifar10_dir),
                  opts, cifar10_dir)


def create_cifar100(tfrecord_dir, cifar100_dir, **opts):
    print('Loading CIFAR-100 from "%s"' % cifar100_dir)
    data = _unpickle(os.path.join(_need_dir(cifar100_dir), "train"))
    images = np.asarray(data["data"], np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(data["fine_labels"])
    _check_count(images.shape[0], 50000, "CIFAR-100")
    _write_arrays(tfrecord_dir, images, shuffled_order(images.shape[0]), _onehot(labels, 100, cifar100_dir),
                  opts, cifar100_dir)


def create_svhn(tfrecord_dir, svhn_dir, **opts):
    print('Loading SVHN from "%s"' % svhn_dir)
    _need_dir(svhn_dir)
    images, labels = [], []
    for batch in range(1, 4):
        data = _unpickle(os.path.join(svhn_dir, "train_%d.pkl" % batch))
        images.append(np.asarray(data[0], np.uint8))
        labels.append(np.asarray(data[1]))
    images = np.concatenate(images)
    labels = np.concatenate(labels)
    _check_count(images.shape[0], 73257, "SVHN")
    _write_arrays(tfrecord_dir, images, shuffled_order(images.shape[0]), _onehot(labels, 10, svhn_dir),
                  opts, svhn_dir)


def _lmdb_items(lmdb_dir):
    try:
        import lmdb  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise DatasetError("create_lsun needs the lmdb package: pip install lmdb")
    _need_dir(lmdb_dir, "LMDB directory")
    try:
        env = lmdb.open(lmdb_dir, readonly=True, lock=False)
    except lmdb.Error as e:
        raise DatasetError("%s: cannot open LMDB (%s)" % (lmdb_dir, e))
    txn = env.begin(write=False)
    total = txn.stat()["entries"]

    def gen():
        try:
            for key, value in txn.cursor():
                yield ("%s[%s]" % (lmdb_dir, key.decode("utf-8", "replace")), bytes(value))
        finally:
            txn.abort()
            env.close()
    return gen(), total


def _convert_capped(tfr, items, spec, total, max_images, opts, skip_bad):
    """Converts until max_images have been written (the official LSUN loop)."""
    convert(tfr, items, process_item, spec, total=total, workers=_workers(opts), skip_bad=skip_bad,
            progress=not opts.get("quiet"), max_images=max_images)


def create_lsun(tfrecord_dir, lmdb_dir, resolution=256, max_images=None, skip_bad=1, **opts):
    print('Loading LSUN dataset from "%s"' % lmdb_dir)
    _check_resolution(resolution)
    items, total = _lmdb_items(lmdb_dir)
    if max_images is None:
        max_images = total
    spec = _spec(opts, transform="center-crop", resolution=resolution, channels=3)
    with _writer(tfrecord_dir, max_images, opts) as tfr:
        _convert_capped(tfr, items, spec, min(total, max_images), max_images, opts, bool(skip_bad))


def create_lsun_wide(tfrecord_dir, lmdb_dir, width=512, height=384, max_images=None, skip_bad=1, **opts):
    if width != 2 ** int(np.round(np.log2(width))) or width < 4:
        raise DatasetError("--width %d is not a power of two >= 4" % width)
    if not 1 <= height <= width:
        raise DatasetError("--height %d must lie in 1..width (%d)" % (height, width))
    print('Loading LSUN dataset from "%s"' % lmdb_dir)
    items, total = _lmdb_items(lmdb_dir)
    if max_images is None:
        max_images = total
    spec = _spec(opts, transform="lsun-wide", width=width, height=height, resolution=width, channels=3)
    with _writer(tfrecord_dir, max_images, opts) as tfr:
        _convert_capped(tfr, items, spec, min(total, max_images), max_images, opts, bool(skip_bad))


def create_celeba(tfrecord_dir, celeba_dir, cx=89, cy=121, expected_images=202599, skip_bad=0, **opts):
    print('Loading CelebA from "%s"' % celeba_dir)
    _need_dir(celeba_dir)
    image_filenames = sorted(glob.glob(os.path.join(celeba_dir, "img_align_celeba_png", "*.png")))
    if expected_images and len(image_filenames) != expected_images:
        raise DatasetError("%s: expected to find %d images in img_align_celeba_png/, found %d "
                           "(--expected_images 0 accepts any number)"
                           % (celeba_dir, expected_images, len(image_filenames)))
    if not image_filenames:
        raise DatasetError("%s: no input images found in img_align_celeba_png/" % celeba_dir)
    if not (64 <= cx <= 178 - 64 and 64 <= cy <= 218 - 64):
        raise DatasetError("--cx %d --cy %d: the 128x128 crop must lie inside the 178x218 image" % (cx, cy))
    order = shuffled_order(len(image_filenames))
    spec = _spec(opts, transform="celeba", cx=cx, cy=cy, channels=3, resolution=128)
    items = ((image_filenames[i], image_filenames[i]) for i in order)
    with _writer(tfrecord_dir, len(order), opts) as tfr:
        convert(tfr, items, process_item, spec, total=len(order), workers=_workers(opts),
                skip_bad=bool(skip_bad), progress=not opts.get("quiet"))


# ------------------------------------------------------------------------------------------
# Folders of images, HDF5, TFDS.

def _check_resolution(resolution, flag="--resolution"):
    if resolution is not None and (resolution < 4 or resolution & (resolution - 1)):
        raise DatasetError("%s %d is not a power of two >= 4" % (flag, resolution))


def list_image_files(image_dir):
    """Sorted image files of a folder (the official `sorted(glob(dir/*))`, minus non-images)."""
    import PIL.Image
    PIL.Image.init()
    exts = set(k.lower() for k in PIL.Image.registered_extensions())
    if not os.path.isdir(image_dir):
        raise DatasetError("%s: image directory does not exist" % image_dir)
    names = sorted(glob.glob(os.path.join(image_dir, "*")))
    files = [f for f in names if os.path.isfile(f)]
    images = [f for f in files if os.path.splitext(f)[1].lower() in exts]
    others = len(files) - len(images)
    if others:
        print("Ignoring %d file(s) that are not images by extension" % others)
    return images


def create_from_images(tfrecord_dir, image_dir, shuffle=1, resolution=None, transform=None, skip_bad=0, **opts):
    print('Loading images from "%s"' % image_dir)
    image_filenames = list_image_files(image_dir)
    if not image_filenames:
        raise DatasetError("%s: no input images found" % image_dir)
    if transform is not None and transform not in TRANSFORMS:
        raise DatasetError("--transform %s: choose from %s" % (transform, ", ".join(TRANSFORMS)))
    _check_resolution(resolution)
    # Shape and channels come from the first file in sorted order (as in the official tool).
    first, probe = None, None
    for f in image_filenames:
        try:
            probe = probe_image(f, f)
            first = f
            break
        except DatasetError:
            if not skip_bad:
                raise
    if first is None:
        raise DatasetError("%s: none of the %d images can be decoded" % (image_dir, len(image_filenames)))
    w, h, mode = probe
    channels = 1 if mode == "L" else 3
    if resolution is None and transform is None:
        if w != h:
            raise DatasetError("%s: image is %dx%d, not square; pass --resolution N --transform "
                               "center-crop|pad|resize" % (first, w, h))
        if w < 4 or w & (w - 1):
            raise DatasetError("%s: image resolution %d is not a power of two; pass --resolution N "
                               "--transform center-crop|pad|resize" % (first, w))
        spec = _spec(opts, size=(w, h), channels=channels, first=first, resolution=w)
    else:
        if transform is None:
            transform = "center-crop"
        if resolution is None:
            resolution = largest_pow2(min(w, h))
            if resolution < 4:
                raise DatasetError("%s: image is too small (%dx%d)" % (first, w, h))
            print("Resolution %d (from %s, %dx%d)" % (resolution, first, w, h))
        spec = _spec(opts, transform=transform, resolution=resolution, size=(resolution, resolution),
                     channels=channels, first=first)
    order = shuffled_order(len(image_filenames)) if shuffle else np.arange(len(image_filenames))
    items = ((image_filenames[i], image_filenames[i]) for i in order)
    with _writer(tfrecord_dir, len(order), opts) as tfr:
        convert(tfr, items, process_item, spec, total=len(order), workers=_workers(opts),
                skip_bad=bool(skip_bad), progress=not opts.get("quiet"))


def create_from_hdf5(tfrecord_dir, hdf5_filename, shuffle=1, **opts):
    print('Loading HDF5 archive from "%s"' % hdf5_filename)
    try:
        import h5py  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise DatasetError("create_from_hdf5 needs the h5py package: pip install h5py")
    _need_file(hdf5_filename, "HDF5 archive")
    try:
        hdf5_file = h5py.File(hdf5_filename, "r")
    except OSError as e:
        raise DatasetError("%s: cannot open HDF5 archive (%s)" % (hdf5_filename, e))
    with hdf5_file:
        candidates = [value for key, value in hdf5_file.items() if key.startswith("data")]
        if not candidates:
            raise DatasetError("%s: no dataset named data* in the HDF5 archive" % hdf5_filename)
        data = max(candidates, key=lambda d: d.shape[3])
        if data.ndim != 4 or data.dtype != np.uint8:
            raise DatasetError("%s: %s must be uint8 [N, C, H, W], is %s %s" % (hdf5_filename, data.name, data.dtype, data.shape))
        n = data.shape[0]
        order = shuffled_order(n) if shuffle else np.arange(n)
        items = ((int(i), data[int(i)]) for i in order)
        with _writer(tfrecord_dir, n, opts) as tfr:
            convert(tfr, items, process_chw, _spec(opts), total=n, workers=_workers(opts),
                    progress=not opts.get("quiet"), chunk_size=max(1, (4 << 20) // int(np.prod(data.shape[1:]))))
            npy_filename = os.path.splitext(hdf5_filename)[0] + "-labels.npy"
            if os.path.isfile(npy_filename):
                labels = np.load(npy_filename)
                if labels.shape[0] != n:
                    raise DatasetError("%s: %d label rows for %d images" % (npy_filename, labels.shape[0], n))
                tfr.add_labels(labels[order])


def create_from_tfds(tfrecord_dir, name, data_dir=None, split="train", resolution=None, transform=None,
                     image_key="image", label_key="label", max_images=None, skip_bad=0, **opts):
    """Any image dataset of tensorflow-datasets, read from a local (already prepared) data_dir."""
    print('Loading TFDS dataset "%s" split "%s" from "%s"' % (name, split, data_dir or "the TFDS default"))
    if transform is not None and transform not in TRANSFORMS:
        raise DatasetError("--transform %s: choose from %s" % (transform, ", ".join(TRANSFORMS)))
    _check_resolution(resolution)
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # pylint: disable=broad-except
        raise DatasetError("%s: unknown TFDS dataset (%s)" % (name, str(e).splitlines()[0] if str(e) else type(e).__name__))
    features = builder.info.features
    if image_key not in features:
        raise DatasetError("%s: has no feature %r (features: %s)" % (name, image_key, ", ".join(features.keys())))
    num_classes = None
    if label_key and label_key in features and hasattr(features[label_key], "num_classes"):
        num_classes = features[label_key].num_classes
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
    except Exception as e:  # pylint: disable=broad-except
        raise DatasetError("%s: cannot read split %r from %s (%s); prepare it first with "
                           "`tfds build %s --data_dir DIR`" % (name, split, data_dir or "the default data_dir",
                                                                str(e).splitlines()[0] if str(e) else type(e).__name__, name))
    try:
        total = builder.info.splits[split].num_examples
    except Exception:  # pylint: disable=broad-except
        total = None
    if max_images is not None:
        total = min(total, max_images) if total else max_images
    labels = []

    def gen():
        for i, ex in enumerate(tfds.as_numpy(ds)):
            if max_images is not None and i >= max_images:
                return
            if num_classes is not None:
                labels.append(int(ex[label_key]))
            yield ("%s[%s][%d]" % (name, split, i), np.asarray(ex[image_key]))
    items = gen()
    first = next(items, None)
    if first is None:
        raise DatasetError("%s: split %r is empty" % (name, split))
    arr = first[1]
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise DatasetError("%s: images have %d channels" % (name, arr.shape[2]))
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 or arr.shape[2] == 1 else 3
    if resolution is None and transform is None:
        if h != w or w < 4 or w & (w - 1):
            raise DatasetError("%s: images are %dx%d; pass --resolution N --transform center-crop|pad|resize"
                               % (name, w, h))
        spec = _spec(opts, size=(w, h), channels=channels, first=first[0], resolution=w)
    else:
        transform = transform or "center-crop"
        resolution = resolution or largest_pow2(min(w, h))
        spec = _spec(opts, transform=transform, resolution=resolution, size=(resolution, resolution),
                     channels=channels, first=first[0])
    with _writer(tfrecord_dir, total, opts) as tfr:
        skipped = set(convert(tfr, itertools.chain([first], items), process_item, spec, total=total,
                              workers=_workers(opts), skip_bad=bool(skip_bad), progress=not opts.get("quiet")))
        if num_classes is not None:
            kept = [lab for i, lab in enumerate(labels) if i not in skipped]
            tfr.add_labels(_onehot(kept, num_classes, name))


def create_demo(tfrecord_dir, resolution=32, channels=3, **opts):
    """The built-in demo dataset (scikit-learn's bundled digits), no download."""
    from stylegan_tf.data.demo import make_demo_dataset  # pylint: disable=import-outside-toplevel
    make_demo_dataset(tfrecord_dir, resolution=resolution, channels=channels,
                      overwrite=bool(opts.get("overwrite", 0)), encoding=opts.get("encoding", "raw"),
                      compression=opts.get("compression", "none"), verbose=True)


# ------------------------------------------------------------------------------------------
# Command line.

def _on_sigterm(signum, frame):  # pylint: disable=unused-argument
    raise KeyboardInterrupt("terminated")


_NO_OUTPUT = object()


def _command(name, desc, example, func, arguments, options=(), output=_NO_OUTPUT):
    """A click subcommand calling `func(**kwargs)`; `arguments` are (name, help) pairs; `output` adds the
    output options, with --skip_bad defaulting to it (None: no --skip_bad)."""
    args_help = "\n".join("  %s: %s" % (a.upper(), h) for a, h in arguments)
    epilog = "Example: dataset_tool.py " + example
    params = [click.Argument([a]) for a, _ in arguments] + list(options)
    if output is not _NO_OUTPUT:
        params += _output_options(skip_bad=output)
    return click.Command(name, params=params, help="%s\n\n\b\n%s" % (desc, args_help), short_help=desc,
                         epilog=epilog, callback=lambda **kwargs: _execute(func, kwargs))


def _opt(decl, help, type=int, default=None):
    """An option; for a default of None, `help` says what it means."""
    return click.Option([decl], type=type, default=default,
                        help=help if default is None else "%s (default: %s)" % (help, default))


def _bool(decl, help, default=False):
    return click.Option([decl], type=click.BOOL, is_flag=False, flag_value=True, default=default, metavar="[0|1]",
                        help="%s (default: %d)" % (help, default))


def _output_options(skip_bad):
    """Output options (not in the official tool); skip_bad=None leaves --skip_bad out."""
    opts = [_bool("--overwrite", "Replace an existing dataset in tfrecord_dir"),
            _opt("--encoding", "Record encoding: raw (official) or png (smaller; our reader only)",
                 click.Choice(ENCODINGS), "raw"),
            _opt("--compression", "TFRecord compression: none (official) or gzip (our reader only)",
                 click.Choice(COMPRESSIONS), "none"),
            _opt("--workers", "Worker processes (default: number of CPUs)"),
            _bool("--quiet", "No progress bar")]
    if skip_bad is not None:
        opts.append(_bool("--skip_bad", "Skip undecodable images and report them instead of failing", skip_bad))
    return opts


def _execute(func, kwargs):
    """Runs a command with one-line errors (exit 1), SIGTERM handled as an interrupt (exit 130)."""
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        old = None
    try:
        result = func(**kwargs)
    except DatasetError as e:
        error(e)
    except OSError as e:  # disk full, permission denied, ...: still one line naming the file
        error("%s: %s" % (e.filename, e.strerror) if e.filename else str(e))
    except KeyboardInterrupt:
        print("\nInterrupted; nothing was written.", file=sys.stderr, flush=True)
        sys.exit(130)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    if func is compare and result is False:
        sys.exit(1)


_NEW = ("tfrecord_dir", "New dataset directory to be created")
_TRANSFORM = click.Choice(TRANSFORMS)


def commands():
    """The subcommands: the official ones with their arguments and defaults, then ours."""
    return [
        _command("display", "Display images in dataset.", "display datasets/mnist", display,
                 [("tfrecord_dir", "Directory containing dataset")],
                 [_opt("--grid", "Write a grid PNG here instead of opening a window (default when headless: "
                       "<name>-grid.png)", str),
                  _opt("--max_images", "Images in the grid", int, 64)]),
        _command("extract", "Extract images from dataset.", "extract datasets/mnist mnist-images", extract,
                 [("tfrecord_dir", "Directory containing dataset"),
                  ("output_dir", "Directory to extract the images into")]),
        _command("compare", "Compare two datasets.", "compare datasets/mydataset datasets/mnist", compare,
                 [("tfrecord_dir_a", "Directory containing first dataset"),
                  ("tfrecord_dir_b", "Directory containing second dataset")],
                 [_bool("--ignore_labels", "Ignore labels")]),
        _command("create_mnist", "Create dataset for MNIST.", "create_mnist datasets/mnist ~/downloads/mnist",
                 create_mnist, [_NEW, ("mnist_dir", "Directory containing MNIST")], output=None),
        _command("create_mnistrgb", "Create dataset for MNIST-RGB.",
                 "create_mnistrgb datasets/mnistrgb ~/downloads/mnist", create_mnistrgb,
                 [_NEW, ("mnist_dir", "Directory containing MNIST")],
                 [_opt("--num_images", "Number of composite images to create", int, 1000000),
                  _opt("--random_seed", "Random seed", int, 123)], output=None),
        _command("create_cifar10", "Create dataset for CIFAR-10.",
                 "create_cifar10 datasets/cifar10 ~/downloads/cifar10", create_cifar10,
                 [_NEW, ("cifar10_dir", "Directory containing CIFAR-10")], output=None),
        _command("create_cifar100", "Create dataset for CIFAR-100.",
                 "create_cifar100 datasets/cifar100 ~/downloads/cifar100", create_cifar100,
                 [_NEW, ("cifar100_dir", "Directory containing CIFAR-100")], output=None),
        _command("create_svhn", "Create dataset for SVHN.", "create_svhn datasets/svhn ~/downloads/svhn", create_svhn,
                 [_NEW, ("svhn_dir", "Directory containing SVHN")], output=None),
        _command("create_lsun", "Create dataset for single LSUN category.",
                 "create_lsun datasets/lsun-car-100k ~/downloads/lsun/car_lmdb --resolution 256 --max_images 100000",
                 create_lsun, [_NEW, ("lmdb_dir", "Directory containing LMDB database")],
                 [_opt("--resolution", "Output resolution", int, 256),
                  _opt("--max_images", "Maximum number of images (default: all)")], output=True),
        _command("create_lsun_wide", "Create LSUN dataset with non-square aspect ratio.",
                 "create_lsun_wide datasets/lsun-car-512x384 ~/downloads/lsun/car_lmdb --width 512 --height 384",
                 create_lsun_wide, [_NEW, ("lmdb_dir", "Directory containing LMDB database")],
                 [_opt("--width", "Output width", int, 512), _opt("--height", "Output height", int, 384),
                  _opt("--max_images", "Maximum number of images (default: all)")], output=True),
        _command("create_celeba", "Create dataset for CelebA.", "create_celeba datasets/celeba ~/downloads/celeba",
                 create_celeba, [_NEW, ("celeba_dir", "Directory containing CelebA")],
                 [_opt("--cx", "Center X coordinate", int, 89), _opt("--cy", "Center Y coordinate", int, 121),
                  _opt("--expected_images", "Required image count, 0 = any", int, 202599)], output=False),
        _command("create_from_images", "Create dataset from a directory full of images.",
                 "create_from_images datasets/mydataset myimagedir", create_from_images,
                 [_NEW, ("image_dir", "Directory containing the images")],
                 [_bool("--shuffle", "Randomize image order", True),
                  _opt("--resolution", "Output resolution; images of other sizes are transformed (default: images "
                       "must be square, power-of-two and all the same size)"),
                  _opt("--transform", "How to fit images to --resolution (default: center-crop)", _TRANSFORM)],
                 output=False),
        _command("create_from_hdf5", "Create dataset from legacy HDF5 archive.",
                 "create_from_hdf5 datasets/celebahq ~/downloads/celeba-hq-1024x1024.h5", create_from_hdf5,
                 [_NEW, ("hdf5_filename", "HDF5 archive containing the images")],
                 [_bool("--shuffle", "Randomize image order", True)], output=None),
        _command("create_from_tfds", "Create dataset from a tensorflow-datasets image dataset (local data_dir).",
                 "create_from_tfds datasets/cifar10 cifar10 --data_dir ~/tensorflow_datasets", create_from_tfds,
                 [_NEW, ("name", "TFDS dataset name, e.g. cifar10 or celeb_a_hq/256")],
                 [_opt("--data_dir", "TFDS data directory holding the prepared dataset (default: TFDS default)", str),
                  _opt("--split", "Split", str, "train"),
                  _opt("--resolution", "Output resolution (default: images must be square power-of-two)"),
                  _opt("--transform", "How to fit images to --resolution (default: center-crop)", _TRANSFORM),
                  _opt("--image_key", "Image feature", str, "image"),
                  _opt("--label_key", "ClassLabel feature exported as one-hot labels, '' = none", str, "label"),
                  _opt("--max_images", "Maximum number of images (default: all)")], output=False),
        _command("create_demo", "Create the built-in demo dataset (scikit-learn digits, no download).",
                 "create_demo datasets/demo", create_demo, [_NEW],
                 [_opt("--resolution", "Output resolution", int, 32),
                  _opt("--channels", "1 = grayscale, 3 = colour-tinted digits", int, 3)],
                 output=None),
    ]


def make_cli():
    group = click.Group("dataset_tool.py", commands=commands(), context_settings=dict(max_content_width=110),
                        help="Tool for creating multi-resolution TFRecords datasets for StyleGAN and ProGAN. "
                             "Type \"dataset_tool.py <command> --help\" for more information.")
    return group


command = make_cli()


def main(argv=None):
    """Entry point of `dataset_tool.py` and `stylegan-tf dataset`."""
    execute_cmdline([sys.argv[0]] + list(sys.argv[1:] if argv is None else argv))


def execute_cmdline(argv):
    """Parses argv (argv[0] is the program name) and runs the command; exits non-zero on failure."""
    prog = os.path.basename(argv[0]) if argv and argv[0] else "dataset_tool.py"
    args = list(argv[1:]) or ["--help"]
    code = cli.run(command, args, prog_name=prog)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    execute_cmdline(sys.argv)
