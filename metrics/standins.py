"""Small stand-in feature networks and generators, written in the SAME file formats as the real ones,
for tests and benchmarks where the real files cannot be downloaded.

- `make_inception_graphdef`: the 2015-12-05 Inception GraphDef's format and traits (producer 5,
  legacy ops, tensor names, shapes), written node by node, random weights; `full=True` has
  Inception-v3's real layers (for speed benchmarks).
- `make_lpips_weights`: an LPIPS-VGG16 `.npz` (optionally with narrower layers).
- `make_classifier_pkl`: an attribute classifier pickle: a `tflib.Network` built by ProGAN `D_paper`
  with `mbstd_group_size=0`, saved with `stylegan_tf.legacy.save_pkl`.
- `make_official_classifier_pkl`: the same classifier in the layout of NVIDIA's pickles (embedded
  ProGAN source, NumPy 1.x references).
- `make_generator_pkl`: a tiny `(G, D, Gs)` StyleGAN pickle (optionally bf16).
- `write_torch_checkpoint`: a state dict in torch.save's zip or legacy layout, without torch.
"""

import numpy as np
import tensorflow as tf

import dnnlib.util


# ----------------------------------------------------------------------------
# Inception: a GraphDef in the 2015 format, written node by node.

# Producer version of the 2015-12-05 graph (TensorFlow 0.6 era). BatchNormWithGlobalNormalization
# was removed from GraphDef version 9 on, so a TF 2.x Python API cannot create these nodes: we
# write the NodeDefs directly.
INCEPTION_2015_PRODUCER = 5


class _GraphWriter:
    """Appends NodeDefs to a GraphDef, 2015 style: only the attributes TensorFlow 0.6 wrote (no
    `Tdim`, `Tshape`, `half_pixel_centers`, `data_format`, `dct_method`, ...)."""

    def __init__(self, producer):
        from tensorflow.core.framework import graph_pb2
        self.graph_def = graph_pb2.GraphDef()
        self.graph_def.versions.producer = producer

    def node(self, name, op, inputs=(), **attrs):
        from tensorflow.core.framework import attr_value_pb2
        n = self.graph_def.node.add(name=name, op=op, input=list(inputs))
        for key, v in attrs.items():
            a = attr_value_pb2.AttrValue
            if isinstance(v, tf.DType):
                value = a(type=v.as_datatype_enum)
            elif isinstance(v, bool):
                value = a(b=v)
            elif isinstance(v, int):
                value = a(i=v)
            elif isinstance(v, float):
                value = a(f=v)
            elif isinstance(v, (bytes, str)):
                value = a(s=v if isinstance(v, bytes) else v.encode("ascii"))
            elif isinstance(v, list):
                value = a(list=a.ListValue(i=v))
            elif isinstance(v, np.ndarray):
                value = a(tensor=tf.make_tensor_proto(v))
            else:
                raise TypeError("attribute %s=%r" % (key, v))
            n.attr[key].CopyFrom(value)
        return name

    def const(self, name, value, dtype=None):
        value = np.asarray(value, dtype=dtype)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        return self.node(name, "Const", dtype=tf.as_dtype(value.dtype), value=value)

    def conv_bn_relu(self, rnd, scope, x, cin, cout, k, stride=1, padding="VALID", scale_after_normalization=False):
        """conv/Conv2D -> conv/batchnorm (legacy BN) -> CheckNumerics/control_dependency -> Relu, as in 2015."""
        f32 = tf.float32
        w = self.const(scope + "/conv2d_params", rnd.randn(k, k, cin, cout).astype(np.float32) * np.sqrt(2.0 / (k * k * cin)))
        conv = self.node(scope + "/Conv2D", "Conv2D", [x, w], T=f32, strides=[1, stride, stride, 1], padding=padding,
                         use_cudnn_on_gpu=True)
        bn_in = [self.const(scope + "/batchnorm/moving_mean", rnd.randn(cout).astype(np.float32) * 0.1),
                 self.const(scope + "/batchnorm/moving_variance", rnd.uniform(0.5, 2.0, cout).astype(np.float32)),
                 self.const(scope + "/batchnorm/beta", rnd.randn(cout).astype(np.float32) * 0.1),
                 self.const(scope + "/batchnorm/gamma", rnd.uniform(0.5, 1.5, cout).astype(np.float32))]
        bn = self.node(scope + "/batchnorm", "BatchNormWithGlobalNormalization", [conv] + bn_in, T=f32,
                       variance_epsilon=0.001, scale_after_normalization=scale_after_normalization)
        check = self.node(scope + "/CheckNumerics", "CheckNumerics", [bn], T=f32, message="LinearCombination")
        dep = self.node(scope + "/control_dependency", "Identity", [bn, "^" + check], T=f32)
        return self.node(scope, "Relu", [dep], T=f32)


def make_inception_graphdef(path=None, seed=0, full=False, feature_dim=2048):
    """Write (and return the bytes of) a stand-in of `classify_image_graph_def.pb`, random weights.

    Traits of the 2015-12-05 graph a loader can trip on, all present: GraphDef producer 5; the
    legacy `BatchNormWithGlobalNormalization` (attributes `variance_epsilon`,
    `scale_after_normalization`; both settings occur) followed by `CheckNumerics` and an
    `Identity` with a control input; the v1 `Concat` (concat_dim as FIRST input); `MaxPool`,
    `AvgPool`, VALID and SAME convolutions; nodes without the attributes later TensorFlow added;
    the input path `DecodeJpeg/contents -> DecodeJpeg -> Cast -> ExpandDims` (static batch 1),
    `ResizeBilinear` to 299x299, `Sub`/`Mul` normalisation; `pool_3` ([N, 1, 1, 2048], an 8x8
    VALID AvgPool) and `pool_3/_reshape` to the constant [1, 2048] feeding `softmax` (1008 classes).

    Default: a small network between `Mul` and `pool_3` (299 -> 149 -> 74 -> 36 -> 17 -> 8).
    `feature_dim` (even; default 2048 as in the real graph) narrows pool_3 for tests of the
    metric plumbing, where FID's 2048x2048 covariance square root would dominate the run time.
    `full=True`: Inception-v3's real layers and shapes (94 convolutions, 11 mixed blocks, ~24M
    weights), random weights, for speed benchmarks.
    """
    rnd = np.random.RandomState(seed)
    g = _GraphWriter(INCEPTION_2015_PRODUCER)
    f32 = tf.float32
    contents = g.node("DecodeJpeg/contents", "Placeholder", dtype=tf.string)
    dec = g.node("DecodeJpeg", "DecodeJpeg", [contents], channels=3, ratio=1, fancy_upscaling=True,
                 try_recover_truncated=False, acceptable_fraction=1.0)
    cast = g.node("Cast", "Cast", [dec], SrcT=tf.uint8, DstT=f32)
    x = g.node("ExpandDims", "ExpandDims", [cast, g.const("ExpandDims/dim", 0, np.int32)], T=f32)
    x = g.node("ResizeBilinear", "ResizeBilinear", [x, g.const("ResizeBilinear/size", [299, 299], np.int32)],
               T=f32, align_corners=False)
    x = g.node("Sub", "Sub", [x, g.const("Sub/y", 128.0, np.float32)], T=f32)
    x = g.node("Mul", "Mul", [x, g.const("Mul/y", 1.0 / 128.0, np.float32)], T=f32)
    if full:
        x = _inception_v3_2015_body(g, rnd, x)
    else:
        x = g.conv_bn_relu(rnd, "conv", x, 3, 8, 3, stride=2)                        # 149
        x = g.node("pool", "MaxPool", [x], T=f32, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="VALID")  # 74
        b0 = g.conv_bn_relu(rnd, "mixed/conv", x, 8, 8, 1)
        b1 = g.conv_bn_relu(rnd, "mixed/tower/conv", x, 8, 8, 3, padding="SAME", scale_after_normalization=True)
        b2 = g.node("mixed/tower_1/pool", "AvgPool", [x], T=f32, ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="SAME")
        x = g.node("mixed/join", "Concat", [g.const("mixed/join/concat_dim", 3, np.int32), b0, b1, b2], N=3, T=f32)
        x = g.conv_bn_relu(rnd, "conv_1", x, 24, 32, 3, stride=2)                    # 36
        x = g.node("pool_1", "MaxPool", [x], T=f32, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="VALID")  # 17
        x = g.conv_bn_relu(rnd, "conv_2", x, 32, 64, 3, stride=2)                    # 8
        b0 = g.conv_bn_relu(rnd, "mixed_10/conv", x, 64, feature_dim // 2, 1, scale_after_normalization=True)
        b1 = g.conv_bn_relu(rnd, "mixed_10/tower/conv", x, 64, feature_dim - feature_dim // 2, 1)
        x = g.node("mixed_10/join", "Concat", [g.const("mixed_10/join/concat_dim", 3, np.int32), b0, b1], N=2, T=f32)
    pool = g.node("pool_3", "AvgPool", [x], T=f32, ksize=[1, 8, 8, 1], strides=[1, 1, 1, 1], padding="VALID")
    feature_dim = 2048 if full else feature_dim
    flat = g.node("pool_3/_reshape", "Reshape", [pool, g.const("pool_3/_reshape/shape", [1, feature_dim], np.int32)], T=f32)
    logits = g.node("softmax/logits/MatMul", "MatMul", [flat, g.const("softmax/weights", rnd.randn(feature_dim, 1008).astype(np.float32) * 0.01)],
                    T=f32, transpose_a=False, transpose_b=False)
    logits = g.node("softmax/logits", "Add", [logits, g.const("softmax/biases", np.zeros(1008, np.float32))], T=f32)
    g.node("softmax", "Softmax", [logits], T=f32)
    data = g.graph_def.SerializeToString()
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def _inception_v3_2015_body(g, rnd, x):
    """Inception-v3's layers (Szegedy et al. 2016; the layer sizes of the 2015-12-05 graph) from the
    299x299x3 input `x` to the 8x8x2048 input of pool_3, as legacy 2015 nodes, random weights."""
    f32 = tf.float32
    channels = {}

    def conv(scope, inp, cout, kh, kw=None, stride=1, padding="VALID"):
        kw = kh if kw is None else kw
        cin = channels[inp]
        w = g.const(scope + "/conv2d_params", rnd.randn(kh, kw, cin, cout).astype(np.float32) * np.sqrt(2.0 / (kh * kw * cin)))
        c = g.node(scope + "/Conv2D", "Conv2D", [inp, w], T=f32, strides=[1, stride, stride, 1], padding=padding, use_cudnn_on_gpu=True)
        bn = g.node(scope + "/batchnorm", "BatchNormWithGlobalNormalization",
                    [c, g.const(scope + "/batchnorm/moving_mean", rnd.randn(cout) * 0.1),
                     g.const(scope + "/batchnorm/moving_variance", rnd.uniform(0.5, 2.0, cout)),
                     g.const(scope + "/batchnorm/beta", rnd.randn(cout) * 0.1),
                     g.const(scope + "/batchnorm/gamma", rnd.uniform(0.5, 1.5, cout))],
                    T=f32, variance_epsilon=0.001, scale_after_normalization=False)
        check = g.node(scope + "/CheckNumerics", "CheckNumerics", [bn], T=f32, message="LinearCombination")
        dep = g.node(scope + "/control_dependency", "Identity", [bn, "^" + check], T=f32)
        out = g.node(scope, "Relu", [dep], T=f32)
        channels[out] = cout
        return out

    def pool(name, op, inp, stride, padding):
        out = g.node(name, op, [inp], T=f32, ksize=[1, 3, 3, 1], strides=[1, stride, stride, 1], padding=padding)
        channels[out] = channels[inp]
        return out

    def join(name, parts):
        out = g.node(name, "Concat", [g.const(name + "/concat_dim", 3, np.int32)] + parts, N=len(parts), T=f32)
        channels[out] = sum(channels[p] for p in parts)
        return out

    channels[x] = 3
    x = conv("conv", x, 32, 3, stride=2)
    x = conv("conv_1", x, 32, 3)
    x = conv("conv_2", x, 64, 3, padding="SAME")
    x = pool("pool", "MaxPool", x, 2, "VALID")
    x = conv("conv_3", x, 80, 1)
    x = conv("conv_4", x, 192, 3)
    x = pool("pool_1", "MaxPool", x, 2, "VALID")
    for i, pool_ch in enumerate([32, 64, 64]):  # 35x35
        m = "mixed" + ("_%d" % i if i else "")
        x = join(m + "/join", [conv(m + "/conv", x, 64, 1),
                               conv(m + "/tower/conv_1", conv(m + "/tower/conv", x, 48, 1), 64, 5, padding="SAME"),
                               conv(m + "/tower_1/conv_2", conv(m + "/tower_1/conv_1", conv(m + "/tower_1/conv", x, 64, 1), 96, 3,
                                                                padding="SAME"), 96, 3, padding="SAME"),
                               conv(m + "/tower_2/conv", pool(m + "/tower_2/pool", "AvgPool", x, 1, "SAME"), pool_ch, 1)])
    m = "mixed_3"  # 35 -> 17
    x = join(m + "/join", [conv(m + "/conv", x, 384, 3, stride=2),
                           conv(m + "/tower/conv_2", conv(m + "/tower/conv_1", conv(m + "/tower/conv", x, 64, 1), 96, 3,
                                                          padding="SAME"), 96, 3, stride=2),
                           pool(m + "/pool", "MaxPool", x, 2, "VALID")])
    for i, c in zip(range(4, 8), [128, 160, 160, 192]):  # 17x17
        m = "mixed_%d" % i
        t = conv(m + "/tower/conv", x, c, 1)
        t = conv(m + "/tower/conv_2", conv(m + "/tower/conv_1", t, c, 1, 7, padding="SAME"), 192, 7, 1, padding="SAME")
        u = conv(m + "/tower_1/conv", x, c, 1)
        for k in range(1, 4):
            u = conv(m + "/tower_1/conv_%d" % k, u, c, *((7, 1) if k % 2 else (1, 7)), padding="SAME")
        u = conv(m + "/tower_1/conv_4", u, 192, 1, 7, padding="SAME")
        x = join(m + "/join", [conv(m + "/conv", x, 192, 1), t, u,
                               conv(m + "/tower_2/conv", pool(m + "/tower_2/pool", "AvgPool", x, 1, "SAME"), 192, 1)])
    m = "mixed_8"  # 17 -> 8
    t = conv(m + "/tower/conv_1", conv(m + "/tower/conv", x, 192, 1), 320, 3, stride=2)
    u = conv(m + "/tower_1/conv", x, 192, 1)
    u = conv(m + "/tower_1/conv_2", conv(m + "/tower_1/conv_1", u, 192, 1, 7, padding="SAME"), 192, 7, 1, padding="SAME")
    x = join(m + "/join", [t, conv(m + "/tower_1/conv_3", u, 192, 3, stride=2), pool(m + "/pool", "MaxPool", x, 2, "VALID")])
    for m in ["mixed_9", "mixed_10"]:  # 8x8
        t = conv(m + "/tower/conv", x, 384, 1)
        t = join(m + "/tower/mixed", [conv(m + "/tower/mixed/conv", t, 384, 1, 3, padding="SAME"),
                                      conv(m + "/tower/mixed/conv_1", t, 384, 3, 1, padding="SAME")])
        u = conv(m + "/tower_1/conv_1", conv(m + "/tower_1/conv", x, 448, 1), 384, 3, padding="SAME")
        u = join(m + "/tower_1/mixed", [conv(m + "/tower_1/mixed/conv", u, 384, 1, 3, padding="SAME"),
                                        conv(m + "/tower_1/mixed/conv_1", u, 384, 3, 1, padding="SAME")])
        x = join(m + "/join", [conv(m + "/conv", x, 320, 1), t, u,
                               conv(m + "/tower_2/conv", pool(m + "/tower_2/pool", "AvgPool", x, 1, "SAME"), 192, 1)])
    assert channels[x] == 2048
    return x


def make_lpips_weights(path, widths=1.0 / 16, seed=0):
    """Write an LPIPS-VGG16 weights file with random (He-scaled) convs and non-negative lin weights."""
    from metrics import feature_nets
    rnd = np.random.RandomState(seed)
    weights = {}
    for key, shape in feature_nets.lpips_weight_shapes(None if widths == 1 else widths).items():
        if key.endswith("/weight") and len(shape) == 4:
            weights[key] = rnd.randn(*shape).astype(np.float32) * np.sqrt(2.0 / (9 * shape[2]))
        elif key.startswith("lin"):
            weights[key] = np.abs(rnd.randn(*shape)).astype(np.float32) * 0.1
        else:
            weights[key] = np.zeros(shape, np.float32)
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    feature_nets.save_lpips_weights(weights, path)
    return weights


def make_classifier_pkl(path, resolution=32, num_channels=3, fmap_base=64, fmap_max=16, seed=0):
    """Write an attribute classifier pickle (ProGAN D_paper, no minibatch stddev), random weights."""
    import keras
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    keras.utils.set_random_seed(seed)
    clf = tflib.Network("D", func_name="training.networks_progan.D_paper", num_channels=num_channels,
                        resolution=resolution, label_size=0, fmap_base=fmap_base, fmap_max=fmap_max, mbstd_group_size=0)
    legacy.save_pkl(clf, path)
    return clf


class OfficialPickledNetwork:
    """Pickles exactly like an official `dnnlib.tflib.network.Network`: NEWOBJ of that class, then
    BUILD with the official state dict (version, name, static_kwargs, components,
    build_module_src, build_func_name, variables). `official_pickle_bytes` writes them."""

    def __init__(self, state):
        self.state = state

    @property
    def __class__(self):  # pickle checks that NEWOBJ's class is the object's class
        from dnnlib.tflib.network import Network
        return Network

    def __reduce__(self):
        import copyreg
        from dnnlib.tflib.network import Network
        return copyreg.__newobj__, (Network,), self.state


# What NVIDIA's pickles embed as `build_module_src`: the whole source of the module that built the
# network (here: StyleGAN's training/networks_progan.py). The stand-in's text has the same shape
# and must never run.
_PROGAN_MODULE_SRC_STANDIN = (
    "# Copyright (c) 2019, NVIDIA CORPORATION. All rights reserved. (stand-in for networks_progan.py)\n"
    "import numpy as np\nimport tensorflow as tf\n\n"
    "def G_paper(*args, **kwargs):\n    raise RuntimeError('pickled source must never run')\n\n"
    "def D_paper(images_in, labels_in, num_channels=1, resolution=32, label_size=0, fmap_base=8192,\n"
    "            fmap_decay=1.0, fmap_max=512, nonlinearity='lrelu', use_wscale=True, mbstd_group_size=4,\n"
    "            dtype='float32', fused_scale='auto', blur_filter=None, structure='auto', is_template_graph=False,\n"
    "            **_kwargs):\n    raise RuntimeError('pickled source must never run')\n")


def make_official_classifier_pkl(path, resolution=32, fmap_base=64, fmap_max=16, seed=0):
    """Write an attribute classifier in the layout of NVIDIA's `celebahq-classifier-XX-<attr>.pkl`:
    one network (not a tuple), state version 3, `build_func_name` 'D_paper' with the ProGAN module's
    source text in `build_module_src`, ProGAN D_paper variable names (incl. the 0-d `lod` as a
    NumPy scalar) in a shuffled order, protocol 2 with NumPy 1.x references
    (`numpy.core.multiarray._reconstruct` / `scalar`). Random weights. Returns the state dict.

    NVIDIA's classifiers are 256x256 with the official fmap sizes; `resolution`/`fmap_*` shrink
    the stand-in (the loader builds whatever the pickled static_kwargs say)."""
    import dnnlib.tflib as tflib
    kwargs = dict(num_channels=3, resolution=resolution, label_size=0, fmap_base=fmap_base, fmap_max=fmap_max,
                  mbstd_group_size=0)
    shapes = tflib.Network("D", func_name="D_paper", **kwargs).own_vars
    rnd = np.random.RandomState(seed)
    variables = [(name, np.float32(0.0) if len(var.shape) == 0 else rnd.randn(*var.shape).astype(np.float32))
                 for name, var in shapes.items()]
    rnd.shuffle(variables)
    state = dict(version=3, name="D", static_kwargs=kwargs, components={}, build_module_src=_PROGAN_MODULE_SRC_STANDIN,
                 build_func_name="D_paper", variables=variables)
    with dnnlib.util.atomic_write(path, "wb") as f:
        f.write(official_pickle_bytes(OfficialPickledNetwork(state)))
    return state


def official_pickle_bytes(obj, protocol=2):
    """The bytes of a pickle of `OfficialPickledNetwork`s (alone or in a tuple) as NVIDIA's 2019 files are:
    protocol 2, NumPy arrays and scalars referenced by NumPy 1.x's module `numpy.core.multiarray`."""
    import pickle
    return pickle.dumps(obj, protocol=protocol).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def make_generator_pkl(path, resolution=32, seed=0, fmap_base=64, fmap_max=16, latent_size=16, mapping_layers=2,
                       dtype="float32"):
    """Write a tiny (G, D, Gs) StyleGAN pickle and return Gs (`dtype`: G's compute dtype, as the
    fp16/bf16 training presets set it)."""
    import keras
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    keras.utils.set_random_seed(seed)
    kwargs = dict(num_channels=3, resolution=resolution, fmap_base=fmap_base, fmap_max=fmap_max)
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=latent_size,
                      dlatent_size=latent_size, mapping_layers=mapping_layers, mapping_fmaps=latent_size,
                      dtype=dtype, **kwargs)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kwargs)
    Gs = G.clone("Gs")
    legacy.save_pkl((G, D, Gs), path)
    return Gs


# ----------------------------------------------------------------------------
# PyTorch checkpoints, written without torch in torch.save's on-disk layouts.

class _TorchGlobal:
    """A reference to a torch global (written as a pickle GLOBAL; torch itself is never imported)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise TypeError("%s.%s is a reference, not a function" % (self.module, self.name))


class _TorchStorage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _TorchTensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride = [int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape))]
        return (_TorchGlobal("torch._utils", "_rebuild_tensor_v2"),
                (self.storage, 0, tuple(self.shape), tuple(stride), False, __import__("collections").OrderedDict()))


_TORCH_STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                        np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage"}


def write_torch_checkpoint(state_dict, path, legacy=False, archive_name=None):
    """Write {name: array} as `torch.save(state_dict)` does, without torch: the zip layout of
    torch >= 1.6 (default) or, `legacy=True`, the pre-1.6 layout (`_use_new_zipfile_serialization=False`).

    The object is an OrderedDict of `torch._utils._rebuild_tensor_v2` records with a `_metadata`
    attribute, pickled with protocol 2; each tensor owns one storage named by a persistent id
    `('storage', torch.<T>Storage, key, 'cpu', numel)` (legacy: plus a None view). Zip (as torch
    2.x writes it, checked against torch.save of torch 2.13): entries under `<archive_name>/`
    (default: the file name without extension) `data.pkl`, `.format_version`,
    `.storage_alignment`, `byteorder`, `data/<key>` (raw bytes, starting on 64-byte boundaries),
    `version`, `.data/serialization_id`, all stored uncompressed. Legacy: magic number, protocol
    version, sys info, the object, the storage keys, then per key an int64 element count and the
    raw bytes."""
    import collections
    import pickle
    import struct
    import zipfile
    storages = []
    obj = collections.OrderedDict()
    for name, value in state_dict.items():
        value = np.array(value, order="C")  # keeps 0-d arrays 0-d
        storage = _TorchStorage(str(len(storages)) if not legacy else str(94000000000000 + 64 * len(storages)), value)
        storages.append(storage)
        obj[name] = _TorchTensor(storage, value.shape)
    obj._metadata = collections.OrderedDict([("", {"version": 1})])

    class Pickler(pickle._Pickler):
        dispatch = dict(pickle._Pickler.dispatch)

        def save_torch_global(self, g):
            self.write(pickle.GLOBAL + ("%s\n%s\n" % (g.module, g.name)).encode("ascii"))
            self.memoize(g)
        dispatch[_TorchGlobal] = save_torch_global

        def persistent_id(self, o):
            if isinstance(o, _TorchStorage):
                pid = ("storage", _TorchGlobal("torch", _TORCH_STORAGE_NAMES[o.array.dtype]), o.key, "cpu", o.array.size)
                return pid + (None,) if legacy else pid
            return None

    def dumps(x):
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(x)
        return buf.getvalue()
    import io
    with dnnlib.util.atomic_write(path, "wb") as f:
        if legacy:
            from metrics.torch_checkpoint import LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION
            for x in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION,
                      dict(protocol_version=LEGACY_PROTOCOL_VERSION, little_endian=True,
                           type_sizes=dict(short=2, int=4, long=4))):
                f.write(dumps(x))
            f.write(dumps(obj))
            f.write(dumps([s.key for s in storages]))
            for s in storages:
                f.write(struct.pack("<q", s.array.size))
                f.write(s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
        else:
            import os
            prefix = (archive_name or os.path.splitext(os.path.basename(path))[0]) + "/"
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
                def record(name, data, align=1):
                    info = zipfile.ZipInfo(prefix + name, date_time=(1980, 1, 1, 0, 0, 0))
                    start = z.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 4
                    info.extra = struct.pack("<HH", 0x4246, -start % align) + b"Z" * (-start % align)  # 'FB' padding
                    z.writestr(info, data)
                record("data.pkl", dumps(obj))
                record(".format_version", "1")
                record(".storage_alignment", "64")
                record("byteorder", "little")
                for s in storages:
                    record("data/" + s.key, s.array.astype(s.array.dtype.newbyteorder("<")).tobytes(), align=64)
                record("version", "3\n")
                record(".data/serialization_id", "%040d" % (hash(tuple(state_dict)) % 10 ** 40))
