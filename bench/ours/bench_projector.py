"""How close projector.project() gets to targets generated from known w, and its speed.

Targets are images the generator itself makes from w_true = mapping(z of a seed), truncated with --psi
towards the mean w and synthesised with the stored noise; the projector starts from the mean w and never
sees w_true. Reported after N steps (each N a separate run: the schedules depend on N): LPIPS and PSNR of
the projection against the target, ||w - w_true|| relative to ||mean w - w_true|| (averaged over layers),
and optimisation steps per second (excluding the first, which traces the graph).

The generator is --network (e.g. the demo's network-final.pkl from `python train.py`) or, without it, a
freshly initialised one built here (--resolution, default config otherwise) with ToRGB scaled by 1/4 so its
images have the range of a trained generator's. The real LPIPS weights cannot be downloaded here: --lpips
takes a converted file; without it a full-width LPIPS-VGG16 with RANDOM weights stands in (same cost, but
its distances are not the paper's LPIPS; PSNR and the w distance are exact).

    python bench/ours/bench_projector.py --network results/00000-sgan-demo/network-final.pkl --steps 100,300,1000
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=None, help="generator pickle (default: build one)")
    parser.add_argument("--resolution", type=int, default=64, help="resolution of the built generator")
    parser.add_argument("--lpips", default=None, help="LPIPS .npz (default: random full-width stand-in)")
    parser.add_argument("--seeds", default="1,2,3,4", help="target seeds, projected together (one batch)")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation of the target w")
    parser.add_argument("--steps", default="100,300,1000", help="comma-separated step counts")
    parser.add_argument("--space", default="w", choices=["w", "w+"])
    args = parser.parse_args()

    from dnnlib import cli
    cli.import_tensorflow()
    from metrics import standins
    from stylegan_tf import api
    import projector

    tmp = tempfile.mkdtemp()
    if args.network:
        Gs = api.load_generator(args.network)
        source = args.network
    else:
        Gs = standins.make_generator_pkl(os.path.join(tmp, "g.pkl"), resolution=args.resolution, seed=0,
                                         fmap_base=2048, fmap_max=256, latent_size=128, mapping_layers=8)
        var = Gs.vars["G_synthesis/ToRGB_lod0/weight"]
        var.assign(var * 0.25)
        source = "built %dx%d (fmap_base 2048, max 256, latent 128, 8 mapping layers), ToRGB x 1/4" % (
            args.resolution, args.resolution)
    if args.lpips:
        lpips = projector.load_lpips(args.lpips)
        lpips_source = args.lpips
    else:
        standins.make_lpips_weights(os.path.join(tmp, "lpips.npz"), widths=1.0)
        lpips = projector.load_lpips(os.path.join(tmp, "lpips.npz"))
        lpips_source = "random full-width stand-in"

    seeds = [int(s) for s in args.seeds.split(",")]
    avg, _ = projector.w_stats(Gs)
    w_true = api.truncate(api.map_latents(Gs, api.latents_from_seeds(Gs, seeds)), avg, args.psi)
    targets = api.synthesize(Gs, w_true, noise="stored")
    start_dist = np.linalg.norm(avg - w_true[:, 0], axis=1)
    print("generator: %s; LPIPS: %s; %d targets (seeds %s, psi %g), space %s"
          % (source, lpips_source, len(seeds), args.seeds, args.psi, args.space))
    print("| steps | LPIPS mean (min-max) | PSNR dB mean (min-max) | w dist / start | steps/s |")
    print("|---|---|---|---|---|")
    for num_steps in [int(s) for s in args.steps.split(",")]:
        stamps = []
        result = projector.project(Gs, targets, lpips, space=args.space, num_steps=num_steps,
                                   callback=lambda step, images: stamps.append(time.time()))
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
        psnr = projector.psnr(result["images"], targets)
        rel = np.linalg.norm(result["w"] - w_true, axis=2).mean(axis=1) / start_dist
        d = result["lpips"]
        print("| %d | %.4f (%.4f-%.4f) | %.2f (%.2f-%.2f) | %.3f (%.3f-%.3f) | %.2f |"
              % (num_steps, d.mean(), d.min(), d.max(), psnr.mean(), psnr.min(), psnr.max(), rel.mean(), rel.min(),
                 rel.max(), rate), flush=True)


if __name__ == "__main__":
    main()
