"""End-to-end tests of run_metrics.py on a tiny generator with stand-in feature networks written in
the real file formats (Inception GraphDef, LPIPS .npz, D_paper classifier pickles)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from metrics import standins
from conftest import ROOT  # noqa: E402

LINE_RE = re.compile(r"^.{30} time .{12}( \S+ [-0-9.e+]+\s*)+( \[\S+ \S+ sha256:[0-9a-f]{12}\])*$")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("run_metrics")
    standins.make_inception_graphdef(str(d / "inception.pb"), feature_dim=64)  # 2015 traits, narrow pool_3: fast FID
    standins.make_lpips_weights(str(d / "lpips.npz"))
    clf_dir = d / "classifiers"
    clf_dir.mkdir()
    standins.make_classifier_pkl(str(clf_dir / "celebahq-classifier-00-male.pkl"), resolution=32, seed=1)
    standins.make_classifier_pkl(str(clf_dir / "celebahq-classifier-01-smiling.pkl"), resolution=32, seed=2)
    standins.make_generator_pkl(str(d / "network-snapshot-000140.pkl"), resolution=32)
    standins.make_generator_pkl(str(d / "net16.pkl"), resolution=16)
    from stylegan_tf.data.demo import make_demo_dataset
    (d / "datasets").mkdir()
    make_demo_dataset(str(d / "datasets" / "digits"), resolution=32)
    return d


def _call(argv, capsys):
    """Run run_metrics.main in-process with the given flags; (exit code, stdout, stderr)."""
    import run_metrics
    capsys.readouterr()
    try:
        code = run_metrics.main(["run_metrics.py"] + argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _common(env, result_dir):
    return ["--inception=%s" % (env / "inception.pb"), "--lpips=%s" % (env / "lpips.npz"),
            "--ls_classifiers=%s" % (env / "classifiers"), "--cache_dir=%s" % (result_dir / "cache"),
            "--data_dir=%s" % (env / "datasets"), "--result_dir=%s" % result_dir, "--seed=1"]


def test_end_to_end_fid_ppl_ls(env, tmp_path, capsys, monkeypatch):
    from metrics import metric_base
    monkeypatch.setattr(metric_base, "ls", dict(metric_base.ls, attrib_indices=range(2)))  # 2 stand-in classifiers
    code, out, err = _call(["--network=%s" % (env / "network-snapshot-000140.pkl"), "--dataset=digits",
                            "--metrics=fid50k,ppl_wend,ls", "--num_samples=32"] + _common(env, tmp_path), capsys)
    assert code == 0, err
    import hashlib
    sha = {f: hashlib.sha256((env / f).read_bytes()).hexdigest()[:12] for f in ["inception.pb", "lpips.npz"]}
    notes = {"fid50k_n32": "[inception inception.pb sha256:%s]" % sha["inception.pb"],
             "ppl_wend_n32": "[lpips lpips.npz sha256:%s]" % sha["lpips.npz"],
             "ls_n32": "[ls_classifiers celebahq-classifier-00-male.pkl+1 sha256:"}
    for name, fields in [("fid50k_n32", 1), ("ppl_wend_n32", 1), ("ls_n32", 2)]:
        lines = (tmp_path / ("metric-%s.txt" % name)).read_text().splitlines()
        assert len(lines) == 1 and LINE_RE.match(lines[0]), lines
        assert notes[name] in lines[0]  # which feature network produced the value
        assert lines[0].startswith("network-snapshot-000140        time ")
        assert len(re.findall(r" %s(_z|_w)? " % name, lines[0])) == fields
        assert lines[0] in out
    assert "images/s" in err and "ETA" in err and "samples/s" in err


def test_run_id_snapshot_and_config(env, tmp_path, capsys):
    run = tmp_path / "00007-sgan-digits-1gpu"
    run.mkdir()
    shutil.copy(env / "network-snapshot-000140.pkl", run / "network-snapshot-000140.pkl")
    (run / "config.json").write_text(json.dumps({"dataset": {"tfrecord_dir": "digits"},
                                                 "train": {"mirror_augment": True}}))
    code, _out, err = _call(["--network=7", "--snapshot=140", "--metrics=fid1k,dummy", "--num_samples=16"]
                            + _common(env, tmp_path), capsys)
    assert code == 0, err
    assert LINE_RE.match((run / "metric-fid1k_n16.txt").read_text().strip())
    assert (run / "metric-dummy_n16.txt").read_text().split()[-1] == "0.0000"


@pytest.mark.parametrize("case", ["missing_pickle", "corrupt_pickle", "unknown_metric", "resolution_mismatch",
                                  "wrong_checksum", "missing_lpips", "too_many_gpus"])
def test_errors_are_one_line_nonzero_and_write_nothing(env, tmp_path, capsys, case):
    pkl = str(env / "network-snapshot-000140.pkl")
    argv = ["--dataset=digits", "--metrics=fid1k", "--num_samples=16"]
    if case == "missing_pickle":
        argv += ["--network=%s" % (tmp_path / "nope.pkl")]
    elif case == "corrupt_pickle":
        bad = tmp_path / "bad.pkl"
        bad.write_bytes(open(pkl, "rb").read()[:1000])
        argv += ["--network=%s" % bad]
    elif case == "unknown_metric":
        argv += ["--network=%s" % pkl, "--metrics=fid1k,fid_typo"]
    elif case == "resolution_mismatch":
        argv += ["--network=%s" % (env / "net16.pkl")]
    elif case == "wrong_checksum":
        argv += ["--network=%s" % pkl, "--inception_sha256=" + "0" * 64]
    elif case == "missing_lpips":
        argv += ["--network=%s" % pkl, "--metrics=ppl_wend"]
    elif case == "too_many_gpus":
        argv += ["--network=%s" % pkl, "--gpus=64"]
    common = _common(env, tmp_path)
    if case == "missing_lpips":
        common = [a for a in common if not a.startswith("--lpips")]
    code, _out, err = _call(argv + common, capsys)
    assert code == (2 if case in ("missing_pickle", "too_many_gpus", "unknown_metric") else 1)  # 2: a bad command line
    errors = [l for l in err.splitlines() if l.startswith("run_metrics.py: error:")]
    assert len(errors) == 1, err
    expected = {"missing_pickle": "not found", "corrupt_pickle": "bad.pkl: not a valid network pickle",
                "unknown_metric": "--metrics: unknown metric 'fid_typo'", "resolution_mismatch": "generator produces [3, 16, 16]",
                "wrong_checksum": "wrong checksum", "missing_lpips": "--lpips",
                "too_many_gpus": "--gpus=64"}[case]
    assert expected in errors[0]
    assert not list(tmp_path.glob("metric-*.txt"))
    assert not (tmp_path / "cache").exists() or not [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".pkl"]


def test_command_line_refusals(env, tmp_path, capsys):
    """A pickle without --dataset names the missing flag; unknown flags get the nearest name; all in one line."""
    pkl = str(env / "network-snapshot-000140.pkl")
    cases = [(["--network=%s" % pkl, "--metrics=fid1k"], "--dataset is required"),
             (["--network=%s" % pkl, "--metrcs=fid1k"], "--metrics"),
             (["--network=%s" % pkl, "--progress=sometimes"], "--progress"),
             (["--metrics=fid1k"], "--network")]
    for argv, needle in cases:
        code, out, err = _call(argv + ["--result_dir=%s" % tmp_path], capsys)
        assert code == 2 and err.count("\n") == 1 and needle in err and err.startswith("run_metrics.py: error:"), err
    code, out, err = _call(["--help"], capsys)
    assert code == 0 and "--ls_classifiers" in out and "swd16k" in out


@pytest.mark.slow
def test_command_line(env, tmp_path):
    """The real entry point in a subprocess: exit code 0 and the result line on stdout (error exits
    are covered in-process above, through the same main())."""
    cmd = [sys.executable, os.path.join(ROOT, "run_metrics.py"), "--network=%s" % (env / "network-snapshot-000140.pkl"),
           "--dataset=digits", "--metrics=fid1k", "--num_samples=16", "--noprogress"] + _common(env, tmp_path)
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert any(LINE_RE.match(l) and " fid1k_n16 " in l for l in res.stdout.splitlines())
