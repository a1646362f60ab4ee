"""Project images into the latent space of a trained StyleGAN generator (find the w that reproduces them).

    python projector.py --network my.pkl --target face.png --outdir out
    python projector.py --network my.pkl --target a.png --target b.png --space w+ \\
        --num_steps 500 --save_video 1 --outdir out

The method of the StyleGAN2 projector (Karras et al. 2020, section 5): minimise the LPIPS distance between
the target and the generated image (both box-downsampled to 256x256 when larger) with Adam, starting from
the mean w; Gaussian noise of decaying strength is added to w during the first three quarters of the steps;
the per-pixel noise maps of every layer are optimised too, under a multi-scale regulariser that penalises
their spatial autocorrelation, and renormalised to zero mean and unit variance after each step. The
learning rate ramps up over the first 5% of the steps and down (cosine) over the last 25%.

`--space w` optimises one w broadcast to every layer (W); `--space w+` one w per layer (W+: closer fits,
less editable latents). Several `--target`s are projected together, each with its own w and noise maps.

Outputs in --outdir: `target.png` (the targets as projected, side by side), `proj.png` (the projections),
`projected_w.npz` (`w` [N, num_layers, dlatent_size], loadable by `generate.py --w`, and the optimised
noise maps `noise0`.. [N, 1, res, res]), and with `--save_video 1` `proj.mp4` (GIF without imageio-ffmpeg):
target and projection side by side, one frame per step. LPIPS: NVIDIA's `vgg16_zhang_perceptual.pkl` (the
network the official PPL uses), downloaded once into the cache; `--lpips` takes another copy or format
(docs/metrics.md). See docs/editing.md.
"""

import os

import click
import numpy as np

import dnnlib
from dnnlib import cli
from stylegan_tf import cli as tool
from stylegan_tf.video import VideoWriter

LPIPS_RESOLUTION = 256    # images larger than this are box-downsampled to it before LPIPS (as the official projector)


# ----------------------------------------------------------------------------
# Python API.


def lpips_error(lpips_path, cache_dir, error):
    """The one-line error of a failed --lpips; for a URL not in the cache (offline), which file to fetch
    and where to put it."""
    missing = [url for url in lpips_path.split(",") if dnnlib.util.is_url(url) and not url.startswith("file://")
               and not os.path.isfile(dnnlib.util.cached_download_path(url, cache_dir))]
    if missing:
        return ("--lpips: cannot download %s; without internet, fetch it elsewhere and put it at %s (or give "
                "--lpips PATH)" % (missing[0], dnnlib.util.cached_download_path(missing[0], cache_dir)))
    return "--lpips %s" % (str(error).splitlines()[0] if str(error) else type(error).__name__)


def load_lpips(path_or_url=tool.LPIPS_PKL_URL, cache_dir=None):
    """The LPIPS-VGG16 distance network of `metrics.feature_nets` (the one call site of its loader); by
    default NVIDIA's vgg16_zhang_perceptual.pkl through the download cache."""
    from metrics import feature_nets
    return feature_nets.load_lpips(path_or_url, cache_dir=cache_dir)


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


# ----------------------------------------------------------------------------
# Command line.


def load_target(path, res, channels, resize=False):
    """A target image as uint8 [res, res, channels]. Grey ('L') for 1-channel generators, 'RGB' for
    3-channel ones; other modes and sizes are refused unless `resize` (centre crop to a square, Lanczos
    resize, conversion of the mode)."""
    import PIL.Image
    flag = "--target"
    want = "L" if channels == 1 else "RGB"
    try:
        with PIL.Image.open(path) as img:
            img.load()
            image = img.copy()
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise click.BadParameter("%s is not a readable image (%s)" % (path, str(e).splitlines()[0] if str(e)
                                                                      else type(e).__name__), param_hint=flag)
    if image.mode != want:
        if not resize:
            raise click.BadParameter("%s is a %s image, the generator makes %s (%d channel%s); convert it or give "
                                     "--resize 1" % (path, image.mode, want, channels, "" if channels == 1 else "s"),
                                     param_hint=flag)
        image = image.convert(want)
    if image.size != (res, res):
        if not resize:
            raise click.BadParameter("%s is %dx%d, the generator makes %dx%d; resize it or give --resize 1 (centre "
                                     "crop + Lanczos)" % (path, image.size[0], image.size[1], res, res),
                                     param_hint=flag)
        w, h = image.size
        s = min(w, h)
        image = image.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        image = image.resize((res, res), PIL.Image.Resampling.LANCZOS)
    arr = np.asarray(image, np.uint8)
    return arr[:, :, np.newaxis] if arr.ndim == 2 else arr


def side_by_side(images):
    """uint8 [N, H, W, C] -> one [H, N * W, C] image."""
    return np.concatenate(list(images), axis=1)


def save_npz_atomic(path, **arrays):
    """np.savez through dnnlib.util.atomic_write: a temp file beside `path`, renamed over it when complete."""
    with dnnlib.util.atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", required=True, metavar="PKL|URL|RUN_DIR",
              help="Generator pickle (path or URL), or a run directory (its latest snapshot).")
@click.option("--target", "targets", required=True, multiple=True, metavar="IMG",
              help="Image to project (repeat for several, projected together).")
@click.option("--lpips", "lpips_path", default=tool.LPIPS_PKL_URL, metavar="PKL|NPZ|URL",
              help="LPIPS-VGG16 weights, path or URL: NVIDIA's vgg16_zhang_perceptual.pkl (default: downloaded once "
              "into --cache_dir), the lpips package's vgg.pth,vgg16-397923af.pth, or an .npz of convert_lpips.")
@click.option("--space", type=click.Choice(["w", "w+"]), default="w", show_default=True,
              help="w: one w for every layer; w+: one w per layer.")
@click.option("--num_steps", type=click.IntRange(min=1), default=1000, show_default=True, help="Optimisation steps.")
@cli.bool_option("--save_video", help="Also write proj.mp4 (GIF without imageio-ffmpeg): target | projection "
                 "at every step.")
@cli.bool_option("--resize", help="Centre-crop and resize targets of another size or mode (else an error).")
@cli.bool_option("--optimize_noise", default=True, help="Optimise the noise maps too (the StyleGAN2 projector); "
                 "0: keep the network's stored noise, so that generate.py --w ... --noise_mode const redraws proj.png.")
@click.option("--seed", type=click.IntRange(min=0, max=2 ** 32 - 1), default=0, show_default=True,
              help="Seed of the initial noise maps and the noise added to w.")
@click.option("--outdir", required=True, help="Output directory.")
@click.option("--cache_dir", default=None, help="Download cache for URLs (default: $STYLEGAN_CACHE_DIR or "
              "~/.cache/stylegan_tf).")
@cli.verbose_option
def command(network, targets, lpips_path, space, num_steps, save_video, resize, optimize_noise, seed, outdir,
            cache_dir):
    tool.check_network_arg("--network", network)
    for path in targets:
        if not os.path.isfile(path):
            raise click.BadParameter("%s: no such file" % path, param_hint="--target")
    for part in lpips_path.split(","):
        if not dnnlib.util.is_url(part, allow_file_urls=True) and not os.path.isfile(part):
            raise click.BadParameter("%s: no such file" % part, param_hint="--lpips")
    tool.check_outdir("--outdir", outdir)

    cli.import_tensorflow()
    from metrics.feature_nets import FeatureNetworkError
    from stylegan_tf import api
    Gs = tool.load_generator("--network", network, cache_dir)
    res, channels = api.resolution(Gs), Gs.output_shape[1]
    target_images = np.stack([load_target(path, res, channels, resize) for path in targets])
    try:
        lpips = load_lpips(lpips_path, cache_dir)
    except (FeatureNetworkError, OSError, ValueError) as e:
        raise cli.CommandError(lpips_error(lpips_path, cache_dir, e)) from e

    tool.make_outdir("--outdir", outdir)
    video = None
    if save_video:
        video = VideoWriter(os.path.join(outdir, "proj"), fps=60)
    progress = api.Progress(num_steps, label="steps")

    def callback(step, images):
        if video is not None:
            video.append(np.concatenate([side_by_side(target_images), side_by_side(images)], axis=0))
        progress.update(step + 1)

    try:
        result = project(Gs, target_images, lpips, space=space, num_steps=num_steps, seed=seed, callback=callback,
                         optimize_noise=optimize_noise)
        video_path = video.close() if video is not None else None
    except BaseException:
        if video is not None:
            video.abort()
        raise
    api.save_image(side_by_side(target_images), os.path.join(outdir, "target.png"))
    api.save_image(side_by_side(result["images"]), os.path.join(outdir, "proj.png"))
    save_npz_atomic(os.path.join(outdir, "projected_w.npz"), w=result["w"],
                    **{"noise%d" % i: n for i, n in enumerate(result["noise"])})
    click.echo("Wrote %s: LPIPS %s, PSNR %s dB%s" % (
        os.path.join(outdir, "proj.png"), ", ".join("%.4f" % d for d in result["lpips"]),
        ", ".join("%.2f" % p for p in psnr(result["images"], target_images)),
        "; video %s" % video_path if video_path else ""))


ERROR_TYPES = (ValueError, RuntimeError, OSError)
cli.with_error_types(command, ERROR_TYPES)  # one line under `stylegan-tf project` too


def main(argv=None):
    cli.main(command, argv, prog_name="projector.py")


if __name__ == "__main__":
    main()
