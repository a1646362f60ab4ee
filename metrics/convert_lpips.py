"""Convert LPIPS-VGG16 weights to the `.npz` layout that `metrics.feature_nets.load_lpips` reads.

    python -m metrics.convert_lpips --src vgg16_zhang_perceptual.pkl --dst lpips_vgg16.npz

Source: the official StyleGAN PPL network `vgg16_zhang_perceptual.pkl` (a TF1 network pickle
whose build function is in its embedded source, so `load_pkl` cannot build it) or any `.npz` /
pickle of named arrays. The pickle is read WITHOUT executing anything: a restricted unpickler
takes the `variables` list of the pickled network state. Variables are matched by order and
shape (the names inside NVIDIA's pickle could not be inspected here): the 13 3x3 convolutions in
order are conv1_1 ... conv5_3 (TF layout [3, 3, in, out]; PyTorch [out, in, 3, 3] is transposed),
each followed by its bias; the remaining arrays whose sizes are 64, 128, 256, 512, 512, in order,
are the LPIPS 'lin' weights. Anything that does not fit this pattern is an error.
"""

import argparse
import io
import pickle
import sys

import numpy as np

from metrics import feature_nets


class _State:
    """Stands in for dnnlib.tflib.network.Network: keeps the pickled state, builds nothing."""

    def __setstate__(self, state):
        self.state = state


_ALLOWED = {("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"), ("dnnlib.util", "EasyDict"), ("builtins", "object")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("dnnlib.tflib.network", "Network"):
            return _State
        if (module, name) == ("dnnlib.util", "EasyDict"):
            return dict
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError("refusing %s.%s in an LPIPS pickle" % (module, name))
        if module.startswith("numpy.core."):
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def read_arrays(path):
    """[(name, array)] in stored order from a network pickle or an .npz."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"PK":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return [(k, z[k]) for k in z.files]
    obj = _Unpickler(io.BytesIO(data), encoding="latin1").load()
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
        out = [(k, np.asarray(v)) for k, v in obj.items()]
    else:
        raise ValueError("%s: not a network pickle or a dict of arrays" % path)
    return out


def map_arrays(arrays):
    """{our key: array} from [(name, array)] by order and shape (see the module docstring)."""
    names = [n for n, _, _ in feature_nets.VGG16_CONVS]
    weights, used = {}, set()
    conv_idx = 0
    for i, (name, a) in enumerate(arrays):
        if a.ndim == 4 and (a.shape[:2] == (3, 3) or a.shape[2:] == (3, 3)) and conv_idx < len(names):
            w = a if a.shape[:2] == (3, 3) else a.transpose(2, 3, 1, 0)
            key = names[conv_idx]
            weights[key + "/weight"] = w
            used.add(i)
            bias = next((j for j in range(i + 1, len(arrays)) if j not in used and arrays[j][1].ndim == 1
                         and arrays[j][1].shape[0] == w.shape[3]), None)
            if bias is None:
                raise ValueError("no bias found for %s (%s)" % (key, name))
            weights[key + "/bias"] = arrays[bias][1]
            used.add(bias)
            conv_idx += 1
    if conv_idx != len(names):
        raise ValueError("found %d 3x3 convolutions, LPIPS-VGG16 has %d" % (conv_idx, len(names)))
    rest = [a for i, (_, a) in enumerate(arrays) if i not in used]
    taps = [weights[t + "/bias"].shape[0] for t in feature_nets.LPIPS_TAPS]
    lin = [a for a in rest if a.size in taps]
    for k, c in enumerate(taps):
        match = next((idx for idx, a in enumerate(lin) if a.size == c), None)
        if match is None:
            raise ValueError("no lin weights of %d entries for LPIPS layer %d" % (c, k))
        weights["lin%d/weight" % k] = lin.pop(match).reshape(-1)
    return {k: np.asarray(v, np.float32) for k, v in weights.items()}


def convert(src, dst):
    weights = map_arrays(read_arrays(src))
    feature_nets.LPIPSVGG16(weights, source=src)  # validates the shapes
    feature_nets.save_lpips_weights(weights, dst)
    return weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="vgg16_zhang_perceptual.pkl (or .npz / pickle of arrays)")
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
