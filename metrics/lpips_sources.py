"""LPIPS-VGG16 weights from the files users have, mapped onto our layout (`feature_nets.lpips_weight_shapes`).

Sources (none is ever executed or imported as code):
- NVIDIA's `vgg16_zhang_perceptual.pkl`: a `dnnlib.tflib.Network` pickle with embedded source. A
  restricted unpickler keeps its state and reads `variables` (and those of its components).
- The `lpips` package's `weights/v0.1/vgg.pth` (`lin0..lin4`, key `lin{i}.model.1.weight`,
  [1, C, 1, 1]) together with torchvision's `vgg16-397923af.pth` (`features.{0,2,5,...,28}`, conv
  weights [out, in, 3, 3]); also a full `lpips.LPIPS` state dict (`net.slice{k}.{idx}.*` + `lin*`).
  Read with `metrics.torch_checkpoint` (no torch).
- Our `.npz` (what `python -m metrics.convert_lpips` writes).

Names first: a variable is named by its own name when that name says which layer it is
(`conv{b}_{i}` VGG names, torchvision `features.{idx}` indices, `lin{i}`, and the `weight`/`bias`
or `W`/`b` suffix); only arrays whose names say nothing are placed by order and shape (see
`map_arrays`). Every mapping reports how each of our keys was found.
"""

import io
import pickle
import re

import numpy as np

from metrics import feature_nets
from metrics import torch_checkpoint

# torchvision's vgg16().features indices of the 13 convolutions, in VGG order (conv1_1 ... conv5_3).
TORCHVISION_VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
CONV_NAMES = tuple(name for name, _, _ in feature_nets.VGG16_CONVS)


class LPIPSSourceError(ValueError):
    """LPIPS weights that do not fit: names the first variable (or key) that does not."""


# ----------------------------------------------------------------------------
# NVIDIA's network pickle, read without executing it.

class _State:
    """Stands in for dnnlib.tflib.network.Network: keeps the pickled state, builds nothing."""

    def __setstate__(self, state):
        self.state = state


_PICKLE_ALLOWED = {("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype"),
                   ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                   ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
                   ("_codecs", "encode"), ("builtins", "object")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("dnnlib.tflib.network", "Network"):
            return _State
        if (module, name) == ("dnnlib.util", "EasyDict"):
            return dict
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError("refusing %s.%s in an LPIPS pickle" % (module, name))
        if module.startswith("numpy.core."):
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def read_network_pickle_arrays(data, source="<pickle>"):
    """[(name, array)] of a tflib network pickle's variables (components first, prefixed
    '<component>/'), or of a pickled dict of arrays, in stored order."""
    try:
        obj = _Unpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        raise LPIPSSourceError("%s: not a readable network pickle (%s)" % (source, e)) from None
    if isinstance(obj, (tuple, list)):
        obj = obj[-1]
    out = []

    def visit(net, prefix):
        state = net.state if isinstance(net, _State) else net
        for comp_name, comp in dict(state.get("components", {})).items():
            visit(comp, prefix + comp_name + "/")
        out.extend((prefix + name, np.asarray(value)) for name, value in state["variables"])
    if isinstance(obj, _State) or (isinstance(obj, dict) and "variables" in obj):
        visit(obj, "")
    elif isinstance(obj, dict):
        out = [(str(k), np.asarray(v)) for k, v in obj.items()]
    else:
        raise LPIPSSourceError("%s: not a network pickle or a dict of arrays" % source)
    return out


# ----------------------------------------------------------------------------
# Mapping named arrays onto our keys.

def _key_from_name(name):
    """Our key ('conv3_2/weight', 'lin1/weight', ...) that a variable's name identifies, else None."""
    parts = re.split(r"[/.:]", name)
    leaf = parts[-1].lower() if parts else ""
    if leaf in ("0", "1") and len(parts) > 1:  # TF tensor names 'x/weight:0'
        parts, leaf = parts[:-1], parts[-2].lower()
    kind = {"weight": "weight", "weights": "weight", "w": "weight", "kernel": "weight", "filter": "weight",
            "bias": "bias", "biases": "bias", "b": "bias"}.get(leaf)
    if kind is None:
        return None
    m = re.search(r"(?:^|[^a-z0-9])lin_?(\d)(?:$|[^0-9])", name.lower())
    if m and kind == "weight" and int(m.group(1)) < len(feature_nets.LPIPS_TAPS):
        return "lin%d/weight" % int(m.group(1))
    m = re.search(r"conv_?(\d)_(\d)", name.lower())
    if m and "conv%s_%s" % m.groups() in CONV_NAMES:
        return "conv%s_%s/%s" % (m.group(1), m.group(2), kind)
    m = re.search(r"features[/.](\d+)[/.]", name)
    if m and int(m.group(1)) in TORCHVISION_VGG16_CONV_INDICES:
        return "%s/%s" % (CONV_NAMES[TORCHVISION_VGG16_CONV_INDICES.index(int(m.group(1)))], kind)
    m = re.search(r"slice(\d)[/.](\d+)[/.]", name)  # lpips.LPIPS state dicts: net.slice{k}.{torchvision idx}
    if m and int(m.group(2)) in TORCHVISION_VGG16_CONV_INDICES:
        return "%s/%s" % (CONV_NAMES[TORCHVISION_VGG16_CONV_INDICES.index(int(m.group(2)))], kind)
    return None


def _fit(key, name, array, expected_ndim):
    """`array` in our layout for `key` (conv weights to [3, 3, in, out], lin weights to [C])."""
    a = np.asarray(array)
    if key.startswith("lin"):
        if a.size < 1 or a.shape.count(1) < a.ndim - 1:  # a vector, possibly as [1, C, 1, 1]
            raise LPIPSSourceError("variable %s (shape %s) does not fit %s" % (name, list(a.shape), key))
        return a.reshape(-1)
    if key.endswith("/bias"):
        if a.ndim != 1:
            raise LPIPSSourceError("variable %s (shape %s) does not fit %s" % (name, list(a.shape), key))
        return a
    if a.ndim != 4 or not (a.shape[:2] == (3, 3) or a.shape[2:] == (3, 3)):
        raise LPIPSSourceError("variable %s (shape %s) does not fit %s (a 3x3 convolution)" % (name, list(a.shape), key))
    return a if a.shape[:2] == (3, 3) else a.transpose(2, 3, 1, 0)  # PyTorch [out, in, kh, kw]


def map_arrays(arrays, source="<weights>"):
    """({our key: float32 array}, {our key: 'name' | 'order'}) from [(name, array)].

    1. By name: every variable whose name identifies a layer (`_key_from_name`) goes there; two
       variables naming the same key is an error.
    2. By order and shape, for the rest: unnamed 4-D 3x3 arrays fill the still-missing
       convolutions in VGG order, each followed by the first later unnamed 1-D array of its
       width (its bias); remaining unnamed arrays of 64/128/256/512/512 entries fill the missing
       lin weights in order.
    Unused arrays that look like weights, keys left missing, or a shape that does not fit our
    network raise LPIPSSourceError naming the first such variable.
    """
    weights, how, used = {}, {}, set()
    for i, (name, a) in enumerate(arrays):
        key = _key_from_name(name)
        if key is None:
            continue
        if key in weights:
            raise LPIPSSourceError("%s: variables %s and %s both map to %s" % (source, how[key], name, key))
        weights[key] = _fit(key, name, a, None)
        how[key] = name
        used.add(i)
    # By order and shape.
    unnamed = [i for i in range(len(arrays)) if i not in used]
    for conv in CONV_NAMES:
        if conv + "/weight" in weights:
            continue
        i = next((i for i in unnamed if arrays[i][1].ndim == 4), None)
        if i is None:
            break
        weights[conv + "/weight"] = _fit(conv + "/weight", arrays[i][0], arrays[i][1], 4)
        how[conv + "/weight"] = "order"
        unnamed.remove(i)
        width = weights[conv + "/weight"].shape[3]
        if conv + "/bias" not in weights:
            j = next((j for j in unnamed if j > i and arrays[j][1].ndim == 1 and arrays[j][1].shape[0] == width), None)
            if j is None:
                raise LPIPSSourceError("%s: no bias of %d entries after variable %s (%s)" % (source, width, arrays[i][0], conv))
            weights[conv + "/bias"] = arrays[j][1]
            how[conv + "/bias"] = "order"
            unnamed.remove(j)
    for k in range(len(feature_nets.LPIPS_TAPS)):
        key = "lin%d/weight" % k
        if key in weights:
            continue
        tap = feature_nets.LPIPS_TAPS[k] + "/bias"
        width = weights[tap].shape[0] if tap in weights else feature_nets.LPIPS_CHANNELS[k]
        j = next((j for j in unnamed if arrays[j][1].size == width), None)
        if j is not None:
            weights[key] = _fit(key, arrays[j][0], arrays[j][1], None)
            how[key] = "order"
            unnamed.remove(j)
    missing = [k for k in feature_nets.lpips_weight_shapes() if k not in weights]
    if missing:
        raise LPIPSSourceError("%s: no variable for %s (%d of %d LPIPS weights found)"
                               % (source, missing[0], len(weights), len(feature_nets.lpips_weight_shapes())))
    leftover = [arrays[i][0] for i in unnamed if arrays[i][1].ndim >= 1 and arrays[i][1].size > 3]
    if leftover:
        raise LPIPSSourceError("%s: variable %s (shape %s) fits no LPIPS-VGG16 weight"
                               % (source, leftover[0], list(dict(arrays)[leftover[0]].shape)))
    return {k: np.asarray(v, np.float32) for k, v in weights.items()}, how


def _split_lpips_extras(state_dict):
    """Drop what a full lpips.LPIPS state dict holds beyond the weights (its ScalingLayer constants)."""
    extras = {k: v for k, v in state_dict.items() if k.endswith(("scaling_layer.shift", "scaling_layer.scale"))}
    return [(k, v) for k, v in state_dict.items() if k not in extras], extras


def weights_from_torch(files):
    """{our key: array}, how, from PyTorch checkpoints [(bytes, source)]: the lpips `vgg.pth`
    (lin weights) and torchvision's `vgg16-397923af.pth` in either order, or one full LPIPS state dict.
    torchvision's classifier (fc) layers are ignored."""
    arrays = []
    for data, source in files:
        try:
            sd = torch_checkpoint.load_state_dict(data, source)
        except torch_checkpoint.TorchCheckpointError as e:
            raise LPIPSSourceError(str(e)) from None
        items, _extras = _split_lpips_extras(sd)
        arrays += [(k, v) for k, v in items if not k.startswith("classifier.")]
    return map_arrays(arrays, source=" + ".join(s for _, s in files))


def is_torch_checkpoint(data):
    """True for torch.save output: a zip with <prefix>/data.pkl, or a legacy file whose first pickle is torch's magic number."""
    import zipfile
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in z.namelist())
        except zipfile.BadZipFile:
            return False
    try:
        return torch_checkpoint._Unpickler(io.BytesIO(data), {}).load() == torch_checkpoint.LEGACY_MAGIC_NUMBER
    except Exception:  # anything else is not a legacy torch file; nothing was executed
        return False


def weights_from_files(files):
    """({our key: array}, how) from [(bytes, source)] of one of the supported sources (see module doc)."""
    if all(is_torch_checkpoint(d) for d, _ in files):
        return weights_from_torch(files)
    if len(files) != 1:
        raise LPIPSSourceError("%s: give the two PyTorch checkpoints (vgg.pth and vgg16-397923af.pth) or one file"
                               % " + ".join(s for _, s in files))
    data, source = files[0]
    if data[:4] == b"PK\x03\x04":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}, {k: k for k in z.files}
        except (ValueError, OSError, EOFError) as e:
            raise LPIPSSourceError("%s: not an .npz LPIPS weights file (%s)" % (source, e)) from None
    return map_arrays(read_network_pickle_arrays(data, source), source)
