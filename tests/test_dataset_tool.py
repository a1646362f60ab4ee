"""dataset_tool.py: every create_* command on small synthetic sources in their real formats, the
round trip through our reader, compatibility with the official layout, and the bad-input cases."""

import gzip
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import PIL.Image
import pytest

from conftest import ROOT as REPO

TOOL = os.path.join(REPO, "dataset_tool.py")

import dataset_tool  # noqa: E402
from stylegan_tf.data.info import inspect_dataset, iter_images, load_labels  # noqa: E402
from stylegan_tf.data.tfrecord import DatasetError  # noqa: E402
from stylegan_tf.data.writer import shuffled_order  # noqa: E402


# ------------------------------------------------------------------------------------------
# Helpers.

def tool(*args, ok=True, cwd=None):
    """Runs dataset_tool.py in a subprocess (no TensorFlow there: fast start, forked workers)."""
    p = subprocess.run([sys.executable, TOOL] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=120, cwd=cwd)
    if ok:
        assert p.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr)
    return p


def run(*args):
    """Runs a command in-process (workers=0 is added for create_* commands: no pool start-up)."""
    argv = ["dataset_tool.py"] + [str(a) for a in args]
    if args[0].startswith("create_") and "--workers" not in argv:
        argv += ["--workers", "0", "--quiet", "1"]
    dataset_tool.execute_cmdline(argv)


def assert_error(p, *needles):
    """A failed run: exit 1, stderr one line 'dataset_tool.py: error: ...' mentioning each needle."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dataset_tool.py: error: "), p.stderr
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])


def official_levels(img):
    out, cur = [], img
    for lod in range(int(np.log2(img.shape[1])) - 1):
        if lod:
            cur = cur.astype(np.float32)
            cur = (cur[:, 0::2, 0::2] + cur[:, 0::2, 1::2] + cur[:, 1::2, 0::2] + cur[:, 1::2, 1::2]) * 0.25
        out.append(np.rint(cur).clip(0, 255).astype(np.uint8))
    return out


def read(d):
    """{lod: uint8 [N, C, H, W]} and labels of a dataset, read without TensorFlow."""
    info = inspect_dataset(str(d))
    return {lod: np.stack(list(iter_images(info, lod))) for lod in info.files}, load_labels(info)


def expected_levels(chw_images):
    per = [official_levels(img) for img in chw_images]
    return {lod: np.stack([p[lod] for p in per]) for lod in range(len(per[0]))}


def assert_dataset(d, chw_images, labels=None):
    got, got_labels = read(d)
    exp = expected_levels(chw_images)
    assert sorted(got) == sorted(exp)
    for lod in exp:
        assert got[lod].shape == exp[lod].shape and np.array_equal(got[lod], exp[lod]), lod
    if labels is None:
        assert got_labels is None
    else:
        assert got_labels.dtype == np.float32 and np.array_equal(got_labels, labels)


def rand_images(n, c, res, seed=0, h=None):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(n, c, h or res, res)).astype(np.uint8)


def save_pngs(directory, chw_images, fmt="img%03d.png"):
    os.makedirs(directory, exist_ok=True)
    for i, img in enumerate(chw_images):
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        PIL.Image.fromarray(arr).save(os.path.join(directory, fmt % i))


def onehot(labels, n):
    out = np.zeros((len(labels), n), np.float32)
    out[np.arange(len(labels)), labels] = 1
    return out


def files_of(d):
    return sorted(os.listdir(d))


# ------------------------------------------------------------------------------------------
# Round trip and compatibility.

@pytest.mark.slow
def test_round_trip_create_from_images_parallel(tmp_path):
    imgs = rand_images(24, 3, 32)
    save_pngs(tmp_path / "src", imgs)
    out = tmp_path / "ds"
    p = tool("create_from_images", out, tmp_path / "src", "--workers", 2)
    assert "Added 24 images." in p.stdout
    assert files_of(out) == ["ds-r02.tfrecords", "ds-r03.tfrecords", "ds-r04.tfrecords", "ds-r05.tfrecords"]
    assert_dataset(out, imgs[shuffled_order(24)])
    # our TensorFlow reader returns the same pixels at every level
    from training.dataset import TFRecordDataset
    dset = TFRecordDataset(str(out), repeat=False, shuffle_mb=0)
    exp = expected_levels(imgs[shuffled_order(24)])
    for lod in range(4):
        images, labels = dset.get_minibatch_np(24, lod)
        assert images.dtype == np.uint8 and np.array_equal(images, exp[lod]) and labels.shape == (24, 0)
    # deterministic serialisation: a second run is byte-identical
    out2 = tmp_path / "ds2" / "ds"
    tool("create_from_images", out2, tmp_path / "src", "--workers", 1)
    for f in files_of(out):
        assert (out / f).read_bytes() == (out2 / f).read_bytes()


def test_grayscale_no_shuffle(tmp_path):
    imgs = rand_images(5, 1, 16, seed=3)
    save_pngs(tmp_path / "src", imgs)
    run("create_from_images", tmp_path / "ds", tmp_path / "src", "--shuffle", 0)
    assert_dataset(tmp_path / "ds", imgs)


@pytest.mark.slow
def test_worker_processes_with_tensorflow_loaded(tmp_path):
    """In a process that already runs TensorFlow (like this one), worker processes still work."""
    import tensorflow as tf
    assert float(tf.reduce_sum(tf.ones([8, 8]))) == 64.0
    imgs = rand_images(9, 3, 16, seed=13)
    save_pngs(tmp_path / "src", imgs)
    run("create_from_images", tmp_path / "ds", tmp_path / "src", "--workers", 2, "--quiet", 1)
    assert_dataset(tmp_path / "ds", imgs[shuffled_order(9)])


def test_official_layout_loads_and_compares(tmp_path):
    """A dataset written the way NVIDIA's tool writes it (TensorFlow protobuf, non-deterministic
    map order, labels via np.save) loads in our reader and equals ours record for record."""
    import tensorflow as tf
    imgs = rand_images(6, 3, 16, seed=4)
    labels = onehot([0, 1, 2, 0, 1, 2], 3)
    order = shuffled_order(6)
    off = tmp_path / "official"
    off.mkdir()
    levels = [official_levels(imgs[i]) for i in order]
    for lod in range(3):
        with tf.io.TFRecordWriter(str(off / ("official-r%02d.tfrecords" % (4 - lod)))) as w:
            for lv in levels:
                q = lv[lod]
                ex = tf.train.Example(features=tf.train.Features(feature={
                    "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=q.shape)),
                    "data": tf.train.Feature(bytes_list=tf.train.BytesList(value=[q.tobytes()]))}))
                w.write(ex.SerializeToString())
    with open(off / "official-rxx.labels", "wb") as f:
        np.save(f, labels[order])
    from training.dataset import TFRecordDataset
    dset = TFRecordDataset(str(off), max_label_size="full", repeat=False, shuffle_mb=0)
    assert dset.shape == [3, 16, 16] and dset.label_size == 3 and dset.resolution_log2 == 4
    for lod in range(3):
        x, y = dset.get_minibatch_np(6, lod)
        assert np.array_equal(x, np.stack([lv[lod] for lv in levels])) and np.array_equal(y, labels[order])
    # ours from the same images compares identical (images; labels are absent in ours)
    save_pngs(tmp_path / "src", imgs)
    run("create_from_images", tmp_path / "ours", tmp_path / "src")
    p = tool("compare", off, tmp_path / "ours", "--ignore_labels", 1)
    assert "Identical images: 6 / 6" in p.stdout


# ------------------------------------------------------------------------------------------
# Every create_* command on a synthetic source in its real format.

def write_mnist(d, n=30, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    os.makedirs(d, exist_ok=True)
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz"), "wb") as f:
        f.write((2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images.tobytes())
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz"), "wb") as f:
        f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.tobytes())
    return images, labels


def test_create_mnist(tmp_path):
    images, labels = write_mnist(tmp_path / "mnist")
    run("create_mnist", tmp_path / "ds", tmp_path / "mnist")
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2)])[:, np.newaxis]
    order = shuffled_order(30)
    assert_dataset(tmp_path / "ds", padded[order], onehot(labels, 10)[order])


def test_create_mnistrgb(tmp_path):
    images, _ = write_mnist(tmp_path / "mnist")
    run("create_mnistrgb", tmp_path / "ds", tmp_path / "mnist", "--num_images", 7, "--random_seed", 5)
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2)])
    rnd = np.random.RandomState(5)
    exp = np.stack([padded[rnd.randint(30, size=3)] for _ in range(7)])
    assert_dataset(tmp_path / "ds", exp)


def test_create_cifar10_cifar100_svhn(tmp_path):
    rng = np.random.RandomState(1)
    d10 = tmp_path / "cifar10"
    d10.mkdir()
    all_imgs, all_labels = [], []
    for b in range(1, 6):
        data = rng.randint(0, 256, size=(4, 3072)).astype(np.uint8)
        labels = list(rng.randint(0, 10, size=4))
        all_imgs.append(data.reshape(-1, 3, 32, 32))
        all_labels += labels
        with open(d10 / ("data_batch_%d" % b), "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
    run("create_cifar10", tmp_path / "c10", d10)
    order = shuffled_order(20)
    assert_dataset(tmp_path / "c10", np.concatenate(all_imgs)[order], onehot(all_labels, 10)[order])

    d100 = tmp_path / "cifar100"
    d100.mkdir()
    data = rng.randint(0, 256, size=(9, 3072)).astype(np.uint8)
    fine = list(rng.randint(0, 100, size=9))
    with open(d100 / "train", "wb") as f:
        pickle.dump({"data": data, "fine_labels": fine, "coarse_labels": [0] * 9}, f)
    run("create_cifar100", tmp_path / "c100", d100)
    order = shuffled_order(9)
    assert_dataset(tmp_path / "c100", data.reshape(-1, 3, 32, 32)[order], onehot(fine, 100)[order])

    dsv = tmp_path / "svhn"
    dsv.mkdir()
    imgs, labs = [], []
    for b in range(1, 4):
        x = rng.randint(0, 256, size=(3, 3, 32, 32)).astype(np.uint8)
        y = rng.randint(0, 10, size=3).astype(np.uint8)
        imgs.append(x)
        labs.append(y)
        with open(dsv / ("train_%d.pkl" % b), "wb") as f:
            pickle.dump((x, y), f)
    run("create_svhn", tmp_path / "svhn_ds", dsv)
    order = shuffled_order(9)
    assert_dataset(tmp_path / "svhn_ds", np.concatenate(imgs)[order], onehot(np.concatenate(labs), 10)[order])


def _encoded(img_hwc, fmt, **kw):
    import io
    buf = io.BytesIO()
    PIL.Image.fromarray(img_hwc).save(buf, format=fmt, **kw)
    return buf.getvalue()


def write_lmdb(path, values):
    import lmdb
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(b"%04d" % i, v)
    env.close()


def lsun_reference(value, res):
    import io
    img = np.asarray(PIL.Image.open(io.BytesIO(value)).convert("RGB"))
    crop = min(img.shape[:2])
    img = img[(img.shape[0] - crop) // 2:(img.shape[0] + crop) // 2, (img.shape[1] - crop) // 2:(img.shape[1] + crop) // 2]
    return np.asarray(PIL.Image.fromarray(img, "RGB").resize((res, res), PIL.Image.LANCZOS)).transpose(2, 0, 1)


def test_create_lsun_webp_jpeg_and_corrupt(tmp_path):
    rng = np.random.RandomState(2)
    values = [_encoded(rng.randint(0, 256, size=(24, 40, 3)).astype(np.uint8), "WEBP", quality=90),
              b"this is not an image",
              _encoded(rng.randint(0, 256, size=(40, 24, 3)).astype(np.uint8), "JPEG", quality=90),
              _encoded(rng.randint(0, 256, size=(32, 32, 3)).astype(np.uint8), "WEBP", lossless=True)]
    write_lmdb(tmp_path / "lmdb", values)
    p = tool("create_lsun", tmp_path / "ds", tmp_path / "lmdb", "--resolution", 16)
    assert "Skipping bad input" in p.stdout and "0001" in p.stdout  # the official tool also skips
    exp = np.stack([lsun_reference(values[i], 16) for i in (0, 2, 3)])
    assert_dataset(tmp_path / "ds", exp)
    run("create_lsun", tmp_path / "ds1", tmp_path / "lmdb", "--resolution", 8, "--max_images", 2)
    assert_dataset(tmp_path / "ds1", np.stack([lsun_reference(values[i], 8) for i in (0, 2)]))
    # create_lsun_wide: 32 wide, 16 high letterboxed into 32x32; too-small images are skipped
    wide = _encoded(rng.randint(0, 256, size=(40, 64, 3)).astype(np.uint8), "JPEG")
    small = _encoded(rng.randint(0, 256, size=(10, 20, 3)).astype(np.uint8), "WEBP")
    write_lmdb(tmp_path / "lmdb2", [wide, small])
    run("create_lsun_wide", tmp_path / "wide", tmp_path / "lmdb2", "--width", 32, "--height", 16)
    import io
    img = np.asarray(PIL.Image.open(io.BytesIO(wide)).convert("RGB"))
    ch = int(np.round(32 * img.shape[0] / img.shape[1]))
    img = img[(img.shape[0] - ch) // 2:(img.shape[0] + ch) // 2]
    img = np.asarray(PIL.Image.fromarray(img).resize((32, 16), PIL.Image.LANCZOS)).transpose(2, 0, 1)
    canvas = np.zeros((3, 32, 32), np.uint8)
    canvas[:, 8:24] = img
    assert_dataset(tmp_path / "wide", canvas[np.newaxis])


def test_create_celeba(tmp_path):
    rng = np.random.RandomState(3)
    imgs = rng.randint(0, 256, size=(3, 218, 178, 3)).astype(np.uint8)
    src = tmp_path / "celeba" / "img_align_celeba_png"
    src.mkdir(parents=True)
    for i, img in enumerate(imgs):
        PIL.Image.fromarray(img).save(src / ("%06d.png" % (i + 1)))
    p = tool("create_celeba", tmp_path / "ds", tmp_path / "celeba", ok=False)
    assert_error(p, "202599")
    assert not (tmp_path / "ds").exists()
    run("create_celeba", tmp_path / "ds", tmp_path / "celeba", "--expected_images", 0, "--cx", 80, "--cy", 100)
    crops = imgs[:, 100 - 64:100 + 64, 80 - 64:80 + 64].transpose(0, 3, 1, 2)
    assert_dataset(tmp_path / "ds", crops[shuffled_order(3)])


def test_create_from_hdf5(tmp_path):
    import h5py
    imgs = rand_images(5, 3, 8, seed=6)
    labels = np.arange(10, dtype=np.float32).reshape(5, 2)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["data4x4"] = imgs[:, :, ::2, ::2]
        f["data8x8"] = imgs
    np.save(tmp_path / "x-labels.npy", labels)
    run("create_from_hdf5", tmp_path / "ds", tmp_path / "x.h5")
    order = shuffled_order(5)
    assert_dataset(tmp_path / "ds", imgs[order], labels[order])
    run("create_from_hdf5", tmp_path / "ds0", tmp_path / "x.h5", "--shuffle", 0)
    assert_dataset(tmp_path / "ds0", imgs, labels)


@pytest.mark.slow
def test_create_from_tfds_mock(tmp_path):
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=6):
        run("create_from_tfds", tmp_path / "c10", "cifar10", "--data_dir", tmp_path / "tfds")
        run("create_from_tfds", tmp_path / "mn", "mnist", "--data_dir", tmp_path / "tfds",
            "--resolution", 32, "--transform", "pad", "--max_images", 4)
        ref = list(tfds.as_numpy(tfds.load("cifar10", split="train", data_dir=str(tmp_path / "tfds"))))
    got, labels = read(tmp_path / "c10")
    assert got[0].shape == (6, 3, 32, 32) and labels.shape == (6, 10)
    assert np.array_equal(got[0], np.stack([r["image"].transpose(2, 0, 1) for r in ref]))
    assert np.array_equal(labels.argmax(1), [r["label"] for r in ref])
    got, labels = read(tmp_path / "mn")
    assert got[0].shape == (4, 1, 32, 32) and labels.shape == (4, 10)
    # an unprepared dataset is a clear error, not a download
    p = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import dataset_tool; "
                        "dataset_tool.execute_cmdline(['t', 'create_from_tfds', %r, 'mnist', '--data_dir', %r])"
                        % (REPO, str(tmp_path / "x"), str(tmp_path / "empty_tfds"))],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "t: error: mnist" in p.stderr and "tfds build" in p.stderr
    assert not (tmp_path / "x").exists()


def test_create_demo_and_get_demo_dataset(tmp_path):
    from stylegan_tf.data.demo import get_demo_dataset
    run("create_demo", tmp_path / "demo", "--channels", 1, "--resolution", 16)
    got, labels = read(tmp_path / "demo")
    assert got[0].shape == (1797, 1, 16, 16) and labels.shape == (1797, 10)
    path = get_demo_dataset(str(tmp_path / "cache"))
    assert os.path.basename(path) == "demo-digits32"
    info = inspect_dataset(path)
    assert info.shape == [3, 32, 32] and info.num_images == 1797
    mtime = os.path.getmtime(os.path.join(path, "demo-digits32-r05.tfrecords"))
    assert get_demo_dataset(str(tmp_path / "cache")) == path  # reused, not rebuilt
    assert os.path.getmtime(os.path.join(path, "demo-digits32-r05.tfrecords")) == mtime


# ------------------------------------------------------------------------------------------
# Extra options.

@pytest.mark.parametrize("transform", ["center-crop", "pad", "resize"])
def test_resolution_transform(tmp_path, transform):
    rng = np.random.RandomState(7)
    hwc = [rng.randint(0, 256, size=(24, 40, 3)).astype(np.uint8), rng.randint(0, 256, size=(50, 30, 3)).astype(np.uint8)]
    (tmp_path / "src").mkdir()
    for i, a in enumerate(hwc):
        PIL.Image.fromarray(a).save(tmp_path / "src" / ("%d.png" % i))
    run("create_from_images", tmp_path / "ds", tmp_path / "src", "--shuffle", 0, "--resolution", 16, "--transform", transform)
    exp = []
    for a in hwc:
        img = PIL.Image.fromarray(a)
        w, h = img.size
        if transform == "center-crop":
            c = min(w, h)
            img = img.crop(((w - c) // 2, (h - c) // 2, (w + c) // 2, (h + c) // 2))
        elif transform == "pad":
            s = max(w, h)
            canvas = PIL.Image.new("RGB", (s, s))
            canvas.paste(img, ((s - w) // 2, (s - h) // 2))
            img = canvas
        exp.append(np.asarray(img.resize((16, 16), PIL.Image.LANCZOS)).transpose(2, 0, 1))
    assert_dataset(tmp_path / "ds", np.stack(exp))


def test_png_encoding_and_gzip_read_transparently(tmp_path):
    imgs = rand_images(8, 3, 16, seed=8)
    imgs[:, :, :8] = 40  # compressible
    save_pngs(tmp_path / "src", imgs)
    run("create_from_images", tmp_path / "raw", tmp_path / "src")
    run("create_from_images", tmp_path / "png", tmp_path / "src", "--encoding", "png")
    run("create_from_images", tmp_path / "gz", tmp_path / "src", "--compression", "gzip")
    run("create_from_images", tmp_path / "both", tmp_path / "src", "--encoding", "png", "--compression", "gzip")
    raw_size = sum(os.path.getsize(tmp_path / "raw" / f) for f in files_of(tmp_path / "raw"))
    from training.dataset import TFRecordDataset
    exp = expected_levels(imgs[shuffled_order(8)])
    for name in ("png", "gz", "both"):
        d = tmp_path / name
        assert [f.replace(name, "raw") for f in files_of(d)] == files_of(tmp_path / "raw")
        assert sum(os.path.getsize(d / f) for f in files_of(d)) < raw_size
        assert_dataset(d, imgs[shuffled_order(8)])
        dset = TFRecordDataset(str(d), repeat=False, shuffle_mb=0)
        for lod in range(3):
            assert np.array_equal(dset.get_minibatch_np(8, lod)[0], exp[lod])


# ------------------------------------------------------------------------------------------
# Bad input: one-line error naming the file, exit 1, nothing that looks like a dataset.

def test_missing_and_empty_source(tmp_path):
    assert_error(tool("create_from_images", tmp_path / "ds", tmp_path / "nope", ok=False), "nope", "does not exist")
    (tmp_path / "empty").mkdir()
    assert_error(tool("create_from_images", tmp_path / "ds", tmp_path / "empty", ok=False), "empty", "no input images")
    assert_error(tool("create_mnist", tmp_path / "ds", tmp_path / "empty", ok=False), "train-images-idx3-ubyte.gz")
    assert_error(tool("create_cifar10", tmp_path / "ds", tmp_path / "empty", ok=False), "data_batch_1")
    assert_error(tool("create_lsun", tmp_path / "ds", tmp_path / "nolmdb", ok=False), "nolmdb")
    assert_error(tool("create_from_hdf5", tmp_path / "ds", tmp_path / "x.h5", ok=False), "x.h5")
    assert not (tmp_path / "ds").exists()
    (tmp_path / "afile").write_text("x")  # an output path that cannot be created: OS error, one line
    assert_error(tool("create_demo", tmp_path / "afile" / "ds", ok=False), "afile")


def test_size_shape_and_decode_errors(tmp_path):
    src = tmp_path / "mixed"
    save_pngs(src, rand_images(3, 3, 16))
    PIL.Image.fromarray(rand_images(1, 3, 8)[0].transpose(1, 2, 0)).save(src / "img999.png")
    assert_error(tool("create_from_images", tmp_path / "ds", src, ok=False), "img999.png", "8x8", "16x16")
    rect = tmp_path / "rect"
    rect.mkdir()
    PIL.Image.new("RGB", (32, 16)).save(rect / "a.png")
    assert_error(tool("create_from_images", tmp_path / "ds", rect, ok=False), "a.png", "not square", "--transform")
    odd = tmp_path / "odd"
    odd.mkdir()
    PIL.Image.new("RGB", (24, 24)).save(odd / "b.png")
    assert_error(tool("create_from_images", tmp_path / "ds", odd, ok=False), "b.png", "power of two")
    bad = tmp_path / "bad"
    good_imgs = rand_images(6, 3, 16, seed=12)
    save_pngs(bad, good_imgs)
    data = (bad / "img002.png").read_bytes()
    (bad / "img002.png").write_bytes(data[:len(data) // 2])  # truncated
    (bad / "img003.png").write_bytes(b"garbage")               # corrupt
    assert_error(tool("create_from_images", tmp_path / "ds", bad, ok=False), "img00", "--skip_bad")
    assert not (tmp_path / "ds").exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".ds")]  # temp dir removed
    # skipped in both writing modes (positional: workers write at fixed offsets, then compaction)
    order = [i for i in shuffled_order(6) if i not in (2, 3)]
    for workers in (2, 0):
        out = tmp_path / ("ds%d" % workers)
        p = tool("create_from_images", out, bad, "--skip_bad", 1, "--workers", workers)
        assert "img002.png" in p.stdout and "img003.png" in p.stdout and "Added 4 images." in p.stdout
        assert_dataset(out, good_imgs[order])


def test_mode_conversions_with_notices(tmp_path):
    rng = np.random.RandomState(9)
    rgb = rng.randint(0, 256, size=(8, 8, 3)).astype(np.uint8)
    src = tmp_path / "src"
    src.mkdir()
    PIL.Image.fromarray(rgb).save(src / "0_rgb.png")
    rgba = np.concatenate([rgb, np.full((8, 8, 1), 128, np.uint8)], 2)
    PIL.Image.fromarray(rgba, "RGBA").save(src / "1_rgba.png")
    pal = PIL.Image.fromarray(rgb).quantize(16)
    pal.save(src / "2_palette.png")
    PIL.Image.fromarray(rgb).convert("CMYK").save(src / "3_cmyk.jpg", quality=100)
    gray16 = (rng.randint(0, 65536, size=(8, 8))).astype(np.uint16)
    PIL.Image.fromarray(gray16).save(src / "4_gray16.png")
    p = tool("create_from_images", tmp_path / "ds", src, "--shuffle", 0)
    out = p.stdout
    for n in ("RGBA image converted to RGB", "palette image converted to RGB", "CMYK image converted to RGB",
              "16-bit grayscale image reduced to 8 bits", "grayscale image converted to RGB"):
        assert n in out, (n, out)
    got, _ = read(tmp_path / "ds")
    full = got[0].transpose(0, 2, 3, 1)
    assert np.array_equal(full[0], rgb) and np.array_equal(full[1], rgb)            # alpha dropped
    assert np.array_equal(full[2], np.asarray(pal.convert("RGB")))                   # real colours, not indices
    assert np.abs(full[3].astype(int) - rgb).mean() < 12                             # CMYK JPEG ~ original
    g8 = np.rint(gray16 / 257.0).astype(np.uint8)
    assert np.array_equal(full[4], np.stack([g8] * 3, -1))                           # scaled, not clipped
    # colour into a grayscale dataset is refused, naming the file
    gsrc = tmp_path / "gsrc"
    gsrc.mkdir()
    PIL.Image.fromarray(rgb[:, :, 0]).save(gsrc / "a.png")
    PIL.Image.fromarray(rgb).save(gsrc / "b.png")
    assert_error(tool("create_from_images", tmp_path / "g", gsrc, ok=False), "b.png", "grayscale")


def test_existing_dataset_needs_overwrite(tmp_path):
    save_pngs(tmp_path / "a", rand_images(3, 3, 8, seed=1))
    save_pngs(tmp_path / "b", rand_images(5, 3, 8, seed=2))
    tool("create_from_images", tmp_path / "ds", tmp_path / "a")
    before = {f: (tmp_path / "ds" / f).read_bytes() for f in files_of(tmp_path / "ds")}
    assert_error(tool("create_from_images", tmp_path / "ds", tmp_path / "b", ok=False), "ds", "--overwrite")
    assert {f: (tmp_path / "ds" / f).read_bytes() for f in files_of(tmp_path / "ds")} == before
    tool("create_from_images", tmp_path / "ds", tmp_path / "b", "--overwrite", 1)
    assert inspect_dataset(str(tmp_path / "ds")).num_images == 5
    tool("create_from_images", "--overwrite", tmp_path / "ds", tmp_path / "a")  # bare, before the positionals
    assert inspect_dataset(str(tmp_path / "ds")).num_images == 3
    # an existing empty directory is fine
    (tmp_path / "empty_out").mkdir()
    tool("create_from_images", tmp_path / "empty_out", tmp_path / "a")
    assert inspect_dataset(str(tmp_path / "empty_out")).num_images == 3


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_conversion_leaves_nothing(tmp_path, sig):
    write_mnist(tmp_path / "mnist", n=100)
    out = tmp_path / "ds"
    # A shell starts background jobs with SIGINT ignored, and a child inherits that: undo it, so the
    # test also works when the suite runs in the background (`.ci/run &`).
    p = subprocess.Popen([sys.executable, TOOL, "create_mnistrgb", str(out), str(tmp_path / "mnist"),
                          "--num_images", "2000000", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    tmp_dirs = []
    while time.time() < deadline and not tmp_dirs:
        time.sleep(0.1)
        tmp_dirs = [f for f in os.listdir(tmp_path) if f.startswith(".ds.tmp-")]
    assert tmp_dirs, "conversion did not start"
    time.sleep(1.0)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert not out.exists()  # nothing that looks like a dataset
    if sig == signal.SIGKILL:
        assert os.path.isdir(tmp_path / tmp_dirs[0])  # hidden leftover of the killed run ...
        tool("create_mnistrgb", out, tmp_path / "mnist", "--num_images", 10)
        assert not os.path.exists(tmp_path / tmp_dirs[0])  # ... removed by the next run
        assert inspect_dataset(str(out)).num_images == 10
    else:
        assert p.returncode == 130 and "Interrupted" in err
        assert not [f for f in os.listdir(tmp_path) if f.startswith(".ds")]


# ------------------------------------------------------------------------------------------
# Loading errors, display, extract.

def test_loading_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no \\*.tfrecords"):
        inspect_dataset(str(tmp_path / "empty"))
    with pytest.raises(DatasetError, match="does not exist"):
        inspect_dataset(str(tmp_path / "missing"))
    write_mnist(tmp_path / "mnist", n=12)
    run("create_mnist", tmp_path / "ds", tmp_path / "mnist")
    # labels with the wrong number of rows
    np.save(tmp_path / "ds" / "ds-rxx.labels.npy", np.zeros((5, 10), np.float32))
    os.replace(tmp_path / "ds" / "ds-rxx.labels.npy", tmp_path / "ds" / "ds-rxx.labels")
    with pytest.raises(DatasetError, match="5 label rows but the dataset has 12"):
        load_labels(inspect_dataset(str(tmp_path / "ds")))
    from training.dataset import TFRecordDataset
    with pytest.raises(DatasetError, match="label rows"):
        TFRecordDataset(str(tmp_path / "ds"), max_label_size="full")
    # a level with fewer records (an interrupted or hand-edited dataset)
    path = tmp_path / "ds" / "ds-r03.tfrecords"
    recs = b"".join(_frame(r) for r in list(_records(path))[:7])
    path.write_bytes(recs)
    with pytest.raises(DatasetError, match="ds-r03.tfrecords: holds 7 records but .*ds-r05.tfrecords holds 12"):
        inspect_dataset(str(tmp_path / "ds"))
    os.remove(path)
    with pytest.raises(DatasetError, match="no tfrecords file for resolution 8"):
        TFRecordDataset(str(tmp_path / "ds"))


def _records(path):
    from stylegan_tf.data.tfrecord import iter_records
    return iter_records(str(path))


def _frame(r):
    from stylegan_tf.data.tfrecord import frame_record
    return frame_record(r)


@pytest.mark.slow
def test_display_extract(tmp_path):
    imgs = rand_images(5, 3, 8, seed=11)
    save_pngs(tmp_path / "src", imgs)
    run("create_from_images", tmp_path / "ds", tmp_path / "src", "--shuffle", 0)
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    p = subprocess.run([sys.executable, TOOL, "display", str(tmp_path / "ds")], capture_output=True, text=True,
                       cwd=str(tmp_path), env=env, timeout=60)
    assert p.returncode == 0 and "ds-grid.png" in p.stdout
    grid = np.asarray(PIL.Image.open(tmp_path / "ds-grid.png"))
    assert grid.shape == (16, 24, 3) and np.array_equal(grid[:8, :8], imgs[0].transpose(1, 2, 0))
    run("extract", tmp_path / "ds", tmp_path / "out")
    assert files_of(tmp_path / "out") == ["img%08d.png" % i for i in range(5)]
    assert np.array_equal(np.asarray(PIL.Image.open(tmp_path / "out" / "img00000003.png")), imgs[3].transpose(1, 2, 0))
    p = tool("compare", tmp_path / "ds", tmp_path / "ds")
    assert "Identical images: 5 / 5" in p.stdout and "Identical labels: 5 / 5" in p.stdout


# ------------------------------------------------------------------------------------------
# Command line: one library, one error format.

def test_command_line_refusals(tmp_path):
    p = tool("create_from_images", tmp_path / "ds", tmp_path, "--overwite", ok=False)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "--overwite" in lines[0] and "--overwrite" in lines[0]
    p = tool("create_from_imgs", tmp_path / "ds", tmp_path, ok=False)
    assert p.returncode == 2 and "'create_from_images'" in p.stderr and p.stderr.count("\n") == 1
    p = tool("create_from_images", tmp_path / "ds", tmp_path, "--shuffle=maybe", ok=False)
    assert p.returncode == 2 and "--shuffle" in p.stderr and p.stderr.count("\n") == 1
    for args in (["--help"], ["create_from_images", "--help"], []):
        p = tool(*args)
        assert "create_from_images" in p.stdout or "--shuffle" in p.stdout


def test_compare_summarises_differences(tmp_path):
    save_pngs(tmp_path / "a", rand_images(40, 3, 8, seed=1))
    save_pngs(tmp_path / "b", rand_images(40, 3, 16, seed=2))
    run("create_from_images", tmp_path / "da", tmp_path / "a", "--shuffle", 0)
    run("create_from_images", tmp_path / "db", tmp_path / "b", "--shuffle", 0)
    p = tool("compare", tmp_path / "da", tmp_path / "db", ok=False)
    assert p.returncode == 1
    lines = p.stdout.strip().splitlines()
    assert len(lines) <= 8, p.stdout
    assert "Images different: 40, first at index 0, 1, 2, 3, 4 (and 35 more)" in p.stdout
    assert "Image shapes differ: [3, 8, 8] and [3, 16, 16]" in p.stdout
    assert "Identical images: 0 / 40" in p.stdout
