"""Explore a trained generator in the browser: seeds, truncation, style mixing, noise, editing, projection.

    python explore.py --network results/00000-sgan-demo            # a run: choose among its snapshots
    python explore.py --network network-final.pkl --directions directions --lpips lpips_vgg16.npz
    python explore.py --network my.pkl --host 0.0.0.0 --port 8080   # reachable from other machines

Opens one page (Gradio; `pip install 'stylegan-tf[ui]'`) at http://127.0.0.1:7860: a seed and psi /
cutoff, the class of a conditional generator, the noise (const / random / none, on all, coarse, middle,
fine or no layers), style mixing with a second seed (the layers taken from it, with the paper's coarse /
middle / fine presets; both sources shown beside the result), a slider per editing direction of
`--directions` (written by `run_metrics.py --directions`) on a layer range, projection of an uploaded
image (needs `--lpips`) whose result becomes the current latent, and downloads of the image (PNG) and
its latent (.npz for `generate.py --w`). Every control is also a named API endpoint (`gradio_client`).

Safe by default: it listens on 127.0.0.1 only (`--host` to change), makes no public link unless `--share`,
loads pickles only from this command line, and decodes uploads (at most `--max_upload_mb`) with Pillow's
limits; a bad upload gets a message on the page. See docs/explore.md.
"""

import functools
import os
import sys
import tempfile
import threading
import time

import click

from dnnlib import cli
from stylegan_tf import cli as tool

INSTALL_HINT = "the page needs Gradio: pip install 'stylegan-tf[ui]' (in a checkout: pip install -e '.[ui]')"
LPIPS_HINT = ("Projection needs LPIPS weights: restart with --lpips lpips_vgg16.npz (python -m metrics.convert_lpips "
              "converts NVIDIA's vgg16_zhang_perceptual.pkl; see docs/metrics.md).")
MAX_SNAPSHOTS_LOADED = 2
# Small generators' images fill their boxes, pixels kept sharp (the files served stay at the generator's size).
CSS = ".generated img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


def import_gradio():
    """Gradio, quiet and offline (no analytics, no version check); a one-line CommandError without it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise cli.CommandError(INSTALL_HINT) from None
    return gradio


# ----------------------------------------------------------------------------
# Generators: the command line's pickle or the snapshots of its run directory.


class Snapshots:
    """The pickles the command line named ({label: path}, fixed at start-up; the page can only choose among
    them), loaded on first use into explorers, the most recent MAX_SNAPSHOTS_LOADED kept."""

    def __init__(self, network, directions_dir=None, cache_dir=None):
        from stylegan_tf import rundir
        if os.path.isdir(network):
            pkls = rundir.list_network_pkls(network)
            if not pkls:
                raise cli.CommandError("--network %s: run directory holds no network-*.pkl" % network)
            self.paths = {os.path.basename(p): p for p in pkls}
        else:
            self.paths = {os.path.basename(network): network}
        self.default = list(self.paths)[-1]
        self.directions_dir, self.cache_dir = directions_dir, cache_dir
        self._loaded, self._lock = {}, threading.Lock()

    def get(self, label=None):
        from stylegan_tf import directions, explorer
        label = label or self.default
        if label not in self.paths:
            raise explorer.ExploreError("no snapshot %r (choose one of %s)" % (label, ", ".join(self.paths)))
        with self._lock:
            if label not in self._loaded:
                Gs = tool.load_generator("--network", self.paths[label], self.cache_dir)
                dirs = {}
                if self.directions_dir is not None:
                    try:
                        dirs = explorer.load_directions(self.directions_dir, Gs)
                    except directions.DirectionError as e:
                        raise cli.CommandError("--directions %s" % e) from None
                self._loaded[label] = explorer.Explorer(Gs, dirs, name=label)
                while len(self._loaded) > MAX_SNAPSHOTS_LOADED:
                    del self._loaded[next(k for k in self._loaded if k != label)]
            return self._loaded[label]


# ----------------------------------------------------------------------------
# The page.


def build_page(snapshots, lpips=None, max_upload_bytes=None):
    """The Gradio Blocks of the page; every handler returns a message instead of raising a traceback."""
    import numpy as np
    gr = import_gradio()
    from stylegan_tf import explorer
    ex0 = snapshots.get()
    n = ex0.num_layers
    names = sorted(ex0.directions)
    max_bytes = max_upload_bytes or explorer.MAX_UPLOAD_BYTES

    def shown(image):
        """A uint8 [H, W, C] image as Gradio shows it: [H, W] for grayscale (it cannot take one channel)."""
        return None if image is None else image[:, :, 0] if image.shape[2] == 1 else image

    def view_of(seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
                use_projection, strengths, projected):
        if use_projection and projected is None:
            raise explorer.ExploreError("no projection yet: project an image first")
        return explorer.View(seed=seed, psi=psi, cutoff=None if cutoff is None or cutoff >= n else int(cutoff),
                             class_idx=class_idx, noise_mode=noise_mode, noise_layers=noise_layers, seed_b=seed_b,
                             mix_layers=list(mix_layers or []), edit_layers=edit_layers,
                             strengths=dict(zip(names, strengths)),
                             w=np.asarray(projected, np.float32) if use_projection else None)

    def guarded(func):
        """Run a handler; ExploreError and any other failure become gr.Error (a message, no traceback)."""
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except (explorer.ExploreError, cli.CommandError) as e:
                raise gr.Error(explorer.one_line(e.format_message() if hasattr(e, "format_message") else e),
                               print_exception=False) from None
            except gr.Error:
                raise
            except Exception as e:
                print("explore: %s failed: %s" % (func.__name__, explorer.one_line(e)), file=sys.stderr)
                raise gr.Error("%s failed: %s" % (func.__name__, explorer.one_line(e)), print_exception=False) from None
        return functools.wraps(func)(wrapper)

    def render_view(snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
                    use_projection, *strengths_and_state):
        *strengths, projected = strengths_and_state
        ex = snapshots.get(snapshot)
        view = view_of(seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
                       use_projection, strengths, projected)
        start = time.perf_counter()
        out = ex.render(view)
        return ex, view, out, time.perf_counter() - start

    @guarded
    def render(snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
               use_projection, *strengths):
        """The current image, sources A and B, and a status line; the last inputs are the direction strengths."""
        ex, view, out, seconds = render_view(snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b,
                                             mix_layers, edit_layers, use_projection, *strengths)
        source = "projection" if view.w is not None else "seed %d" % view.seed
        status = "%s, psi %g, noise %s (%s), %d layers from seed %d: %.0f ms" % (
            source, view.psi, view.noise_mode, view.noise_layers, len(view.mix_layers), view.seed_b, seconds * 1e3)
        return shown(out.image), shown(out.a), shown(out.b), status

    @guarded
    def export(snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
               use_projection, *strengths):
        """The current image as PNG and its latent as .npz (generate.py --w)."""
        ex, view, out, _ = render_view(snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b,
                                       mix_layers, edit_layers, use_projection, *strengths)
        outdir = tempfile.mkdtemp(prefix="explore-")
        stem = "projection" if view.w is not None else "seed%04d" % view.seed
        png, npz = os.path.join(outdir, stem + ".png"), os.path.join(outdir, stem + ".npz")
        explorer.save_png(png, out.image)
        explorer.save_latent(npz, out.w, view)
        return png, npz

    @guarded
    def random_seed():
        return int(np.random.randint(0, 100000))

    @guarded
    def mix_preset(preset):
        return explorer.preset_layers(preset, n)

    @guarded
    def project(snapshot, upload, space, steps, progress=gr.Progress()):
        if lpips is None:
            return LPIPS_HINT, None, None, gr.skip(), gr.skip(), gr.skip()
        ex = snapshots.get(snapshot)
        try:
            target = explorer.read_upload(upload, ex.resolution, ex.channels, max_bytes=max_bytes)
        except explorer.ExploreError as e:
            return "Upload refused: %s" % explorer.one_line(e), None, None, gr.skip(), gr.skip(), gr.skip()  # keeps A
        start = time.perf_counter()
        w, image, dist = ex.project(target, lpips, space=space, num_steps=int(steps),
                                    progress=lambda i, total: progress((i, total), desc="projecting"))
        status = "Projected in %d steps (%s, %.1f s): LPIPS %.4f. The projection is now the current latent A." % (
            int(steps), space.upper(), time.perf_counter() - start, dist)
        return status, shown(target), shown(image), True, 1.0, w.tolist()

    with gr.Blocks(title="stylegan-tf explore", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        projected = gr.State(None)
        gr.Markdown("## stylegan-tf explore\n%s" % ex0.describe())
        with gr.Row():
            with gr.Column(scale=1):
                snapshot = gr.Dropdown(list(snapshots.paths), value=snapshots.default, label="Snapshot",
                                       visible=len(snapshots.paths) > 1)
                with gr.Row():
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2 ** 32 - 1, elem_id="seed")
                    dice = gr.Button("Random seed", elem_id="random-seed")
                psi = gr.Slider(-1, 1.5, value=0.7, step=0.05, label="Truncation psi (1 = none)", elem_id="psi")
                cutoff = gr.Slider(0, n, value=min(8, n), step=1, label="Truncation cutoff (layers below it)")
                class_idx = gr.Dropdown([(str(i), i) for i in range(ex0.label_size)] or [("-", 0)], value=0,
                                        label="Class", visible=ex0.label_size > 0)
                noise_mode = gr.Radio(list(explorer.NOISE_MODES), value="const", label="Noise")
                noise_layers = gr.Radio(list(explorer.LAYER_PRESETS), value="all", label="Noise on layers")
                with gr.Accordion("Style mixing", open=True):
                    with gr.Row():
                        seed_b = gr.Number(1, label="Seed B", precision=0, minimum=0, maximum=2 ** 32 - 1)
                        dice_b = gr.Button("Random seed B")
                    preset = gr.Radio(list(explorer.LAYER_PRESETS), value="none", label="Layers from B: preset")
                    mix_layers = gr.CheckboxGroup(explorer.layer_choices(n), value=[],
                                                  label="Layers from B (index, resolution)")
                with gr.Accordion("Editing directions", open=bool(names), visible=bool(names)):
                    edit_layers = gr.Radio(list(explorer.LAYER_PRESETS[:4]), value="all", label="Edit layers")
                    sliders = [gr.Slider(-10, 10, value=0, step=0.5, label=name) for name in names]
                with gr.Accordion("Projection", open=False):
                    gr.Markdown(LPIPS_HINT if lpips is None else "Drop an image (centre-cropped and resized to "
                                "%dx%d), then Project." % (ex0.resolution, ex0.resolution))
                    upload = gr.File(label="Image to project", file_types=["image"], type="filepath")
                    space = gr.Radio(["w", "w+"], value="w", label="Space")
                    steps = gr.Slider(1, 1000, value=100, step=1, label="Steps")
                    project_btn = gr.Button("Project")
                    use_projection = gr.Checkbox(False, label="Use the projection as latent A (instead of the seed)")
            with gr.Column(scale=2):
                image = gr.Image(label="Current image", format="png", interactive=False, elem_id="current",
                                 height=512, elem_classes="generated", buttons=["download", "fullscreen"])
                with gr.Row():
                    image_a = gr.Image(label="A", format="png", interactive=False, height=192,
                                       elem_classes="generated", buttons=["download", "fullscreen"])
                    image_b = gr.Image(label="B", format="png", interactive=False, height=192,
                                       elem_classes="generated", buttons=["download", "fullscreen"])
                status = gr.Markdown(elem_id="status")
                proj_status = gr.Markdown()
                with gr.Row():
                    proj_target = gr.Image(label="Projection target", format="png", interactive=False, height=192,
                                           elem_classes="generated", buttons=["download", "fullscreen"])
                    proj_image = gr.Image(label="Projection", format="png", interactive=False, height=192,
                                          elem_classes="generated", buttons=["download", "fullscreen"])
                export_btn = gr.Button("Export PNG and latent")
                with gr.Row():
                    png_file = gr.File(label="Image (PNG)")
                    npz_file = gr.File(label="Latent (.npz for generate.py --w)")

        controls = [snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, mix_layers, edit_layers,
                    use_projection] + sliders + [projected]
        outputs = [image, image_a, image_b, status]
        triggers = [c.change for c in controls[:-1]] + [page.load]
        gr.on(triggers, render, inputs=controls, outputs=outputs, api_name="render", trigger_mode="always_last",
              concurrency_limit=2)
        export_btn.click(export, inputs=controls, outputs=[png_file, npz_file], api_name="export")
        dice.click(random_seed, outputs=seed, api_name="random_seed")
        dice_b.click(random_seed, outputs=seed_b, api_visibility="private")
        preset.change(mix_preset, inputs=preset, outputs=mix_layers, api_name="mix_preset")
        project_btn.click(project, inputs=[snapshot, upload, space, steps],
                          outputs=[proj_status, proj_target, proj_image, use_projection, psi, projected],
                          api_name="project", concurrency_limit=1)
    return page


# ----------------------------------------------------------------------------
# Command line.


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--network", required=True, metavar="PKL|URL|RUN_DIR",
              help="Generator pickle (path or URL), or a run directory (its snapshots become a choice on the page).")
@click.option("--directions", "directions_dir", default=None, metavar="DIR",
              help="Editing directions (*.npy from run_metrics.py --directions): a slider each.")
@click.option("--lpips", "lpips_path", default=None, metavar="NPZ|URL",
              help="LPIPS-VGG16 weights for projection (python -m metrics.convert_lpips); without: no projection.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to listen on.")
@cli.bool_option("--share", help="Also make a public gradio.live link (off: nothing leaves this machine).")
@click.option("--max_upload_mb", type=click.FloatRange(min=0.01, max=1024), default=20, show_default=True,
              help="Largest image upload accepted.")
@click.option("--cache_dir", default=None, help="Download cache for URLs.")
@cli.verbose_option
def command(network, directions_dir, lpips_path, host, port, share, max_upload_mb, cache_dir):
    import dnnlib
    if not os.path.isdir(network):
        tool.check_network_arg("--network", network)
    if directions_dir is not None and not os.path.isdir(directions_dir):
        raise click.BadParameter("%s: no such directory" % directions_dir, param_hint="--directions")
    if lpips_path is not None and not dnnlib.util.is_url(lpips_path) and not os.path.isfile(lpips_path):
        raise click.BadParameter("%s: no such file" % lpips_path, param_hint="--lpips")
    import_gradio()

    cli.import_tensorflow()
    snapshots = Snapshots(network, directions_dir, cache_dir)
    ex = snapshots.get()   # loads the generator and the directions: errors now, on one line
    lpips = None
    if lpips_path is not None:
        from metrics.feature_nets import FeatureNetworkError, load_lpips
        try:
            lpips = load_lpips(lpips_path, cache_dir=cache_dir)
        except (FeatureNetworkError, OSError, ValueError) as e:
            raise cli.CommandError("--lpips %s" % explorer_line(e)) from None
    from stylegan_tf import explorer
    ex.render(explorer.View())   # traces the graphs now, so the first change on the page is fast
    max_bytes = int(max_upload_mb * 2 ** 20)
    page = build_page(snapshots, lpips, max_bytes)
    page.queue(max_size=64)
    gr = import_gradio()
    # System fonts: the default theme's fetch Google Fonts, and nothing on the page should leave the machine.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    try:
        page.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True, quiet=True,
                    show_error=False, max_file_size=max_bytes, ssr_mode=False, theme=theme, css=CSS, inbrowser=False)
    except OSError as e:
        reason = "the port is in use: choose another with --port" if "empty port" in str(e) else explorer_line(e)
        raise cli.CommandError("cannot listen on %s:%d (%s)" % (host, port, reason)) from None
    click.echo("explore: %s on %s%s (Ctrl-C stops)" % (ex.describe(), page.local_url,
                                                       " and %s" % page.share_url if share and page.share_url else ""))
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        page.close()


def explorer_line(e):
    return " ".join(str(e).split()) or type(e).__name__


ERROR_TYPES = (ValueError, RuntimeError, OSError)


def main(argv=None):
    cli.main(command, argv, prog_name="explore.py", error_types=ERROR_TYPES)


if __name__ == "__main__":
    main()
