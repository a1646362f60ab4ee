"""Frechet Inception Distance (FID), computed as the official StyleGAN metric does.

Inception-v3 pool_3 features of `num_images` generated images (latents ~ N(0, I), no truncation,
random noise, all-zero labels unless `labels='uniform'`, converted to uint8 like
`convert_images_to_uint8`) and of as many real images (statistics cached per dataset); FID = |mu_f - mu_r|^2 + tr(S_f + S_r - 2 sqrtm(S_f S_r)), real part.
"""

import warnings

import numpy as np
import scipy.linalg

import dnnlib
import dnnlib.tflib as tflib
from metrics import feature_nets
from metrics import metric_base


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + trace(S1 + S2 - 2 sqrtm(S1 S2)), real part (the official formula, no eps fix-up)."""
    m = np.square(np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)).sum()
    # The supported call (SciPy 1.16 deprecates `disp`, 1.18 removes it). The official
    # `sqrtm(..., disp=False)` returned an error estimate it discarded and printed nothing; the
    # plain call warns on singular products (always so with fewer images than features): silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    dist = m + np.trace(np.asarray(sigma1) + np.asarray(sigma2) - 2 * s)
    return float(np.real(dist))


def feature_statistics(activations):
    """(mean, covariance) of [N, D] features as the official code computes them (np.cov, rowvar=False)."""
    return np.mean(activations, axis=0), np.cov(activations, rowvar=False)


class FID(metric_base.ImageSetMetric):
    def _load_inception(self):
        args = self.feature_args
        try:
            return self._cached_feature_net(
                ("inception", args.inception, args.inception_sha256),
                lambda: feature_nets.load_inception(args.inception, cache_dir=self.cache_dir, sha256=args.inception_sha256))
        except feature_nets.FeatureNetworkError as e:
            raise metric_base.FeatureNetworkUnavailable(str(e)) from None

    def _evaluate(self, Gs, num_gpus):
        minibatch_size = num_gpus * self.minibatch_per_gpu
        dset = self._open_dataset(Gs)  # fails early on a missing dataset or a resolution mismatch
        inception = self._load_inception()
        self._note_feature_net("inception", inception.source, inception.sha256)

        # Statistics of the reals (cached; the cache key includes the feature network's checksum).
        cache_file = self._get_cache_file_for_reals(num_images=self.num_images, inception_sha256=inception.sha256)
        stats = self._load_real_stats(cache_file)
        if stats is not None:
            mu_real, sigma_real = stats
        else:
            run_reals = self._make_runner(lambda images: inception.features(images))
            activations = None
            progress = dnnlib.util.Progress(label=self.name + " reals", total=self.num_images, enabled=self.progress)
            for idx, images in enumerate(self._iterate_reals(minibatch_size, Gs, dset)):
                begin = idx * minibatch_size
                end = min(begin + minibatch_size, self.num_images)
                feats = run_reals(images)
                if activations is None:
                    activations = np.empty([self.num_images, feats.shape[1]], np.float32)
                activations[begin:end] = feats[:end - begin]
                progress.advance(end - begin)
                if end == self.num_images:
                    break
            progress.close()
            mu_real, sigma_real = feature_statistics(activations)
            self._save_real_stats(cache_file, mu_real, sigma_real)

        # Statistics of the fakes.
        def fakes(latents, labels):
            images = Gs.get_output_for(latents, labels, is_validation=True, randomize_noise=True)
            return inception.features(tflib.convert_images_to_uint8(images))
        run_fakes = self._make_runner(fakes)
        activations = np.empty([self.num_images, mu_real.shape[0]], np.float32)
        progress = dnnlib.util.Progress(label=self.name + " fakes", total=self.num_images, enabled=self.progress)
        for begin in range(0, self.num_images, minibatch_size):
            end = min(begin + minibatch_size, self.num_images)
            latents = self._random_latents(minibatch_size, Gs)
            activations[begin:end] = run_fakes(latents, self._random_labels(minibatch_size, Gs))[:end - begin]
            progress.advance(end - begin)
        progress.close()
        mu_fake, sigma_fake = feature_statistics(activations)
        self._report_result(frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real))

