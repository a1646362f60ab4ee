"""Figures of the StyleGAN paper (Karras et al. 2019) from any StyleGAN generator pickle.

    python generate_figures.py all                         # every figure from NVIDIA's pickles (downloaded once)
    python generate_figures.py fig3 --network my.pkl --src_seeds 1-5 --dst_seeds 10-15
    python generate_figures.py fig8 --network my.pkl --seeds 91,388 --psis 1,0.7,0,-0.7

Figures: fig2 / fig10 / fig11 / fig12 (uncurated multi-resolution grids in the FFHQ, bedrooms, cars and
cats layouts), fig3 (style mixing), fig4 (noise detail), fig5 (noise on all / no / fine / coarse layers),
fig8 (truncation sweep). Layouts and crops are defined at the official resolutions and scaled to the
resolution of the given generator. `python generate_figures.py FIGURE --help` lists each figure's flags.
See docs/figures.md.
"""

import os
import sys

import click
import numpy as np

from dnnlib import cli
from stylegan_tf import cli as tool
from stylegan_tf.cli import OFFICIAL_URLS, default_style_rows, parse_style_rows

# Uncurated grids: crop (x, y, w, h) at the layout's own resolution, number of rows of full-size images,
# one column per lod (a column at lod l holds rows * 2**l images shrunk by 2**l), default latent seed.
LAYOUTS = {
    "ffhq": dict(resolution=1024, crop=(0, 0, 1024, 1024), rows=3, lods=(0, 1, 2, 2, 3, 3), seed=5),
    "bedrooms": dict(resolution=256, crop=(0, 0, 256, 256), rows=5, lods=(0, 0, 1, 1, 2, 2, 2), seed=0),
    "cars": dict(resolution=512, crop=(0, 64, 512, 384), rows=4, lods=(0, 1, 2, 2, 3, 3), seed=2),
    "cats": dict(resolution=256, crop=(0, 0, 256, 256), rows=5, lods=(0, 0, 1, 1, 2, 2, 2), seed=1),
}
UNCURATED = {"fig2": ("figure02-uncurated-ffhq.png", "ffhq"), "fig10": ("figure10-uncurated-bedrooms.png", "bedrooms"),
             "fig11": ("figure11-uncurated-cars.png", "cars"), "fig12": ("figure12-uncurated-cats.png", "cats")}
FILENAMES = dict({k: v[0] for k, v in UNCURATED.items()}, fig3="figure03-style-mixing.png",
                 fig4="figure04-noise-detail.png", fig5="figure05-noise-components.png",
                 fig8="figure08-truncation-trick.png")
FIGURE_ORDER = ["fig2", "fig3", "fig4", "fig5", "fig8", "fig10", "fig11", "fig12"]

STYLE_ROW_PATTERN = ["coarse"] * 3 + ["middle"] * 2 + ["fine"]   # rows of the paper's figure 3
NOISE_DETAIL_CROP = (650, 180, 256, 256)                        # at 1024x1024: (x, y, w, h)


# ----------------------------------------------------------------------------
# Figures. Each returns a PIL image; `progress` is an api.Progress (or None).


def _resize(img, size, resample):
    return img.resize(size, resample) if img.size != tuple(size) else img


def uncurated_geometry(res, layout, rows, lods):
    """Scaled crop (x, y, w, h) and canvas size of an uncurated grid at resolution `res`."""
    spec = LAYOUTS[layout]
    scale = res / spec["resolution"]
    cx, cy, cw, ch = [int(round(v * scale)) for v in spec["crop"]]
    for lod in lods:
        if cw >> lod < 1 or ch >> lod < 1:
            raise ValueError("a %dx%d generator is too small for the %s layout at lod %d (tiles of %dx%d pixels)"
                             % (res, res, layout, lod, cw / 2 ** lod, ch / 2 ** lod))
    canvas = (sum(cw >> lod for lod in lods), ch * rows)
    return (cx, cy, cw, ch), canvas


def draw_uncurated(Gs, layout, seed, rows, lods, psi=0.7, cutoff=8, noise="seeded", minibatch_size=8,
                   progress=None, labels=None):
    """Figures 2, 10, 11, 12: one column per lod; images of the same seed's RandomState, truncated with psi on
    layers < cutoff (psi 0.7 on resolutions 4..32 by default, as the official Gs)."""
    import PIL.Image
    from stylegan_tf import api
    res = api.resolution(Gs)
    (cx, cy, cw, ch), canvas_size = uncurated_geometry(res, layout, rows, lods)
    count = sum(rows << lod for lod in lods)
    latents = np.random.RandomState(seed).randn(count, Gs.input_shape[1]).astype(np.float32)
    images = api.generate(Gs, latents, psi, cutoff, noise=_noise(noise, seed), minibatch_size=minibatch_size,
                          progress=progress.update if progress else None, labels=labels)
    canvas = PIL.Image.new("RGB", canvas_size, "white")
    it = iter(images)
    x = 0
    for lod in lods:
        tile = (cw >> lod, ch >> lod)
        for row in range(rows << lod):
            img = api.to_pil(next(it)).crop((cx, cy, cx + cw, cy + ch))
            canvas.paste(_resize(img, tile, PIL.Image.Resampling.LANCZOS), (x, row * tile[1]))
        x += tile[0]
    return canvas


def _noise(mode, seed):
    """Noise for figures that use random noise: 'seeded' (reproducible, drawn from the figure's seed),
    'random' (TensorFlow's RNG, as the official scripts) or 'stored' (the network's noise variables)."""
    if mode == "seeded":
        return np.random.RandomState([seed, 0x5eed])
    return mode


def draw_style_mixing(Gs, src_seeds, dst_seeds, row_layers, minibatch_size=8, progress=None, labels=None):
    """Figure 3: sources across the top, destinations down the left; cell (row, col) = destination `row`
    with the styles of layers `row_layers[row]` taken from source `col`. Stored noise, no truncation."""
    from stylegan_tf import api
    from stylegan_tf.images import style_mixing_canvas
    src_w = api.map_latents(Gs, api.latents_from_seeds(Gs, src_seeds), labels)
    dst_w = api.map_latents(Gs, api.latents_from_seeds(Gs, dst_seeds), labels)
    mixed = [api.mix_styles(np.repeat(dst_w[row:row + 1], len(src_seeds), axis=0), src_w, row_layers[row])
             for row in range(len(dst_seeds))]
    all_w = np.concatenate([src_w, dst_w] + mixed)
    images = api.synthesize(Gs, all_w, noise="stored", minibatch_size=minibatch_size,
                            progress=progress.update if progress else None)
    return style_mixing_canvas(images, len(src_seeds), len(dst_seeds))


def draw_noise_detail(Gs, seeds, num_samples=100, noise="seeded", minibatch_size=8, progress=None, labels=None):
    """Figure 4: per seed, one sample, four close-ups of other noise realisations (2x2, nearest-neighbour
    enlarged) and the per-pixel standard deviation over `num_samples` realisations (x4, grey). No truncation."""
    import PIL.Image
    from stylegan_tf import api
    res = api.resolution(Gs)
    scale = res / 1024
    x0, y0, cw, chh = [int(round(v * scale)) for v in NOISE_DETAIL_CROP]
    cw, chh = max(cw, 1), max(chh, 1)
    half = max(res // 2, 1)
    canvas = PIL.Image.new("RGB", (res * 3, res * len(seeds)), "white")
    done = 0
    for row, seed in enumerate(seeds):
        latents = np.repeat(api.latents_from_seeds(Gs, [seed]), num_samples, axis=0)
        update = (lambda n, base=done: progress.update(base + n)) if progress else None
        images = api.generate(Gs, latents, truncation_psi=None, noise=_noise(noise, seed),
                              minibatch_size=minibatch_size, progress=update, labels=labels)
        done += num_samples
        canvas.paste(api.to_pil(images[0]), (0, row * res))
        for i in range(4):
            crop = api.to_pil(images[i + 1]).crop((x0, y0, x0 + cw, y0 + chh))
            crop = _resize(crop, (half, half), PIL.Image.Resampling.NEAREST)
            canvas.paste(crop, (res + (i % 2) * half, row * res + (i // 2) * half))
        std = np.std(np.mean(images, axis=3), axis=0) * 4
        canvas.paste(PIL.Image.fromarray(np.clip(std + 0.5, 0, 255).astype(np.uint8), "L"), (res * 2, row * res))
    return canvas


def draw_noise_components(Gs, seeds, flips=(1,), minibatch_size=8, progress=None, labels=None):
    """Figure 5: per seed, a 2x2 of half images: noise on all layers | no noise (top), noise on fine layers
    only | coarse layers only (bottom). Stored noise, no truncation; images at `flips` are mirrored."""
    import PIL.Image
    from stylegan_tf import api
    res = api.resolution(Gs)
    n = api.num_layers(Gs)
    groups = api.style_ranges(n)
    noise_ranges = [range(n), range(0), groups["fine"], range(0, groups["fine"].start)]
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, seeds), labels)
    per_range = []
    for i, layers in enumerate(noise_ranges):
        update = (lambda k, base=i * len(seeds): progress.update(base + k)) if progress else None
        images = api.synthesize(Gs, w, noise="stored", noise_layers=layers, minibatch_size=minibatch_size,
                                progress=update)
        flip = [f for f in flips if f < len(seeds)]
        images[flip] = images[flip, :, ::-1]
        per_range.append(images)
    canvas = PIL.Image.new("RGB", (res * len(seeds), res * 2), "white")
    h2 = res // 2
    for col in range(len(seeds)):
        pieces = [api.to_pil(per_range[k][col]) for k in range(4)]
        canvas.paste(pieces[0].crop((0, 0, h2, res)), (col * res, 0))
        canvas.paste(pieces[1].crop((h2, 0, res, res)), (col * res + h2, 0))
        canvas.paste(pieces[2].crop((0, 0, h2, res)), (col * res, res))
        canvas.paste(pieces[3].crop((h2, 0, res, res)), (col * res + h2, res))
    return canvas


def draw_truncation(Gs, seeds, psis, minibatch_size=8, progress=None, labels=None):
    """Figure 8: one row per seed, one column per psi; w' = avg + (w - avg) * psi on every layer, stored noise."""
    import PIL.Image
    from stylegan_tf import api
    res = api.resolution(Gs)
    w = api.map_latents(Gs, api.latents_from_seeds(Gs, seeds), labels)
    avg = api.dlatent_avg(Gs)
    all_w = np.concatenate([np.concatenate([api.truncate(w[i:i + 1], avg, psi) for psi in psis])
                            for i in range(len(seeds))])
    images = api.synthesize(Gs, all_w, noise="stored", minibatch_size=minibatch_size,
                            progress=progress.update if progress else None)
    canvas = PIL.Image.new("RGB", (res * len(psis), res * len(seeds)), "white")
    for idx, img in enumerate(images):
        canvas.paste(api.to_pil(img), ((idx % len(psis)) * res, (idx // len(psis)) * res))
    return canvas


# ----------------------------------------------------------------------------
# Command line.


def _common_options(network=True):
    opts = [click.Option(["--result_dir"], default="results", show_default=True, help="Output directory."),
            click.Option(["--cache_dir"], default=None, help="Download cache (default: $STYLEGAN_CACHE_DIR or "
                                                              "~/.cache/stylegan_tf)."),
            click.Option(["--minibatch_size"], type=click.IntRange(min=1), default=8, show_default=True,
                         help="Images per run."),
            click.Option(["--class", "class_idx"], type=click.IntRange(min=0), default=None,
                         help="Class index of a conditional generator (required for one).")]
    if network:
        opts.append(click.Option(["--network"], default=None, metavar="PKL|URL|RUN_DIR",
                                 help="Generator pickle (path or URL) or run directory (default: the figure's "
                                 "official NVIDIA pickle)."))
    return opts


def _figure_options(figure):
    """The options of one figure's subcommand (also the defaults of 'all')."""
    o = click.Option
    if figure in UNCURATED:
        spec = LAYOUTS[UNCURATED[figure][1]]
        return [o(["--seed"], type=tool.SEED, default=spec["seed"], show_default=True, help="Latent seed."),
                o(["--rows"], type=click.IntRange(min=1), default=spec["rows"], show_default=True,
                  help="Rows of full-size images."),
                o(["--lods"], type=tool.INTS, default=",".join(map(str, spec["lods"])), show_default=True,
                  help="One column per entry, images shrunk by 2**lod."),
                o(["--psi"], type=tool.PSI, default=0.7, show_default=True, help="Truncation psi."),
                o(["--cutoff"], type=int, default=8, show_default=True, help="Truncate layers below this index "
                  "(resolutions 4..32)."),
                o(["--noise"], type=click.Choice(["seeded", "random", "stored"]), default="seeded", show_default=True,
                  help="Per-image noise: seeded (reproducible), random (TF), stored (fixed).")]
    if figure == "fig3":
        return [o(["--src_seeds"], type=tool.SEEDS, default="639,701,687,615,2268", show_default=True,
                  help="One column per seed."),
                o(["--dst_seeds"], type=tool.SEEDS, default="888,829,1898,1733,1614,845", show_default=True,
                  help="One row per seed."),
                o(["--style_ranges"], default=None, help="Per row: coarse, middle, fine or first-last layer, "
                  "comma-separated (default: the paper's coarse x3, middle x2, fine x1, spread over the rows).")]
    if figure == "fig4":
        return [o(["--seeds"], type=tool.SEEDS, default="1157,1012", show_default=True, help="One row per seed."),
                o(["--num_samples"], type=click.IntRange(min=1), default=100, show_default=True,
                  help="Noise realisations per seed (>= 5)."),
                o(["--noise"], type=click.Choice(["seeded", "random"]), default="seeded", show_default=True,
                  help="seeded (reproducible) or random (TF).")]
    if figure == "fig5":
        return [o(["--seeds"], type=tool.SEEDS, default="1967,1555", show_default=True, help="One column per seed."),
                o(["--flips"], type=tool.INTS, default="1", show_default=True, help="Indices of the seeds to mirror.")]
    if figure == "fig8":
        return [o(["--seeds"], type=tool.SEEDS, default="91,388", show_default=True, help="One row per seed."),
                o(["--psis"], type=tool.PSIS, default="1,0.7,0.5,0,-0.5,-1", show_default=True,
                  help="One column per psi.")]
    raise AssertionError(figure)


def _figure_defaults(figure):
    """The figure's options at their defaults (what 'all' draws)."""
    ctx = click.Context(click.Command(figure))
    return cli_args({p.name: p.type_cast_value(ctx, p.get_default(ctx)) for p in _figure_options(figure)})


def cli_args(values):
    import dnnlib
    return dnnlib.EasyDict(values)


def make_cli():
    group = click.Group("generate_figures.py", help=tool.click_help(__doc__),
                        context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110))
    for name in FIGURE_ORDER:
        what = ("uncurated grid, %s layout" % UNCURATED[name][1] if name in UNCURATED else
                {"fig3": "style mixing", "fig4": "noise detail", "fig5": "noise components",
                 "fig8": "truncation trick"}[name])
        group.add_command(click.Command(
            name, params=_common_options() + _figure_options(name) + [cli.verbose_param()],
            help="%s (%s)." % (what.capitalize(), FILENAMES[name]), short_help="%s (%s)" % (what, FILENAMES[name]),
            callback=lambda name=name, **kw: run(name, cli_args(kw))))
    all_opts = _common_options(network=False) + [
        click.Option(["--network"], default=None, metavar="PKL|URL", help="Pickle for figures 2-8 (and for 10-12 "
                     "unless given below; default: NVIDIA's FFHQ)."),
        *[click.Option(["--network_" + layout], default=None, metavar="PKL|URL", help="Pickle for the %s figure "
                       "(default: --network if given, else NVIDIA's)." % layout) for layout in ("bedrooms", "cars", "cats")],
        click.Option(["--num_samples"], type=click.IntRange(min=1), default=100, show_default=True,
                     help="Figure 4 noise realisations."),
        click.Option(["--rows"], type=click.IntRange(min=1), default=None, help="Rows of the uncurated grids "
                     "(default: each layout's own)."),
        cli.verbose_param()]
    group.add_command(click.Command("all", params=all_opts, help="Every figure with its defaults.",
                                    callback=lambda **kw: run("all", cli_args(kw))))
    return group


def _network_for(args, figure):
    layout = UNCURATED[figure][1] if figure in UNCURATED else "ffhq"
    if args.figure == "all" and layout != "ffhq":
        return getattr(args, "network_" + layout) or args.network or OFFICIAL_URLS[layout]
    return args.network or OFFICIAL_URLS[layout]


def _figure_kwargs(args, figure):
    """Per-figure settings: the parsed flags for a single figure, the defaults for 'all'."""
    if args.figure == "all":
        defaults = _figure_defaults(figure)
        if figure == "fig4":
            defaults.num_samples = args.num_samples
        if figure in UNCURATED and args.rows is not None:
            defaults.rows = args.rows
        return defaults
    return args


def _fail(flag, message):
    raise click.BadParameter(message, param_hint=flag)


def _validate(args, figure, Gs):
    """Checks that need the network; returns the figure's job size."""
    from stylegan_tf import api
    res = api.resolution(Gs)
    if figure in UNCURATED:
        if any(lod < 0 for lod in args.lods) or not args.lods:
            _fail("--lods", "need one or more lods >= 0, got %s" % ",".join(map(str, args.lods)))
        try:
            uncurated_geometry(res, UNCURATED[figure][1], args.rows, args.lods)
        except ValueError as e:
            _fail("--lods", "%s" % e)
        return sum(args.rows << lod for lod in args.lods)
    if figure == "fig3":
        n = api.num_layers(Gs)
        if args.style_ranges is None:
            args.row_layers = parse_style_rows(",".join(default_style_rows(len(args.dst_seeds))), n)
        else:
            try:
                args.row_layers = parse_style_rows(args.style_ranges, n)
            except ValueError as e:
                _fail("--style_ranges", "%s" % e)
            if len(args.row_layers) != len(args.dst_seeds):
                _fail("--style_ranges", "%d ranges for %d --dst_seeds" % (len(args.row_layers),
                                                                             len(args.dst_seeds)))
        return len(args.src_seeds) + len(args.dst_seeds) * (len(args.src_seeds) + 1)
    if figure == "fig4":
        if args.num_samples < 5:
            _fail("--num_samples", "need at least 5 (one image and four close-ups), got %d" % args.num_samples)
        return len(args.seeds) * args.num_samples
    if figure == "fig5":
        bad = [f for f in args.flips if not 0 <= f < len(args.seeds)]
        if bad:
            _fail("--flips", "index %d is not a seed index (0..%d)" % (bad[0], len(args.seeds) - 1))
        return 4 * len(args.seeds)
    if figure == "fig8":
        return len(args.seeds) * len(args.psis)
    raise AssertionError(figure)


def _draw(figure, Gs, args, progress, labels=None):
    mb = args.minibatch_size
    if figure in UNCURATED:
        return draw_uncurated(Gs, UNCURATED[figure][1], args.seed, args.rows, args.lods, args.psi, args.cutoff,
                              noise=args.noise, minibatch_size=mb, progress=progress, labels=labels)
    if figure == "fig3":
        return draw_style_mixing(Gs, args.src_seeds, args.dst_seeds, args.row_layers, mb, progress, labels)
    if figure == "fig4":
        return draw_noise_detail(Gs, args.seeds, args.num_samples, noise=args.noise, minibatch_size=mb,
                                 progress=progress, labels=labels)
    if figure == "fig5":
        return draw_noise_components(Gs, args.seeds, args.flips, mb, progress, labels)
    if figure == "fig8":
        return draw_truncation(Gs, args.seeds, args.psis, mb, progress, labels)
    raise AssertionError(figure)


def run(figure_name, args):
    """Draw the figure(s) chosen on the command line (see make_cli)."""
    args.figure = figure_name
    tool.check_outdir("--result_dir", args.result_dir)
    figures = FIGURE_ORDER if args.figure == "all" else [args.figure]
    for figure in figures:  # a missing local pickle is refused before TensorFlow starts
        tool.check_network_arg("--network", _network_for(args, figure))
    cli.import_tensorflow()
    from stylegan_tf import api

    # Load every network and validate every figure before writing anything.
    networks, jobs = {}, []
    for figure in figures:
        source = _network_for(args, figure)
        if source not in networks:
            flag = "--network"
            if args.figure == "all" and figure in UNCURATED and args.get("network_" + UNCURATED[figure][1]):
                flag = "--network_" + UNCURATED[figure][1]
            networks[source] = tool.load_generator(flag, source, args.cache_dir)
        fig_args = _figure_kwargs(args, figure)
        fig_args.minibatch_size = args.minibatch_size
        total = _validate(fig_args, figure, networks[source])
        labels = tool.labels_for(networks[source], args.get("class_idx"))
        jobs.append((figure, networks[source], fig_args, total, labels))

    tool.make_outdir("--result_dir", args.result_dir)
    for figure, Gs, fig_args, total, labels in jobs:
        progress = api.Progress(total, label=figure)
        canvas = _draw(figure, Gs, fig_args, progress, labels)
        path = os.path.join(args.result_dir, FILENAMES[figure])
        api.save_image(canvas, path)
        print("%s: wrote %s (%dx%d)" % (figure, path, canvas.size[0], canvas.size[1]))


command = make_cli()


def main(argv=None):
    """Entry point; returns 0, or exits with 1 (a bad file) or 2 (a bad command line)."""
    return tool.run_tool(command, argv, "generate_figures.py")


if __name__ == "__main__":
    sys.exit(main())
