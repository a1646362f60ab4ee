"""notebooks/tour.ipynb: stored without outputs, and run top to bottom (nbclient, a real kernel) on the
tiny budget: the demo trained for 0.2 kimg, then every section of the tour on that network."""

import json
import os

import pytest

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "notebooks", "tour.ipynb")


def test_outputs_stripped():
    with open(NOTEBOOK) as f:
        nb = json.load(f)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.slow
def test_tour_runs(tmp_path, monkeypatch):
    import nbclient
    import nbformat
    monkeypatch.setenv("STYLEGAN_TOUR", "tiny")
    monkeypatch.delenv("STYLEGAN_TOUR_NETWORK", raising=False)
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))  # this checkout's code
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) >= 7, len(pictures)   # training grid, grid, mixing, sweep, edit, projection, explorer
    assert any("video/mp4" in o.get("data", {}) or "<video" in o.get("data", {}).get("text/html", "")
               or "image/gif" in o.get("data", {}).get("text/html", "") for o in outputs)
    assert (tmp_path / "projected_w.npz").is_file()
    assert any(f.startswith("interpolation.") for f in os.listdir(tmp_path))
