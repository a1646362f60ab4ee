"""The logic of `explore.py`'s page, without Gradio: plain functions over a loaded generator, so that the
page, its tests, the notebook and the benchmark run the same code.

    from stylegan_tf import api, explorer
    ex = explorer.Explorer(api.load_generator("network-final.pkl"))
    view = explorer.View(seed=3, psi=0.7, seed_b=8, mix_layers=explorer.preset_layers("coarse", ex.num_layers))
    out = ex.render(view)      # out.image (A with B's coarse styles), out.a, out.b: uint8 [H, W, C]; out.w
    explorer.save_latent("w.npz", out.w, view)   # python generate.py --network ... --w w.npz redraws out.image

A `View` holds every control of the page. `Explorer.render` maps seeds A and B, truncates, takes the
layers `mix_layers` of A from B (the paper's style mixing), moves the result along editing directions
and synthesises it with A and B beside it, in one batch (two with per-seed random noise). Noise is the
generator tools' `--noise_mode`: const (stored), random (drawn from the seed, as generate.py) or none,
kept only on the layers `noise_layers` (the paper's Figure 5). Uploads are decoded here with size
limits (`read_upload`), and projected with `stylegan_tf.projection` on a private copy of the generator,
so a long projection never touches the noise variables a render is using.
"""

import dataclasses
import os
import threading
import warnings

import numpy as np

from stylegan_tf import api
from stylegan_tf import directions as dirs

NOISE_MODES = ("const", "random", "none")
LAYER_PRESETS = ("all", "coarse", "middle", "fine", "none")
NOISE_SEED_SALT = 0x5eed            # RandomState([seed, salt]): the noise of a seed, as generate.py --noise_mode random
MAX_UPLOAD_BYTES = 20 * 2 ** 20     # uploads larger than this are refused before decoding
MAX_UPLOAD_PIXELS = 4096 * 4096     # ... and images with more pixels than this, from their header
PSI_RANGE = (-2.0, 2.0)


class ExploreError(ValueError):
    """Bad input from the page (an upload, a control value): its message is shown on the page, one line."""


def one_line(e):
    """An exception as one line of text, for the page."""
    text = " ".join(str(e).split())
    return text or type(e).__name__


# ----------------------------------------------------------------------------
# Layers.


def layer_resolution(i):
    """Resolution of synthesis layer i (two layers per resolution, from 4x4)."""
    return 4 * 2 ** (i // 2)


def layer_choices(num_layers):
    """(label, index) pairs naming each style layer by its resolution, for check boxes."""
    return [("%d (%d)" % (i, layer_resolution(i)), i) for i in range(num_layers)]


def preset_layers(preset, num_layers):
    """Layer indices of a preset: 'all', 'none' or the paper's 'coarse' / 'middle' / 'fine'
    (`api.style_ranges`)."""
    if preset == "all":
        return list(range(num_layers))
    if preset == "none":
        return []
    ranges = api.style_ranges(num_layers)
    if preset not in ranges:
        raise ExploreError("unknown layer preset %r (expected one of %s)" % (preset, ", ".join(LAYER_PRESETS)))
    return list(ranges[preset])


def _layers(value, num_layers, what):
    """A preset name or a list of indices -> sorted valid indices."""
    if value is None:
        return list(range(num_layers))
    if isinstance(value, str):
        return preset_layers(value, num_layers)
    try:
        idx = sorted({int(i) for i in value})
    except (TypeError, ValueError):
        raise ExploreError("%s: expected layer indices, got %r" % (what, value)) from None
    if idx and not 0 <= idx[0] <= idx[-1] < num_layers:
        raise ExploreError("%s: layers %s outside 0-%d" % (what, idx, num_layers - 1))
    return idx


# ----------------------------------------------------------------------------
# Directions.


def load_directions(path, Gs):
    """{name: float32 [num_layers, dlatent_size]} of every `*.npy` in a directory written by
    `run_metrics.py --directions`, checked against the generator. Raises DirectionError (one line,
    naming the file) for a missing or empty directory or any file the generator cannot use."""
    if not os.path.isdir(path):
        raise dirs.DirectionError("%s: no such directory" % path)
    names = sorted(f for f in os.listdir(path) if f.endswith(".npy"))
    if not names:
        raise dirs.DirectionError("%s: holds no .npy direction files" % path)
    size = Gs.components.synthesis.input_shape[2]
    return {name[:-4]: dirs.load_direction(os.path.join(path, name), api.num_layers(Gs), size) for name in names}


# ----------------------------------------------------------------------------
# The view and its rendering.


@dataclasses.dataclass
class View:
    """Every control of the page. `cutoff` None truncates all layers; `class_idx` None is class 0 of a
    conditional generator; `noise_layers`, `mix_layers`, `edit_layers`: a preset name or layer indices;
    `strengths`: {direction name: strength}; `w`: a latent [num_layers, dlatent_size] (e.g. a projection)
    used as A instead of seed A's."""
    seed: int = 0
    psi: float = 0.7
    cutoff: int = None
    class_idx: int = None
    noise_mode: str = "const"
    noise_layers: object = "all"
    seed_b: int = 1
    mix_layers: object = ()
    strengths: dict = dataclasses.field(default_factory=dict)
    edit_layers: object = "all"
    w: np.ndarray = None


@dataclasses.dataclass
class Rendered:
    """The page's images (uint8 [H, W, C]: the current image, sources A and B) and the current latent
    w [num_layers, dlatent_size]."""
    image: np.ndarray
    a: np.ndarray
    b: np.ndarray
    w: np.ndarray


def seed_noise(Gs, seed):
    """Noise of one seed for every layer, RandomState([seed, 0x5eed]): generate.py's `--noise_mode random`."""
    return api.random_noise(Gs, np.random.RandomState([int(seed), NOISE_SEED_SALT]))


class Explorer:
    """A loaded generator with its editing directions; `render` draws a `View`. Thread-safe: renders take
    turns (api.synthesize sets the noise variables for the duration of a call); projection runs on a
    copy of the generator made on first use."""

    def __init__(self, Gs, directions=None, name=None):
        self.Gs = Gs
        self.name = name or Gs.name
        self.directions = dict(directions or {})
        self.num_layers = api.num_layers(Gs)
        self.resolution = api.resolution(Gs)
        self.channels = int(Gs.output_shape[1])
        self.label_size = api.label_size(Gs)
        self._lock = threading.Lock()
        self._proj_lock = threading.Lock()
        self._proj_Gs = None

    def describe(self):
        """One line about the generator, for the page's title."""
        return "%s: %dx%d %s, %d style layers, %s%s" % (
            self.name, self.resolution, self.resolution, "RGB" if self.channels == 3 else "grayscale",
            self.num_layers, "%d classes" % self.label_size if self.label_size else "unconditional",
            ", %d editing directions" % len(self.directions) if self.directions else "")

    def check(self, view):
        """Raise ExploreError for control values outside what this generator takes."""
        for name, seed in (("seed", view.seed), ("seed B", view.seed_b)):
            if seed is None or not 0 <= int(seed) < 2 ** 32 or int(seed) != seed:
                raise ExploreError("%s must be an integer in [0, 2^32), got %r" % (name, seed))
        if view.psi is None or not PSI_RANGE[0] <= float(view.psi) <= PSI_RANGE[1]:
            raise ExploreError("psi must be in [%g, %g], got %r" % (*PSI_RANGE, view.psi))
        if view.cutoff is not None and not 0 <= int(view.cutoff) <= self.num_layers:
            raise ExploreError("cutoff must be in 0-%d, got %r" % (self.num_layers, view.cutoff))
        if view.noise_mode not in NOISE_MODES:
            raise ExploreError("noise mode must be one of %s, got %r" % (", ".join(NOISE_MODES), view.noise_mode))
        if self.label_size and view.class_idx is not None and not 0 <= int(view.class_idx) < self.label_size:
            raise ExploreError("class must be in 0-%d, got %r" % (self.label_size - 1, view.class_idx))
        unknown = sorted(set(view.strengths) - set(self.directions))
        if unknown:
            raise ExploreError("no editing direction named %s" % ", ".join(map(repr, unknown)))
        if view.w is not None and np.shape(view.w) != (self.num_layers, self.Gs.components.synthesis.input_shape[2]):
            raise ExploreError("latent has shape %s, this generator needs [%d, %d]" % (
                list(np.shape(view.w)), self.num_layers, self.Gs.components.synthesis.input_shape[2]))

    def labels(self, class_idx, n):
        """One-hot labels [n, label_size] of a class (None for an unconditional generator)."""
        if not self.label_size:
            return None
        labels = np.zeros([n, self.label_size], np.float32)
        labels[:, int(class_idx or 0)] = 1
        return labels

    def dlatents(self, view):
        """(w of the current image, w of A, w of B), each [1, num_layers, dlatent_size]: mapped, A replaced
        by `view.w` when given, truncated, mixed, edited."""
        self.check(view)
        z = api.latents_from_seeds(self.Gs, [int(view.seed), int(view.seed_b)])
        w = api.map_latents(self.Gs, z, self.labels(view.class_idx, 2))
        if view.w is not None:
            w[0] = np.asarray(view.w, np.float32)
        if float(view.psi) != 1:
            w = api.truncate(w, api.dlatent_avg(self.Gs), float(view.psi), view.cutoff)
        a, b = w[0:1], w[1:2]
        current = api.mix_styles(a, b, _layers(view.mix_layers, self.num_layers, "style mixing"))
        edit_layers = _layers(view.edit_layers, self.num_layers, "edit layers")
        for name, strength in sorted(view.strengths.items()):
            if strength:
                current = dirs.apply_direction(current, self.directions[name], float(strength), edit_layers)
        return current, a, b

    def render(self, view):
        """Draw a view: a `Rendered` (the current image, A and B, and the current w). The current image
        and A have seed A's noise, B seed B's (with noise mode 'random')."""
        current, a, b = self.dlatents(view)
        layers = _layers(view.noise_layers, self.num_layers, "noise layers")
        with self._lock:
            if view.noise_mode == "random":
                first = api.synthesize(self.Gs, np.concatenate([current, a]), noise=seed_noise(self.Gs, view.seed),
                                       noise_layers=layers)
                second = api.synthesize(self.Gs, b, noise=seed_noise(self.Gs, view.seed_b), noise_layers=layers)
                images = np.concatenate([first, second])
            else:
                noise = "stored" if view.noise_mode == "const" and layers else "zero"
                images = api.synthesize(self.Gs, np.concatenate([current, a, b]), noise=noise, noise_layers=layers)
        return Rendered(image=images[0], a=images[1], b=images[2], w=current[0])

    # ------------------------------------------------------------------------
    # Projection.

    def project(self, target, lpips, space="w", num_steps=100, seed=0, progress=None):
        """Project a uint8 [res, res, C] image (`read_upload`) with `stylegan_tf.projection.project`, the
        noise fixed to the stored maps (so the page's const noise redraws the result exactly). Returns
        (w [num_layers, dlatent_size], uint8 image, LPIPS distance). `progress(step, num_steps)` per step."""
        from stylegan_tf import projection
        if space not in ("w", "w+"):
            raise ExploreError("space must be 'w' or 'w+', got %r" % (space,))
        if not 1 <= int(num_steps) <= 10000:
            raise ExploreError("steps must be in 1-10000, got %r" % (num_steps,))
        with self._proj_lock:  # one projection at a time, on a copy: renders go on meanwhile
            if self._proj_Gs is None:
                self._proj_Gs = self.Gs.clone(self.Gs.name + "_projection")
            callback = None if progress is None else (lambda step, images: progress(step + 1, int(num_steps)))
            result = projection.project(self._proj_Gs, np.asarray(target, np.uint8)[np.newaxis], lpips, space=space,
                                        num_steps=int(num_steps), seed=seed, callback=callback, optimize_noise=False)
        return result["w"][0], result["images"][0], float(result["lpips"][0])


# ----------------------------------------------------------------------------
# Files: uploads in, PNG and latents out.


def read_upload(path, resolution, channels, max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_UPLOAD_PIXELS):
    """An uploaded image as uint8 [resolution, resolution, channels]: size checked on disk and in the header
    before decoding, decoded by Pillow with its decompression-bomb limits as errors and truncated files
    refused, EXIF orientation applied, centre-cropped to a square, Lanczos-resized, converted to RGB or L.
    Raises ExploreError with a one-line reason for anything else."""
    import PIL.Image
    import PIL.ImageFile
    import PIL.ImageOps
    if path is None:
        raise ExploreError("no image given: drop one on the upload area first")
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise ExploreError("cannot read the upload (%s)" % one_line(e)) from None
    if size > max_bytes:
        raise ExploreError("the upload is %.1f MB; the limit is %.0f MB" % (size / 2 ** 20, max_bytes / 2 ** 20))
    name = os.path.basename(path)
    PIL.ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(path) as img:
                if img.width * img.height > max_pixels:
                    raise ExploreError("%s is %dx%d pixels; the limit is %d megapixels" % (
                        name, img.width, img.height, max_pixels // 10 ** 6))
                img.load()
                image = PIL.ImageOps.exif_transpose(img)
                image = image.convert("RGBA" if image.mode in ("P", "LA", "PA") else image.mode)
    except ExploreError:
        raise
    except PIL.UnidentifiedImageError:
        raise ExploreError("%s is not an image Pillow can read (PNG, JPEG, WebP, ...)" % name) from None
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as e:
        raise ExploreError("%s is too large to decode safely (%s)" % (name, one_line(e))) from None
    except Exception as e:  # a corrupt file can raise almost anything inside a decoder
        raise ExploreError("%s could not be decoded (%s)" % (name, one_line(e))) from None
    want = "L" if channels == 1 else "RGB"
    if image.mode != want:
        if image.mode in ("RGBA", "LA"):  # transparent areas onto white
            base = PIL.Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = PIL.Image.alpha_composite(base, image.convert("RGBA"))
        image = image.convert(want)
    w, h = image.size
    s = min(w, h)
    image = image.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), PIL.Image.Resampling.LANCZOS)
    arr = np.asarray(image, np.uint8)
    return arr[:, :, np.newaxis] if arr.ndim == 2 else arr


def save_png(path, image):
    """uint8 [H, W, C] as a PNG (written atomically)."""
    api.save_image(image, path)


def save_latent(path, w, view=None):
    """The current latent as an .npz that `generate.py --w` reads: array `w` [1, num_layers, dlatent_size]
    (already truncated, mixed and edited: draw it with --trunc 1, the default), and the view's controls
    as scalars for the record. Written atomically."""
    arrays = dict(w=np.asarray(w, np.float32)[np.newaxis])
    if view is not None:
        arrays.update(seed=np.int64(view.seed), psi=np.float32(view.psi), seed_b=np.int64(view.seed_b),
                      noise_mode=np.str_(view.noise_mode))
    import dnnlib
    with dnnlib.util.atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
