"""StyleGAN on TensorFlow 2: every tool under one command; `stylegan-tf TOOL --help` for its flags.

    stylegan-tf train ...      = python train.py ...
    stylegan-tf dataset ...    = python dataset_tool.py ...
    stylegan-tf explore ...    = python explore.py ...

One name on PATH and one `--help` that lists every tool; a subcommand's module (and TensorFlow) is
imported only when that subcommand runs, so `stylegan-tf --help` answers at once. The scripts define
their own click commands (`<module>.command`); this file only names them.
"""

import click

from dnnlib import cli

# name -> ("module:attribute", one-line description)
TOOLS = {
    "train": ("train:command", "Train StyleGAN (or Progressive GAN) with the official configurations."),
    "metrics": ("run_metrics:command", "Evaluate metrics (FID, PPL, LS, SWD, ...) on a network pickle or a run."),
    "dataset": ("dataset_tool:command", "Create, inspect and compare multi-resolution TFRecord datasets."),
    "generate": ("generate:command", "Images per seed, style-mixing grids and interpolation videos."),
    "project": ("projector:command", "Find the latent (W or W+) of a target image."),
    "explore": ("explore:command", "Explore a generator in the browser (Gradio page; pip install 'stylegan-tf[ui]')."),
    "figures": ("generate_figures:command", "Draw the paper's figures from a generator pickle."),
    "example": ("pretrained_example:command", "Generate one image with a trained generator (NVIDIA's FFHQ by default)."),
    "export": ("export_savedmodel:command", "Export a generator as a TensorFlow SavedModel."),
    "ls-classifiers": ("train_ls_classifiers:command", "Train the attribute classifiers of the LS metric."),
}

command = cli.LazyGroup("stylegan-tf", lazy_commands=TOOLS, context_settings=dict(max_content_width=110),
                        help=__doc__.split("\n\n")[0] + "\n\n" + "\b\n" + "\n".join(
                            "  stylegan-tf %-14s = python %s.py" % (name, target.split(":")[0])
                            for name, (target, _) in TOOLS.items()))


def main(argv=None):
    cli.main(command, argv=argv, prog_name="stylegan-tf")


if __name__ == "__main__":
    main()
