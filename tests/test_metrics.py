"""Unit tests of the metrics: FID formula, slerp, PPL scaling and filtering, LS entropies, feature
networks loaded from stand-in files in the real formats, result lines and caching."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from metrics import feature_nets, metric_base, standins
from metrics.frechet_inception_distance import feature_statistics, frechet_distance
from metrics.linear_separability import (attribute_conditional_entropy, conditional_entropy, entropy,
                                         joint_table, mutual_information, separability_scores)
from metrics.perceptual_path_length import (crop_and_resize_for_lpips, filter_and_mean, path_length_distances,
                                            slerp)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics")
    standins.make_inception_graphdef(str(d / "inception.pb"))  # every trait of the 2015 graph
    standins.make_inception_graphdef(str(d / "inception64.pb"), feature_dim=64)  # same, 64 features: fast FID plumbing
    standins.make_lpips_weights(str(d / "lpips.npz"))
    standins.make_classifier_pkl(str(d / "clf.pkl"), resolution=32)
    Gs = standins.make_generator_pkl(str(d / "net.pkl"), resolution=32)
    from stylegan_tf.data.demo import make_demo_dataset
    make_demo_dataset(str(d / "digits"), resolution=32)
    return dict(dir=d, Gs=Gs, inception=str(d / "inception.pb"), inception64=str(d / "inception64.pb"), lpips=str(d / "lpips.npz"),
                clf=str(d / "clf.pkl"), pkl=str(d / "net.pkl"), dataset=str(d / "digits"))


# --- FID -----------------------------------------------------------------------------------

def test_fid_of_a_set_against_itself_is_zero():
    feats = np.random.RandomState(0).randn(500, 16).astype(np.float32) @ np.random.RandomState(1).randn(16, 16)
    mu, sigma = feature_statistics(feats)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)


def test_fid_of_two_gaussians_matches_closed_form():
    rnd = np.random.RandomState(0)
    q, _ = np.linalg.qr(rnd.randn(8, 8))
    a, b = rnd.uniform(0.5, 2, 8), rnd.uniform(0.5, 2, 8)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T  # commuting: sqrtm(S1 S2) = Q sqrt(ab) Q^T
    mu1, mu2 = rnd.randn(8), rnd.randn(8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # General (non-commuting) case against the trace formula with an eigen-decomposition.
    c1, c2 = np.cov(rnd.randn(8, 50)), np.cov(rnd.randn(8, 50) * 2)
    w = np.linalg.eigvals(c1 @ c2)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2) - 2 * np.sum(np.sqrt(w.real.clip(0)))
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-6)


# --- PPL -----------------------------------------------------------------------------------

def test_slerp_unit_norm_and_endpoints():
    rnd = np.random.RandomState(0)
    a = tf.constant(rnd.randn(5, 32).astype(np.float32))
    b = tf.constant(rnd.randn(5, 32).astype(np.float32))
    na, nb = a / tf.norm(a, axis=1, keepdims=True), b / tf.norm(b, axis=1, keepdims=True)
    for t in [0.0, 0.3, 0.5, 1.0]:
        out = slerp(a, b, tf.fill([5, 1], t))
        np.testing.assert_allclose(tf.norm(out, axis=1).numpy(), 1.0, atol=1e-5)
    np.testing.assert_allclose(slerp(a, b, tf.zeros([5, 1])).numpy(), na.numpy(), atol=1e-5)
    np.testing.assert_allclose(slerp(a, b, tf.ones([5, 1])).numpy(), nb.numpy(), atol=1e-4)
    # The midpoint makes equal angles with both ends.
    mid = slerp(a, b, tf.fill([5, 1], 0.5))
    np.testing.assert_allclose(tf.reduce_sum(mid * na, 1).numpy(), tf.reduce_sum(mid * nb, 1).numpy(), atol=1e-5)


def test_ppl_percentile_filtering():
    # 1000 distinct values, the 5 smallest and 5 largest extreme. Sorted positions of the 1st / 99th
    # percentiles: 0.01 * 999 = 9.99 -> 'lower' -> index 9; 0.99 * 999 = 989.01 -> 'higher' -> 990.
    d = np.arange(1000, dtype=np.float64)
    d[:5] -= 1e6
    d[-5:] += 1e6
    np.random.RandomState(0).shuffle(d)
    assert filter_and_mean(d) == pytest.approx(np.mean(np.arange(9, 991)))
    # With 100 samples the 1st/99th percentiles are the extremes themselves: nothing is dropped.
    e = np.concatenate([np.arange(1, 99, dtype=np.float64), [1e6, -1e6]])
    assert filter_and_mean(e) == pytest.approx(np.mean(e))


def test_ppl_epsilon_scaling_on_a_standin_distance(files):
    Gs = files["Gs"]
    rnd = np.random.RandomState(0)
    lat = tf.constant(rnd.randn(8, Gs.input_shape[1]).astype(np.float32))
    t = tf.constant(rnd.uniform(0, 1, 4).astype(np.float32))
    sq = lambda x, y: tf.reduce_sum(tf.square(x - y), axis=[1, 2, 3])  # a smooth stand-in distance
    for space in ["z", "w"]:
        d1 = path_length_distances(Gs, sq, lat, t, 1e-3, space).numpy()
        d2 = path_length_distances(Gs, sq, lat, t, 1e-4, space).numpy()
        assert np.all(d1 > 0)
        np.testing.assert_allclose(d1, d2, rtol=0.1)  # d ~ eps^2 |dG/dt|^2, divided by eps^2
        const = lambda x, y: tf.fill([tf.shape(x)[0]], 3.0)
        np.testing.assert_allclose(path_length_distances(Gs, const, lat, t, 1e-4, space).numpy(), 3e8, rtol=1e-6)


def test_ppl_of_a_bf16_generator_equals_float32(files, tmp_path):
    """A generator of the bf16 preset: ppl_wend used to crash in lerp and ppl_z* gave mostly 0
    distances; PPL now measures a float32 copy, so the values equal those of the same weights in float32."""
    from training import misc
    bf16 = standins.make_generator_pkl(str(tmp_path / "bf16.pkl"), resolution=32, dtype="bfloat16")
    G, D, _ = misc.load_pkl(str(tmp_path / "bf16.pkl"))
    f32 = bf16.clone(dtype="float32")
    misc.save_pkl((G, D, f32), str(tmp_path / "f32.pkl"))
    for name in ["ppl_wend", "ppl_zend", "ppl_zfull"]:
        args = dict(metric_base.get_metric_args(name), num_samples=8, minibatch_per_gpu=4, lpips=files["lpips"],
                    seed=3, progress=False)
        values = []
        for pkl in ["bf16.pkl", "f32.pkl"]:
            group = metric_base.MetricGroup([args])
            group.run(str(tmp_path / pkl), log_results=False)
            values.append(group.get_results()[name])
        assert values[0] > 0 and np.isfinite(values[0])
        assert values[0] == pytest.approx(values[1], rel=1e-5), name


def test_ppl_crop_and_downsample():
    x = tf.zeros([2, 3, 1024, 1024])
    assert crop_and_resize_for_lpips(x).shape == (2, 3, 256, 256)  # crop 512 -> box-downsample x2
    y = crop_and_resize_for_lpips(tf.fill([1, 3, 64, 64], -1.0))
    assert y.shape == (1, 3, 32, 32) and float(tf.reduce_max(y)) == 0.0


# --- LS ------------------------------------------------------------------------------------

def test_conditional_entropy_by_hand():
    p = [[0.4, 0.1], [0.1, 0.4]]
    h = -(0.8 * np.log2(0.8) + 0.2 * np.log2(0.2))  # H(Y|X=x) for both rows, p(x) = 0.5 each
    assert conditional_entropy(p) == pytest.approx(h, abs=1e-6)
    assert entropy([[0.25, 0.25], [0.25, 0.25]]) == pytest.approx(2.0)
    assert mutual_information([[0.5, 0.0], [0.0, 0.5]]) == pytest.approx(1.0)
    assert conditional_entropy([[0.5, 0.0], [0.0, 0.5]]) == 0.0       # perfect prediction
    assert conditional_entropy([[0.25, 0.25], [0.25, 0.25]]) == pytest.approx(1.0)  # independent
    assert conditional_entropy([[1.0, 0.0], [0.0, 0.0]]) == 0.0       # all one class
    assert joint_table([0, 0, 1, 1], [0, 1, 1, 1]) == [[0.25, 0.25], [0.0, 0.5]]


def test_ls_degenerate_single_class_and_score():
    rnd = np.random.RandomState(0)
    z = rnd.randn(40, 6)
    preds = np.tile([[0.9, 0.1]], (40, 1))  # every sample class 0: the SVM cannot fit -> perfect
    assert attribute_conditional_entropy(z, preds, 20) == 0.0
    # A linearly separable attribute: H = 0; a random one: H > 0. Score = 2 ** sum(H).
    sep = np.stack([1 / (1 + np.exp(-5 * z[:, 0])), 1 - 1 / (1 + np.exp(-5 * z[:, 0]))], 1)
    rand = rnd.dirichlet([1, 1], size=40)
    results = {"latents": z, "dlatents": z, 0: sep, 1: preds, 2: rand}
    scores = separability_scores(results, [0, 1, 2], 40, 20)
    h_rand = attribute_conditional_entropy(z, rand, 20)
    assert attribute_conditional_entropy(z, sep, 20) == 0.0
    assert scores["latents"] == pytest.approx(2 ** h_rand)


# --- Feature networks from stand-in files in the real formats -------------------------------

def _tf1_session_features(pb_path, images_nhwc):
    """pool_3 features of a GraphDef imported TF1-style into a tf.compat.v1.Session, UNCHANGED.

    Independent of the loader under test: no rewriting at all. The legacy nodes run on
    TensorFlow's own kernels (BatchNormWithGlobalNormalization and v1 Concat are still registered
    and a TF1-style import honours the file's producer version 5); only the feed point is the
    same (ExpandDims:0, with the batch dimension left open as TTUR's fid.py does)."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(open(pb_path, "rb").read())
    graph = tf.Graph()
    with graph.as_default():
        ph = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
        pool, = tf.compat.v1.import_graph_def(graph_def, input_map={"ExpandDims:0": ph}, return_elements=["pool_3:0"],
                                              name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            return sess.run(pool, {ph: images_nhwc.astype(np.float32)})


def test_inception_standin_has_the_2015_traits(files):
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(open(files["inception"], "rb").read())
    nodes = {n.name: n for n in graph_def.node}
    assert graph_def.versions.producer == 5
    ops = {n.op for n in graph_def.node}
    assert {"BatchNormWithGlobalNormalization", "Concat", "MaxPool", "AvgPool", "CheckNumerics", "DecodeJpeg",
            "ResizeBilinear", "Softmax"} <= ops and "ConcatV2" not in ops and "FusedBatchNorm" not in ops
    bn = [n for n in graph_def.node if n.op == "BatchNormWithGlobalNormalization"]
    assert {n.attr["scale_after_normalization"].b for n in bn} == {False, True}
    assert all(n.attr["variance_epsilon"].f == pytest.approx(0.001) for n in bn)
    assert any(n.op == "Conv2D" and n.attr["padding"].s == b"VALID" for n in graph_def.node)
    assert nodes["mixed/join"].op == "Concat" and nodes["mixed/join"].input[0] == "mixed/join/concat_dim"
    chain = ["DecodeJpeg/contents", "DecodeJpeg", "Cast", "ExpandDims", "ResizeBilinear", "Sub", "Mul"]
    for a, b in zip(chain, chain[1:]):
        assert nodes[b].input[0] == a
    assert tf.make_ndarray(nodes["ResizeBilinear/size"].attr["value"].tensor).tolist() == [299, 299]
    assert tf.make_ndarray(nodes["pool_3/_reshape/shape"].attr["value"].tensor).tolist() == [1, 2048]
    assert nodes["softmax/logits/MatMul"].input[0] == "pool_3/_reshape"
    # The plain TF2 way (wrap_function + prune, the loader before the rewrite) refuses this file.
    def _import(x):
        return tf.graph_util.import_graph_def(graph_def, input_map={"ExpandDims:0": x}, return_elements=["pool_3:0"])[0]
    wrapped = tf.compat.v1.wrap_function(_import, [tf.TensorSpec([None, None, None, 3], tf.float32)])
    with pytest.raises(tf.errors.UnimplementedError, match="BatchNormWithGlobalNormalization"):
        wrapped.prune(feeds=wrapped.inputs[0], fetches=wrapped.outputs[0])


def test_inception_features_equal_a_tf1_session(files):
    inc = feature_nets.load_inception(files["inception"])
    assert inc.legacy_ops == ["BatchNormWithGlobalNormalization", "Concat"]
    x = np.random.RandomState(0).randint(0, 256, [3, 3, 32, 40]).astype(np.uint8)
    f = inc.features(x).numpy()
    assert f.shape == (3, 2048) and np.isfinite(f).all() and f.std() > 0
    ref = _tf1_session_features(files["inception"], x.transpose(0, 2, 3, 1))
    assert ref.shape == (3, 1, 1, 2048)  # any batch fed past the static-batch-1 ExpandDims
    np.testing.assert_allclose(f, ref.reshape(3, -1), rtol=1e-5, atol=1e-6)
    # As a tf.function (FID's runner), for another batch and image size.
    f2 = tf.function(lambda im: inc.features(im))(tf.constant(x)).numpy()
    np.testing.assert_allclose(f, f2, rtol=1e-5, atol=1e-6)
    assert inc.features(np.zeros([5, 3, 64, 64], np.uint8)).shape == (5, 2048)
    # The official tarball layout is accepted too.
    import tarfile
    tgz = files["dir"] / "inception-2015-12-05.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(files["inception"], arcname="classify_image_graph_def.pb")
    np.testing.assert_allclose(feature_nets.load_inception(str(tgz)).features(x).numpy(), f, rtol=1e-6)


def test_legacy_op_rewrites_keep_the_numbers():
    """Each rewrite against the legacy kernel itself, on a graph of just that node (both BN settings)."""
    from metrics.standins import _GraphWriter
    rnd = np.random.RandomState(3)
    for scale_after in (False, True):
        g = _GraphWriter(5)
        x = g.node("x", "Placeholder", dtype=tf.float32)
        params = [g.const("p%d" % i, rnd.uniform(0.2, 2.0, 6)) for i in range(4)]
        g.node("bn", "BatchNormWithGlobalNormalization", [x] + params, T=tf.float32, variance_epsilon=0.01,
               scale_after_normalization=scale_after)
        g.node("cat", "Concat", [g.const("dim", 3, np.int32), "bn", x], N=2, T=tf.float32)
        data = rnd.randn(2, 3, 4, 6).astype(np.float32)
        legacy = tf.Graph()
        with legacy.as_default():
            ph = tf.compat.v1.placeholder(tf.float32)
            out, = tf.compat.v1.import_graph_def(g.graph_def, input_map={"x:0": ph}, return_elements=["cat:0"], name="")
            with tf.compat.v1.Session(graph=legacy) as sess:
                ref = sess.run(out, {ph: data})
        modern = feature_nets.modernize_graph_def(g.graph_def)
        assert {n.op for n in modern.node}.isdisjoint(feature_nets.LEGACY_OP_REWRITES)
        fn = tf.compat.v1.wrap_function(lambda v: tf.graph_util.import_graph_def(
            modern, input_map={"x:0": v}, return_elements=["cat:0"], name="")[0], [tf.TensorSpec(None, tf.float32)])
        np.testing.assert_allclose(fn(tf.constant(data)).numpy(), ref, rtol=1e-6, atol=1e-6)
        # The formula, in NumPy, too.
        m, v, b, gm = [tf.make_ndarray(n.attr["value"].tensor) for n in g.graph_def.node if n.name in ("p0", "p1", "p2", "p3")]
        bn = (data - m) / np.sqrt(v + 0.01) * (gm if scale_after else 1) + b
        np.testing.assert_allclose(ref[..., :6], bn, rtol=1e-5, atol=1e-6)


def test_unknown_legacy_op_is_one_line_error(tmp_path):
    from metrics.standins import _GraphWriter
    g = _GraphWriter(5)
    x = g.node("x", "Placeholder", dtype=tf.float32)
    g.node("y", "BatchNormWithLocalMagic", [x], T=tf.float32)
    with pytest.raises(feature_nets.FeatureNetworkError, match="node y uses op BatchNormWithLocalMagic"):
        feature_nets.modernize_graph_def(g.graph_def, "g.pb")


def test_feature_network_errors(files, tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\x00not a graph")
    with pytest.raises(feature_nets.FeatureNetworkError):
        feature_nets.load_inception(str(bad))
    with pytest.raises(feature_nets.FeatureNetworkError, match="wrong checksum"):
        feature_nets.load_inception(files["inception"], sha256="0" * 64)
    digest = feature_nets.sha256_of_bytes(open(files["inception"], "rb").read())
    assert feature_nets.load_inception(files["inception"], sha256=digest).sha256 == digest
    with pytest.raises(feature_nets.FeatureNetworkError, match="not found"):
        feature_nets.load_lpips(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "partial.npz", x=np.zeros(3))
    with pytest.raises(feature_nets.FeatureNetworkError, match="missing"):
        feature_nets.load_lpips(str(tmp_path / "partial.npz"))


def test_lpips_distance_properties(files):
    lp = feature_nets.load_lpips(files["lpips"])
    rnd = np.random.RandomState(0)
    a = tf.constant(rnd.uniform(0, 255, [3, 3, 32, 32]).astype(np.float32))
    b = tf.constant(rnd.uniform(0, 255, [3, 3, 32, 32]).astype(np.float32))
    np.testing.assert_allclose(lp.distance(a, a).numpy(), 0.0, atol=1e-6)
    dab, dba = lp.distance(a, b).numpy(), lp.distance(b, a).numpy()
    assert dab.shape == (3,) and np.all(dab > 0)
    np.testing.assert_allclose(dab, dba, rtol=1e-5)


def test_lpips_converter_from_tf1_style_pickle(tmp_path):
    """convert_lpips maps a TF1 network pickle's variables (by order and shape) to our .npz."""
    import pickle
    from metrics import convert_lpips
    weights = standins.make_lpips_weights(str(tmp_path / "ref.npz"), widths=1.0 / 16)
    # A pickle in the official state layout whose build function is not one of ours.
    variables = []
    for name, _, _ in feature_nets.VGG16_CONVS:
        variables += [("vgg/%s/weight" % name, weights[name + "/weight"]), ("vgg/%s/bias" % name, weights[name + "/bias"])]
    variables += [("lin%d/weight" % i, weights["lin%d/weight" % i].reshape(1, 1, -1, 1)) for i in range(5)]

    state = dict(version=3, name="vgg16_perceptual_distance", static_kwargs={}, components={},
                 build_module_src="raise SystemExit", build_func_name="lpips_network", variables=variables)

    class Network:  # pickles like dnnlib.tflib.network.Network (NEWOBJ + BUILD with the state dict)
        def __getstate__(self):
            return state
    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    import sys
    import types
    fake = types.ModuleType("dnnlib.tflib.network")
    fake.Network = Network
    saved = sys.modules.get("dnnlib.tflib.network")
    sys.modules["dnnlib.tflib.network"] = fake
    try:
        data = pickle.dumps(Network(), protocol=4)
    finally:
        sys.modules["dnnlib.tflib.network"] = saved
    assert b"SystemExit" in data
    src = tmp_path / "vgg16_zhang_perceptual.pkl"
    src.write_bytes(data)
    dst = tmp_path / "lpips.npz"
    convert_lpips.convert(str(src), str(dst))
    with np.load(dst) as z:
        for key, value in weights.items():
            np.testing.assert_array_equal(z[key], value.reshape(z[key].shape))
    feature_nets.load_lpips(str(dst))


def _torch_lpips_files(tmp_path, weights, swap=False):
    """The two public LPIPS files, written in their own formats from our weights: the lpips
    package's vgg.pth (legacy torch.save, lin{i}.model.1.weight [1, C, 1, 1]) and torchvision's
    vgg16-397923af.pth (zip torch.save, features.{idx}.weight [out, in, 3, 3], plus classifier.*)."""
    from metrics.lpips_sources import TORCHVISION_VGG16_CONV_INDICES
    lin = {"lin%d.model.1.weight" % i: weights["lin%d/weight" % i].reshape(1, -1, 1, 1) for i in range(5)}
    vgg = {}
    for idx, (name, _, _) in zip(TORCHVISION_VGG16_CONV_INDICES, feature_nets.VGG16_CONVS):
        vgg["features.%d.weight" % idx] = weights[name + "/weight"].transpose(3, 2, 0, 1)
        vgg["features.%d.bias" % idx] = weights[name + "/bias"]
    vgg["classifier.0.weight"] = np.ones([4, 8], np.float32)
    vgg["classifier.0.bias"] = np.ones([4], np.float32)
    standins.write_torch_checkpoint(lin, str(tmp_path / "vgg.pth"), legacy=True)
    standins.write_torch_checkpoint(vgg, str(tmp_path / "vgg16-397923af.pth"))
    names = [str(tmp_path / "vgg.pth"), str(tmp_path / "vgg16-397923af.pth")]
    return ",".join(names[::-1] if swap else names)


def test_lpips_from_the_public_pytorch_files(tmp_path):
    weights = standins.make_lpips_weights(str(tmp_path / "ref.npz"), widths=1.0 / 16)
    ref = feature_nets.load_lpips(str(tmp_path / "ref.npz"))
    rnd = np.random.RandomState(0)
    a, b = [rnd.uniform(0, 255, [2, 3, 32, 32]).astype(np.float32) for _ in range(2)]
    expected = ref.distance(a, b).numpy()
    for swap in (False, True):
        spec = _torch_lpips_files(tmp_path, weights, swap=swap)
        net = feature_nets.load_lpips(spec)
        np.testing.assert_array_equal(net.distance(a, b).numpy(), expected)
        assert all(v != "order" for v in net.mapping.values())  # every weight found by its name
        assert net.mapping["conv3_3/weight"] == "features.14.weight" and net.mapping["lin2/weight"] == "lin2.model.1.weight"
    # Checksums per file, in order; the network's digest covers both.
    digests = [feature_nets.sha256_of_bytes(open(p, "rb").read()) for p in spec.split(",")]
    assert feature_nets.load_lpips(spec, sha256=",".join(digests)).sha256 == net.sha256
    with pytest.raises(feature_nets.FeatureNetworkError, match="wrong checksum"):
        feature_nets.load_lpips(spec, sha256=digests[0] + ",0" + "0" * 63)
    # A torchvision file without conv5_3: the error names the missing weight.
    from metrics import torch_checkpoint
    vgg = torch_checkpoint.load_state_dict(open(tmp_path / "vgg16-397923af.pth", "rb").read())
    del vgg["features.28.bias"]
    standins.write_torch_checkpoint(vgg, str(tmp_path / "vgg16-397923af.pth"))
    with pytest.raises(feature_nets.FeatureNetworkError, match="no variable for conv5_3/bias"):
        feature_nets.load_lpips(spec)


def test_torch_checkpoint_reader_refuses_code(tmp_path):
    """A .pth whose pickle references anything but tensors/OrderedDict is refused before anything runs."""
    import pickle
    import zipfile
    from metrics import torch_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
        z.writestr("evil/version", "3\n")
    with pytest.raises(torch_checkpoint.TorchCheckpointError, match="refusing (__builtin__|builtins).print"):
        torch_checkpoint.load_state_dict(open(tmp_path / "evil.pth", "rb").read(), "evil.pth")
    with pytest.raises(torch_checkpoint.TorchCheckpointError, match="truncated|not a readable"):
        standins.write_torch_checkpoint({"w": np.ones([64], np.float32)}, str(tmp_path / "t.pth"), legacy=True)
        torch_checkpoint.load_state_dict(open(tmp_path / "t.pth", "rb").read()[:-10], "t.pth")


def test_lpips_pickle_mapping_by_name_then_order(tmp_path):
    """NVIDIA-style variable lists: names that say the layer are used; unnamed ones go by order and
    shape; a variable that fits nowhere is named in the error."""
    from metrics import lpips_sources
    weights = standins.make_lpips_weights(str(tmp_path / "ref.npz"), widths=1.0 / 16)
    named = []
    for name, _, _ in feature_nets.VGG16_CONVS:
        named += [("%s/weight" % name, weights[name + "/weight"]), ("%s/bias" % name, weights[name + "/bias"])]
    named += [("lin%d/weight" % i, weights["lin%d/weight" % i].reshape(1, 1, -1, 1)) for i in range(5)]
    rng = np.random.RandomState(0)
    shuffled = [named[i] for i in rng.permutation(len(named))]
    got, how = lpips_sources.map_arrays(shuffled)
    assert set(how.values()) == {k for k, _ in named}  # order does not matter when names say the layer
    for key in weights:
        np.testing.assert_array_equal(got[key], weights[key])
    anonymous = [("layer%d/W" % i if a.ndim == 4 else "layer%d/b" % i, a) for i, (_, a) in enumerate(named[:26])]
    anonymous += [("scale%d/v" % i, a) for i, (_, a) in enumerate(named[26:])]
    got, how = lpips_sources.map_arrays(anonymous)
    assert set(how.values()) == {"order"}
    for key in weights:
        np.testing.assert_array_equal(got[key], weights[key])
    with pytest.raises(lpips_sources.LPIPSSourceError, match="variable extra/conv/weight .* fits no LPIPS"):
        lpips_sources.map_arrays(anonymous + [("extra/conv/weight", np.ones([3, 3, 4, 4], np.float32))])
    with pytest.raises(lpips_sources.LPIPSSourceError, match="variable conv2_1/weight .shape \\[5\\]. does not fit"):
        lpips_sources.map_arrays([x for x in named if x[0] != "conv2_1/weight"] + [("conv2_1/weight", np.ones([5], np.float32))])


def test_classifier_pickle_is_progan_d_paper(files):
    clf = feature_nets.load_classifier(files["clf"])
    assert clf._build_func_name == "D_paper" and clf.static_kwargs["mbstd_group_size"] == 0
    out = clf.get_output_for(tf.zeros([2, 3, 32, 32]), None)
    assert tuple(out.shape) == (2, 1)
    d = str(files["dir"])
    indices, paths = feature_nets.resolve_classifiers(d, [0, 39])
    assert indices == [0, 39]
    assert paths == [d + "/celebahq-classifier-00-male.pkl", d + "/celebahq-classifier-39-wearing-necktie.pkl"]


# --- MetricBase: result line, result file, cache, config of a run --------------------------

RESULT_RE = re.compile(r"^(?P<net>.{30}) time (?P<time>.{12})( (?P<metric>\S+) (?P<value>[-0-9.e+]+\s*))+"
                       r"( \[(?P<kind>\S+) (?P<file>\S+) sha256:(?P<sha>[0-9a-f]{12}|unknown)\])*$")


def test_official_classifier_pickle_loads_safely_and_runs_ls(files, tmp_path, capsys):
    """NVIDIA's celebahq-classifier-XX-<attr>.pkl layout: one D_paper network with embedded ProGAN
    source (never run), NumPy 1.x references, shuffled variables; a single file is one attribute."""
    path = tmp_path / "celebahq-classifier-01-smiling.pkl"
    state = standins.make_official_classifier_pkl(str(path), resolution=32)
    data = path.read_bytes()
    assert b"numpy.core.multiarray" in data and b"numpy._core" not in data and b"def D_paper(" in data
    clf = feature_nets.load_classifier(str(path))
    assert clf._build_func_name == "D_paper" and clf._build_module_src is None
    for name, value in state["variables"]:
        np.testing.assert_array_equal(clf.get_var(name), value)
    assert clf.input_shape == [None, 3, 32, 32]
    assert feature_nets.classifier_attribute_index(str(path)) == 1
    # --ls_classifiers=<one file>: LS of that attribute only, named in the result line.
    args = dict(metric_base.ls, num_samples=16, num_keep=8, minibatch_per_gpu=8, ls_classifiers=str(path), seed=1,
                progress=False)
    group = metric_base.MetricGroup([args])
    group.run(files["pkl"], log_results=False)
    assert set(group.get_results()) == {"ls_z", "ls_w"}
    assert "attribute 1 (smiling) only" in capsys.readouterr().err
    sha = feature_nets.sha256_of_bytes(data)[:12]
    assert group.get_result_str().endswith("[ls_classifier celebahq-classifier-01-smiling.pkl sha256:%s]" % sha)
    # A file with a non-official name is accepted for a one-attribute metric only.
    other = tmp_path / "my_classifier.pkl"
    other.write_bytes(data)
    assert feature_nets.resolve_classifiers(str(other), [5]) == ([5], [str(other)])
    with pytest.raises(feature_nets.FeatureNetworkError, match="one file for 40 attributes"):
        feature_nets.resolve_classifiers(str(other), range(40))
    with pytest.raises(feature_nets.FeatureNetworkError, match="no such file or directory"):
        feature_nets.resolve_classifiers(str(tmp_path / "missing"), range(40))


def test_result_string_format():
    m = metric_base.DummyMetric(name="dummy")
    m._network_pkl = "/x/network-snapshot-012345-with-a-very-long-name.pkl"
    m._eval_time = 3725.0
    m._report_result(4.41591234)
    m._report_result(1.5, suffix="_w", fmt="%-10.4f")
    s = m.get_result_str()
    assert s[:30] == "%-30s" % "...2345-with-a-very-long-name"  # "..." + the last 26 characters
    assert s[30:48] == " time 1h 02m 05s  "
    assert s[48:] == " dummy 4.4159     dummy_w 1.5000    "
    assert RESULT_RE.match(s)
    # Feature networks are named: file name and the first 12 hex digits of the SHA-256.
    m._note_feature_net("inception", "/x/inception-2015-12-05.tgz", "0123456789abcdef" * 4)
    s = m.get_result_str()
    assert s.endswith(" dummy_w 1.5000     [inception inception-2015-12-05.tgz sha256:0123456789ab]")
    assert RESULT_RE.match(s)


def test_metric_group_run_dir_config_cache_and_result_file(files, tmp_path):
    run_dir = tmp_path / "00003-sgan-digits-1gpu"
    run_dir.mkdir()
    (run_dir / "config.txt").write_text(
        "{   'G_args': {'func_name': 'training.networks_stylegan.G_style'},\n"
        "    'dataset': {'tfrecord_dir': %r, 'resolution': 32},\n"
        "    'train': {'mirror_augment': True, 'total_kimg': 25000}}\n" % files["dataset"])
    args = [dict(metric_base.fid1k, name="fid_test", num_images=64)]
    common = dict(inception=files["inception64"], cache_dir=str(tmp_path / "cache"), seed=5, progress=False)
    group = metric_base.MetricGroup(args, **common)
    group.run(files["pkl"], run_dir=str(run_dir))
    v1 = group.get_results()["fid_test"]
    cached = os.listdir(tmp_path / "cache")
    assert len(cached) == 1 and cached[0].endswith("-fid_test-digits.pkl")
    inception = group.metrics[0]._load_inception()
    group.run(files["pkl"], run_dir=str(run_dir))  # same object again: the feature network is reused
    assert group.metrics[0]._load_inception() is inception
    group2 = metric_base.MetricGroup(args, **common)
    group2.run(files["pkl"], run_dir=str(run_dir))  # statistics of the reals from the cache
    assert group2.get_results()["fid_test"] == pytest.approx(v1, rel=1e-6)
    assert group2.latest_results == {"Metrics/fid_test": group2.get_results()["fid_test"]}
    lines = (run_dir / "metric-fid_test.txt").read_text().splitlines()
    assert len(lines) == 3 and all(RESULT_RE.match(l) and l.startswith("net   ") for l in lines)
    assert v1 > 0


def test_url_download_cache_and_checksum_record(files, tmp_path):
    """A feature network given by URL is downloaded once into the cache; its SHA-256 is recorded on
    first download and a later change of the cached copy is caught."""
    import functools
    import http.server
    import threading
    serve_dir = tmp_path / "www"
    serve_dir.mkdir()
    (serve_dir / "inception.pb").write_bytes(open(files["inception"], "rb").read())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(serve_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/inception.pb" % server.server_address[1]
        cache = tmp_path / "cache"
        inc = feature_nets.load_inception(url, cache_dir=str(cache))
        assert inc.sha256 == feature_nets.sha256_of_bytes((serve_dir / "inception.pb").read_bytes())
        (serve_dir / "inception.pb").unlink()  # the second load must come from the cache
        assert feature_nets.load_inception(url, cache_dir=str(cache)).sha256 == inc.sha256
        cached = [p for p in (cache / "downloads").iterdir() if p.name.endswith("_inception.pb")]
        assert len(cached) == 1
        cached[0].write_bytes(cached[0].read_bytes()[:-10])  # truncated cache entry
        with pytest.raises(feature_nets.FeatureNetworkError, match="wrong checksum"):
            feature_nets.load_inception(url, cache_dir=str(cache))
    finally:
        server.shutdown()
        server.server_close()
