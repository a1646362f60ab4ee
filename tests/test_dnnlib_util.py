"""dnnlib.util: the one Progress display, atomic writes, the stop-signal flag."""

import io
import os
import signal

import pytest

import dnnlib


def test_progress_line_and_disabled():
    out = io.StringIO()
    with dnnlib.util.Progress(10, label="fid", stream=out, interval=0) as bar:
        bar.update(4)
        bar.advance(6)
        assert bar.done == 10
    text = out.getvalue()
    assert "fid: 10/10 images" in text and "images/s" in text and "ETA" in text
    out = io.StringIO()
    bar = dnnlib.util.Progress(None, unit="samples", stream=out, enabled=False)
    bar.advance(3)
    bar.close()
    assert out.getvalue() == "" and bar.done == 3


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    path = str(tmp_path / "f.txt")
    dnnlib.util.write_text_atomic(path, "one")
    with pytest.raises(RuntimeError):
        with dnnlib.util.atomic_write(path, "w") as f:
            f.write("two")
            raise RuntimeError("boom")
    assert open(path).read() == "one" and os.listdir(tmp_path) == ["f.txt"]


def test_stop_request_sets_flag_and_restores_handler():
    before = signal.getsignal(signal.SIGTERM)
    with dnnlib.util.StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
