"""How close projector.project() gets to targets generated from known w, and its speed.

The generator (one of four):
  default        the benchmark trains it: `train.py` (the built-in demo preset: 16x16 grayscale digits,
                 class-conditional, 10 classes) for --train_kimg kimg with --train_seed, in a subprocess as
                 bench/ours/demo_learning.py runs it, into --train_dir (default: a temporary directory), and
                 projects on that run's network-final.pkl. The seeded CPU run is reproducible.
  --network PKL  a given pickle (e.g. network-final.pkl of a `python train.py` run).
  --build        a freshly initialised unconditional generator built here (--resolution, 3 channels), with
                 ToRGB scaled by 1/4 so its images have the range of a trained generator's.
  --tiny         the tests' tiny 32x32 generator (tests/test_projector.py's tiny_generator), built the same way.
  --noise_strength S sets every layer's noise strength on any of them (a fresh network's are 0).

Targets: for each seed s, z = RandomState(s).randn (api.latents_from_seeds) and, for a conditional
generator, the one-hot label of class s % num_classes; w_true = mapping(z, label), truncated with --psi on
every layer towards the network's tracked dlatent_avg (trained or given networks; the built one never
tracked it, so towards projector.w_stats' mean), synthesised with the stored noise. project() is called
as it is (space W by default): it starts from its own mean w (projector.w_stats, the same call here gives
w_start) and never sees w_true or the label.

Distances (--distance, comma-separated to run several on one network):
  lpips  projector.load_lpips(--lpips); without --lpips a full-width LPIPS-VGG16 with RANDOM weights stands in
         (same cost per step, but its distances are not the paper's LPIPS; the real weights cannot be
         downloaded here).
  mse    pixel mean squared error, mean((a - b)^2) / 255^2 * 10 on [0, 255] images (the callable of
         tests/test_projector.py::test_recovers_known_w): shows whether the METHOD recovers w.

Reported after N steps (each N a separate project() call: the schedules depend on N): the distance and
PSNR of the projection against the target, PSNR of the start image (w_start, stored noise),
||w - w_true|| / ||w_start - w_true|| (averaged over layers), how many targets ended within 10% of the
start distance, and optimisation steps per second (excluding the first step, which traces the graph).
Printed once per network: the numerical rank of d image / d w at each w_true (images up to 4096 values):
when it is below the size of w, some w directions do not change the image and w cannot be recovered
exactly from it by any method (e.g. the demo before 12 kimg draws at 8x8: 64 values, w has 128 dims).
--optimize_noise 0 keeps the network's stored noise (the targets' own) fixed instead of optimising noise
maps from random values: then w alone must explain the target. --json FILE appends one JSON line per
(distance, noise setting, N).

    python bench/ours/bench_projector.py --train_kimg 6 --distance lpips,mse --steps 100,300 --json out.jsonl
    python bench/ours/bench_projector.py --network results/00000-sgan-demo/network-final.pkl --steps 100
    python bench/ours/bench_projector.py --build --resolution 64 --steps 100
    python bench/ours/bench_projector.py --tiny --noise_strength 0.5 --psi 1 --initial_noise_factor 0 \
        --seeds 8,1,2,3 --distance mse --optimize_noise 1,0 --steps 200
"""

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

RECOVERED = 0.1   # ||w - w_true|| / ||w_start - w_true|| below this counts as recovered


def train_demo(kimg, seed, train_dir):
    """Run `train.py` (demo preset) for `kimg` kimg with `seed` into `train_dir`; return (pkl, wall seconds)."""
    os.makedirs(train_dir, exist_ok=True)
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--result_dir=%s" % train_dir, "--seed=%d" % seed,
           "--total_kimg=%g" % kimg, "--set=train.network_snapshot_ticks=1000"]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit("train.py failed:\n%s" % proc.stdout[-3000:])
    runs = sorted(glob.glob(os.path.join(train_dir, "0*")))
    pkl = os.path.join(runs[-1], "network-final.pkl") if runs else ""
    if not os.path.isfile(pkl):
        raise SystemExit("train.py left no network-final.pkl in %s" % train_dir)
    return pkl, wall


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mse_distance(a, b):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3]) / 255.0 ** 2 * 10


def jacobian_ranks(Gs, w_true, max_outputs=4096):
    """Numerical rank (singular values > 1e-3 x the largest) of d image / d w at each target's w in W
    (stored noise): w directions outside it do not change the image, so no image distance can recover
    them and ||w - w_true|| cannot reach 0. None when the image has more than `max_outputs` values."""
    import tensorflow as tf
    from stylegan_tf import api
    syn, num_layers = Gs.components.synthesis, api.num_layers(Gs)
    if int(np.prod(Gs.output_shape[1:])) > max_outputs:
        return None
    ranks = []
    for w in w_true[:, :1]:
        w = tf.constant(w[None])
        with tf.GradientTape() as tape:
            tape.watch(w)
            out = tf.reshape(tf.cast(syn.get_output_for(tf.broadcast_to(w, [1, num_layers, w.shape[2]]),
                                                        randomize_noise=False), tf.float32), [-1])
        jac = tape.jacobian(out, w).numpy().reshape(out.shape[0], -1)
        sv = np.linalg.svd(jac, compute_uv=False)
        ranks.append(int((sv > 1e-3 * sv[0]).sum()))
    return ranks


def stats(x):
    x = np.asarray(x, np.float64)
    return dict(mean=float(x.mean()), min=float(x.min()), max=float(x.max()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--network", default=None, help="generator pickle to project on (default: train the demo)")
    src.add_argument("--build", action="store_true", help="build a freshly initialised generator instead")
    src.add_argument("--tiny", action="store_true", help="build the tests' tiny 32x32 generator instead "
                     "(tests/test_projector.py's tiny_generator: latent 16, 2 mapping layers, ToRGB x 1/4)")
    parser.add_argument("--train_kimg", type=float, default=6, help="kimg of demo training (default 6)")
    parser.add_argument("--train_seed", type=int, default=1000, help="train.py --seed (default 1000)")
    parser.add_argument("--train_dir", default=None, help="result dir for the training run (default: temporary)")
    parser.add_argument("--resolution", type=int, default=64, help="resolution of the --build generator")
    parser.add_argument("--distance", default="lpips", help="comma-separated: lpips, mse")
    parser.add_argument("--lpips", default=None, help="LPIPS weights (default: random full-width stand-in)")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9",
                        help="target seeds, projected together (one batch); class = seed %% num_classes")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation of the target w")
    parser.add_argument("--steps", default="100,300", help="comma-separated step counts")
    parser.add_argument("--space", default="w", choices=["w", "w+"])
    parser.add_argument("--optimize_noise", default="1", help="comma-separated 1 (optimise the noise maps, the "
                        "StyleGAN2 projector) and/or 0 (keep the stored noise the targets were drawn with)")
    parser.add_argument("--noise_strength", type=float, default=None, help="set every layer's noise strength "
                        "(Noise/weight) to this (a fresh network's are 0: its noise changes nothing)")
    parser.add_argument("--initial_noise_factor", type=float, default=0.05, help="project()'s w noise (default 0.05)")
    parser.add_argument("--json", default=None, help="append one JSON line per (distance, steps)")
    args = parser.parse_args()
    distances = [d.strip() for d in args.distance.split(",") if d.strip()]
    bad = [d for d in distances if d not in ("lpips", "mse")]
    if bad or not distances:
        parser.error("--distance: expected lpips and/or mse, got %r" % args.distance)

    load_start = os.getloadavg()
    from dnnlib import cli
    cli.import_tensorflow()
    from metrics import standins
    from stylegan_tf import api
    import projector

    tmp = tempfile.mkdtemp(prefix="bench-projector-")
    train_wall = None
    if args.tiny:
        Gs = standins.make_generator_pkl(os.path.join(tmp, "g.pkl"), resolution=32, seed=0)
        var = Gs.vars["G_synthesis/ToRGB_lod0/weight"]
        var.assign(var * 0.25)
        source = "tiny 32x32 (the tests' tiny_generator), ToRGB x 1/4"
        pkl = None
    elif args.build:
        Gs = standins.make_generator_pkl(os.path.join(tmp, "g.pkl"), resolution=args.resolution, seed=0,
                                         fmap_base=2048, fmap_max=256, latent_size=128, mapping_layers=8)
        var = Gs.vars["G_synthesis/ToRGB_lod0/weight"]
        var.assign(var * 0.25)
        source = "built %dx%d (fmap_base 2048, max 256, latent 128, 8 mapping layers), ToRGB x 1/4" % (
            args.resolution, args.resolution)
        pkl = None
    else:
        if args.network:
            pkl = args.network
            source = args.network
        else:
            train_dir = args.train_dir or os.path.join(tmp, "train")
            print("training the demo for %g kimg (seed %d) into %s ..." % (args.train_kimg, args.train_seed,
                                                                          train_dir), flush=True)
            pkl, train_wall = train_demo(args.train_kimg, args.train_seed, train_dir)
            source = "demo trained here: train.py --seed=%d --total_kimg=%g (%.0f s)" % (
                args.train_seed, args.train_kimg, train_wall)
        Gs = api.load_generator(pkl)

    if args.noise_strength is not None:
        import tensorflow as tf
        for name, var in Gs.vars.items():
            if name.endswith("Noise/weight"):
                var.assign(tf.fill(var.shape, args.noise_strength))
        source += ", noise strengths %g" % args.noise_strength
    seeds = [int(s) for s in args.seeds.split(",")]
    z = api.latents_from_seeds(Gs, seeds)
    label_size = Gs.input_shapes[1][1] if len(Gs.input_shapes) > 1 else 0
    labels, classes = None, None
    if label_size:
        classes = [s % label_size for s in seeds]
        labels = np.eye(label_size, dtype=np.float32)[classes]
    w_start, _ = projector.w_stats(Gs)   # project()'s start (its default w_avg_samples)
    centre = w_start if (args.build or args.tiny) else api.dlatent_avg(Gs)
    w_true = api.truncate(api.map_latents(Gs, z, labels), centre, args.psi)
    targets = api.synthesize(Gs, w_true, noise="stored")
    start_dist = np.linalg.norm(w_true[:, 0] - w_start, axis=1)
    start_images = api.synthesize(Gs, np.broadcast_to(w_start, w_true.shape), noise="stored")
    start_psnr = projector.psnr(start_images, targets)
    ranks = jacobian_ranks(Gs, w_true)

    lpips_source = None
    if "lpips" in distances:
        if args.lpips:
            lpips = projector.load_lpips(args.lpips)
            lpips_source = args.lpips
        else:
            standins.make_lpips_weights(os.path.join(tmp, "lpips.npz"), widths=1.0)
            lpips = projector.load_lpips(os.path.join(tmp, "lpips.npz"))
            lpips_source = "random full-width stand-in (not the paper's LPIPS)"
    print("generator: %s (%dx%d, %d channels, %d classes)" % (source, api.resolution(Gs), api.resolution(Gs),
                                                              Gs.output_shape[1], label_size))
    print("%d targets: seeds %s%s, psi %g; space %s; start: PSNR %.2f dB mean (%.2f-%.2f)"
          % (len(seeds), args.seeds, ", classes %s" % ",".join(map(str, classes)) if classes else "", args.psi,
             args.space, start_psnr.mean(), start_psnr.min(), start_psnr.max()))
    if ranks is not None:
        print("rank of d image / d w at w_true: %s of %d (w directions beyond it leave the image unchanged)"
              % (",".join(map(str, ranks)), w_true.shape[2]))
    if lpips_source:
        print("LPIPS: %s" % lpips_source)

    base = dict(bench="projector", command=" ".join([os.path.basename(sys.executable)] + sys.argv), source=source,
                network=pkl, network_sha256=sha256(pkl) if pkl else None,
                resolution=api.resolution(Gs), channels=int(Gs.output_shape[1]), num_classes=label_size,
                seeds=seeds, classes=classes, psi=args.psi, space=args.space, lpips_source=lpips_source,
                start_dist=start_dist.tolist(), start_psnr=start_psnr.tolist(), dlatent_size=int(w_true.shape[2]), jacobian_rank=ranks, load_start=list(load_start))
    if train_wall is not None:
        base.update(train_kimg=args.train_kimg, train_seed=args.train_seed, train_wall_sec=train_wall)
    for name, opt_noise in [(n, o) for n in distances for o in [bool(int(v)) for v in args.optimize_noise.split(",")]]:
        dist_fn = lpips if name == "lpips" else mse_distance
        label = "LPIPS (stand-in)" if name == "lpips" and not args.lpips else name.upper()
        label += "" if opt_noise else ", stored noise held fixed"
        print("\n%s\n| steps | %s mean (min-max) | PSNR dB mean (min-max) | w dist / start mean (min-max) "
              "| recovered (< %g) | steps/s |" % (label, label, RECOVERED))
        print("|---|---|---|---|---|---|")
        for num_steps in [int(s) for s in args.steps.split(",")]:
            stamps = []
            load0, t0 = os.getloadavg(), time.time()
            result = projector.project(Gs, targets, dist_fn, space=args.space, num_steps=num_steps,
                                       callback=lambda step, images: stamps.append(time.time()),
                                       optimize_noise=opt_noise, initial_noise_factor=args.initial_noise_factor)
            wall = time.time() - t0
            rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
            psnr = projector.psnr(result["images"], targets)
            rel = np.linalg.norm(result["w"] - w_true, axis=2).mean(axis=1) / start_dist
            d = np.asarray(result["lpips"])
            recovered = int((rel < RECOVERED).sum())
            print("| %d | %.4f (%.4f-%.4f) | %.2f (%.2f-%.2f) | %.3f (%.3f-%.3f) | %d/%d | %.2f |"
                  % (num_steps, d.mean(), d.min(), d.max(), psnr.mean(), psnr.min(), psnr.max(), rel.mean(),
                     rel.min(), rel.max(), recovered, len(seeds), rate), flush=True)
            line = dict(base, distance=name, optimize_noise=opt_noise, steps=num_steps, distance_value=stats(d), psnr=stats(psnr),
                        w_rel=stats(rel), recovered=recovered, per_target=dict(distance=d.tolist(),
                        psnr=psnr.tolist(), w_rel=rel.tolist()), steps_per_sec=rate, wall_sec=wall,
                        load_before=list(load0), load_after=list(os.getloadavg()))
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
