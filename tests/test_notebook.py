"""train_cifar10.ipynb is train_cifar10.py as a notebook, and it runs in a real Jupyter kernel."""

import json
import os
import subprocess
import sys

import jupytext
import nbformat

from conftest import ROOT, SCRIPT, describe
from test_robustness import FINAL_OUTPUTS

NOTEBOOK = os.path.join(ROOT, "train_cifar10.ipynb")
REGENERATE = "jupytext --from py:percent --to ipynb --update --set-kernel python3 train_cifar10.py"


def cells(notebook):
    return [(cell.cell_type, cell.source, cell.metadata.get("tags", [])) for cell in notebook.cells]


def test_notebook_has_the_same_cells_as_the_script():
    from_script = jupytext.read(SCRIPT, fmt="py:percent")
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert cells(committed) == cells(from_script), f"out of date: run {REGENERATE}"
    assert all(not cell.get("outputs") for cell in committed.cells), "commit it without outputs"
    tagged = [
        cell.source for cell in committed.cells if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1 and "epochs = " in tagged[0]


def test_readme_gives_the_regenerate_command():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert REGENERATE in readme


def test_notebook_runs_in_a_kernel_with_papermill_parameters(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "out"
    executed = tmp_path / "executed.ipynb"
    parameters = {"data_dir": str(tiny_cifar10), "output_dir": str(output_dir), "epochs": 2}
    command = [
        sys.executable,
        "-m",
        "papermill",
        NOTEBOOK,
        str(executed),
        "--cwd",
        str(tmp_path),
        "-k",
        "python3",
        "-y",
        json.dumps(parameters),
    ]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, describe(process)
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    notebook = nbformat.read(str(executed), as_version=4)
    pictures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(pictures) == 7, "the plots should show inline in the notebook"
