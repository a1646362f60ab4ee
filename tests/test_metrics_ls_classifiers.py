"""train_ls_classifiers.py: trains D_paper classifiers (no minibatch stddev) from a labelled TFRecord
dataset and writes pickles that the LS metric loads."""

import numpy as np
import pytest


def _call(argv, capsys):
    """Run train_ls_classifiers.main in-process with the given flags; (exit code, stdout, stderr)."""
    import train_ls_classifiers
    capsys.readouterr()
    try:
        code = train_ls_classifiers.main(["train_ls_classifiers.py"] + argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_and_use_in_ls(tmp_path, capsys):
    from stylegan_tf.data.demo import make_demo_dataset
    from metrics import feature_nets
    make_demo_dataset(str(tmp_path / "digits"), resolution=32)  # labels: one-hot digit classes, 10 columns
    argv = ["--dataset=digits", "--data_dir=%s" % tmp_path, "--result_dir=%s" % (tmp_path / "clf"),
            "--attributes=1", "--total_images=48", "--fmap_base=64", "--fmap_max=16"]
    code, out, err = _call(argv, capsys)
    assert code == 0, err
    assert "images/s" in err and "accuracy" in err
    net = feature_nets.load_classifier(str(tmp_path / "clf" / "celebahq-classifier-01-smiling.pkl"))
    assert net._build_func_name == "D_paper" and net.static_kwargs["mbstd_group_size"] == 0
    assert net.static_kwargs["label_size"] == 0 and net.input_shape == [None, 3, 32, 32]
    assert np.isfinite(net.get_var("4x4/Dense1/weight")).all()
    # Existing pickles are kept unless --overwrite.
    code, out, _ = _call(argv, capsys)
    assert code == 0 and out.count("skipping") == 1
    # What the LS metric does with it: softmax([logit, -logit]) of images in [-1, 1].
    import tensorflow as tf
    logits = net.get_output_for(tf.zeros([2, 3, 32, 32]), None)
    assert tuple(logits.shape) == (2, 1)


@pytest.mark.parametrize("argv,msg", [(["--dataset=nope"], "cannot open dataset"),
                                      (["--dataset=digits", "--attributes=10"], "out of range")])
def test_errors(tmp_path, capsys, argv, msg):
    from stylegan_tf.data.demo import make_demo_dataset
    make_demo_dataset(str(tmp_path / "digits"), resolution=32)
    code, _, err = _call(argv + ["--data_dir=%s" % tmp_path, "--result_dir=%s" % (tmp_path / "clf")], capsys)
    assert code == 1 and msg in err and err.count("\n") == 1


def test_command_line_refusals(capsys):
    for argv, needle in [([], "--dataset"), (["--dataset=x", "--atributes=1"], "--attributes"),
                         (["--dataset=x", "--attributes=a,b"], "comma list of integers")]:
        code, _, err = _call(argv, capsys)
        assert code == 2 and needle in err and err.count("\n") == 1, err
    code, out, _ = _call(["--help"], capsys)
    assert code == 0 and "--total_images" in out
