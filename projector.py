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
from stylegan_tf.projection import (  # noqa: F401  (the Python API of projector.py)
    LPIPS_RESOLUTION, learning_rate, noise_regularizer, project, psnr, w_stats, _downsample_for_lpips, _pool2)
from stylegan_tf.video import VideoWriter


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
