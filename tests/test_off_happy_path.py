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
                                   text=True), cmd, prog, needle, what)
                 for cmd, prog, needle, what in jobs[i:i + pairs]]
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


# ----------------------------------------------------------------------------
# Resume keeps the run.

TINY = ["--set=G.fmap_base=64", "--set=G.fmap_max=16", "--set=G.latent_size=16", "--set=G.dlatent_size=16",
        "--set=G.mapping_fmaps=16", "--set=G.mapping_layers=2", "--set=D.fmap_base=64", "--set=D.fmap_max=16",
        "--set=sched.minibatch_base=8", "--set=sched.lod_training_kimg=0.1", "--set=sched.lod_transition_kimg=0.1",
        "--set=sched.tick_kimg_base=0.1", "--set=grid.size='4x2'"]  # the 16x16 grey demo, tiny networks


@pytest.mark.slow
def test_resume_hint_continues_the_run(tmp_path):
    """Stopped after one tick, train.py prints a command; run as printed (in the same working directory,
    without any of the original flags), it finishes that run in its own directory at its own total_kimg."""
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), "--result_dir", "rsig", "--total_kimg=0.2",
           "--stop_after_ticks=1"] + TINY
    res = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    hint = [line for line in res.stdout.splitlines() if line.startswith("To continue this run")]
    assert hint and hint[0].endswith(": python train.py --resume rsig/00000-sgan-demo"), res.stdout[-2000:]
    assert os.listdir(tmp_path / "rsig") == ["00000-sgan-demo"]
    assert not (tmp_path / "rsig" / "00000-sgan-demo" / "network-final.pkl").exists()
    argv = shlex.split(hint[0].split(": ", 1)[1])
    assert argv[:2] == ["python", "train.py"]
    res = subprocess.run([sys.executable, os.path.join(ROOT, "train.py")] + argv[2:], cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = tmp_path / "rsig" / "00000-sgan-demo"
    assert os.listdir(tmp_path / "rsig") == ["00000-sgan-demo"] and not (tmp_path / "results").exists()
    assert (run_dir / "network-final.pkl").exists() and "Done: rsig/00000-sgan-demo/network-final.pkl" in res.stdout
    ticks = [line.split() for line in res.stdout.splitlines() if line.startswith("tick ")]
    assert float(ticks[-1][3]) <= 0.3, ticks  # the run's 0.2 kimg, not the demo's 30
    recorded = json.load(open(run_dir / "config.json"))
    assert recorded["command_line"]["total_kimg"] == 0.2 and recorded["command_line"]["set"] == [a[6:] for a in TINY]
    assert recorded["train"]["total_kimg"] == 0.2 and recorded["G"]["fmap_base"] == 64
    log = (run_dir / "log.txt").read_text()
    assert log.count("Run directory: rsig/00000-sgan-demo") == 2  # one log, appended


def _train_in_process(tmp_path, capfd, *args):
    import train as train_script
    capfd.readouterr()
    code = cli.run(train_script.command, ["--result_dir", str(tmp_path / "results")] + list(args), prog_name="train.py")
    return code, capfd.readouterr().err


def test_resume_refuses_mismatched_pickle_up_front(tmp_path, capfd):
    """A 16x16 RGB (G, D, Gs) pickle on the 16x16 grey, 10-class demo dataset: one line naming both shapes,
    exit 1, no run directory (was a 110-line TypeError from tf.function after an empty run directory)."""
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    kwargs = dict(num_channels=3, resolution=16, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16,
                  mapping_fmaps=16)
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", **kwargs)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", num_channels=3, resolution=16,
                      fmap_base=64, fmap_max=16)
    pkl = str(tmp_path / "rgb16.pkl")
    legacy.save_pkl((G, D, G.clone("Gs")), pkl)
    code, err = _train_in_process(tmp_path, capfd, "--resume", pkl)
    assert code == 1 and err.count("\n") == 1, err
    assert "[3, 16, 16] (CHW) with 0 labels" in err and "holds [1, 16, 16] with 10 labels" in err, err
    legacy.save_pkl(G.clone("Gs"), pkl)  # a generator alone cannot be trained on
    code, err = _train_in_process(tmp_path, capfd, "--resume", pkl)
    assert code == 1 and "holds only a generator" in err and err.count("\n") == 1, err
    assert not (tmp_path / "results").exists()


# ----------------------------------------------------------------------------
# Defaults for your own data.


def test_defaults_for_your_own_data():
    """Own dataset: download-free SWD, the dataset in the run's name; paper presets keep fid50k; one data_dir."""
    import run_metrics
    import train as train_script
    import train_ls_classifiers
    from stylegan_tf.data import DEFAULT_DATA_DIR
    c = train_script.build_config("stylegan", 1, dataset="mine")
    assert c.desc == "sgan-mine-1gpu" and c.metrics == ["swd2k"]
    assert train_script.build_config("stylegan,mix50", 2, dataset="photos/mine/").desc == "sgan-mine-mix50-2gpu"
    assert train_script.build_config("pgan", 1, dataset="mine").desc.startswith("pgan-mine-1gpu")
    for preset in ("ffhq", "ffhq512", "ffhq256", "celebahq", "bedroom", "car", "cat"):
        c = train_script.build_config(preset, 8)
        assert c.metrics == ["fid50k"] and c.desc == "sgan-%s-8gpu" % preset
    assert train_script.build_config("ffhq", 8, dataset="ffhq").desc == "sgan-ffhq-8gpu"
    assert train_script.build_config("stylegan", 1, dataset="mine", metrics="fid50k").metrics == ["fid50k"]
    defaults = {tool.__name__: next(p.default for p in tool.command.params if p.name == "data_dir")
                for tool in (train_script, train_ls_classifiers)}
    assert set(defaults.values()) == {DEFAULT_DATA_DIR}, defaults
    assert DEFAULT_DATA_DIR in next(p.help for p in run_metrics.command.params if p.name == "data_dir")


def test_metric_without_feature_network_warns_once(tmp_path, capfd):
    """A snapshot metric whose feature network cannot be downloaded: one warning naming the metric and the
    later command, then the run goes on without it; the other metrics still run."""
    import train as train_script
    from metrics import metric_base, standins
    pkl = str(tmp_path / "network-snapshot-000000.pkl")
    standins.make_generator_pkl(pkl, resolution=16)
    on_snapshot = train_script.metrics_callback(
        [metric_base.get_metric_args("ppl_wend_1k"), metric_base.get_metric_args("dummy")],
        dict(lpips="http://127.0.0.1:9/vgg16_zhang_perceptual.pkl", cache_dir=str(tmp_path / "cache"),
             progress=False), str(tmp_path), None, {}, False, 1)
    capfd.readouterr()
    on_snapshot(pkl)
    on_snapshot(pkl)
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "metric ppl_wend_1k skipped" in warnings[0], err
    assert "run_metrics.py --network %s --metrics ppl_wend_1k" % tmp_path in warnings[0]
    assert len((tmp_path / "metric-dummy.txt").read_text().splitlines()) == 2
    assert not (tmp_path / "metric-ppl_wend_1k.txt").exists()


def test_run_metrics_data_dir_default(tmp_path, capfd, monkeypatch):
    """run_metrics.py on a pickle looks for --dataset under the shared default data_dir."""
    import run_metrics
    from metrics import standins
    standins.make_generator_pkl(str(tmp_path / "g.pkl"), resolution=16)
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    code = run_metrics.main(["run_metrics.py", "--network", "g.pkl", "--dataset", "mine", "--metrics", "swd2k"])
    err = capfd.readouterr().err
    assert code == 1 and os.path.join("datasets", "mine") in err and err.count("\n") == 1, err


# ----------------------------------------------------------------------------
# The projector's feature network.


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_projector_fetches_lpips_through_the_cache(tmp_path, capfd, monkeypatch):
    """--lpips defaults to NVIDIA's vgg16_zhang_perceptual.pkl (here served from 127.0.0.1): fetched once
    into the cache (test_downloads covers the cache itself). Offline, one line says which file to fetch and
    where to put it; put there, it works."""
    import dnnlib
    import projector
    from metrics import standins
    standins.make_generator_pkl(str(tmp_path / "g.pkl"), resolution=32)
    PIL.Image.fromarray(np.full([32, 32, 3], 128, np.uint8)).save(tmp_path / "t.png")
    standins.make_lpips_weights(str(tmp_path / "lpips.npz"))
    served = tmp_path / "served"
    served.mkdir()
    (served / "vgg16_zhang_perceptual.pkl").write_bytes((tmp_path / "lpips.npz").read_bytes())
    param = next(p for p in projector.command.params if p.name == "lpips_path")
    assert param.default.endswith("/vgg16_zhang_perceptual.pkl") and param.default.startswith("https://")

    import pooch
    for handler in pooch.get_logger().handlers:  # created at import, on a stream an earlier test's capture closed
        monkeypatch.setattr(handler, "stream", sys.stderr)

    def project(cache, out):
        capfd.readouterr()
        code = cli.run(projector.command, ["--network", str(tmp_path / "g.pkl"), "--target", str(tmp_path / "t.png"),
                                           "--num_steps", "2", "--cache_dir", str(cache), "--outdir", str(out)],
                       prog_name="projector.py")
        return code, capfd.readouterr().err

    # Offline (nothing listens on the port): the one line, nothing written; then the file put where it says.
    offline_url = "http://127.0.0.1:%d/vgg16_zhang_perceptual.pkl" % _free_port()
    monkeypatch.setattr(param, "default", offline_url)
    code, err = project(tmp_path / "cache1", tmp_path / "out1")
    target = dnnlib.util.cached_download_path(offline_url, str(tmp_path / "cache1"))
    lines = err.splitlines()  # pooch's "Downloading data from ..." line, then ours
    assert code == 1 and len(lines) <= 2 and offline_url in lines[-1] and "put it at %s" % target in lines[-1], err
    assert not (tmp_path / "out1").exists()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    (tmp_path / "lpips.npz").rename(target)
    code, err = project(tmp_path / "cache1", tmp_path / "out1")
    assert code == 0 and (tmp_path / "out1" / "proj.png").exists(), err

    # Online: downloaded once, then taken from the cache.
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/vgg16_zhang_perceptual.pkl" % server.server_address[1]
        monkeypatch.setattr(param, "default", url)
        code, err = project(tmp_path / "cache2", tmp_path / "out2")
        assert code == 0 and (tmp_path / "out2" / "proj.png").exists(), err
        assert dnnlib.util.download(url, cache_dir=str(tmp_path / "cache2"))[0] == dnnlib.util.cached_download_path(
            url, str(tmp_path / "cache2"))  # later uses: the cached copy, no request
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/vgg16_zhang_perceptual.pkl"]
    assert os.path.isfile(dnnlib.util.cached_download_path(url, str(tmp_path / "cache2")))


# ----------------------------------------------------------------------------
# Smaller items.


def test_metric_lines_name_the_labels_of_a_conditional_generator(tmp_path, capfd):
    """Two runs of a conditional generator with --labels zero and uniform are told apart in metric-*.txt;
    an unconditional generator's line keeps the official format."""
    import dnnlib.tflib as tflib
    from metrics import metric_base
    kwargs = dict(num_channels=1, resolution=8, fmap_base=32, fmap_max=8, latent_size=8, dlatent_size=8,
                  mapping_layers=1, mapping_fmaps=8)
    for label_size, mode, note in [(10, "zero", " [labels zero]"), (10, "uniform", " [labels uniform]"),
                                   (0, "uniform", "")]:
        Gs = tflib.Network("G", func_name="training.networks_stylegan.G_style", label_size=label_size, **kwargs)
        metric_base.DummyMetric(name="dummy", labels=mode).run("net.pkl", run_dir=str(tmp_path), Gs=Gs)
        line = (tmp_path / "metric-dummy.txt").read_text().splitlines()[-1]
        assert line.endswith(note) and "dummy 0.0000" in line and line.count("[labels") == (1 if note else 0), line


def test_run_directory_as_network_and_class_for_example(tmp_path, capfd):
    """generate/example/figures take a run directory (its latest snapshot); generate writes a grid and
    enlarges tiny images; example on a conditional network refuses all-zero labels and names --class."""
    import dnnlib.tflib as tflib
    import generate
    import pretrained_example
    from stylegan_tf import legacy
    run = tmp_path / "00000-sgan-mine-1gpu"
    run.mkdir()
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", num_channels=1, resolution=8, fmap_base=32,
                      fmap_max=8, latent_size=8, dlatent_size=8, mapping_layers=1, mapping_fmaps=8, label_size=3)
    legacy.save_pkl(G, str(run / "network-snapshot-000000.pkl"))
    code = cli.run(generate.command, ["--network", str(run), "--seeds", "0-2", "--class", "2", "--grid", "--upscale",
                                      "4", "--outdir", str(tmp_path / "gen")], prog_name="generate.py")
    assert code == 0 and sorted(os.listdir(tmp_path / "gen")) == ["grid.png", "seed0000.png", "seed0001.png",
                                                                  "seed0002.png"]
    assert PIL.Image.open(tmp_path / "gen" / "seed0001.png").size == (32, 32)  # 8x8, 4 times larger
    assert PIL.Image.open(tmp_path / "gen" / "grid.png").size == (64, 64)  # 2x2 grid, one cell empty
    capfd.readouterr()
    code = cli.run(pretrained_example.command, ["--network", str(run), "--result_dir", str(tmp_path / "ex"),
                                                "--quiet"], prog_name="pretrained_example.py")
    err = capfd.readouterr().err
    assert code == 2 and "give --class" in err and err.count("\n") == 1 and not (tmp_path / "ex").exists(), err
    code = cli.run(pretrained_example.command, ["--network", str(run), "--result_dir", str(tmp_path / "ex"),
                                                "--quiet", "--class", "1"], prog_name="pretrained_example.py")
    assert code == 0 and os.listdir(tmp_path / "ex") == ["example.png"]
    import generate_figures
    code = cli.run(generate_figures.command, ["fig8", "--network", str(run), "--seeds", "1", "--psis", "1,0.5",
                                              "--result_dir", str(tmp_path / "fig")], prog_name="generate_figures.py")
    assert code == 2 and "give --class" in capfd.readouterr().err and not (tmp_path / "fig").exists()
    code = cli.run(generate_figures.command, ["fig8", "--network", str(run), "--seeds", "1", "--psis", "1,0.5",
                                              "--class", "0", "--result_dir", str(tmp_path / "fig")],
                   prog_name="generate_figures.py")
    assert code == 0 and os.listdir(tmp_path / "fig") == ["figure08-truncation-trick.png"]
    (tmp_path / "empty").mkdir()
    code = cli.run(generate.command, ["--network", str(tmp_path / "empty"), "--seeds", "0", "--outdir",
                                      str(tmp_path / "gen2")], prog_name="generate.py")
    assert code == 2 and "holds no network-snapshot" in capfd.readouterr().err


def test_help_texts_match_the_tools():
    """Under stylegan-tf the examples say `stylegan-tf X`; metric list complete; presets listed; indented
    blocks unwrapped."""
    import stylegan_tf_cli
    from click.testing import CliRunner
    from metrics import metric_base
    runner = CliRunner()
    for sub in stylegan_tf_cli.TOOLS:
        text = runner.invoke(stylegan_tf_cli.command, [sub, "--help"]).output
        script = stylegan_tf_cli.TOOLS[sub][0].split(":")[0] + ".py"
        assert "python " + script not in text, (sub, text)
    metrics_help = runner.invoke(stylegan_tf_cli.command, ["metrics", "--help"]).output
    for name in metric_base.OFFICIAL_METRICS:
        assert name in metrics_help, name
    assert "stylegan-tf metrics --network=00005 --snapshot=25000 --metrics=fid50k,ppl_wend \\\n" in metrics_help
    assert "    synthesis(dlatents) -> {'images'}" in runner.invoke(stylegan_tf_cli.command, ["export", "--help"]).output
    train_help = runner.invoke(stylegan_tf_cli.command, ["train", "--help"]).output
    assert "Presets: stylegan, demo, ffhq" in train_help and "swd2k" in train_help
    assert "~/.cache/dnnlib" not in runner.invoke(stylegan_tf_cli.command, ["generate", "--help"]).output


@pytest.mark.slow
def test_docs_snippet_and_savedmodel_load_quietly(tmp_path):
    """The docs' Python API snippet (import stylegan_tf, load a pickle: TensorFlow first imported from inside
    dnnlib) and loading an exported SavedModel print no warning (were a circular-import UserWarning and one
    'unsaved custom gradients' absl warning per op)."""
    import export_savedmodel
    from metrics import standins
    pkl = str(tmp_path / "g.pkl")
    Gs = standins.make_generator_pkl(pkl, resolution=16)
    export_savedmodel.export(Gs, str(tmp_path / "exported"), source=pkl)
    script = ("import stylegan_tf as sg\n"
              "Gs = sg.load_generator(%r)\n"
              "images = sg.generate(Gs, sg.latents_from_seeds(Gs, [1, 2]), truncation_psi=0.5)\n"
              "import numpy as np, tensorflow as tf\n"
              "m = tf.saved_model.load(%r)\n"
              "z = np.random.RandomState(5).randn(2, 16).astype(np.float32)\n"
              "print(m.signatures['serving_default'](latents=tf.constant(z))['images'].shape, images.shape)\n"
              % (pkl, str(tmp_path / "exported")))
    res = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(2, 16, 16, 3) (2, 16, 16, 3)" in res.stdout
    for needle in ("Warning", "WARNING:absl", "custom gradients", "circular import"):
        assert needle not in res.stderr, res.stderr[-3000:]


def test_verbose_adds_the_traceback(tmp_path, capfd, monkeypatch):
    """--verbose: the traceback above the same one line (a known error); without it, the line alone."""
    import run_metrics
    files = _files(tmp_path)
    monkeypatch.setenv(cli.VERBOSE_ENV, "0")  # --verbose sets it for the process; restored after the test
    for flags, traceback in (([], False), (["--verbose"], True)):
        capfd.readouterr()
        code = cli.run(run_metrics.command, ["--network", files["BAD"], "--metrics", "dummy"] + flags,
                       prog_name="run_metrics.py")
        err = capfd.readouterr().err
        assert code == 1 and err.splitlines()[-1].startswith("run_metrics.py: error: ") and "notpkl.pkl" in err
        assert ("Traceback (most recent call last)" in err) == traceback, err


def test_failed_start_leaves_no_run_directory(tmp_path):
    """A new run directory without a network pickle is removed when its block ends (error or Ctrl-C during
    start-up); one with a snapshot, or a resumed one, is kept."""
    from stylegan_tf import rundir
    for exc in (RuntimeError, KeyboardInterrupt):
        run_dir = rundir.create_run_dir(str(tmp_path / "results"), "sgan-mine-1gpu")
        with pytest.raises(exc):
            with rundir.removed_unless_used(run_dir):
                open(os.path.join(run_dir, "log.txt"), "w").close()
                raise exc()
        assert os.listdir(tmp_path / "results") == []
    with rundir.removed_unless_used(run_dir):
        os.makedirs(run_dir)
        open(os.path.join(run_dir, "network-snapshot-000000.pkl"), "w").close()
    assert os.path.isdir(run_dir)
    resumed = str(tmp_path / "resumed")
    os.makedirs(resumed)
    with rundir.removed_unless_used(resumed, fresh=False):
        pass
    assert os.path.isdir(resumed)


def test_gif_fallback_says_how_to_get_mp4(tmp_path, capsys, monkeypatch):
    from stylegan_tf import video
    monkeypatch.setattr(video, "video_encoder_available", lambda: False)
    path = video.write_video([np.zeros([8, 8, 3], np.uint8)] * 2, str(tmp_path / "v"))
    assert path.endswith(".gif") and os.path.isfile(path)
    assert "MP4 needs the [video] extra (pip install 'stylegan-tf[video]')" in capsys.readouterr().err
