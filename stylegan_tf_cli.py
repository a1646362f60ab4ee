"""`stylegan-tf`: one command for every tool, each subcommand exactly the top-level script of its name.

    stylegan-tf train ...      = python train.py ...
    stylegan-tf dataset ...    = python dataset_tool.py ...

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
}

command = cli.LazyGroup("stylegan-tf", lazy_commands=TOOLS, context_settings=dict(max_content_width=110),
                        help=__doc__.split("\n\n")[0])


def main(argv=None):
    cli.main(command, argv=argv, prog_name="stylegan-tf")


if __name__ == "__main__":
    main()
