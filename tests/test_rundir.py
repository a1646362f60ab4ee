"""stylegan_tf.rundir: the run directory's one writer and one reader agree (names, config, locating)."""

import os

import pytest

from stylegan_tf import rundir


def test_locate_runs_snapshots_and_config(tmp_path):
    run = tmp_path / "00012-sgan-ffhq-1gpu"
    run.mkdir()
    for kimg in [0, 140, 280]:
        (run / rundir.snapshot_name(kimg)).write_bytes(b"")
    assert rundir.locate_run_dir(12, str(tmp_path)) == str(run)
    assert rundir.locate_network_pkl(str(run)).endswith("network-snapshot-000280.pkl")
    assert rundir.locate_network_pkl(str(run), 140).endswith("network-snapshot-000140.pkl")
    assert rundir.locate_latest_snapshot(str(run)) == str(run / "network-snapshot-000280.pkl")
    (run / rundir.FINAL_NAME).write_bytes(b"")
    assert rundir.locate_latest_snapshot(str(run)) == rundir.locate_network_pkl(str(run)) == str(run / "network-final.pkl")
    (run / "config.json").write_text('{"dataset": {"tfrecord_dir": "ffhq", "max_labels": "all"}, '
                                     '"train": {"mirror_augment": true}}')
    cfg = rundir.parse_config_for_previous_run(str(run))
    assert cfg["dataset"] == {"tfrecord_dir": "ffhq", "max_label_size": "full"} and cfg["train"]["mirror_augment"]
    with pytest.raises(IOError):
        rundir.locate_run_dir(99, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="holds no network-snapshot"):
        rundir.locate_latest_snapshot(str(tmp_path))


def test_writer_and_reader_agree(tmp_path):
    first = rundir.create_run_dir(str(tmp_path), "sgan-demo-1gpu")
    second = rundir.create_run_dir(str(tmp_path), "other")
    assert os.path.basename(first) == "00000-sgan-demo-1gpu" and os.path.basename(second) == "00001-other"
    cfg = dict(dataset=dict(tfrecord_dir="digits", max_label_size="full"), train=dict(mirror_augment=False, total_kimg=3),
               data_dir=None)
    rundir.write_config(first, cfg)
    assert sorted(os.listdir(first)) == ["config.json", "config.txt"]
    parsed = rundir.parse_config_for_previous_run(first)
    assert parsed["dataset"] == cfg["dataset"] and parsed["train"] == cfg["train"]
    os.remove(os.path.join(first, "config.json"))  # the official config.txt alone reads the same
    parsed = rundir.parse_config_for_previous_run(first)
    assert parsed["dataset"] == cfg["dataset"] and parsed["train"] == cfg["train"]
    pkl = os.path.join(first, rundir.snapshot_name(140.7))
    assert pkl.endswith("network-snapshot-000140.pkl") and rundir.kimg_from_snapshot_name(pkl) == 140.0
    assert rundir.state_path_for(pkl).endswith("training-state-000140.pkl")
    assert rundir.state_path_for(os.path.join(first, rundir.FINAL_NAME)).endswith("training-state-final.pkl")
    assert rundir.fakes_name(12) == "fakes000012.png"
