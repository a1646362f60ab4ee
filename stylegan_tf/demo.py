"""Generator demo on a freshly initialised StyleGAN: prints the network tables, writes an image grid
and a `(G, D, Gs)` pickle. Needs no dataset; `python -m stylegan_tf.demo --help` for options."""

import os
import sys
import time

import click
import numpy as np

from dnnlib import EasyDict, cli


@click.command(context_settings=dict(help_option_names=["-h", "--help"]), help=__doc__)
@click.option("--result_dir", default="results/demo", show_default=True, help="Where to write the grid and the pickle.")
@click.option("--resolution", type=int, default=64, show_default=True, help="Output resolution (power of two >= 4).")
@click.option("--fmap_base", type=int, default=2048, show_default=True, help="Feature-map multiplier (official: 8192).")
@click.option("--seed", type=int, default=1000, show_default=True, help="Random seed of weights and latents.")
@click.option("--num", type=click.IntRange(min=1), default=16, show_default=True, help="Number of images in the grid.")
@click.option("--truncation_psi", type=float, default=0.7, show_default=True, help="Truncation strength in W.")
@cli.verbose_option
def command(**opts):
    args = EasyDict(opts)
    res = args.resolution
    if res < 4 or res & (res - 1):
        raise click.BadParameter("must be a power of two >= 4, got %d" % res, param_hint="--resolution")
    cli.import_tensorflow()
    import keras
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    from stylegan_tf.images import save_image_grid

    keras.utils.set_random_seed(args.seed)
    kwargs = dict(num_channels=3, resolution=res, fmap_base=args.fmap_base)
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", **kwargs)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kwargs)
    Gs = G.clone("Gs")
    G.print_layers()
    D.print_layers()

    os.makedirs(args.result_dir, exist_ok=True)
    latents = np.random.RandomState(args.seed).randn(args.num, *Gs.input_shape[1:]).astype(np.float32)
    start = time.time()
    images = Gs.run(latents, None, truncation_psi=args.truncation_psi, randomize_noise=False, minibatch_size=8)
    print("Generated %d images at %dx%d in %.2fs" % (args.num, res, res, time.time() - start))
    grid_path = os.path.join(args.result_dir, "fakes-init.png")
    save_image_grid(images, grid_path, drange=[-1, 1])
    pkl_path = os.path.join(args.result_dir, "network-init.pkl")
    legacy.save_pkl((G, D, Gs), pkl_path)
    print("Wrote %s and %s" % (grid_path, pkl_path))


def main(argv=None):
    """Entry point of `python -m stylegan_tf.demo`; returns the exit code."""
    return cli.run(command, argv, prog_name="python -m stylegan_tf.demo")


if __name__ == "__main__":
    sys.exit(main())
