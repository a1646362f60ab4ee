"""Convert LPIPS-VGG16 weights to the `.npz` layout of `metrics.feature_nets.LPIPSVGG16`.

    python -m metrics.convert_lpips --src vgg16_zhang_perceptual.pkl --dst lpips_vgg16.npz
    python -m metrics.convert_lpips --src vgg.pth,vgg16-397923af.pth --dst lpips_vgg16.npz

Sources and how their variables are matched: `metrics/lpips_sources.py` (by name where the
names say which layer, else by order and shape; nothing in a pickle is executed). Not needed
to run PPL (`--lpips` reads these files directly); useful to pin one small file.
"""

import pickle
import sys

import click

from dnnlib import cli


def convert(src, dst):
    """Write the .npz of the LPIPS source `src` (a path, or two comma-separated paths); returns the weights."""
    from metrics import feature_nets, lpips_sources  # TensorFlow: not needed for --help
    files = []
    for path in src.split(","):
        with open(path.strip(), "rb") as f:
            files.append((f.read(), path.strip()))
    weights, _how = lpips_sources.weights_from_files(files)
    feature_nets.LPIPSVGG16(weights, source=src)  # validates the shapes
    feature_nets.save_lpips_weights(weights, dst)
    return weights


@click.command(context_settings=dict(help_option_names=["-h", "--help"]),
               help=__doc__.replace("\n\n    python", "\n\n\b\n    python", 1))
@click.option("--src", required=True, help="vgg16_zhang_perceptual.pkl, or vgg.pth,vgg16-397923af.pth.")
@click.option("--dst", required=True, help="Output .npz.")
@cli.verbose_option
def command(src, dst):
    cli.import_tensorflow()
    try:
        convert(src, dst)
    except (OSError, ValueError, pickle.UnpicklingError) as e:
        raise cli.CommandError(str(e)) from None
    from metrics import feature_nets
    print("Wrote %s (sha256 %s)" % (dst, feature_nets.sha256_of_bytes(open(dst, "rb").read())))


def main(argv=None):
    """Entry point; returns the exit code (0 ok, 1 a bad file, 2 a bad command line)."""
    return cli.run(command, argv, prog_name="convert_lpips", error_types=_error_types)


def _error_types():
    from metrics import feature_nets
    return (feature_nets.FeatureNetworkError,)


if __name__ == "__main__":
    sys.exit(main())
