"""stylegan_tf.augment: the ADA pipeline against NVlabs/stylegan2-ada's own outputs, gradients, presets."""

import os

import numpy as np
import pytest
import tensorflow as tf

from stylegan_tf import augment, rng

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "augment_official.npz")
# Written by bench/official/augment_parity.py --write_fixture from stylegan2-ada's training/augment.py run under
# tf.compat.v1 (tf.contrib.image.transform -> ImageProjectiveTransformV2, the op it became); the same groups.
PIPES = {
    "blit": dict(xflip=1, rotate90=1, xint=1), "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1), "filter": dict(imgfilter=1),
    "cutout": dict(cutout=1)}
PIPES["bgcfc"] = dict(PIPES["blit"], **PIPES["geom"], **PIPES["color"], **PIPES["filter"], **PIPES["cutout"])


def _official():
    data = np.load(FIXTURE)
    return {k: data[k] for k in data.files}


def test_matches_official_outputs_at_every_debug_percentile():
    """Each pipeline group at 4 percentiles, RGB (and L for colour): max |ours - official| / max |official| <= 1e-4."""
    data = _official()
    checked = 0
    for key, expected in data.items():
        if key.startswith("input/"):
            continue
        group, kind, pct = key.split("/")
        images = data["input/" + kind]
        out, labels = augment.augment_pipeline(images, "labels", strength=1, debug_percentile=float(pct),
                                               **PIPES[group])
        assert labels == "labels" and out.shape == images.shape
        err = np.abs(out.numpy() - expected).max() / np.abs(expected).max()
        assert err <= 1e-4, (key, err)
        assert np.abs(expected - images).max() > 1e-3 or group == "cutout", key  # the setting does something
        checked += 1
    assert checked == 28


def test_augpipe_presets_are_stylegan2_adas():
    assert set(augment.AUGPIPES) == {"blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf",
                                     "bgcfn", "bgcfnc"}
    assert augment.AUGPIPES["bgc"] == dict(PIPES["blit"], **PIPES["geom"], **PIPES["color"])
    assert augment.AUGPIPES["bgcfnc"] == dict(PIPES["bgcfc"], noise=1)


def test_strength_zero_changes_nothing_but_the_resampling_and_is_reproducible():
    x = np.tanh(np.random.RandomState(0).randn(4, 3, 32, 32)).astype(np.float32)
    # p = 0: every transform is off; colour and cutout are then exactly the identity.
    y, _ = augment.augment_pipeline(x, None, strength=0.0, **dict(PIPES["color"], cutout=1))
    np.testing.assert_allclose(y.numpy(), x, atol=1e-6)
    # Drawn from the step's random stream: the same seed gives the same augmentation.
    outs = []
    for _ in range(2):
        with rng.seed_scope(tf.constant([5, 6])):
            outs.append(augment.augment_pipeline(x, None, strength=1.0, **augment.AUGPIPES["bgcfnc"])[0].numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0] - x).max() > 0.1


def test_differentiable_to_second_order():
    """R1 is taken through the pipeline: d/dx of |d sum(f(aug(x)))/dx|^2 exists and is finite."""
    x = tf.constant(np.tanh(np.random.RandomState(1).randn(2, 3, 32, 32)).astype(np.float32))
    w = tf.constant(np.random.RandomState(2).randn(1, 3, 32, 32).astype(np.float32))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            with rng.seed_scope(tf.constant([1, 2])):
                y, _ = augment.augment_pipeline(x, None, strength=1.0, **augment.AUGPIPES["bgcf"])
            score = tf.reduce_sum(tf.square(y) * w)
        g = inner.gradient(score, x)
        penalty = tf.reduce_sum(tf.square(g))
    gg = outer.gradient(penalty, x)
    assert g is not None and gg is not None
    assert np.isfinite(gg.numpy()).all() and np.abs(g.numpy()).max() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="RGB"):
        augment.augment_pipeline(np.zeros([1, 2, 8, 8], np.float32), None, brightness=1)
    with pytest.raises(ValueError, match="imgfilter_bands"):
        augment.augment_pipeline(np.zeros([1, 3, 32, 32], np.float32), None, imgfilter=1, imgfilter_bands=[1, 1])
