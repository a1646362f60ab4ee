"""Generate one image with a trained StyleGAN generator (NVIDIA's FFHQ pickle by default).

    python pretrained_example.py                                   # downloads the FFHQ pickle once
    python pretrained_example.py --network results/00000-sgan/network-final.pkl --seed 7 --psi 0.5

Loads the pickle (path or URL; downloads are cached), prints the generator's layers, draws the latent
from `RandomState(seed)`, truncates with psi on the coarse layers (cutoff 8, as the official Gs) and
writes a PNG. See docs/figures.md.
"""

import os
import sys

import click

from dnnlib import cli
from stylegan_tf import cli as tool


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", default=tool.OFFICIAL_URLS["ffhq"], metavar="PKL|URL|RUN_DIR",
              help="Generator pickle (path or URL) or run directory (default: NVIDIA's "
              "karras2019stylegan-ffhq-1024x1024.pkl).")
@click.option("--seed", type=tool.SEED, default=5, show_default=True, help="Latent seed.")
@click.option("--psi", type=tool.PSI, default=0.7, show_default=True, help="Truncation psi.")
@click.option("--cutoff", type=int, default=8, show_default=True, help="Truncate layers below this index.")
@click.option("--noise", type=click.Choice(["seeded", "random", "stored"]), default="seeded", show_default=True,
              help="seeded: drawn from --seed, reproducible; random: TensorFlow's RNG, as the official example; "
                   "stored: the network's fixed noise.")
@click.option("--result_dir", default="results", show_default=True, help="Output directory.")
@click.option("--output", default="example.png", show_default=True, help="File name inside --result_dir.")
@click.option("--cache_dir", default=None, help="Download cache (default: $STYLEGAN_CACHE_DIR or ~/.cache/stylegan_tf).")
@cli.bool_option("--quiet", help="Do not print the layer table.")
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None,
              help="Class index of a conditional generator (required for one).")
@cli.verbose_option
def command(network, seed, psi, cutoff, noise, result_dir, output, cache_dir, quiet, class_idx):
    if not output or os.path.basename(output) != output:
        raise click.BadParameter("expected a file name, got %r" % output, param_hint="--output")
    tool.check_outdir("--result_dir", result_dir)
    tool.check_network_arg("--network", network)
    cli.import_tensorflow()
    import numpy as np
    from stylegan_tf import api

    Gs = tool.load_generator("--network", network, cache_dir)
    if not quiet:
        Gs.print_layers()
    labels = tool.labels_for(Gs, class_idx)
    latents = api.latents_from_seeds(Gs, [seed])
    noise = np.random.RandomState([seed, 0x5eed]) if noise == "seeded" else noise
    images = api.generate(Gs, latents, truncation_psi=psi, truncation_cutoff=cutoff, noise=noise, labels=labels)

    tool.make_outdir("--result_dir", result_dir)
    path = os.path.join(result_dir, output)
    api.save_image(images[0], path)
    print("Wrote %s (%dx%d)" % (path, images.shape[2], images.shape[1]))


def main(argv=None):
    """Entry point; returns 0, or exits with 1 (a bad file) or 2 (a bad command line)."""
    return tool.run_tool(command, argv, "pretrained_example.py")


if __name__ == "__main__":
    sys.exit(main())
