"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data") for StyleGAN v1, opt-in.

`augment_pipeline(images, labels, strength, debug_percentile, **pipeline_args)` is the pipeline of
NVlabs/stylegan2-ada (TF1, training/augment.py) on TF2: the same transforms, argument names and defaults,
parameter distributions, order, and geometric filtering (a sym6 wavelet low-pass around a 2x upsampled,
reflect-padded image, bilinear resampling, then low-pass and 2x downsampling). Images NCHW float32 in
[-1, 1], as D sees them; differentiable w.r.t. the images (R1 is taken through it). Random draws come from
`stylegan_tf.rng` (batched: a step is reproducible and replicas / micro-batches see the whole batch's
numbers). `debug_percentile` in [0, 1] replaces every random draw by that percentile: deterministic, which is
how parity with the official code is checked (bench/official/augment_parity.py).

`AdaptiveAugment` is the pipe the training loop's slot for what D sees instantiates (`--aug ada|fixed`):
the strength p lives in a variable; the 'rt' heuristic moves p by (images since the last adjustment) /
(ada_kimg * 1000) in the direction of sign(r_t - target), r_t = E[sign(D(real))].
"""

import functools

import numpy as np
import tensorflow as tf

from dnnlib.tflib.tfutil import nchw_native, nchw_to_nhwc_call
from stylegan_tf import rng

# --augpipe presets (stylegan2-ada's train.py): which probability multipliers are 1.
_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
AUGPIPES = {
    "blit": _BLIT, "geom": _GEOM, "color": _COLOR, "filter": dict(imgfilter=1), "noise": dict(noise=1),
    "cutout": dict(cutout=1), "bg": dict(_BLIT, **_GEOM), "bgc": dict(_BLIT, **_GEOM, **_COLOR),
    "bgcf": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1), "bgcfn": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1),
    "bgcfnc": dict(_BLIT, **_GEOM, **_COLOR, imgfilter=1, noise=1, cutout=1),
}

# Low-pass filters of two orthogonal wavelets (Daubechies' symlets), the ones the pipeline uses.
SYM2 = [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025]
SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466,
        0.787641141030194, 0.3379294217276218, -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
        0.0017677118642428036, -0.007800708325034148]

# ----------------------------------------------------------------------------
# Batches of homogeneous matrices.


def _matrices(*rows):
    """[batch, n, n] from n rows of n entries, each a scalar or a [batch] tensor (batch 1 if all scalars)."""
    rows = [[tf.cast(tf.convert_to_tensor(v), tf.float32) for v in row] for row in rows]
    vectors = [v for row in rows for v in row if v.shape.rank == 1]
    batch = tf.shape(vectors[0])[0] if vectors else 1
    return tf.stack([tf.stack([tf.broadcast_to(v, [batch]) for v in row], axis=-1) for row in rows], axis=1)


def _translate2(tx, ty):
    return _matrices([1, 0, tx], [0, 1, ty], [0, 0, 1])


def _scale2(sx, sy):
    return _matrices([sx, 0, 0], [0, sy, 0], [0, 0, 1])


def _rotate2(theta):
    return _matrices([tf.cos(theta), -tf.sin(theta), 0], [tf.sin(theta), tf.cos(theta), 0], [0, 0, 1])


def _translate3(tx, ty, tz):
    return _matrices([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def _scale3(sx, sy, sz):
    return _matrices([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def _rotate3(axis, theta):
    """Rotation by theta about the unit vector `axis` (Rodrigues)."""
    x, y, z = (float(a) for a in axis[:3])
    s, c = tf.sin(theta), tf.cos(theta)
    d = 1 - c
    return _matrices([x * x * d + c, x * y * d - z * s, x * z * d + y * s, 0],
                     [y * x * d + z * s, y * y * d + c, y * z * d - x * s, 0],
                     [z * x * d - y * s, z * y * d + x * s, z * z * d + c, 0],
                     [0, 0, 0, 1])

# ----------------------------------------------------------------------------
# Random parameters.


class _Params:
    """Draws of one pipeline call: random (rng, batched) or, with debug_percentile, that percentile."""

    def __init__(self, batch, strength, debug_percentile):
        self.batch, self.strength, self.pct = batch, strength, debug_percentile

    def gate(self, prob, values, off):
        """values where a uniform draw < prob (per image), `off` elsewhere."""
        on = rng.uniform([self.batch], batched=True) < prob
        on = tf.reshape(on, [-1] + [1] * (values.shape.rank - 1))
        return tf.where(on, values, tf.cast(off, values.dtype))

    def _pct(self, shape):
        return tf.broadcast_to(tf.cast(self.pct, tf.float32), shape)

    def integer(self, mult, n, shape=None):
        """floor(uniform * n), gated by mult * strength (disabled: 0)."""
        shape = shape or [self.batch]
        v = self.gate(mult * self.strength, tf.floor(rng.uniform(shape, 0, n, batched=True)), 0)
        return v if self.pct is None else tf.floor(self._pct(shape) * n)

    def uniform(self, mult, lo, hi, off, shape=None, prob=None):
        """uniform(lo, hi) (debug: lo + pct * (hi - lo)), gated by prob or mult * strength."""
        shape = shape or [self.batch]
        v = self.gate(mult * self.strength if prob is None else prob, rng.uniform(shape, lo, hi, batched=True), off)
        return v if self.pct is None else (self._pct(shape) * 2 - 1) * hi

    def lognormal(self, mult, std, shape=None):
        """2 ** normal(0, std) (debug: 2 ** (erfinv(2 pct - 1) std)), gated (disabled: 1)."""
        shape = shape or [self.batch]
        v = self.gate(mult * self.strength, 2 ** (rng.normal(shape, batched=True) * std), 1)
        return v if self.pct is None else 2 ** (tf.math.erfinv(self._pct(shape) * 2 - 1) * std)

    def normal(self, mult, std, shape=None):
        """normal(0, std) (debug: erfinv(2 pct - 1) std), gated (disabled: 0)."""
        shape = shape or [self.batch]
        v = self.gate(mult * self.strength, rng.normal(shape, batched=True) * std, 0)
        return v if self.pct is None else tf.math.erfinv(self._pct(shape) * 2 - 1) * std

# ----------------------------------------------------------------------------
# The pipeline.


def augment_pipeline(images, labels, strength=1, debug_percentile=None,
                     xflip=0, rotate90=0, xint=0, xint_max=0.125,
                     scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
                     brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0, brightness_std=0.2, contrast_std=0.5,
                     hue_max=1, saturation_std=1,
                     imgfilter=0, imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1,
                     noise=0, cutout=0, noise_std=0.1, cutout_size=0.5):
    """Augment NCHW float32 images in [-1, 1] with overall probability multiplier `strength` (a float or a
    tensor); the other arguments are stylegan2-ada's (probability multipliers default 0: all off).
    Returns (images, labels)."""
    images = tf.convert_to_tensor(images, tf.float32)
    _, channels, height, width = images.shape.as_list()
    batch = tf.shape(images)[0]
    p = _Params(batch, tf.cast(strength, tf.float32), debug_percentile)

    # Pixel blitting and general geometric transforms, composed into one inverse transform G_inv
    # (output pixel -> input pixel), in stylegan2-ada's order.
    G_inv = None

    def then(m):
        nonlocal G_inv
        G_inv = m if G_inv is None else G_inv @ m

    if xflip > 0:
        i = p.integer(xflip, 2)
        then(_scale2(1 - 2 * i, 1))
    if rotate90 > 0:
        i = p.integer(rotate90, 4)
        then(_rotate2(np.pi / 2 * i))  # the inverse of a rotation by -pi/2 * i
    if xint > 0:
        t = p.uniform(xint, -xint_max, xint_max, 0, shape=[batch, 2])
        then(_translate2(-tf.math.rint(t[:, 0] * width), -tf.math.rint(t[:, 1] * height)))
    if scale > 0:
        s = p.lognormal(scale, scale_std)
        then(_scale2(1 / s, 1 / s))
    p_rot = 1 - tf.sqrt(tf.maximum(1 - rotate * p.strength, 0))  # P(pre-rotation or post-rotation) = rotate * p
    if rotate > 0:
        theta = p.uniform(rotate, -np.pi * rotate_max, np.pi * rotate_max, 0, prob=p_rot)
        then(_rotate2(theta))
    if aniso > 0:
        s = p.lognormal(aniso, aniso_std)
        then(_scale2(1 / s, s))
    if rotate > 0:
        theta = p.gate(p_rot, rng.uniform([batch], -np.pi * rotate_max, np.pi * rotate_max, batched=True), 0)
        then(_rotate2(theta if debug_percentile is None else tf.zeros([batch])))
    if xfrac > 0:
        t = p.normal(xfrac, xfrac_std, shape=[batch, 2])
        then(_translate2(-t[:, 0] * width, -t[:, 1] * height))
    if G_inv is not None:
        images = _geometric(images, G_inv, channels, height, width)

    # Colour transforms, composed into one 4x4 matrix C (colour_in -> colour_out).
    C = None

    def before(m):
        nonlocal C
        C = m if C is None else m @ C

    luma = np.array([1, 1, 1, 0]) / np.sqrt(3)
    eye4 = tf.eye(4, batch_shape=[batch])
    if brightness > 0:
        b = p.normal(brightness, brightness_std)
        before(_translate3(b, b, b))
    if contrast > 0:
        c = p.lognormal(contrast, contrast_std)
        before(_scale3(c, c, c))
    if lumaflip > 0:
        i = tf.reshape(p.integer(lumaflip, 2), [batch, 1, 1])
        before(eye4 - 2 * np.outer(luma, luma).astype(np.float32) * i)  # Householder reflection
    if hue > 0 and channels > 1:
        theta = p.uniform(hue, -np.pi * hue_max, np.pi * hue_max, 0)
        before(_rotate3(luma, theta))
    if saturation > 0 and channels > 1:
        s = tf.reshape(p.lognormal(saturation, saturation_std), [batch, 1, 1])
        vv = np.outer(luma, luma).astype(np.float32)
        before(vv + (eye4 - vv) * s)
    if C is not None:
        flat = tf.reshape(images, [batch, channels, height * width])
        if channels == 3:
            flat = C[:, :3, :3] @ flat + C[:, :3, 3:]
        elif channels == 1:
            C = tf.reduce_mean(C[:, :3, :], axis=1, keepdims=True)
            flat = flat * tf.reduce_sum(C[:, :, :3], axis=2, keepdims=True) + C[:, :, 3:]
        else:
            raise ValueError("colour augmentation needs RGB (3 channels) or L (1 channel) images, got %d" % channels)
        images = tf.reshape(flat, [batch, channels, height, width])

    if imgfilter > 0 and min(height, width) > _band_filters().shape[1] // 2:
        # (Reflect padding needs more pixels than the filter's half-length, 21: progressive growing's phases
        # below 32x32 go without this filter; stylegan2-ada trains at full resolution only.)
        images = _filter_bands(images, p, imgfilter, list(imgfilter_bands), imgfilter_std, channels, height, width)

    if noise > 0:
        sigma = p.gate(noise * p.strength, tf.abs(rng.normal([batch], batched=True) * noise_std), 0)
        if debug_percentile is not None:
            sigma = tf.math.erfinv(p._pct([batch])) * noise_std
        images += rng.normal([batch, channels, height, width], batched=True) * tf.reshape(sigma, [-1, 1, 1, 1])

    if cutout > 0:
        size = p.gate(cutout * p.strength, tf.fill([batch, 2], float(cutout_size)), 0)
        center = rng.uniform([batch, 2], batched=True)
        if debug_percentile is not None:
            size, center = tf.fill([batch, 2], float(cutout_size)), p._pct([batch, 2])
        size = tf.reshape(size, [batch, 2, 1, 1, 1])
        center = tf.reshape(center, [batch, 2, 1, 1, 1])
        xs = tf.reshape(tf.range(width, dtype=tf.float32), [1, 1, 1, width])
        ys = tf.reshape(tf.range(height, dtype=tf.float32), [1, 1, height, 1])
        outside = tf.logical_or(tf.abs((xs + 0.5) / width - center[:, 0]) >= size[:, 0] / 2,
                                tf.abs((ys + 0.5) / height - center[:, 1]) >= size[:, 1] / 2)
        images *= tf.cast(outside, tf.float32)
    return tf.ensure_shape(images, [None, channels, height, width]), labels  # static C, H, W, as D needs


def _geometric(images, G_inv, channels, height, width):
    """Resample NCHW `images` at G_inv @ (output pixel): reflect-pad as far as the transformed corners reach,
    2x upsample with the sym6 low-pass, bilinear resampling, low-pass and 2x downsample, crop."""
    Hz = np.asarray(SYM6, np.float32)
    Hz = np.reshape(Hz, [-1, 1, 1]).repeat(channels, axis=1)  # [tap, channel, 1]
    Hz_pad = Hz.shape[0] // 4
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = np.transpose([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).astype(np.float32)
    cp = (G_inv @ corners[np.newaxis])[:, :2, :]  # [batch, xy, corner]
    m_lo = tf.math.ceil(tf.reduce_max(-cp, axis=[0, 2]) - [cx, cy] + Hz_pad * 2)
    m_hi = tf.math.ceil(tf.reduce_max(cp, axis=[0, 2]) - [cx, cy] + Hz_pad * 2)
    m_lo = tf.clip_by_value(m_lo, [0, 0], [width - 1, height - 1])
    m_hi = tf.clip_by_value(m_hi, [0, 0], [width - 1, height - 1])

    x = tf.transpose(images, [0, 2, 3, 1])  # NHWC, as TF's image transform takes it
    lo, hi = tf.cast(m_lo, tf.int32), tf.cast(m_hi, tf.int32)
    x = tf.pad(x, [[0, 0], [lo[1], hi[1]], [lo[0], hi[0]], [0, 0]], mode="REFLECT")
    G_inv = _translate2(cx + m_lo[0], cy + m_lo[1]) @ G_inv @ _translate2(-(cx + Hz_pad), -(cy + Hz_pad))

    batch = tf.shape(x)[0]
    up_shape = [batch, tf.shape(x)[1] * 2, tf.shape(x)[2] * 2, channels]
    x = tf.nn.depthwise_conv2d_backprop_input(up_shape, Hz[np.newaxis, :], x, [1, 2, 2, 1], "SAME")
    x = tf.nn.depthwise_conv2d_backprop_input(up_shape, Hz[:, np.newaxis], x, [1, 1, 1, 1], "SAME")
    G_inv = _scale2(2, 2) @ G_inv @ _scale2(0.5, 0.5)  # in the upsampled image's pixels

    G_inv = tf.broadcast_to(G_inv, [batch, 3, 3])
    transforms = tf.reshape(G_inv, [-1, 9])[:, :8]
    out_shape = tf.constant([(height + Hz_pad * 2) * 2, (width + Hz_pad * 2) * 2], tf.int32)
    x = tf.raw_ops.ImageProjectiveTransformV2(images=x, transforms=transforms, output_shape=out_shape,
                                              interpolation="BILINEAR", fill_mode="CONSTANT")
    x = tf.nn.depthwise_conv2d(x, Hz[np.newaxis, :], [1, 1, 1, 1], "SAME")
    x = tf.nn.depthwise_conv2d(x, Hz[:, np.newaxis], [1, 2, 2, 1], "SAME")
    x = x[:, Hz_pad:height + Hz_pad, Hz_pad:width + Hz_pad, :]
    return tf.transpose(x, [0, 3, 1, 2])


@functools.lru_cache(maxsize=None)
def _band_filters(num_bands=4):
    """[num_bands, taps]: the sym2 filter bank splitting an image into octave bands (low to high)."""
    import scipy.signal
    lo = np.asarray(SYM2, np.float32)
    hi = lo * ((-1) ** np.arange(lo.size))
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bands = np.eye(num_bands, 1)
    for i in range(1, num_bands):
        bands = np.dstack([bands, np.zeros_like(bands)]).reshape(num_bands, -1)[:, :-1]
        bands = scipy.signal.convolve(bands, [lo2])
        start = (bands.shape[1] - hi2.size) // 2
        bands[i, start:start + hi2.size] += hi2
    return bands


def _filter_bands(images, p, imgfilter, band_mults, std, channels, height, width):
    """Amplify each octave band by a random gain (power-normalised against a 1/f spectrum)."""
    num_bands = 4
    if len(band_mults) != num_bands:
        raise ValueError("imgfilter_bands needs %d entries, got %d" % (num_bands, len(band_mults)))
    expected_power = np.array([10, 1, 1, 1], np.float32) / 13
    batch = p.batch
    g = tf.ones([batch, num_bands])
    for i, band in enumerate(band_mults):
        t_i = p.gate(imgfilter * p.strength * band, 2 ** (rng.normal([batch], batched=True) * std), 1)
        if p.pct is not None:
            t_i = 2 ** (tf.math.erfinv(p._pct([batch]) * 2 - 1) * std) if band > 0 else tf.ones([batch])
        t = tf.concat([tf.ones([batch, i]), t_i[:, np.newaxis], tf.ones([batch, num_bands - i - 1])], axis=-1)
        t /= tf.sqrt(tf.reduce_sum(expected_power * tf.square(t), axis=-1, keepdims=True))
        g *= t
    bands = _band_filters(num_bands).astype(np.float32)  # (a copy: the cached array stays as it is)
    Hz = tf.transpose(g @ bands)  # [tap, batch]
    Hz = tf.reshape(tf.tile(Hz[:, :, np.newaxis], [1, 1, channels]), [-1, batch * channels, 1])
    x = tf.reshape(images, [1, -1, height, width])
    pad = bands.shape[1] // 2
    x = tf.pad(x, [[0, 0], [0, 0], [pad, pad], [pad, pad]], mode="REFLECT")
    if nchw_native(tf.float32):
        x = tf.nn.depthwise_conv2d(x, Hz[np.newaxis, :], [1, 1, 1, 1], "VALID", data_format="NCHW")
        x = tf.nn.depthwise_conv2d(x, Hz[:, np.newaxis], [1, 1, 1, 1], "VALID", data_format="NCHW")
    else:
        x = nchw_to_nhwc_call(lambda y: tf.nn.depthwise_conv2d(
            tf.nn.depthwise_conv2d(y, Hz[np.newaxis, :], [1, 1, 1, 1], "VALID"), Hz[:, np.newaxis], [1, 1, 1, 1],
            "VALID"), x)
    return tf.reshape(x, [-1, channels, height, width])

# ----------------------------------------------------------------------------
# The adaptive pipe for the training loop's slot (--aug ada|fixed).


class AdaptiveAugment:
    """`augment_pipeline` with strength p in a variable, for the training loop's slot for what D sees
    (`--set augment.func_name=stylegan_tf.augment.AdaptiveAugment`, or train.py's --aug). With a `target`
    (--aug ada) p follows stylegan2-ada's 'rt' heuristic: after every `minibatch_repeats` minibatches the loop
    calls `update` with the sum and count of sign(D(real)) since the last call, and p moves by
    nimg / (ada_kimg * 1000) towards more augmentation when r_t = E[sign(D(real))] > target, less otherwise
    (never below 0). Without a target (--aug fixed) p stays at its initial value."""

    def __init__(self, augpipe="bgc", p=0.0, target=None, ada_kimg=500, **pipeline_args):
        if augpipe not in AUGPIPES:
            raise ValueError("unknown augpipe %r (known: %s)" % (augpipe, ", ".join(AUGPIPES)))
        self.augpipe, self.target, self.ada_kimg = augpipe, target, float(ada_kimg)
        self.pipeline_args = dict(AUGPIPES[augpipe], **pipeline_args)
        self.strength = tf.Variable(float(p), trainable=False, dtype=tf.float32, name="augment_strength")
        self.rt = None

    def __call__(self, images, labels):
        return augment_pipeline(images, labels, strength=self.strength, **self.pipeline_args)

    @property
    def p(self):
        return float(self.strength.numpy())

    def update(self, stats, nimg):
        """Adjust p from the reported 'Loss/signs/real' (sum, count) after `nimg` more real images."""
        total, count = stats.get("Loss/signs/real", (0.0, 0.0))
        if count <= 0:
            return
        self.rt = float(total) / float(count)
        if self.target is not None:
            step = nimg / (self.ada_kimg * 1000.0) * np.sign(self.rt - self.target)
            self.strength.assign(max(self.p + step, 0.0))

    def progress(self):
        """Scalars for the tick line and TensorBoard (the official 'Progress/augment')."""
        values = {"Progress/augment": self.p}
        if self.rt is not None:
            values["Progress/augment_rt"] = self.rt
        return values

    def get_state(self):
        return dict(p=self.p, rt=self.rt)

    def set_state(self, state):
        self.strength.assign(float(state["p"]))
        self.rt = state.get("rt")
