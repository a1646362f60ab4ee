"""Multi-scale sliced Wasserstein distance (SWD), as Progressive GAN computes it (`swd16k`).

Karras et al. 2018, section 5 / appendix D, and NVlabs/progressive_growing_of_gans
`metrics/sliced_wasserstein.py`. Per image set (reals, fakes; uint8 images as float32 in [0, 255]):

1. A Laplacian pyramid from the full resolution down to 16x16 (5-tap binomial kernel
   [1, 4, 6, 4, 1] / 16 in each direction, mirrored borders as cv2.pyrDown/pyrUp; every level but
   the coarsest is the image minus the upsampled level below).
2. Per image and level, 128 random 7x7 neighbourhoods (centres at least 3 pixels from the border),
   all channels: descriptors of C*7*7 values.
3. Per level, each channel of the descriptors is normalised by its mean and standard deviation over
   the whole set (each set by its own statistics).
4. Per level, 4 repeats of 128 random unit directions: project both sets, sort the projections,
   average |sorted_real - sorted_fake| over neighbourhoods and directions; average over repeats.

Reported values are multiplied by 1e3 (the official `SWDx1e3_<res>`): one per level, suffix
`_<res>`, and their mean, suffix `_avg`. Any channel count works (grayscale gives 49-value
descriptors). Images smaller than 16x16 (but at least 8x8) get a single level at their own size.

The reals: `num_images` images read in dataset order; a smaller dataset is repeated (each image
appears about num_images / dataset size times, each time with new random neighbourhoods). Memory:
the descriptors of both sets are held at once, 4 * 2 * num_images * 128 * C * 49 bytes per level
(about 2.5 GB per level for 16,384 RGB images).
"""

import numpy as np
import scipy.ndimage

import dnnlib
import dnnlib.tflib as tflib
from metrics import metric_base

NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128
MIN_RESOLUTION = 16

_BINOMIAL5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0


def _blur(images, gain=1.0):
    """Separable 5x5 binomial blur of [N, C, H, W] float32 images (mirrored borders, no edge repeat)."""
    k = _BINOMIAL5 * np.float32(gain)
    out = scipy.ndimage.convolve1d(images, k, axis=2, mode="mirror")
    return scipy.ndimage.convolve1d(out, k, axis=3, mode="mirror")


def pyramid_down(images):
    """Blur and keep every second pixel (cv2.pyrDown)."""
    return _blur(images)[:, :, ::2, ::2]


def pyramid_up(images):
    """Zero-interleave to twice the size and blur with gain 4 (cv2.pyrUp)."""
    n, c, h, w = images.shape
    up = np.zeros((n, c, 2 * h, 2 * w), images.dtype)
    up[:, :, ::2, ::2] = images
    return _blur(up, gain=2.0)  # 2 per axis = 4 in total


def laplacian_pyramid(images, num_levels):
    """[finest band-pass, ..., coarsest low-pass] of [N, C, H, W] images, as float32."""
    levels = [np.asarray(images, np.float32)]
    for _ in range(1, num_levels):
        low = pyramid_down(levels[-1])
        levels[-1] = levels[-1] - pyramid_up(low)
        levels.append(low)
    return levels


def pyramid_resolutions(resolution):
    """The levels' resolutions: `resolution`, its halves down to 16 (one level for images below 16)."""
    res, out = int(resolution), []
    while res >= MIN_RESOLUTION:
        out.append(res)
        res //= 2
    return out or [int(resolution)]


def sample_descriptors(images, rnd, nhood_size=NHOOD_SIZE, nhoods_per_image=NHOODS_PER_IMAGE):
    """[N * nhoods_per_image, C, k, k]: random k x k neighbourhoods (all channels) of [N, C, H, W] images.

    The neighbourhoods of image i are rows i*nhoods_per_image ... (i+1)*nhoods_per_image - 1; each centre
    is drawn uniformly from the positions whose neighbourhood lies inside the image."""
    n, c, h, w = images.shape
    half = nhood_size // 2
    if h < nhood_size or w < nhood_size:
        raise ValueError("images of %dx%d are smaller than the %dx%d neighbourhoods" % (h, w, nhood_size, nhood_size))
    count = n * nhoods_per_image
    img = np.repeat(np.arange(n), nhoods_per_image)
    cx = rnd.randint(half, w - half, size=count)
    cy = rnd.randint(half, h - half, size=count)
    offs = np.arange(-half, half + 1)
    rows = (cy[:, None] + offs[None, :])[:, None, :, None]        # [count, 1, k, 1]
    cols = (cx[:, None] + offs[None, :])[:, None, None, :]        # [count, 1, 1, k]
    chans = np.arange(c)[None, :, None, None]                     # [1, C, 1, 1]
    return images[img[:, None, None, None], chans, rows, cols]


def normalize_descriptors(desc):
    """[M, C, k, k] -> [M, C*k*k]: each channel standardised by its mean and std over the set."""
    desc = np.asarray(desc, np.float32)
    mean = desc.mean(axis=(0, 2, 3), keepdims=True)
    std = desc.std(axis=(0, 2, 3), keepdims=True)
    return ((desc - mean) / std).reshape(desc.shape[0], -1)


def sliced_wasserstein(a, b, rnd, dir_repeats=DIR_REPEATS, dirs_per_repeat=DIRS_PER_REPEAT):
    """Mean over repeats of the mean |sorted(a @ d) - sorted(b @ d)| over points and random unit directions d."""
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError("descriptor sets must be 2-D and of equal shape, got %s and %s" % (a.shape, b.shape))
    per_repeat = []
    for _ in range(dir_repeats):
        dirs = rnd.randn(a.shape[1], dirs_per_repeat)
        dirs /= np.sqrt(np.square(dirs).sum(axis=0, keepdims=True))
        dirs = dirs.astype(np.float32)
        # Projections as [direction, point] so that each sort runs over contiguous memory.
        pa = np.sort(dirs.T @ a.T, axis=1)
        pb = np.sort(dirs.T @ b.T, axis=1)
        per_repeat.append(np.mean(np.abs(pa - pb)))
    return float(np.mean(per_repeat))


class DescriptorSet:
    """Collects the raw descriptors of one image set per pyramid level, minibatch by minibatch."""

    def __init__(self, num_levels, rnd):
        self.num_levels, self.rnd = num_levels, rnd
        self.levels = [[] for _ in range(num_levels)]

    def feed(self, images):
        for lod, level in enumerate(laplacian_pyramid(images, self.num_levels)):
            self.levels[lod].append(sample_descriptors(level, self.rnd))

    def finalize(self):
        """Normalised [M, C*49] descriptors per level (frees the raw ones)."""
        out = [normalize_descriptors(np.concatenate(parts, axis=0)) for parts in self.levels]
        self.levels = None
        return out


def swd_x1e3(real_levels, fake_levels, rnd):
    """Per-level SWD x 1e3 of two finalised descriptor sets, and their mean as the last entry."""
    dists = [1e3 * sliced_wasserstein(r, f, rnd) for r, f in zip(real_levels, fake_levels)]
    return dists + [float(np.mean(dists))]


class SWD(metric_base.ImageSetMetric):
    """Multi-scale sliced Wasserstein distance between `num_images` reals and as many fakes."""

    def _evaluate(self, Gs, num_gpus):
        minibatch_size = num_gpus * self.minibatch_per_gpu
        dset = self._open_dataset(Gs)
        channels, height, width = [int(s) for s in Gs.output_shape[1:]]
        if min(height, width) < 2 * (NHOOD_SIZE // 2) + 2:
            raise metric_base.MetricError("%s needs images of at least 8x8, the generator makes %dx%d"
                                          % (self.name, height, width))
        resolutions = pyramid_resolutions(min(height, width))
        # Neighbourhood positions and directions: seeded by the metric's seed (None = random).
        rnd = np.random.RandomState(None if self.seed is None else self.seed + 2)

        reals = DescriptorSet(len(resolutions), rnd)
        progress = dnnlib.util.Progress(label=self.name + " reals", total=self.num_images, enabled=self.progress)
        done = 0
        for images in self._iterate_reals(minibatch_size, Gs, dset):
            images = images[:self.num_images - done]
            reals.feed(images)
            done += images.shape[0]
            progress.advance(images.shape[0])
            if done >= self.num_images:
                break
        progress.close()
        real_levels = reals.finalize()

        def fakes_fn(latents, labels):
            images = Gs.get_output_for(latents, labels, is_validation=True, randomize_noise=True)
            return tflib.convert_images_to_uint8(images)
        run_fakes = self._make_runner(fakes_fn)
        fakes = DescriptorSet(len(resolutions), rnd)
        progress = dnnlib.util.Progress(label=self.name + " fakes", total=self.num_images, enabled=self.progress)
        for begin in range(0, self.num_images, minibatch_size):
            end = min(begin + minibatch_size, self.num_images)
            latents = self._random_latents(minibatch_size, Gs)
            fakes.feed(run_fakes(latents, self._random_labels(minibatch_size, Gs))[:end - begin])
            progress.advance(end - begin)
        progress.close()
        fake_levels = fakes.finalize()

        values = swd_x1e3(real_levels, fake_levels, rnd)
        for res, value in zip(resolutions, values[:-1]):
            self._report_result(value, suffix="_%d" % res)
        self._report_result(values[-1], suffix="_avg")
