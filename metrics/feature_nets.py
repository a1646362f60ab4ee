"""Feature networks of the metrics: Inception-v3 pool features (FID), LPIPS-VGG16 (PPL) and the
CelebA-HQ attribute classifiers (LS), each loaded from a local path or a URL with a download cache
and a SHA-256 check.

- Inception: the 2015-12-05 Inception-v3 GraphDef (`classify_image_graph_def.pb`, also accepted
  inside `inception-2015-12-05.tgz`), the graph the reference FID implementation (TTUR) uses. We
  feed images at its `ExpandDims:0` tensor (float NHWC in [0, 255]; the graph itself resizes to
  299x299 and rescales to [-1, 1]) and read `pool_3:0` (2048 features). Callers give uint8 NCHW
  images, like the official `inception_v3_features.pkl`.
- LPIPS-VGG16: a Keras model (`LPIPSVGG16`) whose weights come from an `.npz` file in the layout
  documented in `docs/metrics.md` (`metrics/convert_lpips.py` writes it from the official
  `vgg16_zhang_perceptual.pkl`).
- LS classifiers: network pickles loaded with `stylegan_tf.legacy.load_pkl` (ProGAN `D_paper`).
"""

import hashlib
import io
import os
import tarfile

import numpy as np
import tensorflow as tf

import dnnlib

INCEPTION_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
INCEPTION_MEMBER = "classify_image_graph_def.pb"
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_OUTPUT = "pool_3:0"

# The official StyleGAN URLs of the feature networks (Google Drive; the official code downloads them).
OFFICIAL_INCEPTION_PKL_URL = "https://drive.google.com/uc?id=1MzTY44rLToO5APn8TZmfR7_ENSe5aZUn"  # inception_v3_features.pkl
OFFICIAL_LPIPS_PKL_URL = "https://drive.google.com/uc?id=1N2-m9qszOeVC9Tq77WxsLnuWwOedQiD2"  # vgg16_zhang_perceptual.pkl


class FeatureNetworkError(Exception):
    """A feature network that cannot be used: missing, unreadable, wrong checksum, wrong format."""


# ----------------------------------------------------------------------------
# Files: path or URL, download cache, SHA-256.

def default_cache_dir():
    """The project's one cache directory (`dnnlib.util.default_cache_dir`: $STYLEGAN_CACHE_DIR)."""
    return dnnlib.util.default_cache_dir()


def sha256_of_bytes(data):
    return hashlib.sha256(data).hexdigest()


def read_file_or_url(path_or_url, cache_dir=None, sha256=None, what="file"):
    """(bytes, sha256 hex digest) of a local file or a URL, through the project's download cache
    (`dnnlib.util.download`: pooch, gdown for Google Drive, checksums recorded and checked)."""
    if path_or_url is None or path_or_url == "":
        raise FeatureNetworkError("no %s given" % what)
    if not dnnlib.util.is_url(path_or_url, allow_file_urls=True) and not os.path.isfile(path_or_url):
        raise FeatureNetworkError("%s not found: %s" % (what, path_or_url))
    try:
        path, digest = dnnlib.util.download(path_or_url, cache_dir=cache_dir, sha256=sha256)
        with open(path, "rb") as f:
            data = f.read()
    except (dnnlib.util.DownloadError, OSError) as e:
        raise FeatureNetworkError("%s %s: %s" % (what, path_or_url, e)) from None
    return data, digest


# ----------------------------------------------------------------------------
# Inception-v3 (2015-12-05 GraphDef).

def _copy_node(node, name=None, op=None, inputs=None):
    from tensorflow.core.framework import node_def_pb2
    out = node_def_pb2.NodeDef()
    out.CopyFrom(node)
    if name is not None:
        out.name = name
    if op is not None:
        out.op = op
    if inputs is not None:
        del out.input[:]
        out.input.extend(inputs)
    return out


def _new_node(like, name, op, inputs, **attrs):
    """A NodeDef on `like`'s device; attrs are AttrValue protos."""
    from tensorflow.core.framework import node_def_pb2
    out = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs), device=like.device)
    for key, value in attrs.items():
        out.attr[key].CopyFrom(value)
    return out


def _rewrite_batch_norm_with_global_normalization(node):
    """BatchNormWithGlobalNormalization(t, m, v, beta, gamma) -> current ops, the kernel's formula:
    (t - m) * (rsqrt(v + variance_epsilon) [* gamma if scale_after_normalization]) + beta.
    The last node keeps the original name, so consumers are unchanged."""
    from tensorflow.core.framework import attr_value_pb2
    A = attr_value_pb2.AttrValue
    t, m, v, beta, gamma = node.input[:5]
    ctrl = [i for i in node.input[5:] if i.startswith("^")]
    dtype = node.attr["T"]
    eps = float(node.attr["variance_epsilon"].f)
    p = node.name + "/_rewritten/"
    eps_tensor = tf.make_tensor_proto(np.asarray(eps, tf.as_dtype(dtype.type).as_numpy_dtype))
    nodes = [_new_node(node, p + "variance_epsilon", "Const", ctrl, dtype=dtype, value=A(tensor=eps_tensor)),
             _new_node(node, p + "add", "AddV2", [v, p + "variance_epsilon"], T=dtype),
             _new_node(node, p + "rsqrt", "Rsqrt", [p + "add"], T=dtype)]
    scale = p + "rsqrt"
    if node.attr["scale_after_normalization"].b:
        nodes.append(_new_node(node, p + "scale", "Mul", [scale, gamma], T=dtype))
        scale = p + "scale"
    nodes += [_new_node(node, p + "sub", "Sub", [t, m] + ctrl, T=dtype),
              _new_node(node, p + "mul", "Mul", [p + "sub", scale], T=dtype),
              _new_node(node, node.name, "AddV2", [p + "mul", beta], T=dtype)]
    return nodes


def _rewrite_concat_v1(node):
    """Concat(concat_dim, values...) -> ConcatV2(values..., axis)."""
    from tensorflow.core.framework import attr_value_pb2
    data = [i for i in node.input if not i.startswith("^")]
    ctrl = [i for i in node.input if i.startswith("^")]
    out = _copy_node(node, op="ConcatV2", inputs=data[1:] + data[:1] + ctrl)
    out.attr["Tidx"].CopyFrom(attr_value_pb2.AttrValue(type=tf.int32.as_datatype_enum))
    return [out]


# Ops of old GraphDefs that a current TensorFlow refuses or that have a current successor, and
# their rewrites into current ops with the same arithmetic (see docs/metrics.md).
LEGACY_OP_REWRITES = {
    "BatchNormWithGlobalNormalization": _rewrite_batch_norm_with_global_normalization,  # gone from GraphDef v9
    "Concat": _rewrite_concat_v1,  # v1 concat: axis first
}


def modernize_graph_def(graph_def, source="<graph>"):
    """A copy of `graph_def` with every legacy node (LEGACY_OP_REWRITES) rewritten into current ops,
    producer set to this TensorFlow's GraphDef version. Raises FeatureNetworkError naming the first
    op this TensorFlow does not know or no longer runs."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import op_def_registry
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        rewrite = LEGACY_OP_REWRITES.get(node.op)
        new_nodes = rewrite(node) if rewrite is not None else [node]
        for n in new_nodes:
            op_def = op_def_registry.get(n.op)
            if op_def is None:
                raise FeatureNetworkError("%s: node %s uses op %s, unknown to TensorFlow %s"
                                          % (source, n.name, n.op, tf.__version__))
            if op_def.HasField("deprecation") and op_def.deprecation.version <= tf.version.GRAPH_DEF_VERSION:
                raise FeatureNetworkError("%s: node %s uses op %s, removed in GraphDef version %d (no rewrite known)"
                                          % (source, n.name, n.op, op_def.deprecation.version))
        out.node.extend(new_nodes)
    out.versions.producer = max(out.versions.producer, tf.version.GRAPH_DEF_VERSION)
    return out


class InceptionFeatures:
    """Inception-v3 pool_3 features of uint8 images, from the 2015-12-05 GraphDef.

    `features(images)` takes uint8 (or float in [0, 255]) images [N, 3, H, W] (or NHWC with
    `nchw=False`) and returns float32 [N, D] (D = 2048 for the real graph). It is a TF2 concrete
    function and may be called inside `tf.function` and `strategy.run`.
    """

    def __init__(self, graph_def_bytes, sha256=None, source="<bytes>"):
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(graph_def_bytes)
        except Exception as e:  # protobuf raises its own DecodeError
            raise FeatureNetworkError("%s is not a TensorFlow GraphDef (%s)" % (source, e)) from None
        names = {node.name for node in graph_def.node}
        for tensor in (INCEPTION_INPUT, INCEPTION_OUTPUT):
            if tensor.split(":")[0] not in names:
                raise FeatureNetworkError("%s has no tensor %s: not the Inception-v3 graph" % (source, tensor))
        self.sha256 = sha256
        self.source = source
        self.legacy_ops = sorted({n.op for n in graph_def.node if n.op in LEGACY_OP_REWRITES})
        graph_def = modernize_graph_def(graph_def, source)

        def _import(x):
            out, = tf.graph_util.import_graph_def(graph_def, input_map={INCEPTION_INPUT: x},
                                                  return_elements=[INCEPTION_OUTPUT], name="inception")
            return out

        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        try:
            wrapped = tf.compat.v1.wrap_function(_import, [spec])
            # Keep only ExpandDims:0 -> pool_3:0 (drops DecodeJpeg and the batch-1 pool_3/_reshape).
            self._pool = wrapped.prune(feeds=wrapped.inputs[0], fetches=wrapped.outputs[0])
        except (ValueError, tf.errors.OpError) as e:
            raise FeatureNetworkError("%s: cannot import the GraphDef (%s)" % (source, e)) from None
        self.feature_dim = None

    def features(self, images, nchw=True):
        x = tf.cast(images, tf.float32)
        if nchw:
            x = tf.transpose(x, [0, 2, 3, 1])
        pool = self._pool(x)
        return tf.reshape(pool, [tf.shape(x)[0], pool.shape[-1] if pool.shape[-1] is not None else -1])

    __call__ = features


def load_inception(path_or_url=None, cache_dir=None, sha256=None):
    """InceptionFeatures from a `.pb` GraphDef or the official `.tgz` (path or URL; default: the official URL)."""
    path_or_url = path_or_url or INCEPTION_URL
    data, digest = read_file_or_url(path_or_url, cache_dir=cache_dir, sha256=sha256, what="Inception network")
    if data[:2] == b"\x1f\x8b":  # gzip: the official tarball
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                member = next((m for m in tar.getmembers() if os.path.basename(m.name) == INCEPTION_MEMBER), None)
                if member is None:
                    raise FeatureNetworkError("%s contains no %s" % (path_or_url, INCEPTION_MEMBER))
                data = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise FeatureNetworkError("%s: unreadable tarball (%s)" % (path_or_url, e)) from None
    return InceptionFeatures(data, sha256=digest, source=str(path_or_url))


# ----------------------------------------------------------------------------
# LPIPS-VGG16.

# VGG16 conv layers (name, in, out) in order; max-pool after the last conv of blocks 1-4.
VGG16_CONVS = [("conv1_1", 3, 64), ("conv1_2", 64, 64),
               ("conv2_1", 64, 128), ("conv2_2", 128, 128),
               ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
               ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
               ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)]
LPIPS_TAPS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")  # relu outputs compared by LPIPS
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS input normalisation (Zhang et al.'s ScalingLayer), applied to images in [-1, 1].
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


def lpips_weight_shapes(widths=None):
    """{key: shape} of an LPIPS-VGG16 weights file; `widths` scales the channel counts (tests)."""
    shapes = {}
    prev = 3
    for name, _cin, cout in VGG16_CONVS:
        cout_w = cout if widths is None else max(1, int(round(cout * widths)))
        shapes[name + "/weight"] = (3, 3, prev, cout_w)
        shapes[name + "/bias"] = (cout_w,)
        prev = cout_w
    for i, name in enumerate(LPIPS_TAPS):
        shapes["lin%d/weight" % i] = (shapes[name + "/bias"][0],)
    return shapes


class LPIPSVGG16:
    """LPIPS distance (Zhang et al. 2018, VGG16 variant, 'lin' weights) as a Keras model.

    `distance(img0, img1)` takes float NCHW images in [0, 255] (as the official
    `vgg16_zhang_perceptual.pkl` does) and returns float32 [N]. Weights: {key: array} in the
    layout of `lpips_weight_shapes()` (conv weights [3, 3, in, out], biases [out], lin weights [C]).
    """

    def __init__(self, weights, source="<weights>"):
        import keras
        keys = set(lpips_weight_shapes())
        missing = sorted(k for k in keys if k not in weights)
        if missing:
            raise FeatureNetworkError("%s: not an LPIPS-VGG16 weights file (missing %s)" % (source, ", ".join(missing[:4])))
        self.source = source
        inp = keras.Input([None, None, 3])
        x = inp
        taps = []
        prev = 3
        for idx, (name, _cin, _cout) in enumerate(VGG16_CONVS):
            w = np.asarray(weights[name + "/weight"], np.float32)
            b = np.asarray(weights[name + "/bias"], np.float32)
            if w.ndim != 4 or w.shape[:3] != (3, 3, prev) or b.shape != (w.shape[3],):
                raise FeatureNetworkError("%s: %s has shape %s / %s" % (source, name, w.shape, b.shape))
            prev = w.shape[3]
            layer = keras.layers.Conv2D(w.shape[3], 3, padding="same", activation="relu", name=name)
            x = layer(x)
            layer.set_weights([w, b])
            if name in LPIPS_TAPS:
                taps.append(x)
                if name != "conv5_3":
                    x = keras.layers.MaxPooling2D(2, 2, name="pool%d" % len(taps))(x)
        self.features = keras.Model(inp, taps, name="lpips_vgg16")
        self.lin = []
        for i, tap in enumerate(taps):
            w = np.asarray(weights["lin%d/weight" % i], np.float32).reshape(-1)
            if w.shape[0] != tap.shape[-1]:
                raise FeatureNetworkError("%s: lin%d/weight has %d entries, expected %d" % (source, i, w.shape[0], tap.shape[-1]))
            self.lin.append(tf.constant(w))
        self.shift = tf.constant(np.asarray(weights.get("shift", LPIPS_SHIFT), np.float32))
        self.scale = tf.constant(np.asarray(weights.get("scale", LPIPS_SCALE), np.float32))

    def _prep(self, images):
        x = tf.transpose(tf.cast(images, tf.float32), [0, 2, 3, 1]) * (2.0 / 255.0) - 1.0
        return (x - self.shift) / self.scale

    def distance(self, img0, img1):
        n = tf.shape(img0)[0]
        feats = self.features(self._prep(tf.concat([img0, img1], axis=0)))
        total = 0.0
        for f, w in zip(feats, self.lin):
            f = f / (tf.sqrt(tf.reduce_sum(tf.square(f), axis=-1, keepdims=True)) + 1e-10)
            diff = tf.square(f[:n] - f[n:])
            total += tf.reduce_mean(tf.reduce_sum(diff * w, axis=-1), axis=[1, 2])
        return total

    __call__ = distance


def save_lpips_weights(weights, path):
    """Write an LPIPS-VGG16 weights file (`.npz`), atomically, with a plain file's permissions."""
    with dnnlib.util.atomic_write(path, "wb") as f:
        np.savez(f, **{k: np.asarray(v, np.float32) for k, v in weights.items()})


def load_lpips(path_or_url, cache_dir=None, sha256=None):
    """LPIPSVGG16 from any supported LPIPS source (path or URL each; see `metrics.lpips_sources`):
    NVIDIA's `vgg16_zhang_perceptual.pkl`; the lpips package's `vgg.pth` and torchvision's
    `vgg16-397923af.pth` given together as 'vgg.pth,vgg16-397923af.pth'; or our `.npz`.
    `sha256`: expected digest(s), comma-separated in the same order. The network's `source` and
    `sha256` name the file(s) (two files: the SHA-256 of their two hex digests joined);
    `mapping` says how each weight was found ('order', or the variable name)."""
    from metrics import lpips_sources
    specs = [s.strip() for s in str(path_or_url).split(",")] if path_or_url else [path_or_url]
    sums = [s.strip() or None for s in sha256.split(",")] if isinstance(sha256, str) else [sha256] * len(specs)
    if len(sums) != len(specs):
        raise FeatureNetworkError("--lpips names %d files but --lpips_sha256 has %d checksums" % (len(specs), len(sums)))
    files, digests = [], []
    for spec, expected in zip(specs, sums):
        data, digest = read_file_or_url(spec, cache_dir=cache_dir, sha256=expected, what="LPIPS weights")
        files.append((data, spec))
        digests.append(digest)
    try:
        weights, mapping = lpips_sources.weights_from_files(files)
    except lpips_sources.LPIPSSourceError as e:
        raise FeatureNetworkError(str(e)) from None
    net = LPIPSVGG16(weights, source=",".join(specs))
    net.sha256 = digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode("ascii")).hexdigest()
    net.mapping = mapping
    return net


# ----------------------------------------------------------------------------
# LS attribute classifiers.

CELEBAHQ_ATTRIBUTES = [
    "male", "smiling", "attractive", "wavy-hair", "young", "5-o-clock-shadow", "arched-eyebrows",
    "bags-under-eyes", "bald", "bangs", "big-lips", "big-nose", "black-hair", "blond-hair", "blurry",
    "brown-hair", "bushy-eyebrows", "chubby", "double-chin", "eyeglasses", "goatee", "gray-hair",
    "heavy-makeup", "high-cheekbones", "mouth-slightly-open", "mustache", "narrow-eyes", "no-beard",
    "oval-face", "pale-skin", "pointy-nose", "receding-hairline", "rosy-cheeks", "sideburns",
    "straight-hair", "wearing-earrings", "wearing-hat", "wearing-lipstick", "wearing-necklace",
    "wearing-necktie"]


def classifier_file_name(idx):
    """Official file name of attribute classifier `idx`: celebahq-classifier-00-male.pkl, ..."""
    return "celebahq-classifier-%02d-%s.pkl" % (idx, CELEBAHQ_ATTRIBUTES[idx])


def load_classifier(path_or_url, cache_dir=None, sha256=None):
    """An attribute classifier network (a pickled `tflib.Network`, e.g. ProGAN `D_paper`)."""
    import pickle
    from stylegan_tf import legacy
    data, digest = read_file_or_url(path_or_url, cache_dir=cache_dir, sha256=sha256, what="LS classifier")
    try:
        net = legacy.load_pkl_from_file(io.BytesIO(data), source=str(path_or_url))
    except (pickle.UnpicklingError, ValueError) as e:
        raise FeatureNetworkError(str(e)) from None
    if isinstance(net, (tuple, list)):
        net = net[-1]
    net.sha256 = digest
    net.source = str(path_or_url)
    return net


def classifier_attribute_index(path):
    """Attribute index of an official classifier file name (celebahq-classifier-07-bald.pkl -> 7), else None."""
    import re
    m = re.match(r"celebahq-classifier-(\d\d)-([a-z0-9-]+)\.pkl$", os.path.basename(str(path)))
    if m and int(m.group(1)) < len(CELEBAHQ_ATTRIBUTES) and CELEBAHQ_ATTRIBUTES[int(m.group(1))] == m.group(2):
        return int(m.group(1))
    return None


def _is_single_file(spec):
    if dnnlib.util.is_url(spec, allow_file_urls=True):
        return spec.rstrip("/").endswith(".pkl")
    return os.path.isfile(spec)


def resolve_classifiers(spec, attrib_indices):
    """(attribute indices, paths/URLs) of the classifiers. `spec`: a directory or base URL (holding
    the official file names), a single classifier file (then only its attribute: from the official
    file name, or the metric's one attribute), a comma-separated list (one per attribute index, or
    all 40), or a format string with `%d` / `{idx}`."""
    if spec is None:
        raise FeatureNetworkError("LS needs the attribute classifiers: give --ls_classifiers (a directory "
                                  "with celebahq-classifier-NN-<name>.pkl files, one such file, or a comma list)")
    attrib_indices = list(attrib_indices)
    if isinstance(spec, (list, tuple)):
        items = list(spec)
    elif "," in spec:
        items = [s.strip() for s in spec.split(",")]
    elif "%" in spec or "{idx" in spec:
        return attrib_indices, [spec % idx if "%" in spec else spec.format(idx=idx) for idx in attrib_indices]
    elif _is_single_file(spec):
        idx = classifier_attribute_index(spec)
        if idx is None:
            if len(attrib_indices) != 1:
                raise FeatureNetworkError("--ls_classifiers=%s: one file for %d attributes, and its name is not "
                                          "celebahq-classifier-NN-<attribute>.pkl" % (spec, len(attrib_indices)))
            idx = attrib_indices[0]
        elif idx not in attrib_indices:
            raise FeatureNetworkError("--ls_classifiers=%s is attribute %d, which this metric does not use" % (spec, idx))
        return [idx], [spec]
    elif not dnnlib.util.is_url(spec) and not os.path.isdir(spec):
        raise FeatureNetworkError("--ls_classifiers: no such file or directory: %s" % spec)
    else:
        return attrib_indices, [os.path.join(spec, classifier_file_name(idx)) if not dnnlib.util.is_url(spec)
                                else spec.rstrip("/") + "/" + classifier_file_name(idx) for idx in attrib_indices]
    if len(items) == len(attrib_indices):
        return attrib_indices, items
    if len(items) == 40:
        return attrib_indices, [items[idx] for idx in attrib_indices]
    raise FeatureNetworkError("--ls_classifiers lists %d files for %d attributes" % (len(items), len(attrib_indices)))
