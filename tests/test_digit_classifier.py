"""The demo's digit-classifier metric (metrics/digit_classifier.py): it judges shape, not colour;
real digits score high and coloured blobs low; the trained weights are cached; run_metrics.py runs it."""

import os

import numpy as np
import pytest

from metrics import digit_classifier as dc
from metrics.frechet_inception_distance import feature_statistics, frechet_distance


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    cache = tmp_path_factory.mktemp("digit_cache")
    model, feats = dc.load_classifier(str(cache))  # trains once (about 20 s on 2 cores)
    return dict(cache=str(cache), model=model, feats=feats)


def _coloured_blobs(n, seed):
    """Gaussian blobs in the demo's class colours on its background: colour right, shape wrong."""
    from stylegan_tf.data.demo import _BACKGROUND, _PALETTE
    rnd = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    out = np.zeros((n, 3, 32, 32), np.float32)
    for i in range(n):
        cy, cx = rnd.uniform(10, 22, size=2)
        ry, rx = rnd.uniform(3, 8, size=2)
        a = np.exp(-((yy - cy) ** 2 / (2 * ry * ry) + (xx - cx) ** 2 / (2 * rx * rx)))
        out[i] = _BACKGROUND[:, None, None] * (1 - a) + _PALETTE[rnd.randint(10)][:, None, None] * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_real_digits_score_high_and_coloured_blobs_low(clf):
    from stylegan_tf.data.demo import demo_images
    images, labels = demo_images(32, 3)
    feats, probs = dc.digit_scores(clf["model"], clf["feats"], images)
    assert np.mean(probs.argmax(1) == labels) > 0.99
    assert probs.max(1).mean() > 0.99
    assert dc.class_entropy_bits(probs.argmax(1)) > 3.3  # all ten classes, about equally often
    bfeats, bprobs = dc.digit_scores(clf["model"], clf["feats"], _coloured_blobs(900, seed=0))
    # Measured: blobs conf 0.88, entropy 1.9 bits, FD 770; two halves of the reals FD 15.
    assert bprobs.max(1).mean() < 0.95
    assert dc.class_entropy_bits(bprobs.argmax(1)) < 2.5
    fd_real = frechet_distance(*feature_statistics(feats[:900]), *feature_statistics(feats[900:]))
    fd_blobs = frechet_distance(*feature_statistics(bfeats), *feature_statistics(feats))
    assert fd_blobs > 20 * fd_real


def test_colour_carries_no_information(clf):
    from stylegan_tf.data.demo import demo_images
    gray, labels = demo_images(32, 1)
    colour, _ = demo_images(32, 3)
    _, p_gray = dc.digit_scores(clf["model"], clf["feats"], gray)
    _, p_col = dc.digit_scores(clf["model"], clf["feats"], colour)
    assert np.mean(p_gray.argmax(1) == labels) > 0.99
    assert np.mean(p_gray.argmax(1) == p_col.argmax(1)) > 0.99 and np.abs(p_gray - p_col).mean() < 0.01
    # A digit drawn in another class's colour keeps its label.
    from stylegan_tf.data.demo import _BACKGROUND, _PALETTE
    ink = gray[:200, 0].astype(np.float32) / 255.0
    recoloured = _BACKGROUND[None, :, None, None] * (1 - ink[:, None]) + \
        _PALETTE[(labels[:200] + 3) % 10][:, :, None, None] * ink[:, None]
    _, p_re = dc.digit_scores(clf["model"], clf["feats"], np.rint(recoloured).astype(np.uint8))
    assert np.mean(p_re.argmax(1) == labels[:200]) > 0.98


def test_cached_weights_are_reused_and_a_corrupt_cache_is_retrained(clf, monkeypatch, tmp_path):
    path = dc.cache_path(clf["cache"])
    assert path.endswith(".npz") and "digit-classifier-v%d-" % dc.VERSION in path
    monkeypatch.setattr(dc, "train_classifier", lambda **_: pytest.fail("retrained despite the cache"))
    model, _ = dc.load_classifier(clf["cache"])
    for a, b in zip(model.get_weights(), clf["model"].get_weights()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    bad = tmp_path / "cache"
    bad.mkdir()
    (bad / dc.cache_path(str(bad)).split("/")[-1]).write_bytes(b"not an npz")
    calls = []
    monkeypatch.setattr(dc, "train_classifier", lambda **_: (calls.append(1), clf["model"], clf["feats"], 1.0)[1:])
    dc.load_classifier(str(bad))
    assert calls and np.load(dc.cache_path(str(bad)))["w0"].shape == clf["model"].get_weights()[0].shape


def test_digits_metric_from_run_metrics(clf, tmp_path):
    import run_metrics
    from metrics import standins
    from stylegan_tf.data.demo import make_demo_dataset
    standins.make_generator_pkl(str(tmp_path / "net.pkl"), resolution=32)
    make_demo_dataset(str(tmp_path / "datasets" / "digits"), resolution=32)
    argv = ["run_metrics.py", "--network=%s" % (tmp_path / "net.pkl"), "--metrics=digits10k", "--num_samples=64",
            "--dataset=digits", "--data_dir=%s" % (tmp_path / "datasets"), "--result_dir=%s" % tmp_path,
            "--cache_dir=%s" % clf["cache"], "--seed=1", "--noprogress"]
    assert run_metrics.main(argv) == 0
    line = (tmp_path / "metric-digits10k_n64.txt").read_text().strip()
    values = {k: float(v) for k, v in zip(line.split()[3::2], line.split()[4::2])}
    assert sorted(values) == ["digits10k_n64_conf", "digits10k_n64_entropy", "digits10k_n64_fd"]
    assert values["digits10k_n64_fd"] > 50  # an untrained generator draws no digits
    assert 0.1 <= values["digits10k_n64_conf"] <= 1 and 0 <= values["digits10k_n64_entropy"] <= np.log2(10)


def test_digit_attributes_for_ls_and_directions(clf, tmp_path):
    """`--ls_classifiers digits`: "digit k against the rest" in the official classifiers' interface (logit l
    with softmax([l, -l])[0] = p(k), images in [-1, 1]); LS and its editing directions run on it."""
    import tensorflow as tf
    import run_metrics
    from metrics import standins
    from stylegan_tf.data.demo import demo_images
    images, labels = demo_images(resolution=32, channels=3)
    p = tf.nn.softmax(clf["model"](dc.ink_intensity(images[:200]))).numpy()
    attrs = dc.attribute_classifiers(clf["cache"])
    assert [a.attribute for a in attrs] == ["digit%d" % k for k in range(10)]
    x = images[:200].astype(np.float32) / 127.5 - 1.0
    for k, attr in enumerate(attrs):
        logit = attr.get_output_for(x, None)
        assert tuple(logit.shape) == (200, 1)
        two_way = tf.nn.softmax(tf.concat([logit, -logit], axis=1)).numpy()
        np.testing.assert_allclose(two_way[:, 0], p[:, k], atol=1e-5)
    standins.make_generator_pkl(str(tmp_path / "net.pkl"), resolution=16)
    argv = ["run_metrics.py", "--network=%s" % (tmp_path / "net.pkl"), "--metrics=ls_10k", "--num_samples=200",
            "--ls_classifiers=digits", "--directions=%s" % (tmp_path / "dirs"), "--result_dir=%s" % tmp_path,
            "--cache_dir=%s" % clf["cache"], "--seed=1", "--noprogress"]
    assert run_metrics.main(argv) == 0
    line = (tmp_path / "metric-ls_10k_n200.txt").read_text()
    assert "ls_10k_n200_w" in line and "[ls_classifiers digit-classifier-v%d-" % dc.VERSION in line
    assert sorted(os.listdir(tmp_path / "dirs")) == ["digit%d.npy" % k for k in range(10)]
