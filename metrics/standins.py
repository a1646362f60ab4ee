"""Small stand-in feature networks and generators, written in the SAME file formats as the real ones,
for tests and benchmarks where the real files cannot be downloaded.

- `make_inception_graphdef`: a frozen TF GraphDef with the tensor names of the 2015-12-05
  Inception graph (`DecodeJpeg/contents` -> ... -> `ExpandDims` -> `ResizeBilinear` -> `Sub` ->
  `Mul` -> ... -> `pool_3` -> `pool_3/_reshape` -> `softmax`), random weights. `full=True` puts
  a randomly initialised Keras Inception-v3 at 299x299 between `Mul` and `pool_3` (2048 features;
  realistic cost, for speed benchmarks only).
- `make_lpips_weights`: an LPIPS-VGG16 `.npz` (optionally with narrower layers).
- `make_classifier_pkl`: an attribute classifier pickle: a `tflib.Network` built by ProGAN `D_paper`
  with `mbstd_group_size=0`, saved with `stylegan_tf.legacy.save_pkl`.
- `make_generator_pkl`: a tiny `(G, D, Gs)` StyleGAN pickle.
"""

import numpy as np
import tensorflow as tf


def make_inception_graphdef(path=None, feature_dim=64, size=16, full=False, seed=0):
    """Write (and return the bytes of) a stand-in Inception GraphDef."""
    rnd = np.random.RandomState(seed)
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.cast(decoded, tf.float32, name="Cast")
        x = tf.expand_dims(x, 0, name="ExpandDims")
        x = tf.compat.v1.image.resize_bilinear(x, [299 if full else size] * 2, align_corners=False, name="ResizeBilinear")
        x = tf.subtract(x, 128.0, name="Sub")
        x = tf.multiply(x, 1.0 / 128.0, name="Mul")
        if full:
            import keras
            keras.utils.set_random_seed(seed)
            net = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(299, 299, 3), pooling=None)
            # Freeze the random weights into constants by calling the layers' ops on x in this graph.
            feats = net(x, training=False)
            feature_dim = int(feats.shape[-1])
            pool = tf.nn.avg_pool2d(feats, ksize=int(feats.shape[1]), strides=1, padding="VALID", name="pool_3")
        else:
            w1 = tf.constant(rnd.randn(3, 3, 3, 16).astype(np.float32) * 0.3)
            h = tf.nn.relu(tf.nn.conv2d(x, w1, strides=2, padding="SAME"))
            w2 = tf.constant(rnd.randn(1, 1, 16, feature_dim).astype(np.float32) * 0.3)
            h = tf.nn.relu(tf.nn.conv2d(h, w2, strides=1, padding="SAME"))
            pool = tf.nn.avg_pool2d(h, ksize=size // 2, strides=1, padding="VALID", name="pool_3")
        flat = tf.reshape(pool, [1, feature_dim], name="pool_3/_reshape")
        logits = tf.matmul(flat, tf.constant(rnd.randn(feature_dim, 1008).astype(np.float32) * 0.01))
        tf.nn.softmax(logits, name="softmax")
        if full:
            sess = tf.compat.v1.Session(graph=graph)
            sess.run(tf.compat.v1.global_variables_initializer())
            graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["softmax", "pool_3"])
            sess.close()
        else:
            graph_def = graph.as_graph_def()
    data = graph_def.SerializeToString()
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


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


def make_generator_pkl(path, resolution=32, seed=0, fmap_base=64, fmap_max=16, latent_size=16, mapping_layers=2):
    """Write a tiny (G, D, Gs) StyleGAN pickle and return Gs."""
    import keras
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    keras.utils.set_random_seed(seed)
    kwargs = dict(num_channels=3, resolution=resolution, fmap_base=fmap_base, fmap_max=fmap_max)
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", latent_size=latent_size,
                      dlatent_size=latent_size, mapping_layers=mapping_layers, mapping_fmaps=latent_size, **kwargs)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kwargs)
    Gs = G.clone("Gs")
    legacy.save_pkl((G, D, Gs), path)
    return Gs
