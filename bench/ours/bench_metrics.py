"""Metric throughput on this machine: images/s through Inception-v3 (FID) and LPIPS-VGG16 (PPL), and
wall time of fid1k / ppl_wend_1k on a 64x64 StyleGAN generator.

The real feature-network files cannot be downloaded here, so the networks have RANDOM weights at
full size: Inception-v3's real layers written as a 2015-format GraphDef (producer 5, legacy
BatchNormWithGlobalNormalization and v1 Concat nodes, `standins.make_inception_graphdef(full=True)`),
loaded through our loader, which rewrites the legacy nodes (the same path as the real file); and a
full-width LPIPS-VGG16 .npz. Speed does not depend on the weight values; the metric values printed
here are meaningless. `--inception_only` also times the UNCHANGED GraphDef in a TF1
`tf.compat.v1.Session` (legacy kernels), interleaved with our loader, as a reference for the rewrite.

    python bench/ours/bench_metrics.py [--json out.jsonl] [--skip_wall] [--inception_only]
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def timed_rate(fn, batch, min_time=10.0, warmup=2):
    for _ in range(warmup):
        fn()
    n, start = 0, time.time()
    while time.time() - start < min_time:
        fn()
        n += batch
    return n / (time.time() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", default=None, help="append results as JSON lines")
    parser.add_argument("--skip_wall", action="store_true", help="only the feature-network throughputs")
    parser.add_argument("--min_time", type=float, default=10.0)
    parser.add_argument("--inception_only", action="store_true",
                        help="only Inception: our rewritten graph vs a TF1 session on the unchanged GraphDef, interleaved")
    args = parser.parse_args()

    import tensorflow as tf
    from metrics import feature_nets, metric_base, standins
    results = dict(cpu_count=os.cpu_count(), tf=tf.__version__, load_avg_start=os.getloadavg()[0])
    tmp = tempfile.mkdtemp(prefix="bench_metrics_")
    inc_path = os.path.join(tmp, "inception_random.pb")
    lpips_path = os.path.join(tmp, "lpips_random.npz")
    standins.make_inception_graphdef(inc_path, full=True)
    standins.make_lpips_weights(lpips_path, widths=1.0)
    inception = feature_nets.load_inception(inc_path)
    lpips = feature_nets.load_lpips(lpips_path)
    rnd = np.random.RandomState(0)

    if args.inception_only:
        import tensorflow as tf1_tf
        graph_def = tf1_tf.compat.v1.GraphDef()
        graph_def.ParseFromString(open(inc_path, "rb").read())
        graph = tf1_tf.Graph()
        with graph.as_default():
            ph = tf1_tf.compat.v1.placeholder(tf1_tf.float32, [None, None, None, 3])
            pool, = tf1_tf.compat.v1.import_graph_def(graph_def, input_map={"ExpandDims:0": ph},
                                                      return_elements=["pool_3:0"], name="")
        sess = tf1_tf.compat.v1.Session(graph=graph)
        x = rnd.randint(0, 256, [8, 3, 64, 64]).astype(np.uint8)
        x_nhwc = x.transpose(0, 2, 3, 1).astype(np.float32)
        f = tf.function(lambda im: inception.features(im))
        xt = tf.constant(x)
        np.testing.assert_allclose(f(xt).numpy(), sess.run(pool, {ph: x_nhwc}).reshape(8, -1), rtol=1e-4, atol=1e-5)
        for rnd_idx in range(2):
            for label, fn in [("rewritten graph, tf.function", lambda: f(xt).numpy()),
                              ("unchanged GraphDef, TF1 Session", lambda: sess.run(pool, {ph: x_nhwc}))]:
                rate = timed_rate(fn, 8, args.min_time)
                results.setdefault("inception_64_" + label, []).append(rate)
                print("Inception-v3 (random weights), 64x64 uint8, minibatch 8, %s: %.2f images/s" % (label, rate),
                      flush=True)
        results["load_avg_end"] = os.getloadavg()[0]
        print(json.dumps(results))
        if args.json:
            with open(args.json, "a") as fj:
                fj.write(json.dumps(results) + "\n")
        return

    # Inception: uint8 NCHW images (resized to 299 inside the graph), FID's minibatch of 8.
    for res in [64, 256]:
        x = tf.constant(rnd.randint(0, 256, [8, 3, res, res]).astype(np.uint8))
        f = tf.function(lambda im: inception.features(im))
        rate = timed_rate(lambda: f(x).numpy(), 8, args.min_time)
        results["inception_img_per_s_%d" % res] = rate
        print("Inception-v3 (random weights), %dx%d uint8 input, minibatch 8: %.1f images/s" % (res, res, rate), flush=True)

    # LPIPS: pairs of images, PPL's minibatch of 16 pairs; 256x256 (the crop size of 512/1024 generators)
    # and 32x32 (the crop of a 64x64 generator).
    for res in [32, 256]:
        a = tf.constant(rnd.uniform(0, 255, [16, 3, res, res]).astype(np.float32))
        b = tf.constant(rnd.uniform(0, 255, [16, 3, res, res]).astype(np.float32))
        f = tf.function(lambda p, q: lpips.distance(p, q))
        rate = timed_rate(lambda: f(a, b).numpy(), 16, args.min_time)
        results["lpips_pairs_per_s_%d" % res] = rate
        print("LPIPS-VGG16 (random weights), %dx%d pairs, minibatch 16: %.1f pairs/s" % (res, res, rate), flush=True)

    if not args.skip_wall:
        from stylegan_tf.data.demo import get_demo_dataset
        pkl = os.path.join(tmp, "G64.pkl")
        import keras
        import dnnlib.tflib as tflib
        from stylegan_tf import legacy
        keras.utils.set_random_seed(0)
        kw = dict(num_channels=3, resolution=64, fmap_base=2048)
        G = tflib.Network("G", func_name="training.networks_stylegan.G_style", **kw)
        D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **kw)
        legacy.save_pkl((G, D, G.clone("Gs")), pkl)
        data = get_demo_dataset(os.path.join(tmp, "data"), resolution=64)
        common = dict(inception=inc_path, lpips=lpips_path, cache_dir=os.path.join(tmp, "cache"), seed=0, progress=True)
        for name in ["fid1k", "ppl_wend_1k"]:
            group = metric_base.MetricGroup([metric_base.get_metric_args(name)], **common)
            start = time.time()
            group.run(pkl, dataset_args=dict(tfrecord_dir=data, shuffle_mb=0), mirror_augment=False, log_results=True)
            results["%s_wall_s" % name] = time.time() - start
            print("%s on a 64x64 G_style (fmap_base 2048): %.1f s wall (incl. loading and tracing)"
                  % (name, results["%s_wall_s" % name]), flush=True)
    results["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(results))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
