"""The StyleGAN2 projector's method (Karras et al. 2020, section 5) as a library function: find the w (and
noise maps) that reproduce target images. `projector.py` is its command line (and re-exports these names);
`explore.py`'s page projects uploads with it. The distance network (LPIPS) is passed in, so this floor
never imports `metrics`: `projector.load_lpips` loads it. See projector.py's docstring for the method.
"""

import numpy as np

LPIPS_RESOLUTION = 256    # images larger than this are box-downsampled to it before LPIPS (as the official projector)


def w_stats(Gs, num_samples=10000, seed=123, minibatch_size=1000):
    """(mean w [dlatent_size], std): the mean of w over `num_samples` random z and the root-mean-square
    distance of those w to it (the scale of the noise added to w). A conditional generator gets a one-hot
    class drawn uniformly per sample (after the z, from the same seeded generator), so that the mean is
    that of the w it was trained to draw; all-zero labels, an input it never saw, would shift it."""
    from stylegan_tf import api
    rnd = np.random.RandomState(seed)
    z = rnd.randn(num_samples, Gs.input_shape[1]).astype(np.float32)
    labels = api.random_labels(Gs, num_samples, rnd) if api.label_size(Gs) else None  # unconditional: none drawn
    w = api.map_latents(Gs, z, labels, minibatch_size=minibatch_size)[:, 0].astype(np.float64)
    avg = w.mean(axis=0)
    std = np.sqrt(np.sum((w - avg) ** 2) / num_samples)
    return avg.astype(np.float32), float(std)


def learning_rate(t, initial_learning_rate=0.1, lr_rampdown_length=0.25, lr_rampup_length=0.05):
    """The projector's learning-rate schedule at progress t in [0, 1): linear ramp-up, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / lr_rampdown_length)
    ramp = 0.5 - 0.5 * np.cos(ramp * np.pi)
    ramp = ramp * min(1.0, t / lr_rampup_length)
    return initial_learning_rate * ramp


def noise_regularizer(noise):
    """Per-image multi-scale noise regulariser: at each scale (halving until 8x8), the squared mean
    correlation of every noise map with itself shifted by one pixel, horizontally and vertically. [N]."""
    import tensorflow as tf
    total = 0.0
    for n in noise:
        while True:
            total += tf.square(tf.reduce_mean(n * tf.roll(n, 1, axis=3), axis=[1, 2, 3]))
            total += tf.square(tf.reduce_mean(n * tf.roll(n, 1, axis=2), axis=[1, 2, 3]))
            if n.shape[2] <= 8:
                break
            n = _pool2(n)
    return total


def _pool2(x):
    """2x2 box downsampling of NCHW tensors."""
    import tensorflow as tf
    s = x.shape
    return tf.reduce_mean(tf.reshape(x, [-1, s[1], s[2] // 2, 2, s[3] // 2, 2]), axis=[3, 5])


def _downsample_for_lpips(images):
    """NCHW float images box-downsampled to LPIPS_RESOLUTION when larger (area resampling, as the official
    projector's `F.interpolate(mode='area')` for power-of-two sizes)."""
    while images.shape[2] > LPIPS_RESOLUTION:
        images = _pool2(images)
    return images


def project(Gs, targets, lpips, space="w", num_steps=1000, initial_learning_rate=0.1, initial_noise_factor=0.05,
            lr_rampdown_length=0.25, lr_rampup_length=0.05, noise_ramp_length=0.75, regularize_noise_weight=1e5,
            w_avg_samples=10000, seed=0, callback=None, optimize_noise=True):
    """Find w (and noise maps) reproducing `targets`, uint8 [N, H, W, C] at the generator's resolution.

    `lpips(img0, img1)` is a distance on float NCHW images in [0, 255] returning [N] (`load_lpips`).
    `space`: 'w' (one w per target, broadcast to every layer) or 'w+' (one w per layer).
    `callback(step, images)`, if given, sees uint8 [N, H, W, C] images of every step's w (before the update).
    `optimize_noise=False` (ours): keep the network's stored noise maps fixed instead of optimising random
    ones, so w alone must explain the target and `generate.py --w ... --noise_mode const` redraws the result.
    Returns a dict: `w` float32 [N, num_layers, dlatent_size], `noise` (list of [N, 1, res, res]),
    `images` uint8 [N, H, W, C] of the result, `lpips` [N] its distance to the targets, `losses` [num_steps]."""
    import tensorflow as tf
    from stylegan_tf import api
    if space not in ("w", "w+"):
        raise ValueError("space must be 'w' or 'w+', got %r" % (space,))
    res, channels = api.resolution(Gs), Gs.output_shape[1]
    targets = np.asarray(targets)
    if targets.ndim != 4 or targets.shape[1:] != (res, res, channels) or targets.dtype != np.uint8:
        raise ValueError("targets must be uint8 [N, %d, %d, %d], got %s %s" % (res, res, channels, targets.dtype,
                                                                           list(targets.shape)))
    num, num_layers = targets.shape[0], api.num_layers(Gs)
    syn = Gs.components.synthesis
    rnd = np.random.RandomState(seed)
    w_avg, w_std = w_stats(Gs, w_avg_samples)

    target_images = _downsample_for_lpips(tf.constant(targets.transpose(0, 3, 1, 2).astype(np.float32)))
    w_opt = tf.Variable(np.tile(w_avg[None, None], [num, num_layers if space == "w+" else 1, 1]), name="w_opt")
    if optimize_noise:
        noise = [tf.Variable(rnd.standard_normal((num,) + shape[1:]).astype(np.float32), name="noise%d" % i)
                 for i, shape in enumerate(api.noise_shapes(Gs))]
    else:
        noise = [tf.constant(np.repeat(np.asarray(n, np.float32), num, axis=0)) for n in api.get_noise(Gs)]
    trained_noise = noise if optimize_noise else []
    params = [w_opt] + trained_noise
    adam_m = [tf.Variable(tf.zeros_like(p)) for p in params]
    adam_v = [tf.Variable(tf.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def synthesize(w):
        ws = tf.broadcast_to(w, [num, num_layers, w.shape[2]])
        images = syn.get_output_for(ws, noise_inputs=noise)
        return (tf.cast(images, tf.float32) + 1) * 127.5   # [-1, 1] -> [0, 255]

    @tf.function
    def step(lr, w_noise_scale, w_noise, step_idx):
        with tf.GradientTape() as tape:
            synth = synthesize(w_opt + w_noise * w_noise_scale)
            dist = lpips(target_images, _downsample_for_lpips(synth))
            loss = tf.reduce_sum(dist)
            if optimize_noise:
                loss += regularize_noise_weight * tf.reduce_sum(noise_regularizer(noise))
        grads = tape.gradient(loss, params)
        t = tf.cast(step_idx + 1, tf.float32)
        for p, g, m, v in zip(params, grads, adam_m, adam_v):   # Adam (Kingma & Ba), bias-corrected
            m.assign(beta1 * m + (1 - beta1) * g)
            v.assign(beta2 * v + (1 - beta2) * tf.square(g))
            m_hat = m / (1 - beta1 ** t)
            v_hat = v / (1 - beta2 ** t)
            p.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))
        for n in trained_noise:   # renormalise every optimised noise map to zero mean, unit variance
            n.assign(n - tf.reduce_mean(n, axis=[1, 2, 3], keepdims=True))
            n.assign(n * tf.math.rsqrt(tf.reduce_mean(tf.square(n), axis=[1, 2, 3], keepdims=True)))
        return loss, synth

    def to_uint8(synth):
        return np.clip(np.rint(synth.numpy()), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)

    losses = []
    for i in range(num_steps):
        t = i / num_steps
        w_noise_scale = w_std * initial_noise_factor * max(0.0, 1.0 - t / noise_ramp_length) ** 2
        lr = learning_rate(t, initial_learning_rate, lr_rampdown_length, lr_rampup_length)
        w_noise = rnd.standard_normal(w_opt.shape).astype(np.float32)
        loss, synth = step(tf.constant(lr, tf.float32), tf.constant(w_noise_scale, tf.float32), tf.constant(w_noise),
                           tf.constant(i))
        losses.append(float(loss))
        if callback is not None:
            callback(i, to_uint8(synth))

    final = synthesize(w_opt)
    dist = lpips(target_images, _downsample_for_lpips(final)).numpy()
    w = np.broadcast_to(w_opt.numpy(), [num, num_layers, w_opt.shape[2]]).astype(np.float32)
    return dict(w=w, noise=[np.array(n) for n in noise], images=to_uint8(final), lpips=dist,
                losses=np.asarray(losses, np.float32))


def psnr(a, b):
    """Peak signal-to-noise ratio (dB) of uint8 images, per image."""
    err = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(255.0 ** 2 / np.maximum(err, 1e-10))
