"""Digit-classifier metric for the built-in demo dataset (`digits10k`; ours, not in the official code).

A small CNN is trained deterministically on the demo's 1,797 digits the first time it is needed and
cached as `<cache_dir>/digit-classifier-v<VERSION>-<sha>.npz` (`sha`: the training images and the
recipe). It judges SHAPE only: its input is the ink intensity, the per-pixel maximum over the
channels, stretched per image to [0, 1] and box-resized to 16x16, so the class colours of the demo
(or their absence in the grayscale variant) carry no information.

Reported for `num_images` generated images (latents ~ N(0, I), no truncation, random noise; a
conditional generator gets all-zero labels, as in the official metrics, unless `labels='uniform'`):
  `<name>_fd`       Frechet distance of the classifier's penultimate features (128-D) between fakes and
                    as many reals (lower is better; statistics of the reals cached as for FID);
  `<name>_conf`     mean top-class probability of the fakes (how digit-like each sample is; 1 is best);
  `<name>_entropy`  entropy in bits of the histogram of the fakes' predicted classes (coverage of the
                    ten classes; log2(10) = 3.32 is best).
"""

import hashlib
import os
import warnings

import numpy as np
import scipy.linalg
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from metrics import metric_base
from metrics.frechet_inception_distance import feature_statistics, frechet_distance

VERSION = 1
INPUT_RES = 16
NUM_CLASSES = 10
_TRAIN = dict(epochs=8, minibatch=64, lrate=2e-3, seed=123, shifted_copies=4)


def ink_intensity(images):
    """uint8/float [N, C, H, W] images in [0, 255] -> float32 [N, 16, 16, 1] ink in [0, 1], colour removed."""
    x = tf.reduce_max(tf.cast(images, tf.float32), axis=1)                       # [N, H, W]
    lo = tf.reduce_min(x, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(x, axis=[1, 2], keepdims=True)
    x = (x - lo) / tf.maximum(hi - lo, 16.0)  # a flat image stays flat instead of amplifying noise
    x = x[..., None]
    res = int(x.shape[1])
    if res > INPUT_RES:
        f = res // INPUT_RES
        x = tf.nn.avg_pool2d(x, f, f, "VALID")
    elif res < INPUT_RES:
        x = tf.image.resize(x, [INPUT_RES, INPUT_RES], method="nearest")
    return x


def build_classifier(seed=_TRAIN["seed"]):
    """(model returning logits, model returning the 128-D penultimate features); same weights."""
    import keras
    init = lambda i: keras.initializers.HeNormal(seed=seed + i)  # noqa: E731
    inp = keras.Input([INPUT_RES, INPUT_RES, 1])
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init(0))(inp)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer=init(1))(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    feats = keras.layers.Dense(128, activation="relu", kernel_initializer=init(2))(x)
    logits = keras.layers.Dense(NUM_CLASSES, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3))(feats)
    return keras.Model(inp, logits), keras.Model(inp, feats)


def _training_data():
    """Ink of the demo digits (colour version, as the demo trains on) with one-pixel shifted copies."""
    from stylegan_tf.data.demo import demo_images
    images, labels = demo_images(resolution=32, channels=3)
    ink = ink_intensity(images).numpy()
    rnd = np.random.RandomState(_TRAIN["seed"])
    xs, ys = [ink], [labels]
    padded = np.pad(ink, [(0, 0), (1, 1), (1, 1), (0, 0)])
    for _ in range(_TRAIN["shifted_copies"]):
        dy, dx = rnd.randint(0, 3, size=2)
        xs.append(padded[:, dy:dy + INPUT_RES, dx:dx + INPUT_RES])
        ys.append(labels)
    return images, np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def train_classifier(verbose=False):
    """Trains the classifier (plain Adam loop, seeded initialisers and order; no global RNG touched).
    Returns (logits model, features model, training accuracy on the unshifted digits)."""
    _, x, y = _training_data()
    model, feats = build_classifier()
    import keras
    opt = keras.optimizers.Adam(_TRAIN["lrate"])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    rnd = np.random.RandomState(_TRAIN["seed"] + 1)
    mb = _TRAIN["minibatch"]
    for epoch in range(_TRAIN["epochs"]):
        order = rnd.permutation(len(x))
        for begin in range(0, len(order) - mb + 1, mb):
            idx = order[begin:begin + mb]
            loss = step(tf.constant(x[idx]), tf.constant(y[idx]))
        if verbose:
            print("digit classifier epoch %d: loss %.4f" % (epoch, float(loss)))
    n = len(x) // (1 + _TRAIN["shifted_copies"])
    acc = float(np.mean(np.argmax(model.predict(x[:n], verbose=0), axis=1) == y[:n]))
    return model, feats, acc


def cache_path(cache_dir=None):
    """Where the trained weights live: the name holds VERSION and a checksum of data and recipe."""
    from stylegan_tf.data.demo import demo_images
    images, labels = demo_images(resolution=32, channels=3)
    h = hashlib.sha256(images.tobytes() + labels.tobytes() + repr(sorted(_TRAIN.items())).encode())
    cache_dir = cache_dir or metric_base._default_cache_dir()
    return os.path.join(cache_dir, "digit-classifier-v%d-%s.npz" % (VERSION, h.hexdigest()[:16]))


def load_classifier(cache_dir=None, verbose=False):
    """(logits model, features model): from the cache, else trained now and cached (atomic write)."""
    path = cache_path(cache_dir)
    model, feats = build_classifier()
    if os.path.isfile(path):
        try:
            with np.load(path) as data:
                model.set_weights([data["w%d" % i] for i in range(len(data.files))])
            return model, feats
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache entry is retrained and overwritten
    if verbose:
        print("Training the digit classifier (once; cached in %s)..." % path)
    model, feats, acc = train_classifier()
    if acc < 0.97:  # the recipe reaches 0.99+; anything less means a broken environment, not a metric
        raise metric_base.MetricError("digit classifier reached only %.3f training accuracy" % acc)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with dnnlib.util.atomic_write(path, "wb") as f:
        np.savez(f, **{"w%d" % i: w for i, w in enumerate(model.get_weights())})
    return model, feats


class DigitAttribute:
    """The digit classifier as a binary attribute classifier of the LS metric ("digit k" against the rest),
    with the interface of the official CelebA-HQ classifiers: `get_output_for(images, labels)` takes float
    NCHW images in [-1, 1] and returns logits l [N, 1] such that softmax([l, -l])[0] = p(k), i.e.
    l = (log p(k) - log(1 - p(k))) / 2. Any resolution (the ink is resized to 16x16)."""

    any_resolution = True

    def __init__(self, model, class_idx, sha256, source):
        self.model, self.class_idx = model, int(class_idx)
        self.attribute = self.name = "digit%d" % class_idx
        self.sha256, self.source = sha256, source

    def get_output_for(self, images, labels=None):
        del labels
        logits = self.model(ink_intensity((tf.cast(images, tf.float32) + 1.0) * 127.5))
        others = tf.concat([logits[:, :self.class_idx], logits[:, self.class_idx + 1:]], axis=1)
        return 0.5 * (logits[:, self.class_idx:self.class_idx + 1] - tf.reduce_logsumexp(others, axis=1,
                                                                                         keepdims=True))


def attribute_classifiers(cache_dir=None, verbose=False):
    """The ten `DigitAttribute`s ("digit0" ... "digit9") sharing one classifier (`load_classifier`)."""
    model, _ = load_classifier(cache_dir, verbose=verbose)
    path = cache_path(cache_dir)
    sha256 = dnnlib.util.file_sha256(path)
    return [DigitAttribute(model, k, sha256, path) for k in range(NUM_CLASSES)]


def class_entropy_bits(predicted):
    """Entropy (bits) of the histogram of predicted class indices."""
    p = np.bincount(np.asarray(predicted), minlength=NUM_CLASSES).astype(np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def digit_scores(model, feats, images):
    """(features [N, 128], softmax [N, 10]) of uint8 NCHW images, in one eager call per array."""
    ink = ink_intensity(images)
    return feats(ink).numpy(), tf.nn.softmax(model(ink)).numpy()


class DigitClassifierMetric(metric_base.ImageSetMetric):
    """Frechet distance of digit-classifier features, mean confidence and class-coverage entropy."""

    def _evaluate(self, Gs, num_gpus):
        minibatch_size = num_gpus * self.minibatch_per_gpu
        dset = self._open_dataset(Gs)
        model, feats = self._cached_feature_net(("digit-classifier", VERSION),
                                                lambda: load_classifier(self.cache_dir, verbose=self.progress))
        cache_file = self._get_cache_file_for_reals(num_images=self.num_images, classifier=os.path.basename(
            cache_path(self.cache_dir)))
        stats = self._load_real_stats(cache_file)
        if stats is None:
            run_reals = self._make_runner(lambda images: feats(ink_intensity(images)))
            acts = []
            done = 0
            for images in self._iterate_reals(minibatch_size, Gs, dset):
                acts.append(run_reals(images[:self.num_images - done]))
                done += acts[-1].shape[0]
                if done >= self.num_images:
                    break
            stats = feature_statistics(np.concatenate(acts))
            self._save_real_stats(cache_file, *stats)

        def fakes(latents, labels):
            images = tflib.convert_images_to_uint8(
                Gs.get_output_for(latents, labels, is_validation=True, randomize_noise=True))
            ink = ink_intensity(images)
            return feats(ink), tf.nn.softmax(model(ink))
        run_fakes = self._make_runner(fakes)
        f_all, p_all = [], []
        progress = dnnlib.util.Progress(label=self.name + " fakes", total=self.num_images, enabled=self.progress)
        for begin in range(0, self.num_images, minibatch_size):
            end = min(begin + minibatch_size, self.num_images)
            latents = self._random_latents(minibatch_size, Gs)
            f, p = run_fakes(latents, self._random_labels(minibatch_size, Gs))
            f_all.append(f[:end - begin])
            p_all.append(p[:end - begin])
            progress.advance(end - begin)
        progress.close()
        f_all, p_all = np.concatenate(f_all), np.concatenate(p_all)
        mu, sigma = feature_statistics(f_all)
        with warnings.catch_warnings():  # dead ReLU units make the covariances singular; sqrtm copes
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            fd = frechet_distance(mu, sigma, stats[0], stats[1])
        self._report_result(fd, suffix="_fd")
        self._report_result(float(p_all.max(axis=1).mean()), suffix="_conf")
        self._report_result(class_entropy_bits(p_all.argmax(axis=1)), suffix="_entropy")
