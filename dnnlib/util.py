"""Framework-independent helpers: attribute dicts, name lookup, time formatting, progress, atomic file
writes, and the project's one download cache (pooch; gdown for Google Drive links)."""

import contextlib
import hashlib
import importlib
import os
import re
import signal
import sys
import tempfile
import types
import urllib.parse
from typing import Any, Tuple


class EasyDict(dict):
    """A dict whose items are also attributes: `d.key` is `d['key']`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]


class Logger:
    """Duplicates everything written to stdout/stderr into a log file."""

    def __init__(self, file_name: str = None, file_mode: str = "w", should_flush: bool = True):
        self.file = open(file_name, file_mode) if file_name is not None else None
        self.should_flush = should_flush
        self.stdout = sys.stdout
        self.stderr = sys.stderr
        sys.stdout = self
        sys.stderr = self

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def write(self, text: str) -> None:
        if not text:
            return
        if self.file is not None:
            self.file.write(text)
        self.stdout.write(text)
        if self.should_flush:
            self.flush()

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()
        self.stdout.flush()

    def close(self) -> None:
        self.flush()
        if sys.stdout is self:
            sys.stdout = self.stdout
        if sys.stderr is self:
            sys.stderr = self.stderr
        if self.file is not None:
            self.file.close()
            self.file = None


class Progress:
    """Progress of a long job, drawn by tqdm: 'label: done/total images, rate images/s, elapsed, ETA'.

    Redrawn in place on a terminal; on other streams (logs) at most every `interval` seconds (5 by
    default). `update(done)` sets the count, `advance(n)` adds to it; `close()` leaves the last line.
    The one progress display of the project (dataset conversion, metrics, figures).
    """

    def __init__(self, total=None, label=None, unit="images", stream=None, enabled=True, interval=None):
        import tqdm
        stream = stream if stream is not None else sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        fmt = (("{desc}: " if label else "") +
               "{n_fmt}/{total_fmt}{unit}, {rate_fmt}, elapsed {elapsed}, ETA {remaining}{postfix}")
        self._bar = tqdm.tqdm(total=total, desc=label, unit=" " + unit, file=stream, disable=not enabled,
                              mininterval=interval if interval is not None else (0.2 if tty else 5.0),
                              bar_format=fmt, dynamic_ncols=tty, leave=True)
        self._done = 0

    @property
    def done(self) -> int:
        return self._done

    def update(self, done) -> None:
        """Set the number of items done."""
        self._done = int(done)
        self._bar.update(self._done - self._bar.n)
        if self._bar.total is not None and self._done >= self._bar.total:
            self._bar.refresh()

    def advance(self, count=1) -> None:
        """Add `count` items done."""
        self.update(self._done + int(count))

    def note(self, text) -> None:
        """Show `text` after the ETA from the next redraw on (e.g. a running loss)."""
        self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def format_time(seconds: float) -> str:
    """Human-readable duration in the official style: '1d 02h 03m', '2h 03m 04s', '3m 04s', '5s'."""
    s = int(round(seconds))
    if s < 60:
        return "%ds" % s
    if s < 60 * 60:
        return "%dm %02ds" % (s // 60, s % 60)
    if s < 24 * 60 * 60:
        return "%dh %02dm %02ds" % (s // 3600, (s // 60) % 60, s % 60)
    return "%dd %02dh %02dm" % (s // 86400, (s // 3600) % 24, (s // 60) % 60)


@contextlib.contextmanager
def atomic_write(filename, mode="wb", fsync=False):
    """Open a hidden temp file beside `filename`; on success rename it over `filename` (with the
    permissions a plainly created file gets), on any error remove it: readers never see a partial file."""
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(filename) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(filename, text):
    """Write a text file atomically (temp file in the same directory, then rename)."""
    with atomic_write(filename, "w") as f:
        f.write(text)


class StopRequest:
    """SIGINT / SIGTERM set `signum` instead of killing the process, so a long job (the training loop)
    can finish its step, save and exit; a second signal raises KeyboardInterrupt."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def _handler(self, signum, _frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print("\nReceived signal %d: finishing the current step, writing a snapshot and stopping..." % signum,
              flush=True)

    def __exit__(self, *_):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def get_module_from_obj_name(obj_name: str) -> Tuple[types.ModuleType, str]:
    """Split 'pkg.module.obj.attr' into the longest importable module and the remaining attribute path."""
    obj_name = re.sub("^np.", "numpy.", obj_name)
    obj_name = re.sub("^tf.", "tensorflow.", obj_name)
    parts = obj_name.split(".")
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            # Only "this module does not exist" means: try a shorter prefix.
            if getattr(e, "name", None) is not None and not module_name.startswith(e.name):
                raise
            continue
        rest = ".".join(parts[i:])
        try:
            get_obj_from_module(module, rest)
        except AttributeError:
            continue
        return module, rest
    raise ImportError("cannot locate %r: no importable module prefix" % obj_name)


def get_obj_from_module(module: types.ModuleType, obj_name: str) -> Any:
    """Attribute path lookup inside a module ('' returns the module)."""
    if obj_name == "":
        return module
    obj = module
    for part in obj_name.split("."):
        obj = getattr(obj, part)
    return obj


def get_obj_by_name(name: str) -> Any:
    """Object named by a fully qualified Python path."""
    module, obj_name = get_module_from_obj_name(name)
    return get_obj_from_module(module, obj_name)


def call_func_by_name(*args, func_name: str = None, **kwargs) -> Any:
    """Call the function named by a fully qualified Python path."""
    assert func_name is not None
    func = get_obj_by_name(func_name)
    assert callable(func)
    return func(*args, **kwargs)


def is_top_level_function(obj: Any) -> bool:
    """True for a function defined at module level (so it can be named by a string)."""
    return callable(obj) and getattr(obj, "__name__", None) in vars(sys.modules.get(obj.__module__, object()))


def get_top_level_function_name(obj: Any) -> str:
    """Fully qualified name of a top-level function."""
    assert is_top_level_function(obj)
    return obj.__module__ + "." + obj.__name__


def is_url(obj: Any, allow_file_urls: bool = False) -> bool:
    """True when `obj` is a string holding an http(s) URL (or file:// URL when allowed)."""
    if not isinstance(obj, str) or "://" not in obj:
        return False
    if allow_file_urls and obj.startswith("file://"):
        return True
    try:
        res = urllib.parse.urlparse(obj)
        return bool(res.scheme in ("http", "https") and res.netloc and "." in res.netloc)
    except ValueError:
        return False


# ----------------------------------------------------------------------------
# Downloads: one cache for the whole project (network pickles, feature networks, statistics).

CACHE_DIR_ENV = "STYLEGAN_CACHE_DIR"

# Checksums known without trusting a download. torchvision names its checkpoints
# '<name>-<first 8 hex digits of the SHA-256>.pth' (torch.hub's convention), so those prefixes are
# pinned by the file name itself; NVIDIA and the TensorFlow model zoo publish no checksums.
KNOWN_SHA256_PREFIXES = {"vgg16-397923af.pth": "397923af"}


class DownloadError(IOError):
    """A URL that cannot be fetched, or a file whose SHA-256 is not the expected one."""


def default_cache_dir() -> str:
    """$STYLEGAN_CACHE_DIR, else ~/.cache/stylegan_tf (downloads go to its `downloads/` folder)."""
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "stylegan_tf")


def is_google_drive_url(url: str) -> bool:
    try:
        return urllib.parse.urlparse(url).hostname in ("drive.google.com", "docs.google.com")
    except ValueError:
        return False


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _gdown_downloader(progress: bool):
    """A pooch downloader for Google Drive links: gdown follows Drive's confirmation page."""
    def download(url, output_file, pooch_obj=None, check_only=False):
        del pooch_obj
        import gdown
        if check_only:
            return True
        try:
            out = gdown.download(url, output=str(output_file), quiet=not progress)
        except Exception as e:  # gdown raises its own FileURLRetrievalError and requests' errors
            raise DownloadError("%s: %s" % (url, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)) from None
        if out is None:
            raise DownloadError("%s: Google Drive did not deliver the file" % url)
    return download


def cached_download_path(url: str, cache_dir: str = None) -> str:
    """Where `download` keeps the file of a URL: `<cache_dir>/downloads/<md5(url)[:8]>_<file name>`. A copy
    fetched by hand and put there is used as if downloaded (for machines without internet)."""
    parsed = urllib.parse.urlparse(url)
    name = os.path.basename(parsed.path) or "download"
    if is_google_drive_url(url):
        name = "drive-" + (urllib.parse.parse_qs(parsed.query).get("id", [""])[0] or name)
    fname = hashlib.md5(url.encode("utf-8")).hexdigest()[:8] + "_" + re.sub(r"[^0-9A-Za-z_.-]", "_", name)
    return os.path.join(cache_dir or default_cache_dir(), "downloads", fname)


def download(url: str, cache_dir: str = None, sha256: str = None, progress: bool = True) -> Tuple[str, str]:
    """(local path, SHA-256) of a URL's file, fetched once into `<cache_dir>/downloads/` with pooch
    (Google Drive links through gdown) and written under a temporary name until complete.

    `sha256`: the expected digest (overrides any pinned one); a mismatch is an error and the file is
    not kept. Without it, the digest of the first download is recorded beside the cached file and
    checked on every later use, so a truncated or altered cache entry is caught; files whose
    name pins a digest prefix (KNOWN_SHA256_PREFIXES) are checked against it. `file://` URLs and
    plain paths are read in place (and checked against `sha256` when given)."""
    import pooch
    if not is_url(url, allow_file_urls=True):
        path = url
    elif url.startswith("file://"):
        path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
    else:
        path = None
    if path is not None:
        if not os.path.isfile(path):
            raise DownloadError("no such file: %s" % path)
        digest = file_sha256(path)
        if sha256 is not None and digest != sha256.lower():
            raise DownloadError("%s has the wrong checksum: sha256 %s, expected %s" % (url, digest, sha256.lower()))
        return path, digest

    cached = cached_download_path(url, cache_dir)
    downloads, fname = os.path.split(cached)
    parsed = urllib.parse.urlparse(url)
    record = os.path.join(downloads, fname + ".sha256")
    expected = sha256.lower() if sha256 else None
    if expected is None and os.path.isfile(record):
        with open(record) as f:
            expected = f.read().strip() or None
    if os.path.isfile(cached) and expected is not None and file_sha256(cached) != expected:
        raise DownloadError("%s: the cached copy %s has the wrong checksum (expected sha256 %s); delete it to download again"
                            % (url, cached, expected))
    downloader = _gdown_downloader(progress) if is_google_drive_url(url) else pooch.HTTPDownloader(progressbar=progress)
    try:
        path = pooch.retrieve(url, known_hash=("sha256:" + expected) if expected else None, fname=fname,
                              path=downloads, downloader=downloader)
    except ValueError as e:  # pooch: "SHA256 hash of downloaded file (...) does not match the known hash"
        raise DownloadError("%s has the wrong checksum (%s)" % (url, str(e).splitlines()[0])) from None
    except DownloadError:
        raise
    except Exception as e:  # requests' HTTP/connection errors
        raise DownloadError("could not download %s: %s" % (url, e)) from None
    digest = file_sha256(path)
    prefix = KNOWN_SHA256_PREFIXES.get(os.path.basename(parsed.path))
    if sha256 is None and prefix is not None and not digest.startswith(prefix):
        os.remove(path)
        raise DownloadError("%s has the wrong checksum: sha256 %s does not start with %s (pinned by its name)"
                            % (url, digest, prefix))
    if not os.path.isfile(record):
        fd, tmp = tempfile.mkstemp(dir=downloads, prefix=".tmp_")
        with os.fdopen(fd, "w") as f:
            f.write(digest + "\n")
        os.replace(tmp, record)
    return path, digest


def open_url(url: str, cache_dir: str = None, sha256: str = None, verbose: bool = True) -> Any:
    """Open a local path or a URL as a binary file object (URLs through `download`'s cache)."""
    if not is_url(url, allow_file_urls=True):
        return open(url, "rb")
    path, _ = download(url, cache_dir=cache_dir, sha256=sha256, progress=verbose)
    return open(path, "rb")
