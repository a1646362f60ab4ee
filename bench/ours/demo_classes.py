"""Which digits a demo snapshot grid draws: the digit classifier (metrics/digit_classifier.py) on every
cell of a `fakesNNNNNN.png`.

Usage:
  python bench/ours/demo_classes.py RUN_DIR/fakes000030.png [--cell 16] [--layout row_per_class|random]

Prints the number of cells predicted as each class and the mean top-class probability. With
--layout row_per_class (the conditional demo's grid: row r asks for class r % 10) it also prints, per
requested class, how many of that row's cells the classifier gives that class (the conditioning's
accuracy as the classifier judges it).
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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid")
    p.add_argument("--cell", type=int, default=16, help="cell size in pixels (the demo's resolution)")
    p.add_argument("--layout", default="row_per_class", choices=["row_per_class", "random"])
    args = p.parse_args()
    if not os.path.isfile(args.grid):
        raise SystemExit("demo_classes.py: error: no such file: %s" % args.grid)
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
