"""dnnlib.cli: one-line errors with suggestions, boolean spellings, fast help, quiet TensorFlow."""

import os
import subprocess
import sys

import click
import pytest

from dnnlib import cli


@click.command()
@click.option("--fmap_base", type=int, default=8192, help="Feature maps.")
@cli.bool_option("--overwrite", help="Replace an existing output.")
@click.argument("outdir", required=False)
def _tool(fmap_base, overwrite, outdir):
    """A test tool."""
    if outdir == "bad":
        raise ValueError("bad output directory: bad")
    click.echo("fmap_base=%s overwrite=%s outdir=%s" % (fmap_base, overwrite, outdir))


def _run(args, capsys):
    code = cli.run(_tool, args, prog_name="tool", error_types=(ValueError,))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, expected", [
    ([], "overwrite=False outdir=None"),
    (["--overwrite"], "overwrite=True outdir=None"),
    (["--overwrite", "out"], "overwrite=True outdir=out"),
    (["--overwrite", "0", "out"], "overwrite=False outdir=out"),
    (["--overwrite=yes"], "overwrite=True"),
    (["--overwrite", "off"], "overwrite=False"),
    (["--overwrite=True", "out"], "overwrite=True outdir=out"),
    (["--nooverwrite"], "overwrite=False"),
    (["out", "--overwrite"], "overwrite=True outdir=out"),
])
def test_boolean_spellings(args, expected, capsys):
    code, out, err = _run(args, capsys)
    assert code == 0, err
    assert expected in out


def test_unknown_option_one_line_with_suggestion(capsys):
    code, out, err = _run(["--fmap_bse=256"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tool: error: ")
    assert "--fmap_bse" in err and "--fmap_base" in err


def test_bad_value_and_bad_boolean(capsys):
    code, _, err = _run(["--fmap_base=many"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--fmap_base" in err
    code, _, err = _run(["--overwrite=maybe"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err


def test_library_error_is_one_line_exit_1(capsys):
    code, _, err = _run(["bad"], capsys)
    assert code == 1 and err == "tool: error: bad output directory: bad\n"


def test_help_exits_0(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and "--fmap_base" in out and "Replace an existing output." in out


def test_suggestion():
    assert cli.suggestion("fmap_bse", ["fmap_base", "fmap_max"]) == " (did you mean fmap_base?)"
    assert cli.suggestion("zzz", ["fmap_base"]) == ""
    with pytest.raises(click.UsageError, match="did you mean G.fmap_base"):
        cli.check_choice("override key", "G.fmap_bse", ["G.fmap_base", "D.fmap_base"])


def test_lazy_group_lists_without_importing(capsys):
    group = cli.LazyGroup("top", lazy_commands={"tool": ("tests.test_cli:_tool", "A test tool."),
                                               "never": ("no_such_module_xyz:cmd", "Never imported.")})
    code = cli.run(group, ["--help"], prog_name="top")
    out, _ = capsys.readouterr()
    assert code == 0 and "never" in out and "Never imported." in out
    code = cli.run(group, ["tool", "--overwrite", "x"], prog_name="top")
    out, _ = capsys.readouterr()
    assert code == 0 and "overwrite=True outdir=x" in out
    code = cli.run(group, ["tol"], prog_name="top")
    _, err = capsys.readouterr()
    assert code == 2 and "did you mean tool?" in err and err.count("\n") == 1


def test_import_tensorflow_is_quiet():
    code = ("from dnnlib import cli; tf = cli.import_tensorflow(); "
            "print(int(tf.reduce_sum(tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, 'SAME'))))")
    env = dict(os.environ)
    env.pop(cli.VERBOSE_ENV, None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "100"
    assert proc.stderr == "", proc.stderr


def test_every_tool_answers_help_without_tensorflow():
    """`stylegan-tf --help` and `stylegan-tf <tool> --help` exit 0 and never import TensorFlow."""
    code = ("import sys, stylegan_tf_cli as s\n"
            "from dnnlib import cli\n"
            "codes = [cli.run(s.command, ['--help'])] + [cli.run(s.command, [t, '--help']) for t in s.TOOLS]\n"
            "assert codes == [0] * (1 + len(s.TOOLS)), codes\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
            "print(len(codes))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=root)
    assert proc.returncode == 0, proc.stderr
    import stylegan_tf_cli
    assert proc.stdout.strip().splitlines()[-1] == str(1 + len(stylegan_tf_cli.TOOLS))
