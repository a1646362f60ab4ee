"""Export a StyleGAN generator as a TensorFlow SavedModel (for TF Serving, TFLite, TF.js, ...).

    python export_savedmodel.py --network network-final.pkl --output_dir exported/ffhq
    python export_savedmodel.py --network my.pkl --output_dir exported/mine --psi 0.5 --overwrite

Signatures (all outputs uint8 NHWC images in [0, 255], noise fixed to the network's stored noise):
  serving_default(latents float32 [N, latent_size]) -> {'images'}      truncated with --psi / --cutoff
  truncated(latents, truncation_psi float32 [])  -> {'images'}         psi chosen per call (cutoff --cutoff)
  mapping(latents) -> {'dlatents' float32 [N, num_layers, dlatent_size]}
  synthesis(dlatents) -> {'images'}                                     for style mixing / truncation by hand
Conditional generators (label_size > 0) take an extra 'labels' float32 [N, label_size] input.

The directory is written under a temporary name and renamed when complete. It also holds
`stylegan_export.json` (shapes, psi, cutoff, source pickle). See docs/figures.md.
"""

import json
import os
import shutil
import sys
import tempfile

import click

from dnnlib import cli
from stylegan_tf import cli as tool

UPFIRDN2D_IMPL_ENV = "STYLEGAN_TF_UPFIRDN2D_IMPL"  # see docs/networks.md, "Ops"


def build_module(Gs, psi=0.7, cutoff=8, structure=None):
    """A tf.Module holding Gs's variables with the serving functions; returns (module, signatures)."""
    import tensorflow as tf
    from stylegan_tf.networks_stylegan import truncate_dlatents

    latent_size = Gs.input_shape[1]
    label_size = Gs.input_shapes[1][1]
    mapping, synthesis = Gs.components.mapping, Gs.components.synthesis
    num_layers, dlatent_size = synthesis.input_shape[1], synthesis.input_shape[2]
    syn_kwargs = dict(randomize_noise=False)
    if structure:
        syn_kwargs["structure"] = structure
    synthesis.find_var("lod").assign(Gs.get_var("lod"))  # as G_style does before every synthesis

    def to_uint8(images):
        # tflib.convert_images_to_uint8(images, nchw_to_nhwc=True), with the clamp spelled as min/max
        # (TFLite has no ClipByValue op); the values are the same.
        images = tf.transpose(tf.cast(images, tf.float32), [0, 2, 3, 1]) * 127.5 + 128.0
        return tf.cast(tf.minimum(tf.maximum(images, 0.0), 255.0), tf.uint8)

    def labels_or_none(labels):
        return labels if label_size else None

    module = tf.Module(name="stylegan_generator")
    module.variables_list = list(Gs.vars.values())  # tracked: saved with the model

    z_spec = tf.TensorSpec([None, latent_size], tf.float32, name="latents")
    y_spec = [tf.TensorSpec([None, label_size], tf.float32, name="labels")] if label_size else []
    w_spec = tf.TensorSpec([None, num_layers, dlatent_size], tf.float32, name="dlatents")
    psi_spec = tf.TensorSpec([], tf.float32, name="truncation_psi")

    # G_style's steps composed here (mapping, lerp towards dlatent_avg on layers < cutoff with G_style's
    # formula, synthesis) rather than calling G: Keras refuses a tensor psi next to Python keyword arguments,
    # and G's per-call `lod` assignment would leave a stateful op that converters cannot freeze.
    avg_var = Gs.find_var("dlatent_avg")

    def generate(latents, labels, truncation_psi):
        w = mapping.get_output_for(latents, labels_or_none(labels))
        if truncation_psi is not None:
            w = truncate_dlatents(w, avg_var, truncation_psi, cutoff, num_layers)
        return {"images": to_uint8(synthesis.get_output_for(w, **syn_kwargs))}

    default_psi = None if psi is None or psi == 1 else psi

    @tf.function(input_signature=[z_spec] + y_spec)
    def serve(latents, labels=None):
        return generate(latents, labels, default_psi)

    @tf.function(input_signature=[z_spec, psi_spec] + y_spec)
    def truncated(latents, truncation_psi, labels=None):
        return generate(latents, labels, truncation_psi)

    @tf.function(input_signature=[z_spec] + y_spec)
    def map_fn(latents, labels=None):
        return {"dlatents": mapping.get_output_for(latents, labels_or_none(labels))}

    @tf.function(input_signature=[w_spec])
    def synth_fn(dlatents):
        return {"images": to_uint8(synthesis.get_output_for(dlatents, **syn_kwargs))}

    module.serve, module.truncated, module.mapping, module.synthesis = serve, truncated, map_fn, synth_fn
    signatures = {"serving_default": serve, "truncated": truncated, "mapping": map_fn, "synthesis": synth_fn}
    info = dict(format="stylegan-tf generator export 1", latent_size=latent_size, label_size=label_size,
                num_layers=num_layers, dlatent_size=dlatent_size, resolution=Gs.output_shape[-1],
                num_channels=Gs.output_shape[1], truncation_psi=psi, truncation_cutoff=cutoff,
                structure=structure or "auto", signatures=sorted(signatures), output="uint8 NHWC [0, 255]",
                noise="stored noise variables (randomize_noise=False)")
    return module, signatures, info


def export(Gs, output_dir, psi=0.7, cutoff=8, structure=None, overwrite=False, source=None):
    """Write the SavedModel to `output_dir` atomically (temp dir + rename)."""
    import tensorflow as tf
    output_dir = os.path.abspath(output_dir)
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(output_dir) and not overwrite:
        raise FileExistsError("%s exists (use --overwrite)" % output_dir)
    module, signatures, info = build_module(Gs, psi, cutoff, structure)
    info["source"] = source
    tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(output_dir) + ".")
    try:
        # Trace with the TensorFlow-ops implementation of upfirdn2d: a compiled custom op in the graph would
        # make the SavedModel unloadable by TF Serving, converters and any process without our library.
        saved_env = os.environ.get(UPFIRDN2D_IMPL_ENV)
        os.environ[UPFIRDN2D_IMPL_ENV] = "ref"
        try:
            from stylegan_tf import ops
            with ops.forward_only():  # no custom gradients in the graph: loading it warns about none
                tf.saved_model.save(module, tmp, signatures=signatures)
        finally:
            if saved_env is None:
                del os.environ[UPFIRDN2D_IMPL_ENV]
            else:
                os.environ[UPFIRDN2D_IMPL_ENV] = saved_env
        with open(os.path.join(tmp, "stylegan_export.json"), "w") as f:
            json.dump(info, f, indent=2)
        _usual_permissions(tmp)
        if os.path.exists(output_dir):
            old = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(output_dir) + ".old.")
            os.rmdir(old)
            os.replace(output_dir, old)
            os.replace(tmp, output_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _usual_permissions(root):
    """mkdtemp makes the directory owner-only (0700): give the tree the permissions of a normally created one
    (directories 0777, files 0666, less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(root, 0o777 & ~umask)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o777 & ~umask)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o666 & ~umask)


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", required=True, metavar="PKL|URL|RUN_DIR",
              help="Generator pickle (path or URL), or a run directory (its latest snapshot).")
@click.option("--output_dir", required=True, help="SavedModel directory to create.")
@click.option("--psi", type=tool.PSI, default=0.7, show_default=True, help="Truncation psi of serving_default.")
@click.option("--cutoff", type=int, default=8, show_default=True, help="Truncate layers below this index.")
@click.option("--structure", type=click.Choice(["auto", "fixed", "linear", "recursive"]), default="auto",
              show_default=True, help="Growing structure traced into the graph. auto: 'fixed' (no tf.cond, "
              "converter-friendly, equal to the others at lod 0) for a fully grown network, the network's own otherwise.")
@cli.bool_option("--overwrite", help="Replace an existing --output_dir.")
@click.option("--cache_dir", default=None, help="Download cache for URLs.")
@cli.verbose_option
def command(network, output_dir, psi, cutoff, structure, overwrite, cache_dir):
    if os.path.exists(output_dir) and not overwrite:
        raise click.BadParameter("%s already exists (use --overwrite)" % output_dir, param_hint="--output_dir")
    tool.check_network_arg("--network", network)
    cli.import_tensorflow()
    Gs = tool.load_generator("--network", network, cache_dir)
    if structure == "auto":
        structure = "fixed" if float(Gs.get_var("lod")) == 0 else None
    elif structure == "fixed" and float(Gs.get_var("lod")) != 0:
        raise click.BadParameter("fixed: the network is not fully grown (lod %g)" % float(Gs.get_var("lod")),
                                 param_hint="--structure")
    info = export(Gs, output_dir, psi, cutoff, structure, overwrite, source=network)
    print("Wrote %s: %dx%d generator, latents [N, %d] -> uint8 [N, %d, %d, %d]; signatures: %s"
          % (output_dir, info["resolution"], info["resolution"], info["latent_size"], info["resolution"],
             info["resolution"], info["num_channels"], ", ".join(info["signatures"])))


def main(argv=None):
    """Entry point; returns 0, or exits with 1 (a bad file) or 2 (a bad command line)."""
    return tool.run_tool(command, argv, "export_savedmodel.py")


if __name__ == "__main__":
    sys.exit(main())
