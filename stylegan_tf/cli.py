"""Command-line helpers of the generator scripts (generate_figures.py, pretrained_example.py,
export_savedmodel.py): one-line argparse errors, seed / psi parsing, loading a generator with a
one-line error naming the flag and the file, and the URLs of NVIDIA's pickles."""

import argparse
import os
import sys

# NVIDIA's pickles (Google Drive; see docs/figures.md if a download is refused).
OFFICIAL_URLS = {
    "ffhq": "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ",      # karras2019stylegan-ffhq-1024x1024.pkl
    "celebahq": "https://drive.google.com/uc?id=1MGqJl28pN4t7SAtSrPdSRJSQJqahkzUf",  # ...-celebahq-1024x1024.pkl
    "bedrooms": "https://drive.google.com/uc?id=1MOSKeGF0FJcivpBI7s63V9YHloUTORiF",  # ...-bedrooms-256x256.pkl
    "cars": "https://drive.google.com/uc?id=1MJ6iCfNtMIRicihwRorsM3b7mmtmK9c3",      # ...-cars-512x384.pkl
    "cats": "https://drive.google.com/uc?id=1MQywl0FNt6lHu8E_EUqnRbviagS7fbiJ",      # ...-cats-256x256.pkl
}

PSI_RANGE = (-2.0, 2.0)



class OneLineParser(argparse.ArgumentParser):
    """argparse with errors on a single line: 'prog: error: message'."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def fail(prog, message):
    """Print a one-line error and exit with status 2."""
    sys.stderr.write("%s: error: %s\n" % (prog, message))
    sys.exit(2)


def parse_seeds(text):
    """'1,2,10-12' -> [1, 2, 10, 11, 12] (argparse type)."""
    seeds = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-", 1)
                lo, hi = int(lo), int(hi)
                if hi < lo:
                    raise ValueError("empty range %s" % part)
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError("cannot parse seed list %r (expected e.g. 1,2,10-12)" % text)
    bad = [s for s in seeds if not 0 <= s < 2 ** 32]
    if bad:
        raise argparse.ArgumentTypeError("seed %d out of range [0, 2^32)" % bad[0])
    if not seeds:
        raise argparse.ArgumentTypeError("empty seed list")
    return seeds


def parse_seed(text):
    """A single seed (argparse type)."""
    try:
        seeds = parse_seeds(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError("cannot parse seed %r (expected an integer in [0, 2^32))" % text)
    if len(seeds) != 1:
        raise argparse.ArgumentTypeError("expected one seed, got %r" % text)
    return seeds[0]


def parse_psi(text):
    """A truncation psi in the sane range (argparse type)."""
    try:
        psi = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("cannot parse psi %r" % text)
    if not (PSI_RANGE[0] <= psi <= PSI_RANGE[1]):
        raise argparse.ArgumentTypeError("psi %s is outside the sane range [%g, %g]" % (text, *PSI_RANGE))
    return psi


def parse_psis(text):
    return [parse_psi(part) for part in text.split(",")]


def parse_ints(text):
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError("cannot parse integer list %r" % text)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("cannot parse integer %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %d" % value)
    return value


def quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_generator_cache = {}


def load_generator_or_fail(prog, flag, path_or_url, cache_dir=None):
    """Gs from a pickle; any failure is a one-line error naming the flag and the file. Generators are
    cached per process (keyed by path, size and modification time), as the official scripts do."""
    import pickle
    from stylegan_tf import api
    key = path_or_url
    if os.path.isfile(path_or_url):
        st = os.stat(path_or_url)
        key = (os.path.abspath(path_or_url), st.st_size, st.st_mtime_ns)
    if key in _generator_cache:
        return _generator_cache[key]
    try:
        _generator_cache[key] = api.load_generator(path_or_url, cache_dir=cache_dir)
        return _generator_cache[key]
    except (OSError, pickle.UnpicklingError, ValueError, KeyError, EOFError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if path_or_url not in msg:
            msg = "%s: %s" % (path_or_url, msg)
        fail(prog, "%s %s" % (flag, msg))
