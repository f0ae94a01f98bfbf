"""The quickstart notebook runs headless from top to bottom."""

import os
import pathlib

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

NOTEBOOK = (
    pathlib.Path(__file__).parent.parent / "notebooks" / ("quickstart.ipynb")
)


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HAS_TF_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("HAS_TF_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    # The kernel shows figures inline; the suite's headless default would
    # hide them.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(
        not cell.get("outputs")
        for cell in notebook.cells
        if cell.cell_type == "code"
    ), "commit the notebook unrun"
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # Hidden patches, CAM grid, threshold curves.
    text = "".join(o.get("text", "") for o in outputs)
    assert "gt_known_loc" in text
    assert (tmp_path / "runs" / "quickstart" / "model.keras").exists()
