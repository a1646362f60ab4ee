"""Generate one image with a trained StyleGAN generator (NVIDIA's FFHQ pickle by default).

    python pretrained_example.py                                   # downloads the FFHQ pickle once
    python pretrained_example.py --network results/00000-sgan/network-final.pkl --seed 7 --psi 0.5

Loads the pickle (path or URL; downloads are cached), prints the generator's layers, draws the latent
from `RandomState(seed)`, truncates with psi on the coarse layers (cutoff 8, as the official Gs) and
writes a PNG. See docs/figures.md.
"""

import os
import sys

from stylegan_tf.cli import (OFFICIAL_URLS, OneLineParser, load_generator_or_fail, parse_psi, parse_seed,
                             quiet_tensorflow)


def main(argv=None):
    parser = OneLineParser(prog="pretrained_example.py", description=__doc__,
                           formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=OFFICIAL_URLS["ffhq"],
                        help="generator pickle, path or URL (default: NVIDIA's karras2019stylegan-ffhq-1024x1024.pkl)")
    parser.add_argument("--seed", type=parse_seed, default=5, help="latent seed (default: 5)")
    parser.add_argument("--psi", type=parse_psi, default=0.7, help="truncation psi (default: 0.7)")
    parser.add_argument("--cutoff", type=int, default=8, help="truncate layers below this index (default: 8)")
    parser.add_argument("--noise", choices=["seeded", "random", "stored"], default="seeded",
                        help="seeded: drawn from --seed, reproducible (default); random: TensorFlow's RNG, as the "
                             "official example; stored: the network's fixed noise")
    parser.add_argument("--result_dir", default="results", help="output directory (default: results)")
    parser.add_argument("--output", default="example.png", help="file name inside --result_dir (default: example.png)")
    parser.add_argument("--cache_dir", default=None, help="download cache (default: $STYLEGAN_CACHE_DIR or "
                                                          "~/.cache/stylegan_tf)")
    parser.add_argument("--quiet", action="store_true", help="do not print the layer table")
    args = parser.parse_args(argv)
    if not args.output or os.path.basename(args.output) != args.output:
        parser.error("argument --output: expected a file name, got %r" % args.output)

    quiet_tensorflow()
    import numpy as np
    from stylegan_tf import api

    Gs = load_generator_or_fail(parser.prog, "--network", args.network, args.cache_dir)
    if not args.quiet:
        Gs.print_layers()
    latents = api.latents_from_seeds(Gs, [args.seed])
    noise = np.random.RandomState([args.seed, 0x5eed]) if args.noise == "seeded" else args.noise
    images = api.generate(Gs, latents, truncation_psi=args.psi, truncation_cutoff=args.cutoff, noise=noise)

    os.makedirs(args.result_dir, exist_ok=True)
    path = os.path.join(args.result_dir, args.output)
    api.save_image(images[0], path)
    print("Wrote %s (%dx%d)" % (path, images.shape[2], images.shape[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
