"""Convert LPIPS-VGG16 weights to the `.npz` layout of `metrics.feature_nets.LPIPSVGG16`.

    python -m metrics.convert_lpips --src vgg16_zhang_perceptual.pkl --dst lpips_vgg16.npz
    python -m metrics.convert_lpips --src vgg.pth,vgg16-397923af.pth --dst lpips_vgg16.npz

Sources and how their variables are matched: `metrics/lpips_sources.py` (by name where the
names say which layer, else by order and shape; nothing in a pickle is executed). Not needed
to run PPL (`--lpips` reads these files directly); useful to pin one small file.
"""

import argparse
import pickle
import sys

from metrics import feature_nets
from metrics import lpips_sources


def convert(src, dst):
    """Write the .npz of the LPIPS source `src` (a path, or two comma-separated paths); returns the weights."""
    files = []
    for path in src.split(","):
        with open(path.strip(), "rb") as f:
            files.append((f.read(), path.strip()))
    weights, _how = lpips_sources.weights_from_files(files)
    feature_nets.LPIPSVGG16(weights, source=src)  # validates the shapes
    feature_nets.save_lpips_weights(weights, dst)
    return weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="vgg16_zhang_perceptual.pkl, or vgg.pth,vgg16-397923af.pth")
    parser.add_argument("--dst", required=True, help="output .npz")
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst)
    except (OSError, ValueError, pickle.UnpicklingError, feature_nets.FeatureNetworkError) as e:
        print("convert_lpips: error: %s" % e, file=sys.stderr)
        return 1
    print("Wrote %s (sha256 %s)" % (args.dst, feature_nets.sha256_of_bytes(open(args.dst, "rb").read())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
