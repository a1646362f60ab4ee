"""Perceptual Path Length (PPL), computed as the official StyleGAN metric does.

Pairs of latents; interpolation by slerp in Z or lerp in W at t ~ U(0, 1) ('full') or t = 0
('end') and at t + epsilon; one noise realisation per minibatch; images cropped to the face region
[3c:7c, 2c:6c] (c = H/8), box-downsampled to 256 when larger, scaled to [0, 255]; LPIPS-VGG16
distance / epsilon^2; distances outside the [1st ('lower'), 99th ('higher')] percentiles dropped;
the mean reported. A conditional generator gets one label per pair (both ends and every point
between them; all-zero unless `labels='uniform'`, see metric_base.MetricBase). Generators that
compute in bfloat16/float16 are evaluated as a float32 copy with the same weights (interpolation,
synthesis and distance all in float32).
"""

import numpy as np
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from metrics import feature_nets
from metrics import metric_base


def normalize(v):
    """Batch of vectors scaled to unit length (last axis)."""
    return v / tf.sqrt(tf.reduce_sum(tf.square(v), axis=-1, keepdims=True))


def slerp(a, b, t):
    """Spherical interpolation of the directions of a and b (result has unit norm)."""
    a = normalize(a)
    b = normalize(b)
    d = tf.reduce_sum(a * b, axis=-1, keepdims=True)
    p = t * tf.math.acos(d)
    c = normalize(b - d * a)
    d = a * tf.math.cos(p) + c * tf.math.sin(p)
    return normalize(d)


def crop_and_resize_for_lpips(images):
    """Face-region crop [3c:7c, 2c:6c] (c = H // 8) of NCHW images, box-downsampled to 256 when
    larger, mapped from [-1, 1] to [0, 255]."""
    c = int(images.shape[2] // 8)
    images = images[:, :, c * 3: c * 7, c * 2: c * 6]
    if images.shape[2] > 256:
        factor = images.shape[2] // 256
        images = tf.reshape(images, [-1, images.shape[1], images.shape[2] // factor, factor,
                                     images.shape[3] // factor, factor])
        images = tf.reduce_mean(images, axis=[3, 5])
    return (images + 1) * (255 / 2)


def filter_and_mean(distances):
    """Mean of the distances within [1st percentile ('lower'), 99th percentile ('higher')]."""
    distances = np.asarray(distances)
    lo = np.percentile(distances, 1, method="lower")
    hi = np.percentile(distances, 99, method="higher")
    kept = np.extract(np.logical_and(lo <= distances, distances <= hi), distances)
    return float(np.mean(kept))


def labels_for_pairs(labels):
    """[N, L] labels, one per pair -> [2N, L] in the interleaved order of the latents (rows 2i and 2i + 1
    are labels[i]): both ends of a pair, and so every point between them, share the pair's label.
    None stays None (zero labels)."""
    if labels is None:
        return None
    return tf.repeat(labels, 2, axis=0)


def path_length_distances(Gs, distance_fn, latents_pairs, lerp_t, epsilon, space, labels=None):
    """Scaled distances d(G(x(t)), G(x(t + eps))) / eps^2 for one minibatch (tensors).

    latents_pairs: [2N, Z] (t0, t1 interleaved); lerp_t: [N]; labels: [N, label_size], one per pair,
    or None for all-zero labels (the official metric).
    """
    mapping, synthesis = Gs.components.mapping, Gs.components.synthesis
    labels_pairs = labels_for_pairs(labels)
    if space == "w":
        dlat_t01 = mapping.get_output_for(latents_pairs, labels_pairs, is_validation=True)
        dlat_t0, dlat_t1 = dlat_t01[0::2], dlat_t01[1::2]
        dlat_e0 = tflib.lerp(dlat_t0, dlat_t1, lerp_t[:, None, None])
        dlat_e1 = tflib.lerp(dlat_t0, dlat_t1, lerp_t[:, None, None] + epsilon)
        dlat_e01 = tf.reshape(tf.stack([dlat_e0, dlat_e1], axis=1), tf.shape(dlat_t01))
    else:
        lat_t0, lat_t1 = latents_pairs[0::2], latents_pairs[1::2]
        lat_e0 = slerp(lat_t0, lat_t1, lerp_t[:, None])
        lat_e1 = slerp(lat_t0, lat_t1, lerp_t[:, None] + epsilon)
        lat_e01 = tf.reshape(tf.stack([lat_e0, lat_e1], axis=1), tf.shape(latents_pairs))
        dlat_e01 = mapping.get_output_for(lat_e01, labels_pairs, is_validation=True)
    images = synthesis.get_output_for(dlat_e01, is_validation=True, randomize_noise=False)
    images = crop_and_resize_for_lpips(images)
    return distance_fn(images[0::2], images[1::2]) * (1 / epsilon ** 2)


class PPL(metric_base.MetricBase):
    def __init__(self, num_samples, epsilon, space, sampling, minibatch_per_gpu, **kwargs):
        assert space in ["z", "w"]
        assert sampling in ["full", "end"]
        super().__init__(**kwargs)
        self.num_samples = num_samples
        self.epsilon = epsilon
        self.space = space
        self.sampling = sampling
        self.minibatch_per_gpu = minibatch_per_gpu

    def _float32_generator(self, Gs):
        """Gs when it computes in float32, else a float32 clone with the same weights.

        A bf16/fp16 generator (the `bf16`/`fp16` training presets) cannot resolve an epsilon=1e-4
        step: its dlatents and images are rounded to 8 (bf16) or 11 (fp16) mantissa bits, so most
        distances come out 0 (ppl_z*) and `lerp` of bf16 dlatents with float32 t fails (ppl_w*).
        The path length is a property of the weights, so we measure it in float32."""
        dtype = tf.as_dtype(Gs.static_kwargs.get("dtype", "float32"))
        if dtype == tf.float32:
            return Gs
        with (self._active_strategy or tf.distribute.get_strategy()).scope():
            return Gs.clone(dtype="float32")

    def _load_lpips(self):
        spec = self.feature_args.lpips
        if spec is None:
            raise metric_base.FeatureNetworkUnavailable(
                "%s needs LPIPS-VGG16 weights: give --lpips (vgg16_zhang_perceptual.pkl, or "
                                          "vgg.pth,vgg16-397923af.pth; see docs/metrics.md)" % self.name)
        try:
            sha = self.feature_args.lpips_sha256
            return self._cached_feature_net(("lpips", spec, sha),
                                            lambda: feature_nets.load_lpips(spec, cache_dir=self.cache_dir, sha256=sha))
        except feature_nets.FeatureNetworkError as e:
            raise metric_base.FeatureNetworkUnavailable(str(e)) from None

    def _evaluate(self, Gs, num_gpus):
        metric_base.require_style_components(Gs, self.name)
        Gs = self._float32_generator(Gs)
        minibatch_size = num_gpus * self.minibatch_per_gpu
        lpips = self._load_lpips()
        self._note_feature_net("lpips", lpips.source, lpips.sha256)
        noise_vars = [var for name, var in Gs.components.synthesis.vars.items() if name.startswith("noise")]

        def replica(latents_pairs, labels, lerp_t):
            # Each replica's part of the host batch holds its [2N] latents and [N] labels and t values.
            return path_length_distances(Gs, lpips.distance, latents_pairs, lerp_t, self.epsilon, self.space,
                                         labels=labels)

        run = self._make_runner(replica)
        all_distances = []
        num_steps = (self.num_samples - 1) // minibatch_size + 1  # official: ceil, all samples kept
        progress = dnnlib.util.Progress(label=self.name, total=num_steps * minibatch_size, unit="samples",
                                        enabled=self.progress)
        for _ in range(num_steps):
            for var in noise_vars:  # one noise realisation per minibatch (official: re-run the initializers)
                var.assign(self._rnd.randn(*var.shape).astype(np.float32))
            lat = self._random_latents(minibatch_size * 2, Gs)
            if self.sampling == "full":
                lerp_t = self._rnd.uniform(0.0, 1.0, size=[minibatch_size]).astype(np.float32)
            else:
                lerp_t = np.zeros([minibatch_size], np.float32)
            labels = self._random_labels(minibatch_size, Gs)  # one per pair, for both of its ends
            all_distances.append(run(lat, labels, lerp_t))
            progress.advance(minibatch_size)
        progress.close()
        self._report_result(filter_and_mean(np.concatenate(all_distances, axis=0)))
