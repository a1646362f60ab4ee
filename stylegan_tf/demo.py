"""Generator demo on a freshly initialised StyleGAN: prints the network tables, writes an image grid
and a `(G, D, Gs)` pickle. Needs no dataset; `python -m stylegan_tf.demo --help` for options."""

import argparse
import os
import sys
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--result_dir", default="results/demo", help="where to write the grid and the pickle")
    parser.add_argument("--resolution", type=int, default=64, help="output resolution (power of two >= 4)")
    parser.add_argument("--fmap_base", type=int, default=2048, help="feature-map multiplier (official: 8192)")
    parser.add_argument("--seed", type=int, default=1000, help="random seed of weights and latents")
    parser.add_argument("--num", type=int, default=16, help="number of images in the grid")
    parser.add_argument("--truncation_psi", type=float, default=0.7, help="truncation strength in W")
    args = parser.parse_args(argv)
    res = args.resolution
    if res < 4 or res & (res - 1):
        parser.error("--resolution must be a power of two >= 4, got %d" % res)
    if args.num < 1:
        parser.error("--num must be >= 1, got %d" % args.num)

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
