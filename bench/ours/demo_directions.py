"""Do editing directions fitted on the demo network move the digit classifier the way they should?

1. Fit: `run_metrics.py --metrics ls_10k --ls_classifiers digits --labels uniform --directions DIR` on the
   network (the user's command: 10,000 samples with uniformly drawn classes; per digit k, InterFaceGAN's
   linear SVM in W between the 2% of samples with the highest "digit k" logit and the 2% with the lowest).
2. Check, on --num samples the fit never saw (latents of --seed, classes drawn uniformly): for each digit k
   and each strength s, w + s * n_k is synthesised (stored noise) and classified. Reported per k: the mean
   p(k) of the samples of the other classes (should rise with s) and the share of them the classifier now
   calls k; and the mean p(k) of the samples of class k (should fall for s < 0).

    python train.py --result_dir results          # the demo, about 5 minutes
    python bench/ours/demo_directions.py --network results/00000-sgan-demo/network-final.pkl --json dirs.jsonl
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True, help="the demo's network pickle")
    parser.add_argument("--directions", default=None, help="directory for the fitted directions (default: temp)")
    parser.add_argument("--fit_samples", type=int, default=10000, help="samples for the fit (ls_10k: 10000)")
    parser.add_argument("--num", type=int, default=500, help="held-out samples for the check")
    parser.add_argument("--seed", type=int, default=7, help="seed of the held-out samples")
    parser.add_argument("--strengths", default="-6,-3,0,3,6,9", help="comma-separated strengths")
    parser.add_argument("--cache_dir", default=None, help="digit classifier cache (default: the metrics' cache)")
    parser.add_argument("--json", default=None, help="append one JSON line per digit to this file")
    args = parser.parse_args()
    strengths = [float(s) for s in args.strengths.split(",")]

    from dnnlib import cli
    tf = cli.import_tensorflow()
    import run_metrics
    from metrics import digit_classifier as dc
    from stylegan_tf import api, directions

    out_dir = args.directions or tempfile.mkdtemp(prefix="demo_directions_")
    argv = ["run_metrics.py", "--network=%s" % args.network, "--metrics=ls_10k", "--num_samples=%d" % args.fit_samples,
            "--ls_classifiers=digits", "--labels=uniform", "--directions=%s" % out_dir, "--seed=123", "--noprogress",
            "--result_dir=%s" % out_dir]
    if args.cache_dir:
        argv.append("--cache_dir=%s" % args.cache_dir)
    print(" ".join(argv), flush=True)
    t0 = time.time()
    if run_metrics.main(argv) != 0:
        sys.exit("demo_directions.py: error: run_metrics.py failed")
    fit_time = time.time() - t0

    Gs = api.load_generator(args.network)
    model, _ = dc.load_classifier(args.cache_dir)
    label_size = int(Gs.input_shapes[1][1])
    rnd = np.random.RandomState(args.seed)
    z = rnd.randn(args.num, Gs.input_shape[1]).astype(np.float32)
    classes = rnd.randint(max(label_size, 1), size=args.num)
    labels = np.eye(label_size, dtype=np.float32)[classes] if label_size else None
    w = api.map_latents(Gs, z, labels, minibatch_size=100)

    def probs(dlatents):
        images = api.synthesize(Gs, dlatents, noise="stored", minibatch_size=100)      # uint8 NHWC
        ink = dc.ink_intensity(np.transpose(images, [0, 3, 1, 2]))
        return tf.nn.softmax(model(ink)).numpy()

    print("\nFit: %.0f s. Check on %d held-out samples; per digit k and strength s:" % (fit_time, args.num))
    print("  others p(k) / share called k (samples of other classes), own p(k) (samples of class k)")
    print("digit  " + "  ".join("%18s" % ("s=%+g" % s) for s in strengths))
    for k in range(dc.NUM_CLASSES):
        path = os.path.join(out_dir, "digit%d.npy" % k)
        if not os.path.isfile(path):
            print("digit%d: no direction written" % k)
            continue
        n = directions.load_direction(path, api.num_layers(Gs), Gs.components.synthesis.input_shape[2])
        rows = []
        for s in strengths:
            p = probs(directions.apply_direction(w, n, s))
            other, own = classes != k, classes == k
            rows.append(dict(strength=s, others_p=float(p[other, k].mean()),
                             others_called=float(np.mean(p[other].argmax(1) == k)),
                             own_p=float(p[own, k].mean()) if own.any() else float("nan")))
        print("digit%d " % k + "  ".join("%.2f/%.2f %.2f   " % (r["others_p"], r["others_called"], r["own_p"])
                                         for r in rows), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(dict(digit=k, network=os.path.basename(args.network), num=args.num,
                                        fit_samples=args.fit_samples, rows=rows)) + "\n")


if __name__ == "__main__":
    main()
