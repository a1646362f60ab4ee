"""Command-line pieces shared by the generator tools (generate.py, projector.py, generate_figures.py,
pretrained_example.py, export_savedmodel.py), on top of `dnnlib.cli`: click types for seed lists,
truncation psi and integer lists, style-mixing rows, loading a generator with a one-line error naming
the flag and the file, and the URLs of NVIDIA's pickles. Nothing here imports TensorFlow."""

import os

import click

from dnnlib import cli

# NVIDIA's pickles (Google Drive; dnnlib.util.download fetches them through gdown).
OFFICIAL_URLS = {
    "ffhq": "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ",      # karras2019stylegan-ffhq-1024x1024.pkl
    "celebahq": "https://drive.google.com/uc?id=1MGqJl28pN4t7SAtSrPdSRJSQJqahkzUf",  # ...-celebahq-1024x1024.pkl
    "bedrooms": "https://drive.google.com/uc?id=1MOSKeGF0FJcivpBI7s63V9YHloUTORiF",  # ...-bedrooms-256x256.pkl
    "cars": "https://drive.google.com/uc?id=1MJ6iCfNtMIRicihwRorsM3b7mmtmK9c3",      # ...-cars-512x384.pkl
    "cats": "https://drive.google.com/uc?id=1MQywl0FNt6lHu8E_EUqnRbviagS7fbiJ",      # ...-cats-256x256.pkl
}

# NVIDIA's LPIPS-VGG16 (the network the official v1 PPL loads), from NVIDIA's CDN: projector.py's default
# --lpips. (metrics.feature_nets.OFFICIAL_LPIPS_PKL_URL is the same file on Google Drive.) No digest is
# published: the download cache records the first copy's SHA-256 and checks it on every later use, and
# the loader checks every weight's name and shape.
LPIPS_PKL_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/vgg16_zhang_perceptual.pkl"

PSI_RANGE = (-2.0, 2.0)
STYLE_ROW_PATTERN = ("coarse", "coarse", "coarse", "middle", "middle", "fine")  # the paper's Figure 3 rows


def parse_seeds(text):
    """'1,2,10-12' -> [1, 2, 10, 11, 12]; seeds in [0, 2^32). Raises ValueError."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError("cannot parse seed list %r (expected e.g. 1,2,10-12)" % text) from None
    bad = [s for s in seeds if not 0 <= s < 2 ** 32]
    if bad:
        raise ValueError("seed %d out of range [0, 2^32)" % bad[0])
    return seeds


def parse_psi(text):
    """A truncation psi in [-2, 2]. Raises ValueError."""
    try:
        psi = float(text)
    except ValueError:
        raise ValueError("cannot parse psi %r" % text) from None
    if not PSI_RANGE[0] <= psi <= PSI_RANGE[1]:
        raise ValueError("psi %s is outside the sane range [%g, %g]" % (text, *PSI_RANGE))
    return psi


def parse_ints(text):
    """'0,1,2' -> [0, 1, 2]. Raises ValueError."""
    try:
        return [int(part) for part in str(text).split(",") if part.strip() != ""]
    except ValueError:
        raise ValueError("cannot parse integer list %r" % text) from None


def default_style_rows(num_rows):
    """Coarse / middle / fine assignment of style-mixing rows: the paper's 3/2/1 for 6 rows, spread
    proportionally otherwise."""
    n = len(STYLE_ROW_PATTERN)
    return [STYLE_ROW_PATTERN[min(n - 1, (2 * i + 1) * n // (2 * num_rows))] for i in range(num_rows)]


def parse_style_rows(text, num_layers):
    """'coarse,middle,fine' or inclusive layer ranges '0-3' per row -> list of layer index lists.
    Raises ValueError."""
    from stylegan_tf import api
    ranges = api.style_ranges(num_layers)
    rows = []
    for part in str(text).split(","):
        part = part.strip()
        if part in ranges:
            rows.append(list(ranges[part]))
            continue
        try:
            lo, hi = part.split("-") if "-" in part else (part, part)
            lo, hi = int(lo), int(hi)
        except ValueError:
            raise ValueError("cannot parse style range %r (coarse, middle, fine or first-last layer)" % part) from None
        if not 0 <= lo <= hi < num_layers:
            raise ValueError("style range %r outside layers 0-%d" % (part, num_layers - 1))
        rows.append(list(range(lo, hi + 1)))
    return rows


class _Parsed(click.ParamType):
    """A click type from a parse function that raises ValueError."""

    def __init__(self, name, parse, single=False):
        self.name, self._parse, self._single = name, parse, single

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            out = self._parse(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if self._single is True and (not isinstance(out, list) or len(out) != 1):
            self.fail("expected one value, got %r" % value, param, ctx)
        if isinstance(out, list) and not out:
            self.fail("empty list %r" % value, param, ctx)
        return out[0] if self._single else out


SEEDS = _Parsed("SEEDS", parse_seeds)                  # 0-9,42
SEED = _Parsed("SEED", parse_seeds, single=True)       # one seed
PSI = _Parsed("PSI", parse_psi)                        # -2..2
PSIS = _Parsed("PSIS", lambda t: [parse_psi(p) for p in t.split(",")])
INTS = _Parsed("INTS", parse_ints)


def resolve_network_arg(flag, path_or_url):
    """Before TensorFlow is imported: a pickle path or URL as given; a run directory (as run_metrics.py and
    train.py --resume take) becomes its network-final.pkl or latest snapshot; a local path that does not
    exist, or a run directory without snapshots, is a one-line usage error."""
    import dnnlib
    from stylegan_tf import rundir
    if dnnlib.util.is_url(path_or_url, allow_file_urls=True) or os.path.isfile(path_or_url):
        return path_or_url
    if os.path.isdir(path_or_url):
        try:
            return rundir.locate_latest_snapshot(path_or_url)
        except FileNotFoundError:
            raise click.BadParameter("run directory %s holds no network-snapshot-*.pkl" % path_or_url,
                                     param_hint=flag) from None
    raise click.BadParameter("%s: no such file or run directory" % path_or_url, param_hint=flag)


def check_network_arg(flag, path_or_url):
    """`resolve_network_arg` for its refusals only."""
    resolve_network_arg(flag, path_or_url)


_generator_cache = {}


def load_generator(flag, path_or_url, cache_dir=None):
    """Gs of a pickle (path or URL); any failure is a one-line error naming the flag and the file.
    Generators are cached per process (keyed by path, size and modification time), as the official
    scripts do."""
    import pickle
    from stylegan_tf import api
    path_or_url = resolve_network_arg(flag, path_or_url)
    key = path_or_url
    if os.path.isfile(path_or_url):
        st = os.stat(path_or_url)
        key = (os.path.abspath(path_or_url), st.st_size, st.st_mtime_ns)
    if key not in _generator_cache:
        try:
            _generator_cache[key] = api.load_generator(path_or_url, cache_dir=cache_dir)
        except (OSError, pickle.UnpicklingError, ValueError, KeyError, EOFError, TypeError, AttributeError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if str(path_or_url) not in msg:
                msg = "%s: %s" % (path_or_url, msg)
            raise cli.CommandError("%s %s" % (flag, msg)) from None
    return _generator_cache[key]


def labels_for(Gs, class_idx):
    """The one-hot labels row [1, label_size] of --class for a conditional generator (None for an unconditional
    one); a conditional generator without --class is refused (all-zero labels draw no class, only blobs)."""
    import numpy as np
    from stylegan_tf import api
    label_size = api.label_size(Gs)
    if label_size == 0:
        if class_idx is not None:
            raise click.BadParameter("the network is unconditional (no labels)", param_hint="--class")
        return None
    if class_idx is None:
        raise click.BadParameter("the network is conditional (%d classes): give --class" % label_size,
                                 param_hint="--class")
    if not 0 <= class_idx < label_size:
        raise click.BadParameter("class %d outside 0-%d" % (class_idx, label_size - 1), param_hint="--class")
    labels = np.zeros([1, label_size], np.float32)
    labels[0, class_idx] = 1
    return labels


def check_outdir(flag, outdir):
    """Before any work: an output directory that exists as a file is a one-line usage error."""
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise click.BadParameter("%s is a file, not a directory" % outdir, param_hint=flag)


def make_outdir(flag, outdir):
    """Create the output directory (and parents); a one-line error if it is a file or not writable."""
    check_outdir(flag, outdir)
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise click.BadParameter("cannot create %s (%s)" % (outdir, e.strerror or e), param_hint=flag) from None
    if not os.access(outdir, os.W_OK):
        raise click.BadParameter("%s is not writable" % outdir, param_hint=flag)


def click_help(doc):
    """A module docstring as click help: every paragraph holding an indented line (examples, tables) kept
    as it is (click's \\b marker), the others rewrapped."""
    paragraphs = doc.strip("\n").split("\n\n")
    return "\n\n".join("\b\n" + p if any(line.startswith(" ") for line in p.splitlines()) else p
                       for p in paragraphs)


def run_tool(command, argv, prog_name):
    """The `main(argv)` of a generator tool: 0 on success (returned), else SystemExit with the status."""
    code = cli.run(command, argv, prog_name=prog_name)
    if code:
        raise SystemExit(code)
    return 0
