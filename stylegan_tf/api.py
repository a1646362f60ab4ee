"""A small Python API for using trained generators: plain functions on top of `dnnlib.tflib.Network`.

    from stylegan_tf import api
    Gs = api.load_generator("network-final.pkl")               # path or URL (downloads are cached)
    z = api.latents_from_seeds(Gs, [1, 2, 3])                   # [N, latent_size], one RandomState per seed
    w = api.map_latents(Gs, z)                                  # [N, num_layers, dlatent_size]
    w = api.truncate(w, api.dlatent_avg(Gs), psi=0.7, cutoff=8) # towards the average, layers < cutoff
    w = api.mix_styles(w, w[::-1], api.style_ranges(Gs)["coarse"])
    images = api.synthesize(Gs, w, noise="stored")              # uint8 [N, H, W, C]

Noise: the synthesis network adds per-pixel noise at every layer. `noise` selects it:
`'random'` (fresh TF noise per image, as `randomize_noise=True`; not reproducible), `'stored'` (the
network's `G_synthesis/noise%d` variables, as `randomize_noise=False`), `'zero'` (no noise), an integer
seed or `np.random.RandomState` (per-image noise drawn with NumPy: reproducible, same distribution as
'random'), or an explicit list of arrays, one per layer (shape `noise_shapes(Gs)[i]`, shared by every
image). `noise_layers` keeps the noise on the chosen layers only and zeroes it elsewhere.
Nothing here changes the network for good: noise variables are restored after each call.
"""

import contextlib

import numpy as np

from stylegan_tf.images import save_pil as save_image, to_pil, to_uint8  # noqa: F401  (part of the API)

__all__ = [
    "load_networks", "load_generator", "num_layers", "resolution", "label_size", "random_labels", "latents_from_seeds", "map_latents",
    "dlatent_avg", "truncate", "mix_styles", "style_ranges", "noise_shapes", "get_noise", "random_noise",
    "noise_vars", "override_noise", "synthesize", "generate", "to_uint8", "to_pil", "save_image", "Progress",
]

# ----------------------------------------------------------------------------
# Loading.


def load_networks(path_or_url, cache_dir=None):
    """`(G, D, Gs)` from a network pickle (path or URL). A pickle holding a single generator gives
    `(None, None, Gs)`. Raises FileNotFoundError, pickle.UnpicklingError or ValueError on bad input."""
    from stylegan_tf import legacy
    obj = legacy.load_pkl(path_or_url, cache_dir=cache_dir)
    if isinstance(obj, (tuple, list)) and len(obj) == 3:
        G, D, Gs = obj
    else:
        G, D, Gs = None, None, obj
    _check_generator(Gs, path_or_url)
    return G, D, Gs


def load_generator(path_or_url, cache_dir=None):
    """The long-term average generator `Gs` of a network pickle (path or URL)."""
    return load_networks(path_or_url, cache_dir=cache_dir)[2]


def _check_generator(Gs, source):
    from dnnlib.tflib import Network
    if not isinstance(Gs, Network):
        raise ValueError("%s: holds %s, not a network or a (G, D, Gs) tuple" % (source, type(Gs).__name__))
    if "mapping" not in Gs.components or "synthesis" not in Gs.components:
        raise ValueError("%s: network %r (%s) is not a style-based generator (no mapping/synthesis components)"
                         % (source, Gs.name, Gs.build_func_name))


# ----------------------------------------------------------------------------
# Shapes and latents.


def num_layers(Gs):
    """Number of style inputs (= synthesis layers): 18 at 1024x1024, 2 * log2(resolution) - 2."""
    return Gs.components.synthesis.input_shape[1]


def resolution(Gs):
    """Output resolution of the generator."""
    return Gs.output_shape[-1]


def label_size(Gs):
    """Number of classes of a conditional generator (0 for an unconditional one)."""
    return int(Gs.input_shapes[1][1]) if len(Gs.input_shapes) > 1 else 0


def random_labels(Gs, n, rnd):
    """float32 [n, label_size(Gs)]: a one-hot class drawn uniformly per row with `rnd` (a RandomState);
    [n, 0] and nothing drawn for an unconditional generator."""
    labels = np.zeros([n, label_size(Gs)], np.float32)
    if labels.shape[1]:
        labels[np.arange(n), rnd.randint(labels.shape[1], size=n)] = 1.0
    return labels


def latents_from_seeds(Gs_or_latent_size, seeds):
    """[len(seeds), latent_size] float32 latents, row i = `RandomState(seeds[i]).randn(latent_size)`
    (the convention of the official figure scripts)."""
    size = Gs_or_latent_size if isinstance(Gs_or_latent_size, (int, np.integer)) else Gs_or_latent_size.input_shape[1]
    if len(seeds) == 0:
        return np.zeros([0, size], np.float32)
    return np.stack([np.random.RandomState(int(s)).randn(size) for s in seeds]).astype(np.float32)


def map_latents(Gs, latents, labels=None, minibatch_size=None):
    """z [N, latent_size] -> w [N, num_layers, dlatent_size] with the mapping network. `labels`: [N, label_size],
    or one row [1, label_size] for every latent (a class)."""
    latents = np.asarray(latents, np.float32)
    if labels is not None and len(labels) == 1 and len(latents) != 1:
        labels = np.repeat(np.asarray(labels, np.float32), len(latents), axis=0)
    return Gs.components.mapping.run(latents, labels, minibatch_size=minibatch_size)


def dlatent_avg(Gs):
    """The tracked average of w, [dlatent_size]."""
    return Gs.get_var("dlatent_avg")


def truncate(dlatents, avg, psi, cutoff=None):
    """Truncation trick: w' = avg + (w - avg) * psi on the layers with index < cutoff (all layers when
    `cutoff` is None), w elsewhere. psi = 1 returns w unchanged; psi = 0 gives `avg` on truncated layers;
    negative psi moves to the opposite side of the average. `dlatents` is [N, num_layers, dlatent_size]."""
    w = np.asarray(dlatents, np.float32)
    avg = np.asarray(avg, np.float32)
    coefs = np.ones([w.shape[1]], np.float32)
    coefs[:w.shape[1] if cutoff is None else max(int(cutoff), 0)] = psi
    coefs = coefs[np.newaxis, :, np.newaxis]
    return np.where(coefs == 1, w, avg + (w - avg) * coefs).astype(np.float32)


def mix_styles(dst_dlatents, src_dlatents, layers):
    """Style mixing: a copy of `dst_dlatents` whose layers `layers` (indices, a range or a boolean mask)
    come from `src_dlatents`. Both are [N, num_layers, dlatent_size] (or broadcastable: [num_layers, D])."""
    dst, src = np.broadcast_arrays(np.asarray(dst_dlatents, np.float32), np.asarray(src_dlatents, np.float32))
    if dst.ndim == 2:
        dst, src = dst[np.newaxis], src[np.newaxis]
    out = np.array(dst, copy=True)
    idx = np.asarray(list(layers) if not isinstance(layers, np.ndarray) else layers)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    out[:, idx.astype(int)] = src[:, idx.astype(int)]
    return out


def style_ranges(Gs_or_num_layers):
    """Layer ranges of the paper's coarse / middle / fine styles:
    {'coarse': range, 'middle': range, 'fine': range}.

    From 64x64 up (>= 10 layers) these are the paper's: coarse = resolutions 4-8 (layers 0-3), middle =
    16-32 (4-7), fine = 64 and up (8-). Smaller generators would have no fine styles that way, so they
    get coarse = 4x4, fine = the output resolution, middle = the resolutions in between (empty at 8x8;
    a 4x4 generator has only coarse styles)."""
    n = Gs_or_num_layers if isinstance(Gs_or_num_layers, (int, np.integer)) else num_layers(Gs_or_num_layers)
    if n >= 10:
        return {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, n)}
    if n <= 2:
        return {"coarse": range(0, n), "middle": range(n, n), "fine": range(n, n)}
    return {"coarse": range(0, 2), "middle": range(2, n - 2), "fine": range(n - 2, n)}


# ----------------------------------------------------------------------------
# Noise.


def noise_vars(Gs):
    """The synthesis network's noise variables `G_synthesis/noise0..`, in layer order."""
    syn = Gs.components.synthesis
    names = sorted((name for name in syn.vars if name.startswith("noise")), key=lambda s: int(s[len("noise"):]))
    return [syn.vars[name] for name in names]


def noise_shapes(Gs):
    """Shape of each layer's noise input, [1, 1, res, res]."""
    return [tuple(var.shape) for var in noise_vars(Gs)]


def get_noise(Gs):
    """Current values of the stored noise variables (a list of arrays)."""
    return [var.numpy() for var in noise_vars(Gs)]


def random_noise(Gs, rnd):
    """Fresh standard-normal noise for every layer, drawn from `rnd` (a RandomState or a seed)."""
    rnd = rnd if isinstance(rnd, np.random.RandomState) else np.random.RandomState(rnd)
    return [rnd.standard_normal(shape).astype(np.float32) for shape in noise_shapes(Gs)]


def _assign_noise(variables, values, layers):
    if len(values) != len(variables):
        raise ValueError("expected noise for %d layers, got %d" % (len(variables), len(values)))
    keep = set(range(len(variables))) if layers is None else {int(i) for i in layers}
    for i, (var, value) in enumerate(zip(variables, values)):
        value = np.asarray(value, np.float32)
        if value.shape != tuple(var.shape):
            raise ValueError("noise for layer %d has shape %s, expected %s" % (i, value.shape, tuple(var.shape)))
        var.assign(value if i in keep else np.zeros_like(value))


@contextlib.contextmanager
def override_noise(Gs, noise=None, layers=None):
    """Within the block, the stored noise is `noise` (a list of arrays; None keeps the current values)
    multiplied by 1 on `layers` and 0 elsewhere (None = all layers). Restored on exit."""
    variables = noise_vars(Gs)
    saved = [var.numpy() for var in variables]
    try:
        _assign_noise(variables, saved if noise is None else list(noise), layers)
        yield
    finally:
        for var, value in zip(variables, saved):
            var.assign(value)


# ----------------------------------------------------------------------------
# Synthesis.


def _output_transform(output):
    import dnnlib.tflib as tflib
    if output == "uint8":
        return dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True)
    if output == "float":
        return None
    raise ValueError("output must be 'uint8' (NHWC uint8) or 'float' (NCHW in [-1, 1]), got %r" % (output,))


def synthesize(Gs, dlatents, noise="stored", noise_layers=None, minibatch_size=8, output="uint8", progress=None):
    """w [N, num_layers, dlatent_size] -> images: uint8 [N, H, W, C] (`output='uint8'`) or float
    [N, C, H, W] in [-1, 1] (`output='float'`). See the module docstring for `noise` / `noise_layers`.
    `progress(num_done)` is called after each minibatch (or image)."""
    dlatents = np.asarray(dlatents, np.float32)
    syn = Gs.components.synthesis
    kwargs = dict(output_transform=_output_transform(output), minibatch_size=minibatch_size)
    num = dlatents.shape[0]
    if isinstance(noise, str) and noise == "random" and noise_layers is None:
        return _batched(lambda w: syn.run(w, randomize_noise=True, **kwargs), dlatents, minibatch_size, progress)
    if isinstance(noise, str) and noise in ("stored", "zero"):
        layers = [] if noise == "zero" else noise_layers
        with override_noise(Gs, None, layers):
            return _batched(lambda w: syn.run(w, randomize_noise=False, **kwargs), dlatents, minibatch_size,
                            progress)
    if isinstance(noise, (list, tuple)):
        with override_noise(Gs, noise, noise_layers):
            return _batched(lambda w: syn.run(w, randomize_noise=False, **kwargs), dlatents, minibatch_size,
                            progress)
    # Per-image noise (noise variables are shared by a minibatch, so one image at a time).
    if isinstance(noise, str) and noise == "random":
        rnd = np.random.RandomState()
    elif isinstance(noise, np.random.RandomState):
        rnd = noise
    elif isinstance(noise, (int, np.integer)):
        rnd = np.random.RandomState(int(noise))
    else:
        raise ValueError("noise must be 'random', 'stored', 'zero', a seed, a RandomState or a list of arrays, "
                         "got %r" % (noise,))
    if num == 0:
        return syn.run(dlatents, randomize_noise=False, **kwargs)
    outputs = []
    variables = noise_vars(Gs)
    with override_noise(Gs):
        for i in range(num):
            _assign_noise(variables, random_noise(Gs, rnd), noise_layers)
            outputs.append(syn.run(dlatents[i:i + 1], randomize_noise=False, **kwargs))
            if progress is not None:
                progress(i + 1)
    return np.concatenate(outputs)


def _batched(func, dlatents, minibatch_size, progress):
    num = dlatents.shape[0]
    if progress is None or num == 0:
        return func(dlatents)
    step = max(int(minibatch_size or num), 1)
    outputs = []
    for begin in range(0, num, step):
        outputs.append(func(dlatents[begin:begin + step]))
        progress(min(begin + step, num))
    return np.concatenate(outputs)


def generate(Gs, latents, truncation_psi=0.7, truncation_cutoff=8, noise="stored", noise_layers=None, labels=None,
             minibatch_size=8, output="uint8", progress=None):
    """z -> images: map, truncate (psi towards `dlatent_avg` on layers < cutoff; psi=1 or None: none), synthesise."""
    w = map_latents(Gs, latents, labels, minibatch_size=minibatch_size)
    if truncation_psi is not None and truncation_psi != 1:
        w = truncate(w, dlatent_avg(Gs), truncation_psi, truncation_cutoff)
    return synthesize(Gs, w, noise=noise, noise_layers=noise_layers, minibatch_size=minibatch_size, output=output,
                      progress=progress)


def __getattr__(name):
    """`api.Progress` is `dnnlib.util.Progress`, imported on first use (importing the API stays light)."""
    if name == "Progress":
        import dnnlib
        return dnnlib.util.Progress
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
