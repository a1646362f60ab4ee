"""Images, style-mixing grids and interpolation videos from a trained StyleGAN generator.

    python generate.py --network network-final.pkl --seeds 0-9,42 --trunc 0.7 --outdir out
    python generate.py --network my.pkl --seeds 1-4 --styles coarse --row_seeds 10-12 --outdir out
    python generate.py --network my.pkl --w out/projected_w.npz --outdir out
    python generate.py --network my.pkl --video --seeds 0-7 --frames 120 --outdir out
    python generate.py --network my.pkl --seeds 0-3 --direction directions/smiling.npy --strength -3,0,3 --outdir out

Images: one PNG per seed (`seed0042.png`), or per row of a `--z` / `--w` file (`z0000.png`, `w0000.png`);
`--grid 1` also writes them as one `grid.png`, `--upscale N` enlarges everything N times (for 16x16 networks).
The latent of seed s is `RandomState(s).randn(latent_size)`; w is truncated towards the average w with
`--trunc` on the layers below `--trunc_cutoff`. The same seed gives the same image whatever the batch.

Noise (`--noise_mode`): `const` is the network's stored noise variables `G_synthesis/noise0..` (the
official `randomize_noise=False`: fixed at training time, the same for every image); `random` is fresh
standard-normal noise drawn with NumPy from `RandomState([seed, 0x5eed])` (seed = the row index for
`--z` / `--w`), so it is reproducible and equals pretrained_example.py's `--noise seeded`; `none` is zero
noise. See docs/editing.md.

Editing (`--direction`): w + strength * direction for each `--strength` (after truncation, on `--edit_layers`);
images `seed0042-<direction>+1.5.png`, and with several strengths a grid `edit-<direction>.png` (a row per
latent, a column per strength). Directions come from `run_metrics.py --metrics ls --directions DIR`.
"""

import os

import click
import numpy as np

from dnnlib import cli
from stylegan_tf import cli as tool
from stylegan_tf.video import VideoWriter, video_encoder_available, write_video  # noqa: F401 (also for projector.py)

NOISE_MODES = ("const", "random", "none")
NOISE_SEED_SALT = 0x5eed   # RandomState([seed, salt]) draws a seed's noise (as pretrained_example.py)
TRUNC_RANGE = (-2.0, 2.0)
DEFAULT_STRENGTHS = (-3, -2, -1, 0, 1, 2, 3)   # --strength: InterFaceGAN's range, unit steps


# ----------------------------------------------------------------------------
# Labels and latents from the command line.




def load_latents_file(flag, path, Gs):
    """z [N, latent_size] (`--z`, key 'z') or w [N, num_layers, dlatent_size] (`--w`, key 'w'; [N, dlatent_size]
    is broadcast to every layer) from an .npz file, checked against the network."""
    from stylegan_tf import api
    key = flag.lstrip("-")
    try:
        with np.load(path, allow_pickle=False) as data:
            if key not in data.files:
                raise click.BadParameter("%s has no array %r (it has: %s)" % (path, key, ", ".join(data.files) or
                                                                             "nothing"), param_hint=flag)
            arr = np.asarray(data[key])
    except (OSError, ValueError, EOFError) as e:
        raise click.BadParameter("%s is not a readable .npz file (%s)" % (path, str(e).splitlines()[0] if str(e)
                                                                          else type(e).__name__), param_hint=flag)
    if not np.issubdtype(arr.dtype, np.floating):
        raise click.BadParameter("%s: %r has dtype %s, expected floats" % (path, key, arr.dtype), param_hint=flag)
    if key == "z":
        expected = [(Gs.input_shape[1],)]
    else:
        expected = [(api.num_layers(Gs), Gs.components.synthesis.input_shape[2]),
                    (Gs.components.synthesis.input_shape[2],)]
    if arr.ndim < 2 or arr.shape[0] == 0 or tuple(arr.shape[1:]) not in expected:
        raise click.BadParameter("%s: %r has shape %s, expected [N, %s] for this network"
                                 % (path, key, list(arr.shape), " or [N, ".join(
                                     ", ".join(map(str, e)) + "]" for e in expected)[:-1]), param_hint=flag)
    if not np.all(np.isfinite(arr)):
        raise click.BadParameter("%s: %r holds NaN or infinite values" % (path, key), param_hint=flag)
    arr = arr.astype(np.float32)
    if key == "w" and arr.ndim == 2:
        arr = np.repeat(arr[:, np.newaxis], api.num_layers(Gs), axis=1)
    return arr


# ----------------------------------------------------------------------------
# Generation (Python API: every function takes Gs and NumPy arrays).


def seed_noise(Gs, seed):
    """The `random` noise of one seed: standard normal per pixel and layer from RandomState([seed, 0x5eed])."""
    from stylegan_tf import api
    return api.random_noise(Gs, np.random.RandomState([int(seed), NOISE_SEED_SALT]))


def dlatents_for_seeds(Gs, seeds, trunc=1.0, trunc_cutoff=None, labels=None, minibatch_size=8):
    """w [len(seeds), num_layers, dlatent_size] of the seeds' latents, truncated (psi `trunc` on layers
    below `trunc_cutoff`; None = all layers)."""
    from stylegan_tf import api
    z = api.latents_from_seeds(Gs, seeds)
    if labels is not None:
        labels = np.repeat(labels, len(seeds), axis=0)
    w = api.map_latents(Gs, z, labels, minibatch_size=minibatch_size)
    return truncate(Gs, w, trunc, trunc_cutoff)


def truncate(Gs, w, trunc, trunc_cutoff):
    from stylegan_tf import api
    if trunc is None or trunc == 1:
        return w
    return api.truncate(w, api.dlatent_avg(Gs), trunc, trunc_cutoff)


def render(Gs, w, noise_mode="const", noise_seeds=None, minibatch_size=8, progress=None):
    """uint8 [N, H, W, C] images of w. `noise_mode`: 'const' (stored noise), 'none' (zero) or 'random'
    (noise of `noise_seeds[i]` for image i, see `seed_noise`)."""
    from stylegan_tf import api
    if noise_mode not in NOISE_MODES:
        raise ValueError("noise_mode must be one of %s, got %r" % (", ".join(NOISE_MODES), noise_mode))
    if noise_mode != "random":
        return api.synthesize(Gs, w, noise="stored" if noise_mode == "const" else "zero",
                              minibatch_size=minibatch_size, progress=progress)
    if noise_seeds is None or len(noise_seeds) != len(w):
        raise ValueError("noise_mode 'random' needs one noise seed per image")
    images = []
    for i, seed in enumerate(noise_seeds):  # the noise variables are shared by a minibatch: one image at a time
        images.append(api.synthesize(Gs, w[i:i + 1], noise=seed_noise(Gs, seed)))
        if progress is not None:
            progress(i + 1)
    return np.concatenate(images) if images else api.synthesize(Gs, w)


def style_mixing_grid(Gs, col_seeds, row_seeds, row_layers, trunc=1.0, trunc_cutoff=None, labels=None,
                      noise_mode="const", minibatch_size=8, progress=None):
    """Figure 3 layout as a PIL image: column seeds across the top, row seeds down the left, cell (r, c) =
    row seed r with the styles of layers `row_layers[r]` taken from column seed c."""
    from stylegan_tf import api
    from stylegan_tf.images import style_mixing_canvas
    col_w = dlatents_for_seeds(Gs, col_seeds, trunc, trunc_cutoff, labels, minibatch_size)
    row_w = dlatents_for_seeds(Gs, row_seeds, trunc, trunc_cutoff, labels, minibatch_size)
    mixed = [api.mix_styles(np.repeat(row_w[r:r + 1], len(col_seeds), axis=0), col_w, row_layers[r])
             for r in range(len(row_seeds))]
    all_w = np.concatenate([col_w, row_w] + mixed)
    # Each cell keeps the noise of its row seed (the image whose coarse structure it shows).
    noise_seeds = list(col_seeds) + list(row_seeds) + [s for s in row_seeds for _ in col_seeds]
    images = render(Gs, all_w, noise_mode, noise_seeds, minibatch_size, progress)
    return style_mixing_canvas(images, len(col_seeds), len(row_seeds))


def edit_grid(images, num_rows):
    """uint8 [rows * cols, H, W, C] images (row-major) as one PIL image, `num_rows` rows."""
    from stylegan_tf import images as image_utils
    cols = len(images) // num_rows
    grid = image_utils.create_image_grid(np.transpose(images, [0, 3, 1, 2]), (cols, num_rows))
    return image_utils.to_pil(np.transpose(grid, [1, 2, 0]))


def edited_dlatents(w, direction, strengths, layers=None):
    """[len(w) * len(strengths), num_layers, D]: each w moved by each strength along `direction`, row-major
    (all strengths of w[0] first)."""
    from stylegan_tf import directions
    edits = np.stack([directions.apply_direction(w, direction, s, layers) for s in strengths], axis=1)
    return edits.reshape((-1,) + w.shape[1:])


# ----------------------------------------------------------------------------
# Interpolation videos.


def slerp(a, b, t):
    """Spherical interpolation between the rows of `a` and `b` (t in [0, 1]): the path keeps the norm of
    Gaussian latents (a lerp passes through short, atypical vectors)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na = a / np.linalg.norm(a, axis=-1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(na * nb, axis=-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(so > 1e-6, (np.sin((1 - t) * omega) / so) * a + (np.sin(t * omega) / so) * b,
                       (1 - t) * a + t * b)
    return out.astype(np.float32)


def interpolation_dlatents(Gs, seeds, frames, space="w", trunc=1.0, trunc_cutoff=None, labels=None,
                           minibatch_size=8):
    """w of `frames` frames visiting the seeds in order and returning to the first (a seamless loop):
    slerp between the seeds' z (`space='z'`), or lerp between their w (`space='w'`). Truncation last."""
    from stylegan_tf import api
    if len(seeds) < 2:
        raise ValueError("an interpolation needs at least two seeds, got %d" % len(seeds))
    if frames < len(seeds):
        raise ValueError("%d frames cannot visit %d seeds" % (frames, len(seeds)))
    pos = np.arange(frames) * len(seeds) / frames
    seg = np.floor(pos).astype(int)
    frac = (pos - seg)[:, np.newaxis].astype(np.float32)
    nxt = (seg + 1) % len(seeds)
    z = api.latents_from_seeds(Gs, seeds)
    lab = None if labels is None else np.repeat(labels, frames, axis=0)
    if space == "z":
        w = api.map_latents(Gs, slerp(z[seg], z[nxt], frac), lab, minibatch_size=minibatch_size)
    elif space == "w":
        key_w = api.map_latents(Gs, z, None if labels is None else np.repeat(labels, len(seeds), axis=0),
                                minibatch_size=minibatch_size)
        w = key_w[seg] + (key_w[nxt] - key_w[seg]) * frac[:, :, np.newaxis]
    else:
        raise ValueError("space must be 'z' or 'w', got %r" % (space,))
    return truncate(Gs, w.astype(np.float32), trunc, trunc_cutoff)


def video_frames(Gs, w, noise_mode="const", noise_seed=0, minibatch_size=8, progress=None):
    """uint8 frames of w, synthesised a minibatch at a time, with the same noise in every frame (stored,
    zero, or the `random` noise of `noise_seed`) so that the frames do not flicker."""
    from stylegan_tf import api
    noise = {"const": "stored", "none": "zero"}.get(noise_mode) or seed_noise(Gs, noise_seed)
    for begin in range(0, len(w), minibatch_size):
        images = api.synthesize(Gs, w[begin:begin + minibatch_size], noise=noise, minibatch_size=minibatch_size)
        if progress is not None:
            progress(min(begin + minibatch_size, len(w)))
        yield from images


# ----------------------------------------------------------------------------
# Command line.


def _trunc_value(ctx, param, value):
    if value is not None and not TRUNC_RANGE[0] <= value <= TRUNC_RANGE[1]:
        raise click.BadParameter("%g is outside the sane range [%g, %g]" % (value, *TRUNC_RANGE))
    return value


def parse_strengths(text):
    """'-3,0,3' or a range in unit steps '-3..3' (= -3,-2,...,3; parts may be mixed) -> list of floats.
    Raises ValueError."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if ".." in part:
            lo, hi = (float(v) for v in part.split("..", 1))
            if not hi >= lo:
                raise ValueError("range %r runs backwards" % part)
            out.extend(float(lo + i) for i in range(int(np.floor(hi - lo + 1e-9)) + 1))
        else:
            out.append(float(part))
    if not out or not all(np.isfinite(out)):
        raise ValueError("expected finite numbers")
    return out


def _strengths(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_strengths(value)
    except ValueError as e:
        raise click.BadParameter("cannot parse %r: %s (expected e.g. -3,0,3 or -3..3)" % (value, e)) from None


def _edit_layers(Gs, text):
    from stylegan_tf import api
    if text is None:
        return None
    try:
        rows = tool.parse_style_rows(text, api.num_layers(Gs))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--edit_layers") from None
    return sorted(set(i for row in rows for i in row))


def _style_rows(Gs, text, num_rows):
    from stylegan_tf import api
    n = api.num_layers(Gs)
    try:
        rows = tool.parse_style_rows(text, n) if text != "paper" else tool.parse_style_rows(
            ",".join(tool.default_style_rows(num_rows)), n)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--styles") from None
    if len(rows) == 1:
        rows = rows * num_rows
    if len(rows) != num_rows:
        raise click.BadParameter("%d layer ranges for %d --row_seeds (give one, or one per row)"
                                 % (len(rows), num_rows), param_hint="--styles")
    return rows


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", "network", required=True, metavar="PKL|URL|RUN_DIR",
              help="Generator pickle (path or URL), or a run directory (its latest snapshot).")
@click.option("--seeds", type=tool.SEEDS, default=None, help="Latent seeds, e.g. 0-9,42 (images, style-mixing "
              "columns, or the key frames of --video).")
@click.option("--z", "z_file", default=None, metavar="NPZ", help="Latents z from an .npz file (array 'z', [N, "
              "latent_size]) instead of --seeds.")
@click.option("--w", "w_file", default=None, metavar="NPZ", help="Dlatents w from an .npz file (array 'w', [N, "
              "num_layers, dlatent_size], e.g. projector.py's projected_w.npz) instead of --seeds.")
@click.option("--trunc", type=float, default=1.0, show_default=True, callback=_trunc_value,
              help="Truncation psi (1 = none).")
@click.option("--trunc_cutoff", type=click.IntRange(min=0), default=None,
              help="Truncate only the layers below this index (default: every layer).")
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None,
              help="Class index of a conditional generator.")
@click.option("--noise_mode", type=click.Choice(NOISE_MODES), default="const", show_default=True,
              help="const: the network's stored noise; random: drawn from each seed; none: zero.")
@click.option("--styles", default=None, metavar="LAYERS", help="Style-mixing grid: layers taken from the "
              "--seeds columns into the --row_seeds rows: coarse, middle, fine, first-last (0-3) or 'paper'; "
              "one range, or one per row (comma-separated).")
@click.option("--row_seeds", type=tool.SEEDS, default=None, help="Rows of the --styles grid.")
@cli.bool_option("--video", help="Interpolation video through --seeds (and back to the first).")
@click.option("--frames", type=click.IntRange(min=2), default=120, show_default=True,
              help="Video frames in total.")
@click.option("--fps", type=click.IntRange(min=1, max=120), default=30, show_default=True, help="Video frame rate.")
@click.option("--interp", type=click.Choice(["w", "z"]), default="w", show_default=True,
              help="Video path: lerp between the seeds' w, or slerp between their z.")
@click.option("--video_format", type=click.Choice(["auto", "mp4", "gif"]), default="auto", show_default=True,
              help="auto: MP4 if imageio-ffmpeg is installed, else GIF.")
@click.option("--direction", default=None, metavar="NPY", help="Editing direction in W (.npy, [dlatent_size] or "
              "[num_layers, dlatent_size]; run_metrics.py --directions writes them): images w + strength * "
              "direction.")
@click.option("--strength", "strengths", default=None, callback=_strengths, metavar="LIST",
              help="With --direction: strengths along the direction, comma-separated, or a range in unit steps "
              "(-3..3)  [default: "
              "%s]" % ",".join("%g" % s for s in DEFAULT_STRENGTHS))
@click.option("--edit_layers", default=None, metavar="LAYERS", help="With --direction: edit only these layers "
              "(coarse, middle, fine or first-last, comma-separated); default: all.")
@cli.bool_option("--grid", help="Also write grid.png: the images in one picture (near-square, row-major).")
@click.option("--upscale", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Enlarge every image, grid and video frame N times (nearest neighbour: for tiny networks).")
@click.option("--outdir", default="out", show_default=True, help="Output directory.")
@click.option("--batch", "minibatch_size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Images per synthesis run.")
@click.option("--cache_dir", default=None, help="Download cache for URLs (default: $STYLEGAN_CACHE_DIR or "
              "~/.cache/stylegan_tf).")
@cli.verbose_option
def command(network, seeds, z_file, w_file, trunc, trunc_cutoff, class_idx, noise_mode, styles, row_seeds, video,
            frames, fps, interp, video_format, direction, strengths, edit_layers, grid, upscale, outdir, minibatch_size,
            cache_dir):
    sources = [name for name, value in (("--seeds", seeds), ("--z", z_file), ("--w", w_file)) if value is not None]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --seeds, --z, --w" + (" (got %s)" % ", ".join(sources)
                                                                             if sources else ""))
    if (styles is None) != (row_seeds is None):
        raise click.UsageError("--styles and --row_seeds go together")
    if styles is not None and video:
        raise click.UsageError("--styles and --video are different outputs: give one")
    if (styles is not None or video) and seeds is None:
        raise click.UsageError("%s needs --seeds" % ("--styles" if styles is not None else "--video"))
    if direction is not None and (styles is not None or video):
        raise click.UsageError("--direction edits single images: not with %s" % ("--styles" if styles else "--video"))
    if direction is None:
        for flag, given in (("--edit_layers", edit_layers), ("--strength", strengths)):
            if given is not None:
                raise click.UsageError("%s goes with --direction" % flag)
    strengths = strengths or DEFAULT_STRENGTHS
    if direction is not None and not os.path.isfile(direction):
        raise click.BadParameter("%s: no such file" % direction, param_hint="--direction")
    if video and len(seeds) < 2:
        raise click.BadParameter("an interpolation video needs at least two seeds", param_hint="--seeds")
    if video and frames < len(seeds):
        raise click.BadParameter("%d frames cannot visit %d seeds" % (frames, len(seeds)), param_hint="--frames")
    if video and video_format == "mp4" and not video_encoder_available():
        raise click.BadParameter("mp4 needs imageio and imageio-ffmpeg (pip install 'stylegan-tf[video]')",
                                 param_hint="--video_format")
    tool.check_network_arg("--network", network)
    for flag, path in (("--z", z_file), ("--w", w_file)):
        if path is not None and not os.path.isfile(path):
            raise click.BadParameter("%s: no such file" % path, param_hint=flag)
    tool.check_outdir("--outdir", outdir)

    cli.import_tensorflow()
    from stylegan_tf import api
    Gs = tool.load_generator("--network", network, cache_dir)
    if w_file is not None and class_idx is not None:
        raise click.BadParameter("not used with --w (the mapping network, which takes the class, is skipped)",
                                 param_hint="--class")
    labels = tool.labels_for(Gs, class_idx) if w_file is None else None
    if trunc_cutoff is not None and trunc_cutoff > api.num_layers(Gs):
        raise click.BadParameter("%d exceeds the network's %d layers" % (trunc_cutoff, api.num_layers(Gs)),
                                 param_hint="--trunc_cutoff")

    w_input = load_latents_file("--w", w_file, Gs) if w_file is not None else None
    z_input = load_latents_file("--z", z_file, Gs) if z_file is not None else None
    rows = _style_rows(Gs, styles, len(row_seeds)) if styles is not None else None
    if direction is not None:
        from stylegan_tf import directions
        try:
            edit = directions.load_direction(direction, api.num_layers(Gs), Gs.components.synthesis.input_shape[2])
        except directions.DirectionError as e:
            raise click.BadParameter(str(e), param_hint="--direction") from None
        layers = _edit_layers(Gs, edit_layers)
    tool.make_outdir("--outdir", outdir)

    if video:
        w = interpolation_dlatents(Gs, seeds, frames, interp, trunc, trunc_cutoff, labels, minibatch_size)
        progress = api.Progress(frames, label="frames")
        path = write_video((enlarge(f, upscale) for f in video_frames(Gs, w, noise_mode, seeds[0], minibatch_size,
                                                                       progress.update)),
                           os.path.join(outdir, "video"), fps=fps, fmt=video_format)
        click.echo("Wrote %s (%d frames, %d fps, %s interpolation)" % (path, frames, fps,
                                                                       "w lerp" if interp == "w" else "z slerp"))
        return

    if styles is not None:
        total = len(seeds) + len(row_seeds) * (len(seeds) + 1)
        progress = api.Progress(total)
        grid = style_mixing_grid(Gs, seeds, row_seeds, rows, trunc, trunc_cutoff, labels, noise_mode,
                                 minibatch_size, progress.update)
        path = os.path.join(outdir, "stylemix.png")
        api.save_image(enlarge(grid, upscale), path)
        click.echo("Wrote %s (%d columns x %d rows)" % (path, len(seeds), len(row_seeds)))
        return

    if seeds is not None:
        w = dlatents_for_seeds(Gs, seeds, trunc, trunc_cutoff, labels, minibatch_size)
        names = ["seed%04d.png" % s for s in seeds]
        noise_seeds = list(seeds)
    else:
        if z_file is not None:
            lab = None if labels is None else np.repeat(labels, len(z_input), axis=0)
            w = truncate(Gs, api.map_latents(Gs, z_input, lab, minibatch_size=minibatch_size), trunc, trunc_cutoff)
            prefix = "z"
        else:
            w = truncate(Gs, w_input, trunc, trunc_cutoff)
            prefix = "w"
        names = ["%s%04d.png" % (prefix, i) for i in range(len(w))]
        noise_seeds = list(range(len(w)))
    if direction is not None:
        stem = os.path.splitext(os.path.basename(direction))[0]
        num_rows = len(w)
        w = edited_dlatents(w, edit, strengths, layers)
        names = ["%s-%s%+g.png" % (name[:-4], stem, s) for name in names for s in strengths]
        noise_seeds = [n for n in noise_seeds for _ in strengths]  # an edit keeps its image's noise
    progress = api.Progress(len(w))
    images = render(Gs, w, noise_mode, noise_seeds, minibatch_size, progress.update)
    for name, image in zip(names, images):
        api.save_image(enlarge(image, upscale), os.path.join(outdir, name))
    click.echo("Wrote %d image%s to %s" % (len(names), "" if len(names) == 1 else "s", outdir))
    if grid:
        from stylegan_tf.images import create_image_grid
        path = os.path.join(outdir, "grid.png")
        api.save_image(enlarge(create_image_grid(images.transpose(0, 3, 1, 2)).transpose(1, 2, 0), upscale), path)
        click.echo("Wrote %s" % path)
    if direction is not None and len(strengths) > 1:
        path = os.path.join(outdir, "edit-%s.png" % stem)
        api.save_image(enlarge(edit_grid(images, num_rows), upscale), path)
        click.echo("Wrote %s (%d rows x strengths %s)" % (path, num_rows, ", ".join("%g" % s for s in strengths)))


def enlarge(image, factor):
    """uint8 [H, W, C] image `factor` times larger, nearest neighbour (pixels stay pixels)."""
    if factor == 1:
        return image
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


ERROR_TYPES = (ValueError, RuntimeError, OSError)  # DirectionError is a ValueError
cli.with_error_types(command, ERROR_TYPES)  # one line under `stylegan-tf generate` too


def main(argv=None):
    cli.main(command, argv, prog_name="generate.py")


if __name__ == "__main__":
    main()
