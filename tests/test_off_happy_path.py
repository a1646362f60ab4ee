"""Issue 23, off the happy path: every tool, however started, refuses bad input in one line and leaves
nothing behind; resume keeps the run; defaults that work on your own data; the projector fetches its
feature network. Subprocesses where the real process matters (stderr lines, exit status, the printed
resume command); in this process where a subprocess would add nothing but TensorFlow's start-up."""

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading

import numpy as np
import PIL.Image
import pytest

from conftest import ROOT
from dnnlib import cli

# (stylegan-tf subcommand, script, arguments with a file that is not a network pickle / not a dataset).
# BAD is such a file, MISSING a path that does not exist, OUT an output directory that must not appear.
TOOLS = [
    ("train", "train.py", ["--resume", "BAD", "--result_dir", "OUT"]),
    ("metrics", "run_metrics.py", ["--network", "BAD", "--metrics", "dummy", "--result_dir", "OUT"]),
    ("dataset", "dataset_tool.py", ["extract", "BAD", "OUT"]),
    ("generate", "generate.py", ["--network", "BAD", "--seeds", "0", "--outdir", "OUT"]),
    ("project", "projector.py", ["--network", "BAD", "--target", "PNG", "--lpips", "PNG", "--outdir", "OUT"]),
    ("figures", "generate_figures.py", ["fig8", "--network", "BAD", "--result_dir", "OUT"]),
    ("example", "pretrained_example.py", ["--network", "BAD", "--result_dir", "OUT"]),
    ("export", "export_savedmodel.py", ["--network", "BAD", "--output_dir", "OUT"]),
    ("ls-classifiers", "train_ls_classifiers.py", ["--dataset", "BAD", "--data_dir", ".", "--result_dir", "OUT"]),
]


def _files(tmp_path):
    bad = tmp_path / "notpkl.pkl"
    bad.write_text("this is not a pickle\n")
    png = tmp_path / "t.png"
    PIL.Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(png)
    return dict(BAD=str(bad), MISSING=str(tmp_path / "missing.pkl"), OUT=str(tmp_path / "out"), PNG=str(png))


def _check_refusal(res, prog, needle, tmp_path, what):
    lines = res.stderr.splitlines()
    assert res.returncode in (1, 2), (what, res.returncode, res.stderr[-3000:])
    assert 1 <= len(lines) <= 2, (what, res.stderr[-3000:])
    assert lines[-1].startswith(prog + ": error: ") and needle in lines[-1], (what, lines)
    assert not os.path.exists(tmp_path / "out"), what


def _run_parallel(jobs, tmp_path, pairs=2):
    """Run (cmd, prog, needle, what) jobs, `pairs` at a time (each is mostly Python start-up), and check each."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    for i in range(0, len(jobs), pairs):
        procs = [(subprocess.Popen(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True), cmd, prog, needle, what) for cmd, prog, needle, what in jobs[i:i + pairs]]
        for proc, cmd, prog, needle, what in procs:
            out, err = proc.communicate(timeout=300)
            _check_refusal(subprocess.CompletedProcess(cmd, proc.returncode, out, err), prog, needle, tmp_path,
                           "%s: %s" % (what, " ".join(cmd[1:])))


@pytest.mark.slow
def test_every_tool_refuses_in_at_most_two_lines(tmp_path):
    """Each tool, as `stylegan-tf X` and as `python X.py`, given a misspelt flag or a missing file: at most 2
    stderr lines, the last `prog: error: ...` naming the flag or file, exit 1 or 2, no output directory;
    both refused before TensorFlow starts. A file that is not a pickle needs TensorFlow: as processes for
    `stylegan-tf metrics` (which printed a 30-line traceback) and `train.py` (54 lines), every other tool
    in this process below."""
    files = _files(tmp_path)
    jobs = []
    for sub, script, args in TOOLS:
        missing = [files["MISSING"] if a == "BAD" else files.get(a, a) for a in args]
        for launcher, prog in (([sys.executable, os.path.join(ROOT, "stylegan_tf_cli.py"), sub], "stylegan-tf"),
                               ([sys.executable, os.path.join(ROOT, script)], script)):
            group_args = [args[0]] if sub in ("dataset", "figures") else []  # the flag goes to the subcommand
            jobs.append((launcher + group_args + ["--bogus_flag=1"], prog, "--bogus_flag", "bad flag"))
            jobs.append((launcher + missing, prog, "missing.pkl", "missing file"))
    for sub, script, args in TOOLS:
        if sub in ("metrics", "train"):
            launcher, prog = (([sys.executable, os.path.join(ROOT, "stylegan_tf_cli.py"), sub], "stylegan-tf")
                              if sub == "metrics" else ([sys.executable, os.path.join(ROOT, script)], script))
            jobs.append((launcher + [files.get(a, a) for a in args], prog, "notpkl.pkl", "not a pickle"))
    _run_parallel(jobs, tmp_path)


@pytest.mark.parametrize("sub, script, args", TOOLS, ids=[t[0] for t in TOOLS])
def test_non_pickle_refused_in_process(tmp_path, capfd, monkeypatch, sub, script, args):
    """A file that is not a pickle (or a dataset), through `stylegan-tf X` (the group, which must find the
    tool's error classes) and through the script's own command: one line each (fd-level capture)."""
    import importlib
    import stylegan_tf_cli
    files = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [files.get(a, a) for a in args]
    module = importlib.import_module(stylegan_tf_cli.TOOLS[sub][0].split(":")[0])
    for command, prefix, prog in ((stylegan_tf_cli.command, [sub], "stylegan-tf"), (module.command, [], script)):
        capfd.readouterr()
        code = cli.run(command, prefix + argv, prog_name=prog)
        err = capfd.readouterr().err
        _check_refusal(subprocess.CompletedProcess([], code, "", err), prog, "notpkl.pkl", tmp_path, prog)
