"""Editing directions in W (the InterFaceGAN recipe, Shen et al. 2020): the unit normal of a linear SVM's
hyperplane that separates generated samples with an attribute from those without it. Moving w along the
normal changes the attribute. The LS metric (`metrics.linear_separability`) fits and exports them.

File format (this module is its one reader and writer): `<attribute>.npy`, float32 `[dlatent_size]`,
unit norm, pointing towards "attribute present". Also read: InterFaceGAN's `[1, dlatent_size]` boundary
files, and `[num_layers, dlatent_size]` per-layer directions. Plain `.npy`, never pickles.
"""

import os

import numpy as np

import dnnlib


class DirectionError(ValueError):
    """A direction file that cannot be used with a generator: unreadable, wrong shape, not finite, zero."""


def fit_svm(x, targets):
    """A linear SVM fitted to predict `targets` (0/1) from the rows of `x`: scikit-learn's `LinearSVC` with the
    defaults of the LS metric (the official code ran scikit-learn 2019's `LinearSVC()`, i.e. dual=True)."""
    import warnings
    import sklearn.exceptions
    import sklearn.svm
    svm = sklearn.svm.LinearSVC(dual=True)
    with warnings.catch_warnings():  # liblinear's iteration cap is part of the official recipe: no warning
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        svm.fit(x, targets)
    return svm


def svm_normal(svm, positive_class):
    """Unit normal of a fitted binary SVM's hyperplane, pointing towards `positive_class`, float32."""
    normal = np.asarray(svm.coef_, np.float64).reshape(-1)
    if list(svm.classes_).index(positive_class) == 0:  # decision_function > 0 means classes_[1]
        normal = -normal
    norm = np.linalg.norm(normal)
    if not np.isfinite(norm) or norm == 0:
        raise DirectionError("the SVM's normal is zero or not finite")
    return (normal / norm).astype(np.float32)


def fit_direction(dlatents, scores, ratio=0.02):
    """The editing direction of an attribute, InterFaceGAN's recipe: label the samples with the highest
    `ratio` of the attribute `scores` (e.g. a classifier's logits) 1 and the lowest `ratio` 0 (at least 2 of
    each), fit a linear SVM to their w (rows of `dlatents`, [N, dlatent_size]) and return its unit normal,
    pointing towards the high scores. Balanced extremes, so a rare attribute still gets a direction."""
    w = np.asarray(dlatents, np.float32)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if w.ndim != 2 or len(w) != len(scores):
        raise DirectionError("need [N, dlatent_size] dlatents and N scores, got %s and %d" % (list(w.shape),
                                                                                           len(scores)))
    if not 0 < ratio <= 0.5:
        raise DirectionError("ratio must be in (0, 0.5], got %g" % ratio)
    k = max(2, int(round(ratio * len(scores))))
    if 2 * k > len(scores):
        raise DirectionError("%d samples are too few for %d at each end" % (len(scores), k))
    order = np.argsort(scores, kind="stable")
    low, high = order[:k], order[-k:]
    if scores[high].min() <= scores[low].max():
        raise DirectionError("the scores do not vary: no direction to fit")
    x = np.concatenate([w[high], w[low]])
    y = np.concatenate([np.ones(k, np.int64), np.zeros(k, np.int64)])
    return svm_normal(fit_svm(x, y), 1)


def save_direction(path, direction):
    """Write a direction as float32 `.npy` (renormalised to unit length), atomically."""
    d = np.asarray(direction, np.float64)
    norm = np.linalg.norm(d, axis=-1, keepdims=True)
    if d.ndim not in (1, 2) or not np.all(np.isfinite(d)) or np.any(norm == 0):
        raise DirectionError("%s: a direction must be a finite, non-zero [dlatent_size] or [num_layers, "
                             "dlatent_size] array, got shape %s" % (path, list(d.shape)))
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with dnnlib.util.atomic_write(path, "wb") as f:
        np.save(f, (d / norm).astype(np.float32), allow_pickle=False)


def load_direction(path, num_layers, dlatent_size):
    """A direction file as float32 [num_layers, dlatent_size] (a single vector is used for every layer).
    Raises DirectionError naming the file for anything a generator could not use."""
    try:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise DirectionError("%s: not a .npy file" % path)
        d = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, DirectionError):
            raise
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DirectionError("%s: not a readable .npy array (%s)" % (path, reason)) from None
    if not isinstance(d, np.ndarray) or not np.issubdtype(d.dtype, np.floating):
        raise DirectionError("%s: expected a float array, got %s" % (path, getattr(d, "dtype", type(d).__name__)))
    if d.ndim == 2 and d.shape[0] == 1:
        d = d[0]  # InterFaceGAN's boundary files are [1, dlatent_size]
    if d.shape not in ((dlatent_size,), (num_layers, dlatent_size)):
        raise DirectionError("%s: shape %s, but this generator needs [%d] or [%d, %d] (dlatent_size %d)"
                             % (path, list(d.shape), dlatent_size, num_layers, dlatent_size, dlatent_size))
    if not np.all(np.isfinite(d)):
        raise DirectionError("%s: holds NaN or infinite values" % path)
    if not np.any(d):
        raise DirectionError("%s: is all zeros" % path)
    return np.broadcast_to(d.astype(np.float32), (num_layers, dlatent_size)).copy()


def apply_direction(dlatents, direction, strength, layers=None):
    """w + strength * direction on the layers `layers` (indices; None = all), for w [N, num_layers, D] and a
    direction [D] or [num_layers, D]. InterFaceGAN's edit, with its unit-normal scale: strength 1 moves w
    one unit across the hyperplane."""
    w = np.array(dlatents, np.float32, copy=True)
    d = np.broadcast_to(np.asarray(direction, np.float32), w.shape[1:])
    idx = np.arange(w.shape[1]) if layers is None else np.asarray(list(layers), int)
    w[:, idx] += np.float32(strength) * d[idx]
    return w


def projection_stats(dlatents, direction, positive):
    """How far apart the two sides lie along a direction (to choose strengths): the std of the samples'
    projections w . n, and the difference of the means of the positive and the other samples (NaN when one
    side is empty)."""
    proj = np.asarray(dlatents, np.float64) @ np.asarray(direction, np.float64)
    positive = np.asarray(positive).astype(bool).reshape(-1)
    both = positive.any() and not positive.all()
    separation = float(proj[positive].mean() - proj[~positive].mean()) if both else float("nan")
    return dnnlib.EasyDict(std=float(proj.std()), separation=separation)
