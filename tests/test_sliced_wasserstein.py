"""Multi-scale SWD (metrics/sliced_wasserstein.py) against a plain NumPy transcription of the
Progressive GAN formula, basic properties, and the metric end to end (run_metrics.py)."""

import numpy as np
import pytest

from metrics import sliced_wasserstein as swd


# --- An independent, deliberately naive transcription (loops, explicit 2-D kernel, np.pad) ---------

_K2 = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float64) / 256.0


def _conv_reflect(img, kernel):
    """2-D correlation of one [H, W] plane with a 5x5 kernel, borders reflected without edge repeat."""
    p = np.pad(img, 2, mode="reflect")
    out = np.zeros_like(img, dtype=np.float64)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            out[y, x] = np.sum(p[y:y + 5, x:x + 5] * kernel)
    return out


def _ref_pyramid(images, levels):
    cur = images.astype(np.float64)
    out = []
    for _ in range(levels - 1):
        down = np.zeros(cur.shape[:2] + (cur.shape[2] // 2, cur.shape[3] // 2))
        up = np.zeros_like(cur)
        for n in range(cur.shape[0]):
            for c in range(cur.shape[1]):
                down[n, c] = _conv_reflect(cur[n, c], _K2)[::2, ::2]
        for n in range(cur.shape[0]):
            for c in range(cur.shape[1]):
                z = np.zeros(cur.shape[2:])
                z[::2, ::2] = down[n, c]
                up[n, c] = _conv_reflect(z, _K2 * 4)
        out.append(cur - up)
        cur = down
    return out + [cur]


def _ref_swd(real_imgs, fake_imgs, seed, nhoods=128, repeats=4, dirs=128):
    """Same random draws in the same order as the module: per set and level the centres (x, then y),
    then per level the directions of every repeat."""
    rnd = np.random.RandomState(seed)
    levels = len(swd.pyramid_resolutions(real_imgs.shape[2]))
    sets = []
    for imgs in (real_imgs, fake_imgs):
        per_level = []
        for level in _ref_pyramid(imgs, levels):
            n, c, h, w = level.shape
            xs = rnd.randint(3, w - 3, size=n * nhoods)
            ys = rnd.randint(3, h - 3, size=n * nhoods)
            desc = np.zeros((n * nhoods, c, 7, 7))
            for i in range(n * nhoods):
                img = i // nhoods
                desc[i] = level[img, :, ys[i] - 3:ys[i] + 4, xs[i] - 3:xs[i] + 4]
            for ch in range(c):
                desc[:, ch] = (desc[:, ch] - desc[:, ch].mean()) / desc[:, ch].std()
            per_level.append(desc.reshape(len(desc), -1))
        sets.append(per_level)
    values = []
    for a, b in zip(*sets):
        reps = []
        for _ in range(repeats):
            d = rnd.randn(a.shape[1], dirs)
            d /= np.linalg.norm(d, axis=0, keepdims=True)
            total = 0.0
            for j in range(dirs):
                total += np.mean(np.abs(np.sort(a @ d[:, j]) - np.sort(b @ d[:, j])))
            reps.append(total / dirs)
        values.append(1e3 * np.mean(reps))
    return values + [np.mean(values)]


def _module_swd(real_imgs, fake_imgs, seed):
    rnd = np.random.RandomState(seed)
    levels = len(swd.pyramid_resolutions(real_imgs.shape[2]))
    sets = []
    for imgs in (real_imgs, fake_imgs):
        s = swd.DescriptorSet(levels, rnd)
        s.feed(imgs)
        sets.append(s.finalize())
    return swd.swd_x1e3(sets[0], sets[1], rnd)


def _blobs(n, c, res, seed, shift=0.0):
    rnd = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:res, 0:res]
    imgs = np.zeros((n, c, res, res), np.float32)
    for i in range(n):
        cy, cx = rnd.uniform(res * 0.3, res * 0.7, size=2)
        r = rnd.uniform(res * 0.1, res * 0.3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        for ch in range(c):
            imgs[i, ch] = 30 + 200 * blob * rnd.uniform(0.5, 1.0) + rnd.randn(res, res) * 10 + shift
    return np.clip(np.rint(imgs), 0, 255).astype(np.uint8)


def test_pyramid_matches_naive_convolution():
    imgs = _blobs(2, 3, 32, seed=0)
    ours = swd.laplacian_pyramid(imgs, 2)
    ref = _ref_pyramid(imgs, 2)
    assert [l.shape for l in ours] == [(2, 3, 32, 32), (2, 3, 16, 16)]
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, atol=2e-3)
    # The pyramid is invertible: upsampling the coarse level and adding the band-pass gives the image.
    np.testing.assert_allclose(ours[0] + swd.pyramid_up(ours[1]), imgs.astype(np.float32), atol=2e-3)


@pytest.mark.parametrize("channels", [3, 1])
def test_swd_matches_naive_transcription(channels):
    reals = _blobs(6, channels, 32, seed=1)
    fakes = _blobs(6, channels, 32, seed=2, shift=25.0)
    ours = _module_swd(reals, fakes, seed=7)
    ref = _ref_swd(reals, fakes, seed=7)
    assert len(ours) == 3  # levels 32, 16 and the average
    np.testing.assert_allclose(ours, ref, rtol=2e-3)


def test_swd_properties():
    reals = _blobs(48, 3, 32, seed=3)
    same = _module_swd(reals, reals, seed=4)  # same images, other random neighbourhoods: sampling noise only
    # Each set is normalised by its own channel statistics: a global contrast/brightness change is invisible.
    affine = _module_swd(reals, np.rint(reals * 0.5 + 60).astype(np.uint8), seed=4)
    striped_imgs = reals.copy()
    striped_imgs[:, :, ::2] //= 4  # a structural change: dark stripes every second row
    striped = _module_swd(reals, striped_imgs, seed=4)
    uniform = _module_swd(reals, np.random.RandomState(6).randint(0, 256, size=reals.shape).astype(np.uint8), seed=4)
    assert same[-1] < 25
    assert affine[-1] == pytest.approx(same[-1], rel=0.1)
    assert striped[0] > 3 * same[0] and striped[-1] > 2 * same[-1]
    assert uniform[-1] > 5 * same[-1]


def test_swd_exact_zero_for_identical_descriptors():
    rnd = np.random.RandomState(0)
    a = swd.normalize_descriptors(rnd.rand(500, 3, 7, 7))
    assert swd.sliced_wasserstein(a, a.copy(), np.random.RandomState(1)) == 0.0
    b = swd.normalize_descriptors(rnd.rand(500, 3, 7, 7) ** 3)
    assert swd.sliced_wasserstein(a, b, np.random.RandomState(1)) > 0.0


def test_resolutions_and_small_images():
    assert swd.pyramid_resolutions(1024) == [1024, 512, 256, 128, 64, 32, 16]
    assert swd.pyramid_resolutions(16) == [16]
    assert swd.pyramid_resolutions(8) == [8]
    with pytest.raises(ValueError):
        swd.sample_descriptors(np.zeros((1, 1, 6, 6), np.float32), np.random.RandomState(0))


def test_swd_metric_from_run_metrics(tmp_path, capsys):
    """swd16k through run_metrics.py (fewer images): one value per level and the average, in the result file."""
    import run_metrics
    from metrics import standins
    from stylegan_tf.data.demo import make_demo_dataset
    standins.make_generator_pkl(str(tmp_path / "net.pkl"), resolution=32)
    make_demo_dataset(str(tmp_path / "datasets" / "digits"), resolution=32)
    argv = ["run_metrics.py", "--network=%s" % (tmp_path / "net.pkl"), "--metrics=swd16k", "--num_samples=64",
            "--dataset=digits", "--data_dir=%s" % (tmp_path / "datasets"), "--result_dir=%s" % tmp_path,
            "--seed=1", "--noprogress"]
    assert run_metrics.main(argv) == 0
    line = (tmp_path / "metric-swd16k_n64.txt").read_text().strip()
    values = {k: float(v) for k, v in zip(line.split()[3::2], line.split()[4::2])}
    assert sorted(values) == ["swd16k_n64_16", "swd16k_n64_32", "swd16k_n64_avg"]
    assert values["swd16k_n64_avg"] == pytest.approx((values["swd16k_n64_16"] + values["swd16k_n64_32"]) / 2, abs=1e-3)
    assert values["swd16k_n64_avg"] > 0
    assert run_metrics.main(argv) == 0  # seeded: the same numbers again
    assert (tmp_path / "metric-swd16k_n64.txt").read_text().splitlines()[1].split()[3:] == line.split()[3:]
