"""Reference dumps from the official StyleGAN networks, for bench/parity_official.py.

Runs NVIDIA's official code unmodified (through bench/official/shim.py) in a process of its own.
For every config below it builds the official networks, randomises EVERY variable (biases, noise
strengths, StyleMod biases, constant input, noise maps, dlatent_avg too: their zero/one
initialisations would hide bugs), and writes to OUT_DIR/<config>/:

  networks.pkl      (G, D, Gs) written by plain pickle.dump from the official code (Python 3.11
                    default protocol; it embeds the official source, so it never goes in the repo)
  networks_np1.pkl  the same objects, protocol 3 with `numpy._core` renamed `numpy.core`, i.e. the
                    byte layout NumPy-1 writers (NVIDIA's pickles) produce
  reference.npz     inputs, every variable value, outputs for a grid of settings, gradients, and
                    `manifest` (JSON): how to reproduce each output (network, inputs, the value
                    its `lod` variable was set to, dynamic kwargs of run())
  layers.txt        print_layers() of G, D, Gs and Gs's components
  meta.json         configs, ordered variable names/shapes/trainable flags, trainable totals

Usage:
  python bench/official/dump_networks.py [--out DUMPS] [--official_dir DIR]
                                         [--configs sg32,sg64c,...]
"""

import argparse
import contextlib
import io
import json
import os
import pickle
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shim  # noqa: E402

# --out / --dumps, or $STYLEGAN_OFFICIAL_DUMPS; else a directory in the system temp dir.
DEFAULT_OUT = os.environ.get("STYLEGAN_OFFICIAL_DUMPS") or os.path.join(tempfile.gettempdir(), "stylegan_official_dumps")
MINIBATCH = 8
LODS = [0.0, 0.5, 1.0, 1.3, 2.0]
STRUCTURES = ["linear", "recursive"]
TRUNCATIONS = [dict(truncation_psi=1), dict(truncation_psi=0.7, truncation_cutoff=8),
               dict(truncation_psi=0.5, truncation_cutoff=2)]

# Small configs. 'stylegan' ones use G_style + D_basic, 'progan' ones G_paper + D_paper.
CONFIGS = {
    "sg32": dict(kind="stylegan", G=dict(num_channels=3, resolution=32, fmap_base=1024, fmap_max=128,
                                         latent_size=64, dlatent_size=64, mapping_layers=8, mapping_fmaps=64),
                 D=dict(num_channels=3, resolution=32, fmap_base=1024, fmap_max=128)),
    "sg64c": dict(kind="stylegan", G=dict(num_channels=3, resolution=64, label_size=5, fmap_base=512, fmap_max=64,
                                          latent_size=32, dlatent_size=48, mapping_layers=3, mapping_fmaps=40),
                  D=dict(num_channels=3, resolution=64, label_size=5, fmap_base=512, fmap_max=64,
                         mbstd_group_size=2, mbstd_num_features=2)),
    # 128x128 so that fused_scale='auto' fuses (G's last up-conv, D's first down-conv).
    "sg128": dict(kind="stylegan", G=dict(num_channels=3, resolution=128, fmap_base=256, fmap_max=32,
                                          latent_size=32, dlatent_size=32, mapping_layers=2, mapping_fmaps=32),
                  D=dict(num_channels=3, resolution=128, fmap_base=256, fmap_max=32)),
    # structure='fixed' given as a STATIC kwarg: the template graph then has no ToRGB/FromRGB of the
    # lower lods, so neither do the networks' variables or pickles; only 'fixed' can run.
    "sg32_fixed": dict(kind="stylegan", G=dict(num_channels=3, resolution=32, fmap_base=512, fmap_max=64,
                                               latent_size=32, dlatent_size=32, mapping_layers=4, mapping_fmaps=32,
                                               structure="fixed"),
                       D=dict(num_channels=3, resolution=32, fmap_base=512, fmap_max=64, structure="fixed")),
    "pg32": dict(kind="progan", G=dict(num_channels=3, resolution=32, fmap_base=512, fmap_max=64),
                 D=dict(num_channels=3, resolution=32, fmap_base=512, fmap_max=64)),
    "pg32c_nofuse": dict(kind="progan", G=dict(num_channels=3, resolution=32, label_size=3, fmap_base=512, fmap_max=64,
                                               latent_size=48, fused_scale=False),
                         D=dict(num_channels=3, resolution=32, label_size=3, fmap_base=512, fmap_max=64,
                                fused_scale=False)),
}

FUNCS = {
    "stylegan": ("training.networks_stylegan.G_style", "training.networks_stylegan.D_basic"),
    "progan": ("training.networks_progan.G_paper", "training.networks_progan.D_paper"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory (outside the repo)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of %s" % list(CONFIGS))
    parser.add_argument("--seed", type=int, default=1234)
    shim.add_official_dir_arg(parser)
    args = parser.parse_args()

    names = [c for c in args.configs.split(",") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        sys.exit("error: unknown config(s) %s; choose from %s" % (unknown, list(CONFIGS)))
    repo = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    out_root = os.path.realpath(args.out)
    if out_root == repo or out_root.startswith(repo + os.sep):
        sys.exit("error: --out must be outside the repo (the pickles embed the official source)")

    shim.activate(args.official_dir)
    import numpy as np
    import tensorflow as tf  # tf.compat.v1 (shimmed)
    import dnnlib.tflib as tflib  # official

    tflib.init_tf({"rnd.np_random_seed": args.seed, "rnd.tf_random_seed": args.seed})
    for i, name in enumerate(names):
        t0 = time.time()
        with tf.Graph().as_default(), tflib.create_session(None).as_default():
            dump_config(name, CONFIGS[name], os.path.join(out_root, name), args.seed + 1000 * i, np, tf, tflib)
        print("%s: done in %.1f s" % (name, time.time() - t0), flush=True)


def randomize(net, rng, np, tflib):
    """Set every variable except `lod` to random normal values.

    Weights keep the scale of their initialiser (N(0, 1/lrmul) with use_wscale, so 100 for the
    mapping layers); everything else (biases, noise strengths, StyleMod biases, const, noise maps,
    dlatent_avg, LabelConcat) gets N(0, 1)."""
    values = {}
    names = [n for n in net.vars if n.split("/")[-1] != "lod"]
    current = tflib.run([net.vars[n] for n in names])
    for n, cur in zip(names, current):
        scale = 1.0
        std = float(np.std(cur)) if cur.size > 1 else 0.0
        if n.endswith("weight") and std > 0 and "Noise/" not in n:
            scale = 10.0 ** round(np.log10(std))
        values[net.vars[n]] = (rng.standard_normal(cur.shape) * scale).astype(cur.dtype)
    tflib.set_vars(values)


GRAD_CANDIDATES = 32
SENSITIVITY_DRAWS = 8
SENSITIVITY_EPS = 1e-6  # relative input perturbation ~ the forward discrepancy of two float32 implementations


def pick_inputs(net, labels, kwargs, draw, np, tf, tflib):
    """Draw GRAD_CANDIDATES input batches; keep the one whose leaky-ReLU inputs stay farthest (relative
    to their spread) from the kink. Returns (inputs, margin)."""
    x_ph = tf.placeholder(tf.float32, [MINIBATCH] + list(net.input_shape[1:]))
    graph = tf.get_default_graph()
    with tf.name_scope(None), tf.name_scope("KinkProbe") as scope:
        net.get_output_for(x_ph, labels, **kwargs)
    # max(x, a*x) (StyleGAN) and max(a*x, x) (ProGAN): the kink is where both inputs are equal.
    diffs = [op.inputs[0] - op.inputs[1] for op in graph.get_operations()
             if op.name.startswith(scope) and op.type == "Maximum" and "LeakyR" in op.name]
    margins = [tf.reduce_min(tf.abs(d)) / (tf.sqrt(tf.reduce_mean(tf.square(d))) + 1e-30) for d in diffs]
    margin = tf.reduce_min(tf.stack(margins))
    best = (None, -1.0)
    for _ in range(GRAD_CANDIDATES):
        x = draw()
        m = float(tflib.run(margin, {x_ph: x}))
        if m > best[1]:
            best = (x, m)
    return best


def smooth_images(rng, shape, np):
    """Image-like inputs: low-frequency structure (4x4 noise blown up) plus pixel noise. White noise
    alone averages out in D's downscaling and leaves D's scores almost input independent."""
    n, c, h, w = shape
    coarse = np.kron(rng.standard_normal([n, c, 4, 4]), np.ones([1, 1, h // 4, w // 4]))
    return (coarse + 0.3 * rng.standard_normal(shape)).astype(np.float32)


def var_table(net, tflib):
    return [dict(name=n, shape=[int(d) for d in v.shape], trainable=bool(v.trainable)) for n, v in net.vars.items()]


def n_trainable(net, np):
    return int(sum(np.prod([int(d) for d in v.shape]) for v in net.trainables.values()))


def layers_text(net, title=None):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        net.print_layers(title=title)
    return buf.getvalue()


def dump_config(cfg_name, cfg, out_dir, seed, np, tf, tflib):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.RandomState(seed)
    kind = cfg["kind"]
    g_func, d_func = FUNCS[kind]
    G = tflib.Network("G", func_name=g_func, **cfg["G"])
    D = tflib.Network("D", func_name=d_func, **cfg["D"])
    Gs = G.clone("Gs")
    for net in (G, D, Gs):  # independent values: a loader that mixes up networks must show it
        randomize(net, rng, np, tflib)
    for net in (G, D, Gs):
        net.set_var("lod", 0.0)
        for comp in net.components.values():
            if "lod" in comp.vars:
                comp.set_var("lod", 0.0)

    # Pickles.
    with open(os.path.join(out_dir, "networks.pkl"), "wb") as f:
        pickle.dump((G, D, Gs), f)
    data = pickle.dumps((G, D, Gs), protocol=3)  # GLOBAL opcodes: "module\nname\n", no lengths
    data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    data = data.replace(b"cnumpy._core.numeric\n", b"cnumpy.core.numeric\n")
    with open(os.path.join(out_dir, "networks_np1.pkl"), "wb") as f:
        f.write(data)

    # Layers, variables, totals.
    nets = {"G": G, "D": D, "Gs": Gs}
    for comp_name, comp in Gs.components.items():
        nets["Gs." + comp_name] = comp
    with open(os.path.join(out_dir, "layers.txt"), "w") as f:
        for key, net in nets.items():
            f.write("== %s\n%s" % (key, layers_text(net)))
    meta = dict(config=cfg_name, kind=kind, G_func=g_func, D_func=d_func, G_kwargs=cfg["G"], D_kwargs=cfg["D"],
                minibatch=MINIBATCH, seed=seed,
                trainable_totals={k: n_trainable(n, np) for k, n in nets.items()},
                print_layers_totals={k: int(layers_text(n).split("Total")[1].split()[0]) for k, n in nets.items()},
                vars={k: var_table(n, tflib) for k, n in nets.items()},
                own_vars={k: list(n.own_vars) for k, n in nets.items()},
                components={k: {c: v.name for c, v in n.components.items()} for k, n in nets.items()},
                input_shapes={k: n.input_shapes for k, n in nets.items()},
                output_shapes={k: n.output_shapes for k, n in nets.items()})

    # Fixed inputs.
    latent_size = G.input_shape[1]
    label_size = G.input_shapes[1][1]
    res = cfg["G"]["resolution"]
    arrays = {
        "in/latents": rng.standard_normal([MINIBATCH, latent_size]).astype(np.float32),
        "in/labels": rng.standard_normal([MINIBATCH, label_size]).astype(np.float32),
        "in/images": smooth_images(rng, [MINIBATCH, cfg["G"]["num_channels"], res, res], np),
    }
    if kind == "stylegan":
        syn = Gs.components.synthesis
        arrays["in/dlatents"] = rng.standard_normal([MINIBATCH] + syn.input_shape[1:]).astype(np.float32)
    arrays["in/G_proj"] = rng.standard_normal([MINIBATCH] + G.output_shape[1:]).astype(np.float32)
    arrays["in/D_proj"] = rng.standard_normal([MINIBATCH] + D.output_shape[1:]).astype(np.float32)
    for key, net in (("G", G), ("D", D), ("Gs", Gs)):
        for n, v in zip(net.vars, tflib.run(list(net.vars.values()))):
            arrays["var/%s/%s" % (key, n)] = np.asarray(v)

    # Output grid.
    manifest = []

    def record(net_key, inputs, lod, kwargs):
        net = nets[net_key]
        if lod is not None:
            net.set_var("lod", lod)
        out = net.run(*[arrays["in/" + i] for i in inputs], **kwargs)
        key = "out/%04d" % len(manifest)
        arrays[key] = out
        manifest.append(dict(key=key, net=net_key, inputs=inputs, lod=lod, kwargs=kwargs))

    g_in = ["latents", "labels"]
    d_in = ["images", "labels"]
    sg = kind == "stylegan"
    noise = dict(randomize_noise=False) if sg else {}
    fused_opts = [True, False] + (["auto"] if sg and res >= 128 else [])
    g_fused = fused_opts if sg else [None]  # ProGAN: fused_scale is static (it renames variables)
    d_fused = fused_opts if sg else [None]

    def with_fused(kw, fused):
        return dict(kw, fused_scale=fused) if fused is not None else dict(kw)

    static_fixed = cfg["G"].get("structure") == "fixed"
    structures = ["fixed"] if static_fixed else STRUCTURES
    for lod in ([0.0] if static_fixed else LODS):
        for structure in structures:
            for fused in g_fused:
                for trunc in (TRUNCATIONS if sg else [{}]):
                    record("Gs", g_in, lod, with_fused(dict(noise, structure=structure, **trunc), fused))
                if sg:  # the synthesis component's own lod variable is set (G_style's run also sets it)
                    record("Gs.synthesis", ["dlatents"], lod, with_fused(dict(noise, structure=structure), fused))
            for fused in d_fused:
                record("D", d_in, lod, with_fused(dict(structure=structure), fused))
            if lod in (0.0, 1.3):
                record("G", g_in, lod, dict(noise, structure=structure, **(TRUNCATIONS[0] if sg else {})))
    if sg:
        record("Gs", g_in, 0.0, dict(noise, structure="fixed", truncation_psi=1))
        record("Gs", g_in, 0.0, dict(noise))  # default truncation: psi 0.7, cutoff 8
        record("Gs", g_in, 1.3, dict(noise, is_validation=True))  # truncation_psi_val None: no truncation
        record("Gs.mapping", g_in, None, {})
        record("Gs.synthesis", ["dlatents"], 0.0, dict(noise, structure="fixed"))
        record("D", d_in, 0.0, dict(structure="fixed"))
    record("D", d_in, 1.3, {})  # structure 'auto' -> recursive

    # Gradients (custom gradients of blur/upscale/downscale/leaky_relu, incl. second order for R1).
    # A leaky-ReLU input within float32 rounding of 0 can take the other slope in another correct
    # implementation and move the gradient by ~1e-2 locally (seen here: an input 1.2e-7 from the
    # kink). So each gradient setting gets its own inputs: the draw, out of GRAD_CANDIDATES, whose
    # smallest |leaky-ReLU input| / std(that input) in the official forward pass is largest; the
    # margin is recorded in the manifest.
    grads = []
    grad_settings = [(0.0, "recursive", "auto" if sg else None), (1.3, "linear", True if sg else None),
                     (0.5, "recursive", False if sg else None)]
    if static_fixed:
        grad_settings = [(0.0, "fixed", "auto"), (0.0, "fixed", True)]
    lab = tf.constant(arrays["in/labels"])
    for gi, (lod, structure, fused) in enumerate(grad_settings):
        kw = with_fused(dict(structure=structure), fused)
        g_kw = dict(kw, randomize_noise=False, truncation_psi=1) if sg else kw
        for net_key, net, in_name, run_kw in (("Gs", Gs, "latents", g_kw), ("D", D, "images", kw)):
            net.set_var("lod", lod)
            shape = arrays["in/" + in_name].shape
            draw = (lambda: rng.standard_normal(shape).astype(np.float32)) if in_name == "latents" else \
                (lambda: smooth_images(rng, list(shape), np))
            probe_kw = dict(run_kw, structure="fixed" if static_fixed else "linear")  # linear: every branch evaluated
            x_in, margin = pick_inputs(net, lab, probe_kw, draw, np, tf, tflib)
            in_key = "in/grad%d_%s" % (gi, in_name)
            arrays[in_key] = x_in
            x = tf.placeholder(tf.float32, x_in.shape)
            key = "grad/%d/%s" % (gi, net_key)
            out = net.get_output_for(x, lab, **run_kw)
            proj = arrays["in/G_proj" if net_key == "Gs" else "in/D_proj"]
            loss = tf.reduce_sum(out * proj) / MINIBATCH
            names = list(net.trainables)
            tvars = [net.trainables[n] for n in names]
            fetch = dict(out=out, grads=tf.gradients(loss, tvars))
            if net_key == "D":  # R1 = sum(dloss/dx ^ 2) / N -> d/d(trainables): second order
                gx = tf.gradients(loss, [x])[0]
                r1 = tf.reduce_sum(tf.square(gx)) / MINIBATCH
                fetch.update(dx=gx, r1=r1, r1_grads=tf.gradients(r1, tvars, unconnected_gradients="zero"))
            vals = tflib.run(fetch, {x: x_in})
            # The official result's own float32 conditioning: how far each quantity moves when the
            # inputs move by SENSITIVITY_EPS relative, about the forward discrepancy between two
            # correct float32 implementations. Large where a leaky-ReLU input sits near its kink
            # (measured: 9e-4 on d/dvars) or through R1's second-order terms at the minibatch-stddev
            # sqrt (2e-4 with mbstd_group_size 2): agreement better than that cannot be asked for.
            sensitivity = {}
            for _ in range(SENSITIVITY_DRAWS):
                x_p = (x_in * (1 + SENSITIVITY_EPS * rng.standard_normal(x_in.shape))).astype(np.float32)
                vals_p = tflib.run(fetch, {x: x_p})
                for what, k in (("out", "out"), ("d/dimages", "dx"), ("r1", "r1"), ("d/dvars", "grads"),
                                ("d(r1)/dvars", "r1_grads")):
                    if k in vals:
                        a, b = [np.concatenate([np.ravel(t) for t in (v if isinstance(v, list) else [v])])
                                for v in (vals[k], vals_p[k])]
                        change = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-30))
                        sensitivity[what] = max(sensitivity.get(what, 0.0), change)
            for what in ("out", "dx", "r1"):
                if what in vals:
                    arrays["%s/%s" % (key, what)] = np.asarray(vals[what])
            for n, v in zip(names, vals["grads"]):
                arrays["%s/%s" % (key, n)] = v
            for n, v in zip(names, vals.get("r1_grads", [])):
                arrays["%s/r1/%s" % (key, n)] = v
            grads.append(dict(key=key, net=net_key, lod=lod, kwargs=run_kw,
                              inputs=[in_key[3:], "labels"], proj="G_proj" if net_key == "Gs" else "D_proj",
                              loss="sum(out*proj)/N" + ("; r1=sum(dloss/dx^2)/N" if net_key == "D" else ""),
                              lrelu_margin=margin, sensitivity=sensitivity, wrt=names))

    arrays["manifest"] = np.array(json.dumps(dict(outputs=manifest, grads=grads)))
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **arrays)
    meta["num_outputs"] = len(manifest)
    meta["num_grad_settings"] = len(grads)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
