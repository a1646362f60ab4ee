"""Which digits a demo snapshot grid draws: the digit classifier (metrics/digit_classifier.py) on every
cell of a `fakesNNNNNN.png`.

Usage:
  python bench/ours/demo_classes.py RUN_DIR/fakes000030.png [--cell 16] [--layout row_per_class|random]
  python bench/ours/demo_classes.py RUN_DIR/network-final.pkl [--num 1000] [--seed 1]

Prints the number of cells predicted as each class and the mean top-class probability. With
--layout row_per_class (the conditional demo's grid: row r asks for class r % 10) it also prints, per
requested class, how many of that row's cells the classifier gives that class (the conditioning's
accuracy as the classifier judges it).

Given a network pickle instead, it generates --num images (latents ~ N(0, I), random noise) with
labels drawn like the training loop's (uniformly from the dataset's labels; none for an unconditional
G) and prints the digit metric's three values computed on them against all the demo's reals, plus the
per-class counts and, for a conditional G, how often the classifier agrees with the requested class.
The `digits*` metrics of run_metrics.py feed a conditional G zero labels, as the official metrics do
(`Gs.get_output_for(latents, None, ...)`), which says little about the samples the demo draws.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def grid_cells(path, cell):
    """uint8 [N, C, cell, cell] cells of a grid PNG in row-major order, and the grid's (width, height)."""
    from PIL import Image
    img = np.asarray(Image.open(path))
    img = img[:, :, None] if img.ndim == 2 else img
    h, w, c = img.shape
    if h % cell or w % cell:
        raise SystemExit("demo_classes.py: error: %s is %dx%d, not a grid of %dx%d cells" % (path, w, h, cell, cell))
    gw, gh = w // cell, h // cell
    cells = img.reshape(gh, cell, gw, cell, c).transpose(0, 2, 4, 1, 3).reshape(gh * gw, c, cell, cell)
    return cells, (gw, gh)


def network_report(path, num, seed):
    """Digit-classifier values of `num` samples of the pickle's Gs with labels drawn from the dataset."""
    import scipy.linalg
    import warnings
    import dnnlib.tflib as tflib  # noqa: F401  (registers the network builders through stylegan_tf)
    import stylegan_tf  # noqa: F401
    from stylegan_tf import legacy
    from stylegan_tf.data.demo import demo_images
    from metrics.digit_classifier import NUM_CLASSES, class_entropy_bits, digit_scores, load_classifier
    from metrics.frechet_inception_distance import feature_statistics, frechet_distance
    nets = legacy.load_pkl(path)
    Gs = nets[-1] if isinstance(nets, tuple) else nets
    channels, res = int(Gs.output_shape[1]), int(Gs.output_shape[2])
    reals, real_labels = demo_images(resolution=res, channels=channels)
    rnd = np.random.RandomState(seed)
    latents = rnd.randn(num, *[int(s) for s in Gs.input_shape[1:]]).astype(np.float32)
    label_size = int(Gs.input_shapes[1][1])
    wanted = real_labels[rnd.randint(0, len(real_labels), size=num)]
    labels = np.eye(label_size, dtype=np.float32)[wanted] if label_size else None
    fakes = Gs.run(latents, labels, is_validation=True, randomize_noise=True, minibatch_size=100,
                   output_transform=dict(func=tflib.convert_images_to_uint8))
    model, feats = load_classifier()
    f_fake, probs = digit_scores(model, feats, fakes)
    f_real, _ = digit_scores(model, feats, reals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        fd = frechet_distance(*feature_statistics(f_fake), *feature_statistics(f_real))
    pred = probs.argmax(axis=1)
    print("%s: %d samples, labels %s" % (path, num, "from the dataset" if label_size else "none"))
    print("fd %.1f  conf %.3f  entropy %.2f bits" % (fd, probs.max(axis=1).mean(), class_entropy_bits(pred)))
    print("predicted class counts: " + "  ".join("%d:%d" % kv for kv in enumerate(np.bincount(pred, minlength=NUM_CLASSES))))
    if label_size:
        print("classifier agrees with the requested class: %.3f" % np.mean(pred == wanted))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid", help="a fakesNNNNNN.png grid or a network pickle")
    p.add_argument("--cell", type=int, default=16, help="cell size in pixels (the demo's resolution)")
    p.add_argument("--layout", default="row_per_class", choices=["row_per_class", "random"])
    p.add_argument("--num", type=int, default=1000, help="samples to generate from a network pickle")
    p.add_argument("--seed", type=int, default=1, help="latents and labels seed for a network pickle")
    args = p.parse_args()
    if not os.path.isfile(args.grid):
        raise SystemExit("demo_classes.py: error: no such file: %s" % args.grid)
    if args.grid.endswith(".pkl"):
        return network_report(args.grid, args.num, args.seed)
    from metrics.digit_classifier import NUM_CLASSES, class_entropy_bits, digit_scores, load_classifier
    cells, (gw, gh) = grid_cells(args.grid, args.cell)
    model, feats = load_classifier()
    _, probs = digit_scores(model, feats, cells)
    pred = probs.argmax(axis=1)
    counts = np.bincount(pred, minlength=NUM_CLASSES)
    print("%s: %d cells (%dx%d)" % (args.grid, len(cells), gw, gh))
    print("predicted class counts: " + "  ".join("%d:%d" % (k, n) for k, n in enumerate(counts)))
    print("mean top-class probability %.3f, class entropy %.2f bits" % (probs.max(axis=1).mean(),
                                                                      class_entropy_bits(pred)))
    if args.layout == "row_per_class":
        wanted = np.repeat(np.arange(gh) % NUM_CLASSES, gw)
        hits = [(int((pred[wanted == k] == k).sum()), int((wanted == k).sum())) for k in range(NUM_CLASSES)]
        print("requested class -> cells classified as it: " + "  ".join("%d:%d/%d" % (k, h, n)
                                                                       for k, (h, n) in enumerate(hits)))
        print("overall %.3f" % (sum(h for h, _ in hits) / float(len(pred))))


if __name__ == "__main__":
    main()
